//! From an image to a mood: find the faces, read their expressions, and pick the one
//! face whose expression counts.

use anyhow::Context;
use moodtune_core::{Emotion, ExpressionClassifier};
use moodtune_faces::{annotate, load_image, save_image, FacePipeline, FaceResult, LoadError};
use std::path::Path;
use std::sync::Arc;

use crate::detect::{pipeline, Scene};

/// The face whose expression sets the mood: the largest one the pipeline did not flag
/// as small or blurry (the person nearest the camera, clear enough to read); when every
/// face is flagged, the largest one. The page and `recommend --photo` both use this rule.
pub fn main_face(faces: &[FaceResult]) -> Option<usize> {
    let largest = |reliable_only: bool| {
        faces
            .iter()
            .enumerate()
            .filter(|(_, f)| !reliable_only || f.reliable())
            // The first of equal sizes, so the answer is stable.
            .max_by(|(i, a), (j, b)| a.bbox.area().cmp(&b.bbox.area()).then(j.cmp(i)))
            .map(|(i, _)| i)
    };
    largest(true).or_else(|| largest(false))
}

/// The mood read from a photo.
#[derive(Debug, Clone)]
pub struct PhotoMood {
    pub emotion: Emotion,
    /// Probability of `emotion` for the main face.
    pub confidence: f32,
    /// The face the mood came from.
    pub face: FaceResult,
}

impl PhotoMood {
    /// A note for the user when the face was flagged and its expression may be misread.
    pub fn caution(&self, photo: &Path) -> Option<String> {
        (!self.face.reliable()).then(|| {
            format!(
                "the face in {} is {}; its expression may be misread",
                photo.display(),
                self.face
                    .flags
                    .iter()
                    .map(|f| format!("{f:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        })
    }

    /// The mood of the main face of `photo` under the expression model file `model`
    /// (the shipped one when `None`): what `recommend --photo` and `playlist --photo`
    /// read.
    pub fn read(photo: &Path, model: Option<&Path>) -> anyhow::Result<PhotoMood> {
        let classifier = crate::detect::load_classifier(model)?;
        mood_from_photo(photo, Arc::new(classifier))
    }
}

/// Reads the mood of the main face of a photo; no face is an error naming the file.
pub fn mood_from_photo(
    photo: &Path,
    classifier: Arc<dyn ExpressionClassifier>,
) -> anyhow::Result<PhotoMood> {
    // LoadError names the file itself.
    let img = load_image(photo).context("reading the photo")?;
    let faces = pipeline(Scene::Photo, classifier).analyze(&img);
    let i = main_face(&faces).with_context(|| format!("no face found in {}", photo.display()))?;
    let face = faces[i].clone();
    Ok(PhotoMood {
        emotion: face.emotion,
        confidence: face.confidence,
        face,
    })
}

/// The faces found in a photo.
pub struct PhotoFaces {
    pub image: image::DynamicImage,
    pub faces: Vec<FaceResult>,
}

/// Every face of the photo at `path` with `pipeline`, leaving out faces smaller than
/// `min_face` pixels on their long side (the detector may find some a little under it).
pub fn photo_faces(
    pipeline: &FacePipeline,
    path: &Path,
    min_face: Option<u32>,
) -> Result<PhotoFaces, LoadError> {
    let image = load_image(path)?;
    let mut faces = pipeline.analyze(&image);
    if let Some(px) = min_face {
        faces.retain(|f| f.bbox.width.max(f.bbox.height) >= px);
    }
    Ok(PhotoFaces { image, faces })
}

impl PhotoFaces {
    /// Writes a copy of the photo with the faces boxed and labelled to `out` (format by
    /// extension).
    pub fn save_annotated(&self, out: &Path) -> std::io::Result<()> {
        save_image(&annotate(&self.image, &self.faces), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moodtune_core::FaceBox;
    use moodtune_faces::FaceFlag;

    fn face(size: u32, flags: Vec<FaceFlag>) -> FaceResult {
        FaceResult {
            bbox: FaceBox {
                x: 0,
                y: 0,
                width: size,
                height: size,
            },
            detector_score: 10.0,
            probabilities: [1.0 / 7.0; 7],
            emotion: Emotion::Angry,
            confidence: 1.0 / 7.0,
            sharpness: 100.0,
            flags,
        }
    }

    #[test]
    fn the_main_face_is_the_largest_clear_one() {
        assert_eq!(main_face(&[]), None);
        let faces = [
            face(40, vec![]),
            face(90, vec![FaceFlag::Blurry]),
            face(60, vec![]),
            face(60, vec![]),
        ];
        // The blurry face is larger, but a clear one is read instead; of equal sizes the first.
        assert_eq!(main_face(&faces), Some(2));
        // Only flagged faces: the largest of them.
        let flagged = [
            face(30, vec![FaceFlag::Small]),
            face(50, vec![FaceFlag::Blurry]),
        ];
        assert_eq!(main_face(&flagged), Some(1));
    }
}
