//! `moodtune recognize`: every face in photos and its expression.
//!
//! Exit codes: 0 every image had a face, 3 some image had no face (but none failed),
//! 1 some file could not be read or written (the others are still processed); 2 stays
//! clap's, for a bad command line.

use moodtune_core::{Emotion, ExpressionClassifier};
use moodtune_faces::{FaceFlag, FaceResult};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct RecognizeArgs {
    /// Photos to analyse (JPEG, PNG, WebP or BMP).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write a copy of the image with boxes and labels (PNG/JPEG/WebP/BMP by extension).
    /// With several images, "-1", "-2", ... is added before the extension.
    #[arg(long, value_name = "OUT.png")]
    pub annotate: Option<PathBuf>,
    /// Expression model file to use instead of the shipped one.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Smallest face to report, in pixels of the photo: smaller ones are left out, and
    /// the photo is scanned finely enough to find faces of this size (smaller is
    /// slower). By default photos are scanned at up to 1600 px, which finds faces from
    /// 40 px in photos up to that size and proportionally larger ones in bigger photos.
    /// At least 40, the detector's window: a photo is never enlarged.
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(40..))]
    pub min_face: Option<u32>,
}

#[derive(Serialize)]
struct ImageReport {
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

/// How a run went, most serious first; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Some file could not be read or written: exit code 1.
    Failed,
    /// Every file was read but some had no face: exit code 3 (2 is a bad command line).
    NoFace,
    /// Every image had at least one face: exit code 0.
    Ok,
}

pub fn run(args: RecognizeArgs) -> anyhow::Result<ExitCode> {
    Ok(match recognize(&args)? {
        Outcome::Failed => ExitCode::from(1),
        Outcome::NoFace => ExitCode::from(3),
        Outcome::Ok => ExitCode::SUCCESS,
    })
}

fn recognize(args: &RecognizeArgs) -> anyhow::Result<Outcome> {
    let classifier: Arc<dyn ExpressionClassifier> = Arc::new(
        moodtune_app::detect::load_classifier(args.model.as_deref())?,
    );
    let pipeline = moodtune_app::detect::photo_pipeline(args.min_face, classifier);

    let n = args.images.len();
    let mut reports = Vec::with_capacity(n);
    let mut failed = false;
    let mut faceless = false;
    for (i, path) in args.images.iter().enumerate() {
        let mut report = ImageReport {
            file: path.display().to_string(),
            width: None,
            height: None,
            faces: Vec::new(),
            annotated: None,
            error: None,
        };
        match moodtune_app::mood::photo_faces(&pipeline, path, args.min_face) {
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
                report.error = Some(e.to_string());
            }
            Ok(photo) => {
                let (w, h) = (photo.image.width(), photo.image.height());
                report.width = Some(w);
                report.height = Some(h);
                if photo.faces.is_empty() {
                    faceless = true;
                    eprintln!("{}: no face found", path.display());
                }
                if let Some(out) = &args.annotate {
                    let out = numbered(out, i, n);
                    match photo.save_annotated(&out) {
                        Ok(()) => report.annotated = Some(out.display().to_string()),
                        Err(e) => {
                            failed = true;
                            let msg = format!("cannot write {}: {e}", out.display());
                            eprintln!("error: {msg}");
                            report.error = Some(msg);
                        }
                    }
                }
                report.faces = photo.faces.iter().map(FaceJson::from).collect();
                if !args.json {
                    print_table(path, (w, h), &photo.faces, report.annotated.as_deref());
                }
            }
        }
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(if failed {
        Outcome::Failed
    } else if faceless {
        Outcome::NoFace
    } else {
        Outcome::Ok
    })
}

