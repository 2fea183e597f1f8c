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

#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// Dataset roots (`<root>/<label>/*.pcap|*.pcapng`), one report section each.
    #[arg(long = "data", required_unless_present = "render_only", num_args = 1..)]
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
    /// Small budgets (≤ 5 minutes on 2 cores for the three shared datasets).
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
    /// Training flows per class for the deep models [full: 400, quick: 30].
    #[arg(long)]
    pub deep_train_per_class: Option<usize>,
    /// Epochs per deep model [full: 15, quick: 2].
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Wall-clock minutes per SAE, CNN, LSTM [full: 1.5, quick: 0.15].
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Wall-clock minutes per HAN [full: 3, quick: 0.25].
    #[arg(long)]
    pub han_minutes: Option<f64>,
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

/// The budgets after defaults.
struct Plan {
    budgets: Budgets,
    han_minutes: f64,
}

impl ReproduceArgs {
    fn plan(&self) -> Plan {
        let q = self.quick;
        let budgets = Budgets {
            max_per_class: self.max_per_class.unwrap_or(if q { 150 } else { 5000 }),
            min_per_class: self.min_per_class.unwrap_or(if q { 20 } else { 30 }),
            deep_train_per_class: self
                .deep_train_per_class
                .unwrap_or(if q { 30 } else { 400 }),
            max_epochs: self.max_epochs.unwrap_or(if q { 2 } else { 15 }),
            max_minutes_per_model: self.max_minutes.unwrap_or(if q { 0.15 } else { 1.5 }),
            han_max_minutes: None,
            patience: if q { 1 } else { 3 },
            batch_size: 64,
            packets: self.packets,
            bytes_per_packet: self.bytes_per_packet,
        };
        let han_minutes = self.han_minutes.unwrap_or(if q { 0.25 } else { 3.0 });
        Plan {
            han_minutes,
            budgets: Budgets {
                han_max_minutes: Some(han_minutes),
                ..budgets
            },
        }
    }
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
    let plan = args.plan();
    let runs = args.runs.clone().unwrap_or_else(|| args.out.join("runs"));
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let commit = run::git_commit();
    let mut datasets = Vec::new();
    for root in &args.data {
        datasets.push(reproduce_dataset(
            args, &plan, &archs, root, &runs, &commit,
        )?);
    }
    let report = Report {
        meta: report::Meta {
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            git_commit: commit,
            seed: args.seed,
            quick: args.quick,
            threads: candle_core::utils::get_num_threads(),
            budgets: plan.budgets,
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

fn spec(args: &ReproduceArgs, plan: &Plan, root: &Path, view: View) -> anyhow::Result<BuildSpec> {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    Ok(BuildSpec {
        name,
        roots: vec![root.to_path_buf()],
        labels: None,
        repr: Representation::new(args.packets, args.bytes_per_packet, view)?,
        max_per_class: plan.budgets.max_per_class,
        min_per_class: plan.budgets.min_per_class,
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

fn reproduce_dataset(
    args: &ReproduceArgs,
    plan: &Plan,
    archs: &[Architecture],
    root: &Path,
    runs: &Path,
    commit: &str,
) -> anyhow::Result<DatasetReport> {
    let b = &plan.budgets;
    let mut results = Vec::new();
    let mut attention = None;
    let mut info: Option<(Dataset, usize)> = None;
    for view in [View::All, View::Key] {
        let view_name = view.kind();
        let wanted: Vec<Architecture> = archs
            .iter()
            .copied()
            .filter(|a| view_name == "key" || a.is_deep())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let (ds, _) = Dataset::build_cached(spec(args, plan, root, view)?, &args.cache)
            .with_context(|| format!("dataset {}", root.display()))?;
        let deep_ds = cap_training(&ds, b.deep_train_per_class, args.seed);
        let out = runs.join(format!("{}.{view_name}", run::slug(&ds.spec.name)));
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let mut run_results: Vec<ModelResult> = Vec::new();
        for &arch in &wanted {
            let minutes = if arch == Architecture::Han {
                plan.han_minutes
            } else {
                b.max_minutes_per_model
            };
            let opts = TrainOpts {
                max_epochs: b.max_epochs,
                batch_size: b.batch_size,
                patience: b.patience,
                max_minutes: minutes,
                sae_pretrain_epochs: if args.quick { 1 } else { 2 },
                seed: args.seed,
                ..TrainOpts::default()
            };
            let train_ds = if arch.is_deep() { &deep_ds } else { &ds };
            let bar = crate::progress::bar(
                &format!("{} {view_name} {}", ds.spec.name, arch.as_str()),
                opts.max_epochs as u64,
            );
            let r = run::train_one(arch, train_ds, &opts, &out, commit, &mut |s| {
                crate::progress::epoch(&bar, s)
            })?;
            bar.finish_and_clear();
            eprintln!(
                "{}: test accuracy {:.4}, macro-F1 {:.4} ({:.1} s)",
                r.entry.id, r.metrics.accuracy, r.metrics.macro_f1, r.train_seconds
            );
            if arch == Architecture::Han && view_name == "all" {
                attention = Some(han_attention(&ds, &r, &out, args.seed)?);
            }
            results.push(ModelReport {
                view: view_name.to_string(),
                model: arch.as_str().to_string(),
                accuracy: r.metrics.accuracy,
                macro_f1: r.metrics.macro_f1,
                per_class: r.metrics.per_class.clone(),
                confusion: r.metrics.confusion.clone(),
                train_seconds: r.train_seconds,
                train_flows: train_ds.counts().0,
                best_epoch: r
                    .entry
                    .training
                    .get("best_epoch")
                    .and_then(|v| v.as_u64())
                    .map(|v| v as usize),
                hit_time_budget: arch.is_deep()
                    && r.curve.len() < opts.max_epochs
                    && r.train_seconds > minutes * 60.0,
                curve: r.curve.clone(),
            });
            run_results.push(r);
        }
        // Packs name the dataset as the models were tested on it: the full
        // dataset (test side identical; deep models saw fewer training flows).
        let manifest = Manifest::new(vec![run::pack(&ds, &run_results)]);
        std::fs::write(out.join("manifest.json"), manifest.to_json())?;
        std::fs::write(
            out.join("results.json"),
            serde_json::to_string_pretty(&run_results)?,
        )?;
        info = Some((ds, deep_ds.counts().0));
    }
    let (ds, deep_train_flows) = info.context("no model to train")?;
    let (train, val, test) = ds.counts();
    Ok(DatasetReport {
        name: ds.spec.name.clone(),
        classes: ds.classes.clone(),
        flows: Flows { train, val, test },
        deep_train_flows,
        data_hash: ds.data_hash.clone(),
        left_out: ds.left_out.clone(),
        unlabelled: ds.unlabelled,
        results,
        attention,
    })
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
