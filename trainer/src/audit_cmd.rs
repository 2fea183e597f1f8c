//! `trainer audit`: what each model really relies on, and whether it
//! travels (issue 5).
//!
//! ```text
//! for each --data DIR (view all; deep models on a capped training side):
//!   train cnn, lstm, sae, han (bytes) and c45, knn (key features)
//!   1. perturbation: every AUDIT group x {randomise, zero} on the test side
//!   2. ablation:     retrain --ablation-models with each site-dependent
//!                    group zeroed (and all of them at once)
//!   3. agreement:    group rankings by HAN attention, gradient x input,
//!                    integrated gradients and perturbation drop; Spearman
//!   4. splits:       packet-level samples split per packet / flow / capture
//! 5. portability: every ordered pair of --data / --portability-data
//!    datasets with >= 2 shared (canonical) classes: train on one, test on
//!    the other
//! OUT/audit.json, OUT/audit.md, OUT/*.svg
//! ```
//!
//! Deterministic for a seed: datasets are sampled and split with it,
//! training is seeded and bounded by epochs only (no wall clock), noise is
//! keyed by it. Budgets are printed in audit.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use candle_core::Device;
use flowlens_core::classifier::Classifier;
use flowlens_core::explain::{AttentionLevel, Method, Mode, Perturbation, AUDIT_GROUPS};
use flowlens_core::manifest::Architecture;
use flowlens_core::repr::{FieldGroup, Representation, View};
use serde::{Deserialize, Serialize};

use crate::audit::{self, encoded};
use crate::audit_report;
use crate::dataset::{BuildSpec, Dataset, Side, SplitBy};
use crate::reproduce_cmd::cap_training;
use crate::run::{self, ModelResult};
use crate::train::TrainOpts;

#[derive(clap::Args, Debug, Clone)]
pub struct AuditArgs {
    /// Dataset roots (`<root>/<label>/*.pcap|*.pcapng`): every section.
    #[arg(long = "data", required_unless_present = "render_only", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Only rewrite audit.md and the SVGs from OUT/audit.json (no training).
    #[arg(long)]
    pub render_only: bool,
    /// More dataset roots for the portability matrix only.
    #[arg(long = "portability-data", num_args = 1..)]
    pub portability_data: Vec<PathBuf>,
    /// Where audit.json, audit.md and the SVGs go.
    #[arg(long)]
    pub out: PathBuf,
    /// Small budgets (minutes for the shared datasets, seconds on fixtures).
    #[arg(long)]
    pub quick: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Models of sections 1-3 (comma-separated subset of cnn,lstm,sae,han,c45,knn).
    #[arg(long, default_value = "cnn,lstm,sae,han,c45,knn")]
    pub models: String,
    /// Models retrained per masked group [full: cnn,lstm; quick: cnn].
    #[arg(long)]
    pub ablation_models: Option<String>,
    /// Models of the split study [full: cnn,lstm,c45,knn; quick: cnn,c45].
    #[arg(long)]
    pub split_models: Option<String>,
    /// Models of the portability matrix [full: cnn,lstm,c45,knn; quick: cnn,c45].
    #[arg(long)]
    pub portability_models: Option<String>,
    /// Flows sampled per class [full: 300, quick: 60].
    #[arg(long)]
    pub max_per_class: Option<usize>,
    /// Classes with fewer flows are left out [full: 20, quick: 5].
    #[arg(long)]
    pub min_per_class: Option<usize>,
    /// Classes with fewer flows are left out of the portability datasets
    /// [full: 10, quick: 3].
    #[arg(long)]
    pub portability_min_per_class: Option<usize>,
    /// Training flows per class for the deep models [full: 100, quick: 30].
    #[arg(long)]
    pub deep_train_per_class: Option<usize>,
    /// Epochs per deep model (early stop on validation accuracy, patience 2)
    /// [full: 6, quick: 2].
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Test flows attributed per model for the agreement [full: 96, quick: 16].
    #[arg(long)]
    pub attribution_flows: Option<usize>,
    /// Integrated-gradient steps.
    #[arg(long, default_value_t = 8)]
    pub ig_steps: usize,
    #[arg(long, default_value_t = 8)]
    pub packets: usize,
    #[arg(long, default_value_t = 128)]
    pub bytes_per_packet: usize,
    /// Where built datasets are cached.
    #[arg(long, default_value = "target/flowlens-cache")]
    pub cache: PathBuf,
    /// Where the trained models' weights go [CACHE/audit-runs].
    #[arg(long)]
    pub runs: Option<PathBuf>,
}

