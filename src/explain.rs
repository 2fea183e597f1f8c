//! Why a model decided what it did about one flow, and what the models of a
//! pack lean on over a whole capture: what the worker computes for the
//! explanation views, without the browser around it (so it runs in native
//! tests too). Every number comes from `flowlens_core::explain`; this
//! module only picks the inputs, the defaults and the message shapes.
//!
//! - [`explain`]: one flow (of the dropped capture, or decoded from a share
//!   link) for one model: its `[P, B]` input as the model sees it, the
//!   what-if edits applied, the attribution grid (HAN attention,
//!   gradient×input, integrated gradients) summed per field, or the C4.5
//!   decision path, or the k-NN neighbours; every model of the pack
//!   re-run on the edited input; share fragments.
//! - [`FieldTotalsRow`]: capture-wide weight per header field, per model.
//! - [`AuditRow`]: flows whose prediction flips when one field group is
//!   randomised (issue 5's audit panel).

use std::collections::BTreeSet;

use candle_core::Device;
use flowlens_core::classifier::{argmax, softmax, Classifier};
use flowlens_core::explain::{
    attribute, by_field, explain_c45, explain_knn, AttentionLevel, ByteEdit, FieldSummary,
    FieldTotals, FlowFields, Grid, Method, Mode, NeighbourView, Perturbation, SharePayload,
    TreeExplanation, ViewState, DEFAULT_IG_STEPS,
};
use flowlens_core::manifest::{Architecture, ModelEntry};
use flowlens_core::repr::{Action, Field, FieldGroup, FieldSpan, PacketFields, Representation};
use flowlens_core::Flow;
use serde::{Deserialize, Serialize};

use crate::protocol::ModelOutput;

/// Nearest reference flows shown for k-NN.
pub const NEIGHBOURS: usize = 3;
/// Flows the capture-wide field view reads (the first ones of the capture).
pub const FIELD_TOTALS_MAX_FLOWS: usize = 400;
/// Flows the audit panel perturbs (the first ones of the capture).
pub const AUDIT_MAX_FLOWS: usize = 1000;
/// Seed of the audit's noise: the same capture gives the same table.
pub const AUDIT_SEED: u64 = 0x5eed_a0d1;
/// What-if edits accepted at once.
pub const MAX_EDITS: usize = 4096;

/// Which flow an explanation is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// Flow `flow` (capture order) of parse job `job`; the models are those
    /// of classification run `run`.
    Flow { job: u32, run: u32, flow: u32 },
    /// A share link's fragment (without `#`).
    Shared { fragment: String },
}

/// What the page asks about a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainRequest {
    /// Echoed in the answer; the page ignores answers to older requests.
    pub req: u32,
    pub subject: Subject,
    /// Manifest id of the model to explain; `None`: the share link's model,
    /// or the run's first.
    pub model: Option<String>,
    /// `None`: the model's default ([`default_method`]), or the share link's.
    pub method: Option<Method>,
    /// What-if edits of the model's input; `None`: the share link's (none
    /// for a flow of the capture).
    pub edits: Option<Vec<ByteEdit>>,
    pub selected_packet: Option<u16>,
}

/// Share fragments for the view shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareLinks {
    /// Payload bytes zeroed (the default link).
    pub without_payload: String,
    /// Payload bytes included (`None` when the view came from a link
    /// without them).
    pub with_payload: Option<String>,
}

