//! Every song gets a mood: after songs come in (an import, an upload, the demo), each
//! song gets its emotion library from all the evidence it carries: its lyrics, its
//! audio, its mood and genre tags, and what the user said of similar songs. A manual
//! label always wins. The CLI and the web app both call this one place.

pub mod audio;
pub mod evidence;
pub mod files;
pub mod import;
mod report;
pub mod spread;
pub mod tags;

use anyhow::Context;
use evidence::{circumplex_scores, combine, Vote};
use moodtune_core::Emotion;
use moodtune_library::{EvidenceSource, FeedbackKind, Library, PredictedEmotion, Song};
use std::path::PathBuf;

pub use audio::{AudioProgress, AudioSummary};

/// How songs are classified.
#[derive(Debug, Clone)]
pub struct Options {
    /// Lyrics model file instead of the embedded one.
    pub lyrics_model: Option<PathBuf>,
    /// Analyse audio files (off: lyrics, tags and neighbours only).
    pub audio: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lyrics_model: None,
            audio: true,
        }
    }
}

/// What a classification run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassifySummary {
    /// The versions behind the predictions: lyrics model and audio analyser.
    pub model_version: String,
    /// Songs given a prediction.
    pub classified: usize,
    /// Songs with lyrics (the lyrics model spoke for them).
    pub with_lyrics: usize,
    /// Songs whose audio analysis spoke.
    pub with_audio: usize,
    /// Songs whose tags carried mood words.
    pub with_mood_tags: usize,
    /// Songs that similar songs the user labelled spoke for.
    pub with_neighbours: usize,
    /// Songs whose manual label differs from (and wins over) the new prediction.
    pub overridden_by_manual: usize,
    /// Songs per emotion library after classification (manual labels included).
    pub per_emotion: Vec<(Emotion, usize)>,
    /// Songs still without an emotion library: nothing to go by.
    pub unlabelled: usize,
    /// The audio step.
    pub audio: AudioSummary,
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

/// Classifies every song of the library and stores the predictions.
pub fn classify(lib: &mut Library, opts: &Options) -> anyhow::Result<ClassifySummary> {
    classify_with(lib, opts, &mut |_| {})
}

