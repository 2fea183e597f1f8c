//! The computations behind `trainer audit` (issue 5), on [`Dataset`]s:
//! masking field groups for train-time ablation, the packet-level samples
//! and the three splits of the split-honesty study, class overlap for the
//! portability matrix, attribution shares per field group, and Spearman's
//! rank correlation.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use candle_core::Device;
use flowlens_core::classifier::Classifier;
use flowlens_core::explain::{self, EncodedFlows, FieldTotals, Method, Mode, Perturbation};
use flowlens_core::models::Model;
use flowlens_core::repr::{Field, FieldGroup, View};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::dataset::{Dataset, Side};
use crate::metrics::Metrics;

/// The site-dependent groups among [`explain::AUDIT_GROUPS`]: the ones the
/// train-time ablation masks, one at a time and all together.
pub fn site_groups() -> Vec<FieldGroup> {
    explain::AUDIT_GROUPS
        .iter()
        .copied()
        .filter(|g| g.is_site_dependent())
        .collect()
}

/// Rows `idx` of `ds` as the core's [`EncodedFlows`]; the noise salt of a
/// row is its index in the dataset (datasets do not keep the flows'
/// `first_packet_index`).
pub fn encoded(ds: &Dataset, idx: &[usize]) -> EncodedFlows {
    let row = ds.row_len();
    let f = ds.n_features();
    let mut out = EncodedFlows {
        n: idx.len(),
        bytes: Vec::with_capacity(idx.len() * row),
        field_ids: Vec::with_capacity(idx.len() * row),
        features: Vec::with_capacity(idx.len() * f),
        salts: idx.iter().map(|&i| i as u64).collect(),
    };
    for &i in idx {
        out.bytes.extend_from_slice(&ds.x[i * row..(i + 1) * row]);
        out.field_ids
            .extend(ds.fields[i * row..(i + 1) * row].iter().map(|&id| {
                Field::ALL
                    .get(id as usize)
                    .copied()
                    .unwrap_or(Field::Padding)
            }));
        out.features
            .extend_from_slice(&ds.features[i * f..(i + 1) * f]);
    }
    out
}

/// Accuracy and macro-F1 of `clf` on rows `idx` of `ds`, given possibly
/// perturbed `flows` of those rows; also the predictions.
pub fn evaluate(
    clf: &Classifier,
    ds: &Dataset,
    idx: &[usize],
    flows: &EncodedFlows,
    device: &Device,
) -> anyhow::Result<(Metrics, Vec<usize>)> {
    let pred = explain::predict_classes(clf, &ds.spec.repr, flows, device)?;
    let truth: Vec<u32> = idx.iter().map(|&i| ds.y[i]).collect();
    let p32: Vec<u32> = pred.iter().map(|&p| p as u32).collect();
    Ok((Metrics::compute(&ds.classes, &truth, &p32), pred))
}

/// The dataset with `groups` zeroed in every row, bytes and key features
/// alike, as the core's zero perturbation does, and its representation's
/// view set to the matching custom view (so that the models trained on it
/// carry it in their manifest entries). Equal to building the dataset with
/// that view from the captures (the view zeroes exactly those bytes).
pub fn mask_dataset(ds: &Dataset, groups: &[FieldGroup]) -> anyhow::Result<Dataset> {
    let repr = ds.spec.repr.clone();
    anyhow::ensure!(
        *repr.view() == View::All,
        "ablation starts from the all view"
    );
    let all = encoded(ds, &(0..ds.n()).collect::<Vec<_>>());
    let mut masked = all;
    for &g in groups {
        masked = masked.perturbed(&repr, &Perturbation::new(g, Mode::Zero, 0)?)?;
    }
    let zero: Vec<Field> = groups.iter().flat_map(|g| g.fields()).collect();
    let mut out = ds.clone();
    out.spec.repr = repr.with_view(View::Custom {
        zero,
        randomise: Vec::new(),
        seed: 0,
    })?;
    out.x = masked.bytes;
    out.features = masked.features;
    Ok(out)
}

