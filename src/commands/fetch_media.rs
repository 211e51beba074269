//! `igpipe fetch-media`: downloads the images of recently staged posts into the image store
//! (`instagram_graph_image_store/<user_id>/<post_id>/`), which color-palette reads.
//!
//! `original.<ext>` for IMAGE and STORY_IMAGE, `<child_id>.<ext>` for each image child of a
//! carousel, `thumbnail.<ext>` for VIDEO and STORY_VIDEO (videos are not downloaded); the
//! extension comes from the bytes. What is already in the store is not fetched again, so a
//! re-run after failures fetches only what is missing. Each failed download is a
//! `staging/rejects` row naming the URL without its query. Exit codes: 0; 1; 4 when more
//! than --max-reject-ratio of at least 100 downloads failed.

use super::aggregate_posts::window_months;
use super::{parse_days, Context, ImageStoreArgs, LakeArgs};
use crate::contracts::{posts, rejects};
use crate::facts::window_start;
use crate::media::download::{self, Policy};
use crate::media::{self, ImageStore};
use crate::report::{RunReport, Status};
use crate::tables;
use crate::telemetry::Progress;
use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use clap::Args;
use futures::StreamExt;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub const STEP: &str = "fetch-media";

#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub images: ImageStoreArgs,

    /// Posts whose UTC date is in [D−DAYS+1, D].
    #[arg(long, default_value_t = 30, value_name = "DAYS", value_parser = parse_days)]
    pub days: u32,

    /// Downloads in flight at once.
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    /// Seconds to wait for a connection.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,

    /// Seconds for a whole download, body included.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Further attempts after a 5xx, a 429, a timeout or a failed connection (waiting
    /// 0.5 s, 1 s, 2 s…, or the server's Retry-After up to 60 s).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,

    /// Refuse bodies larger than this many MiB.
    #[arg(long, default_value_t = 20, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_image_mib: u64,

    /// Exit 4 when more than this share of at least 100 downloads failed. Wider than the
    /// staging steps' 0.05: expired CDN links fail every day in a trickle; a CDN outage or
    /// a blocked worker fails most downloads at once.
    #[arg(long, default_value_t = 0.5, value_name = "RATIO", value_parser = super::parse_ratio)]
    pub max_reject_ratio: f64,
}

/// One image to download.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    user_id: String,
    post_id: String,
    /// The file name without extension: `original`, `thumbnail` or the child's id.
    stem: String,
    url: String,
}

