//! Frame-level feature extraction, accumulated online into fixed-size summaries plus two
//! small per-frame series (onset strength and level, 8 bytes per 23 ms frame) whose length
//! is capped by [`crate::Limits::max_seconds`].

mod rhythm;
mod roughness;
pub(crate) mod spectral;
pub(crate) mod tonal;

use rustfft::{num_complex::Complex, Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use spectral::{Peak, Tables};
use std::sync::Arc;
pub use tonal::Mode;

/// Analysis sample rate: content above 5.5 kHz adds little to mood cues and halving the
/// rate again halves decode-side filtering and FFT work.
pub(crate) const SR: u32 = 11025;
pub(crate) const N_FFT: usize = 1024;
pub(crate) const HOP: usize = 256;
pub(crate) const N_BINS: usize = N_FFT / 2 + 1;
/// Long frames for pitch (chroma) and roughness: 2.7 Hz bins resolve a semitone down to
/// ~50 Hz, which 1024-sample frames (10.8 Hz) cannot below ~200 Hz.
pub(crate) const N_TONAL: usize = 4096;
/// A tonal frame every this many hops (every ~93 ms).
const TONAL_EVERY: usize = 4;
pub(crate) const N_MEL: usize = 40;
pub(crate) const N_MFCC: usize = 13;
pub(crate) const FRAME_RATE: f32 = SR as f32 / HOP as f32;
/// Frames quieter than this (RMS, dBFS) count as silence.
const SILENT_FRAME_DB: f32 = -60.0;
/// A whole excerpt whose mean level is below this is reported silent.
pub(crate) const SILENT_DB: f32 = -55.0;
const MAX_PEAKS: usize = 32;
const ROUGH_PEAKS: usize = 20;

/// Summary numbers of one analysed excerpt (all computed at 11025 Hz, mono).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Mean level of the audible frames, dBFS (a full-scale sine is -3).
    pub rms_db: f32,
    /// Spread of frame levels: 95th minus 10th percentile, dB.
    pub dynamic_range_db: f32,
    /// Sudden rises of short-term level (98th percentile of rises over ~0.4 s), dB.
    pub sudden_db: f32,
    /// Detected onsets per audible second.
    pub onset_rate: f32,
    /// Tempo estimate in BPM, 0 when there is no clear pulse.
    pub tempo_bpm: f32,
    /// 0 (no pulse) .. 1 (metronome).
    pub pulse_clarity: f32,
    /// Irregularity of inter-onset intervals (coefficient of variation).
    pub ioi_cv: f32,
    /// Mean spectral centroid, Hz.
    pub centroid_hz: f32,
    /// Mean 85% spectral rolloff, Hz.
    pub rolloff_hz: f32,
    /// Mean onset strength (positive log-mel flux, dB per band per frame).
    pub flux: f32,
    /// Mean spectral flatness over mel bands (0 tonal .. 1 noise).
    pub flatness: f32,
    /// Mean and standard deviation of 13 MFCCs (timbre).
    pub mfcc_mean: [f32; N_MFCC],
    pub mfcc_std: [f32; N_MFCC],
    /// Mean pitch-class profile from spectral peaks, C..B, summing to 1.
    pub chroma: [f32; 12],
    /// Correlation of the chroma with the best Krumhansl key profile.
    pub key_strength: f32,
    /// Best major minus best minor key correlation (positive leans major).
    pub major_margin: f32,
    /// Mean Sethares roughness of the spectral peaks (power-normalised).
    pub roughness: f32,
    /// Mean interval consonance of the simultaneous pitch classes (Huron 1994 dyad
    /// values, -1.43 = all minor seconds .. 1.24 = all fifths).
    pub consonance: f32,
    /// Fraction of frames that were not silent.
    pub active_fraction: f32,
}

pub(crate) const CONSONANCE_CENTRE: f32 = 0.19;
pub(crate) const CONSONANCE_SCALE: f32 = 0.1;

/// Length of [`Features::vector`].
pub const FEATURE_VECTOR_LEN: usize = 15 + 2 * N_MFCC + 12;

