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
            redact(url)
        )
    }

    /// For messages and the summary: the URL without secrets.
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres(url) => redact(url),
            Target::RedshiftData(t) => t.describe(),
        }
    }
}

/// The URL with its password and any secret-looking query values replaced by `***`.
pub fn redact(url: &str) -> String {
    // The query starts at the first `?` after the user info, so a password holding a `?`
    // (which should be percent-encoded, but may not be) is still redacted whole.
    let userinfo_end = url
        .find("://")
        .and_then(|s| url[s..].find('@').map(|at| s + at));
    let query_start = url[userinfo_end.unwrap_or(0)..]
        .find('?')
        .map(|q| q + userinfo_end.unwrap_or(0));
    let (head, query) = match query_start {
        Some(q) => (&url[..q], &url[q + 1..]),
        None => (url, ""),
    };
    let head = match (head.find("://"), head.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &head[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &head[..scheme_end + 3], &head[at..]),
                None => head.to_string(),
            }
        }
        _ => head.to_string(),
    };
    if query.is_empty() {
        return head;
    }
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_param(key) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}?{}", query.join("&"))
}

fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "key"]
        .iter()
        .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_params_are_redacted() {
        assert_eq!(
            redact("postgres://etl:s3cr3t@db.example:5432/dw?sslmode=require"),
            "postgres://etl:***@db.example:5432/dw?sslmode=require"
        );
        assert_eq!(redact("postgres://etl@db/dw"), "postgres://etl@db/dw");
        assert_eq!(
            redact("redshift-data://cluster/c1/dev?secret_arn=arn:aws:secretsmanager:x&db_user=u"),
            "redshift-data://cluster/c1/dev?secret_arn=***&db_user=u"
        );
        assert_eq!(
            redact("postgres://a:b:c@h/d?password=p"),
            "postgres://a:***@h/d?password=***"
        );
        // Unescaped `?` and `#` in a password.
        assert_eq!(
            redact("postgres://etl:pa?ss#w0rd@db/dw?sslmode=require"),
            "postgres://etl:***@db/dw?sslmode=require"
        );
    }

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
