//! `.lrc` lyrics (time stamps, word timings, metadata tags) as any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let plain = moodtune_library::lrc::strip_lrc(&text);
    // Stripping only removes: the lyrics never grow.
    assert!(plain.len() <= text.len() + 1);
});
