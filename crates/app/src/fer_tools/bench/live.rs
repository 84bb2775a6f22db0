//! `fer bench`'s live-frame rows: a 640x480 camera frame through the web app's own path
//! (the live detector factory's tracker and pipeline, the shipped model), beside a full
//! scan of every frame, with one face and with a group of five.

use crate::detect::{live_tracker, pipeline, Scene};
use anyhow::Result;
use image::imageops::FilterType;
use image::{GrayImage, Luma};
use moodtune_core::ExpressionClassifier;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The photos of `scripts/fetch-test-photos.sh`: `$MOODTUNE_TEST_PHOTOS`, else
/// `~/.cache/moodtune/test-photos`.
fn test_photos() -> PathBuf {
    std::env::var_os("MOODTUNE_TEST_PHOTOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/moodtune/test-photos")
        })
}

/// `photo` scaled to fit 640x480, centred on mid-gray: a webcam frame.
fn camera_frame(photo: &GrayImage) -> GrayImage {
    let s = (640.0 / photo.width() as f32).min(480.0 / photo.height() as f32);
    let w = ((photo.width() as f32 * s) as u32).max(1);
    let h = ((photo.height() as f32 * s) as u32).max(1);
    let scaled = image::imageops::resize(photo, w, h, FilterType::Triangle);
    let mut frame = GrayImage::from_pixel(640, 480, Luma([120]));
    let (x, y) = ((640 - w as i64) / 2, (480 - h as i64) / 2);
    image::imageops::replace(&mut frame, &scaled, x, y);
    frame
}

/// Median and 95th percentile of a list of milliseconds.
fn median_p95(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(|a, b| a.total_cmp(b));
    let p95 = times[(times.len() * 95).div_ceil(100).min(times.len()) - 1];
    (times[times.len() / 2], p95)
}

/// Milliseconds of `a` and of `b` called in turn for `seconds` (at least 30 each), so
/// the host's drifts touch both alike.
fn alternating_ms(mut a: impl FnMut(), mut b: impl FnMut(), seconds: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds || ta.len() < 30 {
        let t = Instant::now();
        a();
        ta.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        b();
        tb.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (ta, tb)
}

/// One row per scene: faces found, the web app's path (tracker, a full scan every
/// `LIVE_FULL_SCAN_EVERY` frames) and a full scan of every frame, median and p95 ms of
/// detection plus expressions. Says so and returns when the test photos are missing.
pub fn live_frames(
    classifier: Arc<dyn ExpressionClassifier>,
    seconds: f64,
    say: &mut dyn FnMut(String),
) -> Result<()> {
    live_frames_from(&test_photos(), classifier, seconds, say)
}

/// [`live_frames`] on the photos in `dir`.
fn live_frames_from(
    dir: &std::path::Path,
    classifier: Arc<dyn ExpressionClassifier>,
    seconds: f64,
    say: &mut dyn FnMut(String),
) -> Result<()> {
    say(format!(
        "\nlive camera frames, 640x480, the model above, {seconds:.0} s per figure (ms: median / p95)"
    ));
    say(format!(
        "{:<8} {:>5} {:>22} {:>22} {:>7}",
        "scene", "faces", "web app (tracker)", "full scan every frame", "ratio"
    ));
    for (scene, file) in [("1 face", "single_face.jpg"), ("5 faces", "multi_face.jpg")] {
        let path = dir.join(file);
        let Ok(photo) = moodtune_faces::load_image(&path) else {
            say(format!(
                "{scene:<8} (no {}: run scripts/fetch-test-photos.sh)",
                path.display()
            ));
            continue;
        };
        let frame = camera_frame(&photo.to_luma8());
        let faces = pipeline(Scene::Live, classifier.clone());
        let mut tracker = live_tracker();
        let found = faces.analyze_tracked(&mut tracker, &frame).len();
        // Frames in turn, the tracker's stream and full scans, as the host drifts.
        let (tracked, full) = alternating_ms(
            || {
                std::hint::black_box(faces.analyze_tracked(&mut tracker, &frame));
            },
            || {
                std::hint::black_box(faces.analyze_gray(&frame));
            },
            seconds,
        );
        let ((tracked, tracked_p95), (full, full_p95)) = (median_p95(tracked), median_p95(full));
        say(format!(
            "{scene:<8} {found:>5} {:>22} {:>22} {:>6.2}x",
            format!("{tracked:.1} / {tracked_p95:.1}"),
            format!("{full:.1} / {full_p95:.1}"),
            full / tracked
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_becomes_a_centred_camera_frame() {
        let tall = GrayImage::from_pixel(300, 600, Luma([7]));
        let frame = camera_frame(&tall);
        assert_eq!(frame.dimensions(), (640, 480));
        // 240x480 in the middle, mid-gray beside it.
        assert_eq!(frame.get_pixel(320, 240)[0], 7);
        assert_eq!(frame.get_pixel(100, 240)[0], 120);
        assert_eq!(frame.get_pixel(540, 240)[0], 120);
    }

    #[test]
    fn missing_photos_are_named_with_the_script_that_fetches_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        let clf: Arc<dyn ExpressionClassifier> =
            Arc::new(crate::detect::load_classifier(None).unwrap());
        live_frames_from(dir.path(), clf, 0.0, &mut |l| lines.push(l)).unwrap();
        let missing: Vec<_> = lines
            .iter()
            .filter(|l| l.contains("fetch-test-photos.sh"))
            .collect();
        assert_eq!(missing.len(), 2, "{lines:?}");
        assert!(missing[0].contains("single_face.jpg") && missing[1].contains("multi_face.jpg"));
    }
}
