//! A small inference engine for the registry's convolutional networks, in pure Rust.
//!
//! Activations are NCHW f32 for one image at a time (`[C, H, W]`); batches run images in
//! parallel with rayon. A convolution is im2col + SGEMM ([`Conv2d`]) or, for 3x3 ones on
//! maps big enough to pay, Winograd's F(2x2, 3x3) ([`Winograd3x3`]). The products go to
//! `gemm` when narrow and `matrixmultiply` when wide ([`GEMM_MAX_COLS`]); both pick
//! AVX2/FMA kernels at run time when the CPU has them. BatchNorm is folded into the
//! preceding convolution at load time, so inference is conv -> ReLU -> pool -> dense only.

/// One image's activations: `data.len() == c * h * w`.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

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
}

impl Conv2d {
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
    }

    // [cin, h, w] -> [cout, h + 2p - k + 1, w + 2p - k + 1]
    pub fn forward(&self, x: &Tensor) -> Tensor {
        assert_eq!(x.c, self.cin, "conv input channels");
        let (k, p) = (self.k, self.pad);
        let oh = x.h + 2 * p + 1 - k;
        let ow = x.w + 2 * p + 1 - k;
        let rows = self.cin * k * k;
        let cols = oh * ow;
        let mut out = vec![0f32; self.cout * cols];
        for (o, b) in self.bias.iter().enumerate() {
            out[o * cols..(o + 1) * cols].fill(*b);
        }
        // The thread's im2col buffer from the last layer serves again (see
        // WINOGRAD_SCRATCH); zeroed, as the padding taps are never written.
        IM2COL_SCRATCH.with(|scratch| {
            let col = &mut *scratch.borrow_mut();
            col.clear();
            col.resize(rows * cols, 0.0);
            self.im2col(x, oh, ow, col);
            // out[cout, cols] += weight[cout, rows] * col[rows, cols]
            gemm(
                Matrix::row_major(&self.weight, self.cout, rows),
                Matrix::row_major(col, rows, cols),
                &mut out,
                Product::Accumulate,
            );
        });
        Tensor {
            c: self.cout,
            h: oh,
            w: ow,
            data: out,
        }
    }

    /// Row (ci, ky, kx) of `col` (`[cin * k * k, oh * ow]`, zeroed) gets the input pixel
    /// under that tap for every output position.
    fn im2col(&self, x: &Tensor, oh: usize, ow: usize, col: &mut [f32]) {
        let (k, p) = (self.k, self.pad);
        let cols = oh * ow;
        for ci in 0..self.cin {
            let plane = &x.data[ci * x.h * x.w..(ci + 1) * x.h * x.w];
            for ky in 0..k {
                for kx in 0..k {
                    let r = (ci * k + ky) * k + kx;
                    let dst = &mut col[r * cols..(r + 1) * cols];
                    for oy in 0..oh {
                        let iy = oy as isize + ky as isize - p as isize;
                        if iy < 0 || iy >= x.h as isize {
                            continue;
                        }
                        let src_row = &plane[iy as usize * x.w..(iy as usize + 1) * x.w];
                        let out_row = &mut dst[oy * ow..(oy + 1) * ow];
                        // Output columns whose input column falls inside the image.
                        let lo = p.saturating_sub(kx);
                        let hi = (x.w + p).saturating_sub(kx).min(ow);
                        for ox in lo..hi {
                            out_row[ox] = src_row[ox + kx - p];
                        }
                    }
                }
            }
        }
    }
}

/// A 3x3, stride-1, pad-1 convolution by Winograd's F(2x2, 3x3): each 2x2 block of
/// outputs comes from a 4x4 input patch with 16 multiplies per (input, output) channel
/// pair instead of 36, so the convolution is 16 products `[cout, cin] x [cin, tiles]`
/// with 2.25x fewer multiply-accumulates than im2col (1.56x at 5x5, whose 3x3 tiles
/// cover 6x6). The filters are transformed once, at load.
#[derive(Debug, Clone)]
pub struct Winograd3x3 {
    pub cin: usize,
    pub cout: usize,
    /// `[16, cout, cin]`: the transformed filter `G g G^T`, one matrix per position.
    transformed: Vec<f32>,
    bias: Vec<f32>,
}