/// Packet-level samples for the split-honesty study, after Zhao et al.
/// (SIGCOMM'25), who found packet-level random splits in the literature:
/// every packet of a flow becomes its own sample, labelled with its flow's
/// class, so that a random split over packets puts packets of one flow on
/// both sides (same ports, sequence numbers, IP IDs, timestamps, TTL).
///
/// A sample is the `[P, B]` grid with the packet in row 0 and padding
/// elsewhere (the same models, unchanged); its key features are those of a
/// one-packet flow: the flow's protocol, the packet's own ports (read from
/// its header), 1 packet, `len_0` = the packet's signed IP length. At most
/// `per_class` packets per class (seeded). Returns the dataset (all rows on
/// the train side; [`split_by_unit`] assigns sides), the flow (row of `ds`)
/// and the capture of every sample.
pub fn packet_samples(
    ds: &Dataset,
    per_class: usize,
    seed: u64,
) -> anyhow::Result<(Dataset, Vec<u32>)> {
    let [p, b] = ds.spec.repr.shape();
    let row = ds.row_len();
    let f = ds.n_features();
    let mut by_class: BTreeMap<u32, Vec<(usize, usize)>> = BTreeMap::new();
    for i in 0..ds.n() {
        for k in 0..p {
            let r = &ds.x[i * row + k * b..i * row + (k + 1) * b];
            if r.iter().any(|&x| x != 0) {
                by_class.entry(ds.y[i]).or_default().push((i, k));
            }
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x7061_636b);
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    for (_, mut v) in by_class {
        v.shuffle(&mut rng);
        v.truncate(per_class);
        chosen.extend(v);
    }
    chosen.sort_unstable();
    let padding = Field::Padding as u8;
    let mut out = ds.subset(&[]);
    let mut flow_of = Vec::with_capacity(chosen.len());
    for &(i, k) in &chosen {
        let src = i * row + k * b;
        let mut x = vec![0u8; row];
        x[..b].copy_from_slice(&ds.x[src..src + b]);
        let mut ids = vec![padding; row];
        ids[..b].copy_from_slice(&ds.fields[src..src + b]);
        let port = |fields: [Field; 2]| -> f32 {
            let at = ids[..b]
                .iter()
                .position(|&id| fields.iter().any(|&fl| fl as u8 == id));
            match at {
                Some(a) if a + 1 < b => f32::from(u16::from_be_bytes([x[a], x[a + 1]])),
                _ => 0.0,
            }
        };
        let mut feats = vec![0f32; f];
        feats[0] = ds.features[i * f];
        if f > 4 {
            feats[1] = port([Field::TcpSport, Field::UdpSport]);
            feats[2] = port([Field::TcpDport, Field::UdpDport]);
            feats[3] = 1.0;
            feats[4] = ds.features[i * f + 4 + k];
        }
        out.x.extend_from_slice(&x);
        out.fields.extend_from_slice(&ids);
        out.features.extend_from_slice(&feats);
        out.y.push(ds.y[i]);
        out.side.push(Side::Train);
        out.capture.push(ds.capture[i]);
        flow_of.push(i as u32);
    }
    anyhow::ensure!(out.n() > 0, "no packets to sample");
    Ok((out, flow_of))
}

/// Assigns sides per class: whole `test_unit`s to the test side until it
/// holds about 10 % of the class's rows (at least one unit), then whole
/// `val_unit`s of what is left to validation (about 10 %, at least one),
/// the rest to training. Classes with fewer than two test units (or
/// nothing left for validation and training) are dropped: returns the rows
/// kept, with their sides.
pub fn split_by_unit(
    y: &[u32],
    test_unit: &[u32],
    val_unit: &[u32],
    seed: u64,
) -> (Vec<usize>, Vec<Side>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x7370_6c69);
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &c) in y.iter().enumerate() {
        by_class.entry(c).or_default().push(i);
    }
    let mut side = vec![Side::Train; y.len()];
    let mut keep = Vec::new();
    // Distinct units of `rows`, in first-seen order, shuffled.
    let mut units_of = |rows: &[usize], unit: &[u32]| -> Vec<Vec<usize>> {
        let mut map: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &r in rows {
            map.entry(unit[r]).or_default().push(r);
        }
        let mut v: Vec<Vec<usize>> = map.into_values().collect();
        v.shuffle(&mut rng);
        v
    };
    for (_, rows) in by_class {
        let tenth = (rows.len() as f64 * 0.1).max(1.0);
        let test_units = units_of(&rows, test_unit);
        if test_units.len() < 2 {
            continue;
        }
        let class = y[rows[0]];
        let n_units = test_units.len();
        let mut test = 0usize;
        let mut rest = Vec::new();
        for (k, u) in test_units.into_iter().enumerate() {
            // Leading units, at least one, never the last (kept for training).
            let to_test = k + 1 < n_units && (k == 0 || (test as f64) < tenth) && rest.is_empty();
            if to_test {
                test += u.len();
                for r in u {
                    side[r] = Side::Test;
                    keep.push(r);
                }
            } else {
                rest.extend(u);
            }
        }
        if rest.len() < 2 {
            // Nothing left to train on: drop the class.
            keep.retain(|&r| y[r] != class);
            continue;
        }
        let val_units = units_of(&rest, val_unit);
        let mut val = 0usize;
        let n_val_units = val_units.len();
        for (k, u) in val_units.into_iter().enumerate() {
            let to_val = k + 1 < n_val_units && (k == 0 || (val as f64) < tenth);
            for r in u {
                if to_val {
                    side[r] = Side::Val;
                    val += 1;
                }
                keep.push(r);
            }
        }
    }
    keep.sort_unstable();
    let sides = keep.iter().map(|&r| side[r]).collect();
    (keep, sides)
}

