//! Explanations shared by the browser and the trainer: attribution over the
//! P × B input grid, weights per header field, the classic baselines'
//! reasons, perturbation by field group, shortcut sensitivity and share
//! links. No IO; native and wasm32; CPU (candle) only.
//!
//! # API summary
//!
//! Attribution ([`attribution`]; `n` flows of `[n, P, B]` bytes at a time):
//! - [`attribute`]`(model, bytes, n, targets, method) -> Vec<`[`Attribution`]`>`:
//!   one [`Grid`] (`[P, B]` weights) per flow, with the target class and the logits.
//! - [`Method`]: `Attention { level: `[`AttentionLevel`]` }` (HAN: `Combined`,
//!   `Packet`, `Byte`), `GradientInput`, `IntegratedGradients { steps }`
//!   ([`DEFAULT_IG_STEPS`], at most [`MAX_IG_STEPS`]).
//! - [`Grid`]: `get(p, b)`, `sum()`, `packet_magnitudes()`.
//!
//! Per field ([`aggregate`]):
//! - [`by_field`]`(grid, field_ids) -> `[`FlowFields`]: per packet, per field,
//!   per group ([`FieldWeight`], [`GroupWeight`]: signed, magnitude, share) and
//!   `site_dependent_share`.
//! - [`FieldTotals`]: `new()`, `add(&FlowFields)`, `merge`, `summary() ->`
//!   [`FieldSummary`] (mean shares per field and group over flows,
//!   `site_dependent_dominates` at [`SITE_DEPENDENT_ALERT`]).
//!
//! Baselines ([`baseline`]):
//! - [`explain_c45`]`(model, repr, features, field_ids) -> `[`TreeExplanation`]:
//!   the decision path, each [`ExplainedStep`] with the [`FeatureSource`]
//!   (fields and [`ByteSpan`]s) of its feature.
//! - [`explain_knn`]`(model, features, k) -> Vec<`[`NeighbourView`]`>`: index,
//!   distance, label, class name, raw features.
//! - [`feature_sources`]`(repr, field_ids)`: where every key feature comes from.
//!
//! Perturbation ([`perturb`]) and sensitivity ([`mod@sensitivity`]):
//! - [`AUDIT_GROUPS`]: the ten groups of issue 5; [`Mode`]: `Randomise`, `Zero`.
//! - [`Perturbation::new`]`(group, mode, seed)`; `apply_bytes(repr, bytes, field_ids, salt)`,
//!   `apply_features(repr, features, perturbed_bytes, field_ids)`.
//! - [`EncodedFlows`]: `from_flows(repr, flows)` (bytes, field ids, key
//!   features, salts of `n` flows), `perturbed(repr, &perturbation)`, `check`.
//! - [`predict_classes`]`(classifier, repr, flows, device) -> Vec<usize>`.
//! - [`sensitivity()`]`(classifier, repr, flows, groups, modes, seed, device) ->
//!   Vec<`[`SensitivityRow`]`>`: flipped flow indices (and their new classes) per
//!   group × mode; [`sensitivity_row`] computes one row against given base classes.
//!
//! Share links ([`share`]):
//! - [`SharePayload::from_flow`]`(pack_id, model_id, repr, flow, view, include_payload)`,
//!   `encode() -> Result<String>` (URL fragment), [`SharePayload::decode`]`(fragment)`,
//!   `edited_bytes()`, `field_ids()`; [`ViewState`] (selected packet, method,
//!   [`ByteEdit`]s); [`ShareError`] for every bad link.
//!
//! # Shapes
//! - Bytes: `[n, P, B]` u8 row-major, as `Representation::encode_batch`.
//! - Field ids: `[P, B]` per flow, as `Representation::field_ids`.
//! - Key features: `[4 + P]` per flow, as `Representation::key_features`.
//! - Grids: `[P, B]` f32 per flow.
//!
//! # Cost (native, default configs P = 8, B = 128)
//! `cargo run --release -p flowlens-core --example bench_explain` prints
//! milliseconds per flow per model and method. Measured on the shared
//! 2-core machine under load, 8 flows per call, so upper bounds. Load
//! average ~5, before the fused GRU op: CNN gradient×input 2.6 ms, IG/16
//! 31 ms; LSTM 0.6 / 6.5 ms; SAE 0.7 / 1.5 ms; HAN attention 1.1 ms,
//! gradient×input 15 ms, IG/16 181 ms. Load average ~9.5, with it (commit
//! after 9c7df0b): CNN 0.8 / 44 ms; LSTM 1.0 / 7.6 ms; SAE 0.2 / 1.7 ms;
//! HAN attention 1.9 ms, gradient×input 21 ms, IG/16 346 ms.
//! The page computes gradients for the flow it shows, not for the table;
//! capture-wide views use attention (HAN) or gradient×input.

pub mod aggregate;
pub mod attribution;
pub mod baseline;
pub mod perturb;
pub mod sensitivity;
pub mod share;

#[cfg(test)]
mod tests;

pub use aggregate::{
    by_field, FieldShare, FieldSummary, FieldTotals, FieldWeight, FlowFields, GroupShare,
    GroupWeight, SITE_DEPENDENT_ALERT,
};
pub use attribution::{
    attribute, ig_alphas, AttentionLevel, Attribution, Grid, Method, DEFAULT_IG_STEPS, MAX_IG_STEPS,
};
pub use baseline::{
    explain_c45, explain_knn, feature_sources, ByteSpan, ExplainedStep, FeatureSource,
    NeighbourView, TreeExplanation,
};
pub use perturb::{EncodedFlows, Mode, Perturbation, AUDIT_GROUPS};
pub use sensitivity::{predict_classes, sensitivity, sensitivity_row, SensitivityRow};
pub use share::{ByteEdit, ShareError, SharePayload, ViewState};

use crate::classifier::ClassifierError;
use crate::models::ModelError;
use crate::repr::FieldGroup;

/// Why an explanation could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    #[error("model: {0}")]
    Model(#[from] ModelError),
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("target class {target} is not below the model's {classes} classes")]
    Target { target: usize, classes: usize },
    #[error("attention is only defined for HAN, not {kind}")]
    NotHan { kind: &'static str },
    #[error("integrated gradients need 1 to {max} steps, got {steps}")]
    Steps { steps: usize, max: usize },
    #[error("field group {group} is always zero and cannot be perturbed")]
    Group { group: FieldGroup },
}
