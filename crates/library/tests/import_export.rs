//! Import and export through the public API, on fixtures each test makes itself.

use lofty::config::WriteOptions;
use lofty::tag::{Accessor, ItemKey, Tag, TagExt, TagType};
use moodtune_core::Emotion;
use moodtune_library::{Error, Library};
use moodtune_testkit::ods::{ods_text, write_ods};
use std::path::{Path, PathBuf};

/// A short 16-bit mono WAV of a sine tone.
fn write_wav(path: &Path, seconds: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(seconds * 8000.0) as usize {
        let v = (i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 8000.0;
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn tag_wav(path: &Path, title: &str, artist: &str, genre: &str, lyrics: Option<&str>) {
    let mut tag = Tag::new(TagType::Id3v2);
    tag.set_title(title.to_string());
    tag.set_artist(artist.to_string());
    tag.set_album("Tests".to_string());
    tag.set_genre(genre.to_string());
    if let Some(l) = lyrics {
        tag.insert_text(ItemKey::Lyrics, l.to_string());
    }
    tag.save_to_path(path, WriteOptions::default()).unwrap();
}

fn titles(lib: &Library) -> Vec<String> {
    let mut t: Vec<String> = lib.songs().unwrap().into_iter().map(|s| s.title).collect();
    t.sort();
    t
}

#[test]
fn a_shared_id_is_named_as_such_and_a_repeated_row_as_the_same_song() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ids.csv");
    std::fs::write(
        &csv,
        "id,title,artist
7,Alpha,Ava
7,Beta,Bo
7,alpha,Ava
8,Gamma,Cy
",
    )
    .unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(&csv).unwrap();
    assert_eq!(report.added, 2, "{report}");
    let loc = |line: usize| format!("{}:{line}", csv.display());
    let reasons: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|i| (i.location.clone(), i.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 2, "{report}");
    assert_eq!(reasons[0].0, loc(3));
    assert!(
        reasons[0].1.contains("\"7\"") && reasons[0].1.contains("must be unique"),
        "{}",
        reasons[0].1
    );
    assert_eq!(reasons[1], (loc(4), format!("same song as {}", loc(2))));
    assert_eq!(titles(&lib), vec!["Alpha", "Gamma"]);
}

#[test]
fn csv_with_chinese_headers_imports_and_reports_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("sun.wav"), 0.5);
    let csv = dir.path().join("歌单.csv");
    std::fs::write(
        &csv,
        "\u{feff}歌名,歌手,专辑,歌词,标签,情感,文件,备注\n\
         晴天,小林,夏天,\"[00:01.00]阳光 很 好\n[00:03.00]我们 去 跳舞\",\"欢快、钢琴，网络\",开心,sun.wav,x\n\
         Rain Walk,Ava,,walking in the rain,Calm; Piano,sad,missing.wav,\n\
         Bad Mood,Bo,,,Dark,grumpy,,\n\
         ,Nobody,,,,,,\n\
         ,,,,,,,\n\
         晴天,小林,,,,,,\n",
    )
    .unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(&csv).unwrap();
    assert_eq!(
        (report.added, report.updated, report.unchanged),
        (2, 0, 0),
        "{report}"
    );

    let skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|i| (i.location.clone(), i.reason.clone()))
        .collect();
    let loc = |line: usize| format!("{}:{line}", csv.display());
    assert_eq!(skipped.len(), 3, "{report}");
    assert_eq!(skipped[0].0, loc(5));
    assert!(skipped[0].1.contains("grumpy"), "{}", skipped[0].1);
    assert_eq!(skipped[1], (loc(6), "empty title".to_string()));
    assert_eq!(skipped[2].0, loc(8));
    assert!(skipped[2].1.contains(&loc(2)), "{}", skipped[2].1);
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].location, loc(4));
    assert!(report.warnings[0].reason.contains("missing.wav"));

    let sunny = lib.find("晴天").unwrap();
    assert_eq!(sunny.artist, "小林");
    assert_eq!(sunny.album.as_deref(), Some("夏天"));
    assert_eq!(sunny.lyrics.as_deref(), Some("阳光 很 好\n我们 去 跳舞"));
    assert_eq!(sunny.tags, vec!["欢快", "网络", "钢琴"]);
    assert_eq!(sunny.manual_emotion, Some(Emotion::Happy));
    assert_eq!(sunny.language.as_deref(), Some("zh"));
    let audio = sunny.audio_path.clone().unwrap();
    assert!(audio.is_absolute());
    assert_eq!(audio, dir.path().join("sun.wav").canonicalize().unwrap());
    assert_eq!(lib.audio_path(sunny.id), Some(audio));

    let rain = lib.find("rain walk").unwrap();
    assert_eq!(rain.tags, vec!["Calm", "Piano"]);
    assert_eq!(rain.emotion(), Some(Emotion::Sad));
    assert_eq!(rain.audio_path, None);
    assert_eq!(rain.language.as_deref(), Some("en"));
}

