//! The bad-input corpus: files in every format moodtune reads, broken on purpose.
//!
//! [`write_corpus`] writes it, deterministically, into a folder: for each format a valid
//! seed, then that seed cut short at several lengths, with bytes flipped and with size
//! fields blown up (seeded, so every run and every machine sees the same files), plus
//! hand-made attacks of known kinds (decompression and allocation bombs, huge
//! dimensions, lying length fields, wrong formats behind the right extension). The
//! tests feed every file to the library functions and to the running server; each must
//! give a clean import or a clear error, never a panic or an abort. Written by a
//! program rather than committed, so the corpus is reviewable and grows with the code;
//! `cargo run -p moodtune-testkit --example write-corpus DIR` writes it for fuzzers'
//! seed folders or a look by hand.

use crate::ods::{ods_bytes, ods_row};
use crate::xls::{compound_file, dimensions, workbook};
use std::path::{Path, PathBuf};

/// What reads a corpus file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A song list: CSV, TSV, xlsx, xls or ods (library import, the page's upload).
    SongList,
    /// A `.lrc` lyrics file beside a song (folder import).
    Lyrics,
    /// An audio file: its tags (folder import) and its sound (audio analysis).
    Audio,
    /// A photo or camera frame (photo mood, `/api/analyze`).
    Image,
    /// A model weights file (`.safetensors`).
    Weights,
    /// A JSON request body for the server's `method path`.
    Json {
        method: &'static str,
        path: &'static str,
    },
}

/// One file of the corpus.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: Kind,
    /// How it was made, for failure messages ("songs.xlsx cut to 312 bytes").
    pub made: String,
}

/// A tiny seeded generator (splitmix64): the corpus must not change between runs.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

struct Writer {
    dir: PathBuf,
    entries: Vec<Entry>,
}

impl Writer {
    fn add(&mut self, name: &str, bytes: &[u8], kind: Kind, made: impl Into<String>) {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes)
            .unwrap_or_else(|e| panic!("cannot write corpus file {}: {e}", path.display()));
        self.entries.push(Entry {
            path,
            kind,
            made: made.into(),
        });
    }

    /// The seed itself, then broken copies: cut short, bytes flipped, and 32-bit fields
    /// overwritten with huge values (where length fields live, a reader that trusts
    /// them reserves gigabytes).
    fn seed_and_mutants(
        &mut self,
        stem: &str,
        ext: &str,
        seed: &[u8],
        kind: Kind,
        rng: &mut Seeded,
    ) {
        self.add(
            &format!("{stem}.{ext}"),
            seed,
            kind.clone(),
            format!("valid {stem}.{ext}"),
        );
        let len = seed.len();
        let mut cuts = vec![1, 4, 12, 40, len / 8, len / 3, len / 2, len - 1];
        cuts.retain(|&c| c > 0 && c < len);
        cuts.dedup();
        for cut in cuts {
            self.add(
                &format!("{stem}-cut{cut}.{ext}"),
                &seed[..cut],
                kind.clone(),
                format!("{stem}.{ext} cut to {cut} bytes"),
            );
        }
        for i in 0..6 {
            let mut bytes = seed.to_vec();
            let flips = 1 + rng.below(16);
            for _ in 0..flips {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            self.add(
                &format!("{stem}-flip{i}.{ext}"),
                &bytes,
                kind.clone(),
                format!("{stem}.{ext} with {flips} bits flipped (seeded)"),
            );
        }
        for i in 0..4 {
            let mut bytes = seed.to_vec();
            // Early offsets more often: headers hold the sizes.
            let at = if i < 2 {
                rng.below(len.min(64))
            } else {
                rng.below(len)
            };
            let end = (at + 4).min(len);
            bytes[at..end].fill(0xFF);
            self.add(
                &format!("{stem}-huge{i}.{ext}"),
                &bytes,
                kind.clone(),
                format!("{stem}.{ext} with 0xFFFFFFFF written at byte {at}"),
            );
        }
    }
}