/// [`classify`], calling `progress` as each audio file is analysed.
pub fn classify_with(
    lib: &mut Library,
    opts: &Options,
    progress: &mut dyn FnMut(AudioProgress<'_>),
) -> anyhow::Result<ClassifySummary> {
    let model = lyrics_model(opts)?;
    let analyzer = moodtune_lyrics::Analyzer::default();
    let songs = lib.songs().context("reading the songs")?;

    let (records, audio_summary) = if opts.audio {
        audio::analyse(lib, &songs, progress).context("analysing the audio files")?
    } else {
        (Default::default(), AudioSummary::default())
    };

    // Lyrics, in one parallel batch.
    let with: Vec<usize> = (0..songs.len())
        .filter(|&i| has_lyrics(&songs[i]))
        .collect();
    let texts: Vec<&str> = with
        .iter()
        .map(|&i| songs[i].lyrics.as_deref().unwrap_or(""))
        .collect();
    let mut lyrics: Vec<Option<moodtune_lyrics::Prediction>> = songs.iter().map(|_| None).collect();
    for (i, p) in with.iter().zip(model.predict_batch(&analyzer, &texts)) {
        lyrics[*i] = Some(p);
    }

    // What each song sounds and is tagged like, for the neighbour search.
    let analyses: Vec<Option<moodtune_audio::Analysis>> = songs
        .iter()
        .map(|s| records.get(&s.id).and_then(audio::analysis_of))
        .collect();
    let mut profiles: Vec<spread::Profile> = songs
        .iter()
        .zip(&analyses)
        .map(|(s, a)| spread::Profile {
            audio: a.as_ref().map(|a| a.features.vector()),
            tags: s.tags.iter().map(|t| t.trim().to_lowercase()).collect(),
        })
        .collect();
    let typical = spread::standardise(&mut profiles);
    let anchors = anchors(lib, &songs)?;
    let titles: Vec<String> = songs.iter().map(|s| s.title.clone()).collect();

    let version = format!("{}+{}", model.version(), moodtune_audio::MODEL_VERSION);
    let mut summary = ClassifySummary {
        model_version: version.clone(),
        classified: 0,
        with_lyrics: with.len(),
        with_audio: 0,
        with_mood_tags: 0,
        with_neighbours: 0,
        overridden_by_manual: 0,
        per_emotion: Vec::new(),
        unlabelled: 0,
        audio: audio_summary,
    };
    let mut items = Vec::with_capacity(songs.len());
    for (i, s) in songs.iter().enumerate() {
        let mut votes = Vec::new();
        if let Some(p) = &lyrics[i] {
            votes.push(Vote {
                source: EvidenceSource::Lyrics,
                scores: p.probabilities,
                strength: 1.0,
                why: p.drivers.join(", "),
            });
        }
        if let Some(a) = &analyses[i] {
            summary.with_audio += 1;
            votes.push(Vote {
                source: EvidenceSource::Audio,
                scores: circumplex_scores(a.valence, a.arousal),
                strength: a.confidence.clamp(0.2, 1.0),
                why: format!(
                    "{} (valence {:+.2}, arousal {:+.2})",
                    a.drivers.join(", "),
                    a.valence,
                    a.arousal
                ),
            });
        }
        if let Some(v) = tags::vote(&analyzer, &s.tags) {
            summary.with_mood_tags += 1;
            votes.push(v);
        }
        // A manual label is the user's own word about this song: it is an anchor for
        // others, not a neighbour's vote for itself.
        if let Some(v) = spread::vote(i, &profiles, typical, &anchors, &titles) {
            summary.with_neighbours += 1;
            votes.push(v);
        }
        let prediction = combine(&votes).map(|(emotion, confidence)| {
            let sources: Vec<_> = votes.iter().map(Vote::evidence).collect();
            // The words behind the label: those of the sources that agree with it.
            let drivers = drivers_for(emotion, &votes, lyrics[i].as_ref(), analyses[i].as_ref());
            PredictedEmotion {
                emotion,
                confidence,
                model_version: version.clone(),
                drivers,
                sources,
            }
        });
        if let Some(p) = &prediction {
            summary.classified += 1;
            if s.manual_emotion.is_some_and(|m| m != p.emotion) {
                summary.overridden_by_manual += 1;
            }
        }
        // A song with nothing to go by keeps no stale prediction of an old run.
        items.push((s.id, prediction));
    }
    lib.set_predictions(&items)
        .context("storing the predictions")?;
    // Each song's library now, as `Song::emotion` decides it: the manual label, else
    // the prediction just stored (no second read of the whole library).
    let libraries: Vec<Option<Emotion>> = songs
        .iter()
        .zip(&items)
        .map(|(s, (_, p))| s.manual_emotion.or(p.as_ref().map(|p| p.emotion)))
        .collect();
    summary.per_emotion = Emotion::ALL
        .iter()
        .map(|&e| (e, libraries.iter().filter(|l| **l == Some(e)).count()))
        .collect();
    summary.unlabelled = libraries.iter().filter(|l| l.is_none()).count();
    Ok(summary)
}

/// The user's labels and mood feedback, as anchors for the neighbour search.
fn anchors(lib: &Library, songs: &[Song]) -> anyhow::Result<Vec<spread::Anchor>> {
    let index: std::collections::HashMap<_, _> =
        songs.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut out: Vec<spread::Anchor> = songs
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.manual_emotion.map(|emotion| spread::Anchor {
                song: i,
                emotion,
                sign: 1.0,
            })
        })
        .collect();
    for f in lib.feedback().context("reading the feedback")? {
        let (Some(&song), Some(emotion)) = (index.get(&f.song_id), f.emotion) else {
            continue;
        };
        let sign = match f.kind {
            FeedbackKind::Like => 1.0,
            FeedbackKind::Skip => -1.0,
        };
        out.push(spread::Anchor {
            song,
            emotion,
            sign,
        });
    }
    Ok(out)
}

/// Words that explain `emotion`: the lyrics' driver words when the lyrics agree, the
/// audio's cues when the audio agrees, then the mood tags.
fn drivers_for(
    emotion: Emotion,
    votes: &[Vote],
    lyrics: Option<&moodtune_lyrics::Prediction>,
    audio: Option<&moodtune_audio::Analysis>,
) -> Vec<String> {
    let agrees = |source| {
        votes
            .iter()
            .any(|v| v.source == source && v.top().0 == emotion)
    };
    let mut out = Vec::new();
    if let Some(p) = lyrics.filter(|_| agrees(EvidenceSource::Lyrics)) {
        out.extend(p.drivers.iter().take(4).cloned());
    }
    if let Some(a) = audio.filter(|_| agrees(EvidenceSource::Audio)) {
        out.extend(a.drivers.iter().take(4).cloned());
    }
    if let Some(v) = votes
        .iter()
        .find(|v| v.source == EvidenceSource::Tags && v.top().0 == emotion)
    {
        out.extend(v.why.split(", ").map(String::from));
    }
    out
}