/// One flow explained for one model: everything the detail view draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainView {
    pub req: u32,
    /// The capture flow shown (`None`: from a share link).
    pub flow: Option<u32>,
    pub pack_id: String,
    pub pack_title: String,
    pub model_id: String,
    /// `cnn`, `lstm`, `sae`, `han`, `c45`, `knn`.
    pub architecture: String,
    pub classes: Vec<String>,
    /// The model's view (`all`, `key`, `custom`).
    pub view: String,
    pub packets: u32,
    pub bytes_per_packet: u32,
    /// `[P, B]`: the input as the model sees it, edits applied.
    pub bytes: Vec<u8>,
    /// `[P, B]`: the same before the edits.
    pub original: Vec<u8>,
    /// `[P, B]`: the header field of every byte.
    pub field_ids: Vec<Field>,
    /// Fields the model's view zeroes or randomises.
    pub hidden_fields: Vec<Field>,
    /// The packets present, field by field, values as captured.
    pub field_map: Vec<PacketFields>,
    /// `[4 + P]` key features after the edits, and their names.
    pub key_features: Vec<f32>,
    pub feature_names: Vec<String>,
    /// The attribution shown on the grid (deep models).
    pub method: Option<Method>,
    pub grid: Option<Grid>,
    pub fields: Option<FlowFields>,
    /// `[P]`: HAN's packet attention, or each packet's share of the
    /// attribution's magnitude; empty for the baselines.
    pub packet_weights: Vec<f32>,
    pub tree: Option<TreeExplanation>,
    pub neighbours: Vec<NeighbourView>,
    /// Every model of the pack that reads the same input, on the edited
    /// input, in the pack's order.
    pub predictions: Vec<ModelOutput>,
    pub edits: Vec<ByteEdit>,
    pub selected_packet: Option<u16>,
    pub share: Option<ShareLinks>,
    /// From a share link: whether its payload bytes were included.
    pub payload_included: bool,
}

/// The method shown first: HAN's own attention, gradient×input otherwise
/// (`None` for the baselines).
pub fn default_method(architecture: Architecture) -> Option<Method> {
    match architecture {
        Architecture::Han => Some(Method::Attention {
            level: AttentionLevel::Combined,
        }),
        Architecture::C45 | Architecture::Knn => None,
        _ => Some(Method::GradientInput),
    }
}

/// `method` made valid for `architecture`: attention only for HAN,
/// integrated gradients with 1 to 64 steps, nothing for the baselines.
pub fn method_for(architecture: Architecture, method: Option<Method>) -> Option<Method> {
    let default = default_method(architecture)?;
    match method {
        None => Some(default),
        Some(Method::Attention { .. }) if architecture != Architecture::Han => Some(default),
        Some(Method::IntegratedGradients { steps }) => Some(Method::IntegratedGradients {
            steps: if (1..=64).contains(&steps) {
                steps
            } else {
                DEFAULT_IG_STEPS
            },
        }),
        Some(m) => Some(m),
    }
}

/// A loaded model of the pack.
pub struct Loaded<'a> {
    pub entry: &'a ModelEntry,
    pub clf: &'a Classifier,
}

/// Where the input comes from: a capture flow, or a decoded share link.
pub enum Source<'a> {
    Flow { index: u32, flow: &'a Flow },
    Shared(&'a SharePayload),
}

/// One flow's input under one representation, before edits.
struct Input {
    bytes: Vec<u8>,
    field_ids: Vec<Field>,
    field_map: Vec<PacketFields>,
    key_features: Vec<f32>,
}

impl Source<'_> {
    /// The input `repr` sees; a share link only has the one of its model
    /// (`model_repr`).
    fn input(&self, repr: &Representation, model_repr: &Representation) -> Option<Input> {
        match self {
            Source::Flow { flow, .. } => Some(Input {
                bytes: repr.encode(flow),
                field_ids: repr.field_ids(flow),
                field_map: repr.field_map(flow),
                key_features: repr.key_features(flow),
            }),
            Source::Shared(p) if repr == model_repr => Some(Input {
                bytes: p.bytes.clone(),
                field_ids: p.field_ids(),
                field_map: p.field_map.clone(),
                key_features: p.key_features.clone(),
            }),
            Source::Shared(_) => None,
        }
    }
}

/// `edits` applied to `bytes` (`[P, B]`); edits outside the grid are
/// dropped. Returns the edited bytes and the edits kept (the last edit of
/// a byte wins).
pub fn apply_edits(bytes: &[u8], b: usize, edits: &[ByteEdit]) -> (Vec<u8>, Vec<ByteEdit>) {
    let mut out = bytes.to_vec();
    let mut kept: Vec<ByteEdit> = Vec::new();
    for e in edits.iter().take(MAX_EDITS) {
        let at = usize::from(e.packet) * b + usize::from(e.offset);
        if usize::from(e.offset) >= b {
            continue;
        }
        if let Some(x) = out.get_mut(at) {
            *x = e.value;
            kept.retain(|k| (k.packet, k.offset) != (e.packet, e.offset));
            kept.push(*e);
        }
    }
    (out, kept)
}

