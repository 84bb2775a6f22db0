//! A guard for `.xls` files, run on the file's bytes before calamine sees them.
//!
//! calamine's xls reader trusts the sizes a file declares: its compound-file (CFB/OLE2)
//! reader reserves memory from the header's sector counts and follows sector chains
//! wherever they point, and its BIFF reader reserves a sheet's cells from the DIMENSIONS
//! record and expands every cell into one rectangle. A hand-made 1 KiB file can so ask for
//! terabytes, and a failed allocation aborts the process, which no `catch_unwind` stops.
//!
//! [`check_xls`] reads the file the way calamine will (the same fields, the same chains,
//! the same records) and refuses it unless every size is bounded by the file's length
//! and what calamine then builds fits [`MAX_SHEET_CELLS`] cells and
//! [`MAX_SHEET_TEXT_BYTES`] of text. Where calamine would merely fail or panic on a
//! malformed file (a panic is contained by the caller), the guard may let it through.
//!
//! A VBA project (macros) is hidden from calamine instead: it would decompress the
//! project's modules, as many times and as large as the project's own directory says,
//! and a song list needs none of it.

use super::spreadsheet::{MAX_SHEET_CELLS, MAX_SHEET_TEXT_BYTES};

/// A chain's end.
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
/// DIFAT entries at or above this are not FAT sectors (calamine skips them).
const DIFSECT: u32 = 0xFFFF_FFFC;
/// Sector numbers are below this; calamine stops the DIFAT chain at or above it.
const MAXREGSECT: u32 = 0xFFFF_FFFA;
/// Streams shorter than this live in the mini stream (calamine's fixed cutoff).
const MINI_CUTOFF: u64 = 4096;
const MINI_SECTOR: u64 = 64;
/// calamine reserves 4 bytes for each of the header's "DIFAT count" (which it reads from
/// the wrong offset: the high half of the first mini FAT sector and the low half of the
/// mini FAT count). A real file's mini stream needs a few mini FAT sectors; this allows 255.
const MAX_MISREAD_DIFAT_RESERVE: u64 = 64 << 20;
/// calamine scans each sheet's records from its offset to its EOF record; sheets that
/// overlap make it scan the same bytes again. Real sheets do not overlap.
const MAX_SHEET_SCANS: u64 = 16;
/// Bytes moved while calamine builds formula text (it inserts at the front of strings).
const MAX_FORMULA_WORK: u64 = 1 << 32;
/// UTF-8 bytes one decoded character may take, whatever the file's code page.
const BYTES_PER_CHAR: u64 = 6;

type Check<T = ()> = std::result::Result<T, String>;

fn invalid(why: impl std::fmt::Display) -> String {
    format!("not a valid .xls: {why}")
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn words(bytes: &[u8]) -> Check<Vec<u32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(invalid(
            "a sector table is cut short by the end of the file",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect())
}

/// The name calamine looks for to read a VBA project.
const VBA_STORAGE: &str = "_VBA_PROJECT_CUR";

/// Refuses `bytes` (a whole `.xls` file) when calamine would allocate without bound on
/// it, and renames its VBA project so that calamine passes it by; see the module docs.
pub(super) fn check_xls(bytes: &mut [u8]) -> Check {
    let vba_entries = {
        let cfb = Cfb::parse(bytes)?;
        check_biff(&cfb.workbook_stream()?)?;
        cfb.entries
            .iter()
            .filter(|e| e.name == VBA_STORAGE)
            .map(|e| e.offset)
            .collect::<Vec<_>>()
    };
    for at in vba_entries {
        // The name's first UTF-16 unit: "_VBA_PROJECT_CUR" becomes "xVBA_PROJECT_CUR".
        bytes[at] = b'x';
        bytes[at + 1] = 0;
    }
    Ok(())
}

/// Where a stream's sectors are: the file's sectors or the mini stream's.
#[derive(Clone, Copy)]
enum Space {
    Regular,
    Mini,
}

struct Cfb<'a> {
    bytes: &'a [u8],
    sector_size: u64,
    fat: Vec<u32>,
    /// Per sector: whether its chain ends in ENDOFCHAIN within the file, without a loop.
    good: Vec<bool>,
    mini_stream: Vec<u8>,
    mini_fat: Vec<u32>,
    mini_good: Vec<bool>,
    /// calamine read the mini stream and mini FAT (the header's mini FAT count is not 0).
    has_mini: bool,
    entries: Vec<Entry>,
}

struct Entry {
    name: String,
    start: u32,
    len: u64,
    /// Where the entry is in the file.
    offset: usize,
}