/// The server plays a song's file to the browser, so an import links audio files only:
/// a library row pointing at a page, a key or the database itself gets no file.
#[test]
fn only_audio_files_are_linked_to_songs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), "<script>alert(1)</script>").unwrap();
    std::fs::write(dir.path().join("tone.WAV"), b"RIFF").unwrap();
    let csv = dir.path().join("songs.csv");
    std::fs::write(
        &csv,
        "title,artist,audio\nPage,Ava,page.html\nTone,Ava,tone.WAV\nSelf,Ava,songs.csv\n",
    )
    .unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(&csv).unwrap();
    assert_eq!(report.added, 3, "{report}");
    assert_eq!(lib.find("Page").unwrap().audio_path, None);
    assert_eq!(lib.find("Self").unwrap().audio_path, None);
    assert!(lib.find("Tone").unwrap().audio_path.is_some());
    let warned: Vec<&str> = report.warnings.iter().map(|w| w.reason.as_str()).collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(warned[0].contains("page.html") && warned[0].contains("not an audio file"));
}

#[test]
fn reimporting_updates_instead_of_duplicating() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("songs.csv");
    let write = |tags: &str| {
        std::fs::write(
            &csv,
            format!("title;artist;tags\nOne;A;{tags}\nTwo;B;Slow\nThree;C;\n"),
        )
        .unwrap()
    };
    write("Fast");
    let mut lib = Library::open_in_memory().unwrap();
    let first = lib.import_path(&csv).unwrap();
    assert_eq!((first.added, first.updated, first.unchanged), (3, 0, 0));
    let again = lib.import_path(&csv).unwrap();
    assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(again.song_ids, first.song_ids);

    write("Fast, Bright");
    let changed = lib.import_path(&csv).unwrap();
    assert_eq!(
        (changed.added, changed.updated, changed.unchanged),
        (0, 1, 2)
    );
    assert_eq!(lib.len().unwrap(), 3);
    assert_eq!(lib.find("One").unwrap().tags, vec!["Bright", "Fast"]);
}

#[test]
fn xlsx_sheets_with_offsets_durations_and_missing_headers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    {
        let s = book.add_worksheet();
        s.set_name("Songs").unwrap();
        // A title row above the header, and data starting in column B.
        s.write_string(0, 1, "My favourite songs").unwrap();
        for (c, h) in ["Song Title", "Singer", "Duration", "Tags", "Mood"]
            .iter()
            .enumerate()
        {
            s.write_string(2, c as u16 + 1, *h).unwrap();
        }
        s.write_string(3, 1, "Back Wave").unwrap();
        s.write_string(3, 2, "Ava").unwrap();
        s.write_string(3, 3, "3:45").unwrap();
        s.write_string(3, 4, "Cheerful/Wild/Keyboard").unwrap();
        s.write_string(3, 5, "Happy").unwrap();
        s.write_string(4, 1, "Rise").unwrap();
        s.write_string(4, 2, "Bo").unwrap();
        s.write_number(4, 3, 200).unwrap();
        s.write_string(5, 1, "Broken").unwrap();
        s.write_string(5, 3, "soon").unwrap();
    }
    {
        let s = book.add_worksheet();
        s.set_name("Notes").unwrap();
        s.write_string(0, 0, "nothing to see").unwrap();
    }
    book.save(&path).unwrap();

    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(&path).unwrap();
    assert_eq!(report.added, 2, "{report}");
    assert_eq!(report.skipped.len(), 2, "{report}");
    assert_eq!(
        report.skipped[0].location,
        format!("{}:Songs:6", path.display())
    );
    assert!(report.skipped[0].reason.contains("soon"));
    assert_eq!(
        report.skipped[1].location,
        format!("{}:Notes", path.display())
    );

    let bw = lib.find("Back Wave").unwrap();
    assert_eq!(bw.duration_s, Some(225.0));
    assert_eq!(bw.tags, vec!["Cheerful", "Keyboard", "Wild"]);
    assert_eq!(bw.manual_emotion, Some(Emotion::Happy));
    assert_eq!(lib.find("Rise").unwrap().duration_s, Some(200.0));
}

