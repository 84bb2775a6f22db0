//! Evaluation: stratified k-fold cross-validation of the three methods, metrics and a
//! Markdown report.

use crate::analyze::{Analyzer, Features};
use crate::corpus::Example;
use crate::model::{lexicon_rule, EmotionModel, Method, ModelError, TrainOptions};
use moodtune_core::metrics::{self, MacroAverage};
use moodtune_core::Emotion;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// Scores of one method.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodReport {
    pub method: Method,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Per-emotion F1 in [`Emotion::ALL`] order.
    pub f1: [f64; Emotion::COUNT],
    /// `confusion[true][predicted]` counts in [`Emotion::ALL`] order.
    pub confusion: [[u32; Emotion::COUNT]; Emotion::COUNT],
}

impl MethodReport {
    /// Scores predictions against truth.
    pub fn from_pairs(method: Method, pairs: &[(Emotion, Emotion)]) -> MethodReport {
        let mut confusion = [[0u32; Emotion::COUNT]; Emotion::COUNT];
        for &(t, p) in pairs {
            confusion[t.index()][p.index()] += 1;
        }
        let counts = confusion.map(|row| row.map(|c| c as usize));
        MethodReport {
            method,
            accuracy: metrics::accuracy(&counts),
            // Averaged over the classes that occur in the truth: a fold may lack one.
            macro_f1: metrics::macro_f1(&counts, MacroAverage::ClassesInTruth),
            f1: metrics::per_class(&counts).map(|s| s.f1),
            confusion,
        }
    }
}

/// Results of a cross-validation.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub examples: usize,
    pub folds: usize,
    pub seed: u64,
    /// Hierarchical SVM, flat SVM, lexicon rule.
    pub methods: Vec<MethodReport>,
}

impl Evaluation {
    pub fn method(&self, m: Method) -> Option<&MethodReport> {
        self.methods.iter().find(|r| r.method == m)
    }
}

/// Stratified fold index of each example: each emotion's examples are shuffled with
/// `seed` and dealt round-robin to the folds.
///
/// # Panics
/// If `folds` is 0 (`cross_validate` checks its argument before calling this).
pub fn stratified_folds(labels: &[Emotion], folds: usize, seed: u64) -> Vec<usize> {
    assert!(folds > 0, "stratified_folds needs at least one fold");
    let mut fold_of = vec![0usize; labels.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut next = 0usize;
    for e in Emotion::ALL {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == e).collect();
        idx.shuffle(&mut rng);
        for i in idx {
            fold_of[i] = next % folds;
            next += 1;
        }
    }
    fold_of
}

/// k-fold cross-validation of the hierarchical SVM, the flat SVM and the lexicon rule
/// on the same folds, with the default training settings. Folds run in parallel.
pub fn cross_validate(
    analyzer: &Analyzer,
    examples: &[Example],
    folds: usize,
    seed: u64,
) -> Result<Evaluation, ModelError> {
    let opts = TrainOptions {
        seed,
        ..Default::default()
    };
    cross_validate_with(analyzer, examples, folds, &opts)
}

/// [`cross_validate`] with explicit SVM settings (`opts.method` is ignored: both SVMs
/// are trained; `opts.seed` also shuffles the folds).
pub fn cross_validate_with(
    analyzer: &Analyzer,
    examples: &[Example],
    folds: usize,
    opts: &TrainOptions,
) -> Result<Evaluation, ModelError> {
    let seed = opts.seed;
    if folds < 2 || folds > examples.len() {
        return Err(ModelError::Train(format!(
            "cannot make {folds} folds from {} examples",
            examples.len()
        )));
    }
    let feats: Vec<Features> = examples
        .par_iter()
        .map(|(t, _)| analyzer.features(t))
        .collect();
    let labels: Vec<Emotion> = examples.iter().map(|(_, e)| *e).collect();
    let fold_of = stratified_folds(&labels, folds, seed);
    // (truth, prediction) pairs of the three methods, per fold.
    type FoldPairs = [Vec<(Emotion, Emotion)>; 3];
    let per_fold: Vec<Result<FoldPairs, ModelError>> = (0..folds)
        .into_par_iter()
        .map(|k| {
            let train: Vec<usize> = (0..feats.len()).filter(|&i| fold_of[i] != k).collect();
            let test: Vec<usize> = (0..feats.len()).filter(|&i| fold_of[i] == k).collect();
            let tf: Vec<Features> = train.iter().map(|&i| feats[i].clone()).collect();
            let tl: Vec<Emotion> = train.iter().map(|&i| labels[i]).collect();
            let h = EmotionModel::train_features(
                &tf,
                &tl,
                &TrainOptions {
                    method: Method::Hierarchical,
                    ..*opts
                },
            )?;
            let f = EmotionModel::train_features(
                &tf,
                &tl,
                &TrainOptions {
                    method: Method::Flat,
                    ..*opts
                },
            )?;
            let mut out: FoldPairs = Default::default();
            for &i in &test {
                out[0].push((labels[i], h.predict_features(&feats[i]).emotion));
                out[1].push((labels[i], f.predict_features(&feats[i]).emotion));
                out[2].push((labels[i], lexicon_rule(&feats[i]).emotion));
            }
            Ok(out)
        })
        .collect();
    let mut all: FoldPairs = Default::default();
    for r in per_fold {
        let r = r?;
        for m in 0..3 {
            all[m].extend_from_slice(&r[m]);
        }
    }
    Ok(Evaluation {
        examples: examples.len(),
        folds,
        seed,
        methods: Method::ALL
            .iter()
            .zip(all.iter())
            .map(|(&m, p)| MethodReport::from_pairs(m, p))
            .collect(),
    })
}

