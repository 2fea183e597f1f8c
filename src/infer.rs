//! Running the models of a manifest on flows: what the worker does, without
//! the browser around it (so it runs in native tests too).
//!
//! Preprocessing is the core's, driven by each entry's representation
//! ([`flowlens_core::classifier::Classifier::predict_flows`]); nothing here
//! knows P, B or a view.

use candle_core::Device;
use flowlens_core::classifier::{argmax, softmax, Classifier, ClassifierError, Prediction};
use flowlens_core::manifest::ModelEntry;
use flowlens_core::Flow;

use crate::protocol::ModelOutput;

/// Predictions of one model for `flows`: label index and confidence each.
pub fn predict(
    clf: &Classifier,
    entry: &ModelEntry,
    flows: &[Flow],
    device: &Device,
) -> Result<(Vec<u16>, Vec<f32>), ClassifierError> {
    let refs: Vec<&Flow> = flows.iter().collect();
    let preds = clf.predict_flows(&entry.representation, &refs, device)?;
    let labels = preds
        .iter()
        .map(|p| u16::try_from(p.class).unwrap_or(u16::MAX))
        .collect();
    let confidences = preds.iter().map(Prediction::confidence).collect();
    Ok((labels, confidences))
}

/// Everything one model says about one flow: logits (deep models; the
/// class probabilities for C4.5 and k-NN), probabilities and label.
pub fn explain_one(
    clf: &Classifier,
    entry: &ModelEntry,
    flow: &Flow,
    device: &Device,
) -> Result<ModelOutput, ClassifierError> {
    let repr = &entry.representation;
    let (logits, probabilities, label) = match clf {
        Classifier::Deep(_) => {
            let x = repr.encode(flow);
            let logits = clf
                .logits_matrix(&x, 1, repr, device)?
                .into_iter()
                .next()
                .unwrap_or_default();
            let probabilities = softmax(&logits);
            let label = argmax(&probabilities);
            (logits, probabilities, label)
        }
        _ => {
            let p = clf.predict_features(&repr.key_features(flow));
            (p.probabilities.clone(), p.probabilities, p.class)
        }
    };
    Ok(ModelOutput {
        id: entry.id.clone(),
        label: u16::try_from(label).unwrap_or(u16::MAX),
        probabilities,
        logits,
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowlens_core::manifest::Manifest;
    use flowlens_core::Analyzer;

    fn models_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models")
    }

    #[test]
    fn every_model_of_the_published_manifest_classifies_real_flows() {
        let dir = models_dir();
        let Ok(json) = std::fs::read_to_string(dir.join("manifest.json")) else {
            println!("skipped: www/models/manifest.json is not there (weights not published yet)");
            return;
        };
        let manifest = Manifest::from_json(&json).expect("published manifest parses");
        let capture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/browser/dns-wiresharkrepo.pcap"
        ))
        .expect("fixture");
        let analysis = Analyzer::analyze(&capture, manifest.flow_config());
        assert!(analysis.flows.len() > 1);
        let device = Device::Cpu;
        let pack = &manifest.packs[0];
        for entry in &pack.models {
            let bytes = std::fs::read(dir.join(&entry.weights.file)).expect("weight file");
            let clf = Classifier::load(entry, &bytes, &device).expect("loads");
            let (labels, conf) = predict(&clf, entry, &analysis.flows, &device).expect("predicts");
            assert_eq!(labels.len(), analysis.flows.len());
            for (l, c) in labels.iter().zip(&conf) {
                assert!(
                    (*l as usize) < entry.classes.len(),
                    "{}: label {l}",
                    entry.id
                );
                assert!(
                    (0.0..=1.0 + 1e-5).contains(c),
                    "{}: confidence {c}",
                    entry.id
                );
            }
            // One flow explained gives the same label as the batch.
            let one = explain_one(&clf, entry, &analysis.flows[0], &device).expect("explains");
            assert_eq!(one.label, labels[0], "{}", entry.id);
            assert_eq!(one.probabilities.len(), entry.classes.len());
        }
    }
}
