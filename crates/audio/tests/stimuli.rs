//! Controlled stimuli: the same melodies rendered with more or less of the cues music
//! psychology links to arousal and valence. The mapping must order the pairs correctly
//! (arousal in >= 90% of pairs, valence in >= 75%).

use moodtune_audio::stimuli::{render, Chords, Render};
use moodtune_audio::{analyze_samples, Analysis};
use rayon::prelude::*;

const PAIRS: u64 = 40;

fn analyse(r: &Render) -> Analysis {
    analyze_samples(&render(r), r.sample_rate).expect("stimulus analyses")
}

fn base(seed: u64) -> Render {
    // Vary key, tempo and timbre across pairs so no single setting carries the result.
    Render {
        seed,
        seconds: 8.0,
        // Mostly low rates keep synthesis cheap; every eighth pair goes through the
        // 44.1 kHz decimation path and every fourth through 22.05 kHz.
        sample_rate: match seed % 8 {
            0 => 44100,
            2 | 6 => 22050,
            _ => 11025,
        },
        tonic: 55 + (seed % 12) as u8,
        bpm: 80.0 + (seed % 7) as f32 * 10.0,
        brightness: 0.3 + (seed % 5) as f32 * 0.1,
        gain_db: -16.0 + (seed % 4) as f32 * 2.0,
        minor: seed & 1 == 0,
        notes_per_beat: 2,
        ..Render::default()
    }
}

/// Fraction of seeds where `hi` scores above `lo` on `metric`; prints the figures.
fn pass_rate(
    name: &str,
    make: impl Fn(u64) -> (Render, Render) + Sync,
    metric: impl Fn(&Analysis) -> f32 + Sync,
) -> f64 {
    let results: Vec<(f32, f32)> = (0..PAIRS)
        .into_par_iter()
        .map(|s| {
            let (hi, lo) = make(s + 1);
            (metric(&analyse(&hi)), metric(&analyse(&lo)))
        })
        .collect();
    let wins = results.iter().filter(|(h, l)| h > l).count();
    let mean_gap = results.iter().map(|(h, l)| h - l).sum::<f32>() / results.len() as f32;
    let rate = wins as f64 / results.len() as f64;
    println!(
        "{name}: {wins}/{} pairs ordered correctly ({:.0}%), mean difference {mean_gap:+.3}",
        results.len(),
        rate * 100.0
    );
    rate
}

#[test]
fn arousal_fast_loud_bright_beats_slow_soft_dark() {
    let rate = pass_rate(
        "arousal fast/loud/bright vs slow/soft/dark",
        |s| {
            let b = base(s);
            let hi = Render {
                bpm: b.bpm + 50.0,
                gain_db: -8.0,
                brightness: 0.9,
                ..b.clone()
            };
            let lo = Render {
                bpm: b.bpm - 25.0,
                gain_db: -26.0,
                brightness: 0.1,
                ..b
            };
            (hi, lo)
        },
        |a| a.arousal,
    );
    assert!(rate >= 0.9, "{rate}");
}

#[test]
fn arousal_dense_beats_sparse() {
    let rate = pass_rate(
        "arousal dense (4 notes/beat) vs sparse (1 note/beat)",
        |s| {
            let b = base(s);
            let hi = Render {
                notes_per_beat: 4,
                ..b.clone()
            };
            let lo = Render {
                notes_per_beat: 1,
                ..b
            };
            (hi, lo)
        },
        |a| a.arousal,
    );
    assert!(rate >= 0.9, "{rate}");
}

#[test]
fn arousal_distorted_beats_clean() {
    let rate = pass_rate(
        "arousal distorted vs clean",
        |s| {
            let b = base(s);
            let hi = Render {
                distortion: 1.5,
                ..b.clone()
            };
            (hi, b)
        },
        |a| a.arousal,
    );
    assert!(rate >= 0.9, "{rate}");
    let rate = pass_rate(
        "valence clean vs distorted",
        |s| {
            let b = base(s);
            let lo = Render {
                distortion: 1.5,
                ..b.clone()
            };
            (b, lo)
        },
        |a| a.valence,
    );
    assert!(rate >= 0.75, "{rate}");
}

#[test]
fn valence_major_beats_minor() {
    let rate = pass_rate(
        "valence major vs minor",
        |s| {
            let b = base(s);
            (
                Render {
                    minor: false,
                    ..b.clone()
                },
                Render { minor: true, ..b },
            )
        },
        |a| a.valence,
    );
    assert!(rate >= 0.75, "{rate}");
}

#[test]
fn valence_consonant_beats_dissonant() {
    let rate = pass_rate(
        "valence consonant vs dissonant chords",
        |s| {
            let b = base(s);
            (
                b.clone(),
                Render {
                    chords: Chords::Dissonant,
                    ..b
                },
            )
        },
        |a| a.valence,
    );
    assert!(rate >= 0.75, "{rate}");
}

#[test]
fn extreme_renderings_land_in_expected_regions() {
    // Fast, loud, bright, major, consonant: positive and aroused. Slow, soft, dark, minor:
    // negative and calm.
    let happy = analyse(&Render {
        bpm: 150.0,
        gain_db: -1.0,
        brightness: 1.0,
        minor: false,
        notes_per_beat: 2,
        ..Render::default()
    });
    let sad = analyse(&Render {
        bpm: 60.0,
        gain_db: -28.0,
        brightness: 0.1,
        minor: true,
        notes_per_beat: 1,
        ..Render::default()
    });
    println!(
        "happy-like: {:?} v={:+.2} a={:+.2} {:?}",
        happy.emotion, happy.valence, happy.arousal, happy.drivers
    );
    println!(
        "sad-like:   {:?} v={:+.2} a={:+.2} {:?}",
        sad.emotion, sad.valence, sad.arousal, sad.drivers
    );
    assert!(happy.valence > 0.0 && happy.arousal > 0.0);
    assert!(sad.valence < 0.0 && sad.arousal < 0.0);
    assert_eq!(happy.emotion, moodtune_audio::Emotion::Happy);
    assert_eq!(sad.emotion, moodtune_audio::Emotion::Sad);
}
