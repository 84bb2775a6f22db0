//! A user's own music without lyrics, end to end through the binary: a folder of audio
//! files imported by the CLI comes out with every song in an emotion library and a
//! playlist for every mood; a changed file is analysed again and nothing else; and an
//! import killed (SIGKILL) in the middle of its audio analysis keeps what it stored and
//! resumes without redoing it.

mod support;

use moodtune_audio::stimuli::{render, Chords, Render};
use moodtune_core::Emotion;
use moodtune_library::Library;
use std::path::Path;
use std::process::Command;
use support::moodtune;

/// Fourteen renderings of melodies from calm to wild, major to minor, clean to rough.
fn renders(seconds: f32) -> Vec<Render> {
    let mut out = Vec::new();
    for seed in 0..14u64 {
        let wild = seed % 2 == 0;
        out.push(Render {
            seed,
            seconds,
            bpm: if wild { 150.0 } else { 62.0 } + seed as f32,
            gain_db: if wild { -6.0 } else { -24.0 },
            brightness: if wild { 0.9 } else { 0.2 },
            minor: seed % 3 != 0,
            notes_per_beat: if wild { 4 } else { 1 },
            distortion: if seed % 4 == 0 { 3.0 } else { 0.0 },
            chords: if seed % 5 == 1 {
                Chords::Dissonant
            } else {
                Chords::Consonant
            },
            tonic: 55 + (seed % 7) as u8,
            ..Render::default()
        });
    }
    out
}

fn write_folder(dir: &Path, seconds: f32) -> usize {
    let all = renders(seconds);
    for (i, r) in all.iter().enumerate() {
        moodtune_testkit::write_wav(
            &dir.join(format!("track{i:02}.wav")),
            &render(r),
            r.sample_rate,
        );
    }
    all.len()
}

#[test]
fn a_folder_without_lyrics_gets_every_song_a_mood_and_every_mood_a_playlist() {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let n = write_folder(&music, 6.0);
    let db = tmp.path().join("library.sqlite");

    let out = moodtune(&["library", "import", music.to_str().unwrap()], &db);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("analysed {n} audio files")),
        "{stdout}"
    );

    let lib = Library::open(&db).unwrap();
    let songs = lib.songs().unwrap();
    assert_eq!(songs.len(), n);
    for s in &songs {
        let p = s
            .predicted
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no mood", s.title));
        assert!(
            p.sources
                .iter()
                .any(|e| e.source == moodtune_library::EvidenceSource::Audio),
            "{p:?}"
        );
    }
    // More than one library is used: the analysis tells the renderings apart.
    let used: std::collections::HashSet<_> = songs.iter().filter_map(|s| s.emotion()).collect();
    assert!(used.len() >= 3, "{used:?}");
    drop(lib);

    // No silent empty playlist: every mood plays something, borrowed from nearby moods
    // where its own library is thin.
    for e in Emotion::ALL {
        let out = moodtune(&["recommend", "--emotion", e.key(), "--json"], &db);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let list = json["songs"].as_array().unwrap();
        assert!(!list.is_empty(), "no playlist for {e}: {json}");
        for s in list {
            assert!(
                s["filled_for"].is_null() == (s["emotion"] == e.key()),
                "{s}"
            );
        }
    }

    // A changed file is analysed again, the rest are not.
    let changed = Render {
        seed: 99,
        seconds: 6.0,
        ..Render::default()
    };
    moodtune_testkit::write_wav(
        &music.join("track03.wav"),
        &render(&changed),
        changed.sample_rate,
    );
    let out = moodtune(&["library", "import", music.to_str().unwrap()], &db);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("analysed 1 audio files")
            && stdout.contains(&format!("{} unchanged since", n - 1)),
        "{stdout}"
    );
}

#[cfg(unix)]
#[test]
fn an_import_killed_mid_analysis_keeps_what_it_stored_and_resumes() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir(&music).unwrap();
    let n = write_folder(&music, 40.0);
    // A few tries: the kill must land after the first analysis is stored and before the
    // last; on a fast machine one try can miss that window.
    for attempt in 0..5 {
        let db = tmp.path().join(format!("library-{attempt}.sqlite"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_moodtune"))
            .args(["library", "import", music.to_str().unwrap(), "--db"])
            .arg(&db)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut stored = 0;
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if let Ok(lib) = Library::open(&db) {
                stored = lib.audio_records().map(|r| r.len()).unwrap_or(0);
                if stored > 0 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // SIGKILL: no destructor, no clean-up runs.
        let _ = child.kill();
        let status = child.wait().unwrap();
        let kept = Library::open(&db).unwrap().audio_records().unwrap().len();
        if status.success() || kept == 0 || kept >= n {
            continue; // finished before the kill, or killed before the first file
        }
        assert!(
            kept >= stored,
            "a stored analysis was lost: {stored} seen, {kept} kept"
        );
        let out = moodtune(&["library", "import", music.to_str().unwrap()], &db);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains(&format!("analysed {} audio files", n - kept))
                && stdout.contains(&format!("{kept} unchanged since")),
            "killed with {kept} of {n} stored: {stdout}"
        );
        let lib = Library::open(&db).unwrap();
        assert!(lib.songs().unwrap().iter().all(|s| s.emotion().is_some()));
        return;
    }
    panic!("in 5 tries the kill never landed inside the analysis");
}
