//! Export to xlsx or CSV in the same header layout the importer reads, so an export
//! can be edited in a spreadsheet and imported back (it merges into the same songs).
//! Files are written to a temporary file beside the target and renamed into place.

use crate::error::{Error, Result};
use crate::store::{Library, Song};
use std::path::Path;

/// Column headers. `emotion` holds only the manual label, so re-importing an export
/// never turns a model's guess into a user's label.
const HEADERS: &[&str] = &[
    "moodtune_id",
    "title",
    "artist",
    "album",
    "duration",
    "language",
    "tags",
    "emotion",
    "predicted_emotion",
    "confidence",
    "model_version",
    "drivers",
    "audio",
    "lyrics",
];

fn row(song: &Song) -> Vec<String> {
    let p = song.predicted.as_ref();
    vec![
        song.id.to_string(),
        song.title.clone(),
        song.artist.clone(),
        song.album.clone().unwrap_or_default(),
        song.duration_s
            .map(|d| format!("{d:.1}"))
            .unwrap_or_default(),
        song.language.clone().unwrap_or_default(),
        song.tags.join(", "),
        song.manual_emotion
            .map(|e| e.key().to_string())
            .unwrap_or_default(),
        p.map(|p| p.emotion.key().to_string()).unwrap_or_default(),
        p.map(|p| format!("{:.3}", p.confidence))
            .unwrap_or_default(),
        p.map(|p| p.model_version.clone()).unwrap_or_default(),
        p.map(|p| p.drivers.join(", ")).unwrap_or_default(),
        song.audio_path
            .as_ref()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default(),
        song.lyrics.clone().unwrap_or_default(),
    ]
}

impl Library {
    /// Writes every song to `path`, as xlsx or CSV by its extension. Returns the number
    /// of songs written. The target is replaced only once the new file is complete.
    pub fn export(&self, path: &Path) -> Result<usize> {
        let songs = self.songs()?;
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let bytes = match ext.as_str() {
            "xlsx" => xlsx_bytes(&songs).map_err(|message| Error::Export {
                path: path.to_path_buf(),
                message,
            })?,
            "csv" => csv_bytes(&songs).map_err(|e| Error::Export {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?,
            _ => {
                return Err(Error::Export {
                    path: path.to_path_buf(),
                    message: "unsupported export format: use a .xlsx or .csv file name".into(),
                })
            }
        };
        write_atomically(path, &bytes)?;
        Ok(songs.len())
    }
}

fn csv_bytes(songs: &[Song]) -> std::result::Result<Vec<u8>, csv::Error> {
    // A BOM makes Excel read the file as UTF-8 (Chinese text otherwise turns to mojibake).
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(HEADERS)?;
        for s in songs {
            w.write_record(row(s).into_iter().map(guard_formula))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// Characters that make a spreadsheet read a CSV cell as a formula (OWASP's list).
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// Whether a CSV cell gets (on export) or had (on import, after its first `'`) the
/// formula guard: it starts with a formula character after any quotes. Counting the
/// quotes makes text such as `'=x` round-trip too.
pub(crate) fn needs_formula_guard(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// Prefixes `'` to a cell a spreadsheet would run as a formula: a title like
/// `=HYPERLINK(...)` from a downloaded tag must stay text when the export is opened in
/// Excel. The CSV importer drops the prefix again, so exports still round-trip.
/// (xlsx needs none of this: its cells are written as typed strings.)
fn guard_formula(cell: String) -> String {
    if needs_formula_guard(&cell) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Most characters an xlsx cell holds (Excel's limit, enforced by rust_xlsxwriter).
const XLSX_CELL_CHARS: usize = 32_767;

/// Builds the workbook in one pass over the songs; a cell past Excel's limit is an
/// error naming the song, not a file Excel would refuse or cut.
fn xlsx_bytes(songs: &[Song]) -> std::result::Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let xlsx_err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Songs").map_err(xlsx_err)?;
    let bold = Format::new().set_bold();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &bold)
            .map_err(xlsx_err)?;
    }
    for (r, s) in songs.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, (column, v)) in HEADERS.iter().zip(row(s)).enumerate() {
            let c = c as u16;
            let chars = v.chars().count();
            if chars > XLSX_CELL_CHARS {
                // The title may be the oversized cell itself: quote its start only.
                let mut title: String = s.title.chars().take(60).collect();
                if title.len() < s.title.len() {
                    title.push('…');
                }
                return Err(format!(
                    "song {} \"{title}\": its {column} has {chars} characters, more than the \
                     {XLSX_CELL_CHARS} an xlsx cell holds; export to .csv to keep it whole",
                    s.id
                ));
            }
            match (*column, s.duration_s) {
                ("moodtune_id", _) => sheet.write_number(r, c, s.id as f64),
                ("duration", Some(d)) => sheet.write_number(r, c, d),
                _ if v.is_empty() => continue,
                _ => sheet.write_string(r, c, &v),
            }
            .map_err(xlsx_err)?;
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx_err)?;
    for (column, width) in [(1, 28), (2, 20), (6, 28)] {
        sheet.set_column_width(column, width).map_err(xlsx_err)?;
    }
    book.save_to_buffer().map_err(xlsx_err)
}

/// Writes `bytes` atomically, so a crash never leaves a half-written export where the
/// old one was.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    moodtune_core::write_bytes_atomically(path, bytes).map_err(|e| Error::io(path, e))
}
