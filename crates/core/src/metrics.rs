//! Classification scores from a confusion matrix: per-class precision, recall and F1,
//! macro-F1 and accuracy. The face model's evaluation and the lyrics classifier's
//! cross-validation score their predictions with these, so the two report alike.
//!
//! A matrix is `confusion[true][predicted]` counts over `K` classes.

/// Scores of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    /// How many examples truly are of this class.
    pub support: usize,
    /// Of the examples predicted as this class, the share that are (0 when none were).
    pub precision: f64,
    /// Of the examples of this class, the share predicted as it (0 when there are none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are).
    pub f1: f64,
}

/// Which classes macro-F1 averages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroAverage {
    /// Every class, so a class never seen nor predicted counts as an F1 of 0.
    AllClasses,
    /// Only classes with support: an evaluation set that lacks a class is not
    /// penalised for it.
    ClassesInTruth,
}

/// Scores of class `class` (a row and column index of `confusion`).
pub fn class_scores<const K: usize>(confusion: &[[usize; K]; K], class: usize) -> ClassScores {
    let tp = confusion[class][class] as f64;
    let support: usize = confusion[class].iter().sum();
    let predicted: usize = confusion.iter().map(|row| row[class]).sum();
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
    ClassScores {
        support,
        precision,
        recall,
        f1,
    }
}

/// [`class_scores`] of every class, in index order.
pub fn per_class<const K: usize>(confusion: &[[usize; K]; K]) -> [ClassScores; K] {
    std::array::from_fn(|i| class_scores(confusion, i))
}

/// Mean F1 over the classes `over` names; 0 when there are none.
pub fn macro_f1<const K: usize>(confusion: &[[usize; K]; K], over: MacroAverage) -> f64 {
    let scores = per_class(confusion);
    let counted: Vec<f64> = scores
        .iter()
        .filter(|s| over == MacroAverage::AllClasses || s.support > 0)
        .map(|s| s.f1)
        .collect();
    if counted.is_empty() {
        0.0
    } else {
        counted.iter().sum::<f64>() / counted.len() as f64
    }
}

/// Share of examples on the diagonal; 0 for an empty matrix.
pub fn accuracy<const K: usize>(confusion: &[[usize; K]; K]) -> f64 {
    let total: usize = confusion.iter().flatten().sum();
    let correct: usize = (0..K).map(|i| confusion[i][i]).sum();
    if total > 0 {
        correct as f64 / total as f64
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_known_confusion() {
        // Class 0: 3 right, 1 taken for class 1; class 1: 2 right; class 2 never occurs
        // but is predicted once for a class-1 example.
        let m = [[3, 1, 0], [0, 2, 1], [0, 0, 0]];
        let s = per_class(&m);
        assert_eq!(s[0].support, 4);
        assert_eq!((s[0].precision, s[0].recall), (1.0, 0.75));
        assert!((s[0].f1 - 6.0 / 7.0).abs() < 1e-12);
        assert!((s[1].precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((s[1].recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((s[2].support, s[2].f1), (0, 0.0));
        assert!((accuracy(&m) - 5.0 / 7.0).abs() < 1e-12);
        let both = 6.0 / 7.0 + 2.0 / 3.0;
        assert!((macro_f1(&m, MacroAverage::AllClasses) - both / 3.0).abs() < 1e-12);
        assert!((macro_f1(&m, MacroAverage::ClassesInTruth) - both / 2.0).abs() < 1e-12);
    }

    #[test]
    fn an_empty_matrix_scores_zero() {
        let m = [[0usize; 4]; 4];
        assert_eq!(accuracy(&m), 0.0);
        assert_eq!(macro_f1(&m, MacroAverage::AllClasses), 0.0);
        assert_eq!(macro_f1(&m, MacroAverage::ClassesInTruth), 0.0);
    }
}
