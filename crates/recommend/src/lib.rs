//! Content-based song recommendation for moodtune (SPEC.md section 3).
//!
//! A user's taste for one emotion is the tag-count vector of the songs they picked as
//! typical for it, adjusted by like/skip feedback. Every song is a 0/1 vector over the
//! same tags, and songs of the detected emotion's library are ranked by the cosine
//! between the two.
//!
//! The crate has its own input type, [`Candidate`], so it does not depend on the song
//! store; callers convert their songs once into an [`Index`] and ask it for
//! recommendations:
//!
//! ```
//! use moodtune_core::Emotion;
//! use moodtune_recommend::{Candidate, Index, Request, Session, Taste};
//!
//! let song = |id, title: &str, tags: &[&str]| Candidate {
//!     id,
//!     title: title.into(),
//!     artist: format!("artist {id}"),
//!     tags: tags.iter().map(|t| t.to_string()).collect(),
//!     emotion: Some(Emotion::Happy),
//!     confidence: 0.9,
//!     manual: false,
//!     drivers: vec![],
//! };
//! let index = Index::build(vec![
//!     song(1, "Rise", &["Keyboard", "Internet"]),
//!     song(2, "Brass", &["Keyboard", "Cheerful"]),
//!     song(3, "Light", &["Cheerful"]),
//! ])
//! .unwrap();
//! let mut taste = Taste::default();
//! taste.set_picks(Emotion::Happy, vec![1]);
//! let recs = index.recommend(&Request::new(Emotion::Happy), &taste, &Session::default());
//! assert_eq!(recs[0].title, "Brass"); // shares Keyboard with the pick
//! assert_eq!(recs.len(), 2); // the pick itself is never recommended
//! ```
//!
//! Design for scale (see docs/RECOMMEND.md): tags and artists are interned to `u32`
//! ids, songs are stored as sorted tag-id lists in one flat array grouped by emotion
//! library, the norm of a 0/1 vector depends only on its tag count (a small lookup
//! table), and the top of the ranking is found by partial selection, not a full sort.

mod index;
mod plan;
mod separate;

pub use index::{Index, SongInfo};
pub use plan::lift_plan;

use moodtune_core::Emotion;
pub use moodtune_core::{Strategy, UnknownStrategy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The Happy library of SPEC.md section 3's worked example: (title, tags) of its ten
/// songs in the design's order. The design's ranking of them is the golden test of this
/// crate and of `moodtune recommend`.
pub const WORKED_EXAMPLE_SONGS: [(&str, &[&str]); 10] = [
    (
        "Back wave",
        &["Cheerful", "Wild", "Keyboard", "Absolute Music", "Internet"],
    ),
    ("Rise", &["Keyboard", "Absolute Music", "Internet"]),
    (
        "Lanterns",
        &["Cheerful", "Keyboard", "Absolute Music", "Internet"],
    ),
    (
        "Brass",
        &["Cheerful", "Keyboard", "Absolute Music", "Internet"],
    ),
    ("PDD", &["Cheerful", "Keyboard", "Absolute Music"]),
    ("Higher", &["Cheerful", "Absolute Music"]),
    ("All in", &["Cheerful", "Absolute Music"]),
    ("Adventures", &["Absolute Music"]),
    ("Temptation", &["Cheerful"]),
    ("Light", &["Cheerful"]),
];

/// Weight a liked song's tags add to the profile of the song's emotion (a like counts
/// as much as one more typical song).
pub const LIKE_WEIGHT: f32 = 1.0;
/// Weight a skipped song's tags take away from the profile of the song's emotion
/// (half a like: one skip says less about taste than one like). Profile weights never
/// go below zero.
pub const SKIP_WEIGHT: f32 = 0.5;
/// Factor a skipped song's own score is multiplied by, once per skip not cancelled by
/// a later like of the same song.
pub const SKIP_DEMOTION: f32 = 0.5;
/// Songs per recommendation when the caller does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// How many typical songs the design asks for per emotion (any number is accepted).
pub const DEFAULT_PICKS: usize = 3;

/// One song as the recommender sees it. Build these from the library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: i64,
    pub title: String,
    pub artist: String,
    /// Tags such as "Cheerful" or "Keyboard"; compared ignoring case and surrounding
    /// spaces, duplicates count once.
    pub tags: Vec<String>,
    /// The emotion library the song belongs to (`None`: not labelled yet).
    pub emotion: Option<Emotion>,
    /// Confidence of a predicted label, 0-1. Ignored when `manual`.
    pub confidence: f32,
    /// The label was set by the user; counts as the most confident label.
    pub manual: bool,
    /// Lyric words that drove a predicted label, shown in explanations.
    pub drivers: Vec<String>,
}

