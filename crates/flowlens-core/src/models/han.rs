//! Hierarchical attention network after Yang et al. 2016, with bytes as words
//! and packets as sentences (Lee, Lee & Kim 2020, section 2).
//!
//! ```text
//! ids [batch, P, B] -> byte embedding -> BiGRU over the B bytes of each packet
//!   -> byte attention (u = tanh(W h + b), alpha = softmax(u . u_w)) -> packet vectors
//!   -> BiGRU over the P packets -> packet attention -> flow vector -> linear -> logits
//! ```
//!
//! Cost: the byte-level GRU dominates (P * B sequential steps per flow). It
//! runs all `batch * P` packets of a batch as one GRU batch, both directions
//! in one batched matmul per step, and folds the embedding into the GRU's
//! input weights (`embed @ W_ih^T` is a 256-row table looked up per byte), so
//! each step costs one `[2, batch * P, H] x [2, H, 3H]` matmul plus
//! elementwise gates.

use candle_core::{DType, Module, Tensor, D};
use candle_nn::{Init, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::config::{positive, validate_common};
use super::input::packet_mask;
use super::ops;
use super::Result;

/// Byte values: the embedding's vocabulary.
const VOCAB: usize = 256;

/// Added to the attention score of padding packets before the softmax.
const MASKED_SCORE: f64 = -1e9;

/// HAN hyperparameters.
///
/// Defaults: the byte level is shrunk from Yang et al.'s 50 hidden units per
/// direction and attention 100 to 16 and 32: it runs P * B = 1024 GRU steps
/// per flow and sets the browser's speed (wasm, simd128, one thread, batch
/// 64: 50/100 about 220-280 flows/s, 25/50 about 630, 20/40 about 800-950,
/// 16/32 about 1,000-1,100). The packet level keeps Yang's 50/100 (P = 8
/// steps, cheap). The byte embedding (32) costs nothing at run time: it is
/// folded into the byte GRU's input table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HanConfig {
    pub n_classes: usize,
    /// P: packets per flow (sentences).
    pub packets: usize,
    /// B: bytes per packet (words per sentence).
    pub bytes_per_packet: usize,
    /// Byte embedding width.
    #[serde(default = "HanConfig::default_byte_embed")]
    pub byte_embed: usize,
    /// Byte-level GRU hidden size per direction.
    #[serde(default = "HanConfig::default_byte_hidden")]
    pub byte_hidden: usize,
    /// Byte-level attention size (length of `u_it` and of the context `u_w`).
    #[serde(default = "HanConfig::default_byte_attention")]
    pub byte_attention: usize,
    /// Packet-level GRU hidden size per direction.
    #[serde(default = "HanConfig::default_packet_hidden")]
    pub packet_hidden: usize,
    /// Packet-level attention size.
    #[serde(default = "HanConfig::default_packet_attention")]
    pub packet_attention: usize,
}

impl HanConfig {
    pub fn new(n_classes: usize, packets: usize, bytes_per_packet: usize) -> Self {
        HanConfig {
            n_classes,
            packets,
            bytes_per_packet,
            byte_embed: Self::default_byte_embed(),
            byte_hidden: Self::default_byte_hidden(),
            byte_attention: Self::default_byte_attention(),
            packet_hidden: Self::default_packet_hidden(),
            packet_attention: Self::default_packet_attention(),
        }
    }

    fn default_byte_embed() -> usize {
        32
    }

    fn default_byte_hidden() -> usize {
        16
    }

    fn default_byte_attention() -> usize {
        32
    }

    fn default_packet_hidden() -> usize {
        50
    }

    fn default_packet_attention() -> usize {
        100
    }

    pub fn validate(&self) -> Result<()> {
        validate_common(self.n_classes, self.packets, self.bytes_per_packet)?;
        positive("byte_embed", self.byte_embed)?;
        positive("byte_hidden", self.byte_hidden)?;
        positive("byte_attention", self.byte_attention)?;
        positive("packet_hidden", self.packet_hidden)?;
        positive("packet_attention", self.packet_attention)
    }
}

