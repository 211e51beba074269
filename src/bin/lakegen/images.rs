//! `lakegen --images`: photo-like test images with known dominant colours.
//!
//! Each image has 3–8 base colours, each covering a known share of the area in organic,
//! blob-like regions (level sets of a smooth random field, cut at the shares' quantiles so
//! the shares are exact), with a soft gradient and per-pixel noise on top, like a photo
//! of a few coloured things. The truth (base colours and shares) goes to
//! `lakegen/images.jsonl`. A pool of distinct images is rendered once and hard-linked into
//! the creators' post folders, so a benchmark lake of 100,000 images costs the disk a few
//! hundred.

use super::Rng;
use image::{DynamicImage, ImageFormat, RgbImage};
use rayon::prelude::*;
use serde_json::json;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Which encodings the pool holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Formats {
    /// Photo-like JPEGs only (quality 88, 4:2:0): the palette benchmark's main case.
    Jpeg,
    /// Mostly JPEG, plus PNG with alpha, grayscale JPEG, CMYK JPEG, lossless WebP, 16-bit
    /// PNG and a few corrupt files (truncated JPEG, HTML error page).
    Mixed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    PngRgba,
    Png16,
    GreyJpeg,
    CmykJpeg,
    WebP,
    TruncatedJpeg,
    NotAnImage,
}

impl Kind {
    fn draw(formats: Formats, rng: &mut Rng) -> Kind {
        if formats == Formats::Jpeg {
            return Kind::Jpeg;
        }
        match rng.below(100) {
            0..=59 => Kind::Jpeg,
            60..=71 => Kind::PngRgba,
            72..=83 => Kind::WebP,
            84..=88 => Kind::GreyJpeg,
            89..=92 => Kind::CmykJpeg,
            93..=95 => Kind::Png16,
            96..=97 => Kind::TruncatedJpeg,
            _ => Kind::NotAnImage,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Kind::PngRgba | Kind::Png16 => "png",
            Kind::WebP => "webp",
            _ => "jpg",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpeg",
            Kind::PngRgba => "png-rgba",
            Kind::Png16 => "png-16bit",
            Kind::GreyJpeg => "jpeg-grey",
            Kind::CmykJpeg => "jpeg-cmyk",
            Kind::WebP => "webp-lossless",
            Kind::TruncatedJpeg => "corrupt-truncated-jpeg",
            Kind::NotAnImage => "corrupt-html",
        }
    }
}

/// The texture's amplitude (± RGB units) and grain (pixels between its random values,
/// interpolated between them): with JPEG quality 88 and 4:2:0, a 1080 px image is about
/// 235 KB, the size of the agency's photos. (Decoding cost here follows the bytes: about
/// 6–7 ms for such an image whatever the texture, bench/kmeans.)
const TEXTURE_AMPLITUDE: f64 = 24.0;
const TEXTURE_GRAIN: u32 = 4;

/// Brightness texture: random values on a coarse grid, bilinearly interpolated.
struct Texture {
    side: u32,
    values: Vec<f64>,
}

impl Texture {
    fn new(rng: &mut Rng, size: u32) -> Texture {
        let side = size / TEXTURE_GRAIN + 2;
        let values = (0..side * side)
            .map(|_| (rng.below(2001) as f64 / 1000.0 - 1.0) * TEXTURE_AMPLITUDE)
            .collect();
        Texture { side, values }
    }

