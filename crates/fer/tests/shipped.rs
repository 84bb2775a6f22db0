//! The shipped model: it loads, its stored preprocessing is applied, and the pure-Rust
//! engine reproduces PyTorch's logits on PublicTest faces recorded at export time
//! (tests/fixtures/publictest_faces.json is written by `fer_torch.py export`; for an
//! ensemble, member `i > 0` has its own publictest_faces.m{i}.json). When FER2013 is
//! beside the checkout (../shared, as in CI), it scores on PublicTest what docs/MODEL.md
//! says it does.

mod common;

use moodtune_core::{Emotion, ExpressionClassifier};
use moodtune_fer::classifier::fer_image;
use moodtune_fer::metrics::argmax;
use moodtune_fer::Classifier;

#[derive(serde::Deserialize)]
struct Face {
    label: usize,
    pixels: String,
    logits: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Fixture {
    faces: Vec<Face>,
}

/// The PyTorch logits recorded for ensemble member `member` (0 for a single model).
fn member_fixture(member: usize) -> Option<Fixture> {
    let name = match member {
        0 => "publictest_faces.json".to_string(),
        i => format!("publictest_faces.m{i}.json"),
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

fn fixture() -> Fixture {
    member_fixture(0).expect("tests/fixtures/publictest_faces.json")
}

#[test]
fn shipped_model_matches_pytorch_logits() {
    let clf = Classifier::shipped().unwrap();
    // One fixture per member, and no stale fixture for a member that is not shipped.
    assert!(member_fixture(clf.nets.len()).is_none());
    for (member, net) in clf.nets.iter().enumerate() {
        let fx = member_fixture(member).unwrap_or_else(|| panic!("no fixture for member {member}"));
        assert!(fx.faces.len() >= 8);
        for (i, face) in fx.faces.iter().enumerate() {
            let px: Vec<u8> = face.pixels.split(' ').map(|v| v.parse().unwrap()).collect();
            let input = clf.prepare(&fer_image(&px));
            assert_eq!(input.len(), clf.meta().crop * clf.meta().crop);
            let logits = net.logits(input);
            for (a, b) in logits.iter().zip(&face.logits) {
                assert!(
                    (a - b).abs() < 2e-3,
                    "member {member} face {i}: rust {logits:?} vs torch {:?}",
                    face.logits
                );
            }
            assert_eq!(
                argmax(&logits),
                argmax(&face.logits),
                "member {member} face {i} (label {})",
                face.label
            );
        }
    }
}

#[test]
fn classify_face_gives_a_distribution_and_uses_preprocessing() {
    let clf = Classifier::shipped().unwrap();
    let fx = fixture();
    let px: Vec<u8> = fx.faces[0]
        .pixels
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let p = clf.classify_face(&px, 48, 48);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    // A face handed over at 96x96 is resized back by the stored pipeline: same answer.
    let big = image::imageops::resize(
        &fer_image(&px),
        96,
        96,
        image::imageops::FilterType::Triangle,
    );
    let q = clf.classify_face(big.as_raw(), 96, 96);
    assert_eq!(argmax(&p), argmax(&q));
    let batch = clf.classify_faces(&[(&px, 48, 48), (big.as_raw(), 96, 96)]);
    assert_eq!(batch[0], p);
    assert_eq!(Emotion::ALL.len(), p.len());
}

#[test]
fn truncated_or_foreign_weights_are_clear_errors() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/fer.safetensors"
    ))
    .unwrap();
    let err = Classifier::from_bytes(&bytes[..bytes.len() / 2], "half.safetensors")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("half.safetensors") && err.contains("truncated"),
        "{err}"
    );
    let err = Classifier::from_bytes(b"not a model", "junk.bin")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("junk.bin"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = Classifier::load(&dir.path().join("none.safetensors"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("none.safetensors"), "{err}");
}

/// The model card's headline figure: the first "Accuracy NN.NN%" under "## How it does".
fn model_card_accuracy() -> f64 {
    let card = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/MODEL.md"))
        .unwrap();
    let section = &card[card.find("## How it does").expect("section in MODEL.md")..];
    let after = &section[section.find("Accuracy ").expect("an Accuracy line") + 9..];
    after[..after.find('%').unwrap()].parse().unwrap()
}

#[test]
fn shipped_model_scores_the_model_cards_publictest_accuracy() {
    let Some(ds) = common::public_test() else {
        return;
    };
    let clf = Classifier::shipped().unwrap();
    let ev = moodtune_fer::Evaluation::new(&ds.labels, &clf.predict_dataset(&ds));
    let card = model_card_accuracy();
    // One face of slack (0.028 points): the maths kernels are chosen per CPU
    // (AVX2 / AVX-512), and their rounding may flip a face on a decision boundary.
    let one_face = 100.0 / ds.labels.len() as f64;
    assert!(
        (ev.accuracy * 100.0 - card).abs() < one_face + 0.005,
        "shipped model: {:.2}% on PublicTest, docs/MODEL.md says {card:.2}%",
        ev.accuracy * 100.0
    );
}
