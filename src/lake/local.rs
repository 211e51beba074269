//! The local-folder fast path: listing and reading with plain `std::fs` on rayon threads.

use super::LakeObject;
use rayon::prelude::*;
use std::fs::Metadata;
use std::io;
use std::path::Path;
use std::sync::LazyLock;
use std::time::SystemTime;

/// Threads for listing and reading local files, parsing included. Far more than cores:
/// small-file reads wait on the disk, and more requests in flight hide that wait (on the
/// 2-core VM, reading 1.25M files took 30 s with 2 readers and 10 s with 8).
pub static IO_POOL: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(16)
        .thread_name(|i| format!("igpipe-fs-{i}"))
        .build()
        .expect("starting the file I/O threads")
});

/// Lists every file below `root/prefix`, walking the first level's folders in parallel.
pub fn list_tree(root: &Path, prefix: &str) -> io::Result<Vec<LakeObject>> {
    let top = root.join(prefix);
    let entries = match std::fs::read_dir(&top) {
        Ok(entries) => entries.collect::<io::Result<Vec<_>>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let lists: Vec<io::Result<Vec<LakeObject>>> = IO_POOL.install(|| {
        entries
            .par_iter()
            .map(|entry| {
                let mut out = Vec::new();
                let key = join_key(prefix, &entry.file_name().to_string_lossy());
                walk(&entry.path(), &key, &mut out)?;
                Ok(out)
            })
            .collect()
    });
    let mut objects = Vec::new();
    for list in lists {
        objects.extend(list?);
    }
    Ok(objects)
}

fn walk(path: &Path, key: &str, out: &mut Vec<LakeObject>) -> io::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        // Removed between readdir and stat: it is simply not there any more.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            walk(
                &entry.path(),
                &join_key(key, &entry.file_name().to_string_lossy()),
                out,
            )?;
        }
    } else if meta.is_file() {
        out.push(LakeObject {
            key: key.to_string(),
            size: meta.len(),
            last_modified_us: mtime_us(&meta),
            etag: Some(etag(&meta)),
        });
    }
    Ok(())
}

fn join_key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

thread_local! {
    /// Each reader thread's file buffer, reused from file to file: a fresh buffer per file
    /// was a large allocation that made glibc consolidate its free lists every time (18%
    /// of a full load's CPU went to malloc before this).
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads a whole file into this thread's buffer and lends it to `use_bytes`.
pub fn with_file<T>(root: &Path, key: &str, use_bytes: impl FnOnce(io::Result<&[u8]>) -> T) -> T {
    use std::io::Read;
    READ_BUFFER.with_borrow_mut(|buf| {
        buf.clear();
        match open_for_reading(&root.join(key)).and_then(|mut f| f.read_to_end(buf)) {
            Ok(_) => use_bytes(Ok(buf.as_slice())),
            Err(e) => use_bytes(Err(e)),
        }
    })
}

/// Opens with O_NOATIME where allowed (the file's owner, or root): reading a lake must not
/// dirty 1.25M inodes with access times (under `relatime` the first read after a write
/// does), which showed up as block writes in profiles of a full load.
fn open_for_reading(path: &Path) -> io::Result<std::fs::File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOATIME)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            other => return other,
        }
    }
    std::fs::File::open(path)
}

fn mtime_us(meta: &Metadata) -> i64 {
    match meta
        .modified()
        .map(|t| t.duration_since(SystemTime::UNIX_EPOCH))
    {
        Ok(Ok(d)) => d.as_micros() as i64,
        Ok(Err(before_epoch)) => -(before_epoch.duration().as_micros() as i64),
        Err(_) => 0,
    }
}

/// object_store 0.14's `LocalFileSystem` ETag: `"<inode>-<mtime µs>-<size>"` in hex, quoted.
fn etag(meta: &Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("\"{:x}-{:x}-{:x}\"", meta.ino(), mtime, meta.len())
}

#[cfg(test)]
mod tests {
    use crate::lake::Lake;
    use crate::settings::S3Settings;

    /// The fast path must report exactly what object_store's LocalFileSystem reports, or a
    /// manifest written through one would see every file as changed through the other.
    #[test]
    fn fast_path_listing_matches_object_store() {
        let dir = tempfile::tempdir().unwrap();
        for (user, post) in [("1", "a"), ("1", "b"), ("22", "c")] {
            let folder = dir.path().join("posts").join(user);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(
                folder.join(format!("{post}.json")),
                format!("{{\"id\":\"{post}\"}}"),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("posts").join("stray.txt"), "x").unwrap();
        let url = dir.path().to_str().unwrap();
        let fast = Lake::open(url, &S3Settings::default(), false, true).unwrap();
        let slow = Lake::open(url, &S3Settings::default(), false, false).unwrap();
        let (a, b) = (
            fast.list_tree("posts").unwrap(),
            slow.list_tree("posts").unwrap(),
        );
        assert_eq!(a.len(), 4);
        assert_eq!(a, b);
        let keys = ["posts/1/a.json", "posts/22/c.json"];
        let read = |lake: &Lake| lake.read_each(&keys, |_, r| r.unwrap().unwrap().to_vec());
        assert_eq!(read(&fast), read(&slow));
        assert!(fast.list_tree("missing").unwrap().is_empty());
    }
}
