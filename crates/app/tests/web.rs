//! The web app's operations over the real library and recommender (a fixed expression
//! model: these tests are about the wiring, not the model).

use moodtune_app::web::WebApp;
use moodtune_app::Error;
use moodtune_core::{Emotion, ExpressionClassifier, Strategy};
use moodtune_library::{demo, FeedbackKind, Library};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Always the same probabilities.
struct Fixed;
impl ExpressionClassifier for Fixed {
    fn classify_face(&self, _: &[u8], _: u32, _: u32) -> [f32; 7] {
        let mut p = [0.0; 7];
        p[Emotion::Surprise.index()] = 1.0;
        p
    }
}

fn app(dir: &Path) -> WebApp {
    let mut lib = Library::open(dir.join("library.sqlite")).unwrap();
    demo::install_into(&mut lib, &dir.join("demo-songs")).unwrap();
    WebApp::new(lib, Arc::new(Fixed), "fixed".into(), dir.to_path_buf()).unwrap()
}

/// (id, title, library, reason) of a playlist.
fn playlist(
    a: &WebApp,
    e: Emotion,
    exclude: &HashSet<i64>,
    n: usize,
) -> Vec<(i64, String, Emotion, String, f32)> {
    let (list, _) = a.playlist(e, Strategy::Match, exclude, n).unwrap();
    list.entries
        .into_iter()
        .map(|e| {
            (
                e.rec.id,
                e.rec.title,
                e.rec.emotion,
                e.rec.explanation,
                e.rec.score,
            )
        })
        .collect()
}

#[test]
fn playlist_picks_feedback_and_audio_over_the_demo_library() {
    let dir = tempfile::tempdir().unwrap();
    let a = app(dir.path());
    assert!(a.song_count().unwrap() >= 14);
    let none = HashSet::new();

    let list = playlist(&a, Emotion::Happy, &none, 5);
    assert!(!list.is_empty());
    assert!(list
        .iter()
        .all(|r| r.2 == Emotion::Happy && !r.3.is_empty()));
    let first = list[0].0;
    let again = playlist(&a, Emotion::Happy, &[first].into(), 5);
    assert!(again.iter().all(|r| r.0 != first));

    let path = a.audio_path(first).unwrap().unwrap();
    assert!(path.is_file());
    assert!(matches!(a.audio_path(99_999), Err(Error::NotFound(_))));

    let picked = a.set_picks(Emotion::Happy, &[first]).unwrap();
    assert_eq!(picked[0].id, first);
    assert_eq!(a.picks(Emotion::Happy).unwrap().len(), 1);
    // A pick is never recommended: the taste was updated in place.
    assert!(playlist(&a, Emotion::Happy, &none, 50)
        .iter()
        .all(|r| r.0 != first));
    assert!(matches!(
        a.set_picks(Emotion::Happy, &[first, 99_999]),
        Err(Error::BadInput(_))
    ));

    // A like is stored with the mood it was given in and reaches the next playlist: Sad
    // has no picks, so its list is cold until the like gives it a profile.
    let sad_before = playlist(&a, Emotion::Sad, &none, 50);
    assert!(sad_before
        .iter()
        .all(|r| r.3.contains("no typical sad songs")));
    let liked = sad_before.last().unwrap().0;
    a.feedback(liked, Emotion::Sad, FeedbackKind::Like).unwrap();
    let stored = a.library().feedback().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].song_id, stored[0].kind, stored[0].emotion),
        (liked, FeedbackKind::Like, Some(Emotion::Sad))
    );
    let sad_after = playlist(&a, Emotion::Sad, &none, 50);
    assert!(sad_after.iter().all(|r| r.3.contains("liked sad songs")));
    let best = sad_after.iter().map(|r| r.4).fold(f32::MIN, f32::max);
    let liked_score = sad_after.iter().find(|r| r.0 == liked).unwrap().4;
    assert_eq!(
        liked_score, best,
        "a liked song is as close as any to its own tags"
    );
    assert!(matches!(
        a.feedback(99_999, Emotion::Happy, FeedbackKind::Skip),
        Err(Error::NotFound(_))
    ));

    let page = a.songs("", Some(Emotion::Sad), 0, 100).unwrap();
    assert!(page.total > 0);
    assert!(page.songs.iter().all(|s| s.emotion() == Some(Emotion::Sad)));
}

