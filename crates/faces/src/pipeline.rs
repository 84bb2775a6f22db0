//! Image in, every face with its expression out.

use crate::crop::{fer_crop, sharpness};
use crate::detect::{Detection, FaceBox, FaceDetector};
use crate::track::FaceTracker;
use image::{DynamicImage, GrayImage};
use moodtune_core::{Emotion, ExpressionClassifier};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How faces are framed and which ones are flagged as unreliable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    /// Crop side as a multiple of the detector box side. SeetaFace boxes run from the
    /// brows to the chin and cheek to cheek; FER2013 faces are tightly framed but show
    /// the forehead and the face outline, which a 1.2x square around the box matches.
    pub crop_scale: f32,
    /// Crops are shrunk to at most this side before classification (3x the 48 px
    /// model input: enough detail for any resize the model does, and cheap).
    pub max_crop_side: u32,
    /// Faces whose box side is below this (in image pixels) are flagged `small`:
    /// upscaling them to 48x48 invents detail the model then reads as expression.
    pub min_face_side: u32,
    /// Faces whose [`sharpness`] is below this are flagged `blurry`. Measured on the
    /// test photos: sharp faces score 770-1360; a Gaussian blur of sigma 1 px at the
    /// 64 px measuring scale brings them to 80-190, sigma 1.6 px to 20-70.
    pub blur_threshold: f32,
    /// Boxes overlapping more than this (IoU) are treated as one face.
    pub merge_iou: f32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            crop_scale: 1.2,
            max_crop_side: 144,
            min_face_side: 36,
            blur_threshold: 100.0,
            merge_iou: 0.4,
        }
    }
}

/// Why a face's expression should not be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaceFlag {
    Small,
    Blurry,
}

/// One face found in an image, with its expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceResult {
    /// Face box in the coordinates of the (orientation-corrected) image.
    pub bbox: FaceBox,
    /// Detector confidence (detector-specific scale).
    pub detector_score: f32,
    /// Probabilities in `Emotion::ALL` order.
    pub probabilities: [f32; Emotion::COUNT],
    /// The most probable emotion.
    pub emotion: Emotion,
    /// Probability of `emotion`.
    pub confidence: f32,
    /// Variance of the Laplacian of the crop at 64x64 (higher is sharper).
    pub sharpness: f32,
    /// Reasons not to trust this face; empty when it looks fine.
    pub flags: Vec<FaceFlag>,
}

impl FaceResult {
    pub fn reliable(&self) -> bool {
        self.flags.is_empty()
    }
}

/// Detector plus expression classifier. Cheap to clone and share between threads.
#[derive(Clone)]
pub struct FacePipeline {
    detector: Arc<dyn FaceDetector>,
    classifier: Arc<dyn ExpressionClassifier>,
    config: PipelineConfig,
}

impl FacePipeline {
    pub fn new(detector: Arc<dyn FaceDetector>, classifier: Arc<dyn ExpressionClassifier>) -> Self {
        Self::with_config(detector, classifier, PipelineConfig::default())
    }

    pub fn with_config(
        detector: Arc<dyn FaceDetector>,
        classifier: Arc<dyn ExpressionClassifier>,
        config: PipelineConfig,
    ) -> Self {
        FacePipeline {
            detector,
            classifier,
            config,
        }
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    pub fn detector(&self) -> &dyn FaceDetector {
        &*self.detector
    }

    /// Every face in a colour or gray image, largest first.
    pub fn analyze(&self, img: &DynamicImage) -> Vec<FaceResult> {
        self.analyze_gray(&img.to_luma8())
    }

    /// Every face in a grayscale image, largest first.
    pub fn analyze_gray(&self, gray: &GrayImage) -> Vec<FaceResult> {
        let faces = self.detect(gray);
        self.classify_detections(gray, &faces)
    }

    /// Every face in a video frame, found by the stream's `tracker` (cheaper than
    /// [`Self::analyze_gray`] between its full scans), largest first.
    pub fn analyze_tracked(&self, tracker: &mut FaceTracker, gray: &GrayImage) -> Vec<FaceResult> {
        let faces = tracker.detect(gray);
        self.classify_detections(gray, &faces)
    }

    /// Expressions for faces found elsewhere (e.g. by a [`crate::FaceTracker`]), in
    /// the order given. An empty image has no faces to crop, whatever the detections say.
    pub fn classify_detections(&self, gray: &GrayImage, faces: &[Detection]) -> Vec<FaceResult> {
        if faces.is_empty() || gray.width() == 0 || gray.height() == 0 {
            return Vec::new();
        }
        let crops: Vec<GrayImage> = faces
            .iter()
            .map(|d| {
                fer_crop(
                    gray,
                    &d.bbox,
                    self.config.crop_scale,
                    self.config.max_crop_side,
                )
            })
            .collect();
        let inputs: Vec<(&[u8], u32, u32)> = crops
            .iter()
            .map(|c| (c.as_raw().as_slice(), c.width(), c.height()))
            .collect();
        let probs = self.classifier.classify_faces(&inputs);
        faces
            .iter()
            .zip(crops.iter())
            .zip(probs)
            .map(|((d, crop), probabilities)| {
                let sharp = sharpness(crop);
                let mut flags = Vec::new();
                if d.bbox.width.min(d.bbox.height) < self.config.min_face_side {
                    flags.push(FaceFlag::Small);
                }
                if sharp < self.config.blur_threshold {
                    flags.push(FaceFlag::Blurry);
                }
                let (emotion, confidence) = moodtune_core::top_emotion(&probabilities);
                FaceResult {
                    bbox: d.bbox,
                    detector_score: d.score,
                    probabilities,
                    emotion,
                    confidence,
                    sharpness: sharp,
                    flags,
                }
            })
            .collect()
    }

    /// Faces only (no expression): duplicates merged, largest first.
    pub fn detect(&self, gray: &GrayImage) -> Vec<Detection> {
        if gray.width() == 0 || gray.height() == 0 {
            return Vec::new();
        }
        merge_and_sort(self.detector.detect(gray), self.config.merge_iou)
    }
}

/// Keeps the best-scoring box of each overlapping group, then orders largest first
/// (ties: higher score, then top-left first, so output order is deterministic).
pub(crate) fn merge_and_sort(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) <= iou) {
            kept.push(d);
        }
    }
    kept.sort_by(|a, b| {
        b.bbox
            .area()
            .cmp(&a.bbox.area())
            .then(b.score.total_cmp(&a.score))
            .then((a.bbox.y, a.bbox.x).cmp(&(b.bbox.y, b.bbox.x)))
    });
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: u32, y: u32, s: u32, score: f32) -> Detection {
        Detection {
            bbox: FaceBox {
                x,
                y,
                width: s,
                height: s,
            },
            score,
        }
    }

    #[test]
    fn merges_overlaps_keeping_best_and_sorts_by_size() {
        let out = merge_and_sort(
            vec![
                det(0, 0, 50, 3.0),
                det(200, 0, 100, 5.0),
                det(205, 5, 100, 9.0),
                det(400, 0, 70, 4.0),
            ],
            0.4,
        );
        let got: Vec<(u32, f32)> = out.iter().map(|d| (d.bbox.x, d.score)).collect();
        assert_eq!(got, vec![(205, 9.0), (400, 4.0), (0, 3.0)]);
    }
}
