//! The key-feature path: what reaches the published C4.5 and k-NN models
//! from a flow, a what-if edit or a share link.
//!
//! The first byte picks the source of the row:
//! - 0: the row itself, as little-endian f32s (any length, NaN, infinities,
//!   subnormals): what a hostile share link's `key_features` could be
//!   before validation, or a caller's bug;
//! - 1: a real flow of `tests/data/` under a representation with a view
//!   from the input (all, key, or custom zero / randomise lists with a
//!   seed), then what-if byte edits from the input, the features the edits
//!   touch read back from the edited bytes as the page does
//!   (`Perturbation::apply_features` per edited field group);
//! - 2: a share payload (postcard bytes) that validates, whose edits are
//!   applied the same way to its own grid, field map and features.
//!
//! Properties: a flow's key features are `4 + P` finite values: protocol
//! an integer in 0..=255, ports integers in 0..=65535, the packet count
//! the flow's, each `len_i` an integer whose sign is the packet's
//! direction (0 for a missing packet), after edits too; every row gives
//! both baselines a valid prediction (see `c45_export` and `knn_export`)
//! and a decision path / neighbours that `explain_c45` / `explain_knn`
//! can show.

use std::collections::BTreeSet;

use flowlens_core::baselines::{C45Model, KnnModel};
use flowlens_core::classifier::Classifier;
use flowlens_core::explain::{
    explain_c45, explain_knn, ByteEdit, Mode, Perturbation, SharePayload,
};
use flowlens_core::flows::Direction;
use flowlens_core::manifest::Architecture;
use flowlens_core::repr::{Field, FieldGroup, Representation, View};

use crate::fixtures::{self, Bytes};

pub fn run(data: &[u8]) {
    let published = fixtures::published_or_panic();
    let (Classifier::C45(c45), Classifier::Knn(knn)) = (
        &published.model(Architecture::C45).classifier,
        &published.model(Architecture::Knn).classifier,
    ) else {
        panic!("the published C4.5 and k-NN entries load as such");
    };
    let repr = &published.model(Architecture::C45).entry.representation;
    let mut r = Bytes::new(data);
    match r.u8() % 3 {
        0 => {
            let row: Vec<f32> = r
                .rest()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let flow = &fixtures::flows()[0];
            predict(c45, knn, repr, &row, &repr.field_ids(flow));
        }
        1 => from_flow(c45, knn, &mut r),
        _ => from_share(c45, knn, repr, r.rest()),
    }
}

/// Both baselines on one row: valid predictions, paths and neighbours.
fn predict(c45: &C45Model, knn: &KnnModel, repr: &Representation, row: &[f32], ids: &[Field]) {
    let (class, p) = c45.predict(row);
    super::check_probabilities("C4.5", class, &p, c45.classes().len());
    let explained = explain_c45(c45, repr, row, ids).expect("field ids have the repr's shape");
    assert_eq!(explained.class, class);
    for step in &explained.path {
        assert!(step.step.feature < c45.n_features());
        assert_eq!(step.source.feature, step.step.feature);
    }
    let (class, votes) = knn.predict(row);
    super::check_probabilities("k-NN", class, &votes, knn.classes().len());
    let near = explain_knn(knn, row, 3);
    assert_eq!(near.len(), 3.min(knn.len()));
    assert!(near.iter().all(|n| !n.distance.is_nan()));
}

fn view_from(r: &mut Bytes) -> View {
    match r.u8() % 3 {
        0 => View::All,
        1 => View::Key,
        _ => {
            let mut zero = Vec::new();
            let mut randomise = Vec::new();
            for _ in 0..r.u8() % 8 {
                let f = Field::ALL[r.index(Field::ALL.len())];
                if r.u8() & 1 == 0 {
                    zero.push(f);
                } else if !f.is_always_zero() && !zero.contains(&f) {
                    randomise.push(f);
                }
            }
            zero.retain(|f| !randomise.contains(f));
            View::Custom {
                zero,
                randomise,
                seed: r.u64(),
            }
        }
    }
}

