//! Import from spreadsheets (xlsx/xlsm/xlsb/xls/ods), CSV/TSV and music folders.
//!
//! Every import first reads its whole source (bad rows and unreadable files become
//! issues, the rest become records), then writes all records in one transaction: a
//! failure while writing leaves the library exactly as it was. Reading is split by
//! source: [`columns`] turns table rows into songs for both [`spreadsheet`] and
//! [`csv`](self::csv), [`folder`] reads audio files and their tags, [`xls`] checks a
//! `.xls` file before calamine reads it.
//!
//! Untrusted files are bounded: a table import reads at most [`ImportLimits::max_rows`]
//! rows, spreadsheets are checked for what calamine would allocate before it opens them,
//! and a report lists at most [`MAX_LISTED_ISSUES`] skipped rows (and warnings), counting
//! the rest by reason.

mod columns;
mod csv;
mod folder;
mod spreadsheet;
mod xls;

use self::csv::read_csv;
use crate::error::{Error, Result};
use crate::store::{normalize, raw, upsert_song, with_path, Library, NewSong, SongId, Upsert};
use folder::{read_audio, read_folder};
pub(crate) use folder::{tag_text, tag_texts};
use serde::Serialize;
use spreadsheet::read_spreadsheet;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Most rows one import of a spreadsheet or CSV file reads by default (all sheets
/// together, header rows included): a bigger file is refused, not cut short.
pub const MAX_IMPORT_ROWS: usize = 200_000;

/// Most skipped rows, and most warnings, an [`ImportReport`] lists one by one; the rest
/// are counted by reason.
pub const MAX_LISTED_ISSUES: usize = 50;

/// Bounds on what one import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Most rows a spreadsheet or CSV file may have (all sheets together, header rows
    /// included), and most audio files a folder import may find (sub-folders included);
    /// more is refused with an [`Error::Import`] naming the cap.
    pub max_rows: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            max_rows: MAX_IMPORT_ROWS,
        }
    }
}

/// The message of a file refused for its rows.
pub(crate) fn rows_over_limit(max_rows: usize) -> String {
    format!("more than {max_rows} rows; split the file or raise the limit")
}

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

/// How many issues past those listed had one kind of reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueCount {
    /// The reason, with the details that differ from row to row (quoted values, file
    /// locations) left out as `…`.
    pub reason: String,
    pub count: usize,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub added: usize,
    pub updated: usize,
    /// Songs the source had that the library already held exactly so.
    pub unchanged: usize,
    /// Rows or files not imported, with why: the first [`MAX_LISTED_ISSUES`] of them.
    pub skipped: Vec<ImportIssue>,
    /// Imported, but something was off (e.g. an audio file that does not exist): the
    /// first [`MAX_LISTED_ISSUES`].
    pub warnings: Vec<ImportIssue>,
    /// Ids of every song added, updated or unchanged, in source order.
    pub song_ids: Vec<SongId>,
    /// Rows or files skipped in all, listed in `skipped` or not.
    pub skipped_count: usize,
    /// Warnings in all, listed in `warnings` or not.
    pub warning_count: usize,
    /// The skipped rows or files `skipped` leaves out, counted by reason, most first.
    pub more_skipped: Vec<IssueCount>,
    /// The warnings `warnings` leaves out, counted by reason, most first.
    pub more_warnings: Vec<IssueCount>,
    /// What the audio files' own tags and sidecars gave (audio imports only).
    pub from_files: FromFiles,
}

/// Where the songs of an audio import got their mood, genre and lyrics, counted over
/// the audio files read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FromFiles {
    /// Audio files read.
    pub files: usize,
    /// Files whose mood tag (ID3 TMOO, Vorbis MOOD, MP4 mood atom) names one of the
    /// seven emotions: taken as the song's label.
    pub mood_labels_from_tags: usize,
    /// Files whose mood tag holds other words ("Melancholy"): kept as tags.
    pub mood_words_from_tags: usize,
    /// Files with a genre (ID3 TCON, Vorbis GENRE, MP4 genre atom): kept as tags.
    pub genres_from_tags: usize,
    /// Files with lyrics in a tag (ID3 USLT, Vorbis LYRICS, MP4 lyrics atom).
    pub lyrics_from_tags: usize,
    /// Files whose lyrics came from a `.lrc`/`.txt` file beside them.
    pub lyrics_from_sidecars: usize,
}

impl fmt::Display for FromFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} audio files: {} with a mood label in their tags, {} with other mood words, {} with a genre, {} with lyrics in their tags, {} with lyrics from a .lrc/.txt file",
            thousands(self.files),
            thousands(self.mood_labels_from_tags),
            thousands(self.mood_words_from_tags),
            thousands(self.genres_from_tags),
            thousands(self.lyrics_from_tags),
            thousands(self.lyrics_from_sidecars),
        )
    }
}

