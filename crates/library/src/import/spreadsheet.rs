//! Spreadsheets through calamine, behind guards: zipped files are inflated within a
//! budget, ODS files' repeated cells and rows counted, .xls files' compound-file
//! structure and records checked ([`super::xls`]), rows capped while they are read, and
//! a parser panic becomes an error.

use super::columns::{table_items, HEADER_HINT};
use super::csv::read_regular_file;
use super::xls::check_xls;
use super::{base_dir, ext_of, rows_over_limit, source_of, AudioLinks, ImportLimits, Item};
use crate::error::{Error, Result};
use calamine::{Data, Reader, Sheets};
use std::io::{Read, Seek};
use std::path::Path;

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

/// Why a sheet was not read.
#[derive(Debug)]
enum SheetError {
    /// The sheet alone: the others are still read.
    Unreadable(String),
    /// A limit of the whole import was reached: nothing more is read.
    OverLimit(String),
}

impl From<String> for SheetError {
    fn from(why: String) -> Self {
        SheetError::Unreadable(why)
    }
}

/// What an import may still read of its sheets.
struct ReadBudget {
    max_rows: usize,
    rows_left: usize,
    cells_left: u64,
    text_left: u64,
}

impl ReadBudget {
    fn new(limits: &ImportLimits) -> Self {
        ReadBudget {
            max_rows: limits.max_rows,
            rows_left: limits.max_rows,
            cells_left: MAX_SHEET_CELLS,
            text_left: MAX_SHEET_TEXT_BYTES,
        }
    }

    /// Takes `bytes` of text, refusing it past the budget.
    fn take_text(&mut self, bytes: usize) -> std::result::Result<(), SheetError> {
        self.text_left = self.text_left.checked_sub(bytes as u64).ok_or_else(|| {
            SheetError::OverLimit(format!(
                "the sheets hold more than {} MiB of text; not a song list moodtune reads",
                MAX_SHEET_TEXT_BYTES >> 20
            ))
        })?;
        Ok(())
    }
}

/// One sheet's non-empty cells as they are read, within the import's budget.
struct SheetCells<'b> {
    rows: std::collections::BTreeMap<u32, Vec<String>>,
    budget: &'b mut ReadBudget,
}

impl SheetCells<'_> {
    /// Stores the text `make` gives at `(row, col)`; `raw_len` is the size of the value
    /// it is made from, checked before it is copied.
    fn place(
        &mut self,
        (row, col): (u32, u32),
        raw_len: usize,
        make: impl FnOnce() -> String,
    ) -> std::result::Result<(), SheetError> {
        if raw_len as u64 > self.budget.text_left {
            self.budget.take_text(raw_len)?;
        }
        let text = make();
        if text.is_empty() {
            return Ok(());
        }
        if col >= MAX_SHEET_COLUMNS {
            return Err(SheetError::Unreadable(format!(
                "a cell in column {} (row {}): a song sheet uses at most {MAX_SHEET_COLUMNS} columns",
                col + 1,
                row + 1
            )));
        }
        if !self.rows.contains_key(&row) {
            if self.budget.rows_left == 0 {
                return Err(SheetError::OverLimit(rows_over_limit(self.budget.max_rows)));
            }
            self.budget.rows_left -= 1;
        }
        if self.budget.cells_left == 0 {
            return Err(SheetError::OverLimit(format!(
                "the sheets hold more than {MAX_SHEET_CELLS} cells; not a song list moodtune reads"
            )));
        }
        self.budget.cells_left -= 1;
        self.budget.take_text(text.len())?;
        let cells = self.rows.entry(row).or_default();
        if cells.len() <= col as usize {
            cells.resize(col as usize + 1, String::new());
        }
        cells[col as usize] = text;
        Ok(())
    }
}