/// Writes the corpus into `dir` (which must exist) and lists its files.
pub fn write_corpus(dir: &Path) -> Vec<Entry> {
    let mut w = Writer {
        dir: dir.to_path_buf(),
        entries: Vec::new(),
    };
    let mut rng = Seeded(0x6d6f_6f64_7475_6e65);
    song_lists(&mut w, &mut rng);
    lyrics(&mut w, &mut rng);
    audio(&mut w, &mut rng);
    images(&mut w, &mut rng);
    weights(&mut w, &mut rng);
    json_bodies(&mut w);
    w.entries
}

const ROWS: [[&str; 4]; 3] = [
    ["title", "artist", "genre", "lyrics"],
    ["Halo", "Beyoncé", "pop", "I can feel your halo"],
    ["晴天", "周杰伦", "mandopop", "故事的小黄花"],
];

fn delimited(sep: &str) -> Vec<u8> {
    ROWS.iter()
        .map(|r| r.join(sep))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

fn xlsx_bytes(cells: &[(u32, u16, &str)]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    // A fixed creation time: by default the file records the moment it was written.
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 1, 1).unwrap();
    book.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let sheet = book.add_worksheet();
    for &(row, col, text) in cells {
        sheet.write_string(row, col, text).unwrap();
    }
    book.save_to_buffer().unwrap()
}

