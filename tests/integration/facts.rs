//! The fact table: aggregate-posts, load-facts (the mart) and quality-check on the bundled
//! fixtures plus a few hand-written edge-case files. Every expected value below was worked
//! out by hand from the JSON (the arithmetic is in the comments), never by igpipe.

use crate::frames::*;
use crate::harness::{parquet, Run, TestLake};
use polars::prelude::*;

pub const DATE: &str = "2024-05-06";
const AGGREGATES: &str = "marts/post_aggregates/date=2024-05-06/part-0.parquet";
const HISTORY: &str = "marts/history/date=2024-05-06/part-0.parquet";

/// Edge cases next to the fixtures (D = 2024-05-06, window [2024-04-07, 2024-05-06]):
/// - 7001: a post at D−29 00:00 UTC (in), one at D−30 23:59:59 (out), a story (doc_count
///   only), a video with no counts at all (feed, but left out of eng_avg); stats on three
///   days with a username change and a `-1` follower count.
/// - 7002: a post in the window but stats only before it: an aggregate row, no fact row.
/// - 7003: stats in the window and no post: doc_count 0, eng_avg null.
const EDGE_FILES: &[(&str, &str)] = &[
    (
        "instagram_graph/posts/7001/7001001.json",
        r##"{"id": "7001001", "media_type": "IMAGE", "timestamp": "2024-04-07T00:00:00+0000", "like_count": 10, "comments_count": 0, "caption": "first #Edge"}"##,
    ),
    (
        "instagram_graph/posts/7001/7001002.json",
        r##"{"id": "7001002", "media_type": "IMAGE", "timestamp": "2024-04-06T23:59:59+0000", "like_count": 1000, "comments_count": 500, "caption": "#outside"}"##,
    ),
    (
        "instagram_graph/posts/7001/7001003.json",
        r##"{"id": "7001003", "media_type": "STORY_IMAGE", "timestamp": "2024-05-06T12:00:00+0000", "caption": "#edge"}"##,
    ),
    (
        "instagram_graph/posts/7001/7001004.json",
        r##"{"id": "7001004", "media_type": "VIDEO", "timestamp": "2024-05-01T10:00:00+0000", "like_count": null, "caption": "#clip #edge"}"##,
    ),
    (
        "instagram_graph/posts/7002/7002001.json",
        r##"{"id": "7002001", "media_type": "IMAGE", "timestamp": "2024-05-01T10:00:00+0000", "like_count": 5, "comments_count": 5}"##,
    ),
    (
        "instagram_graph/stats/7001/2024-05-04.json",
        r##"{"id": "7001", "username": "old_name", "followers_count": 100}"##,
    ),
    (
        "instagram_graph/stats/7001/2024-05-05.json",
        r##"{"id": "7001", "username": null, "followers_count": -1}"##,
    ),
    (
        "instagram_graph/stats/7001/2024-05-06.json",
        r##"{"id": "7001", "username": "new_name", "followers_count": 130}"##,
    ),
    (
        "instagram_graph/stats/7002/2024-04-01.json",
        r##"{"id": "7002", "username": "gone_quiet", "followers_count": 50}"##,
    ),
    (
        "instagram_graph/stats/7003/2024-05-06.json",
        r##"{"id": "7003", "username": "no_posts", "followers_count": 400}"##,
    ),
];

pub fn assert_ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "igpipe failed:\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
}

/// The fixtures plus the edge files, staged for D.
pub fn staged_lake(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    for (key, json) in EDGE_FILES {
        lake.write(key, json.as_bytes());
    }
    for step in ["stage-stats", "stage-posts"] {
        assert_ok(&lake.igpipe(&[step, "--date", DATE]));
    }
}

/// stage → aggregate-posts → load-facts for `date` (staging as of D).
pub fn chain(lake: &dyn TestLake, date: &str) {
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", date]));
    assert_ok(&lake.igpipe(&["load-facts", "--date", date]));
}

fn f64_at(df: &DataFrame, key_col: &str, key: &str, col: &str) -> Option<f64> {
    let keys = column_strings(df, key_col);
    let i = keys
        .iter()
        .position(|k| k == key)
        .unwrap_or_else(|| panic!("no row {key}"));
    df.column(col).unwrap().f64().unwrap().get(i)
}

fn i64_list_at(df: &DataFrame, key: &str, col: &str) -> Vec<Option<i64>> {
    let keys = column_strings(df, "id");
    let i = keys.iter().position(|k| k == key).unwrap();
    let items = df
        .column(col)
        .unwrap()
        .list()
        .unwrap()
        .get_as_series(i)
        .unwrap();
    items.i64().unwrap().iter().collect()
}

