//! Stacked auto-encoder: the flattened P x B bytes go through a stack of
//! sigmoid encoder layers, then a linear classifier. Each encoder layer has a
//! decoder so the trainer can pre-train the stack greedily, layer by layer,
//! before fine-tuning encoders and classifier together.

use candle_core::{Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::config::{positive, validate_common};
use super::{ModelError, Result};

/// SAE hyperparameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaeConfig {
    pub n_classes: usize,
    /// P: packets per flow.
    pub packets: usize,
    /// B: bytes per packet.
    pub bytes_per_packet: usize,
    /// Width of each encoder layer; the first reads P * B inputs.
    #[serde(default = "SaeConfig::default_hidden")]
    pub hidden: Vec<usize>,
}

impl SaeConfig {
    pub fn new(n_classes: usize, packets: usize, bytes_per_packet: usize) -> Self {
        SaeConfig {
            n_classes,
            packets,
            bytes_per_packet,
            hidden: Self::default_hidden(),
        }
    }

    fn default_hidden() -> Vec<usize> {
        vec![256, 128]
    }

    pub fn validate(&self) -> Result<()> {
        validate_common(self.n_classes, self.packets, self.bytes_per_packet)?;
        if self.hidden.is_empty() {
            return Err(ModelError::InvalidConfig {
                field: "hidden",
                reason: "need at least one encoder layer".into(),
            });
        }
        for &h in &self.hidden {
            positive("hidden", h)?;
        }
        Ok(())
    }

    /// Input width of layer `i`.
    fn layer_in(&self, i: usize) -> usize {
        match i {
            0 => self.packets * self.bytes_per_packet,
            _ => self.hidden[i - 1],
        }
    }
}

/// The SAE. Weights (`vb.pp` names), for layer `i` with input width `n_i`
/// (`n_0 = P * B`, `n_i = hidden[i - 1]`):
///
/// | name | shape |
/// |---|---|
/// | `enc.{i}.weight` | `[hidden[i], n_i]` |
/// | `enc.{i}.bias` | `[hidden[i]]` |
/// | `dec.{i}.weight` | `[n_i, hidden[i]]` |
/// | `dec.{i}.bias` | `[n_i]` |
/// | `head.weight` | `[n_classes, hidden.last]` |
/// | `head.bias` | `[n_classes]` |
///
/// Greedy pre-training of layer `i` (in the trainer): optimise only the
/// `VarMap` variables named `enc.{i}.*` and `dec.{i}.*` on a reconstruction
/// loss between `x_i = layer_input(i, x)` and `reconstruct_layer(i, &x_i)`.
/// Both are in [0, 1] (sigmoid), so MSE or binary cross-entropy fit.
#[derive(Debug, Clone)]
pub struct Sae {
    enc: Vec<Linear>,
    dec: Vec<Linear>,
    head: Linear,
    cfg: SaeConfig,
}

impl Sae {
    pub fn new(cfg: &SaeConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let mut enc = Vec::with_capacity(cfg.hidden.len());
        let mut dec = Vec::with_capacity(cfg.hidden.len());
        for (i, &h) in cfg.hidden.iter().enumerate() {
            let n_in = cfg.layer_in(i);
            enc.push(candle_nn::linear(n_in, h, vb.pp(format!("enc.{i}")))?);
            dec.push(candle_nn::linear(h, n_in, vb.pp(format!("dec.{i}")))?);
        }
        let last = cfg.hidden[cfg.hidden.len() - 1];
        let head = candle_nn::linear(last, cfg.n_classes, vb.pp("head"))?;
        Ok(Sae {
            enc,
            dec,
            head,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &SaeConfig {
        &self.cfg
    }

    /// Number of encoder (and decoder) layers.
    pub fn n_layers(&self) -> usize {
        self.enc.len()
    }

    /// # Shapes
    /// - `x`: f32 `[batch, P, B]`
    /// - returns `[batch, P * B]`
    pub fn flatten(x: &Tensor) -> Result<Tensor> {
        let batch = x.dim(0)?;
        Ok(x.reshape((batch, ()))?)
    }

    /// Encoder layer `i` alone: `sigmoid(enc_i(x))`.
    ///
    /// # Shapes
    /// - `x`: `[batch, n_i]`
    /// - returns `[batch, hidden[i]]`
    pub fn encode_layer(&self, i: usize, x: &Tensor) -> Result<Tensor> {
        let enc = self.enc.get(i).ok_or_else(|| self.no_layer(i))?;
        Ok(candle_nn::ops::sigmoid(&enc.forward(x)?)?)
    }

    /// Auto-encoder `i`: `sigmoid(dec_i(encode_layer(i, x)))`.
    ///
    /// # Shapes
    /// - `x`: `[batch, n_i]`
    /// - returns `[batch, n_i]`
    pub fn reconstruct_layer(&self, i: usize, x: &Tensor) -> Result<Tensor> {
        let code = self.encode_layer(i, x)?; // [batch, hidden[i]]
        let dec = self.dec.get(i).ok_or_else(|| self.no_layer(i))?;
        Ok(candle_nn::ops::sigmoid(&dec.forward(&code)?)?) // [batch, n_i]
    }

    /// What layer `i` reads: the input through encoders `0..i`, detached
    /// (greedy pre-training keeps the layers below fixed).
    ///
    /// # Shapes
    /// - `x`: f32 `[batch, P, B]`
    /// - returns `[batch, n_i]`
    pub fn layer_input(&self, i: usize, x: &Tensor) -> Result<Tensor> {
        if i >= self.n_layers() {
            return Err(self.no_layer(i));
        }
        let mut h = Self::flatten(x)?; // [batch, P * B]
        for j in 0..i {
            h = self.encode_layer(j, &h)?; // [batch, hidden[j]]
        }
        Ok(h.detach())
    }

    /// Encoder stack, then classifier.
    ///
    /// # Shapes
    /// - `x`: f32 `[batch, P, B]`, bytes scaled to [0, 1]
    /// - returns logits `[batch, n_classes]`
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = Self::flatten(x)?; // [batch, P * B]
        for i in 0..self.n_layers() {
            h = self.encode_layer(i, &h)?; // [batch, hidden[i]]
        }
        Ok(self.head.forward(&h)?) // [batch, n_classes]
    }

    fn no_layer(&self, index: usize) -> ModelError {
        ModelError::NoSuchLayer {
            index,
            layers: self.n_layers(),
        }
    }
}
