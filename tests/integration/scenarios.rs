//! The staging scenarios, written once and run against every kind of lake (a local folder,
//! moto's S3 server, s3s-fs): what differs between stores must not change what igpipe does.

use crate::frames::*;
use crate::harness::TestLake;

const DATE: &str = "2024-05-06";
const POSTS: &str = "staging/posts";
const STATS: &str = "staging/user_stats";

fn us(ts: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts)
        .unwrap()
        .timestamp_micros()
}

fn stage_posts(lake: &dyn TestLake, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec!["stage-posts", "--date", DATE];
    args.extend(extra);
    lake.igpipe(&args)
}

fn assert_ok(run: &crate::harness::Run) {
    assert_eq!(
        run.code, 0,
        "igpipe failed:\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
}

/// Every output object and its bytes, to prove a run changed nothing.
fn snapshot(lake: &dyn TestLake) -> Vec<(String, Vec<u8>)> {
    lake.keys("staging")
        .into_iter()
        .map(|k| (k.clone(), lake.read(&k).unwrap()))
        .collect()
}

pub fn fixture_posts_are_staged_exactly(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    let run = stage_posts(lake, &[]);
    assert_ok(&run);
    assert_eq!(run.report["step"], "stage-posts");
    assert_eq!(run.report["date"], DATE);
    assert_eq!(run.count("files_listed"), 20);
    assert_eq!(
        run.count("files_ignored"),
        3,
        ".DS_Store, _SUCCESS and a .json.tmp"
    );
    assert_eq!(run.count("files_read"), 17);
    assert_eq!(run.count("rejected"), 0);
    assert_eq!(run.count("rows_written"), 17);
    assert_eq!(run.count("partitions_written"), 4);

    let months: Vec<String> = lake.keys(POSTS);
    assert_eq!(
        months,
        ["2024-02", "2024-03", "2024-04", "2024-05"]
            .map(|m| format!("{POSTS}/post_month={m}/part-0.parquet"))
    );
    let df = lake.table(POSTS, "post_month");
    assert_eq!(df.height(), 17);
    let s = |id: &str, col: &str| str_at(&df, "post_id", id, col);
    let n = |id: &str, col: &str| i64_at(&df, "post_id", id, col);
    let l = |id: &str, col: &str| list_at(&df, "post_id", id, col);

    // Every media type with both connections.
    let mut combos: Vec<String> = column_strings(&df, "media_type")
        .into_iter()
        .zip(column_strings(&df, "connection"))
        .map(|(m, c)| format!("{m}/{c}"))
        .collect();
    combos.sort();
    combos.dedup();
    assert_eq!(combos.len(), 10, "{combos:?}");

    // A basic carousel with display-string counts and a repeated caption tag.
    let id = "17900000000000102";
    assert_eq!(s(id, "user_id").as_deref(), Some("1001"));
    assert_eq!(s(id, "owner_username").as_deref(), Some("ana.cooks"));
    assert_eq!(s(id, "media_type").as_deref(), Some("CAROUSEL_ALBUM"));
    assert_eq!(s(id, "connection").as_deref(), Some("basic"));
    assert_eq!(
        (n(id, "like_count"), n(id, "comments_count")),
        (Some(1234), Some(56))
    );
    assert_eq!(
        (
            n(id, "impressions"),
            n(id, "reach"),
            n(id, "followers_at_post")
        ),
        (None, None, None)
    );
    assert_eq!(n(id, "timestamp"), Some(us("2024-04-30T18:00:00Z")));
    assert_eq!(s(id, "post_month").as_deref(), Some("2024-04"));
    assert_eq!(l(id, "hashtags").unwrap(), ["summer", "tomatoes"]);
    assert_eq!(l(id, "mentions").unwrap(), Vec::<String>::new());
    assert_eq!(
        children_at(&df, id).unwrap(),
        [
            (
                "17900000000001021",
                "IMAGE",
                "https://scontent.example/1001/102-1.jpg"
            ),
            (
                "17900000000001022",
                "IMAGE",
                "https://scontent.example/1001/102-2.jpg"
            ),
            (
                "17900000000001023",
                "VIDEO",
                "https://scontent.example/1001/102-3.mp4"
            ),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    assert_eq!(
        s(id, "source_key").as_deref(),
        Some("instagram_graph/posts/1001/17900000000000102.json")
    );
    assert!(s(id, "source_etag").is_some() || !lake.lists_etags());
    assert!(n(id, "observed_at").is_some());

    // A timestamp with an offset lands in its UTC month.
    assert_eq!(
        n("17900000000000103", "timestamp"),
        Some(us("2024-03-31T02:30:00Z"))
    );
    assert_eq!(
        s("17900000000000103", "post_month").as_deref(),
        Some("2024-03")
    );
    assert_eq!(n("17900000000000103", "views"), Some(3400));
    assert_eq!(children_at(&df, "17900000000000103"), None);

    // Stories: native, and arriving as IMAGE/VIDEO with media_product_type STORY.
    assert_eq!(
        s("17900000000000104", "media_type").as_deref(),
        Some("STORY_IMAGE")
    );
    assert_eq!(
        s("17900000000000105", "media_type").as_deref(),
        Some("STORY_VIDEO")
    );
    assert_eq!(s("17900000000000105", "media_url"), None);
    assert_eq!(
        (
            n("17900000000000105", "sticker_taps"),
            n("17900000000000105", "tap_backs"),
            n("17900000000000105", "swipe_ups")
        ),
        (None, Some(3), None)
    );
    assert_eq!(
        s("17900000000000204", "media_type").as_deref(),
        Some("STORY_IMAGE")
    );
    assert_eq!(
        s("17900000000000204", "connection").as_deref(),
        Some("business")
    );
    assert_eq!(n("17900000000000205", "swipe_ups"), Some(1200));
    assert_eq!(n("17900000000000205", "followers_at_post"), Some(37300));

    // Business metrics as display strings, unicode tags, mentions with a trailing dot.
    let id = "17900000000000301";
    assert_eq!(
        [
            "like_count",
            "comments_count",
            "impressions",
            "reach",
            "engagement",
            "saved"
        ]
        .map(|c| n(id, c)),
        [
            Some(1_200_000),
            Some(12_300),
            Some(2_500_000),
            Some(1_900_000),
            Some(1_210_000),
            Some(45_500)
        ]
    );
    assert_eq!(l(id, "hashtags").unwrap(), ["étéparis", "café", "東京"]);
    assert_eq!(l(id, "mentions").unwrap(), ["chloé.style", "studio_nuit"]);
    assert_eq!(n(id, "timestamp"), Some(us("2024-04-20T14:20:00Z")));
    assert_eq!(s(id, "owner_username").as_deref(), Some("chloé_style"));
    assert_eq!(
        l("17900000000000302", "hashtags").unwrap(),
        ["bts", "makeup"]
    );
    assert_eq!(n("17900000000000302", "views"), Some(640_000));
    assert_eq!(
        n("17900000000000203", "views"),
        Some(91_000),
        "video_views stands in for views"
    );

    // Placeholders and -1 are null; an empty album is an empty list, not null.
    assert_eq!(
        (
            n("17900000000000401", "like_count"),
            n("17900000000000401", "comments_count")
        ),
        (Some(2500), None)
    );
    assert_eq!(n("17900000000000401", "followers_at_post"), Some(12_500));
    assert_eq!(n("17900000000000402", "followers_at_post"), Some(12_600));
    assert_eq!(children_at(&df, "17900000000000402"), Some(vec![]));
    let id = "17900000000000501";
    assert_eq!(
        (
            n(id, "like_count"),
            n(id, "comments_count"),
            n(id, "followers_at_post")
        ),
        (None, Some(3), None)
    );
    assert_eq!(
        l(id, "mentions").unwrap(),
        ["emi.art"],
        "an e-mail address is not a mention"
    );
    assert_eq!(s(id, "post_month").as_deref(), Some("2024-02"));

    // BOM, a 17-digit numeric id, lower-case media type, a duplicate key (last wins),
    // hashtags given as an array.
    let id = "17912345678901234";
    assert_eq!(s(id, "user_id").as_deref(), Some("17841400036094485"));
    assert_eq!(s(id, "media_type").as_deref(), Some("IMAGE"));
    assert_eq!(n(id, "like_count"), Some(888));
    assert_eq!(
        l(id, "hashtags").unwrap(),
        ["learningdata", "udacity", "dataengineering"]
    );
    assert_eq!(l(id, "mentions").unwrap(), ["udacity", "nanodegree"]);
    assert_eq!(s(id, "connection").as_deref(), Some("business"));
}

pub fn second_run_reads_nothing_and_writes_nothing(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&stage_posts(lake, &[]));
    assert_ok(&lake.igpipe(&["stage-stats", "--date", DATE]));
    let before = snapshot(lake);
    for step in ["stage-posts", "stage-stats"] {
        let run = lake.igpipe(&[step, "--date", DATE]);
        assert_ok(&run);
        assert_eq!(run.count("files_read"), 0, "{step}");
        assert_eq!(run.count("rows_written"), 0, "{step}");
        assert!(run.count("files_unchanged") > 0, "{step}");
    }
    assert_eq!(
        snapshot(lake),
        before,
        "a run with no lake changes must write nothing"
    );
}

pub fn changed_file_rewrites_only_its_month(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&stage_posts(lake, &[]));
    let before = snapshot(lake);
    let key = "instagram_graph/posts/1002/17900000000000201.json";
    let text = String::from_utf8(lake.read(key).unwrap()).unwrap();
    lake.write(
        key,
        text.replace("\"like_count\": 4521", "\"like_count\": 4999")
            .as_bytes(),
    );

    let run = stage_posts(lake, &[]);
    assert_ok(&run);
    assert_eq!(run.count("files_read"), 1);
    assert_eq!(run.count("files_unchanged"), 16);
    assert_eq!(run.count("partitions_written"), 1);
    assert_eq!(run.count("rows_written"), 5, "April holds five posts");
    let after = snapshot(lake);
    let mut changed: Vec<&str> = after
        .iter()
        .filter(|(k, bytes)| {
            before
                .iter()
                .find(|(b, _)| b == k)
                .is_none_or(|(_, old)| old != bytes)
        })
        .map(|(k, _)| k.as_str())
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            "staging/_manifest/posts.parquet",
            &format!("{POSTS}/post_month=2024-04/part-0.parquet")
        ]
    );
    let df = lake.table(POSTS, "post_month");
    assert_eq!(df.height(), 17);
    assert_eq!(
        i64_at(&df, "post_id", "17900000000000201", "like_count"),
        Some(4999)
    );
}

