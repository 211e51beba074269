//! color-palette on images made here with known dominant colours and shares, every format
//! SPEC names, broken images, shards, and the join into the fact table.

use crate::facts::assert_ok;
use crate::frames::str_at;
use crate::harness::{LocalLake, TestLake};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::Value;
use std::io::Cursor;

const DATE: &str = "2024-05-06";

/// A post file the staging step accepts: an IMAGE on `day` of May 2024.
pub fn write_post(lake: &dyn TestLake, user: &str, post: &str, day: u32) {
    let json = format!(
        r#"{{"id": "{post}", "media_type": "IMAGE", "timestamp": "2024-05-{day:02}T10:00:00+0000", "like_count": 3}}"#
    );
    lake.write(
        &format!("instagram_graph/posts/{user}/{post}.json"),
        json.as_bytes(),
    );
}

/// Vertical bands of `colours` covering their shares of a `size`² image, with a little
/// pixel noise (±4) so JPEG and k-means see a photo, not flat fills.
pub fn bands(colours: &[([u8; 3], f64)], size: u32) -> RgbImage {
    let mut seed = 12345u32;
    RgbImage::from_fn(size, size, |x, _| {
        let at = (f64::from(x) + 0.5) / f64::from(size);
        let mut edge = 0.0;
        let mut colour = colours[colours.len() - 1].0;
        for &(c, share) in colours {
            edge += share;
            if at < edge {
                colour = c;
                break;
            }
        }
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let jitter = ((seed >> 16) % 9) as i32 - 4;
        Rgb(colour.map(|v| (i32::from(v) + jitter).clamp(0, 255) as u8))
    })
}

pub fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn jpeg(image: RgbImage) -> Vec<u8> {
    encode(DynamicImage::ImageRgb8(image), ImageFormat::Jpeg)
}

fn store_key(user: &str, post: &str, name: &str) -> String {
    format!("instagram_graph_image_store/{user}/{post}/{name}")
}

