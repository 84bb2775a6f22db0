//! Evaluation figures: accuracy, per-class precision/recall/F1, the confusion matrix and
//! expected calibration error, printable as a table and serialisable as JSON. The
//! class scores come from [`moodtune_core::metrics`], as the lyrics evaluation's do.

use moodtune_core::metrics::{self, MacroAverage};
use moodtune_core::Emotion;
use serde::Serialize;

const K: usize = Emotion::COUNT;

#[derive(Debug, Clone, Serialize)]
pub struct ClassFigures {
    pub emotion: Emotion,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub samples: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Expected calibration error over 15 equal-width confidence bins.
    pub ece: f64,
    pub per_class: Vec<ClassFigures>,
    /// `confusion[true][predicted]` counts.
    pub confusion: [[usize; K]; K],
}

pub fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

impl Evaluation {
    pub fn new(labels: &[Emotion], probs: &[[f32; K]]) -> Evaluation {
        assert_eq!(labels.len(), probs.len());
        let mut confusion = [[0usize; K]; K];
        let bins = 15;
        let (mut bin_n, mut bin_conf, mut bin_acc) =
            (vec![0usize; bins], vec![0f64; bins], vec![0f64; bins]);
        for (l, p) in labels.iter().zip(probs) {
            let pred = argmax(p);
            confusion[l.index()][pred] += 1;
            let conf = p[pred] as f64;
            let b = ((conf * bins as f64) as usize).min(bins - 1);
            bin_n[b] += 1;
            bin_conf[b] += conf;
            bin_acc[b] += (pred == l.index()) as u8 as f64;
        }
        let n = labels.len();
        let ece = (0..bins)
            .filter(|&b| bin_n[b] > 0)
            .map(|b| (bin_acc[b] - bin_conf[b]).abs() / n as f64)
            .sum();
        let scores = metrics::per_class(&confusion);
        let per_class: Vec<ClassFigures> = Emotion::ALL
            .iter()
            .zip(scores)
            .map(|(&emotion, s)| ClassFigures {
                emotion,
                support: s.support,
                precision: s.precision,
                recall: s.recall,
                f1: s.f1,
            })
            .collect();
        Evaluation {
            samples: n,
            accuracy: metrics::accuracy(&confusion),
            macro_f1: metrics::macro_f1(&confusion, MacroAverage::AllClasses),
            ece,
            per_class,
            confusion,
        }
    }

    /// Row-normalised confusion matrix (each true class sums to 1).
    pub fn normalized_confusion(&self) -> [[f64; K]; K] {
        let mut out = [[0.0; K]; K];
        for (r, row) in self.confusion.iter().enumerate() {
            let s: usize = row.iter().sum();
            for c in 0..K {
                out[r][c] = if s > 0 { row[c] as f64 / s as f64 } else { 0.0 };
            }
        }
        out
    }

    pub fn table(&self) -> String {
        let mut s = format!(
            "samples {}  accuracy {:.2}%  macro-F1 {:.3}  ECE {:.3}\n\n{:<9} {:>7} {:>9} {:>7} {:>6}\n",
            self.samples,
            self.accuracy * 100.0,
            self.macro_f1,
            self.ece,
            "class",
            "support",
            "precision",
            "recall",
            "F1"
        );
        for c in &self.per_class {
            s += &format!(
                "{:<9} {:>7} {:>9.3} {:>7.3} {:>6.3}\n",
                c.emotion.name(),
                c.support,
                c.precision,
                c.recall,
                c.f1
            );
        }
        s += "\nconfusion (rows true, columns predicted)\n          ";
        for e in Emotion::ALL {
            s += &format!("{:>7}", &e.name()[..e.name().len().min(6)]);
        }
        s.push('\n');
        for e in Emotion::ALL {
            s += &format!("{:<9} ", e.name());
            for v in self.confusion[e.index()] {
                s += &format!("{v:>7}");
            }
            s.push('\n');
        }
        s
    }
}

/// Probabilities from per-view logits at temperature `t`: softmax of each view, averaged.
pub fn views_to_probs(views: &[Vec<f32>], t: f32) -> [f32; K] {
    let mut out = [0.0; K];
    for v in views {
        let scaled: Vec<f32> = v.iter().map(|x| x / t).collect();
        for (o, p) in out.iter_mut().zip(crate::nn::softmax(&scaled)) {
            *o += p / views.len() as f32;
        }
    }
    out
}

