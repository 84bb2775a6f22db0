//! A playlist as a file for the user's own players: Extended M3U (UTF-8, `.m3u8`),
//! XSPF version 1, or JSON.
//!
//! Only songs with an audio file the library knows and that is still on disk are
//! written; the others are left out and counted, for the caller to report. Paths are
//! absolute (the library stores canonical paths), or relative to a folder when one is
//! given and a relative path exists (not across drives).

use crate::playlist::Playlist;
use moodtune_core::Emotion;
use moodtune_library::{Song, SongId};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// A playlist file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Extended M3U in UTF-8.
    M3u8,
    /// XSPF version 1 (<https://xspf.org/spec>).
    Xspf,
    /// moodtune's own JSON: the tracks with their emotion libraries.
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::M3u8, Format::Xspf, Format::Json];

    /// The name on the command line and in URLs, also the file extension.
    pub fn key(self) -> &'static str {
        match self {
            Format::M3u8 => "m3u8",
            Format::Xspf => "xspf",
            Format::Json => "json",
        }
    }

    /// The media type to serve the file with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::M3u8 => "audio/x-mpegurl; charset=utf-8",
            Format::Xspf => "application/xspf+xml",
            Format::Json => "application/json",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.key().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown playlist format {s:?}: expected m3u8, xspf or json"))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// How to write a playlist.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub format: Format,
    /// Write paths relative to this absolute folder where a relative path exists
    /// (usually the folder the playlist file goes to); `None`: absolute paths.
    pub relative_to: Option<&'a Path>,
    /// The playlist's name (`#PLAYLIST:` in M3U, `<title>` in XSPF).
    pub title: String,
}

/// A rendered playlist file.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// Songs written.
    pub tracks: usize,
    /// Songs of the playlist without an audio file, left out.
    pub without_audio: usize,
    /// Songs whose audio file is gone from disk (or whose path the format cannot hold),
    /// left out.
    pub missing_files: usize,
}

impl Rendered {
    /// What was left out, a note a reason, for the user to see beside the file.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.without_audio > 0 {
            notes.push(format!(
                "note: {} songs without audio left out",
                self.without_audio
            ));
        }
        if self.missing_files > 0 {
            notes.push(format!(
                "note: {} songs whose audio file is missing left out",
                self.missing_files
            ));
        }
        notes
    }
}

/// One song as written.
#[derive(Debug, Clone, Serialize)]
struct Track<'a> {
    id: SongId,
    /// As written: absolute, or relative to the asked folder.
    path: String,
    title: &'a str,
    artist: &'a str,
    album: Option<&'a str>,
    duration_s: Option<f64>,
    emotion: Emotion,
    filled_for: Option<Emotion>,
    #[serde(skip)]
    /// The path as written, for the XSPF location.
    written: PathBuf,
    #[serde(skip)]
    absolute: bool,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    title: &'a str,
    tracks: &'a [Track<'a>],
    without_audio: usize,
    missing_files: usize,
}

/// [`render`] for `emotion`'s playlist, where a file without a single song is an error
/// saying how to get songs with audio (the notes still say what was left out).
pub fn render_playable(
    list: &Playlist,
    songs: &[Song],
    opts: &Options<'_>,
    emotion: Emotion,
) -> anyhow::Result<Rendered> {
    let file = render(list, songs, opts);
    if file.tracks == 0 {
        anyhow::bail!(
            "none of the {} songs for {} has an audio file: import music files (`moodtune library import FOLDER`) to make a playable playlist",
            list.entries.len(),
            emotion.key()
        );
    }
    Ok(file)
}

/// Renders `list` with the paths and durations of `songs` (the library's songs; those
/// not on the list are ignored).
pub fn render(list: &Playlist, songs: &[Song], opts: &Options<'_>) -> Rendered {
    let by_id: HashMap<SongId, &Song> = songs.iter().map(|s| (s.id, s)).collect();
    let mut tracks = Vec::new();
    let (mut without_audio, mut missing_files) = (0, 0);
    for entry in &list.entries {
        let Some(song) = by_id.get(&entry.rec.id) else {
            // Removed since the playlist was made: nothing to play.
            without_audio += 1;
            continue;
        };
        let Some(audio) = song.audio_path.as_deref() else {
            without_audio += 1;
            continue;
        };
        if !audio.is_file() {
            missing_files += 1;
            continue;
        }
        let (written, absolute) = match opts.relative_to.and_then(|d| relative_path(audio, d)) {
            Some(rel) => (rel, false),
            None => (audio.to_path_buf(), true),
        };
        // M3U lines and JSON strings are UTF-8 text, one path a line.
        let path = match written.to_str() {
            Some(p) if !p.contains(['\n', '\r']) => p.to_string(),
            _ if opts.format == Format::Xspf => written.to_string_lossy().into_owned(),
            _ => {
                missing_files += 1;
                continue;
            }
        };
        tracks.push(Track {
            id: song.id,
            path,
            title: &song.title,
            artist: &song.artist,
            album: song.album.as_deref().filter(|a| !a.trim().is_empty()),
            duration_s: song.duration_s.filter(|d| d.is_finite() && *d >= 0.0),
            emotion: entry.rec.emotion,
            filled_for: entry.filled_for,
            written,
            absolute,
        });
    }
    let bytes = match opts.format {
        Format::M3u8 => m3u8(&tracks, &opts.title).into_bytes(),
        Format::Xspf => xspf(&tracks, &opts.title).into_bytes(),
        Format::Json => {
            let file = JsonFile {
                title: &opts.title,
                tracks: &tracks,
                without_audio,
                missing_files,
            };
            let mut out = serde_json::to_vec_pretty(&file).expect("plain data serialises");
            out.push(b'\n');
            out
        }
    };
    Rendered {
        bytes,
        tracks: tracks.len(),
        without_audio,
        missing_files,
    }
}

