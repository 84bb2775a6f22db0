//! Evaluation figures: accuracy, per-class precision/recall/F1, the confusion matrix and
//! expected calibration error, printable as a table and serialisable as JSON.

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
        let correct: usize = (0..K).map(|i| confusion[i][i]).sum();
        let per_class: Vec<ClassFigures> = Emotion::ALL
            .iter()
            .map(|&e| {
                let i = e.index();
                let tp = confusion[i][i] as f64;
                let support: usize = confusion[i].iter().sum();
                let predicted: usize = (0..K).map(|r| confusion[r][i]).sum();
                let precision = if predicted > 0 {
                    tp / predicted as f64
                } else {
                    0.0
                };
                let recall = if support > 0 {
                    tp / support as f64
                } else {
                    0.0
                };
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassFigures {
                    emotion: e,
                    support,
                    precision,
                    recall,
                    f1,
                }
            })
            .collect();
        Evaluation {
            samples: n,
            accuracy: if n > 0 {
                correct as f64 / n as f64
            } else {
                0.0
            },
            macro_f1: per_class.iter().map(|c| c.f1).sum::<f64>() / K as f64,
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
}
