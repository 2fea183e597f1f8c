//! Shortcut sensitivity on unlabelled flows: for a classifier, which flows'
//! predicted class changes when one field group is randomised or zeroed
//! (the page's audit panel; the trainer's perturbation table uses the same
//! [`EncodedFlows::perturbed`] and adds labels).

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::perturb::{EncodedFlows, Mode, Perturbation};
use super::ExplainError;
use crate::classifier::Classifier;
use crate::repr::{FieldGroup, Representation};

/// Flows per forward pass of a deep model.
const BATCH: usize = 64;

/// One row of the sensitivity table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitivityRow {
    pub group: FieldGroup,
    pub mode: Mode,
    /// Flows evaluated.
    pub flows: usize,
    /// Indices (into the flows given) whose predicted class changed.
    pub flipped: Vec<usize>,
    /// The class each flipped flow changed to, parallel to `flipped`.
    pub flipped_to: Vec<usize>,
    /// Bytes rewritten over all flows (0: the group is absent or hidden by
    /// the view, so nothing can flip).
    pub bytes_changed: usize,
}

impl SensitivityRow {
    /// Flipped flows / flows (0 for no flows).
    pub fn flip_rate(&self) -> f64 {
        if self.flows == 0 {
            0.0
        } else {
            self.flipped.len() as f64 / self.flows as f64
        }
    }
}

/// The predicted class of every flow of `flows` (deep models on the bytes,
/// baselines on the key features), in batches of 64.
pub fn predict_classes(
    classifier: &Classifier,
    repr: &Representation,
    flows: &EncodedFlows,
    device: &Device,
) -> Result<Vec<usize>, ExplainError> {
    flows.check(repr)?;
    match classifier {
        Classifier::Deep(_) => {
            let len = repr.input_len();
            let mut out = Vec::with_capacity(flows.n);
            if len == 0 {
                return Ok(vec![0; flows.n]);
            }
            for chunk in flows.bytes.chunks(BATCH * len) {
                let n = chunk.len() / len;
                out.extend(
                    classifier
                        .predict_matrix(chunk, n, repr, device)?
                        .into_iter()
                        .map(|p| p.class),
                );
            }
            Ok(out)
        }
        _ => Ok((0..flows.n)
            .map(|i| {
                flows
                    .features_of(repr, i)
                    .map_or(0, |f| classifier.predict_features(f).class)
            })
            .collect()),
    }
}

/// For every group × mode, the flows whose prediction changes. `seed`
/// drives the noise of `Randomise`.
pub fn sensitivity(
    classifier: &Classifier,
    repr: &Representation,
    flows: &EncodedFlows,
    groups: &[FieldGroup],
    modes: &[Mode],
    seed: u64,
    device: &Device,
) -> Result<Vec<SensitivityRow>, ExplainError> {
    let base = predict_classes(classifier, repr, flows, device)?;
    let mut rows = Vec::with_capacity(groups.len() * modes.len());
    for &group in groups {
        for &mode in modes {
            rows.push(sensitivity_row(
                classifier, repr, flows, &base, group, mode, seed, device,
            )?);
        }
    }
    Ok(rows)
}

/// One row of [`sensitivity()`]: `group` perturbed in `mode`, compared with
/// `base` (the classes [`predict_classes`] gives for the unperturbed
/// `flows`). For callers that go group by group (the page's worker yields
/// to its event loop between rows).
#[allow(clippy::too_many_arguments)]
pub fn sensitivity_row(
    classifier: &Classifier,
    repr: &Representation,
    flows: &EncodedFlows,
    base: &[usize],
    group: FieldGroup,
    mode: Mode,
    seed: u64,
    device: &Device,
) -> Result<SensitivityRow, ExplainError> {
    let perturbation = Perturbation::new(group, mode, seed)?;
    let perturbed = flows.perturbed(repr, &perturbation)?;
    let bytes_changed = perturbed
        .bytes
        .iter()
        .zip(&flows.bytes)
        .filter(|(a, b)| a != b)
        .count();
    let features_changed = perturbed.features != flows.features;
    let (flipped, flipped_to) = if bytes_changed == 0 && !features_changed {
        (Vec::new(), Vec::new())
    } else {
        predict_classes(classifier, repr, &perturbed, device)?
            .into_iter()
            .zip(base)
            .enumerate()
            .filter(|(_, (after, before))| after != *before)
            .map(|(i, (after, _))| (i, after))
            .unzip()
    };
    Ok(SensitivityRow {
        group,
        mode,
        flows: flows.n,
        flipped,
        flipped_to,
        bytes_changed,
    })
}
