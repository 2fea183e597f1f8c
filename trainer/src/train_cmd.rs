//! `trainer train`: train the chosen models on one dataset and write
//! `OUT/manifest.json` + weight files in the published format.

use std::path::PathBuf;
use std::process::ExitCode;

use flowlens_core::manifest::Manifest;
use flowlens_core::models::ModelKind;

use crate::dataset_cmd::DataArgs;
use crate::run::{self, ModelResult};
use crate::train::TrainOpts;

#[derive(clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Comma-separated: cnn,lstm,sae,han,c45,knn.
    #[arg(long, default_value = "cnn,lstm,sae,han,c45,knn")]
    pub models: String,
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub opts: OptArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct OptArgs {
    #[arg(long, default_value_t = 30)]
    pub max_epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    /// Wall-clock budget per deep model, minutes.
    #[arg(long, default_value_t = 10.0)]
    pub max_minutes: f64,
}

impl OptArgs {
    pub fn opts(&self, seed: u64) -> TrainOpts {
        TrainOpts {
            max_epochs: self.max_epochs,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            patience: self.patience,
            max_minutes: self.max_minutes,
            seed,
            ..TrainOpts::default()
        }
    }
}

pub fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let archs = args
        .models
        .split(',')
        .map(|m| run::parse_architecture(m.trim()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ds = args.data.load()?;
    std::fs::create_dir_all(&args.out)?;
    let commit = run::git_commit();
    let opts = args.opts.opts(args.data.seed);
    let mut results: Vec<ModelResult> = Vec::new();
    for arch in archs {
        let bar = crate::progress::bar(
            &format!("{} {}", ds.spec.name, arch.as_str()),
            opts.max_epochs as u64,
        );
        let r = run::train_one(arch, &ds, &opts, &args.out, &commit, &mut |s| {
            crate::progress::epoch(&bar, s)
        })?;
        bar.finish_and_clear();
        eprintln!(
            "{}: test accuracy {:.4}, macro-F1 {:.4} ({:.1} s)",
            r.entry.id, r.metrics.accuracy, r.metrics.macro_f1, r.train_seconds
        );
        results.push(r);
    }
    let manifest = Manifest::new(vec![run::pack(&ds, &results)]);
    let path = args.out.join("manifest.json");
    std::fs::write(&path, manifest.to_json())?;
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct BenchTrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Comma-separated deep models: cnn,lstm,sae,han.
    #[arg(long, default_value = "cnn,lstm,sae,han")]
    pub models: String,
    /// Training flows per model (one epoch over them).
    #[arg(long, default_value_t = 1024)]
    pub flows: usize,
    /// HAN is slower: flows for it.
    #[arg(long, default_value_t = 256)]
    pub han_flows: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
}

/// `trainer bench-train`: training throughput (flows/s) per deep model on
/// real flows: one epoch of forward, backward and AdamW step. Prints
/// figures, asserts nothing.
pub fn bench(args: &BenchTrainArgs) -> anyhow::Result<ExitCode> {
    let ds = args.data.load()?;
    let opts = TrainOpts {
        batch_size: args.batch_size,
        seed: args.data.seed,
        ..TrainOpts::default()
    };
    println!(
        "training throughput: {} ({} classes, {} train flows), batch {}, {} candle thread(s)",
        ds.spec.name,
        ds.classes.len(),
        ds.counts().0,
        args.batch_size,
        candle_core::utils::get_num_threads()
    );
    println!(
        "{:<5} {:>7} {:>9} {:>10} {:>12}",
        "model", "flows", "seconds", "flows/s", "flows/cpu-s"
    );
    for name in args.models.split(',') {
        let kind: ModelKind = name.trim().parse()?;
        let flows = if kind == ModelKind::Han {
            args.han_flows
        } else {
            args.flows
        };
        let (n, secs, cpu) = crate::train::epoch_throughput(kind, &ds, &opts, flows)?;
        let cpu = match cpu {
            Some(c) if c > 0.0 => format!("{:.0}", n as f64 / c),
            _ => "-".into(),
        };
        println!(
            "{kind:<5} {n:>7} {secs:>9.2} {:>10.0} {cpu:>12}",
            n as f64 / secs.max(1e-9)
        );
    }
    Ok(ExitCode::SUCCESS)
}
