//! Convolutions straight on AMX tiles, for a whole stack of convolutions and pools in
//! bf16: where products run in bf16 ([`super::Simd::bf16_products`]) the tiles multiply
//! faster than im2col or Winograd's transforms can feed them, so the stack keeps its maps
//! in the tiles' own form from layer to layer and reads them in place.
//!
//! A map ([`TileMap`]) is bf16, pixel by pixel with its channels side by side (padded to
//! a multiple of 32 with zeros), surrounded by the zero border the next convolution pads
//! with. Output pixel `q = y * wp + x` of a convolution over a map `wp` pixels wide
//! (border included) reads input pixel `q + ky * wp + kx` at kernel offset (ky, kx):
//! 16 consecutive outputs read 16 input pixels one `channels` apart, one strided tile
//! load per offset and 32 channels, with no im2col. The `k - 1` outputs at the end of each
//! row that fall on the border are computed and dropped. A first layer on one channel
//! (the face) takes its kernel's taps as channels instead (unfolded once, a few
//! kilobytes), so it runs as a 1x1 convolution; for a 3x3 kernel the channels it pads
//! anyway also carry what bf16 rounds off the pixels and the weights.
//!
//! Each product is bias, ReLU and rounding to bf16 on the way out; a 2x2 max pool runs on
//! the bf16 values (rounding keeps order, so it picks what pooling f32 would, rounded).
//! Results match the f32 engine up to bf16 rounding of the maps (tests below; the shipped
//! model's PublicTest answers in tests/bf16.rs).

use std::arch::asm;
use std::arch::x86_64::*;
use std::cell::RefCell;

use super::channel_last::{pixel_offset, Lines, Map};
use super::{amx, Conv2d, Tensor};
use rayon::prelude::*;

// Output pixels and output channels per block (2x2 tiles of 16x16), and channels per
// tile product (a tile row of 32 bf16 values).
use amx::{BLOCK, DEPTH};
/// Tile steps (4 products each) below which a layer runs on one thread: a thread woken
/// for less work costs more than it saves. The vgg networks' layers take 500-1,300,
/// paper's 48x48 ones 5,000 and more.
const SPLIT_MIN_STEPS: usize = 2000;

/// A bf16 map in the tiles' form: `channels` a multiple of 32.
type TileMap = Map<u16>;

impl TileMap {
    /// The first `c` channels as NCHW f32 (what the dense layers read).
    fn to_tensor(&self, c: usize) -> Tensor {
        let mut data = Vec::with_capacity(c * self.h * self.w);
        for ch in 0..c {
            for y in 0..self.h {
                for x in 0..self.w {
                    data.push(f32::from_bits(
                        u32::from(self.data[self.at(y, x) + ch]) << 16,
                    ));
                }
            }
        }
        Tensor {
            c,
            h: self.h,
            w: self.w,
            data,
        }
    }
}

/// The largest kernel side a stack takes ([`TileStack::new`]).
const MAX_KERNEL: usize = 5;

/// Where a layer's products write: an output map's buffer and shape, shared by the
/// threads that split the layer (each writes its own pixels).
struct Sink {
    data: *mut u16,
    len: usize,
    wp: usize,
    pad: usize,
    channels: usize,
}

// Safety: the threads sharing a sink write disjoint pixels (`TileConv::products`), and
// the map outlives them.
unsafe impl Sync for Sink {}

/// One convolution's weights for the tiles: bias and ReLU after it, optionally a 2x2
/// max pool.
#[derive(Debug, Clone)]
struct TileConv {
    cin: usize,
    cout: usize,
    k: usize,
    pad: usize,
    /// Whether the kernel's taps are the input's channels (one input channel): the
    /// product is then a 1x1 convolution over the unfolded input.
    unfolded: bool,
    /// Whether an unfolded layer's taps also carry what bf16 rounds off, the input's and
    /// the weights' (`x w ~ xh wh + xl wh + xh wl`), in channels it pads anyway: the
    /// face's pixels enter at about f32 precision, for free.
    split: bool,
    /// Input channels as the tiles read them (taps when unfolded), a multiple of 32.
    depth: usize,
    /// Output channels, padded to a multiple of 32.
    cols: usize,
    /// `[offsets][depth / 2][cols]` bf16 pairs: offset (ky, kx), input channels 2p and
    /// 2p + 1 of output channel j.
    weights: Lines<u32>,
    /// `cols` biases (zero for the padding).
    bias: Vec<f32>,
    pool: bool,
}

