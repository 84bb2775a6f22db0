//! Streaming mono resampler: a windowed-sinc low-pass evaluated only at output instants
//! (polyphase table), so decimating 44.1 kHz to 11.025 kHz costs ~64 multiply-adds per
//! output sample and never aliases content above the new Nyquist into the analysis.

/// Zero crossings of the sinc kernel on each side (at the lower of the two rates).
const ZERO_CROSSINGS: usize = 8;
/// Fractional positions tabulated between input samples; the nearest one is used.
const PHASES: usize = 64;

pub(crate) struct Resampler {
    /// Input samples per output sample.
    step: f64,
    passthrough: bool,
    half: usize,
    /// `PHASES + 1` rows of `2 * half` taps, row p for fractional offset p / PHASES.
    table: Vec<f32>,
    /// Input not yet fully consumed; `buf[0]` is input sample `base`.
    buf: Vec<f32>,
    base: u64,
    /// Position of the next output sample, in input samples.
    pos: f64,
}

impl Resampler {
    pub(crate) fn new(in_rate: u32, out_rate: u32) -> Self {
        let step = in_rate as f64 / out_rate as f64;
        let passthrough = in_rate == out_rate;
        // Cut-off a little under the lower Nyquist so the transition band stays below it.
        let cutoff = 0.92 * (1.0f64).min(1.0 / step);
        let half = ((ZERO_CROSSINGS as f64) / cutoff).ceil() as usize;
        let taps = 2 * half;
        let mut table = vec![0f32; (PHASES + 1) * taps];
        for p in 0..=PHASES {
            let frac = p as f64 / PHASES as f64;
            let row = &mut table[p * taps..(p + 1) * taps];
            let mut sum = 0.0f64;
            let mut vals = vec![0f64; taps];
            for (k, v) in vals.iter_mut().enumerate() {
                // Tap k multiplies input sample floor(pos) - half + 1 + k.
                let x = (k as f64 - half as f64 + 1.0) - frac;
                let w = x / half as f64;
                if w.abs() >= 1.0 {
                    continue;
                }
                let blackman = 0.42
                    + 0.5 * (std::f64::consts::PI * w).cos()
                    + 0.08 * (2.0 * std::f64::consts::PI * w).cos();
                let arg = std::f64::consts::PI * cutoff * x;
                let sinc = if arg.abs() < 1e-9 {
                    1.0
                } else {
                    arg.sin() / arg
                };
                *v = sinc * blackman;
                sum += *v;
            }
            // Unit gain at DC for every phase so level features do not ripple.
            for (r, v) in row.iter_mut().zip(&vals) {
                *r = (*v / sum) as f32;
            }
        }
        Resampler {
            step,
            passthrough,
            half,
            table,
            buf: Vec::with_capacity(8192),
            base: 0,
            pos: 0.0,
        }
    }

    /// Feed input, append the output it completes to `out`.
    pub(crate) fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend_from_slice(input);
        let taps = 2 * self.half;
        let end = self.base + self.buf.len() as u64;
        loop {
            let ipos = self.pos.floor() as u64;
            // Needs input up to ipos + half; before the stream start it reads zeros.
            if ipos + self.half as u64 >= end {
                break;
            }
            let frac = self.pos - ipos as f64;
            let phase = (frac * PHASES as f64).round() as usize;
            let row = &self.table[phase * taps..(phase + 1) * taps];
            let first = ipos as i64 - self.half as i64 + 1 - self.base as i64;
            let mut acc = 0.0f32;
            if first >= 0 {
                acc = dot(&self.buf[first as usize..first as usize + taps], row);
            } else {
                for (k, b) in row.iter().enumerate() {
                    let i = first + k as i64;
                    if i >= 0 {
                        acc += self.buf[i as usize] * b;
                    }
                }
            }
            out.push(acc);
            self.pos += self.step;
        }
        // Drop input no future output can reach, in large steps to keep memmoves rare.
        let keep_from = (self.pos.floor() as i64 - self.half as i64 + 1).max(0) as u64;
        let drop = keep_from.saturating_sub(self.base) as usize;
        if drop > 4096 && drop <= self.buf.len() {
            self.buf.drain(..drop);
            self.base += drop as u64;
        }
    }

    /// Bytes held (for the memory-bound check).
    pub(crate) fn retained_bytes(&self) -> usize {
        self.buf.capacity() * 4 + self.table.len() * 4
    }
}

/// Dot product with eight independent partial sums, which the compiler turns into SIMD
/// (a single running sum would have to stay sequential).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, f: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / rate as f32).sin())
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn keeps_passband_and_rejects_alias() {
        for (f, expect_pass) in [(1000.0, true), (9000.0, false)] {
            let x = tone(44100, f, 44100);
            let mut r = Resampler::new(44100, 11025);
            let mut out = Vec::new();
            // Uneven chunks exercise the streaming bookkeeping.
            for c in x.chunks(777) {
                r.process(c, &mut out);
            }
            assert!((out.len() as i64 - 11025).abs() < 40, "{}", out.len());
            let level = rms(&out[200..out.len() - 200]);
            if expect_pass {
                assert!(
                    (level - std::f32::consts::FRAC_1_SQRT_2).abs() < 0.02,
                    "{f}: {level}"
                );
            } else {
                assert!(level < 0.01, "{f}: {level}");
            }
        }
    }
}