fn dates_at(df: &DataFrame, key: &str) -> Vec<String> {
    let keys = column_strings(df, "id");
    let i = keys.iter().position(|k| k == key).unwrap();
    let items = df
        .column("dates")
        .unwrap()
        .list()
        .unwrap()
        .get_as_series(i)
        .unwrap();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    items
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(|d| (epoch + chrono::TimeDelta::days(d.unwrap().into())).to_string())
        .collect()
}

fn us(ts: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts)
        .unwrap()
        .timestamp_micros()
}

/// marts/quality/date=D/report.json as quality-check last wrote it.
pub fn quality_report(lake: &dyn TestLake) -> serde_json::Value {
    let bytes = lake
        .read("marts/quality/date=2024-05-06/report.json")
        .expect("quality-check wrote its report");
    serde_json::from_slice(&bytes).unwrap()
}

/// One check of a quality report, by name.
pub fn check_named(report: &serde_json::Value, name: &str) -> serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
        .clone()
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value, not null");
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

pub fn post_aggregates_match_hand_computed_values(lake: &dyn TestLake) {
    staged_lake(lake);
    let run = lake.igpipe(&["aggregate-posts", "--date", DATE]);
    assert_ok(&run);
    assert_eq!(run.count("rows_written"), 8);
    // Only April and May are read: the window [04-07, 05-06] touches no other month.
    assert_eq!(run.count("files_read"), 2);
    let df = parquet(&lake.read(AGGREGATES).unwrap());
    assert_eq!(
        column_strings(&df, "user_id"),
        [
            "1001",
            "1002",
            "1003",
            "1004",
            "1005",
            "17841400036094485",
            "7001",
            "7002"
        ]
    );
    let at = |user: &str, col: &str| i64_at(&df, "user_id", user, col);
    let avg = |user: &str, col: &str| f64_at(&df, "user_id", user, col);
    // 1001 (basic): 101 IMAGE 120+8, 102 CAROUSEL 1,234+56, 104 and 105 stories;
    // 103 (2024-03-31 02:30 UTC) is outside.
    assert_eq!(
        (
            at("1001", "doc_count"),
            at("1001", "feed_count"),
            at("1001", "story_count")
        ),
        (Some(4), Some(2), Some(2))
    );
    close(avg("1001", "eng_avg"), (128.0 + 1290.0) / 2.0);
    close(avg("1001", "likes_avg"), (120.0 + 1234.0) / 2.0);
    close(avg("1001", "comments_avg"), (8.0 + 56.0) / 2.0);
    assert_eq!(
        (avg("1001", "reach_avg"), avg("1001", "impressions_avg")),
        (None, None)
    );
    assert_eq!(
        list_at(&df, "user_id", "1001", "top_hashtags").unwrap(),
        ["brunch", "food", "pancakes", "summer", "tomatoes"]
    );
    assert_eq!(at("1001", "last_post_at"), Some(us("2024-05-02T07:00:00Z")));
    // 1002 (business): feed 201 (4,521+310) and 202 (3,900+95); reach and impressions over
    // all four business posts in the window, stories included.
    close(avg("1002", "eng_avg"), (4831.0 + 3995.0) / 2.0);
    close(
        avg("1002", "reach_avg"),
        (48000.0 + 40100.0 + 8800.0 + 6500.0) / 4.0,
    );
    close(
        avg("1002", "impressions_avg"),
        (61000.0 + 52400.0 + 9100.0 + 7000.0) / 4.0,
    );
    assert_eq!(
        list_at(&df, "user_id", "1002", "top_hashtags").unwrap(),
        ["travel", "goldenhour", "lisbon", "portugal"],
        "travel is on two posts, the rest on one (alphabetical)"
    );
    // 1003: "1.2M" + "12.3k" and 88,000 + 1,500.
    close(avg("1003", "eng_avg"), (1_212_300.0 + 89_500.0) / 2.0);
    // 1004: comments "n/a" and "—" count 0; comments_avg has no value at all.
    close(avg("1004", "eng_avg"), (2500.0 + 980.0) / 2.0);
    assert_eq!(avg("1004", "comments_avg"), None);
    // 1005: only the story at D 23:59:59 is in the window: no feed post.
    assert_eq!(
        (
            at("1005", "doc_count"),
            at("1005", "feed_count"),
            at("1005", "story_count")
        ),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(avg("1005", "eng_avg"), None);
    assert_eq!(
        list_at(&df, "user_id", "1005", "top_hashtags").unwrap(),
        Vec::<String>::new()
    );
    // 7001: the D−29 00:00 image (10+0) is in, the D−30 23:59:59 one is out; the video
    // with no counts is a feed post left out of eng_avg; the story counts in doc_count only.
    assert_eq!(
        (
            at("7001", "doc_count"),
            at("7001", "feed_count"),
            at("7001", "story_count")
        ),
        (Some(3), Some(2), Some(1))
    );
    close(avg("7001", "eng_avg"), 10.0);
    close(avg("7001", "likes_avg"), 10.0);
    assert_eq!(
        list_at(&df, "user_id", "7001", "top_hashtags").unwrap(),
        ["edge", "clip"]
    );
    assert_eq!(at("7001", "last_post_at"), Some(us("2024-05-06T12:00:00Z")));
}

pub fn history_matches_hand_computed_values(lake: &dyn TestLake) {
    staged_lake(lake);
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    let run = lake.igpipe(&["load-facts", "--date", DATE]);
    assert_ok(&run);
    let df = parquet(&lake.read(HISTORY).unwrap());
    // 7002's stats all predate the window: no row. 7003 has stats and no post.
    assert_eq!(
        column_strings(&df, "id"),
        [
            "1001",
            "1002",
            "1003",
            "1004",
            "1005",
            "17841400036094485",
            "7001",
            "7003"
        ]
    );
    assert_eq!(run.count("rows_written"), 8);
    // 7001: username changed (the latest non-null wins); -1 followers is null in the list
    // and left out of fol_avg = (100 + 130) / 2; engagement_rate = eng_avg 10 / latest 130.
    assert_eq!(
        str_at(&df, "id", "7001", "username").as_deref(),
        Some("new_name")
    );
    assert_eq!(
        dates_at(&df, "7001"),
        ["2024-05-04", "2024-05-05", "2024-05-06"]
    );
    assert_eq!(
        i64_list_at(&df, "7001", "followers"),
        [Some(100), None, Some(130)]
    );
    assert_eq!(
        i64_list_at(&df, "7001", "impressions"),
        [None, None, None],
        "basic user"
    );
    close(f64_at(&df, "id", "7001", "fol_avg"), 115.0);
    assert_eq!(i64_at(&df, "id", "7001", "doc_count"), Some(3));
    close(f64_at(&df, "id", "7001", "engagement_rate"), 10.0 / 130.0);
    // 7003: no post in the window.
    assert_eq!(i64_at(&df, "id", "7003", "doc_count"), Some(0));
    assert_eq!(
        (
            f64_at(&df, "id", "7003", "eng_avg"),
            f64_at(&df, "id", "7003", "engagement_rate")
        ),
        (None, None)
    );
    // 1002 has no stats file for 2024-04-20: 29 dates, no filling. Its first and last
    // followers are the JSON's (stats/1002/2024-04-07.json and 2024-05-06.json).
    let dates = dates_at(&df, "1002");
    assert_eq!(
        (
            dates.len(),
            dates.first().unwrap().as_str(),
            dates.last().unwrap().as_str()
        ),
        (29, "2024-04-07", "2024-05-06")
    );
    assert!(!dates.contains(&"2024-04-20".to_string()));
    let followers = i64_list_at(&df, "1002", "followers");
    assert_eq!((followers[0], followers[28]), (Some(37060), Some(37350)));
    // 1001 is basic: impressions and reach are lists of nulls aligned with its 30 dates.
    assert_eq!(i64_list_at(&df, "1001", "impressions"), vec![None; 30]);
    // No palette partition yet: colors and palette_date are null.
    assert_eq!(str_at(&df, "id", "1001", "colors"), None);
    assert_eq!(i64_at(&df, "id", "1001", "palette_date"), None);
    assert_eq!(
        i64_at(&df, "id", "1001", "as_of"),
        Some(19849),
        "2024-05-06 is day 19,849 of the epoch"
    );
}

pub fn load_facts_needs_the_days_aggregates(lake: &dyn TestLake) {
    staged_lake(lake);
    let run = lake.igpipe(&["load-facts", "--date", DATE]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.report["error"].as_str().unwrap();
    assert!(
        error.contains("marts/post_aggregates/date=2024-05-06"),
        "{error}"
    );
    assert!(
        error.contains("igpipe aggregate-posts --date 2024-05-06"),
        "{error}"
    );
    assert!(lake.read(HISTORY).is_none(), "no half-made fact table");
}

/// A palette partition (as color-palette will write it, sharded) with one entry per user.
pub fn palette_frame(users: &[(&str, &str)], as_of_days: i32) -> DataFrame {
    palette_frame_with(users, as_of_days, 1.0, "#ddc2b2")
}

/// The same with one entry of `percentage` and `hex` for rgb (221, 194, 178).
pub fn palette_frame_with(
    users: &[(&str, &str)],
    as_of_days: i32,
    percentage: f64,
    hex: &str,
) -> DataFrame {
    let n = users.len();
    let entries: Vec<Series> = users
        .iter()
        .map(|_| {
            let fields = [
                Series::new("percentage".into(), [percentage]),
                Series::new("red".into(), [221i64]),
                Series::new("green".into(), [194i64]),
                Series::new("blue".into(), [178i64]),
                Series::new("hex".into(), [hex]),
            ];
            StructChunked::from_series("item".into(), 1, fields.iter())
                .unwrap()
                .into_series()
        })
        .collect();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "user_id".into(),
                users.iter().map(|u| u.0).collect::<Vec<_>>(),
            ),
            Column::new("as_of".into(), vec![as_of_days; n])
                .cast(&DataType::Date)
                .unwrap(),
            Column::new("n_images".into(), vec![3i64; n]),
            Column::new("n_pixels".into(), vec![12288i64; n]),
            Column::new("inertia".into(), vec![1.5f64; n]),
            Series::new("palette".into(), entries).into_column(),
            Column::new(
                "palette_json".into(),
                users.iter().map(|u| u.1).collect::<Vec<_>>(),
            ),
        ],
    )
    .unwrap()
}

