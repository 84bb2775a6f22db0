//! The shipped model with bf16 products on AMX tiles, as the moodtune program runs it on
//! CPUs with AMX, against the library's f32: its own test binary, because the choice of
//! precision is the process's. Runs where FER2013 is beside the checkout (../shared, as
//! in CI) and the CPU has AMX.

mod common;
mod reduced;

use moodtune_fer::nn::Products;

#[test]
fn bf16_products_keep_the_shipped_models_publictest_answers() {
    let Some((f32_acc, bf16_acc, agreement)) = reduced::publictest_against_f32(Products::Bf16)
    else {
        return;
    };
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