/// Palettes by user_id: the parsed palette_json.
fn palettes(lake: &dyn TestLake) -> Vec<(String, Value)> {
    let df = lake.table("marts/palettes", "date");
    let users = df.column("user_id").unwrap().str().unwrap();
    let mut out: Vec<(String, Value)> = users
        .iter()
        .map(|u| {
            let u = u.unwrap();
            let json = str_at(&df, "user_id", u, "palette_json").unwrap();
            (u.to_string(), serde_json::from_str(&json).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn palette_of<'a>(all: &'a [(String, Value)], user: &str) -> &'a Vec<Value> {
    all.iter()
        .find(|(u, _)| u == user)
        .unwrap_or_else(|| panic!("no palette for {user}: {all:?}"))
        .1
        .as_array()
        .unwrap()
}

fn rgb(entry: &Value) -> [i64; 3] {
    ["red", "green", "blue"].map(|c| entry[c].as_i64().unwrap())
}

/// The entry nearest `colour` is within 12 RGB units on each channel and holds `share` ± 0.03.
fn assert_found(palette: &[Value], colour: [u8; 3], share: f64) {
    let distance = |e: &Value| {
        let c = rgb(e);
        (0..3)
            .map(|i| (c[i] - i64::from(colour[i])).abs())
            .max()
            .unwrap()
    };
    let nearest = palette.iter().min_by_key(|e| distance(e)).unwrap();
    assert!(
        distance(nearest) <= 12,
        "{colour:?} not found in {palette:?}"
    );
    let found = nearest["percentage"].as_f64().unwrap();
    assert!(
        (found - share).abs() <= 0.03,
        "{colour:?}: share {found}, expected {share}"
    );
}

fn run_palette(lake: &dyn TestLake, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec!["color-palette", "--date", DATE];
    args.extend_from_slice(extra);
    lake.igpipe(&args)
}

const THREE: [([u8; 3], f64); 3] = [
    ([200, 40, 40], 0.5),
    ([40, 160, 60], 0.3),
    ([30, 60, 200], 0.2),
];

#[test]
fn dominant_colours_and_their_shares_are_found() {
    let lake = LocalLake::new();
    // Two images of the same three colours in the same shares, one of them as PNG.
    write_post(&lake, "100", "1", 1);
    write_post(&lake, "100", "2", 2);
    lake.write(
        &store_key("100", "1", "original.jpg"),
        &jpeg(bands(&THREE, 240)),
    );
    lake.write(
        &store_key("100", "2", "original.png"),
        &encode(
            DynamicImage::ImageRgb8(bands(&THREE, 200)),
            ImageFormat::Png,
        ),
    );
    // Six colours with default k = 6.
    let six = [
        ([230, 30, 30], 0.25),
        ([30, 200, 40], 0.2),
        ([40, 40, 220], 0.2),
        ([240, 230, 60], 0.15),
        ([20, 20, 20], 0.1),
        ([200, 80, 200], 0.1),
    ];
    write_post(&lake, "200", "3", 3);
    lake.write(
        &store_key("200", "3", "original.jpg"),
        &jpeg(bands(&six, 300)),
    );
    assert_ok(&lake.igpipe(&["stage-posts", "--date", DATE]));

    assert_ok(&run_palette(&lake, &["--k", "3"]));
    let found = palettes(&lake);
    let three = palette_of(&found, "100");
    assert_eq!(three.len(), 3, "{three:?}");
    for (colour, share) in THREE {
        assert_found(three, colour, share);
    }
    let shares: Vec<f64> = three
        .iter()
        .map(|e| e["percentage"].as_f64().unwrap())
        .collect();
    assert!(
        shares.windows(2).all(|w| w[0] >= w[1]),
        "sorted by share: {shares:?}"
    );
    let e = &three[0];
    let hex = format!("#{:02x}{:02x}{:02x}", rgb(e)[0], rgb(e)[1], rgb(e)[2]);
    assert_eq!(e["hex"], hex.as_str());

    assert_ok(&run_palette(&lake, &[]));
    let found = palettes(&lake);
    let six_found = palette_of(&found, "200");
    assert_eq!(six_found.len(), 6, "{six_found:?}");
    for (colour, share) in six {
        assert_found(six_found, colour, share);
    }
    let df = lake.table("marts/palettes", "date");
    assert_eq!(
        crate::frames::i64_at(&df, "user_id", "100", "n_images"),
        Some(2)
    );
}

#[test]
fn the_output_is_byte_identical_on_two_runs() {
    let lake = LocalLake::new();
    for (post, day) in [("1", 1), ("2", 2), ("3", 3)] {
        write_post(&lake, "100", post, day);
        let mut noisy = bands(&THREE, 160);
        for (x, y, p) in noisy.enumerate_pixels_mut() {
            p.0[1] = p.0[1].wrapping_add(((x * 7 + y * 13) % 40) as u8); // many distinct colours
        }
        lake.write(&store_key("100", post, "original.jpg"), &jpeg(noisy));
    }
    assert_ok(&lake.igpipe(&["stage-posts", "--date", DATE]));
    let key = "marts/palettes/date=2024-05-06/part-0.parquet";
    assert_ok(&run_palette(&lake, &[]));
    let first = lake.read(key).unwrap();
    assert_ok(&run_palette(&lake, &[]));
    assert_eq!(first, lake.read(key).unwrap());
}

/// One creator per format, each image one flat colour; and broken ones.
#[test]
fn every_format_is_decoded_as_spec_says_and_broken_images_are_rejects() {
    let lake = LocalLake::new();
    let colour = [180u8, 90, 30];
    let flat = || RgbImage::from_pixel(64, 64, Rgb(colour));
    let rgba = {
        let mut img = DynamicImage::ImageRgb8(flat()).to_rgba8();
        img.pixels_mut().for_each(|p| p.0[3] = 10); // nearly transparent: still the colour
        DynamicImage::ImageRgba8(img)
    };
    let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(64, 64, image::Luma([77])));
    let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(
        64,
        64,
        Rgb([46260u16, 23130, 7710]),
    ));
    let mut cut = jpeg(flat());
    cut.truncate(cut.len() / 2);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("1", "original.png", encode(rgba, ImageFormat::Png)),
        ("2", "original.jpg", encode(grey, ImageFormat::Jpeg)),
        ("3", "original.png", encode(deep, ImageFormat::Png)),
        (
            "4",
            "original.webp",
            encode(DynamicImage::ImageRgb8(flat()), ImageFormat::WebP),
        ),
        // A PNG named .jpg: the bytes decide.
        (
            "5",
            "original.jpg",
            encode(DynamicImage::ImageRgb8(flat()), ImageFormat::Png),
        ),
        ("6", "original.jpg", cmyk_jpeg(colour)),
        ("7", "original.jpg", cut),
        ("8", "original.jpg", b"<html>expired</html>".to_vec()),
    ];
    for (user, name, bytes) in &cases {
        write_post(&lake, user, &format!("9{user}"), 1);
        lake.write(&store_key(user, &format!("9{user}"), name), bytes);
    }
    assert_ok(&lake.igpipe(&["stage-posts", "--date", DATE]));
    let run = run_palette(&lake, &[]);
    assert_ok(&run);
    assert_eq!(run.count("rejected"), 2);
    assert_eq!(run.count("rows_written"), 6);
    let found = palettes(&lake);
    let only = |user: &str| {
        let p = palette_of(&found, user);
        assert_eq!(p.len(), 1, "{user}: {p:?}");
        assert_eq!(p[0]["percentage"], 1.0);
        rgb(&p[0])
    };
    for user in ["1", "4", "5"] {
        assert_eq!(only(user), [180, 90, 30], "user {user}");
    }
    assert_eq!(only("2")[0], 77, "grey stays grey: {:?}", only("2"));
    assert_eq!(only("2")[0], only("2")[2]);
    // 16-bit: 46260/257 = 180, 23130/257 = 90, 7710/257 = 30.
    assert_eq!(only("3"), [180, 90, 30]);
    let cmyk = only("6");
    assert!(
        (0..3).all(|i| (cmyk[i] - i64::from(colour[i])).abs() <= 12),
        "CMYK: {cmyk:?}"
    );
    // Users 7 and 8 have only broken images: no row, one reject each with a reason.
    assert!(found.iter().all(|(u, _)| u != "7" && u != "8"));
    let rejects = lake.table("staging/rejects", "date");
    assert_eq!(rejects.height(), 2);
    assert_eq!(
        str_at(
            &rejects,
            "source_key",
            "instagram_graph_image_store/7/97/original.jpg",
            "reason"
        )
        .unwrap(),
        "truncated JPEG: the data ends before the end-of-image marker"
    );
    assert!(str_at(
        &rejects,
        "source_key",
        "instagram_graph_image_store/8/98/original.jpg",
        "reason"
    )
    .unwrap()
    .contains("not a JPEG, PNG or WebP"));
}

