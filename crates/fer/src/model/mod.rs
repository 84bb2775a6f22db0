//! Architectures and trained networks.
//!
//! [`arch`] is the registry: each architecture is a list of layer specs with the tensor
//! names its weights use (the same names `scripts/reference/fer_torch.py` writes).
//! [`weights`] reads a safetensors file into a runnable [`Network`].

pub mod arch;
pub mod weights;

pub use arch::{Arch, LayerSpec};
pub use weights::{Cascade, ModelMeta, Network, Stage, Tta};
