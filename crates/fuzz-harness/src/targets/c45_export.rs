//! The C4.5 export loader (`*.c45.json`, the tree the page fetches).
//!
//! The input is the file. Properties of a tree [`C45Model::from_slice`]
//! accepts:
//! - its document writes back to JSON that loads to an equal document;
//! - on rows made of real flows' key features, of its own thresholds (at,
//!   just above, just below), NaN, infinities, short and long rows: one
//!   finite probability in [0, 1] per class summing to at most 1, a class
//!   among them ([`super::check_probabilities`]);
//! - the decision path tests features the tree has, goes the way its
//!   thresholds say, stops only at a leaf or a missing value, and is no
//!   longer than the tree has nodes; `explain_c45` maps it to header bytes;
//! - loading it as the published C4.5 entry ([`Classifier::load`], with the
//!   input's sha256) succeeds exactly when its classes and features agree
//!   with the entry, else it is [`ClassifierError::Mismatch`].

use candle_core::Device;
use flowlens_core::baselines::{decimal_f64, C45Model, Went};
use flowlens_core::classifier::{Classifier, ClassifierError};
use flowlens_core::explain::explain_c45;
use flowlens_core::manifest::{sha256_hex, Architecture};
use flowlens_core::repr::{Representation, View};

use crate::fixtures;

/// Trees up to this many nodes are also written in Weka's text form
/// (its length is quadratic in the depth; only the trainer prints it).
const MAX_NODES_SHOWN: usize = 256;

pub fn run(data: &[u8]) {
    let m = match C45Model::from_slice(data) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    check_model(&m);
    if let Some(published) = fixtures::published() {
        let mut entry = published.model(Architecture::C45).entry.clone();
        entry.weights.sha256 = sha256_hex(data);
        let fits = m.classes().len() == entry.classes.len()
            && m.n_features() == entry.representation.key_feature_names().len();
        match Classifier::load(&entry, data, &Device::Cpu) {
            Ok(_) => assert!(fits, "a tree of another shape loads as the entry"),
            Err(ClassifierError::Mismatch { .. }) => assert!(!fits),
            Err(e) => panic!("a tree that loads fails as a classifier: {e}"),
        }
    }
}

/// The properties of a loaded tree (see the module docs).
pub fn check_model(m: &C45Model) {
    let classes = m.classes().len();
    let n = m.n_features();
    let doc = serde_json::to_string(m.document()).expect("a document serialises");
    let back = C45Model::from_json(&doc).expect("a loaded tree's JSON loads");
    assert_eq!(back.document(), m.document(), "C4.5 JSON round trip");

    let repr = Representation::new(8, 128, View::Key).expect("the published shape");
    let flow = &fixtures::flows()[0];
    let field_ids = repr.field_ids(flow);
    for row in rows(m) {
        let (class, probabilities) = m.predict(&row);
        super::check_probabilities("C4.5", class, &probabilities, classes);
        let path = m.decision_path(&row);
        assert!(path.len() <= m.num_nodes());
        for (i, step) in path.iter().enumerate() {
            assert!(
                step.feature < n,
                "path tests feature {} of {n}",
                step.feature
            );
            let v = row.get(step.feature).copied();
            match &step.went {
                Went::Le { threshold } | Went::Gt { threshold } => {
                    // Weka's `smOrEq` on the decimal values (see `c45`).
                    let v = decimal_f64(v.expect("a value was seen"));
                    let t = decimal_f64(*threshold);
                    let le = v - t < 1e-6 || v <= t;
                    assert_eq!(le, matches!(step.went, Went::Le { .. }), "{v} vs {t}");
                }
                Went::Eq { .. } => {
                    let v = v.expect("a value was seen");
                    assert!(v >= 0.0 && v.fract() == 0.0);
                }
                Went::Missing => assert_eq!(i + 1, path.len(), "the path stops at a missing value"),
            }
        }
        let explained =
            explain_c45(m, &repr, &row, &field_ids).expect("field ids have the repr's shape");
        assert_eq!(explained.path.len(), path.len());
        assert_eq!(explained.class, class);
    }
    if m.num_nodes() <= MAX_NODES_SHOWN {
        let text = m.to_string();
        assert!(text.contains("Number of Leaves"));
    }
}

/// Query rows for a tree: real flows' key features (as long as the tree
/// expects), its thresholds and their neighbours, edge values.
pub fn rows(m: &C45Model) -> Vec<Vec<f32>> {
    let n = m.n_features();
    let repr = Representation::new(8, 128, View::Key).expect("the published shape");
    let mut rows: Vec<Vec<f32>> = fixtures::flows()
        .iter()
        .step_by(7)
        .take(4)
        .map(|f| {
            let mut r = repr.key_features(f);
            r.resize(n, 0.0);
            r
        })
        .collect();
    let thresholds: Vec<f32> = m
        .document()
        .nodes
        .iter()
        .filter_map(|node| match node {
            flowlens_core::baselines::c45::Node::Numeric { threshold, .. } => Some(*threshold),
            _ => None,
        })
        .take(4)
        .collect();
    for t in thresholds {
        for v in [t, t + 1e-6, t + 2e-6, t - 1e-6, t.next_up(), t.next_down()] {
            rows.push(vec![v; n]);
        }
    }
    for v in [
        0.0,
        -1.0,
        1.0,
        2.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        1e-30,
    ] {
        rows.push(vec![v; n]);
    }
    rows.push(Vec::new());
    rows.push(vec![3.0; n + 3]);
    rows
}
