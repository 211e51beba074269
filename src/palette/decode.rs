//! Image bytes → a fixed sample of 8-bit RGB pixels (SPEC §5 "Palettes").
//!
//! Formats are detected from the bytes (JPEG, PNG, WebP; anything else is refused), decoded
//! with the `image` crate under limits against decompression bombs, and sampled on a fixed
//! grid of at most 32 × 32 pixels: the grid keeps each colour's share of the image's area,
//! costs nothing next to decoding, and bounds a creator's sample at 25 × 1,024 pixels.

use image::{DynamicImage, GenericImageView, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Pixels sampled per image side: at most GRID × GRID per image.
pub const GRID: u32 = 32;

/// Refuse images larger than this on either side (Instagram serves at most 1,440 px)...
const MAX_SIDE: u32 = 12_000;
/// ...or whose decoding would allocate more than this.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// Why an image gave no pixels; the text becomes the reject row's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a JPEG, PNG or WebP image (detected from its first bytes)")]
    UnknownFormat,
    #[error("truncated JPEG: the data ends before the end-of-image marker")]
    TruncatedJpeg,
    #[error("{format:?} does not decode: {reason}")]
    Undecodable { format: ImageFormat, reason: String },
}

/// Decodes `bytes` and returns the image's sample grid, alpha dropped, other colour models
/// (grey, CMYK, 16-bit) converted to 8-bit RGB the way `image` converts them.
pub fn sample(bytes: &[u8]) -> Result<Vec<[u8; 3]>, DecodeError> {
    let format = detect(bytes)?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // image's JPEG decoder fills a cut-off scan with grey instead of failing.
        return Err(DecodeError::TruncatedJpeg);
    }
    let image = decode(bytes, format).map_err(|e| DecodeError::Undecodable {
        format,
        reason: e.to_string(),
    })?;
    Ok(grid_sample(&image))
}

fn detect(bytes: &[u8]) -> Result<ImageFormat, DecodeError> {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(f),
        _ => Err(DecodeError::UnknownFormat),
    }
}

fn decode(bytes: &[u8], format: ImageFormat) -> image::ImageResult<DynamicImage> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    reader.decode()
}

/// The pixels at the centres of a GRID × GRID grid of equal cells (every pixel of an image
/// smaller than the grid).
fn grid_sample(image: &DynamicImage) -> Vec<[u8; 3]> {
    let (width, height) = image.dimensions();
    let (cols, rows) = (width.min(GRID), height.min(GRID));
    let centre = |i: u32, cells: u32, side: u32| {
        ((2 * u64::from(i) + 1) * u64::from(side) / (2 * u64::from(cells))) as u32
    };
    let mut pixels = Vec::with_capacity((cols * rows) as usize);
    for row in 0..rows {
        let y = centre(row, rows, height);
        for col in 0..cols {
            let [r, g, b, _alpha] = image.get_pixel(centre(col, cols, width), y).0;
            pixels.push([r, g, b]);
        }
    }
    pixels
}

/// Whether a JPEG's marker structure reaches its end-of-image marker (FF D9). Walks the
/// length-prefixed segments (so an EXIF thumbnail's own FF D9 does not count) and scans
/// entropy-coded data for the next marker; bytes after the end marker are allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after SOI (FF D8), which detection has checked
    loop {
        // Fill bytes (FF FF …) may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        at += 2;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue, // no length
            _ => {}
        }
        let Some(len) = bytes
            .get(at..at + 2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return false;
        };
        at += len;
        if marker == 0xDA {
            // Start of scan: entropy-coded data runs to the next FF not followed by 00 or RSTn.
            loop {
                let Some(offset) = bytes
                    .get(at..)
                    .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
                else {
                    return false;
                };
                at += offset;
                match bytes.get(at + 1) {
                    None => return false,
                    Some(0x00 | 0xD0..=0xD7) => at += 2,
                    Some(_) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, Rgba};

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn halves() -> DynamicImage {
        // Left half red, right half blue.
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(64, 48, |x, _| {
            if x < 32 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        }))
    }

    #[test]
    fn the_grid_keeps_area_shares() {
        let pixels = sample(&encode(&halves(), ImageFormat::Png)).unwrap();
        assert_eq!(pixels.len(), (GRID * GRID) as usize);
        let red = pixels.iter().filter(|p| **p == [255, 0, 0]).count();
        assert_eq!(red * 2, pixels.len());
    }

    #[test]
    fn small_images_give_every_pixel() {
        let tiny = DynamicImage::ImageRgb8(ImageBuffer::from_pixel(3, 2, Rgb([1, 2, 3])));
        assert_eq!(
            sample(&encode(&tiny, ImageFormat::Png)).unwrap(),
            vec![[1, 2, 3]; 6]
        );
    }

    #[test]
    fn alpha_is_dropped_not_composited() {
        let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(4, 4, Rgba([200, 100, 50, 0])));
        assert_eq!(
            sample(&encode(&rgba, ImageFormat::Png)).unwrap()[0],
            [200, 100, 50]
        );
    }

    #[test]
    fn sixteen_bit_and_grey_become_eight_bit_rgb() {
        let deep = DynamicImage::ImageRgb16(ImageBuffer::from_pixel(4, 4, Rgb([65535, 32896, 0])));
        assert_eq!(
            sample(&encode(&deep, ImageFormat::Png)).unwrap()[0],
            [255, 128, 0]
        );
        let grey = DynamicImage::ImageLuma8(ImageBuffer::from_pixel(4, 4, image::Luma([77])));
        assert_eq!(
            sample(&encode(&grey, ImageFormat::Png)).unwrap()[0],
            [77, 77, 77]
        );
    }

    #[test]
    fn formats_come_from_the_bytes_and_unknown_ones_are_refused() {
        assert_eq!(
            sample(b"GIF89a....").unwrap_err(),
            DecodeError::UnknownFormat
        );
        assert_eq!(sample(b"").unwrap_err(), DecodeError::UnknownFormat);
        assert!(sample(&encode(&halves(), ImageFormat::Jpeg)).is_ok());
        assert!(sample(&encode(&halves(), ImageFormat::WebP)).is_ok());
    }

    #[test]
    fn a_cut_off_jpeg_fails_even_though_the_decoder_would_fill_it_in() {
        let jpeg = encode(&halves(), ImageFormat::Jpeg);
        assert!(jpeg_is_complete(&jpeg));
        for cut in [jpeg.len() - 2, jpeg.len() / 2, 200] {
            assert_eq!(
                sample(&jpeg[..cut]).unwrap_err(),
                DecodeError::TruncatedJpeg,
                "cut at {cut}"
            );
        }
        let mut padded = jpeg.clone();
        padded.extend_from_slice(b"\0\0trailing");
        assert!(
            sample(&padded).is_ok(),
            "bytes after the end marker are allowed"
        );
    }

    #[test]
    fn cut_off_png_and_webp_fail() {
        for format in [ImageFormat::Png, ImageFormat::WebP] {
            let bytes = encode(&halves(), format);
            let err = sample(&bytes[..bytes.len() / 2]).unwrap_err();
            assert!(
                matches!(err, DecodeError::Undecodable { .. }),
                "{format:?}: {err:?}"
            );
        }
    }
}
