//! A small linear SVM: L2-regularised hinge loss solved by dual coordinate descent
//! (Hsieh et al., ICML 2008, the LIBLINEAR method).
//!
//! Why our own: lyrics features are sparse (a few dozen non-zeros out of thousands of
//! dimensions) and the FER baselines have tens of thousands of dense rows; dual
//! coordinate descent handles both in seconds, while the kernel SVMs of linfa-svm and
//! smartcore are quadratic in the number of rows (an RBF kernel is approximated with
//! [`crate::RandomFourier`] instead).

use crate::Features;
#[cfg(test)]
use crate::Sparse;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Training options.
#[derive(Debug, Clone, Copy)]
pub struct SvmParams {
    /// Cost of margin violations (inverse regularisation strength).
    pub c: f32,
    /// Stop when the projected-gradient spread falls below this.
    pub tolerance: f32,
    pub max_epochs: usize,
}

impl Default for SvmParams {
    fn default() -> Self {
        SvmParams {
            c: 1.0,
            tolerance: 1e-3,
            max_epochs: 200,
        }
    }
}

/// Weights of a trained binary linear SVM; the last weight is the bias.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvm {
    pub weights: Vec<f32>,
}

impl LinearSvm {
    /// Input dimension (without the bias).
    pub fn dim(&self) -> usize {
        self.weights.len() - 1
    }

    /// Signed distance-like score: positive means the +1 class.
    pub fn decision<X: Features + ?Sized>(&self, x: &X) -> f32 {
        match self.weights.split_last() {
            Some((bias, w)) => x.dot_from(*bias, w),
            None => 0.0,
        }
    }

    /// Trains on `xs` with labels `ys` (true = +1). Each class's cost is scaled by the
    /// inverse of its frequency so an unbalanced split does not drown the small side.
    /// Deterministic for a given `seed`.
    pub fn train<X: Features>(
        xs: &[X],
        ys: &[bool],
        dim: usize,
        params: SvmParams,
        seed: u64,
    ) -> LinearSvm {
        assert_eq!(xs.len(), ys.len());
        let n = xs.len();
        let n_pos = ys.iter().filter(|&&y| y).count();
        let n_neg = n - n_pos;
        let mut w = vec![0.0f32; dim + 1];
        if n == 0 {
            return LinearSvm { weights: w };
        }
        if n_pos == 0 || n_neg == 0 {
            // One class only: a constant decision for it.
            w[dim] = if n_pos > 0 { 1.0 } else { -1.0 };
            return LinearSvm { weights: w };
        }
        let upper: Vec<f32> = ys
            .iter()
            .map(|&y| {
                let count = if y { n_pos } else { n_neg };
                params.c * n as f32 / (2.0 * count as f32)
            })
            .collect();
        // Q_ii = x_i . x_i + 1 (the bias feature).
        let qii: Vec<f32> = xs.iter().map(|x| x.norm_sq() + 1.0).collect();
        let y: Vec<f32> = ys.iter().map(|&b| if b { 1.0 } else { -1.0 }).collect();
        let mut alpha = vec![0.0f32; n];
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..params.max_epochs {
            order.shuffle(&mut rng);
            let (mut max_pg, mut min_pg) = (f32::NEG_INFINITY, f32::INFINITY);
            for &i in &order {
                let x = &xs[i];
                let wx = x.dot_from(w[dim], &w[..dim]);
                let g = y[i] * wx - 1.0;
                let pg = if alpha[i] == 0.0 {
                    g.min(0.0)
                } else if alpha[i] >= upper[i] {
                    g.max(0.0)
                } else {
                    g
                };
                max_pg = max_pg.max(pg);
                min_pg = min_pg.min(pg);
                if pg.abs() > 1e-12 {
                    let old = alpha[i];
                    alpha[i] = (old - g / qii[i]).clamp(0.0, upper[i]);
                    let d = (alpha[i] - old) * y[i];
                    if d != 0.0 {
                        x.add_scaled(d, &mut w[..dim]);
                        w[dim] += d;
                    }
                }
            }
            if max_pg - min_pg < params.tolerance {
                break;
            }
        }
        LinearSvm { weights: w }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn separates_linearly_separable_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for _ in 0..200 {
            let a: f32 = rng.gen_range(-1.0..1.0);
            let b: f32 = rng.gen_range(-1.0..1.0);
            // Margin band removed so the data is separable by 2a - b > 0.3.
            let m = 2.0 * a - b;
            if m.abs() < 0.1 {
                continue;
            }
            xs.push(vec![(0, a), (1, b)]);
            ys.push(m > 0.0);
        }
        let svm = LinearSvm::train(
            &xs,
            &ys,
            2,
            SvmParams {
                c: 100.0,
                ..Default::default()
            },
            7,
        );
        let correct = xs
            .iter()
            .zip(&ys)
            .filter(|(x, &y)| (svm.decision(x) > 0.0) == y)
            .count();
        assert_eq!(correct, xs.len());
        // The direction found is close to (2, -1).
        let (wa, wb) = (svm.weights[0], svm.weights[1]);
        assert!(
            wa > 0.0 && wb < 0.0 && (wa / -wb - 2.0).abs() < 0.5,
            "{wa} {wb}"
        );
    }

    #[test]
    fn deterministic_and_handles_degenerate_input() {
        let xs = vec![vec![(0, 1.0)], vec![(1, 1.0)], vec![(0, 0.5), (1, 0.2)]];
        let ys = vec![true, false, true];
        let a = LinearSvm::train(&xs, &ys, 2, SvmParams::default(), 3);
        let b = LinearSvm::train(&xs, &ys, 2, SvmParams::default(), 3);
        assert_eq!(a, b);
        let only = LinearSvm::train(&xs, &[true, true, true], 2, SvmParams::default(), 3);
        assert!(only.decision([(1u32, 5.0f32)].as_slice()) > 0.0);
        let empty = LinearSvm::train::<Sparse>(&[], &[], 2, SvmParams::default(), 3);
        assert_eq!(empty.decision([(0u32, 1.0f32)].as_slice()), 0.0);
    }

    #[test]
    fn unbalanced_classes_are_reweighted() {
        // 90 negatives around x=-0.3, 10 positives around x=+0.3, overlapping: unweighted,
        // the hinge loss of the 90 pushes the boundary past nearly every positive
        // (with the class weights taken out of `train`, 0 of 10 are kept).
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..100 {
            let pos = i < 10;
            let center = if pos { 0.3 } else { -0.3 };
            let jitter = ((i * 37) % 11) as f32 / 11.0 - 0.5;
            xs.push(vec![(0, center + jitter)]);
            ys.push(pos);
        }
        let svm = LinearSvm::train(&xs, &ys, 1, SvmParams::default(), 0);
        let recall_pos = (0..10).filter(|&i| svm.decision(&xs[i]) > 0.0).count();
        let recall_neg = (10..100).filter(|&i| svm.decision(&xs[i]) <= 0.0).count();
        assert!(recall_pos >= 7, "positive recall {recall_pos}/10");
        assert!(recall_neg >= 45, "negative recall {recall_neg}/90");
    }
}
