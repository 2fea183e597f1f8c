//! The reproduction report: `report.json` (serde types below), `report.md`
//! (our numbers beside the paper's) and hand-written SVG figures
//! (confusion matrices, training curves, attention per header field).
//!
//! The SVGs are plain strings: no plotting dependency, no fonts embedded,
//! readable in any browser and on GitHub.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::metrics::ClassMetrics;
use crate::train::EpochStat;

/// The whole report (`report.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub meta: Meta,
    pub datasets: Vec<DatasetReport>,
}

/// How the report was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub command_line: String,
    pub git_commit: String,
    pub seed: u64,
    pub quick: bool,
    /// Threads candle's CPU backend uses per model (`RAYON_NUM_THREADS`).
    pub threads: usize,
    /// Models trained at once.
    #[serde(default)]
    pub jobs: Option<usize>,
    /// 1-minute load average at the start and at the end of the run (the
    /// machine may be shared; timings depend on it, results do not).
    #[serde(default)]
    pub load_average: Option<[Option<f64>; 2]>,
    pub budgets: Budgets,
    pub total_seconds: f64,
}

/// Every cap that makes our numbers differ from an unbounded run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Budgets {
    /// Flows sampled per class (the paper: 5,000), before the 80/10/10 split.
    pub max_per_class: usize,
    /// Classes with fewer flows are left out.
    pub min_per_class: usize,
    /// Training flows per class SAE, CNN and LSTM see (validation and test
    /// sides are never capped; C4.5 and k-NN use the whole training side).
    pub deep_train_per_class: usize,
    /// Training flows per class HAN sees (`None` in older reports: as SAE's).
    #[serde(default)]
    pub han_train_per_class: Option<usize>,
    /// Epochs for SAE, CNN and LSTM.
    pub max_epochs: usize,
    /// Epochs for HAN (`None` in older reports: `max_epochs`).
    #[serde(default)]
    pub han_max_epochs: Option<usize>,
    /// Reconstruction epochs per SAE layer before fine-tuning.
    #[serde(default)]
    pub sae_pretrain_epochs: Option<usize>,
    /// Safety cap per deep model, wall clock (the best epoch so far is
    /// kept). Older reports used it as the budget.
    pub max_minutes_per_model: f64,
    /// Older reports: HAN's wall-clock budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub han_max_minutes: Option<f64>,
    pub patience: usize,
    pub batch_size: usize,
    pub packets: usize,
    pub bytes_per_packet: usize,
    /// Whether a count budget was set on the command line (not the
    /// defaults of `trainer reproduce`).
    #[serde(default)]
    pub overridden: Option<bool>,
}

impl Budgets {
    pub fn han_per_class(&self) -> usize {
        self.han_train_per_class
            .unwrap_or(self.deep_train_per_class)
    }

    pub fn han_epochs(&self) -> usize {
        self.han_max_epochs.unwrap_or(self.max_epochs)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Flows {
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

/// One dataset's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetReport {
    pub name: String,
    pub classes: Vec<String>,
    pub flows: Flows,
    /// Training flows SAE, CNN and LSTM saw (after `deep_train_per_class`).
    pub deep_train_flows: usize,
    /// Training flows HAN saw (after `han_train_per_class`).
    #[serde(default)]
    pub han_train_flows: Option<usize>,
    pub data_hash: String,
    /// Classes left out (fewer than `min_per_class` flows), with their counts.
    pub left_out: Vec<(String, usize)>,
    /// Flows read but without a label.
    pub unlabelled: usize,
    pub results: Vec<ModelReport>,
    /// HAN attention on the `all` view (Table 2), when HAN was trained.
    pub attention: Option<AttentionReport>,
}

/// One model on one view of one dataset, evaluated on the test side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelReport {
    /// `all` or `key`.
    pub view: String,
    /// `sae`, `cnn`, `lstm`, `han`, `c45`, `knn`.
    pub model: String,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: BTreeMap<String, ClassMetrics>,
    /// `confusion[true][predicted]`, classes in `DatasetReport::classes` order.
    pub confusion: Vec<Vec<usize>>,
    pub train_seconds: f64,
    pub train_flows: usize,
    /// Deep models: loss and validation accuracy per epoch.
    pub curve: Vec<EpochStat>,
    pub best_epoch: Option<usize>,
    /// The epoch loop stopped on the wall-clock safety cap (the result then
    /// depends on the machine's speed and load).
    pub hit_time_budget: bool,
}

/// HAN attention (Table 2): sampled flows and the whole test side by field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttentionReport {
    pub examples: Vec<FlowAttention>,
    /// Mean share of the combined attention per header field over the
    /// test side, highest first.
    pub fields: Vec<FieldShare>,
    pub test_flows: usize,
}

