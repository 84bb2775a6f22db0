//! Convolutions in 8 bits for a whole stack of convolutions and pools, on CPUs without
//! AMX. With AVX-512 VNNI one `vpdpbusd` multiplies 64 unsigned activations by 64 signed
//! weights into 16 sums, four times the multiply-adds of an f32 FMA; with AVX2 alone
//! `vpmaddubsw` and `vpmaddwd` take 32 into 8 sums, twice an AVX2 FMA's ([`Kernels`]).
//!
//! Each map after a ReLU is zero or positive, so it is stored as `u8` with one scale per
//! image and layer: its largest value maps to the kernels' top level (255, or 127 for
//! AVX2, whose 16-bit pair sums would saturate above it), decided after the layer from
//! the values it computed, so no calibration data is shipped and no face saturates. Each
//! output channel's weights are `i8` with their own scale, the largest magnitude at 127
//! (63 on AVX2).
//! Sums of products are exact in `i32`; bias, ReLU and the two scales are applied in
//! f32 as the sums leave the registers, and the 2x2 max pool runs in f32 before the
//! next layer's rounding to 8 bits. Maps are channel-last inside the next convolution's
//! zero border ([`super::channel_last`]): each output pixel reads its window in place,
//! one 4-byte broadcast per pixel and 4 channels, no im2col. A run holds output pixels
//! only, not the border columns a run along the bordered grid (the tile stack's) also
//! computes.
//!
//! The first layer (the face, one channel) runs in f32, taps broadcast against vectors
//! of output channels: the face's pixels enter at full precision. The last map leaves in
//! f32 for the dense layers. The tests check both kernels against a scalar run of the
//! same arithmetic bit for bit, and the stack against the f32 engine; tests/int8.rs and
//! tests/int8_avx2.rs check the shipped model's PublicTest accuracy.

use std::arch::x86_64::*;
use std::cell::RefCell;
use std::ops::Range;

use super::channel_last::{Lines, Map};
use super::simd::{level, Simd};
use super::{Conv2d, Tensor};
use rayon::prelude::*;

/// Output channels per AVX-512 vector: 16 sums of `i32`. Channels are padded to a
/// multiple of it for both kernels.
const LANES: usize = 16;
/// Output channels per AVX2 vector: 8 sums of `i32`.
const AVX2_LANES: usize = 8;
/// Input channels per product: the 4 bytes of one broadcast.
const QUAD: usize = 4;
/// The largest kernel side a stack takes: for paper-table's 7x7 kernels Winograd's
/// F(3x3, 7x7) does 5.4x fewer multiplies than a direct product, more than 8 bits gain.
const MAX_KERNEL: usize = 5;
/// Products summed into one output at most: 255 * 127 * this stays inside `i32`.
const MAX_TERMS: usize = (i32::MAX / (255 * 127)) as usize;
/// Multiply-adds below which a layer runs on one thread (a woken thread costs more).
const SPLIT_MIN_MACS: usize = 8_000_000;

/// Whether this CPU runs the 8-bit kernels at all: AVX2 and FMA.
pub fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Whether this CPU runs the VNNI kernels: AVX-512 with byte instructions and VNNI.
pub fn vnni_available() -> bool {
    available()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

/// The instructions a stack's products run on. Weights are laid out the same for both:
/// four input channels' bytes in each `i32`, output channels side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernels {
    /// AVX-512 VNNI: `vpdpbusd` sums four byte products into each `i32` lane.
    Vnni,
    /// AVX2: `vpmaddubsw` into 16-bit sums of two products, two of those added in 16
    /// bits, `vpmaddwd` by ones into `i32`, an add: 64 multiply-adds in 5 instructions,
    /// 3 on the multiply ports. Maps stop at 127 and weights at 63, so that four products
    /// (at most 4 * 127 * 63 = 32,004) never pass 16 bits.
    Avx2,
}

impl Kernels {
    /// VNNI where the SIMD level in force is AVX-512 and the CPU has it, else AVX2.
    fn chosen() -> Kernels {
        if level() == Simd::Avx512 && vnni_available() {
            Kernels::Vnni
        } else {
            Kernels::Avx2
        }
    }

    /// The largest byte a map holds.
    fn map_top(self) -> f32 {
        match self {
            Kernels::Vnni => 255.0,
            Kernels::Avx2 => 127.0,
        }
    }

    /// The largest magnitude of a weight.
    fn weight_top(self) -> f32 {
        match self {
            Kernels::Vnni => 127.0,
            Kernels::Avx2 => 63.0,
        }
    }
}

/// An 8-bit map: channels a multiple of 16.
type ByteMap = Map<u8>;

/// A layer's output before rounding to 8 bits: `h` x `w` pixels of `channels` f32,
/// channel-last, no border.
#[derive(Debug, Clone, Default)]
struct Plane {
    h: usize,
    w: usize,
    channels: usize,
    data: Vec<f32>,
}

impl Plane {
    fn reshape(&mut self, h: usize, w: usize, channels: usize) {
        (self.h, self.w, self.channels) = (h, w, channels);
        self.data.resize(h * w * channels, 0.0);
    }
}

/// One image's pass through a layer: the output plane's buffer, shared by the threads
/// that split the layer (each writes its own pixels), its side, and what one unit of
/// each output channel's sums is worth (weight scale times the input's).
struct Sink {
    data: *mut f32,
    len: usize,
    channels: usize,
    side: (usize, usize),
    multipliers: Vec<f32>,
}

// Safety: the threads sharing a sink write disjoint pixels (`QConv::products`), and the
// plane outlives them.
unsafe impl Sync for Sink {}

