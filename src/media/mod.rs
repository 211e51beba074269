//! The image store (SPEC §1): `instagram_graph_image_store/<user_id>/<post_id>/<name>.<ext>`
//! under the lake root, or the root of `--image-store URL`. fetch-media fills it (the one
//! place igpipe writes inside the raw lake); color-palette reads it, one creator's folder
//! at a time.

use crate::lake::{Lake, LakeObject};
use std::collections::HashMap;

pub mod download;

/// The image store's folder under the lake root.
pub const STORE_PREFIX: &str = "instagram_graph_image_store";

/// Where images live: a lake plus the folder of the store inside it.
pub struct ImageStore {
    pub lake: Lake,
    /// `instagram_graph_image_store` under the lake root; empty for `--image-store URL`.
    prefix: String,
}

impl ImageStore {
    /// The store under the lake root, or at `image_store_url` when given.
    pub fn new(lake: Lake, explicit_url: bool) -> ImageStore {
        let prefix = if explicit_url {
            String::new()
        } else {
            STORE_PREFIX.to_string()
        };
        ImageStore { lake, prefix }
    }

    /// The key of a creator's folder, e.g. `instagram_graph_image_store/42`.
    pub fn user_folder(&self, user_id: &str) -> String {
        if self.prefix.is_empty() {
            user_id.to_string()
        } else {
            format!("{}/{user_id}", self.prefix)
        }
    }

    /// The key of a post's folder.
    pub fn post_folder(&self, user_id: &str, post_id: &str) -> String {
        format!("{}/{post_id}", self.user_folder(user_id))
    }

    pub fn describe(&self, key: &str) -> String {
        self.lake.describe(key)
    }
}

/// Whether a file name is an image a palette reads: `.jpg`, `.jpeg`, `.png` or `.webp`, in
/// any case (SPEC §5). The bytes decide the format later.
pub fn is_image_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && ["jpg", "jpeg", "png", "webp"]
            .iter()
            .any(|e| ext.eq_ignore_ascii_case(e))
}

/// A creator's folder listing grouped by post: post_id → the files directly in
/// `<user>/<post_id>/`, in key order. Files elsewhere (`profile.jpg`, deeper folders) are
/// left out; so is nothing else, callers filter by name.
pub fn files_by_post(
    user_folder: &str,
    objects: Vec<LakeObject>,
) -> HashMap<String, Vec<LakeObject>> {
    let head = format!("{user_folder}/");
    let mut posts: HashMap<String, Vec<LakeObject>> = HashMap::new();
    for object in objects {
        let Some(rest) = object.key.strip_prefix(&head) else {
            continue;
        };
        let Some((post, name)) = rest.split_once('/') else {
            continue;
        };
        if post.is_empty() || name.is_empty() || name.contains('/') {
            continue;
        }
        posts.entry(post.to_string()).or_default().push(object);
    }
    posts
}

/// The file extension for an image's bytes, from its magic number: `jpg` (FF D8 FF),
/// `png` (the 8-byte PNG signature) or `webp` (RIFF….WEBP); None for anything else. The
/// server's Content-Type is not trusted: CDNs label error pages `image/jpeg` too.
pub fn image_extension(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

/// Whether an id can name a file or folder in the store: letters, digits, `_`, `-` and
/// `.`, not starting with `.` (so never `..`), at most 128 bytes. Instagram's ids are
/// digits; anything else in a lake that igpipe does not control is refused, never joined
/// into a path.
pub fn is_safe_name(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The file name of a key: what follows the last `/`.
pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_recognised_in_any_case() {
        for name in ["original.jpg", "1790.JPEG", "thumbnail.Png", "x.webp"] {
            assert!(is_image_name(name), "{name}");
        }
        for name in ["clip.mp4", "original.jpg.tmp", ".jpg", "jpg", "notes.txt"] {
            assert!(!is_image_name(name), "{name}");
        }
    }

    #[test]
    fn magic_numbers_decide_the_extension() {
        assert_eq!(image_extension(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("jpg"));
        assert_eq!(image_extension(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(image_extension(b"RIFF\x10\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(image_extension(b"RIFF\x10\0\0\0AVI LIST"), None);
        assert_eq!(image_extension(b"<html>not found</html>"), None);
        assert_eq!(image_extension(b""), None);
    }

    #[test]
    fn only_plain_ids_name_files() {
        assert!(is_safe_name("17895695668004550"));
        assert!(is_safe_name("a_b-1.2"));
        for bad in [
            "",
            "..",
            ".hidden",
            "a/b",
            "../../etc",
            "a b",
            "x\ny",
            &"9".repeat(129),
        ] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_listing_groups_by_post_and_skips_other_files() {
        let listing = [
            "s/42/profile.jpg",
            "s/42/p1/original.jpg",
            "s/42/p1/c2.png",
            "s/42/p2/deep/x.jpg",
            "s/42/p3/thumbnail.webp",
        ]
        .map(LakeObject::named)
        .to_vec();
        let posts = files_by_post("s/42", listing);
        let mut keys: Vec<(&str, Vec<&str>)> = posts
            .iter()
            .map(|(p, files)| {
                (
                    p.as_str(),
                    files.iter().map(|f| file_name(&f.key)).collect(),
                )
            })
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                ("p1", vec!["original.jpg", "c2.png"]),
                ("p3", vec!["thumbnail.webp"])
            ]
        );
    }
}
