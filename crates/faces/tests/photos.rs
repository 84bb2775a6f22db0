//! The pipeline on real photos (fetched by scripts/fetch-test-photos.sh; skipped with a
//! note when absent) and on scenes composed from them with known face positions.

mod common;

use common::{photo, RecordingClassifier};
use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, GrayImage, Luma, RgbImage};
use moodtune_faces::{
    load_image, FaceBox, FaceDetector, FaceFlag, FacePipeline, PipelineConfig, SeetaConfig,
    SeetaDetector,
};
use std::sync::Arc;

fn pipeline(cfg: SeetaConfig) -> (FacePipeline, Arc<RecordingClassifier>) {
    let clf = Arc::new(RecordingClassifier::default());
    let p = FacePipeline::new(Arc::new(SeetaDetector::new(cfg)), clf.clone());
    (p, clf)
}

fn contains(b: &FaceBox, x: f32, y: f32) -> bool {
    x >= b.x as f32
        && x <= (b.x + b.width) as f32
        && y >= b.y as f32
        && y <= (b.y + b.height) as f32
}

/// The committed 200x200 cut of the astronaut photo around her head (tests/fixtures, see
/// its README): detection is tested on a real face even where the photos were never
/// fetched.
#[test]
fn the_committed_face_is_found_where_it_is() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/astronaut-face.png");
    let (p, clf) = pipeline(SeetaConfig::photo());
    let faces = p.analyze(&load_image(&path).unwrap());
    assert_eq!(faces.len(), 1, "{faces:?}");
    // Between the eyes at (222, 115) in the photo, cut at (122, 15).
    assert!(
        contains(&faces[0].bbox, 100.0, 100.0),
        "{:?}",
        faces[0].bbox
    );
    assert!(
        (70..=160).contains(&faces[0].bbox.width),
        "{:?}",
        faces[0].bbox
    );
    assert_eq!(
        clf.crops.lock().unwrap().len(),
        1,
        "its crop reached the model"
    );
}

#[test]
fn astronaut_has_one_face_where_it_is() {
    let Some(path) = photo("astronaut.png") else {
        return;
    };
    let (p, clf) = pipeline(SeetaConfig::photo());
    let img = load_image(&path).unwrap();
    let faces = p.analyze(&img);
    assert_eq!(faces.len(), 1, "{faces:?}");
    let f = &faces[0];
    // Eileen Collins' face: between the eyes at about (222, 115) in the 512x512 image.
    assert!(contains(&f.bbox, 222.0, 115.0), "{:?}", f.bbox);
    assert!((70..=160).contains(&f.bbox.width), "{:?}", f.bbox);
    assert!(f.flags.is_empty(), "a clear portrait is not flagged: {f:?}");
    // The model saw one square crop, 1.2x the box.
    let crops = clf.crops.lock().unwrap();
    assert_eq!(crops.len(), 1);
    let (w, h, _) = crops[0];
    assert_eq!(w, h);
    let expected = (f.bbox.width as f32 * 1.2).round() as u32;
    assert!(
        w.abs_diff(expected) <= 1,
        "crop {w} vs box {}",
        f.bbox.width
    );
}

#[test]
fn group_photo_finds_everyone_largest_first() {
    let Some(path) = photo("multi_face.jpg") else {
        return;
    };
    let (p, clf) = pipeline(SeetaConfig::photo());
    let img = load_image(&path).unwrap();
    let faces = p.analyze(&img);
    assert_eq!(
        faces.len(),
        5,
        "{:?}",
        faces.iter().map(|f| f.bbox).collect::<Vec<_>>()
    );
    for w in faces.windows(2) {
        assert!(w[0].bbox.area() >= w[1].bbox.area());
    }
    // Neighbours' boxes may touch by a pixel or two; one face found twice would overlap
    // far more.
    for (i, a) in faces.iter().enumerate() {
        for b in &faces[i + 1..] {
            assert!(a.bbox.iou(&b.bbox) < 0.01, "faces overlap: {a:?} {b:?}");
        }
    }
    assert_eq!(clf.crops.lock().unwrap().len(), 5);
}

