//! Memory stays bounded however long the stream: samples are reduced to features as they
//! arrive, and only the first `max_seconds` are analysed.

use moodtune_audio::{Analyzer, Limits};

fn chunk(start: u64, n: usize, rate: u32) -> Vec<f32> {
    // A beating chord with a 2 Hz pulse, generated on the fly.
    (0..n as u64)
        .map(|i| {
            let t = (start + i) as f32 / rate as f32;
            let pulse = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 2.0 * t).sin().max(0.0);
            pulse
                * 0.2
                * ((2.0 * std::f32::consts::PI * 220.0 * t).sin()
                    + (2.0 * std::f32::consts::PI * 277.2 * t).sin()
                    + (2.0 * std::f32::consts::PI * 329.6 * t).sin())
        })
        .collect()
}

#[test]
fn one_hour_stream_retains_bounded_memory() {
    let rate = 22050;
    let limits = Limits {
        max_seconds: 120.0,
        ..Limits::default()
    };
    let mut a = Analyzer::new(rate, &limits).unwrap();
    let step = 8192usize;
    let total = 3600 * rate as u64;
    let mut pos = 0u64;
    let mut after_limit = 0usize;
    let mut peak = 0usize;
    while pos < total {
        let n = step.min((total - pos) as usize);
        if a.is_full() {
            // Past the limit only the count matters; skip synthesising real audio.
            a.push(&vec![0.0; n]);
        } else {
            a.push(&chunk(pos, n, rate));
        }
        pos += n as u64;
        peak = peak.max(a.retained_bytes());
        if a.is_full() && after_limit == 0 {
            after_limit = a.retained_bytes();
        }
    }
    println!(
        "retained at limit {after_limit} B, peak {peak} B for 1 h of input ({} MB as f32)",
        total * 4 / 1_000_000
    );
    assert!(a.is_full());
    assert_eq!(a.samples_seen(), total);
    // 120 s of features is ~50 KB; allow generous slack for buffers.
    assert!(peak < 1_000_000, "{peak}");
    assert_eq!(peak, after_limit.max(peak));
    let r = a.finish().unwrap();
    assert!((r.duration_s - 3600.0).abs() < 0.01);
    assert!((r.analysed_s - 120.0).abs() < 0.01);
}

#[test]
fn chunking_does_not_change_the_result() {
    let rate = 44100;
    let x = chunk(0, rate as usize * 8, rate);
    let whole = moodtune_audio::analyze_samples(&x, rate).unwrap();
    let mut a = Analyzer::new(rate, &Limits::default()).unwrap();
    for c in x.chunks(1000) {
        a.push(c);
    }
    let parts = a.finish().unwrap();
    assert_eq!(whole.features, parts.features);
}
