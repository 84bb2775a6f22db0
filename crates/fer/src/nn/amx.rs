//! Products on Intel's AMX tiles, with bf16 operands and f32 sums (`tdpbf16ps`: a
//! 16x16 f32 tile gains the product of a 16x32 bf16 tile and a 32x16 one in one
//! instruction, many times the multiply-adds of AVX-512). Used where
//! [`super::Simd::bf16_products`] says (the moodtune program's default on CPUs with
//! AMX): rounding both operands of every product to bf16 left the shipped model's
//! PublicTest accuracy unchanged (docs/RESULTS.md), but its logits move by more than the
//! PyTorch parity test allows, so the library alone stays f32. Stable Rust has no AMX
//! intrinsics: the tile instructions are written in `asm!`, and Linux gives a process
//! the tile registers only when asked (`arch_prctl(ARCH_REQ_XCOMP_PERM)`).
//!
//! Operands go to bf16 as the tiles read them: `a` as rows (depth padded to 32), `b` as
//! pairs of rows interleaved per column, rows and columns padded to 32, so every block
//! is 2x2 output tiles and no tile reads past the end. A layer's weights are converted
//! once ([`rows_bf16`], [`pairs_bf16`], kept by the layer); the other operand per
//! product.

use std::arch::asm;
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::sync::OnceLock;

use super::sgemm::lanes;
use super::{scratch_of, Bf16Copy, Matrix};

/// Output rows and columns per block: 2x2 tiles of 16x16.
pub(super) const BLOCK: usize = 32;
/// Depth per tile product: 32 bf16 values, a tile row of 64 bytes.
pub(super) const DEPTH: usize = 32;

/// Whether this CPU has AMX tiles with bf16 products and Linux lets this process use
/// them (asked once).
pub fn available() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        // Leaf 7 (structured extended features) exists only from this maximum leaf up.
        if std::arch::x86_64::__cpuid(0).eax < 7 {
            return false;
        }
        let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
        let (amx_bf16, amx_tile) = (leaf7.edx >> 22 & 1 == 1, leaf7.edx >> 24 & 1 == 1);
        amx_bf16
            && amx_tile
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512bf16")
            && request_tile_data()
    })
}

/// Elsewhere than Linux the tiles are not used (the system call below is Linux's).
#[cfg(not(target_os = "linux"))]
fn request_tile_data() -> bool {
    false
}

