//! Key and mode from a chroma profile with the Krumhansl-Kessler probe-tone profiles
//! (Krumhansl 1990), matched by correlation as in the Krumhansl-Schmuckler algorithm.

use serde::{Deserialize, Serialize};

/// Major or minor mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Major,
    Minor,
}

pub(crate) const PITCH_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

const MAJOR: [f32; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
const MINOR: [f32; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

fn correlate(chroma: &[f32; 12], profile: &[f32; 12], tonic: usize) -> f32 {
    let mc = chroma.iter().sum::<f32>() / 12.0;
    let mp = profile.iter().sum::<f32>() / 12.0;
    let (mut num, mut a, mut b) = (0.0, 0.0, 0.0);
    for (i, &c) in chroma.iter().enumerate() {
        let p = profile[(i + 12 - tonic) % 12];
        num += (c - mc) * (p - mp);
        a += (c - mc) * (c - mc);
        b += (p - mp) * (p - mp);
    }
    if a <= 1e-12 {
        0.0
    } else {
        num / (a * b).sqrt()
    }
}

/// The estimated key: tonic pitch class, mode, the winning correlation and the margin of
/// the best major over the best minor correlation (positive leans major).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub tonic: usize,
    pub mode: Mode,
    pub strength: f32,
    pub major_margin: f32,
}

pub(crate) fn estimate_key(chroma: &[f32; 12]) -> Key {
    let mut best = (0usize, Mode::Major, f32::MIN);
    let (mut best_major, mut best_minor) = (f32::MIN, f32::MIN);
    for tonic in 0..12 {
        let rmaj = correlate(chroma, &MAJOR, tonic);
        let rmin = correlate(chroma, &MINOR, tonic);
        best_major = best_major.max(rmaj);
        best_minor = best_minor.max(rmin);
        if rmaj > best.2 {
            best = (tonic, Mode::Major, rmaj);
        }
        if rmin > best.2 {
            best = (tonic, Mode::Minor, rmin);
        }
    }
    Key {
        tonic: best.0,
        mode: best.1,
        strength: best.2,
        major_margin: best_major - best_minor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triads_give_their_keys() {
        // A minor: A C E strongest, then the rest of the natural minor scale.
        let mut c = [0.0f32; 12];
        for (pc, w) in [
            (9, 3.0),
            (0, 2.0),
            (4, 2.5),
            (2, 1.0),
            (5, 1.0),
            (7, 1.0),
            (11, 1.0),
        ] {
            c[pc] = w;
        }
        let k = estimate_key(&c);
        assert_eq!((k.tonic, k.mode), (9, Mode::Minor));
        let mut c = [0.0f32; 12];
        for (pc, w) in [
            (7, 3.0),
            (11, 2.0),
            (2, 2.5),
            (0, 1.0),
            (4, 1.0),
            (9, 1.0),
            (6, 1.0),
        ] {
            c[pc] = w;
        }
        let k = estimate_key(&c);
        assert_eq!((k.tonic, k.mode), (7, Mode::Major));
    }
}
