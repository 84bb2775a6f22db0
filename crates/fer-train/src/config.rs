//! What a training run does. Stored as `config.json` in the run directory, so a resumed
//! run continues with the settings it started with.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with Nesterov momentum 0.9 (no dampening, as PyTorch).
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Linear warm-up over the first tenth, then cosine decay to zero.
    OneCycle,
    /// The learning rate stays as given.
    Constant,
    /// Divide by 10 at 50% and 75% of the epochs.
    Step,
}

/// A run directory's settings, written when the run starts.
pub const CONFIG_FILE: &str = "config.json";
/// A run directory's last epoch: weights, optimizer state and progress.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// The settings of `moodtune fer train`: the same struct is the command line (each doc
/// comment is the flag's help) and the run directory's `config.json`, so a setting has
/// one name everywhere. A field's serde name is its clap id, which lets a resumed run
/// tell typed flags from defaults.
#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
pub struct TrainConfig {
    /// Architecture from the registry: paper, paper-table, slimvgg, widevgg.
    #[arg(long, default_value = "slimvgg")]
    pub arch: String,
    /// FER2013 CSV / CSV.gz or image folder with Training/ and PublicTest/ [default: the
    /// resumed run's, else ../shared/data/fer2013/fer2013.csv.gz].
    #[arg(long, default_value = "", hide_default_value = true, value_parser = any_path)]
    pub data: PathBuf,
    /// Run directory: checkpoints, metrics.jsonl, best.safetensors. Resumed when present.
    #[arg(long, default_value_os_t = default_run_dir())]
    pub run_dir: PathBuf,
    #[arg(long, default_value_t = 14)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 0.1)]
    pub label_smoothing: f64,
    #[arg(long, value_enum, default_value_t = Optimizer::Sgd)]
    pub optimizer: Optimizer,
    #[arg(long, value_enum, default_value_t = Schedule::OneCycle)]
    pub schedule: Schedule,
    /// Turn data augmentation off (crops, flips, jitter, erasing).
    #[arg(long = "no-augment", action = clap::ArgAction::SetFalse)]
    pub augment: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Batches per epoch cap, for quick trial runs and tests (0 = all).
    #[arg(long, default_value_t = 0)]
    pub max_batches: usize,
    /// Evaluate on a fixed sample of this many PublicTest faces (0 = all).
    #[arg(long, default_value_t = 0)]
    pub max_eval: usize,
    /// Preprocessing steps stored with the model, e.g. "equalize,median3".
    #[arg(long, default_value = "")]
    pub preprocess: String,
    /// Start from an exported model's weights (same architecture) instead of a seeded
    /// random initialisation: fine-tuning and warm restarts.
    #[serde(default)]
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Distil from this model (e.g. an ensemble file): its probabilities on each training
    /// face are soft targets next to the labels.
    #[serde(default)]
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Weight of the teacher's soft targets in the loss (0-1; the labels get the rest).
    #[serde(default)]
    #[arg(long, default_value_t = 0.5, requires = "teacher")]
    pub distill: f64,
    /// Distillation temperature: teacher and student soft targets are softmaxes at this
    /// temperature (the teacher's own calibration temperature is ignored; the soft term
    /// is scaled by its square). Above 1 it keeps the teacher's ranking of the wrong
    /// classes, which a teacher labelling its own training faces hides.
    #[serde(default = "default_distill_temperature")]
    #[arg(long, default_value_t = default_distill_temperature(), requires = "teacher")]
    pub distill_temperature: f64,
    /// The teacher labels each augmented batch as the student sees it, instead of every
    /// training face once (slower: one teacher pass per member per batch).
    #[serde(default)]
    #[arg(long, requires = "teacher")]
    pub online_teacher: bool,
    /// Also keep an exponential moving average of the weights with this decay per step
    /// (e.g. 0.999; 0 = off), evaluated every epoch: the better of the two is kept.
    #[serde(default)]
    #[arg(long, default_value_t = 0.0)]
    pub ema: f64,
    /// Train in bfloat16 on float32 master weights: about 1.9x the images/s on CPUs with
    /// AVX512-BF16 (Zen 4, Sapphire Rapids), slower elsewhere. Evaluation and the
    /// exported weights stay float32.
    #[serde(default)]
    #[arg(long)]
    pub bf16: bool,
    /// Augmentation also rotates training faces up to 10 degrees and zooms them up to 10%
    /// about the crop's centre.
    #[serde(default)]
    #[arg(long, conflicts_with = "augment")]
    pub affine: bool,
    /// Augmentation also shifts training faces up to this many pixels either way (border
    /// pixels repeat): for networks whose input is the whole 48x48 face (`paper`,
    /// `paper-table`), which random crops cannot move.
    #[serde(default)]
    #[arg(long, default_value_t = 0, conflicts_with = "augment")]
    pub shift: usize,
    /// Dropout before every dense layer (0-1); by default 0.3 for networks with
    /// BatchNorm and none for those without.
    #[serde(default)]
    #[arg(long, value_parser = dropout_probability)]
    pub dropout: Option<f64>,
}

