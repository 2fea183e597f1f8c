//! Attribution over the P × B input grid of the deep models.
//!
//! Three methods, all returning one [`Grid`] (`[P, B]`, row-major) per flow:
//!
//! - [`Method::Attention`] (HAN only): the model's own weights, read from
//!   the fast forward pass. `Combined` is `packet[p] * byte[p, b]` (sums to 1
//!   over the grid); `Packet` spreads `packet[p]` evenly over the B bytes of
//!   packet `p` (sums to 1); `Byte` is `byte[p, b]` on real packets and 0 on
//!   padding packets (each real row sums to 1).
//! - [`Method::GradientInput`]: `x * d logit_t / d x` for the target class
//!   `t`, one backward pass.
//! - [`Method::IntegratedGradients`] (Sundararajan et al. 2017): zero
//!   baseline, `steps` points of the midpoint rule,
//!   `x * mean_k d logit_t / d x (alpha_k x)` with `alpha_k = (k - 1/2) / steps`
//!   for `k = 1..=steps`, computed as one batch of `steps * n` inputs and one
//!   backward pass. Completeness holds up to the quadrature error: the grid
//!   sums to about `logit_t(x) - logit_t(0+)` (tested). `0+`: the LSTM and
//!   HAN know padding packets from the input itself (all-zero rows), so the
//!   baseline is the limit `alpha -> 0` with the flow's real packets still
//!   marked real, not the all-padding input.
//!
//! What `x` is:
//! - CNN, LSTM, SAE: the scaled bytes `byte / 255` (the models' own input).
//! - HAN: the byte embeddings `[P, B, E]` (a byte id has no gradient); the
//!   attribution of a byte is the sum over the embedding dimension E of
//!   `emb * grad` (zero baseline = the zero vector in embedding space, not
//!   byte 0, whose embedding is not zero). The fast path folds the embedding
//!   into a lookup table without an input gradient, so attribution runs the
//!   HAN through `Han::forward_from_embeddings`, which computes the same
//!   logits (tested against the fast path).
//!
//! The custom CPU ops of [`crate::models`] (`tanh`, fused GRU gates,
//! max-pool) all have backward passes; the tests check the gradients
//! against finite differences and the IG completeness on every model.

use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use super::ExplainError;
use crate::models::{packet_mask, Model, ModelError, ModelInput};

/// Largest number of integrated-gradient steps accepted.
pub const MAX_IG_STEPS: usize = 256;

/// Integrated-gradient steps used by the page and the audit unless told
/// otherwise.
pub const DEFAULT_IG_STEPS: usize = 16;

/// Which HAN attention level to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionLevel {
    /// Packet attention × byte attention.
    Combined,
    /// Packet attention, spread over each packet's bytes.
    Packet,
    /// Byte attention within each real packet.
    Byte,
}

/// An attribution method (see the module docs). Serialised externally
/// tagged (`"gradient_input"`, `{"integrated_gradients":{"steps":16}}`,
/// `{"attention":{"level":"combined"}}`), which postcard (share links) can
/// read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// HAN's attention (HAN only).
    Attention { level: AttentionLevel },
    /// Gradient × input.
    GradientInput,
    /// Integrated gradients from the zero baseline in `steps` steps.
    IntegratedGradients { steps: usize },
}

impl Method {
    /// Short stable name: `attention_combined`, `attention_packet`,
    /// `attention_byte`, `gradient_input`, `integrated_gradients`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Attention {
                level: AttentionLevel::Combined,
            } => "attention_combined",
            Method::Attention {
                level: AttentionLevel::Packet,
            } => "attention_packet",
            Method::Attention {
                level: AttentionLevel::Byte,
            } => "attention_byte",
            Method::GradientInput => "gradient_input",
            Method::IntegratedGradients { .. } => "integrated_gradients",
        }
    }
}

/// A weight per byte of one flow's input, `[P, B]` row-major
/// (`weights[p * B + b]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    pub packets: usize,
    pub bytes_per_packet: usize,
    pub weights: Vec<f32>,
}

