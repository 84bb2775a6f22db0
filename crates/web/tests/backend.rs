//! The real web app through the server's backend trait, as the HTTP handlers call it:
//! the shipped model, the demo library, a real face photo.

use moodtune_app::web::WebApp;
use moodtune_core::{Emotion, Strategy};
use moodtune_server::{Backend, BackendError, PlaylistFileFormat};
use moodtune_web::Web;
use std::collections::HashSet;
use std::io::Cursor;

fn png(img: &image::DynamicImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

fn web(dir: &std::path::Path) -> Web {
    let opened = WebApp::open(Some(&dir.join("library.sqlite")), None).unwrap();
    let demo = opened.demo.expect("an empty library gets the demo songs");
    assert!(demo.added >= 14, "{} demo songs", demo.added);
    Web(opened.app)
}

#[test]
fn the_demo_library_answers_in_wire_types() {
    let dir = tempfile::tempdir().unwrap();
    let web = web(dir.path());
    let info = web.info().unwrap();
    assert!(
        info.songs >= 14 && info.model.contains("shipped"),
        "{info:?}"
    );

    let sad = web
        .playlist(Emotion::Sad, Strategy::Match, &HashSet::new(), 5)
        .unwrap();
    assert!(!sad.is_empty() && sad.len() <= 5);
    assert!(sad
        .iter()
        .all(|r| r.score.is_finite() && !r.reason.is_empty() && r.song.has_audio));
    assert!(sad.iter().any(|r| r.song.emotion == Some(Emotion::Sad)));
    // Heard songs stay out.
    let heard: HashSet<_> = sad.iter().map(|r| r.song.id).collect();
    let next = web
        .playlist(Emotion::Sad, Strategy::Match, &heard, 5)
        .unwrap();
    assert!(next.iter().all(|r| !heard.contains(&r.song.id)));

    let first = sad[0].song.id;
    let path = web
        .audio_path(first)
        .unwrap()
        .expect("demo songs have audio");
    assert!(path.is_file(), "{}", path.display());
    let picked = web.set_picks(Emotion::Sad, &[first]).unwrap();
    assert_eq!(picked.iter().map(|s| s.id).collect::<Vec<_>>(), [first]);
    assert_eq!(web.picks(Emotion::Sad).unwrap(), picked);

    let page = web.songs("", None, 0, 3).unwrap();
    assert_eq!(page.songs.len(), 3);
    assert_eq!(page.total, info.songs);
    let (content_type, bytes) = web
        .playlist_file(Emotion::Happy, Strategy::Match, PlaylistFileFormat::M3u8, 5)
        .unwrap()
        .unwrap();
    assert!(content_type.contains("mpegurl"), "{content_type}");
    assert!(bytes.starts_with(b"#EXTM3U"));

    // App errors keep their kind on the wire (each is an HTTP status).
    assert!(matches!(
        web.audio_path(i64::MAX),
        Err(BackendError::NotFound(_))
    ));
    assert!(matches!(
        web.analyze(b"not an image", None),
        Err(BackendError::BadInput(_))
    ));
}

#[test]
fn a_face_comes_back_with_its_box_probabilities_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let web = web(dir.path());
    let face = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../faces/tests/fixtures/astronaut-face.png"
    ))
    .unwrap();
    let a = web.analyze(&png(&face), Some("tab-1")).unwrap();
    assert_eq!((a.width, a.height), (face.width(), face.height()));
    assert_eq!(a.faces.len(), 1, "{a:?}");
    assert_eq!(a.main_face, Some(0));
    let f = &a.faces[0];
    assert!(
        (f.probs.iter().sum::<f32>() - 1.0).abs() < 1e-3,
        "{:?}",
        f.probs
    );
    let b = f.bbox;
    assert!(
        b.width >= 24 && b.x + b.width <= a.width && b.y + b.height <= a.height,
        "{b:?}"
    );
    // Flags travel as lower-case words the page's script knows.
    assert!(f
        .flags
        .iter()
        .all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
    let blank = image::DynamicImage::ImageLuma8(image::GrayImage::new(320, 240));
    let none = web.analyze(&png(&blank), None).unwrap();
    assert!(none.faces.is_empty() && none.main_face.is_none());
}