/// A sheet's far corner must not make the reader allocate every cell up to it: one cell
/// at XFD1048576 would be 17 billion cells.
#[test]
fn xlsx_with_far_away_cells_is_read_sparsely() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    {
        let s = book.add_worksheet();
        s.set_name("Songs").unwrap();
        s.write_string(0, 0, "Title").unwrap();
        s.write_string(0, 1, "Artist").unwrap();
        s.write_string(1, 0, "Near").unwrap();
        s.write_string(1, 1, "Ava").unwrap();
        // The last row of column A: a song, a million rows down.
        s.write_string(1_048_575, 0, "Far Below").unwrap();
    }
    {
        let s = book.add_worksheet();
        s.set_name("Wide").unwrap();
        s.write_string(0, 0, "Title").unwrap();
        s.write_string(1, 0, "Lost").unwrap();
        s.write_string(1_048_575, 16_383, "corner").unwrap();
    }
    book.save(&path).unwrap();

    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(&path).unwrap();
    assert_eq!(report.added, 2, "{report}");
    assert_eq!(lib.find("Far Below").unwrap().title, "Far Below");
    assert_eq!(report.skipped.len(), 1, "{report}");
    assert_eq!(
        report.skipped[0].location,
        format!("{}:Wide", path.display())
    );
    assert!(
        report.skipped[0].reason.contains("column 16384"),
        "{}",
        report.skipped[0].reason
    );
}

/// calamine expands repeated ODS cells while it opens a file: the import counts them
/// first, so a few bytes asking for billions are refused, while the long empty runs every
/// real ODS row ends with cost nothing.
#[test]
fn ods_with_huge_repeated_cells_is_refused_before_it_is_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ods");
    write_ods(
        &good,
        &format!(
            r#"<table:table-row>{}{}<table:table-cell table:number-columns-repeated="16382"/></table:table-row><table:table-row>{}{}<table:table-cell table:number-columns-repeated="16382"/></table:table-row><table:table-row table:number-rows-repeated="1048574"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#,
            ods_text("Title"),
            ods_text("Artist"),
            ods_text("Open Sheet"),
            ods_text("Ava"),
        ),
    );
    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(&good).unwrap();
    assert_eq!(report.added, 1, "{report}");
    assert_eq!(lib.find("Open Sheet").unwrap().artist, "Ava");

    let bomb = dir.path().join("bomb.ods");
    write_ods(
        &bomb,
        &format!(
            r#"<table:table-row>{}</table:table-row><table:table-row><table:table-cell table:number-columns-repeated="2000000000"/>{}</table:table-row>"#,
            ods_text("Title"),
            ods_text("x"),
        ),
    );
    let err = lib.import_path(&bomb).unwrap_err().to_string();
    assert!(err.contains("bomb.ods") && err.contains("cells"), "{err}");

    // The other ways a few bytes expand: repeated rows before a row with a value, a
    // formula-only run at the end of a row, spaces by count, one text copied per repeat.
    let long_text = ods_text(&"la ".repeat(700));
    let bombs = [
        (
            format!(
                r#"<table:table-row>{}</table:table-row><table:table-row table:number-rows-repeated="1000000000"><table:table-cell/></table:table-row><table:table-row>{}</table:table-row>"#,
                ods_text("Title"),
                ods_text("x"),
            ),
            "cells",
        ),
        (
            format!(
                r#"<table:table-row>{}</table:table-row><table:table-row>{}<table:table-cell table:formula="of:=1" table:number-columns-repeated="2000000000"/></table:table-row>"#,
                ods_text("Title"),
                ods_text("x"),
            ),
            "cells",
        ),
        (
            format!(
                r#"<table:table-row>{}</table:table-row><table:table-row><table:table-cell office:value-type="string"><text:p>a<text:s text:c="20000000000"/></text:p></table:table-cell></table:table-row>"#,
                ods_text("Title"),
            ),
            "MiB of text",
        ),
        (
            format!(
                r#"<table:table-row>{}</table:table-row><table:table-row table:number-rows-repeated="200000">{long_text}</table:table-row>"#,
                ods_text("Title"),
            ),
            "MiB of text",
        ),
    ];
    for (i, (rows, what)) in bombs.iter().enumerate() {
        let bomb = dir.path().join(format!("bomb{i}.ods"));
        write_ods(&bomb, rows);
        let err = lib.import_path(&bomb).unwrap_err().to_string();
        assert!(
            err.contains(&format!("bomb{i}.ods")) && err.contains(what),
            "{err}"
        );
    }
}

