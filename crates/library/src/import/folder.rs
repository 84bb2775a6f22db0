//! Music folders: audio files' tags and durations via lofty, lyrics from tags or
//! `.lrc`/`.txt` sidecars.

use super::csv::{decode_text, read_regular_file};
use super::spreadsheet::contain_parser_panic;
use super::{
    ext_of, split_tags, ImportIssue, ImportProgress, ImportReport, Item, AUDIO_EXTENSIONS,
};
use crate::error::Result;
use crate::lrc::strip_lrc;
use crate::store::NewSong;
use lofty::file::{AudioFile, TaggedFileExt};
use lofty::tag::{Accessor, ItemKey};
use moodtune_core::Emotion;
use std::path::{Path, PathBuf};

fn collect_audio(dir: &Path, out: &mut Vec<PathBuf>, report: &mut ImportReport) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            report.skipped.push(ImportIssue {
                location: dir.display().to_string(),
                reason: format!("cannot read folder: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<(PathBuf, bool)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        // Symlinked folders are not followed, so a link loop cannot trap the walk.
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        paths.push((entry.path(), is_dir));
    }
    paths.sort();
    for (p, is_dir) in paths {
        if is_dir {
            collect_audio(&p, out, report);
        } else if AUDIO_EXTENSIONS.contains(&ext_of(&p).as_str()) {
            out.push(p);
        }
    }
}

pub(super) fn read_folder(
    dir: &Path,
    progress: &mut dyn FnMut(ImportProgress<'_>),
    report: &mut ImportReport,
) -> Result<Vec<Item>> {
    let mut files = Vec::new();
    collect_audio(dir, &mut files, report);
    let total = files.len();
    let mut items = Vec::with_capacity(total);
    for (i, f) in files.iter().enumerate() {
        progress(ImportProgress {
            done: i,
            total,
            current: f,
        });
        items.push(read_audio(f));
    }
    if let Some(last) = files.last() {
        progress(ImportProgress {
            done: total,
            total,
            current: last,
        });
    }
    Ok(items)
}

const MAX_LYRICS_FILE_BYTES: u64 = 4 << 20;

/// Lyrics from `song.lrc` or `song.txt` beside `song.mp3`.
fn sidecar_lyrics(audio: &Path) -> Option<String> {
    ["lrc", "txt", "LRC", "TXT"].iter().find_map(|ext| {
        let p = audio.with_extension(ext);
        // Lyrics are a few KB; a sidecar that is no regular file or huge is passed over.
        let bytes = read_regular_file(&p, MAX_LYRICS_FILE_BYTES).ok()?;
        let text = strip_lrc(&decode_text(&bytes).0);
        (!text.trim().is_empty()).then_some(text)
    })
}

/// Why an audio file could not be read, in words: the reader's own I/O errors (e.g. "Invalid
/// argument (os error 22)" from seeking past the end of a cut-short file) say nothing about
/// the file to its owner.
fn describe_audio_error(e: &lofty::error::LoftyError) -> String {
    use std::io::ErrorKind as Io;
    match e.kind() {
        lofty::error::ErrorKind::Io(io)
            if !matches!(io.kind(), Io::PermissionDenied | Io::NotFound) =>
        {
            format!("unreadable audio: the file is cut short or damaged ({e})")
        }
        _ => format!("unreadable audio: {e}"),
    }
}

/// Reads one audio file's tags, duration and lyrics.
pub(super) fn read_audio(path: &Path) -> Item {
    let location = path.display().to_string();
    let mut warnings = Vec::new();
    let record = (|| {
        let canonical = path
            .canonicalize()
            .map_err(|e| format!("cannot open: {e}"))?;
        let tagged = contain_parser_panic(
            || lofty::read_from_path(&canonical).map_err(|e| describe_audio_error(&e)),
            |detail| format!("malformed audio file (the reader failed: {detail})"),
        )?;
        let tag = tagged.primary_tag().or_else(|| tagged.first_tag());
        let text = |s: Option<std::borrow::Cow<'_, str>>| {
            s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
        };
        let stem = canonical
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let title = tag.and_then(|t| text(t.title()));
        let mut song = NewSong::new(
            title.clone().unwrap_or(stem),
            tag.and_then(|t| text(t.artist())).unwrap_or_default(),
        );
        song.title_is_guess = title.is_none();
        if let Some(t) = tag {
            song.album = text(t.album());
            if let Some(genre) = text(t.genre()) {
                song.tags = split_tags(&genre);
            }
            song.language = t
                .get_string(&ItemKey::Language)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from);
            song.lyrics = t
                .get_string(&ItemKey::Lyrics)
                .map(strip_lrc)
                .filter(|l| !l.trim().is_empty());
            // A mood tag that names one of the seven emotions is taken as the label; any
            // other mood ("Melancholy", "Upbeat") becomes a tag, evidence for the
            // classifier.
            if let Some(mood) = t
                .get_string(&ItemKey::Mood)
                .map(str::trim)
                .filter(|m| !m.is_empty())
            {
                match mood.parse::<Emotion>() {
                    Ok(e) if !mood.chars().all(|c| c.is_ascii_digit()) => {
                        song.manual_emotion = Some(e)
                    }
                    _ => song.tags.extend(split_tags(mood)),
                }
            }
        }
        if song.lyrics.is_none() {
            song.lyrics = sidecar_lyrics(&canonical);
        }
        if song.language.is_none() {
            song.language = song
                .lyrics
                .as_deref()
                .and_then(moodtune_lyrics::language_code)
                .map(String::from);
        }
        let d = tagged.properties().duration().as_secs_f64();
        if d > 0.0 {
            song.duration_s = Some(d);
        } else {
            warnings.push("duration unknown".to_string());
        }
        song.source = "audio".to_string();
        song.source_key = canonical.to_string_lossy().into_owned();
        song.audio_path = Some(canonical);
        Ok(song)
    })();
    Item {
        location,
        record,
        warnings,
    }
}
