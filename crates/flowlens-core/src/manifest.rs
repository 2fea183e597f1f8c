//! The published-models manifest (`www/models/manifest.json`, or any
//! `trainer train --out DIR`'s `DIR/manifest.json`): which models exist,
//! what each saw, how well it did, and the hash of each weight file.
//!
//! The schema version is checked before anything else is read: a manifest
//! of another version is a typed [`ManifestError::UnsupportedSchema`].
//! Weight bytes are checked against their sha256 before use
//! ([`ModelEntry::verify`]).

use serde::{Deserialize, Serialize};

use crate::models::ModelConfig;
use crate::repr::Representation;

/// The manifest schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error(
        "manifest schema version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedSchema { found: u64, supported: u32 },
    #[error("the manifest has no schema_version: not a flowlens manifest")]
    MissingSchema,
    #[error("malformed manifest: {0}")]
    Json(String),
    #[error("weight file {file} does not match the manifest: sha256 {found}, expected {expected}")]
    WeightHash {
        file: String,
        expected: String,
        found: String,
    },
    #[error("no model {0:?} in the manifest")]
    UnknownModel(String),
    #[error("model {id}: {reason}")]
    Inconsistent { id: String, reason: String },
}

/// Which kind of classifier a manifest entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Cnn,
    Lstm,
    Sae,
    Han,
    /// C4.5 decision tree (JSON export, [`crate::baselines`]).
    C45,
    /// k-nearest neighbours (reference set export, [`crate::baselines`]).
    Knn,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Cnn => "cnn",
            Architecture::Lstm => "lstm",
            Architecture::Sae => "sae",
            Architecture::Han => "han",
            Architecture::C45 => "c45",
            Architecture::Knn => "knn",
        }
    }

    pub fn is_deep(self) -> bool {
        matches!(
            self,
            Architecture::Cnn | Architecture::Lstm | Architecture::Sae | Architecture::Han
        )
    }
}

/// A whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    /// One pack per dataset (and view); the page lets the user pick one.
    pub packs: Vec<Pack>,
}

/// Models trained on one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pack {
    pub id: String,
    pub title: String,
    pub dataset: DatasetInfo,
    pub models: Vec<ModelEntry>,
}

/// Where a pack's models were trained and tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub name: String,
    /// sha256 of the captures the dataset was built from.
    pub data_hash: String,
    pub classes: Vec<String>,
    /// Flows per side of the split.
    pub flows: SplitCounts,
    /// `flow` or `capture`.
    pub split_by: String,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCounts {
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

/// One trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Unique in the manifest, e.g. `ustc-tfc2016-784b.all.cnn`.
    pub id: String,
    pub architecture: Architecture,
    /// The deep models' hyperparameters (`None` for C4.5 and k-NN, whose
    /// exports carry their own).
    pub config: Option<ModelConfig>,
    /// What the model sees; the page preprocesses flows with exactly this.
    pub representation: Representation,
    pub classes: Vec<String>,
    /// On the dataset's test side.
    pub metrics: TestMetrics,
    pub dataset_hash: String,
    /// The commit of the code that trained it.
    pub git_commit: String,
    pub weights: WeightFile,
    /// Hyperparameters of the training run (optimiser, epochs, seed, ...).
    #[serde(default)]
    pub training: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    pub accuracy: f64,
    pub macro_f1: f64,
}

/// A weight file next to the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightFile {
    /// File name, relative to the manifest.
    pub file: String,
    /// Lowercase hex sha256 of its bytes.
    pub sha256: String,
    pub bytes: u64,
}

impl Manifest {
    pub fn new(packs: Vec<Pack>) -> Self {
        Manifest {
            schema_version: SCHEMA_VERSION,
            packs,
        }
    }

