//! Every scenario on a local-folder lake.

use crate::harness::LocalLake;
use crate::scenarios;

macro_rules! local {
    ($($name:ident),* $(,)?) => {
        $(#[test]
        fn $name() {
            scenarios::$name(&LocalLake::new());
        })*
    };
}

local!(
    fixture_posts_are_staged_exactly,
    second_run_reads_nothing_and_writes_nothing,
    changed_file_rewrites_only_its_month,
    same_size_edit_is_detected,
    deleted_file_removes_its_row,
    deleting_most_of_the_lake_is_refused,
    duplicate_post_ids_and_month_moves,
    bad_files_become_reject_rows,
    a_changed_file_that_turns_bad_keeps_its_old_row,
    too_many_rejects_exit_4_after_writing_good_rows,
    stats_are_staged_exactly,
    skip_if_missing_exits_99,
);

mod facts {
    use crate::facts;
    use crate::harness::LocalLake;

    macro_rules! local {
        ($($name:ident),* $(,)?) => {
            $(#[test]
            fn $name() {
                facts::$name(&LocalLake::new());
            })*
        };
    }

    local!(
        post_aggregates_match_hand_computed_values,
        history_matches_hand_computed_values,
        load_facts_needs_the_days_aggregates,
        the_newest_palette_partition_on_or_before_d_gives_colors,
        quality_check_passes_then_fails_on_a_broken_table,
        quality_check_catches_a_bad_palette,
        every_run_is_logged_under_runs,
    );
}

#[test]
fn shards_together_equal_the_unsharded_run_and_load_facts_joins_them() {
    crate::palettes::shards_together_equal_the_unsharded_run_and_load_facts_joins_them(
        &LocalLake::new(),
    );
}

#[test]
fn fetch_media_downloads_retries_refuses_and_resumes() {
    crate::media::fetch_media_downloads_retries_refuses_and_resumes(&LocalLake::new());
}

/// Outputs may go to a different root than the raw lake (--out).
#[test]
fn out_can_differ_from_the_lake() {
    use crate::harness::TestLake;
    let raw = LocalLake::new();
    raw.load_fixture("lake");
    let out = LocalLake::new();
    let run = raw.igpipe(&["stage-posts", "--date", "2024-05-06", "--out", &out.url()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(raw.keys("staging").is_empty());
    assert_eq!(out.table("staging/posts", "post_month").height(), 17);
}
