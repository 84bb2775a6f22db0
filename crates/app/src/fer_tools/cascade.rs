//! `fer cascade`: a calibrated ensemble made two-stage, its thresholds fitted on a split.

use crate::fer_tools::eval::dataset_view_logits;
use anyhow::{bail, Result};
use moodtune_fer::cascade::{Fit, Outcome};
use moodtune_fer::classifier::member_list;
use moodtune_fer::data::Dataset;
use moodtune_fer::Classifier;

/// The stages `first` and `then` (member indices, duplicates dropped) of the ensemble
/// `clf` named `name`, checked with `max_drop` (percentage points) before any data is
/// loaded.
pub fn stages(
    clf: &Classifier,
    name: &str,
    first: &[usize],
    then: &[usize],
    max_drop: f64,
) -> Result<Vec<Vec<usize>>> {
    let members = clf.nets.len();
    if members < 2 {
        bail!("{name} is a single network: a cascade needs an ensemble (`fer ensemble`)");
    }
    let dedup = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut stages = vec![dedup(first)];
    if !then.is_empty() {
        stages.push(dedup(then));
    }
    moodtune_fer::cascade::check_stages(&stages, members)
        .map_err(|e| anyhow::anyhow!("--first/--then for {name}: {e}"))?;
    if !(0.0..=100.0).contains(&max_drop) {
        bail!("--max-drop is in percentage points, 0-100, not {max_drop}");
    }
    Ok(stages)
}

/// Fits the cascade of `stages` for `clf` (loaded without its stored cascade) on `ds`,
/// giving up at most `max_drop` percentage points; `on_face` is called after each face.
pub fn fit(
    clf: &Classifier,
    ds: &Dataset,
    stages: &[Vec<usize>],
    max_drop: f64,
    on_face: &(dyn Fn() + Sync),
) -> Result<Fit> {
    let logits = dataset_view_logits(clf, ds, on_face);
    let member_cost: Vec<f64> = clf.nets.iter().map(|n| n.arch.cost().1 as f64).collect();
    moodtune_fer::cascade::fit(
        &ds.labels,
        &logits,
        clf.views_per_member(),
        stages,
        &member_cost,
        clf.meta().temperature,
        max_drop / 100.0,
    )
}

/// One row of the table `fer cascade` prints.
pub struct Row<'a> {
    pub outcome: &'a Outcome,
    pub chosen: bool,
}

/// The rows worth showing: one per first-stage threshold (every 0.05, and the chosen
/// one); with two stages, the cheapest second threshold within the allowed drop (or the
/// most accurate), the chosen one on its own row.
pub fn rows(fit: &Fit, max_drop: f64) -> Vec<Row<'_>> {
    let chosen = fit
        .cascade
        .as_ref()
        .map(|c| c.stages.iter().map(|s| s.threshold).collect::<Vec<f32>>());
    let floor = fit.ensemble_accuracy - max_drop / 100.0 - 1e-12;
    let mut rows = Vec::new();
    for group in fit
        .outcomes
        .chunk_by(|a, b| a.thresholds[0] == b.thresholds[0])
    {
        let first = group[0].thresholds[0];
        let is_chosen = chosen.as_ref().is_some_and(|c| (c[0] - first).abs() < 1e-6);
        if !is_chosen && (first * 100.0).round() as i64 % 5 != 0 {
            continue;
        }
        let row = match chosen.as_ref().filter(|_| is_chosen) {
            Some(c) => group.iter().find(|o| &o.thresholds == c),
            None => group
                .iter()
                .filter(|o| o.accuracy >= floor)
                .min_by(|a, b| a.relative_cost.total_cmp(&b.relative_cost))
                .or_else(|| {
                    group
                        .iter()
                        .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
                }),
        };
        if let Some(outcome) = row {
            rows.push(Row {
                outcome,
                chosen: is_chosen,
            });
        }
    }
    rows
}

/// The report `fer cascade` prints on the ensemble `clf` called `name` (loaded without
/// its cascade): the stages with their fitted temperatures, the whole ensemble's
/// accuracy on the `faces` faces, then per [`rows`] row the thresholds, the share each
/// stage answers, mean passes, cost against the whole ensemble and accuracy.
pub fn report(
    name: &str,
    clf: &Classifier,
    stages: &[Vec<usize>],
    fit: &Fit,
    faces: usize,
    max_drop: f64,
) -> Vec<String> {
    let described: Vec<String> = stages
        .iter()
        .zip(&fit.temperatures)
        .enumerate()
        .map(|(k, (adds, t))| format!("stage {} adds {} (T {t:.2})", k + 1, member_list(adds)))
        .collect();
    let mut lines = vec![
        format!(
            "{name}: {} networks, {} TTA, temperature {}; {} (temperatures fitted on even PublicTest faces)",
            clf.nets.len(),
            clf.tta.key(),
            clf.meta().temperature,
            described.join(", ")
        ),
        format!(
            "whole ensemble on {faces} PublicTest faces: {:.2}%, {} passes per face",
            fit.ensemble_accuracy * 100.0,
            clf.passes_per_face()
        ),
    ];
    let joined = |v: Vec<String>| v.join(" / ");
    lines.push(format!(
        "{:>11} {:>15} {:>12} {:>9} {:>9}",
        "threshold", "answered by", "mean passes", "cost", "accuracy"
    ));
    for row in rows(fit, max_drop) {
        let o = row.outcome;
        lines.push(format!(
            "{:>11} {:>15} {:>12.2} {:>8.1}% {:>8.2}%{}",
            joined(o.thresholds.iter().map(|t| format!("{t:.2}")).collect()),
            joined(
                o.answered
                    .iter()
                    .map(|s| format!("{:.1}%", s * 100.0))
                    .collect()
            ),
            o.mean_passes,
            o.relative_cost * 100.0,
            o.accuracy * 100.0,
            if row.chosen { "  <- chosen" } else { "" }
        ));
    }
    lines.push("(cost: multiply-accumulates per face against the whole ensemble's)".into());
    lines
}