/// Attention on one test flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowAttention {
    pub class: String,
    pub predicted: String,
    /// Capture file the flow came from (file name only).
    pub capture: String,
    pub top_packets: Vec<PacketWeight>,
    pub top_bytes: Vec<ByteWeight>,
    pub top_fields: Vec<FieldWeight>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PacketWeight {
    /// 1-based, as in the paper's Table 2.
    pub packet: usize,
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByteWeight {
    /// 1-based packet number.
    pub packet: usize,
    /// Offset from the start of the IP header.
    pub offset: usize,
    /// The byte the model saw (hex), with up to 3 bytes either side.
    pub context: String,
    pub value: String,
    pub field: String,
    /// packet attention × byte attention.
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldWeight {
    pub field: String,
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldShare {
    pub field: String,
    pub group: String,
    pub site_dependent: bool,
    /// Mean over test flows of the summed combined attention of the field's bytes.
    pub share: f64,
}

/// The paper's accuracies (%), Table 3 (`all`) and Table 4 (`key`), per trace.
pub fn paper_accuracy(trace: &str, view: &str, model: &str) -> Option<f64> {
    let t3: [(&str, [f64; 4]); 3] = [
        ("WIDE", [97.2, 98.5, 99.4, 100.0]),
        ("USTC", [99.2, 99.7, 99.4, 100.0]),
        ("CTU", [98.2, 98.2, 96.3, 98.5]),
    ];
    let t4: [(&str, [f64; 6]); 3] = [
        ("WIDE", [96.9, 98.7, 99.5, 99.7, 99.7, 87.8]),
        ("USTC", [53.7, 55.6, 10.1, 89.7, 89.7, 79.8]),
        ("CTU", [72.0, 86.9, 80.5, 82.8, 95.9, 87.2]),
    ];
    let col = ["sae", "cnn", "lstm", "han", "c45", "knn"]
        .iter()
        .position(|m| *m == model)?;
    match view {
        "all" => t3
            .iter()
            .find(|(t, _)| *t == trace)
            .and_then(|(_, r)| r.get(col).copied()),
        "key" => t4.iter().find(|(t, _)| *t == trace).map(|(_, r)| r[col]),
        _ => None,
    }
}

/// Which of the paper's traces a dataset is compared with, and how well the
/// comparison holds.
pub fn paper_traces(dataset: &str) -> (Vec<&'static str>, &'static str) {
    let d = dataset.to_ascii_lowercase();
    if d.starts_with("ustc") {
        (
            vec!["USTC", "CTU"],
            "Closest match. Our USTC-TFC2016-784B holds the paper's USTC classes (10 benign apps) *and* its CTU \
             classes (10 malware families, taken by USTC-TFC2016 from CTU), as one 20-class problem; the paper \
             trained USTC and CTU separately. We therefore also give the accuracy on the benign test flows (beside \
             the paper's USTC row) and on the malware test flows (beside its CTU row), with predictions over all \
             20 classes. Our sessions are cut at 784 bytes and come from the t10k split only (the only one published \
             in a size we have), so there are at most ~960 sessions per class instead of 5,000.",
        )
    } else if d.starts_with("ndpi") {
        (
            vec!["WIDE"],
            "Apples to oranges. The paper's WIDE trace is one backbone link in Japan with 6 classes; nDPI-tests is \
             nDPI's regression captures from many networks, with nDPI's labels (17 protocols, small ones left out \
             below the minimum), grouped finer than WIDE's (HTTP/QUIC vs Web, TLS/SSH vs SSH/SSL, ...). Only the \
             direction of the comparison (all bytes vs key features) is meaningful.",
        )
    } else if d.starts_with("iscx") {
        (
            vec![],
            "Not in the paper. ISCX VPN-nonVPN 2016 (non-VPN part, 784-byte sessions). Per SOURCES.md most Chat, \
             Email and File sessions (89-93 %) and 30 % of Voip are LAN chatter (LLMNR, NetBIOS, mDNS, ...) or DNS of \
             the capture host, not the labelled application: a high accuracy here mostly measures how well a model \
             recognises the host's background traffic.",
        )
    } else {
        (vec![], "Not in the paper.")
    }
}

/// What each model saw, for the report.
pub fn view_description(view: &str, model: &str) -> &'static str {
    match (view, model) {
        ("all", _) => "every byte of the first 8 packets × 128 bytes from the IP header on, addresses zeroed",
        ("key", "c45" | "knn") => {
            "12 numbers: IP protocol, initiator's ports, packet count, signed IP length of packets 1-8"
        }
        ("key", _) => {
            "8 × 128 bytes with only ports, length fields and protocol kept, every other byte zero \
             (direction and packet count implicit)"
        }
        _ => "",
    }
}

// ---------------------------------------------------------------- SVG

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn svg_open(w: f64, h: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    )
}

/// A confusion matrix, rows = true class, columns = predicted; cells shaded
/// by the row-normalised value, counts written in.
pub fn confusion_svg(title: &str, classes: &[String], confusion: &[Vec<usize>]) -> String {
    let k = classes.len();
    let cell = if k > 12 { 22.0 } else { 34.0 };
    let label_w = 8.0 + 6.5 * classes.iter().map(|c| c.len()).max().unwrap_or(4) as f64;
    let (x0, y0) = (label_w + 10.0, label_w + 40.0);
    let w = x0 + cell * k as f64 + 20.0 + label_w / 2.0;
    let h = y0 + cell * k as f64 + 30.0;
    let mut s = svg_open(w, h);
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" fill=\"#555\">rows: true class, columns: predicted (shade = share of the row)</text>",
        8.0,
        h - 10.0
    );
    for (i, c) in classes.iter().enumerate() {
        let cy = y0 + cell * (i as f64 + 0.5) + 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{cy:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 4.0,
            esc(c)
        );
        let cx = x0 + cell * (i as f64 + 0.5) + 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{cx:.1}\" y=\"{:.1}\" transform=\"rotate(-60 {cx:.1} {:.1})\">{}</text>",
            y0 - 4.0,
            y0 - 4.0,
            esc(c)
        );
    }
    for (i, row) in confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (j, &v) in row.iter().enumerate() {
            let share = if total > 0 {
                v as f64 / total as f64
            } else {
                0.0
            };
            let (x, y) = (x0 + cell * j as f64, y0 + cell * i as f64);
            let fill = if i == j {
                format!(
                    "rgb({0},{1},{0})",
                    (255.0 - 200.0 * share) as u8,
                    (255.0 - 110.0 * share) as u8
                )
            } else {
                format!("rgb(255,{0},{0})", (255.0 - 200.0 * share) as u8)
            };
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#ddd\"/>"
            );
            if v > 0 {
                let color = if share > 0.6 { "white" } else { "black" };
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{}\" fill=\"{color}\">{v}</text>",
                    x + cell / 2.0,
                    y + cell / 2.0 + 4.0,
                    if k > 12 { 9 } else { 11 }
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Training loss (left axis, scaled to its maximum) and validation accuracy
/// (right axis, 0-1) per epoch.
pub fn curve_svg(title: &str, curve: &[EpochStat], best_epoch: Option<usize>) -> String {
    let (w, h) = (420.0, 240.0);
    let (l, r, t, b) = (50.0, 50.0, 30.0, 40.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let mut s = svg_open(w, h);
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    let _ = writeln!(
        s,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>"
    );
    let n = curve.len().max(1);
    let max_loss = curve
        .iter()
        .map(|c| c.train_loss)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let x = |e: usize| {
        if n == 1 {
            l + pw / 2.0
        } else {
            l + pw * (e - 1) as f64 / (n - 1) as f64
        }
    };
    let yl = |v: f64| t + ph * (1.0 - v / max_loss);
    let ya = |v: f64| t + ph * (1.0 - v);
    for (i, frac) in [0.0, 0.5, 1.0].iter().enumerate() {
        let y = t + ph * (1.0 - frac);
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f77b4\">{:.2}</text>",
            l - 4.0,
            y + 4.0,
            max_loss * frac
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" fill=\"#d62728\">{:.1}</text>",
            l + pw + 4.0,
            y + 4.0,
            frac
        );
        if i == 1 {
            let _ = writeln!(
                s,
                "<line x1=\"{l}\" x2=\"{:.0}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>",
                l + pw
            );
        }
    }
    for c in curve {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{}</text>",
            x(c.epoch),
            t + ph + 14.0,
            c.epoch
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">epoch</text>",
        l + pw / 2.0,
        h - 8.0
    );
    let poly = |pts: Vec<(f64, f64)>, color: &str, s: &mut String| {
        let p: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            p.join(" ")
        );
        for (x, y) in pts {
            let _ = writeln!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{color}\"/>"
            );
        }
    };
    poly(
        curve
            .iter()
            .map(|c| (x(c.epoch), yl(c.train_loss)))
            .collect(),
        "#1f77b4",
        &mut s,
    );
    poly(
        curve
            .iter()
            .map(|c| (x(c.epoch), ya(c.val_accuracy)))
            .collect(),
        "#d62728",
        &mut s,
    );
    if let Some(e) = best_epoch.filter(|&e| e >= 1 && e <= n) {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{t}\" y2=\"{1:.0}\" stroke=\"#999\" stroke-dasharray=\"3 3\"/>",
            x(e),
            t + ph
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\"><tspan fill=\"#1f77b4\">training loss</tspan> · \
         <tspan fill=\"#d62728\">validation accuracy</tspan> · dashed: kept epoch</text>",
        w - 8.0,
        18.0
    );
    s.push_str("</svg>\n");
    s
}

