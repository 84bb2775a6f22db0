//! `fer train`: the settings a run trains with, checked before libtorch sees them.

use crate::fer_tools::data::data_path;
use anyhow::{bail, Result};
use moodtune_fer::model::Arch;
use moodtune_fer_train::TrainConfig;

/// The settings a run trains with: `cfg` as asked for, where `typed` names the settings
/// given on the command line (by their names in [`TrainConfig`]; without "data" the data
/// is found). A run directory that resumes brings its own settings: the data need not be
/// given again, and settings left at their defaults ask for nothing (only typed ones
/// that differ are reported as ignored). Bad values are errors naming the flag, not a
/// libtorch panic or an empty run.
pub fn settle(mut cfg: TrainConfig, typed: &[String]) -> Result<TrainConfig> {
    Arch::by_name(&cfg.arch)?;
    if cfg.teacher.is_none() {
        // `--distill` has a default for when a teacher is given; without one nothing
        // is distilled.
        cfg.distill = 0.0;
    }
    let stored = TrainConfig::resumable(&cfg.run_dir)?;
    if !typed.iter().any(|t| t == "data") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::path::PathBuf;

    #[derive(Parser)]
    struct Train {
        #[command(flatten)]
        cfg: TrainConfig,
    }

    fn parsed(args: &[&str]) -> TrainConfig {
        Train::try_parse_from(std::iter::once("train").chain(args.iter().copied()))
            .unwrap()
            .cfg
    }

    #[test]
    fn the_command_line_settles_into_a_run_config() {
        let run = tempfile::tempdir().unwrap();
        let run_dir = run.path().to_str().unwrap();
        let typed = ["data".to_string(), "run_dir".to_string()];
        let cfg = parsed(&["--data", "faces.csv", "--run-dir", run_dir, "--no-augment"]);
        assert!(!cfg.augment);
        // The default weight of a teacher is dropped when there is no teacher.
        assert_eq!(cfg.distill, 0.5);
        let settled = settle(cfg, &typed).unwrap();
        assert_eq!(settled.distill, 0.0);
        assert_eq!(settled.data, PathBuf::from("faces.csv"));

        let err = settle(parsed(&["--run-dir", run_dir, "--lr=-1"]), &typed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--lr"), "{err}");
        let err = settle(parsed(&["--arch", "nonet", "--run-dir", run_dir]), &typed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nonet"), "{err}");
        assert!(Train::try_parse_from(["train", "--no-augment", "--shift", "2"]).is_err());
        assert!(Train::try_parse_from(["train", "--distill", "0.2"]).is_err());
    }
}
