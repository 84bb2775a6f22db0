//! Training for moodtune's FER networks.
//!
//! The networks are built from the same [`moodtune_fer::Arch`] registry the inference
//! engine uses, with the same tensor names, so a trained run exports straight to a
//! safetensors file `moodtune_fer::Classifier` loads. The engine is libtorch through
//! `tch` (feature `tch`): on 2 CPU cores it is the same code PyTorch runs, which is what
//! makes multi-hour CPU training practical (see docs/RESULTS.md for the measurements).
//!
//! Modules: [`config`] (what to train), [`augment`] (batch assembly and augmentation,
//! pure Rust and seeded), and with `tch`: `net` (the registry's layers on libtorch),
//! `malloc` (glibc settings that keep freed activations for reuse), `optim` (SGD/Adam
//! whose state is saved, so a resumed run is exact), `ema` (a moving average of the
//! weights, evaluated beside them), `teacher` (soft targets for distillation, cached or
//! online), `train` (the loop).

pub mod augment;
pub mod config;

#[cfg(feature = "tch")]
mod ema;
#[cfg(feature = "tch")]
mod malloc;
#[cfg(feature = "tch")]
mod net;
#[cfg(feature = "tch")]
mod optim;
#[cfg(feature = "tch")]
mod teacher;
#[cfg(feature = "tch")]
mod train;

/// libtorch's random generator (weight init, dropout) is global to the process: every test
/// that builds a network or trains takes a turn, or one test's draws would interleave with
/// another's seeded run and break its exact-resume check.
#[cfg(all(test, feature = "tch"))]
fn torch_turn() -> std::sync::MutexGuard<'static, ()> {
    static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TORCH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub use config::{default_distill_temperature, Optimizer, Schedule, TrainConfig};

/// Trains as `config` says, resuming from `config.run_dir` when a checkpoint is there.
pub fn train(config: &TrainConfig) -> anyhow::Result<()> {
    #[cfg(feature = "tch")]
    {
        train::run(config)
    }
    #[cfg(not(feature = "tch"))]
    {
        let _ = config;
        anyhow::bail!(
            "this moodtune was built without the training engine (libtorch). Run scripts/setup-torch.sh once, \
             then scripts/with-torch.sh cargo run --release --features train -- fer train ..."
        )
    }
}

/// Training throughput of an architecture on random data: images per second.
pub fn bench_training(
    arch: &str,
    batch: usize,
    seconds: f64,
    threads: usize,
    bf16: bool,
) -> anyhow::Result<f64> {
    #[cfg(feature = "tch")]
    {
        train::bench(arch, batch, seconds, threads, bf16)
    }
    #[cfg(not(feature = "tch"))]
    {
        let _ = (arch, batch, seconds, threads, bf16);
        anyhow::bail!("built without the training engine (feature `train`)")
    }
}

pub fn engine_available() -> bool {
    cfg!(feature = "tch")
}
