use std::path::PathBuf;

/// Everything that can go wrong in the library. Messages name the file, song or
/// row involved so a CLI can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("library database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("library database {path} has schema version {found}, newer than this moodtune understands ({supported}); upgrade moodtune")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no song {0} in the library")]
    SongNotFound(String),
    #[error("{0:?} matches several songs ({1}); name one by its id as #ID")]
    Ambiguous(String, String),
    #[error("{path}: {message}")]
    Import { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Export { path: PathBuf, message: String },
    #[error("no data directory on this system; pass --db or set MOODTUNE_DB")]
    NoDataDir,
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether another connection (a CLI import, say) holds the database's write lock
    /// and held it past the busy timeout: the same write may succeed a little later.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Db { source, .. } if crate::store::is_busy(source))
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
