//! The HTTP API over the fake backend, in process (tower `oneshot`), plus the tests that
//! need a real loopback socket (hosts, oversized requests, connection limits).

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use moodtune_server::fake::FakeBackend;
use moodtune_server::{router, ConnectionLimits, HostAllowlist, ServerConfig};
use serde_json::{json, Value};
use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn app_with(backend: FakeBackend) -> Router {
    router(Arc::new(backend), ServerConfig::default())
}

fn app() -> Router {
    app_with(FakeBackend::new(5).with_panic_marker())
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), 64 << 20).await.unwrap().to_vec();
    (status, headers, body)
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(body.into())
        .unwrap();
    let (status, headers, body) = send(app, req).await;
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "{uri} answered {status} without JSON: {}",
        String::from_utf8_lossy(&body)
    );
    (status, serde_json::from_slice(&body).unwrap())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    call(app, Method::GET, uri, Body::empty()).await
}

/// The error message of a request that must fail with `expected`.
async fn error_of(
    app: &Router,
    method: Method,
    uri: &str,
    body: impl Into<Body>,
    expected: StatusCode,
) -> String {
    let (status, v) = call(app, method, uri, body).await;
    assert_eq!(status, expected, "{uri}: {v}");
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{uri}: no error message in {v}"))
        .to_string()
}

fn json_body(v: Value) -> Body {
    Body::from(serde_json::to_vec(&v).unwrap())
}

/// A PNG with a mid-grey border and a face-sized patch of the given brightness.
fn png(w: u32, h: u32, face_level: u8) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let inside = x >= w / 4 && x < 3 * w / 4 && y >= h / 4 && y < 3 * h / 4;
        image::Luma([if inside { face_level } else { 128 }])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test]
async fn serves_the_page_and_its_assets() {
    let app = app();
    for (uri, ty, needle) in [
        ("/", "text/html", "<video id=\"video\""),
        ("/app.js", "text/javascript", "getUserMedia"),
        ("/app.css", "text/css", ".stage"),
    ] {
        let (status, headers, body) =
            send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(ty));
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(String::from_utf8(body).unwrap().contains(needle), "{uri}");
    }
    let (status, v) = get(&app, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn info_lists_emotions_and_library() {
    let (status, v) = get(&app(), "/api/info").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["songs"], 35);
    assert_eq!(v["emotions"].as_array().unwrap().len(), 7);
    assert_eq!(v["emotions"][3]["key"], "happy");
    assert_eq!(v["limits"]["frame_bytes"], 2 << 20);
}

