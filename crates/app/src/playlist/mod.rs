//! From a mood to a playlist: the recommender over the song library, kept in step with
//! it, and never silently empty while the library has songs; [`text`] renders it.

pub mod text;

use moodtune_core::{Emotion, Strategy};
use moodtune_library::{Library, Song, SongId};
use moodtune_recommend::{Candidate, Index, Recommendation, Request, Session, Taste};

/// The recommender's view of a library song.
pub fn candidate(song: Song) -> Candidate {
    let emotion = song.emotion();
    let manual = song.manual_emotion.is_some();
    let (confidence, drivers) = match song.predicted {
        // A prediction's words only explain the label if the label is the prediction.
        Some(p) if !manual => (p.confidence, p.drivers),
        _ => (if manual { 1.0 } else { 0.0 }, Vec::new()),
    };
    Candidate {
        id: song.id,
        title: song.title,
        artist: song.artist,
        tags: song.tags,
        emotion,
        confidence,
        manual,
        drivers,
    }
}

/// A mood library with fewer songs than this is topped up from the nearest moods.
pub const THIN_LIBRARY: usize = 3;

/// What to play.
#[derive(Debug, Clone)]
pub struct PlaylistRequest {
    pub emotion: Emotion,
    pub strategy: Strategy,
    pub limit: usize,
    /// Keep two songs by one artist apart.
    pub separate_artists: bool,
}

impl PlaylistRequest {
    pub fn new(emotion: Emotion) -> Self {
        PlaylistRequest {
            emotion,
            strategy: Strategy::Match,
            limit: moodtune_recommend::DEFAULT_LIMIT,
            separate_artists: true,
        }
    }
}

/// One song of a playlist.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub rec: Recommendation,
    /// Set when the song came from a neighbouring mood because the asked mood's library
    /// was thin: the mood it was borrowed for.
    pub filled_for: Option<Emotion>,
}

/// A playlist and what the user should know about it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Playlist {
    pub entries: Vec<Entry>,
    /// Songs in the library with no emotion library yet (never recommended).
    pub unlabelled: usize,
    /// Songs in the asked mood's library.
    pub library_len: usize,
}

impl Playlist {
    /// Entries borrowed from neighbouring moods.
    pub fn filled(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.filled_for.is_some())
            .count()
    }
}

/// `request`'s playlist for a new session over `lib`, with the library's songs (their
/// paths and durations, for a playlist file or a player). An empty library, or one whose
/// songs have no emotion library yet, is an error saying what to do: a file or a player
/// has no use for an empty list.
pub fn playable(lib: &Library, request: &PlaylistRequest) -> anyhow::Result<(Playlist, Vec<Song>)> {
    use anyhow::{bail, Context};
    let rec = Recommender::load(lib).context("reading the library for the recommender")?;
    if rec.index().is_empty() {
        bail!("the library is empty: import songs with `moodtune library import PATH` or install the demo with `moodtune library demo`");
    }
    let list = rec.playlist(request, &Session::new());
    if list.entries.is_empty() {
        bail!(
            "no songs to play for {}: no song has an emotion library yet ({} unlabelled); classify or label songs (`moodtune library classify`)",
            request.emotion.key(),
            list.unlabelled
        );
    }
    let songs = lib.songs().context("reading the library's songs")?;
    Ok((list, songs))
}

/// The recommender index over the library's songs with the taste (picks, feedback) it
/// ranks for. Picks and feedback update the taste in place; only a change of songs
/// rebuilds the index.
#[derive(Debug)]
pub struct Recommender {
    index: Index,
    taste: Taste,
    unlabelled: usize,
}

impl Recommender {
    /// Everything the recommender needs from the library, read once.
    pub fn load(lib: &Library) -> moodtune_library::Result<Recommender> {
        let songs = lib.songs()?;
        let unlabelled = songs.iter().filter(|s| s.emotion().is_none()).count();
        let index = Index::build(songs.into_iter().map(candidate).collect())
            .map_err(|e| moodtune_library::Error::Invalid(e.to_string()))?;
        let mut taste = Taste::default();
        for (emotion, ids) in lib.all_picks()? {
            taste.set_picks(emotion, ids);
        }
        for f in lib.feedback()? {
            taste.add_feedback(f.song_id, f.kind);
        }
        Ok(Recommender {
            index,
            taste,
            unlabelled,
        })
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn taste(&self) -> &Taste {
        &self.taste
    }

    /// Songs of the library without an emotion library.
    pub fn unlabelled(&self) -> usize {
        self.unlabelled
    }

    /// The user replaced the typical songs of `emotion` (already stored in the library).
    pub fn set_picks(&mut self, emotion: Emotion, songs: Vec<SongId>) {
        self.taste.set_picks(emotion, songs);
    }

    /// The user liked or skipped a song (already stored in the library).
    pub fn add_feedback(&mut self, song: SongId, kind: moodtune_core::FeedbackKind) {
        self.taste.add_feedback(song, kind);
    }

    /// A playlist for the request, leaving out the songs `session` has played. When the
    /// mood's library cannot fill it (thin or empty), songs of the nearest moods in the
    /// valence-arousal plane follow, marked as borrowed.
    pub fn playlist(&self, req: &PlaylistRequest, session: &Session) -> Playlist {
        let request = |emotion: Emotion, limit: usize| {
            Request::new(emotion)
                .strategy(req.strategy)
                .limit(limit)
                .separate_artists(req.separate_artists)
        };
        let mut entries: Vec<Entry> = self
            .index
            .recommend(&request(req.emotion, req.limit), &self.taste, session)
            .into_iter()
            .map(|rec| Entry {
                rec,
                filled_for: None,
            })
            .collect();
        let library_len = self.index.library_len(req.emotion);
        // `lift` moves between libraries on purpose; only `match` borrows.
        if req.strategy == Strategy::Match && entries.len() < req.limit.min(THIN_LIBRARY) {
            let mut seen = session.clone();
            for e in &entries {
                seen.mark_played(e.rec.id, "");
            }
            for near in req.emotion.neighbours() {
                if entries.len() >= req.limit {
                    break;
                }
                let more = self.index.recommend(
                    &request(near, req.limit - entries.len()),
                    &self.taste,
                    &seen,
                );
                for mut rec in more {
                    seen.mark_played(rec.id, "");
                    rec.explanation = format!(
                        "the {} library is thin, so a song of the nearby {} mood: {}",
                        req.emotion.key(),
                        near.key(),
                        rec.explanation
                    );
                    entries.push(Entry {
                        rec,
                        filled_for: Some(req.emotion),
                    });
                }
            }
        }
        Playlist {
            entries,
            unlabelled: self.unlabelled,
            library_len,
        }
    }
}