#[test]
fn music_folder_reads_tags_lyrics_and_skips_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(music.join("album")).unwrap();

    let tagged = music.join("album").join("01 track.wav");
    write_wav(&tagged, 1.0);
    tag_wav(
        &tagged,
        "Paper Boats",
        "Ava",
        "Calm; Piano",
        Some("[ar:Ava]\n[00:01.00]paper boats drift away\n[00:03.00]into the night"),
    );
    let plain = music.join("untitled song.wav");
    write_wav(&plain, 0.5);
    std::fs::write(
        music.join("untitled song.lrc"),
        "[ti:x]\n[00:00.50]哭 了 一 整 夜\n",
    )
    .unwrap();
    let broken = music.join("broken.mp3");
    std::fs::write(&broken, b"definitely not an mp3 file at all").unwrap();
    std::fs::write(music.join("cover.jpg"), b"jpeg?").unwrap();

    let mut lib = Library::open_in_memory().unwrap();
    let mut seen = Vec::new();
    let report = lib
        .import_path_with(&music, &mut |p| seen.push((p.done, p.total)))
        .unwrap();
    assert_eq!(report.added, 2, "{report}");
    assert_eq!(report.skipped.len(), 1, "{report}");
    assert_eq!(report.skipped[0].location, broken.display().to_string());
    assert_eq!(seen.first(), Some(&(0, 3)));
    assert_eq!(seen.last(), Some(&(3, 3)));

    let boats = lib.find("Paper Boats").unwrap();
    assert_eq!(boats.artist, "Ava");
    assert_eq!(boats.album.as_deref(), Some("Tests"));
    assert_eq!(boats.tags, vec!["Calm", "Piano"]);
    assert_eq!(
        boats.lyrics.as_deref(),
        Some("paper boats drift away\ninto the night")
    );
    let d = boats.duration_s.unwrap();
    assert!((d - 1.0).abs() < 0.05, "{d}");
    assert_eq!(boats.audio_path, Some(tagged.canonicalize().unwrap()));

    let untitled = lib.find("untitled song").unwrap();
    assert_eq!(untitled.artist, "");
    assert_eq!(untitled.lyrics.as_deref(), Some("哭 了 一 整 夜"));
    assert_eq!(untitled.language.as_deref(), Some("zh"));

    // Again: nothing new; a single file import finds the same song.
    let again = lib.import_path(&music).unwrap();
    assert_eq!((again.added, again.unchanged), (0, 2));
    let single = lib.import_path(&plain).unwrap();
    assert_eq!(single.song_ids, vec![untitled.id]);
    assert_eq!(lib.len().unwrap(), 2);
}

#[test]
fn a_cut_short_audio_file_is_skipped_with_a_reason_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.wav");
    write_wav(&cut, 0.5);
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..30]).unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(dir.path()).unwrap();
    assert_eq!(report.added, 0, "{report}");
    assert_eq!(report.skipped.len(), 1, "{report}");
    let reason = &report.skipped[0].reason;
    assert!(reason.starts_with("unreadable audio"), "{reason}");
}

/// xlsx cells hold at most 32,767 characters: an export with longer lyrics names the
/// song and points to CSV, which keeps them whole, instead of failing on a cell.
#[test]
fn lyrics_too_long_for_xlsx_are_a_clear_error_and_csv_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let epic = "la ".repeat(12_000);
    lib.add_song(&moodtune_library::NewSong::new("Epic", "Ava").lyrics(epic.trim()))
        .unwrap();
    let xlsx = dir.path().join("out.xlsx");
    let err = lib.export(&xlsx).unwrap_err().to_string();
    assert!(
        err.contains("out.xlsx") && err.contains("\"Epic\"") && err.contains("lyrics has 35999"),
        "{err}"
    );
    assert!(!xlsx.exists());
    let csv = dir.path().join("out.csv");
    lib.export(&csv).unwrap();
    let mut other = Library::open_in_memory().unwrap();
    other.import_path(&csv).unwrap();
    assert_eq!(
        other.find("Epic").unwrap().lyrics.as_deref(),
        Some(epic.trim())
    );
    // An oversized title is quoted by its start only, not 40000 characters of error.
    let mut lib = Library::open_in_memory().unwrap();
    lib.add_song(&moodtune_library::NewSong::new("x".repeat(40_000), "Ava"))
        .unwrap();
    let err = lib.export(&xlsx).unwrap_err().to_string();
    assert!(err.contains("title has 40000") && err.len() < 400, "{err}");
}