/// Same size and no ETag change visible to a store without listing ETags: the
/// last-modified time must still reveal the change.
pub fn same_size_edit_is_detected(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&stage_posts(lake, &[]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let key = "instagram_graph/posts/1001/17900000000000101.json";
    let text = String::from_utf8(lake.read(key).unwrap()).unwrap();
    let edited = text.replace("\"like_count\": 120", "\"like_count\": 121");
    assert_eq!(edited.len(), text.len());
    lake.write(key, edited.as_bytes());
    let run = stage_posts(lake, &[]);
    assert_ok(&run);
    assert_eq!(run.count("files_read"), 1);
    let df = lake.table(POSTS, "post_month");
    assert_eq!(
        i64_at(&df, "post_id", "17900000000000101", "like_count"),
        Some(121)
    );
}

pub fn deleted_file_removes_its_row(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&stage_posts(lake, &[]));
    // The only February post: its partition must go too.
    lake.remove("instagram_graph/posts/1005/17900000000000501.json");
    // 1 of 17 keys is 5.9%, above the 5% default guard.
    let refused = stage_posts(lake, &[]);
    assert_eq!(refused.code, 1);
    let run = stage_posts(lake, &["--max-delete-ratio", "0.1"]);
    assert_ok(&run);
    assert_eq!(run.count("files_vanished"), 1);
    assert_eq!(run.count("rows_deleted"), 1);
    assert_eq!(run.count("partitions_deleted"), 1);
    assert!(lake.keys(&format!("{POSTS}/post_month=2024-02")).is_empty());
    assert_eq!(lake.table(POSTS, "post_month").height(), 16);

    // Stats: one day of one user, well under the guard.
    assert_ok(&lake.igpipe(&["stage-stats", "--date", DATE]));
    lake.remove("instagram_graph/stats/1001/2024-04-10.json");
    let run = lake.igpipe(&["stage-stats", "--date", DATE]);
    assert_ok(&run);
    assert_eq!(run.count("rows_deleted"), 1);
    let df = lake.table(STATS, "date");
    assert_eq!(df.height(), 214);
}

