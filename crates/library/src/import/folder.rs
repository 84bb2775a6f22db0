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
use lofty::file::{AudioFile, TaggedFile, TaggedFileExt};
use lofty::tag::ItemKey;
use moodtune_core::Emotion;
use std::path::{Path, PathBuf};

/// Walks `dir` for audio files, stopping with an error once more than `max_files` are
/// found: a folder of millions of files is refused before its paths fill memory, like a
/// table of too many rows.
fn collect_audio(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    report: &mut ImportReport,
    max_files: usize,
) -> std::result::Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            report.skipped.push(ImportIssue {
                location: dir.display().to_string(),
                reason: format!("cannot read folder: {e}"),
            });
            return Ok(());
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
            collect_audio(&p, out, report, max_files)?;
        } else if AUDIO_EXTENSIONS.contains(&ext_of(&p).as_str()) {
            if out.len() >= max_files {
                return Err(format!(
                    "more than {max_files} audio files; import its sub-folders one by one or \
                     raise the limit"
                ));
            }
            out.push(p);
        }
    }
    Ok(())
}

pub(super) fn read_folder(
    dir: &Path,
    progress: &mut dyn FnMut(ImportProgress<'_>),
    report: &mut ImportReport,
    max_files: usize,
) -> Result<Vec<Item>> {
    let mut files = Vec::new();
    collect_audio(dir, &mut files, report, max_files).map_err(|message| {
        crate::error::Error::Import {
            path: dir.to_path_buf(),
            message,
        }
    })?;
    let total = files.len();
    let mut items = Vec::with_capacity(total);
    for (i, f) in files.iter().enumerate() {
        progress(ImportProgress {
            done: i,
            total,
            current: f,
        });
        items.push(read_audio(f, report));
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

/// The first non-empty value of `key` in a file's tags: the primary tag first (ID3v2,
/// Vorbis comments, the MP4 `ilst`), then the others (an MP3's ID3v1 or APE tag), so a
/// file that has only an old tag, or whose new tag holds only a mood, keeps every field.
pub(crate) fn tag_text(tagged: &TaggedFile, key: &ItemKey) -> Option<String> {
    tag_texts(tagged, key).into_iter().next()
}

/// Every non-empty value of `key` in the first of the file's tags (primary first) that
/// has one: Vorbis comments may hold several GENRE fields, ID3v2.4 several genres.
pub(crate) fn tag_texts(tagged: &TaggedFile, key: &ItemKey) -> Vec<String> {
    let primary = tagged.primary_tag();
    let others = tagged
        .tags()
        .iter()
        .filter(|t| Some(t.tag_type()) != primary.map(|p| p.tag_type()));
    for tag in primary.into_iter().chain(others) {
        let values: Vec<String> = tag
            .get_strings(key)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if !values.is_empty() {
            return values;
        }
    }
    Vec::new()
}

/// What one audio file's tags and sidecars gave, for the import report.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Found {
    mood_label: bool,
    mood_words: bool,
    genre: bool,
    lyrics_tag: bool,
    lyrics_sidecar: bool,
}

impl Found {
    pub(super) fn count(self, report: &mut ImportReport) {
        let s = &mut report.from_files;
        s.files += 1;
        s.mood_labels_from_tags += usize::from(self.mood_label);
        s.mood_words_from_tags += usize::from(self.mood_words);
        s.genres_from_tags += usize::from(self.genre);
        s.lyrics_from_tags += usize::from(self.lyrics_tag);
        s.lyrics_from_sidecars += usize::from(self.lyrics_sidecar);
    }
}

/// Reads one audio file's tags, duration and lyrics, counting in `report` where its
/// mood, genre and lyrics came from.
pub(super) fn read_audio(path: &Path, report: &mut ImportReport) -> Item {
    let location = path.display().to_string();
    let mut warnings = Vec::new();
    let mut found = Found::default();
    let record = (|| {
        let canonical = path
            .canonicalize()
            .map_err(|e| format!("cannot open: {e}"))?;
        let tagged = contain_parser_panic(
            || lofty::read_from_path(&canonical).map_err(|e| describe_audio_error(&e)),
            |detail| format!("malformed audio file (the reader failed: {detail})"),
        )?;
        let stem = canonical
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let title = tag_text(&tagged, &ItemKey::TrackTitle);
        let mut song = NewSong::new(
            title.clone().unwrap_or(stem),
            tag_text(&tagged, &ItemKey::TrackArtist).unwrap_or_default(),
        );
        song.title_is_guess = title.is_none();
        song.album = tag_text(&tagged, &ItemKey::AlbumTitle);
        // ID3 TCON, Vorbis GENRE (every field), the MP4 genre atom.
        let genres = tag_texts(&tagged, &ItemKey::Genre);
        found.genre = !genres.is_empty();
        for genre in &genres {
            for t in split_tags(genre) {
                if !song.tags.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                    song.tags.push(t);
                }
            }
        }
        song.language = tag_text(&tagged, &ItemKey::Language);
        // ID3 USLT, Vorbis LYRICS, the MP4 lyrics atom.
        song.lyrics = tag_text(&tagged, &ItemKey::Lyrics)
            .map(|l| strip_lrc(&l))
            .filter(|l| !l.trim().is_empty());
        found.lyrics_tag = song.lyrics.is_some();
        // ID3 TMOO, Vorbis MOOD, the MP4 `----:com.apple.iTunes:MOOD` atom. A mood that
        // names one of the seven emotions is taken as the label (the first such, as
        // `library write-tags` writes it); any other mood ("Melancholy", "Upbeat")
        // becomes a tag, evidence for the classifier.
        for mood in tag_texts(&tagged, &ItemKey::Mood) {
            let emotion = mood
                .parse::<Emotion>()
                .ok()
                .filter(|_| !mood.chars().all(|c| c.is_ascii_digit()));
            match emotion {
                Some(e) => {
                    if song.manual_emotion.is_none() {
                        song.manual_emotion = Some(e);
                        found.mood_label = true;
                    }
                }
                None => {
                    for t in split_tags(&mood) {
                        if !song.tags.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                            song.tags.push(t);
                        }
                    }
                    found.mood_words = true;
                }
            }
        }
        if song.lyrics.is_none() {
            song.lyrics = sidecar_lyrics(&canonical);
            found.lyrics_sidecar = song.lyrics.is_some();
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
    if record.is_ok() {
        found.count(report);
    }
    Item {
        location,
        record,
        warnings,
    }
}
