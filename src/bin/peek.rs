//! `peek`: prints a Parquet file (or every `part-*.parquet` of a partition folder) as a
//! table in the terminal, for people looking at what igpipe wrote.
//!
//!     peek /tmp/igpipe-demo/marts/history/date=2024-05-06 [--rows 10] [--columns id,username]

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// Widest a cell is printed; longer text ends in `…`.
const CELL_WIDTH: usize = 32;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut target: Option<PathBuf> = None;
    let (mut rows, mut columns) = (10usize, None::<Vec<String>>);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rows" => rows = args.next().context("--rows takes a number")?.parse()?,
            "--columns" => {
                let list = args
                    .next()
                    .context("--columns takes a comma-separated list")?;
                columns = Some(list.split(',').map(str::to_string).collect());
            }
            "-h" | "--help" => {
                eprintln!("usage: peek FILE.parquet|PARTITION_DIR [--rows N] [--columns a,b,c]");
                return Ok(());
            }
            _ => target = Some(PathBuf::from(arg)),
        }
    }
    let Some(target) = target else {
        bail!("usage: peek FILE.parquet|PARTITION_DIR [--rows N] [--columns a,b,c]");
    };
    let mut df = read(&target)?;
    if let Some(columns) = columns {
        df = df.select(columns)?;
    }
    print_table(&df.head(Some(rows)))?;
    eprintln!("({} rows in all)", df.height());
    Ok(())
}

fn read(target: &Path) -> Result<DataFrame> {
    let files: Vec<PathBuf> = if target.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(target)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        files.sort();
        files
    } else {
        vec![target.to_path_buf()]
    };
    let mut stacked: Option<DataFrame> = None;
    for file in files {
        let df = ParquetReader::new(
            std::fs::File::open(&file).with_context(|| file.display().to_string())?,
        )
        .finish()?;
        stacked = Some(match stacked {
            Some(mut acc) => {
                acc.vstack_mut_owned(df)?;
                acc
            }
            None => df,
        });
    }
    stacked.with_context(|| format!("{}: no Parquet file", target.display()))
}

/// A plain aligned table: one line per row, lists shortened to `[first … last] (n)`.
fn print_table(df: &DataFrame) -> Result<()> {
    let mut cells: Vec<Vec<String>> = Vec::new();
    for column in df.columns() {
        let series = column.as_materialized_series();
        let mut values = vec![column.name().to_string()];
        for i in 0..series.len() {
            values.push(shorten(&cell(series, i)?));
        }
        cells.push(values);
    }
    let widths: Vec<usize> = cells
        .iter()
        .map(|c| c.iter().map(|v| v.chars().count()).max().unwrap_or(0))
        .collect();
    for row in 0..=df.height() {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(column, width)| format!("{:<width$}", column[row]))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

fn cell(series: &Series, i: usize) -> Result<String> {
    Ok(match series.dtype() {
        // A list's items come back as their physical type (a date list as i32 days): cast
        // them back to the list's item type before formatting.
        DataType::List(inner) => match series.list()?.get_as_series(i) {
            None => "null".into(),
            Some(items) if items.dtype() != inner.as_ref() => list_cell(&items.cast(inner)?)?,
            Some(items) => list_cell(&items)?,
        },
        // Formatting a time-zone-aware datetime needs Polars' `timezones` feature; UTC is
        // all igpipe writes, so format it here.
        DataType::Datetime(_, _) => match series.cast(&DataType::Int64)?.i64()?.get(i) {
            Some(us) => chrono::DateTime::from_timestamp_micros(us).map_or_else(
                || us.to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            ),
            None => "null".into(),
        },
        DataType::Float64 => match series.f64()?.get(i) {
            Some(v) => format!("{v:.4}"),
            None => "null".into(),
        },
        _ => match series.get(i)? {
            AnyValue::String(text) => text.to_string(),
            AnyValue::StringOwned(text) => text.to_string(),
            value => value.to_string(),
        },
    })
}

/// `[a, b, c]`, or `[first … last] (n)` for longer lists.
fn list_cell(items: &Series) -> Result<String> {
    Ok(match items.len() {
        0 => "[]".into(),
        n if n <= 3 => {
            let all: Result<Vec<String>> = (0..n).map(|j| cell(items, j)).collect();
            format!("[{}]", all?.join(", "))
        }
        n => format!("[{} … {}] ({n})", cell(items, 0)?, cell(items, n - 1)?),
    })
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= CELL_WIDTH {
        return text.to_string();
    }
    let kept: String = text.chars().take(CELL_WIDTH - 1).collect();
    format!("{kept}…")
}
