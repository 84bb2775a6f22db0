//! Moods written back into the audio files (`moodtune library write-tags`), so another
//! player, or a library rebuilt from the files alone, sees the emotion library moodtune
//! put each song in.
//!
//! What is written where: the mood as a capitalised emotion word ("Happy") in ID3v2
//! `TMOO` (MP3), the Vorbis comment `MOOD` (FLAC, Ogg Vorbis, Opus) and the MP4 atom
//! `----:com.apple.iTunes:MOOD` (M4A), the fields the importer reads back as the label.
//! With `with_tags`, the song's tags are added to the genre (ID3 `TCON`, Vorbis `GENRE`,
//! MP4 `©gen`) after what the genre already says, joined with "; ": the user's genre is
//! kept, never replaced.
//!
//! Safety: a file is never edited in place. Its tags are written into a copy in the
//! same folder (`.NAME.moodtune-tmp`), the copy is read back and checked (the mood as
//! the importer reads it, the same file type, duration within 5 ms, no tag item lost),
//! synced, and renamed over the original; the original is kept as `NAME.moodtune-bak`
//! (a hard link, so no copy) unless backups are off. Any failure leaves the original
//! untouched and removes the copy. A file that is read-only, gone, of another format
//! or unreadable is reported and the others are still written.

use crate::error::Result;
use crate::import::{split_tags, tag_text, tag_texts, ImportIssue};
use crate::store::{Library, Song};
use lofty::config::{ParseOptions, ParsingMode, WriteOptions};
use lofty::file::{AudioFile, FileType, TaggedFile, TaggedFileExt};
use lofty::flac::FlacFile;
use lofty::id3::v2::{Frame, FrameId, Id3v2Tag, TextInformationFrame};
use lofty::mp4::{Atom, AtomData, AtomIdent, Ilst, Mp4File};
use lofty::mpeg::MpegFile;
use lofty::ogg::{OpusFile, VorbisComments, VorbisFile};
use lofty::tag::{Accessor, ItemKey};
use lofty::TextEncoding;
use moodtune_core::Emotion;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How `library write-tags` runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteTagsOptions {
    /// Say what would change; touch no file.
    pub dry_run: bool,
    /// Keep no `NAME.moodtune-bak` copy of the original.
    pub no_backup: bool,
    /// Also add the song's tags to the file's genre.
    pub with_tags: bool,
    /// Only the songs of this emotion library.
    pub emotion: Option<Emotion>,
}

/// The most a rewritten file's duration may differ from the original's.
const DURATION_TOLERANCE: Duration = Duration::from_millis(5);

/// The formats moods are written to, for the message of the others.
const WRITABLE: &str = "MP3, FLAC, Ogg Vorbis, Opus and MP4/M4A";

/// One file's change (made, or to be made in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagChange {
    pub path: PathBuf,
    /// The mood written ("Happy").
    pub mood: String,
    /// The mood the file had before, if any.
    pub previous_mood: Option<String>,
    /// The new genre, when `with_tags` added to it.
    pub genre: Option<String>,
    /// Where the original was kept.
    pub backup: Option<PathBuf>,
}

/// What one file's write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    /// Written (or, in a dry run, would be).
    Changed(TagChange),
    /// The file already says so.
    Unchanged,
}

/// What `write-tags` did over the library.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteTagsReport {
    pub dry_run: bool,
    /// Files written (in a dry run: files that would be).
    pub written: Vec<TagChange>,
    /// Files whose tags already held the mood (and tags).
    pub unchanged: usize,
    /// Files not written, with why (read-only, gone, unsupported, unreadable...).
    pub skipped: Vec<ImportIssue>,
    /// Songs without an audio file: nothing to write to.
    pub without_audio: usize,
    /// Songs with an audio file but no emotion yet (neither label nor prediction).
    pub without_emotion: usize,
}

impl fmt::Display for WriteTagsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would write" } else { "wrote" };
        for c in &self.written {
            let before = c.previous_mood.as_deref().unwrap_or("no mood");
            write!(f, "{verb} {}: {before} -> {}", c.path.display(), c.mood)?;
            if let Some(g) = &c.genre {
                write!(f, "; genre {g:?}")?;
            }
            writeln!(f)?;
        }
        for s in &self.skipped {
            writeln!(f, "skipped {s}")?;
        }
        let done = if self.dry_run { "to write" } else { "written" };
        let files = if self.written.len() == 1 {
            "file"
        } else {
            "files"
        };
        write!(
            f,
            "{} {files} {done}, {} unchanged, {} skipped",
            self.written.len(),
            self.unchanged,
            self.skipped.len()
        )?;
        if self.without_emotion > 0 {
            write!(
                f,
                "; {} without an emotion yet (`moodtune library classify`)",
                self.without_emotion
            )?;
        }
        if self.without_audio > 0 {
            write!(f, "; {} without an audio file", self.without_audio)?;
        }
        Ok(())
    }
}

