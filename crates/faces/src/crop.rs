//! FER2013-style face crops and a sharpness measure for flagging blurry faces.

use crate::detect::FaceBox;
use image::imageops::FilterType;
use image::GrayImage;

/// Cuts a square grayscale crop centred on `bbox`, with side `scale * max(w, h)`.
///
/// Parts of the square outside the image repeat the nearest edge pixel: black bars
/// would be strong edges the expression model never saw in FER2013. Crops larger than
/// `max_side` are shrunk with a proper area filter here, so the classifier's own
/// (usually bilinear) resize to 48x48 does not alias.
pub fn fer_crop(gray: &GrayImage, bbox: &FaceBox, scale: f32, max_side: u32) -> GrayImage {
    let (w, h) = gray.dimensions();
    assert!(w > 0 && h > 0, "fer_crop needs a non-empty image");
    let (cx, cy) = bbox.center();
    let side = ((bbox.width.max(bbox.height) as f32 * scale).round() as u32).max(1);
    let x0 = (cx - side as f32 / 2.0).round() as i64;
    let y0 = (cy - side as f32 / 2.0).round() as i64;
    let shrink = side > max_side && max_side > 0;
    let inside = x0 >= 0 && y0 >= 0 && x0 + side as i64 <= w as i64 && y0 + side as i64 <= h as i64;
    if shrink && inside {
        // Shrink straight from a view: a face filling a 20000-px photo would otherwise be
        // copied at full resolution (hundreds of MB) only to be thrown away.
        let view = image::imageops::crop_imm(gray, x0 as u32, y0 as u32, side, side);
        return image::imageops::resize(&*view, max_side, max_side, FilterType::Triangle);
    }
    let src = gray.as_raw();
    let mut out = GrayImage::new(side, side);
    for (dy, row) in out.chunks_exact_mut(side as usize).enumerate() {
        let sy = (y0 + dy as i64).clamp(0, h as i64 - 1) as usize;
        let src_row = &src[sy * w as usize..(sy + 1) * w as usize];
        for (dx, px) in row.iter_mut().enumerate() {
            let sx = (x0 + dx as i64).clamp(0, w as i64 - 1) as usize;
            *px = src_row[sx];
        }
    }
    if shrink {
        image::imageops::resize(&out, max_side, max_side, FilterType::Triangle)
    } else {
        out
    }
}

/// Side of the square the sharpness is measured at, so the measure does not depend
/// on how many pixels the face happens to cover.
const SHARPNESS_SIDE: u32 = 64;

/// Variance of the 4-neighbour Laplacian of the crop, measured after resizing it to
/// 64x64. Sharp faces give several hundred; motion- or focus-blurred ones a few tens.
pub fn sharpness(crop: &GrayImage) -> f32 {
    if crop.width() < 3 || crop.height() < 3 {
        return 0.0;
    }
    let norm;
    let img = if crop.dimensions() == (SHARPNESS_SIDE, SHARPNESS_SIDE) {
        crop
    } else {
        norm = image::imageops::resize(crop, SHARPNESS_SIDE, SHARPNESS_SIDE, FilterType::Triangle);
        &norm
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let p = img.as_raw();
    let mut sum = 0.0f64;
    let mut sum_sq = 0.0f64;
    let mut n = 0usize;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = p[y * w + x] as f64;
            let lap = p[(y - 1) * w + x] as f64
                + p[(y + 1) * w + x] as f64
                + p[y * w + x - 1] as f64
                + p[y * w + x + 1] as f64
                - 4.0 * c;
            sum += lap;
            sum_sq += lap * lap;
            n += 1;
        }
    }
    let mean = sum / n as f64;
    (sum_sq / n as f64 - mean * mean) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]))
    }

    #[test]
    fn crop_is_square_centred_and_scaled() {
        let img = gradient(200, 100);
        let b = FaceBox {
            x: 80,
            y: 30,
            width: 40,
            height: 40,
        };
        let c = fer_crop(&img, &b, 1.5, 1000);
        assert_eq!(c.dimensions(), (60, 60));
        // Top-left of the crop is (100 - 30, 50 - 30) in the image.
        assert_eq!(c.get_pixel(0, 0), img.get_pixel(70, 20));
        assert_eq!(c.get_pixel(59, 59), img.get_pixel(129, 79));
    }

    #[test]
    fn crop_outside_image_repeats_edges() {
        let img = gradient(50, 50);
        let b = FaceBox {
            x: 0,
            y: 0,
            width: 20,
            height: 20,
        };
        let c = fer_crop(&img, &b, 2.0, 1000);
        assert_eq!(c.dimensions(), (40, 40));
        // The crop starts at (-10, -10): everything left/above is the edge pixel.
        assert_eq!(c.get_pixel(0, 0), img.get_pixel(0, 0));
        assert_eq!(c.get_pixel(0, 15), img.get_pixel(0, 5));
        assert_eq!(c.get_pixel(15, 15), img.get_pixel(5, 5));
    }

    #[test]
    fn large_crops_are_shrunk() {
        let img = gradient(800, 800);
        let b = FaceBox {
            x: 100,
            y: 100,
            width: 500,
            height: 500,
        };
        let c = fer_crop(&img, &b, 1.2, 144);
        assert_eq!(c.dimensions(), (144, 144));
        // The crop lies inside the image, so it is shrunk from a view: same pixels as
        // shrinking a copied crop.
        let copied = image::imageops::crop_imm(&img, 50, 50, 600, 600).to_image();
        let expected = image::imageops::resize(&copied, 144, 144, FilterType::Triangle);
        assert_eq!(c, expected);
        // Over the edge, the padded copy is shrunk instead.
        let edge = FaceBox { x: 0, y: 0, ..b };
        assert_eq!(fer_crop(&img, &edge, 1.2, 144).dimensions(), (144, 144));
    }

    #[test]
    fn blur_lowers_sharpness() {
        // A checkerboard-like texture is sharp; its blurred copy is not.
        let sharp = GrayImage::from_fn(128, 128, |x, y| {
            image::Luma([if (x / 4 + y / 4) % 2 == 0 { 40 } else { 220 }])
        });
        let blurred = image::imageops::blur(&sharp, 4.0);
        let flat = GrayImage::from_pixel(64, 64, image::Luma([128]));
        let s = sharpness(&sharp);
        let b = sharpness(&blurred);
        assert!(s > 10.0 * b, "sharp {s} vs blurred {b}");
        assert!(sharpness(&flat) < 1e-6);
    }
}
