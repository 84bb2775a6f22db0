//! A small inference engine for the registry's convolutional networks, in pure Rust.
//!
//! Activations are NCHW f32 for one image at a time (`[C, H, W]`); batches run images in
//! parallel with rayon. Convolutions are im2col + SGEMM: `gemm` for the narrow products
//! of the small late layers, `matrixmultiply` for the wide early ones (see
//! [`GEMM_MAX_COLS`]); both pick AVX2/FMA kernels at run time when the CPU has them. BatchNorm is folded into the preceding
//! convolution at load time, so inference is conv -> ReLU -> pool -> dense only.

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
        // im2col: row (ci, ky, kx) holds the input pixel under that tap for every output position.
        let mut col = vec![0f32; rows * cols];
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
        let mut out = vec![0f32; self.cout * cols];
        for (o, b) in self.bias.iter().enumerate() {
            out[o * cols..(o + 1) * cols].fill(*b);
        }
        // out[cout, cols] += weight[cout, rows] * col[rows, cols]
        gemm_accumulate(
            Matrix::row_major(&self.weight, self.cout, rows),
            Matrix::row_major(&col, rows, cols),
            &mut out,
        );
        Tensor {
            c: self.cout,
            h: oh,
            w: ow,
            data: out,
        }
    }
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
        gemm_accumulate(
            Matrix::row_major(x, 1, self.inputs),
            Matrix::row_major(&self.weight, self.outputs, self.inputs).transposed(),
            &mut out,
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

/// `out[a.rows, b.cols] += a * b`, `out` row-major and dense.
fn gemm_accumulate(a: Matrix, b: Matrix, out: &mut [f32]) {
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
                true,
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
                1.0,
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
    /// operand, accumulate the same product as the schoolbook loop.
    #[test]
    fn gemm_accumulates_the_product_on_either_engine() {
        for n in [1, 7, GEMM_MAX_COLS, GEMM_MAX_COLS + 9] {
            let (m, k) = (5, 11);
            let a = pseudo(m * k, 7);
            let bt = pseudo(n * k, 8); // b^T, [n, k]
            let mut out = vec![0.25; m * n];
            gemm_accumulate(
                Matrix::row_major(&a, m, k),
                Matrix::row_major(&bt, n, k).transposed(),
                &mut out,
            );
            for r in 0..m {
                for c in 0..n {
                    let want: f32 =
                        0.25 + (0..k).map(|i| a[r * k + i] * bt[c * k + i]).sum::<f32>();
                    let got = out[r * n + c];
                    assert!(
                        (got - want).abs() < 1e-4,
                        "n={n} ({r},{c}): {got} vs {want}"
                    );
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
