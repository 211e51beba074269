//! Every scenario on S3-protocol servers started by `scripts/test.sh`: moto (lists ETags,
//! as S3 and MinIO do) and s3s-fs (verifies SigV4 signatures; lists no ETags, so the
//! manifest falls back to last-modified).

use crate::harness::{S3Lake, TestLake};

macro_rules! on_servers {
    ($scenarios:ident: $($name:ident),* $(,)?) => {
        mod $scenarios {
            mod moto {
                use crate::harness::S3Lake;
                use crate::$scenarios;
                $(#[test]
                fn $name() {
                    $scenarios::$name(&S3Lake::new("MOTO", true));
                })*
            }
            mod s3s_fs {
                use crate::harness::S3Lake;
                use crate::$scenarios;
                $(#[test]
                fn $name() {
                    $scenarios::$name(&S3Lake::new("S3S", false));
                })*
            }
        }
    };
}

on_servers!(
    scenarios: fixture_posts_are_staged_exactly,
    second_run_reads_nothing_and_writes_nothing,
    changed_file_rewrites_only_its_month,
    same_size_edit_is_detected,
    deleted_file_removes_its_row,
    deleting_most_of_the_lake_is_refused,
    duplicate_post_ids_and_month_moves,
    bad_files_become_reject_rows,
    stats_are_staged_exactly,
);

// The fact-table steps with staging and marts on S3 (the mart Redshift COPYs from).
on_servers!(
    facts: post_aggregates_match_hand_computed_values,
    history_matches_hand_computed_values,
    load_facts_needs_the_days_aggregates,
    the_newest_palette_partition_on_or_before_d_gives_colors,
    quality_check_passes_then_fails_on_a_broken_table,
    every_run_is_logged_under_runs,
);

// Staging you can trust: the lease (conditional puts), ranged reads of partition footers,
// the retry's exit 4, on both servers.
on_servers!(
    trust: surrogate_escapes_are_replaced_not_blanked,
    a_deleted_partition_is_noticed_and_restaged,
    a_second_run_is_refused_while_the_lease_is_held,
    a_retry_reports_the_earlier_rejects_and_exits_4_again,
    timestamps_keep_their_own_month_and_sane_years,
    usage_errors_and_failures_print_a_full_summary,
);

// The media steps with the image store, staging and marts on S3.
on_servers!(palettes: shards_together_equal_the_unsharded_run_and_load_facts_joins_them);
on_servers!(media: fetch_media_downloads_retries_refuses_and_resumes);

/// A bucket that does not exist: exit 1, and the message names the URL.
#[test]
fn missing_bucket_fails_with_the_url() {
    let lake = S3Lake::new("MOTO", true);
    let run = lake.igpipe(&[
        "stage-posts",
        "--date",
        "2024-05-06",
        "--lake",
        "s3://no-such-bucket-igpipe/raw",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.report["error"].as_str().unwrap();
    // The first object a staging run touches is its lease on the output root.
    assert!(
        error.contains("s3://no-such-bucket-igpipe/raw/staging/_lease/stage-posts.json")
            && error.contains("NoSuchBucket"),
        "{error}"
    );
}

/// s3s-fs checks signatures: a wrong secret is refused, and the secret is never printed.
#[test]
fn wrong_credentials_fail_without_leaking_the_secret() {
    let lake = S3Lake::new("S3S", false);
    lake.load_fixture("lake");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_igpipe"));
    for (k, v) in lake.env() {
        cmd.env(k, v);
    }
    cmd.env("AWS_SECRET_ACCESS_KEY", "not-the-secret-3f9a");
    let out = cmd
        .args([
            "-v",
            "stage-posts",
            "--date",
            "2024-05-06",
            "--lake",
            &lake.url(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("not-the-secret-3f9a"), "{all}");
    assert!(all.contains(&lake.url()), "{all}");
}

/// The premise of running every scenario on both servers: one lists ETags, one does not.
#[test]
fn moto_lists_etags_and_s3s_fs_does_not() {
    for (server, expect_etag) in [("MOTO", true), ("S3S", false)] {
        let lake = S3Lake::new(server, expect_etag);
        lake.write("instagram_graph/posts/1/1.json", b"{}");
        let listed = lake.objects("instagram_graph/posts");
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].etag.is_some(),
            expect_etag,
            "{server}: {:?}",
            listed[0]
        );
    }
}

/// A key object_store cannot parse (an empty segment) used to fail the whole listing; now
/// it is one reject, named, and the rest of its folder is staged.
#[test]
fn an_unparseable_s3_key_is_one_reject() {
    let lake = S3Lake::new("MOTO", true);
    lake.load_fixture("lake");
    lake.raw_put("instagram_graph/posts/1001//stray.json", b"{}");
    let run = lake.igpipe(&["stage-posts", "--date", "2024-05-06"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.count("rejected"), 1);
    assert_eq!(run.count("rows_written"), 17, "every good post is staged");
    let logs = lake.keys("staging/rejects");
    assert_eq!(logs.len(), 1);
    let df = crate::harness::parquet(&lake.read(&logs[0]).unwrap());
    let keys = crate::frames::column_strings(&df, "source_key");
    assert_eq!(keys, ["instagram_graph/posts/1001//stray.json"]);
    let again = lake.igpipe(&["stage-posts", "--date", "2024-05-06"]);
    assert_eq!((again.code, again.count("rejected")), (0, 0), "logged once");
}