impl Winograd3x3 {
    /// Layers with fewer input channels stay on im2col: slimvgg's first layer (one
    /// channel) takes 0.02 ms of a 2.1 ms pass, nothing worth transforming for.
    pub const MIN_INPUT_CHANNELS: usize = 16;
    /// Below this side the tiles' overhang (a 5x5 map is computed as 6x6) and the
    /// transforms cost more than they save: slimvgg's 5x5 layers ran 0.88-0.95x as fast
    /// as im2col, its 10x10-40x40 layers 1.08-1.53x (`examples/layer_profile.rs`).
    pub const MIN_SIDE: usize = 8;

    /// The Winograd form of `conv` for inputs `side` pixels high and wide, or None where
    /// it does not apply (kernel size, padding) or would not pay (see the constants).
    pub fn from_conv(conv: &Conv2d, side: usize) -> Option<Winograd3x3> {
        if conv.k != 3
            || conv.pad != 1
            || conv.cin < Self::MIN_INPUT_CHANNELS
            || side < Self::MIN_SIDE
        {
            return None;
        }
        let (cin, cout) = (conv.cin, conv.cout);
        let mut transformed = vec![0f32; 16 * cout * cin];
        for o in 0..cout {
            for i in 0..cin {
                let g = &conv.weight[(o * cin + i) * 9..(o * cin + i + 1) * 9];
                // G g: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 of the 3x3 kernel's rows.
                let mut gg = [[0f32; 3]; 4];
                for c in 0..3 {
                    let (a, b, d) = (g[c], g[3 + c], g[6 + c]);
                    gg[0][c] = a;
                    gg[1][c] = 0.5 * (a + b + d);
                    gg[2][c] = 0.5 * (a - b + d);
                    gg[3][c] = d;
                }
                // (G g) G^T: the same combination along each row.
                for (r, row) in gg.iter().enumerate() {
                    let (a, b, d) = (row[0], row[1], row[2]);
                    let u = [a, 0.5 * (a + b + d), 0.5 * (a - b + d), d];
                    for (c, v) in u.into_iter().enumerate() {
                        transformed[((r * 4 + c) * cout + o) * cin + i] = v;
                    }
                }
            }
        }
        Some(Winograd3x3 {
            cin,
            cout,
            transformed,
            bias: conv.bias.clone(),
        })
    }

    // [cin, h, w] -> [cout, h, w]
    pub fn forward(&self, x: &Tensor) -> Tensor {
        assert_eq!(x.c, self.cin, "conv input channels");
        let (h, w) = (x.h, x.w);
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        let tiles = th * tw;
        let (v_len, m_len) = (self.cin * tiles, self.cout * tiles);
        // V and M are written whole before they are read, so the thread's buffers from
        // the last layer serve again without allocating or zeroing (a pass's biggest
        // layers would otherwise zero megabytes each).
        WINOGRAD_SCRATCH.with(|scratch| {
            let (v, m) = &mut *scratch.borrow_mut();
            v.resize(16 * v_len, 0.0);
            m.resize(16 * m_len, 0.0);
            let (v, m) = (&mut v[..16 * v_len], &mut m[..16 * m_len]);
            self.transform_input(x, th, tw, v);
            // M[xi] = U[xi] V[xi]: [16, cout, tiles].
            let u_len = self.cout * self.cin;
            for xi in 0..16 {
                gemm(
                    Matrix::row_major(
                        &self.transformed[xi * u_len..(xi + 1) * u_len],
                        self.cout,
                        self.cin,
                    ),
                    Matrix::row_major(&v[xi * v_len..(xi + 1) * v_len], self.cin, tiles),
                    &mut m[xi * m_len..(xi + 1) * m_len],
                    Product::Overwrite,
                );
            }
            self.transform_output(m, h, w)
        })
    }