/// The first layer in f32, channel-last: one input channel, its taps broadcast against
/// the output channels' weights.
#[derive(Debug, Clone)]
struct FirstConv {
    k: usize,
    pad: usize,
    /// Output channels padded to a multiple of 16.
    cols: usize,
    /// `[k * k][cols]`: tap (ky, kx) of every output channel (zeros for the padding).
    weights: Vec<f32>,
    bias: Vec<f32>,
    pool: bool,
}

impl FirstConv {
    fn new(conv: &Conv2d, pool: bool) -> FirstConv {
        let (k, cout) = (conv.k, conv.cout);
        let cols = cout.next_multiple_of(LANES);
        let mut weights = vec![0.0; k * k * cols];
        for o in 0..cout {
            for tap in 0..k * k {
                weights[tap * cols + o] = conv.weight[o * k * k + tap];
            }
        }
        let mut bias = conv.bias.clone();
        bias.resize(cols, 0.0);
        FirstConv {
            k,
            pad: conv.pad,
            cols,
            weights,
            bias,
            pool,
        }
    }

    /// The layer on plane `x` into `out` (bias and ReLU applied); returns the largest
    /// output. `padded` is scratch.
    ///
    /// # Safety
    /// [`available`] must have returned true.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward(&self, x: &Tensor, padded: &mut Vec<f32>, out: &mut Plane) -> f32 {
        assert_eq!(x.c, 1, "the first 8-bit stack layer reads one channel");
        let (k, p) = (self.k, self.pad);
        let wp = x.w + 2 * p;
        padded.clear();
        padded.resize((x.h + 2 * p) * wp, 0.0);
        for (y, row) in x.data.chunks_exact(x.w).enumerate() {
            padded[(y + p) * wp + p..][..x.w].copy_from_slice(row);
        }
        let (oh, ow) = out_side((x.h, x.w), k, p);
        out.reshape(oh, ow, self.cols);
        let mut top = _mm256_setzero_ps();
        for j0 in (0..self.cols).step_by(8 * AVX2_LANES) {
            let grid = (padded.as_slice(), wp, (oh, ow));
            // Safety: as this function's; cols is a multiple of 16.
            let part = unsafe {
                match (self.cols - j0) / AVX2_LANES {
                    2 => self.columns::<2>(grid, j0, out),
                    4 => self.columns::<4>(grid, j0, out),
                    6 => self.columns::<6>(grid, j0, out),
                    _ => self.columns::<8>(grid, j0, out),
                }
            };
            top = _mm256_max_ps(top, part);
        }
        largest_lane(top)
    }

    /// Output channels `j0..j0 + NB * 8` of every pixel of the `oh` x `ow` output, from
    /// `padded` (`wp` wide, the padding included): each tap broadcast once for the NB
    /// vectors; returns their largest values.
    ///
    /// # Safety
    /// [`available`] must have returned true; `j0 + NB * 8 <= cols`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn columns<const NB: usize>(
        &self,
        (padded, wp, (oh, ow)): (&[f32], usize, (usize, usize)),
        j0: usize,
        out: &mut Plane,
    ) -> __m256 {
        let (k, cols) = (self.k, self.cols);
        assert!(j0 + NB * AVX2_LANES <= cols && out.data.len() == oh * ow * cols);
        assert!((oh + k - 1) * wp <= padded.len() && ow + k - 1 <= wp);
        let (w, b, src) = (self.weights.as_ptr(), self.bias.as_ptr(), padded.as_ptr());
        let mut top = _mm256_setzero_ps();
        for y in 0..oh {
            for xx in 0..ow {
                // Safety: taps (y + ky, xx + kx) are inside the padded plane and weight
                // rows hold cols values (asserted); the store is pixel (y, xx)'s.
                unsafe {
                    let mut sums: [__m256; NB] =
                        std::array::from_fn(|i| _mm256_loadu_ps(b.add(j0 + i * AVX2_LANES)));
                    for ky in 0..k {
                        for kx in 0..k {
                            let v = _mm256_set1_ps(*src.add((y + ky) * wp + xx + kx));
                            let row = w.add((ky * k + kx) * cols + j0);
                            for (i, sum) in sums.iter_mut().enumerate() {
                                *sum = _mm256_fmadd_ps(
                                    v,
                                    _mm256_loadu_ps(row.add(i * AVX2_LANES)),
                                    *sum,
                                );
                            }
                        }
                    }
                    let dst = out.data.as_mut_ptr().add((y * ow + xx) * cols + j0);
                    for (i, sum) in sums.iter().enumerate() {
                        let v = _mm256_max_ps(*sum, _mm256_setzero_ps());
                        top = _mm256_max_ps(top, v);
                        _mm256_storeu_ps(dst.add(i * AVX2_LANES), v);
                    }
                }
            }
        }
        top
    }
}

/// The largest of a vector's 8 lanes.
///
/// # Safety
/// [`available`] must have returned true.
#[target_feature(enable = "avx2")]
unsafe fn largest_lane(v: __m256) -> f32 {
    let half = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let pair = _mm_max_ps(half, _mm_movehl_ps(half, half));
    _mm_cvtss_f32(_mm_max_ss(pair, _mm_shuffle_ps(pair, pair, 1)))
}

/// One convolution in 8 bits: bias and ReLU after it, optionally a 2x2 max pool.
#[derive(Debug, Clone)]
struct QConv {
    cout: usize,
    k: usize,
    pad: usize,
    /// Input channels as the map holds them, a multiple of 16.
    depth: usize,
    /// Output channels, padded to a multiple of 16.
    cols: usize,
    /// `[k * k][depth / 4][cols]`: at offset (ky, kx), input channels 4g..4g + 4 of
    /// output channel j, four `i8` in one `i32`.
    weights: Lines<i32>,
    /// Each output channel's weight scale (what one unit of `weights` is worth).
    scales: Vec<f32>,
    bias: Vec<f32>,
    pool: bool,
}

