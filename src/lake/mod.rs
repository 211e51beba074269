//! Every byte igpipe reads from or writes to a lake goes through here (SPEC §1, §2).
//!
//! Built on object_store 0.14: `s3://bucket/prefix` (AWS, MinIO and other S3-compatible
//! servers) and local folders (`file:///abs/path` or a plain path). Keys are always relative
//! to the lake root, with `/` separators.
//!
//! A local folder has a fast path for the two hot operations, listing a tree and reading
//! many small files: plain `std::fs` calls spread over a rayon pool instead of one
//! spawn_blocking round trip per file. It reports exactly what object_store's
//! `LocalFileSystem` would (same ETag scheme, same last-modified), which a test checks, so
//! a manifest written by either path is valid for the other. Writes always go through
//! object_store (temp file + rename locally, one PUT on S3), so they are atomic.

mod local;

use crate::settings::S3Settings;
use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig, UpdateVersion,
};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// How many S3 requests are in flight at once when listing or reading many objects.
const S3_CONCURRENCY: usize = 64;

/// One async runtime for all lake I/O; the rest of igpipe is synchronous.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("igpipe-io")
        .build()
        .expect("starting the I/O runtime")
});

/// An object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeObject {
    /// Relative to the lake root, e.g. `instagram_graph/posts/42/1790.json`.
    pub key: String,
    pub size: u64,
    /// Microseconds since the Unix epoch, UTC.
    pub last_modified_us: i64,
    /// As the store reports it (quoted); None where the store's listing carries no ETag.
    pub etag: Option<String>,
}

#[cfg(test)]
impl LakeObject {
    /// An object that is only a key, for tests of code that groups listings.
    pub fn named(key: &str) -> LakeObject {
        LakeObject {
            key: key.to_string(),
            size: 1,
            last_modified_us: 0,
            etag: None,
        }
    }
}

/// A key a listing found but could not turn into an object (a name that is not UTF-8, a
/// symlink loop): named, with the reason, so the caller can reject it instead of stopping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadKey {
    /// The key as text; bytes that are not UTF-8 are escaped (`caf\xe9.json`).
    pub key: String,
    pub reason: String,
}

/// What `list_tree` found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted by key.
    pub objects: Vec<LakeObject>,
    pub bad: Vec<BadKey>,
}

/// An object's version as its store reported it, for a conditional replace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    e_tag: Option<String>,
    version: Option<String>,
}

/// A lake root: where it is and how to reach it. Cloning shares the connection.
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    /// The key prefix under the bucket (S3); empty for a local folder.
    prefix: String,
    /// Set for a local folder: enables the fast path.
    local_root: Option<PathBuf>,
    /// The folder of a local lake, fast path or not (temp-file clean-up, conditional puts).
    folder: Option<PathBuf>,
    /// The same store as `store` for an S3 lake, for the key-by-key listing of a folder
    /// that holds a key object_store cannot parse.
    s3: Option<Arc<object_store::aws::AmazonS3>>,
    /// For messages: the URL as given, never with credentials.
    url: String,
}

