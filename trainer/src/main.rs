//! `trainer`: the native CLI around flowlens-core.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod audit_cmd;
mod audit_report;
mod baselines;
mod classify_cmd;
mod dataset;
mod dataset_cmd;
mod flows_cmd;
mod metrics;
mod progress;
mod publish_cmd;
mod report;
mod reproduce_cmd;
mod run;
mod train;
mod train_cmd;

#[cfg(test)]
mod pipeline_tests;

/// Training allocates and frees many same-sized tensors per step; glibc's
/// malloc hands large blocks back to the kernel and page-faults them in again
/// every time (half the CNN's training time). mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "trainer",
    version,
    about = "flowlens: flows, datasets, training, reports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read captures and print their flows.
    Flows(flows_cmd::FlowsArgs),
    /// Build a labelled dataset (sampled, split by flow or capture, cached).
    Dataset(dataset_cmd::DatasetArgs),
    /// Train models on one dataset; write OUT/manifest.json and weights.
    Train(train_cmd::TrainArgs),
    /// Classify the flows of captures with a model of a manifest.
    Classify(classify_cmd::ClassifyArgs),
    /// The paper's Tables 2-4 on each dataset: OUT/report.{json,md} + SVGs.
    Reproduce(reproduce_cmd::ReproduceArgs),
    /// Merge runs (or train with --data) into www/models/manifest.json + weights.
    Publish(publish_cmd::PublishArgs),
    /// Training throughput per deep model (flows/s, one epoch on real flows).
    BenchTrain(train_cmd::BenchTrainArgs),
    /// Shortcut audit (issue 5): perturbation, ablation, agreement, splits,
    /// portability: OUT/audit.{json,md} + SVGs.
    Audit(audit_cmd::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flows(args) => flows_cmd::run(&args),
        Command::Dataset(args) => dataset_cmd::run(&args),
        Command::Train(args) => train_cmd::run(&args),
        Command::Classify(args) => classify_cmd::run(&args),
        Command::Reproduce(args) => reproduce_cmd::run(&args),
        Command::Publish(args) => publish_cmd::run(&args),
        Command::BenchTrain(args) => train_cmd::bench(&args),
        Command::Audit(args) => audit_cmd::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
