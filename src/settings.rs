//! The only place igpipe reads its environment (SPEC §1).
//!
//! The S3 client is configured from exactly the variables below and nothing else: no
//! `~/.aws` files, no other `AWS_*` keys, so a stray variable on an Airflow worker cannot
//! silently redirect a run. Everything read here is passed on explicitly.

use std::fmt;

/// Access key for S3 (and S3-compatible servers).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// Secret key for S3; never logged.
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// Session token for temporary credentials; never logged.
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// Region; `AWS_DEFAULT_REGION` is the fallback, then `us-east-1`.
pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// S3-only endpoint (MinIO, moto, s3s-fs…); wins over `AWS_ENDPOINT_URL`.
pub const AWS_ENDPOINT_URL_S3: &str = "AWS_ENDPOINT_URL_S3";
/// Endpoint for every AWS service; used for S3 only when `AWS_ENDPOINT_URL_S3` is unset.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// `true` allows plain-http endpoints.
pub const AWS_ALLOW_HTTP: &str = "AWS_ALLOW_HTTP";
/// Redshift-Data-only endpoint (a test double, a VPC endpoint); wins over `AWS_ENDPOINT_URL`.
pub const AWS_ENDPOINT_URL_REDSHIFT_DATA: &str = "AWS_ENDPOINT_URL_REDSHIFT_DATA";

/// How to reach S3. Debug output redacts the secrets.
#[derive(Clone, Default, PartialEq)]
pub struct S3Settings {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: String,
    pub endpoint: Option<String>,
    pub allow_http: bool,
    /// The Redshift Data API's endpoint override (`AWS_ENDPOINT_URL_REDSHIFT_DATA`, else
    /// `AWS_ENDPOINT_URL`); the same credentials and region serve both services.
    pub redshift_data_endpoint: Option<String>,
}

impl S3Settings {
    /// Reads the settings through `lookup` (the process environment in production; a map
    /// in tests, so tests never mutate the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> S3Settings {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        S3Settings {
            access_key_id: get(AWS_ACCESS_KEY_ID),
            secret_access_key: get(AWS_SECRET_ACCESS_KEY),
            session_token: get(AWS_SESSION_TOKEN),
            region: get(AWS_REGION)
                .or_else(|| get(AWS_DEFAULT_REGION))
                .unwrap_or_else(|| "us-east-1".to_string()),
            endpoint: get(AWS_ENDPOINT_URL_S3).or_else(|| get(AWS_ENDPOINT_URL)),
            allow_http: get(AWS_ALLOW_HTTP)
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
            redshift_data_endpoint: get(AWS_ENDPOINT_URL_REDSHIFT_DATA)
                .or_else(|| get(AWS_ENDPOINT_URL)),
        }
    }

    pub fn from_env() -> S3Settings {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Tells `redact` the values to hide wherever they appear (an error that quotes a
    /// request, say). Not the access key id: it is no secret (AWS prints it in every
    /// signed request's Credential), and on MinIO it is often a word such as the bucket's
    /// name, which would then be blanked from every message; it is only kept out of `-v`.
    pub fn register_secrets(&self) {
        for secret in [&self.secret_access_key, &self.session_token]
            .into_iter()
            .flatten()
        {
            crate::redact::register(secret);
        }
    }
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Settings")
            .field("access_key_id", &redact(&self.access_key_id))
            .field("secret_access_key", &redact(&self.secret_access_key))
            .field("session_token", &redact(&self.session_token))
            .field("region", &self.region)
            .field(
                "endpoint",
                &self.endpoint.as_deref().map(crate::redact::url),
            )
            .field("allow_http", &self.allow_http)
            .field(
                "redshift_data_endpoint",
                &self
                    .redshift_data_endpoint
                    .as_deref()
                    .map(crate::redact::url),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> S3Settings {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        S3Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn service_specific_endpoint_wins() {
        let s = settings(&[
            (AWS_ENDPOINT_URL, "http://global:1"),
            (AWS_ENDPOINT_URL_S3, "http://s3:2"),
        ]);
        assert_eq!(s.endpoint.as_deref(), Some("http://s3:2"));
        let s = settings(&[(AWS_ENDPOINT_URL, "http://global:1")]);
        assert_eq!(s.endpoint.as_deref(), Some("http://global:1"));
        assert_eq!(s.redshift_data_endpoint.as_deref(), Some("http://global:1"));
        let s = settings(&[
            (AWS_ENDPOINT_URL_S3, "http://s3:2"),
            (AWS_ENDPOINT_URL_REDSHIFT_DATA, "http://rsd:3"),
        ]);
        assert_eq!(s.redshift_data_endpoint.as_deref(), Some("http://rsd:3"));
        assert_eq!(s.endpoint.as_deref(), Some("http://s3:2"));
    }

    #[test]
    fn region_falls_back_and_http_is_opt_in() {
        assert_eq!(settings(&[]).region, "us-east-1");
        assert_eq!(
            settings(&[(AWS_DEFAULT_REGION, "eu-west-1")]).region,
            "eu-west-1"
        );
        assert_eq!(
            settings(&[(AWS_REGION, "eu-north-1"), (AWS_DEFAULT_REGION, "x")]).region,
            "eu-north-1"
        );
        assert!(!settings(&[]).allow_http);
        assert!(settings(&[(AWS_ALLOW_HTTP, "TRUE")]).allow_http);
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let s = settings(&[
            (AWS_ACCESS_KEY_ID, "AKIA1"),
            (AWS_SECRET_ACCESS_KEY, "hunter2"),
            (AWS_SESSION_TOKEN, "tok"),
        ]);
        let text = format!("{s:?}");
        assert!(!text.contains("AKIA1") && !text.contains("hunter2") && !text.contains("tok\""));
        let s = settings(&[(AWS_ENDPOINT_URL_S3, "http://minio:pw123@127.0.0.1:9000")]);
        assert!(!format!("{s:?}").contains("pw123"), "{s:?}");
    }
}
