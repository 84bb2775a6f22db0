//! Image loading that is safe on untrusted files: size limits against decompression
//! bombs, EXIF orientation applied, and errors that name the input.

use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Limits};
use std::io::{BufRead, Cursor, Seek};
use std::path::{Path, PathBuf};

/// Largest width or height accepted. Far above any camera (a 200 MP sensor is about
/// 16000 px wide) yet keeps a forged header from asking for terabytes.
pub const MAX_DIMENSION: u32 = 20_000;
/// Largest decoded allocation accepted (a 20000x10000 RGB image is 600 MB).
pub const MAX_ALLOC: u64 = 1 << 30;

/// How large an image may decode. Files the user names get [`DecodeLimits::FILE`];
/// requests to a server, which may decode one per core at once, something tighter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_dimension: u32,
    pub max_alloc: u64,
}

impl DecodeLimits {
    pub const FILE: DecodeLimits = DecodeLimits {
        max_dimension: MAX_DIMENSION,
        max_alloc: MAX_ALLOC,
    };
    /// A 48 MP phone photo (8000x6000, 144 MB as RGB) still fits.
    pub const UPLOAD: DecodeLimits = DecodeLimits {
        max_dimension: 8192,
        max_alloc: 256 << 20,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    // Not named `source`: the message already says it, and a source would print twice
    // in anyhow's `{:#}` chain.
    #[error("{}: cannot read file: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: file is empty", .path.display())]
    Empty { path: PathBuf },
    #[error("{}: not a supported image (expected JPEG, PNG, WebP or BMP)", .path.display())]
    UnknownFormat { path: PathBuf },
    #[error("{}: image too large to decode safely ({detail})", .path.display())]
    TooLarge { path: PathBuf, detail: String },
    #[error("{}: cannot decode image: {message}", .path.display())]
    Decode { path: PathBuf, message: String },
}

impl LoadError {
    /// The file (or label) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::Empty { path }
            | LoadError::UnknownFormat { path }
            | LoadError::TooLarge { path, .. }
            | LoadError::Decode { path, .. } => path,
        }
    }
}

/// Loads an image file with EXIF orientation applied (so a portrait phone photo is
/// upright) and decompression-bomb limits enforced.
pub fn load_image(path: &Path) -> Result<DynamicImage, LoadError> {
    let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    load_image_bytes(&bytes, path)
}

/// Decodes an in-memory image; `label` names it in errors.
pub fn load_image_bytes(bytes: &[u8], label: &Path) -> Result<DynamicImage, LoadError> {
    load_image_bytes_within(bytes, label, DecodeLimits::FILE)
}

/// Decodes an in-memory image (e.g. an upload) within `limits`.
pub fn load_image_bytes_within(
    bytes: &[u8],
    label: &Path,
    limits: DecodeLimits,
) -> Result<DynamicImage, LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Empty {
            path: label.to_path_buf(),
        });
    }
    decode(Cursor::new(bytes), label, limits)
}

/// Decodes an in-memory image (e.g. a camera frame) straight to grayscale within
/// `limits`, counting every copy it makes: the decoded image, its grayscale copy, and the
/// EXIF-rotated copy of that (made after the colour image is gone). So the memory a frame
/// may take is `limits.max_alloc`, not a multiple of it.
pub fn load_luma_bytes_within(
    bytes: &[u8],
    label: &Path,
    limits: DecodeLimits,
) -> Result<GrayImage, LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Empty {
            path: label.to_path_buf(),
        });
    }
    let (img, orientation) = decode_unoriented(Cursor::new(bytes), label, limits, 1)?;
    // `into_luma8` drops the colour pixels once the gray copy exists.
    let gray = img.into_luma8();
    let mut gray = DynamicImage::ImageLuma8(gray);
    gray.apply_orientation(orientation);
    Ok(gray.into_luma8())
}

