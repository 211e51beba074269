//! `--load-to postgres://…`: binary COPY into a temporary staging table, then one merge,
//! all in one transaction (SPEC §3), so a failed load leaves `history` as it was.
//!
//! The URL is libpq's: `postgres://user:password@host:port/db?sslmode=…`. `sslmode` is
//! `disable`, `prefer` (the default), `require` (encrypted, certificate not checked, as
//! libpq does), or `verify-full` (encrypted, certificate checked against the system's
//! roots and the host name).

use super::RowsAsOf;
use crate::redact::url as redact;
use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use futures::pin_mut;
use polars::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls};

const CREATE_SQL: &str = include_str!("../../sql/postgres/create_history.sql");
const STAGE_SQL: &str = include_str!("../../sql/postgres/stage_history.sql");
const MERGE_SQL: &str = include_str!("../../sql/postgres/merge_history.sql");
const COPY_SQL: &str = "COPY history_stage FROM STDIN (FORMAT binary)";

/// The history columns' Postgres types, in table order.
const COLUMN_TYPES: [Type; 13] = [
    Type::TEXT,
    Type::TEXT,
    Type::DATE,
    Type::DATE_ARRAY,
    Type::INT8_ARRAY,
    Type::INT8_ARRAY,
    Type::INT8_ARRAY,
    Type::INT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::JSONB,
    Type::DATE,
];

/// What a load did.
pub struct Loaded {
    /// Rows copied into the staging table.
    pub staged: u64,
    /// Rows inserted or replaced in `history` (older dates leave rows alone).
    pub merged: u64,
}

/// Loads `history` (a marts/history frame) into the database at `url`. Each statement
/// may run for `timeout` (a lock held on `history` must not hang the task for ever).
pub fn load(url: &str, history: &DataFrame, timeout: Duration) -> Result<Loaded> {
    let rows = rows(history)?;
    runtime()?.block_on(async {
        let mut client = connect(url).await?;
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}",
                timeout.as_millis().max(1)
            ))
            .await
            .context("setting statement_timeout")?;
        merge(&mut client, &rows)
            .await
            .with_context(|| format!("loading history into {}", redact(url)))
    })
}

/// How many `history` rows have as_of = D and how many a later one, for quality-check.
pub fn rows_as_of(url: &str, date: NaiveDate) -> Result<RowsAsOf> {
    runtime()?.block_on(async {
        let client = connect(url).await?;
        let row = client
            .query_one(&super::rows_as_of_sql(date), &[])
            .await
            .with_context(|| format!("counting history rows in {}", redact(url)))?;
        Ok(RowsAsOf {
            on_date: row.get(0),
            newer: row.get(1),
        })
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn merge(client: &mut Client, rows: &[Row]) -> Result<Loaded> {
    client
        .batch_execute(CREATE_SQL)
        .await
        .context("running sql/postgres/create_history.sql")?;
    let tx = client
        .transaction()
        .await
        .context("starting the load's transaction")?;
    tx.batch_execute(STAGE_SQL)
        .await
        .context("running sql/postgres/stage_history.sql")?;
    let sink = tx.copy_in(COPY_SQL).await.context(COPY_SQL)?;
    let writer = BinaryCopyInWriter::new(sink, &COLUMN_TYPES);
    pin_mut!(writer);
    for row in rows {
        writer
            .as_mut()
            .write(&row.values())
            .await
            .with_context(|| format!("{COPY_SQL}: row id {}", row.id))?;
    }
    let staged = writer.finish().await.context(COPY_SQL)?;
    let merged = tx
        .execute(MERGE_SQL, &[])
        .await
        .context("running sql/postgres/merge_history.sql")?;
    tx.commit().await.context("committing the load")?;
    Ok(Loaded { staged, merged })
}

async fn connect(url: &str) -> Result<Client> {
    let (url, verify) = take_verify_full(url);
    let mut config: Config = url
        .parse()
        .map_err(|e| anyhow!("{}: not a usable PostgreSQL URL: {e}", redact(&url)))?;
    config.application_name("igpipe");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(30));
    }
    let connected = if config.get_ssl_mode() == SslMode::Disable {
        config.connect(NoTls).await.map(|(client, conn)| {
            tokio::spawn(conn);
            client
        })
    } else {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(verify)?);
        config.connect(tls).await.map(|(client, conn)| {
            tokio::spawn(conn);
            client
        })
    };
    connected.map_err(|e| {
        anyhow!(
            "connecting to {}: {e} (check the host, port, user and password, and that the \
             server accepts connections from here)",
            redact(&url)
        )
    })
}

