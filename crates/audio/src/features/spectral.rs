//! Per-frame spectral measures on the magnitude spectrum: filterbanks are built once and
//! shared, and every per-frame quantity is written into caller-owned buffers.

use super::{N_BINS, N_FFT, N_MEL, N_MFCC, N_TONAL, SR};
use std::sync::OnceLock;

/// Precomputed analysis tables, shared by all analysers (and threads).
pub(crate) struct Tables {
    pub window: Vec<f32>,
    /// Hann window of the long (tonal) frames.
    pub tonal_window: Vec<f32>,
    /// Sparse triangular mel filters: (first bin, weights).
    pub mel: Vec<(usize, Vec<f32>)>,
    /// Orthonormal DCT-II rows, N_MFCC x N_MEL.
    pub dct: Vec<f32>,
    /// Bin centre frequencies in Hz.
    pub freq: Vec<f32>,
}

pub(crate) fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(build)
}

fn hz_to_mel(f: f32) -> f32 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f32) -> f32 {
    700.0 * (10f32.powf(m / 2595.0) - 1.0)
}

fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n as f32).cos())
        .collect()
}

fn build() -> Tables {
    let window = hann(N_FFT);
    let tonal_window = hann(N_TONAL);
    let bin_hz = SR as f32 / N_FFT as f32;
    let freq: Vec<f32> = (0..N_BINS).map(|k| k as f32 * bin_hz).collect();
    let (lo, hi) = (hz_to_mel(40.0), hz_to_mel(SR as f32 / 2.0 - 100.0));
    let edges: Vec<f32> = (0..N_MEL + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f32 / (N_MEL + 1) as f32))
        .collect();
    let mel = (0..N_MEL)
        .map(|m| {
            let (a, c, b) = (edges[m], edges[m + 1], edges[m + 2]);
            // Low bands are narrower than a bin; widen to at least one bin either side so
            // every band sees energy.
            let a = a.min(c - bin_hz);
            let b = b.max(c + bin_hz);
            let first = ((a / bin_hz).ceil() as usize).max(1);
            let last = ((b / bin_hz).floor() as usize).min(N_BINS - 1);
            let w: Vec<f32> = (first..=last)
                .map(|k| {
                    let f = freq[k];
                    if f <= c {
                        ((f - a) / (c - a)).max(0.0)
                    } else {
                        ((b - f) / (b - c)).max(0.0)
                    }
                })
                .collect();
            let s: f32 = w.iter().sum::<f32>().max(1e-6);
            (first, w.into_iter().map(|v| v / s).collect())
        })
        .collect();
    let mut dct = vec![0f32; N_MFCC * N_MEL];
    for k in 0..N_MFCC {
        let scale = if k == 0 {
            (1.0 / N_MEL as f32).sqrt()
        } else {
            (2.0 / N_MEL as f32).sqrt()
        };
        for n in 0..N_MEL {
            dct[k * N_MEL + n] =
                scale * (std::f32::consts::PI / N_MEL as f32 * (n as f32 + 0.5) * k as f32).cos();
        }
    }
    Tables {
        window,
        tonal_window,
        mel,
        dct,
        freq,
    }
}

/// Centroid (Hz) and 85% rolloff (Hz) of a power spectrum.
pub(crate) fn shape(power: &[f32], freq: &[f32]) -> (f32, f32) {
    let total: f32 = power.iter().sum();
    if total <= 1e-20 {
        return (0.0, 0.0);
    }
    let centroid = power.iter().zip(freq).map(|(p, f)| p * f).sum::<f32>() / total;
    let target = 0.85 * total;
    let mut acc = 0.0;
    let mut rolloff = freq[freq.len() - 1];
    for (p, f) in power.iter().zip(freq) {
        acc += p;
        if acc >= target {
            rolloff = *f;
            break;
        }
    }
    (centroid, rolloff)
}

/// Flatness (geometric over arithmetic mean, 0 = tonal .. 1 = white noise) over the mel
/// bands: 40 logarithms per frame instead of 513, with the same meaning on a
/// perceptual frequency scale.
pub(crate) fn mel_flatness(mel: &[f32; N_MEL], ln_mel: &[f32; N_MEL]) -> f32 {
    let mean = mel.iter().sum::<f32>() / N_MEL as f32;
    if mean <= 1e-20 {
        return 0.0;
    }
    let geo = (ln_mel.iter().sum::<f32>() / N_MEL as f32).exp();
    (geo / mean).clamp(0.0, 1.0)
}

/// Mel band powers of a power spectrum.
pub(crate) fn mel_bands(power: &[f32], t: &Tables, out: &mut [f32; N_MEL]) {
    for (o, (first, w)) in out.iter_mut().zip(&t.mel) {
        *o = power[*first..*first + w.len()]
            .iter()
            .zip(w)
            .map(|(p, w)| p * w)
            .sum();
    }
}

/// MFCCs from log mel powers.
pub(crate) fn mfcc(log_mel: &[f32; N_MEL], t: &Tables, out: &mut [f32; N_MFCC]) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = t.dct[k * N_MEL..(k + 1) * N_MEL]
            .iter()
            .zip(log_mel)
            .map(|(a, b)| a * b)
            .sum();
    }
}

/// A spectral peak: frequency (Hz, parabolically refined) and linear amplitude.
#[derive(Clone, Copy, Default)]
pub(crate) struct Peak {
    pub freq: f32,
    pub amp: f32,
}

/// Up to `out.len()` strongest local maxima of `mag` between `lo_hz` and `hi_hz` that are
/// within 30 dB of the strongest; returns how many were written, strongest first.
pub(crate) fn peaks(mag: &[f32], n_fft: usize, lo_hz: f32, hi_hz: f32, out: &mut [Peak]) -> usize {
    let bin_hz = SR as f32 / n_fft as f32;
    let lo = ((lo_hz / bin_hz) as usize).max(1);
    let hi = ((hi_hz / bin_hz) as usize).min(mag.len() - 2);
    let max = mag[lo..=hi].iter().cloned().fold(0.0f32, f32::max);
    if max <= 1e-9 {
        return 0;
    }
    let floor = max * 0.0316;
    let mut n = 0usize;
    for k in lo..=hi {
        let m = mag[k];
        if m < floor || m <= mag[k - 1] || m < mag[k + 1] {
            continue;
        }
        // Parabola through log magnitudes: accurate for the Hann main lobe.
        let (a, b, c) = (
            (mag[k - 1] + 1e-12).ln(),
            (m + 1e-12).ln(),
            (mag[k + 1] + 1e-12).ln(),
        );
        let den = a - 2.0 * b + c;
        let d = if den.abs() > 1e-12 {
            (0.5 * (a - c) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let p = Peak {
            freq: (k as f32 + d) * bin_hz,
            amp: (b - 0.25 * (a - c) * d).exp(),
        };
        // Keep the strongest `out.len()` by insertion (short list, no allocation).
        let cap = out.len();
        let mut i = n.min(cap);
        while i > 0 && out[i - 1].amp < p.amp {
            if i < cap {
                out[i] = out[i - 1];
            }
            i -= 1;
        }
        if i < cap {
            out[i] = p;
            n = (n + 1).min(cap);
        }
    }
    n
}