/// The key features after byte edits: the features whose fields were
/// edited (protocol, ports, IP lengths) are read back from the edited
/// bytes, as the audit's perturbation does
/// ([`Perturbation::apply_features`]).
pub fn edited_features(
    repr: &Representation,
    features: &[f32],
    edited: &[u8],
    field_ids: &[Field],
    edits: &[ByteEdit],
) -> Vec<f32> {
    let b = repr.bytes_per_packet();
    let groups: BTreeSet<FieldGroup> = edits
        .iter()
        .filter_map(|e| field_ids.get(usize::from(e.packet) * b + usize::from(e.offset)))
        .map(|f| f.group())
        .collect();
    let mut out = features.to_vec();
    for group in groups {
        // The seed is unused when reading back from bytes.
        if let Ok(p) = Perturbation::new(group, Mode::Randomise, 0) {
            // A length mismatch leaves the features as they were.
            let _ = p.apply_features(repr, &mut out, edited, field_ids);
        }
    }
    out
}

/// One model's answer for one input.
fn predict_one(
    l: &Loaded,
    bytes: &[u8],
    features: &[f32],
    device: &Device,
) -> Result<ModelOutput, String> {
    let repr = &l.entry.representation;
    let (logits, probabilities) = match l.clf {
        Classifier::Deep(_) => {
            let logits = l
                .clf
                .logits_matrix(bytes, 1, repr, device)
                .map_err(|e| e.to_string())?
                .into_iter()
                .next()
                .unwrap_or_default();
            let p = softmax(&logits);
            (logits, p)
        }
        _ => {
            let p = l.clf.predict_features(features).probabilities;
            (p.clone(), p)
        }
    };
    Ok(ModelOutput {
        id: l.entry.id.clone(),
        label: u16::try_from(argmax(&probabilities)).unwrap_or(u16::MAX),
        probabilities,
        logits,
        error: None,
    })
}

/// Pack id and title as the share link and the view name them.
pub struct PackRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
}

