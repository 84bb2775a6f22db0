//! `analyze`: the mood of audio files outside the library, as JSON rows or text lines.

use crate::text::minutes_seconds;
use serde::Serialize;
use std::path::PathBuf;

/// One file's analysis, or why it has none.
#[derive(Serialize)]
pub struct FileAnalysis {
    file: PathBuf,
    #[serde(flatten)]
    outcome: Outcome,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outcome {
    Ok {
        duration_s: f64,
        tempo_bpm: Option<f32>,
        key: Option<String>,
        mode: Option<String>,
        valence: f32,
        arousal: f32,
        emotion: moodtune_core::Emotion,
        confidence: f32,
        drivers: Vec<String>,
    },
    Err {
        error: String,
    },
}

/// Analyses `files` in parallel; the answers in the given order.
pub fn analyze(files: &[PathBuf]) -> Vec<FileAnalysis> {
    let results = super::audio::analyze_files(files);
    files
        .iter()
        .zip(results)
        .map(|(file, r)| FileAnalysis {
            file: file.clone(),
            outcome: match r {
                Ok(a) => Outcome::Ok {
                    duration_s: a.duration_s,
                    tempo_bpm: a.tempo_bpm,
                    key: a.key,
                    mode: a.mode.map(|m| format!("{m:?}").to_lowercase()),
                    valence: a.valence,
                    arousal: a.arousal,
                    emotion: a.emotion,
                    confidence: a.confidence,
                    drivers: a.drivers,
                },
                Err(e) => Outcome::Err {
                    error: e.to_string(),
                },
            },
        })
        .collect()
}

impl FileAnalysis {
    /// Why the file could not be analysed (the message names the file).
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Err { error } => Some(error),
            Outcome::Ok { .. } => None,
        }
    }

    /// The emotion with valence, arousal, tempo, key and length, then the drivers; none
    /// for a file that could not be analysed.
    pub fn lines(&self) -> Vec<String> {
        let Outcome::Ok {
            duration_s,
            tempo_bpm,
            key,
            mode,
            valence,
            arousal,
            emotion,
            confidence,
            drivers,
        } = &self.outcome
        else {
            return Vec::new();
        };
        let tempo = tempo_bpm.map_or("no clear beat".into(), |t| format!("{t:.0} bpm"));
        let key = match (key, mode) {
            (Some(k), Some(m)) => format!("{k} {m}"),
            _ => "no clear key".into(),
        };
        let mut lines = vec![format!(
            "{}: {} ({:.0}%)  valence {valence:+.2}  arousal {arousal:+.2}  {tempo}, {key}, {}",
            self.file.display(),
            emotion.key(),
            confidence * 100.0,
            minutes_seconds(*duration_s)
        )];
        if !drivers.is_empty() {
            lines.push(format!("    {}", drivers.join(", ")));
        }
        lines
    }
}
