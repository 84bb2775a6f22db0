//! Figures for FER models, as the design shows them: loss/accuracy curves per epoch, a
//! row-normalised confusion matrix, a histogram of labels and a grid of example faces.
//!
//! Everything is drawn with plotters into an in-memory RGB buffer, encoded as PNG with
//! the `image` crate and written atomically (temp file in the target folder, then
//! rename). Text uses DejaVu Sans compiled into the crate (see fonts/LICENSE), so no
//! system fonts are needed.

mod confusion;
mod curves;
mod examples;
mod histogram;
mod metrics;

pub use confusion::{confusion_png, CONFUSION_SIZE};
pub use curves::{curves_png, CURVES_SIZE};
pub use examples::{examples_grid_png, examples_grid_size, MAX_PER_CLASS};
pub use histogram::{label_histogram_png, HISTOGRAM_SIZE};
pub use metrics::{parse_line, read_metrics, EpochRecord};

use anyhow::{anyhow, Context, Result};
use moodtune_core::Emotion;
use moodtune_fer::{Dataset, Evaluation};
use plotters::style::RGBColor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The family name every figure asks plotters for.
const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Registers the bundled font with plotters once per process. With the `ab_glyph`
/// feature plotters knows no fonts until one is registered.
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "the bundled font DejaVuSans.ttf could not be loaded"
        ))
    }
}

/// One colour per class, the same in every figure.
fn class_color(e: Emotion) -> RGBColor {
    match e {
        Emotion::Angry => RGBColor(214, 39, 40),
        Emotion::Disgust => RGBColor(44, 160, 44),
        Emotion::Fear => RGBColor(148, 103, 189),
        Emotion::Happy => RGBColor(230, 171, 2),
        Emotion::Sad => RGBColor(31, 119, 180),
        Emotion::Surprise => RGBColor(255, 127, 14),
        Emotion::Neutral => RGBColor(127, 127, 127),
    }
}

/// A white RGB canvas plotters draws into.
struct Canvas {
    buf: Vec<u8>,
    size: (u32, u32),
}

impl Canvas {
    fn new(size: (u32, u32)) -> Canvas {
        Canvas {
            buf: vec![255; size.0 as usize * size.1 as usize * 3],
            size,
        }
    }

    fn backend(&mut self) -> plotters::prelude::BitMapBackend<'_> {
        plotters::prelude::BitMapBackend::with_buffer(&mut self.buf, self.size)
    }

    fn save(self, out: &Path) -> Result<()> {
        let img = image::RgbImage::from_raw(self.size.0, self.size.1, self.buf)
            .expect("canvas buffer matches its size");
        save_png_atomically(&img, out)
    }
}

/// Encodes `img` as PNG into `out` atomically: a reader never sees half a file and a
/// failed write leaves the old one intact.
fn save_png_atomically(img: &image::RgbImage, out: &Path) -> Result<()> {
    moodtune_core::write_atomically(out, |w| {
        img.write_to(w, image::ImageFormat::Png)
            .map_err(std::io::Error::other)
    })
    .with_context(|| format!("cannot write {}", out.display()))
}

/// Maps a plotters drawing error (which borrows nothing but is not `Sync` in every
/// version) to anyhow, naming the figure.
fn draw_err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> anyhow::Error {
    move |e| anyhow!("drawing the {what} failed: {e}")
}

/// Writes the figures that the given inputs allow into `dir` (created if missing):
/// `curves.png` (when `records` is given), `confusion.png` (from `eval`, or computed from
/// `predictions` when only those are given), `labels.png` and `examples.png` (with the
/// predictions under each face when given). Returns the paths written, in that order.
pub fn write_all(
    dir: &Path,
    records: Option<&[EpochRecord]>,
    eval: Option<&Evaluation>,
    ds: &Dataset,
    predictions: Option<&[[f32; Emotion::COUNT]]>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create figure folder {}", dir.display()))?;
    if let Some(p) = predictions {
        check_predictions(ds, p)?;
    }
    let mut written = Vec::new();
    if let Some(r) = records {
        let p = dir.join("curves.png");
        curves_png(r, &p)?;
        written.push(p);
    }
    let computed;
    let eval = match (eval, predictions) {
        (Some(e), _) => Some(e),
        (None, Some(p)) => {
            computed = Evaluation::new(&ds.labels, p);
            Some(&computed)
        }
        (None, None) => None,
    };
    if let Some(e) = eval {
        let p = dir.join("confusion.png");
        confusion_png(e, &p)?;
        written.push(p);
    }
    let p = dir.join("labels.png");
    label_histogram_png(
        &ds.label_counts(),
        &format!("Labels in the data ({} images)", ds.len()),
        &p,
    )?;
    written.push(p);
    let p = dir.join("examples.png");
    examples_grid_png(ds, predictions, 8, 0, &p)?;
    written.push(p);
    Ok(written)
}

fn check_predictions(ds: &Dataset, p: &[[f32; Emotion::COUNT]]) -> Result<()> {
    if p.len() != ds.len() {
        anyhow::bail!(
            "{} predictions for {} images: they must match one to one",
            p.len(),
            ds.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
