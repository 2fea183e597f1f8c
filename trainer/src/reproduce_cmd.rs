//! `trainer reproduce`: the paper's Tables 3 and 4 (and the Table 2
//! attention analysis) on each dataset, under stated budgets.
//!
//! ```text
//! for each --data DIR:
//!   dataset (view all) --deep train cap--> sae, cnn, lstm, han     (Table 3)
//!   dataset (view key) --deep train cap--> the four; c45, knn      (Table 4)
//!   HAN (all) on the test side -> attention per flow and per field (Table 2)
//! OUT/report.json, OUT/report.md, OUT/*.svg
//! RUNS/<dataset>.<view>/manifest.json + weights   (input of `trainer publish`)
//! ```
//!
//! Both views sample and split the same flows (same seed, same captures),
//! so every model of a dataset is tested on the same flows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use candle_core::Device;
use flowlens_core::manifest::{Architecture, Manifest};
use flowlens_core::models::Model;
use flowlens_core::repr::{Field, Representation, View};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::dataset::{BuildSpec, Dataset, Side, SplitBy};
use crate::report::{self, AttentionReport, Budgets, DatasetReport, Flows, ModelReport, Report};
use crate::run::{self, ModelResult};
use crate::train::{self, TrainOpts};

/// The datasets `trainer reproduce` runs on when no `--data` is given,
/// relative to the repository root (`../shared/data` on the team's machine).
pub const DEFAULT_DATA: [&str; 3] = [
    "../shared/data/USTC-TFC2016-784B",
    "../shared/data/ISCX-VPN-nonVPN-784B",
    "../shared/data/nDPI-tests",
];

#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// Dataset roots (`<root>/<label>/*.pcap|*.pcapng`), one report section
    /// each [default: the three datasets of ../shared/data named in the README].
    #[arg(long = "data", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Only rewrite report.md and the SVGs from OUT/report.json (no training).
    #[arg(long)]
    pub render_only: bool,
    /// Where report.json, report.md and the SVGs go.
    #[arg(long)]
    pub out: PathBuf,
    /// Where each dataset/view's manifest and weights go (default OUT/runs).
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// Small budgets (a few minutes on 2 cores for the three shared datasets).
    #[arg(long)]
    pub quick: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Comma-separated subset of sae,cnn,lstm,han,c45,knn.
    #[arg(long, default_value = "sae,cnn,lstm,han,c45,knn")]
    pub models: String,
    /// Flows sampled per class [full: 5000, quick: 150].
    #[arg(long)]
    pub max_per_class: Option<usize>,
    /// Classes with fewer flows are left out [full: 30, quick: 20].
    #[arg(long)]
    pub min_per_class: Option<usize>,
    /// Training flows per class for SAE, CNN and LSTM [full: 2000, quick: 60].
    #[arg(long)]
    pub deep_train_per_class: Option<usize>,
    /// Training flows per class for HAN [full: 500, quick: 30].
    #[arg(long)]
    pub han_train_per_class: Option<usize>,
    /// Epochs for SAE, CNN and LSTM [full: 15, quick: 3].
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Epochs for HAN [full: 12, quick: 3].
    #[arg(long)]
    pub han_epochs: Option<usize>,
    /// Safety cap, not a budget: wall-clock minutes per deep model, checked
    /// after each epoch. When it fires the report says so (the result then
    /// depends on the machine) [full: 40, quick: 3].
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Models trained at once, each on one thread (results do not depend
    /// on it).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Packets per flow (P).
    #[arg(long, default_value_t = 8)]
    pub packets: usize,
    /// Bytes per packet (B).
    #[arg(long, default_value_t = 128)]
    pub bytes_per_packet: usize,
    /// Where built datasets are cached.
    #[arg(long, default_value = "target/flowlens-cache")]
    pub cache: PathBuf,
}