/// Reported before each file is written.
#[derive(Debug, Clone, Copy)]
pub struct WriteTagsProgress<'a> {
    pub done: usize,
    pub total: usize,
    pub current: &'a Path,
}

/// The mood word written for an emotion: "Happy", as taggers capitalise moods.
pub fn mood_word(emotion: Emotion) -> String {
    let key = emotion.key();
    let mut chars = key.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

impl Library {
    /// Writes every song's emotion (manual label, else prediction: [`Song::emotion`])
    /// into its audio file as the mood. Files that cannot be written are reported in
    /// the result, not returned as errors; only reading the library can fail.
    pub fn write_tags(
        &self,
        opts: &WriteTagsOptions,
        progress: &mut dyn FnMut(WriteTagsProgress<'_>),
    ) -> Result<WriteTagsReport> {
        let songs = match opts.emotion {
            Some(e) => self.songs_in(e)?,
            None => self.songs()?,
        };
        Ok(write_songs(&songs, opts, progress))
    }
}

/// [`Library::write_tags`] over the given songs.
pub fn write_songs(
    songs: &[Song],
    opts: &WriteTagsOptions,
    progress: &mut dyn FnMut(WriteTagsProgress<'_>),
) -> WriteTagsReport {
    let mut report = WriteTagsReport {
        dry_run: opts.dry_run,
        ..WriteTagsReport::default()
    };
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    for song in songs {
        let Some(path) = &song.audio_path else {
            report.without_audio += 1;
            continue;
        };
        let Some(emotion) = song.emotion() else {
            report.without_emotion += 1;
            continue;
        };
        // Two songs on one file: the first (lowest id) decides.
        if seen.insert(path.clone()) {
            jobs.push((path, emotion, &song.tags));
        }
    }
    let total = jobs.len();
    for (i, (path, emotion, tags)) in jobs.into_iter().enumerate() {
        progress(WriteTagsProgress {
            done: i,
            total,
            current: path,
        });
        let tags = opts.with_tags.then_some(tags.as_slice());
        match write_mood(path, emotion, tags, opts) {
            Ok(TagOutcome::Changed(c)) => report.written.push(c),
            Ok(TagOutcome::Unchanged) => report.unchanged += 1,
            Err(reason) => report.skipped.push(ImportIssue {
                location: path.display().to_string(),
                reason,
            }),
        }
    }
    report
}

/// Writes `emotion` as the mood of the audio file at `path` (and `tags` into its
/// genre), safely: see the module documentation. The error says why the file was left
/// alone ("read-only: cannot write the mood"), without the path.
pub fn write_mood(
    path: &Path,
    emotion: Emotion,
    tags: Option<&[String]>,
    opts: &WriteTagsOptions,
) -> std::result::Result<TagOutcome, String> {
    let mood = mood_word(emotion);
    let meta = fs::symlink_metadata(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => "vanished: the file no longer exists".to_string(),
        _ => format!("cannot open: {e}"),
    })?;
    if !meta.file_type().is_file() {
        return Err("not a regular file; left alone".into());
    }
    // Checked on the mode bits, not by trying: root may write anyway, and the rename
    // would replace a read-only file regardless; read-only means "leave it".
    if meta.permissions().readonly() {
        return Err("read-only: cannot write the mood".into());
    }
    let mut file = guarded(|| Editable::open(path))?;
    let genre = tags.and_then(|t| merged_genre(&file.genres(), t));
    let previous_mood = file.mood();
    if previous_mood.as_deref() == Some(mood.as_str()) && genre.is_none() {
        return Ok(TagOutcome::Unchanged);
    }
    let mut change = TagChange {
        path: path.to_path_buf(),
        mood: mood.clone(),
        previous_mood,
        genre: genre.clone(),
        backup: None,
    };
    if opts.dry_run {
        return Ok(TagOutcome::Changed(change));
    }
    let original = guarded(|| lofty::read_from_path(path).map_err(|e| format!("unreadable: {e}")))?;

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or("no file name")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = TempFile(dir.join(format!(".{name}.moodtune-tmp")));
    // A copy left by a run that crashed is stale: start from the original again.
    let _ = fs::remove_file(&tmp.0);
    fs::copy(path, &tmp.0).map_err(|e| format!("cannot copy the file to write its tags: {e}"))?;
    file.set_mood(&mood);
    if let Some(g) = &genre {
        file.set_genre(g);
    }
    guarded(|| {
        file.save(&tmp.0)
            .map_err(|e| format!("cannot write the tags: {e}"))
    })?;
    verify(&tmp.0, &original, &mood, genre.as_deref())?;
    fs::File::open(&tmp.0)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync the rewritten copy: {e}"))?;

    // The original must still be the file that was read: deleted or changed meanwhile,
    // it is left as it is.
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err("vanished while its tags were written; nothing written".into())
        }
        Err(e) => return Err(format!("cannot open: {e}")),
        Ok(now) if now.len() != meta.len() || now.modified().ok() != meta.modified().ok() => {
            return Err("changed while its tags were written; left alone".into())
        }
        Ok(_) => {}
    }
    if !opts.no_backup {
        let backup = dir.join(format!("{name}.moodtune-bak"));
        // An existing backup is the file as it was before moodtune first wrote it: kept.
        if fs::symlink_metadata(&backup).is_err() {
            keep_backup(path, &backup)?;
        }
        change.backup = Some(backup);
    }
    fs::rename(&tmp.0, path).map_err(|e| format!("cannot replace the file: {e}"))?;
    tmp.disarm();
    // The rename is durable once the folder is synced.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(TagOutcome::Changed(change))
}

