//! What the reduced-precision tests share: the shipped model on PublicTest in f32, then
//! with other products in the same process, the accuracies and how often they agree.

use moodtune_fer::metrics::argmax;
use moodtune_fer::nn::{Products, Simd};
use moodtune_fer::{Classifier, Evaluation};

/// Asserts that `products` keep the shipped model's PublicTest accuracy within 0.2
/// points of f32 (what issue 33 allows reduced precision) and give f32's answer on at
/// least `agreement` of the faces; skipped with a note where
/// [`publictest_against_f32`] gives nothing.
pub fn assert_close_to_f32(products: Products, agreement: f64) {
    let Some((f32_acc, reduced_acc, same)) = publictest_against_f32(products) else {
        return;
    };
    assert!(
        (f32_acc - reduced_acc).abs() <= 0.2,
        "PublicTest accuracy {f32_acc:.2}% in f32, {reduced_acc:.2}% with {products:?} products"
    );
    assert!(
        same >= agreement,
        "{products:?} products gave f32's answer on {:.2}% of the faces",
        same * 100.0
    );
}

/// PublicTest in f32 and with `products`: (f32 accuracy %, its accuracy %, share of faces
/// with the same answer), or None where FER2013 is missing (a failure in CI), where
/// `MOODTUNE_PRECISION` decides for both runs, or where this CPU lacks `products`.
fn publictest_against_f32(products: Products) -> Option<(f64, f64, f64)> {
    if std::env::var_os("MOODTUNE_PRECISION").is_some() {
        eprintln!("MOODTUNE_PRECISION is set: it decides the precision, so both runs would use it");
        return None;
    }
    let ds = super::common::public_test()?;
    let clf = Classifier::shipped().unwrap();
    assert_eq!(
        Simd::products(),
        Products::F32,
        "the library computes in f32 unless asked"
    );
    let in_f32 = clf.predict_dataset(&ds);
    Simd::prefer_products(products);
    if Simd::products() != products {
        eprintln!("this CPU (or kernel) does not run {products:?} products: nothing to compare");
        return None;
    }
    let reduced = clf.predict_dataset(&ds);
    let same = in_f32
        .iter()
        .zip(&reduced)
        .filter(|(a, b)| argmax(&a[..]) == argmax(&b[..]))
        .count();
    let agreement = same as f64 / ds.len() as f64;
    let (f32_acc, reduced_acc) = (
        Evaluation::new(&ds.labels, &in_f32).accuracy * 100.0,
        Evaluation::new(&ds.labels, &reduced).accuracy * 100.0,
    );
    eprintln!(
        "PublicTest: {f32_acc:.2}% in f32, {reduced_acc:.2}% with {products:?} products, the same answer on {:.2}% of the faces",
        agreement * 100.0
    );
    Some((f32_acc, reduced_acc, agreement))
}