/// The size of the text a cell value holds, before it is copied.
fn raw_len(value: &calamine::DataRef<'_>) -> usize {
    use calamine::DataRef;
    match value {
        DataRef::SharedString(s) => s.len(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.len(),
        _ => 0,
    }
}

/// A sheet's non-empty rows as (1-based row number, cells from column A), within the
/// import's `budget` of rows, cells and text. Xlsx and xlsb sheets are read cell by cell,
/// stopping at the first cell past the budget: calamine's `worksheet_range` allocates the
/// whole bounding box, so a file with one cell at A1 and one at XFD1048576 would ask for
/// 17 billion cells. Xls and ODS sheets come whole from calamine, bounded before it
/// opened them ([`check_xls`], [`check_ods_content`]).
fn sheet_rows<RS: Read + Seek>(
    book: &mut Sheets<RS>,
    name: &str,
    budget: &mut ReadBudget,
) -> std::result::Result<Vec<(usize, Vec<String>)>, SheetError> {
    let mut sheet = SheetCells {
        rows: Default::default(),
        budget,
    };
    // The two cell readers share their methods but no trait.
    macro_rules! each_cell {
        ($workbook:expr) => {{
            let mut reader = $workbook
                .worksheet_cells_reader(name)
                .map_err(|e| e.to_string())?;
            while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
                let value = cell.get_value();
                sheet.place(cell.get_position(), raw_len(value), || {
                    cell_text(&Data::from(value.clone()))
                })?;
            }
        }};
    }
    match book {
        Sheets::Xlsx(x) => each_cell!(x),
        Sheets::Xlsb(x) => each_cell!(x),
        other => {
            let range = other.worksheet_range(name).map_err(|e| e.to_string())?;
            let (row0, col0) = range.start().unwrap_or((0, 0));
            for (i, r) in range.rows().enumerate() {
                for (j, cell) in r.iter().enumerate() {
                    sheet.place((row0 + i as u32, col0 + j as u32), 0, || cell_text(cell))?;
                }
            }
        }
    }
    Ok(sheet
        .rows
        .into_iter()
        .map(|(row, cells)| (row as usize + 1, cells))
        .collect())
}

/// Most cells an ODS or .xls file may expand to in calamine (a song list of 100,000 rows
/// by 20 columns is 2 M).
pub(super) const MAX_SHEET_CELLS: u64 = 10_000_000;

/// Most text an ODS or .xls file may expand to: 100,000 songs with 2 KB of lyrics each
/// is 200 MB.
pub(super) const MAX_SHEET_TEXT_BYTES: u64 = 256 << 20;

/// Largest .xls file read (it is read whole, as calamine does): the format's 65,536
/// rows by 256 columns fit in far less.
const MAX_XLS_BYTES: u64 = 256 << 20;

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
    /// Rows calamine builds for the finished tables.
    rows: u64,
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
        self.rows = self.rows.saturating_add(self.table_rows);
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

    fn check(&self, max_rows: usize) -> std::result::Result<(), String> {
        if self.expanded_cells() > MAX_SHEET_CELLS {
            return Err(format!(
                "the sheets ask for more than {MAX_SHEET_CELLS} cells (repeated cells or rows); \
                 not a song list moodtune reads"
            ));
        }
        if self.text_bytes > MAX_SHEET_TEXT_BYTES {
            return Err(format!(
                "the sheets ask for more than {} MiB of text (repeated cells, rows or spaces); \
                 not a song list moodtune reads",
                MAX_SHEET_TEXT_BYTES >> 20
            ));
        }
        if self.rows.saturating_add(self.table_rows) > max_rows as u64 {
            return Err(rows_over_limit(max_rows));
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
    max_rows: usize,
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
        // calamine finds its parts by name, ignoring case and the slashes' direction.
        let part = name.replace('\\', "/").to_ascii_lowercase();
        let scanned = if ods && name == "content.xml" {
            check_ods_content(std::io::BufReader::new(&mut limited), max_rows)
        } else if !ods && part == "xl/sharedstrings.xml" {
            count_xml_shared_strings(std::io::BufReader::new(&mut limited), MAX_SHARED_STRINGS)
        } else if !ods && part == "xl/sharedstrings.bin" {
            count_xlsb_shared_strings(std::io::BufReader::new(&mut limited), MAX_SHARED_STRINGS)
        } else {
            Ok(())
        };
        // The budget not yet reached, a refused part needs no more inflating.
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

/// Most shared strings an xlsx or xlsb file may hold: calamine keeps them all, each a
/// `String`, so a gigabyte of `<si/>` would cost gigabytes more.
const MAX_SHARED_STRINGS: u64 = MAX_SHEET_CELLS;

fn too_many_shared_strings(max: u64) -> String {
    format!("it holds more than {max} shared strings; not a song list moodtune reads")
}

/// Counts the `<si>` elements of an xlsx sharedStrings.xml, refusing more than `max`.
fn count_xml_shared_strings(
    xml: impl std::io::BufRead,
    max: u64,
) -> std::result::Result<(), String> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut count = 0u64;
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == b"si" => {
                count += 1;
                if count > max {
                    return Err(too_many_shared_strings(max));
                }
            }
            Ok(Event::Eof) => return Ok(()),
            // calamine reports a broken part itself.
            Err(_) => return Ok(()),
            Ok(_) => {}
        }
        buf.clear();
    }
}

