//! `marts/palettes/date=D/part-<I>-of-<N>.parquet` (or `part-0.parquet`): one row per user,
//! the colour palette of their recent images (SPEC §2 "marts/palettes", §5 "Palettes").

use super::*;

pub const TABLE_PREFIX: &str = "marts/palettes";
pub const PARTITION_COLUMN: &str = "date";

/// One palette entry: `{"percentage", "red", "green", "blue", "hex"}`.
pub fn entry_dtype() -> DataType {
    use DataType::*;
    Struct(vec![
        Field::new("percentage".into(), Float64),
        Field::new("red".into(), Int64),
        Field::new("green".into(), Int64),
        Field::new("blue".into(), Int64),
        Field::new("hex".into(), String),
    ])
}

/// Columns in file order.
pub fn schema() -> Schema {
    use DataType::*;
    Schema::from_iter([
        Field::new("user_id".into(), String),
        Field::new("as_of".into(), Date),
        Field::new("n_images".into(), Int64),
        Field::new("n_pixels".into(), Int64),
        Field::new("inertia".into(), Float64),
        Field::new("palette".into(), List(Box::new(entry_dtype()))),
        Field::new("palette_json".into(), String),
    ])
}

/// `part-<I>-of-<N>.parquet` → (I, N); `None` for an unsharded `part-0.parquet`.
pub fn shard_of(file_name: &str) -> Option<(u32, u32)> {
    let middle = file_name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    let (i, n) = middle.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}
