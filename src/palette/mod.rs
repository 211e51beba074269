//! A creator's colour palette from their images (SPEC §2 "marts/palettes", §5 "Palettes"):
//! every image's pixel sample pooled, clustered with k-means, centres rounded, entries
//! merged by hex and sorted. Pure: no I/O here (color-palette feeds it bytes).

pub mod decode;
pub mod kmeans;

/// The k-means++ seed: fixed, so the same images always give the same palette.
pub const SEED: u64 = 0x1695_2021;

/// One colour of a palette.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Share of the creator's sampled pixels, rounded to 4 decimals.
    pub percentage: f64,
    pub red: u8,
    pub green: u8,
    pub blue: u8,
    /// `#rrggbb`, lower case.
    pub hex: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub n_pixels: u64,
    pub inertia: f64,
    /// Percentage descending, ties by hex.
    pub entries: Vec<Entry>,
}

/// Clusters the pooled `pixels` of one creator into at most `k` colours.
pub fn palette(pixels: &[[u8; 3]], k: usize) -> Palette {
    let clusters = kmeans::cluster(pixels, k, SEED);
    Palette {
        n_pixels: pixels.len() as u64,
        inertia: clusters.inertia,
        entries: entries(&clusters),
    }
}

/// The clusters as palette entries: centres rounded with floor(x + 0.5), shares of all
/// clustered pixels.
fn entries(clusters: &kmeans::Clusters) -> Vec<Entry> {
    let total = clusters.sizes.iter().sum::<u64>() as f64;
    // Two centres that round to the same colour are one entry (their shares added).
    let mut merged: Vec<([u8; 3], u64)> = Vec::new();
    for (centre, &size) in clusters.centres.iter().zip(&clusters.sizes) {
        if size == 0 {
            continue;
        }
        let rgb = centre.map(|x| (x + 0.5).floor().clamp(0.0, 255.0) as u8);
        match merged.iter_mut().find(|(c, _)| *c == rgb) {
            Some((_, n)) => *n += size,
            None => merged.push((rgb, size)),
        }
    }
    let mut entries: Vec<Entry> = merged
        .into_iter()
        .map(|([red, green, blue], size)| Entry {
            percentage: round4(size as f64 / total),
            red,
            green,
            blue,
            hex: format!("#{red:02x}{green:02x}{blue:02x}"),
        })
        .collect();
    entries.sort_by(|a, b| {
        b.percentage
            .total_cmp(&a.percentage)
            .then_with(|| a.hex.cmp(&b.hex))
    });
    entries
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// `palette_json`: `[{"percentage": 0.3292, "red": 221, "green": 194, "blue": 178, "hex":
/// "#ddc2b2"}, ...]`, with ", " and ": " separators and each number in its shortest
/// decimal form (Rust's `{}` for f64 is the shortest text that reads back the same: 0.5,
/// 1, 0.3292).
pub fn to_json(entries: &[Entry]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{{\"percentage\": {}, \"red\": {}, \"green\": {}, \"blue\": {}, \"hex\": \"{}\"}}",
                e.percentage, e.red, e.green, e.blue, e.hex
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(colour: [u8; 3], n: usize) -> Vec<[u8; 3]> {
        vec![colour; n]
    }

    #[test]
    fn entries_are_sorted_by_share_then_hex_and_rounded() {
        let mut pixels = repeat([221, 194, 178], 2);
        pixels.extend(repeat([0, 0, 0], 1));
        pixels.extend(repeat([255, 255, 255], 1));
        let p = palette(&pixels, 6);
        let hexes: Vec<&str> = p.entries.iter().map(|e| e.hex.as_str()).collect();
        assert_eq!(hexes, ["#ddc2b2", "#000000", "#ffffff"]);
        assert_eq!(p.entries[0].percentage, 0.5);
        assert_eq!(p.n_pixels, 4);
        assert_eq!(
            to_json(&p.entries[..1]),
            r##"[{"percentage": 0.5, "red": 221, "green": 194, "blue": 178, "hex": "#ddc2b2"}]"##
        );
    }

    #[test]
    fn thirds_round_independently() {
        let mut pixels = repeat([10, 10, 10], 1);
        pixels.extend(repeat([200, 10, 10], 1));
        pixels.extend(repeat([10, 200, 10], 1));
        let p = palette(&pixels, 3);
        assert!(p.entries.iter().all(|e| e.percentage == 0.3333));
        assert_eq!(to_json(&[]), "[]");
    }

    #[test]
    fn centres_that_round_to_one_colour_are_merged() {
        let clusters = kmeans::Clusters {
            centres: vec![[99.6, 0.0, 254.5], [100.4, 0.49, 254.6], [10.0, 10.0, 10.0]],
            sizes: vec![1, 2, 1],
            inertia: 0.0,
        };
        let merged = entries(&clusters);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (merged[0].red, merged[0].green, merged[0].blue),
            (100, 0, 255)
        );
        assert_eq!(merged[0].percentage, 0.75);
        assert_eq!(merged[1].hex, "#0a0a0a");
    }
}