impl ReproduceArgs {
    /// The budgets after defaults; every one is a count (flows, epochs), so
    /// the same command and seed give the same numbers on any machine.
    fn plan(&self) -> Budgets {
        let q = self.quick;
        let pick =
            |v: Option<usize>, quick: usize, full: usize| v.unwrap_or(if q { quick } else { full });
        Budgets {
            max_per_class: pick(self.max_per_class, 150, 5000),
            min_per_class: pick(self.min_per_class, 20, 30),
            deep_train_per_class: pick(self.deep_train_per_class, 60, 2000),
            han_train_per_class: Some(pick(self.han_train_per_class, 30, 500)),
            max_epochs: pick(self.max_epochs, 3, 15),
            han_max_epochs: Some(pick(self.han_epochs, 3, 12)),
            sae_pretrain_epochs: Some(if q { 1 } else { 3 }),
            max_minutes_per_model: self.max_minutes.unwrap_or(if q { 3.0 } else { 40.0 }),
            han_max_minutes: None,
            patience: if q { 1 } else { 4 },
            batch_size: 64,
            packets: self.packets,
            bytes_per_packet: self.bytes_per_packet,
            overridden: Some(
                [
                    self.max_per_class,
                    self.min_per_class,
                    self.deep_train_per_class,
                    self.han_train_per_class,
                    self.max_epochs,
                    self.han_epochs,
                ]
                .iter()
                .any(Option::is_some),
            ),
        }
    }

    /// `--data`, or the default datasets when they exist.
    fn datasets(&self) -> anyhow::Result<Vec<PathBuf>> {
        if !self.data.is_empty() {
            return Ok(self.data.clone());
        }
        let found: Vec<PathBuf> = DEFAULT_DATA.iter().map(PathBuf::from).collect();
        let missing: Vec<String> = found
            .iter()
            .filter(|p| !p.is_dir())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "no --data given and the default datasets are not here: {} (relative to {}). \
                 `trainer reproduce` needs labelled captures, `<root>/<label>/*.pcap|*.pcapng`: run it from the \
                 repository root next to ../shared/data, or pass --data DIR... (the repository's own tests/data \
                 fixtures are too few flows per class for a reproduction; `cargo test -p trainer` trains on them)",
                missing.join(", "),
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            );
        }
        Ok(found)
    }
}