/// Keeps the original as `backup`: a hard link (the original's very bytes, no copy),
/// or a synced copy where the file system has no hard links.
fn keep_backup(path: &Path, backup: &Path) -> std::result::Result<(), String> {
    if fs::hard_link(path, backup).is_ok() {
        return Ok(());
    }
    let copied = fs::copy(path, backup)
        .and_then(|_| fs::File::open(backup))
        .and_then(|f| f.sync_all());
    copied.map_err(|e| {
        let _ = fs::remove_file(backup);
        format!("cannot keep a backup ({}): {e}", backup.display())
    })
}

/// The rewritten copy, removed when dropped unless it replaced the original.
struct TempFile(PathBuf);

impl TempFile {
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Runs a tag reader or writer, turning its panic on a malformed file into an error.
fn guarded<T>(
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!(
            "malformed audio file (the tag reader failed: {detail})"
        ))
    })
}

/// The genre with `tags` added after what it already holds, or `None` when it already
/// holds them all.
fn merged_genre(existing: &[String], tags: &[String]) -> Option<String> {
    let mut all: Vec<String> = Vec::new();
    let has = |all: &[String], t: &str| all.iter().any(|o| o.to_lowercase() == t.to_lowercase());
    for t in existing.iter().flat_map(|g| split_tags(g)) {
        if !has(&all, &t) {
            all.push(t);
        }
    }
    let before = all.len();
    for t in tags.iter().flat_map(|t| split_tags(t)) {
        if !has(&all, &t) {
            all.push(t);
        }
    }
    (all.len() > before).then(|| all.join("; "))
}