/// Horizontal bars: attention share per header field; site-dependent fields
/// in orange.
pub fn fields_svg(title: &str, fields: &[FieldShare]) -> String {
    let shown: Vec<&FieldShare> = fields.iter().filter(|f| f.share > 0.0).take(24).collect();
    let bar_h = 16.0;
    let (l, t) = (170.0, 40.0);
    let pw = 320.0;
    let w = l + pw + 70.0;
    let h = t + bar_h * shown.len() as f64 + 30.0;
    let max = shown
        .iter()
        .map(|f| f.share)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut s = svg_open(w, h);
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"32\" fill=\"#555\">mean share of HAN attention (packet × byte) per field · \
         <tspan fill=\"#e6550d\">orange: site-dependent</tspan></text>"
    );
    for (i, f) in shown.iter().enumerate() {
        let y = t + bar_h * i as f64;
        let bw = pw * f.share / max;
        let color = if f.site_dependent {
            "#e6550d"
        } else {
            "#3182bd"
        };
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            l - 6.0,
            y + 12.0,
            esc(&f.field)
        );
        let _ = writeln!(
            s,
            "<rect x=\"{l}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{color}\"/>",
            y + 2.0,
            bar_h - 4.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">{:.1} %</text>",
            l + bw + 4.0,
            y + 12.0,
            100.0 * f.share
        );
    }
    s.push_str("</svg>\n");
    s
}

