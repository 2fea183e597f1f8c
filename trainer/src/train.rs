//! Training the deep models: AdamW on cross-entropy, early stopping on
//! validation accuracy, greedy layer-wise pre-training for the SAE.
//!
//! Deterministic for a given seed: candle's CPU device cannot be seeded, so
//! models are built on a var map that draws every initial weight from a
//! seeded ChaCha as the layer's [`Init`] asks ([`seeded_model`]); batches
//! are shuffled by a generator of the same seed. On one thread (as
//! `trainer reproduce` runs each model) the arithmetic is in a fixed order
//! too, so a run repeats exactly.

use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{AdamW, Init, Optimizer, ParamsAdamW, VarBuilder, VarMap};
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
    /// Wall-clock safety cap for this model (minutes); training stops at the
    /// end of the epoch that passes it and says so ([`Trained::stopped_by_time`]).
    /// The best epoch so far is kept. Budgets are `max_epochs`, not this.
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
    /// Training stopped on the wall-clock safety cap, not on its epoch
    /// count or early stopping.
    pub stopped_by_time: bool,
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
    let (varmap, model) = seeded_model(&config, opts.seed, &device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
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
    let mut stopped_by_time = false;
    for epoch in 1..=opts.max_epochs {
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        let mut batches = 0;
        for chunk in order.chunks(opts.batch_size) {
            loss_sum += train_step(&model, &mut opt, ds, chunk, &device)?;
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
        if epoch - best.1 >= opts.patience {
            break;
        }
        if epoch < opts.max_epochs && start.elapsed().as_secs_f64() > opts.max_minutes * 60.0 {
            stopped_by_time = true;
            break;
        }
    }
    Ok(Trained {
        config,
        weights: best.2,
        curve,
        best_epoch: best.1,
        stopped_by_time,
    })
}

/// One optimiser step on rows `chunk`; returns the batch's loss.
fn train_step(
    model: &Model,
    opt: &mut AdamW,
    ds: &Dataset,
    chunk: &[usize],
    device: &Device,
) -> anyhow::Result<f64> {
    let input = batch_input(ds, chunk, device)?;
    let labels: Vec<u32> = chunk.iter().map(|&i| ds.y[i]).collect();
    let labels = Tensor::new(labels.as_slice(), device)?;
    let logits = model.logits(&input)?; // [batch, classes]
    let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
    opt.backward_step(&loss)?;
    Ok(f64::from(loss.to_scalar::<f32>()?))
}

/// Training throughput of one model: one epoch (forward, backward and
/// AdamW step, batches of `opts.batch_size`) over the first `flows`
/// training rows of `ds`, after one warm-up batch. SAE: fine-tuning only
/// (its pre-training steps are cheaper). Returns (flows, wall seconds,
/// process CPU seconds of the epoch where the OS reports them).
pub fn epoch_throughput(
    kind: ModelKind,
    ds: &Dataset,
    opts: &TrainOpts,
    flows: usize,
) -> anyhow::Result<(usize, f64, Option<f64>)> {
    let device = Device::Cpu;
    let [p, b] = ds.spec.repr.shape();
    let config = ModelConfig::new(kind, ds.classes.len(), p, b);
    let (varmap, model) = seeded_model(&config, opts.seed, &device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let mut rows = ds.indices(Side::Train);
    rows.shuffle(&mut rng);
    rows.truncate(flows);
    anyhow::ensure!(!rows.is_empty(), "no training flows");
    let params = ParamsAdamW {
        lr: opts.learning_rate,
        weight_decay: opts.weight_decay,
        ..Default::default()
    };
    let mut opt = AdamW::new(varmap.all_vars(), params)?;
    let batch = opts.batch_size.max(1);
    train_step(
        &model,
        &mut opt,
        ds,
        &rows[..batch.min(rows.len())],
        &device,
    )?; // warm up
    let (start, cpu_start) = (Instant::now(), cpu_secs());
    for chunk in rows.chunks(batch) {
        train_step(&model, &mut opt, ds, chunk, &device)?;
    }
    let cpu = match (cpu_start, cpu_secs()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok((rows.len(), start.elapsed().as_secs_f64(), cpu))
}

/// User + system CPU seconds of this process (Linux), `None` elsewhere.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
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

/// A [`VarMap`] backend whose new variables are drawn from a seeded
/// generator, following the initialisation each layer asks for
/// ([`Init`]: constants, uniform, normal, Kaiming as candle computes it).
/// candle's CPU device cannot be seeded, so this makes a model's initial
/// weights a function of the seed and the order the model creates them in.
struct SeededVarMap {
    map: VarMap,
    rng: std::sync::Mutex<rand_chacha::ChaCha8Rng>,
}

impl SeededVarMap {
    fn draw(&self, n: usize, init: Init) -> candle_core::Result<Vec<f32>> {
        use rand::Rng;
        let mut rng = self
            .rng
            .lock()
            .map_err(|_| candle_core::Error::Msg("initialiser poisoned".into()))?;
        let rng = &mut *rng;
        Ok(match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => (0..n).map(|_| rng.random_range(lo..up) as f32).collect(),
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| {
                    // Box-Muller.
                    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                    let u2: f64 = rng.random();
                    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    (mean + stdev * z) as f32
                })
                .collect(),
            Init::Kaiming { .. } => {
                return Err(candle_core::Error::Msg(
                    "Kaiming initialisation must be resolved to a distribution first".into(),
                ))
            }
        })
    }
}

impl SimpleBackend for SeededVarMap {
    fn get(
        &self,
        shape: candle_core::Shape,
        name: &str,
        init: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self
            .map
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("var map poisoned".into()))?;
        if let Some(var) = data.get(name) {
            if var.shape() != &shape {
                return Err(candle_core::Error::Msg(format!(
                    "{name}: shape {:?} requested, {:?} exists",
                    shape.dims(),
                    var.shape().dims()
                )));
            }
            return Ok(var.as_tensor().clone());
        }
        let init = match init {
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(&shape) as f64).sqrt();
                match dist {
                    candle_nn::init::NormalOrUniform::Uniform => Init::Uniform {
                        lo: -(3f64.sqrt() * std),
                        up: 3f64.sqrt() * std,
                    },
                    candle_nn::init::NormalOrUniform::Normal => Init::Randn {
                        mean: 0.0,
                        stdev: std,
                    },
                }
            }
            other => other,
        };
        let values = self.draw(shape.elem_count(), init)?;
        let var = Var::from_tensor(&Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)?)?;
        data.insert(name.to_string(), var.clone());
        Ok(var.as_tensor().clone())
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        Err(candle_core::Error::Msg(format!(
            "{name}: a training var map needs the shape"
        )))
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.map
            .data()
            .lock()
            .map(|d| d.contains_key(name))
            .unwrap_or(false)
    }
}

/// A model of `config` with seeded initial weights, and its variables.
pub fn seeded_model(
    config: &ModelConfig,
    seed: u64,
    device: &Device,
) -> anyhow::Result<(VarMap, Model)> {
    let varmap = VarMap::new();
    let backend = SeededVarMap {
        map: varmap.clone(),
        rng: std::sync::Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x696e_6974)),
    };
    let vb = VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone());
    let model = Model::new(config, vb).context("building the model")?;
    Ok((varmap, model))
}
