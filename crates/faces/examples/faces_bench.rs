//! Detect plus classify per 640x480 frame, one face and several faces, for each
//! detector setting. Needs the photos from scripts/fetch-test-photos.sh.
//! `cargo run --release -p moodtune-faces --example faces_bench [-- ITERATIONS]`

use image::imageops::FilterType;
use image::{GrayImage, Luma};
use moodtune_core::ExpressionClassifier;
use moodtune_faces::{
    load_image, FaceDetector, FacePipeline, FaceTracker, SeetaConfig, SeetaDetector,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn photo(name: &str) -> anyhow::Result<GrayImage> {
    let dir = std::env::var_os("MOODTUNE_TEST_PHOTOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/moodtune/test-photos")
        });
    let p = dir.join(name);
    Ok(load_image(&p)
        .map_err(|e| anyhow::anyhow!("{e} (run scripts/fetch-test-photos.sh)"))?
        .to_luma8())
}

/// `src` scaled to fit 640x480 and centred on a mid-gray frame, like a webcam frame.
fn frame(src: &GrayImage) -> GrayImage {
    let s = (640.0 / src.width() as f32).min(480.0 / src.height() as f32);
    let (w, h) = (
        (src.width() as f32 * s) as u32,
        (src.height() as f32 * s) as u32,
    );
    let scaled = image::imageops::resize(src, w, h, FilterType::Triangle);
    let mut f = GrayImage::from_pixel(640, 480, Luma([120]));
    image::imageops::replace(
        &mut f,
        &scaled,
        ((640 - w) / 2) as i64,
        ((480 - h) / 2) as i64,
    );
    f
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let med = v[v.len() / 2];
    let p95 = v[((v.len() as f64 * 0.95).ceil() as usize).min(v.len()) - 1];
    (med, p95)
}

fn main() -> anyhow::Result<()> {
    let iters: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(30);
    let one = frame(&photo("single_face.jpg")?);
    let many = frame(&photo("multi_face.jpg")?);
    let clf: Arc<dyn ExpressionClassifier> = Arc::new(moodtune_fer::Classifier::shipped()?);
    let live_fast = SeetaConfig {
        max_side: 240,
        window_step: 6,
        ..SeetaConfig::live()
    };
    let configs = [
        (
            "seetaface photo (640 px, 0.8, step 4)",
            SeetaConfig::photo(),
        ),
        ("seetaface live (320 px, 0.7, step 4)", SeetaConfig::live()),
        ("seetaface live-fast (240 px, 0.7, step 6)", live_fast),
    ];
    println!("{iters} iterations per row, 640x480 frames, times in ms");
    println!(
        "{:<44} {:<8} {:>5} {:>9} {:>9} {:>9}",
        "detector", "scene", "faces", "det med", "total med", "total p95"
    );
    for (name, cfg) in configs {
        let det = Arc::new(SeetaDetector::new(cfg));
        let pipe = FacePipeline::new(det.clone(), clf.clone());
        for (scene, img) in [("1 face", &one), ("5 faces", &many)] {
            let faces = pipe.analyze_gray(img).len(); // also warms up
            let mut det_ms = Vec::new();
            let mut total_ms = Vec::new();
            for _ in 0..iters {
                let t = Instant::now();
                std::hint::black_box(det.detect(img));
                det_ms.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                std::hint::black_box(pipe.analyze_gray(img));
                total_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let (dm, _) = stats(det_ms);
            let (tm, tp) = stats(total_ms);
            println!("{name:<44} {scene:<8} {faces:>5} {dm:>9.1} {tm:>9.1} {tp:>9.1}");
        }
    }
    // Video: the tracker searches near the faces it follows, with a full scan every
    // 8th frame (included in the figures), as the web app analyses camera frames
    // (moodtune_app::detect::LIVE_FULL_SCAN_EVERY).
    for (name, cfg) in [
        ("live + tracker (the web app)", SeetaConfig::live()),
        ("photo + tracker", SeetaConfig::photo()),
    ] {
        let pipe = FacePipeline::new(Arc::new(SeetaDetector::new(cfg)), clf.clone());
        for (scene, img) in [("1 face", &one), ("5 faces", &many)] {
            let mut tracker = FaceTracker::new(cfg);
            tracker.full_scan_every = 8;
            let faces = tracker.detect(img).len();
            let mut det_ms = Vec::new();
            let mut total_ms = Vec::new();
            for _ in 0..iters.max(30) {
                let t = Instant::now();
                std::hint::black_box(tracker.detect(img));
                det_ms.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                std::hint::black_box(pipe.analyze_tracked(&mut tracker, img));
                total_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let (dm, _) = stats(det_ms);
            let (tm, tp) = stats(total_ms);
            println!("{name:<44} {scene:<8} {faces:>5} {dm:>9.1} {tm:>9.1} {tp:>9.1}");
        }
    }
    recall_on_moving_scenes(&one, &many, clf);
    Ok(())
}

/// `src` scaled by `zoom` about the frame's centre and moved by (dx, dy), the uncovered
/// border mid-gray: people swaying and leaning in or back.
fn moved(src: &GrayImage, zoom: f32, dx: i64, dy: i64) -> GrayImage {
    let (w, h) = (
        (src.width() as f32 * zoom) as u32,
        (src.height() as f32 * zoom) as u32,
    );
    let scaled = image::imageops::resize(src, w, h, FilterType::Triangle);
    let mut out = GrayImage::from_pixel(src.width(), src.height(), Luma([120]));
    let x = (src.width() as i64 - w as i64) / 2 + dx;
    let y = (src.height() as i64 - h as i64) / 2 + dy;
    image::imageops::replace(&mut out, &scaled, x, y);
    out
}

/// Faces found over 80 frames of each scene swaying (by up to `sway` px, `speed`
/// radians per frame) and zooming (by up to `zoom`), by the live detector on every
/// frame and by the tracker as the web app runs it: the tracker must not find fewer.
fn recall_on_moving_scenes(one: &GrayImage, many: &GrayImage, clf: Arc<dyn ExpressionClassifier>) {
    println!("recall over 80 moving frames (faces found, frames where the tracker found fewer)");
    let every_frame = FacePipeline::new(Arc::new(SeetaDetector::new(SeetaConfig::live())), clf);
    for (sway, zoom, speed) in [
        (24.0, 0.0, 0.35),
        (40.0, 0.1, 0.5),
        (10.0, 0.2, 0.6),
        (60.0, 0.05, 0.8),
    ] {
        for (scene, img) in [("1 face", one), ("5 faces", many)] {
            let mut tracker = FaceTracker::new(SeetaConfig::live());
            tracker.full_scan_every = 8;
            let (mut every, mut tracked, mut fewer) = (0, 0, 0);
            for i in 0..80 {
                let phase = i as f64 * speed;
                let frame = moved(
                    img,
                    1.0 + zoom * (phase * 0.6).sin() as f32,
                    (sway * phase.sin()) as i64,
                    (sway / 2.0 * (phase * 0.7).cos()) as i64,
                );
                let full = every_frame.detect(&frame);
                let followed = tracker.detect(&frame);
                every += full.len();
                tracked += followed.len();
                fewer += usize::from(followed.len() < full.len());
            }
            println!(
                "  sway {sway:>2} px, zoom {zoom:.2}, {scene:<8} every frame {every:>4}  tracker {tracked:>4}  fewer in {fewer} frames  ({} full scans)",
                tracker.full_scans()
            );
        }
    }
}
