//! `fer train`: the settings a run trains with, checked before libtorch sees them.

use crate::fer_tools::data::data_path;
use anyhow::{bail, Result};
use moodtune_fer::model::Arch;
use moodtune_fer_train::TrainConfig;

/// The settings a run trains with: `cfg` as asked for, where `data_given` says whether
/// `cfg.data` was given and `typed` names the settings given on the command line (by
/// their names in [`TrainConfig`]). A run directory that resumes brings its own
/// settings: the data need not be given again, and settings left at their defaults ask
/// for nothing (only typed ones that differ are reported as ignored). Bad values are
/// errors naming the flag, not a libtorch panic or an empty run.
pub fn settle(mut cfg: TrainConfig, data_given: bool, typed: &[String]) -> Result<TrainConfig> {
    Arch::by_name(&cfg.arch)?;
    let stored = TrainConfig::resumable(&cfg.run_dir)?;
    if !data_given {
        cfg.data = match &stored {
            Some(run) => run.data.clone(),
            None => data_path(None)?,
        };
    }
    cfg.preprocess = moodtune_fer::Pipeline::parse(&cfg.preprocess)?.to_text();
    if let Some(run) = &stored {
        cfg = cfg.keeping_run_settings(typed, run);
    }
    check(&cfg)?;
    Ok(cfg)
}

fn check(cfg: &TrainConfig) -> Result<()> {
    if !(0.0..1.0).contains(&cfg.ema) {
        bail!(
            "--ema must be a decay in [0, 1), e.g. 0.999, not {}",
            cfg.ema
        );
    }
    if !(cfg.distill_temperature > 0.0 && cfg.distill_temperature.is_finite()) {
        bail!(
            "--distill-temperature must be a positive number, not {}",
            cfg.distill_temperature
        );
    }
    if !(0.0..=1.0).contains(&cfg.distill) {
        bail!("--distill must be between 0 and 1, not {}", cfg.distill);
    }
    if cfg.epochs == 0 || cfg.batch == 0 || cfg.threads == 0 {
        bail!("--epochs, --batch and --threads must be at least 1");
    }
    if !(cfg.lr > 0.0 && cfg.lr.is_finite()) {
        bail!("--lr must be a positive number, not {}", cfg.lr);
    }
    if !(0.0..1.0).contains(&cfg.label_smoothing) {
        bail!(
            "--label-smoothing must be in [0, 1), not {}",
            cfg.label_smoothing
        );
    }
    if !(cfg.weight_decay >= 0.0 && cfg.weight_decay.is_finite()) {
        bail!("--weight-decay must be 0 or more, not {}", cfg.weight_decay);
    }
    Ok(())
}