/// Explains `source` for `target`, re-running every model of `models`
/// (the pack, loaded; those that failed to load are `Err`) on the edited
/// input.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    req: &ExplainRequest,
    pack: PackRef,
    models: &[(&ModelEntry, Result<&Classifier, String>)],
    target: &Loaded,
    source: &Source,
    method: Option<Method>,
    edits: &[ByteEdit],
    device: &Device,
) -> Result<ExplainView, String> {
    let entry = target.entry;
    let repr = &entry.representation;
    let [p, b] = repr.shape();
    let input = source
        .input(repr, repr)
        .ok_or_else(|| "the flow cannot be read for this model".to_string())?;
    if input.bytes.len() != p * b {
        return Err(format!(
            "the input holds {} bytes, the model reads {p} × {b}",
            input.bytes.len()
        ));
    }
    let (bytes, edits) = apply_edits(&input.bytes, b, edits);
    let features = edited_features(repr, &input.key_features, &bytes, &input.field_ids, &edits);
    let method = method_for(entry.architecture, method);

    let (mut grid, mut fields, mut packet_weights, mut tree, mut neighbours) =
        (None, None, Vec::new(), None, Vec::new());
    match target.clf {
        Classifier::Deep(model) => {
            let Some(m) = method else {
                return Err("no attribution method for a deep model".into());
            };
            let a = attribute(model, &bytes, 1, None, m)
                .map_err(|e| format!("attribution: {e}"))?
                .into_iter()
                .next()
                .ok_or("attribution returned nothing")?;
            fields = Some(by_field(&a.grid, &input.field_ids).map_err(|e| e.to_string())?);
            packet_weights = if entry.architecture == Architecture::Han {
                let level = AttentionLevel::Packet;
                attribute(model, &bytes, 1, None, Method::Attention { level })
                    .map_err(|e| format!("attention: {e}"))?
                    .into_iter()
                    .next()
                    .map(|a| a.grid.packet_magnitudes())
                    .unwrap_or_default()
            } else {
                shares(&a.grid.packet_magnitudes())
            };
            grid = Some(a.grid);
        }
        Classifier::C45(m) => {
            tree =
                Some(explain_c45(m, repr, &features, &input.field_ids).map_err(|e| e.to_string())?);
        }
        Classifier::Knn(m) => neighbours = explain_knn(m, &features, NEIGHBOURS),
    }

    let predictions = models
        .iter()
        .filter_map(|(e, clf)| {
            let out = match clf {
                Ok(clf) => {
                    let l = Loaded { entry: e, clf };
                    let er = &e.representation;
                    let input = source.input(er, repr)?;
                    let (eb, kept) = apply_edits(&input.bytes, er.bytes_per_packet(), &edits);
                    let ef = edited_features(er, &input.key_features, &eb, &input.field_ids, &kept);
                    predict_one(&l, &eb, &ef, device)
                }
                Err(err) => Err(err.clone()),
            };
            Some(out.unwrap_or_else(|error| ModelOutput {
                id: e.id.clone(),
                label: u16::MAX,
                probabilities: Vec::new(),
                logits: Vec::new(),
                error: Some(error),
            }))
        })
        .collect();

    let view = ViewState {
        selected_packet: req.selected_packet.filter(|&s| usize::from(s) < p),
        method,
        edits: edits.clone(),
    };
    let (share, payload_included) = match source {
        Source::Flow { flow, .. } => {
            let link = |include| {
                SharePayload::from_flow(pack.id, &entry.id, repr, flow, view.clone(), include)
                    .encode()
                    .ok()
            };
            let share = match (link(false), link(true)) {
                (Some(without_payload), with_payload) => Some(ShareLinks {
                    without_payload,
                    with_payload,
                }),
                _ => None,
            };
            (share, true)
        }
        Source::Shared(payload) => {
            let mut again = (*payload).clone();
            again.model_id = entry.id.clone();
            again.view = view.clone();
            let share = again.encode().ok().map(|link| ShareLinks {
                without_payload: link,
                with_payload: None,
            });
            (share, payload.payload_included)
        }
    };

    Ok(ExplainView {
        req: req.req,
        flow: match source {
            Source::Flow { index, .. } => Some(*index),
            Source::Shared(_) => None,
        },
        pack_id: pack.id.to_string(),
        pack_title: pack.title.to_string(),
        model_id: entry.id.clone(),
        architecture: entry.architecture.as_str().to_string(),
        classes: entry.classes.clone(),
        view: repr.view().kind().to_string(),
        packets: p as u32,
        bytes_per_packet: b as u32,
        bytes,
        original: input.bytes,
        field_ids: input.field_ids,
        hidden_fields: Field::ALL
            .iter()
            .copied()
            .filter(|&f| repr.action(f) != Action::Keep)
            .collect(),
        field_map: input.field_map,
        key_features: features,
        feature_names: repr.key_feature_names(),
        method,
        grid,
        fields,
        packet_weights,
        tree,
        neighbours,
        predictions,
        edits,
        selected_packet: view.selected_packet,
        share,
        payload_included,
    })
}

/// Each value's share of the sum (all 0 when the sum is 0).
fn shares(values: &[f32]) -> Vec<f32> {
    let total: f32 = values.iter().sum();
    values
        .iter()
        .map(|v| if total > 0.0 { v / total } else { 0.0 })
        .collect()
}

/// Capture-wide field weights of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldTotalsRow {
    pub model: String,
    pub method: Method,
    /// Flows read (the first of the capture, at most
    /// [`FIELD_TOTALS_MAX_FLOWS`]).
    pub flows: u32,
    pub summary: FieldSummary,
}

/// Adds the attribution of `flows` (by `clf`, with `method`) to `totals`.
pub fn add_field_totals(
    totals: &mut FieldTotals,
    model: &flowlens_core::models::Model,
    repr: &Representation,
    flows: &[&Flow],
    method: Method,
) -> Result<(), String> {
    let bytes = repr.encode_batch(flows);
    let atts = attribute(model, &bytes, flows.len(), None, method).map_err(|e| e.to_string())?;
    for (a, f) in atts.iter().zip(flows) {
        let ff = by_field(&a.grid, &repr.field_ids(f)).map_err(|e| e.to_string())?;
        totals.add(&ff);
    }
    Ok(())
}

