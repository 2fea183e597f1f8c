//! audit.md and its SVG charts from an [`Audit`].
//!
//! One chart kind, a shaded table (heatmap) with the value written in each
//! cell: perturbation Δaccuracy (groups × models), ablation Δaccuracy
//! (masked group × models), split accuracy (models × split), portability
//! accuracy (source → target × models).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use anyhow::Context;

use crate::audit_cmd::{Audit, PerturbationRow};
use crate::report::file_slug;
use crate::run;

fn put(out: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    let path = out.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    run::set_readable(&path);
    Ok(())
}

/// Writes audit.json, audit.md and the SVGs into `out`.
pub fn write(audit: &Audit, out: &Path) -> anyhow::Result<()> {
    put(out, "audit.json", &serde_json::to_string_pretty(audit)?)?;
    write_rendered(audit, out)
}

/// Writes audit.md and the SVGs (not audit.json: reading it back may move
/// the last digit of a float).
pub fn write_rendered(audit: &Audit, out: &Path) -> anyhow::Result<()> {
    let put = |name: &str, text: &str| put(out, name, text);
    let (md, charts) = markdown(audit);
    put("audit.md", &md)?;
    for (name, svg) in charts {
        put(&name, &svg)?;
    }
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A shaded table. `signed`: blue for gains, red for losses, scaled to the
/// largest |value|; otherwise green for 1.0 down to white for 0.0.
pub fn heatmap_svg(
    title: &str,
    subtitle: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<Option<f64>>],
    signed: bool,
) -> String {
    let cell_w = 64.0;
    let cell_h = 20.0;
    let label_w = 10.0 + 6.5 * rows.iter().map(|r| r.len()).max().unwrap_or(4) as f64;
    let (x0, y0) = (label_w + 8.0, 64.0);
    let text_w = 8.0 + 7.0 * title.chars().count().max(subtitle.chars().count()) as f64;
    let w = (x0 + cell_w * cols.len() as f64 + 16.0).max(text_w);
    let h = y0 + cell_h * rows.len() as f64 + 16.0;
    let max = values
        .iter()
        .flatten()
        .flatten()
        .map(|v| v.abs())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    let _ = writeln!(
        s,
        "<text x=\"8\" y=\"34\" fill=\"#555\">{}</text>",
        esc(subtitle)
    );
    for (j, c) in cols.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            x0 + cell_w * (j as f64 + 0.5),
            y0 - 8.0,
            esc(c)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = y0 + cell_h * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            y + 14.0,
            esc(r)
        );
        for (j, v) in values.get(i).into_iter().flatten().enumerate() {
            let x = x0 + cell_w * j as f64;
            let (fill, text) = match v {
                None => ("#f4f4f4".to_string(), "n/a".to_string()),
                Some(v) if signed => {
                    let t = (v.abs() / max).min(1.0);
                    let c = (255.0 - 180.0 * t) as u8;
                    let fill = if *v < 0.0 {
                        format!("rgb(255,{c},{c})")
                    } else {
                        format!("rgb({c},{c},255)")
                    };
                    (fill, format!("{:+.1}", 100.0 * v))
                }
                Some(v) => {
                    let t = v.clamp(0.0, 1.0);
                    let c = (255.0 - 150.0 * t) as u8;
                    (format!("rgb({c},255,{c})"), format!("{:.1}", 100.0 * v))
                }
            };
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell_w}\" height=\"{cell_h}\" fill=\"{fill}\" stroke=\"#ddd\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{text}</text>",
                x + cell_w / 2.0,
                y + 14.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn pct(v: f64) -> String {
    format!("{:.1} %", 100.0 * v)
}

fn dpct(v: f64) -> String {
    format!("{:+.1}", 100.0 * v)
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), pct)
}

/// Distinct values in first-seen order.
fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for s in it {
        if seen.insert(s.to_string()) {
            out.push(s.to_string());
        }
    }
    out
}

