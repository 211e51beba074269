//! `lakegen`: writes a synthetic Instagram Graph API lake for benchmarks and demos.
//!
//! Deterministic by `--seed`: the same arguments write the same bytes. Realistic in the
//! ways the fixtures are: basic and business creators, all five media types (stories also
//! as `media_product_type: STORY`), counts as numbers and as display strings ("1,234",
//! "12.3k"), `-1` and placeholders, unicode and emoji captions with hashtags and mentions,
//! carousels with children, and (with `--bad-ratio`) a trickle of broken files.
//!
//! ```text
//! cargo run --release --bin lakegen -- --out /tmp/lake --users 50000 --days 35
//! ```

mod images;

use clap::Parser;
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(about = "Write a synthetic, deterministic Instagram Graph API lake.")]
struct Args {
    /// Folder to write the lake into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Number of creators.
    #[arg(long, default_value_t = 100)]
    users: u64,
    /// Days of stats per creator, ending at --end.
    #[arg(long, default_value_t = 35)]
    days: u32,
    /// Posts per creator (the API returns the newest 25).
    #[arg(long, default_value_t = 25)]
    posts_per_user: u32,
    /// Last day of stats, and the newest possible post date.
    #[arg(long, default_value = "2024-05-06")]
    end: chrono::NaiveDate,
    /// Share of creators with a business connection.
    #[arg(long, default_value_t = 0.2)]
    business_ratio: f64,
    /// Share of post files written broken (truncated, wrong types, unknown media type).
    #[arg(long, default_value_t = 0.0)]
    bad_ratio: f64,
    /// Also write images under instagram_graph_image_store/<user>/<post>/ (original,
    /// carousel children, video thumbnails), drawn from a pool of photo-like images whose
    /// dominant colours are recorded in lakegen/images.jsonl.
    #[arg(long, conflicts_with = "next_day")]
    images: bool,
    /// Side of the images in pixels.
    #[arg(long, default_value_t = 320, value_parser = clap::value_parser!(u32).range(16..=4096))]
    image_size: u32,
    /// Encodings in the pool.
    #[arg(long, value_enum, default_value = "mixed")]
    image_formats: images::Formats,
    /// Distinct images rendered (then hard-linked into the post folders).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    image_pool: u32,
    /// Write only what the API client writes on the day after --end, over a lake this
    /// command wrote with the same arguments: every creator's stats for that day, its
    /// --posts-per-user posts rewritten with changed counts, and one new post (dated that
    /// day) for every other creator.
    #[arg(long)]
    next_day: bool,
    /// Where the posts' media_url and thumbnail_url point (benchmarks of fetch-media put
    /// a loopback server here).
    #[arg(long, default_value = "https://scontent.example")]
    media_base_url: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// SplitMix64: tiny, fast and good enough for test data; no dependency to keep in step.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "sunset", "coffee", "Lisbon", "pasta", "workout", "makeup", "vintage", "beach", "café", "東京",
    "morning", "studio", "garden", "street", "minimal", "été", "neon", "forest", "brunch", "denim",
];
const EMOJI: &[&str] = &["✨", "🌞", "🍝", "💄", "🇫🇷", "🎬", "🥞", "🌿", "🔥", "❤️"];
const NAMES: &[&str] = &[
    "ana", "bruno", "chloé", "dmitri", "emi", "farah", "gus", "hana", "igor", "júlia",
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let started = std::time::Instant::now();
    let pool = if args.images {
        images::write_pool(
            &args.out,
            args.seed,
            args.image_pool,
            args.image_size,
            args.image_formats,
        )?
    } else {
        Vec::new()
    };
    let written: u64 = (0..args.users)
        .into_par_iter()
        .map(|u| write_user(&args, u, &pool))
        .sum::<anyhow::Result<u64>>()?;
    eprintln!(
        "lakegen: wrote {written} files for {} creators into {} in {:.1}s",
        args.users,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn user_id(u: u64) -> String {
    format!("178414{:011}", u)
}

/// Who creator `u` is: the first draws of its random stream, the same on every run.
struct Creator {
    id: String,
    business: bool,
    username: String,
    followers: i64,
}

fn creator(args: &Args, rng: &mut Rng, u: u64) -> Creator {
    let business = rng.chance(args.business_ratio);
    let username = format!(
        "{}.{}{}",
        rng.pick(NAMES),
        rng.pick(WORDS).to_lowercase(),
        u
    );
    Creator {
        id: user_id(u),
        business,
        username,
        followers: 500 + rng.below(200_000) as i64,
    }
}

fn write_user(args: &Args, u: u64, pool: &[images::PoolImage]) -> anyhow::Result<u64> {
    if args.next_day {
        return write_next_day(args, u);
    }
    let mut rng = Rng::new(args.seed, u);
    let Creator {
        id,
        business,
        username,
        followers,
    } = creator(args, &mut rng, u);
    let mut files = 0;
    // Its own stream: --images must not change the posts and stats.
    let mut image_rng = Rng::new(args.seed ^ 0x1A6E_5000, u);

    let posts_dir = args.out.join("instagram_graph/posts").join(&id);
    std::fs::create_dir_all(&posts_dir)?;
    for p in 0..args.posts_per_user {
        let post_id = format!("179{:08}{:06}", u, p);
        let (bytes, stems) = if rng.chance(args.bad_ratio) {
            (bad_post(&mut rng, &post_id), Vec::new())
        } else {
            let doc = post(args, &mut rng, &post_id, &username, followers, business);
            (serde_json::to_vec_pretty(&doc)?, images::image_stems(&doc))
        };
        std::fs::write(posts_dir.join(format!("{post_id}.json")), bytes)?;
        files += 1;
        if !pool.is_empty() {
            let folder = args
                .out
                .join("instagram_graph_image_store")
                .join(&id)
                .join(&post_id);
            for stem in stems {
                let image = &pool[image_rng.below(pool.len() as u64) as usize];
                images::place(
                    image,
                    &folder.join(format!(
                        "{stem}.{}",
                        image
                            .path
                            .extension()
                            .and_then(|e| e.to_str())
                            .unwrap_or("jpg")
                    )),
                )?;
                files += 1;
            }
        }
    }

    let stats_dir = args.out.join("instagram_graph/stats").join(&id);
    std::fs::create_dir_all(&stats_dir)?;
    for d in 0..args.days {
        let date = args.end - chrono::Duration::days(i64::from(args.days - 1 - d));
        let doc = stats(
            &mut rng,
            &id,
            &username,
            followers + i64::from(d) * 7,
            business,
        );
        std::fs::write(
            stats_dir.join(format!("{date}.json")),
            serde_json::to_vec(&doc)?,
        )?;
        files += 1;
    }
    Ok(files)
}

/// The day after --end for creator `u`: the same posts (drawn from the same random
/// stream, so ids and timestamps match) with new like counts, a new post for every other
/// creator, and the day's stats.
fn write_next_day(args: &Args, u: u64) -> anyhow::Result<u64> {
    let mut rng = Rng::new(args.seed, u);
    let mut bumps = Rng::new(args.seed ^ 0x05EE_DDA7, u);
    let Creator {
        id,
        business,
        username,
        followers,
    } = creator(args, &mut rng, u);
    let day = args.end + chrono::Duration::days(1);
    let posts_dir = args.out.join("instagram_graph/posts").join(&id);
    let mut files = 0;
    let mut write_post = |post_id: &str, mut doc: Value| -> anyhow::Result<()> {
        if doc.get("like_count").is_some() {
            doc["like_count"] = json!(followers / 20 + rng_val(&mut bumps, followers / 10 + 1));
        }
        std::fs::write(
            posts_dir.join(format!("{post_id}.json")),
            serde_json::to_vec_pretty(&doc)?,
        )?;
        files += 1;
        Ok(())
    };
    for p in 0..args.posts_per_user {
        let post_id = format!("179{:08}{:06}", u, p);
        if rng.chance(args.bad_ratio) {
            bad_post(&mut rng, &post_id); // keeps the stream aligned; a bad file stays bad
            continue;
        }
        let doc = post(args, &mut rng, &post_id, &username, followers, business);
        write_post(&post_id, doc)?;
    }
    if u.is_multiple_of(2) {
        let post_id = format!("179{:08}{:06}", u, args.posts_per_user);
        let mut doc = post(args, &mut rng, &post_id, &username, followers, business);
        doc["timestamp"] = json!(format!("{day}T12:00:00+0000"));
        write_post(&post_id, doc)?;
    }
    let doc = stats(
        &mut rng,
        &id,
        &username,
        followers + i64::from(args.days) * 7,
        business,
    );
    let stats_dir = args.out.join("instagram_graph/stats").join(&id);
    std::fs::write(
        stats_dir.join(format!("{day}.json")),
        serde_json::to_vec(&doc)?,
    )?;
    Ok(files + 1)
}

/// A count as the API client might write it: mostly a number, sometimes a display string.
fn count(rng: &mut Rng, value: i64) -> Value {
    match rng.below(20) {
        0 => json!(format_thousands(value)),
        1 if value >= 10_000 => json!(format!("{:.1}k", value as f64 / 1000.0)),
        2 => json!(-1),
        _ => json!(value),
    }
}

fn format_thousands(v: i64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn caption(rng: &mut Rng) -> String {
    let mut words: Vec<String> = (0..5 + rng.below(20))
        .map(|_| rng.pick(WORDS).to_string())
        .collect();
    for _ in 0..rng.below(6) {
        words.push(format!("#{}", rng.pick(WORDS)));
    }
    if rng.chance(0.3) {
        words.push(format!(
            "@{}.{}",
            rng.pick(NAMES),
            rng.pick(WORDS).to_lowercase()
        ));
    }
    words.push(rng.pick(EMOJI).to_string());
    words.join(" ")
}

fn post(
    args: &Args,
    rng: &mut Rng,
    post_id: &str,
    username: &str,
    followers: i64,
    business: bool,
) -> Value {
    let age_seconds = rng.below(90 * 86_400) as i64;
    let end = args
        .end
        .and_hms_opt(23, 59, 59)
        .expect("valid time")
        .and_utc();
    let timestamp = (end - chrono::Duration::seconds(age_seconds))
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string();
    let kind = match rng.below(100) {
        0..=49 => "IMAGE",
        50..=69 => "CAROUSEL_ALBUM",
        70..=84 => "VIDEO",
        85..=94 => "STORY_IMAGE",
        _ => "STORY_VIDEO",
    };
    let base = args.media_base_url.trim_end_matches('/');
    let url = |suffix: &str| format!("{base}/v/{post_id}{suffix}?_nc_sig=lakegen&oe=66");
    let mut doc = Map::new();
    doc.insert("id".into(), json!(post_id));
    doc.insert("timestamp".into(), json!(timestamp));
    doc.insert("username".into(), json!(username));
    doc.insert(
        "permalink".into(),
        json!(format!("https://www.instagram.com/p/{post_id}/")),
    );
    doc.insert("shortcode".into(), json!(post_id));
    let story = kind.starts_with("STORY");
    // Half of the stories arrive as IMAGE/VIDEO with media_product_type STORY.
    let media_type = match kind {
        "STORY_IMAGE" if rng.chance(0.5) => {
            doc.insert("media_product_type".into(), json!("STORY"));
            "IMAGE"
        }
        "STORY_VIDEO" if rng.chance(0.5) => {
            doc.insert("media_product_type".into(), json!("STORY"));
            "VIDEO"
        }
        k => k,
    };
    doc.insert("media_type".into(), json!(media_type));
    if story {
        for (key, max) in [("sticker_taps", 50), ("tap_backs", 500), ("swipe_ups", 100)] {
            let value = rng_val(rng, max);
            doc.insert(key.into(), count(rng, value));
        }
    } else {
        let likes = followers / 20 + rng_val(rng, followers / 10 + 1);
        let text = caption(rng);
        doc.insert("caption".into(), json!(text));
        doc.insert("like_count".into(), count(rng, likes));
        doc.insert("comments_count".into(), count(rng, likes / 30));
        if rng.chance(0.3) {
            doc.insert(
                "hashtags".into(),
                json!(format!("{}, {}", rng.pick(WORDS), rng.pick(WORDS))),
            );
        }
    }
    if kind == "STORY_VIDEO" || kind == "VIDEO" {
        doc.insert("thumbnail_url".into(), json!(url("-thumb.jpg")));
    }
    if kind != "STORY_VIDEO" {
        doc.insert(
            "media_url".into(),
            json!(url(if kind == "VIDEO" { ".mp4" } else { ".jpg" })),
        );
    }
    if kind == "VIDEO" && !business {
        doc.insert("views".into(), count(rng, followers * 2));
    }
    if kind == "CAROUSEL_ALBUM" {
        let children: Vec<Value> = (0..2 + rng.below(4))
            .map(|c| json!({"id": format!("{post_id}{c}"), "media_type": "IMAGE", "media_url": url(&format!("-{c}.jpg"))}))
            .collect();
        doc.insert("children".into(), json!({ "data": children }));
    }
    if business {
        let impressions = followers / 3 + rng_val(rng, followers / 2 + 1);
        doc.insert("impressions".into(), count(rng, impressions));
        doc.insert("reach".into(), count(rng, impressions * 3 / 4));
        if !story {
            doc.insert("engagement".into(), count(rng, impressions / 10));
            doc.insert("saved".into(), count(rng, impressions / 100));
        }
        if kind == "VIDEO" {
            doc.insert("video_views".into(), count(rng, impressions / 2));
        }
        doc.insert(
            "owner".into(),
            json!({"id": "owner", "username": username, "followers_count": followers}),
        );
    } else if rng.chance(0.5) {
        doc.insert(
            "followers".into(),
            if rng.chance(0.2) {
                json!(-1)
            } else {
                json!(followers)
            },
        );
    }
    Value::Object(doc)
}

fn rng_val(rng: &mut Rng, max: i64) -> i64 {
    rng.below(max.max(1) as u64) as i64
}

fn bad_post(rng: &mut Rng, post_id: &str) -> Vec<u8> {
    match rng.below(4) {
        0 => format!("{{\"id\": \"{post_id}\", \"media_type\": \"IMA").into_bytes(),
        1 => format!("{{\"id\": \"{post_id}\", \"media_type\": \"REEL\", \"timestamp\": \"2024-05-01T00:00:00+0000\"}}").into_bytes(),
        2 => format!("{{\"id\": \"{post_id}\", \"media_type\": \"IMAGE\", \"timestamp\": \"2024-05-01T00:00:00+0000\", \"like_count\": true}}").into_bytes(),
        _ => Vec::new(),
    }
}

fn stats(rng: &mut Rng, id: &str, username: &str, followers: i64, business: bool) -> Value {
    let mut doc = json!({
        "id": id,
        "ig_id": 287_000_000 + rng.below(1_000_000),
        "username": username,
        "name": format!("{} {}", NAMES[rng.below(NAMES.len() as u64) as usize], rng.pick(EMOJI)),
        "biography": caption(rng),
        "profile_picture_url": format!("https://scontent.example/{id}/profile.jpg"),
        "created_at": "2019-03-01",
        "followers_count": count(rng, followers),
        "follows_count": rng.below(2000),
        "media_count": 50 + rng.below(3000),
    });
    if business {
        let obj = doc.as_object_mut().expect("object");
        obj.insert(
            "website".into(),
            json!(format!("https://example.com/{username}")),
        );
        obj.insert("impressions".into(), count(rng, followers / 5));
        obj.insert("reach".into(), count(rng, followers / 9));
        obj.insert("follower_count".into(), json!(rng.below(100)));
        for key in [
            "email_contacts",
            "phone_call_clicks",
            "text_message_clicks",
            "get_directions_clicks",
            "website_clicks",
        ] {
            obj.insert(key.into(), json!(rng.below(5)));
        }
        obj.insert("profile_views".into(), json!(rng.below(500)));
    }
    doc
}
