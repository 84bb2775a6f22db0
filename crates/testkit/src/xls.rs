//! Hand-made `.xls` files: a compound file (CFB/OLE2) around a BIFF8 Workbook stream,
//! built field by field so tests can also break any field on purpose.

/// A chain's end in a compound file's sector tables.
pub const ENDOFCHAIN: u32 = 0xFFFF_FFFE;

/// A minimal valid version 3 compound file holding `workbook` as its Workbook stream
/// (padded to at least 4096 bytes so it lives in regular sectors): header, one FAT
/// sector, one directory sector, then the stream.
pub fn compound_file(workbook: &[u8]) -> Vec<u8> {
    compound_file_with(workbook, None, false)
}

/// A valid compound file holding a Workbook stream of less than 4096 bytes as such:
/// in the mini stream (64-byte mini sectors, kept in the root entry's stream and
/// chained by the mini FAT), as some writers save a small workbook.
pub fn mini_compound_file(workbook: &[u8]) -> Vec<u8> {
    compound_file_with(workbook, None, true)
}

/// [`compound_file`] with an empty storage named `storage` beside the stream, and
/// the stream in the mini stream when `mini`.
pub fn compound_file_with(workbook: &[u8], storage: Option<&str>, mini: bool) -> Vec<u8> {
    assert!(!mini || workbook.len() < 4096);
    let mut stream = workbook.to_vec();
    if mini {
        stream.resize(stream.len().div_ceil(64) * 64, 0);
    } else if stream.len() < 4096 {
        stream.resize(4096, 0);
    }
    // With a mini stream, sector 2 is the mini FAT and the stream's sectors follow.
    let first = if mini { 3 } else { 2 };
    let stream_sectors = stream.len().div_ceil(512);
    let mut out = vec![0u8; 512];
    out[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    let put16 = |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut out, 24, 0x3E);
    put16(&mut out, 26, 3);
    put16(&mut out, 28, 0xFFFE);
    put16(&mut out, 30, 9);
    put16(&mut out, 32, 6);
    put32(&mut out, 44, 1); // FAT sectors
    put32(&mut out, 48, 1); // first directory sector
    put32(&mut out, 56, 4096);
    if mini {
        put32(&mut out, 60, 2);
        put32(&mut out, 64, 1);
    } else {
        put32(&mut out, 60, ENDOFCHAIN); // no mini FAT
    }
    put32(&mut out, 68, ENDOFCHAIN); // no DIFAT sectors
    for i in 0..109 {
        put32(&mut out, 76 + 4 * i, if i == 0 { 0 } else { 0xFFFF_FFFF });
    }
    // Sector 0: the FAT. 0 is a FAT sector, 1 the directory, 2.. the stream.
    let mut fat = vec![0xFFu8; 512];
    put32(&mut fat, 0, 0xFFFF_FFFD);
    put32(&mut fat, 4, ENDOFCHAIN);
    if mini {
        put32(&mut fat, 8, ENDOFCHAIN);
    }
    for i in 0..stream_sectors {
        let next = if i + 1 == stream_sectors {
            ENDOFCHAIN
        } else {
            (first + 1 + i) as u32
        };
        put32(&mut fat, 4 * (first + i), next);
    }
    assert!(
        first + stream_sectors <= 128,
        "a test file fits one FAT sector"
    );
    out.extend(fat);
    // Sector 1: the directory: the root and the Workbook stream.
    let mut dir = vec![0u8; 512];
    let entry = |dir: &mut [u8], i: usize, name: &str, typ: u8, start: u32, len: u32| {
        let e = &mut dir[128 * i..128 * (i + 1)];
        let units: Vec<u16> = name.encode_utf16().collect();
        for (j, u) in units.iter().enumerate() {
            e[2 * j..2 * j + 2].copy_from_slice(&u.to_le_bytes());
        }
        e[64..66].copy_from_slice(&((units.len() as u16 + 1) * 2).to_le_bytes());
        e[66] = typ;
        for at in [68, 72, 76] {
            e[at..at + 4].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        }
        e[116..120].copy_from_slice(&start.to_le_bytes());
        e[120..124].copy_from_slice(&len.to_le_bytes());
    };
    if mini {
        entry(&mut dir, 0, "Root Entry", 5, 3, stream.len() as u32);
        entry(&mut dir, 1, "Workbook", 2, 0, workbook.len() as u32);
    } else {
        entry(&mut dir, 0, "Root Entry", 5, ENDOFCHAIN, 0);
        entry(&mut dir, 1, "Workbook", 2, 2, stream.len() as u32);
    }
    // The root's child is the Workbook entry.
    dir[76..80].copy_from_slice(&1u32.to_le_bytes());
    let first_unused = if let Some(name) = storage {
        entry(&mut dir, 2, name, 1, 0, 0);
        // Beside the Workbook entry in the root's tree.
        dir[128 + 72..128 + 76].copy_from_slice(&2u32.to_le_bytes());
        3
    } else {
        2
    };
    for i in first_unused..4 {
        for at in [68, 72, 76] {
            dir[128 * i + at..128 * i + at + 4].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        }
        dir[128 * i + 116..128 * i + 120].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
    }
    out.extend(dir);
    if mini {
        let mini_sectors = stream.len() / 64;
        let mut mini_fat = vec![0xFFu8; 512];
        for i in 0..mini_sectors {
            let next = if i + 1 == mini_sectors {
                ENDOFCHAIN
            } else {
                (i + 1) as u32
            };
            put32(&mut mini_fat, 4 * i, next);
        }
        out.extend(mini_fat);
    }
    stream.resize(stream_sectors * 512, 0);
    out.extend(stream);
    out
}

