//! `--shard I/N`: a stable hash-partition of the creators, so N workers (Airflow mapped
//! tasks) can split a step and the same creator always lands in the same shard.
//!
//! The hash is 64-bit FNV-1a of the user id's bytes, fixed here rather than taken from
//! std's `DefaultHasher`, whose output may change between Rust releases: a creator moving
//! shard after an upgrade would be computed twice or not at all while shards of two
//! versions mix.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: u32,
    /// At least 1.
    pub count: u32,
}

impl Shard {
    /// The whole input in one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn owns(&self, user_id: &str) -> bool {
        self.count == 1
            || fnv1a(user_id.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }

    /// The partition file this shard writes: `part-0.parquet` unsharded, else
    /// `part-<I>-of-<N>.parquet`.
    pub fn part_file(&self) -> String {
        if self.count == 1 {
            crate::contracts::PART_FILE.to_string()
        } else {
            format!("part-{}-of-{}.parquet", self.index, self.count)
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N` with 0 ≤ I < N ≤ 4096.
    fn from_str(text: &str) -> Result<Shard, String> {
        let parsed = text.split_once('/').and_then(|(i, n)| {
            Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?))
        });
        match parsed {
            Some((index, count)) if (1..=4096).contains(&count) && index < count => {
                Ok(Shard { index, count })
            }
            _ => Err(format!(
                "expected I/N with 0 <= I < N <= 4096 (e.g. 0/4 for the first of four shards), got {text:?}"
            )),
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "0/0", "1", "a/b", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard::ALL.part_file(), "part-0.parquet");
        assert_eq!(
            "2/3".parse::<Shard>().unwrap().part_file(),
            "part-2-of-3.parquet"
        );
    }

    #[test]
    fn every_creator_is_in_exactly_one_shard() {
        let shards: Vec<Shard> = (0..4).map(|index| Shard { index, count: 4 }).collect();
        let mut sizes = [0; 4];
        for user in 0..4000 {
            let id = format!("1784{user:011}");
            let owners: Vec<usize> = (0..4).filter(|&s| shards[s].owns(&id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 800), "uneven shards: {sizes:?}");
    }

    #[test]
    fn the_hash_is_the_published_fnv1a() {
        // Test vectors of the FNV reference (http://www.isthe.com/chongo/tech/comp/fnv/).
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }
}
