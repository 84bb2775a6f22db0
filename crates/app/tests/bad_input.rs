//! Every file of the bad-input corpus (moodtune_testkit::corpus) through the library
//! functions that read such files: song-list import, folder import (tags and `.lrc`
//! lyrics), audio analysis, photo mood with the shipped model, model loading. Each must
//! give a clean result or an error naming the file; a panic or an abort fails the test
//! (no `catch_unwind` here). A failed import changes nothing, and the library reads back
//! whole afterwards. `crates/cli/tests/bad_input_server.rs` sends the same files to the
//! running server.

use moodtune_library::Library;
use moodtune_testkit::corpus::{write_corpus, Entry, Kind};
use std::path::Path;

fn file_name(e: &Entry) -> String {
    e.path.file_name().unwrap().to_string_lossy().into_owned()
}

/// An error message must say which file it is about, so a user with a hundred files
/// knows which one to look at.
fn assert_names_file(e: &Entry, message: &str) {
    assert!(
        message.contains(&file_name(e)),
        "{} ({}): the error does not name the file: {message}",
        file_name(e),
        e.made
    );
}

fn song_titles(lib: &Library) -> Vec<String> {
    let mut titles: Vec<String> = lib.songs().unwrap().into_iter().map(|s| s.title).collect();
    titles.sort();
    titles
}

#[test]
fn song_lists_import_cleanly_or_fail_naming_the_file_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let entries = write_corpus(&corpus);
    let db = tmp.path().join("library.db");
    let mut lib = Library::open(&db).unwrap();
    let keep = tmp.path().join("keep.csv");
    std::fs::write(&keep, "title,artist\nKeeper One,Ann\nKeeper Two,Bo\n").unwrap();
    lib.import_path(&keep).unwrap();

    let (mut imported, mut refused) = (0, 0);
    for e in entries.iter().filter(|e| e.kind == Kind::SongList) {
        let before = song_titles(&lib);
        match lib.import_path(&e.path) {
            Ok(_) => imported += 1,
            Err(err) => {
                refused += 1;
                assert_names_file(e, &err.to_string());
                assert_eq!(song_titles(&lib), before, "{} changed the library", e.made);
            }
        }
    }
    // The valid seeds import; the bombs and the wrong formats are refused.
    assert!(imported >= 5, "only {imported} song lists imported");
    assert!(refused >= 20, "only {refused} song lists refused");
    drop(lib);
    let lib = Library::open(&db).unwrap();
    let titles = song_titles(&lib);
    assert!(
        titles.contains(&"Keeper One".to_string()) && titles.contains(&"Keeper Two".to_string())
    );
}

#[test]
fn audio_files_and_lyrics_in_a_music_folder_are_read_or_skipped_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let entries = write_corpus(&corpus);
    let tone = entries
        .iter()
        .find(|e| file_name(e) == "tone.wav")
        .expect("the corpus has a valid WAV seed");

    // Each audio file analysed on its own: a result or an error naming the file.
    let mut analysed = 0;
    for e in entries.iter().filter(|e| e.kind == Kind::Audio) {
        match moodtune_audio::analyze_file(&e.path) {
            Ok(_) => analysed += 1,
            Err(err) => assert_names_file(e, &err.to_string()),
        }
    }
    assert!(analysed >= 1, "not even the valid WAV was analysed");

    // All of them in one music folder, each `.lrc` beside a copy of the valid WAV.
    let music = tmp.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let mut expected_songs = 0;
    for e in &entries {
        match e.kind {
            Kind::Audio => {
                std::fs::copy(&e.path, music.join(file_name(e))).unwrap();
            }
            Kind::Lyrics => {
                let stem = e.path.file_stem().unwrap().to_string_lossy().into_owned();
                std::fs::copy(&e.path, music.join(format!("lyrics-{stem}.lrc"))).unwrap();
                std::fs::copy(&tone.path, music.join(format!("lyrics-{stem}.wav"))).unwrap();
                expected_songs += 1;
            }
            _ => {}
        }
    }
    let db = tmp.path().join("library.db");
    let mut lib = Library::open(&db).unwrap();
    let report = lib.import_path(&music).unwrap();
    let songs = lib.songs().unwrap();
    // Every WAV beside a lyrics file is a song, whatever its lyrics file holds.
    let with_lyrics_file = songs
        .iter()
        .filter(|s| {
            s.audio_path
                .as_ref()
                .is_some_and(|p| file_name_of(p).starts_with("lyrics-"))
        })
        .count();
    assert_eq!(with_lyrics_file, expected_songs, "{report:?}");
    drop(lib);
    assert_eq!(
        Library::open(&db).unwrap().songs().unwrap().len(),
        songs.len()
    );
}

fn file_name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn photos_give_a_mood_or_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = write_corpus(tmp.path());
    let classifier = std::sync::Arc::new(moodtune_app::detect::load_classifier(None).unwrap());
    let mut seen = 0;
    for e in entries.iter().filter(|e| e.kind == Kind::Image) {
        seen += 1;
        // The corpus photos hold no face: success is not expected, a clear error is.
        if let Err(err) = moodtune_app::mood::mood_from_photo(&e.path, classifier.clone()) {
            assert_names_file(e, &format!("{err:#}"));
        }
    }
    assert!(seen >= 30, "{seen} images");
}

#[test]
fn broken_weights_files_are_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = write_corpus(tmp.path());
    for e in entries.iter().filter(|e| e.kind == Kind::Weights) {
        // None of them is a whole model, the "valid" seed included.
        let err = moodtune_fer::Classifier::load(&e.path)
            .err()
            .unwrap_or_else(|| panic!("{} loaded as a model", e.made));
        assert_names_file(e, &format!("{err:#}"));
    }
}