/// Budgets after defaults (written into audit.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditBudgets {
    pub models: Vec<String>,
    pub ablation_models: Vec<String>,
    pub split_models: Vec<String>,
    pub portability_models: Vec<String>,
    pub max_per_class: usize,
    pub min_per_class: usize,
    pub portability_min_per_class: usize,
    pub deep_train_per_class: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub batch_size: usize,
    pub attribution_flows: usize,
    pub ig_steps: usize,
    pub packets: usize,
    pub bytes_per_packet: usize,
}

impl AuditArgs {
    fn budgets(&self) -> AuditBudgets {
        let q = self.quick;
        let list = |v: &Option<String>, full: &str, quick: &str| -> Vec<String> {
            v.clone()
                .unwrap_or_else(|| if q { quick } else { full }.to_string())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        AuditBudgets {
            models: list(&Some(self.models.clone()), "", ""),
            ablation_models: list(&self.ablation_models, "cnn,lstm", "cnn"),
            split_models: list(&self.split_models, "cnn,lstm,c45,knn", "cnn,c45"),
            portability_models: list(&self.portability_models, "cnn,lstm,c45,knn", "cnn,c45"),
            max_per_class: self.max_per_class.unwrap_or(if q { 60 } else { 300 }),
            min_per_class: self.min_per_class.unwrap_or(if q { 5 } else { 20 }),
            portability_min_per_class: self.portability_min_per_class.unwrap_or(if q {
                3
            } else {
                10
            }),
            deep_train_per_class: self
                .deep_train_per_class
                .unwrap_or(if q { 30 } else { 100 }),
            max_epochs: self.max_epochs.unwrap_or(if q { 2 } else { 6 }),
            patience: 2,
            batch_size: 32,
            attribution_flows: self.attribution_flows.unwrap_or(if q { 16 } else { 96 }),
            ig_steps: self.ig_steps,
            packets: self.packets,
            bytes_per_packet: self.bytes_per_packet,
        }
    }
}

/// The whole audit, as written to audit.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Audit {
    pub meta: AuditMeta,
    pub datasets: Vec<DatasetSummary>,
    pub perturbation: Vec<PerturbationRow>,
    pub ablation: Vec<AblationRow>,
    pub agreement: Vec<AgreementRow>,
    pub splits: Vec<SplitRow>,
    pub portability: Vec<PortabilityRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditMeta {
    pub command_line: String,
    pub git_commit: String,
    pub seed: u64,
    pub quick: bool,
    pub threads: usize,
    pub budgets: AuditBudgets,
    pub total_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub name: String,
    pub data_hash: String,
    pub classes: Vec<String>,
    pub train: usize,
    pub val: usize,
    pub test: usize,
    pub deep_train: usize,
    pub left_out: Vec<(String, usize)>,
}

/// One model under one perturbation (issue 5's shape, plus deltas and flips).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PerturbationRow {
    pub dataset: String,
    pub model: String,
    /// `all` (deep models: bytes) or `key` (C4.5, k-NN: key features).
    pub view: String,
    /// A field group, or `none` for the unperturbed baseline.
    pub group: String,
    /// `randomise`, `zero` (or `none`).
    pub mode: String,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub delta_accuracy: f64,
    pub delta_macro_f1: f64,
    /// Test flows whose prediction changed.
    pub flipped: usize,
    pub flows: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AblationRow {
    pub dataset: String,
    pub model: String,
    /// The masked group, `site_dependent_all` for all of them, `none` for
    /// the unmasked reference.
    pub masked: String,
    pub groups: Vec<String>,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub delta_accuracy: f64,
    pub delta_macro_f1: f64,
    pub epochs: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgreementRow {
    pub dataset: String,
    pub model: String,
    /// Explanation methods compared: `attention`, `gradient_input`,
    /// `integrated_gradients`, `perturbation` (accuracy drop, randomise).
    pub a: String,
    pub b: String,
    /// Spearman over the field groups (`null`: a ranking is constant).
    pub spearman: Option<f64>,
    /// The groups, most important first, by `a` and by `b`.
    pub ranking_a: Vec<String>,
    pub ranking_b: Vec<String>,
    /// Score per group (in [`AUDIT_GROUPS`] order) by `a` and by `b`.
    pub scores_a: Vec<f64>,
    pub scores_b: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitRow {
    pub dataset: String,
    pub model: String,
    /// `packet`, `flow` or `capture`.
    pub split: String,
    pub accuracy: Option<f64>,
    pub macro_f1: Option<f64>,
    pub classes: usize,
    pub train: usize,
    pub test: usize,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortabilityRow {
    pub model: String,
    pub source: String,
    pub target: String,
    /// Shared canonical classes (the ones trained and tested).
    pub classes: Vec<String>,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub test_flows: usize,
    /// `source == target`: the source's own test side.
    pub in_source: bool,
}

fn archs(names: &[String]) -> anyhow::Result<Vec<Architecture>> {
    names.iter().map(|m| run::parse_architecture(m)).collect()
}

pub fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    if args.render_only {
        let path = args.out.join("audit.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let audit: Audit =
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        audit_report::write_rendered(&audit, &args.out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let audit = audit(args)?;
    audit_report::write(&audit, &args.out)?;
    eprintln!(
        "wrote {} ({:.1} min)",
        args.out.join("audit.md").display(),
        audit.meta.total_seconds / 60.0
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs every section and returns the audit (written by the caller).
pub fn audit(args: &AuditArgs) -> anyhow::Result<Audit> {
    let start = Instant::now();
    let b = args.budgets();
    let runs = args
        .runs
        .clone()
        .unwrap_or_else(|| args.cache.join("audit-runs"));
    std::fs::create_dir_all(&runs).with_context(|| format!("cannot create {}", runs.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let ctx = Ctx {
        args,
        b: b.clone(),
        runs,
        commit: run::git_commit(),
        device: Device::Cpu,
    };
    let mut out = Audit {
        meta: AuditMeta {
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            git_commit: ctx.commit.clone(),
            seed: args.seed,
            quick: args.quick,
            threads: candle_core::utils::get_num_threads(),
            budgets: b.clone(),
            total_seconds: 0.0,
        },
        datasets: Vec::new(),
        perturbation: Vec::new(),
        ablation: Vec::new(),
        agreement: Vec::new(),
        splits: Vec::new(),
        portability: Vec::new(),
    };
    for root in &args.data {
        ctx.dataset_sections(root, &mut out)?;
    }
    let mut roots = args.data.clone();
    roots.extend(args.portability_data.iter().cloned());
    out.portability = ctx.portability(&roots)?;
    out.meta.total_seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

struct Ctx<'a> {
    args: &'a AuditArgs,
    b: AuditBudgets,
    runs: PathBuf,
    commit: String,
    device: Device,
}

impl Ctx<'_> {
    fn spec(&self, root: &Path, min_per_class: usize) -> anyhow::Result<BuildSpec> {
        Ok(BuildSpec {
            name: root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "dataset".into()),
            roots: vec![root.to_path_buf()],
            labels: None,
            repr: Representation::new(self.b.packets, self.b.bytes_per_packet, View::All)?,
            max_per_class: self.b.max_per_class,
            min_per_class,
            seed: self.args.seed,
            split_by: SplitBy::Flow,
        })
    }

    fn opts(&self) -> TrainOpts {
        TrainOpts {
            max_epochs: self.b.max_epochs,
            batch_size: self.b.batch_size,
            patience: self.b.patience,
            sae_pretrain_epochs: 1,
            // Epoch caps only: the audit must not depend on the machine's speed.
            max_minutes: 1e9,
            seed: self.args.seed,
            ..TrainOpts::default()
        }
    }

    /// Trains `arch` on `ds` (deep models on `deep`), returns the result
    /// and the loaded classifier.
    fn train(
        &self,
        arch: Architecture,
        ds: &Dataset,
        deep: &Dataset,
        what: &str,
    ) -> anyhow::Result<(ModelResult, Classifier)> {
        let train_ds = if arch.is_deep() { deep } else { ds };
        let dir = self.runs.join(run::slug(what));
        std::fs::create_dir_all(&dir)?;
        let r = run::train_one(
            arch,
            train_ds,
            &self.opts(),
            &dir,
            &self.commit,
            &mut |_| {},
        )?;
        let bytes = std::fs::read(dir.join(&r.entry.weights.file))?;
        let clf = Classifier::load(&r.entry, &bytes, &self.device)?;
        eprintln!(
            "audit {what} {}: test accuracy {:.4}, macro-F1 {:.4} ({:.1} s)",
            arch.as_str(),
            r.metrics.accuracy,
            r.metrics.macro_f1,
            r.train_seconds
        );
        Ok((r, clf))
    }

    fn dataset_sections(&self, root: &Path, out: &mut Audit) -> anyhow::Result<()> {
        let (ds, _) =
            Dataset::build_cached(self.spec(root, self.b.min_per_class)?, &self.args.cache)
                .with_context(|| format!("dataset {}", root.display()))?;
        let deep = cap_training(&ds, self.b.deep_train_per_class, self.args.seed);
        let name = ds.spec.name.clone();
        let (train, val, test) = ds.counts();
        out.datasets.push(DatasetSummary {
            name: name.clone(),
            data_hash: ds.data_hash.clone(),
            classes: ds.classes.clone(),
            train,
            val,
            test,
            deep_train: deep.counts().0,
            left_out: ds.left_out.clone(),
        });
        let test_idx = ds.indices(Side::Test);
        let base_flows = encoded(&ds, &test_idx);
        for arch in archs(&self.b.models)? {
            let (_, clf) = self.train(arch, &ds, &deep, &name)?;
            // 1. Perturbation.
            let view = if arch.is_deep() { "all" } else { "key" };
            let (base, base_pred) =
                audit::evaluate(&clf, &ds, &test_idx, &base_flows, &self.device)?;
            let row =
                |group: &str, mode: &str, m: &crate::metrics::Metrics, flipped| PerturbationRow {
                    dataset: name.clone(),
                    model: arch.as_str().to_string(),
                    view: view.to_string(),
                    group: group.to_string(),
                    mode: mode.to_string(),
                    accuracy: m.accuracy,
                    macro_f1: m.macro_f1,
                    delta_accuracy: m.accuracy - base.accuracy,
                    delta_macro_f1: m.macro_f1 - base.macro_f1,
                    flipped,
                    flows: test_idx.len(),
                };
            out.perturbation.push(row("none", "none", &base, 0));
            let mut drop = BTreeMap::new();
            for group in AUDIT_GROUPS {
                for mode in Mode::ALL {
                    let p = Perturbation::new(group, mode, self.args.seed)?;
                    let flows = base_flows.perturbed(&ds.spec.repr, &p)?;
                    let (m, pred) = audit::evaluate(&clf, &ds, &test_idx, &flows, &self.device)?;
                    let flipped = pred.iter().zip(&base_pred).filter(|(a, b)| a != b).count();
                    if mode == Mode::Randomise {
                        drop.insert(group, base.accuracy - m.accuracy);
                    }
                    out.perturbation
                        .push(row(group.name(), mode.name(), &m, flipped));
                }
            }
            // 3. Agreement (deep models).
            if let Classifier::Deep(model) = &clf {
                let flows: Vec<usize> = test_idx
                    .iter()
                    .copied()
                    .take(self.b.attribution_flows)
                    .collect();
                let mut scores: Vec<(String, BTreeMap<FieldGroup, f64>)> = Vec::new();
                if arch == Architecture::Han {
                    let m = Method::Attention {
                        level: AttentionLevel::Combined,
                    };
                    scores.push((
                        "attention".into(),
                        audit::attribution_shares(model, &ds, &flows, m)?,
                    ));
                }
                scores.push((
                    "gradient_input".into(),
                    audit::attribution_shares(model, &ds, &flows, Method::GradientInput)?,
                ));
                scores.push((
                    "integrated_gradients".into(),
                    audit::attribution_shares(
                        model,
                        &ds,
                        &flows,
                        Method::IntegratedGradients {
                            steps: self.b.ig_steps,
                        },
                    )?,
                ));
                scores.push(("perturbation".into(), drop.clone()));
                for i in 0..scores.len() {
                    for j in i + 1..scores.len() {
                        out.agreement.push(agreement_row(
                            &name,
                            arch.as_str(),
                            &scores[i],
                            &scores[j],
                        ));
                    }
                }
            }
        }
        // 2. Ablation.
        let ablation = archs(&self.b.ablation_models)?;
        if !ablation.is_empty() {
            let mut masks: Vec<(String, Vec<FieldGroup>)> = vec![("none".into(), Vec::new())];
            masks.extend(
                audit::site_groups()
                    .into_iter()
                    .map(|g| (g.name().to_string(), vec![g])),
            );
            masks.push(("site_dependent_all".into(), audit::site_groups()));
            let mut reference: BTreeMap<&'static str, (f64, f64)> = BTreeMap::new();
            for (label, groups) in &masks {
                let masked_ds = audit::mask_dataset(&ds, groups)?;
                let masked_deep = audit::mask_dataset(&deep, groups)?;
                for &arch in &ablation {
                    let what = format!("{name}.ablation.{label}");
                    let (r, _) = self.train(arch, &masked_ds, &masked_deep, &what)?;
                    let (acc, f1) = (r.metrics.accuracy, r.metrics.macro_f1);
                    let base = *reference.entry(arch.as_str()).or_insert((acc, f1));
                    out.ablation.push(AblationRow {
                        dataset: name.clone(),
                        model: arch.as_str().to_string(),
                        masked: label.clone(),
                        groups: groups.iter().map(|g| g.name().to_string()).collect(),
                        accuracy: acc,
                        macro_f1: f1,
                        delta_accuracy: acc - base.0,
                        delta_macro_f1: f1 - base.1,
                        epochs: r.curve.len(),
                    });
                }
            }
        }
        // 4. Split honesty.
        out.splits.extend(self.splits(&ds)?);
        Ok(())
    }

    /// Packet-level samples split per packet, per flow and per capture.
    fn splits(&self, ds: &Dataset) -> anyhow::Result<Vec<SplitRow>> {
        let name = ds.spec.name.clone();
        let (pk, flow_of) = audit::packet_samples(ds, self.b.max_per_class, self.args.seed)?;
        let n = pk.n();
        let packet_unit: Vec<u32> = (0..n as u32).collect();
        let capture_unit = pk.capture.clone();
        // The classes every split can use: those with samples in >= 2 captures.
        let (cap_rows, _) = audit::split_by_unit(&pk.y, &capture_unit, &flow_of, self.args.seed);
        let cap_classes: std::collections::BTreeSet<u32> =
            cap_rows.iter().map(|&r| pk.y[r]).collect();
        let capture_ok = cap_classes.len() >= 2;
        let common: Vec<usize> = (0..n)
            .filter(|&r| !capture_ok || cap_classes.contains(&pk.y[r]))
            .collect();
        let pick = |v: &[u32]| -> Vec<u32> { common.iter().map(|&r| v[r]).collect() };
        let base = pk.subset(&common);
        let (y, fl) = (base.y.clone(), pick(&flow_of));
        let packet_split =
            audit::split_by_unit(&y, &pick(&packet_unit), &pick(&packet_unit), self.args.seed);
        let flow_split = audit::split_by_unit(&y, &fl, &fl, self.args.seed);
        let capture_split = if capture_ok {
            Some(audit::split_by_unit(
                &y,
                &pick(&capture_unit),
                &fl,
                self.args.seed,
            ))
        } else {
            None
        };
        let classes_used = |rows: &[usize]| -> usize {
            rows.iter()
                .map(|&r| y[r])
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        let mut rows = Vec::new();
        for arch in archs(&self.b.split_models)? {
            for (split, s) in [
                ("packet", Some(&packet_split)),
                ("flow", Some(&flow_split)),
                ("capture", capture_split.as_ref()),
            ] {
                let Some((keep, sides)) = s else {
                    rows.push(SplitRow {
                        dataset: name.clone(),
                        model: arch.as_str().to_string(),
                        split: split.into(),
                        accuracy: None,
                        macro_f1: None,
                        classes: 0,
                        train: 0,
                        test: 0,
                        note: "fewer than two classes have packets in two or more captures".into(),
                    });
                    continue;
                };
                let d = audit::with_sides(&base, keep, sides);
                let what = format!("{name}.split.{split}");
                let (r, _) = self.train(arch, &d, &d, &what)?;
                let (train, _, test) = d.counts();
                rows.push(SplitRow {
                    dataset: name.clone(),
                    model: arch.as_str().to_string(),
                    split: split.into(),
                    accuracy: Some(r.metrics.accuracy),
                    macro_f1: Some(r.metrics.macro_f1),
                    classes: classes_used(keep),
                    train,
                    test,
                    note: String::new(),
                });
            }
        }
        Ok(rows)
    }

    /// Every ordered pair of datasets with at least two shared classes.
    fn portability(&self, roots: &[PathBuf]) -> anyhow::Result<Vec<PortabilityRow>> {
        let models = archs(&self.b.portability_models)?;
        if models.is_empty() || roots.len() < 2 {
            return Ok(Vec::new());
        }
        let mut sets = Vec::new();
        for root in roots {
            let (ds, _) = Dataset::build_cached(
                self.spec(root, self.b.portability_min_per_class)?,
                &self.args.cache,
            )
            .with_context(|| format!("dataset {}", root.display()))?;
            sets.push(ds);
        }
        let mut rows = Vec::new();
        for (si, src) in sets.iter().enumerate() {
            for (ti, tgt) in sets.iter().enumerate() {
                if si == ti {
                    continue;
                }
                let classes = audit::overlap(src, tgt);
                if classes.len() < 2 {
                    continue;
                }
                let s = audit::restrict(src, &classes, false);
                let t = audit::restrict(tgt, &classes, true);
                if s.indices(Side::Train).is_empty() || s.indices(Side::Test).is_empty() {
                    continue;
                }
                let deep = cap_training(&s, self.b.deep_train_per_class, self.args.seed);
                let what = format!("{}.to.{}", src.spec.name, tgt.spec.name);
                for &arch in &models {
                    let (r, clf) = self.train(arch, &s, &deep, &what)?;
                    let t_idx: Vec<usize> = (0..t.n()).collect();
                    let flows = encoded(&t, &t_idx);
                    let (m, _) = audit::evaluate(&clf, &t, &t_idx, &flows, &self.device)?;
                    let mk = |target: &str, acc, f1, n, in_source| PortabilityRow {
                        model: arch.as_str().to_string(),
                        source: src.spec.name.clone(),
                        target: target.to_string(),
                        classes: classes.clone(),
                        accuracy: acc,
                        macro_f1: f1,
                        test_flows: n,
                        in_source,
                    };
                    rows.push(mk(
                        &src.spec.name,
                        r.metrics.accuracy,
                        r.metrics.macro_f1,
                        s.indices(Side::Test).len(),
                        true,
                    ));
                    rows.push(mk(&tgt.spec.name, m.accuracy, m.macro_f1, t.n(), false));
                }
            }
        }
        Ok(rows)
    }
}

/// Spearman between two group scorings (over [`AUDIT_GROUPS`]; a group
/// a method gives no weight to scores 0).
fn agreement_row(
    dataset: &str,
    model: &str,
    (a_name, a): &(String, BTreeMap<FieldGroup, f64>),
    (b_name, b): &(String, BTreeMap<FieldGroup, f64>),
) -> AgreementRow {
    let score = |m: &BTreeMap<FieldGroup, f64>| -> Vec<f64> {
        AUDIT_GROUPS
            .iter()
            .map(|g| m.get(g).copied().unwrap_or(0.0))
            .collect()
    };
    let (sa, sb) = (score(a), score(b));
    let ranking = |s: &[f64]| -> Vec<String> {
        let mut order: Vec<usize> = (0..s.len()).collect();
        order.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
        order
            .into_iter()
            .map(|i| AUDIT_GROUPS[i].name().to_string())
            .collect()
    };
    AgreementRow {
        dataset: dataset.to_string(),
        model: model.to_string(),
        a: a_name.clone(),
        b: b_name.clone(),
        spearman: audit::spearman(&sa, &sb),
        ranking_a: ranking(&sa),
        ranking_b: ranking(&sb),
        scores_a: sa,
        scores_b: sb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline_tests::CLASSES;

    /// `<dir>/<label>/<file>` with file `which` (0 or 1) of every class of
    /// the pipeline fixtures, or both.
    fn fixtures(dir: &Path, which: Option<usize>) -> PathBuf {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
        for (label, files) in CLASSES {
            let d = dir.join(label);
            std::fs::create_dir_all(&d).expect("temp dir");
            for (k, f) in files.iter().enumerate() {
                if which.is_none_or(|w| w == k) {
                    std::fs::copy(data.join(f), d.join(f)).expect("fixture copy");
                }
            }
        }
        dir.to_path_buf()
    }

    #[test]
    fn audit_on_fixtures_produces_every_table() {
        let tmp = std::env::temp_dir().join(format!("flowlens-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let both = fixtures(&tmp.join("both"), None);
        let first = fixtures(&tmp.join("first"), Some(0));
        let second = fixtures(&tmp.join("second"), Some(1));
        let out = tmp.join("out");
        let args = AuditArgs {
            data: vec![both],
            portability_data: vec![first, second],
            render_only: false,
            out: out.clone(),
            quick: true,
            seed: 3,
            models: "cnn,han,c45,knn".into(),
            ablation_models: Some("cnn".into()),
            split_models: Some("cnn,c45".into()),
            portability_models: Some("cnn,knn".into()),
            max_per_class: Some(40),
            min_per_class: Some(3),
            portability_min_per_class: Some(2),
            deep_train_per_class: Some(20),
            max_epochs: Some(1),
            attribution_flows: Some(6),
            ig_steps: 2,
            packets: 4,
            bytes_per_packet: 64,
            cache: tmp.join("cache"),
            runs: None,
        };
        let a = audit(&args).expect("audit on fixtures");
        // 1. Every model x group x mode, plus the unperturbed row.
        for m in ["cnn", "han", "c45", "knn"] {
            let rows: Vec<_> = a.perturbation.iter().filter(|r| r.model == m).collect();
            assert_eq!(rows.len(), 1 + AUDIT_GROUPS.len() * 2, "{m}");
            let base = rows
                .iter()
                .find(|r| r.group == "none")
                .expect("baseline row");
            for r in &rows {
                assert!((r.delta_accuracy - (r.accuracy - base.accuracy)).abs() < 1e-12);
                assert!(r.flows > 0);
            }
        }
        // The baselines cannot see TTL: its perturbation never moves them.
        for r in a
            .perturbation
            .iter()
            .filter(|r| r.view == "key" && r.group == "ttl")
        {
            assert_eq!(r.flipped, 0);
        }
        // 2. Ablation: the reference and every site-dependent group and all.
        assert_eq!(a.ablation.len(), 1 + audit::site_groups().len() + 1);
        assert!(a.ablation.iter().any(|r| r.masked == "site_dependent_all"));
        // 3. Agreement: HAN compares attention, gradients, IG, perturbation.
        let han: Vec<_> = a.agreement.iter().filter(|r| r.model == "han").collect();
        assert_eq!(han.len(), 6);
        assert!(a
            .agreement
            .iter()
            .all(|r| r.ranking_a.len() == AUDIT_GROUPS.len()));
        // 4. Splits: three per split model, capture split possible (2 files per class).
        assert_eq!(a.splits.len(), 6);
        assert!(
            a.splits.iter().all(|r| r.accuracy.is_some()),
            "{:?}",
            a.splits
        );
        // 5. Portability: the datasets share the three classes.
        assert!(a
            .portability
            .iter()
            .any(|r| !r.in_source && r.classes.len() == 3));
        audit_report::write(&a, &out).expect("report");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("audit.json")).expect("json"))
                .expect("valid json");
        for key in [
            "perturbation",
            "ablation",
            "agreement",
            "splits",
            "portability",
        ] {
            assert!(
                json[key].as_array().is_some_and(|v| !v.is_empty()),
                "{key} missing"
            );
        }
        let md = std::fs::read_to_string(out.join("audit.md")).expect("md");
        for section in [
            "### 1. Test-time perturbation",
            "### 2. Train-time ablation",
            "### 3. Agreement of explanations",
            "### 4. Split honesty",
            "## 5. Portability",
        ] {
            assert!(md.contains(section), "{section}");
        }
        for svg in [
            "perturbation-both.svg",
            "ablation-both.svg",
            "splits-both.svg",
            "portability.svg",
        ] {
            let text = std::fs::read_to_string(out.join(svg)).expect(svg);
            assert!(text.starts_with("<svg") && text.contains("<rect"));
        }
        // Deterministic: the same seed gives the same numbers.
        let again = audit(&args).expect("second run");
        let strip = |a: &Audit| {
            let mut v = serde_json::to_value(a).expect("json");
            v["meta"] = serde_json::Value::Null;
            v
        };
        assert_eq!(strip(&a), strip(&again));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
