//! Which rows a run writes and removes: pure, so every rule is table-tested here.
//!
//! Inputs are what the run parsed (each candidate's identity and rank) and the old
//! manifest (where each key's row lives now). Outputs are the winner of every touched
//! identity, the losing keys, and the keys to remove from each partition.

use super::{identity, old_identity, Identity, Parsed, Source};
use crate::contracts::manifest::ManifestEntry;
use polars::prelude::{PlHashMap, PlHashSet};
use std::collections::BTreeMap;

/// What the run does to the table.
pub struct Resolution<'a> {
    /// One candidate per identity: newest last-modified, then the greater key (SPEC §5).
    pub winners: PlHashMap<Identity<'a>, &'a Parsed<'a>>,
    /// Source keys of parsed candidates that lost to another file with the same identity.
    pub losers: PlHashSet<&'a str>,
    /// Per partition directory, the key values whose old rows go (replaced or deleted).
    pub removals: BTreeMap<&'a str, PlHashSet<&'a str>>,
    /// Touched identities with no winner left: their rows are deleted.
    pub rows_deleted: u64,
}

/// Identities whose row may change: every freshly parsed row, the old rows of keys that
/// were re-read and parsed, and the rows of vanished keys. A changed file that no longer
/// parses keeps its previous row (nothing is lost), so it touches nothing.
pub fn touched_identities<'a, S: Source>(
    parsed: &'a [Parsed<'a>],
    vanished: &[&'a ManifestEntry],
    manifest_index: &PlHashMap<&str, &'a ManifestEntry>,
) -> PlHashSet<Identity<'a>> {
    let mut touched: PlHashSet<Identity> =
        PlHashSet::with_capacity_and_hasher(parsed.len(), Default::default());
    for p in parsed {
        touched.insert(identity::<S>(&p.partition, &p.key_value));
        if let Some(entry) = manifest_index.get(p.object.key.as_str()) {
            touched.extend(old_identity::<S>(entry));
        }
    }
    for entry in vanished {
        touched.extend(old_identity::<S>(entry));
    }
    touched
}

/// Newest last-modified wins, then the greater key (SPEC §5).
fn rank<'a>(p: &Parsed<'a>) -> (i64, &'a str) {
    (p.object.last_modified_us, p.object.key.as_str())
}

