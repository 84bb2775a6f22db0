//! `fer eval`: accuracy, per-class scores and calibration of a model on a split, and
//! how it stands up to perturbed faces.

use moodtune_fer::data::Dataset;
use moodtune_fer::{Classifier, Evaluation};
use std::time::Instant;

/// What `fer eval` reports about a model on a split.
pub struct EvalReport {
    pub evaluation: Evaluation,
    pub ms_per_face: f64,
    /// Network passes per face: fewer than the model's full count for a cascade.
    pub mean_passes: f64,
    /// Accuracy per perturbation ([`robustness`]), when asked for.
    pub robustness: Option<Vec<(String, f64)>>,
}

/// Evaluates `clf` on `ds`, timing the predictions; `with_robustness` adds the
/// accuracy on perturbed copies.
pub fn evaluate(clf: &Classifier, ds: &Dataset, with_robustness: bool) -> EvalReport {
    let t = Instant::now();
    let predictions = clf.predict_dataset_with_passes(ds);
    let secs = t.elapsed().as_secs_f64();
    let probs: Vec<_> = predictions.iter().map(|p| p.probs).collect();
    let mean_passes =
        predictions.iter().map(|p| p.passes).sum::<usize>() as f64 / ds.len().max(1) as f64;
    EvalReport {
        evaluation: Evaluation::new(&ds.labels, &probs),
        ms_per_face: secs * 1000.0 / ds.len() as f64,
        mean_passes,
        robustness: with_robustness.then(|| robustness(clf, ds)),
    }
}

/// Accuracy on perturbed copies of the data: the same faces a little brighter, darker,
/// flatter, harsher, or mirrored.
pub fn robustness(clf: &Classifier, ds: &Dataset) -> Vec<(String, f64)> {
    let perturb = |f: &dyn Fn(u8, usize) -> u8| -> f64 {
        let mut copy = ds.clone();
        for (i, p) in copy.images.iter_mut().enumerate() {
            *p = f(*p, i);
        }
        Evaluation::new(&copy.labels, &clf.predict_dataset(&copy)).accuracy
    };
    let side = moodtune_fer::data::SIDE;
    let flipped = |_: u8, i: usize| {
        let (img, pos) = (i / (side * side), i % (side * side));
        let (y, x) = (pos / side, pos % side);
        ds.images[img * side * side + y * side + (side - 1 - x)]
    };
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    vec![
        ("clean".into(), perturb(&|p, _| p)),
        (
            "brightness +20".into(),
            perturb(&|p, _| clamp(p as f32 + 20.0)),
        ),
        (
            "brightness -20".into(),
            perturb(&|p, _| clamp(p as f32 - 20.0)),
        ),
        (
            "contrast x0.8".into(),
            perturb(&|p, _| clamp((p as f32 - 128.0) * 0.8 + 128.0)),
        ),
        (
            "contrast x1.2".into(),
            perturb(&|p, _| clamp((p as f32 - 128.0) * 1.2 + 128.0)),
        ),
        ("horizontal flip".into(), perturb(&flipped)),
    ]
}

/// Every member's logits on every view of every face (what temperatures and cascades are
/// fitted on), in parallel; `on_face` is called after each face (a progress bar: a
/// minute or more for an ensemble).
pub fn dataset_view_logits(
    clf: &Classifier,
    ds: &Dataset,
    on_face: &(dyn Fn() + Sync),
) -> Vec<Vec<Vec<f32>>> {
    use moodtune_fer::classifier::fer_image;
    use rayon::prelude::*;
    (0..ds.len())
        .into_par_iter()
        .map(|i| {
            let l = clf.view_logits(&fer_image(ds.image(i)));
            on_face();
            l
        })
        .collect()
}

impl EvalReport {
    /// The report as `fer eval` prints it: the model, the evaluation table, the speed
    /// on `faces` faces and, when measured, the robustness.
    pub fn text(&self, model: &str, clf: &Classifier, faces: usize) -> String {
        let mut s = format!(
            "model {model} ({}), test-time augmentation {}\n",
            clf.describe(),
            clf.tta.key()
        );
        s += &self.evaluation.table();
        s += &format!(
            "\n{:.2} ms per face ({faces} faces, {} threads)\n",
            self.ms_per_face,
            rayon::current_num_threads()
        );
        if clf.cascade.is_some() {
            s += &format!(
                "cascade: {:.2} network passes per face on average, of {}\n",
                self.mean_passes,
                clf.passes_per_face()
            );
        }
        if let Some(r) = &self.robustness {
            s += "\nrobustness (accuracy)\n";
            for (name, acc) in r {
                s += &format!("  {name:<22} {:.2}%\n", acc * 100.0);
            }
        }
        s
    }

    /// The report as `fer eval --json` prints it.
    pub fn to_json(&self, model: &str, usage: &str, clf: &Classifier) -> serde_json::Value {
        serde_json::json!({
            "model": model,
            "usage": usage,
            "tta": clf.tta,
            "evaluation": self.evaluation,
            "ms_per_face": self.ms_per_face,
            "mean_passes_per_face": self.mean_passes,
            "robustness": self.robustness,
        })
    }
}
