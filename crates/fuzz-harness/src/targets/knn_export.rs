//! The k-NN export loader (`*.knn.bin`, the safetensors-layout reference
//! set the page fetches).
//!
//! The input is the file. Properties of a model [`KnnModel::from_bytes`]
//! accepts:
//! - it writes back ([`KnnModel::to_bytes`]) to bytes that load to an
//!   equal model;
//! - on rows made of real flows' key features, its own reference rows,
//!   NaN, infinities, short and long rows: the vote shares are one per
//!   class, in [0, 1], summing to 1, and the class has the most votes;
//! - `neighbours(x, k)` gives `min(k, rows)` distinct rows, nearest first,
//!   distances never NaN, labels among the classes; `explain_knn` gives
//!   each neighbour's features in full;
//! - loading it as the published k-NN entry ([`Classifier::load`], with the
//!   input's sha256) succeeds exactly when its classes and features agree
//!   with the entry, else it is [`ClassifierError::Mismatch`].
//!
//! Allocation is bounded by the input: a tensor's shape must match its
//! byte range inside the file before anything is read.

use candle_core::Device;
use flowlens_core::baselines::KnnModel;
use flowlens_core::classifier::{Classifier, ClassifierError};
use flowlens_core::explain::explain_knn;
use flowlens_core::manifest::{sha256_hex, Architecture};
use flowlens_core::repr::{Representation, View};

use crate::fixtures;

pub fn run(data: &[u8]) {
    let m = match KnnModel::from_bytes(data) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    check_model(&m);
    if let Some(published) = fixtures::published() {
        let mut entry = published.model(Architecture::Knn).entry.clone();
        entry.weights.sha256 = sha256_hex(data);
        let fits = m.classes().len() == entry.classes.len()
            && m.n_features() == entry.representation.key_feature_names().len();
        match Classifier::load(&entry, data, &Device::Cpu) {
            Ok(_) => assert!(fits, "a k-NN model of another shape loads as the entry"),
            Err(ClassifierError::Mismatch { .. }) => assert!(!fits),
            Err(e) => panic!("a k-NN model that loads fails as a classifier: {e}"),
        }
    }
}

/// The properties of a loaded model (see the module docs).
pub fn check_model(m: &KnnModel) {
    let back = KnnModel::from_bytes(&m.to_bytes()).expect("a loaded model's bytes load");
    assert_eq!(&back, m, "k-NN byte round trip");
    let classes = m.classes().len();
    for row in rows(m) {
        let (class, votes) = m.predict(&row);
        super::check_probabilities("k-NN", class, &votes, classes);
        let sum: f32 = votes.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "votes sum to {sum}");
        let most = votes.iter().copied().fold(0.0, f32::max);
        assert_eq!(votes[class], most, "the class has the most votes");
        for k in [1, m.k(), m.len() + 1] {
            let near = m.neighbours(&row, k);
            assert_eq!(near.len(), k.min(m.len()));
            let mut seen = std::collections::BTreeSet::new();
            for (i, n) in near.iter().enumerate() {
                assert!(!n.distance.is_nan() && n.distance >= 0.0);
                assert!(n.label < classes && n.index < m.len());
                assert!(seen.insert(n.index), "row {} twice", n.index);
                if let Some(prev) = i.checked_sub(1).map(|j| near[j].distance) {
                    assert!(prev <= n.distance, "neighbours not sorted");
                }
            }
        }
        for v in explain_knn(m, &row, 3) {
            assert_eq!(v.features.len(), m.n_features());
            assert_eq!(v.class, m.classes()[v.label]);
        }
    }
}

/// Query rows: real flows' key features (as long as the model expects),
/// a few reference rows back in raw units, edge values.
fn rows(m: &KnnModel) -> Vec<Vec<f32>> {
    let d = m.n_features();
    let repr = Representation::new(8, 128, View::Key).expect("the published shape");
    let mut rows: Vec<Vec<f32>> = fixtures::flows()
        .iter()
        .step_by(7)
        .take(3)
        .map(|f| {
            let mut r = repr.key_features(f);
            r.resize(d, 0.0);
            r
        })
        .collect();
    for i in [0, m.len() / 2, m.len() - 1] {
        if let Some(z) = m.reference_row(i) {
            rows.push(
                z.iter()
                    .zip(m.mean().iter().zip(m.std()))
                    .map(|(&z, (&mean, &s))| z * s + mean)
                    .collect(),
            );
        }
    }
    for v in [
        0.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        -f32::MAX,
    ] {
        rows.push(vec![v; d]);
    }
    rows.push(Vec::new());
    rows.push(vec![1.0; d + 2]);
    rows
}
