//! Per-dimension standardisation: SVM costs assume comparable feature scales, while raw
//! descriptor dimensions differ by orders of magnitude.

use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    /// 1 / standard deviation; 0 for constant dimensions (they carry no information).
    pub inv_std: Vec<f32>,
}

impl Standardizer {
    /// Fits on `rows` (row-major, `dim` columns).
    pub fn fit(rows: &[f32], dim: usize) -> Standardizer {
        let n = rows.len().checked_div(dim).unwrap_or(0);
        let mut mean = vec![0f64; dim];
        let mut sq = vec![0f64; dim];
        for row in rows.chunks_exact(dim.max(1)).take(n) {
            for ((m, s), &v) in mean.iter_mut().zip(sq.iter_mut()).zip(row) {
                *m += v as f64;
                *s += (v as f64) * (v as f64);
            }
        }
        let n = n.max(1) as f64;
        let mean: Vec<f64> = mean.into_iter().map(|m| m / n).collect();
        let inv_std = mean
            .iter()
            .zip(&sq)
            .map(|(m, s)| {
                let var = (s / n - m * m).max(0.0);
                if var > 1e-12 {
                    (1.0 / var.sqrt()) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Standardizer {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            inv_std,
        }
    }

    /// Standardises `rows` in place.
    pub fn apply(&self, rows: &mut [f32]) {
        let dim = self.mean.len().max(1);
        rows.par_chunks_mut(dim).for_each(|row| {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.inv_std) {
                *v = (*v - m) * s;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_mean_unit_variance_and_constant_columns() {
        // Column 0: 1, 3 (mean 2, std 1); column 1 constant.
        let rows = [1.0, 5.0, 3.0, 5.0];
        let s = Standardizer::fit(&rows, 2);
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.inv_std, vec![1.0, 0.0]);
        let mut x = rows;
        s.apply(&mut x);
        assert_eq!(x, [-1.0, 0.0, 1.0, 0.0]);
    }
}
