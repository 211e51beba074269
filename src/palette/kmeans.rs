//! k-means in RGB space: seeded k-means++ initialisation, then Lloyd's iterations until no
//! point changes cluster (SPEC §2 "marts/palettes"), on a fixed subsample of a large
//! creator's pixels.
//!
//! Hand-written rather than linfa-clustering: on creators' samples (25 images × 1,024
//! pixels) linfa 0.8 with one run took 20–30× as long for the same inertia within 0.5 %
//! (`bench/kmeans`, docs/decisions.md), which would have made clustering, not decoding,
//! a large part of color-palette's cost.
//! It also keeps the palette free of ndarray and rand version coupling. Everything is in a
//! fixed order with a fixed seed, so the same pixels always give the same centres.

/// The result of one clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// Cluster centres, in RGB units (0–255), unrounded.
    pub centres: Vec<[f64; 3]>,
    /// Pixels in each cluster, aligned with `centres`.
    pub sizes: Vec<u64>,
    /// Sum of squared distances from each pixel to its centre.
    pub inertia: f64,
}

/// Lloyd stops after this many iterations even if points still move: by then the moves
/// change centres by far less than the one RGB unit the palette rounds to.
const MAX_ITERATIONS: usize = 100;

/// The centres are fitted on at most this many of the pixels (evenly spaced), then
/// every pixel is assigned to them once for the sizes and the inertia. 8,192 points place
/// a centre to well under the one RGB unit the palette rounds to, and clustering then
/// costs the same for a creator of 25 images as for one of 8, instead of 3× as much.
const FIT_POINTS: usize = 8192;

/// Clusters `pixels` into at most `k` groups. Fewer distinct colours than `k` give fewer
/// clusters (k-means++ stops when every pixel already sits on a centre).
pub fn cluster(pixels: &[[u8; 3]], k: usize, seed: u64) -> Clusters {
    if pixels.is_empty() || k == 0 {
        return Clusters {
            centres: Vec::new(),
            sizes: Vec::new(),
            inertia: 0.0,
        };
    }
    let points: Vec<[f32; 3]> = pixels.iter().map(|p| p.map(f32::from)).collect();
    // Evenly spaced at a fractional step, so the subsample does not keep to a few columns
    // of every image's grid (a whole step of 4 over 32-wide rows would).
    let fit: Vec<[f32; 3]> = if points.len() <= FIT_POINTS {
        points.clone()
    } else {
        (0..FIT_POINTS)
            .map(|i| points[i * points.len() / FIT_POINTS])
            .collect()
    };
    let mut centres = kmeans_plus_plus(&fit, k, seed);
    let mut assigned = vec![usize::MAX; fit.len()];
    for _ in 0..MAX_ITERATIONS {
        let moved = assign(&fit, &centres, &mut assigned);
        centres = means(&fit, &assigned, &centres);
        if moved == 0 {
            break;
        }
    }
    // Every pixel against the final centres, so sizes and inertia describe all of them.
    let mut assigned = vec![usize::MAX; points.len()];
    assign(&points, &centres, &mut assigned);
    let mut sizes = vec![0u64; centres.len()];
    let mut inertia = 0.0f64;
    for (point, &c) in points.iter().zip(&assigned) {
        sizes[c] += 1;
        inertia += f64::from(distance2(point, &centres[c]));
    }
    Clusters {
        centres: centres.iter().map(|c| c.map(f64::from)).collect(),
        sizes,
        inertia,
    }
}

