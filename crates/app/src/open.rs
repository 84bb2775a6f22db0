//! Where the song library lives, and the demo songs a fresh library gets.

use anyhow::{bail, Context};
use moodtune_library::{demo, Library};
use std::path::{Path, PathBuf};

/// Whether a command may create the library it is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Import, demo and serve: a new library starts there.
    Create,
    /// Every other command: a missing file is an error, so a mistyped `--db` does not
    /// quietly show (and leave behind) an empty library.
    Refuse,
}

/// The library at `db`, or at the default location (`$MOODTUNE_DB`, else the data dir).
pub fn open_library_at(db: Option<&Path>, missing: Missing) -> anyhow::Result<Library> {
    let path = match db {
        Some(p) => p.to_path_buf(),
        None => Library::default_path().context("finding the default library location")?,
    };
    if missing == Missing::Refuse && !path.exists() {
        bail!(
            "no song library at {0}: import songs first (`moodtune library import FILE --db {0}`), \
             install the demo (`moodtune library demo --db {0}`), or check the path",
            path.display()
        );
    }
    Library::open(&path).with_context(|| format!("opening the song library {}", path.display()))
}

/// The folder beside the database: uploads and the demo songs' audio live there.
pub fn data_dir_of(db: &Path) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Where the demo songs' audio files are written for the library at `db`.
pub fn demo_dir(db: &Path) -> PathBuf {
    data_dir_of(db).join(demo::AUDIO_DIR)
}

/// Installs the demo songs (audio in `audio_dir`, by default beside the database) and
/// gives them their emotion libraries, as every import does.
pub fn install_demo(
    lib: &mut Library,
    audio_dir: Option<&Path>,
) -> anyhow::Result<demo::DemoReport> {
    let dir = audio_dir.map_or_else(|| demo_dir(lib.path()), Path::to_path_buf);
    let report = demo::install_into(lib, &dir)
        .with_context(|| format!("installing the demo library into {}", dir.display()))?;
    crate::enrich::classify(lib, &crate::enrich::Options::default())
        .context("classifying the demo songs")?;
    Ok(report)
}

/// Installs the demo songs when the library has none at all (the first run of `serve`).
pub fn install_demo_if_empty(lib: &mut Library) -> anyhow::Result<Option<demo::DemoReport>> {
    if lib.is_empty().context("reading the library")? {
        return install_demo(lib, None).map(Some);
    }
    Ok(None)
}