impl Features {
    /// The features as numbers of roughly unit scale (centred on typical music), for
    /// distances between songs: 14 scalar cues, 13 MFCC means, 13 MFCC deviations and the
    /// 12-bin chroma. Length [`FEATURE_VECTOR_LEN`].
    pub fn vector(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(FEATURE_VECTOR_LEN);
        // Same centres and scales as the mapping's cues (see mapping::cues).
        v.extend([
            (self.rms_db + 18.0) / 5.0,
            (self.dynamic_range_db - 13.0) / 5.0,
            (self.sudden_db - 11.0) / 6.0,
            (self.onset_rate.max(0.05) / 4.2).ln() / 0.35,
            if self.tempo_bpm > 0.0 {
                (self.tempo_bpm - 110.0) / 35.0
            } else {
                0.0
            },
            (self.pulse_clarity - 0.45) / 0.2,
            (self.ioi_cv - 0.42) / 0.15,
            (self.centroid_hz.max(50.0) / 500.0).ln() / 0.35,
            (self.rolloff_hz.max(50.0) / 750.0).ln() / 0.35,
            (self.flux - 1.1) / 0.4,
            (self.flatness - 0.045) / 0.025,
            (self.key_strength - 0.75) / 0.12,
            self.major_margin / 0.15,
            (self.roughness - 0.08) / 0.04,
            (self.consonance - CONSONANCE_CENTRE) / CONSONANCE_SCALE,
        ]);
        v.extend(self.mfcc_mean.iter().enumerate().map(|(i, m)| {
            if i == 0 {
                (m + 60.0) / 20.0
            } else {
                m / 10.0
            }
        }));
        v.extend(self.mfcc_std.iter().map(|s| s / 5.0));
        // Chroma summing to 1: scale so a uniform profile is 1 per bin.
        v.extend(self.chroma.iter().map(|c| c * 12.0 - 1.0));
        v
    }
}

/// What the frame analyser hands to the mapping.
pub(crate) struct Summary {
    pub features: Features,
    pub key: Option<tonal::Key>,
    pub tempo_bpm: Option<f32>,
    /// Mean level over all frames (dBFS), for the silence decision.
    pub overall_db: f32,
    pub frames: usize,
}

pub(crate) struct FrameAnalyzer {
    fft: Arc<dyn Fft<f32>>,
    tonal_fft: Arc<dyn Fft<f32>>,
    tonal_buf: Vec<Complex<f32>>,
    tonal_mag: Vec<f32>,
    tonal_frames: u64,
    since_tonal: usize,
    t: &'static Tables,
    pending: Vec<f32>,
    start: usize,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    mag: Vec<f32>,
    power: Vec<f32>,
    mel: [f32; N_MEL],
    prev_db: [f32; N_MEL],
    peaks: [Peak; MAX_PEAKS],
    max_frames: usize,
    env: Vec<f32>,
    level_db: Vec<f32>,
    all_power: f64,
    active: u64,
    power_sum: f64,
    centroid: f64,
    rolloff: f64,
    flatness: f64,
    flux: f64,
    mfcc_sum: [f64; N_MFCC],
    mfcc_sq: [f64; N_MFCC],
    chroma: [f64; 12],
    rough: f64,
    consonance: f64,
}

impl FrameAnalyzer {
    pub(crate) fn new(max_frames: usize) -> Self {
        let mut planner = FftPlanner::new();
        let fft = planner.plan_fft_forward(N_FFT);
        let tonal_fft = planner.plan_fft_forward(N_TONAL);
        let scratch = vec![
            Complex::default();
            fft.get_inplace_scratch_len()
                .max(tonal_fft.get_inplace_scratch_len())
        ];
        FrameAnalyzer {
            fft,
            tonal_fft,
            tonal_buf: vec![Complex::default(); N_TONAL],
            tonal_mag: vec![0.0; N_TONAL / 2 + 1],
            tonal_frames: 0,
            since_tonal: TONAL_EVERY - 1,
            t: spectral::tables(),
            pending: Vec::with_capacity(4 * N_FFT),
            start: 0,
            buf: vec![Complex::default(); N_FFT],
            scratch,
            mag: vec![0.0; N_BINS],
            power: vec![0.0; N_BINS],
            mel: [0.0; N_MEL],
            prev_db: [-100.0; N_MEL],
            peaks: [Peak::default(); MAX_PEAKS],
            max_frames,
            env: Vec::new(),
            level_db: Vec::new(),
            all_power: 0.0,
            active: 0,
            power_sum: 0.0,
            centroid: 0.0,
            rolloff: 0.0,
            flatness: 0.0,
            flux: 0.0,
            mfcc_sum: [0.0; N_MFCC],
            mfcc_sq: [0.0; N_MFCC],
            chroma: [0.0; 12],
            rough: 0.0,
            consonance: 0.0,
        }
    }

    pub(crate) fn frames(&self) -> usize {
        self.level_db.len()
    }

    pub(crate) fn full(&self) -> bool {
        self.frames() >= self.max_frames
    }

    pub(crate) fn retained_bytes(&self) -> usize {
        (self.pending.capacity() + self.env.capacity() + self.level_db.capacity()) * 4
            + (self.buf.capacity() + self.scratch.capacity() + self.tonal_buf.capacity()) * 8
            + self.tonal_mag.capacity() * 4
            + (self.mag.capacity() + self.power.capacity()) * 4
    }

