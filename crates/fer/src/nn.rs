//! A small inference engine for the registry's convolutional networks, in pure Rust.
//!
//! Activations are f32 in `[C, N, H, W]` order: channel-major, with the `n` images of a
//! batch side by side inside each channel. That makes a convolution over the whole batch
//! one im2col + SGEMM whose columns are every image's output pixels, so the weights are
//! packed once per batch rather than once per image (`matrixmultiply`, which uses
//! AVX2/FMA kernels when the CPU has them); at the 5x5 layers that packing costs about
//! as much as the arithmetic for a single image. BatchNorm is folded into the preceding
//! convolution at load time, so inference is conv -> ReLU -> pool -> dense only.

/// A batch's activations, `[c, n, h, w]`: `data.len() == c * n * h * w`.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub c: usize,
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Tensor {
    /// A batch of single-channel planes of `side x side` values each.
    pub fn from_planes(planes: &[Vec<f32>], side: usize) -> Tensor {
        let mut data = Vec::with_capacity(planes.len() * side * side);
        for p in planes {
            assert_eq!(p.len(), side * side, "input plane size");
            data.extend_from_slice(p);
        }
        Tensor {
            c: 1,
            n: planes.len(),
            h: side,
            w: side,
            data,
        }
    }

    /// `[n, c * h * w]`: each image's activations flattened in PyTorch's `[C, H, W]`
    /// order, as a dense layer reads them.
    pub fn flatten_per_image(&self) -> Vec<f32> {
        let plane = self.h * self.w;
        let mut out = Vec::with_capacity(self.data.len());
        for i in 0..self.n {
            for c in 0..self.c {
                let at = (c * self.n + i) * plane;
                out.extend_from_slice(&self.data[at..at + plane]);
            }
        }
        out
    }
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

    // [cin, n, h, w] -> [cout, n, h + 2p - k + 1, w + 2p - k + 1]
    pub fn forward(&self, x: &Tensor) -> Tensor {
        assert_eq!(x.c, self.cin, "conv input channels");
        let (k, p) = (self.k, self.pad);
        let oh = x.h + 2 * p + 1 - k;
        let ow = x.w + 2 * p + 1 - k;
        let rows = self.cin * k * k;
        let per_image = oh * ow;
        let cols = x.n * per_image;
        // im2col: row (ci, ky, kx) holds the input pixel under that tap for every output
        // position of every image.
        let mut col = vec![0f32; rows * cols];
        let plane_len = x.h * x.w;
        for (pi, plane) in x.data.chunks_exact(plane_len).enumerate() {
            let (ci, image) = (pi / x.n, pi % x.n);
            for ky in 0..k {
                for kx in 0..k {
                    let r = (ci * k + ky) * k + kx;
                    let start = r * cols + image * per_image;
                    let dst = &mut col[start..start + per_image];
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
        unsafe {
            matrixmultiply::sgemm(
                self.cout,
                rows,
                cols,
                1.0,
                self.weight.as_ptr(),
                rows as isize,
                1,
                col.as_ptr(),
                cols as isize,
                1,
                1.0,
                out.as_mut_ptr(),
                cols as isize,
                1,
            );
        }
        Tensor {
            c: self.cout,
            n: x.n,
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
    /// `[n, inputs] -> [n, outputs]`, rows of `x` being the batch's images.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(x.len() % self.inputs, 0, "linear input size");
        let n = x.len() / self.inputs;
        let mut out: Vec<f32> = (0..n).flat_map(|_| self.bias.iter().copied()).collect();
        // out[n, outputs] += x[n, inputs] * weight^T (weight is [outputs, inputs]).
        unsafe {
            matrixmultiply::sgemm(
                n,
                self.inputs,
                self.outputs,
                1.0,
                x.as_ptr(),
                self.inputs as isize,
                1,
                self.weight.as_ptr(),
                1,
                self.inputs as isize,
                1.0,
                out.as_mut_ptr(),
                self.outputs as isize,
                1,
            );
        }
        out
    }
}

pub fn relu(v: &mut [f32]) {
    for x in v {
        *x = x.max(0.0);
    }
}

// [c, n, h, w] -> [c, n, h/2, w/2], floor like PyTorch's max_pool2d(2).
pub fn max_pool2(x: &Tensor) -> Tensor {
    let (oh, ow) = (x.h / 2, x.w / 2);
    let mut out = Vec::with_capacity(x.c * x.n * oh * ow);
    for plane in x.data.chunks_exact(x.h * x.w) {
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
        n: x.n,
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
                n: 1,
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

    /// A batch is the images side by side: each image's output equals its own pass, for
    /// convolution, pooling, flattening and the dense layer.
    #[test]
    fn a_batch_computes_each_image_as_alone() {
        let conv = Conv2d {
            cin: 3,
            cout: 4,
            k: 3,
            pad: 1,
            weight: pseudo(4 * 3 * 9, 5),
            bias: vec![0.1, 0.0, -0.1, 0.2],
        };
        let images: Vec<Vec<f32>> = (0..3).map(|s| pseudo(3 * 6 * 6, 10 + s)).collect();
        let alone: Vec<Tensor> = images
            .iter()
            .map(|d| {
                let x = Tensor {
                    c: 3,
                    n: 1,
                    h: 6,
                    w: 6,
                    data: d.clone(),
                };
                max_pool2(&conv.forward(&x))
            })
            .collect();
        // [c, n, h, w]: channel c of image i is the i-th plane inside channel c's block.
        let mut data = vec![];
        for c in 0..3 {
            for img in &images {
                data.extend_from_slice(&img[c * 36..(c + 1) * 36]);
            }
        }
        let batch = max_pool2(&conv.forward(&Tensor {
            c: 3,
            n: 3,
            h: 6,
            w: 6,
            data,
        }));
        assert_eq!((batch.c, batch.n, batch.h, batch.w), (4, 3, 3, 3));
        let flat = batch.flatten_per_image();
        let dense = Linear {
            inputs: 36,
            outputs: 2,
            weight: pseudo(72, 6),
            bias: vec![0.5, -0.5],
        };
        let batched = dense.forward(&flat);
        for (i, one) in alone.iter().enumerate() {
            assert_eq!(&flat[i * 36..(i + 1) * 36], one.data.as_slice());
            let want: Vec<f32> = dense
                .weight
                .chunks(36)
                .zip(&dense.bias)
                .map(|(row, b)| row.iter().zip(&one.data).map(|(w, v)| w * v).sum::<f32>() + b)
                .collect();
            for (a, b) in batched[i * 2..i * 2 + 2].iter().zip(&want) {
                assert!((a - b).abs() < 1e-4, "{a} vs {b}");
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
            n: 1,
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
            n: 1,
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