thread_local! {
    /// A thread's maps (an unpooled map, an unfolded one, and the two each image of a
    /// group alternates between layers), kept between passes.
    static MAPS: RefCell<Vec<TileMap>> = const { RefCell::new(Vec::new()) };
}

impl TileConv {
    /// `conv` (stride 1), followed by a 2x2 max pool when `pool`.
    fn new(conv: &Conv2d, pool: bool) -> TileConv {
        let (cin, cout, k) = (conv.cin, conv.cout, conv.k);
        let unfolded = cin == 1;
        let split = unfolded && 3 * k * k <= DEPTH;
        let (offsets, per_offset) = if unfolded { (1, k * k) } else { (k * k, cin) };
        let depth = per_offset.next_multiple_of(DEPTH);
        let cols = cout.next_multiple_of(BLOCK);
        let mut weights = Lines::<u32>::zeroed(offsets * depth / 2 * cols);
        let per_out = cin * k * k;
        let mut set = |offset: usize, channel: usize, o: usize, bits: u16| {
            let pair = &mut weights[(offset * depth / 2 + channel / 2) * cols + o];
            *pair |= u32::from(bits) << (16 * (channel % 2));
        };
        for o in 0..cout {
            for c in 0..cin {
                for ky in 0..k {
                    for kx in 0..k {
                        let w = conv.weight[o * per_out + (c * k + ky) * k + kx];
                        let high = half::bf16::from_f32(w);
                        let (offset, channel) = if unfolded {
                            (0, ky * k + kx)
                        } else {
                            (ky * k + kx, c)
                        };
                        set(offset, channel, o, high.to_bits());
                        if split {
                            let low = half::bf16::from_f32(w - high.to_f32());
                            set(0, k * k + channel, o, high.to_bits());
                            set(0, 2 * k * k + channel, o, low.to_bits());
                        }
                    }
                }
            }
        }
        let mut bias = conv.bias.clone();
        bias.resize(cols, 0.0);
        TileConv {
            cin,
            cout,
            k,
            pad: conv.pad,
            unfolded,
            split,
            depth,
            cols,
            weights,
            bias,
            pool,
        }
    }

    fn out_side(&self, h: usize, w: usize) -> (usize, usize) {
        (h + 2 * self.pad + 1 - self.k, w + 2 * self.pad + 1 - self.k)
    }

