//! K classes from K binary SVMs (one class against the rest), the highest score wins.

use crate::{Features, LinearSvm, SvmParams};
use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct OneVsRest {
    pub svms: Vec<LinearSvm>,
}

impl OneVsRest {
    /// Trains `classes` binary SVMs on rows `xs` of dimension `dim` with labels in
    /// `0..classes`, in parallel. Deterministic for a given seed.
    pub fn train<X: Features + Sync>(
        xs: &[X],
        labels: &[usize],
        classes: usize,
        dim: usize,
        params: SvmParams,
        seed: u64,
    ) -> OneVsRest {
        assert_eq!(xs.len(), labels.len());
        let svms = (0..classes)
            .into_par_iter()
            .map(|k| {
                let ys: Vec<bool> = labels.iter().map(|&l| l == k).collect();
                LinearSvm::train(xs, &ys, dim, params, seed.wrapping_add(k as u64))
            })
            .collect();
        OneVsRest { svms }
    }

    /// One decision value per class.
    pub fn scores<X: Features + ?Sized>(&self, x: &X) -> Vec<f32> {
        self.svms.iter().map(|s| s.decision(x)).collect()
    }

    /// The class with the highest decision value.
    pub fn predict<X: Features + ?Sized>(&self, x: &X) -> usize {
        let scores = self.scores(x);
        (0..scores.len())
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_clusters_are_told_apart() {
        // Three well-separated blobs in 2-D, dense rows.
        let centres = [[0.0f32, 3.0], [3.0, -2.0], [-3.0, -2.0]];
        let mut xs = Vec::new();
        let mut labels = Vec::new();
        for (k, c) in centres.iter().enumerate() {
            for i in 0..30 {
                let jitter = ((i * 7919) % 13) as f32 / 13.0 - 0.5;
                xs.push(vec![c[0] + jitter, c[1] - jitter * 0.5]);
                labels.push(k);
            }
        }
        let model = OneVsRest::train(&xs, &labels, 3, 2, SvmParams::default(), 1);
        let correct = xs
            .iter()
            .zip(&labels)
            .filter(|(x, &l)| model.predict(x.as_slice()) == l)
            .count();
        assert_eq!(correct, xs.len());
        assert_eq!(model.predict([0.1f32, 2.5].as_slice()), 0);
        assert_eq!(model.predict([-2.5f32, -2.5].as_slice()), 2);
    }
}