/// What the user said about a song: the library's and the web page's type too.
pub use moodtune_core::FeedbackKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub song_id: i64,
    pub kind: FeedbackKind,
}

/// Everything the user told us: typical songs per emotion and like/skip feedback, in
/// the order it was given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Taste {
    picks: BTreeMap<Emotion, Vec<i64>>,
    feedback: Vec<Feedback>,
}

impl Taste {
    /// Replaces the typical songs for `emotion` (an empty list clears them).
    pub fn set_picks(&mut self, emotion: Emotion, song_ids: Vec<i64>) {
        if song_ids.is_empty() {
            self.picks.remove(&emotion);
        } else {
            self.picks.insert(emotion, song_ids);
        }
    }

    pub fn picks(&self, emotion: Emotion) -> &[i64] {
        self.picks.get(&emotion).map_or(&[], Vec::as_slice)
    }

    pub fn add_feedback(&mut self, song_id: i64, kind: FeedbackKind) {
        self.feedback.push(Feedback { song_id, kind });
    }

    pub fn feedback(&self) -> &[Feedback] {
        &self.feedback
    }
}

/// One recommendation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub emotion: Emotion,
    pub strategy: Strategy,
    pub limit: usize,
    /// Keep the same artist from playing twice in a row where the library allows it.
    pub separate_artists: bool,
}

impl Request {
    /// `match`, [`DEFAULT_LIMIT`] songs, artists separated.
    pub fn new(emotion: Emotion) -> Request {
        Request {
            emotion,
            strategy: Strategy::Match,
            limit: DEFAULT_LIMIT,
            separate_artists: true,
        }
    }

    pub fn strategy(mut self, strategy: Strategy) -> Request {
        self.strategy = strategy;
        self
    }

    pub fn limit(mut self, limit: usize) -> Request {
        self.limit = limit;
        self
    }

    pub fn separate_artists(mut self, on: bool) -> Request {
        self.separate_artists = on;
        self
    }
}

/// What has been played in one listening session: those songs are not recommended
/// again, and the next song avoids the artist of the last one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    played: HashSet<i64>,
    last_artist: Option<String>,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// Marks one song as played (call it when a song starts playing).
    pub fn mark_played(&mut self, song_id: i64, artist: &str) {
        self.played.insert(song_id);
        self.last_artist = Some(artist.to_string());
    }

    /// Marks a whole playlist as served, in order.
    pub fn record(&mut self, recs: &[Recommendation]) {
        for r in recs {
            self.mark_played(r.id, &r.artist);
        }
    }

    pub fn has_played(&self, song_id: i64) -> bool {
        self.played.contains(&song_id)
    }

    pub fn played_count(&self) -> usize {
        self.played.len()
    }

    pub fn last_artist(&self) -> Option<&str> {
        self.last_artist.as_deref()
    }

    /// Forgets everything played (e.g. when the whole library has been heard).
    pub fn reset(&mut self) {
        *self = Session::default();
    }
}

/// One recommended song with the reasons for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub id: i64,
    pub title: String,
    pub artist: String,
    /// The library the song came from (for `lift`, the step's library).
    pub emotion: Emotion,
    /// Cosine similarity with the profile (times the skip demotion); on cold start the
    /// label confidence (1 for a manual label) instead.
    pub score: f32,
    /// No profile existed for this library: ranked by label confidence.
    pub cold_start: bool,
    /// 1-based step of a `lift` sequence (always 1 for `match`) and the number of steps.
    pub step: usize,
    pub steps: usize,
    /// Tags shared with the profile, heaviest profile weight first.
    pub shared_tags: Vec<String>,
    /// Lyric words behind the song's emotion label (empty for manual labels).
    pub drivers: Vec<String>,
    pub manual_label: bool,
    /// Skips not cancelled by a later like; each halves the score.
    pub skips: u32,
    /// One human-readable sentence combining the above.
    pub explanation: String,
}

/// Ways building an index can fail.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecommendError {
    #[error("song id {0} appears more than once in the recommender input")]
    DuplicateId(i64),
    #[error("too many songs or tags for the index ({0}); the limit is 2^32-1")]
    TooLarge(&'static str),
}

/// A user's taste vector for one emotion, for display (`moodtune profile show`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub emotion: Emotion,
    /// Tag weights, heaviest first (ties by name); zero weights left out.
    pub weights: Vec<(String, f32)>,
    /// Picks found in the index.
    pub picks: Vec<i64>,
    /// Picks that are not (or no longer) in the library.
    pub missing_picks: Vec<i64>,
    /// Picks whose own label is another emotion (allowed, but worth a warning).
    pub off_library_picks: Vec<i64>,
    /// Feedback events that shaped this profile.
    pub likes: usize,
    pub skips: usize,
}

impl ProfileSummary {
    /// True when nothing defines the profile, so recommendations fall back to cold start.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}
