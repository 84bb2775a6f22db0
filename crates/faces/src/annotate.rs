//! Draws face boxes and expression labels onto a copy of the image.
//!
//! Labels use a small built-in 5x7 bitmap font, so no font file has to be shipped
//! and no text-rendering dependency built.

use crate::pipeline::FaceResult;
use image::{DynamicImage, Rgb, RgbImage};
use std::path::Path;

/// Colour of a face box: green for a trusted face, amber for a flagged one.
fn box_colour(face: &FaceResult) -> Rgb<u8> {
    if face.reliable() {
        Rgb([40, 220, 90])
    } else {
        Rgb([255, 170, 0])
    }
}

/// The label drawn above a face, e.g. `HAPPY 87%` (a `?` marks a flagged face).
pub fn label_for(face: &FaceResult) -> String {
    let pct = (face.confidence * 100.0).round() as u32;
    let mark = if face.reliable() { "" } else { "?" };
    format!("{} {}%{}", face.emotion.name().to_uppercase(), pct, mark)
}

/// A copy of `img` with every face boxed and labelled; line width and text size
/// follow the image size so labels stay readable on phone photos.
pub fn annotate(img: &DynamicImage, faces: &[FaceResult]) -> RgbImage {
    let mut out = img.to_rgb8();
    let (w, h) = out.dimensions();
    let thickness = (w.max(h) / 400).max(2);
    let text_scale = (w.max(h) / 500).max(2);
    for (i, face) in faces.iter().enumerate() {
        let c = box_colour(face);
        let b = face.bbox;
        draw_rect(&mut out, b.x, b.y, b.width, b.height, thickness, c);
        let text = format!("{} {}", i + 1, label_for(face));
        let (tw, th) = text_size(&text, text_scale);
        let pad = text_scale;
        // Above the box when there is room, else inside its top edge.
        let ty = if b.y >= th + 2 * pad {
            b.y - th - 2 * pad
        } else {
            b.y + thickness
        };
        let tx = b.x.min(w.saturating_sub(tw + 2 * pad));
        fill_rect(&mut out, tx, ty, tw + 2 * pad, th + 2 * pad, c);
        draw_text(
            &mut out,
            tx + pad,
            ty + pad,
            &text,
            text_scale,
            Rgb([0, 0, 0]),
        );
    }
    out
}

/// Writes `img` in the format its extension names (PNG, JPEG, WebP or BMP) through a
/// temporary file in the same folder and a rename, so an interrupted run never leaves
/// a half-written file under the final name.
pub fn save_image(img: &RgbImage, path: &Path) -> std::io::Result<()> {
    let format = image::ImageFormat::from_path(path)
        .ok()
        .filter(|f| {
            matches!(
                f,
                image::ImageFormat::Png
                    | image::ImageFormat::Jpeg
                    | image::ImageFormat::WebP
                    | image::ImageFormat::Bmp
            )
        })
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{}: unsupported output extension (use .png, .jpg, .webp or .bmp)",
                    path.display()
                ),
            )
        })?;
    moodtune_core::write_atomically(path, |out| {
        img.write_to(out, format).map_err(std::io::Error::other)
    })
}

fn fill_rect(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, c: Rgb<u8>) {
    let (iw, ih) = img.dimensions();
    for yy in y.min(ih)..(y.saturating_add(h)).min(ih) {
        for xx in x.min(iw)..(x.saturating_add(w)).min(iw) {
            img.put_pixel(xx, yy, c);
        }
    }
}

fn draw_rect(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, t: u32, c: Rgb<u8>) {
    let t = t.min(w / 2).min(h / 2).max(1);
    fill_rect(img, x, y, w, t, c);
    fill_rect(img, x, (y + h).saturating_sub(t), w, t, c);
    fill_rect(img, x, y, t, h, c);
    fill_rect(img, (x + w).saturating_sub(t), y, t, h, c);
}

const GLYPH_W: u32 = 5;
const GLYPH_H: u32 = 7;

