//! `moodtune library ...` through the binary: which commands may create a library, the
//! import-label-tag-classify-export round trip, and writing moods into audio files.

mod support;

use moodtune_core::Emotion;
use moodtune_library::Library;
use moodtune_testkit::mp3::titled_mp3;
use support::moodtune;

/// Runs `moodtune library ARGS --db DB` and returns its exit code and standard error.
fn library(args: &[&str], db: &std::path::Path) -> (i32, String) {
    let mut full = vec!["library"];
    full.extend_from_slice(args);
    let out = moodtune(&full, db);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().expect("exited"), stderr)
}

/// Runs a library command that must succeed.
fn ok(args: &[&str], db: &std::path::Path) {
    let (code, stderr) = library(args, db);
    assert_eq!(code, 0, "library {args:?}: {stderr}");
}

#[test]
fn only_import_and_demo_create_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo/lib.sqlite");
    let db = typo.to_str().unwrap();
    for args in [vec!["list"], vec!["show", "#1"], vec!["export", "out.csv"]] {
        let (code, err) = library(&args, &typo);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("no song library at") && err.contains(db),
            "{err}"
        );
    }
    assert!(!dir.path().join("typo").exists(), "nothing left behind");
    let csv = dir.path().join("songs.csv");
    std::fs::write(&csv, "title,artist\nHum,Cy\n").unwrap();
    ok(&["import", csv.to_str().unwrap()], &typo);
    ok(&["list"], &typo);
}

#[test]
fn import_label_tag_classify_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.sqlite");
    let csv = dir.path().join("songs.csv");
    std::fs::write(
        &csv,
        "title,artist,tags,lyrics\n\
         Sunny Road,Ava,Cheerful,\"we dance all day, so happy and free, laughing in the sun\"\n\
         Grey Rain,Bo,Slow,\"tears fall alone, my heart is broken, I cry and miss you\"\n\
         Hum,Cy,Instrumental,\n",
    )
    .unwrap();
    let first = dir.path().join("first.csv");
    std::fs::write(&first, "title,artist\nHum,Cy\n").unwrap();
    ok(&["import", first.to_str().unwrap()], &db);
    // A missing file fails the command but imports the good one.
    let (code, _) = library(&["import", "nope.csv", csv.to_str().unwrap()], &db);
    assert_eq!(code, 1);
    assert!(Library::open(&db).unwrap().find("Sunny Road").is_ok());

    ok(&["label", "grey rain", "happy"], &db);
    ok(
        &[
            "tag",
            "Sunny Road",
            "--add",
            "Bright, Fast",
            "--remove",
            "cheerful",
        ],
        &db,
    );
    ok(&["classify"], &db);

    let lib = Library::open(&db).unwrap();
    assert_eq!(lib.len().unwrap(), 3);
    let sunny = lib.find("Sunny Road").unwrap();
    assert_eq!(sunny.tags, vec!["Bright", "Fast"]);
    let p = sunny.predicted.clone().expect("classified");
    assert_eq!(p.emotion, Emotion::Happy);
    assert!(!p.model_version.is_empty());
    let grey = lib.find("Grey Rain").unwrap();
    assert_eq!(
        grey.predicted.as_ref().map(|p| p.emotion),
        Some(Emotion::Sad)
    );
    assert_eq!(grey.emotion(), Some(Emotion::Happy), "manual label wins");
    assert_eq!(
        lib.find("Hum").unwrap().emotion(),
        None,
        "no lyrics, no label"
    );
    let list = |emotion, search, unlabelled| {
        let filter = moodtune_app::songs::Filter {
            emotion,
            search,
            unlabelled,
        };
        moodtune_app::songs::list(&lib, &filter)
    };
    let happy = list(Some(Emotion::Happy), None, false).unwrap();
    assert_eq!(happy.len(), 2);
    assert_eq!(list(None, None, true).unwrap().len(), 1);
    assert_eq!(
        list(Some(Emotion::Happy), Some("rain"), false)
            .unwrap()
            .len(),
        1
    );
    drop(lib);

    ok(&["label", "Grey Rain", "--clear"], &db);
    let out = dir.path().join("out.xlsx");
    ok(&["export", out.to_str().unwrap()], &db);
    let lib = Library::open(&db).unwrap();
    assert_eq!(lib.find("Grey Rain").unwrap().emotion(), Some(Emotion::Sad));
    let mut fresh = Library::open_in_memory().unwrap();
    assert_eq!(fresh.import_path(&out).unwrap().added, 3);

    assert_eq!(library(&["show", "no such song"], &db).0, 1);
    assert_eq!(library(&["tag", "Hum"], &db).0, 1);
    // Not an emotion: a bad command line.
    assert_eq!(library(&["label", "Hum", "bored"], &db).0, 2);
    ok(&["remove", "Hum"], &db);
    assert_eq!(Library::open(&db).unwrap().len().unwrap(), 2);
}

#[test]
fn write_tags_puts_the_labels_into_the_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let (a, b) = (music.join("a.mp3"), music.join("b.mp3"));
    std::fs::write(&a, titled_mp3("Alpha")).unwrap();
    std::fs::write(&b, titled_mp3("Beta")).unwrap();
    let db = dir.path().join("lib.sqlite");
    ok(&["import", music.to_str().unwrap()], &db);
    ok(&["label", "Alpha", "happy"], &db);
    ok(&["label", "Beta", "sad"], &db);
    let before = std::fs::read(&a).unwrap();

    ok(&["write-tags", "--dry-run"], &db);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        before,
        "a dry run writes nothing"
    );

    // Only the happy library: Beta stays as it was.
    let beta = std::fs::read(&b).unwrap();
    ok(&["write-tags", "-e", "happy"], &db);
    assert_eq!(std::fs::read(&b).unwrap(), beta);
    assert_eq!(
        std::fs::read(music.join("a.mp3.moodtune-bak")).unwrap(),
        before
    );

    // A read-only file is listed and fails the command; the rest is written.
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o444)).unwrap();
    ok(&["label", "Alpha", "fear"], &db);
    let (code, _) = library(&["write-tags", "--no-backup"], &db);
    assert_eq!(code, 1);
    assert!(!music.join("b.mp3.moodtune-bak").exists());

    // A library rebuilt from the files alone has the moods as labels.
    let mut fresh = Library::open(dir.path().join("fresh.sqlite")).unwrap();
    fresh.import_path(&music).unwrap();
    assert_eq!(
        fresh.find("Alpha").unwrap().manual_emotion,
        Some(Emotion::Happy)
    );
    assert_eq!(
        fresh.find("Beta").unwrap().manual_emotion,
        Some(Emotion::Sad)
    );
}
