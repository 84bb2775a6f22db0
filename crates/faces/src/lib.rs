//! moodtune-faces: from a photo or camera frame to the expression of every face in it.
//!
//! - [`FaceDetector`] finds faces; [`SeetaDetector`] is the shipped one (SeetaFace
//!   frontal cascade via `rustface`, model compiled in).
//! - [`FacePipeline`] detects, crops each face the way FER2013 frames faces, flags
//!   small or blurry ones, and asks any [`moodtune_core::ExpressionClassifier`].
//! - [`FaceTracker`] follows the faces of a video cheaply between full scans.
//! - [`load_image`] reads untrusted image files safely; [`annotate`] draws results.

pub mod annotate;
pub mod crop;
pub mod detect;
pub mod load;
pub mod pipeline;
mod shrink;
pub mod track;

pub use annotate::{annotate, save_image};
pub use crop::{fer_crop, sharpness};
pub use detect::{Detection, FaceBox, FaceDetector, SeetaConfig, SeetaDetector};
pub use load::{
    load_image, load_image_bytes, load_image_bytes_within, load_luma_bytes_within, DecodeLimits,
    LoadError,
};
pub use pipeline::{FaceFlag, FacePipeline, FaceResult, PipelineConfig};
pub use track::FaceTracker;