/// File-name slug of a dataset name.
pub fn file_slug(name: &str) -> String {
    crate::run::slug(name)
}

pub fn confusion_file(dataset: &str, view: &str, model: &str) -> String {
    format!("confusion-{}-{view}-{model}.svg", file_slug(dataset))
}

pub fn curve_file(dataset: &str, view: &str, model: &str) -> String {
    format!("curve-{}-{view}-{model}.svg", file_slug(dataset))
}

pub fn fields_file(dataset: &str) -> String {
    format!("attention-fields-{}.svg", file_slug(dataset))
}

// ---------------------------------------------------------------- Markdown

fn pct(v: f64) -> String {
    format!("{:.1} %", 100.0 * v)
}

/// Accuracy over the test flows whose true class is in `rows` (predictions
/// over all classes).
pub fn subset_accuracy(confusion: &[Vec<usize>], rows: &[usize]) -> Option<f64> {
    let total: usize = rows
        .iter()
        .map(|&r| confusion[r].iter().sum::<usize>())
        .sum();
    let correct: usize = rows.iter().map(|&r| confusion[r][r]).sum();
    (total > 0).then(|| correct as f64 / total as f64)
}

/// USTC-TFC2016's malware families (from CTU).
pub const CTU_FAMILIES: [&str; 10] = [
    "Cridex", "Geodo", "Htbot", "Miuref", "Neris", "Nsis-ay", "Shifu", "Tinba", "Virut", "Zeus",
];

const MODELS: [&str; 6] = ["sae", "cnn", "lstm", "han", "c45", "knn"];