impl QConv {
    fn new(conv: &Conv2d, pool: bool, kernels: Kernels) -> QConv {
        let (cin, cout, k) = (conv.cin, conv.cout, conv.k);
        let depth = cin.next_multiple_of(LANES);
        let cols = cout.next_multiple_of(LANES);
        let per_out = cin * k * k;
        let mut weights = Lines::<i32>::zeroed(k * k * depth / QUAD * cols);
        let mut scales = vec![0.0; cols];
        let top = kernels.weight_top();
        for o in 0..cout {
            let row = &conv.weight[o * per_out..][..per_out];
            let largest = row.iter().fold(0f32, |m, w| m.max(w.abs()));
            let scale = if largest > 0.0 { largest / top } else { 1.0 };
            scales[o] = scale;
            for c in 0..cin {
                for tap in 0..k * k {
                    let q = (row[c * k * k + tap] / scale).round().clamp(-top, top) as i8;
                    let slot = &mut weights[(tap * depth / QUAD + c / QUAD) * cols + o];
                    *slot |= i32::from(q as u8) << (8 * (c % QUAD));
                }
            }
        }
        let mut bias = conv.bias.clone();
        bias.resize(cols, 0.0);
        QConv {
            cout,
            k,
            pad: conv.pad,
            depth,
            cols,
            weights,
            scales,
            bias,
            pool,
        }
    }

    fn out_side(&self, h: usize, w: usize) -> (usize, usize) {
        out_side((h, w), self.k, self.pad)
    }

    /// This layer on `x`, whose values are `x_scale` each unit and whose border is this
    /// convolution's padding, into `out` (bias and ReLU applied); returns the largest
    /// output. Layers with enough products share them `ways` ways.
    ///
    /// # Safety
    /// [`available`] must have returned true, and [`vnni_available`] too for
    /// [`Kernels::Vnni`].
    unsafe fn forward(
        &self,
        kernels: Kernels,
        x: &ByteMap,
        x_scale: f32,
        out: &mut Plane,
        ways: usize,
    ) -> f32 {
        assert_eq!(x.channels, self.depth, "8-bit convolution depth");
        assert_eq!(
            x.pad, self.pad,
            "the map's border is the convolution's padding"
        );
        assert!(
            x.h + 2 * self.pad >= self.k && x.w + 2 * self.pad >= self.k,
            "8-bit convolution over a map smaller than its kernel"
        );
        let (oh, ow) = self.out_side(x.h, x.w);
        out.reshape(oh, ow, self.cols);
        let sink = Sink {
            data: out.data.as_mut_ptr(),
            len: out.data.len(),
            channels: self.cols,
            side: (oh, ow),
            multipliers: self.scales.iter().map(|s| s * x_scale).collect(),
        };
        let outputs = oh * ow;
        let macs = outputs * self.cols * self.k * self.k * self.depth;
        let parts = if macs >= SPLIT_MIN_MACS {
            ways.max(1)
        } else {
            1
        };
        let part = |i: usize| {
            let range = outputs * i / parts..outputs * (i + 1) / parts;
            // Safety: as this function's; the parts write different output pixels.
            unsafe { self.products(kernels, x, range, &sink) }
        };
        if parts == 1 {
            part(0)
        } else {
            (0..parts)
                .into_par_iter()
                .map(part)
                .reduce(|| 0.0, f32::max)
        }
    }

    /// Output pixels `outputs` (row-major in `out`'s side) through bias and ReLU into
    /// `out`, in runs of pixels by blocks of output channels sized to the registers.
    ///
    /// # Safety
    /// As [`Self::forward`]'s; nothing else writes these outputs.
    unsafe fn products(
        &self,
        kernels: Kernels,
        a: &ByteMap,
        outputs: Range<usize>,
        out: &Sink,
    ) -> f32 {
        // Safety: passed on.
        unsafe {
            if kernels == Kernels::Avx2 {
                // Runs of 5 pixels by 16 channels measured best among 2-10 pixels by
                // 8-48 channels (docs/RESULTS.md): 10 sums, 2 broadcasts, the ones and 2
                // products fill 15 of the 16 registers.
                self.products_avx2::<5, 2>(a, outputs, out)
            } else if self.cols.is_multiple_of(64) {
                self.products_in::<6, 4>(a, outputs, out)
            } else if self.cols.is_multiple_of(48) {
                self.products_in::<8, 3>(a, outputs, out)
            } else if self.cols.is_multiple_of(32) {
                self.products_in::<12, 2>(a, outputs, out)
            } else {
                self.products_in::<24, 1>(a, outputs, out)
            }
        }
    }

    /// What both kernels rest on: `block` divides the output channels, the weights cover
    /// every offset, the outputs lie in the sink's plane, and every output's window,
    /// (y..y + k, x..x + k) on the bordered grid, lies inside the map ((oh + k - 1) x
    /// (ow + k - 1) pixels is its whole grid).
    fn assert_fits(&self, a: &ByteMap, outputs: &Range<usize>, out: &Sink, block: usize) {
        let (wp, c, k, cols) = (a.wp(), a.channels, self.k, self.cols);
        let (oh, ow) = out.side;
        assert!(cols.is_multiple_of(block) && out.multipliers.len() == cols);
        assert_eq!(
            self.weights.len(),
            k * k * self.depth / QUAD * cols,
            "weights for every offset"
        );
        assert!(outputs.end <= oh * ow && out.len == oh * ow * cols);
        assert!(
            (oh + k - 1) * wp * c <= a.data.len() && ow + k - 1 == wp,
            "8-bit map holds every window"
        );
    }

