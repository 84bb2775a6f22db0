//! Helpers shared by the integration tests.
#![allow(dead_code)]

use moodtune_core::{Emotion, ExpressionClassifier};
use std::path::PathBuf;
use std::sync::Mutex;

/// Where scripts/fetch-test-photos.sh puts the real photos.
pub fn photo_dir() -> PathBuf {
    match std::env::var_os("MOODTUNE_TEST_PHOTOS") {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/moodtune/test-photos")
        }
    }
}

/// A fetched photo, or `None` when the script has not been run (a failure in CI).
pub fn photo(name: &str) -> Option<PathBuf> {
    let p = photo_dir().join(name);
    if p.is_file() {
        Some(p)
    } else {
        moodtune_testkit::missing(&p.display().to_string(), "run scripts/fetch-test-photos.sh");
        None
    }
}

/// A stand-in expression model: records every crop it is given and answers from the
/// crop's mean brightness (dark -> Sad, bright -> Happy), so tests can check that
/// each face's own crop reached the model and came back to the right face.
#[derive(Default)]
pub struct RecordingClassifier {
    pub crops: Mutex<Vec<(u32, u32, f32)>>,
}

impl ExpressionClassifier for RecordingClassifier {
    fn classify_face(&self, gray: &[u8], width: u32, height: u32) -> [f32; Emotion::COUNT] {
        assert_eq!(gray.len(), (width * height) as usize, "crop buffer size");
        let mean = gray.iter().map(|&v| v as f32).sum::<f32>() / gray.len().max(1) as f32;
        self.crops.lock().unwrap().push((width, height, mean));
        let mut p = [0.05f32; Emotion::COUNT];
        let e = if mean < 128.0 {
            Emotion::Sad
        } else {
            Emotion::Happy
        };
        p[e.index()] = 0.7;
        p
    }
}
