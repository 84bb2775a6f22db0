//! The web page in real headless Chromium with a fake camera, over the fake backend:
//! camera frames reach the server, a face box and the emotion bars appear, the playlist
//! renders and a song plays; then a photo upload takes over from the camera.
//! Skipped with a note when Chromium is not installed (scripts/setup-browser.sh).

#[path = "support/cdp.rs"]
mod cdp;

use moodtune_server::fake::FakeBackend;
use moodtune_server::{router, serve, ServerConfig};
use std::sync::Arc;
use std::time::Duration;

const W: u32 = 640;
const H: u32 = 480;

/// A grey frame with a bright oval "face" in the middle and some texture, so the fake
/// backend finds a face and reads it as happy.
fn face_frame(face_level: u8) -> Vec<u8> {
    let mut px = vec![0u8; (W * H) as usize];
    for y in 0..H {
        for x in 0..W {
            let dx = (x as f32 - W as f32 / 2.0) / 130.0;
            let dy = (y as f32 - H as f32 / 2.0) / 170.0;
            let v = if dx * dx + dy * dy <= 1.0 {
                face_level
            } else {
                (70 + (x + y) % 40) as u8
            };
            px[(y * W + x) as usize] = v;
        }
    }
    px
}

/// A 1800x1350 colour photo of noise, which PNG cannot shrink below the frame limit, with a dark
/// middle where the fake backend looks for the face.
fn phone_photo(face_level: u8) -> image::RgbImage {
    let (w, h) = (1800u32, 1350u32);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    image::RgbImage::from_fn(w, h, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let [r, g, b, ..] = seed.to_le_bytes();
        let middle = x.abs_diff(w / 2) <= w * 3 / 10 && y.abs_diff(h / 2) <= h * 3 / 10;
        if middle {
            image::Rgb([
                face_level + r % 16,
                face_level + g % 16,
                face_level + b % 16,
            ])
        } else {
            image::Rgb([r, g, b])
        }
    })
}

const REPORT: &str = r#"(() => {
  const a = document.getElementById('audio');
  const c = document.getElementById('overlay');
  let drawn = 0;
  if (c.width && c.height) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) drawn++;
  }
  const bars = {};
  document.querySelectorAll('#bars [data-emotion]').forEach(li => {
    bars[li.dataset.emotion] = Number(li.querySelector('[role=meter]').getAttribute('aria-valuenow'));
  });
  return { state: window.moodtune, paused: a.paused, currentTime: a.currentTime,
    src: a.currentSrc, drawnPixels: drawn, bars,
    moodText: document.getElementById('mood-name').textContent,
    queued: document.querySelectorAll('#playlist li').length,
    nowPlaying: document.getElementById('now-playing').textContent,
    cameraNote: document.getElementById('camera-note').textContent,
    library: document.querySelectorAll('#lib-rows tr').length };
})()"#;