    /// [`Self::products`] in runs of `P` pixels by `NB` vectors of 16 output channels:
    /// `P * NB` sums in registers, each weight vector loaded once per run and each
    /// pixel's 4 channels broadcast once per block.
    ///
    /// # Safety
    /// As [`Self::products`]', with [`vnni_available`]; `NB * 16` divides `cols`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn products_in<const P: usize, const NB: usize>(
        &self,
        a: &ByteMap,
        outputs: Range<usize>,
        out: &Sink,
    ) -> f32 {
        self.assert_fits(a, &outputs, out, NB * LANES);
        let (wp, c, k, cols) = (a.wp(), a.channels, self.k, self.cols);
        let ((_, ow), multipliers) = (out.side, &out.multipliers);
        let groups = self.depth / QUAD;
        let mut top = _mm512_setzero_ps();
        let (data, weights) = (a.data.as_ptr(), self.weights.as_ptr());
        for j0 in (0..cols).step_by(NB * LANES) {
            for i0 in outputs.clone().step_by(P) {
                let windows = run_windows::<P>(i0, &outputs, ow, wp, c);
                let mut sums = [[_mm512_setzero_si512(); NB]; P];
                for ky in 0..k {
                    for kx in 0..k {
                        let offset = ky * k + kx;
                        let reach = (ky * wp + kx) * c;
                        // Safety: every window's pixel (ky, kx) is inside the map
                        // (asserted), its quads inside the pixel's c bytes; weight rows
                        // are inside `weights` (offset < k * k, g < groups, j0 + NB * 16
                        // <= cols) and 64-byte aligned (a line-aligned buffer, cols and
                        // j0 multiples of 16).
                        unsafe {
                            let row = weights.add(offset * groups * cols + j0);
                            let src: [*const u8; P] =
                                std::array::from_fn(|p| data.add(windows[p] + reach));
                            for g in 0..groups {
                                let mut w = [_mm512_setzero_si512(); NB];
                                for (nb, w) in w.iter_mut().enumerate() {
                                    *w = _mm512_load_si512(
                                        row.add(g * cols + nb * LANES) as *const _
                                    );
                                }
                                for (sums, src) in sums.iter_mut().zip(&src) {
                                    let quad = (src.add(g * QUAD) as *const i32).read_unaligned();
                                    let x = _mm512_set1_epi32(quad);
                                    for (sum, w) in sums.iter_mut().zip(&w) {
                                        *sum = _mm512_dpbusd_epi32(*sum, x, *w);
                                    }
                                }
                            }
                        }
                    }
                }
                for (p, sums) in sums.iter().enumerate() {
                    let i = i0 + p;
                    if i >= outputs.end {
                        break;
                    }
                    let at = i * out.channels + j0;
                    for (nb, sum) in sums.iter().enumerate() {
                        let j = j0 + nb * LANES;
                        // Safety: j + 16 <= cols for the multipliers and biases, and the
                        // store is inside the plane (i < oh * ow, asserted).
                        unsafe {
                            let v = _mm512_add_ps(
                                _mm512_mul_ps(
                                    _mm512_cvtepi32_ps(*sum),
                                    _mm512_loadu_ps(multipliers.as_ptr().add(j)),
                                ),
                                _mm512_loadu_ps(self.bias.as_ptr().add(j)),
                            );
                            let v = _mm512_max_ps(v, _mm512_setzero_ps());
                            top = _mm512_max_ps(top, v);
                            _mm512_storeu_ps(out.data.add(at + nb * LANES), v);
                        }
                    }
                }
            }
        }
        _mm512_reduce_max_ps(top)
    }

    /// [`Self::products`] on AVX2, in runs of `P` pixels by `NV` vectors of 8 output
    /// channels: `P * NV` sums in registers, each pixel's 4 channels broadcast once per
    /// run. Its epilogue is its own: one shared with the VNNI
    /// kernels (their sums stored as two AVX2 halves) measured slower there.
    ///
    /// # Safety
    /// As [`Self::products`]'; `NV * 8` divides `cols`; the map's bytes are at most 127
    /// and the weights' magnitudes at most 63 ([`Kernels::Avx2`]).
    #[target_feature(enable = "avx2")]
    unsafe fn products_avx2<const P: usize, const NV: usize>(
        &self,
        a: &ByteMap,
        outputs: Range<usize>,
        out: &Sink,
    ) -> f32 {
        self.assert_fits(a, &outputs, out, NV * AVX2_LANES);
        let (wp, c, k, cols) = (a.wp(), a.channels, self.k, self.cols);
        let ((_, ow), multipliers) = (out.side, &out.multipliers);
        let groups = self.depth / QUAD;
        let ones = _mm256_set1_epi16(1);
        let mut top = _mm256_setzero_ps();
        let (data, weights) = (a.data.as_ptr(), self.weights.as_ptr());
        for j0 in (0..cols).step_by(NV * AVX2_LANES) {
            for i0 in outputs.clone().step_by(P) {
                let windows = run_windows::<P>(i0, &outputs, ow, wp, c);
                let mut sums = [[_mm256_setzero_si256(); NV]; P];
                for ky in 0..k {
                    for kx in 0..k {
                        let offset = ky * k + kx;
                        let reach = (ky * wp + kx) * c;
                        // Safety: as in `products_in`; weight rows are 32-byte aligned
                        // (a line-aligned buffer, cols and j0 multiples of 8).
                        unsafe {
                            let row = weights.add(offset * groups * cols + j0);
                            let src: [*const u8; P] =
                                std::array::from_fn(|p| data.add(windows[p] + reach));
                            // Two groups of 4 channels at a time (groups is even:
                            // depth is a multiple of 16).
                            for g in (0..groups).step_by(2) {
                                let (w0, w1) = (row.add(g * cols), row.add((g + 1) * cols));
                                for (sums, src) in sums.iter_mut().zip(&src) {
                                    let quads = src.add(g * QUAD) as *const i32;
                                    let x0 = _mm256_set1_epi32(quads.read_unaligned());
                                    let x1 = _mm256_set1_epi32(quads.add(1).read_unaligned());
                                    for (nv, sum) in sums.iter_mut().enumerate() {
                                        let at = nv * AVX2_LANES;
                                        // Each lane: 4 u8 x i8 products of at most
                                        // 127 * 63, exact in i16, then widened.
                                        let four = _mm256_add_epi16(
                                            _mm256_maddubs_epi16(
                                                x0,
                                                _mm256_load_si256(w0.add(at) as *const _),
                                            ),
                                            _mm256_maddubs_epi16(
                                                x1,
                                                _mm256_load_si256(w1.add(at) as *const _),
                                            ),
                                        );
                                        *sum =
                                            _mm256_add_epi32(*sum, _mm256_madd_epi16(four, ones));
                                    }
                                }
                            }
                        }
                    }
                }
                for (p, sums) in sums.iter().enumerate() {
                    let i = i0 + p;
                    if i >= outputs.end {
                        break;
                    }
                    let at = i * out.channels + j0;
                    for (nv, sum) in sums.iter().enumerate() {
                        let j = j0 + nv * AVX2_LANES;
                        // Safety: j + 8 <= cols for the multipliers and biases, and the
                        // store is inside the plane (i < oh * ow, asserted).
                        unsafe {
                            let v = _mm256_add_ps(
                                _mm256_mul_ps(
                                    _mm256_cvtepi32_ps(*sum),
                                    _mm256_loadu_ps(multipliers.as_ptr().add(j)),
                                ),
                                _mm256_loadu_ps(self.bias.as_ptr().add(j)),
                            );
                            let v = _mm256_max_ps(v, _mm256_setzero_ps());
                            top = _mm256_max_ps(top, v);
                            _mm256_storeu_ps(out.data.add(at + nv * AVX2_LANES), v);
                        }
                    }
                }
            }
        }
        // Safety: AVX2 is enabled here.
        unsafe { largest_lane(top) }
    }
}