    /// V = B^T d B for every input channel and tile: `[16, cin, tiles]`, position
    /// `xi = 4 * row_combination + column_combination`. Every step runs along a whole
    /// row of tiles on contiguous slices, so it compiles to vector code: each padded
    /// plane (1 zero left/top, up to 2 right/bottom) is split into its even and odd
    /// columns, where tile `tx`'s four columns are `even[tx], odd[tx], even[tx + 1],
    /// odd[tx + 1]`.
    fn transform_input(&self, x: &Tensor, th: usize, tw: usize, v: &mut [f32]) {
        let (h, w) = (x.h, x.w);
        let tiles = th * tw;
        let (rows, half) = (2 * th + 2, tw + 1);
        // even[y][j] holds padded column 2j (input column 2j - 1), odd[y][j] column 2j + 1.
        let mut even = vec![0f32; rows * half];
        let mut odd = vec![0f32; rows * half];
        // One row of tiles' four row combinations, even and odd columns: [4][half].
        let mut comb_even = vec![0f32; 4 * half];
        let mut comb_odd = vec![0f32; 4 * half];
        for ci in 0..self.cin {
            let plane = &x.data[ci * h * w..(ci + 1) * h * w];
            for (y, row) in plane.chunks_exact(w).enumerate() {
                let (e, o) = (
                    &mut even[(y + 1) * half..(y + 2) * half],
                    &mut odd[(y + 1) * half..(y + 2) * half],
                );
                let pairs = row.chunks_exact(2);
                if let [last] = pairs.remainder() {
                    o[w / 2] = *last;
                }
                for ((pair, o), e) in pairs.zip(o.iter_mut()).zip(&mut e[1..]) {
                    *o = pair[0];
                    *e = pair[1];
                }
            }
            for ty in 0..th {
                for (plane, comb) in [(&even, &mut comb_even), (&odd, &mut comb_odd)] {
                    let row = |r: usize| &plane[(2 * ty + r) * half..(2 * ty + r + 1) * half];
                    let (d0, d1, d2, d3) = (row(0), row(1), row(2), row(3));
                    let (c0, rest) = comb.split_at_mut(half);
                    let (c1, rest) = rest.split_at_mut(half);
                    let (c2, c3) = rest.split_at_mut(half);
                    // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3.
                    for j in 0..half {
                        c0[j] = d0[j] - d2[j];
                        c1[j] = d1[j] + d2[j];
                        c2[j] = d2[j] - d1[j];
                        c3[j] = d1[j] - d3[j];
                    }
                }
                for r in 0..4 {
                    let e = &comb_even[r * half..(r + 1) * half];
                    let o = &comb_odd[r * half..(r + 1) * half];
                    let (e0, e1, o0, o1) = (&e[..tw], &e[1..], &o[..tw], &o[1..]);
                    let at = |c: usize| ((r * 4 + c) * self.cin + ci) * tiles + ty * tw;
                    // ... then the same combinations of the tile's columns.
                    let dst = &mut v[at(0)..at(0) + tw];
                    for tx in 0..tw {
                        dst[tx] = e0[tx] - e1[tx];
                    }
                    let dst = &mut v[at(1)..at(1) + tw];
                    for tx in 0..tw {
                        dst[tx] = o0[tx] + e1[tx];
                    }
                    let dst = &mut v[at(2)..at(2) + tw];
                    for tx in 0..tw {
                        dst[tx] = e1[tx] - o0[tx];
                    }
                    let dst = &mut v[at(3)..at(3) + tw];
                    for tx in 0..tw {
                        dst[tx] = o0[tx] - o1[tx];
                    }
                }
            }
        }
    }

