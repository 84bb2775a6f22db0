//! A small inference engine for the registry's convolutional networks, in pure Rust.
//!
//! Activations are NCHW f32 for one image at a time (`[C, H, W]`); a batch runs in groups
//! of images, one group per thread, each layer's product taking the whole group at once
//! (`batch.rs`: the deep layers' weights are read once per group), and one image on idle
//! cores splits each layer's products
//! (`forward_split`: by output channels, by output units, or Winograd's independent
//! products), so the live camera's face is not left to one core. A convolution is
//! im2col + SGEMM ([`Conv2d`]) or, on maps big enough to pay, Winograd's F(4x4, 3x3) or
//! F(2x2, 3x3), or F(3x3, 7x7) for paper-table ([`Winograd`], `winograd.rs`), computed
//! channel-last inside the layer. On CPUs with AVX-512 the products run the engine's
//! own kernel (`sgemm.rs`); elsewhere they go to `gemm` when narrow and `matrixmultiply`
//! when wide (`GEMM_MAX_COLS`; deep ones to `gemm` at any width), both with AVX2/FMA
//! kernels picked at run time (`gemm`'s AVX-512 ones need a nightly compiler).
//! The engine's own loops (Winograd's transforms) run compiled for AVX2 or AVX-512 by
//! runtime dispatch (`simd.rs`). BatchNorm is folded into the preceding convolution at
//! load time, so inference is conv -> ReLU -> pool -> dense; a Winograd layer applies the
//! ReLU and pool after it in its output transform ([`Epilogue`]). Where products run in
//! bf16 on AMX tiles, a network's convolutions and pools run instead as one
//! [`TileStack`] (`tile_conv.rs`): bf16 channel-last maps read in place by the tiles.

/// One image's activations: `data.len() == c * h * w`.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

use rayon::prelude::*;
use std::mem::MaybeUninit;

#[cfg(target_arch = "x86_64")]
mod amx;
mod batch;
#[cfg(target_arch = "x86_64")]
mod channel_last;
#[cfg(target_arch = "x86_64")]
mod int8_conv;
#[cfg(target_arch = "x86_64")]
pub use int8_conv::Int8Stack;
#[cfg(target_arch = "x86_64")]
mod sgemm;
mod simd;
pub use simd::{Products, Simd};
#[cfg(target_arch = "x86_64")]
mod tile_conv;
#[cfg(target_arch = "x86_64")]
pub use tile_conv::TileStack;

/// Elsewhere than x86-64 there are no AMX tiles: no network gets a tile stack.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone)]
pub struct TileStack(std::convert::Infallible);

#[cfg(not(target_arch = "x86_64"))]
impl TileStack {
    pub fn available() -> bool {
        false
    }

    pub fn new(_layers: &[(&Conv2d, bool)]) -> Option<TileStack> {
        None
    }

    pub fn forward(&self, _x: &Tensor, _ways: usize) -> Tensor {
        match self.0 {}
    }

    pub fn forward_group(&self, _xs: &[Tensor], _ways: usize) -> Vec<Tensor> {
        match self.0 {}
    }
}
/// Elsewhere than x86-64 there are no 8-bit kernels: no network gets an 8-bit stack.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone)]
pub struct Int8Stack(std::convert::Infallible);

#[cfg(not(target_arch = "x86_64"))]
impl Int8Stack {
    pub fn available() -> bool {
        false
    }

    pub fn description() -> &'static str {
        "int8 (not on this CPU)"
    }

    pub fn new(_layers: &[(&Conv2d, bool)]) -> Option<Int8Stack> {
        None
    }

    pub fn forward(&self, _x: &Tensor, _ways: usize) -> Tensor {
        match self.0 {}
    }
}

mod winograd;
pub use winograd::{toom_cook, Winograd};

/// A 2-D convolution with bias (BatchNorm already folded in).
#[derive(Debug, Clone)]
pub struct Conv2d {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub pad: usize,
    /// `[cout, cin * k * k]`, row-major (PyTorch's `[cout, cin, k, k]` flattened).
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    /// `weight` in bf16 where products run in bf16.
    bf16: Bf16Weights<(Vec<u16>, usize)>,
}

