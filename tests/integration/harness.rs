//! Runs the real `igpipe` binary against a lake on a local folder or an S3-protocol server,
//! and reads back what it wrote.

use igpipe::lake::Lake;
use igpipe::settings::S3Settings;
use polars::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    /// The summary: the last line on stdout.
    pub report: Value,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The error of a run that must have failed with exit 1 (panics, showing stderr, if not).
    pub fn error(&self) -> &str {
        assert_eq!(self.code, 1, "expected exit 1: {}", self.stderr);
        self.report["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in the summary: {}", self.report))
    }

    pub fn count(&self, field: &str) -> u64 {
        self.report[field]
            .as_u64()
            .unwrap_or_else(|| panic!("report has no count {field}: {}", self.report))
    }
}

/// A lake the tests can write raw files into and read outputs from.
pub trait TestLake {
    /// The URL to pass as --lake (outputs go to the same root).
    fn url(&self) -> String;
    fn write(&self, key: &str, bytes: &[u8]);
    fn remove(&self, key: &str);
    fn read(&self, key: &str) -> Option<Vec<u8>>;
    /// Keys under `prefix`, sorted.
    fn keys(&self, prefix: &str) -> Vec<String>;
    /// Environment for the child process (S3 settings); AWS_* from the test's own
    /// environment never leak into it.
    fn env(&self) -> Vec<(String, String)>;
    /// Whether the store lists ETags (S3, moto, local) or not (s3s-fs).
    fn lists_etags(&self) -> bool {
        true
    }

    /// Copies a fixture lake (`fixtures/<name>`) into this lake.
    fn load_fixture(&self, name: &str) {
        let root = fixtures().join(name);
        for path in walk(&root) {
            let key = path
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            self.write(&key, &std::fs::read(&path).unwrap());
        }
    }

    /// Runs `igpipe <args…>` against this lake.
    fn igpipe(&self, args: &[&str]) -> Run {
        self.igpipe_with(args, &[])
    }

    /// Runs `igpipe <args…>` against this lake with extra environment variables.
    fn igpipe_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_igpipe"));
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.starts_with("IGPIPE_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env());
        cmd.envs(extra_env.iter().copied());
        let url = self.url();
        let mut full: Vec<&str> = args.to_vec();
        if !args.contains(&"--lake") {
            full.extend(["--lake", &url]);
        }
        let out = cmd.args(&full).output().expect("running igpipe");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let last = stdout.lines().last().unwrap_or("");
        Run {
            code: out.status.code().unwrap_or(-1),
            report: serde_json::from_str(last).unwrap_or(Value::Null),
            stdout: stdout.clone(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// All rows of a Hive-partitioned table, with the partition column appended.
    fn table(&self, prefix: &str, partition_column: &str) -> DataFrame {
        let mut frames = Vec::new();
        for key in self.keys(prefix) {
            let part = key
                .split('/')
                .find_map(|seg| seg.strip_prefix(&format!("{partition_column}=")))
                .unwrap();
            let mut df = parquet(&self.read(&key).unwrap());
            let n = df.height();
            df.with_column(Column::new(
                partition_column.into(),
                vec![part.to_string(); n],
            ))
            .unwrap();
            frames.push(df);
        }
        let mut all = frames.pop().expect("the table has at least one partition");
        for f in frames {
            all.vstack_mut(&f).unwrap();
        }
        all
    }
}

pub fn parquet(bytes: &[u8]) -> DataFrame {
    ParquetReader::new(std::io::Cursor::new(bytes.to_vec()))
        .finish()
        .unwrap()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A lake in a temporary folder.
pub struct LocalLake {
    pub dir: tempfile::TempDir,
}

impl LocalLake {
    pub fn new() -> LocalLake {
        LocalLake {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.path().join(key)
    }
}

impl TestLake for LocalLake {
    fn url(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }
    fn write(&self, key: &str, bytes: &[u8]) {
        let path = self.path(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    fn remove(&self, key: &str) {
        std::fs::remove_file(self.path(key)).unwrap();
    }
    fn read(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(key)).ok()
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        let root = self.path(prefix);
        if !root.exists() {
            return Vec::new();
        }
        walk(&root)
            .into_iter()
            .map(|p| {
                p.strip_prefix(self.dir.path())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A lake under a fresh prefix of a bucket on an S3-protocol server.
#[cfg_attr(not(feature = "service-tests"), allow(dead_code))]
pub struct S3Lake {
    lake: Lake,
    url: String,
    env: Vec<(String, String)>,
    lists_etags: bool,
}

#[cfg_attr(not(feature = "service-tests"), allow(dead_code))]
static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);

#[cfg_attr(not(feature = "service-tests"), allow(dead_code))]
impl S3Lake {
    /// `server` names the variables the test script sets: IGPIPE_TEST_<SERVER>_ENDPOINT,
    /// _BUCKET, _ACCESS_KEY, _SECRET_KEY.
    pub fn new(server: &str, lists_etags: bool) -> S3Lake {
        let var = |name: &str| {
            let key = format!("IGPIPE_TEST_{server}_{name}");
            std::env::var(&key).unwrap_or_else(|_| {
                panic!("{key} is not set: run the S3 tests through scripts/test.sh, which starts the server")
            })
        };
        let env = vec![
            ("AWS_ENDPOINT_URL_S3".to_string(), var("ENDPOINT")),
            ("AWS_ACCESS_KEY_ID".to_string(), var("ACCESS_KEY")),
            ("AWS_SECRET_ACCESS_KEY".to_string(), var("SECRET_KEY")),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
            ("AWS_ALLOW_HTTP".to_string(), "true".to_string()),
        ];
        let n = NEXT_PREFIX.fetch_add(1, Ordering::SeqCst);
        let url = format!(
            "s3://{}/t{}-{}-{n}",
            var("BUCKET"),
            std::process::id(),
            unique_suffix()
        );
        let settings =
            S3Settings::from_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
        let lake = Lake::open(&url, &settings, false, true).unwrap();
        S3Lake {
            lake,
            url,
            env,
            lists_etags,
        }
    }

    /// PUTs `bytes` under `key` with a hand-written HTTP request, bypassing object_store
    /// (which cannot even write keys such as `a//b.json`). For servers that do not check
    /// signatures (moto).
    pub fn raw_put(&self, key: &str, bytes: &[u8]) {
        use std::io::{Read, Write};
        let endpoint = &self
            .env
            .iter()
            .find(|(k, _)| k == "AWS_ENDPOINT_URL_S3")
            .unwrap()
            .1;
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
        let path = self.url.trim_start_matches("s3://");
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "PUT /{path}/{key} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        )
        .unwrap();
        stream.write_all(bytes).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    /// The listing as igpipe sees it.
    pub fn objects(&self, prefix: &str) -> Vec<igpipe::lake::LakeObject> {
        self.lake.list_tree(prefix).unwrap().objects
    }
}

#[cfg_attr(not(feature = "service-tests"), allow(dead_code))]
fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_007
}

impl TestLake for S3Lake {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn write(&self, key: &str, bytes: &[u8]) {
        self.lake.put(key, bytes.to_vec()).unwrap();
    }
    fn remove(&self, key: &str) {
        self.lake.delete(key).unwrap();
    }
    fn read(&self, key: &str) -> Option<Vec<u8>> {
        self.lake.get_opt(key).unwrap().map(|b| b.to_vec())
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        self.lake
            .list_tree(prefix)
            .unwrap()
            .objects
            .into_iter()
            .map(|o| o.key)
            .collect()
    }
    fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }
    fn lists_etags(&self) -> bool {
        self.lists_etags
    }
}
