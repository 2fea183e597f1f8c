//! `trainer classify --models manifest.json --model ID FILE... --json`:
//! classify the flows of captures with a published (or any run's) model,
//! through the same loader and preprocessing as the page.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use candle_core::Device;
use flowlens_core::classifier::Classifier;
use flowlens_core::manifest::Manifest;
use flowlens_core::{Analyzer, Flow};
use serde::Serialize;

#[derive(clap::Args)]
pub struct ClassifyArgs {
    /// The manifest (`www/models/manifest.json` or a run's `OUT/manifest.json`).
    #[arg(long)]
    models: PathBuf,
    /// Model id in the manifest (e.g. `nDPI-tests.all.cnn`); `list` prints them.
    #[arg(long)]
    model: String,
    /// pcap or pcapng files.
    files: Vec<PathBuf>,
    /// One JSON object per flow.
    #[arg(long)]
    json: bool,
    /// Also print the logits / class probabilities.
    #[arg(long)]
    probabilities: bool,
    /// Also print the raw logits (deep models; C4.5 and k-NN have none and
    /// print their class probabilities), as the page's flow detail shows
    /// them: the browser parity test compares the two.
    #[arg(long)]
    logits: bool,
}

#[derive(Serialize)]
struct Line<'a> {
    file: &'a str,
    proto: String,
    src: String,
    sport: u16,
    dst: String,
    dport: u16,
    label: &'a str,
    confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<&'a [f32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logits: Option<&'a [f32]>,
}

pub fn run(args: &ClassifyArgs) -> anyhow::Result<ExitCode> {
    let text = fs::read_to_string(&args.models)
        .with_context(|| format!("cannot read {}", args.models.display()))?;
    let manifest =
        Manifest::from_json(&text).with_context(|| format!("{}", args.models.display()))?;
    if args.model == "list" {
        for p in &manifest.packs {
            for m in &p.models {
                println!(
                    "{}\t{}\taccuracy {:.4}\tmacro-F1 {:.4}",
                    m.id, p.title, m.metrics.accuracy, m.metrics.macro_f1
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, entry) = manifest.model(&args.model)?;
    let dir = args.models.parent().unwrap_or(std::path::Path::new("."));
    let weight_path = dir.join(&entry.weights.file);
    let bytes =
        fs::read(&weight_path).with_context(|| format!("cannot read {}", weight_path.display()))?;
    let device = Device::Cpu;
    let clf =
        Classifier::load(entry, &bytes, &device).with_context(|| format!("model {}", entry.id))?;
    let repr = &entry.representation;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in &args.files {
        let name = path.display().to_string();
        let data = fs::read(path).with_context(|| format!("cannot read {name}"))?;
        let analysis = Analyzer::analyze(&data, repr.flow_config());
        for chunk in analysis.flows.chunks(256) {
            let flows: Vec<&Flow> = chunk.iter().collect();
            let preds = clf.predict_flows(repr, &flows, &device)?;
            let logits: Vec<Vec<f32>> = match (&clf, args.logits) {
                (_, false) => Vec::new(),
                (Classifier::Deep(_), true) => {
                    let x = repr.encode_batch(&flows);
                    clf.logits_matrix(&x, flows.len(), repr, &device)?
                }
                (_, true) => preds.iter().map(|p| p.probabilities.clone()).collect(),
            };
            for (k, (f, p)) in chunk.iter().zip(&preds).enumerate() {
                let label = entry
                    .classes
                    .get(p.class)
                    .map(String::as_str)
                    .unwrap_or("?");
                let line = Line {
                    file: &name,
                    proto: f.key.proto_name(),
                    src: f.key.src.to_string(),
                    sport: f.key.sport,
                    dst: f.key.dst.to_string(),
                    dport: f.key.dport,
                    label,
                    confidence: p.confidence(),
                    probabilities: args.probabilities.then_some(p.probabilities.as_slice()),
                    logits: logits.get(k).map(Vec::as_slice),
                };
                if args.json {
                    serde_json::to_writer(&mut out, &line)?;
                    writeln!(out)?;
                } else {
                    writeln!(
                        out,
                        "{} {}:{} -> {}:{} {} ({:.2})",
                        line.proto,
                        line.src,
                        line.sport,
                        line.dst,
                        line.dport,
                        label,
                        line.confidence
                    )?;
                }
            }
        }
        if let Some(e) = analysis.error {
            failed = true;
            out.flush()?;
            eprintln!("error: {name}: {e}");
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