/// k-means++ (Arthur & Vassilvitskii): the first centre uniformly at random, each next one
/// with probability proportional to its squared distance from the nearest centre so far.
fn kmeans_plus_plus(points: &[[f32; 3]], k: usize, seed: u64) -> Vec<[f32; 3]> {
    let mut rng = SplitMix64(seed);
    let mut centres = vec![points[rng.below(points.len())]];
    let mut nearest: Vec<f32> = points.iter().map(|p| distance2(p, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().map(|&d| f64::from(d)).sum();
        if total == 0.0 {
            break; // every pixel is already a centre: fewer distinct colours than k
        }
        let mut target = rng.unit() * total;
        let mut chosen = points.len() - 1;
        for (i, &d) in nearest.iter().enumerate() {
            target -= f64::from(d);
            if target < 0.0 && d > 0.0 {
                chosen = i;
                break;
            }
        }
        let centre = points[chosen];
        for (d, p) in nearest.iter_mut().zip(points) {
            *d = d.min(distance2(p, &centre));
        }
        centres.push(centre);
    }
    centres
}

/// Puts each point in its nearest centre's cluster (ties: the lower index); returns how
/// many points changed cluster.
fn assign(points: &[[f32; 3]], centres: &[[f32; 3]], assigned: &mut [usize]) -> usize {
    let mut moved = 0;
    for (point, slot) in points.iter().zip(assigned.iter_mut()) {
        let mut best = 0;
        let mut best_d = f32::INFINITY;
        for (c, centre) in centres.iter().enumerate() {
            let d = distance2(point, centre);
            if d < best_d {
                best = c;
                best_d = d;
            }
        }
        if *slot != best {
            *slot = best;
            moved += 1;
        }
    }
    moved
}

/// Each cluster's mean; a cluster that lost all its points keeps its centre.
fn means(points: &[[f32; 3]], assigned: &[usize], centres: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let mut sums = vec![[0.0f64; 3]; centres.len()];
    let mut counts = vec![0u64; centres.len()];
    for (point, &c) in points.iter().zip(assigned) {
        for axis in 0..3 {
            sums[c][axis] += f64::from(point[axis]);
        }
        counts[c] += 1;
    }
    centres
        .iter()
        .zip(sums.iter().zip(&counts))
        .map(|(old, (sum, &n))| {
            if n == 0 {
                *old
            } else {
                sum.map(|s| (s / n as f64) as f32)
            }
        })
        .collect()
}

fn distance2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    let (dr, dg, db) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    dr * dr + dg * dg + db * db
}

/// SplitMix64 (Steele, Lea & Flood): tiny, fast and the same on every platform, which is
/// all a seeded initialisation needs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(colours: &[([u8; 3], usize)]) -> Vec<[u8; 3]> {
        colours
            .iter()
            .flat_map(|&(c, n)| std::iter::repeat_n(c, n))
            .collect()
    }

    #[test]
    fn separated_colours_are_found_with_their_sizes() {
        let pixels = blocks(&[
            ([250, 10, 10], 600),
            ([10, 250, 10], 300),
            ([10, 10, 250], 100),
        ]);
        let found = cluster(&pixels, 3, 7);
        let mut pairs: Vec<([i64; 3], u64)> = found
            .centres
            .iter()
            .map(|c| c.map(|x| x.round() as i64))
            .zip(found.sizes.iter().copied())
            .collect();
        pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
        assert_eq!(
            pairs,
            [
                ([250, 10, 10], 600),
                ([10, 250, 10], 300),
                ([10, 10, 250], 100)
            ]
        );
        assert_eq!(found.inertia, 0.0);
    }

    #[test]
    fn fewer_distinct_colours_than_k_give_fewer_clusters() {
        let pixels = blocks(&[([0, 0, 0], 50), ([255, 255, 255], 50)]);
        let found = cluster(&pixels, 6, 1);
        assert_eq!(found.centres.len(), 2);
        assert_eq!(found.sizes.iter().sum::<u64>(), 100);
        assert_eq!(cluster(&blocks(&[([9, 9, 9], 5)]), 6, 1).centres.len(), 1);
        assert!(cluster(&[], 6, 1).centres.is_empty());
    }

    #[test]
    fn a_large_sample_is_fitted_on_a_subsample_and_counted_whole() {
        // 30,000 pixels in three colours, 50/30/20: more than FIT_POINTS.
        let pixels = blocks(&[
            ([250, 10, 10], 15_000),
            ([10, 250, 10], 9_000),
            ([10, 10, 250], 6_000),
        ]);
        let found = cluster(&pixels, 3, 7);
        let mut sizes = found.sizes.clone();
        sizes.sort_unstable();
        assert_eq!(sizes, [6_000, 9_000, 15_000]);
    }

    #[test]
    fn the_same_pixels_and_seed_give_the_same_clusters() {
        // A noisy gradient: many distinct colours, so the seed matters.
        let pixels: Vec<[u8; 3]> = (0..5000u32)
            .map(|i| {
                [
                    (i % 256) as u8,
                    ((i * 7) % 256) as u8,
                    ((i * 13) % 256) as u8,
                ]
            })
            .collect();
        assert_eq!(cluster(&pixels, 6, 42), cluster(&pixels, 6, 42));
        assert_eq!(cluster(&pixels, 6, 42).centres.len(), 6);
    }
}