/// `/proc/loadavg`'s 1-minute figure (Linux), for the report.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn run(args: &ReproduceArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    if args.render_only {
        let path = args.out.join("report.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let report: Report =
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        write_report(&report, &args.out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let archs = args
        .models
        .split(',')
        .map(|m| run::parse_architecture(m.trim()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let roots = args.datasets()?;
    let budgets = args.plan();
    let jobs = args.jobs.max(1);
    // One thread per model: small ops do not gain from candle's threads on
    // 2 cores, and independent models do. Set before any thread exists.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let load_start = load_average();
    let runs = args.runs.clone().unwrap_or_else(|| args.out.join("runs"));
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let commit = run::git_commit();

    // 1. Datasets (cached), both views of each root.
    let mut views: Vec<ViewData> = Vec::new();
    for (d, root) in roots.iter().enumerate() {
        for view in [View::All, View::Key] {
            let view_name = view.kind().to_string();
            let wanted: Vec<Architecture> = archs
                .iter()
                .copied()
                .filter(|a| view_name == "key" || a.is_deep())
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let (ds, _) = Dataset::build_cached(spec(args, &budgets, root, view)?, &args.cache)
                .with_context(|| format!("dataset {}", root.display()))?;
            let deep = cap_training(&ds, budgets.deep_train_per_class, args.seed);
            let han = cap_training(&ds, budgets.han_per_class(), args.seed);
            let out = runs.join(format!("{}.{view_name}", run::slug(&ds.spec.name)));
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            views.push(ViewData {
                dataset: d,
                view: view_name,
                wanted,
                ds,
                deep,
                han,
                out,
            });
        }
    }

    // 2. Every model of every dataset and view, `jobs` at a time, slowest first.
    let mut tasks: Vec<(usize, Architecture)> = views
        .iter()
        .enumerate()
        .flat_map(|(v, vd)| vd.wanted.iter().map(move |&a| (v, a)))
        .collect();
    let cost = |&(v, a): &(usize, Architecture)| -> f64 {
        let vd = &views[v];
        let (flows, epochs, per_flow) = match a {
            Architecture::Han => (vd.han.counts().0, budgets.han_epochs(), 30.0),
            Architecture::Cnn => (vd.deep.counts().0, budgets.max_epochs, 2.5),
            Architecture::C45 | Architecture::Knn => (vd.ds.counts().0, 1, 0.1),
            _ => (vd.deep.counts().0, budgets.max_epochs, 1.0),
        };
        flows as f64 * epochs as f64 * per_flow
    };
    tasks.sort_by(|a, b| cost(b).total_cmp(&cost(a)));
    let multi = indicatif::MultiProgress::new();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<BTreeMap<(usize, &str), ModelResult>> =
        std::sync::Mutex::new(BTreeMap::new());
    let failure: std::sync::Mutex<Option<anyhow::Error>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(tasks.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(&(v, arch)) = tasks.get(i) else {
                    break;
                };
                if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                    break;
                }
                match train_task(args, &budgets, &views[v], arch, &commit, &multi) {
                    Ok(r) => {
                        multi.suspend(|| {
                            eprintln!(
                                "{}: test accuracy {:.4}, macro-F1 {:.4} ({:.1} s{})",
                                r.entry.id,
                                r.metrics.accuracy,
                                r.metrics.macro_f1,
                                r.train_seconds,
                                if r.stopped_by_time_cap {
                                    ", TIME CAP FIRED"
                                } else {
                                    ""
                                }
                            )
                        });
                        if let Ok(mut d) = done.lock() {
                            d.insert((v, arch.as_str()), r);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e.context(format!("training {}", arch.as_str())));
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut done = done
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a training thread panicked"))?;

    // 3. Reports, manifests and the attention analysis, in a fixed order.
    let mut datasets = Vec::new();
    for (d, _) in roots.iter().enumerate() {
        let mut results = Vec::new();
        let mut attention = None;
        let mut first: Option<&ViewData> = None;
        for (v, vd) in views.iter().enumerate().filter(|(_, vd)| vd.dataset == d) {
            first.get_or_insert(vd);
            let mut run_results: Vec<ModelResult> = Vec::new();
            for &arch in &vd.wanted {
                let r = done
                    .remove(&(v, arch.as_str()))
                    .with_context(|| format!("no result for {}", arch.as_str()))?;
                if arch == Architecture::Han && vd.view == "all" {
                    attention = Some(han_attention(&vd.ds, &r, &vd.out, args.seed)?);
                }
                results.push(model_report(&vd.view, arch, &r, vd.train_side(arch)));
                run_results.push(r);
            }
            // Packs name the dataset as the models were tested on it: the
            // full dataset (test side identical; deep models may have seen
            // fewer training flows, as report.json says).
            let manifest = Manifest::new(vec![run::pack(&vd.ds, &run_results)]);
            std::fs::write(vd.out.join("manifest.json"), manifest.to_json())?;
            std::fs::write(
                vd.out.join("results.json"),
                serde_json::to_string_pretty(&run_results)?,
            )?;
        }
        let vd = first.context("no model to train")?;
        let (train, val, test) = vd.ds.counts();
        datasets.push(DatasetReport {
            name: vd.ds.spec.name.clone(),
            classes: vd.ds.classes.clone(),
            flows: Flows { train, val, test },
            deep_train_flows: vd.deep.counts().0,
            han_train_flows: Some(vd.han.counts().0),
            data_hash: vd.ds.data_hash.clone(),
            left_out: vd.ds.left_out.clone(),
            unlabelled: vd.ds.unlabelled,
            results,
            attention,
        });
    }
    let report = Report {
        meta: report::Meta {
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            git_commit: commit,
            seed: args.seed,
            quick: args.quick,
            threads: candle_core::utils::get_num_threads(),
            jobs: Some(jobs),
            load_average: Some([load_start, load_average()]),
            budgets,
            total_seconds: start.elapsed().as_secs_f64(),
        },
        datasets,
    };
    write_report(&report, &args.out)?;
    eprintln!(
        "wrote {} ({:.1} min)",
        args.out.join("report.md").display(),
        start.elapsed().as_secs_f64() / 60.0
    );
    Ok(ExitCode::SUCCESS)
}

/// One dataset in one view, with its training sides per model family.
struct ViewData {
    /// Index into the `--data` roots.
    dataset: usize,
    view: String,
    wanted: Vec<Architecture>,
    /// The whole dataset (C4.5, k-NN; every model's validation and test side).
    ds: Dataset,
    /// Training side capped for SAE, CNN and LSTM.
    deep: Dataset,
    /// Training side capped for HAN.
    han: Dataset,
    out: PathBuf,
}

impl ViewData {
    fn train_side(&self, arch: Architecture) -> &Dataset {
        match arch {
            Architecture::Han => &self.han,
            a if a.is_deep() => &self.deep,
            _ => &self.ds,
        }
    }
}

/// Train and test one model of one dataset view.
fn train_task(
    args: &ReproduceArgs,
    b: &Budgets,
    vd: &ViewData,
    arch: Architecture,
    commit: &str,
    multi: &indicatif::MultiProgress,
) -> anyhow::Result<ModelResult> {
    let han = arch == Architecture::Han;
    let opts = TrainOpts {
        max_epochs: if han { b.han_epochs() } else { b.max_epochs },
        batch_size: b.batch_size,
        patience: b.patience,
        max_minutes: b.max_minutes_per_model,
        sae_pretrain_epochs: b.sae_pretrain_epochs.unwrap_or(2),
        seed: args.seed,
        ..TrainOpts::default()
    };
    let bar = multi.add(crate::progress::bar(
        &format!("{} {} {}", vd.ds.spec.name, vd.view, arch.as_str()),
        opts.max_epochs as u64,
    ));
    let r = run::train_one(
        arch,
        vd.train_side(arch),
        &opts,
        &vd.out,
        commit,
        &mut |s| crate::progress::epoch(&bar, s),
    );
    bar.finish_and_clear();
    multi.remove(&bar);
    r
}

fn model_report(view: &str, arch: Architecture, r: &ModelResult, train: &Dataset) -> ModelReport {
    ModelReport {
        view: view.to_string(),
        model: arch.as_str().to_string(),
        accuracy: r.metrics.accuracy,
        macro_f1: r.metrics.macro_f1,
        per_class: r.metrics.per_class.clone(),
        confusion: r.metrics.confusion.clone(),
        train_seconds: r.train_seconds,
        train_flows: train.counts().0,
        best_epoch: r
            .entry
            .training
            .get("best_epoch")
            .and_then(|v| v.as_u64())
            .map(|v| v as usize),
        hit_time_budget: r.stopped_by_time_cap,
        curve: r.curve.clone(),
    }
}

/// report.json, report.md and every SVG.
pub fn write_report(report: &Report, out: &Path) -> anyhow::Result<()> {
    let write = |name: &str, text: &str| -> anyhow::Result<()> {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        run::set_readable(&path);
        Ok(())
    };
    write("report.json", &serde_json::to_string_pretty(report)?)?;
    write("report.md", &report::markdown(report))?;
    for d in &report.datasets {
        for r in &d.results {
            let title = format!("{} · {} view · {}", d.name, r.view, r.model);
            write(
                &report::confusion_file(&d.name, &r.view, &r.model),
                &report::confusion_svg(&title, &d.classes, &r.confusion),
            )?;
            if !r.curve.is_empty() {
                write(
                    &report::curve_file(&d.name, &r.view, &r.model),
                    &report::curve_svg(&title, &r.curve, r.best_epoch),
                )?;
            }
        }
        if let Some(a) = &d.attention {
            let title = format!("{} · HAN attention per header field (all view)", d.name);
            write(
                &report::fields_file(&d.name),
                &report::fields_svg(&title, &a.fields),
            )?;
        }
    }
    Ok(())
}

fn spec(
    args: &ReproduceArgs,
    budgets: &Budgets,
    root: &Path,
    view: View,
) -> anyhow::Result<BuildSpec> {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    Ok(BuildSpec {
        name,
        roots: vec![root.to_path_buf()],
        labels: None,
        repr: Representation::new(args.packets, args.bytes_per_packet, view)?,
        max_per_class: budgets.max_per_class,
        min_per_class: budgets.min_per_class,
        seed: args.seed,
        split_by: SplitBy::Flow,
    })
}

/// The dataset with its training side cut to `per_class` flows per class
/// (seeded); validation and test sides unchanged.
pub fn cap_training(ds: &Dataset, per_class: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6361_7073);
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for i in ds.indices(Side::Train) {
        by_class.entry(ds.y[i]).or_default().push(i);
    }
    let mut keep: Vec<usize> = (0..ds.n()).filter(|&i| ds.side[i] != Side::Train).collect();
    for (_, mut rows) in by_class {
        rows.shuffle(&mut rng);
        rows.truncate(per_class);
        keep.extend(rows);
    }
    keep.sort_unstable();
    ds.subset(&keep)
}

/// Table 2: HAN's attention on the test side of the `all` dataset.
/// Sampled flows (2 per class, seeded) in detail; every test flow in the
/// per-field shares.
fn han_attention(
    ds: &Dataset,
    r: &ModelResult,
    dir: &Path,
    seed: u64,
) -> anyhow::Result<AttentionReport> {
    let device = Device::Cpu;
    let bytes = std::fs::read(dir.join(&r.entry.weights.file))?;
    let cfg = r.entry.config.as_ref().context("HAN without config")?;
    let model = Model::from_safetensors(cfg, &bytes, &device)?;
    attention_report(&model, ds, seed, 2, &device)
}

/// Attention analysis of a HAN `model` over the test side of `ds`.
pub fn attention_report(
    model: &Model,
    ds: &Dataset,
    seed: u64,
    per_class: usize,
    device: &Device,
) -> anyhow::Result<AttentionReport> {
    let test = ds.indices(Side::Test);
    let [p_len, b_len] = ds.spec.repr.shape();
    let row = ds.row_len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x7461_626c_6532);
    let mut picked = std::collections::BTreeSet::new();
    for c in 0..ds.classes.len() as u32 {
        let mut rows: Vec<usize> = test.iter().copied().filter(|&i| ds.y[i] == c).collect();
        rows.shuffle(&mut rng);
        picked.extend(rows.into_iter().take(per_class));
    }
    let mut field_sum = vec![0f64; Field::COUNT];
    let mut examples = Vec::new();
    for chunk in test.chunks(64) {
        let input = train::batch_input(ds, chunk, device)?;
        let out = model.forward(&input)?;
        let att = out
            .attention
            .context("the model gives no attention (not a HAN)")?;
        let packet = att.packet.to_vec2::<f32>()?; // [batch, P]
        let byte = att.byte.to_vec3::<f32>()?; // [batch, P, B]
        let logits = out.logits.to_vec2::<f32>()?; // [batch, classes]
        for (j, &i) in chunk.iter().enumerate() {
            let mut per_field = vec![0f64; Field::COUNT];
            let mut weights = Vec::with_capacity(row);
            for p in 0..p_len {
                for b in 0..b_len {
                    let w = f64::from(packet[j][p]) * f64::from(byte[j][p][b]);
                    per_field[ds.fields[i * row + p * b_len + b] as usize % Field::COUNT] += w;
                    weights.push((w, p, b));
                }
            }
            for (s, v) in field_sum.iter_mut().zip(&per_field) {
                *s += v;
            }
            if !picked.contains(&i) {
                continue;
            }
            let x = &ds.x[i * row..(i + 1) * row];
            let mut packets: Vec<(usize, f64)> = packet[j]
                .iter()
                .map(|&w| f64::from(w))
                .enumerate()
                .collect();
            packets.sort_by(|a, b| b.1.total_cmp(&a.1));
            weights.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut fields: Vec<(usize, f64)> = per_field
                .iter()
                .copied()
                .enumerate()
                .filter(|f| f.1 > 0.0)
                .collect();
            fields.sort_by(|a, b| b.1.total_cmp(&a.1));
            let capture = ds.files[ds.capture[i] as usize]
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            examples.push(report::FlowAttention {
                class: ds.classes[ds.y[i] as usize].clone(),
                predicted: ds.classes[train::argmax(&logits[j])].clone(),
                capture,
                top_packets: packets
                    .iter()
                    .take(3)
                    .map(|&(p, w)| report::PacketWeight {
                        packet: p + 1,
                        weight: w,
                    })
                    .collect(),
                top_bytes: weights
                    .iter()
                    .take(5)
                    .map(|&(w, p, b)| {
                        let rowp = &x[p * b_len..(p + 1) * b_len];
                        let lo = b.saturating_sub(3);
                        let hi = (b + 4).min(b_len);
                        let context: Vec<String> = (lo..hi)
                            .map(|k| {
                                if k == b {
                                    format!("[{:02x}]", rowp[k])
                                } else {
                                    format!("{:02x}", rowp[k])
                                }
                            })
                            .collect();
                        report::ByteWeight {
                            packet: p + 1,
                            offset: b,
                            context: context.join(" "),
                            value: format!("0x{:02x}", rowp[b]),
                            field: ds.field(i, p, b).name().to_string(),
                            weight: w,
                        }
                    })
                    .collect(),
                top_fields: fields
                    .iter()
                    .take(3)
                    .map(|&(f, w)| report::FieldWeight {
                        field: Field::ALL[f].name().to_string(),
                        weight: w,
                    })
                    .collect(),
            });
        }
    }
    let n = test.len().max(1) as f64;
    let mut fields: Vec<report::FieldShare> = Field::ALL
        .iter()
        .map(|&f| report::FieldShare {
            field: f.name().to_string(),
            group: f.group().name().to_string(),
            site_dependent: f.group().is_site_dependent(),
            share: field_sum[f as usize] / n,
        })
        .collect();
    fields.sort_by(|a, b| b.share.total_cmp(&a.share));
    Ok(AttentionReport {
        examples,
        fields,
        test_flows: test.len(),
    })
}
