//! Where a song's emotion came from: the evidence behind a prediction, and the stored
//! audio analyses that make re-classification cheap (only new or changed files are
//! analysed again) and resumable (each analysis is committed as it is made).

use super::{raw, with_path, Library, SongId};
use crate::error::{Error, Result};
use moodtune_core::{now_unix, Emotion};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;

/// A kind of evidence about a song's mood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceSource {
    /// The lyrics model.
    Lyrics,
    /// The audio analysis (tempo, loudness, mode, timbre...).
    Audio,
    /// Mood and genre words in the song's tags.
    Tags,
    /// The user's labels and likes/skips of similar songs.
    Neighbours,
}

impl EvidenceSource {
    pub fn key(self) -> &'static str {
        match self {
            EvidenceSource::Lyrics => "lyrics",
            EvidenceSource::Audio => "audio",
            EvidenceSource::Tags => "tags",
            EvidenceSource::Neighbours => "neighbours",
        }
    }
}

/// What one source said about a song.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub source: EvidenceSource,
    pub emotion: Emotion,
    /// 0-1.
    pub confidence: f32,
    /// Why, in words ("audio: fast, loud, minor key").
    pub why: String,
}

/// The stored audio analysis of a song's file, and what it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRecord {
    pub audio_path: PathBuf,
    pub file_size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub file_mtime: i64,
    /// The analyser's version; a new version analyses again.
    pub model_version: String,
    /// The analysis (JSON, the analyser's own format), or why the file could not be
    /// analysed (so a broken file is not retried until it changes).
    pub result: std::result::Result<String, String>,
}

impl Library {
    /// Every stored audio analysis, by song.
    pub fn audio_records(&self) -> Result<HashMap<SongId, AudioRecord>> {
        (|| {
            let mut stmt = self.conn.prepare(
                "SELECT song_id, audio_path, file_size, file_mtime_ns, model_version, analysis, \
                 error FROM audio_analysis",
            )?;
            let rows = stmt.query_map([], |r| {
                let analysis: Option<String> = r.get(5)?;
                let error: Option<String> = r.get(6)?;
                Ok((
                    r.get::<_, SongId>(0)?,
                    AudioRecord {
                        audio_path: PathBuf::from(r.get::<_, String>(1)?),
                        file_size: r.get::<_, i64>(2)? as u64,
                        file_mtime: r.get(3)?,
                        model_version: r.get(4)?,
                        result: analysis.ok_or_else(|| error.unwrap_or_default()),
                    },
                ))
            })?;
            rows.collect::<rusqlite::Result<HashMap<_, _>>>()
        })()
        .map_err(|e| self.db(e))
    }

    /// Stores (replaces) a song's audio analysis, in its own short transaction.
    pub fn store_audio_record(&mut self, song: SongId, rec: &AudioRecord) -> Result<()> {
        let path = self.path.clone();
        let (analysis, error) = match &rec.result {
            Ok(a) => (Some(a.as_str()), None),
            Err(e) => (None, Some(e.as_str())),
        };
        self.write(|tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM songs WHERE id = ?1)",
                    [song],
                    |r| r.get(0),
                )
                .map_err(raw)?;
            if !exists {
                return Err(Error::SongNotFound(song.to_string()));
            }
            tx.execute(
                "INSERT OR REPLACE INTO audio_analysis (song_id, audio_path, file_size, \
                 file_mtime_ns, model_version, analysis, error, analysed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    song,
                    rec.audio_path.to_string_lossy(),
                    rec.file_size as i64,
                    rec.file_mtime,
                    rec.model_version,
                    analysis,
                    error,
                    now_unix()
                ],
            )
            .map_err(raw)?;
            Ok(())
        })
        .map_err(|e| with_path(e, &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewSong;

    #[test]
    fn audio_records_round_trip_and_go_with_their_song() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(dir.path().join("l.sqlite")).unwrap();
        let id = lib.add_song(&NewSong::new("A", "B")).unwrap();
        let rec = AudioRecord {
            audio_path: "/music/a.flac".into(),
            file_size: 1234,
            file_mtime: 5_000_000_000,
            model_version: "v1".into(),
            result: Ok("{\"valence\":0.5}".into()),
        };
        lib.store_audio_record(id, &rec).unwrap();
        let broken = AudioRecord {
            result: Err("cut short".into()),
            ..rec.clone()
        };
        lib.store_audio_record(id, &broken).unwrap();
        assert_eq!(lib.audio_records().unwrap()[&id], broken, "replaced");
        assert!(matches!(
            lib.store_audio_record(id + 100, &rec),
            Err(Error::SongNotFound(_))
        ));
        lib.delete_song(id).unwrap();
        assert!(lib.audio_records().unwrap().is_empty());
    }
}