/// Where the windows of a run's `P` pixels from output `i0` start in a map `wp` pixels
/// wide of `c` channels, for an output plane `ow` wide. Each pixel reads its own window:
/// runs skip the border, and past the last output they repeat it (computed, not stored).
#[inline(always)]
fn run_windows<const P: usize>(
    i0: usize,
    outputs: &Range<usize>,
    ow: usize,
    wp: usize,
    c: usize,
) -> [usize; P] {
    std::array::from_fn(|p| {
        let i = (i0 + p).min(outputs.end - 1);
        (i / ow * wp + i % ow) * c
    })
}

/// The output side of a `k` x `k` convolution padded by `pad` on an `h` x `w` map.
fn out_side((h, w): (usize, usize), k: usize, pad: usize) -> (usize, usize) {
    (h + 2 * pad + 1 - k, w + 2 * pad + 1 - k)
}

/// The scale that maps `largest` to byte `top`. A map whose values are all below 1e-30
/// (or zero) rounds to zeros at scale 1: its inverse stays finite, where a scale near
/// f32's smallest would make it infinite and zero times it NaN.
fn byte_scale(largest: f32, top: f32) -> f32 {
    if largest >= 1e-30 {
        largest / top
    } else {
        1.0
    }
}

/// `x` (2x2 max pooled when `pool`) rounded to 8 bits at `scale` into `out`'s inside,
/// `out` given a border of `pad` for a `k` x `k` kernel. Rounding is to nearest, ties to
/// even; `scale` comes from [`byte_scale`] of the plane's largest value, so no byte
/// passes the top the scale was made for.
///
/// # Safety
/// [`available`] must have returned true.
#[target_feature(enable = "avx2")]
unsafe fn quantize(x: &Plane, pool: bool, scale: f32, (pad, k): (usize, usize), out: &mut ByteMap) {
    let (h, w) = if pool { (x.h / 2, x.w / 2) } else { (x.h, x.w) };
    let c = x.channels;
    out.reshape(h, w, pad, c, k);
    let inverse = _mm256_set1_ps(1.0 / scale);
    let src = x.data.as_ptr();
    for y in 0..h {
        for xx in 0..w {
            let dst = out.at(y, xx);
            assert!(dst + c <= out.data.len() && c.is_multiple_of(LANES));
            let pixels = if pool {
                let at = |dy: usize, dx: usize| ((2 * y + dy) * x.w + 2 * xx + dx) * c;
                [at(0, 0), at(0, 1), at(1, 0), at(1, 1)]
            } else {
                [(y * x.w + xx) * c; 4]
            };
            for ch in (0..c).step_by(LANES) {
                // Safety: each load reads 8 channels of a pixel inside the plane, the
                // store 16 bytes inside the map (asserted).
                unsafe {
                    let units = |ch: usize| {
                        let v = _mm256_max_ps(
                            _mm256_max_ps(
                                _mm256_loadu_ps(src.add(pixels[0] + ch)),
                                _mm256_loadu_ps(src.add(pixels[1] + ch)),
                            ),
                            _mm256_max_ps(
                                _mm256_loadu_ps(src.add(pixels[2] + ch)),
                                _mm256_loadu_ps(src.add(pixels[3] + ch)),
                            ),
                        );
                        _mm256_cvtps_epi32(_mm256_mul_ps(v, inverse))
                    };
                    // 16 i32 to 16 i16 (lanes interleaved by 4), back in order, to bytes.
                    let halves = _mm256_packs_epi32(units(ch), units(ch + AVX2_LANES));
                    let words = _mm256_permute4x64_epi64::<0b11_01_10_00>(halves);
                    let bytes = _mm_packus_epi16(
                        _mm256_castsi256_si128(words),
                        _mm256_extracti128_si256::<1>(words),
                    );
                    _mm_storeu_si128(out.data.as_mut_ptr().add(dst + ch) as *mut _, bytes);
                }
            }
        }
    }
}

