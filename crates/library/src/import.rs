//! Import from spreadsheets (xlsx/xlsm/xlsb/xls/ods), CSV/TSV and music folders.
//!
//! Every import first reads its whole source (bad rows and unreadable files become
//! issues, the rest become records), then writes all records in one transaction: a
//! failure while writing leaves the library exactly as it was.

use crate::error::{Error, Result};
use crate::lrc::strip_lrc;
use crate::store::{
    match_key, normalize, raw, upsert_song, with_path, Library, NewSong, SongId, Upsert,
};
use calamine::{Data, Reader};
use lofty::file::{AudioFile, TaggedFileExt};
use lofty::tag::{Accessor, ItemKey};
use moodtune_core::Emotion;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Audio file extensions a folder import picks up (lower case).
pub const AUDIO_EXTENSIONS: &[&str] = &["mp3", "flac", "ogg", "opus", "m4a", "wav"];
const SHEET_EXTENSIONS: &[&str] = &["xlsx", "xlsm", "xlsb", "xls", "ods"];
const CSV_EXTENSIONS: &[&str] = &["csv", "tsv"];

/// A row or file that was skipped, or imported with a caveat, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportIssue {
    /// `file:row` for a table row (`file:sheet:row` for a spreadsheet), the path for a file.
    pub location: String,
    pub reason: String,
}

impl fmt::Display for ImportIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub added: usize,
    pub updated: usize,
    /// Songs the source had that the library already held exactly so.
    pub unchanged: usize,
    /// Rows or files not imported, with why.
    pub skipped: Vec<ImportIssue>,
    /// Imported, but something was off (e.g. an audio file that does not exist).
    pub warnings: Vec<ImportIssue>,
    /// Ids of every song added, updated or unchanged, in source order.
    pub song_ids: Vec<SongId>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} unchanged, {} skipped",
            self.added,
            self.updated,
            self.unchanged,
            self.skipped.len()
        )?;
        if !self.warnings.is_empty() {
            write!(f, ", {} warnings", self.warnings.len())?;
        }
        for s in &self.skipped {
            write!(f, "\n  skipped {s}")?;
        }
        for w in &self.warnings {
            write!(f, "\n  warning {w}")?;
        }
        Ok(())
    }
}

/// Reported while a folder import reads its files.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress<'a> {
    pub done: usize,
    pub total: usize,
    pub current: &'a Path,
}

/// One record read from a source, or why its row/file could not be used.
struct Item {
    location: String,
    record: std::result::Result<NewSong, String>,
    warnings: Vec<String>,
}

/// Splits a tags cell on `,` `;` `/` `|` `、`, full-width `，` `；` and line breaks, trimming and
/// dropping empty and repeated (case-insensitive) tags.
pub fn split_tags(cell: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in cell.split([',', ';', '/', '|', '、', '，', '；', '\n']) {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t.to_string());
        }
    }
    out
}

/// Whether `path` names a song list [`Library::import_path`] reads: a CSV/TSV file or a
/// spreadsheet.
pub fn is_importable_file(path: &Path) -> bool {
    let ext = ext_of(path);
    SHEET_EXTENSIONS.contains(&ext.as_str()) || CSV_EXTENSIONS.contains(&ext.as_str())
}

/// Whether `path` names a file type moodtune plays ([`AUDIO_EXTENSIONS`]).
pub fn is_audio_file(path: &Path) -> bool {
    AUDIO_EXTENSIONS.contains(&ext_of(path).as_str())
}

