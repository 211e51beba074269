//! Downloading one image over HTTP(S), the way a CDN needs (issue 6, docs/decisions.md):
//! connect and total timeouts, retries with exponential backoff on 5xx, 429, timeouts and
//! connection failures (a 429's or 503's Retry-After is honoured), none on other 4xx; only
//! http(s) URLs and redirects; the body must be a JPEG, PNG or WebP by its magic number and
//! at most `max_bytes` (reading stops at the cap).

use bytes::{Bytes, BytesMut};
use reqwest::{redirect, StatusCode};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Policy {
    pub connect_timeout: Duration,
    /// For the whole request, body included.
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// The first retry's wait; each later one doubles it.
    pub backoff: Duration,
    pub max_bytes: u64,
}

/// A downloaded image: its bytes and the extension its magic number gives.
#[derive(Debug)]
pub struct Image {
    pub bytes: Bytes,
    pub extension: &'static str,
}

/// Why a download failed; the text becomes the reject row's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    /// Whether another attempt may succeed, and after how long the server asked to wait.
    retry: Option<Option<Duration>>,
}

impl Failure {
    fn permanent(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            retry: None,
        }
    }

    fn transient(reason: impl Into<String>, after: Option<Duration>) -> Failure {
        Failure {
            reason: reason.into(),
            retry: Some(after),
        }
    }
}

/// Longest Retry-After igpipe waits; a server asking for more gets this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const MAX_REDIRECTS: usize = 5;

/// One client for the whole run (connections are pooled across downloads).
pub fn client(policy: &Policy) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.timeout)
        .redirect(redirect::Policy::custom(|attempt| {
            if !matches!(attempt.url().scheme(), "http" | "https") {
                let scheme = attempt.url().scheme().to_string();
                attempt.error(format!(
                    "redirected to a {scheme}: URL (only http and https are fetched)"
                ))
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else {
                attempt.follow()
            }
        }))
        .user_agent(concat!("igpipe/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Downloads `url` with the policy's retries.
pub async fn fetch(client: &reqwest::Client, url: &str, policy: &Policy) -> Result<Image, Failure> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| Failure::permanent(format!("not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Failure::permanent(format!(
            "a {}: URL (only http and https are fetched)",
            parsed.scheme()
        )));
    }
    let mut attempt = 0;
    loop {
        match fetch_once(client, parsed.clone(), policy).await {
            Ok(image) => return Ok(image),
            Err(Failure {
                reason,
                retry: Some(after),
            }) if attempt < policy.retries => {
                let wait = after.unwrap_or(policy.backoff * 2u32.saturating_pow(attempt));
                tracing::debug!(url = %crate::redact::download_url(url), %reason, ?wait, "Retrying a download.");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(Failure { reason, retry }) => {
                let tries = if retry.is_some() {
                    format!(" (after {} attempts)", attempt + 1)
                } else {
                    String::new()
                };
                return Err(Failure {
                    reason: format!("{reason}{tries}"),
                    retry: None,
                });
            }
        }
    }
}

async fn fetch_once(
    client: &reqwest::Client,
    url: reqwest::Url,
    policy: &Policy,
) -> Result<Image, Failure> {
    let mut response = client.get(url).send().await.map_err(request_failure)?;
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let after = retry_after(response.headers());
        return Err(Failure::transient(format!("HTTP {status}"), after));
    }
    if !status.is_success() {
        return Err(Failure::permanent(format!("HTTP {status}")));
    }
    if response
        .content_length()
        .is_some_and(|n| n > policy.max_bytes)
    {
        return Err(Failure::permanent(too_large(policy.max_bytes)));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(request_failure)? {
        if (body.len() + chunk.len()) as u64 > policy.max_bytes {
            return Err(Failure::permanent(too_large(policy.max_bytes)));
        }
        body.extend_from_slice(&chunk);
    }
    let Some(extension) = super::image_extension(&body) else {
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        return Err(Failure::permanent(format!(
            "not a JPEG, PNG or WebP image ({} bytes, Content-Type {content_type})",
            body.len()
        )));
    };
    Ok(Image {
        bytes: body.freeze(),
        extension,
    })
}

fn too_large(max_bytes: u64) -> String {
    format!(
        "larger than {} MiB (reading stopped there)",
        max_bytes / (1024 * 1024)
    )
}

/// Timeouts and connection failures may pass; a refused redirect or a bad URL will not.
fn request_failure(error: reqwest::Error) -> Failure {
    // reqwest's Display leaves out the cause ("error sending request"); the chain has it.
    // The URL is left out on purpose: it carries the CDN's signature.
    let error = error.without_url();
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        reason = format!("{reason}: {cause}");
        source = cause.source();
    }
    if error.is_redirect() || error.is_builder() {
        Failure::permanent(reason)
    } else if error.is_timeout() {
        Failure::transient(format!("timed out: {reason}"), None)
    } else {
        Failure::transient(reason, None)
    }
}

/// Retry-After as seconds or an HTTP date, capped at MAX_RETRY_AFTER.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", "86400".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date: retry now"
        );
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