fn song_lists(w: &mut Writer, rng: &mut Seeded) {
    let list = Kind::SongList;
    w.seed_and_mutants("songs", "csv", &delimited(","), list.clone(), rng);
    w.seed_and_mutants("songs", "tsv", &delimited("\t"), list.clone(), rng);
    let cells: Vec<(u32, u16, &str)> = ROWS
        .iter()
        .enumerate()
        .flat_map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(move |(c, t)| (r as u32, c as u16, *t))
        })
        .collect();
    w.seed_and_mutants("songs", "xlsx", &xlsx_bytes(&cells), list.clone(), rng);
    let rows: String = ROWS.iter().map(|r| ods_row(r)).collect();
    w.seed_and_mutants("songs", "ods", &ods_bytes(&rows), list.clone(), rng);
    let table: Vec<&[&str]> = ROWS.iter().map(|r| &r[..]).collect();
    let xls = compound_file(&workbook(&table, &[]));
    w.seed_and_mutants("songs", "xls", &xls, list.clone(), rng);

    // Allocation bombs: sizes a reader would reserve before looking further.
    let mut dir_count = xls.clone();
    dir_count[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    w.add(
        "bomb-cfb-directory-count.xls",
        &dir_count,
        list.clone(),
        "xls whose header declares 4 G directory sectors",
    );
    let mut fat_count = xls.clone();
    fat_count[44..48].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
    w.add(
        "bomb-cfb-fat-count.xls",
        &fat_count,
        list.clone(),
        "xls whose header declares 16 M FAT sectors",
    );
    let mut shift = xls.clone();
    shift[30..32].copy_from_slice(&30u16.to_le_bytes());
    w.add(
        "bomb-cfb-sector-shift.xls",
        &shift,
        list.clone(),
        "xls with 1 GiB sectors",
    );
    let dims = compound_file(&workbook(&table, &[dimensions(0, u32::MAX, 0, u16::MAX)]));
    w.add(
        "bomb-dimensions.xls",
        &dims,
        list.clone(),
        "xls whose DIMENSIONS span 4 G rows x 65k columns",
    );
    w.add(
        "bomb-repeated-rows.ods",
        &ods_bytes(&format!(
            r#"{}<table:table-row table:number-rows-repeated="4900000">{}</table:table-row>"#,
            ods_row(&ROWS[0]),
            crate::ods::ods_text("x")
        )),
        list.clone(),
        "ods asking for 4.9 M repeated rows",
    );
    w.add(
        "bomb-repeated-columns.ods",
        &ods_bytes(
            r#"<table:table-row><table:table-cell table:number-columns-repeated="16000" office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="100000"><table:table-cell table:number-columns-repeated="16000" office:value-type="string"><text:p>y</text:p></table:table-cell></table:table-row>"#
        ),
        list.clone(),
        "ods asking for 1.6 G repeated cells",
    );
    w.add(
        "far-cell.xlsx",
        &xlsx_bytes(&[(0, 0, "title"), (1, 0, "Halo"), (1_048_575, 16_383, "far")]),
        list.clone(),
        "xlsx with a cell at XFD1048576",
    );
    w.add(
        "zip-bomb.ods",
        &deflated_ods_bomb(),
        list.clone(),
        "ods whose content.xml inflates to 64 MiB",
    );

    // CSV oddities.
    let long_field = format!("title,artist\n{},x\n", "a".repeat(1 << 20));
    let wide = format!(
        "{}\n{}\n",
        (0..5000)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(","),
        "x,".repeat(4999) + "x"
    );
    let many_rows: String = std::iter::once("title,artist\n".to_string())
        .chain((0..50_000).map(|i| format!("Song {i},Artist {}\n", i % 97)))
        .collect();
    let mut utf16 = vec![0xFF, 0xFE];
    for u in "title,artist\nHalo,Beyoncé\n".encode_utf16() {
        utf16.extend(u.to_le_bytes());
    }
    let png_bytes = png(8, 8);
    let csv_cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", vec![], "an empty file"),
        (
            "bom-only.csv",
            vec![0xEF, 0xBB, 0xBF],
            "a UTF-8 byte-order mark and nothing else",
        ),
        (
            "header-only.csv",
            b"title,artist\n".to_vec(),
            "a header without rows",
        ),
        (
            "no-title-column.csv",
            b"foo,bar\n1,2\n".to_vec(),
            "no title column",
        ),
        (
            "nul-bytes.csv",
            b"title,artist\nHa\0lo,\0\0\n".to_vec(),
            "NUL bytes in cells",
        ),
        (
            "invalid-utf8.csv",
            b"title,artist\n\xff\xfe\xfd,\xc3\x28\n".to_vec(),
            "invalid UTF-8",
        ),
        ("utf16.csv", utf16, "UTF-16LE with a byte-order mark"),
        ("long-field.csv", long_field.into_bytes(), "a 1 MiB cell"),
        ("wide.csv", wide.into_bytes(), "5,000 columns"),
        (
            "unbalanced-quote.csv",
            b"title,artist\n\"Halo,Beyonce\nNext,One\n".to_vec(),
            "a quote never closed",
        ),
        (
            "formulas.csv",
            b"title,artist\n=cmd|' /C calc'!A0,@SUM(1)\n+1,-1\n".to_vec(),
            "formula-like cells",
        ),
        (
            "cr-only.csv",
            b"title,artist\rHalo,Beyonce\rX,Y\r".to_vec(),
            "old Mac line ends",
        ),
        (
            "ragged.csv",
            b"title,artist,genre\nA\nB,C,D,E,F,G\n,,\n".to_vec(),
            "rows of every width",
        ),
        ("many-rows.csv", many_rows.into_bytes(), "50,000 rows"),
        ("png-as.csv", png_bytes.clone(), "a PNG named .csv"),
        (
            "csv-as.xlsx",
            delimited(",").to_vec(),
            "CSV text named .xlsx",
        ),
        ("csv-as.xls", delimited(",").to_vec(), "CSV text named .xls"),
        ("csv-as.ods", delimited(",").to_vec(), "CSV text named .ods"),
        ("png-as.xlsx", png_bytes, "a PNG named .xlsx"),
    ];
    for (name, bytes, made) in csv_cases {
        w.add(name, &bytes, list.clone(), made);
    }
}

/// An .ods whose content.xml is 64 MiB of spaces deflated to a few dozen KiB.
fn deflated_ods_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    zip.start_file("mimetype", deflated).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("content.xml", deflated).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0">"#)
        .unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..64 {
        zip.write_all(&spaces).unwrap();
    }
    zip.write_all(b"</office:document-content>").unwrap();
    zip.finish().unwrap().into_inner()
}