/// `ds` restricted to `rows`, with the given sides.
pub fn with_sides(ds: &Dataset, rows: &[usize], sides: &[Side]) -> Dataset {
    let mut out = ds.subset(rows);
    out.side = sides.to_vec();
    out
}

/// Label names as compared across sources: upper case, with the aliases
/// of `../shared/data/SOURCES.md`'s class mapping (`HTTPS` and `SSL` are
/// TLS, `FTP_CONTROL` is FTP).
pub fn canonical_label(label: &str) -> String {
    let up = label.to_ascii_uppercase();
    match up.as_str() {
        "HTTPS" | "SSL" => "TLS".to_string(),
        "FTP_CONTROL" => "FTP".to_string(),
        _ => up,
    }
}

/// Canonical classes both datasets have, sorted.
pub fn overlap(a: &Dataset, b: &Dataset) -> Vec<String> {
    let ca: BTreeSet<String> = a.classes.iter().map(|c| canonical_label(c)).collect();
    let cb: BTreeSet<String> = b.classes.iter().map(|c| canonical_label(c)).collect();
    ca.intersection(&cb).cloned().collect()
}

/// `ds` with only the rows whose canonical class is in `classes` (sorted
/// canonical names), relabelled to indices into `classes`. `all_test`:
/// every row goes to the test side (a target dataset).
pub fn restrict(ds: &Dataset, classes: &[String], all_test: bool) -> Dataset {
    let map: Vec<Option<u32>> = ds
        .classes
        .iter()
        .map(|c| {
            classes
                .iter()
                .position(|k| *k == canonical_label(c))
                .map(|p| p as u32)
        })
        .collect();
    let rows: Vec<usize> = (0..ds.n())
        .filter(|&i| map[ds.y[i] as usize].is_some())
        .collect();
    let mut out = ds.subset(&rows);
    out.y = rows
        .iter()
        .map(|&i| map[ds.y[i] as usize].unwrap_or(0))
        .collect();
    out.classes = classes.to_vec();
    if all_test {
        out.side = vec![Side::Test; out.n()];
    }
    out
}

