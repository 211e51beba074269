//! `marts/post_aggregates` for one date: per user, the posts whose UTC date is in
//! [D−W+1, D].

use super::{date_lit, midnight_us, window_start};
use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

const FEED_TYPES: [&str; 3] = ["IMAGE", "CAROUSEL_ALBUM", "VIDEO"];
const STORY_TYPES: [&str; 2] = ["STORY_IMAGE", "STORY_VIDEO"];
/// How many hashtags `top_hashtags` keeps.
const TOP_HASHTAGS: usize = 10;

/// Aggregates `posts` (staging/posts rows, any months) for the window of `window_days`
/// days ending on `date`. Rows sorted by user_id; columns as `contracts::post_aggregates`.
pub fn aggregate(posts: DataFrame, date: NaiveDate, window_days: u32) -> Result<DataFrame> {
    let in_window = in_window(posts.lazy(), date, window_days);
    let per_user = in_window
        .clone()
        .with_columns([
            any_of("media_type", &FEED_TYPES).alias("is_feed"),
            any_of("media_type", &STORY_TYPES).alias("is_story"),
            col("connection").eq(lit("business")).alias("is_business"),
        ])
        .group_by([col("user_id")])
        .agg([
            len().cast(DataType::Int64).alias("doc_count"),
            col("is_feed")
                .sum()
                .cast(DataType::Int64)
                .alias("feed_count"),
            col("is_story")
                .sum()
                .cast(DataType::Int64)
                .alias("story_count"),
            engagement().filter(col("is_feed")).mean().alias("eng_avg"),
            mean_where("like_count", "is_feed").alias("likes_avg"),
            mean_where("comments_count", "is_feed").alias("comments_avg"),
            mean_where("reach", "is_business").alias("reach_avg"),
            mean_where("impressions", "is_business").alias("impressions_avg"),
            col("timestamp").max().alias("last_post_at"),
        ]);
    let out = per_user
        .left_join(top_hashtags(in_window), col("user_id"), col("user_id"))
        .select([
            col("user_id"),
            date_lit(date).alias("as_of"),
            col("doc_count"),
            col("feed_count"),
            col("story_count"),
            col("eng_avg"),
            col("likes_avg"),
            col("comments_avg"),
            col("reach_avg"),
            col("impressions_avg"),
            // A user whose posts carry no hashtag has an empty list, not null.
            col("top_hashtags").fill_null(empty_string_list()),
            col("last_post_at"),
        ])
        .sort(["user_id"], SortMultipleOptions::default())
        .collect()?;
    Ok(out)
}

/// Posts whose timestamp falls on a UTC date in [D−W+1, D].
fn in_window(posts: LazyFrame, date: NaiveDate, window_days: u32) -> LazyFrame {
    let from_us = midnight_us(window_start(date, window_days));
    let until_us = midnight_us(date + chrono::Days::new(1));
    let ts = col("timestamp").cast(DataType::Int64);
    posts.filter(ts.clone().gt_eq(lit(from_us)).and(ts.lt(lit(until_us))))
}

/// A one-row literal holding an empty list of strings (broadcast by `fill_null`).
fn empty_string_list() -> Expr {
    let empty = Series::new_empty(PlSmallStr::EMPTY, &DataType::String);
    lit(Series::new(PlSmallStr::EMPTY, [empty])).first()
}

fn any_of(column: &str, values: &[&str]) -> Expr {
    values
        .iter()
        .map(|v| col(column).eq(lit(*v)))
        .reduce(|a, b| a.or(b))
        .expect("at least one value")
}

/// likes + comments, a null count counting 0; null when both are null (the post is then
/// left out of the mean).
fn engagement() -> Expr {
    let (likes, comments) = (col("like_count"), col("comments_count"));
    when(likes.clone().is_null().and(comments.clone().is_null()))
        .then(lit(NULL).cast(DataType::Int64))
        .otherwise(likes.fill_null(lit(0i64)) + comments.fill_null(lit(0i64)))
}

/// Mean of the non-null values of `column` over the rows where `flag` holds.
fn mean_where(column: &str, flag: &str) -> Expr {
    col(column).filter(col(flag)).mean()
}

/// Per user, the 10 hashtags on most posts, ties alphabetical. Counting rows counts posts:
/// the normaliser de-duplicates each post's tags.
fn top_hashtags(posts: LazyFrame) -> LazyFrame {
    posts
        .select([col("user_id"), col("hashtags")])
        .explode(
            by_name(["hashtags"], true, false),
            ExplodeOptions {
                empty_as_null: false,
                keep_nulls: false,
            },
        )
        .filter(col("hashtags").is_not_null())
        .group_by([col("user_id"), col("hashtags")])
        .agg([len().alias("posts")])
        .sort_by_exprs(
            [col("user_id"), col("posts"), col("hashtags")],
            SortMultipleOptions::default().with_order_descending_multi([false, true, false]),
        )
        .group_by_stable([col("user_id")])
        .agg([col("hashtags")
            .head(Some(TOP_HASHTAGS))
            .alias("top_hashtags")])
}
