//! Writing a file so that a crash, a full disk or a failed encoder leaves the old file or
//! the new one, never half of one. Exports, models, figures and run files all go
//! through here (the server's upload keeps its own, since it also restores the last good
//! copy when an import fails).

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `path` through `write`: into a temp file in the same folder, synced, then
/// renamed over `path`, and the folder synced so the rename survives a power cut. If
/// `write` fails, `path` is untouched and the temp file removed.
///
/// The replaced file keeps its permissions; a new file gets those of any new file (0666
/// less the umask on Unix), not the owner-only mode temp files are created with.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // The mode is settled before any byte is written: a private file's replacement is
    // never readable by others, not even while it is being written.
    let old_mode = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut builder = tempfile::Builder::new();
    builder.prefix(".moodtune-").suffix(".tmp");
    if old_mode.is_none() {
        if let Some(mode) = new_file_permissions() {
            builder.permissions(mode);
        }
    }
    // A replacement starts owner-only (the temp file default) and takes the old mode.
    // tempfile's errors name the random temp file; the user knows the folder.
    let mut tmp = builder.tempfile_in(dir).map_err(|e| {
        let why = if dir.is_dir() {
            io::Error::from(e.kind()).to_string()
        } else {
            "no such folder".to_string()
        };
        io::Error::new(
            e.kind(),
            format!("cannot write in {}: {why}", dir.display()),
        )
    })?;
    if let Some(mode) = old_mode {
        tmp.as_file().set_permissions(mode)?;
    }
    {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out)?;
        out.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes the renames and removals in `dir` durable: without it a crash can leave the
/// folder naming the old file (or no file) although the new one's bytes were synced.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some file systems cannot sync a folder; the rename stands.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        r => r,
    }
}

/// Folders cannot be opened as files here; the rename is as durable as the system
/// makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// [`write_atomically`] for contents already in memory.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically(path, |out| out.write_all(bytes))
}

/// The mode a file is created with (the kernel then takes the umask away).
#[cfg(unix)]
fn new_file_permissions() -> Option<Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(Permissions::from_mode(0o666))
}

#[cfg(not(unix))]
fn new_file_permissions() -> Option<Permissions> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".moodtune-"))
            .collect()
    }

    #[test]
    fn a_missing_folder_is_named_not_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodir/out.csv");
        let err = write_bytes_atomically(&path, b"x").unwrap_err().to_string();
        assert!(err.contains("nodir: no such folder"), "{err}");
        assert!(!err.contains(".moodtune-"), "{err}");
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_bytes_atomically(&path, b"old").unwrap();
        write_bytes_atomically(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_bytes_atomically(&path, b"old").unwrap();
        let err = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "encoder failed");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_file_in_the_current_folder_syncs_the_current_folder() {
        // `path.parent()` of a bare name is empty: the folder synced is ".".
        assert!(sync_dir(Path::new(".")).is_ok());
        let dir = tempfile::tempdir().unwrap();
        assert!(sync_dir(dir.path()).is_ok());
        assert!(sync_dir(&dir.path().join("missing")).is_err() || cfg!(not(unix)));
    }

    #[test]
    fn a_missing_folder_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no such folder").join("out.csv");
        assert!(write_bytes_atomically(&path, b"x").is_err());
        assert!(!path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_the_usual_mode_and_old_modes_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // What any new file gets here (0666 less the umask), not a temp file's 0600.
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let fresh = dir.path().join("fresh.xlsx");
        write_bytes_atomically(&fresh, b"x").unwrap();
        assert_eq!(mode(&fresh), mode(&plain));
        let private = dir.path().join("private.xlsx");
        write_bytes_atomically(&private, b"x").unwrap();
        std::fs::set_permissions(&private, Permissions::from_mode(0o600)).unwrap();
        write_bytes_atomically(&private, b"y").unwrap();
        assert_eq!(mode(&private), 0o600);
    }
}