fn lyrics(w: &mut Writer, rng: &mut Seeded) {
    let lrc = "[ar:Someone]\n[ti:A Song]\n[00:01.00]I walk alone tonight\n[00:04.50][00:09.00]tears fall like rain\n[00:12.25]<00:12.30>word <00:12.60>by <00:12.90>word\n";
    w.seed_and_mutants("song", "lrc", lrc.as_bytes(), Kind::Lyrics, rng);
    let stamps = "[00:00.00]".repeat(100_000) + "la\n";
    w.add(
        "many-stamps.lrc",
        stamps.as_bytes(),
        Kind::Lyrics,
        "100,000 time stamps on one line",
    );
    w.add(
        "huge.lrc",
        "[00:01.00]la la la\n".repeat(120_000).as_bytes(),
        Kind::Lyrics,
        "a 2.3 MiB lyrics file",
    );
    w.add(
        "invalid-utf8.lrc",
        b"[00:01.00]\xff\xfe\x00\xc3(\n",
        Kind::Lyrics,
        "invalid UTF-8",
    );
    w.add(
        "bad-stamps.lrc",
        b"[99999999999:99.99]x\n[-1:-1]y\n[:]\n[00:60.00]z\n",
        Kind::Lyrics,
        "time stamps out of range",
    );
}

/// A mono 16-bit WAV of `seconds` of a 440 Hz tone.
fn wav(seconds: f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..(8_000.0 * seconds) as usize {
        let t = i as f32 / 8_000.0;
        writer
            .write_sample(((t * 440.0 * std::f32::consts::TAU).sin() * 12_000.0) as i16)
            .unwrap();
    }
    writer.finalize().unwrap();
    cursor.into_inner()
}

/// An ID3v2.3 tag (title and mood frames) before a few silent MPEG-1 layer III frames.
fn mp3() -> Vec<u8> {
    use crate::mp3::{mp3_bytes, text_frame};
    mp3_bytes(
        &[text_frame(b"TIT2", "A Song"), text_frame(b"TMOO", "Happy")],
        20,
    )
}

/// A FLAC stream header (STREAMINFO, 1 s at 8 kHz) with a Vorbis comment and no frames.
fn flac() -> Vec<u8> {
    let mut out = b"fLaC".to_vec();
    let mut info = vec![0x10, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0, 0];
    // 8,000 Hz (20 bits), 1 channel (3 bits: 0), 16 bits (5 bits: 15), 8,000 samples (36 bits).
    let packed: u64 = (8_000u64 << 44) | (15u64 << 36) | 8_000;
    info.extend(packed.to_be_bytes());
    info.extend([0u8; 16]);
    out.extend([0x00, 0, 0, info.len() as u8]);
    out.extend(info);
    let mut comment = 4u32.to_le_bytes().to_vec();
    comment.extend(b"test");
    comment.extend(1u32.to_le_bytes());
    let field = b"MOOD=Sad";
    comment.extend((field.len() as u32).to_le_bytes());
    comment.extend(field);
    out.push(0x84); // last block, type 4 (Vorbis comment)
    out.extend(&(comment.len() as u32).to_be_bytes()[1..]);
    out.extend(comment);
    out
}

/// One Ogg page carrying a Vorbis identification header.
fn ogg() -> Vec<u8> {
    let mut packet = b"\x01vorbis".to_vec();
    packet.extend(0u32.to_le_bytes());
    packet.push(1);
    packet.extend(8_000u32.to_le_bytes());
    packet.extend([0u8; 12]);
    packet.extend([0xB8, 0x01]);
    let mut page = b"OggS\x00\x02".to_vec();
    page.extend([0u8; 8]);
    page.extend(1u32.to_le_bytes());
    page.extend(0u32.to_le_bytes());
    page.extend(0u32.to_le_bytes()); // CRC left zero: a reader must reject it
    page.push(1);
    page.push(packet.len() as u8);
    page.extend(packet);
    page
}