/// A CMYK JPEG of one colour (C = 255 − R, M = 255 − G, Y = 255 − B, K = 0), as
/// lakegen writes them.
fn cmyk_jpeg(colour: [u8; 3]) -> Vec<u8> {
    let pixels: Vec<u8> = (0..64 * 64)
        .flat_map(|_| [255 - colour[0], 255 - colour[1], 255 - colour[2], 0])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, 64, 64, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    out
}

#[test]
fn the_newest_posts_with_images_are_used_and_empty_folders_skipped() {
    let lake = LocalLake::new();
    let red = jpeg(RgbImage::from_pixel(32, 32, Rgb([220, 20, 20])));
    let blue = jpeg(RgbImage::from_pixel(32, 32, Rgb([20, 20, 220])));
    // Newest first: post 4 (after D: never), 3 (folder without an image), 2 (red), 1 (blue).
    for (post, day) in [("1", 1), ("2", 2), ("3", 3)] {
        write_post(&lake, "300", post, day);
    }
    lake.write(
        "instagram_graph/posts/300/4.json",
        br#"{"id": "4", "media_type": "IMAGE", "timestamp": "2024-05-07T00:00:00+0000"}"#,
    );
    lake.write(&store_key("300", "4", "original.jpg"), &blue);
    lake.write(&store_key("300", "3", "notes.txt"), b"no image here");
    lake.write(&store_key("300", "2", "original.jpg"), &red);
    lake.write(&store_key("300", "1", "original.jpg"), &blue);
    // An image folder without a staged post, and the profile picture: never used.
    lake.write(&store_key("300", "77", "original.jpg"), &blue);
    lake.write("instagram_graph_image_store/300/profile.jpg", &blue);
    assert_ok(&lake.igpipe(&["stage-posts", "--date", DATE]));

    assert_ok(&run_palette(&lake, &["--posts-per-user", "1"]));
    let found = palettes(&lake);
    let one = palette_of(&found, "300");
    assert_eq!((one.len(), rgb(&one[0])), (1, [220, 20, 20]), "{one:?}");
    assert_ok(&run_palette(&lake, &["--posts-per-user", "2"]));
    let two = palette_of(&palettes(&lake), "300").clone();
    assert_eq!(two.len(), 2, "red and blue: {two:?}");
    assert_eq!(two[0]["percentage"], 0.5);
}

