//! `moodtune recommend` and `moodtune profile` through the binary: feedback without a
//! mood, clearing picks, and the errors for a missing mood, photo or model.

mod support;

use moodtune_core::Emotion;
use moodtune_library::{Library, NewSong};
use std::path::Path;
use support::moodtune;

/// The SPEC.md worked example, manually labelled Happy, one artist per song.
fn spec_library(db: &Path) {
    let mut lib = Library::open(db).unwrap();
    for (i, (title, tags)) in moodtune_recommend::WORKED_EXAMPLE_SONGS.iter().enumerate() {
        let song = NewSong::new(*title, format!("artist {i}"))
            .tags(tags.iter().copied())
            .emotion(Emotion::Happy);
        lib.add_song(&song).unwrap();
    }
}

/// Runs a command that must succeed.
fn ok(args: &[&str], db: &Path) {
    let out = moodtune(args, db);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command that must fail with exit code 1 and returns its standard error.
fn fails(args: &[&str], db: &Path) -> String {
    let out = moodtune(args, db);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn feedback_alone_is_recorded_and_clear_removes_the_picks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.sqlite");
    spec_library(&db);
    ok(
        &["recommend", "--like", "Temptation", "--skip", "Light"],
        &db,
    );
    assert_eq!(Library::open(&db).unwrap().feedback().unwrap().len(), 2);
    ok(&["profile", "pick", "--emotion", "happy", "Rise"], &db);
    assert_eq!(
        Library::open(&db)
            .unwrap()
            .picks(Emotion::Happy)
            .unwrap()
            .len(),
        1
    );
    ok(&["profile", "clear", "--emotion", "happy"], &db);
    assert!(Library::open(&db)
        .unwrap()
        .picks(Emotion::Happy)
        .unwrap()
        .is_empty());
}

#[test]
fn missing_mood_and_bad_photo_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.sqlite");
    let err = fails(&["recommend"], &db);
    assert!(err.contains("--emotion"), "{err}");
    let err = fails(&["recommend", "--photo", "/nonexistent/face.jpg"], &db);
    assert!(err.contains("/nonexistent/face.jpg"), "{err}");
    // A readable photo with a missing --model: the error names the model file.
    let photo = dir.path().join("face.png");
    image::GrayImage::from_pixel(64, 64, image::Luma([128u8]))
        .save(&photo)
        .unwrap();
    let model = "/nonexistent/model.safetensors";
    let err = fails(
        &[
            "recommend",
            "--photo",
            photo.to_str().unwrap(),
            "--model",
            model,
        ],
        &db,
    );
    assert!(err.contains(model), "{err}");
}
