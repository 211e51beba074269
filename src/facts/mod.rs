//! The fact table's pure cores: Polars transforms from staged frames to mart frames, no I/O
//! (SPEC §2 "marts/post_aggregates", "marts/history"; §5 "Aggregates and facts").
//! The commands (`commands/aggregate_posts.rs`, `commands/load_facts.rs`) read their inputs
//! through `tables` and write what these return.

pub mod history;
pub mod post_aggregates;

use chrono::{NaiveDate, NaiveTime};
use polars::prelude::*;

/// Days since the Unix epoch, as Polars stores a `Date`.
pub fn epoch_days(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// Microseconds since the epoch at 00:00 UTC of `date`.
pub fn midnight_us(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

/// A `Date` literal.
pub fn date_lit(date: NaiveDate) -> Expr {
    lit(epoch_days(date)).cast(DataType::Date)
}

/// The first day of a window of `days` days that ends on `date` (inclusive).
pub fn window_start(date: NaiveDate, days: u32) -> NaiveDate {
    date - chrono::Days::new(u64::from(days.max(1)) - 1)
}
