//! The detector factory: which face detector and which expression model a scene gets.
//!
//! Adding a detector is a new file in `moodtune-faces` and a new arm here; every command
//! and the web app get their detectors from [`detector`].

use anyhow::Context;
use moodtune_core::ExpressionClassifier;
use moodtune_faces::{FaceDetector, FacePipeline, FaceTracker, SeetaConfig, SeetaDetector};
use moodtune_fer::Classifier;
use std::path::Path;
use std::sync::Arc;

/// What kind of image the faces are looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// A webcam frame: small, one close face, many frames a second.
    Live,
    /// A photo: possibly large, possibly a group, analysed once.
    Photo,
}

impl Scene {
    /// Frames the page sends are at most 640 pixels on their long side; anything larger
    /// is a photo.
    pub fn for_size(width: u32, height: u32) -> Scene {
        if width.max(height) <= 640 {
            Scene::Live
        } else {
            Scene::Photo
        }
    }
}

/// The face detector for a scene.
pub fn detector(scene: Scene) -> Arc<dyn FaceDetector> {
    let config = match scene {
        Scene::Live => SeetaConfig::live(),
        Scene::Photo => SeetaConfig::photo(),
    };
    Arc::new(SeetaDetector::new(config))
}

/// Frames between a camera stream's full scans: the page sends 4 frames a second, so
/// a face that joins is found within 2 seconds.
pub const LIVE_FULL_SCAN_EVERY: u32 = 8;

/// Follows the faces of one camera stream: full scans with the live detector every
/// [`LIVE_FULL_SCAN_EVERY`] frames, searches around the known faces in between.
pub fn live_tracker() -> FaceTracker {
    let mut tracker = FaceTracker::new(SeetaConfig::live());
    tracker.full_scan_every = LIVE_FULL_SCAN_EVERY;
    tracker
}

/// Detector plus expression model for a scene.
pub fn pipeline(scene: Scene, classifier: Arc<dyn ExpressionClassifier>) -> FacePipeline {
    FacePipeline::new(detector(scene), classifier)
}

/// The photo pipeline with the smallest face it looks for set (`recognize --min-face`).
pub fn photo_pipeline(
    min_face: Option<u32>,
    classifier: Arc<dyn ExpressionClassifier>,
) -> FacePipeline {
    let mut config = SeetaConfig::photo();
    if let Some(px) = min_face {
        config.min_face = px;
    }
    FacePipeline::new(Arc::new(SeetaDetector::new(config)), classifier)
}

/// The expression model a command was pointed at with `--model`, or the shipped one;
/// errors name the file.
pub fn load_classifier(model: Option<&Path>) -> anyhow::Result<Classifier> {
    Classifier::shipped_or(model).with_context(|| match model {
        Some(p) => format!("cannot load expression model {}", p.display()),
        None => "cannot load the shipped expression model".to_string(),
    })
}

/// How a model is named to the user: its file, or "shipped FER model".
pub fn model_name(model: Option<&Path>) -> String {
    match model {
        Some(p) => p.display().to_string(),
        None => "shipped FER model".to_string(),
    }
}
