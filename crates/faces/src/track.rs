//! Cheaper detection for video: once faces are found, the next frames only search a
//! small window around each, at a scale where the face is about 44 px wide. A full scan
//! runs every `full_scan_every` frames, whenever a followed face is lost (so a face that
//! leaves costs one full scan, and recall stays that of detecting every frame), and on
//! every frame while the searches would cost about as much as a full scan (many or
//! small faces). A full scan that finds fewer faces than one of the three before is
//! repeated on the next frame, so a face the cascade missed for one frame is not lost
//! for a whole interval.

use crate::detect::{Detection, FaceBox, FaceDetector, SeetaConfig, SeetaDetector};
use crate::pipeline::{merge_and_sort, PipelineConfig};
use crate::shrink::shrink;
use image::GrayImage;
use std::collections::VecDeque;
use std::sync::Arc;

/// Follows the faces of one video stream. One per stream: it keeps state between
/// frames, so it takes `&mut self`.
pub struct FaceTracker {
    full: Arc<dyn FaceDetector>,
    local: Arc<dyn FaceDetector>,
    tracks: Vec<FaceBox>,
    since_full: u32,
    /// Faces the last few full scans found, newest last.
    recent_full_faces: VecDeque<usize>,
    full_scans: u64,
    /// Run a full-frame scan at least this often (new faces, a bigger face).
    pub full_scan_every: u32,
    /// Boxes overlapping more than this (IoU) are one face, as in the pipeline.
    pub merge_iou: f32,
}

/// Face width, in pixels of the search window, that local searches rescale to: just
/// above the 40 px detector window, so the face may shrink by a tenth between frames (a
/// face that shrinks more is lost, and found by the full scan that follows). The
/// cascade's last stages run on every window near a face, so their cost grows with the
/// square of this: 44 px searches cost 0.7-0.8x the 52 px ones with the same recall
/// (faces_bench; docs/FACES.md).
const LOCAL_FACE_PX: f32 = 44.0;
/// Largest face a local search looks for, in pixels of its rescaled window: the face
/// may grow by half between frames. Only the pyramid's top two levels are scanned.
const LOCAL_MAX_FACE_PX: u32 = 66;
/// Search window side, in face widths around the last face.
const SEARCH_SPAN: f32 = 2.0;
/// More faces than this are not followed: their local searches would cost about a
/// full scan, so every frame gets one.
pub const MAX_TRACKED_FACES: usize = 8;
/// Full scans whose face counts a new scan is compared with.
const RECENT_FULL_SCANS: usize = 3;

impl FaceTracker {
    /// SeetaFace full scans with `full`; local searches with the same pyramid and step.
    pub fn new(full: SeetaConfig) -> Self {
        let local = SeetaConfig {
            max_side: u32::MAX,
            min_face: 0,
            max_face: LOCAL_MAX_FACE_PX,
            ..full
        };
        Self::with_detectors(
            Arc::new(SeetaDetector::new(full)),
            Arc::new(SeetaDetector::new(local)),
        )
    }

    /// Full scans with `full`; local searches with `local`, which must work at the
    /// resolution it is given (the window around a face is already shrunk to scale).
    pub fn with_detectors(full: Arc<dyn FaceDetector>, local: Arc<dyn FaceDetector>) -> Self {
        FaceTracker {
            full,
            local,
            tracks: Vec::new(),
            since_full: 0,
            recent_full_faces: VecDeque::with_capacity(RECENT_FULL_SCANS),
            full_scans: 0,
            full_scan_every: 15,
            merge_iou: PipelineConfig::default().merge_iou,
        }
    }

    /// Full-frame scans so far (the other frames were searched locally).
    pub fn full_scans(&self) -> u64 {
        self.full_scans
    }

    /// Forget the faces (e.g. the camera changed).
    pub fn reset(&mut self) {
        self.tracks.clear();
        self.recent_full_faces.clear();
    }

