//! `moodtune recognize`'s exit codes through the binary: bad files fail without stopping
//! the others (1), a photo without a face is 3, a bad --min-face is refused (2).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `moodtune recognize --json ARGS`; its exit code and standard error.
fn recognize(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_moodtune"))
        .args(["recognize", "--json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().expect("exited"), stderr)
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_min_face_below_the_detector_window_is_refused_not_raised() {
    let (code, err) = recognize(&["a.jpg", "--min-face", "20"]);
    assert_eq!(code, 2, "20 px is refused: {err}");
    assert!(err.contains("40"), "{err}");
    // 48 px is taken: the command goes on to the (missing) photo.
    let (code, err) = recognize(&["a.jpg", "--min-face", "48"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("a.jpg"), "{err}");
}

#[test]
fn bad_files_fail_without_stopping_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let notes = dir.path().join("notes.png");
    std::fs::write(&notes, b"not a picture").unwrap();
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(120, 90, image::Luma([128]))
        .save(&blank)
        .unwrap();
    let out = dir.path().join("out.png");
    let missing = dir.path().join("missing.bmp");
    let (code, err) = recognize(&[
        text(&empty),
        text(&notes),
        text(&missing),
        text(&blank),
        "--annotate",
        text(&out),
    ]);
    assert_eq!(code, 1, "{err}");
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
    let (code, err) = recognize(&[text(&blank)]);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn a_missing_model_file_is_a_clear_error() {
    let model = "/nonexistent/model.safetensors";
    let (code, err) = recognize(&["x.png", "--model", model]);
    assert_eq!(code, 1);
    assert!(err.contains(model), "{err}");
}

#[test]
fn faces_under_min_face_are_left_out() {
    let photo: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../faces/tests/fixtures/astronaut-face.png");
    // Her face box is about 100 px wide in the 200 px cut.
    let (code, err) = recognize(&[text(&photo), "--min-face", "60"]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = recognize(&[text(&photo), "--min-face", "150"]);
    assert_eq!(code, 3, "{err}");
}