impl ImportReport {
    /// Keeps the first `listed` skipped entries and warnings and counts the rest by
    /// reason, so that a file of a million bad rows makes a short report. Counts already
    /// summarised stay.
    pub fn summarise(&mut self, listed: usize) {
        self.skipped_count = self.skipped.len() + total(&self.more_skipped);
        self.warning_count = self.warnings.len() + total(&self.more_warnings);
        summarise_issues(&mut self.skipped, &mut self.more_skipped, listed);
        summarise_issues(&mut self.warnings, &mut self.more_warnings, listed);
    }
}

fn total(counts: &[IssueCount]) -> usize {
    counts.iter().map(|c| c.count).sum()
}

/// Most kinds of reason counted apart; the rarer ones are counted together.
const MAX_REASON_KINDS: usize = 20;
const OTHER_REASONS: &str = "other reasons";

fn summarise_issues(listed: &mut Vec<ImportIssue>, more: &mut Vec<IssueCount>, keep: usize) {
    if listed.len() <= keep {
        return;
    }
    for issue in listed.drain(keep..) {
        let reason = reason_kind(&issue.reason, &issue.location);
        match more.iter_mut().find(|c| c.reason == reason) {
            Some(c) => c.count += 1,
            None => more.push(IssueCount { reason, count: 1 }),
        }
    }
    more.sort_by_key(|c| std::cmp::Reverse(c.count));
    if more.len() > MAX_REASON_KINDS {
        let rest: usize = more.drain(MAX_REASON_KINDS - 1..).map(|c| c.count).sum();
        match more.iter_mut().find(|c| c.reason == OTHER_REASONS) {
            Some(c) => c.count += rest,
            None => more.push(IssueCount {
                reason: OTHER_REASONS.into(),
                count: rest,
            }),
        }
    }
}