/// The last layer's plane (2x2 max pooled when `pool`) as NCHW f32, its first `c`
/// channels: what the dense layers read.
fn to_tensor(x: &Plane, pool: bool, c: usize) -> Tensor {
    let (h, w) = if pool { (x.h / 2, x.w / 2) } else { (x.h, x.w) };
    let value = |ch: usize, y: usize, xx: usize| x.data[(y * x.w + xx) * x.channels + ch];
    let mut data = Vec::with_capacity(c * h * w);
    for ch in 0..c {
        for y in 0..h {
            for xx in 0..w {
                data.push(if pool {
                    value(ch, 2 * y, 2 * xx)
                        .max(value(ch, 2 * y, 2 * xx + 1))
                        .max(value(ch, 2 * y + 1, 2 * xx))
                        .max(value(ch, 2 * y + 1, 2 * xx + 1))
                } else {
                    value(ch, y, xx)
                });
            }
        }
    }
    Tensor { c, h, w, data }
}

/// A thread's buffers, kept between passes: the face padded, a plane, and a map.
#[derive(Default)]
struct Buffers {
    padded: Vec<f32>,
    plane: Plane,
    map: ByteMap,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// A network's convolutions and pools with 8-bit products after the first layer.
#[derive(Debug, Clone)]
pub struct Int8Stack {
    first: FirstConv,
    convs: Vec<QConv>,
    /// The kernels the weights were rounded for, chosen when the stack is made.
    kernels: Kernels,
}

impl Int8Stack {
    /// Whether stacks run here: the CPU has AVX2 and FMA, and the SIMD level in force
    /// (`MOODTUNE_SIMD`) is AVX2 or above, the level 8-bit products need
    /// ([`super::Products`]), so none is made where it would never run.
    pub fn available() -> bool {
        available() && level() >= Simd::Avx2
    }

    /// What a stack made now computes on, as the benchmark prints it.
    pub fn description() -> &'static str {
        match Kernels::chosen() {
            Kernels::Vnni => "int8 on AVX-512 VNNI",
            Kernels::Avx2 => "int8 on AVX2",
        }
    }

    /// The stack of `layers` (each convolution with whether a pool follows it), or None
    /// where it cannot run or should not: no AVX2 here, fewer than two layers, a first
    /// layer on more than one channel, kernels over 5x5, or a layer whose sums could
    /// overflow `i32` (over 66,311 products an output; the registry's largest has 3,456).
    /// Its products run on VNNI where the SIMD level in force is AVX-512 and the CPU
    /// has it, else on AVX2.
    pub fn new(layers: &[(&Conv2d, bool)]) -> Option<Int8Stack> {
        Self::on(Kernels::chosen(), layers)
    }

    fn on(kernels: Kernels, layers: &[(&Conv2d, bool)]) -> Option<Int8Stack> {
        let (first, rest) = layers.split_first()?;
        if rest.is_empty()
            || !Self::available()
            || (kernels == Kernels::Vnni && !vnni_available())
            || first.0.cin != 1
            || layers.iter().any(|(c, _)| c.k > MAX_KERNEL)
            || layers.iter().any(|(c, _)| c.k * c.k * c.cin > MAX_TERMS)
        {
            return None;
        }
        Some(Int8Stack {
            first: FirstConv::new(first.0, first.1),
            convs: rest
                .iter()
                .map(|&(c, pool)| QConv::new(c, pool, kernels))
                .collect(),
            kernels,
        })
    }

