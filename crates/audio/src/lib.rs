//! Audio mood analysis: which of the seven emotion libraries a piece of music belongs
//! to, from the sound alone (most music has no lyrics).
//!
//! Pipeline (see `docs/AUDIO.md`): symphonia decodes packet by packet, channels are
//! averaged to mono and resampled to 11025 Hz (`decode`, `resample`), 1024-sample frames
//! every 256 samples are reduced to features online ([`features`]), and the summary is
//! mapped to valence/arousal and an [`Emotion`] ([`mapping`]). Only the first
//! [`Limits::max_seconds`] are analysed, so memory is bounded whatever the file length.
//!
//! Entry points:
//! - [`analyze_file`] / [`analyze_file_with`]: a file on disk -> [`Analysis`] or
//!   [`AudioError`] naming the file; never panics (decoder panics are caught).
//! - [`analyze_samples`]: mono samples at any rate (synthesised input, tests).
//! - [`Analyzer`]: the streaming core (push mono chunks, then `finish`).
//! - Where each emotion sits in valence-arousal space is `Emotion::circumplex` in
//!   moodtune-core: one table for this mapping and for filling thin playlists.
//! - [`MODEL_VERSION`]: changes whenever features or mapping change; stored analyses with
//!   another version should be recomputed.
//!
//! Analysis of one file is single-threaded; run files in parallel (rayon) for a folder.

mod decode;
mod error;
pub mod features;
pub mod mapping;
mod resample;
pub mod stimuli;

pub use error::AudioError;
pub use features::{Features, Mode, FEATURE_VECTOR_LEN};
pub use moodtune_core::Emotion;

use features::{FrameAnalyzer, HOP, SR};
use resample::Resampler;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of features + mapping. Bump on any change that alters results.
pub const MODEL_VERSION: &str = "audio-va-1";

/// Bounds on the work and memory spent per file.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Seconds analysed from the start; the rest is not decoded (its length is still
    /// reported when the container declares it). Memory is ~0.4 KB per analysed second.
    pub max_seconds: f64,
    /// Files larger than this are refused without being opened.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_seconds: 600.0,
            max_file_bytes: 2 << 30,
        }
    }
}

/// The result of analysing one piece of music.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Length of the whole piece in seconds (declared by the container, else decoded).
    pub duration_s: f64,
    /// Seconds actually analysed (at most [`Limits::max_seconds`]).
    pub analysed_s: f64,
    pub tempo_bpm: Option<f32>,
    /// Tonic name, e.g. "A" or "F#".
    pub key: Option<String>,
    pub mode: Option<Mode>,
    /// -1 (negative) .. 1 (positive).
    pub valence: f32,
    /// -1 (calm) .. 1 (excited).
    pub arousal: f32,
    pub emotion: Emotion,
    /// 0..1: how clearly this emotion beats its neighbours, lowered for short excerpts.
    pub confidence: f32,
    /// The strongest reasons, in words ("fast", "loud", "minor key", "bright", "rough").
    pub drivers: Vec<String>,
    pub features: Features,
    pub model_version: String,
}

/// Streaming analyser of mono audio at any sample rate.
pub struct Analyzer {
    rate: u32,
    resampler: Resampler,
    frames: FrameAnalyzer,
    clean: Vec<f32>,
    resampled: Vec<f32>,
    seen: u64,
    max_seconds: f64,
}

impl Analyzer {
    /// `sample_rate` must be between 1 kHz and 768 kHz.
    pub fn new(sample_rate: u32, limits: &Limits) -> Result<Self, AudioError> {
        if !(1000..=768_000).contains(&sample_rate) {
            return Err(AudioError::Unsupported {
                path: samples_path(),
                reason: format!("sample rate {sample_rate} Hz"),
            });
        }
        let max_seconds = if limits.max_seconds.is_finite() && limits.max_seconds > 0.0 {
            limits.max_seconds.min(86_400.0)
        } else {
            Limits::default().max_seconds
        };
        let max_frames = (max_seconds * SR as f64 / HOP as f64).ceil() as usize;
        Ok(Analyzer {
            rate: sample_rate,
            resampler: Resampler::new(sample_rate, SR),
            frames: FrameAnalyzer::new(max_frames),
            clean: Vec::new(),
            resampled: Vec::new(),
            seen: 0,
            max_seconds,
        })
    }