/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`: 0 when granted.
#[cfg(target_os = "linux")]
fn request_tile_data() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let result: i64;
    // Safety: a system call that changes no memory of ours; rcx and r11 are clobbered
    // by `syscall`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => result,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result == 0
}

/// A thread's converted operands, kept between products.
#[derive(Default)]
struct Scratch {
    a: Vec<u16>,
    b: Vec<u32>,
    tile: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Tile configuration: palette 1, all eight tiles 16 rows of 64 bytes.
#[repr(C, align(64))]
pub(super) struct TileConfig([u8; 64]);

impl TileConfig {
    /// What `ldtilecfg` reads.
    pub(super) fn bytes(&self) -> *const u8 {
        self.0.as_ptr()
    }

    pub(super) fn uniform() -> Self {
        let mut bytes = [0u8; 64];
        bytes[0] = 1;
        for tile in 0..8 {
            bytes[16 + 2 * tile] = 64;
            bytes[48 + tile] = 16;
        }
        TileConfig(bytes)
    }
}

/// `out[a.rows, b.cols] += a * b` (or `=`), both operands row-major f32, rounded to bf16
/// here; `out` row-major and dense.
///
/// # Safety
/// [`available`] must have returned true.
pub(super) unsafe fn product_amx(a: Matrix, b: Matrix, out: &mut [f32], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions");
    assert_eq!(out.len(), m * n, "output size");
    assert!(a.col_stride == 1 && b.col_stride == 1, "row-major operands");
    assert!(m == 0 || k == 0 || (m - 1) * a.row_stride + k <= a.data.len());
    assert!(k == 0 || n == 0 || (k - 1) * b.row_stride + n <= b.data.len());
    if m == 0 || n == 0 {
        return;
    }
    let (mp, kp, np) = padded(m, k, n);
    SCRATCH.with(|scratch| {
        let scratch = &mut *scratch.borrow_mut();
        // A copy made for a different padding (never, as layers make them) is ignored.
        let a16: &[u16] = match a.bf16 {
            Some(Bf16Copy::Rows { data, depth }) if depth == kp => data,
            // Safety: AVX-512 BW and BF16 come with `available`.
            _ => unsafe {
                convert_rows(a, (mp, kp), &mut scratch.a);
                &scratch.a
            },
        };
        let b16: &[u32] = match b.bf16 {
            Some(Bf16Copy::Pairs { data, cols }) if cols == np => data,
            // Safety: as above.
            _ => unsafe {
                interleave_pairs(b, (kp, np), &mut scratch.b);
                &scratch.b
            },
        };
        // Every tile load below stays inside these.
        assert!(
            a16.len() >= mp * kp && b16.len() >= kp / 2 * np,
            "bf16 operands"
        );
        scratch.tile.resize(BLOCK * BLOCK, 0.0);
        let config = TileConfig::uniform();
        let (a_stride, b_stride) = (kp * 2, np * 4);
        // Safety: tiles are configured before use and released after; every tile load
        // reads 16 rows of 64 bytes inside the padded operands (rows i0..i0 + 32 of
        // `mp`, depth columns d..d + 32 of `kp`; pair rows d / 2.. + 16 of `kp / 2`,
        // columns j0..j0 + 32 of `np`); the stores write the 32x32 `tile` buffer.
        unsafe {
            asm!("ldtilecfg [{}]", in(reg) config.bytes(), options(nostack));
            for i0 in (0..m).step_by(BLOCK) {
                for j0 in (0..n).step_by(BLOCK) {
                    zero_block();
                    for d in (0..kp).step_by(DEPTH) {
                        let a0 = a16.as_ptr().add(i0 * kp + d);
                        let b0 = b16.as_ptr().add(d / 2 * np + j0);
                        block_step(a0, a0.add(16 * kp), b0, b0.add(16), a_stride, b_stride);
                    }
                    store_block(scratch.tile.as_mut_ptr());
                    let (rows, cols) = (BLOCK.min(m - i0), BLOCK.min(n - j0));
                    for (r, sums) in scratch.tile.chunks_exact(BLOCK).take(rows).enumerate() {
                        let dst = &mut out[(i0 + r) * n + j0..][..cols];
                        if accumulate {
                            dst.iter_mut().zip(sums).for_each(|(o, s)| *o += s);
                        } else {
                            dst.copy_from_slice(&sums[..cols]);
                        }
                    }
                }
            }
            asm!("tilerelease", options(nostack));
        }
    });
}

/// Clears the block's four sums (tiles 0-3).
///
/// # Safety
/// The uniform [`TileConfig`] must be loaded.
#[inline(always)]
pub(super) unsafe fn zero_block() {
    // Safety: as this function's.
    unsafe {
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack)
        );
    }
}

/// One depth step of a 32x32 block: rows `a0` and `a1` (16 each, 32 bf16 values
/// `a_stride` bytes apart) times pair rows `b0` and `b1` (16 each of 16 columns,
/// `b_stride` bytes apart) into the four sums.
///
/// # Safety
/// The uniform [`TileConfig`] must be loaded; each pointer must have 16 rows of 64
/// readable bytes at its stride.
#[inline(always)]
pub(super) unsafe fn block_step(
    a0: *const u16,
    a1: *const u16,
    b0: *const u32,
    b1: *const u32,
    a_stride: usize,
    b_stride: usize,
) {
    // Safety: as this function's.
    unsafe {
        asm!(
            "tileloadd tmm4, [{a0} + {sa}*1]",
            "tileloadd tmm5, [{a1} + {sa}*1]",
            "tileloadd tmm6, [{b0} + {sb}*1]",
            "tileloadd tmm7, [{b1} + {sb}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            a0 = in(reg) a0,
            a1 = in(reg) a1,
            b0 = in(reg) b0,
            b1 = in(reg) b1,
            sa = in(reg) a_stride,
            sb = in(reg) b_stride,
            options(nostack, readonly)
        );
    }
}

/// The four sums into `sums`, a 32x32 row-major block.
///
/// # Safety
/// The uniform [`TileConfig`] must be loaded; `sums` must have 1,024 writable floats.
#[inline(always)]
pub(super) unsafe fn store_block(sums: *mut f32) {
    // Safety: as this function's.
    unsafe {
        asm!(
            "tilestored [{t0} + {s}*1], tmm0",
            "tilestored [{t1} + {s}*1], tmm1",
            "tilestored [{t2} + {s}*1], tmm2",
            "tilestored [{t3} + {s}*1], tmm3",
            t0 = in(reg) sums,
            t1 = in(reg) sums.add(16),
            t2 = in(reg) sums.add(16 * BLOCK),
            t3 = in(reg) sums.add(16 * BLOCK + 16),
            s = in(reg) BLOCK * 4,
            options(nostack)
        );
    }
}

/// Rows, depth and columns of a product padded to whole blocks.
fn padded(m: usize, k: usize, n: usize) -> (usize, usize, usize) {
    (
        m.next_multiple_of(BLOCK),
        k.next_multiple_of(DEPTH).max(DEPTH),
        n.next_multiple_of(BLOCK),
    )
}

/// `a` (a layer's weights, the left operand of its products) rounded to bf16 once, as
/// [`Bf16Copy::Rows`] holds it: a block of rows to spare, so a product over any later
/// run of rows (`Matrix::rows_from`) loads whole blocks inside it.
///
/// # Safety
/// [`available`] must have returned true.
pub(super) unsafe fn rows_bf16(a: Matrix) -> (Vec<u16>, usize) {
    let (mp, kp, _) = padded(a.rows, a.cols, 1);
    let mut rows = Vec::new();
    // Safety: AVX-512 BW and BF16 come with `available`.
    unsafe { convert_rows(a, (mp + BLOCK, kp), &mut rows) };
    (rows, kp)
}

/// `b` (a layer's weights, the right operand of its products) rounded to bf16 once, as
/// [`Bf16Copy::Pairs`] holds it.
///
/// # Safety
/// [`available`] must have returned true.
pub(super) unsafe fn pairs_bf16(b: Matrix) -> (Vec<u32>, usize) {
    let (_, kp, np) = padded(1, b.rows, b.cols);
    let mut pairs = Vec::new();
    // Safety: as above.
    unsafe { interleave_pairs(b, (kp, np), &mut pairs) };
    (pairs, np)
}

/// `a` rounded to bf16 into `[rows, depth]` (zero-padded), row-major.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
fn convert_rows(a: Matrix, (rows, depth): (usize, usize), dst: &mut Vec<u16>) {
    // Every value up to `rows * depth` is written below (the padding as zeros), so the
    // buffer is reused as it is.
    let dst = scratch_of(dst, rows * depth);
    let k = a.cols;
    let (real, padding) = dst.split_at_mut(a.rows * depth);
    padding.fill(0);
    for (r, row) in real.chunks_exact_mut(depth).enumerate() {
        let src = &a.data[r * a.row_stride..][..k];
        // Past the last chunk of 32 (the whole row when `k` is 0).
        row[k.next_multiple_of(32)..].fill(0);
        for (chunk, out) in src.chunks(32).zip(row.chunks_exact_mut(32)) {
            let len = chunk.len();
            let (low, high) = (lanes(len.min(16)), lanes(len.saturating_sub(16)));
            // Safety: the masks keep to `chunk`; `out` holds 32 u16s.
            unsafe {
                let v0 = _mm512_maskz_loadu_ps(low, chunk.as_ptr());
                let v1 = _mm512_maskz_loadu_ps(high, chunk.as_ptr().add(16.min(len)));
                let bf: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(v1, v0));
                _mm512_storeu_si512(out.as_mut_ptr() as *mut _, bf);
            }
        }
    }
}

/// `b` rounded to bf16 as `[depth / 2, cols]` pairs (zero-padded): pair (q, j) holds
/// rows 2q (low half) and 2q + 1 of column j.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
fn interleave_pairs(b: Matrix, (depth, cols): (usize, usize), dst: &mut Vec<u32>) {
    // As in `convert_rows`: every value is written, the padding as zeros.
    let dst = scratch_of(dst, depth / 2 * cols);
    let (k, n) = (b.rows, b.cols);
    let (real, padding) = dst.split_at_mut(k.div_ceil(2) * cols);
    padding.fill(0);
    // Interleaves the 16 values of two rows (the low and high half of 32 bf16 values).
    static INTERLEAVE: [u16; 32] = {
        let mut index = [0u16; 32];
        let mut j = 0;
        while j < 16 {
            index[2 * j] = j as u16;
            index[2 * j + 1] = 16 + j as u16;
            j += 1;
        }
        index
    };
    // Safety: INTERLEAVE is 64 bytes.
    let interleave = unsafe { _mm512_loadu_si512(INTERLEAVE.as_ptr() as *const _) };
    for (q, row) in real.chunks_exact_mut(cols).enumerate() {
        row[n.next_multiple_of(16)..].fill(0);
        let first = &b.data[2 * q * b.row_stride..][..n];
        let second = (2 * q + 1 < k).then(|| &b.data[(2 * q + 1) * b.row_stride..][..n]);
        for (j0, out) in (0..n).step_by(16).zip(row.chunks_exact_mut(16)) {
            let mask = lanes(n - j0);
            // Safety: the mask keeps to the rows' `n` values; `out` holds 16 u32s.
            unsafe {
                let r0 = _mm512_maskz_loadu_ps(mask, first[j0..].as_ptr());
                let r1 = match second {
                    Some(row) => _mm512_maskz_loadu_ps(mask, row[j0..].as_ptr()),
                    None => _mm512_setzero_ps(),
                };
                let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(r1, r0));
                let pairs = _mm512_permutexvar_epi16(interleave, both);
                _mm512_storeu_si512(out.as_mut_ptr() as *mut _, pairs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::tests::pseudo;

    /// Against an f64 sum of the bf16-rounded operands: ragged rows, columns and
    /// depths, strided rows, accumulate and overwrite.
    #[test]
    fn the_tile_product_sums_the_rounded_operands() {
        if !available() {
            eprintln!("this CPU (or kernel) gives no AMX tiles: their product is not run here");
            return;
        }
        let round = |x: f32| half::bf16::from_f32(x).to_f64();
        for (m, k, n) in [
            (1, 1, 1),
            (5, 3, 7),
            (32, 32, 32),
            (33, 65, 47),
            (100, 32, 64),
            (25, 600, 130),
        ] {
            for accumulate in [false, true] {
                // `a` rows 3 apart from a wider buffer, to check the row stride.
                let a_data = pseudo(m * (k + 3), 1);
                let b_data = pseudo(k * n, 2);
                let a = Matrix {
                    data: &a_data,
                    rows: m,
                    cols: k,
                    row_stride: k + 3,
                    col_stride: 1,
                    bf16: None,
                };
                let b = Matrix::row_major(&b_data, k, n);
                let start = pseudo(m * n, 3);
                let mut out = if accumulate {
                    start.clone()
                } else {
                    vec![f32::NAN; m * n]
                };
                unsafe { product_amx(a, b, &mut out, accumulate) };
                for r in 0..m {
                    for c in 0..n {
                        let mut want = if accumulate {
                            start[r * n + c] as f64
                        } else {
                            0.0
                        };
                        for p in 0..k {
                            want += round(a_data[r * (k + 3) + p]) * round(b_data[p * n + c]);
                        }
                        let got = out[r * n + c] as f64;
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + want.abs()) * (k as f64).sqrt(),
                            "({m}, {k}, {n}) accumulate {accumulate}: [{r}, {c}] {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// A layer's weights converted once (and a run of their rows, as a split pass takes
    /// them) give exactly the products that converting them per product gives.
    #[test]
    fn weights_converted_once_give_the_products_of_a_fresh_conversion() {
        if !available() {
            eprintln!("this CPU (or kernel) gives no AMX tiles: their product is not run here");
            return;
        }
        for (m, k, n, first) in [(40, 70, 33, 0), (40, 70, 33, 13), (256, 300, 25, 128)] {
            let (a_data, b_data) = (pseudo(m * k, 4), pseudo(k * n, 5));
            let (a, b) = (
                Matrix::row_major(&a_data, m, k),
                Matrix::row_major(&b_data, k, n),
            );
            let rows = m - first;
            let fresh = |a: Matrix, b: Matrix| {
                let mut out = vec![0.0; rows * n];
                unsafe { product_amx(a, b, &mut out, false) };
                out
            };
            let want = fresh(a.rows_from(first, rows), b);
            let (a16, depth) = unsafe { rows_bf16(a) };
            let (b16, cols) = unsafe { pairs_bf16(b) };
            let a_once = a.with_bf16(Some(Bf16Copy::Rows { data: &a16, depth }));
            let b_once = b.with_bf16(Some(Bf16Copy::Pairs { data: &b16, cols }));
            assert_eq!(
                fresh(a_once.rows_from(first, rows), b_once),
                want,
                "({m}, {k}, {n}) from row {first}"
            );
        }
    }
}