/// tokio-postgres knows sslmode disable/prefer/require; `verify-full` (and `verify-ca`,
/// treated the same) become `require` plus a verifying TLS configuration.
fn take_verify_full(url: &str) -> (String, bool) {
    for mode in ["sslmode=verify-full", "sslmode=verify-ca"] {
        if url.contains(mode) {
            return (url.replace(mode, "sslmode=require"), true);
        }
    }
    (url.to_string(), false)
}

fn tls_config(verify: bool) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    if verify {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A malformed system certificate is skipped, as every TLS client does.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            bail!("sslmode=verify-full: no trusted root certificates found on this machine");
        }
        return Ok(builder.with_root_certificates(roots).with_no_client_auth());
    }
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(libpq_require::EncryptOnly(provider)))
        .with_no_client_auth())
}

/// libpq's `sslmode=require`: the connection is encrypted, the server's certificate is
/// not checked (its signature over the handshake still is).
mod libpq_require {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, Error, SignatureScheme};
    use std::sync::Arc;

    #[derive(Debug)]
    pub struct EncryptOnly(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

/// One history row in Rust types, ready for binary COPY.
struct Row {
    id: String,
    username: Option<String>,
    as_of: Option<NaiveDate>,
    dates: Vec<Option<NaiveDate>>,
    followers: Vec<Option<i64>>,
    impressions: Vec<Option<i64>>,
    reach: Vec<Option<i64>>,
    doc_count: Option<i64>,
    fol_avg: Option<f64>,
    eng_avg: Option<f64>,
    engagement_rate: Option<f64>,
    colors: Option<serde_json::Value>,
    palette_date: Option<NaiveDate>,
}

impl Row {
    fn values(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.id,
            &self.username,
            &self.as_of,
            &self.dates,
            &self.followers,
            &self.impressions,
            &self.reach,
            &self.doc_count,
            &self.fol_avg,
            &self.eng_avg,
            &self.engagement_rate,
            &self.colors,
            &self.palette_date,
        ]
    }
}

fn rows(df: &DataFrame) -> Result<Vec<Row>> {
    let text = |name: &str| -> Result<Vec<Option<String>>> {
        Ok(df
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let ids = text("id")?;
    let usernames = text("username")?;
    let colors = text("colors")?;
    let as_of = dates(df.column("as_of")?.as_materialized_series())?;
    let palette_dates = dates(df.column("palette_date")?.as_materialized_series())?;
    let dates_lists = list_of(df, "dates", dates)?;
    let ints = |s: &Series| -> Result<Vec<Option<i64>>> { Ok(s.i64()?.iter().collect()) };
    let followers = list_of(df, "followers", ints)?;
    let impressions = list_of(df, "impressions", ints)?;
    let reach = list_of(df, "reach", ints)?;
    let doc_count: Vec<Option<i64>> = df.column("doc_count")?.i64()?.iter().collect();
    let float =
        |name: &str| -> Result<Vec<Option<f64>>> { Ok(df.column(name)?.f64()?.iter().collect()) };
    let (fol_avg, eng_avg, rate) = (
        float("fol_avg")?,
        float("eng_avg")?,
        float("engagement_rate")?,
    );
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let id = ids[i].clone().unwrap_or_default();
        let colors = match &colors[i] {
            Some(text) => Some(
                serde_json::from_str(text)
                    .with_context(|| format!("history row {id}: colors is not JSON: {text:.80}"))?,
            ),
            None => None,
        };
        out.push(Row {
            id,
            username: usernames[i].clone(),
            as_of: as_of[i],
            dates: dates_lists[i].clone(),
            followers: followers[i].clone(),
            impressions: impressions[i].clone(),
            reach: reach[i].clone(),
            doc_count: doc_count[i],
            fol_avg: fol_avg[i],
            eng_avg: eng_avg[i],
            engagement_rate: rate[i],
            colors,
            palette_date: palette_dates[i],
        });
    }
    Ok(out)
}

fn dates(series: &Series) -> Result<Vec<Option<NaiveDate>>> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    // A list's items come back from `get_as_series` as the physical i32 days, a top-level
    // column as Date: the cast takes both.
    Ok(series
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .map(|d| d.map(|d| epoch + chrono::TimeDelta::days(i64::from(d))))
        .collect())
}

/// A list column as one Vec per row (an absent list is empty).
fn list_of<T>(
    df: &DataFrame,
    name: &str,
    items: impl Fn(&Series) -> Result<Vec<T>>,
) -> Result<Vec<Vec<T>>> {
    let lists = df.column(name)?.list()?;
    (0..lists.len())
        .map(|i| match lists.get_as_series(i) {
            Some(series) => items(&series),
            None => Ok(Vec::new()),
        })
        .collect()
}
