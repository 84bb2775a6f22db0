//! The SQLite store: every read/write of songs, tags, labels, picks and feedback. Each
//! public write runs in one transaction. [`schema`] opens the file and migrates it,
//! [`songs`] holds the songs and their tags and labels, [`taste`] the user's picks and
//! feedback.

mod analysis;
mod schema;
pub(crate) use schema::is_busy;
mod songs;
mod taste;

pub use analysis::{AudioRecord, Evidence, EvidenceSource};

pub use schema::SCHEMA_VERSION;
pub(crate) use songs::{match_key, normalize, upsert_song, Upsert};
pub use taste::{Feedback, FeedbackKind};

use crate::error::Error;
use moodtune_core::Emotion;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Row id of a song; stable for the life of the library.
pub type SongId = i64;

/// A model's guess at a song's emotion, kept with what is needed to trust or redo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedEmotion {
    pub emotion: Emotion,
    pub confidence: f32,
    /// Version string of the model that made the prediction.
    pub model_version: String,
    /// Words that drove the prediction (lyric words, audio cues, mood tags), most
    /// important first.
    pub drivers: Vec<String>,
    /// What each source of evidence said; empty for predictions stored before sources
    /// were kept.
    #[serde(default)]
    pub sources: Vec<Evidence>,
}

/// One song as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    pub id: SongId,
    pub title: String,
    /// Empty when unknown.
    pub artist: String,
    pub album: Option<String>,
    pub duration_s: Option<f64>,
    /// Language of the lyrics ("en", "zh", ...), from the source or guessed from the lyrics.
    pub language: Option<String>,
    pub lyrics: Option<String>,
    /// Absolute, canonical path of the audio file.
    pub audio_path: Option<PathBuf>,
    /// Sorted case-insensitively.
    pub tags: Vec<String>,
    /// A label the user set; it always wins over a prediction.
    pub manual_emotion: Option<Emotion>,
    pub predicted: Option<PredictedEmotion>,
    /// Where the song came from (a file path, a folder import, "demo", "manual").
    pub source: String,
    /// The song's key inside its source, so re-importing updates it.
    pub source_key: String,
    pub added_at: i64,
    pub updated_at: i64,
}

impl Song {
    /// The emotion library this song belongs to: the manual label if any, else the prediction.
    pub fn emotion(&self) -> Option<Emotion> {
        self.manual_emotion
            .or_else(|| self.predicted.as_ref().map(|p| p.emotion))
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// A song to add or merge into the library. Empty/`None` fields never erase what the
/// library already has when this merges into an existing song.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewSong {
    pub title: String,
    pub artist: String,
    pub album: Option<String>,
    pub duration_s: Option<f64>,
    pub language: Option<String>,
    pub lyrics: Option<String>,
    /// Stored as given: importers canonicalize before calling.
    pub audio_path: Option<PathBuf>,
    pub tags: Vec<String>,
    pub manual_emotion: Option<Emotion>,
    /// Defaults to "manual" when empty.
    pub source: String,
    /// Defaults to the normalized "title / artist" when empty.
    pub source_key: String,
    /// Id of the song this record describes (an exported `moodtune_id`). It is
    /// trusted only if that song still has the same title or the same artist, so a
    /// sheet from another library cannot overwrite unrelated songs.
    pub merge_into: Option<SongId>,
    /// The title is only a guess (an audio file's name): it names a new song but never
    /// renames an existing one.
    pub title_is_guess: bool,
}

impl NewSong {
    pub fn new(title: impl Into<String>, artist: impl Into<String>) -> NewSong {
        NewSong {
            title: title.into(),
            artist: artist.into(),
            ..NewSong::default()
        }
    }

    pub fn tags<I, S>(mut self, tags: I) -> NewSong
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    pub fn emotion(mut self, emotion: Emotion) -> NewSong {
        self.manual_emotion = Some(emotion);
        self
    }

    pub fn lyrics(mut self, lyrics: impl Into<String>) -> NewSong {
        self.lyrics = Some(lyrics.into());
        self
    }

    pub fn audio(mut self, path: impl Into<PathBuf>) -> NewSong {
        self.audio_path = Some(path.into());
        self
    }
}

/// An open song library. Not `Sync`: a server shares it behind a `Mutex` or opens one
/// per thread (SQLite in WAL mode lets readers run beside a writer).
pub struct Library {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("path", &self.path).finish()
    }
}

/// Internal helpers return rusqlite errors wrapped without a path; the public method
/// fills the library path in on the way out.
pub(crate) fn raw(e: rusqlite::Error) -> Error {
    Error::Db {
        path: PathBuf::new(),
        source: e,
    }
}

pub(crate) fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Db { path: p, source } if p.as_os_str().is_empty() => Error::Db {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn lib_with(songs: &[NewSong]) -> (Library, Vec<SongId>) {
        let mut lib = Library::open_in_memory().unwrap();
        let ids = songs.iter().map(|s| lib.add_song(s).unwrap()).collect();
        (lib, ids)
    }
}
