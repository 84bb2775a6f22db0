//! Cheaper detection for video: once a face is found, the next frames only search a
//! small window around where it was, at a scale where it is about 64 px wide. A full
//! scan runs every `full_scan_every` frames and whenever the face is lost.

use crate::detect::{Detection, FaceBox, FaceDetector, SeetaConfig, SeetaDetector};
use image::imageops::FilterType;
use image::GrayImage;

/// Follows the main (largest) face of one video stream. One per stream: it keeps
/// state between frames, so it takes `&mut self`.
pub struct FaceTracker {
    full: SeetaDetector,
    local: SeetaDetector,
    last: Option<FaceBox>,
    since_full: u32,
    /// Run a full-frame scan at least this often (new faces, a bigger face).
    pub full_scan_every: u32,
}

/// Face width, in pixels of the search window, that local searches rescale to: well
/// above the 40 px detector window so a face can grow or shrink between frames.
const LOCAL_FACE_PX: f32 = 64.0;
/// Search window side, in face widths around the last face.
const SEARCH_SPAN: f32 = 2.0;

impl FaceTracker {
    /// Full scans with `full`; local searches with the same pyramid and step.
    pub fn new(full: SeetaConfig) -> Self {
        let local = SeetaConfig {
            max_side: u32::MAX,
            min_face: 0,
            ..full
        };
        FaceTracker {
            full: SeetaDetector::new(full),
            local: SeetaDetector::new(local),
            last: None,
            since_full: 0,
            full_scan_every: 15,
        }
    }

    /// Forget the face (e.g. the camera changed).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Faces in this frame: all faces on a full scan, the followed face otherwise.
    /// Largest first.
    pub fn detect(&mut self, gray: &GrayImage) -> Vec<Detection> {
        if let (Some(prev), true) = (self.last, self.since_full < self.full_scan_every) {
            if let Some(d) = self.search_near(gray, &prev) {
                self.since_full += 1;
                self.last = Some(d.bbox);
                return vec![d];
            }
        }
        let mut found = self.full.detect(gray);
        found.sort_by_key(|d| std::cmp::Reverse(d.bbox.area()));
        self.last = found.first().map(|d| d.bbox);
        self.since_full = 0;
        found
    }

    fn search_near(&self, gray: &GrayImage, prev: &FaceBox) -> Option<Detection> {
        let (w, h) = gray.dimensions();
        let (cx, cy) = prev.center();
        let side = prev.width.max(prev.height) as f32 * SEARCH_SPAN;
        let roi = FaceBox::clipped(cx - side / 2.0, cy - side / 2.0, side, side, w, h)?;
        let patch = image::imageops::crop_imm(gray, roi.x, roi.y, roi.width, roi.height).to_image();
        let s = (LOCAL_FACE_PX / prev.width.max(1) as f32).min(1.0);
        let (pw, ph) = (
            ((roi.width as f32 * s).round() as u32).max(1),
            ((roi.height as f32 * s).round() as u32).max(1),
        );
        let small = if s < 1.0 {
            image::imageops::resize(&patch, pw, ph, FilterType::Triangle)
        } else {
            patch
        };
        let sx = roi.width as f32 / small.width() as f32;
        let sy = roi.height as f32 / small.height() as f32;
        // The face nearest the last position is the one being followed.
        self.local
            .detect(&small)
            .into_iter()
            .filter_map(|d| {
                let b = FaceBox::clipped(
                    roi.x as f32 + d.bbox.x as f32 * sx,
                    roi.y as f32 + d.bbox.y as f32 * sy,
                    d.bbox.width as f32 * sx,
                    d.bbox.height as f32 * sy,
                    w,
                    h,
                )?;
                Some(Detection {
                    bbox: b,
                    score: d.score,
                })
            })
            .min_by(|a, b| {
                let da = dist2(a.bbox.center(), (cx, cy));
                let db = dist2(b.bbox.center(), (cx, cy));
                da.total_cmp(&db)
            })
    }
}

fn dist2(a: (f32, f32), b: (f32, f32)) -> f32 {
    (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)
}