/// Mean negative log-likelihood of the true labels.
pub fn nll(labels: &[Emotion], probs: &[[f32; K]]) -> f64 {
    let s: f64 = labels
        .iter()
        .zip(probs)
        .map(|(l, p)| -(p[l.index()].max(1e-12) as f64).ln())
        .sum();
    s / labels.len().max(1) as f64
}

/// Temperature scaling: the T in [0.5, 4] minimising the NLL of `views` (per-sample
/// per-view logits), by a grid then a finer grid around the best point.
pub fn fit_temperature(labels: &[Emotion], views: &[Vec<Vec<f32>>]) -> f32 {
    let loss = |t: f32| {
        nll(
            labels,
            &views
                .iter()
                .map(|v| views_to_probs(v, t))
                .collect::<Vec<_>>(),
        )
    };
    let best = |ts: &mut dyn Iterator<Item = f32>| {
        ts.map(|t| (t, loss(t)))
            .fold((1.0, f64::INFINITY), |b, x| if x.1 < b.1 { x } else { b })
            .0
    };
    let coarse = best(&mut (0..=35).map(|i| 0.5 + i as f32 * 0.1));
    best(&mut (-10..=10).map(|i| (coarse + i as f32 * 0.01).clamp(0.5, 4.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onehot(i: usize, conf: f32) -> [f32; K] {
        let mut p = [(1.0 - conf) / 6.0; K];
        p[i] = conf;
        p
    }

    #[test]
    fn hand_computed_figures() {
        use Emotion::*;
        // Happy x3 (2 right, 1 called Sad), Sad x1 right.
        let labels = [Happy, Happy, Happy, Sad];
        let probs = [
            onehot(3, 0.9),
            onehot(3, 0.9),
            onehot(4, 0.9),
            onehot(4, 0.9),
        ];
        let e = Evaluation::new(&labels, &probs);
        assert_eq!(e.accuracy, 0.75);
        assert_eq!(e.confusion[3][3], 2);
        assert_eq!(e.confusion[3][4], 1);
        let happy = &e.per_class[3];
        assert_eq!((happy.support, happy.precision), (3, 1.0));
        assert!((happy.recall - 2.0 / 3.0).abs() < 1e-12);
        let sad = &e.per_class[4];
        assert_eq!((sad.precision, sad.recall), (0.5, 1.0));
        // All predictions at confidence 0.9 with accuracy 0.75: ECE = 0.15.
        assert!((e.ece - 0.15).abs() < 1e-6, "{}", e.ece);
        assert!((e.normalized_confusion()[3][4] - 1.0 / 3.0).abs() < 1e-12);
        assert!(e.table().contains("accuracy 75.00%"));
    }

    #[test]
    fn temperature_undoes_overconfidence() {
        use Emotion::*;
        // Logits 10x too sharp: 70% right at confidence ~1. Rescaled by 10, the
        // right answer would have probability e^1/(e^1+6) ~ 0.31 ... the fit must pick T > 1.
        let mut labels = vec![];
        let mut views = vec![];
        for i in 0..100 {
            let mut l = vec![0.0f32; 7];
            l[3] = 10.0;
            views.push(vec![l]);
            labels.push(if i % 10 < 7 { Happy } else { Sad });
        }
        let t = fit_temperature(&labels, &views);
        assert!(t > 2.0, "{t}");
        let before = Evaluation::new(
            &labels,
            &views
                .iter()
                .map(|v| views_to_probs(v, 1.0))
                .collect::<Vec<_>>(),
        );
        let after = Evaluation::new(
            &labels,
            &views
                .iter()
                .map(|v| views_to_probs(v, t))
                .collect::<Vec<_>>(),
        );
        assert!(
            after.ece < before.ece / 2.0,
            "{} vs {}",
            after.ece,
            before.ece
        );
        assert!(
            nll(
                &labels,
                &views
                    .iter()
                    .map(|v| views_to_probs(v, t))
                    .collect::<Vec<_>>()
            ) < nll(
                &labels,
                &views
                    .iter()
                    .map(|v| views_to_probs(v, 1.0))
                    .collect::<Vec<_>>()
            )
        );
    }
}