/// `out.png` for a single image; `out-1.png`, `out-2.png`, ... for several.
fn numbered(out: &Path, index: usize, count: usize) -> PathBuf {
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

fn print_table(path: &Path, (w, h): (u32, u32), faces: &[FaceResult], annotated: Option<&str>) {
    let plural = if faces.len() == 1 { "" } else { "s" };
    println!(
        "{} ({}x{}): {} face{plural}",
        path.display(),
        w,
        h,
        faces.len()
    );
    if faces.is_empty() {
        return;
    }
    print!(
        "  {:>2}  {:<22} {:<9} {:>5} ",
        "#", "box x,y wxh", "emotion", "conf"
    );
    for e in Emotion::ALL {
        print!(" {:>8}", e.key());
    }
    println!("  flags");
    for (i, f) in faces.iter().enumerate() {
        let b = f.bbox;
        let bx = format!("{},{} {}x{}", b.x, b.y, b.width, b.height);
        print!(
            "  {:>2}  {:<22} {:<9} {:>4.0}% ",
            i + 1,
            bx,
            f.emotion.name(),
            f.confidence * 100.0
        );
        for p in f.probabilities {
            print!(" {:>8.2}", p);
        }
        let flags: Vec<&str> = f
            .flags
            .iter()
            .map(|fl| match fl {
                FaceFlag::Small => "small",
                FaceFlag::Blurry => "blurry",
            })
            .collect();
        if flags.is_empty() {
            println!();
        } else {
            println!("  {}", flags.join(","));
        }
    }
    if let Some(a) = annotated {
        println!("  annotated: {a}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_min_face_below_the_detector_window_is_refused_not_raised() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: RecognizeArgs,
        }
        use clap::Parser;
        let parse = |px: &str| Cli::try_parse_from(["recognize", "a.jpg", "--min-face", px]);
        let err = parse("20").err().expect("20 px is refused").to_string();
        assert!(err.contains("40"), "{err}");
        assert_eq!(parse("48").unwrap().args.min_face, Some(48));
    }

    fn args(images: Vec<PathBuf>, annotate: Option<PathBuf>) -> RecognizeArgs {
        RecognizeArgs {
            images,
            json: true,
            annotate,
            model: None,
            min_face: None,
        }
    }

    #[test]
    fn bad_files_fail_without_stopping_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.jpg");
        std::fs::write(&empty, b"").unwrap();
        let text = dir.path().join("notes.png");
        std::fs::write(&text, b"not a picture").unwrap();
        let blank = dir.path().join("blank.png");
        image::GrayImage::from_pixel(120, 90, image::Luma([128]))
            .save(&blank)
            .unwrap();
        let out = dir.path().join("out.png");
        let a = args(
            vec![empty, text, dir.path().join("missing.bmp"), blank],
            Some(out),
        );
        assert_eq!(recognize(&a).unwrap(), Outcome::Failed);
        // The readable image after the bad ones was still processed and annotated.
        assert!(dir.path().join("out-4.png").is_file());
        assert!(!dir.path().join("out-1.png").exists());
    }

    #[test]
    fn an_image_without_faces_is_exit_code_3() {
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank.png");
        image::GrayImage::from_pixel(200, 150, image::Luma([90]))
            .save(&blank)
            .unwrap();
        assert_eq!(
            recognize(&args(vec![blank], None)).unwrap(),
            Outcome::NoFace
        );
    }

    #[test]
    fn a_missing_model_file_is_a_clear_error() {
        let mut a = args(vec![PathBuf::from("x.png")], None);
        a.model = Some(PathBuf::from("/nonexistent/model.safetensors"));
        let e = recognize(&a).expect_err("must fail");
        assert!(
            format!("{e:#}").contains("/nonexistent/model.safetensors"),
            "{e:#}"
        );
    }

    #[test]
    fn faces_under_min_face_are_left_out() {
        let photo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../faces/tests/fixtures/astronaut-face.png");
        // Her face box is about 100 px wide in the 200 px cut.
        let mut a = args(vec![photo], None);
        a.min_face = Some(60);
        assert_eq!(recognize(&a).unwrap(), Outcome::Ok);
        a.min_face = Some(150);
        assert_eq!(recognize(&a).unwrap(), Outcome::NoFace);
    }

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