/// The features the page shows after `edits`: those of the edited field
/// groups read back from the edited bytes (as the page's
/// `explain::edited_features`).
fn edited_features(
    repr: &Representation,
    features: &[f32],
    edited: &[u8],
    ids: &[Field],
    edits: &[ByteEdit],
) -> Vec<f32> {
    let b = repr.bytes_per_packet();
    let groups: BTreeSet<FieldGroup> = edits
        .iter()
        .filter_map(|e| ids.get(usize::from(e.packet) * b + usize::from(e.offset)))
        .map(|f| f.group())
        .collect();
    let mut out = features.to_vec();
    for group in groups {
        if let Ok(p) = Perturbation::new(group, Mode::Randomise, 0) {
            p.apply_features(repr, &mut out, edited, ids)
                .expect("features, bytes and field ids of one representation");
        }
    }
    out
}

fn from_flow(c45: &C45Model, knn: &KnnModel, r: &mut Bytes) {
    let flows = fixtures::flows();
    let flow = &flows[r.index(flows.len())];
    let view = view_from(r);
    let repr = Representation::new(8, 128, view).expect("valid view");
    let features = repr.key_features(flow);
    check_flow_features(&repr, flow, &features);
    let [p, b] = repr.shape();
    let mut bytes = repr.encode(flow);
    let ids = repr.field_ids(flow);
    let mut edits = Vec::new();
    while !r.is_empty() && edits.len() < 32 {
        let e = ByteEdit {
            packet: r.u8() as u16 % p as u16,
            offset: r.u8() as u16 % b as u16,
            value: r.u8(),
        };
        bytes[usize::from(e.packet) * b + usize::from(e.offset)] = e.value;
        edits.push(e);
    }
    let edited = edited_features(&repr, &features, &bytes, &ids, &edits);
    check_flow_features(&repr, flow, &edited);
    predict(c45, knn, &repr, &edited, &ids);
}

/// A flow's key features, before or after edits (see the module docs).
fn check_flow_features(repr: &Representation, flow: &flowlens_core::Flow, f: &[f32]) {
    let p = repr.packets();
    assert_eq!(f.len(), 4 + p);
    assert!(f.iter().all(|v| v.is_finite() && v.fract() == 0.0), "{f:?}");
    assert!((0.0..=255.0).contains(&f[0]), "protocol {}", f[0]);
    assert!((0.0..=65535.0).contains(&f[1]) && (0.0..=65535.0).contains(&f[2]));
    assert_eq!(f[3], flow.total_packets() as f32);
    for (i, &len) in f[4..].iter().enumerate() {
        match flow.head.get(i).map(|h| h.dir) {
            None => assert_eq!(len, 0.0),
            Some(Direction::Forward) => assert!(len >= 0.0, "len_{i} {len} forward"),
            Some(Direction::Backward) => assert!(len <= 0.0, "len_{i} {len} backward"),
        }
    }
}

fn from_share(c45: &C45Model, knn: &KnnModel, repr: &Representation, raw: &[u8]) {
    let Ok(payload) = postcard::from_bytes::<SharePayload>(raw) else {
        return;
    };
    if payload.validate().is_err() {
        return;
    }
    let shape = [payload.packets as usize, payload.bytes_per_packet as usize];
    if shape != repr.shape() {
        // The page only reads a link's grid with its own model's shape.
        return;
    }
    let edited = payload.edited_bytes();
    let ids = payload.field_ids();
    let features = edited_features(
        repr,
        &payload.key_features,
        &edited,
        &ids,
        &payload.view.edits,
    );
    assert_eq!(features.len(), 4 + repr.packets());
    assert!(features.iter().all(|v| v.is_finite()));
    predict(c45, knn, repr, &features, &ids);
}