impl Grid {
    /// The weight of byte `b` of packet `p` (`None` out of range).
    pub fn get(&self, p: usize, b: usize) -> Option<f32> {
        if p >= self.packets || b >= self.bytes_per_packet {
            return None;
        }
        self.weights.get(p * self.bytes_per_packet + b).copied()
    }

    /// Sum of the weights.
    pub fn sum(&self) -> f32 {
        self.weights.iter().sum()
    }

    /// Sum of |weight| per packet, `[P]`.
    pub fn packet_magnitudes(&self) -> Vec<f32> {
        self.weights
            .chunks(self.bytes_per_packet.max(1))
            .map(|row| row.iter().map(|w| w.abs()).sum())
            .collect()
    }
}

/// One flow's attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub method: Method,
    /// The class whose logit is explained (attention: the predicted one).
    pub target: usize,
    /// The model's logits for the flow (fast path), `[n_classes]`.
    pub logits: Vec<f32>,
    pub grid: Grid,
}

/// Attribution for `n` flows of encoded bytes (`[n, P, B]`, as
/// [`crate::repr::Representation::encode_batch`] lays them out).
///
/// `targets`: the class explained per flow (`None`: the predicted class).
/// Runs the whole batch at once: integrated gradients hold `steps * n`
/// inputs and their autograd graph in memory, so the browser calls this a
/// few flows at a time.
///
/// Errors: [`ExplainError::Length`] when `bytes` or `targets` do not fit
/// `n` and the model's P × B, [`ExplainError::Target`] for a class out of
/// range, [`ExplainError::NotHan`] for attention on another model,
/// [`ExplainError::Steps`] for 0 or more than [`MAX_IG_STEPS`] steps.
pub fn attribute(
    model: &Model,
    bytes: &[u8],
    n: usize,
    targets: Option<&[usize]>,
    method: Method,
) -> Result<Vec<Attribution>, ExplainError> {
    let (p, b) = model.input_dims();
    let expected = n * p * b;
    if bytes.len() != expected {
        return Err(ExplainError::Length {
            what: "input bytes (n x P x B)",
            expected,
            got: bytes.len(),
        });
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let device = Device::Cpu;
    let input = ModelInput::from_bytes(bytes, n, p, b, &device)?;
    let out = model.forward(&input)?;
    let logits = out.logits.to_vec2::<f32>().map_err(ModelError::from)?;
    let n_classes = logits.first().map_or(0, Vec::len);
    let targets: Vec<usize> = match targets {
        Some(t) if t.len() != n => {
            return Err(ExplainError::Length {
                what: "targets",
                expected: n,
                got: t.len(),
            })
        }
        Some(t) => t.to_vec(),
        None => logits.iter().map(|l| argmax(l)).collect(),
    };
    if let Some(&target) = targets.iter().find(|&&t| t >= n_classes) {
        return Err(ExplainError::Target {
            target,
            classes: n_classes,
        });
    }
    let grids: Vec<Vec<f32>> = match method {
        Method::Attention { level } => {
            let attention = out.attention.ok_or(ExplainError::NotHan {
                kind: model.kind().as_str(),
            })?;
            let packet = attention
                .packet
                .to_vec2::<f32>()
                .map_err(ModelError::from)?; // [n, P]
            let byte = attention.byte.to_vec3::<f32>().map_err(ModelError::from)?; // [n, P, B]
            let real = packet_rows_real(bytes, n, p, b);
            packet
                .iter()
                .zip(&byte)
                .zip(real.chunks(p))
                .map(|((pa, ba), real)| attention_grid(pa, ba, real, b, level))
                .collect()
        }
        Method::GradientInput => gradient_grids(model, &input, &targets, &[1.0])?,
        Method::IntegratedGradients { steps } => {
            if steps == 0 || steps > MAX_IG_STEPS {
                return Err(ExplainError::Steps {
                    steps,
                    max: MAX_IG_STEPS,
                });
            }
            gradient_grids(model, &input, &targets, &ig_alphas(steps))?
        }
    };
    Ok(grids
        .into_iter()
        .zip(logits)
        .zip(targets)
        .map(|((weights, logits), target)| Attribution {
            method,
            target,
            logits,
            grid: Grid {
                packets: p,
                bytes_per_packet: b,
                weights,
            },
        })
        .collect())
}

/// Index of the largest value (the first of equals).
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Whether each packet row of each flow is real (not all zero), `[n * P]`.
fn packet_rows_real(bytes: &[u8], n: usize, p: usize, b: usize) -> Vec<bool> {
    if b == 0 {
        return vec![false; n * p];
    }
    bytes
        .chunks(b)
        .map(|row| row.iter().any(|&x| x != 0))
        .collect()
}

/// One flow's attention grid (see [`Method::Attention`]).
fn attention_grid(
    packet: &[f32],
    byte: &[Vec<f32>],
    real: &[bool],
    b: usize,
    level: AttentionLevel,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(packet.len() * b);
    for ((&pa, row), &is_real) in packet.iter().zip(byte).zip(real) {
        match level {
            AttentionLevel::Combined => out.extend(row.iter().map(|&w| pa * w)),
            AttentionLevel::Packet => out.extend(std::iter::repeat_n(pa / b as f32, b)),
            AttentionLevel::Byte if is_real => out.extend(row.iter().copied()),
            AttentionLevel::Byte => out.extend(std::iter::repeat_n(0.0, b)),
        }
    }
    out
}

/// The tensor attribution differentiates with respect to, and what the
/// differentiable forward needs besides it.
pub(crate) struct DiffInput {
    /// CNN, LSTM, SAE: scaled bytes `[n, P, B]`; HAN: embeddings
    /// `[n, P, B, E]`.
    pub x: Tensor,
    /// HAN: `[n, P]` real-packet mask from the ids.
    pub mask: Option<Tensor>,
}

pub(crate) fn diff_input(model: &Model, input: &ModelInput) -> Result<DiffInput, ExplainError> {
    Ok(match model {
        Model::Han(han) => {
            let ids = input.ids()?;
            let mask = packet_mask(&ids).map_err(ModelError::from)?;
            DiffInput {
                x: han.embed(&ids)?,
                mask: Some(mask),
            }
        }
        _ => DiffInput {
            x: input.scaled()?,
            mask: None,
        },
    })
}

/// Logits `[m, n_classes]` from a differentiable input (see [`DiffInput`]);
/// `mask` is `[m, P]` for HAN. (The tests' reference; attribution itself
/// builds the same graph with its own variables.)
#[cfg(test)]
pub(crate) fn diff_logits(
    model: &Model,
    x: &Tensor,
    mask: Option<&Tensor>,
) -> Result<Tensor, ExplainError> {
    match model {
        Model::Han(_) => {
            let positions = han_positions(x)?;
            han_logits(model, &positions, mask)
        }
        _ => diff_logits_dense(model, x),
    }
}

fn diff_logits_dense(model: &Model, x: &Tensor) -> Result<Tensor, ExplainError> {
    Ok(match model {
        Model::Cnn(m) => m.forward(x)?,
        Model::Lstm(m) => m.forward(x)?,
        Model::Sae(m) => m.forward(x)?,
        Model::Han(_) => return Err(candle_err("HAN takes embeddings by position")),
    })
}

/// HAN embeddings `[m, P, B, E]` as B tensors `[m * P, E]`, one per byte
/// position.
fn han_positions(x: &Tensor) -> Result<Vec<Tensor>, ExplainError> {
    let (m, p, b, e) = x.dims4().map_err(ModelError::from)?;
    (0..b)
        .map(|j| {
            Ok(x.narrow(2, j, 1)
                .and_then(|t| t.reshape((m * p, e)))
                .map_err(ModelError::from)?)
        })
        .collect()
}

fn han_logits(
    model: &Model,
    positions: &[Tensor],
    mask: Option<&Tensor>,
) -> Result<Tensor, ExplainError> {
    match (model, mask) {
        (Model::Han(han), Some(mask)) => Ok(han.forward_from_embeddings(positions, mask)?.logits),
        _ => Err(candle_err("HAN attribution needs the packet mask")),
    }
}

fn candle_err(msg: &str) -> ExplainError {
    ExplainError::Model(ModelError::Candle(candle_core::Error::Msg(msg.into())))
}

/// `x * mean_k grad(alpha_k * x)`: gradient × input for `alphas = [1]`,
/// integrated gradients for the midpoints [`ig_alphas`]; summed over the
/// embedding for HAN. Returns `[n][P * B]`.
fn gradient_grids(
    model: &Model,
    input: &ModelInput,
    targets: &[usize],
    alphas: &[f64],
) -> Result<Vec<Vec<f32>>, ExplainError> {
    let (n, p, b) = input.dims();
    let DiffInput { x, mask } = diff_input(model, input)?;
    let c = |e: candle_core::Error| ExplainError::Model(ModelError::Candle(e));
    // The points the gradient is taken at, step-major: rows k * n .. (k + 1) * n
    // are alpha_k * x.
    let points = if alphas == [1.0] {
        x.clone()
    } else {
        let scaled: Vec<Tensor> = alphas
            .iter()
            .map(|&a| x.affine(a, 0.0))
            .collect::<candle_core::Result<_>>()
            .map_err(c)?;
        Tensor::cat(&scaled, 0).map_err(c)?
    };
    let k = alphas.len();
    let mask = match mask {
        Some(m) => Some(Tensor::cat(&vec![m; k], 0).map_err(c)?),
        None => None,
    };
    let idx: Vec<u32> = (0..k)
        .flat_map(|_| targets.iter().map(|&t| t as u32))
        .collect();
    let idx = Tensor::from_vec(idx, (k * n, 1), &Device::Cpu).map_err(c)?;
    let no_grad = || {
        c(candle_core::Error::Msg(
            "no gradient reached the input".into(),
        ))
    };
    let grad = if let Model::Han(_) = model {
        // One variable per byte position (see `Han::forward_from_embeddings`).
        let (m, _, _, e) = points.dims4().map_err(c)?;
        let vars = han_positions(&points.detach())?
            .iter()
            .map(Var::from_tensor)
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(c)?;
        let positions: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let logits = han_logits(model, &positions, mask.as_ref())?; // [k * n, C]
        let selected = logits.gather(&idx, 1).map_err(c)?.sum_all().map_err(c)?;
        let grads = selected.backward().map_err(c)?;
        let per_position = vars
            .iter()
            .map(|v| grads.get(v.as_tensor()).cloned().ok_or_else(no_grad))
            .collect::<Result<Vec<_>, _>>()?; // B x [m * P, E]
        Tensor::stack(&per_position, 1)
            .map_err(c)? // [m * P, B, E]
            .reshape((m, p, b, e))
            .map_err(c)?
    } else {
        let var = Var::from_tensor(&points.detach()).map_err(c)?;
        let logits = diff_logits_dense(model, var.as_tensor())?; // [k * n, C]
        let selected = logits.gather(&idx, 1).map_err(c)?.sum_all().map_err(c)?;
        let grads = selected.backward().map_err(c)?;
        grads.get(var.as_tensor()).cloned().ok_or_else(no_grad)?
    };
    // Mean gradient over the steps, times the input.
    let mut shape = vec![k];
    shape.extend_from_slice(x.dims());
    let mean = grad.reshape(shape).map_err(c)?.mean(0).map_err(c)?; // x's shape
    let mut attr = (mean * &x).map_err(c)?;
    if attr.rank() == 4 {
        attr = attr.sum(D::Minus1).map_err(c)?; // [n, P, B]: summed over the embedding
    }
    let attr = attr
        .to_dtype(DType::F32)
        .map_err(c)?
        .reshape((n, p * b))
        .map_err(c)?;
    attr.to_vec2::<f32>().map_err(c)
}

/// The integration points of [`Method::IntegratedGradients`]: the
/// midpoints `(k - 1/2) / steps`, `k = 1..=steps`.
pub fn ig_alphas(steps: usize) -> Vec<f64> {
    (1..=steps)
        .map(|k| (k as f64 - 0.5) / steps as f64)
        .collect()
}