/// Checks the rewritten copy as the importer will read it: the mood (and genre) it was
/// given, the same file type and sound, and every tag item of the original but the
/// mood and genre still there.
fn verify(
    copy: &Path,
    original: &TaggedFile,
    mood: &str,
    genre: Option<&str>,
) -> std::result::Result<(), String> {
    let fail =
        |what: String| format!("the rewritten copy did not check out ({what}); nothing written");
    // By content: the copy's name (`.NAME.moodtune-tmp`) says nothing of its format.
    let back = guarded(|| {
        lofty::probe::Probe::open(copy)
            .and_then(|p| Ok(p.guess_file_type()?))
            .and_then(|p| p.read())
            .map_err(|e| format!("unreadable: {e}"))
    })
    .map_err(fail)?;
    if back.file_type() != original.file_type() {
        return Err(fail(format!(
            "file type {:?}, not {:?}",
            back.file_type(),
            original.file_type()
        )));
    }
    let (a, b) = (original.properties(), back.properties());
    if a.duration().abs_diff(b.duration()) > DURATION_TOLERANCE
        || a.sample_rate() != b.sample_rate()
        || a.channels() != b.channels()
    {
        return Err(fail(format!(
            "audio properties changed: {:?} -> {:?}",
            a.duration(),
            b.duration()
        )));
    }
    let read = tag_text(&back, &ItemKey::Mood);
    if read.as_deref() != Some(mood) {
        return Err(fail(format!("its mood reads {read:?}, not {mood:?}")));
    }
    if let Some(g) = genre {
        if !tag_texts(&back, &ItemKey::Genre).iter().any(|v| v == g) {
            return Err(fail(format!("its genre does not read {g:?}")));
        }
    }
    for tag in original.tags() {
        let kept = |t: &lofty::tag::Tag| {
            t.items()
                .filter(|i| !matches!(i.key(), ItemKey::Mood | ItemKey::Genre))
                .count()
        };
        let now = back.tag(tag.tag_type());
        let lost = match now {
            Some(n) => kept(n) < kept(tag) || n.pictures().len() < tag.pictures().len(),
            None => kept(tag) > 0 || !tag.pictures().is_empty(),
        };
        if lost {
            return Err(fail(format!(
                "items of its {:?} tag were lost",
                tag.tag_type()
            )));
        }
    }
    Ok(())
}

/// The freeform MP4 atom taggers (and lofty's `ItemKey::Mood`) use for the mood.
fn mp4_mood() -> AtomIdent<'static> {
    AtomIdent::Freeform {
        mean: Cow::Borrowed("com.apple.iTunes"),
        name: Cow::Borrowed("MOOD"),
    }
}

fn tmoo() -> FrameId<'static> {
    FrameId::Valid(Cow::Borrowed("TMOO"))
}

/// An audio file opened for editing in its own format: the concrete tag keeps every
/// frame and atom it read (a format-neutral tag would drop what it cannot map).
enum Editable {
    Mpeg(MpegFile),
    Flac(FlacFile),
    Vorbis(VorbisFile),
    Opus(OpusFile),
    Mp4(Mp4File),
}

impl Editable {
    fn open(path: &Path) -> std::result::Result<Editable, String> {
        let unreadable = |e: lofty::error::LoftyError| format!("unreadable audio: {e}");
        let kind = lofty::probe::Probe::open(path)
            .and_then(|p| Ok(p.guess_file_type()?))
            .map_err(unreadable)?
            .file_type();
        // Strict: a tag read "as well as possible" may have dropped a malformed frame,
        // and writing it back would lose that frame for good.
        let opts = ParseOptions::new().parsing_mode(ParsingMode::Strict);
        let mut f = fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        let strict = |e: lofty::error::LoftyError| {
            format!(
                "its tags could not be read exactly ({e}); left alone so nothing in them is lost"
            )
        };
        Ok(match kind {
            Some(FileType::Mpeg) => {
                Editable::Mpeg(MpegFile::read_from(&mut f, opts).map_err(strict)?)
            }
            Some(FileType::Flac) => {
                Editable::Flac(FlacFile::read_from(&mut f, opts).map_err(strict)?)
            }
            Some(FileType::Vorbis) => {
                Editable::Vorbis(VorbisFile::read_from(&mut f, opts).map_err(strict)?)
            }
            Some(FileType::Opus) => {
                Editable::Opus(OpusFile::read_from(&mut f, opts).map_err(strict)?)
            }
            Some(FileType::Mp4) => Editable::Mp4(Mp4File::read_from(&mut f, opts).map_err(strict)?),
            Some(other) => {
                return Err(format!(
                    "unsupported format ({other:?}): moods are written to {WRITABLE} files"
                ))
            }
            None => {
                return Err(format!(
                    "unsupported format (not recognised): moods are written to {WRITABLE} files"
                ))
            }
        })
    }

    fn comments(&self) -> Option<&VorbisComments> {
        match self {
            Editable::Flac(f) => f.vorbis_comments(),
            Editable::Vorbis(f) => Some(f.vorbis_comments()),
            Editable::Opus(f) => Some(f.vorbis_comments()),
            _ => None,
        }
    }