/// `artist - title`, or the title alone for an unknown artist, on one line.
fn display_name(t: &Track<'_>) -> String {
    let name = if t.artist.trim().is_empty() {
        t.title.to_string()
    } else {
        format!("{} - {}", t.artist, t.title)
    };
    name.replace(['\r', '\n'], " ")
}

fn m3u8(tracks: &[Track<'_>], title: &str) -> String {
    let mut out = String::from("#EXTM3U\n");
    let title = title.replace(['\r', '\n'], " ");
    if !title.is_empty() {
        let _ = writeln!(out, "#PLAYLIST:{title}");
    }
    for t in tracks {
        let seconds = t.duration_s.map_or(-1, |d| d.round() as i64);
        let _ = writeln!(out, "#EXTINF:{seconds},{}", display_name(t));
        let _ = writeln!(out, "{}", t.path);
    }
    out
}

fn xspf(tracks: &[Track<'_>], title: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n",
    );
    if !title.is_empty() {
        let _ = writeln!(out, "  <title>{}</title>", xml_escape(title));
    }
    out.push_str("  <trackList>\n");
    for t in tracks {
        // The order is the schema's: location, title, creator, album, duration.
        out.push_str("    <track>\n");
        let location = if t.absolute {
            file_uri(&t.written)
        } else {
            relative_uri(&t.written)
        };
        let _ = writeln!(out, "      <location>{}</location>", xml_escape(&location));
        let _ = writeln!(out, "      <title>{}</title>", xml_escape(t.title));
        if !t.artist.trim().is_empty() {
            let _ = writeln!(out, "      <creator>{}</creator>", xml_escape(t.artist));
        }
        if let Some(album) = t.album {
            let _ = writeln!(out, "      <album>{}</album>", xml_escape(album));
        }
        if let Some(d) = t.duration_s {
            let _ = writeln!(
                out,
                "      <duration>{}</duration>",
                (d * 1000.0).round() as u64
            );
        }
        out.push_str("    </track>\n");
    }
    out.push_str("  </trackList>\n</playlist>\n");
    out
}

/// Text for XML element content or attributes: the five special characters escaped,
/// characters XML 1.0 does not allow dropped.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes one byte string for a URI path: unreserved characters and `/` stay.
fn percent_encode(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().replace('\\', "/").into_bytes()
}

/// `file:///...` for an absolute path, percent-encoded (`file:///C:/...` on Windows).
pub fn file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    let mut bytes = path_bytes(path);
    // Windows: `\\?\C:\x` and `C:\x` both become `/C:/x`; the drive's colon stays.
    if bytes.starts_with(b"//?/") {
        bytes.drain(..4);
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        out.push('/');
        out.push(bytes[0] as char);
        out.push(':');
        bytes.drain(..2);
    }
    percent_encode(&bytes, &mut out);
    out
}

/// A relative URI reference for a relative path (a colon in the first segment is
/// encoded, so it is never read as a scheme).
pub fn relative_uri(path: &Path) -> String {
    let mut out = String::new();
    percent_encode(&path_bytes(path), &mut out);
    out
}

/// `path` relative to the folder `base`, with `..` where needed; `None` when either is
/// not absolute or they share no root (another drive).
pub fn relative_path(path: &Path, base: &Path) -> Option<PathBuf> {
    if !path.is_absolute() || !base.is_absolute() {
        return None;
    }
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    // The same root (and on Windows the same drive) or nothing.
    let roots = |cs: &[Component]| {
        cs.iter()
            .take_while(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
            .count()
    };
    let (pr, br) = (roots(&path), roots(&base));
    if pr != br || path[..pr] != base[..br] {
        return None;
    }
    // `..` in the base cannot be undone without the file system.
    if base.iter().any(|c| matches!(c, Component::ParentDir)) {
        return None;
    }
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..base.len() {
        rel.push("..");
    }
    for c in &path[common..] {
        rel.push(c.as_os_str());
    }
    if rel.as_os_str().is_empty() {
        return None;
    }
    Some(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_with_dotdot() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            relative_path(&p("/music/a/b.mp3"), &p("/music")),
            Some(p("a/b.mp3"))
        );
        assert_eq!(
            relative_path(&p("/music/a/b.mp3"), &p("/home/me/lists")),
            Some(p("../../../music/a/b.mp3"))
        );
        assert_eq!(
            relative_path(&p("/music/a/b.mp3"), &p("/music/a/")),
            Some(p("b.mp3"))
        );
        assert_eq!(relative_path(&p("music/b.mp3"), &p("/music")), None);
        assert_eq!(relative_path(&p("/music/b.mp3"), &p("/x/../y")), None);
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(
            file_uri(Path::new("/home/me/My Music/Été & co#1.mp3")),
            "file:///home/me/My%20Music/%C3%89t%C3%A9%20%26%20co%231.mp3"
        );
        assert_eq!(
            relative_uri(Path::new("../a:b/c d.wav")),
            "../a%3Ab/c%20d.wav"
        );
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            xml_escape("<Rock & \"Roll\"> 'n'\u{1}"),
            "&lt;Rock &amp; &quot;Roll&quot;&gt; &apos;n&apos;"
        );
    }

    #[test]
    fn formats_parse() {
        for f in Format::ALL {
            assert_eq!(f.key().parse::<Format>(), Ok(f));
        }
        assert!("pls".parse::<Format>().is_err());
    }
}