pub fn write_parquet(lake: &dyn TestLake, key: &str, mut df: DataFrame) {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df).unwrap();
    lake.write(key, &bytes);
}

const RED: &str =
    r##"[{"percentage": 1.0, "red": 221, "green": 194, "blue": 178, "hex": "#ddc2b2"}]"##;

pub fn the_newest_palette_partition_on_or_before_d_gives_colors(lake: &dyn TestLake) {
    staged_lake(lake);
    // 2024-04-01 (older), 2024-05-01 in two shards (the newest ≤ D), 2024-05-10 (after D).
    write_parquet(
        lake,
        "marts/palettes/date=2024-04-01/part-0.parquet",
        palette_frame(&[("1001", "[]"), ("1003", "[]")], 19814),
    );
    write_parquet(
        lake,
        "marts/palettes/date=2024-05-01/part-0-of-2.parquet",
        palette_frame(&[("1001", RED)], 19844),
    );
    write_parquet(
        lake,
        "marts/palettes/date=2024-05-01/part-1-of-2.parquet",
        // 1001 again (a shard written twice): one fact row still, the greater JSON wins.
        palette_frame(&[("1002", RED), ("1001", "[]")], 19844),
    );
    write_parquet(
        lake,
        "marts/palettes/date=2024-05-10/part-0.parquet",
        palette_frame(&[("1004", "[]")], 19853),
    );
    lake.write("marts/palettes/date=2024-05-01/_SUCCESS", b"");
    chain(lake, DATE);
    let df = parquet(&lake.read(HISTORY).unwrap());
    assert_eq!(df.height(), 8, "one row per creator");
    assert_eq!(str_at(&df, "id", "1001", "colors").as_deref(), Some(RED));
    assert_eq!(str_at(&df, "id", "1002", "colors").as_deref(), Some(RED));
    assert_eq!(
        i64_at(&df, "id", "1002", "palette_date"),
        Some(19844),
        "2024-05-01"
    );
    // 1003 is only in the older partition; 1004 only in one dated after D.
    assert_eq!(str_at(&df, "id", "1003", "colors"), None);
    assert_eq!(str_at(&df, "id", "1004", "colors"), None);

    // Shard 1 of 2 lost: the run still succeeds but says which shard is missing.
    lake.remove("marts/palettes/date=2024-05-01/part-1-of-2.parquet");
    let run = lake.igpipe(&["load-facts", "--date", DATE]);
    assert_ok(&run);
    let warnings = run.report["warnings"].to_string();
    assert!(
        warnings.contains("marts/palettes/date=2024-05-01") && warnings.contains("1/2"),
        "{warnings}"
    );
    let df = parquet(&lake.read(HISTORY).unwrap());
    assert_eq!(str_at(&df, "id", "1002", "colors"), None);
}

