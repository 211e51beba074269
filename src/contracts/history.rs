//! `marts/history/date=D/part-0.parquet`: the fact table, one row per creator with stats in
//! the window ending on D (SPEC §2 "marts/history"). The warehouse's `history` table has
//! the same columns in the same order: Redshift's `COPY … FORMAT AS PARQUET` maps columns
//! by position, so this order is part of the contract (`sql/`).

use super::*;

pub const TABLE_PREFIX: &str = "marts/history";
pub const PARTITION_COLUMN: &str = "date";

/// Columns in file order.
pub fn schema() -> Schema {
    use DataType::*;
    let list_i64 = List(Box::new(Int64));
    Schema::from_iter([
        Field::new("id".into(), String),
        Field::new("username".into(), String),
        Field::new("as_of".into(), Date),
        Field::new("dates".into(), List(Box::new(Date))),
        Field::new("followers".into(), list_i64.clone()),
        Field::new("impressions".into(), list_i64.clone()),
        Field::new("reach".into(), list_i64),
        Field::new("doc_count".into(), Int64),
        Field::new("fol_avg".into(), Float64),
        Field::new("eng_avg".into(), Float64),
        Field::new("engagement_rate".into(), Float64),
        Field::new("colors".into(), String),
        Field::new("palette_date".into(), Date),
    ])
}
