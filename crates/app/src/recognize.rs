//! `recognize`: every face in photos and its expression, as a report per photo (JSON or
//! a table) and an outcome that decides the exit code.

use crate::mood::photo_faces;
use moodtune_core::Emotion;
use moodtune_faces::{FaceFlag, FacePipeline, FaceResult};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One photo: its size, its faces, the annotated copy and what went wrong.
#[derive(Serialize)]
pub struct ImageReport {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    faces: Vec<FaceJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct FaceJson {
    #[serde(rename = "box")]
    bbox: moodtune_faces::FaceBox,
    emotion: Emotion,
    confidence: f32,
    probabilities: Probabilities,
    detector_score: f32,
    sharpness: f32,
    flags: Vec<FaceFlag>,
}

/// Probability per emotion key, in FER2013 order, rounded to 4 decimals.
#[derive(Serialize)]
struct Probabilities {
    angry: f32,
    disgust: f32,
    fear: f32,
    happy: f32,
    sad: f32,
    surprise: f32,
    neutral: f32,
}

impl From<&FaceResult> for FaceJson {
    fn from(f: &FaceResult) -> Self {
        let r = |e: Emotion| (f.probabilities[e.index()] * 1e4).round() / 1e4;
        let probabilities = Probabilities {
            angry: r(Emotion::Angry),
            disgust: r(Emotion::Disgust),
            fear: r(Emotion::Fear),
            happy: r(Emotion::Happy),
            sad: r(Emotion::Sad),
            surprise: r(Emotion::Surprise),
            neutral: r(Emotion::Neutral),
        };
        FaceJson {
            bbox: f.bbox,
            emotion: f.emotion,
            confidence: f.confidence,
            probabilities,
            detector_score: f.detector_score,
            sharpness: f.sharpness,
            flags: f.flags.clone(),
        }
    }
}

/// A photo recognised: the report, the lines for standard error (in the order things
/// happened) and the table for standard output (empty when the photo was unreadable).
pub struct Recognized {
    pub report: ImageReport,
    pub errors: Vec<String>,
    pub table: Vec<String>,
}

/// Finds and reads every face of the photo at `path` (none under `min_face` pixels);
/// with `annotate`, writes a copy with the faces boxed there.
pub fn recognize_photo(
    pipeline: &FacePipeline,
    path: &Path,
    min_face: Option<u32>,
    annotate: Option<&Path>,
) -> Recognized {
    let mut report = ImageReport {
        file: path.display().to_string(),
        width: None,
        height: None,
        faces: Vec::new(),
        annotated: None,
        error: None,
    };
    let mut errors = Vec::new();
    let photo = match photo_faces(pipeline, path, min_face) {
        Ok(photo) => photo,
        Err(e) => {
            errors.push(format!("error: {e}"));
            report.error = Some(e.to_string());
            return Recognized {
                report,
                errors,
                table: Vec::new(),
            };
        }
    };
    let size = (photo.image.width(), photo.image.height());
    (report.width, report.height) = (Some(size.0), Some(size.1));
    if photo.faces.is_empty() {
        errors.push(format!("{}: no face found", path.display()));
    }
    if let Some(out) = annotate {
        match photo.save_annotated(out) {
            Ok(()) => report.annotated = Some(out.display().to_string()),
            Err(e) => {
                let msg = format!("cannot write {}: {e}", out.display());
                errors.push(format!("error: {msg}"));
                report.error = Some(msg);
            }
        }
    }
    report.faces = photo.faces.iter().map(FaceJson::from).collect();
    let table = table(path, size, &photo.faces, report.annotated.as_deref());
    Recognized {
        report,
        errors,
        table,
    }
}

/// How a run went, most serious first; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Some file could not be read or written.
    Failed,
    /// Every file was read but some had no face.
    NoFace,
    /// Every image had at least one face.
    Ok,
}

/// The outcome of a run that made `reports`.
pub fn outcome(reports: &[ImageReport]) -> Outcome {
    if reports.iter().any(|r| r.error.is_some()) {
        Outcome::Failed
    } else if reports.iter().any(|r| r.faces.is_empty()) {
        Outcome::NoFace
    } else {
        Outcome::Ok
    }
}

/// `out.png` for a single image; `out-1.png`, `out-2.png`, ... for several.
pub fn numbered(out: &Path, index: usize, count: usize) -> PathBuf {
    if count <= 1 {
        return out.to_path_buf();
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match out.extension() {
        Some(ext) => format!("{stem}-{}.{}", index + 1, ext.to_string_lossy()),
        None => format!("{stem}-{}", index + 1),
    };
    out.with_file_name(name)
}

/// The photo's line, then a row per face: box, emotion, confidence, the seven
/// probabilities and the flags.
fn table(
    path: &Path,
    (w, h): (u32, u32),
    faces: &[FaceResult],
    annotated: Option<&str>,
) -> Vec<String> {
    let plural = if faces.len() == 1 { "" } else { "s" };
    let mut lines = vec![format!(
        "{} ({}x{}): {} face{plural}",
        path.display(),
        w,
        h,
        faces.len()
    )];
    if faces.is_empty() {
        return lines;
    }
    let mut header = format!(
        "  {:>2}  {:<22} {:<9} {:>5} ",
        "#", "box x,y wxh", "emotion", "conf"
    );
    for e in Emotion::ALL {
        header += &format!(" {:>8}", e.key());
    }
    lines.push(header + "  flags");
    for (i, f) in faces.iter().enumerate() {
        let b = f.bbox;
        let bx = format!("{},{} {}x{}", b.x, b.y, b.width, b.height);
        let mut row = format!(
            "  {:>2}  {:<22} {:<9} {:>4.0}% ",
            i + 1,
            bx,
            f.emotion.name(),
            f.confidence * 100.0
        );
        for p in f.probabilities {
            row += &format!(" {:>8.2}", p);
        }
        let flags: Vec<&str> = f
            .flags
            .iter()
            .map(|fl| match fl {
                FaceFlag::Small => "small",
                FaceFlag::Blurry => "blurry",
            })
            .collect();
        if !flags.is_empty() {
            row += &format!("  {}", flags.join(","));
        }
        lines.push(row);
    }
    if let Some(a) = annotated {
        lines.push(format!("  annotated: {a}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_only_with_several_images() {
        assert_eq!(
            numbered(Path::new("o/a.png"), 0, 1),
            PathBuf::from("o/a.png")
        );
        assert_eq!(
            numbered(Path::new("o/a.png"), 1, 3),
            PathBuf::from("o/a-2.png")
        );
        assert_eq!(numbered(Path::new("a"), 0, 2), PathBuf::from("a-1"));
    }
}
