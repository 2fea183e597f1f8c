//! One module per fuzz target; each `run(&[u8])` is the target's body.

pub mod c45_export;
pub mod capture_flows;
pub mod key_features;
pub mod knn_export;
pub mod manifest;
pub mod share_link;
pub mod weights;

/// Checks a prediction of a model with `classes` classes: the class is
/// one of them, one probability per class, each in [0, 1] and finite,
/// summing to at most 1 (C4.5 may give less, see its docs; the deep
/// models' softmax and k-NN's votes give 1).
pub(crate) fn check_probabilities(what: &str, class: usize, probabilities: &[f32], classes: usize) {
    assert!(class < classes, "{what}: class {class} of {classes}");
    assert_eq!(
        probabilities.len(),
        classes,
        "{what}: one probability per class"
    );
    for &p in probabilities {
        assert!(
            p.is_finite() && (0.0..=1.0 + 1e-5).contains(&p),
            "{what}: probability {p} in {probabilities:?}"
        );
    }
    let sum: f32 = probabilities.iter().sum();
    assert!(sum <= 1.0 + 1e-4, "{what}: probabilities sum to {sum}");
}