impl<'a> Cfb<'a> {
    fn parse(bytes: &'a [u8]) -> Check<Cfb<'a>> {
        let len = bytes.len() as u64;
        if !bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            return Err(if bytes.starts_with(b"PK\x03\x04") {
                "not a .xls workbook but a zipped spreadsheet (xlsx, xlsm, xlsb or ods): give it its real extension".into()
            } else {
                "not a .xls workbook (no compound-file signature): perhaps another format saved with a .xls name".into()
            });
        }
        if bytes.len() < 512 {
            return Err(invalid(format!(
                "the file ends inside its header ({len} bytes)"
            )));
        }
        let h = &bytes[..512];
        let field = |at: usize| u32_at(h, at).unwrap_or_default();
        let version = u16_at(h, 26).unwrap_or_default();
        let shift = u16_at(h, 30).unwrap_or_default();
        let sector_size: u64 = match (version, shift) {
            (3, 9) => 512,
            (4, 12) => 4096,
            (3 | 4, s) => {
                return Err(invalid(format!(
                    "its header gives sector shift {s} for format version {version} (expected 9 for version 3, 12 for version 4)"
                )))
            }
            (v, _) => {
                return Err(invalid(format!(
                    "its header gives format version {v} (expected 3 or 4)"
                )))
            }
        };
        let mini_shift = u16_at(h, 32).unwrap_or_default();
        if mini_shift != 6 {
            return Err(invalid(format!(
                "its header gives mini sector shift {mini_shift} (expected 6)"
            )));
        }
        if len < sector_size {
            return Err(invalid(format!(
                "the file ends inside its {sector_size}-byte header ({len} bytes)"
            )));
        }
        // The sectors after the header; a last partial one is read as far as it goes.
        let sectors = (len - sector_size).div_ceil(sector_size);
        let room = |count: u32, what: &str| -> Check {
            if u64::from(count) > sectors {
                return Err(invalid(format!(
                    "its header declares {count} {what} but the file has room for {sectors}"
                )));
            }
            Ok(())
        };
        let in_file = |id: u32, what: &str| -> Check {
            if u64::from(id) >= sectors {
                return Err(invalid(format!(
                    "its header puts the {what} at sector {id}, past the file's {sectors} sectors"
                )));
            }
            Ok(())
        };

        let dir_sectors = field(40);
        if version == 3 && dir_sectors != 0 {
            return Err(invalid(format!(
                "its header declares {dir_sectors} directory sectors (a version 3 file must say 0)"
            )));
        }
        room(dir_sectors, "directory sectors")?;
        let fat_sectors = field(44);
        room(fat_sectors, "FAT sectors")?;
        let dir_start = field(48);
        in_file(dir_start, "first directory sector")?;
        let mini_fat_start = field(60);
        let mini_fat_sectors = field(64);
        room(mini_fat_sectors, "mini FAT sectors")?;
        if mini_fat_sectors > 0 {
            in_file(mini_fat_start, "first mini FAT sector")?;
        }
        let misread_difat = u64::from(u32_at(h, 62).unwrap_or_default());
        if misread_difat * 4 > MAX_MISREAD_DIFAT_RESERVE {
            return Err(invalid(format!(
                "its header declares {mini_fat_sectors} mini FAT sectors from sector {mini_fat_start}, far more than its small streams can fill"
            )));
        }
        let difat_start = field(68);
        let difat_sectors = field(72);
        room(difat_sectors, "DIFAT sectors")?;
        if difat_start < MAXREGSECT {
            in_file(difat_start, "first DIFAT sector")?;
        }

        let mut cfb = Cfb {
            bytes,
            sector_size,
            fat: Vec::new(),
            good: Vec::new(),
            mini_stream: Vec::new(),
            mini_fat: Vec::new(),
            mini_good: Vec::new(),
            has_mini: mini_fat_sectors > 0,
            entries: Vec::new(),
        };

        // The DIFAT: 109 entries in the header, then a chain of DIFAT sectors whose last
        // entry names the next one, read as calamine reads it.
        let mut difat = words(&h[76..512])?;
        let mut seen = vec![false; sectors as usize];
        let mut id = difat_start;
        while id < MAXREGSECT {
            if u64::from(id) >= sectors {
                return Err(invalid(format!(
                    "its DIFAT chain points at sector {id}, past the file's {sectors} sectors"
                )));
            }
            if std::mem::replace(&mut seen[id as usize], true) {
                return Err(invalid("its DIFAT chain loops"));
            }
            difat.extend(words(cfb.sector(id))?);
            id = difat
                .pop()
                .ok_or_else(|| invalid("a DIFAT sector is cut short by the end of the file"))?;
        }
        let fat_ids: Vec<u32> = difat.into_iter().filter(|id| *id < DIFSECT).collect();
        if fat_ids.len() as u64 > u64::from(fat_sectors) {
            return Err(invalid(format!(
                "its DIFAT lists {} FAT sectors but its header declares {fat_sectors}",
                fat_ids.len()
            )));
        }
        let mut fat = Vec::new();
        for id in fat_ids {
            if u64::from(id) >= sectors {
                return Err(invalid(format!(
                    "its DIFAT puts a FAT sector at sector {id}, past the file's {sectors} sectors"
                )));
            }
            fat.extend(words(cfb.sector(id))?);
        }
        cfb.good = good_chains(&fat, sectors);
        cfb.fat = fat;

        // The directory, 128 bytes an entry.
        let dir_ids = cfb.chain(Space::Regular, dir_start, "the directory")?;
        let mut dir = cfb.chain_bytes(Space::Regular, dir_start, "the directory")?;
        if dir_sectors > 0 {
            dir.truncate((u64::from(dir_sectors) * sector_size) as usize);
        }
        if !dir.len().is_multiple_of(128) {
            return Err(invalid("its directory is cut short by the end of the file"));
        }
        for (k, e) in dir.chunks_exact(128).enumerate() {
            let at = 128 * k as u64;
            let sector = u64::from(dir_ids[(at / sector_size) as usize]);
            let offset = ((sector + 1) * sector_size + at % sector_size) as usize;
            let units: Vec<u16> = e[..64]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|u| *u != 0)
                .collect();
            let len = if sector_size == 512 {
                u64::from(u32_at(e, 120).unwrap_or_default())
            } else {
                u64_at(e, 120).unwrap_or_default()
            };
            cfb.entries.push(Entry {
                name: String::from_utf16_lossy(&units),
                start: u32_at(e, 116).unwrap_or_default(),
                len,
                offset,
            });
        }
        let Some(root) = cfb.entries.first() else {
            return Err(invalid("its directory is empty"));
        };
        let (root_start, root_len) = (root.start, root.len);

        // The mini stream (the root entry's stream) and the mini FAT, read only when the
        // header declares mini FAT sectors.
        if cfb.has_mini {
            if root_len > len {
                return Err(invalid(format!(
                    "its root entry declares a mini stream of {root_len} bytes, more than the file's {len}"
                )));
            }
            let mut mini = if root_start == ENDOFCHAIN {
                Vec::new()
            } else {
                cfb.chain_bytes(Space::Regular, root_start, "the mini stream")?
            };
            if root_len > 0 {
                mini.truncate(root_len as usize);
            }
            let mut mini_fat = cfb.chain_bytes(Space::Regular, mini_fat_start, "the mini FAT")?;
            mini_fat.truncate((u64::from(mini_fat_sectors) * sector_size) as usize);
            cfb.mini_fat = words(&mini_fat)?;
            let mini_sectors = (mini.len() as u64).div_ceil(MINI_SECTOR);
            cfb.mini_good = good_chains(&cfb.mini_fat, mini_sectors);
            cfb.mini_stream = mini;
        }

