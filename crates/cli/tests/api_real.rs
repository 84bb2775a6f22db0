//! The web API on the real backend: the `moodtune serve` binary with the shipped
//! expression model, the SeetaFace detector and a real SQLite library (the demo songs
//! on first run), over a loopback socket. The committed face photo must come back with
//! the real model's mood; bad requests are clear errors that leave the server working;
//! an uploaded song list is classified and gives every mood a playlist.

mod support;

use std::path::Path;
use support::http::{json, request};
use support::serve::start;

#[test]
fn the_real_backend_reads_a_face_serves_playlists_and_survives_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(&tmp.path().join("library.sqlite"));

    // The committed real face: one face, the real model's mood (a broad smile).
    let face = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../faces/tests/fixtures/astronaut-face.png"),
    )
    .unwrap();
    let (status, a) = json(&server, "POST", "/api/analyze?session=t1", &face);
    assert_eq!(status, 200, "{a}");
    let faces = a["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{a}");
    assert_eq!(faces[0]["emotion"], "happy", "{a}");
    assert_eq!(faces[0]["main"], true, "{a}");
    assert_eq!(a["mood"]["emotion"], "happy", "{a}");
    // The session's next frames are searched where its face was: the same face again.
    let center = |f: &serde_json::Value| {
        let b = &f["box"];
        let at = |k: &str| b[k].as_f64().unwrap();
        (at("x") + at("width") / 2.0, at("y") + at("height") / 2.0)
    };
    let first = center(&faces[0]);
    for frame in 2..=4 {
        let (status, next) = json(&server, "POST", "/api/analyze?session=t1", &face);
        assert_eq!(status, 200, "{next}");
        let found = next["faces"].as_array().unwrap();
        assert_eq!(found.len(), 1, "frame {frame}: {next}");
        let (x, y) = center(&found[0]);
        assert!(
            (x - first.0).abs() < 12.0 && (y - first.1).abs() < 12.0,
            "frame {frame}: {next}"
        );
        assert_eq!(found[0]["emotion"], "happy", "frame {frame}: {next}");
    }

    // Bad requests are clear errors, and the server keeps working.
    for (body, what) in [(&b"not an image"[..], "garbage"), (&b""[..], "empty")] {
        let (status, e) = json(&server, "POST", "/api/analyze", body);
        assert_eq!(status, 400, "{what}: {e}");
        assert!(
            e["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {e}"
        );
    }
    let (status, e) = json(&server, "GET", "/api/playlist?emotion=grumpy", b"");
    assert_eq!(status, 400, "{e}");
    let (status, e) = request(&server, "GET", "/api/audio/999999", &[], b"");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&e));
    let (status, info) = json(&server, "GET", "/api/info", b"");
    assert_eq!(status, 200, "{info}");

    // A playlist that plays: the demo library's songs, with audio served by id in ranges.
    let (status, list) = json(
        &server,
        "GET",
        "/api/playlist?emotion=happy&session=t1",
        b"",
    );
    assert_eq!(status, 200, "{list}");
    let songs = list["songs"].as_array().unwrap();
    assert!(!songs.is_empty(), "{list}");
    let id = songs[0]["id"].as_i64().unwrap();
    let (status, bytes) = request(
        &server,
        "GET",
        &format!("/api/audio/{id}"),
        &[("Range", "bytes=0-99")],
        b"",
    );
    assert_eq!(status, 206);
    assert_eq!(bytes.len(), 100);
    assert_eq!(&bytes[..4], b"RIFF", "a demo song is a WAV file");

    let like = format!(r#"{{"song_id":{id},"emotion":"happy","action":"like","session":"t1"}}"#);
    let (status, r) = json(&server, "POST", "/api/feedback", like.as_bytes());
    assert_eq!(status, 200, "{r}");

    // An uploaded song list with lyrics and no emotion column is classified: every mood
    // has a playlist afterwards.
    let csv = "title,artist,lyrics,tags\n\
        Sunny,A,\"I am so happy, we dance and laugh in the sunshine, joy and love\",Cheerful\n\
        Rain,B,\"tears fall, I cry alone, my heart is broken and lonely, goodbye\",Piano\n\
        Rage,C,\"I hate you, fury burns, I will fight and destroy, anger and blood\",Rock\n";
    let (status, r) = json(
        &server,
        "POST",
        "/api/import?filename=mine.csv",
        csv.as_bytes(),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["imported"], 3, "{r}");
    for e in [
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
    ] {
        let (status, list) = json(&server, "GET", &format!("/api/playlist?emotion={e}"), b"");
        assert_eq!(status, 200, "{list}");
        assert!(!list["songs"].as_array().unwrap().is_empty(), "{e}: {list}");
    }

    // A page from another site (DNS rebinding) is refused by its Host.
    let (status, _) = request(
        &server,
        "GET",
        "/api/info",
        &[("Host", "evil.example")],
        b"",
    );
    assert_eq!(status, 403);
}