fn ext_of(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

impl Library {
    /// Imports a spreadsheet, CSV file, audio file or folder of audio files (searched
    /// recursively). Re-importing a source updates its songs instead of duplicating them.
    pub fn import_path(&mut self, path: &Path) -> Result<ImportReport> {
        self.import_path_with(path, &mut |_| {})
    }

    /// [`Library::import_path`] with a callback as each audio file is read.
    pub fn import_path_with(
        &mut self,
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress<'_>),
    ) -> Result<ImportReport> {
        self.import_inner(path, progress, &mut |_| Ok(()))
    }

    /// Writes what [`ImportBatch::read`] read, in one transaction.
    pub fn import_batch(&mut self, batch: ImportBatch) -> Result<ImportReport> {
        self.write_items(batch.items, batch.report, &mut |_| Ok(()))
    }

    /// `after_write(i)` runs after the i-th record is written, inside the transaction;
    /// tests use it to fail mid-import.
    pub(crate) fn import_inner(
        &mut self,
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress<'_>),
        after_write: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<ImportReport> {
        let batch = ImportBatch::read(path, progress)?;
        self.write_items(batch.items, batch.report, after_write)
    }
}

/// The songs of one source, read and not yet written: reading (a big spreadsheet, a
/// folder of audio tags) needs no library, so a server can do it without holding one.
pub struct ImportBatch {
    items: Vec<Item>,
    report: ImportReport,
}

impl ImportBatch {
    /// Reads a spreadsheet, CSV file, audio file or folder of audio files (searched
    /// recursively), calling `progress` as each audio file is read.
    pub fn read(path: &Path, progress: &mut dyn FnMut(ImportProgress<'_>)) -> Result<ImportBatch> {
        Self::read_with(path, progress, AudioLinks::Follow)
    }

    /// Reads a spreadsheet or CSV file sent from elsewhere (the web page, perhaps from
    /// another machine), ignoring its audio column: its paths would name files on this
    /// machine, which the server would then play to the sender, and "not found" warnings
    /// would tell the sender which files exist.
    pub fn read_without_audio_links(path: &Path) -> Result<ImportBatch> {
        Self::read_with(path, &mut |_| {}, AudioLinks::Ignore)
    }

    fn read_with(
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress<'_>),
        audio: AudioLinks,
    ) -> Result<ImportBatch> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if audio == AudioLinks::Ignore && (meta.is_dir() || !is_importable_file(path)) {
            return Err(Error::Import {
                path: path.to_path_buf(),
                message: "only a spreadsheet or CSV file can be imported this way".into(),
            });
        }
        let mut report = ImportReport::default();
        let items = if meta.is_dir() {
            read_folder(path, progress, &mut report)?
        } else {
            let ext = ext_of(path);
            if SHEET_EXTENSIONS.contains(&ext.as_str()) {
                read_spreadsheet(path, audio)?
            } else if CSV_EXTENSIONS.contains(&ext.as_str()) {
                read_csv(path, audio)?
            } else if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
                progress(ImportProgress {
                    done: 0,
                    total: 1,
                    current: path,
                });
                let item = read_audio(path);
                progress(ImportProgress {
                    done: 1,
                    total: 1,
                    current: path,
                });
                vec![item]
            } else {
                return Err(Error::Import {
                    path: path.to_path_buf(),
                    message: format!(
                        "unsupported file type {ext:?}: expected a folder, a spreadsheet ({}), CSV/TSV or audio ({})",
                        SHEET_EXTENSIONS.join(", "),
                        AUDIO_EXTENSIONS.join(", ")
                    ),
                });
            }
        };
        Ok(ImportBatch { items, report })
    }
}

impl Library {
    fn write_items(
        &mut self,
        items: Vec<Item>,
        mut report: ImportReport,
        after_write: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<ImportReport> {
        let path = self.path().to_path_buf();
        // The same song twice in one import is almost always a copy-paste slip: keep the first.
        let mut seen: HashMap<(String, String), (String, String)> = HashMap::new();
        self.write(|tx| {
            let mut written = 0;
            for item in items {
                for w in item.warnings {
                    report.warnings.push(ImportIssue {
                        location: item.location.clone(),
                        reason: w,
                    });
                }
                let song = match item.record {
                    Ok(song) => song,
                    Err(reason) => {
                        report.skipped.push(ImportIssue {
                            location: item.location,
                            reason,
                        });
                        continue;
                    }
                };
                let key = (song.source.clone(), song.source_key.clone());
                if let Some((first, first_title)) = seen.get(&key) {
                    // Rows keyed by the file's own id column may be different songs that
                    // share an id by mistake: say so rather than call them the same song.
                    let reason = match song.source_key.strip_prefix("id:") {
                        Some(id) if normalize(first_title) != normalize(&song.title) => {
                            format!(
                                "its id {id:?} is also the id of {first} ({first_title:?}): ids must be unique in a file"
                            )
                        }
                        _ => format!("same song as {first}"),
                    };
                    report.skipped.push(ImportIssue {
                        location: item.location,
                        reason,
                    });
                    continue;
                }
                seen.insert(key, (item.location.clone(), song.title.clone()));
                let (id, what) = match upsert_song(tx, &song) {
                    Ok(r) => r,
                    // A record the store rejects is that row's problem, not the import's.
                    Err(Error::Invalid(reason)) => {
                        report.skipped.push(ImportIssue {
                            location: item.location,
                            reason,
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                match what {
                    Upsert::Added => report.added += 1,
                    Upsert::Updated => report.updated += 1,
                    Upsert::Unchanged => report.unchanged += 1,
                }
                report.song_ids.push(id);
                after_write(written)?;
                written += 1;
            }
            // Keep the tag table to what songs use (a merge may not add any).
            tx.execute(
                "DELETE FROM tags WHERE id NOT IN (SELECT DISTINCT tag_id FROM song_tags)",
                [],
            )
            .map_err(raw)?;
            Ok(())
        })
        .map_err(|e| with_path(e, &path))?;
        Ok(report)
    }
}

// ----- tables (spreadsheets and CSV) ---------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    LibraryId,
    Id,
    Title,
    Artist,
    Album,
    Lyrics,
    Tags,
    Emotion,
    Audio,
    Duration,
    Language,
}

/// Maps a header cell to the field it names, in English or Chinese, and whether it names
/// it only weakly: `track` is a title in some lists and a track number in others, `key`
/// a stable id or (in DJ sheets) a musical key, `label` an emotion or a record label.
/// Case, spaces, `_`/`-` and a trailing unit in brackets ("时长(秒)", "Duration (s)")
/// are ignored.
fn field_for_header(header: &str) -> Option<(Field, bool)> {
    let mut h = header.trim().to_lowercase();
    for open in ['(', '（', '['] {
        if let Some(i) = h.find(open) {
            if i > 0 {
                h.truncate(i);
            }
        }
    }
    let h: String = h
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.' | ':' | '：'))
        .collect();
    match h.as_str() {
        "track" => return Some((Field::Title, true)),
        "key" => return Some((Field::Id, true)),
        "label" => return Some((Field::Emotion, true)),
        _ => {}
    }
    let f = match h.as_str() {
        "moodtuneid" => Field::LibraryId,
        "id" | "songid" | "编号" => Field::Id,
        "title" | "name" | "song" | "songname" | "songtitle" | "tracktitle" | "歌名" | "歌曲"
        | "歌曲名" | "歌曲名称" | "曲名" | "标题" | "名称" => Field::Title,
        "artist" | "artists" | "singer" | "singers" | "performer" | "band" | "歌手" | "艺人"
        | "艺术家" | "演唱" | "演唱者" | "歌手名" => Field::Artist,
        "album" | "专辑" | "专辑名" => Field::Album,
        "lyrics" | "lyric" | "text" | "歌词" => Field::Lyrics,
        "tags" | "tag" | "genre" | "genres" | "style" | "标签" | "风格" | "类型" | "流派" => {
            Field::Tags
        }
        "emotion" | "mood" | "情感" | "情绪" | "心情" | "情感标签" => Field::Emotion,
        "audio" | "file" | "path" | "filename" | "audiofile" | "audiopath" | "filepath"
        | "location" | "文件" | "路径" | "音频" | "文件路径" | "音频文件" | "文件名" => {
            Field::Audio
        }
        "duration" | "length" | "time" | "seconds" | "时长" | "长度" | "时间" => {
            Field::Duration
        }
        "language" | "lang" | "语言" | "语种" => Field::Language,
        _ => return None,
    };
    Some((f, false))
}

/// A musical key as DJ software writes it: `Am`, `F#`, `Bb minor`, `C maj`, or Camelot
/// `8A` / `12B`. A short list may hold no key twice, but such a column is still no id.
fn is_musical_key(value: &str) -> bool {
    let v = value.trim();
    if let Some(num) = v.strip_suffix(['A', 'B', 'a', 'b']) {
        if num.parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) {
            return true;
        }
    }
    let mut chars = v.chars();
    if !chars
        .next()
        .is_some_and(|c| matches!(c.to_ascii_uppercase(), 'A'..='G'))
    {
        return false;
    }
    let rest = chars.as_str();
    let rest = rest
        .strip_prefix(['#', 'b', '♯', '♭'])
        .unwrap_or(rest)
        .trim();
    matches!(
        rest.to_ascii_lowercase().as_str(),
        "" | "m" | "min" | "minor" | "maj" | "major"
    )
}

/// Column positions of each field in one table.
struct Columns {
    fields: Vec<(usize, Field)>,
    /// Fields read from a weak header (see [`field_for_header`]).
    weak: Vec<Field>,
}

impl Columns {
    /// Reads a header row; `None` if it names no title column.
    fn from_header(cells: &[String]) -> Option<Columns> {
        let mut fields: Vec<(usize, Field)> = Vec::new();
        let mut weak: Vec<(usize, Field)> = Vec::new();
        for (i, c) in cells.iter().enumerate() {
            if let Some((f, is_weak)) = field_for_header(c) {
                // Several tag columns all count; for other fields the first one wins,
                // and a weak header only when no other column names its field.
                if is_weak {
                    weak.push((i, f));
                } else if f == Field::Tags || !fields.iter().any(|(_, g)| *g == f) {
                    fields.push((i, f));
                }
            }
        }
        let mut weak_fields = Vec::new();
        for (i, f) in weak {
            if !fields.iter().any(|(_, g)| *g == f) {
                fields.push((i, f));
                weak_fields.push(f);
            }
        }
        fields
            .iter()
            .any(|(_, f)| *f == Field::Title)
            .then_some(Columns {
                fields,
                weak: weak_fields,
            })
    }

    /// Stops reading a weak column whose values do not fit its field, and says why: a
    /// `label` of record labels is not an emotion (every row would fail), a `key` of
    /// musical keys repeats and would merge different songs as one.
    fn drop_misfits(&mut self, header: &[String], body: &[(usize, Vec<String>)]) -> Vec<String> {
        let mut notes = Vec::new();
        for field in self.weak.clone() {
            let Some(&(col, _)) = self.fields.iter().find(|(_, f)| *f == field) else {
                continue;
            };
            let values: Vec<&str> = body
                .iter()
                .filter_map(|(_, cells)| cells.get(col))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .collect();
            let misfit = match field {
                Field::Emotion => values
                    .iter()
                    .find(|v| v.parse::<Emotion>().is_err())
                    .map(|v| format!("{v:?} is not an emotion")),
                Field::Id => {
                    let mut seen = std::collections::HashSet::new();
                    let repeat = values.iter().find(|v| !seen.insert(**v));
                    match repeat {
                        Some(v) => Some(format!("{v:?} appears twice, so it is no id")),
                        None => values
                            .iter()
                            .find(|v| is_musical_key(v))
                            .map(|v| format!("{v:?} is a musical key, not an id")),
                    }
                }
                _ => None,
            };
            if let Some(why) = misfit {
                self.fields.retain(|(_, f)| *f != field);
                let name = header.get(col).map_or("", |h| h.trim());
                notes.push(format!("column {name:?} is not read: {why}"));
            }
        }
        notes
    }

    fn has(&self, f: Field) -> bool {
        self.fields.iter().any(|(_, g)| *g == f)
    }
}

const HEADER_HINT: &str = "no header row with a title column (expected a header such as title, name, song, 歌名 or 歌曲 in the first 10 rows)";

/// Turns one table row into a song. `audio_base` is the table's folder (relative audio
/// paths are resolved against it; `None`: audio is not linked), `source` its canonical
/// path.
fn row_to_item(
    cols: &Columns,
    cells: &[String],
    location: String,
    audio_base: Option<&Path>,
    source: &str,
) -> Option<Item> {
    if cells.iter().all(|c| c.trim().is_empty()) {
        return None;
    }
    let get = |f: Field| -> &str {
        cols.fields
            .iter()
            .find(|(_, g)| *g == f)
            .and_then(|(i, _)| cells.get(*i))
            .map(|s| s.trim())
            .unwrap_or("")
    };
    let mut warnings = Vec::new();
    let record = (|| {
        let title = get(Field::Title);
        if title.is_empty() {
            return Err("empty title".to_string());
        }
        let mut song = NewSong::new(title, get(Field::Artist));
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        song.album = opt(get(Field::Album));
        song.lyrics = opt(get(Field::Lyrics)).map(|l| strip_lrc(&l.replace("\r\n", "\n")));
        song.language = opt(get(Field::Language));
        for (i, f) in &cols.fields {
            if *f == Field::Tags {
                for t in split_tags(cells.get(*i).map(String::as_str).unwrap_or("")) {
                    if !song.tags.iter().any(|o| o.eq_ignore_ascii_case(&t)) {
                        song.tags.push(t);
                    }
                }
            }
        }
        let emotion = get(Field::Emotion);
        if !emotion.is_empty() {
            song.manual_emotion = Some(emotion.parse::<Emotion>().map_err(|e| e.to_string())?);
        }
        let duration = get(Field::Duration);
        if !duration.is_empty() {
            song.duration_s = Some(
                parse_duration(duration)
                    .ok_or_else(|| format!("duration {duration:?} is not seconds or m:ss"))?,
            );
        }
        let audio = get(Field::Audio);
        if let (false, Some(base)) = (audio.is_empty(), audio_base) {
            let p = base.join(audio);
            match p.canonicalize() {
                // Only audio: the server plays this file to the browser by song id.
                Ok(c) if c.is_file() && is_audio_file(&c) => song.audio_path = Some(c),
                Ok(c) if c.is_file() => warnings.push(format!(
                    "{} is not an audio file ({}); imported without audio",
                    p.display(),
                    AUDIO_EXTENSIONS.join(", ")
                )),
                _ => warnings.push(format!(
                    "audio file {} not found; imported without audio",
                    p.display()
                )),
            }
        }
        if song.language.is_none() {
            song.language = song
                .lyrics
                .as_deref()
                .and_then(guess_language)
                .map(String::from);
        }
        song.source = source.to_string();
        song.merge_into = get(Field::LibraryId).parse().ok();
        let id = get(Field::Id);
        song.source_key = if cols.has(Field::Id) && !id.is_empty() {
            format!("id:{id}")
        } else {
            match_key(&song.title, &song.artist)
        };
        Ok(song)
    })();
    Some(Item {
        location,
        record,
        warnings,
    })
}

/// Seconds from "225", "225.5", "3:45", "1:02:03".
fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches(['s', 'S']).trim();
    let mut total = 0.0;
    let parts: Vec<&str> = s.split([':', '：']).collect();
    if parts.len() > 3 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        let v: f64 = p.trim().parse().ok()?;
        if !v.is_finite() || v < 0.0 || (i > 0 && v >= 60.0) {
            return None;
        }
        total = total * 60.0 + v;
    }
    Some(total)
}

/// A rough language guess from the script of the lyrics: kana means Japanese, hangul
/// Korean, Han characters Chinese, mostly Latin letters English.
pub(crate) fn guess_language(text: &str) -> Option<&'static str> {
    let (mut han, mut kana, mut hangul, mut latin) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        match c as u32 {
            0x3040..=0x30FF => kana += 1,
            0xAC00..=0xD7AF => hangul += 1,
            0x4E00..=0x9FFF | 0x3400..=0x4DBF => han += 1,
            _ if c.is_ascii_alphabetic() => latin += 1,
            _ => {}
        }
    }
    if kana > 0 && kana * 10 >= han {
        Some("ja")
    } else if hangul > han && hangul > 0 {
        Some("ko")
    } else if han > 0 && han * 4 >= latin / 3 {
        // A Han character carries about as much as a short English word.
        Some("zh")
    } else if latin > 0 {
        Some("en")
    } else {
        None
    }
}