#[test]
fn export_round_trips_through_csv_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("a.wav"), 0.2);
    let src = dir.path().join("src.csv");
    std::fs::write(
        &src,
        "title,artist,tags,emotion,audio,lyrics,duration\n\
         \"Comma, Song\",Ava,\"Cheerful, Piano\",happy,a.wav,\"line one\nline two\",61\n\
         雨夜,周,\"安静、钢琴\",,,,\n",
    )
    .unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    lib.import_path(&src).unwrap();
    let rain = lib.find("雨夜").unwrap();
    lib.set_prediction(
        rain.id,
        Some(&moodtune_library::PredictedEmotion {
            emotion: Emotion::Sad,
            confidence: 0.75,
            model_version: "test-1".into(),
            drivers: vec!["雨".into()],
            sources: vec![],
        }),
    )
    .unwrap();

    for name in ["out.csv", "out.xlsx"] {
        let out = dir.path().join(name);
        std::fs::write(&out, b"old contents").unwrap();
        assert_eq!(lib.export(&out).unwrap(), 2);

        // Into the same library: every row finds its song.
        let same = lib.import_path(&out).unwrap();
        assert_eq!((same.added, same.updated), (0, 0), "{name}: {same}");
        assert_eq!(same.unchanged, 2, "{name}: {same}");

        // Into a fresh library: the same songs, and predictions do not become labels.
        let mut fresh = Library::open_in_memory().unwrap();
        let r = fresh.import_path(&out).unwrap();
        assert_eq!(r.added, 2, "{name}: {r}");
        let a = fresh.find("Comma, Song").unwrap();
        let orig = lib.find("Comma, Song").unwrap();
        assert_eq!(a.tags, orig.tags);
        assert_eq!(a.manual_emotion, Some(Emotion::Happy));
        assert_eq!(a.lyrics, orig.lyrics);
        assert_eq!(a.audio_path, orig.audio_path);
        assert_eq!(a.duration_s, Some(61.0));
        let r2 = fresh.find("雨夜").unwrap();
        assert_eq!(r2.tags, vec!["安静", "钢琴"]);
        assert_eq!(r2.manual_emotion, None);
    }
    // No temp files left behind.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn csv_exports_keep_formula_like_cells_as_text_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let titles = [
        "=HYPERLINK(\"http://x\")",
        "+44 radio",
        "-ing",
        "@home",
        "'quoted'",
        // Text that itself starts with the guard must not lose its quote on the way back.
        "'=not a formula",
        "''-",
    ];
    for t in titles {
        lib.add_song(&moodtune_library::NewSong::new(t, "Ava"))
            .unwrap();
    }
    let out = dir.path().join("out.csv");
    lib.export(&out).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    for line in text.lines().skip(1) {
        let title = line.split(',').nth(1).unwrap();
        assert!(
            !title
                .trim_start_matches('"')
                .starts_with(['=', '+', '-', '@']),
            "a spreadsheet would run this cell: {line}"
        );
    }
    let mut fresh = Library::open_in_memory().unwrap();
    assert_eq!(fresh.import_path(&out).unwrap().added, titles.len());
    for t in titles {
        assert!(fresh.find(t).is_ok(), "{t} did not come back");
    }
}

/// An exported id is trusted only when the song still has the row's title or its
/// (non-empty) artist: an edited export updates its songs, while an empty artist,
/// which every untagged song has, vouches for nothing.
#[test]
fn an_edited_export_updates_the_song_it_came_from_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let id = lib
        .add_song(&moodtune_library::NewSong::new("Old Title", "Ava").tags(["Calm"]))
        .unwrap();
    let out = dir.path().join("out.csv");
    lib.export(&out).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    std::fs::write(&out, text.replace("Old Title", "New Title")).unwrap();
    let r = lib.import_path(&out).unwrap();
    assert_eq!((r.added, r.updated), (0, 1), "{r}");
    assert_eq!(lib.song(id).unwrap().unwrap().title, "New Title");
    assert_eq!(lib.len().unwrap(), 1);

    let rain = lib
        .add_song(&moodtune_library::NewSong::new("Rain", ""))
        .unwrap();
    let sheet = dir.path().join("other-library.csv");
    std::fs::write(
        &sheet,
        format!("moodtune_id,title,artist,lyrics\n{rain},Sunshine,,bright days\n"),
    )
    .unwrap();
    let r = lib.import_path(&sheet).unwrap();
    assert_eq!((r.added, r.updated), (1, 0), "{r}");
    let kept = lib.song(rain).unwrap().unwrap();
    assert_eq!((kept.title.as_str(), kept.lyrics), ("Rain", None));
    assert_eq!(
        lib.find("Sunshine").unwrap().lyrics.as_deref(),
        Some("bright days")
    );
}