/// Scores a trained model and the lexicon rule on held-out examples.
pub fn evaluate(
    model: &EmotionModel,
    analyzer: &Analyzer,
    examples: &[Example],
) -> Vec<MethodReport> {
    let feats: Vec<Features> = examples
        .par_iter()
        .map(|(t, _)| analyzer.features(t))
        .collect();
    let pairs_model: Vec<(Emotion, Emotion)> = feats
        .par_iter()
        .zip(examples)
        .map(|(f, (_, e))| (*e, model.predict_features(f).emotion))
        .collect();
    let pairs_rule: Vec<(Emotion, Emotion)> = feats
        .iter()
        .zip(examples)
        .map(|(f, (_, e))| (*e, lexicon_rule(f).emotion))
        .collect();
    vec![
        MethodReport::from_pairs(model.method(), &pairs_model),
        MethodReport::from_pairs(Method::Lexicon, &pairs_rule),
    ]
}

/// Markdown tables: a summary row per method, then per-method confusion matrices
/// (rows true emotion, columns predicted).
pub fn report_markdown(title: &str, reports: &[MethodReport]) -> String {
    let mut s = format!("### {title}\n\n| method | accuracy | macro-F1 |");
    for e in Emotion::ALL {
        s.push_str(&format!(" F1 {} |", e.key()));
    }
    s.push_str("\n|---|---|---|");
    s.push_str(&"---|".repeat(Emotion::COUNT));
    s.push('\n');
    for r in reports {
        s.push_str(&format!(
            "| {} | {:.1}% | {:.3} |",
            r.method.name(),
            r.accuracy * 100.0,
            r.macro_f1
        ));
        for f in r.f1 {
            s.push_str(&format!(" {f:.2} |"));
        }
        s.push('\n');
    }
    for r in reports {
        s.push_str(&format!(
            "\nConfusion matrix, {} (rows: true, columns: predicted)\n\n| true \\ pred |",
            r.method.name()
        ));
        for e in Emotion::ALL {
            s.push_str(&format!(" {} |", e.key()));
        }
        s.push_str("\n|---|");
        s.push_str(&"---|".repeat(Emotion::COUNT));
        s.push('\n');
        for (i, e) in Emotion::ALL.iter().enumerate() {
            s.push_str(&format!("| {} |", e.key()));
            for c in r.confusion[i] {
                s.push_str(&format!(" {c} |"));
            }
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use Emotion::*;

    #[test]
    fn metrics_on_a_known_confusion() {
        // 3 Happy (2 right, 1 called Sad), 2 Sad (both right).
        let pairs = [
            (Happy, Happy),
            (Happy, Happy),
            (Happy, Sad),
            (Sad, Sad),
            (Sad, Sad),
        ];
        let r = MethodReport::from_pairs(Method::Flat, &pairs);
        assert!((r.accuracy - 0.8).abs() < 1e-9);
        // Happy: P=1, R=2/3 -> F1=0.8. Sad: P=2/3, R=1 -> 0.8.
        assert!((r.f1[Happy.index()] - 0.8).abs() < 1e-9);
        assert!((r.f1[Sad.index()] - 0.8).abs() < 1e-9);
        assert!((r.macro_f1 - 0.8).abs() < 1e-9);
        assert_eq!(r.confusion[Happy.index()][Sad.index()], 1);
        let md = report_markdown("t", &[r]);
        assert!(md.contains("| flat SVM | 80.0% | 0.800 |"), "{md}");
    }

    #[test]
    fn folds_are_stratified() {
        let labels: Vec<Emotion> = (0..70)
            .map(|i| Emotion::from_index(i % 7).unwrap())
            .collect();
        let f = stratified_folds(&labels, 5, 1);
        for k in 0..5 {
            for e in Emotion::ALL {
                let n = (0..70).filter(|&i| f[i] == k && labels[i] == e).count();
                assert_eq!(n, 2, "fold {k} emotion {e}");
            }
        }
    }
}
