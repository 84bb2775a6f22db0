//! The engine's own single-precision matrix products: the general product for CPUs
//! with AVX-512, and a row times a matrix (a dense layer on one image) for AVX2 or
//! AVX-512.
//!
//! `gemm` 0.18 builds its AVX-512 kernels only with a nightly compiler, so on stable Rust
//! every product ran 8-lane AVX2 kernels, half the width of the 512-bit FMA units Intel's
//! server cores have two of. This is the blocked product of Goto's scheme (as in BLIS),
//! passes [`KC`] deep over blocks of rows and columns, with a register-blocked kernel
//! that adds [`MR`] rows of `a` times [`NR`] columns of `b` into a tile of the output,
//! its 24 sums held in 24 of the 32 vector registers; unlike BLIS it packs an operand
//! only where that pays ([`sgemm_avx512`]). Ragged edges are masked at the loads and
//! stores (or zero-padded in the packs), so any shape and any strides work. Figures
//! below: Intel Xeon (family 6, model 167), AVX-512, one core, release build,
//! 2026-12-07.

use std::cell::RefCell;

use super::{scratch_of, Matrix};

/// Output rows per kernel tile: one broadcast of `a` each.
const MR: usize = 12;
/// Output columns per kernel tile: two 16-lane vectors of `b`.
const NR: usize = 32;
/// Depth of one pass: a `b` panel (`KC * NR` floats, 32 KiB) stays in the L1 cache while
/// the `a` panels stream past it (128, 192, 256 and 384 timed alike).
const KC: usize = 256;
/// Rows of `a` taken at once (`MC * KC` floats, 120 KiB, for the L2 cache).
const MC: usize = 10 * MR;
/// `b` wider than this is packed even when its rows are contiguous: read in place, each
/// step of a panel lands a long row away (a batch's im2col matrix), and the cache and
/// TLB misses cost more than the copy (5x5 im2col at batch 32, 800 columns: 46 -> 59
/// G MAC/s packed; at 100 columns in place was faster, 62 against 55).
const PACKED_B_MIN_COLS: usize = 256;
/// Columns of `b` packed at once (`KC * NC` floats, 1.5 MiB).
const NC: usize = 64 * NR;