fn audio(w: &mut Writer, rng: &mut Seeded) {
    let seed = wav(1.0);
    w.seed_and_mutants("tone", "wav", &seed, Kind::Audio, rng);
    w.seed_and_mutants("tagged", "mp3", &mp3(), Kind::Audio, rng);
    w.seed_and_mutants("stream", "flac", &flac(), Kind::Audio, rng);
    w.seed_and_mutants("page", "ogg", &ogg(), Kind::Audio, rng);
    let mut huge_data = seed.clone();
    huge_data[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    w.add(
        "data-size-4g.wav",
        &huge_data,
        Kind::Audio,
        "WAV whose data chunk claims 4 GiB",
    );
    let mut no_channels = seed.clone();
    no_channels[22..24].copy_from_slice(&0u16.to_le_bytes());
    w.add(
        "zero-channels.wav",
        &no_channels,
        Kind::Audio,
        "WAV with 0 channels",
    );
    let mut no_rate = seed.clone();
    no_rate[24..28].copy_from_slice(&0u32.to_le_bytes());
    w.add("zero-rate.wav", &no_rate, Kind::Audio, "WAV at 0 Hz");
    let mut odd_bits = seed.clone();
    odd_bits[34..36].copy_from_slice(&0u16.to_le_bytes());
    w.add(
        "zero-bits.wav",
        &odd_bits,
        Kind::Audio,
        "WAV of 0-bit samples",
    );
    let mut id3_huge = mp3();
    id3_huge[6..10].copy_from_slice(&[0x7F, 0x7F, 0x7F, 0x7F]);
    w.add(
        "id3-256mib.mp3",
        &id3_huge,
        Kind::Audio,
        "ID3 tag claiming 256 MiB",
    );
    let mut frame_huge = mp3();
    frame_huge[14..18].copy_from_slice(&u32::MAX.to_be_bytes());
    w.add(
        "id3-frame-4g.mp3",
        &frame_huge,
        Kind::Audio,
        "ID3 frame claiming 4 GiB",
    );
    w.add("empty.mp3", &[], Kind::Audio, "an empty .mp3");
    w.add(
        "silence.wav",
        &silent_wav(),
        Kind::Audio,
        "a WAV of pure silence",
    );
    w.add(
        "text-as.flac",
        b"not audio at all\n",
        Kind::Audio,
        "text named .flac",
    );
    let noise: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    w.add(
        "noise.mp3",
        &noise,
        Kind::Audio,
        "4 KiB of random bytes named .mp3",
    );
    w.add(
        "noise.m4a",
        &noise,
        Kind::Audio,
        "4 KiB of random bytes named .m4a",
    );
    let mut atom = 8u32.to_be_bytes().to_vec();
    atom.extend(b"ftypM4A ");
    atom.extend(u32::MAX.to_be_bytes());
    atom.extend(b"moov");
    w.add(
        "atom-4g.m4a",
        &atom,
        Kind::Audio,
        "MP4 whose moov atom claims 4 GiB",
    );
}

fn silent_wav() -> Vec<u8> {
    let mut bytes = wav(0.5);
    for b in &mut bytes[44..] {
        *b = 0;
    }
    bytes
}

/// A grey gradient PNG.
fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(width, height, |x, y| {
        image::Luma([((x * 7 + y * 3) % 256) as u8])
    });
    encoded(
        &image::DynamicImage::ImageLuma8(img),
        image::ImageFormat::Png,
    )
}

fn encoded(img: &image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A PNG whose header says `width` x `height` (valid checksum) over a tiny image's data.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(8, 8);
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn images(w: &mut Writer, rng: &mut Seeded) {
    let img = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(64, 64, |x, y| {
        image::Luma([((x * 3 + y * 5) % 256) as u8])
    }));
    let rgb = image::DynamicImage::ImageRgb8(img.to_rgb8());
    w.seed_and_mutants(
        "photo",
        "png",
        &encoded(&img, image::ImageFormat::Png),
        Kind::Image,
        rng,
    );
    w.seed_and_mutants(
        "photo",
        "jpg",
        &encoded(&rgb, image::ImageFormat::Jpeg),
        Kind::Image,
        rng,
    );
    w.seed_and_mutants(
        "photo",
        "bmp",
        &encoded(&rgb, image::ImageFormat::Bmp),
        Kind::Image,
        rng,
    );
    w.add(
        "huge-dimensions.png",
        &png_claiming(100_000, 100_000),
        Kind::Image,
        "PNG claiming 100,000 x 100,000 pixels",
    );
    w.add(
        "zero-width.png",
        &png_claiming(0, 64),
        Kind::Image,
        "PNG 0 pixels wide",
    );
    w.add(
        "tall-thin.png",
        &png_claiming(1, 1 << 24),
        Kind::Image,
        "PNG 1 x 16 M pixels",
    );
    let mut jpeg = encoded(&rgb, image::ImageFormat::Jpeg);
    if let Some(sof) = jpeg.windows(2).position(|p| p == [0xFF, 0xC0]) {
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    }
    w.add(
        "huge-dimensions.jpg",
        &jpeg,
        Kind::Image,
        "JPEG claiming 65,535 x 65,535 pixels",
    );
    let mut bmp = encoded(&rgb, image::ImageFormat::Bmp);
    bmp[18..22].copy_from_slice(&60_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&(-60_000i32).to_le_bytes());
    w.add(
        "huge-dimensions.bmp",
        &bmp,
        Kind::Image,
        "BMP claiming 60,000 x 60,000 pixels, top-down",
    );
    w.add("empty.png", &[], Kind::Image, "an empty .png");
    w.add(
        "text-as.jpg",
        b"<html>not an image</html>",
        Kind::Image,
        "HTML named .jpg",
    );
    w.add(
        "gif.gif",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        Kind::Image,
        "a GIF (not a supported format)",
    );
}

