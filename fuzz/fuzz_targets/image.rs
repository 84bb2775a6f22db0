//! A camera frame or photo, decoded to grayscale within the upload limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moodtune_faces::{load_luma_bytes_within, DecodeLimits};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_dimension: 4096,
        max_alloc: 64 << 20,
    };
    if let Ok(img) = load_luma_bytes_within(data, std::path::Path::new("frame"), limits) {
        assert!(img.width() <= 4096 && img.height() <= 4096);
    }
});
