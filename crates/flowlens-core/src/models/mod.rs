//! The four deep models of the paper (CNN, LSTM, SAE, HAN), defined once for
//! the browser and the trainer.
//!
//! Every model reads the representation matrix `[batch, P, B]` of bytes (P
//! packets per flow, B bytes per packet, addresses already zeroed by
//! [`crate::repr`]) through a [`ModelInput`], and returns logits
//! `[batch, n_classes]`. HAN also returns its two attention levels.
//!
//! ```text
//! &[u8] (batch * P * B) -> ModelInput -> Model::forward -> ModelOutput { logits, attention }
//!   CNN, LSTM, SAE read ModelInput::scaled()  f32 [batch, P, B] in [0, 1]
//!   HAN            reads ModelInput::ids()     u32 [batch, P, B] in 0..=255
//! ```
//!
//! What lives here: architectures ([`Cnn`], [`Lstm`], [`Sae`], [`Han`]), their
//! serde configs ([`ModelConfig`]), weight loading ([`Model::from_safetensors`])
//! and in-memory weight export ([`serialize_varmap`]). What does not: losses,
//! optimisers, training loops (the trainer owns them).
//!
//! # Weight files
//!
//! Weights are safetensors files with f32 tensors named after the `vb.pp`
//! paths documented on each model's `new`. Loading is strict: a missing
//! tensor, a tensor of the wrong shape or a tensor the architecture does not
//! use is a typed [`ModelError`], never a panic and never silently ignored.
//!
//! # Padding
//!
//! A flow shorter than P packets is padded with all-zero packet rows. A real
//! packet row is never all zero (its first byte holds the IP version), so the
//! models treat an all-zero row as padding: LSTM averages over real packets
//! only and HAN gives padding packets zero packet attention. CNN and SAE see
//! the zeros as they are. Bytes past the end of a short packet are zeros too,
//! but the representation does not carry packet lengths, so no model masks
//! them.

mod cnn;
mod config;
mod error;
mod han;
mod input;
mod lstm;
mod ops;
mod sae;
mod weights;

#[cfg(test)]
pub(crate) mod tests;

pub use cnn::{Cnn, CnnConfig};
pub use config::{ModelConfig, ModelKind};
pub use error::ModelError;
pub use han::{BiGru, Han, HanConfig, HanOutput};
pub(crate) use input::packet_mask;
pub use input::{input_ids, input_tensor, ModelInput};
pub use lstm::{Lstm, LstmConfig};
pub use sae::{Sae, SaeConfig};
pub use weights::serialize_varmap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

/// Result of every fallible function in this module.
pub type Result<T> = std::result::Result<T, ModelError>;

/// Any of the four models, so that callers (browser worker, trainer
/// evaluation) can run whichever a manifest names.
#[derive(Debug, Clone)]
pub enum Model {
    Cnn(Cnn),
    Lstm(Lstm),
    Sae(Sae),
    Han(Han),
}

/// Attention weights of one batch (HAN only).
#[derive(Debug, Clone)]
pub struct Attention {
    /// `[batch, P]`, each row sums to 1; zero on padding packets.
    pub packet: Tensor,
    /// `[batch, P, B]`, each `[b, p, ..]` row sums to 1.
    pub byte: Tensor,
}

/// What [`Model::forward`] returns.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// `[batch, n_classes]`, unnormalised.
    pub logits: Tensor,
    /// `Some` for models that explain themselves (HAN).
    pub attention: Option<Attention>,
}

