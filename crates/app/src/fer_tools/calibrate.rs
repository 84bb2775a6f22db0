//! `fer calibrate`: temperature scaling fitted on half of a split and judged on the other.

use crate::fer_tools::eval::dataset_view_logits;
use moodtune_core::Emotion;
use moodtune_fer::data::Dataset;
use moodtune_fer::metrics::{fit_temperature, nll, views_to_probs};
use moodtune_fer::{Classifier, Evaluation};

/// A fitted temperature and the held-out half's calibration before and after it.
pub struct Calibration {
    pub temperature: f32,
    pub fit_faces: usize,
    pub held_faces: usize,
    pub nll_before: f64,
    pub nll_after: f64,
    pub ece_before: f64,
    pub ece_after: f64,
    /// Held-out accuracy at the fitted temperature.
    pub accuracy: f64,
}

/// Fits the temperature of `clf` (at its test-time augmentation) on the even faces of
/// `ds` and judges it on the odd ones, so the reported ECE is not measured on the fit
/// data; `on_face` is called after each face's logits.
pub fn calibrate(clf: &Classifier, ds: &Dataset, on_face: &(dyn Fn() + Sync)) -> Calibration {
    let views = dataset_view_logits(clf, ds, on_face);
    let split = |parity: usize| -> (Vec<Emotion>, Vec<Vec<Vec<f32>>>) {
        (0..ds.len())
            .filter(|i| i % 2 == parity)
            .map(|i| (ds.labels[i], views[i].clone()))
            .unzip()
    };
    let (fit_labels, fit_views) = split(0);
    let (held_labels, held_views) = split(1);
    let t = fit_temperature(&fit_labels, &fit_views);
    // (evaluation, NLL) of the held-out half at temperature `tt`.
    let judge = |tt: f32| {
        let probs: Vec<_> = held_views.iter().map(|v| views_to_probs(v, tt)).collect();
        (
            Evaluation::new(&held_labels, &probs),
            nll(&held_labels, &probs),
        )
    };
    let ((before, nll_before), (after, nll_after)) = (judge(1.0), judge(t));
    Calibration {
        temperature: t,
        fit_faces: fit_labels.len(),
        held_faces: held_labels.len(),
        nll_before,
        nll_after,
        ece_before: before.ece,
        ece_after: after.ece,
        accuracy: after.accuracy,
    }
}

/// A note when `clf` has a cascade: its thresholds were chosen against the ensemble as
/// it was calibrated then, so the calibrated copy at `out` wants it refitted.
pub fn stale_cascade_note(clf: &Classifier, out: &std::path::Path) -> Option<String> {
    let c = clf.cascade.as_ref()?;
    Some(format!(
        "note: the stored cascade ({}) was fitted before this calibration; refit it with `moodtune fer cascade {} --model {} --write {}`",
        moodtune_fer::classifier::cascade_summary(c),
        c.stage_options(),
        out.display(),
        out.display()
    ))
}

impl Calibration {
    /// The fit and the held-out half before and after it, as `fer calibrate` prints them.
    pub fn lines(&self, tta: moodtune_fer::model::Tta) -> Vec<String> {
        vec![
            format!(
                "test-time augmentation {}; temperature fitted on {} PublicTest faces: T = {:.2}",
                tta.key(),
                self.fit_faces,
                self.temperature
            ),
            // NLL is what the fit minimises; ECE (15 bins) is noisier on ~1,800 faces and
            // can move the other way by a few thousandths.
            format!(
                "held-out {} faces: NLL {:.4} -> {:.4}, ECE {:.4} -> {:.4} (accuracy {:.2}%)",
                self.held_faces,
                self.nll_before,
                self.nll_after,
                self.ece_before,
                self.ece_after,
                self.accuracy * 100.0
            ),
        ]
    }
}