        // The streams calamine opens by name: Workbook, or Book (the VBA project's are
        // hidden from it).
        for e in &cfb.entries {
            if matches!(e.name.as_str(), "Workbook" | "Book") {
                cfb.check_stream(e)?;
            }
        }
        Ok(cfb)
    }

    /// Sector `id`'s bytes (the last one may be short).
    fn sector(&self, id: u32) -> &'a [u8] {
        let len = self.bytes.len() as u64;
        let start = (u64::from(id) + 1) * self.sector_size;
        let end = (start + self.sector_size).min(len);
        &self.bytes[start.min(len) as usize..end as usize]
    }

    fn check_stream(&self, e: &Entry) -> Check {
        let len = self.bytes.len() as u64;
        if e.len > len {
            return Err(invalid(format!(
                "its stream {:?} declares {} bytes, more than the file's {len}",
                e.name, e.len
            )));
        }
        if e.start == ENDOFCHAIN {
            return Ok(());
        }
        let ok = if e.len < MINI_CUTOFF {
            if self.has_mini {
                self.mini_good.get(e.start as usize) == Some(&true)
            } else {
                // calamine reads the sector before it finds no mini FAT: keep that small.
                (u64::from(e.start) + 1) * MINI_SECTOR <= len
            }
        } else {
            self.good.get(e.start as usize) == Some(&true)
        };
        if !ok {
            return Err(invalid(format!(
                "its stream {:?} starts at sector {}, which has no chain of sectors ending inside the file",
                e.name, e.start
            )));
        }
        Ok(())
    }

    /// The sectors of the chain from `start`, which must be a good chain.
    fn chain(&self, space: Space, start: u32, what: &str) -> Check<Vec<u32>> {
        let (table, good) = match space {
            Space::Regular => (&self.fat, &self.good),
            Space::Mini => (&self.mini_fat, &self.mini_good),
        };
        if good.get(start as usize) != Some(&true) {
            return Err(invalid(format!(
                "{what} starts at sector {start}, which has no chain of sectors ending inside the file"
            )));
        }
        let mut ids = Vec::new();
        let mut id = start;
        while id != ENDOFCHAIN {
            ids.push(id);
            id = table[id as usize];
        }
        Ok(ids)
    }

    /// The bytes of the chain from `start`, which must be a good chain.
    fn chain_bytes(&self, space: Space, start: u32, what: &str) -> Check<Vec<u8>> {
        let mut out = Vec::new();
        for id in self.chain(space, start, what)? {
            match space {
                Space::Regular => out.extend_from_slice(self.sector(id)),
                Space::Mini => {
                    let at = (u64::from(id) * MINI_SECTOR) as usize;
                    let end = (at + MINI_SECTOR as usize).min(self.mini_stream.len());
                    out.extend_from_slice(&self.mini_stream[at.min(end)..end]);
                }
            }
        }
        Ok(out)
    }

    /// The Workbook stream (BIFF8), or the Book stream (BIFF5), as calamine reads it.
    fn workbook_stream(&self) -> Check<Vec<u8>> {
        let entry = ["Workbook", "Book"]
            .iter()
            .find_map(|name| self.entries.iter().find(|e| e.name == *name))
            .ok_or_else(|| {
                "not a .xls workbook: it has no Workbook stream (another Office document?)"
                    .to_string()
            })?;
        if entry.start == ENDOFCHAIN {
            return Ok(Vec::new());
        }
        let space = if entry.len < MINI_CUTOFF {
            Space::Mini
        } else {
            Space::Regular
        };
        if matches!(space, Space::Mini) && !self.has_mini {
            // calamine fails on it; nothing to scan.
            return Ok(Vec::new());
        }
        let mut stream = self.chain_bytes(space, entry.start, "the Workbook stream")?;
        if entry.len > 0 {
            stream.truncate(entry.len as usize);
        }
        Ok(stream)
    }
}

/// For every entry of a sector table, whether following it from there reaches
/// ENDOFCHAIN through sectors below `sectors` that the table covers, without a loop:
/// the chains calamine can follow without reading past the file or forever.
fn good_chains(table: &[u32], sectors: u64) -> Vec<bool> {
    const UNKNOWN: u8 = 0;
    const VISITING: u8 = 1;
    const GOOD: u8 = 2;
    const BAD: u8 = 3;
    let n = (table.len() as u64).min(sectors) as usize;
    let mut state = vec![UNKNOWN; n];
    let mut path = Vec::new();
    for first in 0..n {
        let mut id = first;
        let verdict = loop {
            match state[id] {
                GOOD => break GOOD,
                BAD | VISITING => break BAD,
                _ => {}
            }
            state[id] = VISITING;
            path.push(id);
            let next = table[id];
            if next == ENDOFCHAIN {
                break GOOD;
            }
            if next as usize >= n {
                break BAD;
            }
            id = next as usize;
        };
        for id in path.drain(..) {
            state[id] = verdict;
        }
    }
    state.into_iter().map(|s| s == GOOD).collect()
}

/// One BIFF record with the CONTINUE records after it, split as calamine splits them.
struct Record<'a> {
    typ: u16,
    data: &'a [u8],
    cont: std::collections::VecDeque<&'a [u8]>,
}

impl Record<'_> {
    fn next_part(&mut self) -> bool {
        match self.cont.pop_front() {
            Some(part) => {
                self.data = part;
                true
            }
            None => false,
        }
    }
}

/// calamine's record iterator: stops at the stream's end or at a record cut short.
fn records(mut stream: &[u8]) -> impl Iterator<Item = Record<'_>> {
    std::iter::from_fn(move || {
        let typ = u16_at(stream, 0)?;
        let len = usize::from(u16_at(stream, 2)?);
        let data = stream.get(4..4 + len)?;
        stream = &stream[4 + len..];
        let mut cont = std::collections::VecDeque::new();
        while stream.len() > 4 && u16_at(stream, 0) == Some(0x003C) {
            let len = usize::from(u16_at(stream, 2)?);
            cont.push_back(stream.get(4..4 + len)?);
            stream = &stream[4 + len..];
        }
        Some(Record { typ, data, cont })
    })
}