    /// Y = A^T M A per output channel and tile, plus the bias, along whole rows of
    /// tiles; an odd side's last tiles drop their outputs past the edge.
    fn transform_output(&self, m: &[f32], h: usize, w: usize) -> Tensor {
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        let tiles = th * tw;
        let mut out = vec![0f32; self.cout * h * w];
        // The two output rows of one row of tiles, even and odd columns: [2][tw] each.
        let mut even = vec![0f32; 2 * tw];
        let mut odd = vec![0f32; 2 * tw];
        for o in 0..self.cout {
            let plane = &mut out[o * h * w..(o + 1) * h * w];
            let bias = self.bias[o];
            for ty in 0..th {
                let s: [&[f32]; 16] = std::array::from_fn(|xi| {
                    let at = (xi * self.cout + o) * tiles + ty * tw;
                    &m[at..at + tw]
                });
                let (e0, e1) = even.split_at_mut(tw);
                let (o0, o1) = odd.split_at_mut(tw);
                for tx in 0..tw {
                    // A^T M: rows m0 + m1 + m2 (a) and m1 - m2 - m3 (b), per column...
                    let a: [f32; 4] =
                        std::array::from_fn(|c| s[c][tx] + s[4 + c][tx] + s[8 + c][tx]);
                    let b: [f32; 4] =
                        std::array::from_fn(|c| s[4 + c][tx] - s[8 + c][tx] - s[12 + c][tx]);
                    // ... then the same on columns.
                    e0[tx] = a[0] + a[1] + a[2] + bias;
                    o0[tx] = a[1] - a[2] - a[3] + bias;
                    e1[tx] = b[0] + b[1] + b[2] + bias;
                    o1[tx] = b[1] - b[2] - b[3] + bias;
                }
                for r in 0..2 {
                    let y = 2 * ty + r;
                    if y >= h {
                        break;
                    }
                    let row = &mut plane[y * w..(y + 1) * w];
                    let (e, od) = (&even[r * tw..(r + 1) * tw], &odd[r * tw..(r + 1) * tw]);
                    for (tx, pair) in row.chunks_mut(2).enumerate() {
                        pair[0] = e[tx];
                        if let Some(second) = pair.get_mut(1) {
                            *second = od[tx];
                        }
                    }
                }
            }
        }
        Tensor {
            c: self.cout,
            h,
            w,
            data: out,
        }
    }
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
        assert_eq!(x.len(), self.inputs, "linear input size");
        let mut out = self.bias.clone();
        // out[1, outputs] += x[1, inputs] * weight^T (weight is [outputs, inputs]).
        gemm(
            Matrix::row_major(x, 1, self.inputs),
            Matrix::row_major(&self.weight, self.outputs, self.inputs).transposed(),
            &mut out,
            Product::Accumulate,
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
        }
    }

    fn transposed(self) -> Self {
        Matrix {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// Products with at most this many columns go to `gemm`, wider ones to
/// `matrixmultiply`: `gemm` was 1.2-1.7x faster on the 10x10 and 5x5 layers and 4x on
/// the single-row dense layer, `matrixmultiply` up to 1.3x faster on the 40x40 layers
/// (each SGEMM alone, slimvgg shapes, one core; docs/RESULTS.md).
const GEMM_MAX_COLS: usize = 1024;

/// Whether a product adds to what `out` holds or replaces it (then `out` is not read).
#[derive(Clone, Copy, PartialEq)]
enum Product {
    Accumulate,
    Overwrite,
}

/// `out[a.rows, b.cols] += a * b` (or `= a * b`), `out` row-major and dense.
fn gemm(a: Matrix, b: Matrix, out: &mut [f32], product: Product) {
    let accumulate = product == Product::Accumulate;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions");
    assert_eq!(out.len(), m * n, "output size");
    if m == 0 || n == 0 {
        return;
    }
    // The asserts above keep every index the kernels compute inside the slices.
    unsafe {
        if n <= GEMM_MAX_COLS {
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
    let mut out = Vec::with_capacity(x.c * oh * ow);
    for c in 0..x.c {
        let plane = &x.data[c * x.h * x.w..];
        for y in 0..oh {
            for xx in 0..ow {
                let i = 2 * y * x.w + 2 * xx;
                out.push(
                    plane[i]
                        .max(plane[i + 1])
                        .max(plane[i + x.w])
                        .max(plane[i + x.w + 1]),
                );
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
    let e: Vec<f32> = logits.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct (naive) convolution to check the im2col path against.
    fn naive(conv: &Conv2d, x: &Tensor) -> Vec<f32> {
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

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// Both SGEMM engines, on either side of [`GEMM_MAX_COLS`], with a transposed
    /// operand, add the schoolbook product to `out`, or replace `out` without reading it.
    #[test]
    fn gemm_accumulates_or_overwrites_the_product_on_either_engine() {
        for n in [1, 7, GEMM_MAX_COLS, GEMM_MAX_COLS + 9] {
            for (product, start, base) in [
                (Product::Accumulate, 0.25, 0.25),
                (Product::Overwrite, f32::NAN, 0.0),
            ] {
                let (m, k) = (5, 11);
                let a = pseudo(m * k, 7);
                let bt = pseudo(n * k, 8); // b^T, [n, k]
                let mut out = vec![start; m * n];
                gemm(
                    Matrix::row_major(&a, m, k),
                    Matrix::row_major(&bt, n, k).transposed(),
                    &mut out,
                    product,
                );
                for r in 0..m {
                    for c in 0..n {
                        let want: f32 =
                            base + (0..k).map(|i| a[r * k + i] * bt[c * k + i]).sum::<f32>();
                        let got = out[r * n + c];
                        assert!(
                            (got - want).abs() < 1e-4,
                            "n={n} ({r},{c}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn conv_matches_naive_padded_and_unpadded() {
        for (k, pad) in [(3, 1), (3, 0), (7, 0)] {
            let conv = Conv2d {
                cin: 2,
                cout: 3,
                k,
                pad,
                weight: pseudo(3 * 2 * k * k, 1),
                bias: vec![0.1, -0.2, 0.3],
            };
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

    /// Winograd F(2x2, 3x3) gives the direct convolution's outputs on even and odd
    /// sides, and declines the convolutions it does not apply to.
    #[test]
    fn winograd_matches_the_direct_convolution() {
        for (h, w) in [(6, 6), (5, 5), (9, 8), (1, 3), (40, 40)] {
            let (cin, cout) = (16, 5);
            let conv = Conv2d {
                cin,
                cout,
                k: 3,
                pad: 1,
                weight: pseudo(cout * cin * 9, 11),
                bias: pseudo(cout, 12),
            };
            let x = Tensor {
                c: cin,
                h,
                w,
                data: pseudo(cin * h * w, 13),
            };
            let want = conv.forward(&x);
            // Built for 8x8 (the smallest side it accepts); it runs on any side.
            let got = Winograd3x3::from_conv(&conv, 8).unwrap().forward(&x);
            assert_eq!((got.c, got.h, got.w), (cout, h, w));
            for (a, b) in got.data.iter().zip(&want.data) {
                assert!((a - b).abs() < 1e-3, "{h}x{w}: {a} vs {b}");
            }
        }
        let direct_only = |cin, k, pad| Conv2d {
            cin,
            cout: 2,
            k,
            pad,
            weight: vec![0.0; 2 * cin * k * k],
            bias: vec![0.0; 2],
        };
        assert!(Winograd3x3::from_conv(&direct_only(16, 7, 0), 40).is_none());
        assert!(Winograd3x3::from_conv(&direct_only(16, 3, 0), 40).is_none());
        assert!(Winograd3x3::from_conv(&direct_only(1, 3, 1), 40).is_none());
        assert!(Winograd3x3::from_conv(&direct_only(16, 3, 1), 5).is_none());
        assert!(Winograd3x3::from_conv(&direct_only(16, 3, 1), 10).is_some());
    }

    #[test]
    fn batchnorm_folding_matches_explicit_normalisation() {
        let mut conv = Conv2d {
            cin: 1,
            cout: 2,
            k: 3,
            pad: 1,
            weight: pseudo(18, 3),
            bias: vec![0.0, 0.5],
        };
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
        let l = Linear {
            inputs: 2,
            outputs: 1,
            weight: vec![1.0, -1.0],
            bias: vec![0.5],
        };
        assert_eq!(l.forward(&[3.0, 1.0]), vec![2.5]);
        let s = softmax(&[0.0, (2f32).ln()]);
        assert!((s[0] - 1.0 / 3.0).abs() < 1e-6 && (s[1] - 2.0 / 3.0).abs() < 1e-6);
    }
}
