//! `moodtune recognize` end to end on a committed real face (crates/faces/tests/fixtures):
//! the embedded detector finds it and the shipped expression model reads her smile,
//! with no photo cache, data set or model file on the machine.

use std::path::Path;
use std::process::Command;

#[test]
fn the_shipped_model_reads_a_smile_in_a_real_photo() {
    let photo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../faces/tests/fixtures/astronaut-face.png");
    let out = Command::new(env!("CARGO_BIN_EXE_moodtune"))
        .args(["recognize", "--json"])
        .arg(&photo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let faces = reports[0]["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{reports}");
    let face = &faces[0];
    // Between her eyes at (100, 100) in the 200x200 cut.
    let b = &face["box"];
    let (x, y, w) = (
        b["x"].as_u64().unwrap(),
        b["y"].as_u64().unwrap(),
        b["width"].as_u64().unwrap(),
    );
    assert!(
        (x..=x + w).contains(&100) && (y..=y + w).contains(&100),
        "{b}"
    );
    assert_eq!(face["emotion"], "happy", "{face}");
    let happy = face["probabilities"]["happy"].as_f64().unwrap();
    assert!(happy > 0.5, "a broad smile: {happy}");
    let total: f64 = face["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 0.01, "probabilities sum to {total}");
}
