//! Training the deep models: AdamW on cross-entropy, early stopping on
//! validation accuracy, greedy layer-wise pre-training for the SAE.
//!
//! Deterministic for a given seed: candle's CPU device cannot be seeded, so
//! after the model is built every initialised tensor is redrawn from a
//! seeded ChaCha with the same spread ([`reseed`]); batches are shuffled by
//! the same generator.

use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use flowlens_core::models::{serialize_varmap, Model, ModelConfig, ModelInput, ModelKind, Sae};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Side};

/// Optimiser and schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOpts {
    pub max_epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Stop after this many epochs without a better validation accuracy.
    pub patience: usize,
    /// Epochs of reconstruction pre-training per SAE layer.
    pub sae_pretrain_epochs: usize,
    /// Wall-clock budget for this model (minutes); training stops at the
    /// end of the epoch that passes it. The best epoch so far is kept.
    pub max_minutes: f64,
    pub seed: u64,
}

impl Default for TrainOpts {
    fn default() -> Self {
        Self {
            max_epochs: 30,
            batch_size: 64,
            learning_rate: 1e-3,
            weight_decay: 1e-2,
            patience: 4,
            sae_pretrain_epochs: 3,
            max_minutes: 10.0,
            seed: 42,
        }
    }
}

/// One epoch of the training curve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochStat {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_accuracy: f64,
}

/// A trained model: its config, its weights (safetensors bytes) and how it
/// got there.
#[derive(Debug, Clone)]
pub struct Trained {
    pub config: ModelConfig,
    pub weights: Vec<u8>,
    pub curve: Vec<EpochStat>,
    pub best_epoch: usize,
}

/// Rows `idx` of the dataset as one input batch.
pub fn batch_input(ds: &Dataset, idx: &[usize], device: &Device) -> anyhow::Result<ModelInput> {
    let row = ds.row_len();
    let mut bytes = Vec::with_capacity(idx.len() * row);
    for &i in idx {
        bytes.extend_from_slice(&ds.x[i * row..(i + 1) * row]);
    }
    let [p, b] = ds.spec.repr.shape();
    Ok(ModelInput::from_bytes(&bytes, idx.len(), p, b, device)?)
}

/// Predicted class and class probabilities for rows `idx`, in batches.
pub fn predict(
    model: &Model,
    ds: &Dataset,
    idx: &[usize],
    batch: usize,
    device: &Device,
) -> anyhow::Result<Vec<(u32, Vec<f32>)>> {
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(batch.max(1)) {
        let input = batch_input(ds, chunk, device)?;
        let logits = model.logits(&input)?; // [batch, classes]
        let probs = candle_nn::ops::softmax_last_dim(&logits)?.to_vec2::<f32>()?;
        for p in probs {
            let best = argmax(&p);
            out.push((best as u32, p));
        }
    }
    Ok(out)
}

pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn accuracy(
    model: &Model,
    ds: &Dataset,
    idx: &[usize],
    batch: usize,
    device: &Device,
) -> anyhow::Result<f64> {
    if idx.is_empty() {
        return Ok(0.0);
    }
    let preds = predict(model, ds, idx, batch, device)?;
    let correct = preds
        .iter()
        .zip(idx)
        .filter(|((p, _), &i)| *p == ds.y[i])
        .count();
    Ok(correct as f64 / idx.len() as f64)
}