pub fn deleting_most_of_the_lake_is_refused(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&stage_posts(lake, &[]));
    let before = snapshot(lake);
    for key in lake.keys("instagram_graph/posts") {
        if !key.contains("/1001/") {
            lake.remove(&key);
        }
    }
    let run = stage_posts(lake, &[]);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    assert_eq!(run.report["status"], "failed");
    let error = run.report["error"].as_str().unwrap();
    assert!(
        error.contains("12 of 17 keys") && error.contains("--max-delete-ratio"),
        "{error}"
    );
    assert_eq!(snapshot(lake), before, "a refused run changes nothing");
}

pub fn duplicate_post_ids_and_month_moves(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&stage_posts(lake, &[]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // The same post under a second key, written later: the newer file wins.
    let copy = "instagram_graph/posts/1001/copy-of-101.json";
    let text = String::from_utf8(
        lake.read("instagram_graph/posts/1001/17900000000000101.json")
            .unwrap(),
    )
    .unwrap();
    lake.write(
        copy,
        text.replace("\"like_count\": 120", "\"like_count\": 7")
            .as_bytes(),
    );
    let run = stage_posts(lake, &[]);
    assert_ok(&run);
    let df = lake.table(POSTS, "post_month");
    assert_eq!(df.height(), 17, "still one row per post_id");
    assert_eq!(
        i64_at(&df, "post_id", "17900000000000101", "like_count"),
        Some(7)
    );
    assert_eq!(
        str_at(&df, "post_id", "17900000000000101", "source_key").as_deref(),
        Some(copy)
    );

    // The winner moves to another month: the old month loses the row.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let moved = text
        .replace("\"like_count\": 120", "\"like_count\": 8")
        .replace("2024-04-28T09:15:00", "2024-05-02T09:15:00");
    lake.write(copy, moved.as_bytes());
    assert_ok(&stage_posts(lake, &[]));
    let df = lake.table(POSTS, "post_month");
    assert_eq!(df.height(), 17);
    assert_eq!(
        str_at(&df, "post_id", "17900000000000101", "post_month").as_deref(),
        Some("2024-05")
    );
    assert_eq!(
        i64_at(&df, "post_id", "17900000000000101", "like_count"),
        Some(8)
    );

    // The winning copy vanishes: the original key takes the row back.
    lake.remove(copy);
    assert_ok(&stage_posts(lake, &["--max-delete-ratio", "0.2"]));
    let df = lake.table(POSTS, "post_month");
    assert_eq!(df.height(), 17);
    assert_eq!(
        str_at(&df, "post_id", "17900000000000101", "post_month").as_deref(),
        Some("2024-04")
    );
    assert_eq!(
        i64_at(&df, "post_id", "17900000000000101", "like_count"),
        Some(120)
    );
}

/// Every kind of bad file in fixtures/bad: a reject row each, with its reason, and the one
/// good post still staged.
pub fn bad_files_become_reject_rows(lake: &dyn TestLake) {
    lake.load_fixture("bad");
    let run = lake.igpipe(&[
        "stage-posts",
        "--date",
        "2024-05-01",
        "--run-id",
        "manual__1",
    ]);
    assert_ok(&run);
    assert_eq!(run.count("files_read"), 13);
    assert_eq!(run.count("rejected"), 12);
    assert_eq!(run.count("rows_written"), 1);
    let rejects_key = "staging/rejects/date=2024-05-01/stage-posts-manual__1.parquet";
    let rejects = crate::harness::parquet(&lake.read(rejects_key).expect("the rejects log"));
    let expected = [
        (
            "bad_children.json",
            "field `children.data`: expected an array, found a string",
        ),
        (
            "bad_timestamp.json",
            "field `timestamp`: not a timestamp: \"last tuesday\"",
        ),
        ("empty.json", "empty file"),
        (
            "float_id.json",
            "field `id`: id is not an integer: 9.001e16",
        ),
        ("invalid_utf8.json", "invalid UTF-8 at byte 107"),
        (
            "nested/too_deep.json",
            "key is not instagram_graph/posts/<user_id>/<post_id>.json",
        ),
        ("no_id.json", "missing field `id`"),
        (
            "not_an_object.json",
            "not a JSON object (the document is an array)",
        ),
        (
            "truncated.json",
            "invalid JSON: EOF while parsing a string at line 1 column 80",
        ),
        (
            "unknown_media_type.json",
            "field `media_type`: unknown media type \"REEL\"",
        ),
        (
            "wrong_type_boolean_count.json",
            "field `like_count`: expected a count, found a boolean",
        ),
        (
            "wrong_type_text_count.json",
            "field `comments_count`: not a count: \"lots\"",
        ),
    ];
    let mut found: Vec<(String, String)> = column_strings(&rejects, "source_key")
        .into_iter()
        .zip(column_strings(&rejects, "reason"))
        .map(|(k, r)| {
            (
                k.trim_start_matches("instagram_graph/posts/9001/")
                    .to_string(),
                r,
            )
        })
        .collect();
    found.sort();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, r)| (k.to_string(), r.to_string()))
        .collect();
    assert_eq!(found, expected);
    assert!(column_strings(&rejects, "step")
        .iter()
        .all(|s| s == "stage-posts"));
    let df = lake.table(POSTS, "post_month");
    assert_eq!(column_strings(&df, "post_id"), ["90010000000000001"]);

    // Rejected files are not read again until they change.
    let again = lake.igpipe(&["stage-posts", "--date", "2024-05-01"]);
    assert_ok(&again);
    assert_eq!(again.count("files_read"), 0);
    lake.write("instagram_graph/posts/9001/no_id.json", br#"{"id": "90010000000000004", "media_type": "IMAGE", "timestamp": "2024-05-01T10:00:00+0000"}"#);
    let fixed = lake.igpipe(&["stage-posts", "--date", "2024-05-01"]);
    assert_ok(&fixed);
    assert_eq!((fixed.count("files_read"), fixed.count("rejected")), (1, 0));
    assert_eq!(lake.table(POSTS, "post_month").height(), 2);

    // Stats: a name that is not a date, an id that is not the folder's, no id, an object count.
    let run = lake.igpipe(&[
        "stage-stats",
        "--date",
        "2024-05-01",
        "--run-id",
        "manual__1",
    ]);
    assert_ok(&run);
    assert_eq!(
        (
            run.count("files_read"),
            run.count("rejected"),
            run.count("rows_written")
        ),
        (5, 4, 1)
    );
    let rejects = crate::harness::parquet(
        &lake
            .read("staging/rejects/date=2024-05-01/stage-stats-manual__1.parquet")
            .unwrap(),
    );
    let mut reasons = column_strings(&rejects, "reason");
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "field `followers_count`: expected a count, found an object",
            "field `id` (9999) differs from the folder's user id (9002)",
            "file name \"latest.json\" is not a date (YYYY-MM-DD.json)",
            "missing field `id`",
        ]
    );
}