pub fn quality_check_passes_then_fails_on_a_broken_table(lake: &dyn TestLake) {
    staged_lake(lake);
    chain(lake, DATE);
    let run = lake.igpipe(&["quality-check", "--date", DATE]);
    assert_ok(&run);
    assert_eq!(run.report["checks"]["failed"], 0, "{}", run.stderr);
    let report = quality_report(lake);
    assert_eq!(
        report["status"], "passed_with_warnings",
        "only the absent palettes warn"
    );
    assert!(
        run.stderr.contains("history.lists_aligned"),
        "the table is printed: {}",
        run.stderr
    );

    // A fact table whose lists are misaligned and a key duplicated: exit 3, named.
    let mut broken = parquet(&lake.read(HISTORY).unwrap());
    let first = broken.slice(0, 1);
    broken.vstack_mut(&first).unwrap();
    let short = Series::new(
        "followers".into(),
        vec![Series::new("".into(), [1i64]); broken.height()],
    );
    broken.with_column(short.into_column()).unwrap();
    write_parquet(lake, HISTORY, broken);
    let run = lake.igpipe(&["quality-check", "--date", DATE]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = quality_report(lake);
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail" && c["severity"] == "error")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        [
            "history.key_unique",
            "history.lists_aligned",
            "history.fol_avg_in_range"
        ]
    );

    // Stats staged only up to an earlier day: not fresh for a later date.
    let run = lake.igpipe(&["quality-check", "--date", "2024-05-07"]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr
            .contains("newest staged stats date is 2024-05-06, 1 day before 2024-05-07"),
        "{}",
        run.stderr
    );
}

