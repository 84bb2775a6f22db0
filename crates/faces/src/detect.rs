//! Face detectors behind one small trait, so a stronger model (RetinaFace) can be added
//! beside the shipped SeetaFace cascade without touching the pipeline.

use crate::shrink::shrink;
use image::GrayImage;
use serde::{Deserialize, Serialize};

pub use moodtune_core::FaceBox;
use std::sync::{Arc, OnceLock};

/// One face found by a detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub bbox: FaceBox,
    /// Detector confidence; its scale depends on the detector (SeetaFace: roughly 2-40).
    pub score: f32,
}

/// Finds faces in a grayscale image. Implementations must be cheap to share between
/// threads (the web server calls one detector from many requests).
pub trait FaceDetector: Send + Sync {
    /// Short identifier shown in benchmarks and JSON output.
    fn name(&self) -> &str;
    /// All faces found, in the coordinates of `gray`, in no particular order.
    fn detect(&self, gray: &GrayImage) -> Vec<Detection>;
    /// Pixels a scan of a `width` x `height` image examines, over every level of its
    /// pyramid: what a [`crate::FaceTracker`] weighs its local searches against.
    fn scanned_pixels(&self, width: u32, height: u32) -> u64 {
        u64::from(width) * u64::from(height)
    }
}

/// Tuning of the SeetaFace detector. The cascade scans 40x40 windows over an image
/// pyramid that starts at the working resolution, so the working resolution decides
/// both the cost and the smallest face that can be found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeetaConfig {
    /// The image is downscaled so its longest side is at most this many pixels before
    /// detection (boxes are mapped back). Cost grows with the square of this.
    pub max_side: u32,
    /// Smallest face, in pixels of the original image, that must still be found; when
    /// `max_side` would shrink such a face below the 40 px window, the image is shrunk
    /// less (slower but finds it). 0 means "whatever `max_side` allows".
    pub min_face: u32,
    /// Ratio between pyramid levels (0.1-0.99); lower is faster and coarser in scale.
    pub pyramid_scale: f32,
    /// Sliding window step in pixels at each pyramid level; larger is faster.
    pub window_step: u32,
    /// Score threshold; SeetaFace suggests 0.95 (recall) to 4.5 (precision).
    pub score_threshold: f64,
    /// Largest face looked for, in pixels of the working image (0: no limit). The
    /// pyramid stops at the level where the window covers faces this large: a
    /// tracker's search around a known face needs only the levels near its size.
    #[serde(default)]
    pub max_face: u32,
}

impl SeetaConfig {
    /// For photos: works at up to 1600 px (a 12 MP phone photo is scanned at
    /// 1600x1200, finding faces from about 100 px of the original; set `min_face` to
    /// look for smaller ones at a higher cost).
    pub fn photo() -> Self {
        SeetaConfig {
            max_side: 1600,
            min_face: 0,
            pyramid_scale: 0.8,
            window_step: 4,
            score_threshold: 2.0,
            max_face: 0,
        }
    }

    /// For live camera frames: a person in front of a webcam fills a good part of the
    /// frame, so a 320 px working size (faces from about 1/8 of the frame height)
    /// and a coarser pyramid keep the detector within a frame budget.
    pub fn live() -> Self {
        SeetaConfig {
            max_side: 320,
            min_face: 0,
            pyramid_scale: 0.7,
            window_step: 4,
            score_threshold: 2.0,
            max_face: 0,
        }
    }
}

impl Default for SeetaConfig {
    fn default() -> Self {
        Self::photo()
    }
}

/// The SeetaFace frontal face cascade (funnel-structured, LAB boosted + SURF MLP
/// stages), run by the pure-Rust `rustface` port. The model is compiled into the
/// binary, so it works offline with nothing to install.
pub struct SeetaDetector {
    model: Arc<rustface::Model>,
    config: SeetaConfig,
}

/// The shipped model file (BSD-2, SeetaFace by VIPL, ICT CAS; see models/LICENSE.seetaface).
const SEETA_MODEL: &[u8] = include_bytes!("../models/seeta_fd_frontal_v1.0.bin");
/// Larger files are refused before parsing (the shipped model is about 1.2 MB).
const MAX_SEETA_MODEL_BYTES: usize = 64 << 20;
/// Upper bound on the working image, see `working_scale`.
const MAX_WORKING_SIDE: u32 = 4096;
/// rustface's scanning window; faces smaller than this at the working scale are missed.
const SEETA_WINDOW: u32 = 40;