#[test]
fn large_group_photo() {
    // 1927 Solvay conference: 29 people, faces 40-65 px in a 1666x1136 scan.
    let Some(path) = photo("solvay.png") else {
        return;
    };
    let (p, _) = pipeline(SeetaConfig::photo());
    let faces = p.analyze(&load_image(&path).unwrap());
    assert!((25..=31).contains(&faces.len()), "{} faces", faces.len());
    // Everyone stands in the upper part; the caption below has no faces.
    assert!(faces.iter().all(|f| f.bbox.y < 400), "{faces:?}");
}

#[test]
fn photos_without_faces() {
    for name in ["coffee.png", "free-mountain-vector-01.jpg"] {
        let Some(path) = photo(name) else { return };
        let (p, clf) = pipeline(SeetaConfig::photo());
        let faces = p.analyze(&load_image(&path).unwrap());
        assert!(faces.is_empty(), "{name}: {faces:?}");
        assert!(clf.crops.lock().unwrap().is_empty());
    }
}

#[test]
fn exif_rotated_photo_is_turned_upright() {
    // single_face.jpg re-encoded sideways with an EXIF tag saying "rotate 90 CW":
    // a viewer (and our loader) shows it upright, so the face must still be found.
    let Some(path) = photo("single_face.jpg") else {
        return;
    };
    let upright = load_image(&path).unwrap();
    let sideways = upright.rotate270();
    let mut bytes = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92);
    image::ImageEncoder::set_exif_metadata(&mut enc, exif_orientation(6)).unwrap();
    enc.encode_image(&sideways.to_rgb8()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phone.jpg");
    std::fs::write(&file, &bytes).unwrap();

    let loaded = load_image(&file).unwrap();
    assert_eq!(loaded.dimensions(), upright.dimensions());
    let (p, _) = pipeline(SeetaConfig::photo());
    let a = p.analyze(&upright);
    let b = p.analyze(&loaded);
    assert_eq!(a.len(), 1);
    assert_eq!(b.len(), 1);
    assert!(
        a[0].bbox.iou(&b[0].bbox) > 0.6,
        "{:?} vs {:?}",
        a[0].bbox,
        b[0].bbox
    );
    // Without the tag the sideways photo has no upright face.
    assert!(p.analyze(&sideways).is_empty());
}

/// A minimal big-endian TIFF block with one Orientation entry.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut v = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    v.extend_from_slice(&1u16.to_be_bytes()); // one entry
    v.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    v.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    v.extend_from_slice(&1u32.to_be_bytes()); // count
    v.extend_from_slice(&value.to_be_bytes());
    v.extend_from_slice(&[0, 0]); // padding of the 4-byte value field
    v.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    v
}

/// The astronaut's head with some margin, as a patch to paste into scenes, and the
/// face box inside that patch (from the detector on the original photo).
fn astronaut_patch() -> Option<(GrayImage, FaceBox)> {
    let path = photo("astronaut.png")?;
    let gray = load_image(&path).unwrap().to_luma8();
    let (p, _) = pipeline(SeetaConfig::photo());
    let f = p.detect(&gray)[0].bbox;
    let m = f.width; // one face width of margin on each side
    let x0 = f.x.saturating_sub(m);
    let y0 = f.y.saturating_sub(m);
    let patch =
        image::imageops::crop_imm(&gray, x0, y0, f.width + 2 * m, f.height + 2 * m).to_image();
    let inner = FaceBox {
        x: f.x - x0,
        y: f.y - y0,
        width: f.width,
        height: f.height,
    };
    Some((patch, inner))
}

/// A 640x480 background with gentle texture (a flat one would be unrealistically easy).
fn background(seed: u32) -> GrayImage {
    GrayImage::from_fn(640, 480, |x, y| {
        let v = 90.0 + 40.0 * ((x as f32 * 0.03 + seed as f32).sin() * (y as f32 * 0.02).cos());
        Luma([v as u8])
    })
}

