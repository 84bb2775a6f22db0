//! Layers over a batch of images: the images of a group go through one product, so a
//! layer's weights are read once per group instead of once per image. That is what the
//! deep layers need: paper-table's 7x7 conv4 streams 12.8 MB of weights for 36 output
//! positions, widevgg's last 3x3 layers a 9 MB Winograd filter for 4-9 tiles. Groups are
//! as large as keep a layer's scratch within [`GROUP_SCRATCH_FLOATS`], so the wide early
//! layers still run an image or two at a time, in cache.

use super::winograd::Disjoint;
use super::{gemm, scratch_of, Conv2d, Epilogue, Linear, Matrix, Product, Tensor, Winograd};
use super::{IM2COL_SCRATCH, WINOGRAD_SCRATCH};

/// A group's scratch (im2col columns, or Winograd's V and M) stays under this many
/// floats (2 MB): 1 and 2 MB measured alike, 8 MB lost on slimvgg (docs/RESULTS.md).
const GROUP_SCRATCH_FLOATS: usize = 1 << 19;

/// Images per group for a layer whose scratch takes `per_image` floats per image.
fn group_size(per_image: usize, batch: usize) -> usize {
    (GROUP_SCRATCH_FLOATS / per_image.max(1)).clamp(1, batch.max(1))
}

impl Conv2d {
    /// [`Conv2d::forward`] of every image of `xs` (all of one shape), on this thread.
    /// Same results as one image at a time, up to the order of float sums.
    pub fn forward_batch(&self, xs: &[Tensor]) -> Vec<Tensor> {
        let Some(first) = xs.first() else {
            return Vec::new();
        };
        let (k, p) = (self.k, self.pad);
        let oh = first.h + 2 * p + 1 - k;
        let ow = first.w + 2 * p + 1 - k;
        let (rows, cols) = (self.cin * k * k, oh * ow);
        let group = group_size(rows * cols, xs.len());
        let mut outs = Vec::with_capacity(xs.len());
        IM2COL_SCRATCH.with(|scratch| {
            let col = &mut *scratch.borrow_mut();
            let mut product = Vec::new();
            for images in xs.chunks(group) {
                let n = images.len() * cols;
                let col = scratch_of(col, rows * n);
                let per_channel = k * k * n;
                for (j, x) in images.iter().enumerate() {
                    assert_eq!(
                        (x.c, x.h, x.w),
                        (self.cin, first.h, first.w),
                        "batch shapes"
                    );
                    for (ci, channel) in col.chunks_mut(per_channel.max(1)).enumerate() {
                        self.im2col_channel_at(x, ci, (oh, ow), channel, n, j * cols);
                    }
                }
                // product[cout, n] = weight[cout, rows] * col[rows, n]
                product.resize(self.cout * n, 0.0);
                gemm(
                    Matrix::row_major(&self.weight, self.cout, rows),
                    Matrix::row_major(col, rows, n),
                    &mut product,
                    Product::Overwrite,
                );
                for j in 0..images.len() {
                    let mut data = Vec::with_capacity(self.cout * cols);
                    for (o, bias) in self.bias.iter().enumerate() {
                        let at = o * n + j * cols;
                        data.extend(product[at..at + cols].iter().map(|v| v + bias));
                    }
                    outs.push(Tensor {
                        c: self.cout,
                        h: oh,
                        w: ow,
                        data,
                    });
                }
            }
        });
        outs
    }
}

impl Winograd {
    /// [`Winograd::forward_fused`] of every image of `xs` (all of one shape), on this
    /// thread: a group's tiles go through each of the t * t products together.
    pub fn forward_batch(&self, xs: &[Tensor], epilogue: Epilogue) -> Vec<Tensor> {
        assert!(
            !epilogue.pool || self.pools(),
            "pooling fused into odd tiles"
        );
        let Some(first) = xs.first() else {
            return Vec::new();
        };
        let (h, w) = (first.h, first.w);
        let t = self.patch();
        let (th, tw) = self.tiles(h, w);
        let tiles = th * tw;
        let group = group_size(t * t * tiles * (self.cin + self.cout), xs.len());
        let mut outs = Vec::with_capacity(xs.len());
        WINOGRAD_SCRATCH.with(|scratch| {
            let (v, prod) = &mut *scratch.borrow_mut();
            for images in xs.chunks(group) {
                let all = images.len() * tiles;
                let (v_len, m_len) = (all * self.cin, all * self.cout);
                let (v, prod) = (
                    scratch_of(v, t * t * v_len),
                    scratch_of(prod, t * t * m_len),
                );
                let target = Disjoint::new(v);
                for (j, x) in images.iter().enumerate() {
                    assert_eq!((x.c, x.h, x.w), (self.cin, h, w), "batch shapes");
                    self.transform_input_at(x, &target, j * tiles, all, 0..th);
                }
                for (xi, out) in prod.chunks_mut(m_len.max(1)).enumerate() {
                    self.product(v, xi, all, out);
                }
                for j in 0..images.len() {
                    outs.push(self.output_of(prod, (h, w), (j * tiles, all), epilogue));
                }
            }
        });
        outs
    }
}

impl Linear {
    /// [`Linear::forward`] of every input of `xs`, as one product.
    pub fn forward_batch(&self, xs: &[Vec<f32>]) -> Vec<Vec<f32>> {
        if xs.is_empty() {
            return Vec::new();
        }
        let batch = xs.len();
        let mut inputs = Vec::with_capacity(batch * self.inputs);
        for x in xs {
            assert_eq!(x.len(), self.inputs, "linear input size");
            inputs.extend_from_slice(x);
        }
        // out[batch, outputs] = inputs[batch, inputs] * weight^T
        let mut out = vec![0f32; batch * self.outputs];
        gemm(
            Matrix::row_major(&inputs, batch, self.inputs),
            Matrix::row_major(&self.weight, self.outputs, self.inputs).transposed(),
            &mut out,
            Product::Overwrite,
        );
        out.chunks_exact(self.outputs)
            .map(|row| row.iter().zip(&self.bias).map(|(v, b)| v + b).collect())
            .collect()
    }
}