fn shipped_seeta_model() -> Arc<rustface::Model> {
    static MODEL: OnceLock<Arc<rustface::Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            // The bytes are compiled in and checked by a test, so failure here is a
            // broken build, not a user error.
            Arc::new(rustface::read_model(SEETA_MODEL).expect("shipped SeetaFace model is valid"))
        })
        .clone()
}

impl SeetaDetector {
    /// The shipped model with the given tuning.
    pub fn new(config: SeetaConfig) -> Self {
        SeetaDetector {
            model: shipped_seeta_model(),
            config,
        }
    }

    /// A SeetaFace model read from a file (same format as the shipped one).
    /// rustface's reader indexes and allocates by sizes read from the file and panics on
    /// some malformed ones, so its panics are caught and reported as invalid data.
    pub fn from_file(path: &std::path::Path, config: SeetaConfig) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if bytes.len() > MAX_SEETA_MODEL_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: {} bytes is not a SeetaFace model (the shipped one is {})",
                    path.display(),
                    bytes.len(),
                    SEETA_MODEL.len()
                ),
            ));
        }
        let model = std::panic::catch_unwind(|| rustface::read_model(&bytes[..]))
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "malformed SeetaFace model",
                ))
            })
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(SeetaDetector {
            model: Arc::new(model),
            config,
        })
    }

    pub fn config(&self) -> &SeetaConfig {
        &self.config
    }

    /// Scale from the input image to the working image.
    fn working_scale(&self, w: u32, h: u32) -> f32 {
        let longest = w.max(h) as f32;
        let mut s = (self.config.max_side as f32 / longest).min(1.0);
        if self.config.min_face > 0 {
            // Keep the smallest wanted face at least one window wide.
            s = s.max((SEETA_WINDOW as f32 / self.config.min_face as f32).min(1.0));
        }
        // Whatever was asked, never scan more than 4096 px on a side: beyond that one
        // photo would take minutes.
        s.min(MAX_WORKING_SIDE as f32 / longest)
    }
}

impl SeetaDetector {
    /// Size of the working image for a `width` x `height` one.
    fn working_size(&self, width: u32, height: u32) -> (u32, u32, f32) {
        let s = self.working_scale(width, height);
        let sw = ((width as f32 * s).round() as u32).max(1);
        let sh = ((height as f32 * s).round() as u32).max(1);
        (sw, sh, s)
    }

    /// rustface's pyramid on a `sw` x `sh` working image: from scale 1 down by
    /// `pyramid_scale` while the window still fits the smaller side, or the largest
    /// face wanted; each level's scale and pixels, computed as rustface computes them.
    fn pyramid(&self, sw: u32, sh: u32) -> Vec<(f32, u64)> {
        let mut smallest = sw.min(sh);
        if self.config.max_face > 0 {
            smallest = smallest.min(self.config.max_face.max(SEETA_WINDOW));
        }
        let min_scale = SEETA_WINDOW as f32 / smallest as f32;
        let step = self.pyramid_step();
        let mut levels = Vec::new();
        let mut scale = 1.0f32;
        while scale >= min_scale {
            levels.push((
                scale,
                (sw as f32 * scale) as u64 * (sh as f32 * scale) as u64,
            ));
            scale *= step;
        }
        levels
    }

    fn pyramid_step(&self) -> f32 {
        self.config.pyramid_scale.clamp(0.1, 0.99)
    }

