//! The audio step: every song with an audio file gets an analysis, stored as soon as it
//! is made, keyed by the file's path, size and modification time and the analyser's
//! version. A run killed half way loses nothing stored, and the next one analyses only
//! what is new, changed or was analysed by another version.

use moodtune_library::{AudioRecord, Library, Song, SongId};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

/// Where the audio step is, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct AudioProgress<'a> {
    pub done: usize,
    pub total: usize,
    /// The file just finished.
    pub current: &'a Path,
    /// Seconds of audio analysed per second of wall time so far.
    pub x_real_time: f64,
}

/// What the audio step did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AudioSummary {
    /// Files analysed this run.
    pub analysed: usize,
    /// Files whose stored analysis was still valid.
    pub reused: usize,
    /// Files that could not be analysed (each with its reason in `errors`).
    pub failed: usize,
    /// `file: reason` of the failures of this run, at most [`MAX_LISTED_ERRORS`].
    pub errors: Vec<String>,
    /// Seconds of audio analysed per second of wall time, this run.
    pub x_real_time: f64,
}

/// Failures listed by name; the rest are counted.
pub const MAX_LISTED_ERRORS: usize = 20;

/// The file's identity for the stored analysis: size and modification time (ns).
fn file_key(path: &Path) -> Option<(u64, i64)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    Some((meta.len(), mtime))
}

/// A stored analysis still describes the file: same path, size, time and analyser.
fn still_valid(rec: &AudioRecord, path: &Path, key: (u64, i64)) -> bool {
    rec.audio_path == path
        && (rec.file_size, rec.file_mtime) == key
        && rec.model_version == moodtune_audio::MODEL_VERSION
}

/// Analyses the songs' audio files that have no valid stored analysis (in parallel,
/// one file per core), storing each as it finishes. Returns the records of every song
/// with audio, stored or new.
pub fn analyse(
    lib: &mut Library,
    songs: &[Song],
    progress: &mut dyn FnMut(AudioProgress<'_>),
) -> moodtune_library::Result<(HashMap<SongId, AudioRecord>, AudioSummary)> {
    let mut records = lib.audio_records()?;
    let mut summary = AudioSummary::default();
    let mut todo: Vec<(SongId, PathBuf, (u64, i64))> = Vec::new();
    for s in songs {
        let Some(path) = &s.audio_path else { continue };
        let Some(key) = file_key(path) else {
            // A vanished file: its old analysis (if any) still speaks for the song.
            continue;
        };
        match records.get(&s.id) {
            Some(rec) if still_valid(rec, path, key) => summary.reused += 1,
            _ => todo.push((s.id, path.clone(), key)),
        }
    }
    let total = todo.len();
    if total == 0 {
        return Ok((records, summary));
    }
    let started = Instant::now();
    let mut audio_seconds = 0.0;
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| -> moodtune_library::Result<()> {
        scope.spawn(move || {
            todo.into_par_iter()
                .for_each_with(tx, |tx, (id, path, (size, mtime))| {
                    let result = moodtune_audio::analyze_file(&path);
                    let _ = tx.send((id, path, size, mtime, result));
                });
        });
        // The library connection stays on this thread: each result is stored in its own
        // short transaction as it arrives.
        for (done, (id, path, size, mtime, result)) in rx.into_iter().enumerate() {
            let result = match result {
                Ok(a) => {
                    audio_seconds += a.analysed_s;
                    summary.analysed += 1;
                    Ok(serde_json::to_string(&a).expect("an analysis serialises"))
                }
                Err(e) => {
                    summary.failed += 1;
                    if summary.errors.len() < MAX_LISTED_ERRORS {
                        summary.errors.push(e.to_string());
                    }
                    Err(e.to_string())
                }
            };
            let rec = AudioRecord {
                audio_path: path.clone(),
                file_size: size,
                file_mtime: mtime,
                model_version: moodtune_audio::MODEL_VERSION.to_string(),
                result,
            };
            match lib.store_audio_record(id, &rec) {
                Ok(()) => {}
                // Removed by another process meanwhile: nothing to keep.
                Err(moodtune_library::Error::SongNotFound(_)) => continue,
                Err(e) => return Err(e),
            }
            records.insert(id, rec);
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            progress(AudioProgress {
                done: done + 1,
                total,
                current: &path,
                x_real_time: audio_seconds / secs,
            });
        }
        Ok(())
    })?;
    summary.x_real_time = audio_seconds / started.elapsed().as_secs_f64().max(1e-9);
    Ok((records, summary))
}

/// The stored analysis of a record, when it succeeded.
pub fn analysis_of(rec: &AudioRecord) -> Option<moodtune_audio::Analysis> {
    rec.result
        .as_ref()
        .ok()
        .and_then(|json| serde_json::from_str(json).ok())
}

/// Analyses audio files outside the library, in parallel, answers in the given order.
pub fn analyze_files(
    paths: &[PathBuf],
) -> Vec<Result<moodtune_audio::Analysis, moodtune_audio::AudioError>> {
    paths
        .par_iter()
        .map(|p| moodtune_audio::analyze_file(p))
        .collect()
}
