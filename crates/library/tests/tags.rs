//! Moods written into audio files (`write-tags`) and read back by a folder import, on
//! fixtures the tests make: an MP3 built byte by byte, and FLAC, Ogg Vorbis, M4A (and
//! a LAME MP3) converted from a synthesised WAV by ffmpeg (scripts/setup-test-tags.sh
//! installs it; moodtune itself never runs it).

use lofty::file::TaggedFileExt;
use lofty::tag::{Accessor, ItemKey, TagExt};
use moodtune_core::Emotion;
use moodtune_library::{Library, WriteTagsOptions, WriteTagsReport};
use moodtune_testkit::mp3::{id3_frame, mp3_bytes, text_frame};
use std::path::{Path, PathBuf};
use std::process::Command;

fn write_mp3(path: &Path, title: &str, genre: &str) {
    std::fs::write(
        path,
        mp3_bytes(
            &[
                text_frame(b"TIT2", title),
                text_frame(b"TPE1", "Tester"),
                text_frame(b"TCON", genre),
            ],
            40,
        ),
    )
    .unwrap();
}

/// Converts a second of synthesised tone into `out` with ffmpeg (codec from the name),
/// with a title, artist and genre. False (and the skip recorded) without ffmpeg.
fn ffmpeg_fixture(out: &Path, title: &str, genre: &str) -> bool {
    let wav = out.with_extension("src.wav");
    let rate = 22_050;
    let samples: Vec<f32> = (0..rate)
        .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5)
        .collect();
    moodtune_testkit::write_wav(&wav, &samples, rate as u32);
    let codec = match out.extension().and_then(|e| e.to_str()) {
        Some("flac") => "flac",
        Some("ogg") => "libvorbis",
        Some("m4a") => "aac",
        Some("mp3") => "libmp3lame",
        other => panic!("no codec for {other:?}"),
    };
    let run = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-metadata", &format!("title={title}")])
        .args(["-metadata", "artist=Tester"])
        .args(["-metadata", &format!("genre={genre}")])
        .args(["-c:a", codec])
        .arg(out)
        .output();
    let _ = std::fs::remove_file(&wav);
    match run {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!(
            "ffmpeg could not make {}: {}",
            out.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => {
            moodtune_testkit::missing(
                "ffmpeg (FLAC, Ogg Vorbis and M4A fixtures)",
                "run scripts/setup-test-tags.sh",
            );
            false
        }
    }
}

/// A folder of fixtures, one per format: the Rust-made MP3 always, the others when
/// ffmpeg is there. Returns the files.
fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mp3 = dir.join("plain.mp3");
    write_mp3(&mp3, "Plain", "Rock");
    let mut files = vec![mp3];
    for name in ["song.flac", "song.ogg", "song.m4a", "lame.mp3"] {
        let p = dir.join(name);
        if !ffmpeg_fixture(&p, &format!("Title {name}"), "Jazz") {
            break;
        }
        files.push(p);
    }
    files
}

fn mood_in(path: &Path) -> Option<String> {
    let tagged = lofty::read_from_path(path).unwrap();
    let tag = tagged.primary_tag()?;
    tag.get_string(&ItemKey::Mood).map(String::from)
}

fn title_of(path: &Path) -> Option<String> {
    let tagged = lofty::read_from_path(path).unwrap();
    tagged.primary_tag()?.title().map(|t| t.into_owned())
}

fn import(db: &Path, dir: &Path) -> Library {
    let mut lib = Library::open(db).unwrap();
    let report = lib.import_path(dir).unwrap();
    assert!(report.skipped.is_empty(), "{report}");
    lib
}

fn song_at(lib: &Library, path: &Path) -> moodtune_library::Song {
    let canonical = path.canonicalize().unwrap();
    lib.songs()
        .unwrap()
        .into_iter()
        .find(|s| s.audio_path.as_deref() == Some(canonical.as_path()))
        .unwrap_or_else(|| panic!("no song for {}", path.display()))
}

const EMOTIONS: [Emotion; 5] = [
    Emotion::Happy,
    Emotion::Sad,
    Emotion::Angry,
    Emotion::Fear,
    Emotion::Surprise,
];

/// Imports the folder and labels its songs one emotion each (the last by prediction
/// only, as `classify` would).
fn labelled(db: &Path, dir: &Path, files: &[PathBuf]) -> Library {
    let mut lib = import(db, dir);
    for (i, f) in files.iter().enumerate() {
        let id = song_at(&lib, f).id;
        if i == 1 {
            lib.set_prediction(
                id,
                Some(&moodtune_library::PredictedEmotion {
                    emotion: EMOTIONS[i],
                    confidence: 0.8,
                    model_version: "test".into(),
                    drivers: vec![],
                    sources: vec![],
                }),
            )
            .unwrap();
        } else {
            lib.set_manual_emotion(id, Some(EMOTIONS[i])).unwrap();
        }
    }
    lib
}