    /// The first layer's input map from an NCHW plane: the plane in bf16 with this
    /// convolution's border, or its taps unfolded into channels.
    fn input_map(&self, x: &Tensor, map: &mut TileMap) {
        assert_eq!(x.c, self.cin, "tile convolution input channels");
        let bf16 = |v: f32| half::bf16::from_f32(v).to_bits();
        if !self.unfolded {
            map.reshape(x.h, x.w, self.pad, self.depth, self.k);
            // Channels past the input's are zeros.
            map.data.fill(0);
            for c in 0..x.c {
                for y in 0..x.h {
                    for xx in 0..x.w {
                        let at = map.at(y, xx) + c;
                        map.data[at] = bf16(x.data[(c * x.h + y) * x.w + xx]);
                    }
                }
            }
            return;
        }
        // The plane in bf16 inside its zero border (and what rounding left off, where
        // split), then each output pixel's k rows of k taps copied side by side: the
        // rounded taps, then (split) the remainders and the rounded taps again, which the
        // weights' two parts multiply; the channels past them zeros.
        let (k, p) = (self.k, self.pad);
        let wp = x.w + 2 * p;
        let mut high = vec![0u16; (x.h + 2 * p) * wp];
        let mut low = vec![0u16; if self.split { high.len() } else { 0 }];
        for (y, row) in x.data.chunks_exact(x.w).enumerate() {
            let at = (y + p) * wp + p;
            for (i, &v) in row.iter().enumerate() {
                let rounded = half::bf16::from_f32(v);
                high[at + i] = rounded.to_bits();
                if self.split {
                    low[at + i] = bf16(v - rounded.to_f32());
                }
            }
        }
        let (oh, ow) = self.out_side(x.h, x.w);
        map.reshape(oh, ow, 0, self.depth, 1);
        let used = if self.split { 3 * k * k } else { k * k };
        for y in 0..oh {
            for xx in 0..ow {
                let at = map.at(y, xx);
                let taps = &mut map.data[at..at + self.depth];
                for ky in 0..k {
                    let src = (y + ky) * wp + xx;
                    taps[ky * k..][..k].copy_from_slice(&high[src..][..k]);
                    if self.split {
                        taps[k * k + ky * k..][..k].copy_from_slice(&low[src..][..k]);
                        taps[2 * k * k + ky * k..][..k].copy_from_slice(&high[src..][..k]);
                    }
                }
                taps[used..].fill(0);
            }
        }
    }

    /// This layer on `x` (whose border must be this convolution's padding, or none when
    /// unfolded), into `out` with a border of `out_pad` for the next layer (read by a
    /// `next_k` kernel): bias, ReLU, and the pool when the layer has one. `unpooled` and
    /// `unfolded` are scratch. Layers with enough products share them `ways` ways.
    ///
    /// # Safety
    /// [`amx::available`] must have returned true.
    unsafe fn forward_into(
        &self,
        x: &TileMap,
        (out_pad, next_k): (usize, usize),
        unpooled: &mut TileMap,
        unfolded: &mut TileMap,
        out: &mut TileMap,
        ways: usize,
    ) {
        assert_eq!(x.channels, self.depth, "tile convolution depth");
        let (oh, ow) = if self.unfolded {
            assert_eq!(x.pad, 0, "an unfolded map has no border");
            (x.h, x.w)
        } else {
            assert_eq!(
                x.pad, self.pad,
                "the map's border is the convolution's padding"
            );
            self.out_side(x.h, x.w)
        };
        // Read in place, output pixel q (on the input's grid, border columns included)
        // reads input pixels q + ky * wp + kx. On small maps the border columns are much
        // of the grid (5x5 in 7x7: two blocks of 32 for 25 outputs), and unfolding the
        // taps into channels (copies of whole pixels) leaves one product of 25 rows.
        let direct_blocks = ((oh - 1) * x.wp() + ow).div_ceil(BLOCK);
        let (a, taps) = if !self.unfolded && 4 * direct_blocks >= 5 * (oh * ow).div_ceil(BLOCK) {
            unfold(x, self.k, (oh, ow), unfolded);
            (&*unfolded, 1)
        } else if self.unfolded {
            (x, 1)
        } else {
            (x, self.k)
        };
        let outputs = (oh - 1) * a.wp() + ow;
        let (target, target_pad) = if self.pool {
            (&mut *unpooled, 0)
        } else {
            (&mut *out, out_pad)
        };
        target.reshape(oh, ow, target_pad, self.cols, next_k);
        let blocks = outputs.div_ceil(BLOCK);
        let steps = blocks * self.cols / BLOCK * taps * taps * a.channels / DEPTH;
        let parts = if steps >= SPLIT_MIN_STEPS {
            ways.max(1)
        } else {
            1
        };
        let sink = Sink {
            data: target.data.as_mut_ptr(),
            len: target.data.len(),
            wp: target.wp(),
            pad: target.pad,
            channels: target.channels,
        };
        let product = |part: usize| {
            let range = blocks * part / parts..blocks * (part + 1) / parts;
            // Safety: as this function's; the parts write different output pixels.
            unsafe { self.products(a, taps, (oh, ow), range, &sink) }
        };
        if parts == 1 {
            product(0);
        } else {
            (0..parts).into_par_iter().for_each(product);
        }
        if self.pool {
            out.reshape(oh / 2, ow / 2, out_pad, self.cols, next_k);
            // Safety: AVX-512 BW comes with `available`.
            unsafe { max_pool(unpooled, out) };
        }
    }