/// One model × one field group of the audit panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub model: String,
    pub group: FieldGroup,
    /// Flows perturbed.
    pub flows: u32,
    /// Capture indices of the flows whose prediction changed.
    pub flipped: Vec<u32>,
    /// Bytes rewritten (0: the group is absent, or the view hides it).
    pub bytes_changed: u64,
    /// Per flipped flow: the class before and after.
    pub changes: Vec<(u16, u16)>,
}

impl ExplainView {
    /// The field span byte `b` of packet `p` belongs to (`None`: a packet
    /// the flow does not have, or out of range).
    pub fn span_at(&self, p: usize, b: usize) -> Option<&FieldSpan> {
        self.field_map.get(p)?.fields.iter().find(|s| {
            let start = usize::from(s.start);
            (start..start + usize::from(s.len)).contains(&b)
        })
    }

    /// The header field of byte `b` of packet `p`.
    pub fn field_at(&self, p: usize, b: usize) -> Field {
        self.field_ids
            .get(p * self.bytes_per_packet as usize + b)
            .copied()
            .unwrap_or(Field::Padding)
    }

    /// The attribution of byte `b` of packet `p`.
    pub fn weight(&self, p: usize, b: usize) -> Option<f32> {
        self.grid.as_ref()?.get(p, b)
    }

    /// Whether the model's view zeroes or randomises `field`.
    pub fn hides(&self, field: Field) -> bool {
        self.hidden_fields.contains(&field)
    }

    /// The class `model` predicts for the shown input.
    pub fn label_of(&self, model: &str) -> Option<&str> {
        let out = self.predictions.iter().find(|o| o.id == model)?;
        out.error.is_none().then_some(())?;
        self.classes.get(out.label as usize).map(String::as_str)
    }

    /// Bytes `[start, start + len)` of packet `p` after the edits, big endian.
    pub fn value_be(&self, p: usize, start: usize, len: usize) -> Option<u64> {
        let b = self.bytes_per_packet as usize;
        if start + len > b || len > 8 {
            return None;
        }
        let row = self.bytes.get(p * b..(p + 1) * b)?;
        Some(
            row[start..start + len]
                .iter()
                .fold(0u64, |a, &x| (a << 8) | u64::from(x)),
        )
    }
}

/// Edits that write `value` big endian over bytes `[start, start + len)` of
/// packet `p` (the value is cut to the field's width).
pub fn field_edits(p: u16, start: u16, len: u16, value: u64) -> Vec<ByteEdit> {
    let len = len.min(8);
    (0..len)
        .map(|i| ByteEdit {
            packet: p,
            offset: start + i,
            value: (value >> (8 * u32::from(len - 1 - i))) as u8,
        })
        .collect()
}

/// `edits` with `new` added (a byte edited again keeps only its newest value).
pub fn merge_edits(edits: &[ByteEdit], new: &[ByteEdit]) -> Vec<ByteEdit> {
    let mut out: Vec<ByteEdit> = edits
        .iter()
        .filter(|e| {
            !new.iter()
                .any(|n| (n.packet, n.offset) == (e.packet, e.offset))
        })
        .copied()
        .collect();
    out.extend_from_slice(new);
    out
}

/// The worker's answer to an [`ExplainRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainReply {
    pub req: u32,
    pub view: Option<Box<ExplainView>>,
    /// Why there is no view, readable by a person.
    pub error: Option<String>,
}

/// Capture-wide work the page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisKind {
    /// Weight per header field over the capture, per deep model.
    FieldTotals,
    /// Predictions that flip when one field group is randomised, per model.
    Audit,
}

/// Run `kind` over the flows of `job` with the models of `run`. A newer
/// request stops an older one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRequest {
    pub req: u32,
    pub job: u32,
    pub run: u32,
    pub kind: AnalysisKind,
}

