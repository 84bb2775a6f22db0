//! Choosing a [`Cascade`] for an ensemble (`moodtune fer cascade`): from every member's
//! logits on every view of a labelled set, each stage's temperature and the lowest-cost
//! confidence thresholds at which the cascade is as accurate as the whole ensemble.

use crate::metrics::{argmax, fit_temperature, views_to_probs};
use crate::model::{Cascade, Stage};
use anyhow::{bail, Result};
use moodtune_core::Emotion;

/// Stages a fitted cascade may have before the whole ensemble: every combination of
/// thresholds is tried, 70 per stage.
pub const MAX_STAGES: usize = 2;

/// Thresholds tried: 0.30, 0.31, ... 0.99. Below 0.3 nearly every face stops early.
pub fn candidate_thresholds() -> Vec<f32> {
    (30..100).map(|c| c as f32 / 100.0).collect()
}

/// What a cascade does on the labelled set at one combination of thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// One per stage.
    pub thresholds: Vec<f32>,
    /// Share of the faces each stage answered; the rest went through every member.
    pub answered: Vec<f64>,
    /// Network passes per face, on average.
    pub mean_passes: f64,
    /// Multiply-accumulates per face, on average, as a fraction of the whole ensemble's.
    pub relative_cost: f64,
    pub accuracy: f64,
}

/// A fitted cascade, the whole ensemble's accuracy it is held to, and every
/// combination of thresholds tried (the first stage's varying slowest).
#[derive(Debug, Clone)]
pub struct Fit {
    pub cascade: Option<Cascade>,
    /// Each stage's temperature.
    pub temperatures: Vec<f32>,
    pub ensemble_accuracy: f64,
    pub outcomes: Vec<Outcome>,
}