fn decode<R: BufRead + Seek>(
    reader: R,
    label: &Path,
    bounds: DecodeLimits,
) -> Result<DynamicImage, LoadError> {
    let (mut img, orientation) = decode_unoriented(reader, label, bounds, 0)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// The decoded image and the orientation its EXIF block asks for. `copies_per_pixel`:
/// bytes per pixel of the copies the caller will make beside the decoded image, counted
/// against `max_alloc` with it.
fn decode_unoriented<R: BufRead + Seek>(
    reader: R,
    label: &Path,
    bounds: DecodeLimits,
    copies_per_pixel: u64,
) -> Result<(DynamicImage, image::metadata::Orientation), LoadError> {
    let DecodeLimits {
        max_dimension,
        max_alloc,
    } = bounds;
    let path = || label.to_path_buf();
    let mut reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|error| LoadError::Io {
            path: path(),
            error,
        })?;
    if reader.format().is_none() {
        return Err(LoadError::UnknownFormat { path: path() });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(max_dimension);
    limits.max_image_height = Some(max_dimension);
    limits.max_alloc = Some(max_alloc);
    reader.limits(limits);
    let decode_err = |source: image::ImageError| match source {
        image::ImageError::Unsupported(_) => LoadError::UnknownFormat { path: path() },
        image::ImageError::Limits(e) => LoadError::TooLarge {
            path: path(),
            detail: e.to_string(),
        },
        // Decoder messages sometimes end in a newline; keep the error one line.
        source => LoadError::Decode {
            path: path(),
            message: source.to_string().trim().to_string(),
        },
    };
    let mut decoder = reader.into_decoder().map_err(decode_err)?;
    let (width, height) = decoder.dimensions();
    if width > max_dimension || height > max_dimension {
        return Err(LoadError::TooLarge {
            path: path(),
            detail: format!("{width}x{height}; at most {max_dimension}x{max_dimension} pixels"),
        });
    }
    // Checked here too: not every decoder applies `max_alloc` before reading data.
    let needed = decoder
        .total_bytes()
        .saturating_add(copies_per_pixel * u64::from(width) * u64::from(height));
    if needed > max_alloc {
        return Err(LoadError::TooLarge {
            path: path(),
            detail: format!(
                "{width}x{height} needs {} MiB decoded; at most {} MiB",
                needed >> 20,
                max_alloc >> 20
            ),
        });
    }
    if width == 0 || height == 0 {
        return Err(LoadError::Decode {
            path: path(),
            message: format!("image has no pixels ({width}x{height})"),
        });
    }
    // A broken EXIF block should not cost the user the photo: fall back to upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(decode_err)?;
    Ok((img, orientation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage};

    fn encode(img: &DynamicImage, fmt: ImageFormat) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, fmt).unwrap();
        buf.into_inner()
    }

    fn sample() -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(30, 20, |x, y| {
            image::Rgb([x as u8 * 8, y as u8 * 12, 100])
        }))
    }

    #[test]
    fn decodes_every_supported_format() {
        let img = sample();
        for fmt in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Bmp,
            ImageFormat::WebP,
        ] {
            let bytes = encode(&img, fmt);
            let got = load_image_bytes(&bytes, Path::new("x")).unwrap().to_rgb8();
            assert_eq!((got.width(), got.height()), (30, 20), "{fmt:?}");
            // The lossless formats give the pixels back; JPEG close to them.
            let tolerance = if fmt == ImageFormat::Jpeg { 24 } else { 0 };
            let worst = got
                .as_raw()
                .iter()
                .zip(img.to_rgb8().as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(worst <= tolerance, "{fmt:?}: a channel off by {worst}");
        }
    }

    #[test]
    fn empty_and_garbage_are_named_errors() {
        let e = load_image_bytes(&[], Path::new("empty.jpg")).unwrap_err();
        assert!(matches!(e, LoadError::Empty { .. }));
        assert!(e.to_string().contains("empty.jpg"));
        let e = load_image_bytes(b"hello, this is text", Path::new("notes.png")).unwrap_err();
        assert!(matches!(e, LoadError::UnknownFormat { .. }), "{e}");
        assert!(e.to_string().contains("notes.png"));
    }

    #[test]
    fn truncated_file_is_a_decode_error() {
        let bytes = encode(&sample(), ImageFormat::Png);
        let e = load_image_bytes(&bytes[..bytes.len() / 2], Path::new("half.png")).unwrap_err();
        assert!(matches!(e, LoadError::Decode { .. }), "{e}");
        assert!(e.to_string().contains("half.png"));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = load_image(Path::new("/nonexistent/dir/face.jpg")).unwrap_err();
        assert!(matches!(e, LoadError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/dir/face.jpg"));
    }

    /// Every copy counts against the limit: a frame whose colour pixels fit but whose
    /// colour plus gray copy do not is refused, with the whole need named.
    #[test]
    fn the_luma_path_counts_its_gray_copy() {
        let img =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(100, 100, image::Rgb([10, 200, 30])));
        let png = encode(&img, ImageFormat::Png);
        let label = Path::new("frame.png");
        // 30,000 bytes of RGB fit a 35,000-byte budget; with the 10,000-byte gray copy not.
        let tight = DecodeLimits {
            max_dimension: 1000,
            max_alloc: 35_000,
        };
        assert!(load_image_bytes_within(&png, label, tight).is_ok());
        let err = load_luma_bytes_within(&png, label, tight).unwrap_err();
        assert!(matches!(err, LoadError::TooLarge { .. }), "{err}");
        let roomy = DecodeLimits {
            max_dimension: 1000,
            max_alloc: 40_000,
        };
        let gray = load_luma_bytes_within(&png, label, roomy).unwrap();
        assert_eq!(gray.dimensions(), (100, 100));
        assert_eq!(gray, img.to_luma8(), "the same gray as the colour path's");
    }
}
