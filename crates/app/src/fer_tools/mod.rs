//! The work of the `fer` commands, which the binary only parses and prints: loading
//! FER2013 splits and model files, evaluation, calibration, cascades, benchmarks and
//! training settings; and their reports as text.

pub mod bench;
pub mod calibrate;
pub mod cascade;
pub mod compare;
pub mod data;
pub mod eval;
pub mod info;
pub mod train;