    /// Where the pyramid splits into two scans of about equal pixels, one per core:
    /// the scale of the second scan's first level and the largest face (in working
    /// pixels) that keeps the first scan above it. None when one scan is better (one
    /// level, one thread, or face sizes too close to separate the levels).
    fn pyramid_split(&self, sw: u32, sh: u32) -> Option<(f32, u32)> {
        if rayon::current_num_threads() < 2 {
            return None;
        }
        let levels = self.pyramid(sw, sh);
        let total: u64 = levels.iter().map(|l| l.1).sum();
        if total < SPLIT_MIN_PIXELS {
            return None;
        }
        let mut first = 0;
        let mut upper = 0;
        for (i, level) in levels.iter().enumerate() {
            upper += level.1;
            first = i;
            if 2 * upper >= total {
                break;
            }
        }
        let (&(last_upper, _), &(lower, _)) = (levels.get(first)?, levels.get(first + 1)?);
        // rustface scans a level while 40 / max_face <= its scale: the smallest such
        // max_face for the last upper level must leave the next one out.
        let mut max_face = (SEETA_WINDOW as f32 / last_upper).ceil() as u32;
        while SEETA_WINDOW as f32 / max_face as f32 > last_upper {
            max_face += 1;
        }
        let separates = SEETA_WINDOW as f32 / max_face as f32 > lower;
        let fits = (sw as f32 * lower) as u32 >= SEETA_WINDOW
            && (sh as f32 * lower) as u32 >= SEETA_WINDOW;
        (separates && fits).then_some((lower, max_face))
    }

    /// One rustface scan of `work`: windows in its pixels with their summed scores,
    /// scores above `threshold`; `max_face` 0 is no limit.
    fn scan(&self, work: &GrayImage, max_face: u32, threshold: f64) -> Vec<Window> {
        // rustface's detector keeps scratch buffers and is not `Send`, so one is made
        // per call from the shared model; that costs far less than the scan itself.
        let mut det = rustface::create_detector_with_model((*self.model).clone());
        det.set_min_face_size(SEETA_WINDOW);
        det.set_pyramid_scale_factor(self.pyramid_step());
        det.set_slide_window_step(
            self.config.window_step.max(1),
            self.config.window_step.max(1),
        );
        det.set_score_thresh(threshold);
        if max_face > 0 {
            det.set_max_face_size(max_face.max(SEETA_WINDOW));
        }
        let data = rustface::ImageData::new(work.as_raw(), work.width(), work.height());
        det.detect(&data)
            .into_iter()
            .map(|f| {
                let b = f.bbox();
                Window {
                    x: b.x() as f32,
                    y: b.y() as f32,
                    side: b.width() as f32,
                    score: f.score(),
                }
            })
            .collect()
    }

    /// Faces in the working image: the pyramid's upper levels and its lower ones on
    /// two threads when that pays (the lower ones from an image sampled as rustface
    /// samples its levels: with `image`'s or `fast_image_resize`'s smoothing filters,
    /// 0.5-0.8% of the faces of swaying group scenes were lost; faces_bench). Each
    /// half keeps every window (its own last non-maximum suppression has summed the
    /// scores of the windows it merged), and the halves merge here as rustface's last
    /// suppression would have merged them, before the score threshold.
    fn scan_pyramid(&self, work: &GrayImage) -> Vec<Window> {
        let threshold = self.config.score_threshold.max(0.01);
        let Some((lower, max_face)) = self.pyramid_split(work.width(), work.height()) else {
            return self.scan(work, self.config.max_face, threshold);
        };
        let (upper, lower_windows) = rayon::join(
            || self.scan(work, max_face, MIN_SCORE),
            || {
                let (w, h) = (
                    (work.width() as f32 * lower) as u32,
                    (work.height() as f32 * lower) as u32,
                );
                let small = pyramid_level(work, w, h);
                let limit = (self.config.max_face as f32 * lower).round() as u32;
                let mut found = self.scan(&small, limit, MIN_SCORE);
                for f in &mut found {
                    f.x /= lower;
                    f.y /= lower;
                    f.side /= lower;
                }
                found
            },
        );
        let mut merged = summed_suppression(upper.into_iter().chain(lower_windows).collect());
        merged.retain(|f| f.score >= threshold);
        merged
    }
}

/// `gray` sampled down to `width` x `height` as rustface builds its pyramid's levels:
/// each target pixel interpolated bilinearly at its corner's position in the source,
/// scaled (no averaging over the pixels between), so a split scan's lower levels see
/// the pixels one scan would have.
fn pyramid_level(gray: &GrayImage, width: u32, height: u32) -> GrayImage {
    let (sw, sh) = gray.dimensions();
    if sw < 2 || sh < 2 || width == 0 || height == 0 {
        return shrink(gray, width, height);
    }
    let (sx, sy) = (
        f64::from(sw) / f64::from(width),
        f64::from(sh) / f64::from(height),
    );
    let px = |x: u32, y: u32| f64::from(gray.as_raw()[(y * sw + x) as usize]);
    GrayImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (sx * f64::from(x), sy * f64::from(y));
        let (x0, y0) = ((fx as u32).min(sw - 2), (fy as u32).min(sh - 2));
        let (wx, wy) = (fx - f64::from(x0), fy - f64::from(y0));
        let top = (1.0 - wx) * px(x0, y0) + wx * px(x0 + 1, y0);
        let bottom = (1.0 - wx) * px(x0, y0 + 1) + wx * px(x0 + 1, y0 + 1);
        image::Luma([((1.0 - wy) * top + wy * bottom) as u8])
    })
}