fn write(lib: &Library, opts: WriteTagsOptions) -> WriteTagsReport {
    lib.write_tags(&opts, &mut |_| {}).unwrap()
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".moodtune-tmp"))
        .collect()
}

#[test]
fn moods_round_trip_through_every_format_and_a_rebuilt_library() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("music");
    std::fs::create_dir(&dir).unwrap();
    let files = fixtures(&dir);
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let db = tmp.path().join("lib.sqlite");
    let lib = labelled(&db, &dir, &files);

    let report = write(&lib, WriteTagsOptions::default());
    assert!(report.skipped.is_empty(), "{report}");
    assert_eq!(report.written.len(), files.len(), "{report}");
    for (i, f) in files.iter().enumerate() {
        let want = moodtune_library::mood_word(EMOTIONS[i]);
        assert_eq!(
            mood_in(f).as_deref(),
            Some(want.as_str()),
            "{}",
            f.display()
        );
        assert!(title_of(f).is_some(), "{}: title kept", f.display());
        let backup = PathBuf::from(format!("{}.moodtune-bak", f.display()));
        assert_eq!(
            std::fs::read(&backup).unwrap(),
            originals[i],
            "{}",
            backup.display()
        );
        assert_ne!(std::fs::read(f).unwrap(), originals[i]);
    }
    assert!(leftovers(&dir).is_empty());

    // ID3v2 TMOO, Vorbis MOOD, the MP4 freeform atom: the fields other players read.
    let mp3 = lofty::read_from_path(&files[0]).unwrap();
    let id3 = mp3.primary_tag().unwrap();
    assert_eq!(id3.tag_type(), lofty::tag::TagType::Id3v2);
    let raw = std::fs::read(&files[0]).unwrap();
    assert!(raw.windows(4).any(|w| w == b"TMOO"));
    assert_eq!(id3.genre().as_deref(), Some("Rock"), "genre untouched");
    if files.len() > 3 {
        let flac = std::fs::read(&files[1]).unwrap();
        assert!(flac.windows(5).any(|w| w == b"MOOD="));
        let m4a = std::fs::read(&files[3]).unwrap();
        assert!(m4a.windows(4).any(|w| w == b"MOOD"));
        assert!(m4a.windows(16).any(|w| w == b"com.apple.iTunes"));
    }

    // Once written, a second run has nothing to do.
    let again = write(&lib, WriteTagsOptions::default());
    assert_eq!(
        (again.written.len(), again.unchanged),
        (0, files.len()),
        "{again}"
    );

    // A library rebuilt from the files alone gets the moods back as labels.
    drop(lib);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let mut fresh = Library::open(&db).unwrap();
    let report = fresh.import_path(&dir).unwrap();
    assert_eq!(
        report.added,
        files.len(),
        "backups are not imported: {report}"
    );
    assert_eq!(report.from_files.mood_labels_from_tags, files.len());
    for (i, f) in files.iter().enumerate() {
        let song = song_at(&fresh, f);
        assert_eq!(song.manual_emotion, Some(EMOTIONS[i]), "{}", f.display());
        // The title still comes from the tag, not the file name.
        assert!(
            !["plain", "song", "lame"].contains(&song.title.as_str()),
            "{}",
            song.title
        );
    }
}

#[test]
fn tags_are_added_to_the_genre_and_come_back_as_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("music");
    std::fs::create_dir(&dir).unwrap();
    let files = fixtures(&dir);
    let db = tmp.path().join("lib.sqlite");
    let mut lib = labelled(&db, &dir, &files);
    for f in &files {
        let id = song_at(&lib, f).id;
        lib.edit_tags(id, &["Cheerful".to_string()], &[]).unwrap();
    }
    let report = write(
        &lib,
        WriteTagsOptions {
            with_tags: true,
            no_backup: true,
            ..Default::default()
        },
    );
    assert!(report.skipped.is_empty(), "{report}");
    for (f, change) in files.iter().zip(&report.written) {
        assert_eq!(change.backup, None);
        assert!(!Path::new(&format!("{}.moodtune-bak", f.display())).exists());
        let tagged = lofty::read_from_path(f).unwrap();
        let genre = tagged.primary_tag().unwrap().genre().unwrap().into_owned();
        assert!(
            genre == "Rock; Cheerful" || genre == "Jazz; Cheerful",
            "{}: the old genre first: {genre:?}",
            f.display()
        );
    }
    drop(lib);
    let _ = std::fs::remove_file(&db);
    let fresh = import(&tmp.path().join("fresh.sqlite"), &dir);
    for f in &files {
        let s = song_at(&fresh, f);
        assert!(
            s.has_tag("Cheerful") && (s.has_tag("Rock") || s.has_tag("Jazz")),
            "{:?}",
            s.tags
        );
    }
}

