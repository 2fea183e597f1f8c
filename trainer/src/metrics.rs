//! Classification metrics: accuracy, macro-F1, per-class precision, recall
//! and F1, and the confusion matrix.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Flows of this class in the evaluated set.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 over classes present in the
    /// evaluated set (support > 0).
    pub macro_f1: f64,
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// `confusion[true][predicted]`, classes in the dataset's order.
    pub confusion: Vec<Vec<usize>>,
}

impl Metrics {
    /// `truth` and `pred` are class indices into `classes`.
    pub fn compute(classes: &[String], truth: &[u32], pred: &[u32]) -> Metrics {
        let k = classes.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (&t, &p) in truth.iter().zip(pred) {
            if (t as usize) < k && (p as usize) < k {
                confusion[t as usize][p as usize] += 1;
            }
        }
        let n = truth.len();
        let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
        let mut per_class = BTreeMap::new();
        let mut f1_sum = 0.0;
        let mut present = 0;
        for c in 0..k {
            let tp = confusion[c][c] as f64;
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = (0..k).map(|r| confusion[r][c]).sum();
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
            if support > 0 {
                f1_sum += f1;
                present += 1;
            }
            per_class.insert(
                classes[c].clone(),
                ClassMetrics {
                    precision,
                    recall,
                    f1,
                    support,
                },
            );
        }
        Metrics {
            accuracy: if n > 0 {
                correct as f64 / n as f64
            } else {
                0.0
            },
            macro_f1: if present > 0 {
                f1_sum / present as f64
            } else {
                0.0
            },
            per_class,
            confusion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn perfect_prediction() {
        let m = Metrics::compute(&names(3), &[0, 1, 2, 2], &[0, 1, 2, 2]);
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(m.macro_f1, 1.0);
        assert_eq!(
            m.confusion,
            vec![vec![1, 0, 0], vec![0, 1, 0], vec![0, 0, 2]]
        );
    }

    #[test]
    fn hand_computed_example() {
        // truth: 0 0 0 1 1 2 ; pred: 0 0 1 1 2 2
        let m = Metrics::compute(&names(3), &[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2]);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // class 0: p=1, r=2/3, f1=0.8; class 1: p=1/2, r=1/2, f1=1/2; class 2: p=1/2, r=1, f1=2/3
        let c0 = &m.per_class["c0"];
        assert!((c0.precision - 1.0).abs() < 1e-12 && (c0.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.per_class["c1"].f1 - 0.5).abs() < 1e-12);
        assert!((m.per_class["c2"].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(m.confusion[0], vec![2, 1, 0]);
    }

    #[test]
    fn absent_class_is_not_averaged() {
        let m = Metrics::compute(&names(3), &[0, 1], &[0, 1]);
        assert_eq!(m.macro_f1, 1.0);
        assert_eq!(m.per_class["c2"].support, 0);
    }
}
