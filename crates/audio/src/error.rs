//! Errors of the audio analyser. Every variant names the file so a folder scan can report
//! exactly which song failed and why.

use std::path::{Path, PathBuf};

/// Why a file (or a buffer of samples, named `<samples>`) could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{}: file not found", .path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot read: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: unsupported audio format: {reason}", .path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("{}: corrupt or truncated audio: {reason}", .path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}: no audio: {reason}", .path.display())]
    Empty { path: PathBuf, reason: String },
    #[error("{}: too large ({bytes} bytes, limit {limit} bytes)", .path.display())]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
    /// The analysed part is silent or nearly so: there is no mood to read, so none is
    /// guessed.
    #[error("{}: silent or nearly silent (mean level {level_db:.1} dBFS)", .path.display())]
    Silent { path: PathBuf, level_db: f32 },
}

impl AudioError {
    /// The file (or `<samples>`) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            AudioError::NotFound { path }
            | AudioError::Unreadable { path, .. }
            | AudioError::Unsupported { path, .. }
            | AudioError::Corrupt { path, .. }
            | AudioError::Empty { path, .. }
            | AudioError::TooLarge { path, .. }
            | AudioError::Silent { path, .. } => path,
        }
    }

    /// The same error about another path (the analyser core names `<samples>`; the file
    /// front end renames it).
    pub(crate) fn renamed(mut self, new: &Path) -> Self {
        match &mut self {
            AudioError::NotFound { path }
            | AudioError::Unreadable { path, .. }
            | AudioError::Unsupported { path, .. }
            | AudioError::Corrupt { path, .. }
            | AudioError::Empty { path, .. }
            | AudioError::TooLarge { path, .. }
            | AudioError::Silent { path, .. } => *path = new.to_path_buf(),
        }
        self
    }
}