impl Model {
    /// Builds the model that `cfg` describes, taking its weights from `vb`
    /// (a `VarMap`-backed builder to train, a file-backed one to infer).
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(match cfg {
            ModelConfig::Cnn(c) => Model::Cnn(Cnn::new(c, vb)?),
            ModelConfig::Lstm(c) => Model::Lstm(Lstm::new(c, vb)?),
            ModelConfig::Sae(c) => Model::Sae(Sae::new(c, vb)?),
            ModelConfig::Han(c) => Model::Han(Han::new(c, vb)?),
        })
    }

    /// Builds the model from the bytes of a safetensors file (the browser's
    /// path: no file system). Weights are converted to f32.
    ///
    /// Errors, never panics: [`ModelError::MissingTensor`],
    /// [`ModelError::ShapeMismatch`], [`ModelError::UnexpectedTensors`],
    /// [`ModelError::WeightDType`] or [`ModelError::NonFiniteWeight`] when
    /// the file does not fit `cfg` (for
    /// example weights of another architecture), [`ModelError::Candle`] when
    /// the bytes are not a safetensors file.
    pub fn from_safetensors(cfg: &ModelConfig, bytes: &[u8], device: &Device) -> Result<Self> {
        cfg.validate()?;
        weights::load_checked(bytes, device, |vb| Model::new(cfg, vb))
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Model::Cnn(_) => ModelKind::Cnn,
            Model::Lstm(_) => ModelKind::Lstm,
            Model::Sae(_) => ModelKind::Sae,
            Model::Han(_) => ModelKind::Han,
        }
    }

    /// The config the model was built from (a copy).
    pub fn config(&self) -> ModelConfig {
        match self {
            Model::Cnn(m) => ModelConfig::Cnn(m.config().clone()),
            Model::Lstm(m) => ModelConfig::Lstm(m.config().clone()),
            Model::Sae(m) => ModelConfig::Sae(m.config().clone()),
            Model::Han(m) => ModelConfig::Han(m.config().clone()),
        }
    }

    /// Logits for a batch.
    ///
    /// # Shapes
    /// - `input`: `[batch, P, B]`, P and B as in the config
    /// - returns `[batch, n_classes]`
    pub fn logits(&self, input: &ModelInput) -> Result<Tensor> {
        Ok(self.forward(input)?.logits)
    }

    /// Logits and, for HAN, attention for a batch.
    ///
    /// # Shapes
    /// - `input`: `[batch, P, B]`, P and B as in the config
    /// - `logits`: `[batch, n_classes]`; attention as in [`Attention`]
    pub fn forward(&self, input: &ModelInput) -> Result<ModelOutput> {
        let input = self.checked(input)?;
        let (logits, attention) = match self {
            Model::Cnn(m) => (m.forward(&input.scaled()?)?, None),
            Model::Lstm(m) => (m.forward(&input.scaled()?)?, None),
            Model::Sae(m) => (m.forward(&input.scaled()?)?, None),
            Model::Han(m) => {
                let out = m.forward(&input.ids()?)?;
                let attention = Attention {
                    packet: out.packet_attention,
                    byte: out.byte_attention,
                };
                (out.logits, Some(attention))
            }
        };
        Ok(ModelOutput { logits, attention })
    }

    /// `(P, B)` the model was built for.
    pub fn input_dims(&self) -> (usize, usize) {
        let (p, b) = match self {
            Model::Cnn(m) => (m.config().packets, m.config().bytes_per_packet),
            Model::Lstm(m) => (m.config().packets, m.config().bytes_per_packet),
            Model::Sae(m) => (m.config().packets, m.config().bytes_per_packet),
            Model::Han(m) => (m.config().packets, m.config().bytes_per_packet),
        };
        (p, b)
    }

    /// The input, if its P and B are the ones this model was built for.
    fn checked<'a>(&self, input: &'a ModelInput) -> Result<&'a ModelInput> {
        let (expected_packets, expected_bytes_per_packet) = self.input_dims();
        let (_, packets, bytes_per_packet) = input.dims();
        if (packets, bytes_per_packet) != (expected_packets, expected_bytes_per_packet) {
            return Err(ModelError::InputShape {
                expected_packets,
                expected_bytes_per_packet,
                packets,
                bytes_per_packet,
            });
        }
        Ok(input)
    }
}

/// The dtype every model computes in.
pub const DTYPE: DType = DType::F32;
