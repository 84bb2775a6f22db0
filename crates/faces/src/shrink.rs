//! Shrinking grayscale images for detection: every camera frame goes to the detector's
//! working size, and a tracker's search windows shrink again. `image`'s resize took
//! 2.2 ms for a 640x480 frame to 320x240 (Intel Xeon family 6 model 167, AVX-512,
//! release build, 2026-12-07; its filter weights computed per pixel, no SIMD);
//! `fast_image_resize` runs the same bilinear filter with SIMD kernels.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::GrayImage;

/// `gray` resized to `width` x `height` (bilinear, over every source pixel a target
/// pixel covers). An empty source or target gives an image of the asked size, black.
pub fn shrink(gray: &GrayImage, width: u32, height: u32) -> GrayImage {
    let blank = || GrayImage::new(width, height);
    if width == 0 || height == 0 || gray.width() == 0 || gray.height() == 0 {
        return blank();
    }
    let Ok(src) = ImageRef::new(gray.width(), gray.height(), gray.as_raw(), PixelType::U8) else {
        return blank();
    };
    let mut dst = Image::new(width, height, PixelType::U8);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    // The sizes and pixel types above are consistent, which is all resize checks.
    if Resizer::new().resize(&src, &mut dst, &options).is_err() {
        return blank();
    }
    GrayImage::from_raw(width, height, dst.into_vec()).unwrap_or_else(blank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops::FilterType as ImageFilter;

    /// Close to `image`'s Triangle filter, which it replaces: a smooth gradient and a
    /// checkerboard (averaged to mid-gray either way), halved and shrunk by odd factors.
    #[test]
    fn shrinking_matches_the_triangle_filter_it_replaces() {
        let gradient = GrayImage::from_fn(640, 480, |x, y| image::Luma([((x + 2 * y) / 7) as u8]));
        let checker = GrayImage::from_fn(100, 80, |x, y| {
            image::Luma([if (x + y) % 2 == 0 { 0 } else { 255 }])
        });
        for (img, w, h) in [
            (&gradient, 320, 240),
            (&gradient, 224, 168),
            (&checker, 37, 29),
        ] {
            let ours = shrink(img, w, h);
            let theirs = image::imageops::resize(img, w, h, ImageFilter::Triangle);
            assert_eq!(ours.dimensions(), (w, h));
            let worst = ours
                .pixels()
                .zip(theirs.pixels())
                .map(|(a, b)| a.0[0].abs_diff(b.0[0]))
                .max()
                .unwrap();
            assert!(worst <= 3, "{w}x{h}: off by up to {worst}");
        }
        assert_eq!(shrink(&GrayImage::new(0, 5), 4, 4).dimensions(), (4, 4));
        assert_eq!(shrink(&gradient, 0, 3).dimensions(), (0, 3));
    }
}
