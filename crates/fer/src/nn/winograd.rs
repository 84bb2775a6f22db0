//! Convolutions by Winograd's minimal filtering F(m x m, r x r): each m x m block of
//! outputs comes from a t x t input patch (t = m + r - 1) with t^2 multiplies per (input,
//! output) channel pair instead of r^2 m^2, so the convolution is t^2 products
//! `[tiles, cin] x [cin, cout]`. For 3x3 kernels F(2x2) does 2.25x fewer
//! multiply-accumulates than im2col (1.56x at 5x5, whose 3x3 tiles cover 6x6), F(4x4) 4x
//! where its tiles divide the map, for more work in its transforms; for paper-table's
//! 7x7 ones F(2x2) does 3.06x fewer and F(3x3), which runs, 5.44x. The filters are
//! transformed once, at load.
//!
//! Inside the layer the data are channel-last (`[position, channel]`): the transforms
//! then run along whole channel vectors (16-384 long) rather than along a row of a few
//! tiles, and the products have the channels as their output rows, which suits the
//! SGEMM kernels when there are few tiles (1.2-1.6x faster at 9-25 tiles, docs/RESULTS.md).
//!
//! 3x3 kernels use the transforms written out below ([`input_row`], [`output_row`]);
//! other sizes use matrices built by Toom-Cook ([`toom_cook`]) and applied row by row.

use super::simd::vectorized;
use super::{as_uninit, bf16_pairs, gemm, written_whole, Bf16Weights, Conv2d, Epilogue};
use super::{scratch_of, Matrix, Product, Tensor, WINOGRAD_SCRATCH};
use rayon::prelude::*;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Range;

/// A stride-1 convolution (any odd kernel, any padding under the kernel) run by
/// Winograd's F(m x m, r x r): same outputs as [`Conv2d`] up to rounding.
#[derive(Debug, Clone)]
pub struct Winograd {
    pub cin: usize,
    pub cout: usize,
    /// Kernel side r.
    k: usize,
    pad: usize,
    /// Output tile side m.
    tile: usize,
    /// `B^T` (`[t, t]`) and `A^T` (`[m, t]`), row-major, for kernels other than 3x3.
    input_matrix: Vec<f32>,
    output_matrix: Vec<f32>,
    /// `[t * t, cin, cout]`: the transformed filter `G g G^T`, one matrix per position,
    /// transposed.
    transformed: Vec<f32>,
    /// `transformed` in bf16 where products run in bf16: each position's matrix as
    /// pairs, one after the other, and the padded columns of a pair row.
    bf16: Bf16Weights<(Vec<u32>, usize)>,
    bias: Vec<f32>,
}

thread_local! {
    /// A thread's buffers for the input transform (the padded plane, one row of
    /// pixels, a row of tiles' row combinations), taken for a call and put back: kept
    /// between layers and passes, like `WINOGRAD_SCRATCH`.
    static INPUT_SCRATCH: std::cell::RefCell<[Vec<f32>; 3]> =
        const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    /// The output transform's (a tile's row combinations, a row of tiles' outputs, a
    /// pooled row), likewise.
    static OUTPUT_SCRATCH: std::cell::RefCell<[Vec<f32>; 3]> =
        const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// The largest patch side t any supported F(m x m, r x r) uses (F(3x3, 7x7): 9).
const MAX_PATCH: usize = 10;

/// Interpolation points of the Toom-Cook matrices, the first t - 1 of them taken (plus
/// the point at infinity): small powers of two and their negatives keep the transforms
/// exact or nearly so in f32. The ninth, for F(3x3, 7x7), is +-3/4: of 3, 4, 1/4, 1/3,
/// 5/4, 7/8 and 5/8 it gave the smallest error against the direct convolution (1.5e-3
/// on outputs up to 21; +-3 gave 4.1e-3).
const POINTS: [f64; 9] = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.75, -0.75];

/// `(B^T, G, A^T)` of F(m, r), row-major `[t, t]`, `[t, r]`, `[m, t]`: the correlation
/// `y[i] = sum_k g[k] d[i + k]` is `A^T ((G g) * (B^T d))`. Derived as the transpose of
/// the Toom-Cook linear convolution: evaluate at the points, multiply, interpolate;
/// `B^T` row j holds the coefficients of `prod_{l != j} (x - p_l)` (the last row: of the
/// product over all points), with the Lagrange denominators moved into `G`.
pub fn toom_cook(m: usize, r: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let t = m + r - 1;
    assert!(
        t - 1 <= POINTS.len(),
        "F({m}, {r}) needs more interpolation points"
    );
    let points = &POINTS[..t - 1];
    // Coefficients (lowest power first) of prod (x - p) over `roots`.
    let poly = |roots: &mut dyn Iterator<Item = f64>| {
        let mut c = vec![1.0];
        for p in roots {
            let mut next = vec![0.0; c.len() + 1];
            for (i, v) in c.iter().enumerate() {
                next[i + 1] += v;
                next[i] -= p * v;
            }
            c = next;
        }
        c
    };
    let mut b_t = vec![0.0; t * t];
    let mut g = vec![0.0; t * r];
    let mut a_t = vec![0.0; m * t];
    for (j, &p) in points.iter().enumerate() {
        let others = || points.iter().enumerate().filter(move |&(l, _)| l != j);
        let coefficients = poly(&mut others().map(|(_, &q)| q));
        b_t[j * t..j * t + coefficients.len()].copy_from_slice(&coefficients);
        let denominator: f64 = others().map(|(_, &q)| p - q).product();
        for k in 0..r {
            g[j * r + k] = p.powi(k as i32) / denominator;
        }
        for i in 0..m {
            a_t[i * t + j] = p.powi(i as i32);
        }
    }
    b_t[(t - 1) * t..].copy_from_slice(&poly(&mut points.iter().copied()));
    g[(t - 1) * r + r - 1] = 1.0;
    a_t[(m - 1) * t + t - 1] = 1.0;
    (b_t, g, a_t)
}