/// Mean share of attribution per field group over rows `idx` of `ds`,
/// `method` on a deep `model`, in batches of 8 (integrated gradients keep
/// `steps` copies of each batch).
pub fn attribution_shares(
    model: &Model,
    ds: &Dataset,
    idx: &[usize],
    method: Method,
) -> anyhow::Result<BTreeMap<FieldGroup, f64>> {
    let flows = encoded(ds, idx);
    let len = ds.row_len();
    let mut totals = FieldTotals::new();
    for (c, chunk) in flows.bytes.chunks(8 * len).enumerate() {
        let n = chunk.len() / len;
        let attr = explain::attribute(model, chunk, n, None, method)
            .with_context(|| format!("{} attribution", method.name()))?;
        for (j, a) in attr.iter().enumerate() {
            let at = (c * 8 + j) * len;
            let ids = &flows.field_ids[at..at + len];
            totals.add(&explain::by_field(&a.grid, ids)?);
        }
    }
    let s = totals.summary();
    Ok(s.per_group
        .iter()
        .map(|g| (g.group, f64::from(g.share)))
        .collect())
}

/// Spearman's rank correlation of two score lists (ties get their average
/// rank). `None` when fewer than 3 items or a list is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va <= 0.0 || vb <= 0.0 {
        return None;
    }
    Some(cov / (va * vb).sqrt())
}

/// 1-based ranks, ties averaged.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut out = vec![0.0; v.len()];
    let mut k = 0;
    while k < order.len() {
        let mut e = k;
        while e + 1 < order.len() && v[order[e + 1]] == v[order[k]] {
            e += 1;
        }
        let rank = (k + e) as f64 / 2.0 + 1.0;
        for &i in &order[k..=e] {
            out[i] = rank;
        }
        k = e + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_known_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(spearman(&a, &[10.0, 20.0, 30.0, 40.0, 50.0]), Some(1.0));
        assert_eq!(spearman(&a, &[5.0, 4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&a, &[1.0, 1.0, 1.0, 1.0, 1.0]), None);
        // Ties: ranks [1.5, 1.5, 3] vs [1, 2, 3].
        let r = spearman(&[0.0, 0.0, 1.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((r - 0.866_025_4).abs() < 1e-6, "{r}");
    }

    #[test]
    fn units_never_straddle_sides() {
        // 3 classes x 40 rows; units of 4 rows.
        let y: Vec<u32> = (0..120).map(|i| (i / 40) as u32).collect();
        let unit: Vec<u32> = (0..120).map(|i| (i / 4) as u32).collect();
        let rows: Vec<u32> = (0..120).collect();
        let (keep, sides) = split_by_unit(&y, &unit, &rows, 1);
        assert_eq!(keep.len(), 120);
        let mut side_of_unit: BTreeMap<u32, Side> = BTreeMap::new();
        for (&r, &s) in keep.iter().zip(&sides) {
            if s == Side::Test {
                assert_eq!(*side_of_unit.entry(unit[r]).or_insert(s), Side::Test);
            } else {
                assert_ne!(side_of_unit.get(&unit[r]), Some(&Side::Test));
                side_of_unit.entry(unit[r]).or_insert(s);
            }
        }
        for c in 0..3 {
            let count = |s| {
                keep.iter()
                    .zip(&sides)
                    .filter(|(&r, &x)| y[r] == c && x == s)
                    .count()
            };
            assert!(count(Side::Test) >= 4 && count(Side::Val) >= 1 && count(Side::Train) > 20);
        }
        // A class with one unit only is dropped.
        let unit: Vec<u32> = (0..120)
            .map(|i| if i < 40 { 0 } else { i as u32 })
            .collect();
        let (keep, _) = split_by_unit(&y, &unit, &rows, 1);
        assert!(keep.iter().all(|&r| y[r] != 0));
        assert_eq!(keep.len(), 80);
    }

    #[test]
    fn canonical_labels_match_across_sources() {
        assert_eq!(canonical_label("HTTPS"), "TLS");
        assert_eq!(canonical_label("TLS"), "TLS");
        assert_eq!(canonical_label("FTP_CONTROL"), "FTP");
        assert_eq!(canonical_label("Dns"), "DNS");
    }
}
