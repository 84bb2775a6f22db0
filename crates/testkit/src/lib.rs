//! What a test does when a resource it needs (a browser, the test photos, FER2013, a
//! Debian music package) is missing.
//!
//! In CI (`CI` set, as `.ci/run` runs) a missing resource is a failure: [`missing`]
//! panics with the reason, so a green run means every test ran. Locally it prints the
//! reason, appends it to the file named by `MOODTUNE_SKIP_LOG` (scripts/test.sh prints
//! "N tests skipped: ..." from it at the end) and returns, so the test can return early.

pub mod corpus;
pub mod mp3;
pub mod ods;
pub mod xls;

use std::io::Write;

/// Whether this run is CI's: `CI` set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Reports that the running test cannot run: `resource` is what is missing, `fix` how
/// to get it. Panics in CI; elsewhere records the skip and returns.
pub fn missing(resource: &str, fix: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let reason = format!("{test}: {resource} missing ({fix})");
    if in_ci() {
        panic!("{reason}; in CI every test must run");
    }
    eprintln!("SKIPPED {reason}");
    if let Some(log) = std::env::var_os("MOODTUNE_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{reason}");
        }
    }
}

/// Writes mono samples in [-1, 1] as a 16-bit WAV file (synthesised test music).
pub fn write_wav(path: &std::path::Path, samples: &[f32], rate: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the WAV file");
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32_000.0) as i16)
            .expect("write a sample");
    }
    w.finalize().expect("finish the WAV file");
}
