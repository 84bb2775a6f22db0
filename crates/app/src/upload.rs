//! A song list uploaded from the page: kept under the data folder (the library remembers
//! where songs came from), imported, classified, and in place of the demo songs.

use crate::error::{Error, Result};
use crate::web::UploadSummary;
use moodtune_library::{demo, ImportBatch, Library};
use std::path::Path;
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

/// See the module documentation. The caller lets one upload run at a time; the library
/// is locked only to write, so the page keeps playing while a big sheet is read.
pub(crate) fn import_upload(
    lib: &Mutex<Library>,
    data_dir: &Path,
    filename: &str,
    bytes: &[u8],
    link_audio: bool,
    enrich: &crate::enrich::Options,
) -> Result<UploadSummary> {
    let internal = Error::internal;
    let name = safe_file_name(filename);
    // Only a file the library can import is written at all.
    if !moodtune_library::is_importable_file(Path::new(&name)) {
        return Err(Error::BadInput(format!(
            "{name}: not a song list moodtune imports (CSV, TSV, XLSX, XLSM, XLSB, XLS or ODS)"
        )));
    }
    let dir = data_dir.join("imports");
    std::fs::create_dir_all(&dir)
        .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(&name);
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| internal(format!("cannot write in {}: {e}", dir.display())))?;
    {
        use std::io::Write;
        let f = tmp.as_file_mut();
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| internal(format!("cannot save the upload: {e}")))?;
    }
    // A failed re-upload must not cost the copy of the last good one.
    let previous = if path.exists() {
        let kept = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| internal(format!("cannot write in {}: {e}", dir.display())))?
            .into_temp_path();
        std::fs::rename(&path, &kept)
            .map_err(|e| internal(format!("cannot set {} aside: {e}", path.display())))?;
        Some(kept)
    } else {
        None
    };
    if let Err(e) = tmp.persist(&path) {
        if let Some(previous) = &previous {
            let _ = std::fs::rename(previous, &path);
        }
        return Err(internal(format!("cannot save {}: {e}", path.display())));
    }

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
            let _ = std::fs::remove_file(&path);
            if let Some(previous) = &previous {
                let _ = std::fs::rename(previous, &path);
            }
            let msg = e.to_string().replace(&shown, &name);
            match Error::from(e) {
                Error::Internal(_) => Error::Internal(msg),
                _ => Error::BadInput(msg),
            }
        })?;
    let mut messages: Vec<String> = report
        .skipped
        .iter()
        .map(|s| format!("skipped {s}"))
        .chain(report.warnings.iter().map(|w| format!("warning {w}")))
        .map(|m| m.replace(&shown, &name))
        .collect();
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
        match crate::enrich::classify(&mut lib, enrich) {
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
        skipped: report.skipped.len(),
        messages,
    })
}