#[test]
fn camera_mood_playlist_and_audio_in_chromium() {
    let Some(chromium) = cdp::find_chromium() else {
        moodtune_testkit::missing("chromium", "run scripts/setup-browser.sh");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let backend = FakeBackend::new(4).with_audio(tmp.path(), 20.0).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig::default();
    let limits = config.connections;
    let server = rt.spawn(serve(
        listener,
        router(Arc::new(backend), config),
        limits,
        async move {
            let _ = stopped.await;
        },
    ));

    let y4m = tmp.path().join("face.y4m");
    cdp::write_y4m(&y4m, W, H, &face_frame(225), 5);
    let mut browser = cdp::Browser::launch(&chromium, &format!("http://{addr}/"), &y4m);

    let ready = r#"(() => { const s = window.moodtune; const a = document.getElementById('audio');
        return !!s && s.faces > 0 && !!s.mood && document.querySelectorAll('#playlist li').length > 0
          && !a.paused && a.currentTime > 0; })()"#;
    let (ok, report) = browser.wait_for(ready, REPORT, Duration::from_secs(40));
    let shots = cdp::screenshot_dir();
    browser.screenshot(&shots.join("server-camera.png"));
    assert!(
        ok,
        "page never reached face+mood+playlist+playing: {report:#}"
    );
    assert_eq!(report["state"]["camera"], "on");
    assert_eq!(report["state"]["mood"], "happy", "{report:#}");
    assert_eq!(report["moodText"], "Happy");
    assert!(report["bars"]["happy"].as_i64().unwrap() > 50, "{report:#}");
    assert!(
        report["drawnPixels"].as_i64().unwrap() > 100,
        "no face box drawn"
    );
    assert!(report["src"].as_str().unwrap().contains("/api/audio/"));
    assert!(report["nowPlaying"]
        .as_str()
        .unwrap()
        .contains("Happy song"));
    assert!(
        report["library"].as_i64().unwrap() > 0,
        "library table empty"
    );
    assert_eq!(report["state"]["errors"], 0, "{report:#}");

    // No camera wanted: a dark photo replaces it and the mood follows the photo. It is
    // phone-sized, past the server's frame limit, so the page must send a smaller copy.
    let photo = tmp.path().join("photo.png");
    phone_photo(20).save(&photo).unwrap();
    let photo_bytes = std::fs::metadata(&photo).unwrap().len();
    let frame_limit = ServerConfig::default().frame_limit as u64;
    assert!(photo_bytes > frame_limit, "{photo_bytes} bytes");
    let doc = browser.call("DOM.getDocument", serde_json::json!({}));
    let input = browser.call(
        "DOM.querySelector",
        serde_json::json!({"nodeId": doc["root"]["nodeId"], "selector": "#photo-input"}),
    );
    browser.call(
        "DOM.setFileInputFiles",
        serde_json::json!({"nodeId": input["nodeId"], "files": [photo.to_str().unwrap()]}),
    );
    let (ok, report) = browser.wait_for(
        "window.moodtune.camera === 'off' && window.moodtune.mood === 'sad' && window.moodtune.playlistEmotion === 'sad'",
        REPORT,
        Duration::from_secs(20),
    );
    browser.screenshot(&shots.join("server-photo.png"));
    assert!(ok, "photo upload did not set the mood: {report:#}");
    let sent = report["state"]["photoBytesSent"].as_u64().unwrap();
    assert!(sent > 0 && sent < frame_limit, "{report:#}");
    assert!(report["bars"]["sad"].as_i64().unwrap() > 50, "{report:#}");
    assert!(report["drawnPixels"].as_i64().unwrap() > 100);
    assert_eq!(report["state"]["errors"], 0, "{report:#}");

    // Typical songs: "Add" the first candidate of the Happy library.
    browser.eval("document.querySelector('#picks-candidates button').click()");
    let (ok, picks) = browser.wait_for(
        "document.querySelectorAll('#picks li button').length === 1",
        "({ picks: document.getElementById('picks').textContent, note: document.getElementById('picks-note').textContent })",
        Duration::from_secs(10),
    );
    assert!(ok, "pick was not added: {picks:#}");
    assert!(picks["picks"].as_str().unwrap().contains("Happy song"));
    assert!(picks["note"].as_str().unwrap().contains("Saved"));

    // Library search.
    browser.eval(
        "(() => { const i = document.getElementById('lib-search'); i.value = 'surprise song 2'; \
         i.dispatchEvent(new Event('input')); })()",
    );
    let (ok, rows) = browser.wait_for(
        "document.querySelectorAll('#lib-rows tr').length === 1",
        "document.getElementById('lib-rows').textContent",
        Duration::from_secs(10),
    );
    assert!(
        ok && rows.as_str().unwrap().contains("Surprise song 2"),
        "{rows}"
    );

    // Import a CSV through the file input: the library is replaced.
    let csv = tmp.path().join("my songs.csv");
    std::fs::write(
        &csv,
        "title,artist,emotion,tags\nRise,Band,happy,keyboard\nRain,Solo,sad,calm\n",
    )
    .unwrap();
    let input = browser.call(
        "DOM.querySelector",
        serde_json::json!({"nodeId": doc["root"]["nodeId"], "selector": "#import-input"}),
    );
    browser.call(
        "DOM.setFileInputFiles",
        serde_json::json!({"nodeId": input["nodeId"], "files": [csv.to_str().unwrap()]}),
    );
    let (ok, imported) = browser.wait_for(
        // The note and the refreshed song count, which the page shows together.
        "document.getElementById('import-note').textContent.includes('Imported 2 songs') \
         && document.getElementById('info').textContent.startsWith('2 songs')",
        "({ note: document.getElementById('import-note').textContent, info: document.getElementById('info').textContent })",
        Duration::from_secs(10),
    );
    browser.screenshot(&shots.join("server-import.png"));
    assert!(
        ok,
        "import did not report or the song count did not follow: {imported:#}"
    );
    assert_eq!(browser.eval("window.moodtune.errors"), 0);

    drop(browser);
    stop.send(()).unwrap();
    rt.block_on(server).unwrap().unwrap();
}
