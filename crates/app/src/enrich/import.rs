//! One source of `library import` (a sheet, a CSV file, a music folder) into the library,
//! and whether it counts as a failure.

use moodtune_library::{ImportProgress, ImportReport, Library};
use std::path::{Path, PathBuf};

/// How one source's import went.
pub struct SourceImport {
    pub path: PathBuf,
    /// The import's report; `None` when the source could not be read at all.
    pub report: Option<ImportReport>,
    /// Why the source counts as failed: unreadable, or no song came from it.
    pub error: Option<String>,
}

impl SourceImport {
    /// The source as a JSON object: its path and its report or error.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.report {
            Some(report) => serde_json::json!({ "path": self.path, "report": report }),
            None => serde_json::json!({ "path": self.path, "error": self.error }),
        }
    }
}

/// Imports `path`; a bad source is rolled back on its own and does not stop the others.
pub fn import_source(
    lib: &mut Library,
    path: &Path,
    progress: &mut dyn FnMut(ImportProgress<'_>),
) -> SourceImport {
    let (report, error) = match lib.import_path_with(path, progress) {
        Ok(report) => {
            let error = empty_source(path, &report);
            (Some(report), error)
        }
        Err(e) => (None, Some(e.to_string())),
    };
    SourceImport {
        path: path.to_path_buf(),
        report,
        error,
    }
}

/// A source that gave no song at all is a failure for scripts too: a folder without
/// audio, a sheet whose every row was skipped.
fn empty_source(path: &Path, report: &ImportReport) -> Option<String> {
    if report.added + report.updated + report.unchanged > 0 {
        return None;
    }
    let what = if path.is_dir() && report.skipped.is_empty() {
        format!(
            "no audio files ({}) found under it",
            moodtune_library::AUDIO_EXTENSIONS.join(", ")
        )
    } else {
        "no song in it could be imported".to_string()
    };
    Some(format!("{}: {what}", path.display()))
}
