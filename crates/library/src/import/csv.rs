//! CSV/TSV song lists: reading the file safely, guessing its encoding and delimiter.

use super::columns::{table_items, HEADER_HINT};
use super::{base_dir, ext_of, rows_over_limit, source_of, AudioLinks, ImportLimits, Item};
use crate::error::{Error, Result};
use std::path::Path;

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
pub(super) fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
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

pub(super) fn read_csv(path: &Path, audio: AudioLinks, limits: &ImportLimits) -> Result<Vec<Item>> {
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
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let loc = path.display().to_string();
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for rec in reader.records() {
        // Stopped at the first row past the limit, before the rows are turned into songs.
        if rows.len() + bad.len() >= limits.max_rows {
            return Err(Error::Import {
                path: path.to_path_buf(),
                message: rows_over_limit(limits.max_rows),
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Library;

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
