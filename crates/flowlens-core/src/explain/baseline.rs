//! Explanations of the classic baselines: the C4.5 decision path mapped to
//! the header fields and bytes its key features come from, and the k-NN
//! nearest reference rows.
//!
//! Key features ([`Representation::key_feature_names`]) and their sources:
//!
//! | feature | fields | bytes shown |
//! |---|---|---|
//! | `protocol` | `ipv4.protocol`, `ipv6.next_header` | packet 0 |
//! | `sport`, `dport` | `tcp.sport`/`udp.sport`, `tcp.dport`/`udp.dport` | packet 0 (the initiator's) |
//! | `packets` | none: the flow's packet count (the grid shows it as padding rows) | none |
//! | `len_i` | `ipv4.total_length`, `ipv6.payload_length` | packet `i` |
//!
//! Bytes are the first span of the field in that packet (the outer header;
//! inner headers of ICMP errors and tunnels share the field names).

use serde::{Deserialize, Serialize};

use super::ExplainError;
use crate::baselines::{C45Model, KnnModel, PathStep};
use crate::repr::{Field, Representation};

/// Where a key feature comes from in the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSource {
    /// Index into the key-feature row.
    pub feature: usize,
    pub name: String,
    /// The header fields the feature is read from (empty for `packets`).
    pub fields: Vec<Field>,
    /// Byte spans of the grid: `(packet, start, len)`.
    pub bytes: Vec<ByteSpan>,
}

/// Bytes `start..start + len` of packet `packet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteSpan {
    pub packet: usize,
    pub start: usize,
    pub len: usize,
}

/// The fields a key feature is read from, and the packet whose bytes show
/// it (`None` for `packets` or an unknown name).
fn feature_fields(name: &str) -> (Vec<Field>, Option<usize>) {
    use Field::*;
    match name {
        "protocol" => (vec![Ipv4Protocol, Ipv6NextHeader], Some(0)),
        "sport" => (vec![TcpSport, UdpSport], Some(0)),
        "dport" => (vec![TcpDport, UdpDport], Some(0)),
        _ => match name.strip_prefix("len_").and_then(|i| i.parse().ok()) {
            Some(i) => (vec![Ipv4TotalLength, Ipv6PayloadLength], Some(i)),
            None => (Vec::new(), None),
        },
    }
}

/// The source of every key feature of `repr` in one flow, whose `[P, B]`
/// field ids are `field_ids`.
pub fn feature_sources(
    repr: &Representation,
    field_ids: &[Field],
) -> Result<Vec<FeatureSource>, ExplainError> {
    let [p, b] = repr.shape();
    if field_ids.len() != p * b {
        return Err(ExplainError::Length {
            what: "field ids",
            expected: p * b,
            got: field_ids.len(),
        });
    }
    Ok(repr
        .key_feature_names()
        .into_iter()
        .enumerate()
        .map(|(feature, name)| {
            let (fields, packet) = feature_fields(&name);
            let bytes = packet
                .filter(|&pk| pk < p)
                .and_then(|pk| {
                    let row = &field_ids[pk * b..(pk + 1) * b];
                    let start = row.iter().position(|f| fields.contains(f))?;
                    let len = row[start..]
                        .iter()
                        .take_while(|&&f| f == row[start])
                        .count();
                    Some(ByteSpan {
                        packet: pk,
                        start,
                        len,
                    })
                })
                .into_iter()
                .collect();
            FeatureSource {
                feature,
                name,
                fields,
                bytes,
            }
        })
        .collect())
}

/// One test of a C4.5 decision path and where its feature comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainedStep {
    pub step: PathStep,
    pub source: FeatureSource,
}

/// The C4.5 explanation of one flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeExplanation {
    pub class: usize,
    pub probabilities: Vec<f32>,
    /// Root first.
    pub path: Vec<ExplainedStep>,
}

/// The decision path for `features` (the flow's key features under `repr`)
/// with each test's fields and bytes.
pub fn explain_c45(
    model: &C45Model,
    repr: &Representation,
    features: &[f32],
    field_ids: &[Field],
) -> Result<TreeExplanation, ExplainError> {
    let sources = feature_sources(repr, field_ids)?;
    let (class, probabilities) = model.predict(features);
    let path = model
        .decision_path(features)
        .into_iter()
        .map(|step| {
            let source = sources
                .get(step.feature)
                .cloned()
                .unwrap_or_else(|| FeatureSource {
                    feature: step.feature,
                    name: step.feature_name.clone(),
                    fields: Vec::new(),
                    bytes: Vec::new(),
                });
            ExplainedStep { step, source }
        })
        .collect();
    Ok(TreeExplanation {
        class,
        probabilities,
        path,
    })
}

/// One of the k nearest reference rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighbourView {
    /// Row index in the model's reference set.
    pub index: usize,
    /// Euclidean distance in standardised space.
    pub distance: f32,
    pub label: usize,
    pub class: String,
    /// The row's key features (raw, not standardised).
    pub features: Vec<f32>,
}

/// The `k` nearest reference rows of `features`, nearest first.
pub fn explain_knn(model: &KnnModel, features: &[f32], k: usize) -> Vec<NeighbourView> {
    model
        .neighbours(features, k)
        .into_iter()
        .map(|n| {
            // Reference rows are stored standardised; undo it for display.
            let features = model
                .reference_row(n.index)
                .map(|z| {
                    z.iter()
                        .zip(model.mean().iter().zip(model.std()))
                        .map(|(&z, (&m, &s))| z * s + m)
                        .collect()
                })
                .unwrap_or_default();
            NeighbourView {
                index: n.index,
                distance: n.distance,
                label: n.label,
                class: model.classes().get(n.label).cloned().unwrap_or_default(),
                features,
            }
        })
        .collect()
}