/// A palette whose percentages do not sum to 1, and one whose hex is not its rgb.
pub fn quality_check_catches_a_bad_palette(lake: &dyn TestLake) {
    staged_lake(lake);
    chain(lake, DATE);
    let key = "marts/palettes/date=2024-05-01/part-0.parquet";
    // (percentage, hex) of 1001's one entry for rgb (221, 194, 178): the exit code and the
    // problem named. 0.9 alone leaves 0.1 missing, beyond ± 0.001; the hex is #ddc2b2.
    let cases = [
        (1.0, "#ddc2b2", 0, None),
        (0.9, "#ddc2b2", 3, Some("1001 (percentages sum to 0.9000)")),
        (1.0, "#ddc2b3", 3, Some("hex \"#ddc2b3\" for #ddc2b2")),
    ];
    for (percentage, hex, code, problem) in cases {
        write_parquet(
            lake,
            key,
            palette_frame_with(&[("1001", RED)], 19844, percentage, hex),
        );
        let run = lake.igpipe(&["quality-check", "--date", DATE]);
        assert_eq!(run.code, code, "{percentage} {hex}: {}", run.stderr);
        let palette = check_named(&quality_report(lake), "palettes.percentages_and_hex");
        match problem {
            None => assert_eq!(palette["outcome"], "pass", "{palette}"),
            Some(text) => assert!(
                palette["detail"].as_str().unwrap().contains(text),
                "{palette}"
            ),
        }
    }
}

/// Every run, failed ones too, leaves its summary in `_runs/date=D/<step>-<run_id>.json`.
pub fn every_run_is_logged_under_runs(lake: &dyn TestLake) {
    staged_lake(lake);
    // Without the day's aggregates load-facts fails: logged with its error.
    let failed = lake.igpipe(&["load-facts", "--date", DATE, "--run-id", "manual__1"]);
    assert_eq!(failed.code, 1);
    let ok = lake.igpipe(&[
        "aggregate-posts",
        "--date",
        DATE,
        "--run-id",
        "scheduled__2024-05-06T00:00:00+00:00",
    ]);
    assert_ok(&ok);
    let logged = |key: &str| -> serde_json::Value {
        serde_json::from_slice(&lake.read(key).unwrap_or_else(|| panic!("no {key}"))).unwrap()
    };
    let entry = logged("_runs/date=2024-05-06/load-facts-manual__1.json");
    assert_eq!(entry, failed.report, "the log holds the summary line");
    assert_eq!(entry["status"], "failed");
    assert!(entry["error"].as_str().unwrap().contains("post_aggregates"));
    let entry =
        logged("_runs/date=2024-05-06/aggregate-posts-scheduled__2024-05-06T00_00_00_00_00.json");
    assert_eq!(entry, ok.report);
    // A run without --run-id gets one, the same in its summary and its log entry; the
    // staging runs of staged_lake are there too.
    let run = lake.igpipe(&["quality-check", "--date", DATE]);
    let id = run.report["run_id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(
        logged(&format!("_runs/date=2024-05-06/quality-check-{id}.json")),
        run.report
    );
    let steps: Vec<String> = lake
        .keys("_runs/date=2024-05-06")
        .iter()
        .map(|k| {
            k.rsplit('/')
                .next()
                .unwrap()
                .split('-')
                .take(2)
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    for step in [
        "stage-stats",
        "stage-posts",
        "load-facts",
        "aggregate-posts",
        "quality-check",
    ] {
        assert!(
            steps.iter().any(|s| s == step),
            "{step} not logged: {steps:?}"
        );
    }
}
