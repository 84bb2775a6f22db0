//! Random Fourier features: `z(x) = sqrt(2/D) cos(W x + b)` with `W ~ N(0, 2 gamma)` and
//! `b ~ U(0, 2 pi)`, so that `z(x) . z(y)` approximates the RBF kernel
//! `exp(-gamma |x - y|^2)` (Rahimi and Recht, NIPS 2007). A linear SVM on `z` then
//! approximates an RBF SVM at linear cost in the number of rows.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

#[derive(Debug, Clone)]
pub struct RandomFourier {
    pub input_dim: usize,
    pub output_dim: usize,
    pub gamma: f32,
    /// `input_dim x output_dim`, row-major.
    projection: Vec<f32>,
    offset: Vec<f32>,
}

impl RandomFourier {
    /// A map from `input_dim` to `output_dim` features.
    ///
    /// # Panics
    /// If either dimension is 0: there is nothing to map, and `transform` could not
    /// tell rows apart.
    pub fn new(input_dim: usize, output_dim: usize, gamma: f32, seed: u64) -> RandomFourier {
        assert!(
            input_dim > 0 && output_dim > 0,
            "RandomFourier needs non-zero dimensions, got {input_dim} -> {output_dim}"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let std = (2.0 * gamma as f64).sqrt();
        let projection = (0..input_dim * output_dim)
            .map(|_| (standard_normal(&mut rng) * std) as f32)
            .collect();
        let offset = (0..output_dim)
            .map(|_| rng.gen_range(0.0..std::f32::consts::TAU))
            .collect();
        RandomFourier {
            input_dim,
            output_dim,
            gamma,
            projection,
            offset,
        }
    }

    /// Maps row-major `rows` (`input_dim` columns) to `output_dim` columns each.
    pub fn transform(&self, rows: &[f32]) -> Vec<f32> {
        let (d, m) = (self.input_dim, self.output_dim);
        let n = rows.len() / d.max(1);
        let mut out = vec![0f32; n * m];
        let scale = (2.0 / m as f32).sqrt();
        const BLOCK: usize = 256;
        out.par_chunks_mut(BLOCK * m)
            .zip(rows.par_chunks(BLOCK * d))
            .for_each(|(out, rows)| {
                let rows_here = rows.len() / d;
                // SAFETY: the slices hold rows_here x d, d x m and rows_here x m floats,
                // row-major, as the strides below say.
                unsafe {
                    matrixmultiply::sgemm(
                        rows_here,
                        d,
                        m,
                        1.0,
                        rows.as_ptr(),
                        d as isize,
                        1,
                        self.projection.as_ptr(),
                        m as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        m as isize,
                        1,
                    );
                }
                for row in out.chunks_exact_mut(m) {
                    for (v, b) in row.iter_mut().zip(&self.offset) {
                        *v = scale * (*v + b).cos();
                    }
                }
            });
        out
    }
}

/// Box-Muller: one standard normal draw.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_products_approximate_the_rbf_kernel() {
        let gamma = 0.5;
        let map = RandomFourier::new(3, 8000, gamma, 11);
        let points = [[0.0f32, 0.0, 0.0], [0.5, -0.5, 0.0], [1.0, 1.0, 1.0]];
        let z = map.transform(&points.concat());
        for i in 0..3 {
            for j in 0..3 {
                let dist: f32 = (0..3).map(|k| (points[i][k] - points[j][k]).powi(2)).sum();
                let kernel = (-gamma * dist).exp();
                let approx: f32 = z[i * 8000..(i + 1) * 8000]
                    .iter()
                    .zip(&z[j * 8000..(j + 1) * 8000])
                    .map(|(a, b)| a * b)
                    .sum();
                assert!(
                    (approx - kernel).abs() < 0.05,
                    "k({i},{j}) = {kernel}, approximated as {approx}"
                );
            }
        }
    }

    #[test]
    fn blocks_match_a_single_pass() {
        // 300 rows cross the 256-row block boundary of the parallel transform.
        let map = RandomFourier::new(4, 16, 1.0, 3);
        let rows: Vec<f32> = (0..300 * 4).map(|i| (i % 17) as f32 * 0.1).collect();
        let all = map.transform(&rows);
        let last = map.transform(&rows[299 * 4..]);
        assert_eq!(&all[299 * 16..], &last[..]);
    }
}