impl Conv2d {
    /// A `k` x `k` convolution from `cin` to `cout` channels, `pad` zeros around the
    /// input; `weight` `[cout, cin * k * k]`, row-major.
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        pad: usize,
        weight: Vec<f32>,
        bias: Vec<f32>,
    ) -> Conv2d {
        Conv2d {
            cin,
            cout,
            k,
            pad,
            weight,
            bias,
            bf16: Bf16Weights::default(),
        }
    }

    /// The weights as the left operand of a product (`[cout, cin * k * k]`), with their
    /// bf16 copy where products run in bf16.
    fn weight_matrix(&self) -> Matrix<'_> {
        let m = Matrix::row_major(&self.weight, self.cout, self.cin * self.k * self.k);
        m.with_bf16(bf16_rows(&self.bf16, m))
    }

    /// Folds `y = gamma * (x - mean) / sqrt(var + eps) + beta` into the weights.
    pub fn fold_batchnorm(
        &mut self,
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        var: &[f32],
        eps: f32,
    ) {
        let per_out = self.cin * self.k * self.k;
        for o in 0..self.cout {
            let scale = gamma[o] / (var[o] + eps).sqrt();
            for w in &mut self.weight[o * per_out..(o + 1) * per_out] {
                *w *= scale;
            }
            self.bias[o] = (self.bias[o] - mean[o]) * scale + beta[o];
        }
        self.bf16 = Bf16Weights::default();
    }

    // [cin, h, w] -> [cout, h + 2p - k + 1, w + 2p - k + 1]
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_split(x, 1)
    }

    /// [`Self::forward`] with its product split `ways` ways over the rayon pool.
    pub fn forward_split(&self, x: &Tensor, ways: usize) -> Tensor {
        assert_eq!(x.c, self.cin, "conv input channels");
        let (k, p) = (self.k, self.pad);
        let oh = x.h + 2 * p + 1 - k;
        let ow = x.w + 2 * p + 1 - k;
        let rows = self.cin * k * k;
        let cols = oh * ow;
        let mut out = Vec::with_capacity(self.cout * cols);
        for &b in &self.bias {
            out.resize(out.len() + cols, b);
        }
        // The thread's im2col buffer from the last layer serves again (see
        // WINOGRAD_SCRATCH); im2col writes all of it.
        IM2COL_SCRATCH.with(|scratch| {
            let col = &mut *scratch.borrow_mut();
            let col = scratch_of(col, rows * cols);
            // Each input channel fills its own k * k rows: with threads to spare they
            // share the copying (megabytes for the 7x7 layers).
            // At least 1: a map smaller than the kernel has no outputs, and no rows to fill.
            let per_channel = (self.k * self.k * cols).max(1);
            if ways > 1 && rows * cols >= MIN_SPLIT_MACS / 4 {
                col.par_chunks_mut(per_channel)
                    .enumerate()
                    .for_each(|(ci, rows)| self.im2col_channel(x, ci, oh, ow, rows));
            } else {
                for (ci, rows) in col.chunks_mut(per_channel).enumerate() {
                    self.im2col_channel(x, ci, oh, ow, rows);
                }
            }
            // out[cout, cols] += weight[cout, rows] * col[rows, cols]
            gemm_split(
                self.weight_matrix(),
                Matrix::row_major(col, rows, cols),
                &mut out,
                Product::Accumulate,
                ways,
            );
        });
        Tensor {
            c: self.cout,
            h: oh,
            w: ow,
            data: out,
        }
    }

    /// Input channel `ci`'s rows of im2col's `[cin * k * k, oh * ow]` matrix: row
    /// (ky, kx) of `rows` (`[k * k, oh * ow]`) gets the input pixel under that tap for
    /// every output position, or zero where the tap falls in the padding: every value is
    /// written, so the buffer needs no zeroing first.
    fn im2col_channel(&self, x: &Tensor, ci: usize, oh: usize, ow: usize, rows: &mut [f32]) {
        self.im2col_channel_at(x, ci, (oh, ow), rows, oh * ow, 0);
    }

    /// [`Self::im2col_channel`] into rows `row_stride` long, this image's columns from
    /// `first_col` (a batch's images side by side).
    fn im2col_channel_at(
        &self,
        x: &Tensor,
        ci: usize,
        (oh, ow): (usize, usize),
        rows: &mut [f32],
        row_stride: usize,
        first_col: usize,
    ) {
        let (k, p) = (self.k, self.pad);
        let cols = oh * ow;
        let plane = &x.data[ci * x.h * x.w..(ci + 1) * x.h * x.w];
        for ky in 0..k {
            for kx in 0..k {
                let r = ky * k + kx;
                let at = r * row_stride + first_col;
                let dst = &mut rows[at..at + cols];
                // Output columns whose input column falls inside the image.
                let lo = p.saturating_sub(kx).min(ow);
                let hi = (x.w + p).saturating_sub(kx).clamp(lo, ow);
                for oy in 0..oh {
                    let iy = oy as isize + ky as isize - p as isize;
                    let out_row = &mut dst[oy * ow..(oy + 1) * ow];
                    if iy < 0 || iy >= x.h as isize {
                        out_row.fill(0.0);
                        continue;
                    }
                    let src_row = &plane[iy as usize * x.w..(iy as usize + 1) * x.w];
                    out_row[..lo].fill(0.0);
                    if lo < hi {
                        out_row[lo..hi].copy_from_slice(&src_row[lo + kx - p..hi + kx - p]);
                    }
                    out_row[hi..].fill(0.0);
                }
            }
        }
    }
}