    fn at(&self, x: u32, y: u32) -> f64 {
        let (fx, fy) = (
            f64::from(x) / f64::from(TEXTURE_GRAIN),
            f64::from(y) / f64::from(TEXTURE_GRAIN),
        );
        let (x0, y0) = (fx as u32, fy as u32);
        let (tx, ty) = (fx - f64::from(x0), fy - f64::from(y0));
        let v = |x: u32, y: u32| {
            self.values[(y.min(self.side - 1) * self.side + x.min(self.side - 1)) as usize]
        };
        let top = v(x0, y0) * (1.0 - tx) + v(x0 + 1, y0) * tx;
        let bottom = v(x0, y0 + 1) * (1.0 - tx) + v(x0 + 1, y0 + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    }
}

/// An image of `size` × `size` with its base colours and their exact area shares.
pub fn render(rng: &mut Rng, size: u32, colours: usize) -> (RgbImage, Vec<([u8; 3], f64)>) {
    let bases = distinct_colours(rng, colours);
    let weights: Vec<u64> = bases.iter().map(|_| 1 + rng.below(4)).collect();
    // Regions are drawn at a quarter of the size and scaled up by 4, so each share is an
    // exact count of 4×4 blocks.
    let cells = (size / 4).max(1);
    let total = u64::from(cells * cells);
    let weight_sum: u64 = weights.iter().sum();
    let mut counts: Vec<u64> = weights.iter().map(|w| total * w / weight_sum).collect();
    counts[0] += total - counts.iter().sum::<u64>();
    let field = smooth_field(rng, cells);
    let mut order: Vec<u32> = (0..cells * cells).collect();
    order.sort_unstable_by(|&a, &b| field[a as usize].total_cmp(&field[b as usize]));
    let mut label = vec![0u8; order.len()];
    let mut next = 0usize;
    for (colour, &count) in counts.iter().enumerate() {
        for &cell in &order[next..next + count as usize] {
            label[cell as usize] = colour as u8;
        }
        next += count as usize;
    }
    let texture = Texture::new(&mut Rng::new(rng.next(), 7), size);
    let image = RgbImage::from_fn(size, size, |x, y| {
        let cell = ((y / 4).min(cells - 1) * cells + (x / 4).min(cells - 1)) as usize;
        let base = bases[label[cell] as usize];
        // ±8 across the image, and a fine texture in brightness (as in photos: fabric,
        // skin, foliage; a camera's colour noise is mostly filtered out). Both average out
        // over a region, so the base colours stay the truth.
        let gradient = (f64::from(x + y) / f64::from(2 * size) - 0.5) * 16.0;
        let shade = gradient + texture.at(x, y);
        image::Rgb(base.map(|c| (f64::from(c) + shade).round().clamp(0.0, 255.0) as u8))
    });
    // The drawn area is a whole number of cells; a size not divisible by 4 leaves a thin
    // border in the last cells' colours, which moves shares by under 1 %.
    let truth = bases
        .iter()
        .zip(&counts)
        .map(|(&c, &n)| (c, n as f64 / total as f64))
        .collect();
    (image, truth)
}

/// `n` colours at least 70 RGB units apart, each channel in 24..=231 (so the gradient and
/// noise never clip).
fn distinct_colours(rng: &mut Rng, n: usize) -> Vec<[u8; 3]> {
    let mut colours: Vec<[u8; 3]> = Vec::new();
    while colours.len() < n {
        let c = [0; 3].map(|_: u8| 24 + rng.below(208) as u8);
        let far = colours.iter().all(|o| {
            let d: i32 = (0..3)
                .map(|i| (i32::from(c[i]) - i32::from(o[i])).pow(2))
                .sum();
            d >= 70 * 70
        });
        if far || colours.len() > 64 {
            colours.push(c);
        }
    }
    colours
}

/// A smooth random field on cells × cells: a few random plane waves summed.
fn smooth_field(rng: &mut Rng, cells: u32) -> Vec<f32> {
    let unit = |rng: &mut Rng| (rng.below(1 << 20) as f64) / f64::from(1 << 20);
    let waves: Vec<[f64; 4]> = (0..6)
        .map(|_| {
            let angle = unit(rng) * std::f64::consts::TAU;
            let frequency = (1.0 + unit(rng) * 4.0) * std::f64::consts::TAU / f64::from(cells);
            [
                frequency * angle.cos(),
                frequency * angle.sin(),
                unit(rng) * std::f64::consts::TAU,
                0.5 + unit(rng),
            ]
        })
        .collect();
    (0..cells * cells)
        .map(|i| {
            let (x, y) = (f64::from(i % cells), f64::from(i / cells));
            waves
                .iter()
                .map(|w| w[3] * (w[0] * x + w[1] * y + w[2]).sin())
                .sum::<f64>() as f32
        })
        .collect()
}

/// The bytes of `image` in `kind`'s encoding.
pub fn encode(image: &RgbImage, kind: Kind) -> anyhow::Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let jpeg = |image: &DynamicImage, out: &mut Cursor<Vec<u8>>| {
        image::codecs::jpeg::JpegEncoder::new_with_quality(out, 88).encode_image(image)
    };
    match kind {
        Kind::Jpeg => return photo_jpeg(image),
        Kind::GreyJpeg => jpeg(
            &DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(image.clone()).to_luma8()),
            &mut out,
        )?,
        Kind::PngRgba => {
            let mut rgba = DynamicImage::ImageRgb8(image.clone()).to_rgba8();
            for (x, _, p) in rgba.enumerate_pixels_mut() {
                p.0[3] = (x % 256) as u8; // alpha that a compositor would blend; igpipe drops it
            }
            DynamicImage::ImageRgba8(rgba).write_to(&mut out, ImageFormat::Png)?
        }
        Kind::Png16 => DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(image.clone()).to_rgb16())
            .write_to(&mut out, ImageFormat::Png)?,
        Kind::WebP => {
            DynamicImage::ImageRgb8(image.clone()).write_to(&mut out, ImageFormat::WebP)?
        }
        Kind::CmykJpeg => return cmyk_jpeg(image),
        Kind::TruncatedJpeg => {
            jpeg(&DynamicImage::ImageRgb8(image.clone()), &mut out)?;
            let mut bytes = out.into_inner();
            bytes.truncate(bytes.len() * 2 / 3);
            return Ok(bytes);
        }
        Kind::NotAnImage => {
            return Ok(b"<html><body>403 Forbidden: URL signature expired</body></html>".to_vec())
        }
    }
    Ok(out.into_inner())
}

