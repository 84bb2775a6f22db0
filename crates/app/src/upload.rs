//! A song list uploaded from the page: kept under the data folder (the library remembers
//! where songs came from), imported, classified, and in place of the demo songs.

use crate::error::{Error, Result};
use crate::web::UploadSummary;
use moodtune_library::{demo, ImportBatch, Library};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The base name of an uploaded file, made safe to use as a file name here.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || ":*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "upload".into()
    } else {
        cleaned
    }
}

/// The files of one upload name in `imports/`. The library records where songs came
/// from by the imported file's own path, so the upload is imported from `NAME` itself:
/// it is written as `.NAME.new`, the last good copy is kept as `.NAME.old` (a hard link:
/// `NAME` never goes missing) or `.NAME.none` marks that there was none, the new file is
/// renamed over `NAME`, imported, and the mark removed once the import committed. While
/// a mark is there, `NAME` is not yet the good copy: [`recover`] puts the old one back
/// after a crash (at the next upload of the name, and when the app starts).
struct Slot {
    dir: PathBuf,
    path: PathBuf,
    new: PathBuf,
    old: PathBuf,
    none: PathBuf,
}

impl Slot {
    fn new(dir: &Path, name: &str) -> Slot {
        Slot {
            dir: dir.to_path_buf(),
            path: dir.join(name),
            new: dir.join(format!(".{name}.new")),
            old: dir.join(format!(".{name}.old")),
            none: dir.join(format!(".{name}.none")),
        }
    }

    /// The upload name a leftover `.NAME.new|old|none` belongs to.
    fn name_of_leftover(file: &str) -> Option<&str> {
        let rest = file.strip_prefix('.')?;
        [".new", ".old", ".none"]
            .iter()
            .find_map(|suffix| rest.strip_suffix(suffix))
            .filter(|name| !name.is_empty() && !name.starts_with('.'))
    }
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

fn remove_if_there(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Makes renames and removals in `dir` survive a power cut (as core's atomic write).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    match std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
            ) => {}
        r => return r,
    }
    let _ = dir;
    Ok(())
}

/// Puts an upload cut short back to the state before it: the kept copy back at `NAME`
/// (or no `NAME` when the upload was the first of its name), no `.new` file. Each step
/// leaves a state this function repairs again, should it be cut short itself.
fn recover(slot: &Slot) -> std::io::Result<()> {
    let mut changed = false;
    if exists(&slot.old) {
        std::fs::rename(&slot.old, &slot.path)?;
        // Cut short before the swap, both are names of the old file, and a rename
        // between two names of one file leaves both (POSIX).
        remove_if_there(&slot.old)?;
        changed = true;
    } else if exists(&slot.none) {
        // `NAME` first: the mark goes last, or a crash between would hide it.
        remove_if_there(&slot.path)?;
        std::fs::remove_file(&slot.none)?;
        changed = true;
    }
    if exists(&slot.new) {
        std::fs::remove_file(&slot.new)?;
        changed = true;
    }
    if changed {
        sync_dir(&slot.dir)?;
    }
    Ok(())
}

/// Holds `imports/` through an upload or a recovery against another moodtune process
/// using the same data folder (an advisory lock on the folder; none where folders
/// cannot be opened, or the file system has no locks).
struct DirLock(#[allow(dead_code)] Option<std::fs::File>);

impl DirLock {
    /// Waits for the folder; `None` only with `wait == false` and the folder held.
    fn take(dir: &Path, wait: bool) -> Option<DirLock> {
        let Ok(f) = std::fs::File::open(dir) else {
            return Some(DirLock(None));
        };
        let locked = if wait {
            f.lock().map_err(|_| ())
        } else {
            match f.try_lock() {
                Err(std::fs::TryLockError::WouldBlock) => return None,
                r => r.map_err(|_| ()),
            }
        };
        Some(DirLock(locked.ok().map(|()| f)))
    }
}

/// Repairs every upload that a crash cut short (see [`Slot`]); run when the app
/// starts. Problems are left for the next upload of that name to report.
pub(crate) fn recover_all(data_dir: &Path) {
    let dir = data_dir.join("imports");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let Some(_held) = DirLock::take(&dir, false) else {
        // Another process is uploading right now: its leftovers are its own.
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Slot::name_of_leftover(&e.file_name().to_string_lossy()).map(String::from))
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let _ = recover(&Slot::new(&dir, &name));
    }
}

