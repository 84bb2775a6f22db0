//! `fer bench`'s tables, a line at a time as each measurement finishes: architectures
//! beside PyTorch, and a model's cost per test-time augmentation.

use super::{arch_speed, latency_faces, tta_latency, ArchSpeed, TtaLatency};
use anyhow::Result;
use moodtune_fer::data::Dataset;
use moodtune_fer::model::Tta;
use moodtune_fer::Classifier;
use std::path::Path;

/// Measures each of `archs` (`seconds` per figure, on `pool`; training in bfloat16 with
/// `bf16`; PyTorch's figures beside them with `reference`), a row each to `say`.
pub fn arch_table(
    archs: &[String],
    seconds: f64,
    pool: &rayon::ThreadPool,
    bf16: bool,
    reference: bool,
    say: &mut dyn FnMut(String),
) -> Result<()> {
    say(format!(
        "{:<12} {:>10} {:>10} {:>9} | {:>12} {:>12} {:>12} | {:>10} {:>10} {:>10}",
        "arch",
        "train img/s",
        "torch",
        "ratio",
        "b1 ms",
        "torch b1",
        "ratio",
        "b64 ms",
        "torch b64",
        "ratio"
    ));
    for name in archs {
        say(arch_speed(name, seconds, pool, bf16, reference)?.row(name));
    }
    say(format!("(ratios > 1 mean moodtune is faster; training via libtorch/tch, inference pure Rust, timed before and after the reference and averaged; {} threads)", pool.current_num_threads()));
    let cap = super::torch_isa_cap();
    if reference && !cap.is_empty() {
        let settings: Vec<String> = cap.iter().map(|(k, v)| format!("{k}={v}")).collect();
        say(format!(
            "(PyTorch held to the engine's instruction set, as on a CPU without more: {})",
            settings.join(" ")
        ));
    }
    Ok(())
}

impl ArchSpeed {
    /// Architecture `name`'s figures beside PyTorch's, with ratios (> 1: ours faster).
    fn row(&self, name: &str) -> String {
        let (train, b1, b64) = (self.train_images_per_s, self.batch1_ms, self.batch64_ms);
        let r = |k: &str| self.reference.as_ref().and_then(|v| v[k].as_f64());
        let fmt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
        let ratio =
            |ours: Option<f64>, theirs: Option<f64>, higher_better: bool| match (ours, theirs) {
                (Some(o), Some(t)) if o > 0.0 && t > 0.0 => {
                    format!("{:.2}x", if higher_better { o / t } else { t / o })
                }
                _ => "-".into(),
            };
        format!(
            "{:<12} {:>10} {:>10} {:>9} | {:>12.2} {:>12} {:>12} | {:>10.1} {:>10} {:>10}",
            name,
            fmt(train),
            fmt(r("train_images_per_s")),
            ratio(train, r("train_images_per_s"), true),
            b1,
            fmt(r("batch1_ms")),
            ratio(Some(b1), r("batch1_ms"), false),
            b64,
            fmt(r("batch64_ms")),
            ratio(Some(b64), r("batch64_ms"), false),
        )
    }
}

/// A model's (by default the shipped one's) cost per face under each test-time
/// augmentation: batch-1 latency (what the live camera sees) and batch-64 throughput.
/// A cascade's cost depends on the face, so it is measured on PublicTest's faces when
/// `load_public` finds them.
pub fn model_latency(
    pool: &rayon::ThreadPool,
    seconds: f64,
    model: Option<&Path>,
    load_public: impl FnOnce() -> Option<Dataset>,
    say: &mut dyn FnMut(String),
) -> Result<()> {
    let stored = Classifier::shipped_or(model)?;
    say(format!(
        "\n{} model: {} (stored test-time augmentation: {}), pure Rust, {} threads",
        model.map_or("shipped".to_string(), |p| p.display().to_string()),
        stored.describe(),
        stored.tta.key(),
        pool.current_num_threads()
    ));
    let public = load_public();
    let (faces, batch) = latency_faces(public.as_ref());
    say(if public.is_some() {
        format!(
            "(batch-1: the median of rounds, each the mean over the same {} PublicTest faces)",
            faces.len()
        )
    } else {
        "(a synthetic face: no FER2013 data at the default path)".into()
    });
    say(format!(
        "{:<10} {:>8} {:>12} {:>17} {:>16}",
        "tta", "passes", "batch-1 ms", "(rounds: range)", "batch-64 faces/s"
    ));
    for tta in [Tta::None, Tta::Flip, Tta::TenCrop] {
        say(tta_latency(model, tta, pool, seconds, &faces, &batch)?.row(tta));
    }
    Ok(())
}

impl TtaLatency {
    /// `tta`'s passes, median batch-1 round with the rounds' range, batch-64 rate.
    fn row(&self, tta: Tta) -> String {
        let b1 = &self.batch1_rounds_ms;
        let range = format!("({}: {:.2}-{:.2})", b1.len(), b1[0], b1[b1.len() - 1]);
        format!(
            "{:<10} {:>8} {:>12.2} {:>17} {:>16.0}",
            tta.key(),
            format!("{:.2}", self.mean_passes).trim_end_matches(".00"),
            b1[b1.len() / 2],
            range,
            self.batch64_faces_per_s
        )
    }
}