/// `dst = sum_j coefficients[j] * vectors[j]`, a block of lanes at a time so the sums
/// stay in registers.
#[inline(always)]
fn combine(coefficients: &[f32], vectors: &[&[f32]], dst: &mut [f32]) {
    const BLOCK: usize = 16;
    let n = dst.len();
    let whole = n - n % BLOCK;
    for (b, out) in dst[..whole].chunks_exact_mut(BLOCK).enumerate() {
        let mut sum = [0f32; BLOCK];
        for (&c, v) in coefficients.iter().zip(vectors) {
            let v = &v[b * BLOCK..(b + 1) * BLOCK];
            for (s, a) in sum.iter_mut().zip(v) {
                *s += c * a;
            }
        }
        out.copy_from_slice(&sum);
    }
    for (i, out) in dst.iter_mut().enumerate().skip(whole) {
        *out = coefficients
            .iter()
            .zip(vectors)
            .map(|(c, v)| c * v[i])
            .sum();
    }
}

/// `G` (`[m + 2, 3]`, row-major) of F(2x2, 3x3) and F(4x4, 3x3), interpolation points
/// 0, +-1, (+-2,) infinity. `B^T` and `A^T` are written out in [`input_row`] and
/// [`output_row`].
#[rustfmt::skip]
const FILTER_TRANSFORM_2: [f32; 12] = [
    1.0, 0.0, 0.0,
    0.5, 0.5, 0.5,
    0.5, -0.5, 0.5,
    0.0, 0.0, 1.0,
];
#[rustfmt::skip]
const FILTER_TRANSFORM_4: [f32; 18] = [
    1.0 / 4.0, 0.0, 0.0,
    -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
    -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
    1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
    1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
    0.0, 0.0, 1.0,
];

/// `dst[i] = f(a[i], b[i], ...)` over whole vectors; the slices are cut to `dst`'s
/// length first so the loop compiles to vector code without bounds checks.
macro_rules! lanes {
    ($dst:expr, |$($v:ident),+| $f:expr, $($src:expr),+) => {{
        let dst: &mut [f32] = $dst;
        let n = dst.len();
        let ($($v,)+) = ($(&$src[..n],)+);
        for i in 0..n {
            let ($($v,)+) = ($($v[i],)+);
            dst[i] = $f;
        }
    }};
}

/// Row `r` of F(m x m)'s `B^T` applied to the m + 2 vectors `d`. Inlined into loops
/// over constant `M` and `r`, so the match resolves at compile time. One row of the
/// matrix per line (hence no rustfmt).
#[inline(always)]
#[rustfmt::skip]
fn input_row<const M: usize>(r: usize, d: &[&[f32]], dst: &mut [f32]) {
    match (M, r) {
        (2, 0) => lanes!(dst, |a, b| a - b, d[0], d[2]),
        (2, 1) => lanes!(dst, |a, b| a + b, d[1], d[2]),
        (2, 2) => lanes!(dst, |a, b| b - a, d[1], d[2]),
        (2, 3) => lanes!(dst, |a, b| a - b, d[1], d[3]),
        (4, 0) => lanes!(dst, |a, b, c| 4.0 * a - 5.0 * b + c, d[0], d[2], d[4]),
        (4, 1) => lanes!(dst, |a, b, c, e| -4.0 * (a + b) + c + e, d[1], d[2], d[3], d[4]),
        (4, 2) => lanes!(dst, |a, b, c, e| 4.0 * (a - b) - c + e, d[1], d[2], d[3], d[4]),
        (4, 3) => lanes!(dst, |a, b, c, e| 2.0 * (c - a) - b + e, d[1], d[2], d[3], d[4]),
        (4, 4) => lanes!(dst, |a, b, c, e| 2.0 * (a - c) - b + e, d[1], d[2], d[3], d[4]),
        (4, 5) => lanes!(dst, |a, b, c| 4.0 * a - 5.0 * b + c, d[1], d[3], d[5]),
        _ => unreachable!("F({M}x{M}) has no input row {r}"),
    }
}

/// Row `r` of F(m x m)'s `A^T` applied to the m + 2 vectors `p` (inlined like
/// [`input_row`]).
#[inline(always)]
#[rustfmt::skip]
fn output_row<const M: usize>(r: usize, p: &[&[f32]], dst: &mut [f32]) {
    match (M, r) {
        (2, 0) => lanes!(dst, |a, b, c| a + b + c, p[0], p[1], p[2]),
        (2, 1) => lanes!(dst, |a, b, c| a - b - c, p[1], p[2], p[3]),
        (4, 0) => lanes!(dst, |a, b, c, d, e| a + b + c + d + e, p[0], p[1], p[2], p[3], p[4]),
        (4, 1) => lanes!(dst, |a, b, c, d| a - b + 2.0 * (c - d), p[1], p[2], p[3], p[4]),
        (4, 2) => lanes!(dst, |a, b, c, d| a + b + 4.0 * (c + d), p[1], p[2], p[3], p[4]),
        (4, 3) => lanes!(dst, |a, b, c, d, e| a - b + 8.0 * (c - d) + e, p[1], p[2], p[3], p[4], p[5]),
        _ => unreachable!("F({M}x{M}) has no output row {r}"),
    }
}

