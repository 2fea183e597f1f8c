//! Classic baselines: C4.5 and k-NN (k = 3), the two classifiers that
//! Lee, Lee & Kim (SIGCOMM'20, Table 4) compare the deep models with on
//! "well-known key features".
//!
//! This module holds inference and the exported model formats only; fitting
//! lives in the trainer (`trainer/src/baselines/`). Both models take one flow's
//! features as `&[f32]` (the view decides which features, in which order) and
//! never panic on input: a value that is missing (shorter row, NaN, a nominal
//! code out of range) is handled as documented on each model.
//!
//! - [`c45`]: a C4.5 tree as Weka's J48 builds it; JSON export
//!   ([`c45::C45Document`]), prediction, the decision path, Weka's text form.
//! - [`knn`]: k nearest neighbours over z-scored features; a compact binary
//!   export in the safetensors layout ([`knn::KnnModel::to_bytes`]).

pub mod c45;
pub mod knn;

pub use c45::{decimal_f64, C45Document, C45Error, C45Model, PathStep, Went};
pub use knn::{KnnError, KnnModel, Neighbour};

/// Weka's tolerance for comparing doubles (`weka.core.Utils.SMALL`).
const SMALL: f64 = 1e-6;

/// Weka's `Utils.gr`: `a` is greater than `b` by more than [`SMALL`].
fn gr(a: f64, b: f64) -> bool {
    a - b > SMALL
}

/// Index of the largest value; the first one wins unless a later one is larger
/// by more than [`SMALL`] (Weka's `ClassifierTree.classifyInstance`).
/// Empty input gives 0.
fn argmax_first(values: &[f64]) -> usize {
    let mut best = 0;
    let mut best_value = -1.0;
    for (i, &v) in values.iter().enumerate() {
        if gr(v, best_value) {
            best = i;
            best_value = v;
        }
    }
    best
}
