//! One training run: every chosen model on one dataset, each evaluated on
//! the test side and written in exactly the published format (weight file
//! + manifest entry).

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use candle_core::Device;
use flowlens_core::baselines::c45::Feature;
use flowlens_core::classifier::Classifier;
use flowlens_core::manifest::{
    sha256_hex, Architecture, DatasetInfo, ModelEntry, Pack, SplitCounts, TestMetrics, WeightFile,
};
use flowlens_core::models::ModelKind;
use serde::{Deserialize, Serialize};

use crate::baselines::{c45_fit, knn_fit, Table};
use crate::dataset::{Dataset, Side};
use crate::metrics::Metrics;
use crate::train::{self, EpochStat, TrainOpts};

/// What a run reports per model, beyond its manifest entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelResult {
    pub entry: ModelEntry,
    pub metrics: Metrics,
    pub curve: Vec<EpochStat>,
    pub train_seconds: f64,
    /// Deep models: training stopped on the wall-clock safety cap.
    #[serde(default)]
    pub stopped_by_time_cap: bool,
}

pub fn parse_architecture(s: &str) -> anyhow::Result<Architecture> {
    Ok(match s {
        "cnn" => Architecture::Cnn,
        "lstm" => Architecture::Lstm,
        "sae" => Architecture::Sae,
        "han" => Architecture::Han,
        "c45" => Architecture::C45,
        "knn" => Architecture::Knn,
        other => anyhow::bail!("unknown model {other:?} (cnn, lstm, sae, han, c45, knn)"),
    })
}

/// `<dataset>.<view>.<model>`, lowercase.
pub fn model_id(ds: &Dataset, arch: Architecture) -> String {
    format!(
        "{}.{}.{}",
        slug(&ds.spec.name),
        ds.spec.repr.view().kind(),
        arch.as_str()
    )
}

pub fn slug(s: &str) -> String {
    s.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The commit of the working tree (`-dirty` when it has changes).
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(c) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        None => "unknown".into(),
    }
}

pub fn dataset_info(ds: &Dataset) -> DatasetInfo {
    let (train, val, test) = ds.counts();
    DatasetInfo {
        name: ds.spec.name.clone(),
        data_hash: ds.data_hash.clone(),
        classes: ds.classes.clone(),
        flows: SplitCounts { train, val, test },
        split_by: format!("{:?}", ds.spec.split_by).to_lowercase(),
        seed: ds.spec.seed,
    }
}

/// The baselines' training table: the train side's key features.
pub fn feature_table(ds: &Dataset, side: Side) -> Table {
    let f = ds.n_features();
    let idx = ds.indices(side);
    let mut x = Vec::with_capacity(idx.len() * f);
    for &i in &idx {
        x.extend_from_slice(&ds.features[i * f..(i + 1) * f]);
    }
    Table {
        features: ds
            .feature_names
            .iter()
            .map(|n| Feature::numeric(n.clone()))
            .collect(),
        classes: ds.classes.clone(),
        x,
        y: idx.iter().map(|&i| ds.y[i] as usize).collect(),
    }
}