pub fn shards_together_equal_the_unsharded_run_and_load_facts_joins_them(lake: &dyn TestLake) {
    lake.load_fixture("lake");
    assert_ok(&lake.igpipe(&["stage-posts", "--date", DATE]));
    assert_ok(&lake.igpipe(&["stage-stats", "--date", DATE]));
    // Images for every fixture post.
    let posts = lake.table("staging/posts", "post_month");
    let users = posts.column("user_id").unwrap().str().unwrap();
    let ids = posts.column("post_id").unwrap().str().unwrap();
    for (i, (user, post)) in users.iter().zip(ids.iter()).enumerate() {
        let shade = (i * 37 % 200) as u8;
        let img = bands(
            &[([shade, 40, 200 - shade], 0.6), ([30, 200, shade], 0.4)],
            64,
        );
        lake.write(
            &store_key(user.unwrap(), post.unwrap(), "original.jpg"),
            &jpeg(img),
        );
    }
    assert_ok(&run_palette(lake, &[]));
    let whole = palettes(lake);
    assert!(
        whole.len() >= 3,
        "the fixtures have several creators: {whole:?}"
    );
    lake.remove("marts/palettes/date=2024-05-06/part-0.parquet");
    for shard in ["0/3", "1/3", "2/3"] {
        assert_ok(&run_palette(lake, &["--shard", shard]));
    }
    assert_eq!(lake.keys("marts/palettes").len(), 3);
    assert_eq!(palettes(lake), whole);

    // load-facts joins the shards; without one, it says which is missing.
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    let run = lake.igpipe(&["load-facts", "--date", DATE]);
    assert_ok(&run);
    let history = lake.table("marts/history", "date");
    let (user, palette) = &whole[0];
    let colors: Value =
        serde_json::from_str(&str_at(&history, "id", user, "colors").unwrap()).unwrap();
    assert_eq!(&colors, palette);
    lake.remove("marts/palettes/date=2024-05-06/part-1-of-3.parquet");
    let run = lake.igpipe(&["load-facts", "--date", DATE]);
    assert_ok(&run);
    assert!(
        run.report["warnings"].to_string().contains("1/3"),
        "{}",
        run.report
    );
}