pub fn record(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut r = typ.to_le_bytes().to_vec();
    r.extend((data.len() as u16).to_le_bytes());
    r.extend(data);
    r
}

/// A BIFF8 string in UTF-16: character count, flags (16-bit characters), characters.
pub fn xl_string(s: &str) -> Vec<u8> {
    let units: Vec<u16> = s.encode_utf16().collect();
    let mut out = (units.len() as u16).to_le_bytes().to_vec();
    out.push(1);
    for u in units {
        out.extend(u.to_le_bytes());
    }
    out
}

/// A BIFF8 string of ASCII in 8-bit characters.
pub fn xl_string8(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u16).to_le_bytes().to_vec();
    out.push(0);
    out.extend(s.as_bytes());
    out
}

/// A BIFF8 Workbook stream: globals with one sheet, then the sheet with `rows` of
/// text cells (LABEL records) and `extra` records before its EOF.
pub fn workbook(rows: &[&[&str]], extra: &[Vec<u8>]) -> Vec<u8> {
    let bof = |dt: u16| {
        let mut d = vec![0u8; 16];
        d[..2].copy_from_slice(&0x0600u16.to_le_bytes());
        d[2..4].copy_from_slice(&dt.to_le_bytes());
        record(0x0809, &d)
    };
    let name = "Songs";
    let mut globals = bof(0x0005);
    let sheet_at = globals.len();
    let mut sheet_record = vec![0u8; 6];
    sheet_record.push(name.len() as u8);
    sheet_record.push(0);
    sheet_record.extend(name.as_bytes());
    globals.extend(record(0x0085, &sheet_record));
    globals.extend(record(0x000A, &[]));
    let pos = globals.len() as u32;
    globals[sheet_at + 4..sheet_at + 8].copy_from_slice(&pos.to_le_bytes());

    let mut sheet = bof(0x0010);
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut dims = Vec::new();
    dims.extend(0u32.to_le_bytes());
    dims.extend((rows.len() as u32).to_le_bytes());
    dims.extend(0u16.to_le_bytes());
    dims.extend((width as u16).to_le_bytes());
    dims.extend(0u16.to_le_bytes());
    sheet.extend(record(0x0200, &dims));
    for (r, cells) in rows.iter().enumerate() {
        for (c, text) in cells.iter().enumerate() {
            let mut d = Vec::new();
            d.extend((r as u16).to_le_bytes());
            d.extend((c as u16).to_le_bytes());
            d.extend(0u16.to_le_bytes());
            d.extend(xl_string(text));
            sheet.extend(record(0x0204, &d));
        }
    }
    for e in extra {
        sheet.extend(e);
    }
    sheet.extend(record(0x000A, &[]));
    globals.extend(sheet);
    globals
}

pub fn dimensions(first_row: u32, row_end: u32, first_col: u16, col_end: u16) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(first_row.to_le_bytes());
    d.extend(row_end.to_le_bytes());
    d.extend(first_col.to_le_bytes());
    d.extend(col_end.to_le_bytes());
    d.extend(0u16.to_le_bytes());
    record(0x0200, &d)
}

pub fn label(row: u16, col: u16, text: &str) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(row.to_le_bytes());
    d.extend(col.to_le_bytes());
    d.extend(0u16.to_le_bytes());
    d.extend(xl_string(text));
    record(0x0204, &d)
}
