//! `moodtune recognize`: every face in photos and its expression.
//!
//! Exit codes: 0 every image had a face, 3 some image had no face (but none failed),
//! 1 some file could not be read or written (the others are still processed); 2 stays
//! clap's, for a bad command line.

use crate::print_lines;
use moodtune_app::recognize::{numbered, outcome, recognize_photo, Outcome};
use std::path::PathBuf;
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

pub fn run(args: RecognizeArgs) -> anyhow::Result<ExitCode> {
    let classifier = moodtune_app::detect::load_classifier(args.model.as_deref())?;
    let pipeline = moodtune_app::detect::photo_pipeline(args.min_face, Arc::new(classifier));
    let n = args.images.len();
    let mut reports = Vec::with_capacity(n);
    for (i, path) in args.images.iter().enumerate() {
        let annotate = args.annotate.as_ref().map(|out| numbered(out, i, n));
        let photo = recognize_photo(&pipeline, path, args.min_face, annotate.as_deref());
        for line in &photo.errors {
            eprintln!("{line}");
        }
        if !args.json {
            print_lines(&photo.table);
        }
        reports.push(photo.report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(match outcome(&reports) {
        Outcome::Failed => ExitCode::from(1),
        // 2 is clap's, for a bad command line.
        Outcome::NoFace => ExitCode::from(3),
        Outcome::Ok => ExitCode::SUCCESS,
    })
}