impl Lake {
    /// Opens `url` (`s3://bucket/prefix`, `file:///abs/path` or a path). With `create`, a
    /// local folder is created if missing (output lakes).
    pub fn open(url: &str, s3: &S3Settings, create: bool, fast_path: bool) -> Result<Lake> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("{url}: no bucket name in the S3 URL");
            }
            let store = Arc::new(
                s3_store(bucket, s3).with_context(|| format!("configuring S3 access for {url}"))?,
            );
            return Ok(Lake {
                store: store.clone(),
                prefix: prefix.trim_matches('/').to_string(),
                local_root: None,
                folder: None,
                s3: Some(store),
                url: url.trim_end_matches('/').to_string(),
            });
        }
        if url.contains("://") && !url.starts_with("file://") {
            bail!(
                "{url}: unsupported lake URL (use s3://bucket/prefix, file:///abs/path or a path)"
            );
        }
        let path = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        if create {
            std::fs::create_dir_all(&path)
                .with_context(|| format!("creating the output folder {}", path.display()))?;
        }
        if !path.is_dir() {
            bail!("{url}: no such folder");
        }
        let root = path
            .canonicalize()
            .with_context(|| format!("resolving {}", path.display()))?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .with_context(|| format!("opening {}", root.display()))?;
        Ok(Lake {
            store: Arc::new(store),
            prefix: String::new(),
            local_root: fast_path.then(|| root.clone()),
            folder: Some(root),
            s3: None,
            url: url.trim_end_matches('/').to_string(),
        })
    }

    /// `url/key`, for messages.
    /// Control characters in a key (a newline would forge a log line) are escaped.
    pub fn describe(&self, key: &str) -> String {
        format!("{}/{}", self.url, printable(key))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn store_path(&self, key: &str) -> StorePath {
        let full = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        };
        StorePath::parse(&full).unwrap_or_else(|_| StorePath::from(full.as_str()))
    }

    fn to_key<'a>(&self, location: &'a str) -> &'a str {
        if self.prefix.is_empty() {
            location
        } else {
            location
                .strip_prefix(&self.prefix)
                .map_or(location, |k| k.trim_start_matches('/'))
        }
    }

    /// Lists every object below `prefix` (a folder key such as `instagram_graph/posts`),
    /// in parallel over its immediate sub-folders (one per user), sorted by key.
    /// Keys that cannot be listed as objects are returned apart, in `bad`.
    pub fn list_tree(&self, prefix: &str) -> Result<Listing> {
        let prefix = prefix.trim_end_matches('/');
        let (mut objects, bad) = match &self.local_root {
            Some(root) => local::list_tree(root, prefix)
                .with_context(|| format!("listing {}", self.describe(prefix)))?,
            None => RUNTIME
                .block_on(self.list_tree_async(prefix))
                .with_context(|| format!("listing {}", self.describe(prefix)))?,
        };
        objects.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(Listing { objects, bad })
    }

    async fn list_tree_async(&self, prefix: &str) -> Result<(Vec<LakeObject>, Vec<BadKey>)> {
        let top = self.store_path(prefix);
        // One delimited listing finds the user folders; each folder is then listed on its
        // own, many at a time, so a lake of 1.25M keys is not paged through 1,000 at a time.
        let level = match self.store.list_with_delimiter(Some(&top)).await {
            Ok(level) => level,
            Err(object_store::Error::NotFound { .. }) => return Ok((Vec::new(), Vec::new())),
            Err(e) => return Err(e.into()),
        };
        let mut objects: Vec<LakeObject> =
            level.objects.iter().map(|m| self.lake_object(m)).collect();
        let mut bad = Vec::new();
        let store = self.store.clone();
        let mut folders = futures::stream::iter(level.common_prefixes)
            .map(|folder| {
                let store = store.clone();
                async move {
                    let listed = store
                        .list(Some(&folder))
                        .try_collect::<Vec<ObjectMeta>>()
                        .await;
                    (folder, listed)
                }
            })
            .buffer_unordered(S3_CONCURRENCY);
        while let Some((folder, listed)) = folders.next().await {
            match listed {
                Ok(metas) => objects.extend(metas.iter().map(|m| self.lake_object(m))),
                // One key object_store cannot parse fails its whole page: list that folder
                // again key by key, and name the bad key instead of stopping the run.
                Err(e) if unparseable_key(&e).is_some() => {
                    let (found, unparseable) = self.list_key_by_key(&folder).await?;
                    objects.extend(found);
                    bad.extend(unparseable);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok((objects, bad))
    }

    /// Lists `folder` one key per request (S3's `start-after`), stepping over keys that
    /// object_store cannot parse (`a//b.json`, `a/./b.json`), which are returned apart.
    async fn list_key_by_key(&self, folder: &StorePath) -> Result<(Vec<LakeObject>, Vec<BadKey>)> {
        use object_store::list::{PaginatedListOptions, PaginatedListStore};
        let s3 = self
            .s3
            .as_ref()
            .context("a key-by-key listing needs an S3 lake")?;
        let prefix = format!("{}/", folder.as_ref());
        let (mut objects, mut bad) = (Vec::new(), Vec::new());
        let mut after: Option<String> = None;
        loop {
            let opts = PaginatedListOptions {
                offset: after.clone(),
                max_keys: Some(1),
                ..PaginatedListOptions::default()
            };
            match s3.list_paginated(Some(&prefix), opts).await {
                Ok(page) => {
                    let Some(meta) = page.result.objects.first() else {
                        break;
                    };
                    after = Some(meta.location.to_string());
                    objects.push(self.lake_object(meta));
                    if page.page_token.is_none() {
                        break;
                    }
                }
                Err(e) => {
                    let Some(raw) = unparseable_key(&e).map(str::to_string) else {
                        return Err(e.into());
                    };
                    bad.push(BadKey {
                        key: self.to_key(&raw).to_string(),
                        reason: format!(
                            "object_store cannot use this key ({e}); rename it in the lake"
                        ),
                    });
                    after = Some(raw);
                }
            }
        }
        Ok((objects, bad))
    }

    /// Lists every object below each of `folders` (e.g. one creator's image folder each),
    /// many folders at a time; one list per folder, each sorted by key. A folder that does
    /// not exist is empty.
    pub fn list_folders(&self, folders: &[String]) -> Result<Vec<Vec<LakeObject>>> {
        let mut lists = match &self.local_root {
            Some(root) => local::IO_POOL.install(|| {
                use rayon::prelude::*;
                folders
                    .par_iter()
                    .map(|folder| {
                        let (objects, bad) = local::list_tree(root, folder.trim_end_matches('/'))
                            .with_context(|| format!("listing {}", self.describe(folder)))?;
                        for b in bad {
                            tracing::warn!(key = %self.describe(&b.key), reason = %b.reason, "Left out a key that cannot be listed.");
                        }
                        Ok(objects)
                    })
                    .collect::<Result<Vec<_>>>()
            })?,
            None => RUNTIME.block_on(
                futures::stream::iter(folders.iter().map(|folder| async move {
                    let path = self.store_path(folder.trim_end_matches('/'));
                    let metas: Vec<ObjectMeta> =
                        match self.store.list(Some(&path)).try_collect().await {
                            Ok(metas) => metas,
                            Err(object_store::Error::NotFound { .. }) => Vec::new(),
                            Err(e) => {
                                return Err(anyhow!(e))
                                    .with_context(|| format!("listing {}", self.describe(folder)))
                            }
                        };
                    Ok(metas.iter().map(|m| self.lake_object(m)).collect())
                }))
                .buffered(S3_CONCURRENCY)
                .try_collect::<Vec<Vec<LakeObject>>>(),
            )?,
        };
        for list in &mut lists {
            list.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(lists)
    }

    fn lake_object(&self, meta: &ObjectMeta) -> LakeObject {
        LakeObject {
            key: self.to_key(meta.location.as_ref()).to_string(),
            size: meta.size,
            last_modified_us: meta.last_modified.timestamp_micros(),
            etag: meta.e_tag.clone(),
        }
    }

    /// One level of the folder `prefix`: the objects directly in it (sorted by key) and the
    /// names of its sub-folders (sorted), e.g. a table's `date=…` partitions. A folder that
    /// does not exist is empty.
    pub fn list_dir(&self, prefix: &str) -> Result<(Vec<LakeObject>, Vec<String>)> {
        let path = self.store_path(prefix.trim_end_matches('/'));
        let level = match RUNTIME.block_on(self.store.list_with_delimiter(Some(&path))) {
            Ok(level) => level,
            Err(object_store::Error::NotFound { .. }) => return Ok((Vec::new(), Vec::new())),
            Err(e) => {
                return Err(anyhow!(e))
                    .with_context(|| format!("listing {}", self.describe(prefix)))
            }
        };
        let mut objects: Vec<LakeObject> =
            level.objects.iter().map(|m| self.lake_object(m)).collect();
        objects.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let mut folders: Vec<String> = level
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        folders.sort_unstable();
        Ok((objects, folders))
    }

    /// Reads `keys` concurrently and hands each object's bytes to `handle` (on a worker
    /// thread), returning the handler's outputs in the order of `keys`. `Ok(None)`: the
    /// object was deleted since it was listed. Errors (after object_store's retries) are
    /// passed on with the object named, so the caller decides what stops the run. The bytes
    /// are only lent: locally they sit in a per-thread buffer that the next file reuses.
    pub fn read_each<T, F>(&self, keys: &[&str], handle: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize, Result<Option<&[u8]>>) -> T + Sync + Send,
    {
        use rayon::prelude::*;
        if let Some(root) = &self.local_root {
            return local::IO_POOL.install(|| {
                keys.par_iter()
                    .enumerate()
                    .map(|(i, key)| {
                        local::with_file(root, key, |read| {
                            let read =
                                match read {
                                    Ok(bytes) => Ok(Some(bytes)),
                                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                                    Err(e) => Err(anyhow!(e)
                                        .context(format!("reading {}", self.describe(key)))),
                                };
                            handle(i, read)
                        })
                    })
                    .collect()
            });
        }
        let fetched: Vec<Result<Option<Bytes>>> = RUNTIME.block_on(async {
            futures::stream::iter(keys.iter().map(|key| {
                let path = self.store_path(key);
                let store = self.store.clone();
                async move {
                    let got = match store.get(&path).await {
                        Ok(got) => got.bytes().await.map(Some),
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    };
                    got.with_context(|| format!("reading {}", self.describe(key)))
                }
            }))
            .buffered(S3_CONCURRENCY)
            .collect()
            .await
        });
        fetched
            .into_par_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(bytes) => handle(i, Ok(bytes.as_deref())),
                Err(e) => handle(i, Err(e)),
            })
            .collect()
    }

    /// Reads one object; `Ok(None)` when it does not exist.
    pub fn get_opt(&self, key: &str) -> Result<Option<Bytes>> {
        let path = self.store_path(key);
        let got = RUNTIME.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.with_context(|| format!("reading {}", self.describe(key)))
    }

    /// Writes one object in a single atomic put.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.store_path(key);
        RUNTIME
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .map(|_| ())
            .with_context(|| format!("writing {}", self.describe(key)))
    }

    /// `put` for callers that are already async (fetch-media's downloads, on their own
    /// runtime): object_store's futures run on any tokio runtime.
    pub async fn put_async(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.store_path(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .with_context(|| format!("writing {}", self.describe(key)))
    }

    /// Reads one object with its version (for a later `put_replacing`); `Ok(None)` when it
    /// does not exist.
    pub fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, Version)>> {
        let path = self.store_path(key);
        let got = RUNTIME.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => {
                    let version = Version {
                        e_tag: r.meta.e_tag.clone(),
                        version: r.meta.version.clone(),
                    };
                    r.bytes().await.map(|b| Some((b, version)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.with_context(|| format!("reading {}", self.describe(key)))
    }

    /// Creates `key` only if it does not exist (a conditional put: If-None-Match on S3, a
    /// hard link locally). `Ok(false)`: it exists already.
    pub fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool> {
        self.put_with_mode(key, bytes, PutMode::Create)
    }

    /// Replaces `key` only if it is still at `expected` (If-Match on S3). Local folders
    /// cannot compare and swap (object_store has no `PutMode::Update` there), so they
    /// overwrite: the staging lease is what keeps two writers apart on a folder.
    /// `Ok(false)`: someone else changed the object since it was read.
    pub fn put_replacing(&self, key: &str, bytes: Vec<u8>, expected: &Version) -> Result<bool> {
        let mode = if self.folder.is_some() {
            PutMode::Overwrite
        } else {
            PutMode::Update(UpdateVersion {
                e_tag: expected.e_tag.clone(),
                version: expected.version.clone(),
            })
        };
        self.put_with_mode(key, bytes, mode)
    }

    fn put_with_mode(&self, key: &str, bytes: Vec<u8>, mode: PutMode) -> Result<bool> {
        let path = self.store_path(key);
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match RUNTIME.block_on(self.store.put_opts(&path, PutPayload::from(bytes), opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(anyhow!(e)).with_context(|| format!("writing {}", self.describe(key))),
        }
    }

    /// The last `n` bytes of each of `keys` (a Parquet file ends in `PAR1`), concurrently;
    /// `Ok(None)` for a missing object.
    pub fn tails(&self, keys: &[String], n: u64) -> Vec<Result<Option<Bytes>>> {
        RUNTIME.block_on(
            futures::stream::iter(keys.iter().map(|key| async move {
                let opts = GetOptions {
                    range: Some(GetRange::Suffix(n)),
                    ..GetOptions::default()
                };
                let got = match self.store.get_opts(&self.store_path(key), opts).await {
                    Ok(r) => r.bytes().await.map(Some),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                };
                got.with_context(|| format!("reading the end of {}", self.describe(key)))
            }))
            .buffered(S3_CONCURRENCY)
            .collect(),
        )
    }

    /// Removes the temporary files a killed put leaves in a local folder
    /// (`part-0.parquet#3` beside `part-0.parquet`: object_store writes `<name>#<n>` and
    /// renames it), below `prefix`; returns their keys. Hive readers would count them as
    /// data. S3 puts leave nothing behind, so there this is a no-op.
    pub fn remove_temp_files(&self, prefix: &str) -> Result<Vec<String>> {
        let Some(root) = &self.folder else {
            return Ok(Vec::new());
        };
        local::remove_temp_files(root, prefix.trim_end_matches('/'))
            .with_context(|| format!("removing temporary files under {}", self.describe(prefix)))
    }

    /// Deletes one object; a missing object is not an error.
    pub fn delete(&self, key: &str) -> Result<()> {
        let path = self.store_path(key);
        match RUNTIME.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow!(e)).with_context(|| format!("deleting {}", self.describe(key))),
        }
    }
}

/// The raw key of a listing error caused by a key object_store cannot parse.
fn unparseable_key(error: &object_store::Error) -> Option<&str> {
    use object_store::path::Error as PathError;
    match error {
        object_store::Error::InvalidPath {
            source: PathError::EmptySegment { path } | PathError::BadSegment { path, .. },
        } => Some(path),
        _ => None,
    }
}

/// A key as it may appear in a message or a log line: control characters escaped
/// (`\n`, `\u{1b}`), everything else as it is.
pub fn printable(key: &str) -> std::borrow::Cow<'_, str> {
    if !key.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(key);
    }
    let mut shown = String::with_capacity(key.len() + 8);
    for c in key.chars() {
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

fn s3_store(bucket: &str, s3: &S3Settings) -> Result<object_store::aws::AmazonS3> {
    // Built from explicit settings only (not `from_env`): see `settings.rs`.
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(&s3.region)
        .with_allow_http(s3.allow_http)
        // Fail within a minute rather than object_store's default three.
        .with_retry(RetryConfig {
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
            ..RetryConfig::default()
        });
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(key) = &s3.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = &s3.session_token {
        builder = builder.with_token(token);
    }
    Ok(builder.build()?)
}