/// A reason without what differs from row to row: quoted values (`"…"`), and other rows
/// of the same table, paths and `file:row` locations (`…`). `location` is the issue's own.
fn reason_kind(reason: &str, location: &str) -> String {
    // A table row's location is `file:row` (`file:sheet:row`): the same table's other
    // rows may be named in the reason, spaces in the name and all.
    let reason = match location.rsplit_once(':') {
        Some((table, row))
            if !table.is_empty() && !row.is_empty() && row.bytes().all(|b| b.is_ascii_digit()) =>
        {
            reason.replace(table, "…")
        }
        _ => reason.to_string(),
    };
    let mut unquoted = String::with_capacity(reason.len());
    let mut chars = reason.chars();
    while let Some(c) = chars.next() {
        unquoted.push(c);
        if c == '"' {
            // To the closing quote, past escaped ones (reasons quote with `{:?}`).
            while let Some(q) = chars.next() {
                match q {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
            unquoted.push_str("…\"");
        }
    }
    let is_place = |w: &str| {
        w.contains(['/', '\\'])
            || w.split(':')
                .skip(1)
                .any(|part| part.starts_with(|c: char| c.is_ascii_digit()))
    };
    let mut out: Vec<&str> = Vec::new();
    for word in unquoted.split(' ') {
        let word = if is_place(word) { "…" } else { word };
        if !(word == "…" && out.last() == Some(&"…")) {
            out.push(word);
        }
    }
    out.join(" ")
}

/// `48112` as `48,112`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A report not yet summarised counts what it lists.
        let skipped = self
            .skipped_count
            .max(self.skipped.len() + total(&self.more_skipped));
        let warnings = self
            .warning_count
            .max(self.warnings.len() + total(&self.more_warnings));
        write!(
            f,
            "{} added, {} updated, {} unchanged, {} skipped",
            self.added,
            self.updated,
            self.unchanged,
            thousands(skipped)
        )?;
        if warnings > 0 {
            write!(f, ", {} warnings", thousands(warnings))?;
        }
        if self.from_files.files > 0 {
            write!(f, "\n  {}", self.from_files)?;
        }
        for s in &self.skipped {
            write!(f, "\n  skipped {s}")?;
        }
        for c in &self.more_skipped {
            write!(
                f,
                "\n  and {} more skipped: {}",
                thousands(c.count),
                c.reason
            )?;
        }
        for w in &self.warnings {
            write!(f, "\n  warning {w}")?;
        }
        for c in &self.more_warnings {
            write!(
                f,
                "\n  and {} more warnings: {}",
                thousands(c.count),
                c.reason
            )?;
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
        self.import_path_limited(path, progress, &ImportLimits::default())
    }

    /// [`Library::import_path_with`] within `limits` instead of the defaults.
    pub fn import_path_limited(
        &mut self,
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress<'_>),
        limits: &ImportLimits,
    ) -> Result<ImportReport> {
        self.import_inner(path, progress, limits, &mut |_| Ok(()))
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
        limits: &ImportLimits,
        after_write: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<ImportReport> {
        let batch = ImportBatch::read_limited(path, progress, limits)?;
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
        Self::read_limited(path, progress, &ImportLimits::default())
    }

    /// [`ImportBatch::read`] within `limits` instead of the defaults.
    pub fn read_limited(
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress<'_>),
        limits: &ImportLimits,
    ) -> Result<ImportBatch> {
        Self::read_with(path, progress, AudioLinks::Follow, limits)
    }

    /// Reads a spreadsheet or CSV file sent from elsewhere (the web page, perhaps from
    /// another machine), ignoring its audio column: its paths would name files on this
    /// machine, which the server would then play to the sender, and "not found" warnings
    /// would tell the sender which files exist.
    pub fn read_without_audio_links(path: &Path) -> Result<ImportBatch> {
        Self::read_without_audio_links_limited(path, &ImportLimits::default())
    }

    /// [`ImportBatch::read_without_audio_links`] within `limits` instead of the defaults.
    pub fn read_without_audio_links_limited(
        path: &Path,
        limits: &ImportLimits,
    ) -> Result<ImportBatch> {
        Self::read_with(path, &mut |_| {}, AudioLinks::Ignore, limits)
    }

    fn read_with(
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress<'_>),
        audio: AudioLinks,
        limits: &ImportLimits,
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
            read_folder(path, progress, &mut report, limits.max_rows)?
        } else {
            let ext = ext_of(path);
            if SHEET_EXTENSIONS.contains(&ext.as_str()) {
                read_spreadsheet(path, audio, limits)?
            } else if CSV_EXTENSIONS.contains(&ext.as_str()) {
                read_csv(path, audio, limits)?
            } else if AUDIO_EXTENSIONS.contains(&ext.as_str()) {
                progress(ImportProgress {
                    done: 0,
                    total: 1,
                    current: path,
                });
                let item = read_audio(path, &mut report);
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
        report.summarise(MAX_LISTED_ISSUES);
        Ok(report)
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

#[cfg(test)]
mod tests {
    use super::*;

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
            .import_inner(&csv, &mut |_| {}, &ImportLimits::default(), &mut |i| {
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
        let _ = lib.import_inner(
            Path::new(&csv),
            &mut |_| {},
            &ImportLimits::default(),
            &mut |i| {
                if i == 2 {
                    // The parent checks this line: the crash came mid-write, not earlier.
                    println!("{CRASH_MARKER}");
                    std::process::abort();
                }
                Ok(())
            },
        );
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
    fn reasons_are_counted_without_what_differs_from_row_to_row() {
        let at = "/tmp/My Songs/list.xlsx:Sheet 1:40";
        for (reason, kind) in [
            ("empty title", "empty title"),
            (
                "same song as /tmp/My Songs/list.xlsx:Sheet 1:3",
                "same song as …",
            ),
            (
                "its id \"7\" is also the id of /tmp/My Songs/list.xlsx:Sheet 1:3 (\"Blue \\\"Sky\\\"\"): ids must be unique in a file",
                "its id \"…\" is also the id of … (\"…\"): ids must be unique in a file",
            ),
            (
                "audio file \"/music/Blue Sky 2.mp3\" not found; imported without audio",
                "audio file \"…\" not found; imported without audio",
            ),
            (
                "unknown emotion \"glad\": expected one of angry, disgust, fear, happy, sad, surprise, neutral (or 0-6)",
                "unknown emotion \"…\": expected one of angry, disgust, fear, happy, sad, surprise, neutral (or 0-6)",
            ),
            ("cannot open: /a/b c/d.mp3 gone", "cannot open: … gone"),
        ] {
            assert_eq!(reason_kind(reason, at), kind, "{reason}");
        }
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(48_112), "48,112");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn a_summary_keeps_the_first_issues_and_counts_the_rest() {
        let issue = |row: usize, reason: &str| ImportIssue {
            location: format!("songs.csv:{row}"),
            reason: reason.into(),
        };
        let mut report = ImportReport::default();
        for row in 0..30 {
            report.skipped.push(issue(row, &format!("reason {row}")));
        }
        for row in 30..40 {
            report.skipped.push(issue(row, "empty title"));
        }
        report.summarise(5);
        assert_eq!(report.skipped.len(), 5);
        assert_eq!(report.skipped_count, 40);
        // 25 one-off reasons and one of 10: the rarer ones past 20 kinds are lumped.
        assert_eq!(report.more_skipped.len(), MAX_REASON_KINDS);
        assert_eq!(report.more_skipped[0].reason, "empty title");
        assert_eq!(report.more_skipped[0].count, 10);
        let last = report.more_skipped.last().unwrap();
        assert_eq!((last.reason.as_str(), last.count), (OTHER_REASONS, 7));
        // Summarising again changes nothing.
        let before = report.clone();
        report.summarise(5);
        assert_eq!(report, before);
        assert!(report.to_string().starts_with(
            "0 added, 0 updated, 0 unchanged, 40 skipped\n  skipped songs.csv:0: reason 0"
        ));
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
}
