//! Small readers for asserting on single cells of an output table.

use polars::prelude::*;

fn index(df: &DataFrame, key_col: &str, key: &str) -> usize {
    let keys = df.column(key_col).unwrap().str().unwrap();
    let hits: Vec<usize> = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| *k == Some(key))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "expected exactly one row with {key_col} = {key}, found {}",
        hits.len()
    );
    hits[0]
}

pub fn str_at(df: &DataFrame, key_col: &str, key: &str, col: &str) -> Option<String> {
    let i = index(df, key_col, key);
    df.column(col)
        .unwrap()
        .str()
        .unwrap()
        .get(i)
        .map(str::to_string)
}

pub fn i64_at(df: &DataFrame, key_col: &str, key: &str, col: &str) -> Option<i64> {
    let i = index(df, key_col, key);
    let column = df.column(col).unwrap();
    match column.dtype() {
        DataType::Datetime(_, _) => column.datetime().unwrap().physical().get(i),
        DataType::Date => column.date().unwrap().physical().get(i).map(i64::from),
        _ => column.i64().unwrap().get(i),
    }
}

pub fn list_at(df: &DataFrame, key_col: &str, key: &str, col: &str) -> Option<Vec<String>> {
    let i = index(df, key_col, key);
    let list = df.column(col).unwrap().list().unwrap().get_as_series(i)?;
    Some(
        list.str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect(),
    )
}

/// `children` as (id, media_type, media_url) triples.
pub fn children_at(df: &DataFrame, key: &str) -> Option<Vec<(String, String, String)>> {
    let i = index(df, "post_id", key);
    let list = df
        .column("children")
        .unwrap()
        .list()
        .unwrap()
        .get_as_series(i)?;
    let st = list.struct_().unwrap();
    let field = |name: &str| st.field_by_name(name).unwrap().str().unwrap().clone();
    let (ids, types, urls) = (field("id"), field("media_type"), field("media_url"));
    Some(
        (0..list.len())
            .map(|j| {
                (
                    ids.get(j).unwrap().to_string(),
                    types.get(j).unwrap().to_string(),
                    urls.get(j).unwrap().to_string(),
                )
            })
            .collect(),
    )
}

pub fn column_strings(df: &DataFrame, col: &str) -> Vec<String> {
    df.column(col)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("<null>").to_string())
        .collect()
}