pub fn run(args: &FetchArgs, ctx: &Context) -> Result<RunReport> {
    let started = Instant::now();
    let date = args.lake.date;
    let run_id = super::run_id(args.lake.run_id.as_deref());
    let mut report = RunReport::new(STEP, date.to_string(), run_id.clone());
    let out = args.lake.open_output(ctx)?;
    let store = args.images.open(&args.lake, ctx, true)?;

    let (wanted, mut failures) = targets(&out, date, args.days)?;
    report.files_listed = wanted.len() as u64;
    let missing = not_in_store(&store, wanted)?;
    report.files_unchanged = report.files_listed - missing.len() as u64;
    info!(
        wanted = report.files_listed,
        present = report.files_unchanged,
        to_fetch = missing.len(),
        "Images of posts from {} to {date}.",
        window_start(date, args.days)
    );

    let policy = Policy {
        connect_timeout: Duration::from_secs(args.connect_timeout),
        timeout: Duration::from_secs(args.timeout),
        retries: args.retries,
        backoff: Duration::from_millis(500),
        max_bytes: args.max_image_mib * 1024 * 1024,
    };
    let fetched = download_all(
        &store,
        &missing,
        &policy,
        args.concurrency as usize,
        ctx.progress,
    )?;
    report.files_read = missing.len() as u64;
    report.rows_written = fetched.written;
    failures.extend(fetched.failures);

    report.rejected = failures.len() as u64;
    report.count_rejects(failures.iter().map(|r| r.reason.as_str()));
    if !failures.is_empty() {
        let key = tables::write_rejects(&out, date, STEP, &run_id, &failures)?;
        warn!(failed = failures.len(), object = %out.describe(&key), "Some images could not be fetched; a re-run tries them again.");
    }
    let attempted = report.files_read.max(report.rejected);
    if attempted >= 100 && report.rejected as f64 > args.max_reject_ratio * attempted as f64 {
        warn!(
            "{} of {attempted} downloads failed (more than --max-reject-ratio {}): exit 4.",
            report.rejected, args.max_reject_ratio
        );
        report.status = Status::TooManyRejects;
    }
    info!(
        fetched = fetched.written,
        failed = report.rejected,
        "Fetched images."
    );
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The images of posts in the window, from `staging/posts`; posts whose ids cannot name a
/// folder become reject rows instead.
fn targets(
    out: &crate::lake::Lake,
    date: NaiveDate,
    days: u32,
) -> Result<(Vec<Target>, Vec<rejects::RejectRow>)> {
    let mut keys = Vec::new();
    for month in window_months(date, days) {
        let dir = tables::partition_dir(posts::TABLE_PREFIX, posts::PARTITION_COLUMN, &month);
        keys.extend(tables::part_keys(out, &dir)?);
    }
    let columns = [
        "post_id",
        "user_id",
        "media_type",
        "timestamp",
        "media_url",
        "thumbnail_url",
        "children",
    ];
    let Some(staged) = tables::read_columns(out, &keys, &posts::schema(), &columns)? else {
        warn!("No staged posts in the window: nothing to fetch. Has stage-posts run?");
        return Ok((Vec::new(), Vec::new()));
    };
    let day_us = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros()
    };
    let (from_us, to_us) = (
        day_us(window_start(date, days)),
        day_us(date + chrono::Days::new(1)),
    );
    // Each column looked up once, not once a row: the window holds ~750,000 posts.
    let text = |name: &str| -> Result<StringChunked> { Ok(staged.column(name)?.str()?.clone()) };
    let (post_ids, user_ids, media_types) =
        (text("post_id")?, text("user_id")?, text("media_type")?);
    let (media_urls, thumbnail_urls) = (text("media_url")?, text("thumbnail_url")?);
    let owned = |column: &StringChunked, i: usize| column.get(i).map(str::to_string);
    let timestamps = staged.column("timestamp")?.datetime()?.physical();
    let children = staged.column("children")?.list()?;
    let mut found = Vec::new();
    let mut refused = Vec::new();
    for i in 0..staged.height() {
        let Some(ts) = timestamps.get(i) else {
            continue;
        };
        if ts < from_us || ts >= to_us {
            continue;
        }
        let (Some(post_id), Some(user_id)) = (owned(&post_ids, i), owned(&user_ids, i)) else {
            continue;
        };
        let mut wanted: Vec<(String, Option<String>)> = Vec::new();
        match media_types.get(i) {
            Some("IMAGE" | "STORY_IMAGE") => {
                wanted.push(("original".into(), owned(&media_urls, i)))
            }
            Some("VIDEO" | "STORY_VIDEO") => {
                wanted.push(("thumbnail".into(), owned(&thumbnail_urls, i)))
            }
            Some("CAROUSEL_ALBUM") => wanted.extend(carousel_images(children.get_as_series(i))?),
            _ => {}
        }
        for (stem, url) in wanted {
            let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
                continue;
            };
            if !media::is_safe_name(&post_id) || !media::is_safe_name(&stem) {
                refused.push(reject(&url, format!("post {post_id:?} of user {user_id}: the id {:?} cannot name a file in the image store", if media::is_safe_name(&post_id) { &stem } else { &post_id })));
                continue;
            }
            found.push(Target {
                user_id: user_id.clone(),
                post_id: post_id.clone(),
                stem,
                url,
            });
        }
    }
    Ok((found, refused))
}

