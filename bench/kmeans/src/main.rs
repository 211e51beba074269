//! Times igpipe's palette clustering (src/palette/kmeans.rs, compiled in here as it is)
//! against linfa-clustering's KMeans on the same creators' pixel samples, and prints a
//! table: milliseconds per creator and the inertia each reaches.
//!
//! Input: a folder of images (e.g. lakegen's `lakegen/image-pool/` of 1080 px JPEGs);
//! each creator is 25 of them, sampled as color-palette samples them.

#[path = "../../../src/palette/kmeans.rs"]
#[allow(dead_code)]
mod kmeans;
#[path = "../../../src/palette/decode.rs"]
#[allow(dead_code)]
mod decode;

use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use std::time::Instant;

fn main() {
    let folder = std::env::args().nth(1).expect("usage: kmeans-bench <folder of images>");
    let mut paths: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let files: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    // Best of three passes: this machine is shared and noisy.
    let mut decode_ms = f64::INFINITY;
    let mut samples: Vec<Vec<[u8; 3]>> = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        samples = files.iter().filter_map(|b| decode::sample(b).ok()).collect();
        decode_ms = decode_ms.min(started.elapsed().as_secs_f64() * 1000.0 / files.len() as f64);
    }
    for (space, label) in [(zune_core::colorspace::ColorSpace::RGB, "RGB"), (zune_core::colorspace::ColorSpace::YCbCr, "YCbCr"), (zune_core::colorspace::ColorSpace::Luma, "Luma")] {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let started = Instant::now();
            for bytes in files.iter().filter(|b| b.starts_with(&[0xFF, 0xD8])) {
                let options = zune_core::options::DecoderOptions::default().jpeg_set_out_colorspace(space);
                let mut d = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes.as_slice()), options);
                let _ = std::hint::black_box(d.decode());
            }
            best = best.min(started.elapsed().as_secs_f64() * 1000.0 / files.len() as f64);
        }
        println!("zune-jpeg to {label}: {best:.2} ms per image");
    }
    let mean_kb = files.iter().map(Vec::len).sum::<usize>() as f64 / files.len() as f64 / 1024.0;
    println!("decode + 32x32 sample: {decode_ms:.2} ms per image ({} images, {mean_kb:.0} KB on average, one thread)", files.len());
    let creators: Vec<Vec<[u8; 3]>> = samples.chunks(25).filter(|c| c.len() == 25).map(|c| c.concat()).collect();
    if creators.is_empty() {
        println!("(fewer than 25 decodable images: no clustering figures)");
        return;
    }
    let points = creators[0].len();
    println!("{} creators of 25 images, {points} sampled pixels each, k = 6\n", creators.len());
    println!("| implementation                                   | ms per creator | mean inertia |");
    println!("|--------------------------------------------------|----------------|--------------|");

    let (ms, inertia) = time(&creators, |pixels| kmeans::cluster(pixels, 6, 42).inertia);
    println!("| igpipe: k-means++ + Lloyd, fitted on <= 8,192    | {ms:>14.2} | {inertia:>12.0} |");
    for (label, runs, tolerance) in [
        ("linfa 0.8, n_runs 1, tolerance 1e-4 (default)", 1, 1e-4),
        ("linfa 0.8, n_runs 1, tolerance 0.5 RGB units", 1, 0.5),
        ("linfa 0.8, n_runs 10 (default), tolerance 1e-4", 10, 1e-4),
    ] {
        let (ms, inertia) = time(&creators, |pixels| linfa_inertia(pixels, runs, tolerance));
        println!("| {label:<48} | {ms:>14.2} | {inertia:>12.0} |");
    }
}

fn time(creators: &[Vec<[u8; 3]>], cluster: impl Fn(&[[u8; 3]]) -> f64) -> (f64, f64) {
    let started = Instant::now();
    let total: f64 = creators.iter().map(|c| cluster(c)).sum();
    let ms = started.elapsed().as_secs_f64() * 1000.0 / creators.len() as f64;
    (ms, total / creators.len() as f64)
}

fn linfa_inertia(pixels: &[[u8; 3]], runs: usize, tolerance: f64) -> f64 {
    let data = Array2::from_shape_fn((pixels.len(), 3), |(i, c)| f64::from(pixels[i][c]));
    let dataset = DatasetBase::from(data);
    let model = KMeans::params_with_rng(6, Xoshiro256Plus::seed_from_u64(42))
        .n_runs(runs)
        .max_n_iterations(100)
        .tolerance(tolerance)
        .init_method(KMeansInit::KMeansPlusPlus)
        .fit(&dataset)
        .expect("linfa fits");
    // Measured the same way as igpipe's: squared distances to the nearest centre, summed.
    let centres = model.centroids();
    let labels = model.predict(dataset.records());
    labels
        .iter()
        .enumerate()
        .map(|(i, &c)| (0..3).map(|a| (dataset.records()[[i, a]] - centres[[c, a]]).powi(2)).sum::<f64>())
        .sum()
}
