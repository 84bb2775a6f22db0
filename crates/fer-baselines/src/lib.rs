//! The classic expression-recognition baselines of the reference's comparison table,
//! reproducible beside moodtune's CNNs.
//!
//! - [`lbp`], [`hog`], [`gabor`]: face descriptors (48x48 grayscale in, `f32` vector out).
//! - [`baseline`]: descriptor -> standardisation -> (optional random Fourier map for an
//!   RBF kernel) -> one-vs-rest linear SVM, with its cost and kernel width tuned on a
//!   held-out part of Training.
//! - [`compare`]: every method on all of PublicTest and on the reference's protocol (a
//!   fixed seeded sample of 200 faces), as a markdown table.

pub mod baseline;
pub mod compare;
pub mod gabor;
pub mod hog;
pub mod lbp;

pub use baseline::{Baseline, Kernel, Method, TuneOptions};
pub use gabor::Gabor;
pub use hog::Hog;
pub use lbp::Lbp;

use moodtune_fer::Dataset;
use rayon::prelude::*;

/// Side of a FER2013 face.
pub const SIDE: usize = moodtune_fer::data::SIDE;

/// A fixed-length description of a grayscale image.
pub trait Descriptor: Send + Sync {
    fn name(&self) -> String;
    /// Length of the vector [`Descriptor::extract`] writes for a 48x48 face.
    fn dim(&self) -> usize;
    /// Writes the descriptor of the `w x h` image into `out` (`dim()` long).
    fn extract(&self, img: &[u8], w: usize, h: usize, out: &mut [f32]);
}

/// Descriptors of every face of `ds`, row-major (`ds.len() x desc.dim()`), in parallel.
pub fn describe_all(desc: &dyn Descriptor, ds: &Dataset) -> Vec<f32> {
    let dim = desc.dim();
    let mut rows = vec![0f32; ds.len() * dim];
    rows.par_chunks_mut(dim)
        .enumerate()
        .for_each(|(i, out)| desc.extract(ds.image(i), SIDE, SIDE, out));
    rows
}
