//! Which model, with which hyperparameters: the part of a manifest that
//! decides the architecture.

use serde::{Deserialize, Serialize};

use super::{CnnConfig, HanConfig, LstmConfig, ModelError, Result, SaeConfig};

/// The four architectures. Serialised lowercase: `"cnn"`, `"lstm"`, `"sae"`, `"han"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Cnn,
    Lstm,
    Sae,
    Han,
}

impl ModelKind {
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Cnn,
        ModelKind::Lstm,
        ModelKind::Sae,
        ModelKind::Han,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Cnn => "cnn",
            ModelKind::Lstm => "lstm",
            ModelKind::Sae => "sae",
            ModelKind::Han => "han",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ModelError::InvalidConfig {
                field: "kind",
                reason: format!("unknown model kind `{s}` (cnn, lstm, sae, han)"),
            })
    }
}

/// A model's architecture and size, tagged by kind:
/// `{"kind": "han", "n_classes": 5, "packets": 8, "bytes_per_packet": 128, ...}`.
///
/// Hyperparameters left out of the JSON take their defaults; unknown fields
/// are an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    Cnn(CnnConfig),
    Lstm(LstmConfig),
    Sae(SaeConfig),
    Han(HanConfig),
}

impl ModelConfig {
    /// The default config of `kind` for `n_classes` classes over
    /// `packets` x `bytes_per_packet` inputs.
    pub fn new(kind: ModelKind, n_classes: usize, packets: usize, bytes_per_packet: usize) -> Self {
        match kind {
            ModelKind::Cnn => {
                ModelConfig::Cnn(CnnConfig::new(n_classes, packets, bytes_per_packet))
            }
            ModelKind::Lstm => {
                ModelConfig::Lstm(LstmConfig::new(n_classes, packets, bytes_per_packet))
            }
            ModelKind::Sae => {
                ModelConfig::Sae(SaeConfig::new(n_classes, packets, bytes_per_packet))
            }
            ModelKind::Han => {
                ModelConfig::Han(HanConfig::new(n_classes, packets, bytes_per_packet))
            }
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            ModelConfig::Cnn(_) => ModelKind::Cnn,
            ModelConfig::Lstm(_) => ModelKind::Lstm,
            ModelConfig::Sae(_) => ModelKind::Sae,
            ModelConfig::Han(_) => ModelKind::Han,
        }
    }

    pub fn n_classes(&self) -> usize {
        match self {
            ModelConfig::Cnn(c) => c.n_classes,
            ModelConfig::Lstm(c) => c.n_classes,
            ModelConfig::Sae(c) => c.n_classes,
            ModelConfig::Han(c) => c.n_classes,
        }
    }

    /// P: packets per flow.
    pub fn packets(&self) -> usize {
        match self {
            ModelConfig::Cnn(c) => c.packets,
            ModelConfig::Lstm(c) => c.packets,
            ModelConfig::Sae(c) => c.packets,
            ModelConfig::Han(c) => c.packets,
        }
    }

    /// B: bytes per packet.
    pub fn bytes_per_packet(&self) -> usize {
        match self {
            ModelConfig::Cnn(c) => c.bytes_per_packet,
            ModelConfig::Lstm(c) => c.bytes_per_packet,
            ModelConfig::Sae(c) => c.bytes_per_packet,
            ModelConfig::Han(c) => c.bytes_per_packet,
        }
    }

    /// Checks every value; the models' `new` calls this too.
    pub fn validate(&self) -> Result<()> {
        match self {
            ModelConfig::Cnn(c) => c.validate(),
            ModelConfig::Lstm(c) => c.validate(),
            ModelConfig::Sae(c) => c.validate(),
            ModelConfig::Han(c) => c.validate(),
        }
    }
}

/// Checks the fields every config shares.
pub(crate) fn validate_common(
    n_classes: usize,
    packets: usize,
    bytes_per_packet: usize,
) -> Result<()> {
    positive("n_classes", n_classes)?;
    positive("packets", packets)?;
    positive("bytes_per_packet", bytes_per_packet)
}

pub(crate) fn positive(field: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(ModelError::InvalidConfig {
            field,
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}
