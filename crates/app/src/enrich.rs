//! Every song gets a mood: after songs come in (an import, an upload, the demo), each
//! song without a manual label gets its emotion library from the evidence it carries.
//! The CLI and the web app both call this one place.

use anyhow::Context;
use moodtune_core::Emotion;
use moodtune_library::{ImportProgress, ImportReport, Library, PredictedEmotion, Song};
use std::path::{Path, PathBuf};

/// How songs are classified.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Lyrics model file instead of the embedded one.
    pub lyrics_model: Option<PathBuf>,
}

/// What a classification run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassifySummary {
    pub model_version: String,
    pub classified: usize,
    pub without_lyrics: usize,
    /// Songs whose manual label differs from (and wins over) the new prediction.
    pub overridden_by_manual: usize,
    /// Songs per emotion library after classification (manual labels included).
    pub per_emotion: Vec<(Emotion, usize)>,
    /// Songs still without an emotion library.
    pub unlabelled: usize,
}

fn lyrics_model(opts: &Options) -> anyhow::Result<moodtune_lyrics::EmotionModel> {
    Ok(match &opts.lyrics_model {
        Some(p) => moodtune_lyrics::EmotionModel::load(p)
            .with_context(|| format!("loading lyrics model {}", p.display()))?,
        None => moodtune_lyrics::EmotionModel::embedded(),
    })
}

fn has_lyrics(s: &Song) -> bool {
    s.lyrics.as_deref().is_some_and(|l| !l.trim().is_empty())
}

/// Classifies every song of the library from its lyrics and stores the predictions.
pub fn classify(lib: &mut Library, opts: &Options) -> anyhow::Result<ClassifySummary> {
    let model = lyrics_model(opts)?;
    let analyzer = moodtune_lyrics::Analyzer::default();
    let songs = lib.songs().context("reading the songs")?;
    let (with, without): (Vec<&Song>, Vec<&Song>) = songs.iter().partition(|s| has_lyrics(s));
    let texts: Vec<&str> = with
        .iter()
        .map(|s| s.lyrics.as_deref().unwrap_or(""))
        .collect();
    let predictions = model.predict_batch(&analyzer, &texts);
    let version = model.version().to_string();
    let mut overridden = 0;
    let items: Vec<_> = with
        .iter()
        .zip(predictions)
        .map(|(s, p)| {
            if s.manual_emotion.is_some_and(|m| m != p.emotion) {
                overridden += 1;
            }
            (
                s.id,
                Some(PredictedEmotion {
                    emotion: p.emotion,
                    confidence: p.confidence,
                    model_version: version.clone(),
                    drivers: p.drivers,
                }),
            )
        })
        .collect();
    lib.set_predictions(&items)
        .context("storing the predictions")?;
    let after = lib.songs().context("reading the songs")?;
    let per_emotion = Emotion::ALL
        .iter()
        .map(|&e| (e, after.iter().filter(|s| s.emotion() == Some(e)).count()))
        .collect();
    Ok(ClassifySummary {
        model_version: version,
        classified: items.len(),
        without_lyrics: without.len(),
        overridden_by_manual: overridden,
        per_emotion,
        unlabelled: after.iter().filter(|s| s.emotion().is_none()).count(),
    })
}

/// Imports a file or folder, then classifies the songs it brought.
pub fn import_path(
    lib: &mut Library,
    path: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(ImportProgress<'_>),
) -> anyhow::Result<(ImportReport, ClassifySummary)> {
    let report = lib.import_path_with(path, progress)?;
    let summary = classify(lib, opts)?;
    Ok((report, summary))
}
