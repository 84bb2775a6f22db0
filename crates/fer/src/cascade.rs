//! Choosing a [`Cascade`] for an ensemble (`moodtune fer cascade`): from every member's
//! logits on every view of a labelled set, the first stage's temperature and the lowest
//! confidence threshold at which the cascade is as accurate as the whole ensemble.

use crate::metrics::{argmax, fit_temperature, views_to_probs};
use crate::model::Cascade;
use moodtune_core::Emotion;

/// Thresholds tried: 0.30, 0.31, ... 0.99. Below 0.3 nearly every face stops early.
pub fn candidate_thresholds() -> Vec<f32> {
    (30..100).map(|c| c as f32 / 100.0).collect()
}

/// What a cascade does on the labelled set at one threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub threshold: f32,
    /// Faces the first stage answered alone.
    pub first_stage_share: f64,
    /// Network passes per face, on average.
    pub mean_passes: f64,
    pub accuracy: f64,
}

/// A fitted cascade, the whole ensemble's accuracy it is held to, and every threshold
/// tried (for the table `fer cascade` prints).
#[derive(Debug, Clone)]
pub struct Fit {
    pub cascade: Option<Cascade>,
    pub first_temperature: f32,
    pub ensemble_accuracy: f64,
    pub outcomes: Vec<Outcome>,
}

