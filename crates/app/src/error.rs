//! Errors of the web app's operations, sorted by whose fault they are: the adapters map
//! each kind to their own (an HTTP status, an exit code).

/// What went wrong, and whether the caller can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request was unusable: a corrupt image, a malformed song list, an unknown id
    /// in a list.
    #[error("{0}")]
    BadInput(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The library is being written by another program for longer than a request
    /// waits: nothing was changed, and the same request may succeed in a moment.
    #[error("{0}")]
    Busy(String),
    /// Anything else: database trouble, a full disk, a bug.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn bad_input(msg: impl std::fmt::Display) -> Self {
        Error::BadInput(msg.to_string())
    }
    pub fn not_found(msg: impl std::fmt::Display) -> Self {
        Error::NotFound(msg.to_string())
    }
    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }
}

/// Library errors about the request (unknown song, bad file) are the caller's; the rest
/// are ours.
impl From<moodtune_library::Error> for Error {
    fn from(e: moodtune_library::Error) -> Self {
        use moodtune_library::Error as E;
        if e.is_busy() {
            return Error::Busy(format!(
                "the song library is busy: another program (a `moodtune library import`?) \
                 is writing to it; nothing was changed, try again in a moment ({e})"
            ));
        }
        match e {
            E::SongNotFound(_) => Error::not_found(e),
            E::Import { .. } | E::Invalid(_) | E::Ambiguous(..) => Error::bad_input(e),
            _ => Error::internal(e),
        }
    }
}