/// What a layer does to its sums on the way out: the ReLU and 2x2 max pool (stride 2,
/// floor, like PyTorch's `max_pool2d(2)`) that follow the convolutions of these networks,
/// fused into the Winograd output transform (same values as running them after it,
/// without another pass over the map).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epilogue {
    pub relu: bool,
    pub pool: bool,
}

impl Epilogue {
    pub const NONE: Epilogue = Epilogue {
        relu: false,
        pool: false,
    };

    /// The side of the map written for an `h` x `w` output.
    pub fn side(self, h: usize, w: usize) -> (usize, usize) {
        if self.pool {
            (h / 2, w / 2)
        } else {
            (h, w)
        }
    }
}

/// `len` floats, every one of them written by `write`: an output map is not zeroed
/// first (fresh maps and scratch being zeroed were together 10% of the cascade's
/// profile in bf16, docs/RESULTS.md).
fn written_whole(len: usize, write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut data: Vec<f32> = Vec::with_capacity(len);
    write(&mut data.spare_capacity_mut()[..len]);
    // Safety: `write` initialises every element (its callers' contract, checked by the
    // tests comparing whole maps against the direct convolution).
    unsafe { data.set_len(len) };
    data
}

/// `values` as slots to overwrite with other floats.
fn as_uninit(values: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // Safety: same layout; the slots are only ever written with initialised floats.
    unsafe { &mut *(values as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// The first `len` values of a thread's scratch buffer, grown (zeroed) if shorter, never
/// shrunk: its contents are what the last user left, for callers that write all of them.
/// (`Vec::resize` to each layer's size zeroed the difference again whenever a small
/// layer came between two big ones: for Winograd's V and M alone 2.9% of the shipped
/// cascade's bf16 profile, docs/RESULTS.md.)
fn scratch_of<T: Copy + Default>(buffer: &mut Vec<T>, len: usize) -> &mut [T] {
    if buffer.len() < len {
        buffer.resize(len, T::default());
    }
    &mut buffer[..len]
}

thread_local! {
    /// A thread's im2col buffer, kept between layers and passes.
    static IM2COL_SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// A thread's Winograd buffers (V and M), kept between layers and passes.
    static WINOGRAD_SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// A fully connected layer: `y = W x + b` with `W` `[out, in]` row-major.
#[derive(Debug, Clone)]
pub struct Linear {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Linear {
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        self.forward_split(x, 1)
    }

    /// [`Self::forward`] with its product split `ways` ways over the rayon pool.
    pub fn forward_split(&self, x: &[f32], ways: usize) -> Vec<f32> {
        assert_eq!(x.len(), self.inputs, "linear input size");
        let mut out = self.bias.clone();
        // out[1, outputs] += x[1, inputs] * weight^T (weight is [outputs, inputs]).
        gemm_split(
            Matrix::row_major(x, 1, self.inputs),
            Matrix::row_major(&self.weight, self.outputs, self.inputs).transposed(),
            &mut out,
            Product::Accumulate,
            ways,
        );
        out
    }
}

/// A strided view of a matrix: element (r, c) is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
    /// The same matrix already rounded to bf16 for AMX tiles (a layer's weights,
    /// converted once), or `None`: a product in bf16 then converts `data` itself.
    bf16: Option<Bf16Copy<'a>>,
}

/// A matrix in bf16, laid out as AMX tile loads read it (`amx.rs`).
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Bf16Copy<'a> {
    /// As a left operand: rows of `depth` values (the depth padded), with rows to spare
    /// after the last so a block of rows may start anywhere.
    Rows { data: &'a [u16], depth: usize },
    /// As a right operand: pairs of rows interleaved per column, `cols` (padded) to a
    /// pair row.
    Pairs { data: &'a [u32], cols: usize },
}

/// A layer's weights rounded to bf16 for AMX products, made by the first product that
/// runs in bf16 and kept; never made where products run in f32. Weights must not change
/// after a layer's first pass (folding BatchNorm clears it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Bf16Weights<T>(std::sync::OnceLock<T>);

impl<T> Bf16Weights<T> {
    #[cfg(target_arch = "x86_64")]
    fn get_or_make(&self, make: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(make)
    }
}

/// Matrix `index` of `count` weight matrices (`matrix(i)`, right operands of the
/// same shape) as bf16 pairs, all of them made once into `cache`, where products run in
/// bf16.
fn bf16_pairs<'a>(
    cache: &'a Bf16Weights<(Vec<u32>, usize)>,
    count: usize,
    index: usize,
    matrix: impl Fn(usize) -> Matrix<'a>,
) -> Option<Bf16Copy<'a>> {
    if !Simd::bf16_products() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let (all, cols) = cache.get_or_make(|| {
            let mut all = Vec::new();
            let mut cols = 0;
            for i in 0..count {
                // Safety: bf16_products() holds only where AMX is available.
                let (pairs, padded) = unsafe { amx::pairs_bf16(matrix(i)) };
                all.extend_from_slice(&pairs);
                cols = padded;
            }
            (all, cols)
        });
        let each = all.len() / count;
        Some(Bf16Copy::Pairs {
            data: &all[index * each..(index + 1) * each],
            cols: *cols,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (cache, count, index, matrix);
        None
    }
}

/// `weights` (a left operand) as bf16 rows, made once into `cache`, where products run
/// in bf16.
fn bf16_rows<'a>(
    cache: &'a Bf16Weights<(Vec<u16>, usize)>,
    weights: Matrix,
) -> Option<Bf16Copy<'a>> {
    if !Simd::bf16_products() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // Safety: bf16_products() holds only where AMX is available.
        let (data, depth) = cache.get_or_make(|| unsafe { amx::rows_bf16(weights) });
        Some(Bf16Copy::Rows {
            data,
            depth: *depth,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (cache, weights);
        None
    }
}

impl<'a> Matrix<'a> {
    fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix size");
        Matrix {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
            bf16: None,
        }
    }

    /// This matrix with its bf16 copy.
    fn with_bf16(self, copy: Option<Bf16Copy<'a>>) -> Self {
        Matrix { bf16: copy, ..self }
    }

    /// Rows `first..first + rows`.
    fn rows_from(self, first: usize, rows: usize) -> Self {
        let bf16 = match self.bf16 {
            Some(Bf16Copy::Rows { data, depth }) => Some(Bf16Copy::Rows {
                data: &data[first * depth..],
                depth,
            }),
            // Pairs hold two rows each: the product converts the part itself.
            _ => None,
        };
        Matrix {
            data: &self.data[first * self.row_stride..],
            rows,
            bf16,
            ..self
        }
    }

    /// Columns `first..first + cols` (without the bf16 copy: its padding is the whole
    /// matrix's).
    fn cols_from(self, first: usize, cols: usize) -> Self {
        Matrix {
            data: &self.data[first * self.col_stride..],
            cols,
            bf16: None,
            ..self
        }
    }

    fn transposed(self) -> Self {
        Matrix {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            bf16: None,
            ..self
        }
    }
}

/// Products with at most this many columns go to `gemm`, wider ones to
/// `matrixmultiply`: `gemm` was 1.2-1.7x faster on the 10x10 and 5x5 layers and 4x on
/// the single-row dense layer, `matrixmultiply` up to 1.3x faster on the 40x40 layers
/// (each SGEMM alone, slimvgg shapes, one core; docs/RESULTS.md).
const GEMM_MAX_COLS: usize = 1024;

/// Deep products go to `gemm` at any width: paper-table's 1,296-column conv2 (depth
/// 3,136) ran 1.7x faster there than on `matrixmultiply` (one core, AMD Zen 4,
/// `layer_profile` example), while on slimvgg's first layer (1,600 columns, depth 9)
/// `matrixmultiply` stayed ahead. (That was measured as if `gemm` ran AVX-512 kernels
/// there; built on stable Rust it runs its AVX2/FMA ones on every x86-64 CPU.)
const DEEP_PRODUCT_MIN_DEPTH: usize = 64;

/// Longest a thread kept awake by [`keeping_pool_awake`] looks for work before it
/// gives up: long enough to bridge the serial steps of a pass (a pool, a ReLU), short
/// enough that a spinner stuck beside an unrelated job lets go.
const AWAKE_IDLE_LIMIT: std::time::Duration = std::time::Duration::from_micros(200);

/// Runs `f` (a pass split `ways` ways over the rayon pool) while `ways - 1` of the
/// pool's other threads wait for its work spinning rather than asleep. A pool thread
/// that finds no work soon goes to sleep, and waking it takes 30-40 us on these virtual
/// machines, longer than half of many of a small network's layers: a rayon `join` after
/// a 30 us serial step cost 47 us instead of saving 16 (2 vCPU Intel Xeon, 2026-12-07).
/// Each spinner steals the pass's jobs as they come and returns when `f` is done or
/// after [`AWAKE_IDLE_LIMIT`] without work, so it can never wait on itself.
pub fn keeping_pool_awake<R: Send>(ways: usize, f: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = AtomicBool::new(false);
    rayon::scope(|scope| {
        let caller = rayon::current_thread_index();
        let done = &done;
        // One spinner per extra way the pass splits, so a pass split 2 ways on a big
        // machine keeps one other core busy, not all of them.
        for _ in 1..ways.min(rayon::current_num_threads()) {
            scope.spawn(move |_| {
                if rayon::current_thread_index() == caller {
                    return;
                }
                let mut idle_since = std::time::Instant::now();
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() == Some(rayon::Yield::Executed) {
                        idle_since = std::time::Instant::now();
                    } else if idle_since.elapsed() > AWAKE_IDLE_LIMIT {
                        return;
                    } else {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        let result = f();
        done.store(true, Ordering::Release);
        result
    })
}

/// Whether a product adds to what `out` holds or replaces it (then `out` is not read).
#[derive(Clone, Copy, PartialEq)]
enum Product {
    Accumulate,
    Overwrite,
}

/// Products smaller than this many multiply-accumulates are not split: handing them
/// to another thread costs more than it saves.
const MIN_SPLIT_MACS: usize = 1 << 20;

/// [`gemm`] split `ways` ways over the rayon pool: by rows of `a` (and `out`), or by
/// columns of `b` when `a` is one row (a dense layer on one image). Each part is a
/// product of its own, so the sum over `k` is the same and the results are identical.
fn gemm_split(a: Matrix, b: Matrix, out: &mut [f32], product: Product, ways: usize) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if ways <= 1 || m * k * n < MIN_SPLIT_MACS {
        return gemm(a, b, out, product);
    }
    if m > 1 {
        let rows = m.div_ceil(ways);
        out.par_chunks_mut(rows * n)
            .enumerate()
            .for_each(|(i, part)| gemm(a.rows_from(i * rows, part.len() / n), b, part, product));
    } else {
        let cols = n.div_ceil(ways);
        out.par_chunks_mut(cols)
            .enumerate()
            .for_each(|(i, part)| gemm(a, b.cols_from(i * cols, part.len()), part, product));
    }
}

/// `out[a.rows, b.cols] += a * b` (or `= a * b`), `out` row-major and dense.
fn gemm(a: Matrix, b: Matrix, out: &mut [f32], product: Product) {
    #[cfg(target_arch = "x86_64")]
    {
        let (level, accumulate) = (simd::level(), product == Product::Accumulate);
        if a.rows > 1 && a.col_stride == 1 && b.col_stride == 1 && Simd::bf16_products() {
            // Safety: bf16_products() holds only where AMX is available.
            return unsafe { amx::product_amx(a, b, out, accumulate) };
        }
        // Safety (both): the level is at most what the CPU was detected to support.
        if level == Simd::Avx512 && a.rows > 1 {
            return unsafe { sgemm::sgemm_avx512(a, b, out, accumulate) };
        }
        // One row (a dense layer on one image): dot products along the weight rows.
        if level >= Simd::Avx2 && a.rows == 1 && a.col_stride == 1 && b.row_stride == 1 {
            return unsafe { sgemm::dot_columns(a, b, out, accumulate, level) };
        }
    }
    let max_cols = if a.cols >= DEEP_PRODUCT_MIN_DEPTH {
        usize::MAX
    } else {
        GEMM_MAX_COLS
    };
    gemm_on(a, b, out, product, max_cols)
}

/// [`gemm`] with products of up to `max_cols` columns on `gemm`, wider ones on
/// `matrixmultiply`.
fn gemm_on(a: Matrix, b: Matrix, out: &mut [f32], product: Product, max_cols: usize) {
    let accumulate = product == Product::Accumulate;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions");
    assert_eq!(out.len(), m * n, "output size");
    if m == 0 || n == 0 {
        return;
    }
    // The asserts above keep every index the kernels compute inside the slices.
    unsafe {
        if n <= max_cols {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                accumulate,
                a.data.as_ptr(),
                a.col_stride as isize,
                a.row_stride as isize,
                b.data.as_ptr(),
                b.col_stride as isize,
                b.row_stride as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        } else {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.data.as_ptr(),
                a.row_stride as isize,
                a.col_stride as isize,
                b.data.as_ptr(),
                b.row_stride as isize,
                b.col_stride as isize,
                if accumulate { 1.0 } else { 0.0 },
                out.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
}

pub fn relu(v: &mut [f32]) {
    for x in v {
        *x = x.max(0.0);
    }
}

// [c, h, w] -> [c, h/2, w/2], floor like PyTorch's max_pool2d(2).
pub fn max_pool2(x: &Tensor) -> Tensor {
    let (oh, ow) = (x.h / 2, x.w / 2);
    let mut out = vec![0f32; x.c * oh * ow];
    if oh > 0 && ow > 0 {
        // Whole output rows from pairs of input rows: loops the compiler vectorizes.
        for (c, planes) in out.chunks_exact_mut(oh * ow).enumerate() {
            let plane = &x.data[c * x.h * x.w..(c + 1) * x.h * x.w];
            for (y, row) in planes.chunks_exact_mut(ow).enumerate() {
                let top = &plane[2 * y * x.w..][..2 * ow];
                let bottom = &plane[(2 * y + 1) * x.w..][..2 * ow];
                for ((o, t), b) in row
                    .iter_mut()
                    .zip(top.chunks_exact(2))
                    .zip(bottom.chunks_exact(2))
                {
                    *o = t[0].max(t[1]).max(b[0].max(b[1]));
                }
            }
        }
    }
    Tensor {
        c: x.c,
        h: oh,
        w: ow,
        data: out,
    }
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m.is_infinite() {
        // Logits that overflowed: the limit of softmax, the largest share everything
        // (`inf - inf` would make every probability NaN).
        let top = logits.iter().filter(|&&v| v == m).count() as f32;
        return logits
            .iter()
            .map(|&v| if v == m { 1.0 / top } else { 0.0 })
            .collect();
    }
    let e: Vec<f32> = logits.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A convolution of pseudo-random weights scaled to keep a stack's maps in range,
    /// for the stacks' tests.
    pub(super) fn stack_conv(cin: usize, cout: usize, k: usize, pad: usize, seed: u32) -> Conv2d {
        let weight = pseudo(cout * cin * k * k, seed)
            .into_iter()
            .map(|v| v / (cin * k * k) as f32 * 4.0)
            .collect();
        Conv2d::new(cin, cout, k, pad, weight, pseudo(cout, seed + 1))
    }

    /// The f32 engine's conv, ReLU and pool after each layer: what a stack computes.
    pub(super) fn stack_reference(layers: &[(Conv2d, bool)], x: &Tensor) -> Tensor {
        let mut x = x.clone();
        for (c, pool) in layers {
            x = c.forward(&x);
            x.data.iter_mut().for_each(|v| *v = v.max(0.0));
            if *pool {
                x = max_pool2(&x);
            }
        }
        x
    }

    /// Direct (naive) convolution to check the im2col path against.
    pub(super) fn naive(conv: &Conv2d, x: &Tensor) -> Vec<f32> {
        let (k, p) = (conv.k as isize, conv.pad as isize);
        let oh = x.h as isize + 2 * p - k + 1;
        let ow = x.w as isize + 2 * p - k + 1;
        let mut out = vec![];
        for o in 0..conv.cout {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = conv.bias[o];
                    for ci in 0..conv.cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = (oy + ky - p, ox + kx - p);
                                if iy >= 0 && ix >= 0 && iy < x.h as isize && ix < x.w as isize {
                                    let wi = ((o * conv.cin + ci) * conv.k + ky as usize) * conv.k
                                        + kx as usize;
                                    s += conv.weight[wi]
                                        * x.data[(ci * x.h + iy as usize) * x.w + ix as usize];
                                }
                            }
                        }
                    }
                    out.push(s);
                }
            }
        }
        out
    }

    /// A 3x3, pad-1 convolution with pseudo-random weights (`seed`) and bias (`seed + 1`).
    pub(super) fn padded_3x3(cin: usize, cout: usize, seed: u32) -> Conv2d {
        Conv2d::new(
            cin,
            cout,
            3,
            1,
            pseudo(cout * cin * 9, seed),
            pseudo(cout, seed + 1),
        )
    }

    /// A `[c, h, w]` map of pseudo-random values.
    pub(super) fn pseudo_map(c: usize, h: usize, w: usize, seed: u32) -> Tensor {
        Tensor {
            c,
            h,
            w,
            data: pseudo(c * h * w, seed),
        }
    }

    pub(super) fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// Both SGEMM engines, whichever this CPU prefers, with a transposed operand, add
    /// the schoolbook product to `out`, or replace `out` without reading it.
    #[test]
    fn gemm_accumulates_or_overwrites_the_product_on_either_engine() {
        for (n, max_cols) in [1, 7, GEMM_MAX_COLS, GEMM_MAX_COLS + 9]
            .into_iter()
            .flat_map(|n| [(n, 0), (n, usize::MAX)])
        {
            for (product, start, base) in [
                (Product::Accumulate, 0.25, 0.25),
                (Product::Overwrite, f32::NAN, 0.0),
            ] {
                let (m, k) = (5, 11);
                let a = pseudo(m * k, 7);
                let bt = pseudo(n * k, 8); // b^T, [n, k]
                let mut out = vec![start; m * n];
                gemm_on(
                    Matrix::row_major(&a, m, k),
                    Matrix::row_major(&bt, n, k).transposed(),
                    &mut out,
                    product,
                    max_cols,
                );
                for r in 0..m {
                    for c in 0..n {
                        let want: f32 =
                            base + (0..k).map(|i| a[r * k + i] * bt[c * k + i]).sum::<f32>();
                        let got = out[r * n + c];
                        assert!(
                            (got - want).abs() < 1e-4,
                            "n={n}, max_cols={max_cols} ({r},{c}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// Split products (a pass's layers on several threads) give the unsplit results:
    /// by rows for convolutions, by columns for a dense layer on one image, by product
    /// for Winograd; with parts that do not divide the work evenly.
    #[test]
    fn split_layers_match_unsplit_ones() {
        let close = |a: &[f32], b: &[f32], what: &str| {
            assert_eq!(a.len(), b.len(), "{what}");
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                    "{what}: {x} vs {y}"
                );
            }
        };
        let conv = padded_3x3(24, 70, 21);
        let x = pseudo_map(24, 24, 24, 23);
        let fast = Winograd::with_tile(&conv, 4).unwrap();
        let dense = Linear {
            inputs: 4099,
            outputs: 515,
            weight: pseudo(4099 * 515, 24),
            bias: pseudo(515, 25),
        };
        let input = pseudo(4099, 26);
        for ways in [2, 3, 8] {
            close(
                &conv.forward_split(&x, ways).data,
                &conv.forward(&x).data,
                &format!("im2col, {ways} ways"),
            );
            close(
                &fast.forward_split(&x, ways).data,
                &fast.forward(&x).data,
                &format!("Winograd, {ways} ways"),
            );
            close(
                &dense.forward_split(&input, ways),
                &dense.forward(&input),
                &format!("dense, {ways} ways"),
            );
        }
    }

    #[test]
    fn conv_matches_naive_padded_and_unpadded() {
        for (k, pad) in [(3, 1), (3, 0), (7, 0)] {
            let conv = Conv2d::new(2, 3, k, pad, pseudo(3 * 2 * k * k, 1), vec![0.1, -0.2, 0.3]);
            let x = Tensor {
                c: 2,
                h: 9,
                w: 8,
                data: pseudo(2 * 9 * 8, 2),
            };
            let y = conv.forward(&x);
            let want = naive(&conv, &x);
            assert_eq!(y.data.len(), want.len());
            for (a, b) in y.data.iter().zip(&want) {
                assert!((a - b).abs() < 1e-4, "k={k} pad={pad}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn batchnorm_folding_matches_explicit_normalisation() {
        let mut conv = Conv2d::new(1, 2, 3, 1, pseudo(18, 3), vec![0.0, 0.5]);
        let x = Tensor {
            c: 1,
            h: 4,
            w: 4,
            data: pseudo(16, 4),
        };
        let raw = conv.forward(&x);
        let (g, b, m, v) = ([2.0, 0.5], [0.1, -0.1], [0.3, -0.2], [4.0, 0.25]);
        conv.fold_batchnorm(&g, &b, &m, &v, 0.0);
        let folded = conv.forward(&x);
        for c in 0..2 {
            for i in 0..16 {
                let want = g[c] * (raw.data[c * 16 + i] - m[c]) / v[c].sqrt() + b[c];
                assert!((folded.data[c * 16 + i] - want).abs() < 1e-4);
            }
        }
    }

    /// The result comes back, nested and concurrent passes finish (a spinner may land
    /// beside another pass, or on the caller's own thread), and a one-way pass spins up
    /// nothing.
    #[test]
    fn a_pass_kept_awake_returns_and_never_waits_on_itself() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(keeping_pool_awake(2, || 7), 7);
        assert_eq!(pool.install(|| keeping_pool_awake(1, || 8)), 8);
        let sums: Vec<u64> = pool.install(|| {
            (0..64u64)
                .into_par_iter()
                .map(|i| {
                    keeping_pool_awake(2, || {
                        keeping_pool_awake(2, || (0..1000u64).into_par_iter().map(|x| x * i).sum())
                    })
                })
                .collect()
        });
        assert_eq!(sums, (0..64u64).map(|i| i * 499_500).collect::<Vec<_>>());
    }

    #[test]
    fn pool_linear_softmax() {
        let x = Tensor {
            c: 1,
            h: 3,
            w: 4,
            data: (0..12).map(|v| v as f32).collect(),
        };
        let p = max_pool2(&x);
        assert_eq!((p.h, p.w), (1, 2));
        assert_eq!(p.data, vec![5.0, 7.0]);
        // Several channels, odd sides (the last row and column dropped), and a map too
        // small to pool.
        let x = pseudo_map(3, 5, 7, 9);
        let p = max_pool2(&x);
        assert_eq!((p.c, p.h, p.w), (3, 2, 3));
        for c in 0..3 {
            for y in 0..2 {
                for xx in 0..3 {
                    let at = |dy: usize, dx: usize| x.data[c * 35 + (2 * y + dy) * 7 + 2 * xx + dx];
                    let want = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
                    assert_eq!(p.data[c * 6 + y * 3 + xx], want);
                }
            }
        }
        assert!(max_pool2(&pseudo_map(2, 1, 6, 1)).data.is_empty());
        let l = Linear {
            inputs: 2,
            outputs: 1,
            weight: vec![1.0, -1.0],
            bias: vec![0.5],
        };
        assert_eq!(l.forward(&[3.0, 1.0]), vec![2.5]);
        let s = softmax(&[0.0, (2f32).ln()]);
        assert!((s[0] - 1.0 / 3.0).abs() < 1e-6 && (s[1] - 2.0 / 3.0).abs() < 1e-6);
        // Overflowed logits still give probabilities, not NaN.
        let inf = f32::INFINITY;
        assert_eq!(softmax(&[inf, 1.0, inf]), vec![0.5, 0.0, 0.5]);
        assert_eq!(softmax(&[-inf, -inf]), vec![0.5, 0.5]);
    }
}
