//! moodtune's song library: a SQLite store of songs with tags, emotion labels, the
//! user's typical songs per emotion ("picks") and like/skip feedback; import from
//! spreadsheets, CSV and music folders; export to xlsx/CSV; and a synthesized demo
//! library so a fresh install has something to play.
//!
//! ```no_run
//! use moodtune_core::Emotion;
//! use moodtune_library::{FeedbackKind, Library};
//!
//! let mut lib = Library::open_default()?;
//! let report = lib.import_path("my-songs.xlsx".as_ref())?;
//! println!("{report}");
//! for song in lib.songs_in(Emotion::Happy)? {
//!     println!("{} - {} {:?}", song.artist, song.title, song.tags);
//! }
//! let first = lib.songs()?[0].id;
//! lib.add_feedback(first, FeedbackKind::Like)?;
//! # Ok::<(), moodtune_library::Error>(())
//! ```

pub mod demo;
mod error;
mod export;
mod import;
pub mod lrc;
mod store;
mod tag_writer;

pub use error::{Error, Result};
pub use import::{
    is_audio_file, is_importable_file, source_of, split_tags, FromFiles, ImportBatch, ImportIssue,
    ImportLimits, ImportProgress, ImportReport, IssueCount, AUDIO_EXTENSIONS, MAX_IMPORT_ROWS,
    MAX_LISTED_ISSUES,
};
pub use store::{
    AudioRecord, Evidence, EvidenceSource, Feedback, FeedbackKind, Library, NewSong,
    PredictedEmotion, Song, SongId, SCHEMA_VERSION,
};
pub use tag_writer::{
    mood_word, write_mood, write_songs, TagChange, TagOutcome, WriteTagsOptions, WriteTagsProgress,
    WriteTagsReport,
};
