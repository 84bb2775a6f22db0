//! Table rows (spreadsheets and CSV) to songs: which header names which field, and
//! how one row's cells become a [`NewSong`].

use super::{is_audio_file, split_tags, Item, AUDIO_EXTENSIONS};
use crate::lrc::strip_lrc;
use crate::store::{match_key, NewSong};
use moodtune_core::Emotion;
use std::path::Path;

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

pub(super) const HEADER_HINT: &str = "no header row with a title column (expected a header such as title, name, song, 歌名 or 歌曲 in the first 10 rows)";

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
                    "\"{}\" is not an audio file ({}); imported without audio",
                    p.display(),
                    AUDIO_EXTENSIONS.join(", ")
                )),
                _ => warnings.push(format!(
                    "audio file \"{}\" not found; imported without audio",
                    p.display()
                )),
            }
        }
        if song.language.is_none() {
            song.language = song
                .lyrics
                .as_deref()
                .and_then(moodtune_lyrics::language_code)
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

/// Finds the header among the first rows, then turns the rows below it into items.
/// `rows` yields (1-based row number, cells); `audio_base` resolves relative audio
/// paths, and without it the audio column is ignored.
pub(super) fn table_items(
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Lyrics' language comes from moodtune-lyrics' detector: French lyrics are no
    /// longer stored as "en".
    #[test]
    fn a_rows_language_is_detected_from_its_lyrics() {
        let cols = Columns::from_header(&["title".into(), "lyrics".into()]).unwrap();
        let language = |lyrics: &str| {
            let cells = ["Song".to_string(), lyrics.to_string()];
            let item = row_to_item(&cols, &cells, "t:2".into(), None, "t").unwrap();
            item.record.unwrap().language
        };
        assert_eq!(language("我们一起看日出").as_deref(), Some("zh"));
        assert_eq!(language("walking in the rain again").as_deref(), Some("en"));
        assert_eq!(language("さくら さくら").as_deref(), Some("ja"));
        assert_eq!(language("사랑해요").as_deref(), Some("ko"));
        assert_eq!(
            language("la nuit tombe sur la ville et je marche seul dans les rues"),
            None
        );
        assert_eq!(language("123 !!"), None);
    }
}