/// Pixel size of `text` drawn at integer `scale` (one column of spacing per glyph).
pub fn text_size(text: &str, scale: u32) -> (u32, u32) {
    let n = text.chars().count() as u32;
    let w = if n == 0 { 0 } else { n * (GLYPH_W + 1) - 1 };
    (w * scale, GLYPH_H * scale)
}

/// Draws `text` with its top-left at (x, y), clipped to the image. Characters the
/// font lacks (lower case is drawn as upper case) appear as a hollow box.
pub fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32, c: Rgb<u8>) {
    let mut cx = x;
    for ch in text.chars() {
        let rows = glyph(ch.to_ascii_uppercase());
        for (ry, bits) in rows.iter().enumerate() {
            for rx in 0..GLYPH_W {
                if bits & (1 << (GLYPH_W - 1 - rx)) != 0 {
                    fill_rect(img, cx + rx * scale, y + ry as u32 * scale, scale, scale, c);
                }
            }
        }
        cx += (GLYPH_W + 1) * scale;
    }
}

/// 5x7 glyphs, one byte per row, bit 4 is the leftmost column.
fn glyph(ch: char) -> [u8; 7] {
    match ch {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '?' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        ' ' => [0x00; 7],
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::FaceBox;
    use moodtune_core::Emotion;

    fn face(x: u32, y: u32, s: u32, flags: Vec<crate::FaceFlag>) -> FaceResult {
        let mut p = [0.05f32; 7];
        p[Emotion::Happy.index()] = 0.7;
        FaceResult {
            bbox: FaceBox {
                x,
                y,
                width: s,
                height: s,
            },
            detector_score: 5.0,
            probabilities: p,
            emotion: Emotion::Happy,
            confidence: 0.7,
            sharpness: 100.0,
            flags,
        }
    }

    #[test]
    fn labels_name_emotion_and_flag() {
        assert_eq!(label_for(&face(0, 0, 10, vec![])), "HAPPY 70%");
        assert_eq!(
            label_for(&face(0, 0, 10, vec![crate::FaceFlag::Blurry])),
            "HAPPY 70%?"
        );
    }

    #[test]
    fn draws_box_and_label_and_keeps_size() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(400, 300, Rgb([255, 255, 255])));
        let f = face(100, 120, 80, vec![]);
        let out = annotate(&img, std::slice::from_ref(&f));
        assert_eq!(out.dimensions(), (400, 300));
        let green = box_colour(&f);
        // Box edges are drawn, the inside is untouched.
        assert_eq!(*out.get_pixel(100, 150), green);
        assert_eq!(*out.get_pixel(179, 150), green);
        assert_eq!(*out.get_pixel(140, 160), Rgb([255, 255, 255]));
        // The label background sits above the box and contains black text pixels.
        let above: Vec<Rgb<u8>> = (100..220)
            .flat_map(|x| (95..119).map(move |y| (x, y)))
            .map(|(x, y)| *out.get_pixel(x, y))
            .collect();
        assert!(above.contains(&Rgb([0, 0, 0])));
        assert!(above.contains(&green));
    }

    #[test]
    fn saves_by_extension_and_rejects_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_pixel(8, 6, Rgb([10, 20, 30]));
        for name in ["a.png", "a.jpg", "a.bmp", "a.webp"] {
            let p = dir.path().join(name);
            save_image(&img, &p).unwrap();
            let back = image::open(&p).unwrap();
            assert_eq!((back.width(), back.height()), (8, 6), "{name}");
        }
        let e = save_image(&img, &dir.path().join("a.txt")).unwrap_err();
        assert!(e.to_string().contains("a.txt"));
        // Only the four images remain: no temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn faces_at_the_edges_do_not_panic() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(50, 40));
        let out = annotate(&img, &[face(0, 0, 50, vec![]), face(45, 35, 5, vec![])]);
        assert_eq!(out.dimensions(), (50, 40));
    }

    #[test]
    fn every_label_character_has_a_glyph() {
        let unknown = glyph('\u{1}');
        for e in Emotion::ALL {
            for ch in format!("{} 0123456789%?", e.name().to_uppercase()).chars() {
                assert!(ch == ' ' || glyph(ch) != unknown, "missing glyph {ch:?}");
            }
        }
    }
}