    /// Parse, checking the schema version first.
    pub fn from_json(json: &str) -> Result<Manifest, ManifestError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| ManifestError::Json(e.to_string()))?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or(ManifestError::MissingSchema)?;
        if found != u64::from(SCHEMA_VERSION) {
            return Err(ManifestError::UnsupportedSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let m: Manifest =
            serde_json::from_value(value).map_err(|e| ManifestError::Json(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    pub fn to_json(&self) -> String {
        // A manifest holds only strings, numbers and plain structs.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// How to cut flows so that every model of the manifest finds the
    /// packets and bytes it reads: the largest P and B of all its models.
    pub fn flow_config(&self) -> crate::FlowConfig {
        let mut cfg = crate::FlowConfig::default();
        let shapes = || {
            self.packs
                .iter()
                .flat_map(|p| &p.models)
                .map(|e| e.representation.shape())
        };
        if let Some(p) = shapes().map(|s| s[0]).max() {
            cfg.keep_packets = p;
        }
        if let Some(b) = shapes().map(|s| s[1]).max() {
            cfg.keep_bytes = b;
        }
        cfg
    }

    /// The entry with this id and its pack.
    pub fn model(&self, id: &str) -> Result<(&Pack, &ModelEntry), ManifestError> {
        self.packs
            .iter()
            .flat_map(|p| p.models.iter().map(move |m| (p, m)))
            .find(|(_, m)| m.id == id)
            .ok_or_else(|| ManifestError::UnknownModel(id.to_string()))
    }

    fn check(&self) -> Result<(), ManifestError> {
        let mut ids = std::collections::HashSet::new();
        for m in self.packs.iter().flat_map(|p| &p.models) {
            let bad = |reason: &str| ManifestError::Inconsistent {
                id: m.id.clone(),
                reason: reason.to_string(),
            };
            if !ids.insert(m.id.as_str()) {
                return Err(bad("id used twice"));
            }
            if m.weights.file.contains('/') || m.weights.file.contains("..") {
                return Err(bad(
                    "weight file must be a plain file name next to the manifest",
                ));
            }
            if m.architecture.is_deep() {
                let cfg = m
                    .config
                    .as_ref()
                    .ok_or_else(|| bad("deep model without config"))?;
                if cfg.n_classes() != m.classes.len() {
                    return Err(bad("config n_classes differs from the class list"));
                }
                if [cfg.packets(), cfg.bytes_per_packet()] != m.representation.shape() {
                    return Err(bad("config P x B differs from the representation"));
                }
            }
        }
        Ok(())
    }
}

impl ModelEntry {
    /// Check weight bytes against the manifest before using them.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), ManifestError> {
        let found = sha256_hex(bytes);
        if found != self.weights.sha256 {
            return Err(ManifestError::WeightHash {
                file: self.weights.file.clone(),
                expected: self.weights.sha256.clone(),
                found,
            });
        }
        Ok(())
    }
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelKind;

    fn sample() -> Manifest {
        let repr = Representation::default();
        let weights = b"not really weights".to_vec();
        Manifest::new(vec![Pack {
            id: "demo".into(),
            title: "Demo".into(),
            dataset: DatasetInfo {
                name: "demo".into(),
                data_hash: "00".into(),
                classes: vec!["a".into(), "b".into()],
                flows: SplitCounts {
                    train: 8,
                    val: 1,
                    test: 1,
                },
                split_by: "flow".into(),
                seed: 42,
            },
            models: vec![ModelEntry {
                id: "demo.all.cnn".into(),
                architecture: Architecture::Cnn,
                config: Some(ModelConfig::new(ModelKind::Cnn, 2, 8, 128)),
                representation: repr,
                classes: vec!["a".into(), "b".into()],
                metrics: TestMetrics {
                    accuracy: 1.0,
                    macro_f1: 1.0,
                },
                dataset_hash: "00".into(),
                git_commit: "abc".into(),
                weights: WeightFile {
                    file: "demo.all.cnn.safetensors".into(),
                    sha256: sha256_hex(&weights),
                    bytes: 18,
                },
                training: serde_json::Value::Null,
            }],
        }])
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let back = Manifest::from_json(&m.to_json()).expect("round trip");
        assert_eq!(back, m);
        assert!(back.model("demo.all.cnn").is_ok());
        assert_eq!(
            back.model("nope").unwrap_err(),
            ManifestError::UnknownModel("nope".into())
        );
    }

    #[test]
    fn flow_config_covers_every_model() {
        let mut m = sample();
        assert_eq!(m.flow_config(), crate::FlowConfig::default());
        let mut wide = m.packs[0].models[0].clone();
        wide.id = "demo.wide.cnn".into();
        wide.representation = Representation::new(4, 300, crate::repr::View::All).unwrap();
        wide.config = Some(ModelConfig::new(ModelKind::Cnn, 2, 4, 300));
        let mut long = m.packs[0].models[0].clone();
        long.id = "demo.long.cnn".into();
        long.representation = Representation::new(20, 64, crate::repr::View::All).unwrap();
        long.config = Some(ModelConfig::new(ModelKind::Cnn, 2, 20, 64));
        m.packs[0].models.extend([wide, long]);
        let cfg = Manifest::from_json(&m.to_json()).unwrap().flow_config();
        assert_eq!((cfg.keep_packets, cfg.keep_bytes), (20, 300));
    }

    /// Found by the `manifest` fuzz target
    /// (`fuzz/regressions/manifest/`): a metric written by `to_json` read
    /// back one unit in the last place off (serde_json's default float
    /// parser is not correctly rounded), so a manifest did not survive its
    /// own round trip.
    #[test]
    fn metrics_survive_a_json_round_trip_bit_for_bit() {
        // The fuzzer's: it reads as 1.6998774756580495, which reads as ...497.
        for text in [
            "1.6998774756580494",
            "1.6998774756580495",
            "1.6998774756580497",
            "0.6868029739776952",
            "0.1",
            "2.2250738585072014e-308",
        ] {
            let mut m = sample();
            let json = m
                .to_json()
                .replace("\"macro_f1\": 1.0", &format!("\"macro_f1\": {text}"));
            m = Manifest::from_json(&json).expect("loads");
            let back = Manifest::from_json(&m.to_json()).expect("round trip");
            let bits = |m: &Manifest| m.packs[0].models[0].metrics.macro_f1.to_bits();
            assert_eq!(bits(&back), bits(&m), "{text}");
        }
    }

    #[test]
    fn unknown_schema_version_is_a_typed_error() {
        let json = sample()
            .to_json()
            .replace("\"schema_version\": 1", "\"schema_version\": 99");
        assert_eq!(
            Manifest::from_json(&json).unwrap_err(),
            ManifestError::UnsupportedSchema {
                found: 99,
                supported: SCHEMA_VERSION
            }
        );
        assert_eq!(
            Manifest::from_json("{}").unwrap_err(),
            ManifestError::MissingSchema
        );
        assert!(matches!(
            Manifest::from_json("not json").unwrap_err(),
            ManifestError::Json(_)
        ));
    }

    #[test]
    fn wrong_weight_hash_is_a_typed_error() {
        let m = sample();
        let (_, entry) = m.model("demo.all.cnn").unwrap();
        assert!(entry.verify(b"not really weights").is_ok());
        assert!(matches!(
            entry.verify(b"tampered weights!!"),
            Err(ManifestError::WeightHash { .. })
        ));
    }

    #[test]
    fn inconsistent_entries_are_refused() {
        let mut m = sample();
        m.packs[0].models[0].classes.push("c".into());
        assert!(matches!(
            Manifest::from_json(&m.to_json()),
            Err(ManifestError::Inconsistent { .. })
        ));
        let mut m = sample();
        m.packs[0].models[0].weights.file = "../../etc/passwd".into();
        assert!(matches!(
            Manifest::from_json(&m.to_json()),
            Err(ManifestError::Inconsistent { .. })
        ));
    }
}