#[test]
fn a_dry_run_changes_no_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("music");
    std::fs::create_dir(&dir).unwrap();
    let files = fixtures(&dir);
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let listing = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let names = listing(&dir);
    let lib = labelled(&tmp.path().join("lib.sqlite"), &dir, &files);
    let report = write(
        &lib,
        WriteTagsOptions {
            dry_run: true,
            with_tags: true,
            ..Default::default()
        },
    );
    assert!(report.dry_run);
    assert_eq!(report.written.len(), files.len(), "{report}");
    assert!(report.to_string().contains("would write"), "{report}");
    for (f, bytes) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read(f).unwrap(), bytes, "{}", f.display());
    }
    assert_eq!(listing(&dir), names, "no backup, no temp file");
}

#[test]
fn a_read_only_file_is_reported_and_the_others_written() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("music");
    std::fs::create_dir(&dir).unwrap();
    let a = dir.join("a.mp3");
    let b = dir.join("b.mp3");
    write_mp3(&a, "A", "Rock");
    write_mp3(&b, "B", "Pop");
    let lib = labelled(
        &tmp.path().join("lib.sqlite"),
        &dir,
        &[a.clone(), b.clone()],
    );
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&a).unwrap();
    let report = write(&lib, WriteTagsOptions::default());
    assert_eq!(report.skipped.len(), 1, "{report}");
    assert_eq!(
        report.skipped[0].location,
        a.canonicalize().unwrap().display().to_string()
    );
    let line = report.skipped[0].to_string();
    assert!(
        line.ends_with("a.mp3: read-only: cannot write the mood"),
        "{line}"
    );
    assert_eq!(std::fs::read(&a).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
        0o444
    );
    assert_eq!(report.written.len(), 1);
    assert_eq!(mood_in(&b).as_deref(), Some("Sad"));
}

#[test]
fn a_file_deleted_mid_run_is_reported_and_not_recreated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("music");
    std::fs::create_dir(&dir).unwrap();
    let files: Vec<PathBuf> = ["a.mp3", "b.mp3", "c.mp3"]
        .iter()
        .map(|n| dir.join(n))
        .collect();
    for f in &files {
        write_mp3(f, "T", "Rock");
    }
    let lib = labelled(&tmp.path().join("lib.sqlite"), &dir, &files);
    let doomed = files[1].canonicalize().unwrap();
    let report = lib
        .write_tags(&WriteTagsOptions::default(), &mut |p| {
            // While the first file is written, the second goes.
            if p.done == 0 {
                std::fs::remove_file(&doomed).unwrap();
            }
        })
        .unwrap();
    assert_eq!(report.written.len(), 2, "{report}");
    assert_eq!(report.skipped.len(), 1, "{report}");
    assert!(report.skipped[0].reason.starts_with("vanished"), "{report}");
    assert!(!doomed.exists(), "not brought back");
    assert!(leftovers(&dir).is_empty());
    assert_eq!(mood_in(&files[2]).as_deref(), Some("Angry"));
}

#[test]
fn a_file_of_another_format_or_a_broken_one_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("music");
    std::fs::create_dir(&dir).unwrap();
    let wav = dir.join("tone.wav");
    moodtune_testkit::write_wav(&wav, &vec![0.1; 8_000], 8_000);
    let good = dir.join("good.mp3");
    write_mp3(&good, "Good", "Rock");
    let lib = labelled(
        &tmp.path().join("lib.sqlite"),
        &dir,
        &[good.clone(), wav.clone()],
    );
    // Cut short after the import: the tag reader now fails on it.
    let broken = dir.join("good.mp3");
    let bytes = std::fs::read(&broken).unwrap();
    let wav_before = std::fs::read(&wav).unwrap();
    std::fs::write(&broken, &bytes[..20]).unwrap();
    let report = write(&lib, WriteTagsOptions::default());
    assert_eq!(report.written.len(), 0, "{report}");
    assert_eq!(report.skipped.len(), 2, "{report}");
    let text = report.to_string();
    assert!(text.contains("tone.wav: unsupported format"), "{text}");
    assert!(text.contains("good.mp3: "), "{text}");
    assert_eq!(
        std::fs::read(&broken).unwrap(),
        &bytes[..20],
        "left as it was"
    );
    assert_eq!(std::fs::read(&wav).unwrap(), wav_before);
    assert!(leftovers(&dir).is_empty());
}