/// Smallest scan split over two threads: a fifth of a live full scan (640x480 at 320
/// px, 147k pixels over its pyramid), so full scans split and a tracker's search around
/// one face (88x88 and 61x61 pixels) stays on its thread. Not tuned by measurement.
const SPLIT_MIN_PIXELS: u64 = 32_768;
/// Threshold for the halves of a split scan: every window survives until they merge.
const MIN_SCORE: f64 = 1e-6;
/// Overlap at which rustface's last suppression merges two windows.
const LAST_SUPPRESSION_IOU: f32 = 0.3;

/// A square window found by rustface, in the pixels of the image scanned.
#[derive(Debug, Clone, Copy)]
struct Window {
    x: f32,
    y: f32,
    side: f32,
    score: f64,
}

impl Window {
    fn iou(&self, other: &Window) -> f32 {
        let w = (self.x + self.side).min(other.x + other.side) - self.x.max(other.x);
        let h = (self.y + self.side).min(other.y + other.side) - self.y.max(other.y);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        inter / (self.side * self.side + other.side * other.side - inter)
    }
}

/// rustface's non-maximum suppression: best first, each kept window absorbing the
/// scores of the windows it overlaps by more than [`LAST_SUPPRESSION_IOU`].
fn summed_suppression(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut merged = vec![false; windows.len()];
    let mut kept = Vec::new();
    for i in 0..windows.len() {
        if merged[i] {
            continue;
        }
        let mut best = windows[i];
        for j in i + 1..windows.len() {
            if !merged[j] && windows[i].iou(&windows[j]) > LAST_SUPPRESSION_IOU {
                merged[j] = true;
                best.score += windows[j].score;
            }
        }
        kept.push(best);
    }
    kept
}

impl FaceDetector for SeetaDetector {
    fn name(&self) -> &str {
        "seetaface"
    }

    fn scanned_pixels(&self, width: u32, height: u32) -> u64 {
        let (sw, sh, _) = self.working_size(width, height);
        self.pyramid(sw, sh).iter().map(|l| l.1).sum()
    }

