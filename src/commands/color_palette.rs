//! `igpipe color-palette`: each creator's recent images in the image store → a 6-colour
//! palette in `marts/palettes/date=D/` (SPEC §2 "marts/palettes", §5 "Palettes").
//!
//! Creators are handled a chunk at a time (their folders listed, their images read and
//! decoded, their palettes clustered), so memory holds a few creators' images whatever the
//! number of creators. `--shard I/N` takes a stable hash-partition of the creators and
//! writes `part-<I>-of-<N>.parquet`. Exit codes: 0, 1 (never 4: an image that does not
//! decode is a reject row and counted).

use super::{Context, ImageStoreArgs, LakeArgs};
use crate::contracts::palettes::{self, PaletteRow};
use crate::contracts::{posts, rejects};
use crate::lake::LakeObject;
use crate::media::{self, ImageStore};
use crate::palette::{self, decode};
use crate::report::RunReport;
use crate::sharding::Shard;
use crate::tables;
use crate::telemetry::Progress;
use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::time::Instant;
use tracing::{info, warn};

pub const STEP: &str = "color-palette";

/// Creators whose images are in memory at once: enough to keep both cores and the reads
/// busy, few enough that 25 images × 250 KB each stays far below 1 GB.
const CHUNK_USERS: usize = 32;

#[derive(Debug, Clone, Args)]
pub struct PaletteArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub images: ImageStoreArgs,

    /// Colours per palette (k-means clusters).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub k: u32,

    /// The creator's most recent posts (timestamp on or before --date) with images to use.
    #[arg(long, default_value_t = 25, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub posts_per_user: u32,

    /// Process only shard I of N (a stable hash of user_id), writing part-<I>-of-<N>.parquet;
    /// run all N (e.g. as Airflow mapped tasks) for the whole palette.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: Shard,
}

/// What one chunk of creators gave.
#[derive(Default)]
struct ChunkOutcome {
    rows: Vec<PaletteRow>,
    rejects: Vec<rejects::RejectRow>,
    images_listed: u64,
    images_read: u64,
}

