//! Installing the demo library into a fresh data folder.

use moodtune_core::Emotion;
use moodtune_library::{demo, Library};

#[test]
fn installs_once_and_repairs_missing_audio() {
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let first = demo::install(dir.path()).unwrap();
    eprintln!("demo install (21 songs synthesized): {:?}", t.elapsed());
    assert_eq!(
        (first.added, first.already_present, first.files_written),
        (21, 0, 21)
    );

    let lib = Library::open(dir.path().join("library.sqlite")).unwrap();
    for e in Emotion::ALL {
        let songs = lib.songs_in(e).unwrap();
        assert_eq!(songs.len(), 3, "{e}");
        for s in songs {
            assert_eq!(s.manual_emotion, Some(e));
            assert!(!s.tags.is_empty() && s.lyrics.is_some(), "{}", s.title);
            let audio = lib.audio_path(s.id).unwrap();
            assert!(audio.is_absolute() && audio.starts_with(&first.audio_dir));
            let r = hound::WavReader::open(&audio).unwrap();
            assert_eq!(
                (
                    r.spec().sample_rate,
                    r.spec().channels,
                    r.spec().bits_per_sample
                ),
                (22_050, 1, 16)
            );
            let secs = r.duration() as f64 / 22_050.0;
            assert!((20.0..=30.0).contains(&secs), "{}: {secs}", s.title);
            assert!((secs - s.duration_s.unwrap()).abs() < 0.01);
        }
    }
    drop(lib);

    let again = demo::install(dir.path()).unwrap();
    assert_eq!(
        (again.added, again.already_present, again.files_written),
        (0, 21, 0)
    );

    // A user's edit survives a re-install; a deleted file is made again.
    let mut lib = Library::open(dir.path().join("library.sqlite")).unwrap();
    let kite = lib.find("Kite Day").unwrap();
    lib.set_manual_emotion(kite.id, Some(Emotion::Surprise))
        .unwrap();
    std::fs::remove_file(kite.audio_path.as_ref().unwrap()).unwrap();
    let repaired = demo::install_into(&mut lib, &dir.path().join("demo-songs")).unwrap();
    assert_eq!((repaired.added, repaired.files_written), (0, 1));
    assert!(kite.audio_path.as_ref().unwrap().is_file());
    assert_eq!(
        lib.song(kite.id).unwrap().unwrap().emotion(),
        Some(Emotion::Surprise)
    );
    assert_eq!(lib.len().unwrap(), 21);
}

#[test]
fn demo_files_carry_their_own_tags() {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open_in_memory().unwrap();
    let report = demo::install_into(&mut lib, dir.path()).unwrap();
    // Imported as a plain music folder into another library, the files name themselves.
    let mut other = Library::open_in_memory().unwrap();
    let r = other.import_path(&report.audio_dir).unwrap();
    assert_eq!(r.added, 21, "{r}");
    let rain = other.find("雨夜").unwrap();
    assert_eq!(rain.artist, "小岛乐队");
    assert_eq!(rain.tags, vec!["Calm", "Melancholy", "Piano", "Slow"]);
    assert!((rain.duration_s.unwrap() - 29.0).abs() < 0.01);
}