/// A `.safetensors` file: a JSON header of `header_json` behind its length, then `data`.
fn safetensors(header_json: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header_json.len() as u64).to_le_bytes().to_vec();
    out.extend(header_json.as_bytes());
    out.extend(data);
    out
}

fn weights(w: &mut Writer, rng: &mut Seeded) {
    let valid = safetensors(
        r#"{"__metadata__":{"arch":"slimvgg"},"conv1.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
        &[0u8; 16],
    );
    w.seed_and_mutants("model", "safetensors", &valid, Kind::Weights, rng);
    let mut huge_header = valid.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    w.add(
        "header-length-max.safetensors",
        &huge_header,
        Kind::Weights,
        "header length 2^64 - 1",
    );
    let mut past_end = valid.clone();
    past_end[..8].copy_from_slice(&(valid.len() as u64 + 1000).to_le_bytes());
    w.add(
        "header-past-end.safetensors",
        &past_end,
        Kind::Weights,
        "header longer than the file",
    );
    let cases = [
        ("not-json", "{not json at all", "a header that is not JSON"),
        (
            "offsets-past-end",
            r#"{"conv1.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,4000000000]}}"#,
            "data offsets past the end",
        ),
        (
            "shape-overflow",
            r#"{"conv1.weight":{"dtype":"F32","shape":[4294967295,4294967295,4294967295],"data_offsets":[0,16]}}"#,
            "a shape whose product overflows",
        ),
        (
            "bad-dtype",
            r#"{"conv1.weight":{"dtype":"Q3","shape":[2,2],"data_offsets":[0,16]}}"#,
            "an unknown dtype",
        ),
        (
            "unknown-arch",
            r#"{"__metadata__":{"arch":"alexnet-9000"},"conv1.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#,
            "an architecture nobody knows",
        ),
        (
            "wrong-shapes",
            r#"{"__metadata__":{"arch":"slimvgg"},"conv1.conv.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            "slimvgg with a tensor of the wrong shape",
        ),
        (
            "f64",
            r#"{"__metadata__":{"arch":"slimvgg"},"conv1.weight":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#,
            "64-bit floats",
        ),
        (
            "deep-json",
            &("[".repeat(50_000) + &"]".repeat(50_000)),
            "50,000 nested arrays",
        ),
    ];
    for (name, header, made) in cases {
        w.add(
            &format!("{name}.safetensors"),
            &safetensors(header, &[0u8; 16]),
            Kind::Weights,
            made,
        );
    }
    w.add("empty.safetensors", &[], Kind::Weights, "an empty file");
    w.add(
        "seven-bytes.safetensors",
        &[1, 2, 3, 4, 5, 6, 7],
        Kind::Weights,
        "shorter than the length field",
    );
}