/// A JPEG as cameras and Instagram write them: quality 88, chroma subsampled 4:2:0
/// (image's own encoder writes 4:2:2, which costs a decoder a third more).
fn photo_jpeg(image: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 88);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder.encode(
        image.as_raw(),
        image.width() as u16,
        image.height() as u16,
        jpeg_encoder::ColorType::Rgb,
    )?;
    Ok(out)
}

/// A CMYK JPEG (as print-oriented tools write them), with C = 255 − R, M = 255 − G,
/// Y = 255 − B and no black, so it decodes back to the same RGB.
fn cmyk_jpeg(image: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let cmyk: Vec<u8> = image
        .pixels()
        .flat_map(|p| [255 - p.0[0], 255 - p.0[1], 255 - p.0[2], 0])
        .collect();
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 88);
    encoder.encode(
        &cmyk,
        image.width() as u16,
        image.height() as u16,
        jpeg_encoder::ColorType::Cmyk,
    )?;
    Ok(out)
}

/// One image of the pool, on disk.
pub struct PoolImage {
    pub path: PathBuf,
}

/// Renders `count` images into `root/lakegen/image-pool/` and their truth into
/// `root/lakegen/images.jsonl`.
pub fn write_pool(
    root: &Path,
    seed: u64,
    count: u32,
    size: u32,
    formats: Formats,
) -> anyhow::Result<Vec<PoolImage>> {
    let dir = root.join("lakegen/image-pool");
    std::fs::create_dir_all(&dir)?;
    let made: Vec<anyhow::Result<(PoolImage, String)>> = (0..count)
        .into_par_iter()
        .map(|i| {
            let mut rng = Rng::new(seed ^ 0x1_3A6E, u64::from(i));
            let kind = Kind::draw(formats, &mut rng);
            let colours = 3 + rng.below(6) as usize;
            let (image, truth) = render(&mut rng, size, colours);
            let bytes = encode(&image, kind)?;
            let path = dir.join(format!("{i}.{}", kind.extension()));
            std::fs::write(&path, &bytes)?;
            let line = json!({
                "pool": i,
                "file": format!("lakegen/image-pool/{i}.{}", kind.extension()),
                "format": kind.name(),
                "bytes": bytes.len(),
                "colours": truth.iter().map(|(c, share)| json!({"rgb": c, "share": share})).collect::<Vec<_>>(),
            });
            Ok((PoolImage { path }, line.to_string()))
        })
        .collect();
    let mut pool = Vec::new();
    let mut lines = String::new();
    for item in made {
        let (image, line) = item?;
        pool.push(image);
        lines.push_str(&line);
        lines.push('\n');
    }
    std::fs::write(root.join("lakegen/images.jsonl"), lines)?;
    Ok(pool)
}

/// Puts pool image `image` at `target` (a hard link; a copy where links fail).
pub fn place(image: &PoolImage, target: &Path) -> anyhow::Result<()> {
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(target);
    if std::fs::hard_link(&image.path, target).is_err() {
        std::fs::copy(&image.path, target)?;
    }
    Ok(())
}

/// The file names a post's folder holds in the image store, by its JSON: `original` for
/// IMAGE and STORY_IMAGE, each child's id for a carousel, `thumbnail` for videos.
pub fn image_stems(doc: &serde_json::Value) -> Vec<String> {
    match doc["media_type"].as_str() {
        Some("CAROUSEL_ALBUM") => doc["children"]["data"]
            .as_array()
            .map(|children| {
                children
                    .iter()
                    .filter(|c| c["media_type"] != "VIDEO")
                    .filter_map(|c| c["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        Some("VIDEO" | "STORY_VIDEO") => vec!["thumbnail".into()],
        Some(_) => vec!["original".into()],
        None => Vec::new(),
    }
}
