//! The user's taste: typical songs per emotion ("picks") and like/skip feedback.

use super::songs::{emotion_from_db, ensure_song};
use super::{raw, with_path, Library, SongId};
use crate::error::Result;
use moodtune_core::now_unix;
use moodtune_core::Emotion;
pub use moodtune_core::FeedbackKind;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One like or skip, with the emotion the user was in when known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub song_id: SongId,
    pub kind: FeedbackKind,
    pub emotion: Option<Emotion>,
    /// Seconds since the Unix epoch.
    pub at_unix: i64,
}

impl Library {
    /// Replaces the user's typical songs for `emotion` (order kept, duplicates dropped).
    /// Fails, changing nothing, if any id is unknown.
    pub fn set_picks(&mut self, emotion: Emotion, song_ids: &[SongId]) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "DELETE FROM picks WHERE emotion = ?1",
                [emotion.index() as i64],
            )
            .map_err(raw)?;
            let mut seen = Vec::new();
            for &id in song_ids {
                if seen.contains(&id) {
                    continue;
                }
                ensure_song(tx, id)?;
                tx.execute(
                    "INSERT INTO picks (emotion, position, song_id) VALUES (?1, ?2, ?3)",
                    params![emotion.index() as i64, seen.len() as i64, id],
                )
                .map_err(raw)?;
                seen.push(id);
            }
            Ok(())
        })
        .map_err(|e| with_path(e, &path))
    }

    /// The typical songs picked for `emotion`, in the order they were given.
    pub fn picks(&self, emotion: Emotion) -> Result<Vec<SongId>> {
        (|| {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT song_id FROM picks WHERE emotion = ?1 ORDER BY position")?;
            let rows = stmt.query_map([emotion.index() as i64], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })()
        .map_err(|e| self.db(e))
    }

    /// Picks of every emotion that has any.
    pub fn all_picks(&self) -> Result<BTreeMap<Emotion, Vec<SongId>>> {
        let mut out = BTreeMap::new();
        for e in Emotion::ALL {
            let p = self.picks(e)?;
            if !p.is_empty() {
                out.insert(e, p);
            }
        }
        Ok(out)
    }

    /// Records a like or skip now.
    pub fn add_feedback(&mut self, song_id: SongId, kind: FeedbackKind) -> Result<()> {
        self.add_feedback_with(song_id, kind, None, now_unix())
    }

    /// Records a like or skip with the emotion it was given in and its time (Unix seconds).
    pub fn add_feedback_with(
        &mut self,
        song_id: SongId,
        kind: FeedbackKind,
        emotion: Option<Emotion>,
        at_unix: i64,
    ) -> Result<()> {
        self.add_feedback_all(&[(song_id, kind)], emotion, at_unix)
    }

    /// Records likes and skips given together (one command, one page action): all of
    /// them, or none if one names a song that is not there.
    pub fn add_feedback_all(
        &mut self,
        given: &[(SongId, FeedbackKind)],
        emotion: Option<Emotion>,
        at_unix: i64,
    ) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            for &(song_id, kind) in given {
                ensure_song(tx, song_id)?;
                tx.execute(
                    "INSERT INTO feedback (song_id, kind, emotion, at_unix) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        song_id,
                        kind.as_str(),
                        emotion.map(|e| e.index() as i64),
                        at_unix
                    ],
                )
                .map_err(raw)?;
            }
            Ok(())
        })
        .map_err(|e| with_path(e, &path))
    }

    /// All feedback, oldest first.
    pub fn feedback(&self) -> Result<Vec<Feedback>> {
        (|| {
            let mut stmt = self.conn.prepare(
                "SELECT song_id, kind, emotion, at_unix FROM feedback ORDER BY at_unix, id",
            )?;
            let rows = stmt.query_map([], |r| {
                let kind: String = r.get(1)?;
                Ok(Feedback {
                    song_id: r.get(0)?,
                    kind: if kind == "like" {
                        FeedbackKind::Like
                    } else {
                        FeedbackKind::Skip
                    },
                    emotion: emotion_from_db(r.get(2)?),
                    at_unix: r.get(3)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })()
        .map_err(|e| self.db(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::lib_with;
    use crate::store::NewSong;

    #[test]
    fn picks_replace_in_order_and_reject_unknown_songs() {
        let (mut lib, ids) = lib_with(&[
            NewSong::new("A", "x"),
            NewSong::new("B", "y"),
            NewSong::new("C", "z"),
        ]);
        lib.set_picks(Emotion::Happy, &[ids[2], ids[0], ids[2]])
            .unwrap();
        assert_eq!(lib.picks(Emotion::Happy).unwrap(), vec![ids[2], ids[0]]);
        assert!(lib.picks(Emotion::Sad).unwrap().is_empty());
        // An unknown id fails the whole call and keeps the old picks.
        assert!(lib.set_picks(Emotion::Happy, &[ids[1], 777]).is_err());
        assert_eq!(lib.picks(Emotion::Happy).unwrap(), vec![ids[2], ids[0]]);
        lib.set_picks(Emotion::Happy, &[ids[1]]).unwrap();
        assert_eq!(lib.picks(Emotion::Happy).unwrap(), vec![ids[1]]);
        assert_eq!(lib.all_picks().unwrap().len(), 1);
        // Deleting a song drops it from picks.
        lib.delete_song(ids[1]).unwrap();
        assert!(lib.picks(Emotion::Happy).unwrap().is_empty());
    }

    #[test]
    fn feedback_is_recorded_in_time_order() {
        let (mut lib, ids) = lib_with(&[NewSong::new("A", "x"), NewSong::new("B", "y")]);
        lib.add_feedback_with(ids[1], FeedbackKind::Skip, Some(Emotion::Sad), 200)
            .unwrap();
        lib.add_feedback_with(ids[0], FeedbackKind::Like, None, 100)
            .unwrap();
        lib.add_feedback(ids[0], FeedbackKind::Like).unwrap();
        let fb = lib.feedback().unwrap();
        assert_eq!(fb.len(), 3);
        assert_eq!(
            (fb[0].song_id, fb[0].kind, fb[0].at_unix),
            (ids[0], FeedbackKind::Like, 100)
        );
        assert_eq!(fb[1].emotion, Some(Emotion::Sad));
        assert!(fb[2].at_unix > 1_600_000_000);
        assert!(lib.add_feedback(999, FeedbackKind::Like).is_err());
        let before = lib.feedback().unwrap().len();
        let half_bad = [(ids[0], FeedbackKind::Like), (999, FeedbackKind::Skip)];
        assert!(lib.add_feedback_all(&half_bad, None, 1).is_err());
        assert_eq!(lib.feedback().unwrap().len(), before, "nothing is recorded");
        assert_eq!("SKIP".parse::<FeedbackKind>().unwrap(), FeedbackKind::Skip);
    }
}
