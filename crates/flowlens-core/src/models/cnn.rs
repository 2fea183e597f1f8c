//! CNN over the P x B byte matrix as a one-channel image, after Wang et al.
//! 2017 (the USTC-TFC 2D CNN: conv, max-pool, conv, max-pool, fully
//! connected, softmax), scaled down to the browser's budget: Wang et al. used
//! 32 and 64 channels and a 1024-wide hidden layer on 28 x 28 images; the
//! defaults here (4 and 16 channels, hidden 64) run about 8,700 flows/s in
//! wasm (simd128, one thread) where 8 and 16 channels ran 5,300 and 16 and 32
//! about 2,700.

use candle_core::{Module, Tensor};
use candle_nn::{Conv2dConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::config::{positive, validate_common};
use super::ops;
use super::{ModelError, Result};

/// CNN hyperparameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    pub n_classes: usize,
    /// P: packets per flow (image rows).
    pub packets: usize,
    /// B: bytes per packet (image columns).
    pub bytes_per_packet: usize,
    /// Output channels of each conv layer; one layer per entry.
    #[serde(default = "CnnConfig::default_channels")]
    pub channels: Vec<usize>,
    /// Square kernel side of each conv layer (odd; "same" padding).
    #[serde(default = "CnnConfig::default_kernel_sizes")]
    pub kernel_sizes: Vec<usize>,
    /// Width of the fully connected layer before the classifier.
    #[serde(default = "CnnConfig::default_hidden")]
    pub hidden: usize,
}

impl CnnConfig {
    pub fn new(n_classes: usize, packets: usize, bytes_per_packet: usize) -> Self {
        CnnConfig {
            n_classes,
            packets,
            bytes_per_packet,
            channels: Self::default_channels(),
            kernel_sizes: Self::default_kernel_sizes(),
            hidden: Self::default_hidden(),
        }
    }

    fn default_channels() -> Vec<usize> {
        vec![4, 16]
    }

    fn default_kernel_sizes() -> Vec<usize> {
        vec![3, 3]
    }

    fn default_hidden() -> usize {
        64
    }

    pub fn validate(&self) -> Result<()> {
        validate_common(self.n_classes, self.packets, self.bytes_per_packet)?;
        positive("hidden", self.hidden)?;
        if self.channels.is_empty() || self.channels.len() != self.kernel_sizes.len() {
            return Err(ModelError::InvalidConfig {
                field: "channels",
                reason: format!(
                    "need one kernel size per conv layer and at least one layer, got {} channels and {} kernel sizes",
                    self.channels.len(),
                    self.kernel_sizes.len()
                ),
            });
        }
        for &c in &self.channels {
            positive("channels", c)?;
        }
        for &k in &self.kernel_sizes {
            if k % 2 != 1 {
                return Err(ModelError::InvalidConfig {
                    field: "kernel_sizes",
                    reason: format!("kernel size {k} is not odd"),
                });
            }
        }
        Ok(())
    }

    /// `(height, width)` after each conv + pool layer, starting from `(P, B)`.
    /// Every layer keeps the size (same padding) and then max-pools 2 x 2,
    /// or 1 along a side already down to 1.
    fn pools(&self) -> Vec<(usize, usize)> {
        let (mut h, mut w) = (self.packets, self.bytes_per_packet);
        self.channels
            .iter()
            .map(|_| {
                let pool = (h.min(2), w.min(2));
                h /= pool.0;
                w /= pool.1;
                pool
            })
            .collect()
    }

    /// Input width of the fully connected layer.
    fn features(&self) -> usize {
        let (h, w) = self
            .pools()
            .iter()
            .fold((self.packets, self.bytes_per_packet), |(h, w), p| {
                (h / p.0, w / p.1)
            });
        h * w * self.channels.last().copied().unwrap_or(1)
    }
}

/// The CNN. Weights (`vb.pp` names):
///
/// | name | shape |
/// |---|---|
/// | `conv.{i}.weight` | `[channels[i], channels[i-1] (1 for i = 0), k_i, k_i]` |
/// | `conv.{i}.bias` | `[channels[i]]` |
/// | `fc.weight` | `[hidden, channels.last * H * W]` (H, W after the pools) |
/// | `fc.bias` | `[hidden]` |
/// | `head.weight` | `[n_classes, hidden]` |
/// | `head.bias` | `[n_classes]` |
#[derive(Debug, Clone)]
pub struct Cnn {
    /// Per layer: kernel `[c_out, c_in, k, k]` and bias `[c_out]`.
    convs: Vec<(Tensor, Tensor)>,
    pools: Vec<(usize, usize)>,
    fc: Linear,
    head: Linear,
    cfg: CnnConfig,
}

