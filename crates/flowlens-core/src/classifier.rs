//! Any model of a manifest, loaded from its weight bytes and run on flows:
//! the one path the browser worker and `trainer classify` share.
//!
//! ```text
//! ModelEntry + weight bytes --verify sha256--> Classifier
//! flows --entry.representation--> [N, P, B] bytes / [N, F] key features
//!   --> Classifier::predict --> Prediction { class, probabilities }
//! ```

use candle_core::Device;

use crate::baselines::{C45Error, C45Model, KnnError, KnnModel};
use crate::flows::Flow;
use crate::manifest::{Architecture, ManifestError, ModelEntry};
use crate::models::{Model, ModelError, ModelInput};
use crate::repr::Representation;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifierError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("model weights: {0}")]
    Model(#[from] ModelError),
    #[error("C4.5 export: {0}")]
    C45(#[from] C45Error),
    #[error("k-NN export: {0}")]
    Knn(#[from] KnnError),
    #[error(
        "model {id}: the export knows {found} classes / features, the manifest says {expected}"
    )]
    Mismatch {
        id: String,
        found: usize,
        expected: usize,
    },
}

/// Index of the largest value, the first of equals (0 when empty): how every
/// caller turns scores into a class.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if values.get(best).is_some_and(|&b| v > b) {
            best = i;
        }
    }
    best
}

/// Flows per forward pass, as the browser worker and the benchmarks run
/// them: large batches for the convolutional and dense models and the
/// baselines; smaller ones for the recurrent models, whose per-byte states
/// (`[batch * P, B, hidden]`) would otherwise add tens of MiB to the
/// worker's memory, which never shrinks.
pub fn batch_flows(architecture: Architecture) -> usize {
    match architecture {
        Architecture::Lstm | Architecture::Han => 64,
        _ => 256,
    }
}

/// A loaded classifier of any architecture.
#[derive(Debug, Clone)]
pub enum Classifier {
    Deep(Model),
    C45(C45Model),
    Knn(KnnModel),
}

/// One flow's prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prediction {
    /// Index into the model's classes.
    pub class: usize,
    /// Probability per class (softmax for deep models, leaf distribution
    /// for C4.5, vote share for k-NN).
    pub probabilities: Vec<f32>,
}

impl Prediction {
    fn from_probabilities(probabilities: Vec<f32>) -> Prediction {
        Prediction {
            class: argmax(&probabilities),
            probabilities,
        }
    }

    pub fn confidence(&self) -> f32 {
        self.probabilities.get(self.class).copied().unwrap_or(0.0)
    }
}

impl Classifier {
    /// Check `bytes` against the entry's sha256, then load them.
    pub fn load(
        entry: &ModelEntry,
        bytes: &[u8],
        device: &Device,
    ) -> Result<Classifier, ClassifierError> {
        entry.verify(bytes)?;
        let mismatch = |found: usize, expected: usize| ClassifierError::Mismatch {
            id: entry.id.clone(),
            found,
            expected,
        };
        // A baseline export must know the manifest's classes and features.
        let check = |classes: usize, features: usize| {
            let expected_features = entry.representation.key_feature_names().len();
            if classes != entry.classes.len() {
                Err(mismatch(classes, entry.classes.len()))
            } else if features != expected_features {
                Err(mismatch(features, expected_features))
            } else {
                Ok(())
            }
        };
        let c = match entry.architecture {
            Architecture::C45 => {
                let m = C45Model::from_slice(bytes)?;
                check(m.classes().len(), m.n_features())?;
                Classifier::C45(m)
            }
            Architecture::Knn => {
                let m = KnnModel::from_bytes(bytes)?;
                check(m.classes().len(), m.n_features())?;
                Classifier::Knn(m)
            }
            _ => {
                let cfg = entry
                    .config
                    .as_ref()
                    .ok_or_else(|| ManifestError::Inconsistent {
                        id: entry.id.clone(),
                        reason: "deep model without config".into(),
                    })?;
                Classifier::Deep(Model::from_safetensors(cfg, bytes, device)?)
            }
        };
        Ok(c)
    }

    /// Predict flows, preprocessing them with `repr` (the entry's).
    pub fn predict_flows(
        &self,
        repr: &Representation,
        flows: &[&Flow],
        device: &Device,
    ) -> Result<Vec<Prediction>, ClassifierError> {
        match self {
            Classifier::Deep(_) => {
                let x = repr.encode_batch(flows);
                self.predict_matrix(&x, flows.len(), repr, device)
            }
            _ => Ok(flows
                .iter()
                .map(|f| self.predict_features(&repr.key_features(f)))
                .collect()),
        }
    }

    /// Deep models: logits of `[n, P, B]` bytes already encoded.
    ///
    /// # Shapes
    /// - `x`: `n * P * B` bytes; returns `[n, classes]` logits as rows
    pub fn logits_matrix(
        &self,
        x: &[u8],
        n: usize,
        repr: &Representation,
        device: &Device,
    ) -> Result<Vec<Vec<f32>>, ClassifierError> {
        let Classifier::Deep(model) = self else {
            return Ok(Vec::new());
        };
        let [p, b] = repr.shape();
        let input = ModelInput::from_bytes(x, n, p, b, device)?;
        let logits = model.logits(&input).map_err(ClassifierError::Model)?;
        Ok(logits.to_vec2::<f32>().map_err(ModelError::from)?)
    }

    /// Predictions for `[n, P, B]` bytes already encoded (deep models).
    pub fn predict_matrix(
        &self,
        x: &[u8],
        n: usize,
        repr: &Representation,
        device: &Device,
    ) -> Result<Vec<Prediction>, ClassifierError> {
        Ok(self
            .logits_matrix(x, n, repr, device)?
            .into_iter()
            .map(|l| Prediction::from_probabilities(softmax(&l)))
            .collect())
    }

    /// Baselines: prediction for one key-feature row.
    pub fn predict_features(&self, features: &[f32]) -> Prediction {
        let (class, probabilities) = match self {
            Classifier::C45(m) => m.predict(features),
            Classifier::Knn(m) => m.predict(features),
            Classifier::Deep(_) => (0, Vec::new()),
        };
        Prediction {
            class,
            probabilities,
        }
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter()
        .map(|e| if sum > 0.0 { e / sum } else { 0.0 })
        .collect()
}
