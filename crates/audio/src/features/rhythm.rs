//! Rhythm from the onset-strength envelope (log-mel spectral flux): onsets by adaptive
//! peak picking, tempo by autocorrelation with a log-normal preference around 120 BPM
//! (the usual resolution of the beat/half-beat ambiguity), and how regular the pulse is.

use super::FRAME_RATE;

pub(crate) struct Rhythm {
    /// Onsets per second over the audible part.
    pub onset_rate: f32,
    pub tempo_bpm: Option<f32>,
    /// Autocorrelation at the beat period over that at lag 0: 0 = no pulse, 1 = metronome.
    pub pulse_clarity: f32,
    /// Coefficient of variation of inter-onset intervals (0 = isochronous).
    pub ioi_cv: f32,
}

/// `env`: onset strength per frame; `active_s`: seconds that were not silent.
pub(crate) fn analyse(env: &[f32], active_s: f32) -> Rhythm {
    let onsets = pick_onsets(env);
    let onset_rate = if active_s > 0.5 {
        onsets.len() as f32 / active_s
    } else {
        0.0
    };
    let ioi_cv = if onsets.len() >= 4 {
        let d: Vec<f32> = onsets.windows(2).map(|w| (w[1] - w[0]) as f32).collect();
        let m = d.iter().sum::<f32>() / d.len() as f32;
        let v = d.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / d.len() as f32;
        v.sqrt() / m.max(1e-6)
    } else {
        0.0
    };
    // Smoothing (~100 ms) lets a beat period that falls between frames still correlate.
    let smooth = smooth(env);
    let (tempo_bpm, pulse_clarity) = tempo(&smooth);
    Rhythm {
        onset_rate,
        tempo_bpm,
        pulse_clarity,
        ioi_cv,
    }
}

/// Frame indices of onsets: local maxima over +-3 frames (~70 ms) that rise above the
/// local mean (~0.5 s) by a margin, at least 50 ms apart.
fn pick_onsets(env: &[f32]) -> Vec<usize> {
    let n = env.len();
    if n < 8 {
        return Vec::new();
    }
    let mean = env.iter().sum::<f32>() / n as f32;
    let sd = (env.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n as f32).sqrt();
    let delta = 0.1 * sd + 0.05;
    let w = (0.25 * FRAME_RATE) as usize;
    // Running sum for the local mean.
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for &x in env {
        prefix.push(prefix.last().unwrap() + x as f64);
    }
    let min_gap = (0.05 * FRAME_RATE).ceil() as usize;
    let mut out: Vec<usize> = Vec::new();
    for t in 0..n {
        let x = env[t];
        let lo = t.saturating_sub(3);
        let hi = (t + 3).min(n - 1);
        if env[lo..=hi].iter().any(|&y| y > x) {
            continue;
        }
        let (a, b) = (t.saturating_sub(w), (t + w).min(n - 1));
        let local = ((prefix[b + 1] - prefix[a]) / (b + 1 - a) as f64) as f32;
        if x < local + delta {
            continue;
        }
        if let Some(&last) = out.last() {
            if t - last < min_gap {
                continue;
            }
        }
        out.push(t);
    }
    out
}

fn smooth(env: &[f32]) -> Vec<f32> {
    const K: [f32; 5] = [0.1, 0.2, 0.4, 0.2, 0.1];
    (0..env.len())
        .map(|i| {
            K.iter()
                .enumerate()
                .filter_map(|(j, k)| {
                    (i + j)
                        .checked_sub(2)
                        .and_then(|t| env.get(t))
                        .map(|x| k * x)
                })
                .sum()
        })
        .collect()
}

/// Tempo (BPM) and pulse clarity. None when the excerpt is too short or has no pulse.
fn tempo(env: &[f32]) -> (Option<f32>, f32) {
    let n = env.len();
    let min_lag = (FRAME_RATE * 60.0 / 240.0).floor() as usize;
    let max_lag = (FRAME_RATE * 60.0 / 40.0).ceil() as usize;
    if n < 3 * max_lag {
        return (None, 0.0);
    }
    let mean = env.iter().sum::<f32>() / n as f32;
    let ac = |lag: usize| -> f32 {
        let mut s = 0.0f32;
        for i in 0..n - lag {
            s += (env[i] - mean) * (env[i + lag] - mean);
        }
        s / (n - lag) as f32
    };
    let a0 = ac(0);
    if a0 <= 1e-9 {
        return (None, 0.0);
    }
    let acs: Vec<f32> = (min_lag - 1..=max_lag + 1).map(ac).collect();
    let at = |lag: usize| acs[lag + 1 - min_lag];
    let mut best = (min_lag, f32::MIN);
    for lag in min_lag..=max_lag {
        let bpm = FRAME_RATE * 60.0 / lag as f32;
        let prior = (-0.5 * ((bpm / 120.0).log2() / 1.0).powi(2)).exp();
        let score = at(lag) * prior;
        if score > best.1 {
            best = (lag, score);
        }
    }
    let lag = best.0;
    let (a, b, c) = (at(lag - 1), at(lag), at(lag + 1));
    let den = a - 2.0 * b + c;
    let d = if den.abs() > 1e-12 {
        (0.5 * (a - c) / den).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let clarity = (b / a0).clamp(0.0, 1.0);
    if clarity < 0.05 {
        return (None, clarity);
    }
    (Some(FRAME_RATE * 60.0 / (lag as f32 + d)), clarity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_track_tempo() {
        for bpm in [72.0f32, 100.0, 128.0, 150.0] {
            let period = FRAME_RATE * 60.0 / bpm;
            let n = (FRAME_RATE * 20.0) as usize;
            let mut env = vec![0.0f32; n];
            let mut t = 0.0;
            while (t as usize) < n {
                env[t as usize] = 5.0;
                t += period;
            }
            let r = analyse(&env, 20.0);
            let got = r.tempo_bpm.unwrap();
            assert!((got - bpm).abs() / bpm < 0.04, "{bpm} -> {got}");
            assert!((r.onset_rate - bpm / 60.0).abs() < 0.2, "{}", r.onset_rate);
        }
    }
}
