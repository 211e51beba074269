//! The local-folder fast path: listing and reading with plain `std::fs` on rayon threads.

use super::{BadKey, LakeObject};
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
/// An entry that cannot be listed (a name that is not UTF-8, a symlink loop, a folder it may
/// not read) is returned in the second list with the reason, and the walk goes on: one bad
/// key must not hide the others.
pub fn list_tree(root: &Path, prefix: &str) -> io::Result<(Vec<LakeObject>, Vec<BadKey>)> {
    let top = root.join(prefix);
    let entries = match std::fs::read_dir(&top) {
        Ok(entries) => entries.collect::<io::Result<Vec<_>>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let top_id = std::fs::metadata(&top).map(|m| file_id(&m))?;
    let walks: Vec<Walk> = IO_POOL.install(|| {
        entries
            .par_iter()
            .map(|entry| {
                let mut walk = Walk::default();
                let key = join_key(prefix, &key_text(&entry.file_name()));
                walk.visit(&entry.path(), &key, &mut vec![top_id]);
                walk
            })
            .collect()
    });
    let (mut objects, mut bad) = (Vec::new(), Vec::new());
    for walk in walks {
        objects.extend(walk.objects);
        bad.extend(walk.bad);
    }
    Ok((objects, bad))
}

/// What one folder's walk found.
#[derive(Default)]
struct Walk {
    objects: Vec<LakeObject>,
    bad: Vec<BadKey>,
}

impl Walk {
    /// `ancestors`: the (device, inode) of every folder above `path`, to see a symlink that
    /// leads back up (object_store's own walk stops there too).
    fn visit(&mut self, path: &Path, key: &str, ancestors: &mut Vec<(u64, u64)>) {
        let name = path.file_name().unwrap_or_default();
        if name.to_str().is_none() {
            return self.reject(key, "the name is not valid UTF-8");
        }
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            // Removed between readdir and stat: it is simply not there any more.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => return self.reject(key, &format!("cannot be read: {e}")),
        };
        if meta.is_dir() {
            self.visit_folder(path, key, &meta, ancestors);
        } else if meta.is_file() {
            self.objects.push(LakeObject {
                key: key.to_string(),
                size: meta.len(),
                last_modified_us: mtime_us(&meta),
                etag: Some(etag(&meta)),
            });
        }
    }

    fn visit_folder(
        &mut self,
        path: &Path,
        key: &str,
        meta: &Metadata,
        ancestors: &mut Vec<(u64, u64)>,
    ) {
        let id = file_id(meta);
        if ancestors.contains(&id) {
            return self.reject(key, "a symlink loop (it leads back to a folder above it)");
        }
        let entries = match std::fs::read_dir(path).and_then(|d| d.collect::<io::Result<Vec<_>>>())
        {
            Ok(entries) => entries,
            Err(e) => return self.reject(key, &format!("the folder cannot be listed: {e}")),
        };
        ancestors.push(id);
        for entry in entries {
            let child = join_key(key, &key_text(&entry.file_name()));
            self.visit(&entry.path(), &child, ancestors);
        }
        ancestors.pop();
    }

    fn reject(&mut self, key: &str, reason: &str) {
        self.bad.push(BadKey {
            key: key.to_string(),
            reason: reason.to_string(),
        });
    }
}

fn file_id(meta: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// A file name as key text: itself when UTF-8, else its bytes with the non-ASCII ones
/// escaped (`caf\xe9.json`), so two bad names never collapse into one key.
fn key_text(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    match name.to_str() {
        Some(text) => text.to_string(),
        None => name.as_bytes().escape_ascii().to_string(),
    }
}

fn join_key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Deletes `<name>#<digits>` files (object_store's temporary files) below `root/prefix`.
pub fn remove_temp_files(root: &Path, prefix: &str) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut folders = vec![(root.join(prefix), prefix.to_string())];
    while let Some((folder, key)) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = key_text(&entry.file_name());
            let child = join_key(&key, &name);
            if entry.file_type()?.is_dir() {
                folders.push((entry.path(), child));
            } else if is_temp_file(&name) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed.push(child),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// object_store's temporary names: `<file>#<digits>`.
pub fn is_temp_file(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(file, n)| {
        !file.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
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
            fast.list_tree("posts").unwrap().objects,
            slow.list_tree("posts").unwrap().objects,
        );
        assert_eq!(a.len(), 4);
        assert_eq!(a, b);
        let keys = ["posts/1/a.json", "posts/22/c.json"];
        let read = |lake: &Lake| lake.read_each(&keys, |_, r| r.unwrap().unwrap().to_vec());
        assert_eq!(read(&fast), read(&slow));
        assert!(fast.list_tree("missing").unwrap().objects.is_empty());
    }
}