/// The `source` that songs imported from `path` get: its canonical path.
pub fn source_of(path: &Path) -> String {
    path.canonicalize()
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Whether a table's audio column links songs to files on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AudioLinks {
    Follow,
    Ignore,
}

fn base_dir(path: &Path) -> PathBuf {
    path.canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Finds the header among the first rows, then turns the rows below it into items.
/// `rows` yields (1-based row number, cells); `audio_base` resolves relative audio
/// paths, and without it the audio column is ignored.
fn table_items(
    rows: impl Iterator<Item = (usize, Vec<String>)>,
    loc_prefix: &str,
    audio_base: Option<&Path>,
    source: &str,
) -> Option<Vec<Item>> {
    let mut rows = rows.into_iter();
    let mut found = None;
    for (n, cells) in rows.by_ref() {
        if n > 10 {
            return None;
        }
        if let Some(cols) = Columns::from_header(&cells) {
            found = Some((cols, cells));
            break;
        }
    }
    let (mut cols, header) = found?;
    let body: Vec<(usize, Vec<String>)> = rows.collect();
    // Notes about the whole table ride on its first song.
    let mut notes = cols.drop_misfits(&header, &body);
    let mut audio_ignored = false;
    let mut items = Vec::new();
    for (n, cells) in &body {
        let Some(mut item) = row_to_item(
            &cols,
            cells,
            format!("{loc_prefix}:{n}"),
            audio_base,
            source,
        ) else {
            continue;
        };
        // Said once per table, at the first row that names a file.
        let names_audio = || {
            cols.fields
                .iter()
                .find(|(_, f)| *f == Field::Audio)
                .and_then(|(i, _)| cells.get(*i))
                .is_some_and(|v| !v.trim().is_empty())
        };
        if audio_base.is_none() && !audio_ignored && names_audio() {
            audio_ignored = true;
            notes.push(
                "the audio column is not read for a file sent from the page (unless the server runs with --link-uploaded-audio); import it with `moodtune library import` to link the audio files".into(),
            );
        }
        item.warnings.append(&mut notes);
        items.push(item);
    }
    Some(items)
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        // Whole numbers print without ".0" so ids and years read as typed.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::DateTime(d) => {
            // Excel stores a duration like 0:03:45 as a fraction of a day.
            let v = d.as_f64();
            if (0.0..1.0).contains(&v) {
                format!("{}", (v * 86400.0).round() as i64)
            } else {
                cell.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// Columns a song sheet may use: a library has a dozen; more is a malformed or hostile file.
const MAX_SHEET_COLUMNS: u32 = 256;

/// A sheet's non-empty rows as (1-based row number, cells from column A). Xlsx and xlsb
/// sheets are read cell by cell: calamine's `worksheet_range` allocates the whole
/// bounding box, so a file with one cell at A1 and one at XFD1048576 would ask for 17
/// billion cells. Xls bounds its sheets itself (65,536 x 256).
fn sheet_rows(
    book: &mut calamine::Sheets<std::io::BufReader<std::fs::File>>,
    name: &str,
) -> std::result::Result<Vec<(usize, Vec<String>)>, String> {
    let mut rows: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    let mut place = |(row, col): (u32, u32), text: String| {
        if text.is_empty() {
            return Ok(());
        }
        if col >= MAX_SHEET_COLUMNS {
            return Err(format!(
                "a cell in column {} (row {}): a song sheet uses at most {MAX_SHEET_COLUMNS} columns",
                col + 1,
                row + 1
            ));
        }
        let cells = rows.entry(row).or_default();
        if cells.len() <= col as usize {
            cells.resize(col as usize + 1, String::new());
        }
        cells[col as usize] = text;
        Ok(())
    };
    // The two cell readers share their methods but no trait.
    macro_rules! each_cell {
        ($workbook:expr) => {{
            let mut reader = $workbook
                .worksheet_cells_reader(name)
                .map_err(|e| e.to_string())?;
            while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
                place(
                    cell.get_position(),
                    cell_text(&Data::from(cell.get_value().clone())),
                )?;
            }
        }};
    }
    match book {
        calamine::Sheets::Xlsx(x) => each_cell!(x),
        calamine::Sheets::Xlsb(x) => each_cell!(x),
        other => {
            let range = other.worksheet_range(name).map_err(|e| e.to_string())?;
            let (row0, col0) = range.start().unwrap_or((0, 0));
            for (i, r) in range.rows().enumerate() {
                for (j, cell) in r.iter().enumerate() {
                    place((row0 + i as u32, col0 + j as u32), cell_text(cell))?;
                }
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|(row, cells)| (row as usize + 1, cells))
        .collect())
}

/// Most cells an ODS file may expand to (a song list of 100,000 rows by 20 columns is 2 M).
const MAX_ODS_CELLS: u64 = 10_000_000;

/// Most text an ODS file may expand to: 100,000 songs with 2 KB of lyrics each is 200 MB.
const MAX_ODS_TEXT_BYTES: u64 = 256 << 20;

/// A parsed attribute as a count (`number-columns-repeated`, `text:c`), 1 when absent or bad.
fn count_attribute(e: &quick_xml::events::BytesStart<'_>, key: &[u8]) -> u64 {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .and_then(|a| std::str::from_utf8(&a.value).ok()?.trim().parse().ok())
        .unwrap_or(1)
}

/// What calamine will allocate for an ODS file, counted from its XML as it streams by.
///
/// calamine expands repeats while it opens the workbook, so a few bytes can ask for
/// billions of cells: a cell's `table:number-columns-repeated` (when the cell holds a
/// value, a formula, or another cell follows it in its row), a row's
/// `table:number-rows-repeated` (when the row holds a value, or a row with one follows
/// it), every repeat's own copy of the cell's text, and `<text:s text:c="N"/>` as N
/// spaces. The empty runs that real ODS rows and sheets end with cost nothing.
#[derive(Default)]
struct OdsBudget {
    /// Cells already committed: read, or expanded from a finished table.
    cells: u64,
    text_bytes: u64,
    // The current table.
    table_width: u64,
    table_rows: u64,
    pending_empty_rows: u64,
    // The current row.
    row_repeats: u64,
    row_cells: u64,
    row_trailing_empty: u64,
    row_text_bytes: u64,
    row_has_value: bool,
    // The current cell.
    cell_repeats: u64,
    cell_has_value: bool,
    cell_text_bytes: u64,
}

impl OdsBudget {
    fn start_table(&mut self) {
        self.cells = self.expanded_cells();
        (self.table_width, self.table_rows, self.pending_empty_rows) = (0, 0, 0);
    }

    fn start_row(&mut self, repeats: u64) {
        self.row_repeats = repeats;
        (self.row_cells, self.row_trailing_empty, self.row_text_bytes) = (0, 0, 0);
        self.row_has_value = false;
    }

    fn start_cell(&mut self, e: &quick_xml::events::BytesStart<'_>) {
        self.cell_repeats = count_attribute(e, b"table:number-columns-repeated");
        self.cell_has_value = e.attributes().flatten().any(|a| {
            let key = a.key.as_ref();
            key.starts_with(b"office:") || key == b"table:formula"
        });
        self.cell_text_bytes = e
            .attributes()
            .flatten()
            .filter(|a| a.key.as_ref().starts_with(b"office:"))
            .map(|a| a.value.len() as u64)
            .sum();
    }

    fn add_text(&mut self, bytes: u64) {
        self.cell_text_bytes = self.cell_text_bytes.saturating_add(bytes);
        self.cell_has_value = true;
    }

    fn end_cell(&mut self) {
        // The empty run before this cell is stored now that a cell follows it.
        self.row_cells = self.row_cells.saturating_add(self.row_trailing_empty);
        if self.cell_has_value {
            self.row_cells = self.row_cells.saturating_add(self.cell_repeats);
            self.row_trailing_empty = 0;
            self.row_has_value = true;
            let text = self.cell_text_bytes.saturating_mul(self.cell_repeats);
            self.row_text_bytes = self.row_text_bytes.saturating_add(text);
        } else {
            self.row_trailing_empty = self.cell_repeats;
        }
    }

    fn end_row(&mut self) {
        // calamine stores each row once as read, then copies it per repeat.
        self.cells = self.cells.saturating_add(self.row_cells);
        self.table_width = self.table_width.max(self.row_cells);
        if self.row_has_value {
            let rows = self.pending_empty_rows.saturating_add(self.row_repeats);
            self.table_rows = self.table_rows.saturating_add(rows);
            self.pending_empty_rows = 0;
            let copies = self.row_repeats.saturating_add(1);
            let text = self.row_text_bytes.saturating_mul(copies);
            self.text_bytes = self.text_bytes.saturating_add(text);
        } else {
            self.pending_empty_rows = self.pending_empty_rows.saturating_add(self.row_repeats);
        }
    }

    /// The cells read plus the current table's rectangle, once for values and once for
    /// formulas (calamine builds both).
    fn expanded_cells(&self) -> u64 {
        let rectangle = self.table_rows.saturating_mul(self.table_width);
        self.cells.saturating_add(rectangle.saturating_mul(2))
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.expanded_cells() > MAX_ODS_CELLS {
            return Err(format!(
                "the sheets ask for more than {MAX_ODS_CELLS} cells (repeated cells or rows); \
                 not a song list moodtune reads"
            ));
        }
        if self.text_bytes > MAX_ODS_TEXT_BYTES {
            return Err(format!(
                "the sheets ask for more than {} MiB of text (repeated cells, rows or spaces); \
                 not a song list moodtune reads",
                MAX_ODS_TEXT_BYTES >> 20
            ));
        }
        Ok(())
    }
}

/// Most bytes the entries of a zipped spreadsheet (xlsx, xlsm, xlsb, ods) may inflate to.
/// calamine holds an xlsx file's shared strings in memory whole, and deflate packs
/// about 1000:1, so a 20 MiB upload could otherwise ask for tens of GB.
const MAX_UNZIPPED_BYTES: u64 = 1 << 30;

/// Inflates every entry of the zip at `path`, stopping as soon as the total passes
/// `budget`: declared sizes in a zip can lie, the inflated bytes cannot. With `ods`, the
/// same pass streams content.xml through [`check_ods_content`], so an ODS file is
/// inflated once before calamine reads it.
fn check_zipped_spreadsheet(
    path: &Path,
    budget: u64,
    ods: bool,
) -> std::result::Result<(), String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a valid spreadsheet (zip) file: {e}"))?;
    if ods && zip.index_for_name("content.xml").is_none() {
        return Err("not a valid ODS file (it has no content.xml)".into());
    }
    let mut left = budget;
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| format!("not a valid spreadsheet (zip) file: {e}"))?;
        let name = entry.name().to_string();
        let mut limited = entry.take(left + 1);
        let scanned = if ods && name == "content.xml" {
            check_ods_content(std::io::BufReader::new(&mut limited))
        } else {
            Ok(())
        };
        // The budget not yet reached, a refused content.xml needs no more inflating.
        if scanned.is_err() && limited.limit() > 0 {
            return scanned;
        }
        let drained = std::io::copy(&mut limited, &mut std::io::sink());
        let read = left + 1 - limited.limit();
        // An entry cut off at the budget also breaks its XML: the size is the error.
        if read > left {
            return Err(format!(
                "it unpacks to more than {} MiB (at {name}); not a song list moodtune reads",
                budget >> 20
            ));
        }
        scanned?;
        drained.map_err(|e| format!("{name}: {e}"))?;
        left -= read;
    }
    Ok(())
}