#[tokio::test]
async fn analyze_returns_faces_and_a_smoothed_mood_per_session() {
    let app = app();
    let (status, v) = call(
        &app,
        Method::POST,
        "/api/analyze?session=a",
        png(320, 240, 230),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["width"], 320);
    assert_eq!(v["faces"].as_array().unwrap().len(), 1);
    let face = &v["faces"][0];
    assert_eq!(
        face["box"],
        json!({"x": 80, "y": 60, "width": 160, "height": 120})
    );
    assert_eq!(face["emotion"], "happy");
    let sum: f64 = face["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-4);
    assert_eq!(v["mood"]["emotion"], "happy");
    assert_eq!(v["mood"]["frames"], 1);

    // One dark frame does not flip session a's mood (smoothing), but a fresh session
    // and a one-off photo follow the frame itself.
    let dark = png(320, 240, 10);
    let (_, v) = call(&app, Method::POST, "/api/analyze?session=a", dark.clone()).await;
    assert_eq!(v["faces"][0]["emotion"], "sad");
    assert_eq!(v["mood"]["emotion"], "happy");
    assert_eq!(v["mood"]["frames"], 2);
    let (_, v) = call(&app, Method::POST, "/api/analyze?session=b", dark.clone()).await;
    assert_eq!(v["mood"]["emotion"], "sad");
    let (_, v) = call(&app, Method::POST, "/api/analyze", dark).await;
    assert_eq!(v["mood"]["emotion"], "sad");
    assert_eq!(v["mood"]["frames"], 1);
}

#[tokio::test]
async fn a_frame_without_a_face_keeps_the_mood() {
    let app = app();
    call(
        &app,
        Method::POST,
        "/api/analyze?session=s",
        png(64, 64, 240),
    )
    .await;
    let flat = png(64, 64, 128);
    let (status, v) = call(&app, Method::POST, "/api/analyze?session=s", flat.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["faces"].as_array().unwrap().len(), 0);
    assert_eq!(v["mood"]["emotion"], "happy");
    let (_, v) = call(&app, Method::POST, "/api/analyze", flat).await;
    assert!(v["mood"].is_null());
}

#[tokio::test]
async fn bad_frames_are_clear_errors_and_the_server_keeps_working() {
    let app = app();
    let error = error_of(
        &app,
        Method::POST,
        "/api/analyze?session=x",
        &b"not an image at all"[..],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error.contains("cannot decode the image"), "{error}");

    let error = error_of(
        &app,
        Method::POST,
        "/api/analyze",
        Body::empty(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error.contains("empty body"), "{error}");

    // A PNG cut in half.
    let mut cut = png(100, 100, 200);
    cut.truncate(cut.len() / 2);
    let (status, _) = call(&app, Method::POST, "/api/analyze", cut).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let error = error_of(
        &app,
        Method::POST,
        "/api/analyze?session=../../x",
        png(64, 64, 200),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error.contains("session id"), "{error}");

    let (status, v) = call(&app, Method::POST, "/api/analyze", vec![0u8; 3 << 20]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains("too large") && msg.contains("up to 2 MiB"),
        "{msg}"
    );
    // The message states the limits this server was configured with.
    let small = router(
        Arc::new(FakeBackend::new(1)),
        ServerConfig {
            frame_limit: 1 << 10,
            ..ServerConfig::default()
        },
    );
    let (status, v) = call(&small, Method::POST, "/api/analyze", vec![0u8; 2 << 10]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("up to 1 KiB"), "{msg}");

    // A backend that panics gives a 500, not a dead server.
    let error = error_of(
        &app,
        Method::POST,
        "/api/analyze",
        &b"PANIC please"[..],
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert!(error.contains("keeps running"), "{error}");

    let (status, v) = call(
        &app,
        Method::POST,
        "/api/analyze?session=x",
        png(64, 64, 200),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["faces"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn playlist_does_not_repeat_within_a_session() {
    let app = app();
    let (status, v) = get(
        &app,
        "/api/playlist?emotion=sad&strategy=match&session=p&limit=3",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["emotion"], "sad");
    let first: Vec<i64> = v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(first.len(), 3);
    assert!(v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["emotion"] == "sad"));

    for (id, action) in [(first[0], "played"), (first[1], "skip")] {
        let (status, _) = call(
            &app,
            Method::POST,
            "/api/feedback",
            json_body(json!({"session": "p", "song_id": id, "emotion": "sad", "action": action})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, v) = get(&app, "/api/playlist?emotion=sad&session=p&limit=10").await;
    let ids: Vec<i64> = v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "5 sad songs, 2 heard");
    assert!(!ids.contains(&first[0]) && !ids.contains(&first[1]));
    assert_eq!(v["restarted"], false);
    // Another session still gets everything.
    let (_, v) = get(&app, "/api/playlist?emotion=sad&session=q&limit=10").await;
    assert_eq!(v["songs"].as_array().unwrap().len(), 5);

    // Hear the rest: the round starts again instead of going silent.
    for id in ids {
        call(
            &app,
            Method::POST,
            "/api/feedback",
            json_body(json!({"session": "p", "song_id": id, "emotion": "sad", "action": "played"})),
        )
        .await;
    }
    let (_, v) = get(&app, "/api/playlist?emotion=sad&session=p&limit=10").await;
    assert_eq!(v["songs"].as_array().unwrap().len(), 5);
    assert_eq!(v["restarted"], true);

    // Lift turns a negative mood's playlist towards happy songs.
    let (_, v) = get(&app, "/api/playlist?emotion=angry&strategy=lift").await;
    assert_eq!(v["strategy"], "lift");
    let lifted = v["songs"].as_array().unwrap();
    assert!(!lifted.is_empty(), "{v}");
    assert!(lifted.iter().all(|s| s["emotion"] == "happy"), "{v}");
}

/// A session's history survives a mood with nothing to play, and playlist GETs (which
/// any web page can make a browser send) neither create sessions nor evict real ones.
#[tokio::test]
async fn a_songless_mood_and_foreign_gets_keep_the_sessions_history() {
    let config = ServerConfig {
        max_sessions: 2,
        ..Default::default()
    };
    let app = router(
        Arc::new(FakeBackend::new(5).without_songs_of(moodtune_core::Emotion::Disgust)),
        config,
    );
    let ids = |v: &Value| -> Vec<i64> {
        v["songs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect()
    };
    let (_, v) = get(&app, "/api/playlist?emotion=sad&session=p&limit=5").await;
    let heard = ids(&v)[0];
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/feedback",
        json_body(json!({"session": "p", "song_id": heard, "emotion": "sad", "action": "played"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (_, v) = get(&app, "/api/playlist?emotion=disgust&session=p").await;
    assert!(ids(&v).is_empty());
    assert_eq!(v["restarted"], false);
    for other in ["x1", "x2", "x3"] {
        get(
            &app,
            &format!("/api/playlist?emotion=happy&session={other}"),
        )
        .await;
    }
    let (_, v) = get(&app, "/api/playlist?emotion=sad&session=p&limit=10").await;
    assert_eq!(ids(&v).len(), 4, "{v}");
    assert!(!ids(&v).contains(&heard));
}

#[tokio::test]
async fn playlist_rejects_bad_parameters() {
    let app = app();
    for (uri, needle) in [
        ("/api/playlist?emotion=bored", "unknown emotion"),
        (
            "/api/playlist?emotion=happy&strategy=random",
            "unknown strategy",
        ),
        ("/api/playlist", "emotion"),
        ("/api/playlist?emotion=happy&limit=lots", "limit"),
    ] {
        let (status, v) = get(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{uri}: {v}");
    }
    // Chinese names work like English ones.
    let (status, v) = get(&app, "/api/playlist?emotion=%E5%BC%80%E5%BF%83").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["emotion"], "happy");
}

/// A backend that writes no playlist files (the trait's default) answers the download
/// with a clean 404; bad parameters are 400s before the backend is asked.
#[tokio::test]
async fn playlist_export_without_files_is_a_clean_404() {
    let app = app();
    let msg = error_of(
        &app,
        Method::GET,
        "/api/playlist/export?emotion=happy&strategy=lift&format=m3u8",
        Body::empty(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(msg.contains("playlist files"), "{msg}");
    for (uri, needle) in [
        ("/api/playlist/export?emotion=bored", "unknown emotion"),
        ("/api/playlist/export?emotion=happy&format=pls", "format"),
        (
            "/api/playlist/export?emotion=happy&strategy=up",
            "unknown strategy",
        ),
        ("/api/playlist/export", "emotion"),
    ] {
        let msg = error_of(
            &app,
            Method::GET,
            uri,
            Body::empty(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(msg.contains(needle), "{uri}: {msg}");
    }
}

#[tokio::test]
async fn feedback_is_recorded_and_bad_json_is_a_clear_error() {
    let backend = Arc::new(FakeBackend::new(2));
    let app = router(backend.clone(), ServerConfig::default());
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/feedback",
        json_body(json!({"song_id": 3, "emotion": "fear", "action": "like"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        backend.feedback_log(),
        vec![(
            3,
            moodtune_core::Emotion::Fear,
            moodtune_server::FeedbackKind::Like
        )]
    );

    let error = error_of(
        &app,
        Method::POST,
        "/api/feedback",
        &b"{\"song_id\": 3, "[..],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error.starts_with("invalid JSON body"), "{error}");
    let error = error_of(
        &app,
        Method::POST,
        "/api/feedback",
        json_body(json!({"song_id": 3, "emotion": "fear", "action": "love"})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error.contains("love"), "{error}");
    let error = error_of(
        &app,
        Method::POST,
        "/api/feedback",
        json_body(json!({"song_id": 999, "emotion": "fear", "action": "skip"})),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(error.contains("999"), "{error}");
    let (status, _) = call(&app, Method::POST, "/api/feedback", vec![b' '; 100 << 10]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(backend.feedback_log().len(), 1);
}

#[tokio::test]
async fn picks_can_be_set_and_shape_the_ranking() {
    let app = app();
    let (status, v) = get(&app, "/api/picks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v.as_object().unwrap().len(), 7);
    assert_eq!(v["happy"], json!([]));

    // Happy songs are ids 16-20.
    let (status, v) = call(
        &app,
        Method::PUT,
        "/api/picks/happy",
        json_body(json!({"song_ids": [16, 17]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (_, v) = get(&app, "/api/picks/happy").await;
    assert_eq!(v[0]["id"], 16);
    let (_, v) = get(&app, "/api/playlist?emotion=happy").await;
    let scores: Vec<f64> = v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(scores[0] > 0.0);
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "ranked: {scores:?}"
    );

    let error = error_of(
        &app,
        Method::PUT,
        "/api/picks/happy",
        json_body(json!({"song_ids": [16, 12345]})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error.contains("12345"), "{error}");
    let (status, _) = call(
        &app,
        Method::PUT,
        "/api/picks/joyful",
        json_body(json!({"song_ids": []})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        Method::PUT,
        "/api/picks/happy",
        json_body(json!({"ids": [16]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn import_progress_is_idle_without_an_upload() {
    let (status, v) = get(&app(), "/api/import/progress").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["active"], false, "{v}");
}

#[tokio::test]
async fn songs_search_and_pages() {
    let app = app();
    let (_, v) = get(&app, "/api/songs?limit=10").await;
    assert_eq!(v["total"], 35);
    assert_eq!(v["songs"].as_array().unwrap().len(), 10);
    let (_, v) = get(&app, "/api/songs?q=SURPRISE&offset=3").await;
    assert_eq!(v["total"], 5);
    assert_eq!(v["songs"].as_array().unwrap().len(), 2);
    let (_, v) = get(&app, "/api/songs?emotion=sad&q=artist%202").await;
    assert!(v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["emotion"] == "sad" && s["artist"] == "Fake Artist 2"));
    let (status, _) = get(&app, "/api/songs?emotion=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn import_replaces_the_library_and_reports_bad_files() {
    let app = app();
    let csv = "title,artist,emotion,tags\nRise,Band,happy,keyboard;internet\nBroken row\nRain,Solo,悲伤,calm\n";
    let (status, v) = call(
        &app,
        Method::POST,
        "/api/import?filename=my%20songs.csv",
        csv,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["imported"], 2);
    assert_eq!(v["skipped"], 1);
    assert!(v["messages"][0].as_str().unwrap().contains("line 3"));
    let (_, v) = get(&app, "/api/songs").await;
    assert_eq!(v["total"], 2);
    assert_eq!(v["songs"][1]["emotion"], "sad");

    let error = error_of(
        &app,
        Method::POST,
        "/api/import?filename=%2Fetc%2Fjunk.csv",
        &b"\xff\xfe\x00garbage"[..],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error.contains("junk.csv"), "{error}");
    assert!(
        !error.contains("/etc"),
        "only the base name is used: {error}"
    );
    let (status, _) = call(&app, Method::POST, "/api/import", csv).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, v) = call(
        &app,
        Method::POST,
        "/api/import?filename=big.csv",
        vec![b'a'; 21 << 20],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    // The earlier import is intact.
    let (_, v) = get(&app, "/api/info").await;
    assert_eq!(v["songs"], 2);
}

#[tokio::test]
async fn audio_is_served_by_song_id_with_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(FakeBackend::new(1).with_audio(dir.path(), 1.0).unwrap());

    let (status, headers, body) = send(
        &app,
        Request::get("/api/audio/2").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(&body[..4], b"RIFF");
    let full = body.len();

    let req = Request::get("/api/audio/2")
        .header(header::RANGE, "bytes=100-199")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body.len(), 100);
    assert_eq!(
        headers[header::CONTENT_RANGE],
        format!("bytes 100-199/{full}").as_str()
    );

    for (uri, code) in [
        ("/api/audio/999", StatusCode::NOT_FOUND),
        ("/api/audio/..%2F..%2Fetc%2Fpasswd", StatusCode::BAD_REQUEST),
        ("/api/audio/-1", StatusCode::NOT_FOUND),
        // Not UTF-8: axum's own Path would answer in plain text.
        ("/api/audio/%FF", StatusCode::BAD_REQUEST),
        ("/api/picks/%FF", StatusCode::BAD_REQUEST),
    ] {
        let (status, v) = get(&app, uri).await;
        assert_eq!(status, code, "{uri}");
        assert!(v["error"].is_string());
    }
    // Audio goes out sandboxed, so even a mislabelled file cannot run as a page.
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    // A library entry pointing at something other than audio is not served.
    let page = dir.path().join("page.html");
    std::fs::write(&page, "<script>alert(1)</script>").unwrap();
    let app_page = app_with(FakeBackend::new(1).with_audio_path(1, &page));
    let error = error_of(
        &app_page,
        Method::GET,
        "/api/audio/1",
        Body::empty(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(error.contains("not an audio file"), "{error}");
    // A song whose file vanished.
    std::fs::remove_file(dir.path().join("song-3.wav")).unwrap();
    let error = error_of(
        &app,
        Method::GET,
        "/api/audio/3",
        Body::empty(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(error.contains("missing"), "{error}");
    // Without audio at all.
    let error = error_of(
        &app_with(FakeBackend::new(1)),
        Method::GET,
        "/api/audio/1",
        Body::empty(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(error.contains("no audio"), "{error}");
}

#[tokio::test]
async fn unknown_endpoints_methods_and_foreign_hosts() {
    let app = app();
    let error = error_of(
        &app,
        Method::GET,
        "/api/nothing",
        Body::empty(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(error.contains("/api/nothing"), "{error}");
    let error = error_of(
        &app,
        Method::DELETE,
        "/api/songs",
        Body::empty(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    assert!(error.contains("DELETE"), "{error}");

    let req = |host: &str| {
        Request::get("/api/info")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        send(&app, req("evil.example:7878")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(&app, req("127.0.0.1:7878")).await.0, StatusCode::OK);
    assert_eq!(send(&app, req("localhost:7878")).await.0, StatusCode::OK);
}

/// DNS rebinding: a web site whose name now resolves to this server must not read the
/// library, whatever address the server listens on. Only loopback names, the address it
/// listens on and names given with `--allow-host` are answered.
#[tokio::test]
async fn foreign_hosts_are_refused_on_every_address() {
    let bound: std::net::SocketAddr = "192.168.1.20:7878".parse().unwrap();
    let config = ServerConfig {
        allowed_hosts: HostAllowlist::for_addr(bound)
            .with("music.example.org")
            .unwrap(),
        ..ServerConfig::default()
    };
    let app = router(Arc::new(FakeBackend::new(1)), config);
    let req = |method: Method, uri: &str, host: &str, origin: Option<&str>| {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, host);
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        r.body(if uri.starts_with("/api/feedback") {
            Body::from(json!({"song_id": 1, "emotion": "happy", "action": "like"}).to_string())
        } else {
            Body::empty()
        })
        .unwrap()
    };
    for host in [
        "evil.example:7878",
        "evil.example",
        "192.168.1.21:7878",
        "192.168.1.20:9999",
        "[::ffff:192.168.1.21]:7878",
    ] {
        for uri in ["/api/songs", "/api/info", "/"] {
            let (status, _, body) = send(&app, req(Method::GET, uri, host, None)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{host} {uri}");
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert!(v["error"].as_str().unwrap().contains("--allow-host"), "{v}");
        }
    }
    for host in [
        "192.168.1.20:7878",
        "192.168.1.20",
        "music.example.org",
        "MUSIC.example.org:443",
        "localhost:7878",
        "127.0.0.1:1234",
        "[::1]:7878",
        "[::ffff:127.0.0.1]:7878",
    ] {
        let (status, _, _) = send(&app, req(Method::GET, "/api/songs", host, None)).await;
        assert_eq!(status, StatusCode::OK, "{host}");
    }
    // State changes: the Origin must be the server's own by the same list.
    for (host, origin) in [
        ("192.168.1.20:7878", "http://192.168.1.20:7878"),
        ("music.example.org", "https://music.example.org"),
        // A reverse proxy that sends its own address as Host.
        ("127.0.0.1:7878", "https://music.example.org"),
        ("[::ffff:127.0.0.1]:7878", "http://[::ffff:127.0.0.1]:7878"),
    ] {
        let (status, _, body) =
            send(&app, req(Method::POST, "/api/feedback", host, Some(origin))).await;
        assert_eq!(status, StatusCode::OK, "{host} {origin} {body:?}");
    }
    for (host, origin) in [
        ("192.168.1.20:7878", "http://evil.example:7878"),
        ("192.168.1.20:7878", "http://localhost:3000"),
        ("evil.example:7878", "http://evil.example:7878"),
    ] {
        let (status, _, _) =
            send(&app, req(Method::POST, "/api/feedback", host, Some(origin))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host} {origin}");
    }

    // IPv4-mapped loopback is loopback for the default (loopback only) list as well.
    let local = router(Arc::new(FakeBackend::new(1)), ServerConfig::default());
    for (host, status) in [
        ("[::ffff:127.0.0.1]:7878", StatusCode::OK),
        ("[::ffff:7f00:1]", StatusCode::OK),
        ("192.168.1.20:7878", StatusCode::FORBIDDEN),
        ("music.example.org", StatusCode::FORBIDDEN),
    ] {
        let got = send(&local, req(Method::GET, "/api/info", host, None))
            .await
            .0;
        assert_eq!(got, status, "{host}");
    }
}

/// Over a real socket: a rebinding name is refused, the bound address answered.
#[tokio::test]
async fn a_real_socket_refuses_a_rebinding_host() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServerConfig {
        allowed_hosts: HostAllowlist::for_addr(addr),
        ..ServerConfig::default()
    };
    let app = router(Arc::new(FakeBackend::new(1)), config);
    tokio::spawn(moodtune_server::serve(
        listener,
        app,
        ConnectionLimits::default(),
        std::future::pending(),
    ));
    async fn status_for(addr: std::net::SocketAddr, host: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET /api/songs HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out.lines().next().unwrap_or_default().to_string()
    }
    assert!(status_for(addr, "rebind.evil.example:80")
        .await
        .contains("403"));
    assert!(status_for(addr, &addr.to_string()).await.contains("200"));
}

/// A page of another site can make the browser post to localhost: such requests change
/// nothing. Same-origin pages and non-browser clients (no Origin) are served.
#[tokio::test]
async fn cross_site_posts_are_refused() {
    let backend = Arc::new(FakeBackend::new(1));
    let app = router(backend.clone(), ServerConfig::default());
    let feedback = |origin: Option<&str>, site: Option<&str>| {
        let mut r = Request::post("/api/feedback")
            .header(header::HOST, "127.0.0.1:7878")
            .header(header::CONTENT_TYPE, "text/plain");
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        r.body(Body::from(
            json!({"song_id": 1, "emotion": "happy", "action": "like"}).to_string(),
        ))
        .unwrap()
    };
    for (origin, site) in [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("http://evil.example"), None),
        (Some("null"), None),
        (None, Some("same-site")),
        (Some("http://127.0.0.1:9999"), Some("same-site")),
    ] {
        let (status, _, body) = send(&app, feedback(origin, site)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("cross-site"), "{v}");
    }
    assert!(backend.feedback_log().is_empty());
    for (origin, site) in [
        (Some("http://127.0.0.1:7878"), Some("same-origin")),
        (None, None),
    ] {
        let (status, _, _) = send(&app, feedback(origin, site)).await;
        assert_eq!(status, StatusCode::OK, "{origin:?} {site:?}");
    }
    assert_eq!(backend.feedback_log().len(), 2);
    // Reads of the API from a foreign page are refused too.
    let req = Request::get("/api/info")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::FORBIDDEN);
}

/// Any site's page could play (and enumerate by id) the user's songs through an
/// `<audio src>`, which needs no CORS: the API answers only its own page, direct visits
/// and non-browser clients, while the page itself stays reachable from links anywhere.
#[tokio::test]
async fn cross_site_reads_of_audio_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(FakeBackend::new(1).with_audio(dir.path(), 1.0).unwrap());
    let get_with = |uri: &str, site: Option<&str>, origin: Option<&str>| {
        let mut r = Request::get(uri).header(header::HOST, "127.0.0.1:7878");
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        r.body(Body::empty()).unwrap()
    };
    for (site, origin) in [
        (Some("cross-site"), None),
        (Some("same-site"), None),
        (None, Some("https://evil.example")),
        (Some("cross-site"), Some("https://evil.example")),
    ] {
        let (status, _, body) = send(&app, get_with("/api/audio/2", site, origin)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{site:?} {origin:?}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        let error = v["error"].as_str().unwrap();
        assert!(
            error.contains("cross-site") && error.contains("/api/audio/2"),
            "{error}"
        );
        let (status, _, _) = send(&app, get_with("/api/songs", site, origin)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "songs {site:?} {origin:?}");
    }
    // The page's own player, a typed address and curl are served.
    for (site, origin) in [
        (Some("same-origin"), None),
        (Some("same-origin"), Some("http://127.0.0.1:7878")),
        (Some("none"), None),
        (None, None),
    ] {
        let (status, headers, _) = send(&app, get_with("/api/audio/2", site, origin)).await;
        assert_eq!(status, StatusCode::OK, "{site:?} {origin:?}");
        assert_eq!(headers[header::CONTENT_TYPE], "audio/wav");
    }
    // A link from another site still opens the page.
    let (status, _, _) = send(&app, get_with("/", Some("cross-site"), None)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Over a real socket: an oversized frame sent without waiting is refused with 413 and
/// the server goes on answering.
#[tokio::test]
async fn real_socket_survives_oversized_and_garbage_requests() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let limits = ConnectionLimits::default();
    let server = tokio::spawn(moodtune_server::serve(
        listener,
        app(),
        limits,
        async move {
            let _ = rx.await;
        },
    ));

    async fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        // The server may answer and close before taking the whole body.
        let _ = s.write_all(body).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    let big = vec![7u8; 5 << 20];
    let head = format!(
        "POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    );
    let res = raw(addr, &head, &big).await;
    assert!(
        res.starts_with("HTTP/1.1 413"),
        "{}",
        &res[..res.len().min(200)]
    );

    let res = raw(addr, "GARBAGE\r\n\r\n", b"").await;
    assert!(res.starts_with("HTTP/1.1 400") || res.is_empty(), "{res}");

    let res = raw(
        addr,
        "GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.contains("\"songs\":35"));

    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Starts the fake app on a loopback port with `limits`; the server stops when the
/// returned sender is dropped.
async fn serve_on_loopback(
    limits: ConnectionLimits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(moodtune_server::serve(
        listener,
        app(),
        limits,
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

/// The first line of the answer to a plain GET of /api/info on a new connection.
async fn info_status_line(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A client that opens a connection and never finishes its headers is closed after the
/// header deadline, idle or half-way through a request line.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_millis(300),
        ..ConnectionLimits::default()
    };
    let (addr, _stop) = serve_on_loopback(limits).await;
    for partial in [&b""[..], b"GET /api/info HTTP/1.1\r\nHost: 127.0"] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(partial).await.unwrap();
        let started = Instant::now();
        let mut out = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        assert!(
            closed.is_ok(),
            "still open after 5 s with {:?}",
            String::from_utf8_lossy(partial)
        );
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
    assert!(info_status_line(addr).await.contains("200"));
}

/// More silent sockets than the cap do not lock real clients out for longer than the
/// header deadline: the silent ones are closed and their places taken.
#[tokio::test]
async fn silent_sockets_beyond_the_cap_do_not_lock_the_page_out() {
    let limits = ConnectionLimits {
        max_connections: 8,
        header_read_timeout: Duration::from_millis(400),
        ..ConnectionLimits::default()
    };
    let (addr, _stop) = serve_on_loopback(limits).await;
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), info_status_line(addr))
        .await
        .expect("a real client was locked out for 10 s");
    assert!(status.contains("200"), "{status}");
    // Five rounds of eight silent sockets at 0.4 s each, at most.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

/// Shutdown stops accepting and returns even while a client holds a connection open.
#[tokio::test]
async fn shutdown_returns_with_a_connection_still_open() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let limits = ConnectionLimits {
        shutdown_grace: Duration::from_millis(200),
        ..ConnectionLimits::default()
    };
    let server = tokio::spawn(moodtune_server::serve(
        listener,
        app(),
        limits,
        async move {
            let _ = rx.await;
        },
    ));
    let _held = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("shutdown hung on an open connection")
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
