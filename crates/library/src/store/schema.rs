//! Opening a library: the schema and its migrations, WAL mode, busy waits.

use super::Library;
use crate::error::{Error, Result};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Schema version this build writes (SQLite `user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `i` brings the schema from version `i` to `i + 1`. Never edit a shipped
/// entry: append a new one, so existing libraries upgrade in place.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE songs (
    id                   INTEGER PRIMARY KEY,
    title                TEXT NOT NULL,
    artist               TEXT NOT NULL DEFAULT '',
    album                TEXT,
    duration_s           REAL,
    language             TEXT,
    lyrics               TEXT,
    audio_path           TEXT,
    source               TEXT NOT NULL,
    source_key           TEXT NOT NULL,
    match_key            TEXT NOT NULL,
    manual_emotion       INTEGER CHECK (manual_emotion BETWEEN 0 AND 6),
    predicted_emotion    INTEGER CHECK (predicted_emotion BETWEEN 0 AND 6),
    predicted_confidence REAL,
    predicted_version    TEXT,
    predicted_drivers    TEXT,
    added_at             INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (source, source_key)
);
CREATE INDEX songs_match_key ON songs (match_key);
CREATE INDEX songs_audio_path ON songs (audio_path);
CREATE INDEX songs_emotion ON songs (COALESCE(manual_emotion, predicted_emotion));

CREATE TABLE tags (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE song_tags (
    song_id INTEGER NOT NULL REFERENCES songs (id) ON DELETE CASCADE,
    tag_id  INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (song_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX song_tags_tag ON song_tags (tag_id);

CREATE TABLE picks (
    emotion  INTEGER NOT NULL CHECK (emotion BETWEEN 0 AND 6),
    position INTEGER NOT NULL,
    song_id  INTEGER NOT NULL REFERENCES songs (id) ON DELETE CASCADE,
    PRIMARY KEY (emotion, song_id)
);

CREATE TABLE feedback (
    id      INTEGER PRIMARY KEY,
    song_id INTEGER NOT NULL REFERENCES songs (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL CHECK (kind IN ('like', 'skip')),
    emotion INTEGER CHECK (emotion BETWEEN 0 AND 6),
    at_unix INTEGER NOT NULL
);
CREATE INDEX feedback_song ON feedback (song_id);
"#,
    r#"
ALTER TABLE songs ADD COLUMN predicted_sources TEXT;

CREATE TABLE audio_analysis (
    song_id       INTEGER PRIMARY KEY REFERENCES songs (id) ON DELETE CASCADE,
    audio_path    TEXT NOT NULL,
    file_size     INTEGER NOT NULL,
    file_mtime_ns INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    analysis      TEXT,
    error         TEXT,
    analysed_at   INTEGER NOT NULL,
    CHECK ((analysis IS NULL) != (error IS NULL))
);
"#,
];

/// How long a connection waits for another one's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Puts the database in WAL mode, waiting up to `budget` for other connections.
///
/// The switch needs exclusive access, and SQLite does not run the busy handler
/// for it: two processes opening a new library at once would otherwise see
/// "database is locked". WAL is stored in the file, so after the first open the
/// mode already reads `wal` and no lock is taken. A file system without WAL
/// support keeps its old journal mode, which still works, with less concurrency.
fn switch_to_wal(conn: &Connection, budget: Duration) -> rusqlite::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(e) if is_busy(&e) && started.elapsed() < budget => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other.map(drop),
        }
    }
}

pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Library {
    /// Opens (creating if needed, with parent folders) the library at `path` and
    /// brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Library> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let conn = Connection::open(&path).map_err(|source| Error::Db {
            path: path.clone(),
            source,
        })?;
        let mut lib = Library { conn, path };
        lib.init(true)?;
        Ok(lib)
    }

    /// A library that lives only in memory (tests, dry runs).
    pub fn open_in_memory() -> Result<Library> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| Error::Db {
            path: path.clone(),
            source,
        })?;
        let mut lib = Library { conn, path };
        lib.init(false)?;
        Ok(lib)
    }

    /// Where the library lives when no path is given: `$MOODTUNE_DB` if set, else
    /// `<data dir>/moodtune/library.sqlite` (e.g. `~/.local/share/moodtune/` on Linux).
    pub fn default_path() -> Result<PathBuf> {
        if let Some(p) = std::env::var_os("MOODTUNE_DB").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        dirs::data_dir()
            .map(|d| d.join("moodtune").join("library.sqlite"))
            .ok_or(Error::NoDataDir)
    }

    /// Opens the library at [`Library::default_path`].
    pub fn open_default() -> Result<Library> {
        Library::open(Library::default_path()?)
    }

    /// A number that changes whenever another connection (another process, say the CLI
    /// while the web server runs) commits a change; this connection's own commits leave
    /// it as it is. Caches of library contents compare it to know they are stale.
    pub fn outside_changes(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.db(e))
    }

    /// The database file (":memory:" for an in-memory library).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn db(&self, source: rusqlite::Error) -> Error {
        Error::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn init(&mut self, on_disk: bool) -> Result<()> {
        let conn = &self.conn;
        let setup = || -> rusqlite::Result<()> {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.pragma_update(None, "foreign_keys", true)?;
            if on_disk {
                // WAL lets the web server read while the CLI imports.
                switch_to_wal(conn, BUSY_TIMEOUT)?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
            }
            Ok(())
        };
        setup().map_err(|e| self.db(e))?;
        self.migrate()
    }

    fn migrate(&mut self) -> Result<()> {
        let read_version = |conn: &Connection| -> rusqlite::Result<i64> {
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        };
        let version = read_version(&self.conn).map_err(|e| self.db(e))?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        // Take the write lock first and read the version again under it, so two
        // processes opening a new library at once do not both run the migrations.
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| Error::Db {
                path: path.clone(),
                source,
            })?;
        let version = read_version(&tx).map_err(|source| Error::Db {
            path: path.clone(),
            source,
        })?;
        if version < 0 {
            return Err(Error::Invalid(format!(
                "library database {}: schema version {version} was not written by moodtune",
                path.display()
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                path,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let res = (|| {
            for sql in MIGRATIONS.iter().skip(version as usize) {
                tx.execute_batch(sql)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()
        })();
        res.map_err(|source| Error::Db { path, source })
    }

    /// Runs `f` in one transaction: all of its changes land, or none do.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads
        // first can fail with "database is locked" when another process wrote meanwhile.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Error::Db {
                path: self.path.clone(),
                source: e,
            })?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.db(e))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FeedbackKind, NewSong};

    #[test]
    fn reopens_from_disk_and_refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("lib.sqlite");
        {
            let mut lib = Library::open(&path).unwrap();
            lib.add_song(&NewSong::new("Keep", "me").audio("/music/keep.wav"))
                .unwrap();
        }
        let lib = Library::open(&path).unwrap();
        let s = &lib.songs().unwrap()[0];
        assert_eq!(s.title, "Keep");
        assert_eq!(lib.audio_path(s.id), Some(PathBuf::from("/music/keep.wav")));
        assert_eq!(lib.audio_path(s.id + 1), None);
        drop(lib);

        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Library::open(&path).unwrap_err();
        assert!(matches!(err, Error::SchemaTooNew { .. }), "{err}");
    }

    #[test]
    fn several_connections_create_and_write_one_library_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.sqlite");
        std::thread::scope(|scope| {
            for t in 0..4 {
                let path = &path;
                scope.spawn(move || {
                    let mut lib = Library::open(path).unwrap();
                    for i in 0..15 {
                        let id = lib
                            .add_song(&NewSong::new(format!("song {t}-{i}"), "a").tags(["X"]))
                            .unwrap();
                        lib.add_feedback(id, FeedbackKind::Like).unwrap();
                    }
                });
            }
        });
        let lib = Library::open(&path).unwrap();
        assert_eq!(lib.len().unwrap(), 60);
        assert_eq!(lib.feedback().unwrap().len(), 60);
        assert_eq!(lib.tag_counts().unwrap(), vec![("X".to_string(), 60)]);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.sqlite");
        std::fs::write(
            &path,
            b"this is not sqlite, just some text that is long enough",
        )
        .unwrap();
        let err = Library::open(&path).unwrap_err();
        assert!(err.to_string().contains("lib.sqlite"), "{err}");
    }

    #[test]
    fn a_negative_schema_version_is_refused_not_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", -3)
            .unwrap();
        let err = Library::open(&path).unwrap_err().to_string();
        assert!(err.contains("odd.sqlite") && err.contains("-3"), "{err}");
    }
}