    /// Feed samples at [`SR`]. Samples after the frame cap are ignored.
    pub(crate) fn push(&mut self, x: &[f32]) {
        if self.full() {
            return;
        }
        self.pending.extend_from_slice(x);
        // Frames wait until a whole tonal frame is buffered after their start.
        while self.pending.len() - self.start >= N_TONAL && !self.full() {
            self.frame();
            self.start += HOP;
        }
        if self.start >= 2 * N_TONAL || self.full() {
            self.pending.drain(..self.start.min(self.pending.len()));
            self.start = 0;
        }
    }

    /// Analyse the frames still buffered at the end (without tonal frames when too
    /// short), or one zero-padded frame when the input was shorter than one frame.
    fn flush(&mut self) {
        while self.pending.len() - self.start >= N_FFT && !self.full() {
            self.frame();
            self.start += HOP;
        }
        let left = self.pending.len() - self.start;
        if self.frames() == 0 && left > 0 {
            self.pending.resize(self.start + N_FFT, 0.0);
            self.frame();
        }
    }

    fn frame(&mut self) {
        let x = &self.pending[self.start..self.start + N_FFT];
        let p = x.iter().map(|v| v * v).sum::<f32>() / N_FFT as f32;
        let db = 10.0 * (p + 1e-12).log10();
        self.level_db.push(db);
        self.all_power += p as f64;
        if db < SILENT_FRAME_DB {
            // Silence: nothing to describe, and the next sound counts as an onset.
            self.env.push(0.0);
            self.prev_db = [-100.0; N_MEL];
            return;
        }
        for ((b, s), w) in self.buf.iter_mut().zip(x).zip(&self.t.window) {
            *b = Complex::new(s * w, 0.0);
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        // Scale so a full-scale sine peaks near 1 (Hann coherent gain is N/2... /2).
        let scale = 4.0 / N_FFT as f32;
        for ((m, pw), c) in self
            .mag
            .iter_mut()
            .zip(self.power.iter_mut())
            .zip(&self.buf)
        {
            let q = c.norm_sqr() * scale * scale;
            *pw = q;
            *m = q.sqrt();
        }
        let (centroid, rolloff) = spectral::shape(&self.power, &self.t.freq);
        spectral::mel_bands(&self.power, self.t, &mut self.mel);
        let mut flux = 0.0;
        let mut log_mel = [0.0f32; N_MEL];
        for ((m, prev), l) in self
            .mel
            .iter()
            .zip(self.prev_db.iter_mut())
            .zip(&mut log_mel)
        {
            let d = (10.0 * (m + 1e-10).log10()).max(-100.0);
            flux += (d - *prev).max(0.0);
            *prev = d;
            *l = d * std::f32::consts::LN_10 / 10.0;
        }
        let flux = flux / N_MEL as f32;
        let flatness = spectral::mel_flatness(&self.mel, &log_mel);
        self.env.push(flux);
        let mut mfcc = [0.0f32; N_MFCC];
        spectral::mfcc(&log_mel, self.t, &mut mfcc);
        // Hops since the last tonal frame (a counter: `%` trips clippy's MSRV-newer
        // `is_multiple_of` suggestion).
        self.since_tonal += 1;
        if self.since_tonal >= TONAL_EVERY && self.pending.len() - self.start >= N_TONAL {
            self.since_tonal = 0;
            self.tonal_frame();
        }
        self.active += 1;
        self.power_sum += p as f64;
        self.centroid += centroid as f64;
        self.rolloff += rolloff as f64;
        self.flatness += flatness as f64;
        self.flux += flux as f64;
        for ((s, q), m) in self.mfcc_sum.iter_mut().zip(&mut self.mfcc_sq).zip(&mfcc) {
            *s += *m as f64;
            *q += (*m as f64) * (*m as f64);
        }
    }

    /// Chroma and roughness from the spectral peaks of a long frame.
    fn tonal_frame(&mut self) {
        let x = &self.pending[self.start..self.start + N_TONAL];
        for ((b, s), w) in self.tonal_buf.iter_mut().zip(x).zip(&self.t.tonal_window) {
            *b = Complex::new(s * w, 0.0);
        }
        self.tonal_fft
            .process_with_scratch(&mut self.tonal_buf, &mut self.scratch);
        let scale = 4.0 / N_TONAL as f32;
        for (m, c) in self.tonal_mag.iter_mut().zip(&self.tonal_buf) {
            *m = c.norm() * scale;
        }
        let n = spectral::peaks(&self.tonal_mag, N_TONAL, 50.0, 4000.0, &mut self.peaks);
        if n == 0 {
            return;
        }
        let peaks = &self.peaks[..n];
        let mut chroma = [0.0f32; 12];
        for pk in peaks.iter().filter(|p| p.freq <= 2100.0) {
            let midi = 69.0 + 12.0 * (pk.freq / 440.0).log2();
            let pc = (midi.round() as i64).rem_euclid(12) as usize;
            chroma[pc] += pk.amp;
        }
        let csum: f32 = chroma.iter().sum();
        if csum > 0.0 {
            for (a, c) in self.chroma.iter_mut().zip(&chroma) {
                *a += (c / csum) as f64;
            }
        }
        self.rough += roughness::roughness(&peaks[..n.min(ROUGH_PEAKS)]) as f64;
        self.consonance += roughness::interval_consonance(&chroma) as f64;
        self.tonal_frames += 1;
    }

    pub(crate) fn finish(mut self) -> Option<Summary> {
        self.flush();
        let frames = self.frames();
        if frames == 0 {
            return None;
        }
        let overall_db = 10.0 * ((self.all_power / frames as f64) + 1e-12).log10() as f32;
        let a = self.active.max(1) as f64;
        let mean = |s: f64| (s / a) as f32;
        let mut active_db: Vec<f32> = self
            .level_db
            .iter()
            .copied()
            .filter(|&d| d >= SILENT_FRAME_DB)
            .collect();
        active_db.sort_by(|x, y| x.total_cmp(y));
        let pct = |v: &[f32], q: f32| -> f32 {
            if v.is_empty() {
                0.0
            } else {
                v[((v.len() - 1) as f32 * q).round() as usize]
            }
        };
        let dynamic_range_db = pct(&active_db, 0.95) - pct(&active_db, 0.10);
        let sudden_db = sudden_rises(&self.level_db);
        let active_s = self.active as f32 / FRAME_RATE;
        let rh = rhythm::analyse(&self.env, active_s);
        let mut chroma = [0.0f32; 12];
        let csum: f64 = self.chroma.iter().sum();
        if csum > 0.0 {
            for (c, s) in chroma.iter_mut().zip(&self.chroma) {
                *c = (s / csum) as f32;
            }
        }
        let key = (csum > 0.0).then(|| tonal::estimate_key(&chroma));
        let mut mfcc_mean = [0.0f32; N_MFCC];
        let mut mfcc_std = [0.0f32; N_MFCC];
        for i in 0..N_MFCC {
            let m = self.mfcc_sum[i] / a;
            mfcc_mean[i] = m as f32;
            mfcc_std[i] = (self.mfcc_sq[i] / a - m * m).max(0.0).sqrt() as f32;
        }
        let features = Features {
            rms_db: 10.0 * ((self.power_sum / a) + 1e-12).log10() as f32,
            dynamic_range_db,
            sudden_db,
            onset_rate: rh.onset_rate,
            tempo_bpm: rh.tempo_bpm.unwrap_or(0.0),
            pulse_clarity: rh.pulse_clarity,
            ioi_cv: rh.ioi_cv,
            centroid_hz: mean(self.centroid),
            rolloff_hz: mean(self.rolloff),
            flux: mean(self.flux),
            flatness: mean(self.flatness),
            mfcc_mean,
            mfcc_std,
            chroma,
            key_strength: key.map_or(0.0, |k| k.strength),
            major_margin: key.map_or(0.0, |k| k.major_margin),
            roughness: (self.rough / self.tonal_frames.max(1) as f64) as f32,
            consonance: (self.consonance / self.tonal_frames.max(1) as f64) as f32,
            active_fraction: self.active as f32 / frames as f32,
        };
        Some(Summary {
            features,
            key,
            tempo_bpm: rh.tempo_bpm,
            overall_db,
            frames,
        })
    }
}

/// 98th percentile of rises in short-term level (~190 ms blocks) over the two blocks
/// before, with silence floored at -60 dB so a fade-in from nothing is bounded.
fn sudden_rises(level_db: &[f32]) -> f32 {
    const BLOCK: usize = 8;
    let blocks: Vec<f32> = level_db
        .chunks(BLOCK)
        .map(|c| {
            let p = c.iter().map(|d| 10f32.powf(d / 10.0)).sum::<f32>() / c.len() as f32;
            (10.0 * (p + 1e-12).log10()).max(-60.0)
        })
        .collect();
    if blocks.len() < 4 {
        return 0.0;
    }
    let mut rises: Vec<f32> = (2..blocks.len())
        .map(|i| (blocks[i] - blocks[i - 1].min(blocks[i - 2])).max(0.0))
        .collect();
    rises.sort_by(|a, b| a.total_cmp(b));
    rises[((rises.len() - 1) as f32 * 0.98).round() as usize]
}