    /// The products of output blocks `blocks` (of 32 pixels on `a`'s grid), read with
    /// `taps` x `taps` offsets, through bias and ReLU into `out`.
    ///
    /// # Safety
    /// [`amx::available`] must have returned true; `out` is an `oh` x `ow` map of
    /// `cols` channels that nothing else reads or writes at these blocks' pixels.
    unsafe fn products(
        &self,
        a: &TileMap,
        taps: usize,
        (oh, ow): (usize, usize),
        blocks: std::ops::Range<usize>,
        out: &Sink,
    ) {
        let wp = a.wp();
        assert_eq!(
            taps * taps * a.channels / 2 * self.cols,
            self.weights.len(),
            "weights for every offset and channel"
        );
        // The last block's reads stay inside the spare pixels.
        let last_read = blocks.end * BLOCK + (taps - 1) * (wp + 1);
        assert!(
            last_read * a.channels <= a.data.len(),
            "tile map too small for its reads"
        );
        let (a_stride, b_stride) = (a.channels * 2, self.cols * 4);
        let steps = a.channels / DEPTH;
        let mut sums = [0f32; BLOCK * BLOCK];
        let config = amx::TileConfig::uniform();
        // Safety: the configuration is loaded before the tiles are used and released
        // after. Every A load reads 16 pixels' 64 bytes at pixel q0 + offset + (0..32)
        // < last_read (asserted above); every B load 16 pair rows of 64 bytes inside
        // `weights` (`offsets * depth / 2` rows of `cols`, j0 + 32 <= cols); the stores
        // write `sums`, 32 rows of 32.
        unsafe {
            asm!("ldtilecfg [{}]", in(reg) config.bytes(), options(nostack));
            for q0 in blocks.map(|b| b * BLOCK) {
                for j0 in (0..self.cols).step_by(BLOCK) {
                    amx::zero_block();
                    for ky in 0..taps {
                        for kx in 0..taps {
                            let offset = ky * taps + kx;
                            let pixel = q0 + ky * wp + kx;
                            for step in 0..steps {
                                let a0 = a.data.as_ptr().add(pixel * a.channels + step * DEPTH);
                                let b0 = self.weights.as_ptr().add(
                                    (offset * a.channels / 2 + step * DEPTH / 2) * self.cols + j0,
                                );
                                amx::block_step(
                                    a0,
                                    a0.add(16 * a.channels),
                                    b0,
                                    b0.add(16),
                                    a_stride,
                                    b_stride,
                                );
                            }
                        }
                    }
                    amx::store_block(sums.as_mut_ptr());
                    for (r, row) in sums.chunks_exact(BLOCK).enumerate() {
                        let q = q0 + r;
                        let (y, xx) = (q / wp, q % wp);
                        if y >= oh || xx >= ow {
                            continue;
                        }
                        let at = pixel_offset((y, xx), out.pad, out.wp, out.channels) + j0;
                        assert!(at + BLOCK <= out.len, "output inside its map");
                        let dst = std::slice::from_raw_parts_mut(out.data.add(at), BLOCK);
                        store_relu(row, &self.bias[j0..j0 + BLOCK], dst);
                    }
                }
            }
            asm!("tilerelease", options(nostack));
        }
    }
}