/// The character counts of the shared strings, read as calamine reads them; `None` where
/// calamine would fail (then it reads no cell of the file).
fn shared_string_lengths(mut r: Record<'_>) -> Option<Vec<u64>> {
    r.data = r.data.get(8..)?;
    let mut out = Vec::new();
    while !r.data.is_empty() || r.next_part() {
        let cch = usize::from(u16_at(r.data, 0)?);
        let flags = *r.data.get(2)?;
        r.data = &r.data[3..];
        let mut high = flags & 1 != 0;
        let mut runs = 0;
        let mut ext = 0;
        if flags & 0x8 != 0 {
            runs = usize::from(u16_at(r.data, 0)?);
            r.data = &r.data[2..];
        }
        if flags & 0x4 != 0 {
            ext = u32_at(r.data, 0)? as i32 as usize;
            r.data = &r.data[4..];
        }
        let mut left = cch;
        while left > 0 {
            let (took, used) = if high {
                let n = (r.data.len() / 2).min(left);
                (n, 2 * n)
            } else {
                let n = r.data.len().min(left);
                (n, n)
            };
            r.data = &r.data[used..];
            left -= took;
            if left > 0 {
                if !r.next_part() {
                    return None;
                }
                high = *r.data.first()? & 1 != 0;
                r.data = &r.data[1..];
            }
        }
        let mut skip = runs.checked_mul(4)?.checked_add(ext)?;
        while skip > 0 {
            if r.data.is_empty() && !r.next_part() {
                return None;
            }
            let n = skip.min(r.data.len());
            r.data = &r.data[n..];
            skip -= n;
        }
        out.push(cch as u64);
    }
    Some(out)
}

/// What calamine builds from one sheet's records.
#[derive(Clone, Copy, Default)]
struct SheetCost {
    /// Cells of the value rectangle and of the formula rectangle.
    cells: u64,
    text: u64,
    formula_work: u64,
    /// Bytes calamine scans for the sheet.
    scanned: u64,
}

#[derive(Default)]
struct Bounds(Option<(u32, u32, u32, u32)>);

impl Bounds {
    fn add(&mut self, row: u32, col: u32) {
        self.0 = Some(match self.0 {
            None => (row, row, col, col),
            Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(col), c1.max(col)),
        });
    }

    fn area(&self) -> u64 {
        self.0.map_or(0, |(r0, r1, c0, c1)| {
            u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1)
        })
    }
}

/// Names formulas can print: the longest sheet name and defined name, in UTF-8 bytes.
#[derive(Clone, Copy, Default)]
struct NameSizes {
    sheet: u64,
    defined: u64,
}

fn check_biff(stream: &[u8]) -> Check {
    let mut sheets = Vec::new();
    let mut names = NameSizes::default();
    let mut shared: Vec<u64> = Vec::new();
    let mut unknown_shared = 0u64;
    let mut text = 0u64;
    for r in records(stream) {
        match r.typ {
            // BoundSheet8: where a sheet's records start, and its name.
            0x0085 => {
                if let Some(pos) = u32_at(r.data, 0) {
                    sheets.push(pos as usize);
                }
                let cch = u64::from(r.data.get(6).copied().unwrap_or(0));
                names.sheet = names.sheet.max(cch * BYTES_PER_CHAR);
            }
            // Lbl: a defined name.
            0x0018 => {
                let cch = u64::from(r.data.get(3).copied().unwrap_or(0));
                names.defined = names.defined.max(cch * BYTES_PER_CHAR);
            }
            0x00FC => {
                let bytes = r.data.len() + r.cont.iter().map(|c| c.len()).sum::<usize>();
                // Where calamine would read the table otherwise than this mirror does,
                // any cell may show a string as long as the whole table.
                let longest = (bytes as u64).min(u64::from(u16::MAX));
                (shared, unknown_shared) = match shared_string_lengths(r) {
                    Some(lengths) => (lengths, 0),
                    None => (Vec::new(), longest),
                };
                text += (shared.iter().sum::<u64>() + unknown_shared) * BYTES_PER_CHAR;
            }
            0x000A => break,
            _ => {}
        }
    }
    let mut costs: std::collections::HashMap<usize, SheetCost> = Default::default();
    let mut total = SheetCost {
        text,
        ..SheetCost::default()
    };
    for pos in sheets {
        let Some(sheet) = stream.get(pos..) else {
            // calamine fails on it.
            continue;
        };
        let cost = match costs.get(&pos) {
            Some(c) => *c,
            None => {
                let c = sheet_cost(sheet, &shared, unknown_shared, names)?;
                costs.insert(pos, c);
                c
            }
        };
        total.cells = total.cells.saturating_add(cost.cells);
        total.text = total.text.saturating_add(cost.text);
        total.formula_work = total.formula_work.saturating_add(cost.formula_work);
        total.scanned = total.scanned.saturating_add(cost.scanned);
    }
    if total.scanned > MAX_SHEET_SCANS * (stream.len() as u64).max(1 << 20) {
        return Err(invalid(
            "its sheets point into each other, so reading it would scan the same records over and over",
        ));
    }
    if total.cells > MAX_SHEET_CELLS {
        return Err(format!(
            "the sheets span more than {MAX_SHEET_CELLS} cells (from the first to the last cell of each); not a song list moodtune reads"
        ));
    }
    if total.text > MAX_SHEET_TEXT_BYTES {
        return Err(format!(
            "the sheets ask for more than {} MiB of text (shared strings repeated in many cells, or formulas); not a song list moodtune reads",
            MAX_SHEET_TEXT_BYTES >> 20
        ));
    }
    if total.formula_work > MAX_FORMULA_WORK {
        return Err(
            "its formulas would take too long to read (thousands of spaces or brackets each); not a song list moodtune reads".into(),
        );
    }
    Ok(())
}

/// Biggest sheet calamine reserves from a DIMENSIONS record: the BIFF8 grid.
const MAX_XLS_ROWS: u64 = 65_536;
const MAX_XLS_COLUMNS: u64 = 256;

