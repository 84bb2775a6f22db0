//! A recommended playlist as `recommend` prints it: as text, with what the user should
//! know about the library, or as JSON.

use super::{Entry, Playlist, Recommender};
use moodtune_core::{Emotion, Strategy};

/// The JSON `recommend --json` prints.
#[derive(serde::Serialize)]
pub struct PlaylistJson<'a> {
    emotion: Emotion,
    /// Set when the emotion came from a photo.
    photo_confidence: Option<f32>,
    strategy: Strategy,
    songs: &'a [Entry],
    /// Songs of the library with no emotion library yet.
    unlabelled: usize,
}

impl<'a> PlaylistJson<'a> {
    pub fn new(
        list: &'a Playlist,
        emotion: Emotion,
        photo_confidence: Option<f32>,
        strategy: Strategy,
    ) -> Self {
        PlaylistJson {
            emotion,
            photo_confidence,
            strategy,
            songs: &list.entries,
            unlabelled: list.unlabelled,
        }
    }
}

/// The mood, notes on unlabelled songs, a thin or empty library and cold start, then
/// each song with why it was chosen.
pub fn lines(
    rec: &Recommender,
    list: &Playlist,
    emotion: Emotion,
    photo_confidence: Option<f32>,
) -> Vec<String> {
    let mut lines = vec![match photo_confidence {
        Some(c) => format!("mood from photo: {} ({:.0}%)", emotion.key(), c * 100.0),
        None => format!("mood: {}", emotion.key()),
    }];
    if rec.index().is_empty() {
        lines.push("the library is empty: import songs with `moodtune library import PATH` or install the demo with `moodtune library demo`".into());
        return lines;
    }
    if list.unlabelled > 0 {
        lines.push(format!(
            "note: {} songs have no emotion library yet and are never recommended (`moodtune library list --unlabelled`)",
            list.unlabelled
        ));
    }
    if list.entries.is_empty() {
        lines.push(format!(
            "no songs to recommend: the {} library has {} songs and your picks are excluded; label or classify more songs (`moodtune library classify`)",
            emotion.key(),
            list.library_len
        ));
        return lines;
    }
    if list.filled() > 0 {
        lines.push(format!(
            "note: the {} library has {} songs; {} more come from the nearest moods",
            emotion.key(),
            list.library_len,
            list.filled()
        ));
    }
    if let Some(cold) = list.entries.iter().find(|e| e.rec.cold_start) {
        let e = cold.rec.emotion;
        if rec.index().profile(e, rec.taste()).picks.is_empty() {
            lines.push(format!(
                "tip: pick typical songs to personalise: moodtune profile pick --emotion {} SONG...",
                e.key()
            ));
        } else {
            lines.push(format!(
                "tip: your typical {} songs leave no tags to match (they have none, or skips outweigh them); add tags: moodtune library tag SONG --add TAG",
                e.key()
            ));
        }
    }
    for (i, r) in list.entries.iter().map(|e| &e.rec).enumerate() {
        let artist = if r.artist.is_empty() {
            "unknown artist"
        } else {
            &r.artist
        };
        lines.push(format!(
            "{:>3}. [{}] {} - {}  (id {})",
            i + 1,
            r.emotion.key(),
            artist,
            r.title,
            r.id
        ));
        lines.push(format!("     {}", r.explanation));
    }
    lines
}