impl Cnn {
    pub fn new(cfg: &CnnConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let mut convs = Vec::with_capacity(cfg.channels.len());
        let mut c_in = 1;
        for (i, (&c_out, &k)) in cfg.channels.iter().zip(&cfg.kernel_sizes).enumerate() {
            let conv_cfg = Conv2dConfig {
                padding: k / 2,
                ..Default::default()
            };
            // candle_nn's layer only to get its names and initialisation.
            let conv = candle_nn::conv2d(c_in, c_out, k, conv_cfg, vb.pp(format!("conv.{i}")))?;
            let bias = conv.bias().cloned().ok_or_else(|| {
                candle_core::Error::Msg(format!("conv.{i} was built without a bias"))
            })?;
            convs.push((conv.weight().clone(), bias));
            c_in = c_out;
        }
        let fc = candle_nn::linear(cfg.features(), cfg.hidden, vb.pp("fc"))?;
        let head = candle_nn::linear(cfg.hidden, cfg.n_classes, vb.pp("head"))?;
        Ok(Cnn {
            convs,
            pools: cfg.pools(),
            fc,
            head,
            cfg: cfg.clone(),
        })
    }

    pub fn config(&self) -> &CnnConfig {
        &self.cfg
    }

    /// # Shapes
    /// - `x`: f32 `[batch, P, B]`, bytes scaled to [0, 1]
    /// - returns logits `[batch, n_classes]`
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let batch = x.dim(0)?;
        let mut x = x.unsqueeze(1)?; // [batch, 1, P, B]
        for ((kernel, bias), &pool) in self.convs.iter().zip(&self.pools) {
            // relu(max_pool(conv + bias)), computed as relu(max_pool(conv) + bias):
            // the same (a per-channel constant and a monotone function commute
            // with max), with the bias and relu on a quarter of the values.
            let c = kernel.dim(0)?;
            x = conv2d_same(&x, kernel)?; // [batch, c_i, h, w]
            x = ops::max_pool2d(&x, pool)?; // [batch, c_i, h / 2, w / 2]
            x = x.broadcast_add(&bias.reshape((1, c, 1, 1))?)?.relu()?;
        }
        let x = x.reshape((batch, ()))?; // [batch, features]
        let x = self.fc.forward(&x)?.relu()?; // [batch, hidden]
        Ok(self.head.forward(&x)?) // [batch, n_classes]
    }
}

/// Stride-1 convolution with "same" zero padding (odd `k`), no bias, as
/// im2col and one matmul per flow. Equals `x.conv2d(kernel, k / 2, 1, 1, 1)`.
///
/// candle's CPU conv2d gathers its im2col element by element; here the
/// padded image is flattened row by row, so that the input under kernel tap
/// `(dy, dx)` is one contiguous run of it starting at `dy * (w + 2p) + dx`.
/// The outputs are computed for `w + 2p` columns per row and the `2p`
/// columns that wrap around are dropped.
///
/// # Shapes
/// - `x`: `[batch, c_in, h, w]`
/// - `kernel`: `[c_out, c_in, k, k]`
/// - returns `[batch, c_out, h, w]` (rows strided: a view of `w + 2p` columns)
pub(crate) fn conv2d_same(x: &Tensor, kernel: &Tensor) -> candle_core::Result<Tensor> {
    let (batch, c_in, h, w) = x.dims4()?;
    let (c_out, _, k, _) = kernel.dims4()?;
    let pad = k / 2;
    let row = w + 2 * pad; // padded row length
                           // One extra zero row at the bottom: the last taps run 2p past the end.
    let padded = x
        .pad_with_zeros(2, pad, pad + usize::from(pad > 0))?
        .pad_with_zeros(3, pad, pad)?; // [batch, c_in, h + 2p (+1), row]
    let flat = padded.flatten_from(2)?; // [batch, c_in, (h + 2p (+1)) * row]
    let len = h * row;
    let mut taps = Vec::with_capacity(k * k);
    for dy in 0..k {
        for dx in 0..k {
            taps.push(flat.narrow(2, dy * row + dx, len)?); // [batch, c_in, h * row]
        }
    }
    let cols = Tensor::stack(&taps, 2)? // [batch, c_in, k * k, h * row]
        .reshape((batch, c_in * k * k, len))?; // [batch, c_in * k * k, h * row]
    kernel
        .reshape((c_out, c_in * k * k))? // [c_out, c_in * k * k]
        .broadcast_left(batch)? // [batch, c_out, c_in * k * k]
        .matmul(&cols)? // [batch, c_out, h * row]
        .reshape((batch, c_out, h, row))?
        .narrow(3, 0, w) // [batch, c_out, h, w]
}