/// Train one model, evaluate it on the test side, write its weight file
/// into `out`, and return its manifest entry and metrics.
pub fn train_one(
    arch: Architecture,
    ds: &Dataset,
    opts: &TrainOpts,
    out: &Path,
    commit: &str,
    progress: &mut dyn FnMut(&EpochStat),
) -> anyhow::Result<ModelResult> {
    let start = Instant::now();
    let id = model_id(ds, arch);
    let mut stopped_by_time_cap = false;
    let (config, bytes, curve, training, ext) = match arch {
        Architecture::C45 => {
            let doc = c45_fit::fit_c45(&feature_table(ds, Side::Train), &Default::default())?;
            let json = serde_json::to_vec(&doc)?;
            let info = serde_json::json!({"algorithm": "J48 defaults: gain ratio, binary numeric splits, C=0.25, M=2, subtree raising", "features": ds.feature_names});
            (None, json, Vec::new(), info, "c45.json")
        }
        Architecture::Knn => {
            let m = knn_fit::fit_knn(&feature_table(ds, Side::Train), 3)?;
            let info = serde_json::json!({"k": 3, "distance": "euclidean on z-scored features", "features": ds.feature_names});
            (None, m.to_bytes(), Vec::new(), info, "knn.bin")
        }
        deep => {
            let kind = match deep {
                Architecture::Cnn => ModelKind::Cnn,
                Architecture::Lstm => ModelKind::Lstm,
                Architecture::Sae => ModelKind::Sae,
                _ => ModelKind::Han,
            };
            let t = train::train(kind, ds, opts, progress)?;
            stopped_by_time_cap = t.stopped_by_time;
            let info = serde_json::json!({"optimiser": "AdamW", "opts": opts, "best_epoch": t.best_epoch, "epochs_run": t.curve.len(), "stopped_by_time_cap": t.stopped_by_time, "train_flows": ds.counts().0});
            (Some(t.config), t.weights, t.curve, info, "safetensors")
        }
    };
    let train_seconds = start.elapsed().as_secs_f64();
    let file = format!("{id}.{ext}");
    let path = out.join(&file);
    fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    set_readable(&path);
    let mut entry = ModelEntry {
        id,
        architecture: arch,
        config,
        representation: ds.spec.repr.clone(),
        classes: ds.classes.clone(),
        metrics: TestMetrics {
            accuracy: 0.0,
            macro_f1: 0.0,
        },
        dataset_hash: ds.data_hash.clone(),
        git_commit: commit.to_string(),
        weights: WeightFile {
            file,
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
        },
        training,
    };
    // Evaluate through the same loader the page and `classify` use.
    let device = Device::Cpu;
    let clf = Classifier::load(&entry, &bytes, &device)?;
    let test = ds.indices(Side::Test);
    let pred = predict_rows(&clf, ds, &test, &device)?;
    let truth: Vec<u32> = test.iter().map(|&i| ds.y[i]).collect();
    let metrics = Metrics::compute(&ds.classes, &truth, &pred);
    entry.metrics = TestMetrics {
        accuracy: metrics.accuracy,
        macro_f1: metrics.macro_f1,
    };
    Ok(ModelResult {
        entry,
        metrics,
        curve,
        train_seconds,
        stopped_by_time_cap,
    })
}

/// Predicted classes of dataset rows, through [`Classifier`].
pub fn predict_rows(
    clf: &Classifier,
    ds: &Dataset,
    idx: &[usize],
    device: &Device,
) -> anyhow::Result<Vec<u32>> {
    let mut out = Vec::with_capacity(idx.len());
    match clf {
        Classifier::Deep(_) => {
            let row = ds.row_len();
            for chunk in idx.chunks(256) {
                let mut x = Vec::with_capacity(chunk.len() * row);
                for &i in chunk {
                    x.extend_from_slice(&ds.x[i * row..(i + 1) * row]);
                }
                for p in clf.predict_matrix(&x, chunk.len(), &ds.spec.repr, device)? {
                    out.push(p.class as u32);
                }
            }
        }
        _ => {
            let f = ds.n_features();
            for &i in idx {
                out.push(clf.predict_features(&ds.features[i * f..(i + 1) * f]).class as u32);
            }
        }
    }
    Ok(out)
}

/// Weight files must be world-readable for a static server.
pub fn set_readable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o644));
    }
}

/// A pack over one dataset from a run's results.
pub fn pack(ds: &Dataset, results: &[ModelResult]) -> Pack {
    Pack {
        id: format!("{}.{}", slug(&ds.spec.name), ds.spec.repr.view().kind()),
        title: format!("{} ({} view)", ds.spec.name, ds.spec.repr.view().kind()),
        dataset: dataset_info(ds),
        models: results.iter().map(|r| r.entry.clone()).collect(),
    }
}