/// `report.md`.
pub fn markdown(report: &Report) -> String {
    let m = &report.meta;
    let b = &m.budgets;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Reproduction: Lee, Lee & Kim, SIGCOMM'20 poster, Tables 2-4\n"
    );
    if m.quick {
        let _ = writeln!(
            s,
            "> **QUICK RUN** (`--quick`): tiny budgets, for checking the pipeline end to end. These numbers are \
             **not** a reproduction; see the budgets below.\n"
        );
    }
    if !m.quick && b.overridden.unwrap_or(true) {
        let _ = writeln!(
            s,
            "> **REDUCED-BUDGET RUN**: budgets set on the command line (below), not `trainer reproduce`'s \
             defaults. Deep-model numbers are lower bounds of what the architectures reach; C4.5 and k-NN are \
             not budgeted.\n"
        );
    }
    let capped: Vec<String> = report
        .datasets
        .iter()
        .flat_map(|d| {
            d.results
                .iter()
                .filter(|r| r.hit_time_budget)
                .map(move |r| format!("{} {} {}", d.name, r.view, r.model))
        })
        .collect();
    if !capped.is_empty() {
        let _ = writeln!(
            s,
            "> **SAFETY CAP FIRED** for {}: these stopped on the {} min wall-clock cap before their epoch budget, \
             so their numbers depend on the machine's speed and load and are lower bounds.\n",
            capped.join(", "),
            b.max_minutes_per_model
        );
    }
    let _ = writeln!(s, "Generated by `{}`", m.command_line);
    let load = match m.load_average {
        Some([Some(a), Some(z)]) => {
            format!(", 1-minute load average {a:.2} at the start and {z:.2} at the end")
        }
        _ => String::new(),
    };
    let _ = writeln!(
        s,
        "at commit `{}`, seed {}, {} model(s) at a time on {} candle thread(s) each, {:.1} min wall clock in all{load}.\n",
        m.git_commit,
        m.seed,
        m.jobs.unwrap_or(1),
        m.threads,
        m.total_seconds / 60.0
    );
    let _ = writeln!(
        s,
        "Every budget is a count (flows, epochs), so the command gives the same numbers on any machine with the \
         same seed (up to floating-point differences between CPU instruction sets); timings are this machine's.\n"
    );
    let _ = writeln!(s, "## Budgets and caps (read before the numbers)\n");
    let _ = writeln!(s, "| what | ours | paper |\n|---|---|---|");
    let _ = writeln!(
        s,
        "| flows sampled per class | ≤ {} | 5,000 |",
        b.max_per_class
    );
    let _ = writeln!(
        s,
        "| split | 80/10/10 by flow, stratified, seeded | 80/10/10 |"
    );
    let _ = writeln!(s, "| classes kept | ≥ {} flows | all |", b.min_per_class);
    let _ = writeln!(
        s,
        "| training flows per class | SAE/CNN/LSTM ≤ {}, HAN ≤ {}; C4.5/k-NN: the whole training side | all |",
        b.deep_train_per_class,
        b.han_per_class()
    );
    let _ = writeln!(
        s,
        "| epochs | SAE/CNN/LSTM ≤ {}, HAN ≤ {}{}; early stop after {} without a better validation accuracy; best epoch kept | ? |",
        b.max_epochs,
        b.han_epochs(),
        b.sae_pretrain_epochs
            .map(|e| format!(" (SAE after {e} pre-training epochs per layer)"))
            .unwrap_or_default(),
        b.patience
    );
    let _ = writeln!(
        s,
        "| optimiser | AdamW, learning rate 1e-3, weight decay 1e-2, batch {} | ? |",
        b.batch_size
    );
    match b.han_max_minutes {
        Some(h) => {
            let _ = writeln!(
                s,
                "| wall clock per deep model | SAE/CNN/LSTM ≤ {} min, HAN ≤ {h} min (the budget of this older run) | ? |",
                b.max_minutes_per_model
            );
        }
        None => {
            let _ = writeln!(
                s,
                "| wall-clock safety cap per deep model | {} min (not a budget; flagged above when it fires) | ? |",
                b.max_minutes_per_model
            );
        }
    }
    let _ = writeln!(s, "| input | first {} packets × {} bytes from the IP header, addresses zeroed | flow bytes, IP and MAC addresses zeroed |\n", b.packets, b.bytes_per_packet);
    let _ = writeln!(s, "What each model saw:\n");
    let _ = writeln!(
        s,
        "- Table 3 (`all` view), SAE/CNN/LSTM/HAN: {}.",
        view_description("all", "cnn")
    );
    let _ = writeln!(
        s,
        "- Table 4 (`key` view), SAE/CNN/LSTM/HAN: {}.",
        view_description("key", "cnn")
    );
    let _ = writeln!(
        s,
        "- Table 4 (`key` view), C4.5 and k-NN (k=3): {}.\n",
        view_description("key", "c45")
    );

    for d in &report.datasets {
        let _ = writeln!(s, "## {}\n", d.name);
        let (traces, note) = paper_traces(&d.name);
        let _ = writeln!(s, "{note}\n");
        let _ = writeln!(
            s,
            "{} classes; flows train/val/test = {}/{}/{} (SAE/CNN/LSTM trained on {}, HAN on {}); data sha256 `{}`.",
            d.classes.len(),
            d.flows.train,
            d.flows.val,
            d.flows.test,
            d.deep_train_flows,
            d.han_train_flows.unwrap_or(d.deep_train_flows),
            &d.data_hash[..16.min(d.data_hash.len())]
        );
        if !d.left_out.is_empty() {
            let lo: Vec<String> = d
                .left_out
                .iter()
                .map(|(c, n)| format!("{c} ({n})"))
                .collect();
            let _ = writeln!(
                s,
                "Left out (fewer than {} flows): {}.",
                b.min_per_class,
                lo.join(", ")
            );
        }
        let _ = writeln!(s);
        let get = |view: &str, model: &str| {
            d.results
                .iter()
                .find(|r| r.view == view && r.model == model)
        };
        // Subset rows for USTC: benign vs CTU malware.
        let malware: Vec<usize> = (0..d.classes.len())
            .filter(|&i| CTU_FAMILIES.contains(&d.classes[i].as_str()))
            .collect();
        let benign: Vec<usize> = (0..d.classes.len())
            .filter(|i| !malware.contains(i))
            .collect();
        let split = traces.contains(&"CTU") && !malware.is_empty() && !benign.is_empty();
        for (view, table) in [
            ("all", "Table 3: all bytes"),
            ("key", "Table 4: key features only"),
        ] {
            let models: Vec<&str> = MODELS
                .iter()
                .copied()
                .filter(|m| get(view, m).is_some())
                .collect();
            if models.is_empty() {
                continue;
            }
            let _ = writeln!(s, "### {table}\n");
            let _ = writeln!(
                s,
                "| | {} |",
                models
                    .iter()
                    .map(|m| m
                        .to_uppercase()
                        .replace("C45", "C4.5")
                        .replace("KNN", "k-NN"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(s, "|---|{}", "---|".repeat(models.len()));
            let row = |label: &str, f: &dyn Fn(&ModelReport) -> String| {
                let cells: Vec<String> = models
                    .iter()
                    .map(|m| get(view, m).map(f).unwrap_or_default())
                    .collect();
                format!("| {label} | {} |", cells.join(" | "))
            };
            let _ = writeln!(s, "{}", row("ours: accuracy", &|r| pct(r.accuracy)));
            let _ = writeln!(
                s,
                "{}",
                row("ours: macro-F1", &|r| format!("{:.3}", r.macro_f1))
            );
            if split {
                let _ = writeln!(
                    s,
                    "{}",
                    row("ours: accuracy on benign (USTC) test flows", &|r| {
                        subset_accuracy(&r.confusion, &benign)
                            .map(pct)
                            .unwrap_or_default()
                    })
                );
                let _ = writeln!(
                    s,
                    "{}",
                    row("ours: accuracy on malware (CTU) test flows", &|r| {
                        subset_accuracy(&r.confusion, &malware)
                            .map(pct)
                            .unwrap_or_default()
                    })
                );
            }
            for t in &traces {
                let cells: Vec<String> = models
                    .iter()
                    .map(|m| {
                        paper_accuracy(t, view, m)
                            .map(|v| format!("{v:.1} %"))
                            .unwrap_or_else(|| "n/a".into())
                    })
                    .collect();
                let _ = writeln!(s, "| paper: {t} | {} |", cells.join(" | "));
            }
            let _ = writeln!(
                s,
                "{}",
                row("training time", &|r| format!("{:.0} s", r.train_seconds))
            );
            let _ = writeln!(
                s,
                "{}",
                row("epochs run (kept)", &|r| if r.curve.is_empty() {
                    "-".into()
                } else {
                    format!(
                        "{} ({}){}",
                        r.curve.len(),
                        r.best_epoch.unwrap_or(0),
                        if r.hit_time_budget { ", time cap" } else { "" }
                    )
                })
            );
            let _ = writeln!(s);
            let links: Vec<String> = models
                .iter()
                .map(|m| format!("[{m}]({})", confusion_file(&d.name, view, m)))
                .collect();
            let _ = writeln!(s, "Confusion matrices: {}.", links.join(", "));
            let curves: Vec<String> = models
                .iter()
                .filter(|m| get(view, m).is_some_and(|r| !r.curve.is_empty()))
                .map(|m| format!("[{m}]({})", curve_file(&d.name, view, m)))
                .collect();
            if !curves.is_empty() {
                let _ = writeln!(s, "Training curves: {}.", curves.join(", "));
            }
            let _ = writeln!(s);
        }
        // Per-class F1 of the best `all` and the C4.5 `key` model.
        if let Some(a) = &d.attention {
            attention_md(&mut s, d, a);
        }
    }
    s.push_str(DIFFERENCES);
    s
}

/// Why our numbers differ from the paper's (independent of the run).
const DIFFERENCES: &str = "## Where and why our numbers differ from the paper's

- **Budgets.** The deep models are trained on a capped number of flows per class for a capped number of
  epochs (table at the top), one CPU thread each, with early stopping on validation accuracy. The paper's
  training budget is not stated. Where a curve still rises at its last epoch, more epochs would help; where
  the wall-clock safety cap stopped a model (\"time cap\" in the epochs row), its accuracy is a lower bound.
- **Model sizes.** The models are sized for the browser (they run in a wasm worker): CNN 4 and 16 channels
  with a 64-wide hidden layer (Wang et al. used 32/64 and 1024), SAE 256-128, LSTM 64, HAN with a 16-unit
  byte-level GRU and attention 32 (Yang et al.: 50 and 100; kept at the packet level). Smaller models can
  cost accuracy.
- **Data.** The paper sampled 5,000 flows per application from full WIDE, USTC and CTU traces. We have no
  WIDE trace; USTC-TFC2016 survives only as the 784-byte *t10k* sessions (at most ~960 per class), which
  hold both the USTC benign classes and the CTU malware families; see each dataset's note. Sessions cut at
  784 bytes (24-byte pcap header included) keep 1-9 packets: most benign USTC sessions are a single
  truncated packet, so the `key` view sees one packet size and two ports, and packet counts say little.
- **Per-flow vs per-session.** We cut flows by bidirectional 5-tuple with a 120 s idle timeout and end
  TCP flows at their close; the 784-byte datasets were cut per SplitCap session (all packets of a 5-tuple,
  however far apart). So one session can become several of our flows: USTC-TFC2016-784B's 14,267 sessions
  are 16,709 flows here, mostly in the malware classes (Zeus 603 sessions -> 1,605 flows, Virut 652 -> 1,318,
  Neris 850 -> 1,157), whose later flows start mid-session. Benign classes are almost one flow per session.
- **Labels.** ISCX-VPN-nonVPN-784B's labels are mostly the capture host's LAN chatter and DNS (SOURCES.md):
  the models learn the host's background traffic. nDPI-tests' labels are nDPI's DPI verdicts over captures
  from many networks, with small classes left out.
- **Representation.** First 8 packets × 128 bytes from the IP header (link layer dropped, so no MAC
  addresses to zero), addresses zeroed at every depth. The paper's exact input size is not stated.
- **Key features.** Our `key` view for the deep models keeps only the port, length and protocol bytes in
  place (everything else zero); C4.5 and k-NN get protocol, ports, packet count and the first 8 signed
  packet sizes. The paper names the same feature families but not their encoding.
- **Metric.** The paper's \"overall accuracy\" is the share of correct predictions; ours is the same, on
  the test side (10 %, stratified). Macro-F1 is added because the classes are unbalanced (ISCX, nDPI).
";

fn attention_md(s: &mut String, d: &DatasetReport, a: &AttentionReport) {
    let _ = writeln!(s, "### Table 2: HAN attention (`all` view)\n");
    if let Some(h) = d
        .results
        .iter()
        .find(|r| r.view == "all" && r.model == "han")
    {
        let _ = writeln!(
            s,
            "This HAN reached {} test accuracy after {} epoch(s){}. {}\n",
            pct(h.accuracy),
            h.curve.len(),
            if h.hit_time_budget {
                " (stopped by the wall-clock cap)"
            } else {
                ""
            },
            if h.accuracy >= 0.8 {
                String::new()
            } else if h.hit_time_budget {
                "**Its attention is that of an under-trained model**: read the tables below as a demonstration \
                 of the analysis, not as the paper's finding."
                    .to_string()
            } else {
                let best = d.results.iter().map(|r| r.accuracy).fold(0.0f64, f64::max);
                format!(
                    "**It is a weak classifier here** (the best model on this dataset reaches {}): its \
                     attention shows what a model that often fails looks at, not the paper's finding.",
                    pct(best)
                )
            }
        );
    }
    let _ = writeln!(
        s,
        "Combined weight of byte (p, b) = packet attention[p] × byte attention[p, b] (sums to 1 per flow). \
         Flows sampled from the test side with the run's seed; packets numbered from 1, byte offsets from the \
         IP header. ⚠ marks site-dependent fields (TTL, IP ID, checksums, TCP seq/ack, window, options, flags, \
         traffic class): features that describe the network or host rather than the application.\n"
    );
    let _ = writeln!(s, "| class | predicted | top packets (attention) | top bytes: packet/offset field = value (weight) | top fields |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    let site = |f: &str| {
        flowlens_core::repr::Field::from_name(f).is_some_and(|f| f.group().is_site_dependent())
    };
    let mark = |f: &str| {
        if site(f) {
            format!("⚠{f}")
        } else {
            f.to_string()
        }
    };
    for e in &a.examples {
        let packets: Vec<String> = e
            .top_packets
            .iter()
            .map(|p| format!("{} ({:.2})", p.packet, p.weight))
            .collect();
        let bytes: Vec<String> = e
            .top_bytes
            .iter()
            .map(|b| {
                format!(
                    "{}/{} {} = `{}` ({:.3})",
                    b.packet,
                    b.offset,
                    mark(&b.field),
                    b.value,
                    b.weight
                )
            })
            .collect();
        let fields: Vec<String> = e
            .top_fields
            .iter()
            .map(|f| format!("{} {:.2}", mark(&f.field), f.weight))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            e.class,
            e.predicted,
            packets.join(", "),
            bytes.join("<br>"),
            fields.join(", ")
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Attention per header field over all {} test flows ([figure]({})):\n",
        a.test_flows,
        fields_file(&d.name)
    );
    let _ = writeln!(
        s,
        "| rank | field | group | site-dependent | mean share |\n|---|---|---|---|---|"
    );
    for (i, f) in a
        .fields
        .iter()
        .filter(|f| f.share > 0.0)
        .take(20)
        .enumerate()
    {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} % |",
            i + 1,
            f.field,
            f.group,
            if f.site_dependent { "⚠ yes" } else { "no" },
            100.0 * f.share
        );
    }
    let site_total: f64 = a
        .fields
        .iter()
        .filter(|f| f.site_dependent)
        .map(|f| f.share)
        .sum();
    let _ = writeln!(
        s,
        "\nSite-dependent fields together receive {:.1} % of HAN's attention on this dataset.\n",
        100.0 * site_total
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_numbers_are_the_tables() {
        assert_eq!(paper_accuracy("CTU", "all", "lstm"), Some(96.3));
        assert_eq!(paper_accuracy("USTC", "key", "lstm"), Some(10.1));
        assert_eq!(paper_accuracy("WIDE", "key", "knn"), Some(87.8));
        assert_eq!(paper_accuracy("WIDE", "all", "c45"), None);
    }

    #[test]
    fn svgs_are_well_formed_and_escaped() {
        let classes = vec!["a<b".to_string(), "c".to_string()];
        let s = confusion_svg("t & u", &classes, &[vec![3, 1], vec![0, 2]]);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains("a&lt;b") && s.contains("t &amp; u"));
        let c = curve_svg(
            "x",
            &[
                EpochStat {
                    epoch: 1,
                    train_loss: 2.0,
                    val_accuracy: 0.5,
                },
                EpochStat {
                    epoch: 2,
                    train_loss: 1.0,
                    val_accuracy: 0.7,
                },
            ],
            Some(2),
        );
        assert!(c.contains("<polyline"));
    }

    #[test]
    fn subset_accuracy_counts_rows() {
        let c = vec![vec![3, 1, 0], vec![0, 2, 0], vec![1, 0, 0]];
        assert_eq!(subset_accuracy(&c, &[0, 1]), Some(5.0 / 6.0));
        assert_eq!(subset_accuracy(&c, &[2]), Some(0.0));
    }
}
