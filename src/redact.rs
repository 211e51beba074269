//! Credentials never leave igpipe: every log line (telemetry's writer), the summary line
//! and the run log pass through `text`, and messages that name a URL use `url`. One place,
//! so a new error path cannot forget it.
//!
//! Caught: the password of any `scheme://user:password@host` URL, secret-looking query
//! values (`password`, `secret_arn`, `token`, `X-Amz-Signature`…), and the exact values of
//! the secrets registered at start-up (the AWS secret key, session token and access key id).

use regex::Regex;
use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

/// Secrets known by value; `register`ed once, at start-up.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// `scheme://user:password@`: the password is replaced.
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*):[^\s/@]*@").expect("userinfo pattern")
});

/// `?password=…`, `&X-Amz-Signature=…`: the value is replaced.
static SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([?&][a-z0-9_.\-]*(?:password|secret|token|key|signature|credential)[a-z0-9_.\-]*=)[^&\s\x22'#]*")
        .expect("secret parameter pattern")
});

/// Adds a secret to be hidden wherever it appears. Values shorter than 4 characters are
/// ignored (they would blank ordinary words).
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() >= 4 {
        SECRETS
            .write()
            .expect("secrets lock")
            .push(secret.to_string());
    }
}

/// `text` with every credential replaced by `***`.
pub fn text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if out.contains("://") {
        if let Cow::Owned(replaced) = USERINFO.replace_all(&out, "$1:***@") {
            out = Cow::Owned(replaced);
        }
    }
    if out.contains('=') {
        if let Cow::Owned(replaced) = SECRET_PARAM.replace_all(&out, "${1}***") {
            out = Cow::Owned(replaced);
        }
    }
    for secret in SECRETS.read().expect("secrets lock").iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

/// The URL with its password and any secret-looking query values replaced by `***`.
pub fn url(url: &str) -> String {
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

/// The URL as it may be logged: scheme, host, port and path; never the query (CDN URLs
/// carry signatures), fragment or user info.
pub fn download_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.path()
            )
        }
        // Unparseable: keep what precedes any query or user info.
        Err(_) => {
            let cut = url.split(['?', '#']).next().unwrap_or("");
            match cut.split_once("://") {
                Some((scheme, rest)) => {
                    format!("{scheme}://{}", rest.rsplit('@').next().unwrap_or(""))
                }
                None => cut.rsplit('@').next().unwrap_or("").to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_params_are_redacted() {
        assert_eq!(
            url("postgres://etl:s3cr3t@db.example:5432/dw?sslmode=require"),
            "postgres://etl:***@db.example:5432/dw?sslmode=require"
        );
        assert_eq!(url("postgres://etl@db/dw"), "postgres://etl@db/dw");
        assert_eq!(
            url("redshift-data://cluster/c1/dev?secret_arn=arn:aws:secretsmanager:x&db_user=u"),
            "redshift-data://cluster/c1/dev?secret_arn=***&db_user=u"
        );
        assert_eq!(
            url("postgres://a:b:c@h/d?password=p"),
            "postgres://a:***@h/d?password=***"
        );
        // Unescaped `?` and `#` in a password.
        assert_eq!(
            url("postgres://etl:pa?ss#w0rd@db/dw?sslmode=require"),
            "postgres://etl:***@db/dw?sslmode=require"
        );
    }

    #[test]
    fn urls_lose_their_query_and_credentials() {
        assert_eq!(
            download_url(
                "https://scontent.cdninstagram.com/v/t51/1790_n.jpg?stp=dst&_nc_sig=abc&oe=66"
            ),
            "https://scontent.cdninstagram.com/v/t51/1790_n.jpg"
        );
        assert_eq!(
            download_url("http://user:pw@127.0.0.1:8080/a.png#x"),
            "http://127.0.0.1:8080/a.png"
        );
        assert_eq!(download_url("not a url?sig=1"), "not a url");
        assert_eq!(download_url("weird://u:p@h:x/y?sig=1"), "weird://h:x/y");
    }

    #[test]
    fn free_text_loses_passwords_params_and_registered_secrets() {
        register("AKIAEXAMPLEKEY");
        let line = "Generic S3 error: error sending request for url \
            (http://minio:hunter2@127.0.0.1:9000/lake/x?list-type=2&X-Amz-Signature=abc123): \
            key AKIAEXAMPLEKEY refused";
        let shown = text(line);
        assert!(
            !shown.contains("hunter2")
                && !shown.contains("abc123")
                && !shown.contains("AKIAEXAMPLEKEY"),
            "{shown}"
        );
        assert!(
            shown
                .contains("http://minio:***@127.0.0.1:9000/lake/x?list-type=2&X-Amz-Signature=***"),
            "{shown}"
        );
        assert!(matches!(text("nothing secret here"), Cow::Borrowed(_)));
        register("ab");
        assert_eq!(text("abc"), "abc", "too short to register");
    }
}
