//! Convolutions in 8 bits on AVX-512 VNNI, for a whole stack of convolutions and pools:
//! on CPUs without AMX one `vpdpbusd` multiplies 64 unsigned activations by 64 signed
//! weights into 16 sums, four times the multiply-adds of an f32 FMA.
//!
//! Each map after a ReLU is zero or positive, so it is stored as `u8` with one scale per
//! image and layer: its largest value maps to 255 (decided after the layer, from the
//! values it computed, so no calibration data is shipped and no face saturates). Each
//! output channel's weights are `i8` with their own scale, the largest magnitude at 127.
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
//! f32 for the dense layers. The tests check the vector kernels against a scalar run of
//! the same arithmetic bit for bit, and the stack against the f32 engine; tests/int8.rs
//! checks the shipped model's PublicTest accuracy.

use std::arch::x86_64::*;
use std::cell::RefCell;
use std::ops::Range;

use super::channel_last::{Lines, Map};
use super::{Conv2d, Tensor};
use rayon::prelude::*;

/// Output channels per vector: 16 sums of `i32`.
const LANES: usize = 16;
/// Input channels per product: the 4 bytes of one broadcast.
const QUAD: usize = 4;
/// The largest kernel side a stack takes: for paper-table's 7x7 kernels Winograd's
/// F(3x3, 7x7) does 5.4x fewer multiplies than a direct product, more than 8 bits gain.
const MAX_KERNEL: usize = 5;
/// Products summed into one output at most: 255 * 127 * this stays inside `i32`.
const MAX_TERMS: usize = (i32::MAX / (255 * 127)) as usize;
/// Multiply-adds below which a layer runs on one thread (a woken thread costs more).
const SPLIT_MIN_MACS: usize = 8_000_000;