/// Every output pixel's `k` x `k` input pixels side by side in `unfolded` (no border):
/// `x` (bordered as the convolution pads) read as a 1x1 convolution's input.
fn unfold(x: &TileMap, k: usize, (oh, ow): (usize, usize), unfolded: &mut TileMap) {
    let c = x.channels;
    unfolded.reshape(oh, ow, 0, k * k * c, 1);
    let wp = x.wp();
    for y in 0..oh {
        for xx in 0..ow {
            let dst = unfolded.at(y, xx);
            for ky in 0..k {
                let src = ((y + ky) * wp + xx) * c;
                unfolded.data[dst + ky * k * c..][..k * c].copy_from_slice(&x.data[src..][..k * c]);
            }
        }
    }
}

/// `dst = bf16(max(sums + bias, 0))`, 32 values.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
fn store_relu(sums: &[f32], bias: &[f32], dst: &mut [u16]) {
    assert!(sums.len() >= BLOCK && bias.len() >= BLOCK && dst.len() >= BLOCK);
    // Safety: each slice holds 32 values (asserted).
    unsafe {
        let zero = _mm512_setzero_ps();
        let low = _mm512_max_ps(
            _mm512_add_ps(
                _mm512_loadu_ps(sums.as_ptr()),
                _mm512_loadu_ps(bias.as_ptr()),
            ),
            zero,
        );
        let high = _mm512_max_ps(
            _mm512_add_ps(
                _mm512_loadu_ps(sums.as_ptr().add(16)),
                _mm512_loadu_ps(bias.as_ptr().add(16)),
            ),
            zero,
        );
        let packed: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(high, low));
        _mm512_storeu_si512(dst.as_mut_ptr() as *mut _, packed);
    }
}

/// 2x2 max pool of `x` (no border) into `out`'s inside. After the ReLU every value is
/// zero or positive, whose bf16 bits order as unsigned integers.
#[target_feature(enable = "avx512f,avx512bw")]
fn max_pool(x: &TileMap, out: &mut TileMap) {
    assert!(x.channels == out.channels && out.h * 2 <= x.h && out.w * 2 <= x.w);
    let c = x.channels;
    for y in 0..out.h {
        for xx in 0..out.w {
            let (a, b) = (x.at(2 * y, 2 * xx), x.at(2 * y + 1, 2 * xx));
            let dst = out.at(y, xx);
            for ch in (0..c).step_by(32) {
                let src = &x.data;
                assert!(b + c + ch + 32 <= src.len() && dst + ch + 32 <= out.data.len());
                // Safety: each load reads 32 u16 of one pixel's channels, inside `src`
                // (pixels (2y, 2x..2x+2) and (2y+1, ..) are inside the map), the store
                // 32 inside `out` (asserted).
                unsafe {
                    let p = src.as_ptr();
                    let m = _mm512_max_epu16(
                        _mm512_max_epu16(
                            _mm512_loadu_si512(p.add(a + ch) as *const _),
                            _mm512_loadu_si512(p.add(a + c + ch) as *const _),
                        ),
                        _mm512_max_epu16(
                            _mm512_loadu_si512(p.add(b + ch) as *const _),
                            _mm512_loadu_si512(p.add(b + c + ch) as *const _),
                        ),
                    );
                    _mm512_storeu_si512(out.data.as_mut_ptr().add(dst + ch) as *mut _, m);
                }
            }
        }
    }
}

/// A network's convolutions and pools, run on the tiles end to end.
#[derive(Debug, Clone)]
pub struct TileStack {
    convs: Vec<TileConv>,
}

impl TileStack {
    /// Whether this CPU can run a stack (AMX tiles granted).
    pub fn available() -> bool {
        amx::available()
    }

    /// The stack of `layers` (each convolution with whether a pool follows it), or None
    /// where the tiles cannot run it or should not: no AMX here, a one-channel layer
    /// after the first, or kernels over 5x5. For 7x7 kernels Winograd's F(3x3, 7x7)
    /// does 5.4x fewer multiplies, and paper-table's batch of 64 took 182 ms on the
    /// tiles against 146 ms that way (`fer bench`, Intel Xeon with AMX, release,
    /// 2026-12-07; docs/RESULTS.md).
    pub fn new(layers: &[(&Conv2d, bool)]) -> Option<TileStack> {
        if layers.is_empty() || !amx::available() || layers.iter().any(|(c, _)| c.k > MAX_KERNEL) {
            return None;
        }
        // Only a first layer may read an unfolded map: a later one-channel layer would
        // need its input unfolded between layers.
        if layers[1..].iter().any(|(c, _)| c.cin == 1) {
            return None;
        }
        Some(TileStack {
            convs: layers
                .iter()
                .map(|&(c, pool)| TileConv::new(c, pool))
                .collect(),
        })
    }