/// What [`Han::forward`] returns.
#[derive(Debug, Clone)]
pub struct HanOutput {
    /// `[batch, n_classes]`.
    pub logits: Tensor,
    /// `[batch, P]`: softmax over packets; exactly 0 on padding (all-zero)
    /// packets, uniform when a flow is padding only.
    pub packet_attention: Tensor,
    /// `[batch, P, B]`: softmax over the bytes of each packet. Not masked:
    /// padding packets and trailing zero bytes get weights too (a padding
    /// packet's row is ignored through its zero packet attention).
    pub byte_attention: Tensor,
}

/// The HAN. Weights (`vb.pp` names; the GRUs' are PyTorch's bidirectional
/// `nn.GRU` names, see [`BiGru`]):
///
/// | name | shape |
/// |---|---|
/// | `byte_embed.weight` | `[256, byte_embed]` |
/// | `byte_gru.*` | [`BiGru`] with input `byte_embed`, hidden `byte_hidden` |
/// | `byte_attn.proj.weight` | `[byte_attention, 2 * byte_hidden]` |
/// | `byte_attn.proj.bias` | `[byte_attention]` |
/// | `byte_attn.context` | `[byte_attention]` (`u_w`) |
/// | `packet_gru.*` | [`BiGru`] with input `2 * byte_hidden`, hidden `packet_hidden` |
/// | `packet_attn.proj.weight` | `[packet_attention, 2 * packet_hidden]` |
/// | `packet_attn.proj.bias` | `[packet_attention]` |
/// | `packet_attn.context` | `[packet_attention]` |
/// | `head.weight` | `[n_classes, 2 * packet_hidden]` |
/// | `head.bias` | `[n_classes]` |
#[derive(Debug, Clone)]
pub struct Han {
    /// `[256, byte_embed]`.
    byte_embed: Tensor,
    byte_gru: BiGru,
    byte_attn: AttentionPool,
    packet_gru: BiGru,
    packet_attn: AttentionPool,
    head: Linear,
    cfg: HanConfig,
}

