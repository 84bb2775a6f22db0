//! The shipped model with 8-bit products on the kernels this CPU picks (AVX-512 VNNI
//! where it has it, else AVX2), as the moodtune program runs it on CPUs without AMX,
//! against the library's f32: its own test binary, because the choice of precision is the
//! process's. Runs where FER2013 is beside the checkout (../shared, as in CI) and the CPU
//! has AVX2; tests/int8_avx2.rs checks the AVX2 kernels on CPUs with VNNI too.

mod common;
mod reduced;

use moodtune_fer::nn::Products;

#[test]
fn int8_products_keep_the_shipped_models_publictest_accuracy() {
    // Measured: 71.16% in f32, 71.05% in int8 on VNNI (71.16% on AVX2), the same answer on
    // 99.41% (99.28%) of the faces (docs/RESULTS.md).
    reduced::assert_close_to_f32(Products::Int8, 0.99);
}
