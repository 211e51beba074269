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

/// One creator's palette, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct PaletteRow {
    pub user_id: String,
    pub as_of: NaiveDate,
    pub n_images: u64,
    pub palette: crate::palette::Palette,
}

/// The frame for `rows`, in file order (callers sort by user_id).
pub fn frame(rows: &[PaletteRow]) -> Result<DataFrame> {
    let n = |f: fn(&PaletteRow) -> i64| rows.iter().map(move |r| Some(f(r)));
    let jsons: Vec<String> = rows
        .iter()
        .map(|r| crate::palette::to_json(&r.palette.entries))
        .collect();
    let inertia: Float64Chunked = rows.iter().map(|r| Some(r.palette.inertia)).collect();
    let columns = vec![
        str_col("user_id", rows.iter().map(|r| Some(r.user_id.as_str()))),
        date_col("as_of", rows.iter().map(|r| Some(r.as_of))),
        i64_col("n_images", n(|r| r.n_images as i64)),
        i64_col("n_pixels", n(|r| r.palette.n_pixels as i64)),
        inertia.with_name("inertia".into()).into_column(),
        entries_col(rows)?,
        str_col("palette_json", jsons.iter().map(|j| Some(j.as_str()))),
    ];
    Ok(DataFrame::new(rows.len(), columns)?)
}

/// `palette` as list<struct>, built flat: one struct array of every entry plus offsets.
fn entries_col(rows: &[PaletteRow]) -> Result<Column> {
    let all = || rows.iter().flat_map(|r| r.palette.entries.iter());
    let total = all().count();
    let percentage: Float64Chunked = all().map(|e| Some(e.percentage)).collect();
    let fields = [
        percentage.with_name("percentage".into()).into_series(),
        i64_col("red", all().map(|e| Some(i64::from(e.red)))).take_materialized_series(),
        i64_col("green", all().map(|e| Some(i64::from(e.green)))).take_materialized_series(),
        i64_col("blue", all().map(|e| Some(i64::from(e.blue)))).take_materialized_series(),
        str_col("hex", all().map(|e| Some(e.hex.as_str()))).take_materialized_series(),
    ];
    let lengths: Vec<Option<usize>> = rows.iter().map(|r| Some(r.palette.entries.len())).collect();
    list_of_structs("palette", &fields, total, &lengths, entry_dtype())
}