/// Refuses an ODS content.xml that calamine would expand past [`MAX_ODS_CELLS`] cells
/// or [`MAX_ODS_TEXT_BYTES`] of text, before calamine opens it.
fn check_ods_content(content: impl std::io::BufRead) -> std::result::Result<(), String> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(content);
    xml.config_mut().expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut budget = OdsBudget::default();
    let mut in_cell = false;
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.name().as_ref() {
                b"table:table" => budget.start_table(),
                b"table:table-row" => {
                    budget.start_row(count_attribute(&e, b"table:number-rows-repeated"))
                }
                b"table:table-cell" | b"table:covered-table-cell" => {
                    budget.start_cell(&e);
                    in_cell = true;
                }
                b"text:s" if in_cell => budget.add_text(count_attribute(&e, b"text:c")),
                // Any element inside a cell (a paragraph, even empty) may make it a value.
                _ if in_cell => budget.add_text(1),
                _ => {}
            },
            Ok(Event::Text(t)) if in_cell => budget.add_text(t.len() as u64),
            Ok(Event::GeneralRef(r)) if in_cell => budget.add_text(r.len() as u64),
            Ok(Event::End(e)) => match e.name().as_ref() {
                b"table:table-cell" | b"table:covered-table-cell" => {
                    budget.end_cell();
                    in_cell = false;
                }
                b"table:table-row" => {
                    budget.end_row();
                    budget.check()?;
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Err(e) => return Err(format!("content.xml: {e}")),
            Ok(_) => {}
        }
        buf.clear();
    }
    budget.start_table();
    budget.check()
}

