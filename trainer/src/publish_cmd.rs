//! `trainer publish`: merge the manifests and weights of earlier runs into
//! one published set (`www/models/manifest.json` + weight files), or train
//! them first with `--data` (the reproduction's budgets) and then merge.
//!
//! ```text
//! trainer publish --data ../shared/data/{USTC-TFC2016-784B,ISCX-VPN-nonVPN-784B,nDPI-tests} --out www/models
//!   = trainer reproduce --data ... --out WORK   (RUNS = WORK/runs/<dataset>.<view>/)
//!   + trainer publish --from WORK/runs --out www/models
//! ```
//!
//! Every weight file is checked against its run manifest's sha256 before it
//! is copied; the published manifest keeps the hashes. Weight files are
//! written mode 0644. Weight files in OUT that the new manifest does not
//! name are removed, so OUT is exactly the published set.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use flowlens_core::manifest::{Manifest, Pack};

use crate::reproduce_cmd::{self, ReproduceArgs};
use crate::run;

#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    /// Run directories (each with a manifest.json), or directories whose
    /// subdirectories are run directories (`trainer reproduce`'s RUNS).
    #[arg(long, num_args = 1..)]
    pub from: Vec<PathBuf>,
    /// Train first: the datasets to reproduce (see `trainer reproduce`).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// With --data: the reproduction's report and runs go here.
    #[arg(long, default_value = "target/publish")]
    pub work: PathBuf,
    /// With --data: `reproduce --quick` budgets.
    #[arg(long)]
    pub quick: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Published directory (`www/models`).
    #[arg(long)]
    pub out: PathBuf,
    /// Architectures to leave out, comma-separated (e.g. `knn`).
    #[arg(long, default_value = "")]
    pub skip: String,
    /// Refuse to publish more than this (MiB, weights + manifest).
    #[arg(long, default_value_t = 20.0)]
    pub max_mib: f64,
}

/// The run manifests under `dirs`, in a stable order.
fn run_dirs(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for d in dirs {
        if d.join("manifest.json").is_file() {
            out.push(d.clone());
            continue;
        }
        let mut subs: Vec<PathBuf> = fs::read_dir(d)
            .with_context(|| format!("cannot list {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("manifest.json").is_file())
            .collect();
        subs.sort();
        if subs.is_empty() {
            bail!(
                "{}: no manifest.json in it or in its subdirectories",
                d.display()
            );
        }
        out.extend(subs);
    }
    Ok(out)
}

pub fn run(args: &PublishArgs) -> anyhow::Result<ExitCode> {
    let mut from = args.from.clone();
    if !args.data.is_empty() {
        let runs = args.work.join("runs");
        let rargs = ReproduceArgs {
            data: args.data.clone(),
            render_only: false,
            out: args.work.clone(),
            runs: Some(runs.clone()),
            quick: args.quick,
            seed: args.seed,
            models: "sae,cnn,lstm,han,c45,knn".into(),
            max_per_class: None,
            min_per_class: None,
            deep_train_per_class: None,
            han_train_per_class: None,
            max_epochs: None,
            han_epochs: None,
            max_minutes: None,
            jobs: 2,
            packets: 8,
            bytes_per_packet: 128,
            cache: PathBuf::from("target/flowlens-cache"),
        };
        reproduce_cmd::run(&rargs)?;
        from.push(runs);
    }
    if from.is_empty() {
        bail!("nothing to publish: give --from RUN_DIR... or --data DATASET...");
    }
    let skip: BTreeSet<&str> = args
        .skip
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for s in &skip {
        run::parse_architecture(s)?;
    }
    let manifest = publish(&run_dirs(&from)?, &args.out, &skip, args.max_mib)?;
    let n: usize = manifest.packs.iter().map(|p| p.models.len()).sum();
    eprintln!(
        "published {} packs, {n} models to {}",
        manifest.packs.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Merge the run directories' manifests into `out`.
pub fn publish(
    dirs: &[PathBuf],
    out: &Path,
    skip: &BTreeSet<&str>,
    max_mib: f64,
) -> anyhow::Result<Manifest> {
    let mut packs: Vec<Pack> = Vec::new();
    let mut sources: Vec<(PathBuf, String, u64)> = Vec::new(); // (from, file, bytes)
    for dir in dirs {
        let path = dir.join("manifest.json");
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let m = Manifest::from_json(&text).with_context(|| format!("{}", path.display()))?;
        for mut pack in m.packs {
            pack.models
                .retain(|e| !skip.contains(e.architecture.as_str()));
            if pack.models.is_empty() {
                continue;
            }
            if packs.iter().any(|p| p.id == pack.id) {
                bail!(
                    "pack {} comes from two runs (the second: {})",
                    pack.id,
                    dir.display()
                );
            }
            for e in &pack.models {
                let src = dir.join(&e.weights.file);
                let bytes =
                    fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
                e.verify(&bytes)
                    .with_context(|| format!("{}", src.display()))?;
                sources.push((src, e.weights.file.clone(), bytes.len() as u64));
            }
            packs.push(pack);
        }
    }
    let manifest = Manifest::new(packs);
    // Check the merged manifest as a reader would (unique ids, shapes).
    let json = manifest.to_json();
    Manifest::from_json(&json).context("merged manifest")?;
    let total: u64 = sources.iter().map(|s| s.2).sum::<u64>() + json.len() as u64;
    let limit = (max_mib * 1024.0 * 1024.0) as u64;
    if total > limit {
        let mut big = sources.clone();
        big.sort_by_key(|s| std::cmp::Reverse(s.2));
        let list: Vec<String> = big
            .iter()
            .take(5)
            .map(|s| format!("{} ({:.1} MiB)", s.1, s.2 as f64 / 1048576.0))
            .collect();
        bail!(
            "the published set would be {:.1} MiB, over --max-mib {max_mib}; largest: {} (leave some out with --skip)",
            total as f64 / 1048576.0,
            list.join(", ")
        );
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let keep: BTreeSet<&str> = sources.iter().map(|s| s.1.as_str()).collect();
    for entry in fs::read_dir(out)?.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_weights = name.ends_with(".safetensors")
            || name.ends_with(".c45.json")
            || name.ends_with(".knn.bin");
        if is_weights && !keep.contains(name.as_str()) {
            fs::remove_file(entry.path())?;
        }
    }
    for (src, file, _) in &sources {
        let dst = out.join(file);
        fs::copy(src, &dst)
            .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        run::set_readable(&dst);
    }
    let path = out.join("manifest.json");
    fs::write(&path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    run::set_readable(&path);
    eprintln!("{:.2} MiB in {}", total as f64 / 1048576.0, out.display());
    Ok(manifest)
}