#[test]
fn import_reads_moods_genres_and_lyrics_from_every_source() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("music");
    std::fs::create_dir(&dir).unwrap();
    // MP3: TMOO, TCON and USLT lyrics.
    let mut uslt = vec![0];
    uslt.extend(b"eng\0tears fall alone, my heart is broken");
    let mp3 = dir.join("tagged.mp3");
    std::fs::write(
        &mp3,
        mp3_bytes(
            &[
                text_frame(b"TIT2", "Tagged"),
                text_frame(b"TMOO", "Sad"),
                text_frame(b"TCON", "Blues"),
                id3_frame(b"USLT", &uslt),
            ],
            40,
        ),
    )
    .unwrap();
    // MP3 with a mood that is no emotion, lyrics beside it in a .lrc file.
    let side = dir.join("side.mp3");
    std::fs::write(&side, mp3_bytes(&[text_frame(b"TMOO", "Melancholy")], 40)).unwrap();
    std::fs::write(dir.join("side.lrc"), "[00:01.00]we dance all day\n").unwrap();
    let mut expected_labels = 1;
    let mut ffmpeg_files = Vec::new();
    for (name, mood) in [("v.ogg", "Happy"), ("f.flac", "Fear"), ("m.m4a", "Angry")] {
        let p = dir.join(name);
        if !ffmpeg_fixture(&p, name, "Ambient") {
            break;
        }
        // Set with lofty's format-neutral tag: independent of moodtune's writer.
        let mut tagged = lofty::read_from_path(&p).unwrap();
        let tag = tagged.primary_tag_mut().unwrap();
        tag.insert_text(ItemKey::Mood, mood.into());
        tag.insert_text(ItemKey::Lyrics, "[00:02.00]la la la".into());
        if name == "v.ogg" {
            // A second GENRE field: every one is read.
            tag.push(lofty::tag::TagItem::new(
                ItemKey::Genre,
                lofty::tag::ItemValue::Text("Drone".into()),
            ));
        }
        tag.save_to_path(&p, lofty::config::WriteOptions::default())
            .unwrap();
        expected_labels += 1;
        ffmpeg_files.push((p, mood));
    }
    let mut lib = Library::open(tmp.path().join("lib.sqlite")).unwrap();
    let report = lib.import_path(&dir).unwrap();
    let s = report.from_files;
    assert_eq!(s.files, 2 + ffmpeg_files.len(), "{report}");
    assert_eq!(s.mood_labels_from_tags, expected_labels);
    assert_eq!(s.mood_words_from_tags, 1);
    assert_eq!(s.genres_from_tags, 1 + ffmpeg_files.len());
    assert_eq!(s.lyrics_from_tags, 1 + ffmpeg_files.len());
    assert_eq!(s.lyrics_from_sidecars, 1);
    let text = report.to_string();
    let labels = format!("{expected_labels} with a mood label in their tags");
    assert!(text.contains(&labels), "{text}");
    assert!(
        text.contains("1 with lyrics from a .lrc/.txt file"),
        "{text}"
    );

    let t = song_at(&lib, &mp3);
    assert_eq!(t.manual_emotion, Some(Emotion::Sad));
    assert!(t.has_tag("Blues"));
    assert!(t.lyrics.as_deref().unwrap().contains("heart is broken"));
    let s = song_at(&lib, &side);
    assert_eq!(s.manual_emotion, None);
    assert!(s.has_tag("Melancholy"));
    assert_eq!(s.lyrics.as_deref().map(str::trim), Some("we dance all day"));
    for (p, mood) in &ffmpeg_files {
        let song = song_at(&lib, p);
        assert_eq!(
            song.manual_emotion,
            Some(mood.parse().unwrap()),
            "{}",
            p.display()
        );
        assert!(song.has_tag("Ambient"), "{}: {:?}", p.display(), song.tags);
        assert_eq!(
            song.lyrics.as_deref().map(str::trim),
            Some("la la la"),
            "{}",
            p.display()
        );
        if p.extension().unwrap() == "ogg" {
            assert!(song.has_tag("Drone"), "{:?}", song.tags);
        }
    }
}