#[test]
fn analyze_rejects_garbage_and_finds_no_face_in_a_blank_frame() {
    let dir = tempfile::tempdir().unwrap();
    let a = app(dir.path());
    assert!(matches!(
        a.analyze(b"definitely not a jpeg", None),
        Err(Error::BadInput(_))
    ));
    let mut png = Vec::new();
    image::GrayImage::from_pixel(64, 48, image::Luma([120u8]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let f = a.analyze(&png, None).unwrap();
    assert!(a.analyze(&png, Some("camera")).unwrap().faces.is_empty());
    assert_eq!((f.width, f.height), (64, 48));
    assert!(f.faces.is_empty() && f.main_face.is_none());
}

#[test]
fn import_replaces_the_demo_songs_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = app(dir.path());
    let csv =
        "title,artist,emotion,tags\nMy Song,Me,happy,Keyboard;Cheerful\nOther,You,sad,Piano\n";
    let s = a
        .import_upload("../../evil/my songs.csv", csv.as_bytes())
        .unwrap();
    assert_eq!(s.imported, 2, "{s:?}");
    assert!(s.messages.iter().any(|m| m.contains("demo")), "{s:?}");
    assert_eq!(a.song_count().unwrap(), 2);
    // Kept inside the data folder, whatever the client called it.
    assert!(dir.path().join("imports/my songs.csv").is_file());
    assert!(!dir.path().join("evil").exists());
    let list = playlist(&a, Emotion::Happy, &HashSet::new(), 5);
    assert_eq!(list[0].1, "My Song");
    assert!(
        list.iter().skip(1).all(|r| r.3.contains("thin")),
        "{list:?}"
    );

    let err = a
        .import_upload("broken.xlsx", b"PK\x03\x04 not really a zip")
        .unwrap_err();
    assert!(matches!(err, Error::BadInput(_)), "{err:?}");
    assert!(err.to_string().contains("broken.xlsx"), "{err}");
    assert!(
        !err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    let err = a.import_upload("notes.txt", b"hello").unwrap_err();
    assert!(matches!(err, Error::BadInput(_)), "{err:?}");
    let err = a
        .import_upload("page.html", b"<script></script>")
        .unwrap_err();
    assert!(err.to_string().contains("not a song list"), "{err}");
    assert_eq!(a.song_count().unwrap(), 2, "failed imports change nothing");
    // Nothing that failed is left in the imports folder.
    let mut kept: Vec<String> = std::fs::read_dir(dir.path().join("imports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["my songs.csv"]);

    // A failed re-upload of a name keeps the copy of the last one that imported.
    let err = a.import_upload("my songs.csv", b"1,2,3\n").unwrap_err();
    assert!(err.to_string().contains("my songs.csv"), "{err}");
    let kept = std::fs::read_to_string(dir.path().join("imports/my songs.csv")).unwrap();
    assert_eq!(kept, csv);
}

/// The page's upload classifies what it imports: a sheet with lyrics and no emotion
/// column gives every mood a playlist.
#[test]
fn an_uploaded_sheet_is_classified_and_every_mood_gets_a_playlist() {
    let dir = tempfile::tempdir().unwrap();
    let a = app(dir.path());
    let csv = "title,artist,lyrics,tags\n\
        Sunny,A,\"I am so happy, we dance and laugh in the sunshine, joy and love\",Cheerful\n\
        Rain,B,\"tears fall, I cry alone, my heart is broken and lonely, goodbye\",Piano\n\
        Rage,C,\"I hate you, fury burns, I will fight and destroy, anger and blood\",Rock\n";
    let s = a.import_upload("mine.csv", csv.as_bytes()).unwrap();
    assert_eq!(s.imported, 3, "{s:?}");
    let songs = a.songs("", None, 0, 10).unwrap().songs;
    assert!(songs.iter().all(|s| s.emotion().is_some()), "{songs:?}");
    for e in Emotion::ALL {
        let list = playlist(&a, e, &HashSet::new(), 5);
        assert!(!list.is_empty(), "no playlist for {e}");
    }
}

/// An upload names files on the server's disk: they are linked (and so played to the
/// page) only when the server was started with `--link-uploaded-audio`.
#[test]
fn uploaded_sheets_link_audio_only_when_asked() {
    let outside = tempfile::tempdir().unwrap();
    let wav = outside.path().join("private.wav");
    write_tone(&wav);
    let sheet = format!(
        "title,artist,emotion,audio\nTone,Me,happy,{}\nQuiet,Me,sad,{}\n",
        wav.display(),
        outside.path().join("missing.wav").display()
    );
    for link in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let a = app(dir.path()).with_upload_audio_links(link);
        let s = a.import_upload("sheet.csv", sheet.as_bytes()).unwrap();
        assert_eq!(s.imported, 2, "{s:?}");
        let lib = a.library();
        let tone = lib.find("Tone").unwrap();
        let told_missing = s.messages.iter().any(|m| m.contains("not found"));
        let told_ignored = s.messages.iter().filter(|m| m.contains("not read")).count();
        if link {
            assert_eq!(tone.audio_path, Some(wav.canonicalize().unwrap()));
            assert!(told_missing && told_ignored == 0, "{s:?}");
        } else {
            assert_eq!(tone.audio_path, None);
            // No word on which files exist; one note that the column was not read.
            assert!(!told_missing && told_ignored == 1, "{s:?}");
        }
    }
}

/// A short sine tone as a WAV file.
fn write_tone(path: &Path) {
    let tone: Vec<f32> = (0..3_200)
        .map(|i| (i as f32 / 16_000.0 * 440.0 * std::f32::consts::TAU).sin() * 0.25)
        .collect();
    moodtune_testkit::write_wav(path, &tone, 16_000);
}

#[test]
fn songs_another_process_adds_are_recommended_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let a = app(dir.path());
    let happy = |a: &WebApp| {
        playlist(a, Emotion::Happy, &HashSet::new(), 100)
            .into_iter()
            .map(|r| r.1)
            .collect::<Vec<_>>()
    };
    assert!(!happy(&a).contains(&"From the CLI".to_string()));
    // Another connection to the same file, as `moodtune library import` would be.
    let mut cli = Library::open(dir.path().join("library.sqlite")).unwrap();
    let mut song = moodtune_library::NewSong::new("From the CLI", "Me").tags(["Cheerful"]);
    song.manual_emotion = Some(Emotion::Happy);
    cli.add_song(&song).unwrap();
    assert!(happy(&a).contains(&"From the CLI".to_string()));
}

#[test]
fn an_upload_merged_into_demo_songs_keeps_them_as_the_users_own() {
    let dir = tempfile::tempdir().unwrap();
    let a = app(dir.path());
    let demo_songs = a.song_count().unwrap();
    let edited = a.library().songs().unwrap()[0].clone();
    let sheet = format!(
        "moodtune_id,title,artist,tags\n{},{},{},Mine\nNew Song,Me,Calm\n",
        edited.id, edited.title, edited.artist
    );
    let s = a
        .import_upload("edited export.csv", sheet.as_bytes())
        .unwrap();
    assert_eq!(s.imported, 2, "{s:?}");
    let removed = format!("removed the {} demo songs", demo_songs - 1);
    assert!(s.messages.contains(&removed), "{s:?}");
    let lib = a.library();
    assert_eq!(lib.len().unwrap(), 2);
    let kept = lib.song(edited.id).unwrap().unwrap();
    assert!(kept.has_tag("Mine"), "{kept:?}");
    assert!(
        kept.source.ends_with("edited export.csv"),
        "{}",
        kept.source
    );
}

/// Reads go through their own connection: a write held up (here: the write
/// connection held by another thread, as while a feedback waits out a CLI import's
/// lock) keeps neither listing, picks, audio nor playlists waiting.
#[test]
fn reads_do_not_wait_behind_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(app(dir.path()));
    let first = a.songs("", None, 0, 1).unwrap().songs[0].id;
    let held = a.library();
    let (tx, rx) = std::sync::mpsc::channel();
    let reads = {
        let a = a.clone();
        std::thread::spawn(move || {
            let total = a.songs("", None, 0, 10).unwrap().total;
            a.picks(Emotion::Happy).unwrap();
            a.audio_path(first).unwrap();
            a.song_count().unwrap();
            a.library_name();
            playlist(&a, Emotion::Happy, &HashSet::new(), 5);
            tx.send(total).unwrap();
        })
    };
    let total = rx.recv_timeout(std::time::Duration::from_secs(20));
    drop(held);
    reads.join().unwrap();
    assert!(total.expect("reads waited for the write connection") >= 14);

    // A like while a playlist's recommender is loaded updates it in place, and a like
    // another process stores is seen too.
    let before = playlist(&a, Emotion::Sad, &HashSet::new(), 50);
    let liked = before.last().unwrap().0;
    a.feedback(liked, Emotion::Sad, FeedbackKind::Like).unwrap();
    let after = playlist(&a, Emotion::Sad, &HashSet::new(), 50);
    assert!(
        after.iter().all(|r| r.3.contains("liked sad songs")),
        "{after:?}"
    );
    let mut cli = Library::open(dir.path().join("library.sqlite")).unwrap();
    cli.add_feedback_with(liked, FeedbackKind::Like, Some(Emotion::Sad), 0)
        .unwrap();
    assert_eq!(a.library().feedback().unwrap().len(), 2);
}

/// A CLI import writes in one transaction and may hold the library's write lock longer
/// than SQLite's busy wait (10 s). A like meanwhile retries until the lock is free and
/// lands; past its retry budget it is a `Busy` error (HTTP 503) that changed nothing,
/// never an internal one.
#[test]
fn a_like_waits_out_a_long_import_and_lands_or_says_busy() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let patient = Arc::new(app(dir.path()));
    let hasty = Arc::new(
        WebApp::new(
            Library::open(dir.path().join("library.sqlite")).unwrap(),
            Arc::new(Fixed),
            "fixed".into(),
            dir.path().to_path_buf(),
        )
        .unwrap()
        .with_write_retry_budget(Duration::ZERO),
    );
    let song = patient.songs("", None, 0, 1).unwrap().songs[0].id;
    let import = rusqlite::Connection::open(dir.path().join("library.sqlite")).unwrap();
    import.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let like = |app: Arc<WebApp>| {
        std::thread::spawn(move || {
            let result = app.feedback(song, Emotion::Happy, FeedbackKind::Like);
            (result, started.elapsed())
        })
    };
    let (patient_like, hasty_like) = (like(patient.clone()), like(hasty));
    let (result, waited) = hasty_like.join().unwrap();
    match result {
        Err(Error::Busy(message)) => assert!(message.contains("busy"), "{message}"),
        other => panic!("expected a busy error, got {other:?}"),
    }
    assert!(waited >= Duration::from_secs(9), "{waited:?}");
    std::thread::sleep(Duration::from_secs(12).saturating_sub(started.elapsed()));
    import.execute_batch("COMMIT").unwrap();
    let (result, waited) = patient_like.join().unwrap();
    result.expect("the like lands once the import commits");
    assert!(waited >= Duration::from_secs(12), "{waited:?}");
    // Only the patient like was stored.
    assert_eq!(patient.library().feedback().unwrap().len(), 1);
}

