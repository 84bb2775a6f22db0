//! Linear support-vector machines for moodtune's classifiers.
//!
//! - [`LinearSvm`]: one binary L2-regularised hinge-loss SVM (dual coordinate descent).
//! - [`OneVsRest`]: K binary SVMs for K classes, trained in parallel.
//! - [`RandomFourier`]: an explicit feature map whose dot products approximate the RBF
//!   kernel (Rahimi and Recht, 2007), so a linear SVM on it approximates an RBF SVM.
//! - [`Standardizer`]: per-dimension z-scores fitted on training rows.
//!
//! Rows are anything implementing [`Features`]: sparse `(index, value)` lists (lyrics) or
//! dense `f32` slices (face descriptors).

mod fourier;
mod linear;
mod multiclass;
mod standardize;

pub use fourier::RandomFourier;
pub use linear::{LinearSvm, SvmParams};
pub use multiclass::OneVsRest;
pub use standardize::Standardizer;

/// A sparse vector: (index, value) pairs, indices ascending and unique.
pub type Sparse = Vec<(u32, f32)>;

/// What the solver needs from a feature row.
pub trait Features {
    /// `start + w . x`, accumulated from `start` (the bias) so that results do not
    /// depend on where the bias is added; entries of a sparse row beyond `w` count as zero.
    fn dot_from(&self, start: f32, w: &[f32]) -> f32;
    /// `w . x`.
    fn dot(&self, w: &[f32]) -> f32 {
        self.dot_from(0.0, w)
    }
    /// `w += scale * x`; entries beyond `w` are ignored.
    fn add_scaled(&self, scale: f32, w: &mut [f32]);
    /// `x . x`.
    fn norm_sq(&self) -> f32;
}

impl Features for [(u32, f32)] {
    fn dot_from(&self, start: f32, w: &[f32]) -> f32 {
        let mut s = start;
        for &(j, v) in self {
            if let Some(wj) = w.get(j as usize) {
                s += wj * v;
            }
        }
        s
    }
    fn add_scaled(&self, scale: f32, w: &mut [f32]) {
        for &(j, v) in self {
            if let Some(wj) = w.get_mut(j as usize) {
                *wj += scale * v;
            }
        }
    }
    fn norm_sq(&self) -> f32 {
        self.iter().map(|(_, v)| v * v).sum()
    }
}

impl Features for [f32] {
    fn dot_from(&self, start: f32, w: &[f32]) -> f32 {
        start + dense_dot(self, w)
    }
    fn add_scaled(&self, scale: f32, w: &mut [f32]) {
        for (wj, v) in w.iter_mut().zip(self) {
            *wj += scale * v;
        }
    }
    fn norm_sq(&self) -> f32 {
        dense_dot(self, self)
    }
}

impl<T: Features + ?Sized> Features for &T {
    fn dot_from(&self, start: f32, w: &[f32]) -> f32 {
        (**self).dot_from(start, w)
    }
    fn add_scaled(&self, scale: f32, w: &mut [f32]) {
        (**self).add_scaled(scale, w)
    }
    fn norm_sq(&self) -> f32 {
        (**self).norm_sq()
    }
}

impl<T> Features for Vec<T>
where
    [T]: Features,
{
    fn dot_from(&self, start: f32, w: &[f32]) -> f32 {
        self.as_slice().dot_from(start, w)
    }
    fn add_scaled(&self, scale: f32, w: &mut [f32]) {
        self.as_slice().add_scaled(scale, w)
    }
    fn norm_sq(&self) -> f32 {
        self.as_slice().norm_sq()
    }
}

/// Dot product with eight independent accumulators: a plain `sum()` is one serial
/// dependency chain the compiler may not reorder, so it would not vectorise.
fn dense_dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += p * q;
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_dense_rows_agree() {
        let dense = vec![0.0, 2.0, 0.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 3.0];
        let sparse: Sparse = vec![(1, 2.0), (3, -1.0), (4, 0.5), (9, 3.0)];
        let w: Vec<f32> = (0..10).map(|i| i as f32 * 0.5 - 1.0).collect();
        assert_eq!(dense.dot(&w), sparse.dot(&w));
        assert_eq!(dense.norm_sq(), 14.25);
        assert_eq!(sparse.norm_sq(), 14.25);
        let (mut a, mut b) = (w.clone(), w.clone());
        dense.add_scaled(2.0, &mut a);
        sparse.add_scaled(2.0, &mut b);
        assert_eq!(a, b);
        // Sparse entries past the weights are ignored, not a panic.
        assert_eq!(vec![(20u32, 1.0f32)].dot(&w), 0.0);
    }
}