/// Runs a third-party file parser, turning a panic on a malformed file into the error
/// `malformed` makes of the panic's message: calamine's xls reader, for one, indexes
/// records without bounds checks.
fn contain_parser_panic<T, E>(
    parse: impl FnOnce() -> std::result::Result<T, E>,
    malformed: impl FnOnce(String) -> E,
) -> std::result::Result<T, E> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(malformed(detail))
    })
}

fn read_spreadsheet(path: &Path, audio: AudioLinks) -> Result<Vec<Item>> {
    contain_parser_panic(
        || read_spreadsheet_unguarded(path, audio),
        |detail| Error::Import {
            path: path.to_path_buf(),
            message: format!("malformed spreadsheet (the reader failed: {detail})"),
        },
    )
}

fn read_spreadsheet_unguarded(path: &Path, audio: AudioLinks) -> Result<Vec<Item>> {
    let import_err = |message: String| Error::Import {
        path: path.to_path_buf(),
        message,
    };
    let ext = ext_of(path);
    if ext != "xls" {
        check_zipped_spreadsheet(path, MAX_UNZIPPED_BYTES, ext == "ods").map_err(import_err)?;
    }
    let mut book = calamine::open_workbook_auto(path)
        .map_err(|e| import_err(format!("cannot read spreadsheet: {e}")))?;
    let source = source_of(path);
    let base = (audio == AudioLinks::Follow).then(|| base_dir(path));
    let mut items = Vec::new();
    let mut any_header = false;
    let mut sheet_issues = Vec::new();
    for name in book.sheet_names() {
        let loc = format!("{}:{name}", path.display());
        let rows = match sheet_rows(&mut book, &name) {
            Ok(rows) => rows,
            Err(e) => {
                sheet_issues.push(Item {
                    location: loc,
                    record: Err(format!("cannot read sheet: {e}")),
                    warnings: vec![],
                });
                continue;
            }
        };
        if rows.is_empty() {
            continue;
        }
        match table_items(rows.into_iter(), &loc, base.as_deref(), &source) {
            Some(mut found) => {
                any_header = true;
                items.append(&mut found);
            }
            None => sheet_issues.push(Item {
                location: loc,
                record: Err(HEADER_HINT.to_string()),
                warnings: vec![],
            }),
        }
    }
    if !any_header {
        return Err(import_err(HEADER_HINT.to_string()));
    }
    items.extend(sheet_issues);
    Ok(items)
}