/// A carousel's image children: (child id, media_url). Video children have no thumbnail in
/// the Graph API's children, so they give nothing.
fn carousel_images(children: Option<Series>) -> Result<Vec<(String, Option<String>)>> {
    let Some(children) = children else {
        return Ok(Vec::new());
    };
    let fields = children.struct_()?;
    let ids = fields.field_by_name("id")?;
    let types = fields.field_by_name("media_type")?;
    let urls = fields.field_by_name("media_url")?;
    let (ids, types, urls) = (ids.str()?, types.str()?, urls.str()?);
    Ok((0..children.len())
        .filter_map(|j| {
            let id = ids.get(j)?;
            (types.get(j) != Some("VIDEO"))
                .then(|| (id.to_string(), urls.get(j).map(str::to_string)))
        })
        .collect())
}

/// The targets with no image file of their stem in their post's folder yet.
fn not_in_store(store: &ImageStore, wanted: Vec<Target>) -> Result<Vec<Target>> {
    let mut by_user: BTreeMap<String, Vec<Target>> = BTreeMap::new();
    for target in wanted {
        by_user
            .entry(target.user_id.clone())
            .or_default()
            .push(target);
    }
    let users: Vec<(String, Vec<Target>)> = by_user.into_iter().collect();
    let mut missing = Vec::new();
    for chunk in users.chunks(256) {
        let folders: Vec<String> = chunk
            .iter()
            .map(|(user, _)| store.user_folder(user))
            .collect();
        for (((_, targets), listing), folder) in chunk
            .iter()
            .zip(store.lake.list_folders(&folders)?)
            .zip(&folders)
        {
            let present = media::files_by_post(folder, listing);
            missing.extend(
                targets
                    .iter()
                    .filter(|t| {
                        !present.get(&t.post_id).is_some_and(|files| {
                            files.iter().any(|f| {
                                let name = media::file_name(&f.key);
                                media::is_image_name(name)
                                    && name
                                        .rsplit_once('.')
                                        .is_some_and(|(stem, _)| stem == t.stem)
                            })
                        })
                    })
                    .cloned(),
            );
        }
    }
    Ok(missing)
}

struct Fetched {
    written: u64,
    failures: Vec<rejects::RejectRow>,
}

/// Downloads `targets`, `concurrency` at a time, writing each image as it arrives.
fn download_all(
    store: &ImageStore,
    targets: &[Target],
    policy: &Policy,
    concurrency: usize,
    progress: bool,
) -> Result<Fetched> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("igpipe-fetch")
        .build()
        .context("starting the download runtime")?;
    let client = download::client(policy).context("building the HTTP client")?;
    let bar = Progress::new(progress, targets.len() as u64, "images");
    let outcomes: Vec<Result<Option<rejects::RejectRow>>> = runtime.block_on(async {
        futures::stream::iter(targets.iter().map(|target| {
            let client = &client;
            let bar = &bar;
            async move {
                let outcome = match download::fetch(client, &target.url, policy).await {
                    Ok(image) => {
                        let key = format!(
                            "{}/{}.{}",
                            store.post_folder(&target.user_id, &target.post_id),
                            target.stem,
                            image.extension
                        );
                        store.lake.put_async(&key, image.bytes).await.map(|()| None)
                    }
                    Err(failure) => Ok(Some(reject(
                        &target.url,
                        format!(
                            "post {} of user {}, {}: {}",
                            target.post_id, target.user_id, target.stem, failure.reason
                        ),
                    ))),
                };
                bar.inc(1);
                outcome
            }
        }))
        .buffer_unordered(concurrency)
        .collect()
        .await
    });
    bar.finish();
    let mut fetched = Fetched {
        written: 0,
        failures: Vec::new(),
    };
    for outcome in outcomes {
        // A store that cannot be written is the run's failure, not the image's.
        match outcome? {
            None => fetched.written += 1,
            Some(failure) => fetched.failures.push(failure),
        }
    }
    fetched.failures.sort_by(|a, b| a.reason.cmp(&b.reason));
    Ok(fetched)
}

/// A reject row for a URL: its scheme, host and path only (the query holds the signature).
fn reject(url: &str, reason: String) -> rejects::RejectRow {
    rejects::RejectRow {
        source_key: crate::redact::download_url(url),
        source_etag: None,
        size: 0,
        last_modified_us: chrono::Utc::now().timestamp_micros(),
        reason,
    }
}