/// Counts the BrtSSTItem records of an xlsb sharedStrings.bin, refusing more than `max`.
fn count_xlsb_shared_strings(
    mut bin: impl std::io::BufRead,
    max: u64,
) -> std::result::Result<(), String> {
    fn byte(r: &mut impl std::io::Read) -> Option<u8> {
        let mut b = [0u8];
        r.read_exact(&mut b).ok()?;
        Some(b[0])
    }
    let mut count = 0u64;
    // Records as calamine reads them: a type of 1 or 2 bytes, a length of 1 to 4.
    // A part that ends early is calamine's to report.
    loop {
        let Some(first) = byte(&mut bin) else {
            return Ok(());
        };
        let typ = if first & 0x80 != 0 {
            let Some(second) = byte(&mut bin) else {
                return Ok(());
            };
            u16::from(first & 0x7F) + (u16::from(second & 0x7F) << 7)
        } else {
            u16::from(first)
        };
        let mut len = 0u64;
        for i in 0..4 {
            let Some(b) = byte(&mut bin) else {
                return Ok(());
            };
            len += u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        if typ == 0x0013 {
            count += 1;
            if count > max {
                return Err(too_many_shared_strings(max));
            }
        }
        let skipped = std::io::copy(&mut (&mut bin).take(len), &mut std::io::sink());
        if skipped.ok() != Some(len) {
            return Ok(());
        }
    }
}

/// Refuses an ODS content.xml that calamine would expand past [`MAX_SHEET_CELLS`] cells,
/// [`MAX_SHEET_TEXT_BYTES`] of text or `max_rows` rows, before calamine opens it.
fn check_ods_content(
    content: impl std::io::BufRead,
    max_rows: usize,
) -> std::result::Result<(), String> {
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
                    budget.check(max_rows)?;
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
    budget.check(max_rows)
}

/// Runs a third-party file parser, turning a panic on a malformed file into the error
/// `malformed` makes of the panic's message: calamine's xls reader, for one, indexes
/// records without bounds checks.
pub(super) fn contain_parser_panic<T, E>(
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

pub(super) fn read_spreadsheet(
    path: &Path,
    audio: AudioLinks,
    limits: &ImportLimits,
) -> Result<Vec<Item>> {
    contain_parser_panic(
        || read_spreadsheet_unguarded(path, audio, limits),
        |detail| Error::Import {
            path: path.to_path_buf(),
            message: format!("malformed spreadsheet (the reader failed: {detail})"),
        },
    )
}

fn read_spreadsheet_unguarded(
    path: &Path,
    audio: AudioLinks,
    limits: &ImportLimits,
) -> Result<Vec<Item>> {
    let import_err = |message: String| Error::Import {
        path: path.to_path_buf(),
        message,
    };
    let unreadable = |e: calamine::Error| import_err(format!("cannot read spreadsheet: {e}"));
    let ext = ext_of(path);
    if ext == "xls" {
        // Checked and parsed from the same bytes, read once.
        let mut bytes = read_regular_file(path, MAX_XLS_BYTES)?;
        check_xls(&mut bytes).map_err(import_err)?;
        let book = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
            .map_err(|e| unreadable(calamine::Error::Xls(e)))?;
        return read_book(Sheets::Xls(book), path, audio, limits);
    }
    if !std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .is_file()
    {
        return Err(import_err("not a regular file".into()));
    }
    check_zipped_spreadsheet(path, MAX_UNZIPPED_BYTES, ext == "ods", limits.max_rows)
        .map_err(import_err)?;
    // By the extension checked above, never by calamine's guess from the content.
    let book = match ext.as_str() {
        "xlsx" | "xlsm" => Sheets::Xlsx(
            calamine::open_workbook(path).map_err(|e| unreadable(calamine::Error::Xlsx(e)))?,
        ),
        "xlsb" => Sheets::Xlsb(
            calamine::open_workbook(path).map_err(|e| unreadable(calamine::Error::Xlsb(e)))?,
        ),
        "ods" => Sheets::Ods(
            calamine::open_workbook(path).map_err(|e| unreadable(calamine::Error::Ods(e)))?,
        ),
        other => return Err(import_err(format!("not a spreadsheet type: {other:?}"))),
    };
    read_book(book, path, audio, limits)
}

fn read_book<RS: Read + Seek>(
    mut book: Sheets<RS>,
    path: &Path,
    audio: AudioLinks,
    limits: &ImportLimits,
) -> Result<Vec<Item>> {
    let source = source_of(path);
    let base = (audio == AudioLinks::Follow).then(|| base_dir(path));
    let mut items = Vec::new();
    let mut any_header = false;
    let mut sheet_issues = Vec::new();
    let mut budget = ReadBudget::new(limits);
    for name in book.sheet_names() {
        let loc = format!("{}:{name}", path.display());
        let rows = match sheet_rows(&mut book, &name, &mut budget) {
            Ok(rows) => rows,
            Err(SheetError::OverLimit(message)) => {
                return Err(Error::Import {
                    path: path.to_path_buf(),
                    message,
                })
            }
            Err(SheetError::Unreadable(e)) => {
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
        return Err(Error::Import {
            path: path.to_path_buf(),
            message: HEADER_HINT.to_string(),
        });
    }
    items.extend(sheet_issues);
    Ok(items)
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
        let err = check_zipped_spreadsheet(&path, 2 << 20, false, usize::MAX).unwrap_err();
        assert!(
            err.contains("more than 2 MiB (at xl/sharedStrings.xml)"),
            "{err}"
        );
        check_zipped_spreadsheet(&path, 4 << 20, false, usize::MAX).unwrap();
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
        let err = check_zipped_spreadsheet(&path, 2 << 20, true, usize::MAX).unwrap_err();
        assert!(err.contains("more than 2 MiB (at content.xml)"), "{err}");
        check_zipped_spreadsheet(&path, 4 << 20, true, usize::MAX).unwrap();

        let empty = dir.path().join("empty.ods");
        write_deflated_zip(
            &empty,
            &[(
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            )],
        );
        let err = check_zipped_spreadsheet(&empty, 2 << 20, true, usize::MAX).unwrap_err();
        assert!(err.contains("no content.xml"), "{err}");
    }

    #[test]
    fn shared_strings_are_counted_before_calamine_keeps_them() {
        let xml = format!("<sst>{}</sst>", "<si><t>a</t></si><x:si/>".repeat(3));
        count_xml_shared_strings(xml.as_bytes(), 6).unwrap();
        let err = count_xml_shared_strings(xml.as_bytes(), 5).unwrap_err();
        assert!(err.contains("more than 5 shared strings"), "{err}");

        // BrtBeginSst, then BrtSSTItems (type 0x13) of 5 bytes, one with a 2-byte length
        // of 130, and a record with a 2-byte type.
        let mut bin = vec![0x9F, 0x01, 8, 0, 0, 0, 0, 0, 0, 0, 0];
        for _ in 0..3 {
            bin.extend([0x13, 5, 0, 0, 0, 0, 0]);
        }
        bin.extend([0x13, 0x82, 0x01]);
        bin.extend([0u8; 130]);
        bin.extend([0xA0, 0x01, 1, 0]);
        count_xlsb_shared_strings(&bin[..], 4).unwrap();
        let err = count_xlsb_shared_strings(&bin[..], 3).unwrap_err();
        assert!(err.contains("more than 3 shared strings"), "{err}");
    }

    #[test]
    fn cells_are_stored_within_the_imports_budget() {
        let mut budget = ReadBudget {
            max_rows: 2,
            rows_left: 2,
            cells_left: 3,
            text_left: 10,
        };
        let mut sheet = SheetCells {
            rows: Default::default(),
            budget: &mut budget,
        };
        let text = |s: &str| {
            let s = s.to_string();
            move || s
        };
        sheet.place((0, 0), 0, text("ab")).unwrap();
        sheet.place((0, 1), 0, String::new).unwrap();
        sheet.place((0, 2), 0, text("cd")).unwrap();
        // A value too long is refused before it is copied.
        let err = sheet.place((1, 0), 100, || unreachable!()).err().unwrap();
        assert!(matches!(err, SheetError::OverLimit(m) if m.contains("MiB of text")));
        sheet.place((1, 0), 0, text("ef")).unwrap();
        let err = sheet.place((2, 0), 0, text("g")).err().unwrap();
        assert!(matches!(err, SheetError::OverLimit(m) if m == rows_over_limit(2)));
        let err = sheet.place((1, 1), 0, text("g")).err().unwrap();
        assert!(matches!(err, SheetError::OverLimit(m) if m.contains("cells")));
        let err = sheet.place((0, 300), 0, text("h")).err().unwrap();
        assert!(matches!(err, SheetError::Unreadable(m) if m.contains("column 301")));
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
}