/// kill -9 during a re-upload left the failed upload as `imports/NAME` and the last
/// good copy as a stray temp file. Now the last good copy waits as `.NAME.old` until
/// the import commits: the app starting again (or the next upload of the name) puts
/// it back, and removes an upload that never got to its name.
#[test]
fn an_upload_cut_short_is_put_right_when_the_app_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let good = "title,artist,emotion\nMy Song,Me,happy\n";
    {
        let a = app(dir.path());
        a.import_upload("my songs.csv", good.as_bytes()).unwrap();
    }
    let imports = dir.path().join("imports");
    // What a kill during the import of a new "my songs.csv" and of a first
    // "other.xlsx" leaves: each new file at its name, beside its mark.
    std::fs::hard_link(
        imports.join("my songs.csv"),
        imports.join(".my songs.csv.old"),
    )
    .unwrap();
    std::fs::write(imports.join("swapped in"), "half,imported\n").unwrap();
    std::fs::rename(imports.join("swapped in"), imports.join("my songs.csv")).unwrap();
    std::fs::write(imports.join(".my songs.csv.new"), "stale").unwrap();
    std::fs::write(imports.join("other.xlsx"), "never imported").unwrap();
    std::fs::write(imports.join(".other.xlsx.none"), "").unwrap();

    let _a = app(dir.path());
    let mut kept: Vec<String> = std::fs::read_dir(&imports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["my songs.csv"]);
    assert_eq!(
        std::fs::read_to_string(imports.join("my songs.csv")).unwrap(),
        good
    );
}

#[test]
fn upload_names_are_made_safe() {
    use moodtune_app::safe_file_name;
    assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
    assert_eq!(safe_file_name("C:\\Users\\me\\songs.xlsx"), "songs.xlsx");
    assert_eq!(safe_file_name(".hidden.csv"), "hidden.csv");
    assert_eq!(safe_file_name("a\u{0}b?.csv"), "a_b_.csv");
    assert_eq!(safe_file_name(""), "upload");
}