/// Whether this CPU runs the 8-bit kernels: AVX-512 with byte instructions and VNNI.
pub fn vnni_available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
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
    /// [`vnni_available`] must have returned true.
    #[target_feature(enable = "avx512f")]
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
        let mut top = _mm512_setzero_ps();
        for j0 in (0..self.cols).step_by(4 * LANES) {
            let grid = (padded.as_slice(), wp, (oh, ow));
            // Safety: as this function's.
            let part = unsafe {
                match (self.cols - j0) / LANES {
                    1 => self.columns::<1>(grid, j0, out),
                    2 => self.columns::<2>(grid, j0, out),
                    3 => self.columns::<3>(grid, j0, out),
                    _ => self.columns::<4>(grid, j0, out),
                }
            };
            top = _mm512_max_ps(top, part);
        }
        _mm512_reduce_max_ps(top)
    }

    /// Output channels `j0..j0 + NB * 16` of every pixel of the `oh` x `ow` output, from
    /// `padded` (`wp` wide, the padding included): each tap broadcast once for the NB
    /// vectors; returns their largest values.
    ///
    /// # Safety
    /// [`vnni_available`] must have returned true; `j0 + NB * 16 <= cols`.
    #[target_feature(enable = "avx512f,fma")]
    unsafe fn columns<const NB: usize>(
        &self,
        (padded, wp, (oh, ow)): (&[f32], usize, (usize, usize)),
        j0: usize,
        out: &mut Plane,
    ) -> __m512 {
        let (k, cols) = (self.k, self.cols);
        assert!(j0 + NB * LANES <= cols && out.data.len() == oh * ow * cols);
        assert!((oh + k - 1) * wp <= padded.len() && ow + k - 1 <= wp);
        let (w, b, src) = (self.weights.as_ptr(), self.bias.as_ptr(), padded.as_ptr());
        let mut top = _mm512_setzero_ps();
        for y in 0..oh {
            for xx in 0..ow {
                // Safety: taps (y + ky, xx + kx) are inside the padded plane and weight
                // rows hold cols values (asserted); the store is pixel (y, xx)'s.
                unsafe {
                    let mut sums: [__m512; NB] =
                        std::array::from_fn(|i| _mm512_loadu_ps(b.add(j0 + i * LANES)));
                    for ky in 0..k {
                        for kx in 0..k {
                            let v = _mm512_set1_ps(*src.add((y + ky) * wp + xx + kx));
                            let row = w.add((ky * k + kx) * cols + j0);
                            for (i, sum) in sums.iter_mut().enumerate() {
                                *sum =
                                    _mm512_fmadd_ps(v, _mm512_loadu_ps(row.add(i * LANES)), *sum);
                            }
                        }
                    }
                    let dst = out.data.as_mut_ptr().add((y * ow + xx) * cols + j0);
                    for (i, sum) in sums.iter().enumerate() {
                        let v = _mm512_max_ps(*sum, _mm512_setzero_ps());
                        top = _mm512_max_ps(top, v);
                        _mm512_storeu_ps(dst.add(i * LANES), v);
                    }
                }
            }
        }
        top
    }
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
    fn new(conv: &Conv2d, pool: bool) -> QConv {
        let (cin, cout, k) = (conv.cin, conv.cout, conv.k);
        let depth = cin.next_multiple_of(LANES);
        let cols = cout.next_multiple_of(LANES);
        let per_out = cin * k * k;
        let mut weights = Lines::<i32>::zeroed(k * k * depth / QUAD * cols);
        let mut scales = vec![0.0; cols];
        for o in 0..cout {
            let row = &conv.weight[o * per_out..][..per_out];
            let largest = row.iter().fold(0f32, |m, w| m.max(w.abs()));
            let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
            scales[o] = scale;
            for c in 0..cin {
                for tap in 0..k * k {
                    let q = (row[c * k * k + tap] / scale).round().clamp(-127.0, 127.0) as i8;
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
    /// [`vnni_available`] must have returned true.
    unsafe fn forward(&self, x: &ByteMap, x_scale: f32, out: &mut Plane, ways: usize) -> f32 {
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
            unsafe { self.products(x, range, &sink) }
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
    /// [`vnni_available`] must have returned true; nothing else writes these outputs.
    unsafe fn products(&self, a: &ByteMap, outputs: Range<usize>, out: &Sink) -> f32 {
        // Safety: passed on.
        unsafe {
            if self.cols.is_multiple_of(64) {
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

    /// [`Self::products`] in runs of `P` pixels by `NB` vectors of 16 output channels:
    /// `P * NB` sums in registers, each weight vector loaded once per run and each
    /// pixel's 4 channels broadcast once per block.
    ///
    /// # Safety
    /// As [`Self::products`]'; `NB * 16` divides `cols`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn products_in<const P: usize, const NB: usize>(
        &self,
        a: &ByteMap,
        outputs: Range<usize>,
        out: &Sink,
    ) -> f32 {
        let (wp, c, k, cols) = (a.wp(), a.channels, self.k, self.cols);
        let ((oh, ow), multipliers) = (out.side, &out.multipliers);
        let groups = self.depth / QUAD;
        assert!(cols.is_multiple_of(NB * LANES) && multipliers.len() == cols);
        assert_eq!(
            self.weights.len(),
            k * k * groups * cols,
            "weights for every offset"
        );
        assert!(outputs.end <= oh * ow && out.len == oh * ow * cols);
        // Every output's window, (y..y + k, x..x + k) on the bordered grid, lies inside
        // the map: (oh + k - 1) x (ow + k - 1) pixels is its whole grid.
        assert!(
            (oh + k - 1) * wp * c <= a.data.len() && ow + k - 1 == wp,
            "8-bit map holds every window"
        );
        let mut top = _mm512_setzero_ps();
        let (data, weights) = (a.data.as_ptr(), self.weights.as_ptr());
        for j0 in (0..cols).step_by(NB * LANES) {
            for i0 in outputs.clone().step_by(P) {
                // Each pixel of the run reads its own window: runs skip the border, and
                // past the last output they repeat it (computed, not stored).
                let windows: [usize; P] = std::array::from_fn(|p| {
                    let i = (i0 + p).min(outputs.end - 1);
                    (i / ow * wp + i % ow) * c
                });
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
}

/// The output side of a `k` x `k` convolution padded by `pad` on an `h` x `w` map.
fn out_side((h, w): (usize, usize), k: usize, pad: usize) -> (usize, usize) {
    (h + 2 * pad + 1 - k, w + 2 * pad + 1 - k)
}

/// The scale that maps `largest` to 255. A map whose values are all below 1e-30 (or
/// zero) rounds to zeros at scale 1: its inverse stays finite, where a scale near f32's
/// smallest would make it infinite and zero times it NaN.
fn byte_scale(largest: f32) -> f32 {
    if largest >= 1e-30 {
        largest / 255.0
    } else {
        1.0
    }
}

/// `x` (2x2 max pooled when `pool`) rounded to 8 bits at `scale` into `out`'s inside,
/// `out` given a border of `pad` for a `k` x `k` kernel.
///
/// # Safety
/// [`vnni_available`] must have returned true.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize(x: &Plane, pool: bool, scale: f32, (pad, k): (usize, usize), out: &mut ByteMap) {
    let (h, w) = if pool { (x.h / 2, x.w / 2) } else { (x.h, x.w) };
    let c = x.channels;
    out.reshape(h, w, pad, c, k);
    let inverse = _mm512_set1_ps(1.0 / scale);
    let src = x.data.as_ptr();
    for y in 0..h {
        for xx in 0..w {
            let dst = out.at(y, xx);
            assert!(dst + c <= out.data.len());
            let pixels = if pool {
                let at = |dy: usize, dx: usize| ((2 * y + dy) * x.w + 2 * xx + dx) * c;
                [at(0, 0), at(0, 1), at(1, 0), at(1, 1)]
            } else {
                [(y * x.w + xx) * c; 4]
            };
            for ch in (0..c).step_by(LANES) {
                // Safety: each load reads 16 channels of a pixel inside the plane, the
                // store 16 bytes inside the map (asserted).
                unsafe {
                    let v = _mm512_max_ps(
                        _mm512_max_ps(
                            _mm512_loadu_ps(src.add(pixels[0] + ch)),
                            _mm512_loadu_ps(src.add(pixels[1] + ch)),
                        ),
                        _mm512_max_ps(
                            _mm512_loadu_ps(src.add(pixels[2] + ch)),
                            _mm512_loadu_ps(src.add(pixels[3] + ch)),
                        ),
                    );
                    let units = _mm512_cvtps_epi32(_mm512_mul_ps(v, inverse));
                    let bytes = _mm512_cvtusepi32_epi8(units);
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
}

impl Int8Stack {
    /// Whether this CPU can run a stack (AVX-512 VNNI).
    pub fn available() -> bool {
        vnni_available()
    }

    /// The stack of `layers` (each convolution with whether a pool follows it), or None
    /// where it cannot run or should not: no VNNI here, fewer than two layers, a first
    /// layer on more than one channel, kernels over 5x5, or a layer whose sums could
    /// overflow `i32` (over 66,311 products an output; the registry's largest has 3,456).
    pub fn new(layers: &[(&Conv2d, bool)]) -> Option<Int8Stack> {
        let (first, rest) = layers.split_first()?;
        if rest.is_empty()
            || !vnni_available()
            || first.0.cin != 1
            || layers.iter().any(|(c, _)| c.k > MAX_KERNEL)
            || layers.iter().any(|(c, _)| c.k * c.k * c.cin > MAX_TERMS)
        {
            return None;
        }
        Some(Int8Stack {
            first: FirstConv::new(first.0, first.1),
            convs: rest.iter().map(|&(c, pool)| QConv::new(c, pool)).collect(),
        })
    }

    /// The stack on one input plane: the last layer's map as NCHW f32. Layers with
    /// enough work share it `ways` ways over the rayon pool.
    pub fn forward(&self, x: &Tensor, ways: usize) -> Tensor {
        // Taken out for the pass and put back after: a thread that picks up another pass
        // while it waits for a split layer's other part finds none and makes its own.
        let mut buffers = BUFFERS.with(|kept| std::mem::take(&mut *kept.borrow_mut()));
        let Buffers { padded, plane, map } = &mut buffers;
        // Safety: a stack is only made where `vnni_available()` holds.
        let mut largest = unsafe { self.first.forward(x, padded, plane) };
        let mut pool = self.first.pool;
        for conv in &self.convs {
            let scale = byte_scale(largest);
            // Safety: as above.
            unsafe {
                quantize(plane, pool, scale, (conv.pad, conv.k), map);
                largest = conv.forward(map, scale, plane, ways);
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
    /// rounding to 8 bits, exact integer sums, the same f32 epilogue.
    fn scalar(stack: &Int8Stack, x: &Tensor) -> Tensor {
        let first = &stack.first;
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
            let scale = byte_scale(largest);
            let input = to_tensor(&plane, pool, plane.channels);
            let bytes: Vec<u8> = input
                .data
                .iter()
                .map(|v| (v * (1.0 / scale)).round_ties_even().min(255.0) as u8)
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
    /// a first layer of 80: 64 output channels, then 16), odd sides pooled, maps narrower
    /// than a run, 5x5 kernels with and without padding.
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

    /// Runs `check` on each of [`stacks`]' stacks (made from its layers) and an input
    /// plane from `seed`, where this CPU has VNNI.
    fn each_stack(seed: u32, check: impl Fn(usize, &[(Conv2d, bool)], &Int8Stack, &Tensor)) {
        if !vnni_available() {
            eprintln!("this CPU has no AVX-512 VNNI: the 8-bit stack is not run here");
            return;
        }
        for (side, layers) in stacks() {
            let refs: Vec<(&Conv2d, bool)> = layers.iter().map(|(c, p)| (c, *p)).collect();
            let stack = Int8Stack::new(&refs).expect("a stack");
            check(side, &layers, &stack, &input(side, seed));
        }
    }

    #[test]
    fn the_vnni_kernels_compute_the_scalar_arithmetic_bit_for_bit() {
        each_stack(11, |side, _, stack, x| {
            let expected = scalar(stack, x);
            assert_eq!(
                stack.forward(x, 1).data,
                expected.data,
                "side {side}, one thread"
            );
            let split = crate::nn::keeping_pool_awake(2, || stack.forward(x, 2));
            assert_eq!(split.data, expected.data, "side {side}, two threads");
        });
    }

    #[test]
    fn the_int8_stack_computes_the_f32_layers_up_to_8_bit_rounding() {
        each_stack(12, |side, layers, stack, x| {
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
            // 1/127 of theirs: measured, at most 0.07% of the largest output here (0.6-1.4%
            // when the maps' largest values saturate, at a scale of 1/400).
            assert!(
                worst <= 0.003 * largest,
                "side {side}: off by {worst} of {largest}"
            );
        });
    }

    #[test]
    fn every_map_gets_a_finite_scale() {
        for largest in [0.0, 1e-38, 1e-31, 1e-30, 1.0, 3e38] {
            let scale = byte_scale(largest);
            assert!(
                scale > 0.0 && (1.0 / scale).is_finite(),
                "{largest}: {scale}"
            );
            assert!(
                (largest * (1.0 / scale)).round() <= 255.0,
                "{largest}: {scale}"
            );
        }
        assert_eq!(byte_scale(255.0), 1.0);
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
        assert_eq!(fits.is_some(), vnni_available());
        assert!(Int8Stack::new(&[(&first, false), (&deep(2700), false)]).is_none());
        let two_channels = conv(2, 8, 3, 1, 3);
        assert!(Int8Stack::new(&[(&two_channels, false), (&next, false)]).is_none());
    }
}
