//! Facial-expression recognition for moodtune.
//!
//! - [`data`]: FER2013 from CSV / CSV.gz or an image-folder layout, validated row by row.
//! - [`preprocess`]: composable image steps, stored with a model's weights.
//! - [`model`]: the architecture registry (`paper`, `paper-table`, `slimvgg`) and weight loading.
//! - [`nn`]: the small pure-Rust inference engine those architectures run on.
//! - [`classifier`]: a loaded model + its preprocessing: faces in, probabilities out.
//! - [`cascade`]: choosing an ensemble's two-stage cascade (confident faces stop early).
//! - [`metrics`]: accuracy, per-class precision/recall/F1, confusion matrix, calibration.
//!
//! Training runs on libtorch (see `scripts/reference/fer_torch.py` and docs/MODEL.md);
//! inference needs nothing but this crate.

pub mod cascade;
pub mod classifier;
pub mod data;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod preprocess;

pub use classifier::Classifier;
pub use data::{Dataset, LoadOptions, Usage};
pub use metrics::Evaluation;
pub use model::{Arch, Network};
pub use preprocess::{Pipeline, Step};