fn json_bodies(w: &mut Writer) {
    let feedback = Kind::Json {
        method: "POST",
        path: "/api/feedback",
    };
    let picks = Kind::Json {
        method: "PUT",
        path: "/api/picks/happy",
    };
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let big_string = format!(
        r#"{{"song_id":1,"emotion":"happy","action":"like","x":"{}"}}"#,
        "a".repeat(60_000)
    );
    let over_limit = format!(
        r#"{{"song_id":1,"emotion":"happy","action":"like","x":"{}"}}"#,
        "a".repeat(200_000)
    );
    let cases: Vec<(&str, Kind, String)> = vec![
        (
            "truncated",
            feedback.clone(),
            r#"{"song_id":1,"emot"#.into(),
        ),
        ("array", feedback.clone(), "[]".into()),
        ("deep", feedback.clone(), deep.clone()),
        (
            "huge-number",
            feedback.clone(),
            r#"{"song_id":1e999,"emotion":"happy","action":"like"}"#.into(),
        ),
        (
            "negative-id",
            feedback.clone(),
            r#"{"song_id":-1,"emotion":"happy","action":"like"}"#.into(),
        ),
        (
            "float-id",
            feedback.clone(),
            r#"{"song_id":1.5,"emotion":"happy","action":"like"}"#.into(),
        ),
        (
            "unknown-song",
            feedback.clone(),
            r#"{"song_id":99999999,"emotion":"happy","action":"like"}"#.into(),
        ),
        (
            "bad-emotion",
            feedback.clone(),
            r#"{"song_id":1,"emotion":"ecstatic","action":"like"}"#.into(),
        ),
        (
            "bad-action",
            feedback.clone(),
            r#"{"song_id":1,"emotion":"happy","action":"explode"}"#.into(),
        ),
        (
            "nul-in-string",
            feedback.clone(),
            r#"{"song_id":1,"emotion":"hap\u0000py","action":"like"}"#.into(),
        ),
        (
            "lone-surrogate",
            feedback.clone(),
            r#"{"song_id":1,"emotion":"\ud800","action":"like"}"#.into(),
        ),
        ("big-string", feedback.clone(), big_string),
        ("over-limit", feedback.clone(), over_limit),
        (
            "duplicate-keys",
            feedback.clone(),
            r#"{"song_id":1,"song_id":"x","emotion":"happy","action":"like"}"#.into(),
        ),
        (
            "invalid-utf8",
            feedback.clone(),
            String::from_utf8_lossy(b"{\"song_id\":1,\"emotion\":\"\xff\"}").into_owned(),
        ),
        (
            "picks-not-list",
            picks.clone(),
            r#"{"song_ids":"all"}"#.into(),
        ),
        (
            "picks-huge-ids",
            picks.clone(),
            r#"{"song_ids":[18446744073709551615, -9223372036854775808]}"#.into(),
        ),
        (
            "picks-many",
            picks.clone(),
            format!(r#"{{"song_ids":[{}]}}"#, vec!["1"; 20_000].join(",")),
        ),
        ("picks-deep", picks.clone(), deep),
        ("picks-empty", picks, String::new()),
    ];
    for (name, kind, body) in cases {
        w.add(
            &format!("{name}.json"),
            body.as_bytes(),
            kind,
            format!("request body {name}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_large_and_the_same_every_time() {
        let (a, b) = (tempfile_dir("a"), tempfile_dir("b"));
        let first = write_corpus(&a);
        let second = write_corpus(&b);
        assert!(first.len() >= 200, "{} files", first.len());
        for (x, y) in first.iter().zip(&second) {
            assert_eq!(x.path.file_name(), y.path.file_name());
            assert_eq!(
                std::fs::read(&x.path).unwrap(),
                std::fs::read(&y.path).unwrap()
            );
        }
        let names: std::collections::HashSet<_> = first.iter().map(|e| e.path.clone()).collect();
        assert_eq!(names.len(), first.len(), "every file has its own name");
        for kind in [
            Kind::SongList,
            Kind::Lyrics,
            Kind::Audio,
            Kind::Image,
            Kind::Weights,
        ] {
            assert!(
                first.iter().filter(|e| e.kind == kind).count() >= 15,
                "{kind:?}"
            );
        }
        let _ = std::fs::remove_dir_all(a.parent().unwrap());
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("moodtune-corpus-test-{}", std::process::id()))
            .join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_png_crc_is_right() {
        // The standard check value of CRC-32.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
