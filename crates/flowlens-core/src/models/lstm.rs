//! LSTM over the packets of a flow: each packet's B bytes are embedded by a
//! linear layer, an LSTM reads the P packet embeddings in order, and the mean
//! of its hidden states over the real (non-padding) packets is classified.

use candle_core::{Module, Tensor};
use candle_nn::rnn::{LSTMConfig, RNN};
use candle_nn::{Linear, VarBuilder, LSTM};
use serde::{Deserialize, Serialize};

use super::config::{positive, validate_common};
use super::input::packet_mask;
use super::Result;

/// LSTM hyperparameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstmConfig {
    pub n_classes: usize,
    /// P: packets per flow (time steps).
    pub packets: usize,
    /// B: bytes per packet.
    pub bytes_per_packet: usize,
    /// Width of each packet's embedding (linear B -> embed, ReLU).
    #[serde(default = "LstmConfig::default_embed")]
    pub embed: usize,
    /// LSTM hidden size.
    #[serde(default = "LstmConfig::default_hidden")]
    pub hidden: usize,
}

impl LstmConfig {
    pub fn new(n_classes: usize, packets: usize, bytes_per_packet: usize) -> Self {
        LstmConfig {
            n_classes,
            packets,
            bytes_per_packet,
            embed: Self::default_embed(),
            hidden: Self::default_hidden(),
        }
    }

    fn default_embed() -> usize {
        64
    }

    fn default_hidden() -> usize {
        64
    }

    pub fn validate(&self) -> Result<()> {
        validate_common(self.n_classes, self.packets, self.bytes_per_packet)?;
        positive("embed", self.embed)?;
        positive("hidden", self.hidden)
    }
}

/// The LSTM. Weights (`vb.pp` names; the LSTM's are PyTorch's `nn.LSTM` names):
///
/// | name | shape |
/// |---|---|
/// | `embed.weight` | `[embed, B]` |
/// | `embed.bias` | `[embed]` |
/// | `lstm.weight_ih_l0` | `[4 * hidden, embed]` (gates i, f, g, o) |
/// | `lstm.weight_hh_l0` | `[4 * hidden, hidden]` |
/// | `lstm.bias_ih_l0` | `[4 * hidden]` |
/// | `lstm.bias_hh_l0` | `[4 * hidden]` |
/// | `head.weight` | `[n_classes, hidden]` |
/// | `head.bias` | `[n_classes]` |
#[derive(Debug, Clone)]
pub struct Lstm {
    embed: Linear,
    lstm: LSTM,
    head: Linear,
    cfg: LstmConfig,
}

impl Lstm {
    pub fn new(cfg: &LstmConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let embed = candle_nn::linear(cfg.bytes_per_packet, cfg.embed, vb.pp("embed"))?;
        let lstm = candle_nn::lstm(cfg.embed, cfg.hidden, LSTMConfig::default(), vb.pp("lstm"))?;
        let head = candle_nn::linear(cfg.hidden, cfg.n_classes, vb.pp("head"))?;
        Ok(Lstm {
            embed,
            lstm,
            head,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &LstmConfig {
        &self.cfg
    }

    /// # Shapes
    /// - `x`: f32 `[batch, P, B]`, bytes scaled to [0, 1]
    /// - returns logits `[batch, n_classes]`
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mask = packet_mask(x)?.unsqueeze(2)?; // [batch, P, 1]
        let e = self.embed.forward(x)?.relu()?; // [batch, P, embed]
        let states = self.lstm.seq(&e)?; // P x [batch, hidden]
        let h = self.lstm.states_to_tensor(&states)?; // [batch, P, hidden]
                                                      // Mean over real packets; a flow of padding only averages to zero.
        let sum = h.broadcast_mul(&mask)?.sum(1)?; // [batch, hidden]
        let count = mask.sum(1)?.maximum(1.0)?; // [batch, 1]
        let pooled = sum.broadcast_div(&count)?; // [batch, hidden]
        Ok(self.head.forward(&pooled)?) // [batch, n_classes]
    }
}