#[test]
fn bad_inputs_are_clear_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open_in_memory().unwrap();

    let missing = dir.path().join("nope.csv");
    let e = lib.import_path(&missing).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("nope.csv"),
        "{e}"
    );

    let corrupt = dir.path().join("corrupt.xlsx");
    std::fs::write(&corrupt, b"PK\x03\x04 this is not a zip").unwrap();
    let e = lib.import_path(&corrupt).unwrap_err();
    assert!(e.to_string().contains("corrupt.xlsx"), "{e}");

    let headerless = dir.path().join("numbers.csv");
    std::fs::write(&headerless, "1,2,3\n4,5,6\n").unwrap();
    let e = lib.import_path(&headerless).unwrap_err();
    assert!(
        e.to_string().contains("numbers.csv") && e.to_string().contains("title"),
        "{e}"
    );

    let odd = dir.path().join("notes.docx");
    std::fs::write(&odd, b"x").unwrap();
    let e = lib.import_path(&odd).unwrap_err();
    assert!(e.to_string().contains("unsupported"), "{e}");

    let e = lib.export(&dir.path().join("out.pdf")).unwrap_err();
    assert!(e.to_string().contains("out.pdf"), "{e}");
    let e = lib
        .export(&dir.path().join("no/such/dir/out.csv"))
        .unwrap_err();
    assert!(e.to_string().contains("no/such/dir"), "{e}");

    assert!(titles(&lib).is_empty());
}

#[test]
fn an_untagged_file_does_not_rename_its_song() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    write_wav(&music.join("track01.wav"), 0.3);
    let csv = dir.path().join("songs.csv");
    std::fs::write(
        &csv,
        "title,artist,audio,duration\nMorning Song,Ava,music/track01.wav,0.3\n",
    )
    .unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    lib.import_path(&csv).unwrap();
    let r = lib.import_path(&music).unwrap();
    assert_eq!((r.added, r.updated, r.unchanged), (0, 0, 1), "{r}");
    let songs = lib.songs().unwrap();
    assert_eq!(songs.len(), 1);
    assert_eq!(songs[0].title, "Morning Song");
    // A file nobody knew is named after itself.
    write_wav(&music.join("track02.wav"), 0.3);
    lib.import_path(&music).unwrap();
    assert!(lib.find("track02").is_ok());
}

/// Untagged files are named after themselves, so two folders' `Track 01.wav` share a
/// title and an (empty) artist; they are still two songs. When the folder moves, each
/// song follows its file instead of being added again.
#[test]
fn files_with_the_same_name_in_two_folders_stay_two_songs() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    for album in ["first album", "second album"] {
        std::fs::create_dir_all(music.join(album)).unwrap();
        write_wav(&music.join(album).join("Track 01.wav"), 0.3);
    }
    // The second album first, so that the lowest id is not the first album's song.
    let mut lib = Library::open_in_memory().unwrap();
    for album in ["second album", "first album"] {
        let r = lib.import_path(&music.join(album)).unwrap();
        assert_eq!((r.added, r.updated), (1, 0), "{r}");
    }
    let again = lib.import_path(&music).unwrap();
    assert_eq!(
        (again.added, again.updated, again.unchanged),
        (0, 0, 2),
        "{again}"
    );
    let album_of = |lib: &Library| -> Vec<(i64, String)> {
        lib.songs()
            .unwrap()
            .into_iter()
            .map(|s| {
                let path = s.audio_path.unwrap();
                let folder = path.parent().unwrap().file_name().unwrap();
                (s.id, folder.to_string_lossy().into_owned())
            })
            .collect()
    };
    let before = album_of(&lib);

    let moved = dir.path().join("moved");
    std::fs::rename(&music, &moved).unwrap();
    let r = lib.import_path(&moved).unwrap();
    assert_eq!((r.added, r.updated), (0, 2), "{r}");
    // Each song follows its own file.
    assert_eq!(album_of(&lib), before);
    let canonical = moved.canonicalize().unwrap();
    for song in lib.songs().unwrap() {
        assert!(song.audio_path.unwrap().starts_with(&canonical));
    }
}

