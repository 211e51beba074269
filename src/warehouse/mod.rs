//! Loading the fact table into a warehouse (SPEC §3): `--load-to postgres://…` or
//! `--load-to redshift-data://…`. The SQL lives in `sql/<dialect>/`, compiled in.
//!
//! Connection strings carry secrets (a password, a secret ARN): every message about a
//! target uses `redact`, never the URL as given.

pub mod postgres;
pub mod redshift_data;

use anyhow::{bail, Result};

/// What quality-check asks the warehouse about one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsAsOf {
    /// Rows whose as_of is the date.
    pub on_date: i64,
    /// Rows whose as_of is later (after a backfill of an older date these stay, correctly).
    pub newer: i64,
}

/// The query behind `RowsAsOf`, in SQL both PostgreSQL and Redshift run (no FILTER). The
/// date is a NaiveDate's ISO form, so the literal needs no escaping.
pub fn rows_as_of_sql(date: chrono::NaiveDate) -> String {
    format!(
        "SELECT COALESCE(SUM(CASE WHEN as_of = '{date}' THEN 1 ELSE 0 END), 0)::bigint, \
         COALESCE(SUM(CASE WHEN as_of > '{date}' THEN 1 ELSE 0 END), 0)::bigint FROM history"
    )
}

/// Where `--load-to` points.
pub enum Target {
    Postgres(String),
    RedshiftData(redshift_data::Target),
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_string()));
        }
        if url.starts_with("redshift-data://") {
            return Ok(Target::RedshiftData(redshift_data::Target::parse(url)?));
        }
        bail!(
            "--load-to {}: expected postgres://user:password@host:port/db[?sslmode=…] or \
             redshift-data://cluster/<id>/<db>?… (see README, \"Loading the warehouse\")",
            crate::redact::url(url)
        )
    }

    /// For messages and the summary: the URL without secrets.
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres(url) => crate::redact::url(url),
            Target::RedshiftData(t) => t.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_schemes_are_refused_without_echoing_secrets() {
        let Err(error) = Target::parse("mysql://root:hunter2@h/db") else {
            panic!("mysql accepted");
        };
        let text = error.to_string();
        assert!(
            text.contains("mysql://root:***@h/db") && !text.contains("hunter2"),
            "{text}"
        );
    }
}