fn sheet_cost(
    sheet: &[u8],
    shared: &[u64],
    unknown_shared: u64,
    names: NameSizes,
) -> Check<SheetCost> {
    let mut cost = SheetCost::default();
    let mut values = Bounds::default();
    let mut formulas = Bounds::default();
    let at = |data: &[u8]| -> Option<(u32, u32)> {
        Some((u32::from(u16_at(data, 0)?), u32::from(u16_at(data, 2)?)))
    };
    let mut end = sheet.len();
    let mut rest = sheet;
    for r in records(sheet) {
        // Where this record ends, for the bytes scanned.
        let consumed = 4 + r.data.len() + r.cont.iter().map(|c| 4 + c.len()).sum::<usize>();
        rest = rest.get(consumed..).unwrap_or_default();
        match r.typ {
            0x0200 => check_dimensions(r.data)?,
            0x0203 | 0x0205 | 0x027E => {
                if let Some((row, col)) = at(r.data) {
                    values.add(row, col);
                }
            }
            0x0204 => {
                if let Some((row, col)) = at(r.data) {
                    values.add(row, col);
                    let cch = u64::from(u16_at(r.data, 6).unwrap_or(0));
                    let room = r.data.len().saturating_sub(9) as u64;
                    cost.text += cch.min(room) * BYTES_PER_CHAR;
                }
            }
            // LabelSst: a copy of a shared string.
            0x00FD => {
                if let (Some((row, col)), Some(i)) = (at(r.data), u32_at(r.data, 6)) {
                    values.add(row, col);
                    let chars = shared.get(i as usize).copied().unwrap_or(unknown_shared);
                    cost.text += chars * BYTES_PER_CHAR;
                }
            }
            // MulRk: a row of numbers from `first`.
            0x00BD => {
                if let (Some((row, first)), true) = (at(r.data), r.data.len() >= 6) {
                    let n = (r.data.len() - 6).div_ceil(6) as u32;
                    if n > 0 {
                        values.add(row, first);
                        values.add(row, first + n - 1);
                    }
                }
            }
            // String: the text value of the formula before it.
            0x0207 => {
                let cch = u64::from(u16_at(r.data, 0).unwrap_or(0));
                cost.text += cch.min(r.data.len() as u64) * BYTES_PER_CHAR;
            }
            0x0006 => {
                if let (Some((row, col)), true) = (at(r.data), r.data.len() >= 20) {
                    values.add(row, col);
                    formulas.add(row, col);
                    let (text, work) = formula_cost(&r.data[20..], names);
                    // Plus calamine's note on a formula it cannot print.
                    cost.text += text + 96;
                    cost.formula_work += work;
                }
            }
            0x000A => {
                end = sheet.len() - rest.len();
                break;
            }
            _ => {}
        }
    }
    cost.scanned = end as u64;
    cost.cells = values.area() + formulas.area();
    Ok(cost)
}

/// Refuses a DIMENSIONS record that makes calamine reserve more than a BIFF8 sheet,
/// computed as calamine computes it.
fn check_dimensions(d: &[u8]) -> Check {
    let (first_row, row_end, first_col, col_end) = match d.len() {
        10 => (
            u32::from(u16_at(d, 0).unwrap_or(0)),
            u32::from(u16_at(d, 2).unwrap_or(0)),
            u32::from(u16_at(d, 4).unwrap_or(0)),
            u32::from(u16_at(d, 6).unwrap_or(0)),
        ),
        14 => (
            u32_at(d, 0).unwrap_or(0),
            u32_at(d, 4).unwrap_or(0),
            u32::from(u16_at(d, 8).unwrap_or(0)),
            u32::from(u16_at(d, 10).unwrap_or(0)),
        ),
        // calamine refuses the file.
        _ => return Ok(()),
    };
    let first_col = if first_col > 0xFF || col_end < first_col {
        0
    } else {
        first_col
    };
    if row_end == 0 || col_end == 0 {
        return Ok(());
    }
    if first_row >= row_end {
        return Err(invalid(format!(
            "a sheet's DIMENSIONS record runs from row {} back to row {row_end}",
            u64::from(first_row) + 1
        )));
    }
    let rows = u64::from(row_end - first_row);
    let cols = u64::from(col_end - first_col);
    if rows > MAX_XLS_ROWS || cols > MAX_XLS_COLUMNS {
        return Err(invalid(format!(
            "a sheet's DIMENSIONS record declares {rows} rows by {cols} columns (a .xls sheet has at most {MAX_XLS_ROWS} by {MAX_XLS_COLUMNS})"
        )));
    }
    Ok(())
}