    /// The stack on one input plane: the last layer's map as NCHW f32. Layers with
    /// enough work share it `ways` ways over the rayon pool.
    pub fn forward(&self, x: &Tensor, ways: usize) -> Tensor {
        self.forward_group(std::slice::from_ref(x), ways).remove(0)
    }

    /// [`Self::forward`] of a few images layer by layer: each layer's weights, read from
    /// memory for the first image, are still in cache for the others.
    pub fn forward_group(&self, xs: &[Tensor], ways: usize) -> Vec<Tensor> {
        // Taken out for the pass and put back after: a thread that picks up another pass
        // while it waits for a split layer's other part finds none and makes its own.
        let mut maps = MAPS.with(|maps| std::mem::take(&mut *maps.borrow_mut()));
        // An unpooled and an unfolded map, then each image's two.
        let needed = 2 + 2 * xs.len();
        if maps.len() < needed {
            maps.resize(needed, TileMap::default());
        }
        let (scratch, images) = maps[..needed].split_at_mut(2);
        let [unpooled, unfolded] = scratch else {
            unreachable!("two scratch maps")
        };
        for (x, pair) in xs.iter().zip(images.chunks_exact_mut(2)) {
            self.convs[0].input_map(x, &mut pair[0]);
        }
        for (i, conv) in self.convs.iter().enumerate() {
            let (next_pad, next_k) = match self.convs.get(i + 1) {
                Some(later) => (later.pad, later.k),
                None => (0, 1),
            };
            for pair in images.chunks_exact_mut(2) {
                let [current, next] = pair else {
                    unreachable!("two maps an image")
                };
                // Safety: a stack is only made where `amx::available()` holds.
                unsafe {
                    conv.forward_into(current, (next_pad, next_k), unpooled, unfolded, next, ways)
                };
                std::mem::swap(current, next);
            }
        }
        let cout = self.convs.last().expect("a layer").cout;
        let features = images
            .chunks_exact(2)
            .map(|pair| pair[0].to_tensor(cout))
            .collect();
        MAPS.with(|kept| *kept.borrow_mut() = maps);
        features
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::tests::{pseudo, stack_conv as conv, stack_reference as reference};

    /// Against the f32 engine on ragged shapes: one input channel unfolded (3x3, and
    /// 5x5 without padding), channels not a multiple of 32, odd sides pooled, maps
    /// narrower than a block, a 5x5 kernel; one thread and two.
    #[test]
    fn the_tile_stack_computes_the_f32_layers_up_to_bf16_rounding() {
        if !amx::available() {
            eprintln!("this CPU (or kernel) gives no AMX tiles: the tile stack is not run here");
            return;
        }
        // (input channels, side, layers with whether a pool follows).
        type Stack = (usize, usize, Vec<(Conv2d, bool)>);
        let stacks: Vec<Stack> = vec![
            (
                1,
                40,
                vec![
                    (conv(1, 32, 3, 1, 1), false),
                    (conv(32, 32, 3, 1, 2), true),
                    (conv(32, 64, 3, 1, 3), true),
                ],
            ),
            (
                1,
                23,
                vec![
                    (conv(1, 48, 3, 1, 4), true),
                    (conv(48, 96, 3, 1, 5), true),
                    (conv(96, 40, 3, 1, 6), true),
                ],
            ),
            (
                1,
                20,
                vec![
                    (conv(1, 16, 5, 0, 7), false),
                    (conv(16, 70, 5, 2, 8), true),
                    (conv(70, 33, 3, 0, 9), false),
                ],
            ),
            (
                3,
                9,
                vec![
                    (conv(3, 32, 3, 1, 10), true),
                    (conv(32, 256, 3, 1, 11), true),
                ],
            ),
            // paper's first layers: enough products to split.
            (
                1,
                48,
                vec![
                    (conv(1, 64, 3, 1, 12), false),
                    (conv(64, 128, 3, 1, 13), true),
                ],
            ),
        ];
        for (n, (cin, side, layers)) in stacks.into_iter().enumerate() {
            let x = Tensor {
                c: cin,
                h: side,
                w: side,
                data: pseudo(cin * side * side, 20 + n as u32),
            };
            let want = reference(&layers, &x);
            let refs: Vec<(&Conv2d, bool)> = layers.iter().map(|(c, p)| (c, *p)).collect();
            let stack = TileStack::new(&refs).expect("AMX is here");
            let got = stack.forward(&x, 1);
            // Split over two threads: the same values.
            let split = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap()
                .install(|| stack.forward(&x, 2));
            assert_eq!(split.data, got.data, "stack {n} split");
            assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w), "stack {n}");
            let scale = want.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
                assert!(
                    (g - w).abs() <= 0.03 * scale,
                    "stack {n} value {i}: {g} vs {w} (largest {scale})"
                );
            }
            assert!(scale > 0.0, "stack {n} is not all zero");
        }
        // 7x7 kernels stay with Winograd.
        let wide = conv(1, 32, 7, 0, 30);
        assert!(TileStack::new(&[(&wide, false)]).is_none());
    }

    /// A group gives each image what it gets alone, bit for bit, whatever ran before on
    /// the thread (maps of another size and content).
    #[test]
    fn a_group_answers_each_image_as_alone() {
        if !amx::available() {
            eprintln!("this CPU (or kernel) gives no AMX tiles: the tile stack is not run here");
            return;
        }
        let layers = [
            (conv(1, 32, 3, 1, 50), true),
            (conv(32, 64, 3, 1, 51), true),
            (conv(64, 96, 3, 1, 52), true),
        ];
        let refs: Vec<(&Conv2d, bool)> = layers.iter().map(|(c, p)| (c, *p)).collect();
        let stack = TileStack::new(&refs).unwrap();
        let images: Vec<Tensor> = (0..5)
            .map(|i| Tensor {
                c: 1,
                h: 20,
                w: 20,
                data: pseudo(400, 60 + i),
            })
            .collect();
        let alone: Vec<Vec<f32>> = images.iter().map(|x| stack.forward(x, 1).data).collect();
        for group in [&images[..], &images[1..4]] {
            let together = stack.forward_group(group, 1);
            let first = if group.len() == 5 { 0 } else { 1 };
            for (i, got) in together.iter().enumerate() {
                assert_eq!(
                    got.data,
                    alone[first + i],
                    "image {} of a group of {}",
                    first + i,
                    group.len()
                );
            }
        }
    }

    /// A 3x3 first layer carries what bf16 rounds off its input and weights: its outputs
    /// are the f32 layer's up to rounding the outputs themselves to bf16 (8 bits).
    #[test]
    fn a_split_first_layer_keeps_the_faces_precision() {
        if !amx::available() {
            eprintln!("this CPU (or kernel) gives no AMX tiles: the tile stack is not run here");
            return;
        }
        let layer = conv(1, 32, 3, 1, 40);
        let x = Tensor {
            c: 1,
            h: 40,
            w: 40,
            data: pseudo(1600, 41).iter().map(|v| v * 3.0).collect(),
        };
        let want = reference(&[(layer.clone(), false)], &x);
        let got = TileStack::new(&[(&layer, false)]).unwrap().forward(&x, 1);
        let scale = want.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
            assert!(
                (g - w).abs() <= w.abs() / 256.0 + scale * 1e-4,
                "value {i}: {g} vs {w}"
            );
        }
    }
}