/// `logits[face]` holds every pass of the ensemble, member by member with `views` passes
/// each (as [`crate::Classifier::view_logits`] returns them); `stages[k]` lists the
/// members stage `k` adds; `member_cost[m]` is member `m`'s multiply-accumulates per
/// pass; `ensemble_temperature` is the file's calibrated one.
///
/// Each stage's temperature is fitted on the even faces, as `fer calibrate` does;
/// thresholds are judged on all of them. The thresholds chosen are the cheapest that
/// give up at most `max_drop` accuracy (a fraction) against the ensemble, at them and
/// at every combination of higher ones: a lone lucky combination is not picked.
pub fn fit(
    labels: &[Emotion],
    logits: &[Vec<Vec<f32>>],
    views: usize,
    stages: &[Vec<usize>],
    member_cost: &[f64],
    ensemble_temperature: f32,
    max_drop: f64,
) -> Result<Fit> {
    let members = member_cost.len();
    check_stages(stages, members)?;
    if labels.len() != logits.len() {
        bail!(
            "{} labels for {} faces of logits",
            labels.len(),
            logits.len()
        );
    }
    if let Some(face) = logits.iter().find(|f| f.len() != members * views) {
        bail!(
            "a face has {} passes of logits, expected {members} members x {views} views",
            face.len()
        );
    }
    let n = labels.len().max(1) as f64;
    let correct = |p: &[f32; Emotion::COUNT], label: Emotion| argmax(p) == label.index();

    // Per stage and face: its top probability, and whether its answer is right.
    let mut run: Vec<usize> = Vec::new();
    let mut temperatures = Vec::new();
    let (mut confidence, mut right) = (Vec::new(), Vec::new());
    for adds in stages {
        run.extend(adds);
        let passes: Vec<Vec<Vec<f32>>> = logits
            .iter()
            .map(|face| {
                run.iter()
                    .flat_map(|&m| face[m * views..(m + 1) * views].iter().cloned())
                    .collect()
            })
            .collect();
        let (fit_labels, fit_logits): (Vec<Emotion>, Vec<Vec<Vec<f32>>>) = (0..labels.len())
            .filter(|i| i.is_multiple_of(2))
            .map(|i| (labels[i], passes[i].clone()))
            .unzip();
        let t = fit_temperature(&fit_labels, &fit_logits);
        let probs: Vec<_> = passes.iter().map(|p| views_to_probs(p, t)).collect();
        confidence.push(
            probs
                .iter()
                .map(|p| p.iter().copied().fold(0.0, f32::max))
                .collect::<Vec<f32>>(),
        );
        right.push(
            probs
                .iter()
                .zip(labels)
                .map(|(p, l)| correct(p, *l))
                .collect::<Vec<bool>>(),
        );
        temperatures.push(t);
    }
    let ensemble_right: Vec<bool> = logits
        .iter()
        .zip(labels)
        .map(|(p, l)| correct(&views_to_probs(p, ensemble_temperature), *l))
        .collect();
    let ensemble_accuracy = ensemble_right.iter().filter(|r| **r).count() as f64 / n;

    // What each stage adds to a face's cost, and the members past the last stage.
    let stage_cost: Vec<f64> = stages
        .iter()
        .map(|adds| adds.iter().map(|&m| member_cost[m]).sum())
        .collect();
    let total_cost: f64 = member_cost.iter().sum();
    let rest_cost = total_cost - stage_cost.iter().sum::<f64>();
    let stage_members: Vec<usize> = stages.iter().map(Vec::len).collect();
    let rest_members = members - run.len();

    let candidates = candidate_thresholds();
    let per_axis = candidates.len();
    let combinations = per_axis.pow(stages.len() as u32);
    // Combination c's threshold for stage k: digit k of c in base `per_axis`, the first
    // stage's the most significant.
    let stride = |k: usize| per_axis.pow((stages.len() - 1 - k) as u32);
    let outcomes: Vec<Outcome> = (0..combinations)
        .map(|c| {
            let thresholds: Vec<f32> = (0..stages.len())
                .map(|k| candidates[c / stride(k) % per_axis])
                .collect();
            let mut answered = vec![0usize; stages.len()];
            let mut right_count = 0usize;
            for face in 0..labels.len() {
                let stop = (0..stages.len()).find(|&k| confidence[k][face] >= thresholds[k]);
                right_count += match stop {
                    Some(k) => {
                        answered[k] += 1;
                        right[k][face]
                    }
                    None => ensemble_right[face],
                } as usize;
            }
            let answered: Vec<f64> = answered.iter().map(|&a| a as f64 / n).collect();
            // Share of faces reaching stage k (all reach the first), and past the last.
            let mut reaching = 1.0;
            let (mut passes, mut cost) = (0.0, 0.0);
            for k in 0..stages.len() {
                passes += reaching * (stage_members[k] * views) as f64;
                cost += reaching * stage_cost[k];
                reaching -= answered[k];
            }
            passes += reaching * (rest_members * views) as f64;
            cost += reaching * rest_cost;
            Outcome {
                thresholds,
                answered,
                mean_passes: passes,
                relative_cost: cost / total_cost,
                accuracy: right_count as f64 / n,
            }
        })
        .collect();

    // Robust: within the allowed drop here and at every combination of higher
    // thresholds. Higher thresholds have higher indices, so a backward sweep sees them
    // first.
    let floor = ensemble_accuracy - max_drop - 1e-12;
    let mut robust = vec![false; combinations];
    for c in (0..combinations).rev() {
        robust[c] = outcomes[c].accuracy >= floor
            && (0..stages.len())
                .filter(|&k| c / stride(k) % per_axis + 1 < per_axis)
                .all(|k| robust[c + stride(k)]);
    }
    // The cheapest; among equals, the more accurate; then the lowest thresholds.
    let chosen = (0..combinations).filter(|&c| robust[c]).min_by(|&a, &b| {
        let (a, b) = (&outcomes[a], &outcomes[b]);
        a.relative_cost
            .total_cmp(&b.relative_cost)
            .then(b.accuracy.total_cmp(&a.accuracy))
    });
    let cascade = chosen.map(|c| Cascade {
        stages: stages
            .iter()
            .zip(&temperatures)
            .zip(&outcomes[c].thresholds)
            .map(|((adds, &temperature), &threshold)| Stage {
                adds: adds.clone(),
                temperature,
                threshold,
            })
            .collect(),
    });
    Ok(Fit {
        cascade,
        temperatures,
        ensemble_accuracy,
        outcomes,
    })
}