/// audit.md and the charts it links, `(file name, svg)`.
pub fn markdown(a: &Audit) -> (String, Vec<(String, String)>) {
    let mut s = String::new();
    let mut charts = Vec::new();
    let b = &a.meta.budgets;
    let _ = writeln!(
        s,
        "# Shortcut audit: what each model relies on, and whether it travels\n"
    );
    let _ = writeln!(
        s,
        "Generated by `{}`\nat commit `{}`, seed {}, {} candle thread(s), {:.1} min wall clock.\n",
        a.meta.command_line,
        a.meta.git_commit,
        a.meta.seed,
        a.meta.threads,
        a.meta.total_seconds / 60.0
    );
    let _ = writeln!(s, "## Budgets\n");
    let _ = writeln!(s, "| what | value |\n|---|---|");
    let _ = writeln!(
        s,
        "| flows sampled per class | ≤ {} (classes with < {} flows left out) |",
        b.max_per_class, b.min_per_class
    );
    let _ = writeln!(
        s,
        "| training flows per class, deep models | ≤ {} (C4.5/k-NN: the whole training side) |",
        b.deep_train_per_class
    );
    let _ = writeln!(s, "| epochs, deep models | ≤ {}, early stop after {} without a better validation accuracy (no wall-clock limit) |", b.max_epochs, b.patience);
    let _ = writeln!(s, "| input | first {} packets × {} bytes from the IP header, addresses zeroed (`all` view); C4.5/k-NN: the key features |", b.packets, b.bytes_per_packet);
    let _ = writeln!(
        s,
        "| models (perturbation, agreement) | {} |",
        b.models.join(", ")
    );
    let _ = writeln!(
        s,
        "| models retrained for the ablation | {} |",
        b.ablation_models.join(", ")
    );
    let _ = writeln!(
        s,
        "| models of the split study | {} |",
        b.split_models.join(", ")
    );
    let _ = writeln!(
        s,
        "| models of the portability matrix | {} (classes with < {} flows left out) |",
        b.portability_models.join(", "),
        b.portability_min_per_class
    );
    let _ = writeln!(
        s,
        "| attribution | {} test flows per model; integrated gradients with {} steps |\n",
        b.attribution_flows, b.ig_steps
    );

    for d in &a.datasets {
        let _ = writeln!(s, "## {}\n", d.name);
        let _ = writeln!(
            s,
            "{} classes ({}); flows train/val/test = {}/{}/{} (deep models trained on {}); data sha256 `{}`.{}\n",
            d.classes.len(),
            d.classes.join(", "),
            d.train,
            d.val,
            d.test,
            d.deep_train,
            &d.data_hash[..d.data_hash.len().min(16)],
            if d.left_out.is_empty() {
                String::new()
            } else {
                format!(
                    " Left out (too few flows): {}.",
                    d.left_out
                        .iter()
                        .map(|(c, n)| format!("{c} ({n})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        perturbation_md(&mut s, &mut charts, a, &d.name);
        ablation_md(&mut s, &mut charts, a, &d.name);
        agreement_md(&mut s, a, &d.name);
        splits_md(&mut s, &mut charts, a, &d.name);
    }
    portability_md(&mut s, &mut charts, a);
    (s, charts)
}

fn perturbation_md(s: &mut String, charts: &mut Vec<(String, String)>, a: &Audit, ds: &str) {
    let rows: Vec<&PerturbationRow> = a.perturbation.iter().filter(|r| r.dataset == ds).collect();
    if rows.is_empty() {
        return;
    }
    let models = distinct(rows.iter().map(|r| r.model.as_str()));
    let groups: Vec<String> = distinct(rows.iter().map(|r| r.group.as_str()))
        .into_iter()
        .filter(|g| g != "none")
        .collect();
    let _ = writeln!(s, "### 1. Test-time perturbation\n");
    let _ = writeln!(s, "Each field group of the test flows randomised (seeded noise) or zeroed, one at a time, in the bytes and consistently in the key features (C4.5/k-NN see ports, sizes and protocol only, so only those groups can move them). Cells: change in accuracy (points) randomise / zero, and test flows whose prediction flipped (randomise).\n");
    let get = |m: &str, g: &str, mode: &str| {
        rows.iter()
            .find(|r| r.model == m && r.group == g && r.mode == mode)
    };
    let _ = write!(s, "| group |");
    for m in &models {
        let _ = write!(s, " {m} |");
    }
    let _ = write!(s, "\n|---|");
    for _ in &models {
        let _ = write!(s, "---|");
    }
    let _ = write!(s, "\n| *accuracy, unperturbed* |");
    for m in &models {
        let _ = write!(
            s,
            " {} |",
            get(m, "none", "none").map_or("n/a".into(), |r| pct(r.accuracy))
        );
    }
    s.push('\n');
    for g in &groups {
        let _ = write!(s, "| {g} |");
        for m in &models {
            let cell = match (get(m, g, "randomise"), get(m, g, "zero")) {
                (Some(r), Some(z)) => format!(
                    "{} / {} ({} flips)",
                    dpct(r.delta_accuracy),
                    dpct(z.delta_accuracy),
                    r.flipped
                ),
                _ => "n/a".into(),
            };
            let _ = write!(s, " {cell} |");
        }
        s.push('\n');
    }
    let values: Vec<Vec<Option<f64>>> = groups
        .iter()
        .map(|g| {
            models
                .iter()
                .map(|m| get(m, g, "randomise").map(|r| r.delta_accuracy))
                .collect()
        })
        .collect();
    let name = format!("perturbation-{}.svg", file_slug(ds));
    charts.push((
        name.clone(),
        heatmap_svg(
            &format!("{ds} · accuracy change when a field group is randomised"),
            "points of accuracy on the test side; red: the model loses accuracy without the group",
            &groups,
            &models,
            &values,
            true,
        ),
    ));
    let _ = writeln!(s, "\n![perturbation]({name})\n");
}

fn ablation_md(s: &mut String, charts: &mut Vec<(String, String)>, a: &Audit, ds: &str) {
    let rows: Vec<_> = a.ablation.iter().filter(|r| r.dataset == ds).collect();
    if rows.is_empty() {
        return;
    }
    let models = distinct(rows.iter().map(|r| r.model.as_str()));
    let masks = distinct(rows.iter().map(|r| r.masked.as_str()));
    let _ = writeln!(s, "### 2. Train-time ablation\n");
    let _ = writeln!(s, "Each site-dependent group zeroed in training and test data (a custom view), models retrained from the same seed. Cells: accuracy (change vs. `none`).\n");
    let _ = write!(s, "| masked |");
    for m in &models {
        let _ = write!(s, " {m} |");
    }
    let _ = write!(s, "\n|---|");
    for _ in &models {
        let _ = write!(s, "---|");
    }
    s.push('\n');
    let get = |m: &str, k: &str| rows.iter().find(|r| r.model == m && r.masked == k);
    for k in &masks {
        let _ = write!(s, "| {k} |");
        for m in &models {
            let cell = get(m, k).map_or("n/a".into(), |r| {
                format!("{} ({})", pct(r.accuracy), dpct(r.delta_accuracy))
            });
            let _ = write!(s, " {cell} |");
        }
        s.push('\n');
    }
    let shown: Vec<String> = masks.iter().filter(|k| *k != "none").cloned().collect();
    let values: Vec<Vec<Option<f64>>> = shown
        .iter()
        .map(|k| {
            models
                .iter()
                .map(|m| get(m, k).map(|r| r.delta_accuracy))
                .collect()
        })
        .collect();
    let name = format!("ablation-{}.svg", file_slug(ds));
    charts.push((
        name.clone(),
        heatmap_svg(
            &format!("{ds} · accuracy change when retrained without a group"),
            "points of accuracy vs. the unmasked model (same seed, same budget)",
            &shown,
            &models,
            &values,
            true,
        ),
    ));
    let _ = writeln!(s, "\n![ablation]({name})\n");
}

fn agreement_md(s: &mut String, a: &Audit, ds: &str) {
    let rows: Vec<_> = a.agreement.iter().filter(|r| r.dataset == ds).collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(s, "### 3. Agreement of explanations\n");
    let _ = writeln!(s, "The ten field groups ranked by each explanation: HAN attention (packet × byte, mean share), gradient × input and integrated gradients (mean share of |attribution|), perturbation (accuracy drop when randomised). Spearman's ρ over the groups (n/a: one ranking is constant, e.g. no perturbation moved the model).\n");
    let _ = writeln!(
        s,
        "| model | a | b | Spearman ρ | top 3 by a | top 3 by b |\n|---|---|---|---|---|---|"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.model,
            r.a,
            r.b,
            r.spearman.map_or("n/a".into(), |v| format!("{v:+.2}")),
            r.ranking_a[..3.min(r.ranking_a.len())].join(", "),
            r.ranking_b[..3.min(r.ranking_b.len())].join(", ")
        );
    }
    s.push('\n');
}

fn splits_md(s: &mut String, charts: &mut Vec<(String, String)>, a: &Audit, ds: &str) {
    let rows: Vec<_> = a.splits.iter().filter(|r| r.dataset == ds).collect();
    if rows.is_empty() {
        return;
    }
    let models = distinct(rows.iter().map(|r| r.model.as_str()));
    let splits = distinct(rows.iter().map(|r| r.split.as_str()));
    let _ = writeln!(s, "### 4. Split honesty\n");
    let _ = writeln!(s, "The same packet-level samples (each packet of a flow its own sample, in row 0 of the grid, labelled with its flow's class; after Zhao et al., SIGCOMM'25) split three ways: per packet at random (packets of one flow on both sides), per flow, per capture file. Only classes present in at least two captures are used in all three columns when the per-capture split is possible.\n");
    let _ = write!(s, "| model |");
    for sp in &splits {
        let _ = write!(s, " per {sp} |");
    }
    let _ = write!(s, "\n|---|");
    for _ in &splits {
        let _ = write!(s, "---|");
    }
    s.push('\n');
    let get = |m: &str, sp: &str| rows.iter().find(|r| r.model == m && r.split == sp);
    for m in &models {
        let _ = write!(s, "| {m} |");
        for sp in &splits {
            let cell = get(m, sp).map_or("n/a".into(), |r| {
                if r.accuracy.is_some() {
                    format!(
                        "{} (F1 {:.3}; {} classes, {} train / {} test)",
                        opt_pct(r.accuracy),
                        r.macro_f1.unwrap_or(0.0),
                        r.classes,
                        r.train,
                        r.test
                    )
                } else {
                    format!("n/a: {}", r.note)
                }
            });
            let _ = write!(s, " {cell} |");
        }
        s.push('\n');
    }
    let values: Vec<Vec<Option<f64>>> = models
        .iter()
        .map(|m| {
            splits
                .iter()
                .map(|sp| get(m, sp).and_then(|r| r.accuracy))
                .collect()
        })
        .collect();
    let cols: Vec<String> = splits.iter().map(|sp| format!("per {sp}")).collect();
    let name = format!("splits-{}.svg", file_slug(ds));
    charts.push((
        name.clone(),
        heatmap_svg(
            &format!("{ds} · test accuracy by split"),
            "packet-level samples; a leaky (per-packet) split inflates accuracy",
            &models,
            &cols,
            &values,
            false,
        ),
    ));
    let _ = writeln!(s, "\n![splits]({name})\n");
}

fn portability_md(s: &mut String, charts: &mut Vec<(String, String)>, a: &Audit) {
    let _ = writeln!(s, "## 5. Portability\n");
    if a.portability.is_empty() {
        let _ = writeln!(s, "No pair of datasets shares two or more classes.\n");
        return;
    }
    let _ = writeln!(s, "Trained on the source's training side restricted to the classes both datasets share (names compared in upper case; HTTPS and SSL count as TLS, FTP_CONTROL as FTP), tested on the source's own test side (in-source) and on every flow of the target with those classes.\n");
    let models = distinct(a.portability.iter().map(|r| r.model.as_str()));
    let pairs = distinct(
        a.portability
            .iter()
            .filter(|r| !r.in_source)
            .map(|r| r.source.as_str()),
    );
    let _ = pairs;
    let _ = writeln!(s, "| source → target | shared classes | model | in-source accuracy | target accuracy | target macro-F1 | target flows |\n|---|---|---|---|---|---|---|");
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for r in a.portability.iter().filter(|r| !r.in_source) {
        let own = a.portability.iter().find(|o| {
            o.in_source && o.model == r.model && o.source == r.source && o.classes == r.classes
        });
        let _ = writeln!(
            s,
            "| {} → {} | {} | {} | {} | {} | {:.3} | {} |",
            r.source,
            r.target,
            r.classes.join(", "),
            r.model,
            own.map_or("n/a".into(), |o| pct(o.accuracy)),
            pct(r.accuracy),
            r.macro_f1,
            r.test_flows
        );
        let label = format!("{} → {}", r.source, r.target);
        if !labels.contains(&label) {
            labels.push(label.clone());
            values.push(vec![None; models.len()]);
        }
        let (i, j) = (
            labels.iter().position(|l| *l == label).unwrap_or(0),
            models.iter().position(|m| *m == r.model).unwrap_or(0),
        );
        values[i][j] = Some(r.accuracy);
    }
    let name = "portability.svg".to_string();
    charts.push((
        name.clone(),
        heatmap_svg(
            "Portability · accuracy on another source's flows",
            "trained on the source (shared classes only), tested on every target flow of those classes",
            &labels,
            &models,
            &values,
            false,
        ),
    ));
    let _ = writeln!(s, "\n![portability]({name})\n");
}