/// What the worker reports while it runs an [`AnalysisRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum AnalysisMsg {
    Started {
        req: u32,
        kind: AnalysisKind,
        /// Flows read (the first of the capture).
        flows: u32,
        /// Of how many.
        of: u32,
        /// Steps to go (models, or models × groups).
        steps: u32,
    },
    FieldTotals {
        req: u32,
        row: FieldTotalsRow,
    },
    Audit {
        req: u32,
        row: AuditRow,
    },
    /// A model could not take part.
    ModelFailed {
        req: u32,
        model: String,
        error: String,
    },
    Done {
        req: u32,
        error: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowlens_core::explain::{predict_classes, sensitivity_row, EncodedFlows, AUDIT_GROUPS};
    use flowlens_core::manifest::Manifest;
    use flowlens_core::Analyzer;

    fn published() -> Option<(Manifest, std::path::PathBuf)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models");
        let json = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
        Some((Manifest::from_json(&json).expect("manifest"), dir))
    }

    fn capture() -> Vec<Flow> {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/browser/dns-wiresharkrepo.pcap"
        ))
        .expect("fixture");
        Analyzer::analyze(&bytes, Default::default()).flows
    }

    #[test]
    fn field_edits_are_big_endian_and_merge_keeps_the_newest() {
        let e = field_edits(1, 14, 2, 8080);
        assert_eq!(
            e.iter().map(|e| (e.offset, e.value)).collect::<Vec<_>>(),
            vec![(14, 0x1f), (15, 0x90)]
        );
        let m = merge_edits(&e, &field_edits(1, 15, 1, 7));
        assert_eq!(
            m.iter().map(|e| (e.offset, e.value)).collect::<Vec<_>>(),
            vec![(14, 0x1f), (15, 7)]
        );
    }

    #[test]
    fn edits_stay_in_the_grid_and_the_last_wins() {
        let bytes = vec![0u8; 2 * 4];
        let e = |packet, offset, value| ByteEdit {
            packet,
            offset,
            value,
        };
        let (out, kept) = apply_edits(
            &bytes,
            4,
            &[e(0, 1, 7), e(1, 3, 9), e(0, 1, 8), e(2, 0, 1), e(0, 4, 1)],
        );
        assert_eq!(out, vec![0, 8, 0, 0, 0, 0, 0, 9]);
        assert_eq!(kept, vec![e(1, 3, 9), e(0, 1, 8)]);
    }

    #[test]
    fn every_model_explains_a_real_flow_and_the_share_link_reproduces_it() {
        let Some((manifest, dir)) = published() else {
            println!("skipped: www/models/manifest.json is not there (weights not published yet)");
            return;
        };
        let flows = capture();
        let device = Device::Cpu;
        // The key-view pack has all six architectures.
        let pack = manifest
            .packs
            .iter()
            .find(|p| p.models.iter().any(|m| m.architecture == Architecture::Knn))
            .unwrap_or(&manifest.packs[0]);
        let clfs: Vec<Classifier> = pack
            .models
            .iter()
            .map(|e| {
                let bytes = std::fs::read(dir.join(&e.weights.file)).expect("weights");
                Classifier::load(e, &bytes, &device).expect("loads")
            })
            .collect();
        let models: Vec<(&ModelEntry, Result<&Classifier, String>)> =
            pack.models.iter().zip(clfs.iter().map(Ok)).collect();
        let flow = &flows[0];
        let pref = || PackRef {
            id: &pack.id,
            title: &pack.title,
        };
        for (entry, clf) in pack.models.iter().zip(&clfs) {
            let target = Loaded { entry, clf };
            let req = ExplainRequest {
                req: 1,
                subject: Subject::Flow {
                    job: 1,
                    run: 1,
                    flow: 0,
                },
                model: Some(entry.id.clone()),
                method: None,
                edits: None,
                selected_packet: Some(0),
            };
            let src = Source::Flow { index: 0, flow };
            let v = explain(&req, pref(), &models, &target, &src, None, &[], &device)
                .expect("explains");
            let [p, b] = entry.representation.shape();
            assert_eq!(v.bytes.len(), p * b);
            assert_eq!(v.predictions.len(), pack.models.len());
            // Unedited: the predictions are the table's.
            for (out, (e, c)) in v.predictions.iter().zip(pack.models.iter().zip(&clfs)) {
                let (labels, _) =
                    crate::infer::predict(c, e, std::slice::from_ref(flow), &device).unwrap();
                assert_eq!(out.label, labels[0], "{}", e.id);
            }
            match entry.architecture {
                Architecture::C45 => {
                    let t = v.tree.as_ref().expect("a decision path");
                    assert!(!t.path.is_empty());
                }
                Architecture::Knn => assert_eq!(v.neighbours.len(), NEIGHBOURS),
                _ => {
                    let g = v.grid.as_ref().expect("a grid");
                    assert_eq!(g.weights.len(), p * b);
                    assert_eq!(v.packet_weights.len(), p);
                    let f = v.fields.as_ref().expect("fields");
                    assert!(f.total_magnitude > 0.0, "{}", entry.id);
                }
            }
            // The share link with the payload gives the same predictions.
            let links = v.share.as_ref().expect("links");
            let payload =
                SharePayload::decode(links.with_payload.as_ref().expect("with payload")).unwrap();
            let req2 = ExplainRequest {
                subject: Subject::Shared {
                    fragment: String::new(),
                },
                ..req
            };
            let v2 = explain(
                &req2,
                pref(),
                &models,
                &target,
                &Source::Shared(&payload),
                payload.view.method,
                &payload.view.edits,
                &device,
            )
            .expect("explains the shared view");
            assert_eq!(v2.bytes, v.bytes);
            assert_eq!(v2.key_features, v.key_features);
            let labels =
                |v: &ExplainView| v.predictions.iter().map(|o| o.label).collect::<Vec<_>>();
            assert_eq!(labels(&v2), labels(&v), "{}", entry.id);
            assert_eq!(v2.grid, v.grid);
        }
    }

    #[test]
    fn a_port_edit_reaches_the_baselines_features() {
        let Some((manifest, _)) = published() else {
            println!("skipped: www/models/manifest.json is not there");
            return;
        };
        let flows = capture();
        let Some(entry) = manifest
            .packs
            .iter()
            .flat_map(|p| &p.models)
            .find(|m| m.architecture == Architecture::C45)
        else {
            println!("skipped: no C4.5 model published");
            return;
        };
        let repr = &entry.representation;
        let flow = &flows[0];
        let ids = repr.field_ids(flow);
        let b = repr.bytes_per_packet();
        let dport = ids[..b]
            .iter()
            .position(|f| matches!(f, Field::UdpDport | Field::TcpDport))
            .expect("a destination port in packet 0");
        let edits = [
            ByteEdit {
                packet: 0,
                offset: dport as u16,
                value: 0x1f,
            },
            ByteEdit {
                packet: 0,
                offset: dport as u16 + 1,
                value: 0x90,
            },
        ];
        let (bytes, kept) = apply_edits(&repr.encode(flow), b, &edits);
        let f = edited_features(repr, &repr.key_features(flow), &bytes, &ids, &kept);
        assert_eq!(f[2], 8080.0);
        assert_eq!(&f[3..], &repr.key_features(flow)[3..]);
    }

    #[test]
    fn the_audit_pieces_fit_together_on_a_real_capture() {
        // The worker's audit loop, natively: perturbing the ports of DNS
        // flows changes bytes for every model that keeps them.
        let Some((manifest, dir)) = published() else {
            println!("skipped: www/models/manifest.json is not there");
            return;
        };
        let flows = capture();
        let refs: Vec<&Flow> = flows.iter().collect();
        let device = Device::Cpu;
        let entry = &manifest.packs[0].models[0];
        let repr = &entry.representation;
        let bytes = std::fs::read(dir.join(&entry.weights.file)).unwrap();
        let clf = Classifier::load(entry, &bytes, &device).unwrap();
        let enc = EncodedFlows::from_flows(repr, &refs);
        let base = predict_classes(&clf, repr, &enc, &device).unwrap();
        assert_eq!(base.len(), flows.len());
        for group in AUDIT_GROUPS {
            let row = sensitivity_row(
                &clf,
                repr,
                &enc,
                &base,
                group,
                Mode::Randomise,
                AUDIT_SEED,
                &device,
            )
            .unwrap();
            assert_eq!(row.flipped.len(), row.flipped_to.len());
            assert!(row.flipped.iter().all(|&i| i < flows.len()));
            if group == FieldGroup::Ports && repr.action(Field::UdpDport) == Action::Keep {
                assert!(row.bytes_changed > 0);
            }
            if group == FieldGroup::TcpWindow {
                assert_eq!(row.bytes_changed, 0, "DNS over UDP has no TCP window");
                assert!(row.flipped.is_empty(), "nothing changed, nothing flips");
            }
        }
    }
}