/// Stages must be 1 to [`MAX_STAGES`] non-empty, disjoint sets of member indices that
/// leave at least one member for the end.
pub fn check_stages(stages: &[Vec<usize>], members: usize) -> Result<()> {
    if members < 2 {
        bail!("a cascade needs an ensemble of two or more members, not {members}");
    }
    if stages.is_empty() || stages.len() > MAX_STAGES {
        bail!(
            "a cascade has 1 to {MAX_STAGES} stages before the whole ensemble, not {}",
            stages.len()
        );
    }
    let mut seen = vec![false; members];
    for adds in stages {
        if adds.is_empty() {
            bail!("every stage needs at least one member");
        }
        for &m in adds {
            if m >= members {
                bail!(
                    "member {m} does not exist: the ensemble has members 0-{}",
                    members - 1
                );
            }
            if std::mem::replace(&mut seen[m], true) {
                bail!("member {m} is in two stages");
            }
        }
    }
    if seen.iter().all(|s| *s) {
        bail!(
            "the stages take all of members 0-{}: the last stage needs at least one",
            members - 1
        );
    }
    Ok(())
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
        let fit = fit(&labels, &logits, 1, &[vec![0]], &[1.0, 1.0], 1.0, 0.0).unwrap();
        assert!((fit.ensemble_accuracy - 0.75).abs() < 1e-9);

        // The fitted temperature changes the first stage's confidences; judge thresholds
        // by what it makes of them.
        let t = fit.temperatures[0];
        let top = |face: &[Vec<f32>]| {
            views_to_probs(&face[..1], t)
                .iter()
                .copied()
                .fold(0.0, f32::max)
        };
        let (unsure, fairly_sure) = (top(&faces[1]), top(&faces[2]));
        assert!(unsure < fairly_sure);
        let chosen = fit.cascade.expect("a threshold keeps 75%").stages[0].threshold;
        // The fairly sure but wrong face must reach the second stage, and the lowest such
        // threshold on the grid is chosen.
        let expected = ((fairly_sure * 100.0).floor() + 1.0) / 100.0;
        assert!(
            (chosen - expected).abs() < 1e-6,
            "T {t}: chose {chosen}, expected {expected} (confidences {unsure} and {fairly_sure})"
        );

        let at = |thr: f32| {
            fit.outcomes
                .iter()
                .find(|o| (o.thresholds[0] - thr).abs() < 1e-6)
                .unwrap()
                .clone()
        };
        let o = at(chosen);
        assert!((o.accuracy - 0.75).abs() < 1e-9);
        // Faces 0 and 3 stop after one pass, faces 1 and 2 take two.
        assert!((o.answered[0] - 0.5).abs() < 1e-9, "{o:?}");
        assert!((o.relative_cost - 0.75).abs() < 1e-9, "{o:?}");
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
        let fit = fit(&labels, &logits, 1, &[vec![0]], &[1.0; 3], 1.0, 0.0).unwrap();
        assert_eq!(fit.ensemble_accuracy, 1.0);
        assert!(fit.cascade.is_none(), "{:?}", fit.cascade);
        assert!(fit.outcomes.iter().all(|o| o.accuracy == 0.0));
        // Allowing the whole loss gives the lowest threshold.
        let lenient = super::fit(&labels, &logits, 1, &[vec![0]], &[1.0; 3], 1.0, 1.0).unwrap();
        assert_eq!(lenient.cascade.unwrap().stages[0].threshold, 0.30);
    }

    #[test]
    fn a_second_stage_answers_the_faces_it_is_sure_of_and_saves_the_rest() {
        // Three members, one view each; every face is Angry. Members 0 then 1 run first.
        let unsure_wrong = vec![0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let faces = [
            // Everyone sure and right: the first stage answers.
            vec![peak(0, 5.0), peak(0, 5.0), peak(0, 5.0)],
            // Member 0 unsure and wrong, member 1 sure and right: the second stage answers.
            vec![unsure_wrong.clone(), peak(0, 6.0), peak(0, 6.0)],
            // Members 0 and 1 wrong, member 2 very sure and right: only the whole is right.
            vec![unsure_wrong, peak(1, 2.0), peak(0, 8.0)],
        ];
        let logits: Vec<Vec<Vec<f32>>> = faces.iter().cycle().take(60).cloned().collect();
        let labels = vec![Emotion::Angry; logits.len()];
        // Member 2 costs as much as the other two together.
        let costs = [1.0, 1.0, 2.0];
        let staged = fit(&labels, &logits, 1, &[vec![0], vec![1]], &costs, 1.0, 0.0).unwrap();
        assert_eq!(staged.ensemble_accuracy, 1.0);
        assert_eq!(staged.temperatures.len(), 2);
        assert_eq!(staged.outcomes.len(), 70 * 70);
        let cascade = staged
            .cascade
            .expect("some thresholds keep every face right");
        let thresholds: Vec<f32> = cascade.stages.iter().map(|s| s.threshold).collect();
        let chosen = staged
            .outcomes
            .iter()
            .find(|o| o.thresholds == thresholds)
            .unwrap();
        assert_eq!(chosen.accuracy, 1.0);
        // A third of the faces stop at each stage: 1 + 2/3 * 1 + 1/3 * 2 of 4 units.
        for share in &chosen.answered {
            assert!((share - 1.0 / 3.0).abs() < 1e-9, "{chosen:?}");
        }
        assert!((chosen.relative_cost - (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 4.0).abs() < 1e-9);
        assert!((chosen.mean_passes - 2.0).abs() < 1e-9, "{chosen:?}");
        // Robust: every combination of higher thresholds keeps the accuracy too.
        for o in &staged.outcomes {
            if o.thresholds.iter().zip(&thresholds).all(|(a, b)| a >= b) {
                assert_eq!(o.accuracy, 1.0, "{o:?}");
            }
        }
        // Cheaper than the best one-stage cascade, which sends both hard faces on to
        // every member.
        let single = fit(&labels, &logits, 1, &[vec![0]], &costs, 1.0, 0.0).unwrap();
        let single_threshold = single.cascade.unwrap().stages[0].threshold;
        let single_best = single
            .outcomes
            .iter()
            .find(|o| o.thresholds[0] == single_threshold)
            .unwrap();
        assert!((single_best.relative_cost - (1.0 + 2.0 / 3.0 * 3.0) / 4.0).abs() < 1e-9);
        assert!(chosen.relative_cost < single_best.relative_cost);
    }

    #[test]
    fn stages_are_disjoint_and_leave_a_member() {
        assert!(check_stages(&[vec![1], vec![0, 2]], 4).is_ok());
        for (stages, says) in [
            (vec![], "1 to 2 stages"),
            (vec![vec![0], vec![1], vec![2]], "1 to 2 stages"),
            (vec![vec![0], vec![]], "at least one member"),
            (vec![vec![0], vec![0]], "member 0 is in two stages"),
            (vec![vec![4]], "members 0-3"),
            (vec![vec![0, 1], vec![2, 3]], "the last stage needs"),
        ] {
            let err = check_stages(&stages, 4).unwrap_err().to_string();
            assert!(err.contains(says), "{stages:?}: {err}");
        }
        let err = check_stages(&[vec![0]], 1).unwrap_err().to_string();
        assert!(err.contains("two or more members"), "{err}");
    }
}