pub fn a_changed_file_that_turns_bad_keeps_its_old_row(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&stage_posts(lake, &[]));
    let key = "instagram_graph/posts/1003/17900000000000302.json";
    lake.write(
        key,
        b"{\"id\": \"17900000000000302\", \"media_type\": \"VID",
    );
    let run = stage_posts(lake, &[]);
    assert_ok(&run);
    assert_eq!(run.count("rejected"), 1);
    let df = lake.table(POSTS, "post_month");
    assert_eq!(df.height(), 17, "the last good version stays staged");
    assert_eq!(
        i64_at(&df, "post_id", "17900000000000302", "like_count"),
        Some(88_000)
    );
    // When the key later vanishes, its old row goes with it.
    lake.remove(key);
    assert_ok(&stage_posts(lake, &["--max-delete-ratio", "0.1"]));
    assert_eq!(lake.table(POSTS, "post_month").height(), 16);
}

pub fn too_many_rejects_exit_4_after_writing_good_rows(lake: &dyn TestLake) {
    let post = |i: usize| {
        format!(
            r#"{{"id": "{i}", "media_type": "IMAGE", "timestamp": "2024-05-01T10:00:00+0000"}}"#
        )
    };
    for i in 0..100 {
        let body = if i < 5 { "{".to_string() } else { post(i) };
        lake.write(
            &format!("instagram_graph/posts/u{}/{i}.json", i % 7),
            body.as_bytes(),
        );
    }
    // 5 of 100 is not more than 5%.
    let run = stage_posts(lake, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.count("rejected"), 5);
    for i in 100..110 {
        lake.write(&format!("instagram_graph/posts/u1/{i}.json"), b"not json");
    }
    for i in 110..200 {
        lake.write(
            &format!("instagram_graph/posts/u2/{i}.json"),
            post(i).as_bytes(),
        );
    }
    // 10 bad of 100 read this run.
    let run = stage_posts(lake, &[]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(run.report["status"], "too_many_rejects");
    assert_eq!((run.count("files_read"), run.count("rejected")), (100, 10));
    assert_eq!(
        lake.table(POSTS, "post_month").height(),
        95 + 90,
        "good rows are written before exit 4"
    );
}

pub fn stats_are_staged_exactly(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    let run = lake.igpipe(&["stage-stats", "--date", DATE]);
    assert_ok(&run);
    assert_eq!(
        (
            run.count("files_read"),
            run.count("rejected"),
            run.count("rows_written")
        ),
        (215, 0, 215)
    );
    assert_eq!(run.count("partitions_written"), 36);
    let df = lake.table(STATS, "date");
    let on = |date: &str| {
        let day = lake.table(&format!("{STATS}/date={date}"), "date");
        assert!(day.column("date").is_ok());
        day
    };
    let may6 = on("2024-05-06");
    assert_eq!(
        column_strings(&may6, "user_id"),
        ["1001", "1002", "1003", "1004", "1005", "17841400036094485"]
    );
    let n = |user: &str, col: &str| i64_at(&may6, "user_id", user, col);
    let s = |user: &str, col: &str| str_at(&may6, "user_id", user, col);
    assert_eq!(s("1001", "connection").as_deref(), Some("basic"));
    assert_eq!(n("1001", "followers_count"), Some(5300 + 3 * 35));
    assert_eq!(n("1001", "impressions"), None);
    assert_eq!(
        n("1001", "created_at"),
        Some(18391),
        "2020-05-09 as days since 1970"
    );
    assert_eq!(s("1002", "connection").as_deref(), Some("business"));
    assert_eq!(
        (
            n("1002", "impressions"),
            n("1002", "reach"),
            n("1002", "profile_views")
        ),
        (Some(3735 + 35), Some(1245 + 35), Some(66))
    );
    assert_eq!(n("1003", "followers_count"), Some(2_114_000), "\"2.1140M\"");
    assert_eq!(n("1004", "followers_count"), Some(12_575), "\"12,575\"");
    assert_eq!(s("1005", "username").as_deref(), Some("emi.art"));
    assert_eq!(
        n("1005", "created_at"),
        None,
        "an unparseable created_at is null"
    );
    assert_eq!(
        s("17841400036094485", "ig_id").as_deref(),
        Some("287041285")
    );
    assert_eq!(
        s("17841400036094485", "name").as_deref(),
        Some("Data Learner")
    );
    // -1 followers on some days; a placeholder media_count; a missed day.
    let apr4 = on("2024-04-04");
    assert_eq!(i64_at(&apr4, "user_id", "1005", "followers_count"), None);
    let apr11 = on("2024-04-11");
    assert_eq!(i64_at(&apr11, "user_id", "1004", "media_count"), None);
    assert_eq!(on("2024-04-20").height(), 5);
    assert_eq!(df.height(), 215);
}

pub fn skip_if_missing_exits_99(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    let run = lake.igpipe(&["stage-stats", "--date", "2030-01-01", "--skip-if-missing"]);
    assert_eq!(run.code, 99, "{}", run.stderr);
    assert_eq!(run.report["status"], "skipped");
    assert!(
        lake.keys("staging").is_empty(),
        "a skipped run writes nothing"
    );
    // Without the flag: a normal run that stages what changed, with a warning.
    let run = lake.igpipe(&["stage-stats", "--date", "2030-01-01"]);
    assert_ok(&run);
    assert!(
        run.stderr.contains("No input for this date"),
        "{}",
        run.stderr
    );
    assert_eq!(run.count("rows_written"), 215);
    // stage-posts skips only when the lake has no post file at all.
    let run = lake.igpipe(&["stage-posts", "--date", "2030-01-01", "--skip-if-missing"]);
    assert_eq!(run.code, 0);
}