pub fn resolve<'a, S: Source>(
    parsed: &'a [Parsed<'a>],
    old_manifest: &'a [ManifestEntry],
    touched: &PlHashSet<Identity<'a>>,
) -> Resolution<'a> {
    let mut winners: PlHashMap<Identity, &Parsed> =
        PlHashMap::with_capacity_and_hasher(parsed.len(), Default::default());
    for p in parsed {
        let slot = winners
            .entry(identity::<S>(&p.partition, &p.key_value))
            .or_insert(p);
        if rank(p) > rank(slot) {
            *slot = p;
        }
    }
    let losers: PlHashSet<&str> = parsed
        .iter()
        .filter(|p| !std::ptr::eq(winners[&identity::<S>(&p.partition, &p.key_value)], *p))
        .map(|p| p.object.key.as_str())
        .collect();
    let mut removals: BTreeMap<&str, PlHashSet<&str>> = BTreeMap::new();
    for entry in old_manifest {
        if let (Some(id), Some(partition), Some(key)) = (
            old_identity::<S>(entry),
            &entry.staged_partition,
            &entry.staged_key,
        ) {
            if touched.contains(&id) {
                removals.entry(partition).or_default().insert(key);
            }
        }
    }
    // Also clear the winners' own keys where they land, so a re-run after a crash between
    // the partition writes and the manifest write cannot leave a row twice.
    for w in winners.values() {
        removals
            .entry(&*w.partition)
            .or_default()
            .insert(w.key_value.as_str());
    }
    let rows_deleted = touched
        .iter()
        .filter(|id| !winners.contains_key(*id))
        .count() as u64;
    Resolution {
        winners,
        losers,
        removals,
        rows_deleted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::stage_posts::Posts;
    use crate::commands::stage_stats::Stats;
    use crate::contracts::manifest::Status;
    use crate::lake::LakeObject;
    use std::sync::Arc;

    fn object(key: &str, modified: i64) -> LakeObject {
        LakeObject {
            key: key.into(),
            size: 1,
            last_modified_us: modified,
            etag: None,
        }
    }

    fn parsed<'a>(object: &'a LakeObject, key_value: &str, partition: &str) -> Parsed<'a> {
        Parsed {
            object,
            key_value: key_value.into(),
            partition: Arc::from(partition),
        }
    }

    fn staged(source: &str, key_value: &str, partition: &str) -> ManifestEntry {
        ManifestEntry {
            source_key: source.into(),
            etag: None,
            size: 1,
            last_modified_us: 0,
            status: Status::Ok,
            reason: None,
            staged_key: Some(key_value.into()),
            staged_partition: Some(partition.into()),
        }
    }

    /// (partition, sorted key values) of every removal, for comparing with a table.
    fn removals(r: &Resolution) -> Vec<(String, Vec<String>)> {
        r.removals
            .iter()
            .map(|(p, keys)| {
                let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                keys.sort();
                (p.to_string(), keys)
            })
            .collect()
    }

    fn owned(table: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        table
            .iter()
            .map(|(p, keys)| (p.to_string(), keys.iter().map(|k| k.to_string()).collect()))
            .collect()
    }

    #[test]
    fn newest_file_wins_then_greater_key() {
        let (a, b, c) = (
            object("posts/1/a.json", 5),
            object("posts/1/b.json", 9),
            object("posts/2/c.json", 9),
        );
        let (d, e) = (object("posts/3/d.json", 7), object("posts/3/e.json", 7));
        let candidates = vec![
            parsed(&a, "p1", "post_month=2024-01"),
            parsed(&b, "p1", "post_month=2024-02"), // same post, newer, other month
            parsed(&c, "p2", "post_month=2024-01"),
            parsed(&d, "p3", "post_month=2024-01"),
            parsed(&e, "p3", "post_month=2024-01"), // same time: the greater key wins
        ];
        let touched = touched_identities::<Posts>(&candidates, &[], &PlHashMap::default());
        let r = resolve::<Posts>(&candidates, &[], &touched);
        let mut winners: Vec<(&str, &str)> = r
            .winners
            .values()
            .map(|p| (p.key_value.as_str(), p.object.key.as_str()))
            .collect();
        winners.sort();
        assert_eq!(
            winners,
            [
                ("p1", "posts/1/b.json"),
                ("p2", "posts/2/c.json"),
                ("p3", "posts/3/e.json")
            ]
        );
        let mut losers: Vec<&str> = r.losers.iter().copied().collect();
        losers.sort();
        assert_eq!(losers, ["posts/1/a.json", "posts/3/d.json"]);
        assert_eq!(r.rows_deleted, 0);
        assert_eq!(
            removals(&r),
            owned(&[
                ("post_month=2024-01", &["p2", "p3"]),
                ("post_month=2024-02", &["p1"])
            ])
        );
    }

    #[test]
    fn a_post_that_moved_month_leaves_its_old_partition() {
        let old = vec![staged("posts/1/a.json", "p1", "post_month=2024-01")];
        let index: PlHashMap<&str, &ManifestEntry> =
            old.iter().map(|e| (e.source_key.as_str(), e)).collect();
        let a = object("posts/1/a.json", 9);
        let candidates = vec![parsed(&a, "p1", "post_month=2024-03")];
        let touched = touched_identities::<Posts>(&candidates, &[], &index);
        let r = resolve::<Posts>(&candidates, &old, &touched);
        assert_eq!(
            removals(&r),
            owned(&[
                ("post_month=2024-01", &["p1"]),
                ("post_month=2024-03", &["p1"])
            ])
        );
        assert_eq!(r.rows_deleted, 0);
    }

    #[test]
    fn a_vanished_key_deletes_its_row_unless_a_rival_still_has_it() {
        let old = vec![
            staged("posts/1/a.json", "p1", "post_month=2024-01"),
            staged("posts/9/z.json", "p9", "post_month=2024-01"),
        ];
        let index: PlHashMap<&str, &ManifestEntry> =
            old.iter().map(|e| (e.source_key.as_str(), e)).collect();
        let vanished = vec![&old[0], &old[1]];
        // p1 has a rival file (an unchanged key re-read because it shares the identity).
        let rival = object("posts/1/b.json", 3);
        let candidates = vec![parsed(&rival, "p1", "post_month=2024-01")];
        let touched = touched_identities::<Posts>(&candidates, &vanished, &index);
        let r = resolve::<Posts>(&candidates, &old, &touched);
        assert_eq!(r.rows_deleted, 1, "p9 goes; p1 stays with its rival's row");
        assert_eq!(
            removals(&r),
            owned(&[("post_month=2024-01", &["p1", "p9"])])
        );
        assert_eq!(r.winners.len(), 1);
    }

    #[test]
    fn stats_identities_are_per_date() {
        let (a, b) = (
            object("stats/1/2024-05-01.json", 1),
            object("stats/1/2024-05-02.json", 1),
        );
        let candidates = vec![
            parsed(&a, "1", "date=2024-05-01"),
            parsed(&b, "1", "date=2024-05-02"),
        ];
        let touched = touched_identities::<Stats>(&candidates, &[], &PlHashMap::default());
        let r = resolve::<Stats>(&candidates, &[], &touched);
        assert_eq!(r.winners.len(), 2, "one user, two days: two rows");
        assert!(r.losers.is_empty());
        let as_posts = touched_identities::<Posts>(&candidates, &[], &PlHashMap::default());
        assert_eq!(
            resolve::<Posts>(&candidates, &[], &as_posts).winners.len(),
            1
        );
    }
}