/// Train one deep model on the dataset's train side, selecting the epoch
/// by validation accuracy. `progress` is called after every epoch.
pub fn train(
    kind: ModelKind,
    ds: &Dataset,
    opts: &TrainOpts,
    progress: &mut dyn FnMut(&EpochStat),
) -> anyhow::Result<Trained> {
    let start = Instant::now();
    let device = Device::Cpu;
    let [p, b] = ds.spec.repr.shape();
    let config = ModelConfig::new(kind, ds.classes.len(), p, b);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = Model::new(&config, vb).context("building the model")?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    reseed(&varmap, &mut rng, &device)?;
    let train_idx = ds.indices(Side::Train);
    let val_idx = ds.indices(Side::Val);
    anyhow::ensure!(!train_idx.is_empty(), "no training flows");

    if let Model::Sae(sae) = &model {
        pretrain_sae(sae, &varmap, ds, &train_idx, opts, &mut rng, &device)?;
    }

    let params = ParamsAdamW {
        lr: opts.learning_rate,
        weight_decay: opts.weight_decay,
        ..Default::default()
    };
    let mut opt = AdamW::new(varmap.all_vars(), params)?;
    let mut curve = Vec::new();
    let mut best = (f64::NEG_INFINITY, 0usize, serialize_varmap(&varmap)?);
    let mut order = train_idx.clone();
    for epoch in 1..=opts.max_epochs {
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        let mut batches = 0;
        for chunk in order.chunks(opts.batch_size) {
            let input = batch_input(ds, chunk, &device)?;
            let labels: Vec<u32> = chunk.iter().map(|&i| ds.y[i]).collect();
            let labels = Tensor::new(labels.as_slice(), &device)?;
            let logits = model.logits(&input)?; // [batch, classes]
            let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
            opt.backward_step(&loss)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?);
            batches += 1;
        }
        let val_accuracy = accuracy(&model, ds, &val_idx, 256, &device)?;
        let stat = EpochStat {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            val_accuracy,
        };
        progress(&stat);
        curve.push(stat);
        if val_accuracy > best.0 {
            best = (val_accuracy, epoch, serialize_varmap(&varmap)?);
        }
        let out_of_time = start.elapsed().as_secs_f64() > opts.max_minutes * 60.0;
        if epoch - best.1 >= opts.patience || out_of_time {
            break;
        }
    }
    Ok(Trained {
        config,
        weights: best.2,
        curve,
        best_epoch: best.1,
    })
}

/// Greedy layer-wise pre-training: auto-encoder `i` learns to reconstruct
/// what layer `i` reads, with the layers below fixed.
fn pretrain_sae(
    sae: &Sae,
    varmap: &VarMap,
    ds: &Dataset,
    train_idx: &[usize],
    opts: &TrainOpts,
    rng: &mut rand_chacha::ChaCha8Rng,
    device: &Device,
) -> anyhow::Result<()> {
    for layer in 0..sae.n_layers() {
        let vars: Vec<Var> = {
            let data = varmap
                .data()
                .lock()
                .map_err(|_| anyhow::anyhow!("var map poisoned"))?;
            let mut named: Vec<(&String, &Var)> = data
                .iter()
                .filter(|(n, _)| {
                    n.starts_with(&format!("enc.{layer}."))
                        || n.starts_with(&format!("dec.{layer}."))
                })
                .collect();
            named.sort_by(|a, b| a.0.cmp(b.0));
            named.into_iter().map(|(_, v)| v.clone()).collect()
        };
        let params = ParamsAdamW {
            lr: opts.learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        };
        let mut opt = AdamW::new(vars, params)?;
        let mut order = train_idx.to_vec();
        for _ in 0..opts.sae_pretrain_epochs {
            order.shuffle(rng);
            for chunk in order.chunks(opts.batch_size) {
                let x = batch_input(ds, chunk, device)?.scaled()?; // [batch, P, B]
                let xi = sae.layer_input(layer, &x)?; // [batch, n_i]
                let rec = sae.reconstruct_layer(layer, &xi)?; // [batch, n_i]
                let loss = candle_nn::loss::mse(&rec, &xi)?;
                opt.backward_step(&loss)?;
            }
        }
    }
    Ok(())
}

/// Redraw every variable (in name order) as uniform noise with the standard
/// deviation candle's initialiser gave it; constant tensors (zero biases,
/// unit scales) are left as they are. Makes initialisation a function of
/// the seed alone.
fn reseed(
    varmap: &VarMap,
    rng: &mut rand_chacha::ChaCha8Rng,
    device: &Device,
) -> anyhow::Result<()> {
    use rand::Rng;
    let data = varmap
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("var map poisoned"))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let t = var.as_tensor();
        let values = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n.max(1.0);
        let var_ = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n.max(1.0);
        if var_ <= 0.0 {
            continue;
        }
        let bound = (3.0 * var_).sqrt() as f32;
        let mean = mean as f32;
        let fresh: Vec<f32> = (0..values.len())
            .map(|_| mean + rng.random_range(-bound..bound))
            .collect();
        var.set(&Tensor::from_vec(fresh, t.shape(), device)?.to_dtype(t.dtype())?)?;
    }
    Ok(())
}
