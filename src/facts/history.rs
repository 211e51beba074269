//! `marts/history` for one date: the fact table, one row per user with at least one stats
//! row in [D−H+1, D].

use super::date_lit;
use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

/// Builds the fact table from
/// - `stats`: staging/user_stats rows of the window, with the partition's `date` column;
/// - `aggregates`: marts/post_aggregates of D;
/// - `palettes`: the newest marts/palettes partition dated ≤ D, if any.
///
/// Rows sorted by id; columns as `contracts::history`.
pub fn build(
    stats: DataFrame,
    aggregates: DataFrame,
    palettes: Option<DataFrame>,
    date: NaiveDate,
) -> Result<DataFrame> {
    let per_user = stats
        .lazy()
        .sort(["user_id", "date"], SortMultipleOptions::default())
        .group_by_stable([col("user_id")])
        .agg([
            col("username").last_non_null().alias("username"),
            // Lists keep the sorted row order, so they stay aligned with `dates`.
            col("date").alias("dates"),
            col("followers_count").alias("followers"),
            col("impressions"),
            col("reach"),
            col("followers_count").mean().alias("fol_avg"),
            col("followers_count")
                .last_non_null()
                .alias("latest_followers"),
        ]);
    let posts = aggregates
        .lazy()
        .select([col("user_id"), col("doc_count"), col("eng_avg")]);
    let colors = match palettes {
        // One palette per creator, or the join would duplicate its fact row (a shard written
        // twice): the newest as_of, then the greater JSON text, so the choice is stable.
        Some(p) => p
            .lazy()
            .select([
                col("user_id"),
                col("palette_json").alias("colors"),
                col("as_of").alias("palette_date"),
            ])
            .sort(
                ["user_id", "palette_date", "colors"],
                SortMultipleOptions::default().with_order_descending_multi([false, true, true]),
            )
            .unique_stable_generic(Some(vec![col("user_id")]), UniqueKeepStrategy::First),
        None => no_palettes(),
    };
    let latest = col("latest_followers");
    let out = per_user
        .left_join(posts, col("user_id"), col("user_id"))
        .left_join(colors, col("user_id"), col("user_id"))
        .select([
            col("user_id").alias("id"),
            col("username"),
            date_lit(date).alias("as_of"),
            col("dates"),
            col("followers"),
            col("impressions"),
            col("reach"),
            col("doc_count").fill_null(lit(0i64)),
            col("fol_avg"),
            col("eng_avg"),
            when(latest.clone().gt(lit(0i64)))
                .then(col("eng_avg") / latest.cast(DataType::Float64))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("engagement_rate"),
            col("colors"),
            col("palette_date"),
        ])
        .sort(["id"], SortMultipleOptions::default())
        .collect()?;
    Ok(out)
}

/// The palette columns when no palette partition exists yet: every `colors` is null.
fn no_palettes() -> LazyFrame {
    let empty = DataFrame::empty_with_schema(&Schema::from_iter([
        Field::new("user_id".into(), DataType::String),
        Field::new("colors".into(), DataType::String),
        Field::new("palette_date".into(), DataType::Date),
    ]));
    empty.lazy()
}
