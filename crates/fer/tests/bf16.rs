//! The shipped model with bf16 products on AMX tiles, as the moodtune program runs it on
//! CPUs with AMX, against the library's f32: its own test binary, because the choice of
//! precision is the process's. Runs where FER2013 is beside the checkout (../shared, as
//! in CI) and the CPU has AMX.

mod common;

use moodtune_fer::metrics::argmax;
use moodtune_fer::nn::Simd;
use moodtune_fer::{Classifier, Evaluation};

#[test]
fn bf16_products_keep_the_shipped_models_publictest_answers() {
    if std::env::var_os("MOODTUNE_PRECISION").is_some() {
        eprintln!("MOODTUNE_PRECISION is set: it decides the precision, so both runs would use it");
        return;
    }
    let Some(ds) = common::public_test() else {
        return;
    };
    let clf = Classifier::shipped().unwrap();
    assert!(
        !Simd::bf16_products(),
        "the library computes in f32 unless asked"
    );
    let in_f32 = clf.predict_dataset(&ds);
    Simd::prefer_bf16_products();
    if !Simd::bf16_products() {
        eprintln!("this CPU (or kernel) gives no AMX tiles: the program runs f32 here too");
        return;
    }
    let in_bf16 = clf.predict_dataset(&ds);
    let same = in_f32
        .iter()
        .zip(&in_bf16)
        .filter(|(a, b)| argmax(&a[..]) == argmax(&b[..]))
        .count();
    let agreement = same as f64 / ds.len() as f64;
    let (f32_acc, bf16_acc) = (
        Evaluation::new(&ds.labels, &in_f32).accuracy * 100.0,
        Evaluation::new(&ds.labels, &in_bf16).accuracy * 100.0,
    );
    eprintln!(
        "PublicTest: {f32_acc:.2}% in f32, {bf16_acc:.2}% in bf16, the same answer on {:.2}% of the faces",
        agreement * 100.0
    );
    // Measured: 71.16% in f32, 71.11% in bf16 with the maps kept in bf16 between layers
    // (the tile stack; 71.19% when only products rounded), the same answer on 99.94% of
    // the faces (docs/RESULTS.md); issue 33 allows reduced
    // precision that keeps the accuracy within 0.2 points.
    assert!(
        (f32_acc - bf16_acc).abs() <= 0.2,
        "PublicTest accuracy {f32_acc:.2}% in f32, {bf16_acc:.2}% in bf16"
    );
    assert!(
        agreement >= 0.99,
        "bf16 gave f32's answer on {:.2}% of the faces",
        agreement * 100.0
    );
}