/// Pastes the patch scaled so the face is `face_px` wide with its top-left at (x, y);
/// returns where the face box is expected.
fn paste(
    bg: &mut GrayImage,
    patch: &GrayImage,
    inner: &FaceBox,
    face_px: u32,
    x: u32,
    y: u32,
) -> FaceBox {
    let s = face_px as f32 / inner.width as f32;
    let pw = (patch.width() as f32 * s).round() as u32;
    let ph = (patch.height() as f32 * s).round() as u32;
    let scaled = image::imageops::resize(patch, pw, ph, FilterType::Triangle);
    image::imageops::replace(bg, &scaled, x as i64, y as i64);
    FaceBox {
        x: x + (inner.x as f32 * s).round() as u32,
        y: y + (inner.y as f32 * s).round() as u32,
        width: face_px,
        height: face_px,
    }
}

#[test]
fn composed_scene_boxes_land_on_the_pasted_faces() {
    let Some((patch, inner)) = astronaut_patch() else {
        return;
    };
    let mut scene = background(1);
    let big = paste(&mut scene, &patch, &inner, 150, 20, 60);
    let small = paste(&mut scene, &patch, &inner, 80, 420, 200);
    let (p, clf) = pipeline(SeetaConfig::photo());
    let faces = p.analyze_gray(&scene);
    assert_eq!(faces.len(), 2, "{faces:?}");
    // Largest first, each matching the face pasted there.
    assert!(
        faces[0].bbox.iou(&big) > 0.5,
        "{:?} vs {big:?}",
        faces[0].bbox
    );
    assert!(
        faces[1].bbox.iou(&small) > 0.5,
        "{:?} vs {small:?}",
        faces[1].bbox
    );
    assert_eq!(clf.crops.lock().unwrap().len(), 2);
}

#[test]
fn live_settings_find_a_webcam_sized_face() {
    let Some((patch, inner)) = astronaut_patch() else {
        return;
    };
    let mut scene = background(2);
    let face = paste(&mut scene, &patch, &inner, 180, 200, 100);
    let (p, _) = pipeline(SeetaConfig::live());
    let faces = p.analyze_gray(&scene);
    assert_eq!(faces.len(), 1, "{faces:?}");
    // Boxes found at 320 px are mapped back to the 640x480 frame.
    assert!(
        faces[0].bbox.iou(&face) > 0.5,
        "{:?} vs {face:?}",
        faces[0].bbox
    );
}

#[test]
fn each_face_gets_its_own_result() {
    // One face darkened, one brightened: the stand-in model answers Sad for dark
    // crops and Happy for bright ones, so a mix-up between faces would show.
    let Some((patch, inner)) = astronaut_patch() else {
        return;
    };
    let dark = GrayImage::from_fn(patch.width(), patch.height(), |x, y| {
        Luma([patch.get_pixel(x, y)[0] / 3])
    });
    let bright = GrayImage::from_fn(patch.width(), patch.height(), |x, y| {
        Luma([(patch.get_pixel(x, y)[0] / 3).saturating_add(170)])
    });
    let mut scene = GrayImage::from_pixel(640, 480, Luma([128]));
    let d = paste(&mut scene, &dark, &inner, 140, 10, 40);
    let b = paste(&mut scene, &bright, &inner, 100, 400, 150);
    let (p, _) = pipeline(SeetaConfig::photo());
    let faces = p.analyze_gray(&scene);
    assert_eq!(faces.len(), 2, "{faces:?}");
    assert!(faces[0].bbox.iou(&d) > 0.5);
    assert_eq!(faces[0].emotion, moodtune_core::Emotion::Sad);
    assert!(faces[1].bbox.iou(&b) > 0.5);
    assert_eq!(faces[1].emotion, moodtune_core::Emotion::Happy);
}