/// `key` and `label` name an id and an emotion in some lists, and a musical key and a
/// record label in DJ sheets: they are read only when their values fit.
#[test]
fn key_and_label_columns_are_read_only_when_they_fit() {
    let dir = tempfile::tempdir().unwrap();
    let dj = dir.path().join("dj.csv");
    std::fs::write(
        &dj,
        "Title,Artist,Key,Label\nNight Drive,Ava,Am,Columbia\nSunrise,Bo,Am,Sony\n",
    )
    .unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let r = lib.import_path(&dj).unwrap();
    // Both songs, not one merged by the shared key, and no row failed on "Columbia".
    assert_eq!((r.added, r.skipped.len()), (2, 0), "{r}");
    let notes: Vec<String> = r.warnings.iter().map(|w| w.reason.clone()).collect();
    let notes = notes.join("\n");
    assert!(
        notes.contains("\"Key\" is not read") && notes.contains("appears twice"),
        "{notes}"
    );
    assert!(
        notes.contains("\"Label\" is not read") && notes.contains("\"Columbia\""),
        "{notes}"
    );
    assert_eq!(lib.find("Sunrise").unwrap().manual_emotion, None);

    let mine = dir.path().join("mine.csv");
    std::fs::write(&mine, "title,key,label\nRain,r1,sad\nSun,s1,happy\n").unwrap();
    let r = lib.import_path(&mine).unwrap();
    assert_eq!((r.added, r.warnings.len()), (2, 0), "{r}");
    assert_eq!(lib.find("Rain").unwrap().manual_emotion, Some(Emotion::Sad));
    assert_eq!(lib.find("Sun").unwrap().source_key, "id:s1");
}

/// The issue's repros: 806 bytes of ODS asking for 4.9 M rows, and a table of more rows
/// than the cap, each refused with the file and the cap named; a cap can be raised.
#[test]
fn a_folder_with_more_audio_files_than_the_cap_is_refused_before_reading_them() {
    use moodtune_library::{ImportBatch, ImportLimits};
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(music.join("deeper")).unwrap();
    for i in 0..3 {
        write_wav(&music.join(format!("song{i}.wav")), 0.1);
        write_wav(&music.join("deeper").join(format!("more{i}.wav")), 0.1);
    }
    let small = ImportLimits { max_rows: 5 };
    let err = ImportBatch::read_limited(&music, &mut |_| {}, &small)
        .err()
        .expect("six files over a cap of five")
        .to_string();
    assert!(
        err.contains("music") && err.contains("more than 5 audio files"),
        "{err}"
    );
    let batch = ImportBatch::read_limited(&music, &mut |_| {}, &ImportLimits { max_rows: 6 });
    let mut lib = Library::open_in_memory().unwrap();
    assert_eq!(lib.import_batch(batch.unwrap()).unwrap().added, 6);
}