/// The first `t` of `MAX_PATCH` slices, `f(0)..f(t - 1)` (the rest empty).
#[inline(always)]
fn slices<'a>(t: usize, f: impl Fn(usize) -> &'a [f32]) -> [&'a [f32]; MAX_PATCH] {
    let mut out: [&[f32]; MAX_PATCH] = [&[]; MAX_PATCH];
    for (i, slice) in out.iter_mut().enumerate().take(t) {
        *slice = f(i);
    }
    out
}

/// `dst[c * dst_stride + r] = src[r * src_stride + c]` for `r < rows`, `c < cols`, in
/// 8x8 blocks, so both sides are read and written a few cache lines at a time.
#[inline(always)]
fn transpose(
    src: &[f32],
    src_stride: usize,
    (rows, cols): (usize, usize),
    dst: &mut [MaybeUninit<f32>],
    dst_stride: usize,
) {
    const BLOCK: usize = 8;
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            if r0 + BLOCK <= rows && c0 + BLOCK <= cols {
                // A whole block: 8 row loads, then 8 row stores of its columns, which
                // the compiler turns into shuffles in registers.
                let mut block = [[0f32; BLOCK]; BLOCK];
                for (r, line) in block.iter_mut().enumerate() {
                    let at = (r0 + r) * src_stride + c0;
                    line.copy_from_slice(&src[at..at + BLOCK]);
                }
                for c in 0..BLOCK {
                    let at = (c0 + c) * dst_stride + r0;
                    for (value, line) in dst[at..at + BLOCK].iter_mut().zip(&block) {
                        value.write(line[c]);
                    }
                }
                continue;
            }
            for c in c0..(c0 + BLOCK).min(cols) {
                for r in r0..(r0 + BLOCK).min(rows) {
                    dst[c * dst_stride + r].write(src[r * src_stride + c]);
                }
            }
        }
    }
}

/// `0..n` in ranges for `ways` threads, each a whole number of `block`s (16 channels
/// are a vector register at AVX-512) where there are enough; one range when `ways` is 1.
fn shares(n: usize, block: usize, ways: usize) -> Vec<Range<usize>> {
    let blocks = n.div_ceil(block);
    let ways = ways.clamp(1, blocks.max(1));
    let per = blocks.div_ceil(ways) * block;
    (0..n)
        .step_by(per.max(1))
        .map(|start| start..(start + per).min(n))
        .collect()
}

/// `out` cut into the planes of each channel range of `shares` (which tile `0..c`).
fn split_planes<'a>(
    out: &'a mut [MaybeUninit<f32>],
    shares: &[Range<usize>],
    plane: usize,
) -> Vec<&'a mut [MaybeUninit<f32>]> {
    let mut rest = out;
    let mut parts = Vec::with_capacity(shares.len());
    for share in shares {
        let (part, tail) = rest.split_at_mut(share.len() * plane);
        parts.push(part);
        rest = tail;
    }
    parts
}

/// A buffer that several threads write disjoint parts of (a thread's rows of tiles in
/// each of Winograd's t * t matrices of V): each part is borrowed alone, never the whole.
pub(super) struct Disjoint<'a> {
    data: *mut f32,
    len: usize,
    _buffer: PhantomData<&'a mut [f32]>,
}

// Safety: the buffer is only reached through `part`, whose callers keep parts disjoint.
unsafe impl Send for Disjoint<'_> {}
unsafe impl Sync for Disjoint<'_> {}

impl<'a> Disjoint<'a> {
    pub(super) fn new(buffer: &'a mut [f32]) -> Self {
        Disjoint {
            data: buffer.as_mut_ptr(),
            len: buffer.len(),
            _buffer: PhantomData,
        }
    }

    /// `len` floats from `at`.
    ///
    /// # Safety
    /// No other live part may overlap this one.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    unsafe fn part(&self, at: usize, len: usize) -> &mut [f32] {
        assert!(at + len <= self.len, "part {at}+{len} of {}", self.len);
        std::slice::from_raw_parts_mut(self.data.add(at), len)
    }
}

impl Winograd {
    /// Layers with fewer input channels stay on im2col: slimvgg's first layer (one
    /// channel) takes 0.02 ms of a 2.1 ms pass, nothing worth transforming for.
    pub const MIN_INPUT_CHANNELS: usize = 16;

    /// The output tile side that pays for a 3x3 kernel on a `side` x `side` map, if any
    /// (docs/RESULTS.md): F(4x4) from 16 (1.6-2.3x faster than im2col at 20x20 and 40x40
    /// alone, against 1.3-1.8x for F(2x2)); F(2x2) from 8 (as fast as F(4x4) at 10x10,
    /// where 4x4 tiles overhang by 44%, with smaller filters). At 5x5, F(2x2) alone runs
    /// 1.3x faster than im2col, but its filters take 1.78x the memory, and the shipped
    /// cascade at batch 1, which streams every member's weights from memory, got slower
    /// with it.
    pub fn tile_for_side(side: usize) -> Option<usize> {
        match side {
            0..8 => None,
            8..16 => Some(2),
            _ => Some(4),
        }
    }

    /// Kernels larger than 3x3 run by F(3x3) on outputs at least this wide: on
    /// paper-table's 7x7 layers F(3x3) ran 3.5x faster than im2col with a 36x36 output
    /// and 2.2x with 12x12 (F(2x2): 1.9x and 1.7x, its transforms costing more per
    /// output), but 0.9x with 6x6, where its filters (81 matrices of `cin x cout`)
    /// outweigh the work they save (one core, `layer_profile paper-table`,
    /// docs/RESULTS.md).
    pub const LARGE_KERNEL_MIN_OUTPUT: usize = 12;