    /// Faces in this frame, duplicates merged, largest first: every face the last full
    /// scan found, followed to where it is now, or a full scan's faces.
    pub fn detect(&mut self, gray: &GrayImage) -> Vec<Detection> {
        if gray.width() == 0 || gray.height() == 0 {
            self.tracks.clear();
            return Vec::new();
        }
        if !self.tracks.is_empty()
            && self.since_full < self.full_scan_every
            && self.searches_pay(gray)
        {
            let followed: Option<Vec<Detection>> = self
                .tracks
                .iter()
                .map(|prev| self.search_near(gray, prev))
                .collect();
            if let Some(followed) = followed {
                let found = merge_and_sort(followed, self.merge_iou);
                self.since_full += 1;
                self.tracks = found.iter().map(|d| d.bbox).collect();
                return found;
            }
        }
        let found = merge_and_sort(self.full.detect(gray), self.merge_iou);
        self.tracks = if found.len() <= MAX_TRACKED_FACES {
            found.iter().map(|d| d.bbox).collect()
        } else {
            Vec::new()
        };
        // A scan that finds fewer faces than one of the last few may have missed one
        // for a frame (the cascade flickers on small faces): scan again on the next
        // frame rather than follow only the rest until the next full scan. A face that
        // really left stops counting after a few scans.
        let most_recent = self.recent_full_faces.iter().copied().max().unwrap_or(0);
        self.since_full = if found.len() < most_recent {
            self.full_scan_every
        } else {
            0
        };
        if self.recent_full_faces.len() == RECENT_FULL_SCANS {
            self.recent_full_faces.pop_front();
        }
        self.recent_full_faces.push_back(found.len());
        self.full_scans += 1;
        found
    }

    /// Whether searching around every followed face scans at most a quarter of the
    /// pixels of a full scan, over every pyramid level each scans. Near a face a pixel
    /// costs more (the cascade's last stages run on every window there): five faces of
    /// a group at the live setting, at 0.39x the pixels, cost 0.7x a full scan. And a
    /// group's small faces flicker in and out of the cascade's reach: followed from a
    /// scan that missed one, the tracker found fewer faces than scanning every frame in
    /// 6-15 of 80 swaying frames (docs/FACES.md), so groups are scanned in full.
    fn searches_pay(&self, gray: &GrayImage) -> bool {
        let (w, h) = gray.dimensions();
        let local: u64 = self
            .tracks
            .iter()
            .filter_map(|prev| search_window(prev, w, h))
            .map(|(_, pw, ph)| self.local.scanned_pixels(pw, ph))
            .sum();
        4 * local <= self.full.scanned_pixels(w, h)
    }

    fn search_near(&self, gray: &GrayImage, prev: &FaceBox) -> Option<Detection> {
        let (w, h) = gray.dimensions();
        let (cx, cy) = prev.center();
        let (roi, pw, ph) = search_window(prev, w, h)?;
        let patch = image::imageops::crop_imm(gray, roi.x, roi.y, roi.width, roi.height).to_image();
        let small = if (pw, ph) != (roi.width, roi.height) {
            shrink(&patch, pw, ph)
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

/// The window searched around `prev` in a `w` x `h` frame, and the size it is shrunk
/// to so the face is about [`LOCAL_FACE_PX`] wide (never enlarged).
fn search_window(prev: &FaceBox, w: u32, h: u32) -> Option<(FaceBox, u32, u32)> {
    let (cx, cy) = prev.center();
    let side = prev.width.max(prev.height) as f32 * SEARCH_SPAN;
    let roi = FaceBox::clipped(cx - side / 2.0, cy - side / 2.0, side, side, w, h)?;
    let s = (LOCAL_FACE_PX / prev.width.max(1) as f32).min(1.0);
    let pw = ((roi.width as f32 * s).round() as u32).max(1);
    let ph = ((roi.height as f32 * s).round() as u32).max(1);
    Some((roi, pw, ph))
}

fn dist2(a: (f32, f32), b: (f32, f32)) -> f32 {
    (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)
}