// Test builds stop at a named step as if the process were killed there.
#[cfg(test)]
thread_local! {
    static CRASH_AT: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

fn crash_point(_step: &'static str) {
    #[cfg(test)]
    if CRASH_AT.with(|c| c.get()) == Some(_step) {
        panic!("simulated crash at {_step}");
    }
}

/// See the module documentation. The caller lets one upload run at a time; the library
/// is locked only to write, so the page keeps playing while a big sheet is read.
pub(crate) fn import_upload(
    lib: &Mutex<Library>,
    data_dir: &Path,
    filename: &str,
    bytes: &[u8],
    link_audio: bool,
    enrich: &crate::enrich::Options,
    progress: &(dyn Fn(crate::web::UploadProgress) + Sync),
) -> Result<UploadSummary> {
    let internal = Error::internal;
    let name = safe_file_name(filename);
    // Only a file the library can import is written at all.
    if !moodtune_library::is_importable_file(Path::new(&name)) {
        return Err(Error::BadInput(format!(
            "{name}: not a song list moodtune imports (CSV, TSV, XLSX, XLSM, XLSB, XLS or ODS)"
        )));
    }
    if name.len() > 240 {
        return Err(Error::BadInput(format!(
            "the file name is too long ({} bytes): rename the file to 240 bytes or less",
            name.len()
        )));
    }
    let dir = data_dir.join("imports");
    std::fs::create_dir_all(&dir)
        .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
    let _held = DirLock::take(&dir, true);
    let slot = Slot::new(&dir, &name);
    let path = slot.path.clone();
    recover(&slot).map_err(|e| {
        internal(format!(
            "cannot clean up an interrupted upload of {name} in {}: {e}",
            dir.display()
        ))
    })?;

    // 1. The upload, complete and synced, under a name nothing imports.
    let written = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create_new(&slot.new)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = remove_if_there(&slot.new);
        return Err(internal(format!(
            "cannot save the upload in {}: {e}",
            dir.display()
        )));
    }
    crash_point("written");
    // 2. The last good copy kept aside, or the mark that there is none. A file system
    //    without hard links moves it aside: `NAME` is missing until step 3.
    let marked = if exists(&path) {
        std::fs::hard_link(&path, &slot.old).or_else(|_| std::fs::rename(&path, &slot.old))
    } else {
        std::fs::File::create_new(&slot.none).and_then(|f| f.sync_all())
    };
    let marked = marked.and_then(|()| sync_dir(&dir));
    if let Err(e) = marked {
        let _ = recover(&slot);
        return Err(internal(format!(
            "cannot set {} aside: {e}",
            path.display()
        )));
    }
    crash_point("marked");
    // 3. The upload at its own name, which is where the library records it came from.
    if let Err(e) = std::fs::rename(&slot.new, &path).and_then(|()| sync_dir(&dir)) {
        let _ = recover(&slot);
        return Err(internal(format!("cannot save {}: {e}", path.display())));
    }
    crash_point("swapped");

    let shown = path.display().to_string();
    let batch = if link_audio {
        ImportBatch::read(&path, &mut |_| {})
    } else {
        ImportBatch::read_without_audio_links(&path)
    };
    let mut lib = lib.lock().unwrap_or_else(|p| p.into_inner());
    let report = batch
        .and_then(|batch| lib.import_batch(batch))
        .map_err(|e| {
            // A file that did not import is not kept; the one it replaced comes back.
            let _ = recover(&slot);
            let msg = e.to_string().replace(&shown, &name);
            match Error::from(e) {
                Error::Internal(_) => Error::Internal(msg),
                busy @ Error::Busy(_) => busy,
                _ => Error::BadInput(msg),
            }
        })?;
    crash_point("committed");
    // 4. Committed: the upload is the good copy now.
    let kept = remove_if_there(&slot.old)
        .and_then(|()| remove_if_there(&slot.none))
        .and_then(|()| sync_dir(&dir));
    crash_point("done");
    let mut messages: Vec<String> = report
        .skipped
        .iter()
        .map(|s| format!("skipped {s}"))
        .chain(report.warnings.iter().map(|w| format!("warning {w}")))
        // A file of a million bad rows answers with counts per reason, not a million lines.
        .chain(
            report
                .more_skipped
                .iter()
                .map(|c| format!("and {} more skipped: {}", c.count, c.reason)),
        )
        .chain(
            report
                .more_warnings
                .iter()
                .map(|c| format!("and {} more warnings: {}", c.count, c.reason)),
        )
        .map(|m| m.replace(&shown, &name))
        .collect();
    if let Err(e) = kept {
        messages.push(format!(
            "the songs were imported, but the previous copy of {name} could not be removed \
             ({e}): the next upload of {name} will put it back"
        ));
    }
    // "A user's own library replaces the demo with one import." Demo songs the upload
    // merged into (an edited export, say) are the user's now and stay. The import is
    // committed by now: a failed clean-up (the database busy with a CLI import, say) is
    // reported beside it, not as a failed import.
    let imported = report.added + report.updated + report.unchanged;
    if imported > 0 {
        let source = moodtune_library::source_of(&path);
        match lib.replace_source(demo::SOURCE, &report.song_ids, &source) {
            Ok(0) => {}
            Ok(removed) => messages.push(format!("removed the {removed} demo songs")),
            Err(e) => messages.push(format!("the demo songs were kept: {e}")),
        }
        // Every song gets a mood: an upload is classified like a CLI import.
        progress(crate::web::UploadProgress {
            active: true,
            stage: "classifying".into(),
            ..Default::default()
        });
        let classified = crate::enrich::classify_with(&mut lib, enrich, &mut |p| {
            progress(crate::web::UploadProgress {
                active: true,
                stage: "analysing audio".into(),
                done: p.done,
                total: p.total,
                x_real_time: p.x_real_time,
            })
        });
        match classified {
            Ok(s) if s.unlabelled > 0 => messages.push(format!(
                "{} songs have no emotion library yet (no lyrics, audio or mood tags to go by)",
                s.unlabelled
            )),
            Ok(_) => {}
            Err(e) => messages.push(format!("the songs were imported but not classified: {e:#}")),
        }
    }
    Ok(UploadSummary {
        imported,
        skipped: report.skipped_count,
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    const OLD: &str = "title,artist,emotion\nOld Song,Me,happy\n";
    const NEW: &str = "title,artist,emotion\nNew Song,You,sad\n";

    fn upload(lib: &Mutex<Library>, data: &Path, body: &str) -> Result<UploadSummary> {
        let options = crate::enrich::Options::default();
        import_upload(
            lib,
            data,
            "songs.csv",
            body.as_bytes(),
            false,
            &options,
            &|_| {},
        )
    }

    /// The page sees the stages of an upload, and the audio files counted as they are
    /// analysed.
    #[test]
    fn an_upload_reports_its_progress() {
        let data = tempfile::tempdir().unwrap();
        let lib = Mutex::new(Library::open(data.path().join("l.sqlite")).unwrap());
        let mut sheet = String::from("title,artist,audio\n");
        for i in 0..3 {
            let wav = data.path().join(format!("t{i}.wav"));
            let tone: Vec<f32> = (0..22_050)
                .map(|n| (n as f32 * (0.05 + 0.01 * i as f32)).sin() * 0.3)
                .collect();
            moodtune_testkit::write_wav(&wav, &tone, 22_050);
            sheet.push_str(&format!("Song {i},Me,{}\n", wav.display()));
        }
        let seen = Mutex::new(Vec::new());
        let options = crate::enrich::Options::default();
        let record = |p: crate::web::UploadProgress| seen.lock().unwrap().push(p);
        let s = import_upload(
            &lib,
            data.path(),
            "s.csv",
            sheet.as_bytes(),
            true,
            &options,
            &record,
        )
        .unwrap();
        assert_eq!(s.imported, 3, "{s:?}");
        let seen = seen.into_inner().unwrap();
        assert!(seen.iter().all(|p| p.active), "{seen:?}");
        assert!(seen.iter().any(|p| p.stage == "classifying"), "{seen:?}");
        let audio: Vec<_> = seen
            .iter()
            .filter(|p| p.stage == "analysing audio")
            .collect();
        assert_eq!(audio.len(), 3, "{seen:?}");
        assert!(
            audio.iter().all(|p| p.total == 3) && audio[2].done == 3,
            "{seen:?}"
        );
    }

    fn listing(data: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(data.join("imports"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// kill -9 at every step of a re-upload (and of a first upload): once the app
    /// starts again, or the name is uploaded again, `imports/songs.csv` is the last good
    /// copy, or the new one when its import committed, and nothing else is left.
    #[test]
    fn a_crash_at_any_step_leaves_the_old_copy_or_the_committed_new_one() {
        for had_old in [true, false] {
            for step in ["written", "marked", "swapped", "committed", "done"] {
                for restart in [true, false] {
                    let data = tempfile::tempdir().unwrap();
                    let data = data.path();
                    let lib = Mutex::new(Library::open(data.join("library.sqlite")).unwrap());
                    if had_old {
                        upload(&lib, data, OLD).unwrap();
                    }
                    CRASH_AT.with(|c| c.set(Some(step)));
                    let crashed = catch_unwind(AssertUnwindSafe(|| upload(&lib, data, NEW)));
                    CRASH_AT.with(|c| c.set(None));
                    assert!(crashed.is_err(), "{step}: no crash");
                    let committed = lib
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .find("New Song")
                        .is_ok();
                    assert_eq!(committed, matches!(step, "committed" | "done"), "{step}");
                    if restart {
                        recover_all(data);
                    } else {
                        // The next upload of the name fails, and puts things right.
                        upload(&lib, data, "1,2,3\n").unwrap_err();
                    }
                    // After "committed" the import landed but the mark was still there:
                    // the old copy comes back (the next upload of the name updates it).
                    let expected = match step {
                        "done" => Some(NEW),
                        _ if had_old => Some(OLD),
                        _ => None,
                    };
                    let kept = std::fs::read_to_string(data.join("imports/songs.csv")).ok();
                    let case = format!("{step}, had_old {had_old}, restart {restart}");
                    assert_eq!(kept.as_deref(), expected, "{case}");
                    let files: Vec<String> = expected.iter().map(|_| "songs.csv".into()).collect();
                    assert_eq!(listing(data), files, "{case}");
                    upload(&lib, data, NEW).unwrap();
                    let kept = std::fs::read_to_string(data.join("imports/songs.csv")).unwrap();
                    assert_eq!(kept, NEW, "{case}");
                    assert_eq!(listing(data), ["songs.csv"], "{case}");
                }
            }
        }
    }

    #[test]
    fn leftovers_are_known_by_their_marks() {
        assert_eq!(Slot::name_of_leftover(".a b.csv.old"), Some("a b.csv"));
        assert_eq!(Slot::name_of_leftover(".a.csv.none"), Some("a.csv"));
        assert_eq!(Slot::name_of_leftover(".a.csv.new"), Some("a.csv"));
        for other in ["a.csv", ".old", "..a.old", ".a.csv", ".moodtune-x.tmp"] {
            assert_eq!(Slot::name_of_leftover(other), None, "{other}");
        }
    }

    #[test]
    fn an_overlong_name_is_refused_before_anything_is_written() {
        let data = tempfile::tempdir().unwrap();
        let lib = Mutex::new(Library::open(data.path().join("library.sqlite")).unwrap());
        let name = format!("{}.csv", "x".repeat(250));
        let options = crate::enrich::Options::default();
        let err = import_upload(
            &lib,
            data.path(),
            &name,
            OLD.as_bytes(),
            false,
            &options,
            &|_| {},
        )
        .unwrap_err();
        assert!(matches!(err, Error::BadInput(_)), "{err:?}");
        assert!(!data.path().join("imports").exists());
    }
}