/// Text of a file in UTF-8 (with or without BOM) or UTF-16 with BOM; any other bytes are
/// decoded in the encoding they most look like (GBK from Excel on a Chinese Windows,
/// Windows-1252 from a Western one, Shift_JIS, ...), with a note saying so, so a user
/// whose accents came out wrong knows why.
pub(crate) fn decode_text(bytes: &[u8]) -> (String, Option<String>) {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return (text.into_owned(), None);
    }
    let first_bad = match std::str::from_utf8(bytes) {
        Ok(s) => return (s.to_string(), None),
        Err(e) => e.valid_up_to(),
    };
    let line = 1 + bytes[..first_bad].iter().filter(|&&b| b == b'\n').count();
    let byte = bytes[first_bad];
    // A UTF-8 file with a few stray bytes (one row pasted from elsewhere) stays UTF-8:
    // decoding all of it in another encoding would garble every other row.
    let (mut multibyte, mut stray) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| c.len_utf8() > 1).count();
        stray += chunk.invalid().len();
    }
    if multibyte >= 2 * stray {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let note = format!(
            "not valid UTF-8 from line {line} (byte 0x{byte:02X}): {stray} byte(s) that are not UTF-8 were replaced by \u{FFFD}; save the file as UTF-8 to keep them"
        );
        return (text, Some(note));
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let enc = detector.guess(None, chardetng::Utf8Detection::Deny);
    let (text, _) = enc.decode_without_bom_handling(bytes);
    let note = format!(
        "not UTF-8 (byte 0x{byte:02X} on line {line}): read as {}, the encoding its bytes look like; if names look wrong, save the file as UTF-8 and import it again",
        enc.name()
    );
    (text.into_owned(), Some(note))
}

/// The delimiter used most in the header line: `,`, `;` or tab.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first.bytes().filter(|b| b == d).count())
        .filter(|d| first.bytes().any(|b| b == *d))
        .unwrap_or(b',')
}

/// Undoes the export's formula guard: `'=x` back to `=x`, `''=x` back to `'=x`. A
/// leading `'` before any other text is kept, as it is part of the text.
fn unguard_formula(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if crate::export::needs_formula_guard(rest) => rest.to_string(),
        _ => cell.to_string(),
    }
}

/// Largest CSV read: a million songs with lyrics fit in far less, and the whole text is
/// held in memory.
const MAX_CSV_BYTES: u64 = 256 << 20;

/// A regular file's bytes, up to `limit`: a FIFO or a device (a link to /dev/zero) would
/// block or fill the memory.
fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let refuse = |message: String| Error::Import {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    let too_big = || refuse(format!("larger than {} MiB", limit >> 20));
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// Why `bytes` cannot be a CSV song list, when that is plain from the bytes alone.
fn not_csv_text(bytes: &[u8]) -> Option<&'static str> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Some("the file is empty")
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some("a zipped spreadsheet (xlsx, xlsm, xlsb or ods), not CSV text: give it its real extension")
    } else if encoding_rs::Encoding::for_bom(bytes).is_none() && bytes.contains(&0) {
        Some("binary data, not CSV text (or UTF-16 without a byte-order mark: save it as UTF-8)")
    } else {
        None
    }
}

fn read_csv(path: &Path, audio: AudioLinks) -> Result<Vec<Item>> {
    let bytes = read_regular_file(path, MAX_CSV_BYTES)?;
    if let Some(why) = not_csv_text(&bytes) {
        return Err(Error::Import {
            path: path.to_path_buf(),
            message: why.to_string(),
        });
    }
    let (text, encoding_note) = decode_text(&bytes);
    let delimiter = if ext_of(path) == "tsv" {
        b'\t'
    } else {
        sniff_delimiter(&text)
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let loc = path.display().to_string();
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for rec in reader.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| p.line() as usize).unwrap_or(0);
                rows.push((line, r.iter().map(unguard_formula).collect::<Vec<_>>()));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                bad.push(Item {
                    location: format!("{loc}:{line}"),
                    record: Err(format!("malformed CSV: {e}")),
                    warnings: vec![],
                });
            }
        }
    }
    let base = (audio == AudioLinks::Follow).then(|| base_dir(path));
    let mut items = table_items(rows.into_iter(), &loc, base.as_deref(), &source_of(path))
        .ok_or_else(|| Error::Import {
            path: path.to_path_buf(),
            message: match &encoding_note {
                Some(note) => format!("{HEADER_HINT} (the file is {note})"),
                None => HEADER_HINT.to_string(),
            },
        })?;
    // A note about the whole file rides on its first song, like the table's notes.
    if let (Some(note), Some(first)) = (encoding_note, items.first_mut()) {
        first.warnings.insert(0, note);
    }
    items.extend(bad);
    Ok(items)
}