#[test]
fn imports_are_capped_in_rows_with_a_clear_message() {
    use moodtune_library::{ImportBatch, ImportLimits, MAX_IMPORT_ROWS};
    assert_eq!(ImportLimits::default().max_rows, MAX_IMPORT_ROWS);
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open_in_memory().unwrap();

    let ods = dir.path().join("songs.ods");
    write_ods(
        &ods,
        &format!(
            r#"<table:table-row>{}</table:table-row><table:table-row table:number-rows-repeated="4900000">{}</table:table-row>"#,
            ods_text("Title"),
            ods_text("x"),
        ),
    );
    assert!(std::fs::metadata(&ods).unwrap().len() < 2048);
    let err = lib.import_path(&ods).unwrap_err().to_string();
    assert!(
        err.ends_with("songs.ods: more than 200000 rows; split the file or raise the limit"),
        "{err}"
    );
    let err = ImportBatch::read_without_audio_links(&ods)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("more than 200000 rows"), "{err}");

    let small = ImportLimits { max_rows: 20 };
    let csv = dir.path().join("songs.csv");
    let mut text = String::from("title,artist\n");
    for i in 0..30 {
        text.push_str(&format!("Song {i},Ava\n"));
    }
    std::fs::write(&csv, &text).unwrap();
    let err = lib
        .import_path_limited(&csv, &mut |_| {}, &small)
        .unwrap_err();
    assert!(matches!(err, Error::Import { .. }), "{err:?}");
    let err = err.to_string();
    assert!(
        err.ends_with("songs.csv: more than 20 rows; split the file or raise the limit"),
        "{err}"
    );
    assert!(
        lib.is_empty().unwrap(),
        "nothing of a refused file is written"
    );
    let raised = ImportLimits { max_rows: 31 };
    let report = lib.import_path_limited(&csv, &mut |_| {}, &raised).unwrap();
    assert_eq!(report.added, 30, "{report}");

    // Spreadsheets count the rows of every sheet together.
    let xlsx = dir.path().join("songs.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    for sheet in 0..2 {
        let ws = book.add_worksheet();
        ws.write_string(0, 0, "title").unwrap();
        for r in 1..15u32 {
            ws.write_string(r, 0, format!("Sheet {sheet} song {r}"))
                .unwrap();
        }
    }
    book.save(&xlsx).unwrap();
    let err = ImportBatch::read_limited(&xlsx, &mut |_| {}, &small)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.ends_with("songs.xlsx: more than 20 rows; split the file or raise the limit"),
        "{err}"
    );
    let batch = ImportBatch::read_limited(&xlsx, &mut |_| {}, &raised).unwrap();
    assert_eq!(lib.import_batch(batch).unwrap().added, 28);

    let ods = dir.path().join("few.ods");
    let rows: String = (0..25)
        .map(|i| {
            format!(
                "<table:table-row>{}</table:table-row>",
                ods_text(&format!("Song {i}"))
            )
        })
        .collect();
    write_ods(
        &ods,
        &format!(
            "<table:table-row>{}</table:table-row>{rows}",
            ods_text("Title")
        ),
    );
    let err = lib
        .import_path_limited(&ods, &mut |_| {}, &small)
        .unwrap_err()
        .to_string();
    assert!(err.contains("few.ods: more than 20 rows"), "{err}");
}

/// A file of thousands of bad rows makes a short report: the first 50 listed, the rest
/// counted by reason, in the text and in the JSON alike.
#[test]
fn many_skipped_rows_are_summarised_by_reason() {
    use moodtune_library::MAX_LISTED_ISSUES;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("songs.csv");
    let mut text = String::from("title,artist,duration,audio\n");
    text.push_str("Halo,Ava,,\n");
    for i in 0..3000 {
        text.push_str(&format!(",Nobody {i},,\n"));
    }
    for i in 0..120 {
        text.push_str(&format!("Song {i},Ava,soon {i},\n"));
    }
    for _ in 0..70 {
        text.push_str("Halo,Ava,,\n");
    }
    for i in 0..60 {
        text.push_str(&format!("Track {i},Ava,,missing {i}.mp3\n"));
    }
    std::fs::write(&csv, &text).unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let report = lib.import_path(&csv).unwrap();
    assert_eq!(report.added, 61, "{report}");
    assert_eq!(report.skipped.len(), MAX_LISTED_ISSUES);
    assert_eq!(report.skipped_count, 3190);
    assert_eq!(report.warnings.len(), MAX_LISTED_ISSUES);
    assert_eq!(report.warning_count, 60);
    let more: Vec<(&str, usize)> = report
        .more_skipped
        .iter()
        .map(|c| (c.reason.as_str(), c.count))
        .collect();
    assert_eq!(
        more,
        vec![
            ("empty title", 2950),
            ("duration \"…\" is not seconds or m:ss", 120),
            ("same song as …", 70),
        ]
    );
    assert_eq!(report.more_warnings.len(), 1);
    assert!(
        report.more_warnings[0]
            .reason
            .starts_with("audio file \"…\" not found"),
        "{:?}",
        report.more_warnings
    );

    let shown = report.to_string();
    assert!(
        shown.starts_with("61 added, 0 updated, 0 unchanged, 3,190 skipped, 60 warnings"),
        "{shown}"
    );
    assert!(
        shown.contains("\n  and 2,950 more skipped: empty title"),
        "{shown}"
    );
    assert!(
        shown.contains("\n  and 70 more skipped: same song as …"),
        "{shown}"
    );
    assert!(
        shown.contains("\n  and 10 more warnings: audio file \"…\" not found"),
        "{shown}"
    );
    assert!(shown.lines().count() < 110, "{shown}");

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["skipped"].as_array().unwrap().len(), MAX_LISTED_ISSUES);
    assert_eq!(json["skipped_count"], 3190);
    assert_eq!(json["more_skipped"][0]["reason"], "empty title");
    assert_eq!(json["more_skipped"][0]["count"], 2950);
    assert!(serde_json::to_string(&report).unwrap().len() < 20_000);
}