/// `--data` as typed; empty (its default) means "find it" when the run is settled.
fn any_path(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text))
}

fn dropout_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..1.0).contains(&p) => Ok(p),
        Ok(_) => Err(format!("{text} is not a probability in [0, 1)")),
        Err(e) => Err(format!("{text}: {e}")),
    }
}

fn default_run_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache/moodtune/runs/default")
}

pub fn default_distill_temperature() -> f64 {
    2.0
}

impl TrainConfig {
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let total = total.max(1);
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step => {
                let f = step as f64 / total as f64;
                self.lr
                    * if f >= 0.75 {
                        0.01
                    } else if f >= 0.5 {
                        0.1
                    } else {
                        1.0
                    }
            }
            Schedule::OneCycle => {
                let warm = (total / 10).max(1);
                if step < warm {
                    self.lr * (0.1 + 0.9 * step as f64 / warm as f64)
                } else {
                    let t = (step - warm) as f64 / (total - warm).max(1) as f64;
                    self.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
                }
            }
        }
    }

    /// The configuration a run directory resumes with: its `config.json`, when it also
    /// holds a checkpoint (else a new run starts there).
    pub fn resumable(run_dir: &std::path::Path) -> anyhow::Result<Option<TrainConfig>> {
        use anyhow::Context;
        let config = run_dir.join(CONFIG_FILE);
        if !(run_dir.join(CHECKPOINT_FILE).exists() && config.exists()) {
            return Ok(None);
        }
        let text =
            std::fs::read(&config).with_context(|| format!("cannot read {}", config.display()))?;
        let stored = serde_json::from_slice(&text)
            .with_context(|| format!("{}: unreadable", config.display()))?;
        Ok(Some(stored))
    }

    /// This request with every setting not typed on the command line (`typed` holds the
    /// typed settings' names) replaced by the stored run's: resuming with only
    /// `--run-dir` asks for nothing, so nothing is reported ignored, while a typed
    /// setting that differs from the run's is, even when it equals the default.
    pub fn keeping_run_settings(&self, typed: &[String], stored: &TrainConfig) -> TrainConfig {
        let as_map = |c: &TrainConfig| match serde_json::to_value(c) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let (mut asked, stored) = (as_map(self), as_map(stored));
        for (name, value) in asked.iter_mut() {
            // The run directory is where the run is now, whatever it was called before.
            if name != "run_dir" && !typed.iter().any(|t| t == name) {
                if let Some(run) = stored.get(name) {
                    *value = run.clone();
                }
            }
        }
        serde_json::from_value(serde_json::Value::Object(asked)).unwrap_or_else(|_| self.clone())
    }

    /// The settings in which `requested` differs from this (stored) configuration, as
    /// `name requested (run: stored)`: what a resumed run ignores, so the user is told
    /// instead of finding out from the results. The run directory itself is not a setting.
    pub fn ignored_on_resume(&self, requested: &TrainConfig) -> Vec<String> {
        let as_map = |c: &TrainConfig| match serde_json::to_value(c) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let (stored, asked) = (as_map(self), as_map(requested));
        asked
            .iter()
            .filter(|(name, value)| name.as_str() != "run_dir" && stored.get(*name) != Some(value))
            .map(|(name, value)| {
                let was = stored
                    .get(name)
                    .map_or("unset".to_string(), |v| v.to_string());
                format!("{name} {value} (run: {was})")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(schedule: Schedule) -> TrainConfig {
        TrainConfig {
            arch: "slimvgg".into(),
            data: "x".into(),
            run_dir: "r".into(),
            epochs: 10,
            batch: 64,
            lr: 0.1,
            weight_decay: 5e-4,
            label_smoothing: 0.1,
            optimizer: Optimizer::Sgd,
            schedule,
            augment: true,
            seed: 1,
            threads: 2,
            max_batches: 0,
            max_eval: 0,
            preprocess: String::new(),
            init: None,
            teacher: None,
            distill: 0.0,
            distill_temperature: default_distill_temperature(),
            online_teacher: false,
            ema: 0.0,
            bf16: false,
            affine: false,
            shift: 0,
            dropout: None,
        }
    }

    #[test]
    fn schedules() {
        let c = cfg(Schedule::OneCycle);
        assert!((c.lr_at(0, 100) - 0.01).abs() < 1e-12);
        assert!((c.lr_at(10, 100) - 0.1).abs() < 1e-12);
        // Cosine from step 10 to 100: 0.1 * (1 + cos(pi * 22/90)) / 2 at step 32 (a linear
        // decay would give 0.0756), and half the peak half-way.
        assert!(
            (c.lr_at(32, 100) - 0.0860).abs() < 1e-4,
            "{}",
            c.lr_at(32, 100)
        );
        assert!((c.lr_at(55, 100) - 0.05).abs() < 1e-12);
        assert!(c.lr_at(100, 100).abs() < 1e-12);
        let s = cfg(Schedule::Step);
        assert_eq!(
            [s.lr_at(0, 100), s.lr_at(50, 100), s.lr_at(80, 100)],
            [0.1, 0.1 * 0.1, 0.1 * 0.01]
        );
        assert_eq!(cfg(Schedule::Constant).lr_at(99, 100), 0.1);
    }

    #[test]
    fn a_resumed_run_names_the_settings_it_ignores() {
        let stored = cfg(Schedule::OneCycle);
        let mut same = stored.clone();
        same.run_dir = "elsewhere".into();
        assert!(stored.ignored_on_resume(&same).is_empty());

        let mut changed = stored.clone();
        changed.epochs = 56;
        changed.schedule = Schedule::Constant;
        assert_eq!(
            stored.ignored_on_resume(&changed),
            [
                "epochs 56 (run: 10)",
                "schedule \"constant\" (run: \"one-cycle\")"
            ]
        );
    }

    #[test]
    fn resuming_with_default_flags_asks_for_nothing() {
        let mut run = cfg(Schedule::OneCycle);
        run.epochs = 56;
        run.lr = 0.05;
        let mut asked = cfg(Schedule::OneCycle);
        asked.seed = 9;
        run.run_dir = "moved/from/here".into();
        let typed = vec!["seed".to_string()];
        let merged = asked.keeping_run_settings(&typed, &run);
        assert_eq!((merged.epochs, merged.lr), (56, 0.05));
        assert_eq!(merged.run_dir, asked.run_dir);
        run.run_dir = asked.run_dir.clone();
        assert_eq!(run.ignored_on_resume(&merged), vec!["seed 9 (run: 1)"]);
        // A typed value equal to the default still asks for it.
        let typed = vec!["epochs".to_string()];
        let merged = asked.keeping_run_settings(&typed, &run);
        assert_eq!(run.ignored_on_resume(&merged), vec!["epochs 10 (run: 56)"]);
    }

    #[test]
    fn a_run_directory_resumes_only_with_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert!(TrainConfig::resumable(dir.path()).unwrap().is_none());
        let run = cfg(Schedule::OneCycle);
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            serde_json::to_vec(&run).unwrap(),
        )
        .unwrap();
        assert!(TrainConfig::resumable(dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join(CHECKPOINT_FILE), b"").unwrap();
        let stored = TrainConfig::resumable(dir.path()).unwrap().unwrap();
        assert_eq!(stored.epochs, run.epochs);
        std::fs::write(dir.path().join(CONFIG_FILE), b"{").unwrap();
        let err = format!("{:#}", TrainConfig::resumable(dir.path()).unwrap_err());
        assert!(
            err.contains("config.json") && err.contains("unreadable"),
            "{err}"
        );
    }
}