/// `logits[face]` holds every pass of the ensemble, member by member with `views` passes
/// each (as [`crate::Classifier::view_logits`] returns them); `ensemble_temperature` is
/// the file's calibrated one. The first stage's temperature is fitted on the even faces,
/// as `fer calibrate` does; thresholds are judged on all of them. The threshold chosen
/// is the lowest that gives up at most `max_drop` accuracy (a fraction) against the
/// ensemble, at it and at every higher threshold: a lone lucky threshold is not picked.
pub fn fit(
    labels: &[Emotion],
    logits: &[Vec<Vec<f32>>],
    views: usize,
    first: &[usize],
    ensemble_temperature: f32,
    max_drop: f64,
) -> Fit {
    let first_passes: Vec<Vec<Vec<f32>>> = logits
        .iter()
        .map(|face| {
            first
                .iter()
                .flat_map(|&m| face[m * views..(m + 1) * views].iter().cloned())
                .collect()
        })
        .collect();
    let even = |i: &usize| i.is_multiple_of(2);
    let (fit_labels, fit_logits): (Vec<Emotion>, Vec<Vec<Vec<f32>>>) = (0..labels.len())
        .filter(even)
        .map(|i| (labels[i], first_passes[i].clone()))
        .unzip();
    let first_temperature = fit_temperature(&fit_labels, &fit_logits);
    let first_probs: Vec<_> = first_passes
        .iter()
        .map(|p| views_to_probs(p, first_temperature))
        .collect();
    let full_probs: Vec<_> = logits
        .iter()
        .map(|p| views_to_probs(p, ensemble_temperature))
        .collect();
    let n = labels.len().max(1) as f64;
    let correct = |p: &[f32; Emotion::COUNT], label: Emotion| argmax(p) == label.index();
    let ensemble_accuracy = labels
        .iter()
        .zip(&full_probs)
        .filter(|(l, p)| correct(p, **l))
        .count() as f64
        / n;
    let (all_passes, first_count) = (
        logits.first().map_or(0, Vec::len),
        first_passes.first().map_or(0, Vec::len),
    );
    let outcomes: Vec<Outcome> = candidate_thresholds()
        .into_iter()
        .map(|threshold| {
            let (mut early, mut right) = (0usize, 0usize);
            for (i, label) in labels.iter().enumerate() {
                let sure = first_probs[i].iter().copied().fold(0.0, f32::max) >= threshold;
                let answer = if sure {
                    &first_probs[i]
                } else {
                    &full_probs[i]
                };
                early += sure as usize;
                right += correct(answer, *label) as usize;
            }
            let share = early as f64 / n;
            Outcome {
                threshold,
                first_stage_share: share,
                mean_passes: first_count as f64 + (1.0 - share) * (all_passes - first_count) as f64,
                accuracy: right as f64 / n,
            }
        })
        .collect();
    // Scanning down from the top: the last threshold before the first one that drops.
    let floor = ensemble_accuracy - max_drop - 1e-12;
    let chosen = outcomes
        .iter()
        .rev()
        .take_while(|o| o.accuracy >= floor)
        .last()
        .map(|o| Cascade {
            first: first.to_vec(),
            temperature: first_temperature,
            threshold: o.threshold,
        });
    Fit {
        cascade: chosen,
        first_temperature,
        ensemble_accuracy,
        outcomes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits with `hot` at class `class` and zero elsewhere.
    fn peak(class: usize, hot: f32) -> Vec<f32> {
        let mut v = vec![0.0; Emotion::COUNT];
        v[class] = hot;
        v
    }

    #[test]
    fn the_threshold_is_the_lowest_that_keeps_the_ensembles_accuracy() {
        // Two members, one view each; every face is Angry (class 0). Member 0 runs first.
        let faces = [
            // Sure and right: stops early at any threshold (top probability 0.96).
            vec![peak(0, 5.0), peak(0, 5.0)],
            // Unsure and wrong (top 0.29): member 1 puts it right.
            vec![vec![0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], peak(0, 4.0)],
            // Fairly sure and wrong (top 0.55): the ensemble is right (0.53 for Angry).
            vec![peak(1, 2.0), peak(0, 6.0)],
            // Sure and wrong (top 0.96): the ensemble is wrong too.
            vec![peak(1, 5.0), peak(0, 3.0)],
        ];
        // More copies of the faces, so that even and odd halves agree for the fit.
        let logits: Vec<Vec<Vec<f32>>> = faces.iter().cycle().take(40).cloned().collect();
        let labels = vec![Emotion::Angry; logits.len()];
        let fit = fit(&labels, &logits, 1, &[0], 1.0, 0.0);
        assert!((fit.ensemble_accuracy - 0.75).abs() < 1e-9);

        // The fitted temperature changes the first stage's confidences; judge thresholds
        // by what it makes of them.
        let t = fit.first_temperature;
        let top = |face: &[Vec<f32>]| {
            views_to_probs(&face[..1], t)
                .iter()
                .copied()
                .fold(0.0, f32::max)
        };
        let (unsure, fairly_sure) = (top(&faces[1]), top(&faces[2]));
        assert!(unsure < fairly_sure);
        let chosen = fit.cascade.expect("a threshold keeps 75%").threshold;
        // The fairly sure but wrong face must reach the second stage, and the lowest such
        // threshold on the grid is chosen.
        let expected = ((fairly_sure * 100.0).floor() + 1.0) / 100.0;
        assert!(
            (chosen - expected).abs() < 1e-6,
            "T {t}: chose {chosen}, expected {expected} (confidences {unsure} and {fairly_sure})"
        );

        let at = |thr: f32| {
            *fit.outcomes
                .iter()
                .find(|o| (o.threshold - thr).abs() < 1e-6)
                .unwrap()
        };
        let o = at(chosen);
        assert!((o.accuracy - 0.75).abs() < 1e-9);
        // Faces 0 and 3 stop after one pass, faces 1 and 2 take two.
        assert!((o.first_stage_share - 0.5).abs() < 1e-9, "{o:?}");
        assert!((o.mean_passes - 1.5).abs() < 1e-9, "{o:?}");
        // Below the fairly sure face's confidence it stops early, wrongly.
        let low = at(expected - 0.01);
        assert!((low.accuracy - 0.5).abs() < 1e-9, "{low:?}");
    }

    #[test]
    fn no_threshold_when_the_first_stage_is_surely_wrong() {
        // The first member is sure and wrong on every face, sure enough that even the
        // highest temperature fitted (4) leaves it above 0.99; the other two are right and
        // outvote it. No threshold sends the faces on.
        let logits = vec![vec![peak(1, 40.0), peak(0, 30.0), peak(0, 30.0)]; 8];
        let labels = vec![Emotion::Angry; 8];
        let fit = fit(&labels, &logits, 1, &[0], 1.0, 0.0);
        assert_eq!(fit.ensemble_accuracy, 1.0);
        assert!(fit.cascade.is_none(), "{:?}", fit.cascade);
        assert!(fit.outcomes.iter().all(|o| o.accuracy == 0.0));
        // Allowing the whole loss gives the lowest threshold.
        let lenient = super::fit(&labels, &logits, 1, &[0], 1.0, 1.0);
        assert_eq!(lenient.cascade.unwrap().threshold, 0.30);
    }
}