    /// Feed mono samples (nominally -1..1). Once [`Analyzer::is_full`], samples are only
    /// counted.
    pub fn push(&mut self, mono: &[f32]) {
        self.seen += mono.len() as u64;
        if self.frames.full() {
            return;
        }
        // Non-finite or wild values (broken float files) must not poison the sums.
        self.clean.clear();
        self.clean.extend(mono.iter().map(|&x| {
            if x.is_finite() {
                x.clamp(-8.0, 8.0)
            } else {
                0.0
            }
        }));
        self.resampled.clear();
        self.resampler.process(&self.clean, &mut self.resampled);
        self.frames.push(&self.resampled);
    }

    /// True once [`Limits::max_seconds`] have been analysed.
    pub fn is_full(&self) -> bool {
        self.frames.full()
    }

    /// Samples pushed so far (at the input rate).
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// Heap bytes held by the analyser; bounded by `max_seconds`, not by input length.
    pub fn retained_bytes(&self) -> usize {
        self.resampler.retained_bytes()
            + self.frames.retained_bytes()
            + (self.clean.capacity() + self.resampled.capacity()) * 4
    }

    /// Summarise and map to an emotion.
    pub fn finish(self) -> Result<Analysis, AudioError> {
        self.finish_with(None)
    }

    /// `declared_s`: the full length when known but not all of it was pushed.
    pub(crate) fn finish_with(self, declared_s: Option<f64>) -> Result<Analysis, AudioError> {
        let path = samples_path();
        if self.seen == 0 {
            return Err(AudioError::Empty {
                path,
                reason: "no audio samples".into(),
            });
        }
        let seen_s = self.seen as f64 / self.rate as f64;
        let duration_s = declared_s.map_or(seen_s, |d| d.max(seen_s));
        let analysed_s = seen_s.min(self.max_seconds);
        let Some(summary) = self.frames.finish() else {
            return Err(AudioError::Empty {
                path,
                reason: "too short to analyse".into(),
            });
        };
        if summary.overall_db < features::SILENT_DB || summary.features.active_fraction == 0.0 {
            return Err(AudioError::Silent {
                path,
                level_db: summary.overall_db,
            });
        }
        debug_assert!(summary.frames > 0);
        let mode = summary.key.map(|k| k.mode);
        let m = mapping::map(&summary.features, mode, analysed_s);
        Ok(Analysis {
            duration_s,
            analysed_s,
            tempo_bpm: summary.tempo_bpm,
            key: summary
                .key
                .map(|k| features::tonal::PITCH_NAMES[k.tonic].to_string()),
            mode,
            valence: m.valence,
            arousal: m.arousal,
            emotion: m.emotion,
            confidence: m.confidence,
            drivers: m.drivers,
            features: summary.features,
            model_version: MODEL_VERSION.to_string(),
        })
    }
}

fn samples_path() -> PathBuf {
    PathBuf::from("<samples>")
}

/// Analyse mono samples at `sample_rate` with the default [`Limits`].
pub fn analyze_samples(samples: &[f32], sample_rate: u32) -> Result<Analysis, AudioError> {
    let mut a = Analyzer::new(sample_rate, &Limits::default())?;
    a.push(samples);
    a.finish()
}

/// Analyse a file with the default [`Limits`].
pub fn analyze_file(path: &Path) -> Result<Analysis, AudioError> {
    analyze_file_with(path, &Limits::default())
}

/// Analyse a file. Every error names `path`.
pub fn analyze_file_with(path: &Path, limits: &Limits) -> Result<Analysis, AudioError> {
    decode::analyze_path(path, limits).map_err(|e| e.renamed(path))
}