    /// The Winograd form of `conv` for inputs `side` pixels high and wide, or None where
    /// it does not apply or would not pay: 3x3 pad-1 kernels by [`Self::tile_for_side`],
    /// larger ones by [`Self::LARGE_KERNEL_MIN_OUTPUT`].
    pub fn from_conv(conv: &Conv2d, side: usize) -> Option<Winograd> {
        let tile = if conv.k == 3 && conv.pad == 1 {
            Self::tile_for_side(side)?
        } else if (side + 2 * conv.pad + 1).saturating_sub(conv.k) >= Self::LARGE_KERNEL_MIN_OUTPUT
        {
            3
        } else {
            return None;
        };
        Self::with_tile(conv, tile)
    }

    /// The Winograd form for batches of `side` x `side` maps where [`Self::from_conv`]
    /// keeps a 3x3 kernel direct: F(2x2) on maps of 4-7 pixels (the vgg networks' 5x5
    /// layers, 1.56x fewer multiplies). Over a batch these products are compute-bound
    /// and it pays (`layer_profile`, f32, 64 images batched: slimvgg 8-16% and widevgg
    /// 2-12% faster per image on AVX2 and AVX-512); one image at a time streams its
    /// 1.78x larger filters, and was 7-31% slower (widevgg on AVX-512).
    pub fn for_batches(conv: &Conv2d, side: usize) -> Option<Winograd> {
        let small = conv.k == 3 && conv.pad == 1 && (4..8).contains(&side);
        if !small || Self::tile_for_side(side).is_some() {
            return None;
        }
        Self::with_tile(conv, 2)
    }

    /// `conv` by F(tile x tile, k x k), or None where it does not apply (stride-1 only;
    /// 3x3 kernels with pad 1 take tiles 2 and 4, other odd kernels up to 7 tiles 2 and
    /// 3) or would not pay (too few input channels).
    pub fn with_tile(conv: &Conv2d, tile: usize) -> Option<Winograd> {
        let (k, pad) = (conv.k, conv.pad);
        let written_out = k == 3 && pad == 1 && matches!(tile, 2 | 4);
        let by_matrices = k != 3 && k % 2 == 1 && k <= 7 && pad < k && matches!(tile, 2 | 3);
        if !(written_out || by_matrices) || conv.cin < Self::MIN_INPUT_CHANNELS {
            return None;
        }
        let (cin, cout, t) = (conv.cin, conv.cout, tile + k - 1);
        let to_f32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let (g, input_matrix, output_matrix) = match (written_out, tile) {
            (true, 2) => (FILTER_TRANSFORM_2.to_vec(), Vec::new(), Vec::new()),
            (true, _) => (FILTER_TRANSFORM_4.to_vec(), Vec::new(), Vec::new()),
            _ => {
                let (b_t, g, a_t) = toom_cook(tile, k);
                (to_f32(g), to_f32(b_t), to_f32(a_t))
            }
        };
        let mut transformed = vec![0f32; t * t * cin * cout];
        let mut gg = vec![0f32; t * k];
        for o in 0..cout {
            for i in 0..cin {
                let w = &conv.weight[(o * cin + i) * k * k..(o * cin + i + 1) * k * k];
                // G w: [t, k], then (G w) G^T: [t, t].
                for (rc, v) in gg.iter_mut().enumerate() {
                    let (r, c) = (rc / k, rc % k);
                    *v = (0..k).map(|j| g[r * k + j] * w[j * k + c]).sum();
                }
                for r in 0..t {
                    for c in 0..t {
                        let v: f32 = (0..k).map(|j| gg[r * k + j] * g[c * k + j]).sum();
                        transformed[((r * t + c) * cin + i) * cout + o] = v;
                    }
                }
            }
        }
        Some(Winograd {
            cin,
            cout,
            k,
            pad,
            tile,
            input_matrix,
            output_matrix,
            transformed,
            bf16: Bf16Weights::default(),
            bias: conv.bias.clone(),
        })
    }

    /// Output tile side m of this layer's F(m x m, r x r).
    pub fn tile(&self) -> usize {
        self.tile
    }

    /// Input patch side t = m + r - 1.
    pub(super) fn patch(&self) -> usize {
        self.tile + self.k - 1
    }

    /// Output side for an input side.
    pub(super) fn out_side(&self, side: usize) -> usize {
        side + 2 * self.pad + 1 - self.k
    }

    /// Row `r` of `B^T` applied to the t vectors `d`.
    #[inline(always)]
    fn input_row(&self, r: usize, d: &[&[f32]], dst: &mut [f32]) {
        match (self.k, self.tile) {
            (3, 2) => input_row::<2>(r, d, dst),
            (3, 4) => input_row::<4>(r, d, dst),
            _ => {
                let t = self.patch();
                combine(&self.input_matrix[r * t..(r + 1) * t], d, dst)
            }
        }
    }

    /// Row `r` of `A^T` applied to the t vectors `p`.
    #[inline(always)]
    fn output_row(&self, r: usize, p: &[&[f32]], dst: &mut [f32]) {
        match (self.k, self.tile) {
            (3, 2) => output_row::<2>(r, p, dst),
            (3, 4) => output_row::<4>(r, p, dst),
            _ => {
                let t = self.patch();
                combine(&self.output_matrix[r * t..(r + 1) * t], p, dst)
            }
        }
    }

    /// Product `xi` of the t * t: M[xi] = V[xi] U[xi], `[tiles, cin] x [cin, cout]`, from
    /// V laid out `[t * t, tiles, cin]`.
    pub(super) fn product(&self, v: &[f32], xi: usize, tiles: usize, out: &mut [f32]) {
        let v_len = tiles * self.cin;
        gemm(
            Matrix::row_major(&v[xi * v_len..(xi + 1) * v_len], tiles, self.cin),
            self.filter_matrix(xi),
            out,
            Product::Overwrite,
        )
    }