/// An upper bound on the text calamine's formula printer makes of one formula's parsed
/// expression (`CellParsedFormula`), and on the bytes it moves doing so (it inserts
/// spaces and signs at the front of the text), walking the tokens as it does.
fn formula_cost(expr: &[u8], names: NameSizes) -> (u64, u64) {
    let Some(cce) = u16_at(expr, 0) else {
        return (0, 0);
    };
    let Some(mut rgce) = expr.get(2..2 + usize::from(cce)) else {
        return (0, 0);
    };
    // A sheet's name, or "#REF".
    let sheet = names.sheet.max(4);
    let (mut len, mut work) = (0u64, 0u64);
    // Each token: the bytes it takes after its ptg byte, the text it adds, the bytes it moves.
    while let Some((&ptg, rest)) = rgce.split_first() {
        rgce = rest;
        let (take, add, moved) = match ptg {
            0x3A | 0x5A | 0x7A => (6, sheet + 16, 0),
            0x3B | 0x5B | 0x7B => (10, sheet + 24, 0),
            0x3C | 0x5C | 0x7C => (6, sheet + 8, 0),
            0x3D | 0x5D | 0x7D => (10, sheet + 8, 0),
            0x01 => (4, 0, 0),
            0x03..=0x11 => (0, 2, len),
            0x12..=0x14 => (0, 1, len),
            0x15 => (0, 2, len),
            0x16 => (0, 0, 0),
            0x17 => {
                let cch = usize::from(rgce.first().copied().unwrap_or(0));
                (2 + cch, cch as u64 * BYTES_PER_CHAR + 2, 0)
            }
            0x18 => (5, 0, 0),
            0x19 => match rgce.first() {
                Some(0x01 | 0x02 | 0x08 | 0x20 | 0x21) => (3, 0, 0),
                Some(0x04) => {
                    let n = usize::from(u16_at(rgce, 1).unwrap_or(0)) + 1;
                    (3 + 2 * n, 0, 0)
                }
                Some(0x10) => (3, 5, len),
                Some(0x40 | 0x41) => {
                    let spaces = u64::from(rgce.get(2).copied().unwrap_or(0));
                    (3, spaces, spaces * (len + spaces))
                }
                _ => break,
            },
            0x1C => (1, 13, 0),
            0x1D => (1, 5, 0),
            0x1E => (2, 5, 0),
            // An f64 printed without an exponent: up to ~330 characters.
            0x1F => (8, 330, 0),
            0x20 | 0x40 | 0x60 => (7, 10, 0),
            // Functions: a name of up to 18 characters, brackets and a comma per argument.
            0x21 | 0x41 | 0x61 => (2, 300, len),
            0x22 | 0x42 | 0x62 => (3, 300, len),
            0x23 | 0x43 | 0x63 => (4, names.defined.max(5), 0),
            0x24 | 0x44 | 0x64 => (4, 16, 0),
            0x25 | 0x45 | 0x65 => (8, 32, 0),
            0x2A | 0x4A | 0x6A => (4, 5, 0),
            0x2B | 0x4B | 0x6B => (8, 5, 0),
            0x39 | 0x59 => (6, 10, 0),
            // calamine stops at a token it does not know.
            _ => break,
        };
        len += add;
        work = work.saturating_add(moved);
        match rgce.get(take..) {
            Some(rest) => rgce = rest,
            None => break,
        }
    }
    (len, work)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use moodtune_testkit::xls::{
        compound_file, compound_file_with, dimensions, label, mini_compound_file, record, workbook,
        xl_string8,
    };

    /// [`check_xls`] on a copy.
    fn check(bytes: &[u8]) -> Check {
        check_xls(&mut bytes.to_vec())
    }

    fn set32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn valid() -> Vec<u8> {
        compound_file(&workbook(
            &[
                &["title", "artist"],
                &["Halo", "Beyoncé"],
                &["晴天", "周杰伦"],
            ],
            &[],
        ))
    }

    #[test]
    fn valid_files_pass_and_calamine_reads_them() {
        use calamine::Reader;
        let small = workbook(&[&["title", "artist"], &["Halo", "Beyoncé"]], &[]);
        assert!(small.len() < 4096);
        for bytes in [valid(), mini_compound_file(&small)] {
            check(&bytes).unwrap();
            let mut book: calamine::Xls<_> =
                calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
            let range = book.worksheet_range("Songs").unwrap();
            assert_eq!(range.get_value((1, 1)).unwrap().to_string(), "Beyoncé");
        }
        let mut book: calamine::Xls<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(valid())).unwrap();
        let range = book.worksheet_range("Songs").unwrap();
        assert_eq!(range.get_value((2, 0)).unwrap().to_string(), "晴天");
    }

    #[test]
    fn mini_stream_chains_must_stay_in_the_mini_stream_and_end() {
        let small = workbook(&[&["title"], &["Halo"]], &[]);
        let file = mini_compound_file(&small);
        // The mini FAT is sector 2, at byte 1536; the root entry is at 1024.
        for (at, value, expected) in [
            (
                1536 + 4,
                0xFFFF_FFFF,
                "stream \"Workbook\" starts at sector 0, which has no chain",
            ),
            (
                1536 + 4,
                0,
                "stream \"Workbook\" starts at sector 0, which has no chain",
            ),
            (1536 + 4, 5000, "which has no chain"),
            (
                1024 + 116,
                0xFFFF_FFF0,
                "the mini stream starts at sector 4294967280",
            ),
            (1024 + 120, 0x7FFF_FFFF, "mini stream of 2147483647 bytes"),
            (60, 9999, "first mini FAT sector at sector 9999"),
        ] {
            let mut bytes = file.clone();
            set32(&mut bytes, at, value);
            let err = check(&bytes).unwrap_err();
            assert!(err.contains(expected), "{at}={value}: {err}");
        }
        // The root entry's length cuts the mini stream short of the Workbook's sectors.
        let mut bytes = file.clone();
        set32(&mut bytes, 1024 + 120, 64);
        let err = check(&bytes).unwrap_err();
        assert!(err.contains("which has no chain"), "{err}");
    }

    /// calamine reads a VBA project whenever the directory names one (here an empty one:
    /// it fails for want of its "dir" stream); the guard hides it.
    #[test]
    fn a_vba_project_is_hidden_from_calamine() {
        let open = |bytes: Vec<u8>| {
            calamine::open_workbook_from_rs::<calamine::Xls<_>, _>(std::io::Cursor::new(bytes))
        };
        let stream = workbook(&[&["title"], &["Halo"]], &[]);
        let mut bytes = compound_file_with(&stream, Some(VBA_STORAGE), false);
        let err = open(bytes.clone()).err().unwrap().to_string();
        assert!(err.contains("dir"), "{err}");
        check_xls(&mut bytes).unwrap();
        let name: Vec<u8> = VBA_STORAGE
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(!bytes.windows(name.len()).any(|w| w == name));
        open(bytes).unwrap();
    }

    /// The repro, a 1 KiB file whose header declares 0xFFFFFFFF directory
    /// sectors (calamine asked for 2 TB and the process aborted), and a valid file,
    /// through the library's import: a clean error naming the file, and songs.
    #[test]
    fn imports_refuse_hostile_xls_files_and_read_valid_ones() {
        use crate::{Error, ImportBatch, Library};
        let dir = tempfile::tempdir().unwrap();
        let mut hostile = vec![0u8; 1024];
        hostile[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        hostile[26] = 3;
        hostile[28..30].copy_from_slice(&[0xFE, 0xFF]);
        hostile[30] = 9;
        hostile[32] = 6;
        set32(&mut hostile, 40, 0xFFFF_FFFF);
        let path = dir.path().join("songs.xls");
        std::fs::write(&path, &hostile).unwrap();
        let mut lib = Library::open_in_memory().unwrap();
        let err = lib.import_path(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Import { path: p, .. } if *p == path),
            "{err:?}"
        );
        assert!(
            err.to_string().ends_with(
                "songs.xls: not a valid .xls: its header declares 4294967295 directory sectors (a version 3 file must say 0)"
            ),
            "{err}"
        );
        let err = ImportBatch::read_without_audio_links(&path).err().unwrap();
        assert!(err.to_string().contains("directory sectors"), "{err}");

        // A sheet far past the grid, and a sheet whose DIMENSIONS ask for 4 billion rows.
        let rows: &[&[&str]] = &[&["title"], &["Halo"]];
        for (extra, what) in [
            (label(65_535, 65_535, "x"), "more than 10000000 cells"),
            (
                dimensions(0, u32::MAX, 0, 255),
                "4294967295 rows by 255 columns",
            ),
        ] {
            std::fs::write(&path, compound_file(&workbook(rows, &[extra]))).unwrap();
            let err = lib.import_path(&path).unwrap_err().to_string();
            assert!(err.contains("songs.xls: ") && err.contains(what), "{err}");
        }

        std::fs::write(
            &path,
            compound_file(&workbook(
                &[
                    &["歌名", "歌手", "情感"],
                    &["晴天", "周杰伦", "happy"],
                    &["Halo", "Beyoncé", ""],
                ],
                &[],
            )),
        )
        .unwrap();
        let report = lib.import_path(&path).unwrap();
        assert_eq!(report.added, 2, "{report}");
        let song = lib.find("晴天").unwrap();
        assert_eq!(song.artist, "周杰伦");
        assert_eq!(lib.find("Halo").unwrap().artist, "Beyoncé");

        // With a row limit below the sheet's rows.
        let limits = crate::ImportLimits { max_rows: 2 };
        let err = lib
            .import_path_limited(&path, &mut |_| {}, &limits)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("songs.xls: more than 2 rows; split the file or raise the limit"),
            "{err}"
        );
    }

    #[test]
    fn every_size_field_of_the_header_is_checked() {
        let cases: &[(usize, u32, &str)] = &[
            // The crash this guard was written for: 2 TB for the directory.
            (
                40,
                0xFFFF_FFFF,
                "declares 4294967295 directory sectors (a version 3 file must say 0)",
            ),
            (
                44,
                0xFFFF_FFFF,
                "declares 4294967295 FAT sectors but the file has room for",
            ),
            (
                44,
                1000,
                "declares 1000 FAT sectors but the file has room for 10",
            ),
            (
                48,
                0xFFFF_FFF0,
                "puts the first directory sector at sector 4294967280",
            ),
            (64, 0x7FFF_FFFF, "declares 2147483647 mini FAT sectors"),
            (72, 0xFFFF_FFFF, "declares 4294967295 DIFAT sectors"),
            (68, 500, "puts the first DIFAT sector at sector 500"),
        ];
        for &(at, value, expected) in cases {
            let mut bytes = valid();
            set32(&mut bytes, at, value);
            let err = check(&bytes).unwrap_err();
            assert!(err.contains(expected), "field at {at}: {err}");
            assert!(err.starts_with("not a valid .xls: "), "{err}");
        }
        let mut bytes = valid();
        bytes[30] = 20;
        assert!(check(&bytes).unwrap_err().contains("sector shift 20"));
        let mut bytes = valid();
        bytes[32] = 7;
        assert!(check(&bytes).unwrap_err().contains("mini sector shift 7"));
        let mut bytes = valid();
        bytes[26] = 9;
        assert!(check(&bytes).unwrap_err().contains("format version 9"));
        // calamine's misread DIFAT count: the mini FAT fields it overlaps.
        // (It takes a file of more than 256 sectors.)
        let mut bytes = valid();
        bytes.resize(bytes.len() + 300 * 512, 0);
        set32(&mut bytes, 60, 5);
        set32(&mut bytes, 64, 300);
        let err = check(&bytes).unwrap_err();
        assert!(err.contains("far more than its small streams"), "{err}");
        assert!(check(&bytes[..300])
            .unwrap_err()
            .contains("ends inside its header"));
        let err = check(b"PK\x03\x04 a zip").unwrap_err();
        assert!(err.contains("zipped spreadsheet"), "{err}");
    }

    #[test]
    fn sector_chains_must_stay_in_the_file_and_end() {
        // The FAT is sector 0, at byte 512; the Workbook chain runs 2 -> 3 -> ... .
        let fat_entry = |sector: usize| 512 + 4 * sector;
        for (value, expected) in [
            (
                0xFFFF_FFFF,
                "has no chain of sectors ending inside the file",
            ),
            (2, "has no chain"),
            (9_999, "has no chain"),
        ] {
            let mut bytes = valid();
            set32(&mut bytes, fat_entry(5), value);
            let err = check(&bytes).unwrap_err();
            assert!(err.contains(expected), "{value}: {err}");
        }
        // A DIFAT entry naming a sector past the end, and a DIFAT chain that loops.
        let mut bytes = valid();
        set32(&mut bytes, 44, 2);
        set32(&mut bytes, 76 + 4, 0xFFFF_FFF0);
        let err = check(&bytes).unwrap_err();
        assert!(err.contains("FAT sector at sector 4294967280"), "{err}");
        let mut bytes = valid();
        set32(&mut bytes, 68, 3);
        set32(&mut bytes, 72, 1);
        let last = 512 * 4 + 508;
        set32(&mut bytes, last, 3);
        let err = check(&bytes).unwrap_err();
        assert!(err.contains("DIFAT chain loops"), "{err}");
        // A stream longer than the file.
        let mut bytes = valid();
        set32(&mut bytes, 512 * 2 + 128 + 120, 0x7FFF_FFFF);
        let err = check(&bytes).unwrap_err();
        assert!(
            err.contains("stream \"Workbook\" declares 2147483647 bytes"),
            "{err}"
        );
    }

    #[test]
    fn dimensions_and_cells_past_a_sheet_are_refused() {
        let rows: &[&[&str]] = &[&["title"], &["Halo"]];
        for (extra, expected) in [
            (
                dimensions(0, 0xFFFF_FFFF, 0, 200),
                "declares 4294967295 rows by 200 columns",
            ),
            (
                dimensions(0, 10, 0, 0xFFFF),
                "declares 10 rows by 65535 columns",
            ),
            (dimensions(100, 5, 0, 2), "runs from row 101 back to row 5"),
        ] {
            let bytes = compound_file(&workbook(rows, &[extra]));
            let err = check(&bytes).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
        // Two cells at opposite corners of the grid calamine builds.
        let far = compound_file(&workbook(rows, &[label(65_535, 65_535, "x")]));
        let err = check(&far).unwrap_err();
        assert!(err.contains("more than 10000000 cells"), "{err}");
        // The largest real sheet is fine.
        let full = compound_file(&workbook(rows, &[dimensions(0, 65_536, 0, 256)]));
        check(&full).unwrap();
    }

    #[test]
    fn shared_strings_copied_into_many_cells_are_counted() {
        // One 60,000-character shared string, then 2,000 cells showing it: 360 MB of text
        // from a file of 90 KB.
        let long = "x".repeat(60_000);
        let mut sst_data = Vec::new();
        sst_data.extend(1u32.to_le_bytes());
        sst_data.extend(1u32.to_le_bytes());
        let s = xl_string8(&long);
        // The string runs over CONTINUE records of at most 8224 bytes.
        sst_data.extend(&s[..8000]);
        let mut sst = record(0x00FC, &sst_data);
        for chunk in s[8000..].chunks(8000) {
            let mut d = vec![0u8];
            d.extend(chunk);
            sst.extend(record(0x003C, &d));
        }
        let cells: Vec<Vec<u8>> = (0..2000u16)
            .map(|row| {
                let mut d = Vec::new();
                d.extend((row + 2).to_le_bytes());
                d.extend(0u16.to_le_bytes());
                d.extend(0u16.to_le_bytes());
                d.extend(0u32.to_le_bytes());
                record(0x00FD, &d)
            })
            .collect();
        let mut stream = workbook(&[&["title"], &["Halo"]], &cells);
        // The SST goes in the globals, before their EOF.
        let globals_end = stream
            .windows(4)
            .position(|w| w == [0x0A, 0, 0, 0])
            .unwrap();
        stream.splice(globals_end..globals_end, sst.iter().copied());
        let pos = u32::from_le_bytes(stream[24..28].try_into().unwrap()) + sst.len() as u32;
        stream[24..28].copy_from_slice(&pos.to_le_bytes());
        let err = check_biff(&stream).unwrap_err();
        assert!(err.contains("more than 256 MiB of text"), "{err}");
        assert_eq!(
            shared_string_lengths(records(&sst).next().unwrap()),
            Some(vec![60_000])
        );
    }

    #[test]
    fn formulas_that_print_long_or_slowly_are_counted() {
        // A formula of one number and 2,700 runs of 255 spaces, each inserted at its front.
        let mut rgce = vec![0x1E, 1, 0];
        for _ in 0..2700 {
            rgce.extend([0x19, 0x40, 0x00, 0xFF]);
        }
        let mut d = vec![0u8; 20];
        d.extend((rgce.len() as u16).to_le_bytes());
        d.extend(&rgce);
        let (text, work) = formula_cost(&d[20..], NameSizes::default());
        assert_eq!(text, 5 + 2700 * 255);
        assert!(work > 200_000_000_000, "{work}");
        let formula = record(0x0006, &d);
        let err = check_biff(&workbook(&[&["title"]], &[formula])).unwrap_err();
        assert!(err.contains("too long to read"), "{err}");
    }
}