#[test]
fn blurry_and_small_faces_are_flagged() {
    let Some((patch, inner)) = astronaut_patch() else {
        return;
    };
    let mut scene = background(3);
    let face = paste(&mut scene, &patch, &inner, 160, 100, 100);
    let (p, _) = pipeline(SeetaConfig::photo());
    let sharp = p.analyze_gray(&scene);
    assert_eq!(sharp.len(), 1);
    assert!(sharp[0].flags.is_empty(), "{:?}", sharp[0]);

    // Defocus the whole frame: the detector still finds the face, and flags it.
    let blurred = image::imageops::blur(&scene, 4.0);
    let faces = p.analyze_gray(&blurred);
    assert_eq!(faces.len(), 1, "{faces:?}");
    let f = &faces[0];
    assert!(f.bbox.iou(&face) > 0.4);
    assert!(f.flags.contains(&FaceFlag::Blurry), "{f:?}");
    assert!(f.sharpness < sharp[0].sharpness / 3.0);

    // The same face counts as small under a stricter size rule.
    let strict = FacePipeline::with_config(
        Arc::new(SeetaDetector::new(SeetaConfig::photo())),
        Arc::new(RecordingClassifier::default()),
        PipelineConfig {
            min_face_side: 200,
            ..PipelineConfig::default()
        },
    );
    let f = strict.analyze_gray(&scene);
    assert_eq!(f[0].flags, vec![FaceFlag::Small]);
}

#[test]
fn tiny_and_odd_images_do_not_panic() {
    let (p, _) = pipeline(SeetaConfig::photo());
    for (w, h) in [(1, 1), (39, 39), (40, 40), (1, 2000), (2000, 1), (41, 300)] {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, image::Rgb([200, 100, 50])));
        assert!(p.analyze(&img).is_empty(), "{w}x{h}");
    }
    let (live, _) = pipeline(SeetaConfig::live());
    // A very wide frame shrinks below the 40 px window at 320 px: no scan, no panic.
    let wide = GrayImage::from_pixel(4000, 100, Luma([0]));
    assert!(live.analyze_gray(&wide).is_empty());
}

#[test]
fn tracker_follows_a_moving_face_and_notices_it_leaving() {
    let Some((patch, inner)) = astronaut_patch() else {
        return;
    };
    let mut tracker = moodtune_faces::FaceTracker::new(SeetaConfig::live());
    tracker.full_scan_every = 100; // only local searches after the first frame
    for i in 0..6u32 {
        let mut scene = background(4);
        // Moves 12 px right and grows 4 px per frame, like someone leaning in.
        let face = paste(&mut scene, &patch, &inner, 150 + 4 * i, 150 + 12 * i, 90);
        let found = tracker.detect(&scene);
        assert_eq!(found.len(), 1, "frame {i}: {found:?}");
        assert!(
            found[0].bbox.iou(&face) > 0.5,
            "frame {i}: {:?} vs {face:?}",
            found[0].bbox
        );
    }
    // The person leaves: the local search fails, the full scan finds nobody.
    assert!(tracker.detect(&background(4)).is_empty());
}

#[test]
fn tracker_follows_several_faces_and_rescans_when_one_leaves() {
    let Some((wide, wide_inner)) = astronaut_patch() else {
        return;
    };
    // Less margin than the patch has, so three faces fit in a frame without one
    // patch covering another's face.
    let m = wide_inner.width * 2 / 5;
    let (x0, y0) = (wide_inner.x - m, wide_inner.y - m);
    let side = wide_inner.width + 2 * m;
    let patch = image::imageops::crop_imm(&wide, x0, y0, side, side).to_image();
    let inner = FaceBox {
        x: m,
        y: m,
        ..wide_inner
    };
    let mut tracker = moodtune_faces::FaceTracker::new(SeetaConfig::live());
    tracker.full_scan_every = 100; // only local searches while every face is followed
    let scene_at = |i: u32, with_third: bool| {
        let mut scene = background(5);
        let mut faces = vec![
            paste(&mut scene, &patch, &inner, 110, 10 + 6 * i, 20 + 3 * i),
            paste(&mut scene, &patch, &inner, 100, 430 - 5 * i, 20 + 4 * i),
        ];
        if with_third {
            faces.push(paste(&mut scene, &patch, &inner, 90, 220 + 4 * i, 290));
        }
        (scene, faces)
    };
    for i in 0..6u32 {
        let (scene, expected) = scene_at(i, true);
        let found = tracker.detect(&scene);
        assert_eq!(found.len(), 3, "frame {i}: {found:?}");
        for face in &expected {
            assert!(
                found.iter().any(|d| d.bbox.iou(face) > 0.5),
                "frame {i}: {face:?} not in {found:?}"
            );
        }
        for w in found.windows(2) {
            assert!(w[0].bbox.area() >= w[1].bbox.area(), "largest first");
        }
    }
    assert_eq!(
        tracker.full_scans(),
        1,
        "three faces are followed, not rescanned"
    );
    // The third person leaves: their search fails, the full scan finds the other two,
    // and they are followed from there.
    for i in 6..12u32 {
        let (scene, expected) = scene_at(i, false);
        let found = tracker.detect(&scene);
        assert_eq!(found.len(), 2, "frame {i}: {found:?}");
        for face in &expected {
            assert!(found.iter().any(|d| d.bbox.iou(face) > 0.5), "frame {i}");
        }
    }
    // The scan that lost a face is repeated (a face may only have flickered out) until
    // the last three scans agree it left, then the two are followed: scans on frames
    // 6-9, none on 10 and 11.
    assert_eq!(tracker.full_scans(), 5);
}

