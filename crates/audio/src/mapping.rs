//! From features to valence/arousal and to the seven emotion libraries.
//!
//! Each feature becomes a cue of roughly unit scale (0 = typical music). Arousal and
//! valence are weighted sums of cues, following the cue tables of Juslin & Laukka (2003):
//! arousal rises with tempo, loudness, onset density, brightness and spectral change;
//! valence with major mode, consonance (low roughness), brightness and tempo. The point
//! (valence, arousal) is placed on Russell's (1980) circumplex, where each emotion has a
//! position; cues that separate emotions sharing a region (anger is loud and rough, fear
//! soft and irregular, surprise sudden) add to that emotion's score.

use crate::features::{Features, Mode, CONSONANCE_CENTRE, CONSONANCE_SCALE};
use moodtune_core::Emotion;

/// Cues of roughly unit scale: positive means more of the named quality than typical
/// music (fast, loud, dense, bright, changing, rough, major, irregular, sudden).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cues {
    pub tempo: f32,
    pub loud: f32,
    pub onset: f32,
    pub bright: f32,
    pub flux: f32,
    pub rough: f32,
    pub mode: f32,
    /// How well the pitch content fits any key (low = atonal/clustered).
    pub tonal: f32,
    /// Consonance of the simultaneous intervals (negative = dissonant harmony).
    pub consonance: f32,
    pub irregular: f32,
    pub sudden: f32,
}

fn clamp(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-1.5, 1.5)
    } else {
        0.0
    }
}

/// Cue centres and scales: the centre is the median of a mixed set of recorded game and
/// film music (see docs/AUDIO.md), the scale about one spread of it, so 0 is "typical" and
/// +-1 clearly more or less; values are clamped to +-1.5.
pub(crate) fn cues(f: &Features, mode: Option<Mode>) -> Cues {
    // A tempo only counts as much as the pulse is clear (ambient music has no tempo).
    let pulse = (f.pulse_clarity / 0.3).min(1.0);
    let tempo = if f.tempo_bpm > 0.0 {
        clamp((f.tempo_bpm - 110.0) / 35.0) * pulse
    } else {
        0.0
    };
    // Mode counts as much as the pitch profile fits a key at all.
    let tonal_weight = ((f.key_strength - 0.5) / 0.3).clamp(0.0, 1.0);
    let mode = match mode {
        Some(_) => clamp(f.major_margin / 0.15) * tonal_weight,
        None => 0.0,
    };
    Cues {
        tempo,
        loud: clamp((f.rms_db + 18.0) / 5.0),
        onset: clamp((f.onset_rate.max(0.05) / 4.2).ln() / 0.35),
        bright: clamp((f.centroid_hz.max(50.0) / 500.0).ln() / 0.35),
        flux: clamp((f.flux - 1.1) / 0.4),
        rough: clamp((f.roughness - 0.08) / 0.04),
        mode,
        tonal: clamp((f.key_strength - 0.75) / 0.12),
        consonance: clamp((f.consonance - CONSONANCE_CENTRE) / CONSONANCE_SCALE),
        irregular: clamp(((0.45 - f.pulse_clarity) / 0.2 + (f.ioi_cv - 0.42) / 0.15) / 2.0),
        sudden: clamp((f.sudden_db - 11.0) / 6.0),
    }
}

const AROUSAL: [(f32, &str, &str); 6] = [
    (0.28, "fast", "slow"),
    (0.28, "loud", "soft"),
    (0.18, "dense onsets", "sparse onsets"),
    (0.12, "bright", "dark"),
    (0.08, "busy spectrum", "steady spectrum"),
    (0.06, "rough", "smooth"),
];

fn arousal_terms(c: &Cues) -> [f32; 6] {
    [c.tempo, c.loud, c.onset, c.bright, c.flux, c.rough]
}

const VALENCE: [(f32, &str, &str); 7] = [
    (0.33, "major key", "minor key"),
    (0.17, "consonant", "dissonant"),
    (0.10, "smooth", "rough"),
    (0.10, "tonal", "atonal"),
    (0.10, "bright", "dark"),
    (0.12, "fast", "slow"),
    (0.08, "steady pulse", "irregular rhythm"),
];

fn valence_terms(c: &Cues) -> [f32; 7] {
    [
        c.mode,
        c.consonance,
        -c.rough,
        c.tonal,
        c.bright,
        c.tempo,
        -c.irregular,
    ]
}

pub(crate) struct Mapped {
    pub valence: f32,
    pub arousal: f32,
    pub emotion: Emotion,
    pub confidence: f32,
    pub drivers: Vec<String>,
}

pub(crate) fn map(f: &Features, mode: Option<Mode>, analysed_s: f64) -> Mapped {
    let c = cues(f, mode);
    let at = arousal_terms(&c);
    let vt = valence_terms(&c);
    let a_raw: f32 = AROUSAL.iter().zip(&at).map(|((w, ..), x)| w * x).sum();
    let v_raw: f32 = VALENCE.iter().zip(&vt).map(|((w, ..), x)| w * x).sum();
    let arousal = (1.6 * a_raw).tanh();
    let valence = (1.6 * v_raw).tanh();

    // Score = closeness on the circumplex + the cues that tell neighbours apart.
    const SIGMA2: f32 = 2.0 * 0.35 * 0.35;
    let mut scores = [0f32; 7];
    for (s, e) in scores.iter_mut().zip(Emotion::ALL) {
        let (v, a) = e.circumplex();
        *s = -((v - valence).powi(2) + (a - arousal).powi(2)) / SIGMA2;
        *s += match e {
            Emotion::Angry => 0.8 * ((c.loud + c.rough) / 2.0).max(0.0),
            Emotion::Fear => 0.8 * ((c.irregular - c.loud) / 2.0).max(0.0),
            Emotion::Surprise => 0.8 * c.sudden.max(0.0),
            _ => 0.0,
        };
    }
    let max = scores.iter().cloned().fold(f32::MIN, f32::max);
    let z: f32 = scores.iter().map(|s| (s - max).exp()).sum();
    let (best, best_score) =
        scores.iter().enumerate().fold(
            (0, f32::MIN),
            |acc, (i, &s)| if s > acc.1 { (i, s) } else { acc },
        );
    let p = (best_score - max).exp() / z;
    // Short excerpts give less reliable tempo and key.
    let reliability = ((analysed_s / 15.0).min(1.0) as f32).sqrt();
    let confidence = (p * reliability).clamp(0.0, 1.0);

    // Drivers: the strongest contributions, in words.
    let mut contrib: Vec<(f32, &str)> = Vec::new();
    for ((w, hi, lo), x) in AROUSAL.iter().zip(&at) {
        contrib.push(((w * x).abs(), if *x > 0.0 { hi } else { lo }));
    }
    for ((w, hi, lo), x) in VALENCE.iter().zip(&vt) {
        contrib.push(((w * x).abs(), if *x > 0.0 { hi } else { lo }));
    }
    if c.sudden > 0.3 {
        contrib.push((0.2 * c.sudden, "sudden dynamics"));
    }
    contrib.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut drivers: Vec<String> = Vec::new();
    for (s, word) in contrib {
        if s < 0.08 || drivers.len() >= 5 {
            break;
        }
        if !drivers.iter().any(|d| d == word) {
            drivers.push(word.to_string());
        }
    }
    Mapped {
        valence,
        arousal,
        emotion: Emotion::ALL[best],
        confidence,
        drivers,
    }
}