    /// Position `xi`'s transformed filter, `[cin, cout]`, with its bf16 copy where
    /// products run in bf16.
    fn filter_matrix(&self, xi: usize) -> Matrix<'_> {
        let u_len = self.cin * self.cout;
        let at = |xi: usize| {
            Matrix::row_major(
                &self.transformed[xi * u_len..(xi + 1) * u_len],
                self.cin,
                self.cout,
            )
        };
        let positions = self.patch() * self.patch();
        at(xi).with_bf16(bf16_pairs(&self.bf16, positions, xi, at))
    }

    /// Tiles per column and per row of the output for an `h` x `w` input.
    pub(super) fn tiles(&self, h: usize, w: usize) -> (usize, usize) {
        let m = self.tile;
        (self.out_side(h).div_ceil(m), self.out_side(w).div_ceil(m))
    }

    // [cin, h, w] -> [cout, h + 2p - k + 1, w + 2p - k + 1]
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_split(x, 1)
    }

    /// [`Self::forward`] with its products shared out `ways` ways over the rayon pool.
    pub fn forward_split(&self, x: &Tensor, ways: usize) -> Tensor {
        self.forward_fused(x, ways, Epilogue::NONE)
    }

    /// Whether this layer's output transform can take a 2x2 max pool: its tiles have an
    /// even side, so no pooling window straddles two rows of tiles.
    pub fn pools(&self) -> bool {
        self.tile.is_multiple_of(2)
    }

    /// [`Self::forward_split`] followed by what `epilogue` asks, done as the output
    /// transform writes each row of tiles (same values as a ReLU and a pool after it).
    pub fn forward_fused(&self, x: &Tensor, ways: usize, epilogue: Epilogue) -> Tensor {
        assert_eq!(x.c, self.cin, "conv input channels");
        assert!(
            !epilogue.pool || self.pools(),
            "pooling fused into odd tiles"
        );
        let t = self.patch();
        let (th, tw) = self.tiles(x.h, x.w);
        let tiles = th * tw;
        let (v_len, m_len) = (tiles * self.cin, tiles * self.cout);
        // V and M are written whole before they are read, so the thread's buffers from
        // the last layer serve again without allocating or zeroing (a pass's biggest
        // layers would otherwise zero megabytes each).
        WINOGRAD_SCRATCH.with(|scratch| {
            let (v, prod) = &mut *scratch.borrow_mut();
            let (v, prod) = (
                scratch_of(v, t * t * v_len),
                scratch_of(prod, t * t * m_len),
            );
            // The input transform splits by rows of tiles (a thread's share of each of
            // V's t * t matrices is a run of whole tiles), the output one by channels
            // (whole planes).
            let inputs = shares(th, 1, ways);
            let target = Disjoint::new(v);
            let transform = |bands| self.transform_input_at(x, &target, 0, tiles, bands);
            if inputs.len() > 1 {
                inputs.into_par_iter().for_each(transform);
            } else {
                inputs.into_iter().for_each(transform);
            }
            let v: &[f32] = v;
            let product = |(xi, out): (usize, &mut [f32])| self.product(v, xi, tiles, out);
            // The t * t products are independent: whole products go to the threads.
            let m_len = m_len.max(1); // chunks of 0 would panic; an empty map has none
            if ways > 1 {
                prod.par_chunks_mut(m_len).enumerate().for_each(product);
            } else {
                prod.chunks_mut(m_len).enumerate().for_each(product);
            }
            let (oh, ow) = epilogue.side(self.out_side(x.h), self.out_side(x.w));
            let outputs = shares(self.cout, 16, ways);
            let prod: &[f32] = prod;
            let transform = |(channels, planes): (Range<usize>, &mut [MaybeUninit<f32>])| {
                let input = ((x.h, x.w), (0, tiles));
                self.transform_output_at(prod, input, channels, epilogue, planes)
            };
            let data = written_whole(self.cout * oh * ow, |out| {
                let parts = split_planes(out, &outputs, oh * ow);
                if parts.len() > 1 {
                    outputs.into_par_iter().zip(parts).for_each(transform);
                } else {
                    outputs.into_iter().zip(parts).for_each(transform);
                }
            });
            Tensor {
                c: self.cout,
                h: oh,
                w: ow,
                data,
            }
        })
    }

    /// The whole output of one image of a batch's products, on this thread.
    pub(super) fn output_of(
        &self,
        prod: &[f32],
        (h, w): (usize, usize),
        tiles: (usize, usize),
        epilogue: Epilogue,
    ) -> Tensor {
        let (oh, ow) = epilogue.side(self.out_side(h), self.out_side(w));
        let data = written_whole(self.cout * oh * ow, |out| {
            self.transform_output_at(prod, ((h, w), tiles), 0..self.cout, epilogue, out)
        });
        Tensor {
            c: self.cout,
            h: oh,
            w: ow,
            data,
        }
    }

    vectorized! {
        /// V = B^T d B for every tile of `x` into a batch's V, `[t * t, all_tiles, cin]`
        /// (position `xi = t * row_combination + column_combination`), this image's tiles
        /// from `first_tile`. The input is first copied channel-last into a zero-padded
        /// plane (the padding left/top, the padding and the rest of the last tiles
        /// right/bottom); the row combinations of a row of tiles are shared by its tiles.
        pub(super) fn transform_input_at(
            &self: Winograd,
            x: &Tensor,
            v: &Disjoint,
            first_tile: usize,
            all_tiles: usize,
            bands: Range<usize>,
        ) = transform_input_body;
    }

    #[inline(always)]
    fn transform_input_body(
        &self,
        x: &Tensor,
        v: &Disjoint,
        first_tile: usize,
        all_tiles: usize,
        bands: Range<usize>,
    ) {
        let (h, w, m, cin, p) = (x.h, x.w, self.tile, self.cin, self.pad);
        let t = self.patch();
        let (_, tw) = self.tiles(h, w);
        // The padded plane's rows hold their columns by phase: column `m * g + q` at
        // `[q][g]` (`groups` per phase), so a tile column's combination over a whole
        // row of tiles reads one contiguous run, and both passes below combine long
        // vectors (a row, a row of tiles) instead of one channel vector at a time.
        let groups = (m * tw + t - m).div_ceil(m);
        let row_len = m * groups * cin;
        // The padded rows this share of bands reads.
        let (first_row, end_row) = (m * bands.start, m * bands.end + t - m);
        let mut scratch = INPUT_SCRATCH.with_borrow_mut(std::mem::take);
        let [padded, pixels, rows] = &mut scratch;
        // Every value of the three buffers is written below (the padding as zeros), so
        // they are reused as they are.
        let padded = scratch_of(padded, (end_row - first_row) * row_len);
        let pixels = scratch_of(pixels, w * cin);
        let phase_of = |column: usize| ((column % m) * groups + column / m) * cin;
        for (row, dst_row) in padded.chunks_exact_mut(row_len).enumerate() {
            let y = (first_row + row).wrapping_sub(p);
            if y >= h {
                dst_row.fill(0.0);
                continue;
            }
            // One input row channel-last, then each pixel's channels copied whole to
            // its phase (a strided element-by-element gather was 45% of this function).
            transpose(&x.data[y * w..], h * w, (cin, w), as_uninit(pixels), cin);
            for (i, channels) in pixels.chunks_exact(cin).enumerate() {
                let at = phase_of(i + p);
                dst_row[at..at + cin].copy_from_slice(channels);
            }
            for column in (0..p).chain(w + p..m * groups) {
                dst_row[phase_of(column)..phase_of(column) + cin].fill(0.0);
            }
        }
        // B^T d for one row of tiles: [t rows][row_len], phase-ordered like `padded`.
        let rows = scratch_of(rows, t * row_len);
        for ty in bands {
            let band = &padded[(m * ty - first_row) * row_len..];
            for (r, out) in rows.chunks_exact_mut(row_len).enumerate() {
                let d = slices(t, |i| &band[i * row_len..(i + 1) * row_len]);
                self.input_row(r, &d[..t], out);
            }
            // ... then the same combinations of each tile's columns, for the whole row
            // of tiles at once: column j of tile tx is phase j % m, group tx + j / m.
            let run = tw * cin;
            for r in 0..t {
                let d = slices(t, |j| {
                    let at = r * row_len + ((j % m) * groups + j / m) * cin;
                    &rows[at..at + run]
                });
                for c in 0..t {
                    let at = ((r * t + c) * all_tiles + first_tile + ty * tw) * cin;
                    // Safety: a call writes only its own rows of tiles.
                    self.input_row(c, &d[..t], unsafe { v.part(at, run) });
                }
            }
        }
        INPUT_SCRATCH.set(scratch);
    }

    vectorized! {
        /// Y = A^T M A plus the bias for every tile of an `h` x `w` input, from a batch's
        /// products (`[t * t, all_tiles, cout]`, this image's tiles from `first_tile`),
        /// then the epilogue, written back channel-first (every value of `out`); the last
        /// tiles of a side that m does not divide drop their outputs past the edge.
        pub(super) fn transform_output_at(
            &self: Winograd,
            prod: &[f32],
            input: ((usize, usize), (usize, usize)),
            channels: Range<usize>,
            epilogue: Epilogue,
            out: &mut [MaybeUninit<f32>],
        ) = transform_output_body;
    }

    #[inline(always)]
    fn transform_output_body(
        &self,
        prod: &[f32],
        ((h, w), (first_tile, all_tiles)): ((usize, usize), (usize, usize)),
        channels: Range<usize>,
        epilogue: Epilogue,
        out: &mut [MaybeUninit<f32>],
    ) {
        let (m, cout) = (self.tile, self.cout);
        let (first, n) = (channels.start, channels.len());
        let t = self.patch();
        let (th, tw) = self.tiles(h, w);
        let (oh, ow) = (self.out_side(h), self.out_side(w));
        let (out_h, out_w) = epilogue.side(oh, ow);
        assert_eq!(out.len(), n * out_h * out_w, "output planes");
        let bias = &self.bias[channels];
        // A^T M for one tile, [m rows][t columns][n]; then a row of tiles' outputs,
        // channel-last ([m rows][m * tw columns][n]), transposed into `out` a row at
        // a time (writing each pixel's channels straight into the planes took 40% of
        // this function: a cache line per value).
        let band_width = m * tw;
        let mut scratch = OUTPUT_SCRATCH.with_borrow_mut(std::mem::take);
        let [rows, band, pool_row] = &mut scratch;
        // Each is written before it is read (the band and the pooled row whole, a tile's
        // rows whole), so they are reused as they are.
        let rows = scratch_of(rows, m * t * n);
        let band = scratch_of(band, m * band_width * n);
        let pool_row = scratch_of(pool_row, if epilogue.pool { out_w * n } else { 0 });
        for ty in 0..th {
            for tx in 0..tw {
                let tile = first_tile + ty * tw + tx;
                for c in 0..t {
                    let p = slices(t, |k| {
                        let at = ((k * t + c) * all_tiles + tile) * cout + first;
                        &prod[at..at + n]
                    });
                    for r in 0..m {
                        let at = (r * t + c) * n;
                        self.output_row(r, &p[..t], &mut rows[at..at + n]);
                    }
                }
                for r in 0..m {
                    let p = slices(t, |k| {
                        let at = (r * t + k) * n;
                        &rows[at..at + n]
                    });
                    for c in 0..m {
                        let at = (r * band_width + m * tx + c) * n;
                        let pixel = &mut band[at..at + n];
                        self.output_row(c, &p[..t], pixel);
                        if epilogue.relu {
                            for (value, bias) in pixel.iter_mut().zip(bias) {
                                *value = (*value + bias).max(0.0);
                            }
                        } else {
                            for (value, bias) in pixel.iter_mut().zip(bias) {
                                *value += bias;
                            }
                        }
                    }
                }
            }
            if epilogue.pool {
                // Each pair of the band's rows pooled into one row (the maximum of each
                // 2x2 window's channel vectors), written out as the pooled map's row y.
                for r in 0..m / 2 {
                    let y = m / 2 * ty + r;
                    if y >= out_h {
                        break;
                    }
                    let (upper, lower) = band.split_at((2 * r + 1) * band_width * n);
                    let top = &upper[2 * r * band_width * n..];
                    for x in 0..out_w {
                        let (left, right) = (2 * x * n, (2 * x + 1) * n);
                        let pooled = &mut pool_row[x * n..(x + 1) * n];
                        lanes!(
                            pooled,
                            |a, b, c, d| a.max(b).max(c.max(d)),
                            top[left..],
                            top[right..],
                            lower[left..],
                            lower[right..]
                        );
                    }
                    transpose(
                        pool_row,
                        n,
                        (out_w, n),
                        &mut out[y * out_w..],
                        out_h * out_w,
                    );
                }
                continue;
            }
            for r in 0..m {
                let y = m * ty + r;
                if y >= oh {
                    break;
                }
                let row = &band[r * band_width * n..];
                transpose(row, n, (ow, n), &mut out[y * ow..], oh * ow);
            }
        }
        OUTPUT_SCRATCH.set(scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::super::simd::{at_level, Simd};
    use super::super::tests::{naive, padded_3x3, pseudo, pseudo_map};
    use super::*;

    fn large_kernel(k: usize, pad: usize, cout: usize) -> Conv2d {
        Conv2d::new(
            16,
            cout,
            k,
            pad,
            pseudo(cout * 16 * k * k, 11),
            pseudo(cout, 12),
        )
    }

    /// The transforms compiled for AVX2 and AVX-512 compute the baseline's floats, bit
    /// for bit, on every level this CPU has (written-out and Toom-Cook transforms, block
    /// and remainder lanes: 16 and 24 input channels, 24 and 5 output channels). The
    /// products agree too: at AVX-512 they run the engine's kernel (`sgemm.rs`), which
    /// sums each output over the depth in order with fused multiply-adds, as `gemm`'s
    /// AVX2 kernels do at these depths.
    #[test]
    fn every_vector_level_computes_the_baseline_floats() {
        let mut cases = vec![];
        for cout in [24, 5] {
            cases.push((padded_3x3(16, cout, 3), 4, 20));
            cases.push((padded_3x3(24, cout, 3), 2, 10));
            cases.push((large_kernel(7, 0, cout), 3, 24));
            cases.push((large_kernel(5, 2, cout), 2, 9));
        }
        for (conv, tile, side) in cases {
            let fast = Winograd::with_tile(&conv, tile).unwrap();
            let x = pseudo_map(conv.cin, side, side, 5);
            // Plain, and with the ReLU and (where the tiles take it) the pool fused in.
            let epilogues = [
                Epilogue::NONE,
                Epilogue {
                    relu: true,
                    pool: fast.pools(),
                },
            ];
            for epilogue in epilogues {
                let run = || fast.forward_fused(&x, 1, epilogue);
                let baseline = at_level(Simd::Baseline, run);
                for level in Simd::available() {
                    let got = at_level(level, run);
                    assert!(
                        got.data
                            .iter()
                            .zip(&baseline.data)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{} differs from the baseline: k{} F{tile} {epilogue:?}",
                        level.name(),
                        conv.k
                    );
                }
            }
        }
    }

    /// The Toom-Cook matrices compute the correlation `y[i] = sum_k g[k] d[i + k]`.
    #[test]
    fn toom_cook_matrices_compute_a_correlation() {
        for (m, r) in [(2, 3), (4, 3), (2, 5), (2, 7), (3, 7)] {
            let t = m + r - 1;
            let (b_t, g_m, a_t) = toom_cook(m, r);
            let g: Vec<f64> = (0..r)
                .map(|k| 0.3 + 0.7 * k as f64 - 0.1 * (k * k) as f64)
                .collect();
            let d: Vec<f64> = (0..t).map(|i| (i as f64 * 1.7).sin()).collect();
            let u: Vec<f64> = (0..t)
                .map(|j| (0..r).map(|k| g_m[j * r + k] * g[k]).sum())
                .collect();
            let v: Vec<f64> = (0..t)
                .map(|j| (0..t).map(|i| b_t[j * t + i] * d[i]).sum())
                .collect();
            for i in 0..m {
                let got: f64 = (0..t).map(|j| a_t[i * t + j] * u[j] * v[j]).sum();
                let want: f64 = (0..r).map(|k| g[k] * d[i + k]).sum();
                assert!(
                    (got - want).abs() < 1e-9,
                    "F({m}, {r}) y[{i}]: {got} vs {want}"
                );
            }
        }
    }

    /// Winograd F(2x2, 3x3) and F(4x4, 3x3), and F(2x2) and F(3x3) of 5x5 and 7x7
    /// kernels with and without padding, give the direct convolution's outputs on sides
    /// the tiles divide and sides they overhang.
    #[test]
    fn winograd_matches_the_direct_convolution() {
        let cout = 5;
        let mut cases = vec![];
        for tile in [2, 4] {
            cases.push((padded_3x3(16, cout, 11), tile));
        }
        for (k, pad, tile) in [(7, 0, 2), (7, 0, 3), (7, 3, 2), (5, 2, 2), (5, 0, 3)] {
            cases.push((large_kernel(k, pad, cout), tile));
        }
        for (conv, tile) in cases {
            let (k, pad) = (conv.k, conv.pad);
            for (h, w) in [(6, 6), (5, 5), (9, 8), (1, 3), (10, 10), (20, 20), (42, 42)] {
                if h + 2 * pad < k || w + 2 * pad < k {
                    continue;
                }
                let x = pseudo_map(16, h, w, 13);
                let want = naive(&conv, &x);
                let fast = Winograd::with_tile(&conv, tile).unwrap();
                assert_eq!(fast.tile(), tile);
                let got = fast.forward(&x);
                let (oh, ow) = (h + 2 * pad + 1 - k, w + 2 * pad + 1 - k);
                assert_eq!((got.c, got.h, got.w), (cout, oh, ow));
                // Sums of up to 16 * 49 terms of size 1: the error grows with the kernel.
                let tolerance = 1e-4 * (k * k) as f32;
                for (a, b) in got.data.iter().zip(&want) {
                    assert!(
                        (a - b).abs() < tolerance,
                        "F{tile} k{k} pad{pad} {h}x{w}: {a} vs {b}"
                    );
                }
            }
        }
    }

    /// The ReLU and 2x2 pool fused into the output transform give exactly what running
    /// them after it gives, on one thread and split, on sides the tiles divide and
    /// sides they overhang, even and odd, alone and over a batch.
    #[test]
    fn fused_relu_and_pool_match_running_them_after() {
        for tile in [2, 4] {
            let fast = Winograd::with_tile(&padded_3x3(16, 20, 5), tile).unwrap();
            assert!(fast.pools());
            for (h, w) in [(5, 5), (6, 6), (9, 8), (10, 10), (2, 3), (1, 1), (20, 20)] {
                let x = pseudo_map(16, h, w, 17);
                let mut want = fast.forward(&x);
                super::super::relu(&mut want.data);
                let pooled = super::super::max_pool2(&want);
                for ways in [1, 2] {
                    for (epilogue, want) in [(true, &pooled), (false, &want)] {
                        let epilogue = Epilogue {
                            relu: true,
                            pool: epilogue,
                        };
                        let got = fast.forward_fused(&x, ways, epilogue);
                        let batch = fast.forward_batch(&[x.clone(), x.clone()], epilogue);
                        for got in [&got, &batch[0], &batch[1]] {
                            assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w));
                            assert!(
                                got.data.iter().zip(&want.data).all(|(a, b)| a == b),
                                "F{tile} {h}x{w} {epilogue:?} on {ways} ways"
                            );
                        }
                    }
                }
            }
        }
        let odd = Winograd::with_tile(&large_kernel(7, 3, 4), 3).unwrap();
        assert!(!odd.pools(), "3x3 tiles would straddle pooling windows");
    }

    /// Convolutions Winograd does not apply to, or would not pay on, stay direct.
    #[test]
    fn winograd_declines_what_it_does_not_apply_to() {
        let direct_only =
            |cin, k, pad| Conv2d::new(cin, 2, k, pad, vec![0.0; 2 * cin * k * k], vec![0.0; 2]);
        assert!(Winograd::from_conv(&direct_only(16, 3, 0), 40).is_none());
        assert!(Winograd::from_conv(&direct_only(1, 3, 1), 40).is_none());
        assert!(Winograd::from_conv(&direct_only(1, 7, 0), 40).is_none());
        assert!(Winograd::with_tile(&direct_only(16, 3, 1), 3).is_none());
        assert!(Winograd::with_tile(&direct_only(16, 4, 0), 2).is_none());
        assert!(Winograd::with_tile(&direct_only(16, 7, 0), 4).is_none());
        let tile = |side| Winograd::from_conv(&direct_only(16, 3, 1), side).map(|f| f.tile());
        assert_eq!(tile(5), None);
        assert_eq!(tile(10), Some(2));
        assert_eq!(tile(20), Some(4));
        assert_eq!(tile(40), Some(4));
        // Batches take F(2x2) on the small maps single images keep direct, and only there.
        let batch_tile =
            |side| Winograd::for_batches(&direct_only(16, 3, 1), side).map(|f| f.tile());
        assert_eq!(batch_tile(5), Some(2));
        assert_eq!(batch_tile(4), Some(2));
        assert_eq!(batch_tile(3), None);
        assert_eq!(batch_tile(10), None, "one image already runs F(2x2) there");
        assert!(Winograd::for_batches(&direct_only(16, 3, 0), 5).is_none());
        assert!(Winograd::for_batches(&direct_only(1, 3, 1), 5).is_none());
        let tile_7x7 = |side| Winograd::from_conv(&direct_only(16, 7, 0), side).map(|f| f.tile());
        assert_eq!(tile_7x7(12), None);
        assert_eq!(tile_7x7(18), Some(3));
        assert_eq!(tile_7x7(42), Some(3));
    }
}