    fn comments_mut(&mut self) -> Option<&mut VorbisComments> {
        match self {
            Editable::Flac(f) => {
                if f.vorbis_comments().is_none() {
                    f.set_vorbis_comments(VorbisComments::default());
                }
                f.vorbis_comments_mut()
            }
            Editable::Vorbis(f) => Some(f.vorbis_comments_mut()),
            Editable::Opus(f) => Some(f.vorbis_comments_mut()),
            _ => None,
        }
    }

    fn id3v2_mut(&mut self) -> Option<&mut Id3v2Tag> {
        match self {
            Editable::Mpeg(f) => {
                if f.id3v2().is_none() {
                    f.set_id3v2(Id3v2Tag::new());
                }
                f.id3v2_mut()
            }
            _ => None,
        }
    }

    fn ilst_mut(&mut self) -> Option<&mut Ilst> {
        match self {
            Editable::Mp4(f) => {
                if f.ilst().is_none() {
                    f.set_ilst(Ilst::new());
                }
                f.ilst_mut()
            }
            _ => None,
        }
    }

    fn mood(&self) -> Option<String> {
        let text = match self {
            Editable::Mpeg(f) => f
                .id3v2()
                .and_then(|t| t.get_text(&tmoo()))
                .map(String::from),
            Editable::Mp4(f) => f.ilst().and_then(|t| t.get(&mp4_mood())).and_then(|a| {
                a.data().find_map(|d| match d {
                    AtomData::UTF8(s) | AtomData::UTF16(s) => Some(s.clone()),
                    _ => None,
                })
            }),
            _ => self
                .comments()
                .and_then(|c| c.get("MOOD"))
                .map(String::from),
        };
        text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    }

    fn genres(&self) -> Vec<String> {
        match self {
            Editable::Mpeg(f) => f
                .id3v2()
                .and_then(|t| t.genres().map(|g| g.map(String::from).collect()))
                .unwrap_or_default(),
            Editable::Mp4(f) => f
                .ilst()
                .and_then(|t| t.genre())
                .map(|g| vec![g.into_owned()])
                .unwrap_or_default(),
            _ => self
                .comments()
                .map(|c| c.get_all("GENRE").map(String::from).collect())
                .unwrap_or_default(),
        }
    }

    fn set_mood(&mut self, mood: &str) {
        if let Some(tag) = self.id3v2_mut() {
            tag.insert(Frame::Text(TextInformationFrame::new(
                tmoo(),
                TextEncoding::UTF8,
                mood.to_string(),
            )));
        } else if let Some(ilst) = self.ilst_mut() {
            ilst.replace_atom(Atom::new(mp4_mood(), AtomData::UTF8(mood.to_string())));
        } else if let Some(c) = self.comments_mut() {
            c.insert("MOOD".into(), mood.to_string());
        }
    }

    fn set_genre(&mut self, genre: &str) {
        if let Some(tag) = self.id3v2_mut() {
            tag.set_genre(genre.to_string());
        } else if let Some(ilst) = self.ilst_mut() {
            ilst.set_genre(genre.to_string());
        } else if let Some(c) = self.comments_mut() {
            // Every GENRE field's words are in the merged value: one field replaces them.
            c.insert("GENRE".into(), genre.to_string());
        }
    }

    fn save(&self, path: &Path) -> lofty::error::Result<()> {
        let opts = WriteOptions::default();
        match self {
            // Written as ID3v2.4 whatever it was: TMOO is a 2.4 frame, which lofty's 2.3
            // writer leaves out.
            Editable::Mpeg(f) => f.save_to_path(path, opts),
            Editable::Flac(f) => f.save_to_path(path, opts),
            Editable::Vorbis(f) => f.save_to_path(path, opts),
            Editable::Opus(f) => f.save_to_path(path, opts),
            Editable::Mp4(f) => f.save_to_path(path, opts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mood_words_are_capitalised() {
        assert_eq!(mood_word(Emotion::Happy), "Happy");
        assert_eq!(mood_word(Emotion::Surprise), "Surprise");
    }

    #[test]
    fn a_genre_is_added_to_never_replaced() {
        let g = |e: &[&str], t: &[&str]| {
            merged_genre(
                &e.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                &t.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            g(&["Rock"], &["Cheerful", "rock"]).as_deref(),
            Some("Rock; Cheerful")
        );
        assert_eq!(g(&["Rock", "Pop/Dance"], &["pop"]), None, "nothing new");
        assert_eq!(g(&[], &["Calm"]).as_deref(), Some("Calm"));
        assert_eq!(g(&["Jazz"], &[]), None);
    }
}
