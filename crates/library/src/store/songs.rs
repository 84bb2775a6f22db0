//! Songs: adding, merging and deleting them, reading and searching, tags and emotion
//! labels (manual and predicted).

use super::{raw, with_path, Library, NewSong, PredictedEmotion, Song, SongId};
use crate::error::{Error, Result};
use moodtune_core::now_unix;
use moodtune_core::Emotion;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What an upsert did to the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upsert {
    Added,
    Updated,
    Unchanged,
}

/// Lower-cased, whitespace-collapsed text, so "Let It Be " and "let it  be" are one song.
pub(crate) fn normalize(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub(crate) fn match_key(title: &str, artist: &str) -> String {
    format!("{}\u{1f}{}", normalize(title), normalize(artist))
}

pub(super) fn emotion_from_db(v: Option<i64>) -> Option<Emotion> {
    v.and_then(|i| usize::try_from(i).ok())
        .and_then(Emotion::from_index)
}

fn path_to_db(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

const SONG_COLUMNS: &str = "id, title, artist, album, duration_s, language, lyrics, audio_path, \
     source, source_key, manual_emotion, predicted_emotion, predicted_confidence, \
     predicted_version, predicted_drivers, added_at, updated_at, predicted_sources";

/// The SQL condition of a text search over title, artist, album, lyrics and tags
/// (parameter ?1) and its LIKE pattern; `None` for an empty text (everything matches).
fn search_filter(text: &str) -> (&'static str, Option<String>) {
    const FILTER: &str = "(title LIKE ?1 ESCAPE '\\' OR artist LIKE ?1 ESCAPE '\\' \
         OR album LIKE ?1 ESCAPE '\\' OR lyrics LIKE ?1 ESCAPE '\\' \
         OR id IN (SELECT st.song_id FROM song_tags st JOIN tags t ON t.id = st.tag_id \
                   WHERE t.name LIKE ?1 ESCAPE '\\'))";
    let text = text.trim();
    if text.is_empty() {
        return (FILTER, None);
    }
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    (FILTER, Some(format!("%{escaped}%")))
}

fn song_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Song> {
    let predicted_emotion = emotion_from_db(row.get(11)?);
    let predicted = match predicted_emotion {
        Some(emotion) => {
            let drivers: Option<String> = row.get(14)?;
            Some(PredictedEmotion {
                emotion,
                confidence: row.get::<_, Option<f64>>(12)?.unwrap_or(0.0) as f32,
                model_version: row.get::<_, Option<String>>(13)?.unwrap_or_default(),
                drivers: drivers
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or_default(),
                sources: row
                    .get::<_, Option<String>>(17)?
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or_default(),
            })
        }
        None => None,
    };
    Ok(Song {
        id: row.get(0)?,
        title: row.get(1)?,
        artist: row.get(2)?,
        album: row.get(3)?,
        duration_s: row.get(4)?,
        language: row.get(5)?,
        lyrics: row.get(6)?,
        audio_path: row.get::<_, Option<String>>(7)?.map(PathBuf::from),
        tags: Vec::new(),
        source: row.get(8)?,
        source_key: row.get(9)?,
        manual_emotion: emotion_from_db(row.get(10)?),
        predicted,
        added_at: row.get(15)?,
        updated_at: row.get(16)?,
    })
}

impl Library {
    /// Songs matching `where_sql` (with its own `ORDER BY`/`LIMIT` when it has one; by
    /// id otherwise).
    fn query_songs(&self, where_sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Song>> {
        let order = if where_sql.contains("ORDER BY") {
            ""
        } else {
            " ORDER BY id"
        };
        let sql = format!("SELECT {SONG_COLUMNS} FROM songs {where_sql}{order}");
        let mut songs = (|| {
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map(args, song_from_row)?;
            rows.collect::<rusqlite::Result<Vec<Song>>>()
        })()
        .map_err(|e| self.db(e))?;
        self.attach_tags(&mut songs)?;
        Ok(songs)
    }

    fn attach_tags(&self, songs: &mut [Song]) -> Result<()> {
        if songs.is_empty() {
            return Ok(());
        }
        let mut by_song: HashMap<SongId, Vec<String>> = HashMap::new();
        let load = |by_song: &mut HashMap<SongId, Vec<String>>| -> rusqlite::Result<()> {
            let mut add = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
                by_song.entry(row.get(0)?).or_default().push(row.get(1)?);
                Ok(())
            };
            if songs.len() == 1 {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT st.song_id, t.name FROM song_tags st JOIN tags t ON t.id = st.tag_id \
                     WHERE st.song_id = ?1 ORDER BY t.name COLLATE NOCASE",
                )?;
                let mut rows = stmt.query([songs[0].id])?;
                while let Some(row) = rows.next()? {
                    add(row)?;
                }
            } else {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT st.song_id, t.name FROM song_tags st JOIN tags t ON t.id = st.tag_id \
                     ORDER BY t.name COLLATE NOCASE",
                )?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    add(row)?;
                }
            }
            Ok(())
        };
        load(&mut by_song).map_err(|e| self.db(e))?;
        for song in songs {
            if let Some(tags) = by_song.remove(&song.id) {
                song.tags = tags;
            }
        }
        Ok(())
    }

    /// Every song, by id.
    pub fn songs(&self) -> Result<Vec<Song>> {
        self.query_songs("", &[])
    }

    /// The songs of one emotion library: manual label, else predicted emotion.
    pub fn songs_in(&self, emotion: Emotion) -> Result<Vec<Song>> {
        self.query_songs(
            "WHERE COALESCE(manual_emotion, predicted_emotion) = ?1",
            &[&(emotion.index() as i64)],
        )
    }

    /// Songs with no label and no prediction yet.
    pub fn unlabelled(&self) -> Result<Vec<Song>> {
        self.query_songs(
            "WHERE manual_emotion IS NULL AND predicted_emotion IS NULL",
            &[],
        )
    }

    pub fn song(&self, id: SongId) -> Result<Option<Song>> {
        Ok(self.query_songs("WHERE id = ?1", &[&id])?.pop())
    }

    pub fn len(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM songs", [], |r| r.get(0))
            .map_err(|e| self.db(e))?;
        Ok(n as usize)
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Finds one song by id (`12` or `#12`), or by title (case-insensitive, exact; then
    /// unique substring). A number that is both an id and a song's exact title (the
    /// song "1979") is ambiguous; `#1979` means the id whenever that id exists.
    pub fn find(&self, id_or_title: &str) -> Result<Song> {
        let q = id_or_title.trim();
        if q.is_empty() {
            return Err(Error::Invalid(
                "no song given: name one by title or id".into(),
            ));
        }
        // `#12` of an id that is gone may still be a title such as "#1", but only
        // exactly, so that removing an id twice cannot hit "Hit #12" the second time.
        let mut missing_id = None;
        if let Some(n) = q.strip_prefix('#') {
            if let Ok(id) = n.trim().parse::<SongId>() {
                if let Some(song) = self.song(id)? {
                    return Ok(song);
                }
                missing_id = Some(id);
            }
        }
        let by_id = match q.parse::<SongId>() {
            Ok(id) => self.song(id)?,
            Err(_) => None,
        };
        let wanted = normalize(q);
        let all = self.songs()?;
        let exact: Vec<&Song> = all
            .iter()
            .filter(|s| normalize(&s.title) == wanted)
            .collect();
        let candidates: Vec<&Song> = match &by_id {
            Some(song) if exact.iter().all(|s| s.id == song.id) => return Ok(song.clone()),
            Some(song) => std::iter::once(song)
                .chain(exact.into_iter().filter(|s| s.id != song.id))
                .collect(),
            None if exact.is_empty() && missing_id.is_none() => all
                .iter()
                .filter(|s| normalize(&s.title).contains(&wanted))
                .collect(),
            None => exact,
        };
        match candidates.as_slice() {
            [] => Err(Error::SongNotFound(match missing_id {
                Some(id) => format!("with id {id} or titled {q:?}"),
                None => format!("{q:?}"),
            })),
            [one] => Ok((*one).clone()),
            many => Err(Error::Ambiguous(
                q.to_string(),
                many.iter()
                    .take(10)
                    .map(|s| format!("{}: {} - {}", s.id, s.artist, s.title))
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
        }
    }

    /// Songs whose title, artist, album, tags or lyrics contain `text` (case-insensitive
    /// for ASCII; Chinese has no case).
    pub fn search(&self, text: &str) -> Result<Vec<Song>> {
        let (filter, pattern) = search_filter(text);
        match &pattern {
            Some(p) => self.query_songs(&format!("WHERE {filter}"), &[p]),
            None => self.songs(),
        }
    }

    /// One page of [`Library::search`] restricted to an emotion library (manual label,
    /// else prediction), and how many songs match in all: counted and cut in SQL, so a
    /// page of a large library reads only its own rows.
    pub fn search_page(
        &self,
        text: &str,
        emotion: Option<Emotion>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Song>)> {
        let (text_filter, pattern) = search_filter(text);
        let emotion_id = emotion.map(|e| e.index() as i64);
        // ?1 the text pattern (or NULL), ?2 the emotion id (or NULL).
        let filter = format!(
            "WHERE (?1 IS NULL OR {text_filter}) \
             AND (?2 IS NULL OR COALESCE(manual_emotion, predicted_emotion) = ?2)"
        );
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM songs {filter}"),
                rusqlite::params![pattern, emotion_id],
                |r| r.get(0),
            )
            .map_err(|e| self.db(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let songs = self.query_songs(
            &format!("{filter} ORDER BY id LIMIT ?3 OFFSET ?4"),
            &[&pattern, &emotion_id, &limit, &offset],
        )?;
        Ok((total as usize, songs))
    }

    /// Absolute path of a song's audio file, if it has one. The web server serves only
    /// paths returned here, so a request cannot reach files outside the library.
    pub fn audio_path(&self, song_id: SongId) -> Option<PathBuf> {
        self.conn
            .query_row(
                "SELECT audio_path FROM songs WHERE id = ?1",
                [song_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .ok()
            .flatten()
            .flatten()
            .map(PathBuf::from)
    }

    /// Every tag in use with how many songs carry it, by name.
    pub fn tag_counts(&self) -> Result<Vec<(String, usize)>> {
        (|| {
            let mut stmt = self.conn.prepare(
                "SELECT t.name, COUNT(st.song_id) FROM tags t JOIN song_tags st ON st.tag_id = t.id \
                 GROUP BY t.id ORDER BY t.name COLLATE NOCASE",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })()
        .map_err(|e| self.db(e))
    }

    // ----- writing songs -------------------------------------------------------

    /// Adds a song, or merges it into the song it matches (same source and key, same
    /// audio file, or same title and artist). Returns the song's id.
    pub fn add_song(&mut self, song: &NewSong) -> Result<SongId> {
        let path = self.path.clone();
        self.write(|tx| upsert_song(tx, song).map(|(id, _)| id))
            .map_err(|e| with_path(e, &path))
    }

    pub fn delete_song(&mut self, id: SongId) -> Result<()> {
        self.write(|tx| {
            let n = tx
                .execute("DELETE FROM songs WHERE id = ?1", [id])
                .map_err(raw)?;
            if n == 0 {
                return Err(Error::SongNotFound(id.to_string()));
            }
            Ok(())
        })
        .map_err(|e| with_path(e, &self.path))
    }

    /// Deletes the songs imported from `source` (see `NewSong::source`) except those in
    /// `kept`, which move to `adopted_by`, in one transaction: all of it or, on failure,
    /// none. Returns how many were deleted. An import that merged rows into
    /// demo songs keeps them as the user's own when the rest of the demo goes.
    pub fn replace_source(
        &mut self,
        source: &str,
        kept: &[SongId],
        adopted_by: &str,
    ) -> Result<usize> {
        self.write(|tx| {
            let mut adopt = tx
                .prepare("UPDATE songs SET source = ?2 WHERE id = ?1 AND source = ?3")
                .map_err(raw)?;
            for &id in kept {
                adopt
                    .execute(params![id, adopted_by, source])
                    .map_err(raw)?;
            }
            tx.execute("DELETE FROM songs WHERE source = ?1", [source])
                .map_err(raw)
        })
        .map_err(|e| with_path(e, &self.path))
    }

    /// Sets (or with `None` clears) the user's own label, which wins over predictions.
    pub fn set_manual_emotion(&mut self, id: SongId, emotion: Option<Emotion>) -> Result<()> {
        let now = now_unix();
        self.update_one(
            id,
            "UPDATE songs SET manual_emotion = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, emotion.map(|e| e.index() as i64), now],
        )
    }

    /// Stores (or with `None` clears) a model's prediction.
    pub fn set_prediction(
        &mut self,
        id: SongId,
        predicted: Option<&PredictedEmotion>,
    ) -> Result<()> {
        let now = now_unix();
        let drivers = predicted.map(|p| serde_json::to_string(&p.drivers).unwrap_or_default());
        let sources = predicted.map(|p| serde_json::to_string(&p.sources).unwrap_or_default());
        self.update_one(
            id,
            "UPDATE songs SET predicted_emotion = ?2, predicted_confidence = ?3, \
             predicted_version = ?4, predicted_drivers = ?5, updated_at = ?6, \
             predicted_sources = ?7 WHERE id = ?1",
            params![
                id,
                predicted.map(|p| p.emotion.index() as i64),
                predicted.map(|p| p.confidence as f64),
                predicted.map(|p| p.model_version.clone()),
                drivers,
                now,
                sources
            ],
        )
    }

    /// Stores many predictions in one transaction (`None` clears).
    pub fn set_predictions(&mut self, items: &[(SongId, Option<PredictedEmotion>)]) -> Result<()> {
        let now = now_unix();
        let path = self.path.clone();
        self.write(|tx| {
            let mut stmt = tx
                .prepare(
                    "UPDATE songs SET predicted_emotion = ?2, predicted_confidence = ?3, \
                     predicted_version = ?4, predicted_drivers = ?5, updated_at = ?6, \
                     predicted_sources = ?7 WHERE id = ?1",
                )
                .map_err(raw)?;
            for (id, p) in items {
                let n = stmt
                    .execute(params![
                        id,
                        p.as_ref().map(|p| p.emotion.index() as i64),
                        p.as_ref().map(|p| p.confidence as f64),
                        p.as_ref().map(|p| p.model_version.clone()),
                        p.as_ref()
                            .map(|p| serde_json::to_string(&p.drivers).unwrap_or_default()),
                        now,
                        p.as_ref()
                            .map(|p| serde_json::to_string(&p.sources).unwrap_or_default()),
                    ])
                    .map_err(raw)?;
                if n == 0 {
                    return Err(Error::SongNotFound(id.to_string()));
                }
            }
            Ok(())
        })
        .map_err(|e| with_path(e, &path))
    }

    fn update_one(&mut self, id: SongId, sql: &str, args: impl rusqlite::Params) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            if tx.execute(sql, args).map_err(raw)? == 0 {
                return Err(Error::SongNotFound(id.to_string()));
            }
            Ok(())
        })
        .map_err(|e| with_path(e, &path))
    }

    /// Adds and removes tags of one song in one transaction; returns the new tag list.
    pub fn edit_tags(
        &mut self,
        id: SongId,
        add: &[String],
        remove: &[String],
    ) -> Result<Vec<String>> {
        let path = self.path.clone();
        self.write(|tx| {
            ensure_song(tx, id)?;
            for t in remove {
                tx.execute(
                    "DELETE FROM song_tags WHERE song_id = ?1 AND tag_id IN \
                     (SELECT id FROM tags WHERE name = ?2 COLLATE NOCASE)",
                    params![id, t.trim()],
                )
                .map_err(raw)?;
            }
            add_tags(tx, id, add)?;
            touch(tx, id)?;
            prune_tags(tx)
        })
        .map_err(|e| with_path(e, &path))?;
        Ok(self.song(id)?.map(|s| s.tags).unwrap_or_default())
    }

    /// Replaces a song's tags.
    pub fn set_tags(&mut self, id: SongId, tags: &[String]) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            ensure_song(tx, id)?;
            tx.execute("DELETE FROM song_tags WHERE song_id = ?1", [id])
                .map_err(raw)?;
            add_tags(tx, id, tags)?;
            touch(tx, id)?;
            prune_tags(tx)
        })
        .map_err(|e| with_path(e, &path))
    }
}

pub(super) fn ensure_song(tx: &Connection, id: SongId) -> Result<()> {
    let exists: bool = tx
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM songs WHERE id = ?1)",
            [id],
            |r| r.get(0),
        )
        .map_err(raw)?;
    if exists {
        Ok(())
    } else {
        Err(Error::SongNotFound(id.to_string()))
    }
}