#[cfg(test)]
mod mutations {
    use super::*;
    use moodtune_testkit::xls::{compound_file, mini_compound_file, workbook};
    use rand::{Rng, SeedableRng};

    /// Thousands of corruptions of a valid file: whatever the guard lets through,
    /// calamine reads or refuses without a runaway allocation (which would abort this
    /// test). Run with `ulimit -v` to catch smaller ones.
    #[test]
    fn corrupted_files_that_pass_the_guard_are_read_safely() {
        use calamine::Reader;
        let rows: &[&[&str]] = &[&["title", "artist"], &["Halo", "Ava"], &["Blue", "Bo"]];
        let files = [
            compound_file(&workbook(rows, &[])),
            mini_compound_file(&workbook(rows, &[])),
        ];
        let iterations: usize = std::env::var("MOODTUNE_XLS_MUTATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(3000);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(30);
        let specials = [
            0u32,
            1,
            2,
            3,
            9,
            12,
            0x7F,
            0xFF,
            0x100,
            0xFFFF,
            0x1_0000,
            0xFFFF_FFFA,
            0xFFFF_FFFC,
            0xFFFF_FFFD,
            0xFFFF_FFFE,
            0xFFFF_FFFF,
            0x7FFF_FFFF,
        ];
        let (mut passed, mut read) = (0, 0);
        for _ in 0..iterations {
            let mut bytes = files[rng.gen_range(0..files.len())].clone();
            for _ in 0..rng.gen_range(1..4) {
                // Mostly the header, FAT and directory; sometimes the records.
                let at = if rng.gen_bool(0.7) {
                    rng.gen_range(0..1536 - 4)
                } else {
                    rng.gen_range(0..bytes.len() - 4)
                };
                let value = if rng.gen_bool(0.6) {
                    specials[rng.gen_range(0..specials.len())]
                } else {
                    rng.gen()
                };
                if rng.gen_bool(0.5) {
                    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
                } else {
                    bytes[at] = value as u8;
                }
            }
            if check_xls(&mut bytes).is_err() {
                continue;
            }
            passed += 1;
            let ok = std::panic::catch_unwind(|| {
                let Ok(mut book) = calamine::open_workbook_from_rs::<calamine::Xls<_>, _>(
                    std::io::Cursor::new(bytes),
                ) else {
                    return false;
                };
                for name in book.sheet_names() {
                    let _ = book.worksheet_range(&name);
                }
                true
            });
            if matches!(ok, Ok(true)) {
                read += 1;
            }
        }
        eprintln!("{passed} of {iterations} corrupted files passed the guard, {read} were read");
        assert!(passed > iterations / 10, "{passed} of {iterations} passed");
        assert!(read > 0);
    }
}
