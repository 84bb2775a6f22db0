//! What the web app needs from the rest of moodtune, as one object-safe trait.
//!
//! The server only talks to a [`Backend`]; the `moodtune serve` command implements it
//! over the real model, face detector, library and recommender, and tests use
//! [`crate::fake::FakeBackend`]. All methods are synchronous (model inference and SQLite
//! are blocking work); the server runs them on tokio's blocking pool.

use moodtune_core::Emotion;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;

/// A song's id in the library.
pub type SongId = i64;

pub use moodtune_core::FaceBox;

/// One detected face with the probabilities of the seven emotions in
/// [`Emotion::ALL`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceResult {
    pub bbox: FaceBox,
    pub probs: [f32; Emotion::COUNT],
    /// Why the expression may be misread ("small", "blurry"); empty for a clear face.
    pub flags: Vec<String>,
}

impl FaceResult {
    /// The most probable emotion (the first one on ties).
    pub fn top(&self) -> Emotion {
        moodtune_core::top_emotion(&self.probs).0
    }
}

/// The faces found in one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Size of the decoded image, so the page can scale boxes onto its video.
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceResult>,
    /// Index in `faces` of the face whose expression sets the mood; the backend decides
    /// (the person nearest the camera, preferring a face clear enough to read).
    pub main_face: Option<usize>,
}

pub use moodtune_core::Strategy;

/// A song as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    pub id: SongId,
    pub title: String,
    pub artist: String,
    /// The emotion library the song belongs to, when it has been classified.
    pub emotion: Option<Emotion>,
    pub tags: Vec<String>,
    /// Whether [`Backend::audio_path`] has a file for it (the page disables play otherwise).
    pub has_audio: bool,
}

/// A playlist entry: a song, its similarity score and why it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    #[serde(flatten)]
    pub song: Song,
    pub score: f32,
    pub reason: String,
    /// The mood's own library was too thin, so the song comes from a nearby mood.
    #[serde(default)]
    pub filled: bool,
}

/// One page of a library listing or search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongPage {
    /// Number of songs matching the query, over all pages.
    pub total: usize,
    pub songs: Vec<Song>,
}

/// Where the running upload is: the page polls it while its upload request runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportProgress {
    pub active: bool,
    /// "reading", "classifying", "analysing audio", "done" (empty before any upload).
    pub stage: String,
    pub done: usize,
    pub total: usize,
    /// Seconds of audio analysed per second of wall time.
    pub x_real_time: f64,
}

/// The outcome of importing a spreadsheet or CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub imported: usize,
    pub skipped: usize,
    /// Human-readable notes: skipped rows and why, the library that was replaced, ...
    pub messages: Vec<String>,
}

pub use moodtune_core::FeedbackKind;

/// What the page shows in its header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Where the library lives, or a name for it.
    pub library: String,
    pub songs: usize,
    /// The expression model in use.
    pub model: String,
}

/// Errors a backend reports; each maps to an HTTP status with a JSON message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The client sent something unusable (corrupt image, malformed CSV, unknown id in a
    /// list): HTTP 400.
    #[error("{0}")]
    BadInput(String),
    /// The thing asked for does not exist: HTTP 404.
    #[error("{0}")]
    NotFound(String),
    /// The library is held by another writer for now; nothing changed and the same
    /// request may succeed shortly: HTTP 503 with `Retry-After`.
    #[error("{0}")]
    Busy(String),
    /// Anything else (database trouble, a bug): HTTP 500.
    #[error("{0}")]
    Internal(String),
}

impl BackendError {
    pub fn bad_input(msg: impl fmt::Display) -> Self {
        BackendError::BadInput(msg.to_string())
    }
    pub fn not_found(msg: impl fmt::Display) -> Self {
        BackendError::NotFound(msg.to_string())
    }
    pub fn internal(msg: impl fmt::Display) -> Self {
        BackendError::Internal(msg.to_string())
    }
}

pub type BackendResult<T> = Result<T, BackendError>;

/// The operations of the web app. Implementations must be cheap to share between
/// threads; interior locking (for example around a database connection) is theirs.
pub trait Backend: Send + Sync + 'static {
    fn info(&self) -> BackendResult<BackendInfo>;

    /// Finds the faces in an encoded image (JPEG, PNG, ...) and classifies each.
    /// The bytes are a camera frame or a photo: never store or log them. `stream` names
    /// the camera stream a frame belongs to (the page's session), so faces can be
    /// followed from frame to frame; `None` for a one-off photo.
    fn analyze(&self, image: &[u8], stream: Option<&str>) -> BackendResult<Analysis>;

    /// Up to `limit` songs for `emotion`, best first, leaving out the songs in `exclude`
    /// (those this session has already heard or skipped).
    fn playlist(
        &self,
        emotion: Emotion,
        strategy: Strategy,
        exclude: &HashSet<SongId>,
        limit: usize,
    ) -> BackendResult<Vec<Recommendation>>;

    /// Songs whose title, artist or tags contain `query` (case-insensitive; empty matches
    /// all), optionally only one emotion's library.
    fn songs(
        &self,
        query: &str,
        emotion: Option<Emotion>,
        offset: usize,
        limit: usize,
    ) -> BackendResult<SongPage>;

    /// The typical songs the user picked for `emotion`.
    fn picks(&self, emotion: Emotion) -> BackendResult<Vec<Song>>;

    /// Replaces the typical songs of `emotion`; returns them as stored.
    fn set_picks(&self, emotion: Emotion, songs: &[SongId]) -> BackendResult<Vec<Song>>;

    /// Records a like or skip of `song` heard while the mood was `emotion`.
    fn feedback(&self, song: SongId, emotion: Emotion, feedback: FeedbackKind)
        -> BackendResult<()>;

    /// Where the running upload is; by default, nowhere (a backend whose imports are
    /// quick need not say).
    fn import_progress(&self) -> BackendResult<ImportProgress> {
        Ok(ImportProgress::default())
    }

    /// Imports an uploaded spreadsheet or CSV; `filename` tells its format.
    fn import(&self, filename: &str, bytes: &[u8]) -> BackendResult<ImportSummary>;

    /// The audio file of a song of the library, `None` when the song has none.
    /// Unknown ids are `NotFound`. Only paths the library owns may come back: the server
    /// never serves a path a client named.
    fn audio_path(&self, song: SongId) -> BackendResult<Option<PathBuf>>;

    /// The playlist for `emotion` as a file for other players: its media type and bytes.
    /// Only paths the library owns may appear in it. By default there is none (`None`,
    /// answered 404).
    fn playlist_file(
        &self,
        emotion: Emotion,
        strategy: Strategy,
        format: PlaylistFileFormat,
        limit: usize,
    ) -> BackendResult<Option<(String, Vec<u8>)>> {
        let _ = (emotion, strategy, format, limit);
        Ok(None)
    }
}

/// A playlist file format the page can download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaylistFileFormat {
    /// Extended M3U in UTF-8.
    M3u8,
    /// XSPF version 1.
    Xspf,
}

impl PlaylistFileFormat {
    /// The file extension.
    pub fn key(self) -> &'static str {
        match self {
            PlaylistFileFormat::M3u8 => "m3u8",
            PlaylistFileFormat::Xspf => "xspf",
        }
    }
}