impl Han {
    pub fn new(cfg: &HanConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let byte_embed = vb.pp("byte_embed").get_with_hints(
            (VOCAB, cfg.byte_embed),
            "weight",
            Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        )?;
        let byte_gru = BiGru::new(cfg.byte_embed, cfg.byte_hidden, vb.pp("byte_gru"))?;
        let byte_attn =
            AttentionPool::new(2 * cfg.byte_hidden, cfg.byte_attention, vb.pp("byte_attn"))?;
        let packet_gru = BiGru::new(2 * cfg.byte_hidden, cfg.packet_hidden, vb.pp("packet_gru"))?;
        let packet_attn = AttentionPool::new(
            2 * cfg.packet_hidden,
            cfg.packet_attention,
            vb.pp("packet_attn"),
        )?;
        let head = candle_nn::linear(2 * cfg.packet_hidden, cfg.n_classes, vb.pp("head"))?;
        Ok(Han {
            byte_embed,
            byte_gru,
            byte_attn,
            packet_gru,
            packet_attn,
            head,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &HanConfig {
        &self.cfg
    }

    /// # Shapes
    /// - `ids`: u32 `[batch, P, B]`, byte values 0..=255
    /// - returns logits `[batch, n_classes]`, packet attention `[batch, P]`,
    ///   byte attention `[batch, P, B]`
    pub fn forward(&self, ids: &Tensor) -> Result<HanOutput> {
        let (batch, p, b) = ids.dims3()?;
        let mask = packet_mask(ids)?; // [batch, P], 1 = real packet

        // Byte level: every packet of the batch is one sequence.
        let ids = ids.reshape((batch * p, b))?; // [batch * P, B]
        let h = self.byte_gru.forward_embedded(&self.byte_embed, &ids)?; // [batch * P, B, 2 * Hb]
        self.head_from_byte_states(&h, &mask, (batch, p, b))
    }

    /// The byte embeddings of `ids`: the input [`Han::forward_from_embeddings`]
    /// differentiates through (attribution, [`crate::explain`]).
    ///
    /// # Shapes
    /// - `ids`: u32 `[batch, P, B]`
    /// - returns f32 `[batch, P, B, byte_embed]`
    pub(crate) fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        let (batch, p, b) = ids.dims3()?;
        let flat = ids.flatten_all()?; // [batch * P * B]
        Ok(self
            .byte_embed
            .index_select(&flat, 0)? // [batch * P * B, E]
            .reshape((batch, p, b, self.cfg.byte_embed))?)
    }

    /// [`Han::forward`] from byte embeddings instead of ids, differentiable
    /// with respect to them (the fast path folds the embedding into a
    /// lookup table, which has no gradient for its input). The embeddings
    /// come one tensor per byte position, so that each can be its own
    /// autograd variable: slicing positions out of one big tensor would
    /// make the backward pass pad every position's gradient back to the
    /// full size (quadratic in B). Equal to `forward(ids)` for embeddings
    /// taken from `embed(ids)` up to float rounding (tested).
    ///
    /// # Shapes
    /// - `positions`: B tensors f32 `[batch * P, byte_embed]`, position `j`
    ///   holding byte `j` of every packet
    /// - `mask`: f32 `[batch, P]`, 1 for real packets (from the ids: a
    ///   scaled embedding does not say which packets are padding)
    /// - returns as [`Han::forward`]
    pub(crate) fn forward_from_embeddings(
        &self,
        positions: &[Tensor],
        mask: &Tensor,
    ) -> Result<HanOutput> {
        let (batch, p) = mask.dims2()?;
        let b = positions.len();
        let h = self.byte_gru.forward_steps(positions)?; // [batch * P, B, 2 * Hb]
        self.head_from_byte_states(&h, mask, (batch, p, b))
    }

    /// Byte attention, the packet level and the head, from the byte GRU's
    /// states.
    ///
    /// # Shapes
    /// - `h`: `[batch * P, B, 2 * Hb]`; `mask`: `[batch, P]`
    fn head_from_byte_states(
        &self,
        h: &Tensor,
        mask: &Tensor,
        (batch, p, b): (usize, usize, usize),
    ) -> Result<HanOutput> {
        let (packets, byte_attention) = self.byte_attn.forward(h, None)?; // [batch * P, 2 * Hb], [batch * P, B]
        let packets = packets.reshape((batch, p, ()))?; // [batch, P, 2 * Hb]

        // Packet level.
        let h = self.packet_gru.forward(&packets)?; // [batch, P, 2 * Hp]
        let padding_bias = mask.affine(-MASKED_SCORE, MASKED_SCORE)?; // [batch, P], 0 or -1e9
        let (flow, packet_attention) = self.packet_attn.forward(&h, Some(&padding_bias))?; // [batch, 2 * Hp], [batch, P]

        let logits = self.head.forward(&flow)?; // [batch, n_classes]
        Ok(HanOutput {
            logits,
            packet_attention,
            byte_attention: byte_attention.reshape((batch, p, b))?,
        })
    }
}

/// Attention pooling of Yang et al.: `u_t = tanh(W h_t + b)`,
/// `alpha = softmax_t(u_t . u_w)`, output `sum_t alpha_t h_t`.
#[derive(Debug, Clone)]
struct AttentionPool {
    proj: Linear,
    /// `u_w`, `[A, 1]`.
    context: Tensor,
}

impl AttentionPool {
    fn new(in_dim: usize, attention: usize, vb: VarBuilder) -> Result<Self> {
        let proj = candle_nn::linear(in_dim, attention, vb.pp("proj"))?;
        let bound = 1.0 / (attention as f64).sqrt();
        let context = vb.get_with_hints(
            attention,
            "context",
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        Ok(AttentionPool {
            proj,
            context: context.unsqueeze(1)?,
        })
    }

    /// # Shapes
    /// - `h`: `[N, T, D]`
    /// - `bias`: `[N, T]`, added to the scores (0 keeps, -1e9 masks)
    /// - returns the pooled `[N, D]` and the weights `[N, T]`
    fn forward(&self, h: &Tensor, bias: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let (n, t, d) = h.dims3()?;
        let u = ops::tanh(&self.proj.forward(&h.reshape((n * t, d))?)?)?; // [N * T, A]
        let mut scores = u.matmul(&self.context)?.reshape((n, t))?; // [N, T]
        if let Some(bias) = bias {
            scores = (scores + bias)?;
        }
        let alpha = candle_nn::ops::softmax(&scores, D::Minus1)?; // [N, T]
        let pooled = alpha.unsqueeze(1)?.matmul(h)?.squeeze(1)?; // [N, 1, T] x [N, T, D] -> [N, D]
        Ok((pooled, alpha))
    }
}

/// A single-layer bidirectional GRU with PyTorch's `nn.GRU` equations,
/// gate order (r, z, n) and weight names:
///
/// | name | shape |
/// |---|---|
/// | `weight_ih_l0`, `weight_ih_l0_reverse` | `[3 * hidden, in_dim]` |
/// | `weight_hh_l0`, `weight_hh_l0_reverse` | `[3 * hidden, hidden]` |
/// | `bias_ih_l0`, `bias_ih_l0_reverse` | `[3 * hidden]` |
/// | `bias_hh_l0`, `bias_hh_l0_reverse` | `[3 * hidden]` |
///
/// Not `candle_nn::GRU` twice: that one projects the input at every step and
/// runs one direction at a time; this one projects all steps at once, runs
/// both directions in one batched matmul per step and computes the gates in
/// one fused pass (the HAN's hot loop).
#[derive(Debug, Clone)]
pub struct BiGru {
    /// Per direction (forward, reverse): `[3H, in_dim]`.
    w_ih: [Tensor; 2],
    /// `[3H, H]`.
    w_hh: [Tensor; 2],
    /// `[3H]`.
    b_ih: [Tensor; 2],
    /// `[3H]`.
    b_hh: [Tensor; 2],
    hidden: usize,
}

impl BiGru {
    /// Initialised like PyTorch: every weight uniform in `±1/sqrt(hidden)`.
    pub fn new(in_dim: usize, hidden: usize, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let get = |shape: (usize, usize), name: &str| -> Result<[Tensor; 2]> {
            let fwd = vb.get_with_hints(shape, name, init)?;
            let rev = vb.get_with_hints(shape, &format!("{name}_reverse"), init)?;
            Ok([fwd, rev])
        };
        let get1 = |len: usize, name: &str| -> Result<[Tensor; 2]> {
            let fwd = vb.get_with_hints(len, name, init)?;
            let rev = vb.get_with_hints(len, &format!("{name}_reverse"), init)?;
            Ok([fwd, rev])
        };
        Ok(BiGru {
            w_ih: get((3 * hidden, in_dim), "weight_ih_l0")?,
            w_hh: get((3 * hidden, hidden), "weight_hh_l0")?,
            b_ih: get1(3 * hidden, "bias_ih_l0")?,
            b_hh: get1(3 * hidden, "bias_hh_l0")?,
            hidden,
        })
    }

    /// Hidden size per direction.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Both directions over `x`.
    ///
    /// # Shapes
    /// - `x`: `[N, T, in_dim]`
    /// - returns `[N, T, 2 * hidden]`: forward states, then reverse states,
    ///   both aligned with the input positions (as PyTorch's output)
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, t, d) = x.dims3()?;
        let x = x.transpose(0, 1)?.contiguous()?.reshape((t * n, d))?; // [T * N, in_dim]
        let fwd = self.project(&x, 0)?.reshape((t, n, 4 * self.hidden))?; // [T, N, 4H]
        let rev = self
            .project(&x, 1)?
            .reshape((t, n, 4 * self.hidden))?
            .flip(&[0])?; // [T, N, 4H], time reversed
        let xp = Tensor::stack(&[fwd, rev], 1)?; // [T, 2, N, 4H]
        self.run(&xp)
    }

    /// Both directions over a sequence given one tensor per step (see
    /// [`Han::forward_from_embeddings`] for why).
    ///
    /// # Shapes
    /// - `xs`: T tensors `[N, in_dim]`
    /// - returns `[N, T, 2 * hidden]`
    pub(crate) fn forward_steps(&self, xs: &[Tensor]) -> Result<Tensor> {
        let t = xs.len();
        if xs.is_empty() {
            return Err(candle_core::Error::Msg("a GRU needs at least one step".into()).into());
        }
        let fwd = xs
            .iter()
            .map(|x| self.project(x, 0))
            .collect::<Result<Vec<_>>>()?; // T x [N, 4H]
        let rev = xs
            .iter()
            .map(|x| self.project(x, 1))
            .collect::<Result<Vec<_>>>()?; // T x [N, 4H]
        let steps = (0..t)
            .map(|step| Tensor::stack(&[&fwd[step], &rev[t - 1 - step]], 0)) // [2, N, 4H]
            .collect::<candle_core::Result<Vec<_>>>()?;
        self.run(&Tensor::stack(&steps, 0)?) // [T, 2, N, 4H]
    }

    /// The step input of direction `k` for inputs `x`: `W_ih x + b_ih` with
    /// the hidden biases folded in (see [`super::ops`]'s `gru_sequence`):
    /// `[x_r + b_hr, x_z + b_hz, x_n, b_hn]`.
    ///
    /// # Shapes
    /// - `x`: `[M, in_dim]`
    /// - returns `[M, 4H]`
    fn project(&self, x: &Tensor, k: usize) -> Result<Tensor> {
        let h = self.hidden;
        let m = x.dim(0)?;
        let proj = x.matmul(&self.w_ih[k].t()?)?.broadcast_add(&self.b_ih[k])?; // [M, 3H]
        let b_hh = &self.b_hh[k]; // [3H]
        let rz = proj
            .narrow(1, 0, 2 * h)?
            .broadcast_add(&b_hh.narrow(0, 0, 2 * h)?)?; // [M, 2H]
        let n = proj.narrow(1, 2 * h, h)?; // [M, H]
        let b_hn = b_hh
            .narrow(0, 2 * h, h)?
            .unsqueeze(0)?
            .broadcast_as((m, h))?; // [M, H]
        Ok(Tensor::cat(&[&rz, &n, &b_hn], 1)?) // [M, 4H]
    }

    /// Both directions over embedded ids, `forward(embed[ids])`, computed
    /// without materialising the embeddings: `embed[id] @ W_ih^T + b_ih` is
    /// row `id` of the table `embed @ W_ih^T + b_ih`, looked up step by step.
    ///
    /// # Shapes
    /// - `embed`: `[vocab, in_dim]`
    /// - `ids`: u32 `[N, T]`, each `< vocab`
    /// - returns `[N, T, 2 * hidden]`
    pub fn forward_embedded(&self, embed: &Tensor, ids: &Tensor) -> Result<Tensor> {
        // [2 * vocab, 4H]: the forward direction's rows, then the reverse's.
        let table = Tensor::cat(&[self.project(embed, 0)?, self.project(embed, 1)?], 0)?;
        let w_hh = Tensor::stack(&[self.w_hh[0].t()?, self.w_hh[1].t()?], 0)?; // [2, H, 3H]
                                                                               // Checks every id is below vocab (a typed error otherwise).
        Ok(ops::gru_sequence_embedded(
            &table,
            &ids.to_dtype(DType::U32)?,
            &w_hh,
        )?) // [N, T, 2H]
    }

    /// The recurrence, both directions in one fused op
    /// ([`ops::gru_sequence`]).
    ///
    /// # Shapes
    /// - `xp`: `[T, 2, N, 4H]`, the projected inputs of both directions
    ///   (see [`BiGru::project`]), the reverse direction reading backwards
    /// - returns `[N, T, 2H]`
    fn run(&self, xp: &Tensor) -> Result<Tensor> {
        let w_hh = Tensor::stack(&[self.w_hh[0].t()?, self.w_hh[1].t()?], 0)?; // [2, H, 3H]
        Ok(ops::gru_sequence(xp, &w_hh)?) // [N, T, 2H]
    }
}