#[test]
fn a_group_in_front_of_the_camera_and_a_crowd_get_full_scans() {
    let Some(path) = photo("multi_face.jpg") else {
        return;
    };
    let group = load_image(&path).unwrap().to_luma8();
    let frame = image::imageops::resize(&group, 640, 480, FilterType::Triangle);
    let (every_frame, _) = pipeline(SeetaConfig::live());
    let mut tracker = moodtune_faces::FaceTracker::new(SeetaConfig::live());
    let expected = every_frame.detect(&frame);
    assert!(
        expected.len() >= 4,
        "{} faces at the live setting",
        expected.len()
    );
    for i in 1..=3 {
        let found = tracker.detect(&frame);
        assert_eq!(found.len(), expected.len(), "frame {i}");
        for face in &expected {
            assert!(
                found.iter().any(|d| d.bbox.iou(&face.bbox) > 0.5),
                "frame {i}"
            );
        }
        // Five small faces: searching around each would scan more than a quarter of
        // what a full scan does, so every frame is a full scan.
        assert_eq!(tracker.full_scans(), i, "frame {i}");
    }

    // The group twice, side by side: more faces than are ever followed.
    let mut crowd = image::GrayImage::new(1280, 480);
    image::imageops::replace(&mut crowd, &frame, 0, 0);
    image::imageops::replace(&mut crowd, &frame, 640, 0);
    let mut tracker = moodtune_faces::FaceTracker::new(SeetaConfig::photo());
    let faces = tracker.detect(&crowd).len();
    assert!(
        faces > moodtune_faces::track::MAX_TRACKED_FACES,
        "{faces} faces"
    );
    for i in 2..=3 {
        assert_eq!(tracker.detect(&crowd).len(), faces);
        assert_eq!(tracker.full_scans(), i);
    }
}

/// A scan splits its pyramid over two threads when it has them: the faces must be
/// those one thread finds, each box overlapping its counterpart by more than half (the
/// usual criterion for a detection of the same face): the lower levels are scanned on
/// an image sampled beforehand, so a box may shift or grow by a few pixels.
#[test]
fn a_scan_split_over_two_threads_finds_the_faces_one_thread_finds() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/astronaut-face.png");
    let mut cases = vec![(fixture, SeetaConfig::photo())];
    if let Some(group) = photo("multi_face.jpg") {
        cases.push((group.clone(), SeetaConfig::photo()));
        cases.push((group, SeetaConfig::live()));
    }
    for (path, cfg) in cases {
        let gray = load_image(&path).unwrap().to_luma8();
        let detector = SeetaDetector::new(cfg);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| detector.detect(&gray))
        };
        let (one, two) = (on(1), on(2));
        assert!(!one.is_empty(), "{}: no face", path.display());
        assert_eq!(one.len(), two.len(), "{}: {one:?} {two:?}", path.display());
        for face in &one {
            let best = two
                .iter()
                .map(|d| d.bbox.iou(&face.bbox))
                .fold(0.0, f32::max);
            assert!(best > 0.5, "{}: {face:?} not in {two:?}", path.display());
        }
    }
}