// ----- audio files ---------------------------------------------------------------

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

fn read_folder(
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
fn read_audio(path: &Path) -> Item {
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
            // A mood tag that names one of the seven emotions is taken as the label.
            song.manual_emotion = t
                .get_string(&ItemKey::Mood)
                .and_then(|m| m.parse::<Emotion>().ok());
        }
        if song.lyrics.is_none() {
            song.lyrics = sidecar_lyrics(&canonical);
        }
        if song.language.is_none() {
            song.language = song
                .lyrics
                .as_deref()
                .and_then(guess_language)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write_deflated_zip(path: &Path, entries: &[(&str, &[u8])]) {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, deflated).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn a_zip_that_inflates_past_the_budget_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.xlsx");
        write_deflated_zip(&path, &[("xl/sharedStrings.xml", &vec![b'a'; 3 << 20])]);
        assert!(std::fs::metadata(&path).unwrap().len() < 64 << 10);
        let err = check_zipped_spreadsheet(&path, 2 << 20, false).unwrap_err();
        assert!(
            err.contains("more than 2 MiB (at xl/sharedStrings.xml)"),
            "{err}"
        );
        check_zipped_spreadsheet(&path, 4 << 20, false).unwrap();
    }

    /// content.xml is scanned in the same pass that counts the inflated bytes: a
    /// content.xml cut off at the budget reports the size, not the broken XML it leaves.
    #[test]
    fn an_ods_content_xml_past_the_budget_reports_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.ods");
        let cell =
            "<table:table-cell office:value-type=\"string\"><text:p>x</text:p></table:table-cell>";
        let row = format!("<table:table-row>{}</table:table-row>", cell.repeat(100));
        let body = row.repeat((3 << 20) / row.len());
        let xml = format!(
            "<office:document-content><table:table>{body}</table:table></office:document-content>"
        );
        write_deflated_zip(&path, &[("content.xml", xml.as_bytes())]);
        let err = check_zipped_spreadsheet(&path, 2 << 20, true).unwrap_err();
        assert!(err.contains("more than 2 MiB (at content.xml)"), "{err}");
        check_zipped_spreadsheet(&path, 4 << 20, true).unwrap();

        let empty = dir.path().join("empty.ods");
        write_deflated_zip(
            &empty,
            &[(
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            )],
        );
        let err = check_zipped_spreadsheet(&empty, 2 << 20, true).unwrap_err();
        assert!(err.contains("no content.xml"), "{err}");
    }

    #[test]
    fn a_parser_panic_becomes_an_error_with_its_message() {
        let out: std::result::Result<usize, String> = contain_parser_panic(
            || {
                let record: &[u8] = &[1, 2];
                let name_at = usize::from(record[1]) + 12;
                // What calamine's xls reader does with a short record.
                Ok(record[name_at..].len())
            },
            |detail| format!("malformed: {detail}"),
        );
        let err = out.unwrap_err();
        assert!(err.starts_with("malformed: range start index 14"), "{err}");
        let fine: std::result::Result<u8, String> = contain_parser_panic(|| Ok(7), |d| d);
        assert_eq!(fine, Ok(7));
    }

    #[test]
    fn a_failure_mid_import_leaves_the_library_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lib.sqlite");
        let csv = dir.path().join("songs.csv");
        std::fs::write(&csv, "title,artist,tags\nA,x,Calm\nB,y,Slow\n").unwrap();
        let mut lib = Library::open(&db).unwrap();
        lib.import_path(&csv).unwrap();
        let before = lib.songs().unwrap();

        std::fs::write(
            &csv,
            "title,artist,tags\nA,x,Calm;Bright\nB,y,Slow\nC,z,Fast\nD,w,Dark\n",
        )
        .unwrap();
        let err = lib
            .import_inner(&csv, &mut |_| {}, &mut |i| {
                if i == 2 {
                    Err(Error::Invalid("injected failure".into()))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(err.to_string().contains("injected"));
        assert_eq!(lib.songs().unwrap(), before);
        assert_eq!(lib.tag_counts().unwrap().len(), 2);
        drop(lib);

        let mut lib = Library::open(&db).unwrap();
        assert_eq!(lib.songs().unwrap(), before);
        let report = lib.import_path(&csv).unwrap();
        assert_eq!((report.added, report.updated, report.unchanged), (2, 1, 1));
    }

    const CRASH_MARKER: &str = "crashing in the middle of the import";

    /// Run by `a_crash_mid_import_leaves_the_library_as_it_was` in a child process,
    /// which it kills (abort) in the middle of writing the import.
    #[test]
    #[ignore = "child process of the crash test"]
    fn crash_child() {
        let (Some(db), Some(csv)) = (
            std::env::var_os("MOODTUNE_CRASH_DB"),
            std::env::var_os("MOODTUNE_CRASH_CSV"),
        ) else {
            return;
        };
        let mut lib = Library::open(&db).unwrap();
        let _ = lib.import_inner(Path::new(&csv), &mut |_| {}, &mut |i| {
            if i == 2 {
                // The parent checks this line: the crash came mid-write, not earlier.
                println!("{CRASH_MARKER}");
                std::process::abort();
            }
            Ok(())
        });
    }

    #[test]
    fn a_crash_mid_import_leaves_the_library_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lib.sqlite");
        let csv = dir.path().join("songs.csv");
        std::fs::write(&csv, "title,artist,tags\nA,x,Calm\n").unwrap();
        let mut lib = Library::open(&db).unwrap();
        lib.import_path(&csv).unwrap();
        let before = lib.songs().unwrap();
        drop(lib);
        std::fs::write(
            &csv,
            "title,artist,tags\nA,x,Calm;Bright\nB,y,Slow\nC,z,Fast\nD,w,Dark\n",
        )
        .unwrap();

        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "import::tests::crash_child",
                "--ignored",
                "--nocapture",
            ])
            .env("MOODTUNE_CRASH_DB", &db)
            .env("MOODTUNE_CRASH_CSV", &csv)
            .stderr(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(
            stdout.contains(CRASH_MARKER),
            "the child must crash inside the import's writes: {stdout}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(child.status.signal(), Some(6), "killed by SIGABRT");
        }

        let lib = Library::open(&db).unwrap();
        assert_eq!(lib.songs().unwrap(), before);
    }

    #[test]
    fn splits_tags_on_every_separator() {
        assert_eq!(
            split_tags(" Cheerful, Wild;Keyboard / 纯音乐、网络，钢琴；Piano|cheerful ,, "),
            vec![
                "Cheerful",
                "Wild",
                "Keyboard",
                "纯音乐",
                "网络",
                "钢琴",
                "Piano"
            ]
        );
        assert!(split_tags(" ; , ").is_empty());
    }

    #[test]
    fn maps_english_and_chinese_headers() {
        use Field::*;
        for (h, f) in [
            ("Title", Title),
            ("  歌名 ", Title),
            ("歌曲", Title),
            ("Song Name", Title),
            ("SINGER", Artist),
            ("歌手", Artist),
            ("专辑", Album),
            ("Lyrics", Lyrics),
            ("歌词", Lyrics),
            ("标签", Tags),
            ("tags", Tags),
            ("情感", Emotion),
            ("Mood", Emotion),
            ("audio_file", Audio),
            ("文件", Audio),
            ("Path", Audio),
            ("时长(秒)", Duration),
            ("Duration (s)", Duration),
            ("语言", Language),
            ("ID", Id),
        ] {
            assert_eq!(field_for_header(h), Some((f, false)), "{h}");
        }
        assert_eq!(field_for_header("Track"), Some((Title, true)));
        assert_eq!(field_for_header("Key"), Some((Id, true)));
        assert_eq!(field_for_header("Label"), Some((Emotion, true)));
        for other in ["comment", ""] {
            assert_eq!(field_for_header(other), None, "{other}");
        }
    }

    #[test]
    fn musical_keys_are_told_from_ids() {
        for key in ["Am", "F#", "Bb minor", "c maj", "E", "8A", "12b", "G♯m"] {
            assert!(is_musical_key(key), "{key}");
        }
        for id in ["a1", "17", "13A", "song-3", "Amber", "H", ""] {
            assert!(!is_musical_key(id), "{id}");
        }
    }

    #[test]
    fn a_track_column_is_the_title_only_when_nothing_else_is() {
        let header = |cells: &[&str]| {
            let cells: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
            Columns::from_header(&cells).map(|c| c.fields)
        };
        use Field::*;
        assert_eq!(
            header(&["Track", "Title", "Artist", "Key", "Label", "Mood"]),
            Some(vec![(1, Title), (2, Artist), (5, Emotion), (3, Id)])
        );
        assert_eq!(
            header(&["Artist", "Track"]),
            Some(vec![(0, Artist), (1, Title)])
        );
        assert_eq!(header(&["Key", "Label"]), None);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("225"), Some(225.0));
        assert_eq!(parse_duration("3:45"), Some(225.0));
        assert_eq!(parse_duration("1:02:03"), Some(3723.0));
        assert_eq!(parse_duration("12.5s"), Some(12.5));
        assert_eq!(parse_duration("3:75"), None);
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration("-3"), None);
    }

    #[test]
    fn guesses_language_from_script() {
        assert_eq!(guess_language("我们一起看日出"), Some("zh"));
        assert_eq!(guess_language("walking in the rain again"), Some("en"));
        assert_eq!(guess_language("さくら さくら"), Some("ja"));
        assert_eq!(guess_language("사랑해요"), Some("ko"));
        assert_eq!(guess_language("123 !!"), None);
    }

    #[test]
    fn decodes_bom_and_gb18030() {
        assert_eq!(decode_text("\u{feff}歌名,歌手".as_bytes()).0, "歌名,歌手");
        let (gbk, _, _) = encoding_rs::GB18030.encode("title,artist\n晴天,周杰伦\n七里香,周杰伦\n");
        let (text, note) = decode_text(&gbk);
        assert_eq!(text, "title,artist\n晴天,周杰伦\n七里香,周杰伦\n");
        assert!(note.unwrap().contains("read as GBK"));
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "title".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        assert_eq!(decode_text(&utf16), ("title".to_string(), None));
    }

    #[test]
    fn western_files_are_not_read_as_chinese() {
        // Excel on a Western Windows saves CSV in Windows-1252.
        let (latin, _, _) = encoding_rs::WINDOWS_1252
            .encode("title,artist\nCafé Müller,Zoë Straße\nDon’t Stop,Mötley Crüe\n");
        let (text, note) = decode_text(&latin);
        assert_eq!(
            text,
            "title,artist\nCafé Müller,Zoë Straße\nDon’t Stop,Mötley Crüe\n"
        );
        let note = note.unwrap();
        assert!(
            note.contains("windows-1252") && note.contains("line 2"),
            "{note}"
        );
    }

    #[test]
    fn an_import_says_which_encoding_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("latin.csv");
        let (latin, _, _) = encoding_rs::WINDOWS_1252.encode("title,artist\nCafé Müller,Zoë\n");
        std::fs::write(&csv, &latin).unwrap();
        let mut lib = Library::open_in_memory().unwrap();
        let report = lib.import_path(&csv).unwrap();
        assert_eq!(lib.find("Café Müller").unwrap().artist, "Zoë");
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.reason.contains("read as windows-1252")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn files_that_are_no_csv_text_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let mut utf16_without_bom = Vec::new();
        for u in "title,artist\n".encode_utf16() {
            utf16_without_bom.extend(u.to_le_bytes());
        }
        for (bytes, why) in [
            (b" \n".to_vec(), "empty"),
            (b"PK\x03\x04rest of a zip".to_vec(), "zipped spreadsheet"),
            (utf16_without_bom, "UTF-16 without a byte-order mark"),
        ] {
            let csv = dir.path().join("songs.csv");
            std::fs::write(&csv, &bytes).unwrap();
            let err = Library::open_in_memory()
                .unwrap()
                .import_path(&csv)
                .unwrap_err()
                .to_string();
            assert!(err.contains("songs.csv") && err.contains(why), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_csv_that_is_no_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero.csv");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let err = Library::open_in_memory()
            .unwrap()
            .import_path(&zero)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("zero.csv") && err.contains("not a regular file"),
            "{err}"
        );
        let big = dir.path().join("big.csv");
        std::fs::write(&big, vec![b'a'; 2 << 20]).unwrap();
        let err = read_regular_file(&big, 1 << 20).unwrap_err().to_string();
        assert!(
            err.contains("big.csv") && err.contains("larger than 1 MiB"),
            "{err}"
        );
    }

    #[test]
    fn a_stray_byte_in_a_utf8_file_garbles_only_itself() {
        let mut bytes = "title,artist\n晴天,周杰伦\nHalo,Beyoncé\nCaf"
            .as_bytes()
            .to_vec();
        bytes.extend([0xE9, b',', b'x', b'\n']);
        let (text, note) = decode_text(&bytes);
        assert_eq!(
            text,
            "title,artist\n晴天,周杰伦\nHalo,Beyoncé\nCaf\u{FFFD},x\n"
        );
        let note = note.unwrap();
        assert!(note.contains("line 4") && note.contains("0xE9"), "{note}");
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("title;artist;tags\nA;B;c,d"), b';');
        assert_eq!(sniff_delimiter("title\tartist"), b'\t');
        assert_eq!(sniff_delimiter("title,artist"), b',');
        assert_eq!(sniff_delimiter("title"), b',');
    }
}