pub fn run(args: &PaletteArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    let date = args.lake.date;
    let run_id = super::run_id(args.lake.run_id.as_deref());
    let mut report = RunReport::new(STEP, date.to_string(), run_id.clone());
    let out = args.lake.open_output(ctx)?;
    let store = args.images.open(&args.lake, ctx, false)?;

    let users = recent_posts(&out, date, args.shard)?;
    info!(creators = users.len(), shard = %args.shard, "Creators with posts on or before {date}.");
    let progress = Progress::new(ctx.progress, users.len() as u64, "creators");
    let mut done = ChunkOutcome::default();
    let users: Vec<(String, Vec<String>)> = users.into_iter().collect();
    for chunk in users.chunks(CHUNK_USERS) {
        let outcome = palettes_of_chunk(&store, chunk, args, date)?;
        done.rows.extend(outcome.rows);
        done.rejects.extend(outcome.rejects);
        done.images_listed += outcome.images_listed;
        done.images_read += outcome.images_read;
        progress.inc(chunk.len() as u64);
    }
    progress.finish();

    // Rejects first: if the run dies after this, the log still says which images failed.
    if !done.rejects.is_empty() {
        let key = tables::write_rejects(&out, date, STEP, &run_id, &done.rejects)?;
        warn!(images = done.rejects.len(), object = %out.describe(&key), "Images that did not decode were skipped.");
    }
    let mut df = palettes::frame(&done.rows)?;
    let dir = tables::partition_dir(
        palettes::TABLE_PREFIX,
        palettes::PARTITION_COLUMN,
        &date.to_string(),
    );
    let key = tables::write_part(&out, &dir, &args.shard.part_file(), &mut df)?;
    if done.rows.is_empty() {
        warn!("No creator had a decodable image: the palette partition is empty. Has fetch-media run?");
    }
    info!(creators = done.rows.len(), images = done.images_read, object = %out.describe(&key), "Wrote palettes.");

    report.files_listed = done.images_listed;
    report.files_read = done.images_read;
    report.rejected = done.rejects.len() as u64;
    report.count_rejects(done.rejects.iter().map(|r| r.reason.as_str()));
    report.rows_written = done.rows.len() as u64;
    report.partitions_written = 1;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The shard's creators → their post ids with a timestamp whose UTC date is ≤ D, newest
/// first (ties: post_id descending). Reads three columns of every post_month ≤ D's month.
fn recent_posts(
    out: &crate::lake::Lake,
    date: NaiveDate,
    shard: Shard,
) -> Result<BTreeMap<String, Vec<String>>> {
    let last_month = date.format("%Y-%m").to_string();
    let mut keys = Vec::new();
    for month in tables::partition_values(out, posts::TABLE_PREFIX, posts::PARTITION_COLUMN)? {
        if month <= last_month {
            let dir = tables::partition_dir(posts::TABLE_PREFIX, posts::PARTITION_COLUMN, &month);
            keys.extend(tables::part_keys(out, &dir)?);
        }
    }
    let columns = ["post_id", "user_id", "timestamp"];
    let Some(staged) = tables::read_columns(out, &keys, &posts::schema(), &columns)? else {
        warn!("No staged posts on or before {date}: no palettes. Has stage-posts run?");
        return Ok(BTreeMap::new());
    };
    let end_us = (date + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros();
    let post_ids = staged.column("post_id")?.str()?;
    let user_ids = staged.column("user_id")?.str()?;
    let timestamps = staged.column("timestamp")?.datetime()?.physical();
    let mut by_user: BTreeMap<String, Vec<(i64, &str)>> = BTreeMap::new();
    for ((post, user), ts) in post_ids.iter().zip(user_ids.iter()).zip(timestamps.iter()) {
        let (Some(post), Some(user), Some(ts)) = (post, user, ts) else {
            continue;
        };
        if ts < end_us && shard.owns(user) {
            by_user
                .entry(user.to_string())
                .or_default()
                .push((ts, post));
        }
    }
    Ok(by_user
        .into_iter()
        .map(|(user, mut posts)| {
            posts.sort_unstable_by(|a, b| b.cmp(a));
            (
                user,
                posts.into_iter().map(|(_, p)| p.to_string()).collect(),
            )
        })
        .collect())
}

/// Lists, reads, decodes and clusters one chunk of creators.
fn palettes_of_chunk(
    store: &ImageStore,
    chunk: &[(String, Vec<String>)],
    args: &PaletteArgs,
    date: NaiveDate,
) -> Result<ChunkOutcome> {
    let folders: Vec<String> = chunk
        .iter()
        .map(|(user, _)| store.user_folder(user))
        .collect();
    let listings = store.lake.list_folders(&folders)?;
    let mut outcome = ChunkOutcome::default();
    let picks: Vec<Vec<LakeObject>> = chunk
        .iter()
        .zip(listings)
        .zip(&folders)
        .map(|(((_, posts), listing), folder)| {
            outcome.images_listed += listing
                .iter()
                .filter(|o| media::is_image_name(media::file_name(&o.key)))
                .count() as u64;
            pick_images(folder, posts, listing, args.posts_per_user as usize)
        })
        .collect();
    let keys: Vec<&str> = picks.iter().flatten().map(|o| o.key.as_str()).collect();
    outcome.images_read = keys.len() as u64;
    // Read on the I/O threads, decode on the compute threads (one per core): sixteen
    // decoders at once on two cores evict each other's multi-megabyte buffers from the
    // caches (measured: a third more CPU per image).
    let bodies = store
        .lake
        .read_each(&keys, |_, read| read.map(|bytes| bytes.map(<[u8]>::to_vec)));
    let samples: Vec<Result<Result<Vec<[u8; 3]>, String>>> = bodies
        .into_par_iter()
        .map(|body| {
            body.map(|bytes| match bytes {
                Some(bytes) => decode::sample(&bytes).map_err(|e| e.to_string()),
                None => Err("vanished between listing and reading".to_string()),
            })
        })
        .collect();
    let mut samples = samples.into_iter();
    let mut pooled: Vec<(&str, u64, Vec<[u8; 3]>)> = Vec::new();
    for ((user, _), images) in chunk.iter().zip(&picks) {
        let mut pixels = Vec::new();
        let mut decoded = 0u64;
        for image in images {
            match samples.next().expect("one result per key")? {
                Ok(sample) => {
                    pixels.extend(sample);
                    decoded += 1;
                }
                Err(reason) => outcome.rejects.push(reject(image, reason)),
            }
        }
        if decoded > 0 {
            pooled.push((user.as_str(), decoded, pixels));
        }
    }
    let k = args.k as usize;
    outcome.rows = pooled
        .into_par_iter()
        .map(|(user, n_images, pixels)| PaletteRow {
            user_id: user.to_string(),
            as_of: date,
            n_images,
            palette: palette::palette(&pixels, k),
        })
        .collect();
    Ok(outcome)
}

/// The images of a creator's `posts_per_user` newest posts that have any (SPEC §5: a post
/// counts when its folder lists at least one image file; a corrupt one still uses the slot).
fn pick_images(
    user_folder: &str,
    posts: &[String],
    listing: Vec<LakeObject>,
    posts_per_user: usize,
) -> Vec<LakeObject> {
    let mut by_post = media::files_by_post(user_folder, listing);
    posts
        .iter()
        .filter_map(|post| {
            let images: Vec<LakeObject> = by_post
                .remove(post)?
                .into_iter()
                .filter(|o| media::is_image_name(media::file_name(&o.key)))
                .collect();
            (!images.is_empty()).then_some(images)
        })
        .take(posts_per_user)
        .flatten()
        .collect()
}

fn reject(image: &LakeObject, reason: String) -> rejects::RejectRow {
    rejects::RejectRow {
        source_key: image.key.clone(),
        source_etag: image.etag.clone(),
        size: image.size,
        last_modified_us: image.last_modified_us,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_posts_with_images_fill_the_slots() {
        let listing = [
            "s/7/p9/notes.txt", // newest post, but no image: skipped
            "s/7/p8/original.JPG",
            "s/7/p7/c1.png",
            "s/7/p7/c2.webp",
            "s/7/p5/original.jpg", // not a staged post: never used
            "s/7/p6/original.jpg",
        ]
        .map(LakeObject::named)
        .to_vec();
        let posts = ["p9", "p8", "p7", "p6"].map(String::from);
        let keys = |n| -> Vec<String> {
            pick_images("s/7", &posts, listing.clone(), n)
                .into_iter()
                .map(|o| o.key)
                .collect()
        };
        assert_eq!(
            keys(2),
            ["s/7/p8/original.JPG", "s/7/p7/c1.png", "s/7/p7/c2.webp"]
        );
        assert_eq!(keys(25).len(), 4);
    }
}