fn touch(tx: &Connection, id: SongId) -> Result<()> {
    tx.execute(
        "UPDATE songs SET updated_at = ?2 WHERE id = ?1",
        params![id, now_unix()],
    )
    .map_err(raw)?;
    Ok(())
}

/// Drops tags no song uses any more, so the vocabulary stays what the library holds.
fn prune_tags(tx: &Connection) -> Result<()> {
    tx.execute(
        "DELETE FROM tags WHERE id NOT IN (SELECT DISTINCT tag_id FROM song_tags)",
        [],
    )
    .map_err(raw)?;
    Ok(())
}

fn add_tags(tx: &Connection, id: SongId, tags: &[String]) -> Result<()> {
    for t in tags {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        tx.execute("INSERT OR IGNORE INTO tags (name) VALUES (?1)", [t])
            .map_err(raw)?;
        tx.execute(
            "INSERT OR IGNORE INTO song_tags (song_id, tag_id) \
             SELECT ?1, id FROM tags WHERE name = ?2 COLLATE NOCASE",
            params![id, t],
        )
        .map_err(raw)?;
    }
    Ok(())
}

fn find_existing(
    tx: &Connection,
    song: &NewSong,
    source: &str,
    key: &str,
) -> Result<Option<SongId>> {
    if let Some(id) = song.merge_into {
        let found: Option<(String, String)> = tx
            .query_row("SELECT title, artist FROM songs WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(raw)?;
        if let Some((title, artist)) = found {
            // The artist alone vouches for the id only when there is one: untagged files
            // and artist-less CSVs would otherwise let any row overwrite any such song.
            let artist = normalize(&artist);
            if normalize(&title) == normalize(&song.title)
                || (!artist.is_empty() && artist == normalize(&song.artist))
            {
                return Ok(Some(id));
            }
        }
    }
    let by_key: Option<SongId> = tx
        .query_row(
            "SELECT id FROM songs WHERE source = ?1 AND source_key = ?2",
            params![source, key],
            |r| r.get(0),
        )
        .optional()
        .map_err(raw)?;
    if by_key.is_some() {
        return Ok(by_key);
    }
    if let Some(audio) = &song.audio_path {
        let by_audio: Option<SongId> = tx
            .query_row(
                "SELECT id FROM songs WHERE audio_path = ?1 ORDER BY id LIMIT 1",
                [path_to_db(audio)],
                |r| r.get(0),
            )
            .optional()
            .map_err(raw)?;
        if by_audio.is_some() {
            return Ok(by_audio);
        }
    }
    // The same title and artist is the same song, unless both have audio files and the
    // stored one is still there: two albums' "Intro", or untagged "Track 01.wav" files
    // in two folders, are different songs. A stored file that is gone means the music
    // folder moved, and the song follows it.
    let mut same_name = tx
        .prepare("SELECT id, audio_path FROM songs WHERE match_key = ?1 ORDER BY id")
        .map_err(raw)?;
    let candidates = same_name
        .query_map([match_key(&song.title, &song.artist)], |r| {
            Ok((r.get::<_, SongId>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .map_err(raw)?;
    let Some(new_audio) = &song.audio_path else {
        // No file to tell songs apart by: the first song of that name.
        return candidates
            .map(|c| c.map(|(id, _)| id))
            .next()
            .transpose()
            .map_err(raw);
    };
    // Of the songs whose file is gone (or that never had one), the one whose old path
    // ends most like the new one: after a move, "second album/Track 01.wav" must find
    // the song that was "second album/Track 01.wav" before, not the first album's.
    let mut best: Option<(usize, SongId)> = None;
    for candidate in candidates {
        let (id, stored_audio) = candidate.map_err(raw)?;
        let likeness = match stored_audio {
            None => 0,
            Some(stored) if Path::new(&stored).exists() => continue,
            Some(stored) => Path::new(&stored)
                .components()
                .rev()
                .zip(new_audio.components().rev())
                .take_while(|(a, b)| a == b)
                .count(),
        };
        if best.is_none_or(|(most, _)| likeness > most) {
            best = Some((likeness, id));
        }
    }
    Ok(best.map(|(_, id)| id))
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Inserts `song` or merges it into the song it matches. Merging overwrites fields the
/// new record has, keeps those it lacks, adds (never removes) tags, and forgets a
/// prediction when the lyrics changed (it was made from other words).
pub(crate) fn upsert_song(tx: &Connection, song: &NewSong) -> Result<(SongId, Upsert)> {
    let title = song.title.trim();
    if title.is_empty() {
        return Err(Error::Invalid("a song needs a title".into()));
    }
    let artist = song.artist.trim();
    let source = if song.source.is_empty() {
        "manual"
    } else {
        song.source.as_str()
    };
    let key = if song.source_key.is_empty() {
        match_key(title, artist)
    } else {
        song.source_key.clone()
    };
    let now = now_unix();
    let audio = song.audio_path.as_deref().map(path_to_db);
    let emotion = song.manual_emotion.map(|e| e.index() as i64);
    let tags: Vec<String> = song.tags.clone();

    match find_existing(tx, song, source, &key)? {
        None => {
            tx.execute(
                "INSERT INTO songs (title, artist, album, duration_s, language, lyrics, audio_path, \
                 source, source_key, match_key, manual_emotion, added_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                params![
                    title,
                    artist,
                    non_empty(&song.album),
                    song.duration_s,
                    non_empty(&song.language),
                    non_empty(&song.lyrics),
                    audio,
                    source,
                    key,
                    match_key(title, artist),
                    emotion,
                    now
                ],
            )
            .map_err(raw)?;
            let id = tx.last_insert_rowid();
            add_tags(tx, id, &tags)?;
            Ok((id, Upsert::Added))
        }
        Some(id) => {
            let before = snapshot(tx, id)?;
            let new_artist = if artist.is_empty() {
                None
            } else {
                Some(artist)
            };
            tx.execute(
                "UPDATE songs SET \
                   title = CASE WHEN ?10 THEN title ELSE ?2 END, \
                   artist = COALESCE(?3, artist), \
                   album = COALESCE(?4, album), \
                   duration_s = COALESCE(?5, duration_s), \
                   language = COALESCE(?6, language), \
                   audio_path = COALESCE(?8, audio_path), \
                   manual_emotion = COALESCE(?9, manual_emotion), \
                   predicted_emotion = CASE WHEN ?7 IS NOT NULL AND ?7 IS NOT lyrics \
                                       THEN NULL ELSE predicted_emotion END, \
                   lyrics = COALESCE(?7, lyrics) \
                 WHERE id = ?1",
                params![
                    id,
                    title,
                    new_artist,
                    non_empty(&song.album),
                    song.duration_s,
                    non_empty(&song.language),
                    non_empty(&song.lyrics),
                    audio,
                    emotion,
                    song.title_is_guess
                ],
            )
            .map_err(raw)?;
            tx.execute(
                "UPDATE songs SET match_key = ?2 WHERE id = ?1",
                params![id, {
                    let (t, a): (String, String) = tx
                        .query_row("SELECT title, artist FROM songs WHERE id = ?1", [id], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .map_err(raw)?;
                    match_key(&t, &a)
                }],
            )
            .map_err(raw)?;
            add_tags(tx, id, &tags)?;
            let after = snapshot(tx, id)?;
            if before == after {
                Ok((id, Upsert::Unchanged))
            } else {
                touch(tx, id)?;
                Ok((id, Upsert::Updated))
            }
        }
    }
}

/// Everything about a song that an import can change, to tell "updated" from "unchanged".
fn snapshot(tx: &Connection, id: SongId) -> Result<String> {
    tx.query_row(
        "SELECT json_array(title, artist, album, duration_s, language, lyrics, audio_path, \
         manual_emotion, predicted_emotion, \
         (SELECT group_concat(t.name, '\u{1f}') FROM (SELECT t.name FROM song_tags st \
           JOIN tags t ON t.id = st.tag_id WHERE st.song_id = ?1 ORDER BY t.name) t)) \
         FROM songs WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .map_err(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_pages_match_the_filtered_search() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(dir.path().join("l.sqlite")).unwrap();
        for i in 0..30 {
            let mut song =
                NewSong::new(format!("Song {i}"), if i % 2 == 0 { "Even" } else { "Odd" })
                    .tags([if i % 3 == 0 { "Piano_50%" } else { "Rock" }]);
            song.manual_emotion = Some(if i % 4 == 0 {
                Emotion::Sad
            } else {
                Emotion::Happy
            });
            lib.add_song(&song).unwrap();
        }
        for (text, emotion) in [
            ("", None),
            ("even", None),
            ("piano_50%", None),
            ("odd", Some(Emotion::Sad)),
            ("", Some(Emotion::Happy)),
            ("nothing like it", None),
        ] {
            let all: Vec<SongId> = lib
                .search(text)
                .unwrap()
                .into_iter()
                .filter(|s| emotion.is_none() || s.emotion() == emotion)
                .map(|s| s.id)
                .collect();
            for (offset, limit) in [(0, 5), (3, 7), (0, 100), (29, 10), (100, 5)] {
                let (total, page) = lib.search_page(text, emotion, offset, limit).unwrap();
                assert_eq!(total, all.len(), "{text:?} {emotion:?}");
                let ids: Vec<SongId> = page.iter().map(|s| s.id).collect();
                let want: Vec<SongId> = all.iter().skip(offset).take(limit).copied().collect();
                assert_eq!(ids, want, "{text:?} {emotion:?} {offset}+{limit}");
                assert!(page.iter().all(|s| !s.tags.is_empty()), "tags attached");
            }
        }
    }
    use crate::store::tests::lib_with;

    #[test]
    fn adds_and_reads_songs_with_tags() {
        let (lib, ids) = lib_with(&[
            NewSong::new("Rise", "Ava").tags(["Keyboard", "Internet", "Cheerful"]),
            NewSong::new("Rain", "Bo").emotion(Emotion::Sad),
        ]);
        let songs = lib.songs().unwrap();
        assert_eq!(songs.len(), 2);
        assert_eq!(songs[0].id, ids[0]);
        assert_eq!(songs[0].tags, vec!["Cheerful", "Internet", "Keyboard"]);
        assert!(songs[1].tags.is_empty());
        assert_eq!(songs[1].emotion(), Some(Emotion::Sad));
        assert_eq!(lib.tag_counts().unwrap().len(), 3);
    }

    #[test]
    fn manual_label_wins_over_prediction() {
        let (mut lib, ids) = lib_with(&[NewSong::new("A", "x"), NewSong::new("B", "y")]);
        let pred = PredictedEmotion {
            emotion: Emotion::Happy,
            confidence: 0.8,
            model_version: "lyrics-v1".into(),
            drivers: vec!["sunshine".into(), "dance".into()],
            sources: vec![],
        };
        lib.set_prediction(ids[0], Some(&pred)).unwrap();
        lib.set_prediction(ids[1], Some(&pred)).unwrap();
        lib.set_manual_emotion(ids[1], Some(Emotion::Sad)).unwrap();

        let a = lib.song(ids[0]).unwrap().unwrap();
        assert_eq!(a.predicted.as_ref(), Some(&pred));
        assert_eq!(a.emotion(), Some(Emotion::Happy));
        let b = lib.song(ids[1]).unwrap().unwrap();
        assert_eq!(b.emotion(), Some(Emotion::Sad));

        let happy: Vec<SongId> = lib
            .songs_in(Emotion::Happy)
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(happy, vec![ids[0]]);
        let sad: Vec<SongId> = lib
            .songs_in(Emotion::Sad)
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(sad, vec![ids[1]]);

        lib.set_manual_emotion(ids[1], None).unwrap();
        assert_eq!(
            lib.song(ids[1]).unwrap().unwrap().emotion(),
            Some(Emotion::Happy)
        );
        assert!(matches!(
            lib.set_manual_emotion(999, Some(Emotion::Fear)),
            Err(Error::SongNotFound(_))
        ));
    }

    #[test]
    fn merging_keeps_what_the_new_record_lacks() {
        let (mut lib, ids) = lib_with(&[NewSong::new("Rise", "Ava")
            .tags(["Piano"])
            .lyrics("up we go")
            .emotion(Emotion::Happy)]);
        // Same title/artist from another source, differently spaced and cased.
        let mut again = NewSong::new("rise ", "AVA").tags(["Bright"]);
        again.source = "other.csv".into();
        again.album = Some("First".into());
        let id = lib.add_song(&again).unwrap();
        assert_eq!(id, ids[0]);
        let s = lib.song(id).unwrap().unwrap();
        assert_eq!(s.lyrics.as_deref(), Some("up we go"));
        assert_eq!(s.album.as_deref(), Some("First"));
        assert_eq!(s.manual_emotion, Some(Emotion::Happy));
        assert_eq!(s.tags, vec!["Bright", "Piano"]);
        assert_eq!(lib.len().unwrap(), 1);
    }

    #[test]
    fn changed_lyrics_drop_a_stale_prediction() {
        let (mut lib, ids) = lib_with(&[NewSong::new("S", "a").lyrics("old words")]);
        let pred = PredictedEmotion {
            emotion: Emotion::Fear,
            confidence: 0.5,
            model_version: "v".into(),
            drivers: vec![],
            sources: vec![],
        };
        lib.set_prediction(ids[0], Some(&pred)).unwrap();
        lib.add_song(&NewSong::new("S", "a").lyrics("old words"))
            .unwrap();
        assert!(lib.song(ids[0]).unwrap().unwrap().predicted.is_some());
        lib.add_song(&NewSong::new("S", "a").lyrics("new words"))
            .unwrap();
        assert!(lib.song(ids[0]).unwrap().unwrap().predicted.is_none());
    }

    #[test]
    fn tags_are_edited_and_unused_tags_pruned() {
        let (mut lib, ids) = lib_with(&[NewSong::new("S", "a").tags(["Calm", "Piano"])]);
        let tags = lib
            .edit_tags(ids[0], &["Slow".into(), "piano".into()], &["calm".into()])
            .unwrap();
        assert_eq!(tags, vec!["Piano", "Slow"]);
        assert_eq!(
            lib.tag_counts().unwrap(),
            vec![("Piano".to_string(), 1), ("Slow".to_string(), 1)]
        );
        assert!(lib.edit_tags(42, &[], &[]).is_err());
    }

    #[test]
    fn find_and_search() {
        let (lib, ids) = lib_with(&[
            NewSong::new("Morning Light", "Ava").tags(["Bright"]),
            NewSong::new("Night Light", "Bo"),
            NewSong::new("夜曲", "周").lyrics("一群嗜血的蚂蚁"),
        ]);
        assert_eq!(lib.find(&ids[1].to_string()).unwrap().id, ids[1]);
        assert_eq!(lib.find("morning light").unwrap().id, ids[0]);
        assert_eq!(lib.find("Morning").unwrap().id, ids[0]);
        assert!(matches!(lib.find("light"), Err(Error::Ambiguous(..))));
        assert!(matches!(lib.find("nope"), Err(Error::SongNotFound(_))));
        assert_eq!(lib.search("LIGHT").unwrap().len(), 2);
        assert_eq!(lib.search("bright").unwrap()[0].id, ids[0]);
        assert_eq!(lib.search("蚂蚁").unwrap()[0].id, ids[2]);
        assert!(lib.search("100%").unwrap().is_empty());
        assert!(matches!(lib.find("  "), Err(Error::Invalid(_))));
    }

    /// A title that is a number must not be mistaken for the song with that id.
    #[test]
    fn a_numeric_title_and_an_id_are_told_apart() {
        let (lib, ids) = lib_with(&[
            NewSong::new("Intro", "Ava"),
            NewSong::new("Outro", "Ava"),
            NewSong::new("3", "Bo"),
        ]);
        assert_eq!(ids, [1, 2, 3]);
        // Only an id: the id.
        assert_eq!(lib.find("2").unwrap().title, "Outro");
        // "3" is both song 3's id and its title: one song, nothing to ask.
        assert_eq!(lib.find("3").unwrap().title, "3");
        // A title equal to another song's id is ambiguous, and the message says how to
        // pick; `#id` always means the id.
        let mut lib = lib;
        let titled_one = lib.add_song(&NewSong::new("1", "Cy")).unwrap();
        let err = lib.find("1").unwrap_err();
        assert!(matches!(err, Error::Ambiguous(..)), "{err}");
        assert!(err.to_string().contains("#ID"), "{err}");
        assert!(
            err.to_string().contains(&format!("{titled_one}: Cy - 1")),
            "{err}"
        );
        assert_eq!(lib.find("#1").unwrap().title, "Intro");
        assert_eq!(lib.find("# 1").unwrap().title, "Intro");
        assert!(matches!(lib.find("#999"), Err(Error::SongNotFound(_))));
        // A title that looks like "#id" is still found when no song has that id.
        let hash_title = lib.add_song(&NewSong::new("#41", "Dee")).unwrap();
        assert_eq!(lib.find("#41").unwrap().id, hash_title);
        // ... but only exactly: "#12" of a gone song is not "Hit #12".
        lib.add_song(&NewSong::new("Hit #12", "Eve")).unwrap();
        assert!(matches!(lib.find("#12"), Err(Error::SongNotFound(_))));
    }
}