    fn detect(&self, gray: &GrayImage) -> Vec<Detection> {
        let (w, h) = gray.dimensions();
        let (sw, sh, s) = self.working_size(w, h);
        // rustface's scan subtracts the window from the image size without a check.
        if sw < SEETA_WINDOW || sh < SEETA_WINDOW {
            return Vec::new();
        }
        let resized;
        let work: &GrayImage = if sw == w && sh == h {
            gray
        } else {
            // Bilinear keeps enough detail for the cascade and is far cheaper than
            // Lanczos on every frame.
            resized = shrink(gray, sw, sh);
            &resized
        };
        let inv = 1.0 / s;
        self.scan_pyramid(work)
            .into_iter()
            .filter_map(|f| {
                let bbox =
                    FaceBox::clipped(f.x * inv, f.y * inv, f.side * inv, f.side * inv, w, h)?;
                Some(Detection {
                    bbox,
                    score: f.score as f32,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanned_pixels_cover_the_pyramid_down_to_the_largest_face() {
        // Live: 640x480 works at 320x240, levels 1, 0.7, ... 0.17 (a 40 px window on 240).
        let live = SeetaDetector::new(SeetaConfig::live()).scanned_pixels(640, 480);
        assert!((145_000..150_000).contains(&live), "{live}");
        // A tracker's search: 88 px, faces up to 66 px: levels 1 and 0.7 only.
        let local = SeetaDetector::new(SeetaConfig {
            max_side: u32::MAX,
            max_face: 66,
            ..SeetaConfig::live()
        });
        assert_eq!(local.scanned_pixels(88, 88), 88 * 88 + 61 * 61);
        // Smaller than the window: nothing is scanned.
        assert_eq!(local.scanned_pixels(30, 30), 0);
    }

    #[test]
    fn overlapping_windows_merge_into_the_best_with_their_scores_summed() {
        let window = |x: f32, side: f32, score: f64| Window {
            x,
            y: 0.0,
            side,
            score,
        };
        // The best (score 3) overlaps the first by 0.6 (merged), the third by 0.18 (kept).
        let merged = summed_suppression(vec![
            window(0.0, 40.0, 2.0),
            window(10.0, 40.0, 3.0),
            window(38.0, 40.0, 1.0),
        ]);
        assert_eq!(merged.len(), 2, "{merged:?}");
        assert_eq!((merged[0].x, merged[0].score), (10.0, 5.0));
        assert_eq!((merged[1].x, merged[1].score), (38.0, 1.0));
    }

    #[test]
    fn a_pyramid_level_samples_at_scaled_corners() {
        // A ramp along x: target pixel x samples the source at 2.5 x, between pixels.
        let ramp = GrayImage::from_fn(250, 4, |x, _| image::Luma([x as u8]));
        let level = pyramid_level(&ramp, 100, 2);
        for x in 0..100u32 {
            let want = (2.5 * x as f64) as u8;
            assert_eq!(level.get_pixel(x, 1).0[0], want, "x {x}");
        }
        assert_eq!(pyramid_level(&ramp, 0, 2).dimensions(), (0, 2));
    }

    #[test]
    fn shipped_model_parses() {
        assert!(rustface::read_model(SEETA_MODEL).is_ok());
    }

    #[test]
    fn truncated_or_corrupt_model_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, Vec<u8>); 4] = [
            ("empty.bin", vec![]),
            ("half.bin", SEETA_MODEL[..SEETA_MODEL.len() / 2].to_vec()),
            ("head.bin", SEETA_MODEL[..64].to_vec()),
            (
                "noise.bin",
                (0..4096u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
                    .collect(),
            ),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let e = SeetaDetector::from_file(&path, SeetaConfig::photo())
                .err()
                .unwrap_or_else(|| panic!("{name} loaded"));
            assert!(e.to_string().contains(name), "{e}");
        }
        let missing = dir.path().join("missing.bin");
        let e = SeetaDetector::from_file(&missing, SeetaConfig::photo())
            .err()
            .expect("a missing file is an error");
        assert!(e.to_string().contains("missing.bin"), "{e}");
        let good = dir.path().join("good.bin");
        std::fs::write(&good, SEETA_MODEL).unwrap();
        assert!(SeetaDetector::from_file(&good, SeetaConfig::photo()).is_ok());
    }

    #[test]
    fn working_scale_follows_the_config() {
        let photo = SeetaDetector::new(SeetaConfig::photo());
        assert_eq!(photo.working_scale(1000, 667), 1.0);
        assert!((photo.working_scale(4000, 3000) - 0.4).abs() < 1e-6);
        let live = SeetaDetector::new(SeetaConfig::live());
        assert!((live.working_scale(640, 480) - 0.5).abs() < 1e-6);
        // Asking for small faces keeps full resolution, up to the 4096 px cap.
        let small = SeetaDetector::new(SeetaConfig {
            min_face: 40,
            ..SeetaConfig::photo()
        });
        assert_eq!(small.working_scale(4000, 3000), 1.0);
        assert!((small.working_scale(20_000, 100) - 4096.0 / 20_000.0).abs() < 1e-6);
    }

    #[test]
    fn boxes_clip_to_the_image() {
        let b = FaceBox::clipped(-10.0, 5.0, 30.0, 30.0, 15, 100).unwrap();
        assert_eq!(
            b,
            FaceBox {
                x: 0,
                y: 5,
                width: 15,
                height: 30
            }
        );
        assert!(FaceBox::clipped(200.0, 0.0, 10.0, 10.0, 100, 100).is_none());
        let a = FaceBox {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
        };
        let c = FaceBox {
            x: 5,
            y: 0,
            width: 10,
            height: 10,
        };
        assert!((a.iou(&c) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn pipeline_parts_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<SeetaDetector>();
        shareable::<crate::FacePipeline>();
        fn sendable<T: Send>() {}
        sendable::<crate::FaceTracker>();
    }
}
