//! Hostile and broken files: each gives an error naming the file, never a panic,
//! and never a huge allocation.

use moodtune_faces::{load_image, load_image_bytes_within, DecodeLimits, LoadError};
use std::path::Path;

/// CRC-32 (IEEE) as PNG chunks need it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A valid-looking PNG header claiming `w` x `h` RGB pixels, with a tiny
/// zlib stream instead of the gigabytes it would need.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib header + an empty final stored block: decodes to nothing.
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn decompression_bomb_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bomb.png", &png_claiming(100_000, 100_000));
    let e = load_image(&p).unwrap_err();
    assert!(matches!(e, LoadError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("bomb.png"), "{e}");
}

#[test]
fn huge_but_within_pixel_limit_dimensions_hit_the_memory_limit() {
    // 19000x19000 passes the per-side limit but needs ~1 GiB of RGB: refused too.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "wide.png", &png_claiming(19_000, 19_000));
    let e = load_image(&p).unwrap_err();
    assert!(matches!(e, LoadError::TooLarge { .. }), "{e}");
}

#[test]
fn uploads_have_tighter_limits_than_files() {
    // 9000x9000 (243 MB as RGB) is a file one may open, not a request to decode.
    let png = png_claiming(9_000, 9_000);
    let e = load_image_bytes_within(&png, Path::new("frame"), DecodeLimits::UPLOAD).unwrap_err();
    assert!(matches!(e, LoadError::TooLarge { .. }), "{e}");
    // The file limits let it through to the decoder, which finds no pixel data.
    let e = load_image_bytes_within(&png, Path::new("frame"), DecodeLimits::FILE).unwrap_err();
    assert!(matches!(e, LoadError::Decode { .. }), "{e}");
}

#[test]
fn lying_small_header_is_a_decode_error() {
    // Claims 64x64 but carries no pixel data.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "liar.png", &png_claiming(64, 64));
    let e = load_image(&p).unwrap_err();
    assert!(matches!(e, LoadError::Decode { .. }), "{e}");
    assert!(e.to_string().contains("liar.png"));
    assert!(!e.to_string().ends_with('\n'));
}

#[test]
fn bmp_claiming_huge_size_is_refused() {
    // A 54-byte BMP header for 30000x30000 24-bit pixels and no data.
    let mut b = Vec::new();
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&(54u32).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&30_000i32.to_le_bytes());
    b.extend_from_slice(&30_000i32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "huge.bmp", &b);
    let e = load_image(&p).unwrap_err();
    assert!(
        matches!(e, LoadError::TooLarge { .. } | LoadError::Decode { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("huge.bmp"));
}

#[test]
fn empty_text_corrupt_and_directory_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (write(dir.path(), "empty.jpg", b""), "empty"),
        (
            write(dir.path(), "readme.png", b"# not an image\n"),
            "not a supported image",
        ),
        (
            write(
                dir.path(),
                "half.jpg",
                &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F'],
            ),
            "cannot decode",
        ),
    ];
    for (p, want) in cases {
        let e = load_image(&p).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(p.file_name().unwrap().to_str().unwrap()),
            "{msg}"
        );
        assert!(msg.contains(want), "{msg}");
    }
    let e = load_image(dir.path()).unwrap_err();
    assert!(matches!(e, LoadError::Io { .. }), "{e}");
}