    /// The stack on one input plane: the last layer's map as NCHW f32. Layers with
    /// enough work share it `ways` ways over the rayon pool.
    pub fn forward(&self, x: &Tensor, ways: usize) -> Tensor {
        let kernels = self.kernels;
        // Taken out for the pass and put back after: a thread that picks up another pass
        // while it waits for a split layer's other part finds none and makes its own.
        let mut buffers = BUFFERS.with(|kept| std::mem::take(&mut *kept.borrow_mut()));
        let Buffers { padded, plane, map } = &mut buffers;
        // Safety: a stack is only made where `available()` holds, and with VNNI kernels
        // only where `vnni_available()` does.
        let mut largest = unsafe { self.first.forward(x, padded, plane) };
        let mut pool = self.first.pool;
        for conv in &self.convs {
            let scale = byte_scale(largest, kernels.map_top());
            // Safety: as above; the scale keeps the map's bytes at most `kernels.map_top()`.
            unsafe {
                quantize(plane, pool, scale, (conv.pad, conv.k), map);
                largest = conv.forward(kernels, map, scale, plane, ways);
            }
            pool = conv.pool;
        }
        let cout = self.convs.last().expect("two layers or more").cout;
        let features = to_tensor(plane, pool, cout);
        BUFFERS.with(|kept| *kept.borrow_mut() = buffers);
        features
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::tests::{pseudo, stack_conv as conv, stack_reference as reference};

    /// The stack's arithmetic in plain scalar code: the same f32 first layer, the same
    /// rounding to 8 bits (maps up to its kernels' top byte), exact integer sums, the
    /// same f32 epilogue.
    fn scalar(stack: &Int8Stack, x: &Tensor) -> Tensor {
        let (first, kernels) = (&stack.first, stack.kernels);
        let (k, p, cols) = (first.k, first.pad, first.cols);
        let (oh, ow) = out_side((x.h, x.w), k, p);
        let mut plane = Plane::default();
        plane.reshape(oh, ow, cols);
        let mut largest = 0f32;
        for y in 0..oh {
            for xx in 0..ow {
                for j in 0..cols {
                    let mut sum = first.bias[j];
                    for ky in 0..k {
                        for kx in 0..k {
                            let (sy, sx) = (
                                (y + ky) as isize - p as isize,
                                (xx + kx) as isize - p as isize,
                            );
                            let inside =
                                (0..x.h as isize).contains(&sy) && (0..x.w as isize).contains(&sx);
                            let v = if inside {
                                x.data[sy as usize * x.w + sx as usize]
                            } else {
                                0.0
                            };
                            sum = v.mul_add(first.weights[(ky * k + kx) * cols + j], sum);
                        }
                    }
                    let v = sum.max(0.0);
                    largest = largest.max(v);
                    plane.data[(y * ow + xx) * cols + j] = v;
                }
            }
        }
        let mut pool = first.pool;
        for conv in &stack.convs {
            let scale = byte_scale(largest, kernels.map_top());
            let input = to_tensor(&plane, pool, plane.channels);
            let bytes: Vec<u8> = input
                .data
                .iter()
                .map(|v| (v * (1.0 / scale)).round_ties_even().min(kernels.map_top()) as u8)
                .collect();
            let (h, w, c) = (input.h, input.w, input.c);
            let (oh, ow) = conv.out_side(h, w);
            let mut out = Plane::default();
            out.reshape(oh, ow, conv.cols);
            largest = 0.0;
            let groups = conv.depth / QUAD;
            for y in 0..oh {
                for xx in 0..ow {
                    for j in 0..conv.cols {
                        let mut sum = 0i32;
                        for ky in 0..conv.k {
                            for kx in 0..conv.k {
                                let (sy, sx) = (
                                    (y + ky) as isize - conv.pad as isize,
                                    (xx + kx) as isize - conv.pad as isize,
                                );
                                if !(0..h as isize).contains(&sy) || !(0..w as isize).contains(&sx)
                                {
                                    continue;
                                }
                                for ch in 0..c {
                                    let packed = conv.weights
                                        [((ky * conv.k + kx) * groups + ch / QUAD) * conv.cols + j];
                                    let weight = (packed >> (8 * (ch % QUAD))) as i8;
                                    let byte = bytes[(ch * h + sy as usize) * w + sx as usize];
                                    sum += i32::from(byte) * i32::from(weight);
                                }
                            }
                        }
                        let v = (sum as f32 * (conv.scales[j] * scale) + conv.bias[j]).max(0.0);
                        largest = largest.max(v);
                        out.data[(y * ow + xx) * conv.cols + j] = v;
                    }
                }
            }
            plane = out;
            pool = conv.pool;
        }
        let cout = stack.convs.last().unwrap().cout;
        to_tensor(&plane, pool, cout)
    }

    type Stack = (usize, Vec<(Conv2d, bool)>);

    /// Ragged shapes: channels not a multiple of 16 or of 64 (each register blocking, and
    /// first layers of 80, 32 and 40 output channels: on AVX2 64 then 16, 32, and 48 at
    /// once), odd sides pooled, maps narrower than a run, 5x5 kernels with and without
    /// padding.
    fn stacks() -> Vec<Stack> {
        vec![
            (
                40,
                vec![
                    (conv(1, 32, 3, 1, 1), false),
                    (conv(32, 32, 3, 1, 2), true),
                    (conv(32, 64, 3, 1, 3), true),
                    (conv(64, 128, 3, 1, 4), true),
                    (conv(128, 256, 3, 1, 5), false),
                ],
            ),
            (
                23,
                vec![
                    (conv(1, 20, 5, 2, 6), true),
                    (conv(20, 40, 3, 1, 7), true),
                    (conv(40, 8, 5, 0, 8), false),
                ],
            ),
            (
                7,
                vec![(conv(1, 80, 3, 0, 9), false), (conv(80, 5, 3, 1, 10), true)],
            ),
            (
                9,
                vec![
                    (conv(1, 40, 3, 1, 11), true),
                    (conv(40, 24, 3, 1, 12), false),
                ],
            ),
        ]
    }

    fn input(side: usize, seed: u32) -> Tensor {
        Tensor {
            c: 1,
            h: side,
            w: side,
            data: pseudo(side * side, seed),
        }
    }

    /// The kernels this CPU runs: AVX2 where stacks run ([`Int8Stack::available`]), VNNI
    /// too where it has that (so a CPU with VNNI checks both).
    fn kernels_here() -> Vec<Kernels> {
        let mut kernels = Vec::new();
        if Int8Stack::available() {
            kernels.push(Kernels::Avx2);
        } else {
            eprintln!("no AVX2 and FMA here (or MOODTUNE_SIMD below AVX2): no 8-bit stack runs");
            return kernels;
        }
        if vnni_available() {
            kernels.push(Kernels::Vnni);
        } else {
            eprintln!("this CPU has no AVX-512 VNNI: the VNNI kernels are not run here");
        }
        kernels
    }

    /// Runs `check` on each of [`stacks`]' stacks (made from its layers) and an input
    /// plane from `seed`, with each of the kernels this CPU runs.
    fn each_stack(
        seed: u32,
        check: impl Fn(Kernels, usize, &[(Conv2d, bool)], &Int8Stack, &Tensor),
    ) {
        for kernels in kernels_here() {
            for (side, layers) in stacks() {
                let refs: Vec<(&Conv2d, bool)> = layers.iter().map(|(c, p)| (c, *p)).collect();
                let stack = Int8Stack::on(kernels, &refs).expect("a stack");
                check(kernels, side, &layers, &stack, &input(side, seed));
            }
        }
    }

    #[test]
    fn each_kernel_computes_the_scalar_arithmetic_bit_for_bit() {
        each_stack(11, |kernels, side, _, stack, x| {
            let expected = scalar(stack, x);
            assert_eq!(
                stack.forward(x, 1).data,
                expected.data,
                "{kernels:?}, side {side}, one thread"
            );
            let split = crate::nn::keeping_pool_awake(2, || stack.forward(x, 2));
            assert_eq!(
                split.data, expected.data,
                "{kernels:?}, side {side}, two threads"
            );
        });
    }

    /// A map of nothing but the top byte against weights of nothing but the largest
    /// magnitude: the 16-bit sums AVX2 keeps before widening hold their most here, so
    /// they would wrap with maps and weights much past [`Kernels::Avx2`]'s (four
    /// products over 32,767: weights of 65 with maps of 127, or maps of 130 with weights
    /// of 63). The bias keeps a wrapped negative sum from hiding under the ReLU.
    #[test]
    fn the_largest_products_do_not_saturate() {
        let first = Conv2d::new(1, 16, 1, 0, vec![1.0; 16], vec![0.0; 16]);
        let x = Tensor {
            c: 1,
            h: 4,
            w: 4,
            data: vec![1.0; 16],
        };
        for sign in [1.0, -1.0] {
            let next = Conv2d::new(16, 16, 1, 0, vec![sign; 256], vec![20.0; 16]);
            for kernels in kernels_here() {
                let stack =
                    Int8Stack::on(kernels, &[(&first, false), (&next, false)]).expect("a stack");
                let got = stack.forward(&x, 1);
                // 16 * sign + 20, exact: 1.0 maps to the top byte and sign to the top
                // weight, and their scales undo that.
                let want = 16.0 * sign + 20.0;
                assert!(
                    got.data.iter().all(|&v| (v - want).abs() <= 1e-5 * 36.0),
                    "{kernels:?}, sign {sign}: {:?}",
                    &got.data[..4]
                );
                assert_eq!(got.data, scalar(&stack, &x).data, "{kernels:?}");
            }
        }
    }

    #[test]
    fn the_int8_stack_computes_the_f32_layers_up_to_8_bit_rounding() {
        each_stack(12, |kernels, side, layers, stack, x| {
            let got = stack.forward(x, 1);
            let want = reference(layers, x);
            assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w));
            let largest = want.data.iter().fold(0f32, |m, v| m.max(*v));
            assert!(largest > 0.0, "a map with something in it");
            let worst = got
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            // Each layer rounds its map to 1/255 of its largest value and its weights to
            // 1/127 of theirs (1/127 and 1/63 on AVX2): measured, at most 0.095% of the
            // largest output here on VNNI and 0.20% on AVX2 (the 9x9 stack; 0.6-1.4%
            // when the maps' largest values saturate, at a scale of 1/400). The inputs
            // are fixed, so these figures do not vary between runs.
            assert!(
                worst <= 0.003 * largest,
                "{kernels:?}, side {side}: off by {worst} of {largest}"
            );
        });
    }

    #[test]
    fn every_map_gets_a_finite_scale() {
        for largest in [0.0, 1e-38, 1e-31, 1e-30, 1.0, 3e38] {
            for top in [Kernels::Vnni.map_top(), Kernels::Avx2.map_top()] {
                let scale = byte_scale(largest, top);
                assert!(
                    scale > 0.0 && (1.0 / scale).is_finite(),
                    "{largest}: {scale}"
                );
                assert!(
                    (largest * (1.0 / scale)).round() <= top,
                    "{largest}, top {top}: {scale}"
                );
            }
        }
        assert_eq!(byte_scale(255.0, 255.0), 1.0);
        assert_eq!(byte_scale(127.0, 127.0), 1.0);
    }

    #[test]
    fn no_stack_where_it_cannot_run() {
        let seven = conv(1, 8, 7, 3, 1);
        let next = conv(8, 8, 3, 1, 2);
        assert!(Int8Stack::new(&[(&seven, false), (&next, false)]).is_none());
        assert!(Int8Stack::new(&[(&next, false)]).is_none(), "one layer");
        // 2,600 input channels by 5x5 still fit i32's sums, 2,700 do not.
        let first = conv(1, 8, 3, 1, 4);
        let deep = |cin: usize| Conv2d::new(cin, 8, 5, 2, vec![0.0; 8 * cin * 25], vec![0.0; 8]);
        let fits = Int8Stack::new(&[(&first, false), (&deep(2600), false)]);
        assert_eq!(fits.is_some(), Int8Stack::available());
        assert!(Int8Stack::new(&[(&first, false), (&deep(2700), false)]).is_none());
        let two_channels = conv(2, 8, 3, 1, 3);
        assert!(Int8Stack::new(&[(&two_channels, false), (&next, false)]).is_none());
    }
}
