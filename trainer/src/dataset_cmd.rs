//! `trainer dataset`: build (or load from cache) a labelled dataset and
//! print what it holds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use flowlens_core::repr::{Representation, View};
use serde_json::json;

use crate::dataset::{BuildSpec, Dataset, SplitBy};

/// Options shared by every command that builds a dataset.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset roots: `<root>/<label>/*.pcap|*.pcapng`, or captures plus --labels.
    #[arg(long = "data", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Per-flow label table (columns pcap,l4,ip_a,port_a,ip_b,port_b and a label column).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Label column of --labels.
    #[arg(long, default_value = "label_dir")]
    pub label_column: String,
    /// What the models see: all, key, or a JSON view
    /// (`{"kind":"custom","zero":["ipv4.ttl"],"randomise":[],"seed":1}`).
    #[arg(long, default_value = "all")]
    pub view: String,
    /// Packets per flow (P).
    #[arg(long, default_value_t = 8)]
    pub packets: usize,
    /// Bytes per packet (B).
    #[arg(long, default_value_t = 128)]
    pub bytes_per_packet: usize,
    /// At most this many flows per class.
    #[arg(long, default_value_t = 5000)]
    pub max_per_class: usize,
    /// Classes with fewer flows are left out.
    #[arg(long, default_value_t = 30)]
    pub min_per_class: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = SplitBy::Flow)]
    pub split_by: SplitBy,
    /// Where built datasets are cached.
    #[arg(long, default_value = "target/flowlens-cache")]
    pub cache: PathBuf,
}

pub fn parse_view(s: &str) -> anyhow::Result<View> {
    Ok(match s {
        "all" => View::All,
        "key" => View::Key,
        json => serde_json::from_str(json)
            .with_context(|| format!("--view: not all, key or a JSON view: {json}"))?,
    })
}

impl DataArgs {
    pub fn spec(&self) -> anyhow::Result<BuildSpec> {
        let repr =
            Representation::new(self.packets, self.bytes_per_packet, parse_view(&self.view)?)?;
        let name = self
            .data
            .first()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        Ok(BuildSpec {
            name,
            roots: self.data.clone(),
            labels: self.labels.clone().map(|l| (l, self.label_column.clone())),
            repr,
            max_per_class: self.max_per_class,
            min_per_class: self.min_per_class,
            seed: self.seed,
            split_by: self.split_by,
        })
    }

    pub fn load(&self) -> anyhow::Result<Dataset> {
        let (ds, _) = Dataset::build_cached(self.spec()?, &self.cache)?;
        Ok(ds)
    }
}

#[derive(clap::Args)]
pub struct DatasetArgs {
    #[command(flatten)]
    data: DataArgs,
}

pub fn run(args: &DatasetArgs) -> anyhow::Result<ExitCode> {
    let (ds, path) = Dataset::build_cached(args.data.spec()?, &args.data.cache)?;
    let (train, val, test) = ds.counts();
    let per_class: Vec<_> = ds
        .classes
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let n = |s| ds.y.iter().zip(&ds.side).filter(|(y, side)| **y as usize == c && **side == s).count();
            json!({"class": name, "train": n(crate::dataset::Side::Train), "val": n(crate::dataset::Side::Val), "test": n(crate::dataset::Side::Test)})
        })
        .collect();
    let out = json!({
        "name": ds.spec.name,
        "cache": path.display().to_string(),
        "data_hash": ds.data_hash,
        "representation": ds.spec.repr,
        "split_by": ds.spec.split_by,
        "classes": ds.classes,
        "flows": {"train": train, "val": val, "test": test},
        "per_class": per_class,
        "left_out": ds.left_out,
        "unlabelled": ds.unlabelled,
        "captures": ds.files.len(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}