thread_local! {
    /// A thread's packed panels of `a` and `b`, kept between products.
    static PACKS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `out[a.rows, b.cols] += a * b`, or `= a * b` when `accumulate` is false; `out`
/// row-major and dense.
///
/// Operands whose rows are contiguous are read where they lie: a packed copy pays only
/// when it is reused many times, and the engine's products are mostly thin (a 5x5
/// layer's weights would be copied whole for one 25-column panel: 50 G MAC/s in place,
/// 21 packed). A strided operand (a transposed weight matrix) is packed, and a wide `b`
/// ([`PACKED_B_MIN_COLS`]).
///
/// # Safety
/// The CPU must support AVX-512F.
pub(super) unsafe fn sgemm_avx512(a: Matrix, b: Matrix, out: &mut [f32], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions");
    assert_eq!(out.len(), m * n, "output size");
    // The last element each operand's view reaches is inside its slice.
    assert!(m == 0 || k == 0 || (m - 1) * a.row_stride + (k - 1) * a.col_stride < a.data.len());
    assert!(k == 0 || n == 0 || (k - 1) * b.row_stride + (n - 1) * b.col_stride < b.data.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    let direct_a = a.col_stride == 1;
    let direct_b = b.col_stride == 1 && n <= PACKED_B_MIN_COLS;
    PACKS.with(|packs| {
        let (packed_a, packed_b) = &mut *packs.borrow_mut();
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                // The first pass over the depth sets the output unless asked to add.
                let add = accumulate || pc > 0;
                // Column `jr` of this block of `b` at step 0, and the distance between steps.
                let (b_block, b_step) = if direct_b {
                    (&b.data[pc * b.row_stride + jc..], b.row_stride)
                } else {
                    pack_b(b, pc..pc + kc, jc..jc + nc, packed_b);
                    (&packed_b[..], NR)
                };
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    if !direct_a {
                        pack_a(a, ic..ic + mc, pc..pc + kc, packed_a);
                    }
                    for jr in (0..nc).step_by(NR) {
                        let cols = NR.min(nc - jr);
                        let b_panel = if direct_b { jr } else { jr * kc };
                        for ir in (0..mc).step_by(MR) {
                            let rows = MR.min(mc - ir);
                            let at = (ic + ir) * n + jc + jr;
                            let tile = Tile {
                                c: out[at..].as_mut_ptr(),
                                ldc: n,
                                rows,
                                cols,
                                add,
                            };
                            let b_panel = b_block[b_panel..].as_ptr();
                            // Safety: the tile's `rows` rows of `cols` columns from `at`,
                            // `n` apart, lie inside `out` (m * n); the operands hold kc
                            // steps of the tile's rows and columns (asserted above, or
                            // packed so).
                            unsafe {
                                if direct_a {
                                    let a_rows = &a.data[(ic + ir) * a.row_stride + pc..];
                                    kernel::<false>(
                                        kc,
                                        a_rows.as_ptr(),
                                        a.row_stride,
                                        b_panel,
                                        b_step,
                                        tile,
                                    );
                                } else {
                                    let a_panel = &packed_a[ir * kc..];
                                    kernel::<true>(kc, a_panel.as_ptr(), MR, b_panel, b_step, tile);
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Where a kernel's sums go: `rows` x `cols` (at most [`MR`] x [`NR`]) of the output
/// from `c`, its rows `ldc` apart; added to what is there when `add`.
struct Tile {
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    add: bool,
}

/// `out[1, b.cols] += a * b` (or `=`) for a one-row `a` whose columns of `b` are
/// contiguous (a dense layer's weight matrix, transposed): one dot product per output,
/// four outputs at a time so each load of `a` serves four weight rows. This streams
/// the weights once and is bound by memory bandwidth (paper's first dense layer is
/// 75 MB), so it matters that the loads keep coming: eight independent sums. With
/// `gemm` paper's pass spent 12.7-14.1 ms outside its convolutions, with this 8.4 ms
/// (`layer_profile paper`).
///
/// # Safety
/// The CPU must support `level`, AVX2 (with FMA) or AVX-512F.
pub(super) unsafe fn dot_columns(
    a: Matrix,
    b: Matrix,
    out: &mut [f32],
    accumulate: bool,
    level: super::Simd,
) {
    let (k, n) = (a.cols, b.cols);
    assert!(
        a.rows == 1 && a.col_stride == 1 && b.row_stride == 1,
        "a row times columns"
    );
    assert_eq!(b.rows, k, "inner dimensions");
    assert_eq!(out.len(), n, "output size");
    assert!(k <= a.data.len() && (n == 0 || k == 0 || (n - 1) * b.col_stride + k <= b.data.len()));
    let x = &a.data[..k];
    let mut j = 0;
    while j < n {
        let count = 4.min(n - j);
        // Columns past the last of the four repeat it (their sums are dropped).
        let columns: [&[f32]; 4] = std::array::from_fn(|c| {
            let at = (j + c.min(count - 1)) * b.col_stride;
            &b.data[at..at + k]
        });
        // Safety: the level is supported by the contract; each column holds k floats,
        // as does x.
        let sums = unsafe {
            match level {
                super::Simd::Avx512 => dot4(x, columns),
                _ => dot4_avx2(x, columns),
            }
        };
        for (o, sum) in out[j..j + count].iter_mut().zip(sums) {
            *o = if accumulate { *o + sum } else { sum };
        }
        j += count;
    }
}

/// [`dot4`] with 8-lane AVX2 vectors, the last `k % 16` products summed one by one.
#[target_feature(enable = "avx2,fma")]
fn dot4_avx2(x: &[f32], columns: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let k = x.len();
    let whole = k - k % 16;
    let mut sums = [[_mm256_setzero_ps(); 2]; 4];
    let load = |data: &[f32], at: usize| {
        let lanes: &[f32; 8] = data[at..at + 8].try_into().expect("eight lanes");
        // Safety: `lanes` is 8 floats.
        unsafe { _mm256_loadu_ps(lanes.as_ptr()) }
    };
    for p in (0..whole).step_by(16) {
        for half in 0..2 {
            let xv = load(x, p + 8 * half);
            for (sum, column) in sums.iter_mut().zip(&columns) {
                sum[half] = _mm256_fmadd_ps(xv, load(column, p + 8 * half), sum[half]);
            }
        }
    }
    let mut totals = [0f32; 4];
    for ((total, [s0, s1]), column) in totals.iter_mut().zip(sums).zip(&columns) {
        let mut lanes = [0f32; 8];
        // Safety: `lanes` is 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(s0, s1)) };
        *total = lanes.iter().sum::<f32>()
            + x[whole..]
                .iter()
                .zip(&column[whole..])
                .map(|(a, b)| a * b)
                .sum::<f32>();
    }
    totals
}

/// The dot products of `x` with four columns of its length.
#[target_feature(enable = "avx512f")]
fn dot4(x: &[f32], columns: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::*;
    let k = x.len();
    // Two sums per column, over alternate 16-float chunks, so eight FMAs are in flight.
    let mut sums = [[_mm512_setzero_ps(); 2]; 4];
    let mut p = 0;
    let load = |data: &[f32], at: usize, mask: __mmask16| {
        // Safety: the mask keeps to the lanes of `data` from `at`.
        unsafe { _mm512_maskz_loadu_ps(mask, data[at..].as_ptr()) }
    };
    while p + 32 <= k {
        for half in 0..2 {
            let xv = load(x, p + 16 * half, u16::MAX);
            for (sum, column) in sums.iter_mut().zip(&columns) {
                sum[half] = _mm512_fmadd_ps(xv, load(column, p + 16 * half, u16::MAX), sum[half]);
            }
        }
        p += 32;
    }
    while p < k {
        let mask = lanes(k - p);
        let xv = load(x, p, mask);
        for (sum, column) in sums.iter_mut().zip(&columns) {
            sum[0] = _mm512_fmadd_ps(xv, load(column, p, mask), sum[0]);
        }
        p += 16;
    }
    sums.map(|[s0, s1]| _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)))
}

/// Packs `b[depth, cols]` as panels of [`NR`] columns: panel j holds, for each step p
/// of the depth, the `NR` values of row p (zeros past the last column), overwriting
/// what `packed` held.
fn pack_b(
    b: Matrix,
    depth: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    packed: &mut Vec<f32>,
) {
    let kc = depth.len();
    let panels = cols.len().div_ceil(NR);
    // Every value is written below, so the buffer is not cleared first.
    let packed = scratch_of(packed, panels * kc * NR);
    for (j, panel) in packed.chunks_exact_mut(kc * NR).enumerate() {
        let first = cols.start + j * NR;
        let width = NR.min(cols.end - first);
        for (p, dst) in depth.clone().zip(panel.chunks_exact_mut(NR)) {
            let row = p * b.row_stride + first * b.col_stride;
            if b.col_stride == 1 {
                dst[..width].copy_from_slice(&b.data[row..row + width]);
            } else {
                for (q, d) in dst[..width].iter_mut().enumerate() {
                    *d = b.data[row + q * b.col_stride];
                }
            }
            dst[width..].fill(0.0);
        }
    }
}

/// Packs `a[rows, depth]` as panels of [`MR`] rows: panel i holds, for each step p of
/// the depth, the `MR` values of column p (zeros past the last row).
fn pack_a(
    a: Matrix,
    rows: std::ops::Range<usize>,
    depth: std::ops::Range<usize>,
    packed: &mut Vec<f32>,
) {
    let kc = depth.len();
    let panels = rows.len().div_ceil(MR);
    let packed = scratch_of(packed, panels * kc * MR);
    for (i, panel) in packed.chunks_exact_mut(kc * MR).enumerate() {
        let first = rows.start + i * MR;
        let height = MR.min(rows.end - first);
        for (p, dst) in depth.clone().zip(panel.chunks_exact_mut(MR)) {
            for (r, d) in dst[..height].iter_mut().enumerate() {
                *d = a.data[(first + r) * a.row_stride + p * a.col_stride];
            }
            dst[height..].fill(0.0);
        }
    }
}

/// Adds (or stores) the product of `MR` rows of `a` and `NR` columns of `b`, `kc` steps
/// deep, into `tile`. `b`'s steps are `b_step` apart; `a` is a packed panel (step p's
/// `MR` values at `p * MR`) when `PACKED_A`, else rows `lda` apart read in place.
///
/// # Safety
/// AVX-512F; `a` and `b` hold `kc` steps of the tile's rows and columns, and the tile
/// lies in the output.
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const PACKED_A: bool>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    b_step: usize,
    tile: Tile,
) {
    use std::arch::x86_64::*;
    let low: __mmask16 = lanes(tile.cols.min(16));
    let high: __mmask16 = lanes(tile.cols.saturating_sub(16));
    // Rows past the tile's last read its last row again (their sums are not stored),
    // so nothing past the operand is read.
    let a_rows: [*const f32; MR] = std::array::from_fn(|i| {
        let row = if PACKED_A {
            i
        } else {
            i.min(tile.rows - 1) * lda
        };
        // Safety: inside `a` by the contract above.
        unsafe { a.add(row) }
    });
    // Constant indices only (the loops over MR unroll), so the sums stay in registers.
    let mut sums = [[_mm512_setzero_ps(); 2]; MR];
    for p in 0..kc {
        let a_at = if PACKED_A { p * MR } else { p };
        // Safety: step p of `b`'s columns is inside it; the masks keep to `cols`.
        let (b0, b1) = unsafe {
            let b_row = b.add(p * b_step);
            (
                _mm512_maskz_loadu_ps(low, b_row),
                _mm512_maskz_loadu_ps(high, b_row.add(16)),
            )
        };
        for (sum, row) in sums.iter_mut().zip(&a_rows) {
            // Safety: step p of row i is inside `a`.
            let ai = _mm512_set1_ps(unsafe { *row.add(a_at) });
            sum[0] = _mm512_fmadd_ps(ai, b0, sum[0]);
            sum[1] = _mm512_fmadd_ps(ai, b1, sum[1]);
        }
    }
    for (i, sum) in sums.iter().enumerate() {
        if i >= tile.rows {
            break;
        }
        // Safety: row i < rows of the tile; the masks keep to its `cols` columns.
        unsafe {
            let row = tile.c.add(i * tile.ldc);
            let (mut v0, mut v1) = (sum[0], sum[1]);
            if tile.add {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(low, row));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(high, row.add(16)));
            }
            _mm512_mask_storeu_ps(row, low, v0);
            _mm512_mask_storeu_ps(row.add(16), high, v1);
        }
    }
}

/// A mask of the first `n` (at most 16) lanes.
pub(super) fn lanes(n: usize) -> u16 {
    if n >= 16 {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::tests::pseudo;
    use crate::nn::Simd;

    #[test]
    fn row_times_columns_matches_a_reference_on_every_vector_level() {
        for level in Simd::available().into_iter().filter(|&l| l >= Simd::Avx2) {
            row_times_columns_at(level);
        }
    }

    fn row_times_columns_at(level: Simd) {
        for (k, n) in [
            (1, 1),
            (15, 3),
            (16, 4),
            (33, 5),
            (64, 7),
            (1000, 9),
            (36864, 6),
        ] {
            for accumulate in [false, true] {
                let x = pseudo(k, 4);
                let w = pseudo(k * n, 5);
                let start = pseudo(n, 6);
                let mut out = if accumulate {
                    start.clone()
                } else {
                    vec![f32::NAN; n]
                };
                let a = Matrix::row_major(&x, 1, k);
                let b = Matrix::row_major(&w, n, k).transposed();
                unsafe { dot_columns(a, b, &mut out, accumulate, level) };
                for j in 0..n {
                    let base = if accumulate { start[j] as f64 } else { 0.0 };
                    let want: f64 = base
                        + (0..k)
                            .map(|p| x[p] as f64 * w[j * k + p] as f64)
                            .sum::<f64>();
                    let got = out[j] as f64;
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()) * (k as f64).sqrt(),
                        "{} ({k}, {n}) accumulate {accumulate}: [{j}] {got} vs {want}",
                        level.name()
                    );
                }
            }
        }
    }

    /// Every shape class: edges in rows and columns, depths across a pass, strided and
    /// transposed operands, accumulate and overwrite, against a sum in f64.
    #[test]
    fn the_avx512_product_matches_a_reference_on_ragged_shapes_and_strides() {
        if Simd::detected() < Simd::Avx512 {
            eprintln!("this CPU has no AVX-512: its product is not run here");
            return;
        }
        let shapes = [
            (1, 1, 1),
            (5, 3, 7),
            (12, 192, 32),
            (13, 193, 33),
            (25, 9, 1600),
            (64, 577, 25),
            (121, 400, 2100),
            (7, 1000, 64),
        ];
        for (m, k, n) in shapes {
            for transposed_b in [false, true] {
                for accumulate in [false, true] {
                    let a_data = pseudo(m * k, 1);
                    let b_data = pseudo(k * n, 2);
                    let a = Matrix::row_major(&a_data, m, k);
                    let b = if transposed_b {
                        Matrix::row_major(&b_data, n, k).transposed()
                    } else {
                        Matrix::row_major(&b_data, k, n)
                    };
                    let start = pseudo(m * n, 3);
                    let mut out = if accumulate {
                        start.clone()
                    } else {
                        vec![f32::NAN; m * n]
                    };
                    unsafe { sgemm_avx512(a, b, &mut out, accumulate) };
                    for r in 0..m {
                        for c in 0..n {
                            let mut want: f64 = if accumulate {
                                start[r * n + c] as f64
                            } else {
                                0.0
                            };
                            for p in 0..k {
                                want += a.data[r * a.row_stride + p * a.col_stride] as f64
                                    * b.data[p * b.row_stride + c * b.col_stride] as f64;
                            }
                            let got = out[r * n + c] as f64;
                            assert!(
                                (got - want).abs() <= 1e-4 * (1.0 + want.abs()) * (k as f64).sqrt(),
                                "({m}, {k}, {n}) transposed {transposed_b} accumulate \
                                 {accumulate}: [{r}, {c}] {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
