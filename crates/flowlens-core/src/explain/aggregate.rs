//! From a grid of byte weights to weights per header field and field group.
//!
//! A byte's field comes from [`crate::repr::Representation::field_ids`]
//! (the same dissection the encoder used). Weights are summed twice:
//! `signed` (attributions can be negative: evidence against the class) and
//! `magnitude` (sum of |w|, what "how much the model looked at it" means).
//! Shares (`share`, [`FlowFields::site_dependent_share`]) are magnitude
//! over the flow's total magnitude, so they are comparable across methods
//! (attention is non-negative and sums to 1; gradients are not).
//!
//! Capture-wide ([`FieldTotals`]): each flow's shares are averaged, so every
//! flow counts the same whatever the scale of its attribution.

use serde::{Deserialize, Serialize};

use super::attribution::Grid;
use super::ExplainError;
use crate::repr::{Field, FieldGroup};

/// Capture-wide site-dependent share from which the page says "this model
/// leans on fields that say more about the network than the application".
pub const SITE_DEPENDENT_ALERT: f32 = 0.5;

/// Weight of one field (in one packet or over a flow).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FieldWeight {
    pub field: Field,
    pub group: FieldGroup,
    /// Bytes of the field counted.
    pub bytes: usize,
    pub signed: f32,
    pub magnitude: f32,
    /// `magnitude` over the flow's total magnitude (0 when that is 0).
    pub share: f32,
}

/// Weight of one field group over a flow (or capture).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupWeight {
    pub group: FieldGroup,
    pub site_dependent: bool,
    pub signed: f32,
    pub magnitude: f32,
    pub share: f32,
}

/// One flow's grid summed by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowFields {
    /// Per packet `p` (all P rows), the fields present in that row, in
    /// [`Field::ALL`] order.
    pub per_packet: Vec<Vec<FieldWeight>>,
    /// Over the flow, fields present, in [`Field::ALL`] order.
    pub per_field: Vec<FieldWeight>,
    /// Over the flow, groups present, in [`FieldGroup::ALL`] order.
    pub per_group: Vec<GroupWeight>,
    /// Sum of |w| over the grid.
    pub total_magnitude: f32,
    /// Share of the magnitude on site-dependent groups
    /// ([`FieldGroup::is_site_dependent`]).
    pub site_dependent_share: f32,
}

/// Per-field accumulator: `(bytes, signed, magnitude)` by field index.
#[derive(Clone)]
struct Acc([(usize, f32, f32); Field::COUNT]);

impl Acc {
    fn new() -> Self {
        Acc([(0, 0.0, 0.0); Field::COUNT])
    }

    fn add(&mut self, field: Field, w: f32) {
        let e = &mut self.0[field.index()];
        e.0 += 1;
        e.1 += w;
        e.2 += w.abs();
    }

    fn weights(&self, total: f32) -> Vec<FieldWeight> {
        Field::ALL
            .iter()
            .zip(&self.0)
            .filter(|(_, e)| e.0 > 0)
            .map(|(&field, &(bytes, signed, magnitude))| FieldWeight {
                field,
                group: field.group(),
                bytes,
                signed,
                magnitude,
                share: share(magnitude, total),
            })
            .collect()
    }
}

fn share(part: f32, total: f32) -> f32 {
    if total > 0.0 {
        part / total
    } else {
        0.0
    }
}

/// Group weights from field weights, in [`FieldGroup::ALL`] order.
fn groups(fields: &[FieldWeight], total: f32) -> Vec<GroupWeight> {
    FieldGroup::ALL
        .iter()
        .filter_map(|&group| {
            let members: Vec<&FieldWeight> = fields.iter().filter(|f| f.group == group).collect();
            if members.is_empty() {
                return None;
            }
            let signed = members.iter().map(|f| f.signed).sum();
            let magnitude = members.iter().map(|f| f.magnitude).sum();
            Some(GroupWeight {
                group,
                site_dependent: group.is_site_dependent(),
                signed,
                magnitude,
                share: share(magnitude, total),
            })
        })
        .collect()
}

/// Sums `grid` by the fields in `field_ids` (`[P, B]`, the flow's
/// [`crate::repr::Representation::field_ids`]).
pub fn by_field(grid: &Grid, field_ids: &[Field]) -> Result<FlowFields, ExplainError> {
    let b = grid.bytes_per_packet;
    let len = grid.packets * b;
    for (what, got) in [("grid", grid.weights.len()), ("field ids", field_ids.len())] {
        if got != len {
            return Err(ExplainError::Length {
                what,
                expected: len,
                got,
            });
        }
    }
    let total: f32 = grid.weights.iter().map(|w| w.abs()).sum();
    let mut flow = Acc::new();
    let mut per_packet = Vec::with_capacity(grid.packets);
    if b > 0 {
        for (row, ids) in grid.weights.chunks_exact(b).zip(field_ids.chunks_exact(b)) {
            let mut acc = Acc::new();
            for (&w, &f) in row.iter().zip(ids) {
                acc.add(f, w);
                flow.add(f, w);
            }
            per_packet.push(acc.weights(total));
        }
    }
    let per_field = flow.weights(total);
    let per_group = groups(&per_field, total);
    let site: f32 = per_group
        .iter()
        .filter(|g| g.site_dependent)
        .map(|g| g.magnitude)
        .sum();
    Ok(FlowFields {
        per_packet,
        per_field,
        per_group,
        total_magnitude: total,
        site_dependent_share: share(site, total),
    })
}

/// Capture-wide (or per-model, per-dataset) field shares, averaged over
/// flows: add each flow's [`FlowFields`], then [`FieldTotals::summary`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldTotals {
    /// Flows added (flows whose total magnitude is 0 are counted in
    /// `empty` instead: they carry no weight to share).
    pub flows: usize,
    pub empty: usize,
    /// Sum over flows of each field's share, by [`Field::ALL`] index.
    share_sums: Vec<f32>,
    /// Sum over flows of each field's signed weight.
    signed_sums: Vec<f32>,
}

/// What [`FieldTotals::summary`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSummary {
    pub flows: usize,
    /// Mean share per field (fields with a non-zero share), largest first.
    pub per_field: Vec<FieldShare>,
    /// Mean share per group, largest first.
    pub per_group: Vec<GroupShare>,
    pub site_dependent_share: f32,
    /// `site_dependent_share >= SITE_DEPENDENT_ALERT`.
    pub site_dependent_dominates: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FieldShare {
    pub field: Field,
    pub group: FieldGroup,
    pub share: f32,
    /// Mean signed weight per flow.
    pub mean_signed: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupShare {
    pub group: FieldGroup,
    pub site_dependent: bool,
    pub share: f32,
}

impl FieldTotals {
    pub fn new() -> Self {
        FieldTotals {
            flows: 0,
            empty: 0,
            share_sums: vec![0.0; Field::COUNT],
            signed_sums: vec![0.0; Field::COUNT],
        }
    }

    pub fn add(&mut self, flow: &FlowFields) {
        if self.share_sums.len() != Field::COUNT {
            self.share_sums = vec![0.0; Field::COUNT];
            self.signed_sums = vec![0.0; Field::COUNT];
        }
        if flow.total_magnitude <= 0.0 {
            self.empty += 1;
            return;
        }
        self.flows += 1;
        for f in &flow.per_field {
            self.share_sums[f.field.index()] += f.share;
            self.signed_sums[f.field.index()] += f.signed;
        }
    }

    /// Adds another accumulator (e.g. one per batch).
    pub fn merge(&mut self, other: &FieldTotals) {
        if self.share_sums.len() != Field::COUNT {
            *self = FieldTotals::new();
        }
        self.flows += other.flows;
        self.empty += other.empty;
        for (a, b) in self.share_sums.iter_mut().zip(&other.share_sums) {
            *a += b;
        }
        for (a, b) in self.signed_sums.iter_mut().zip(&other.signed_sums) {
            *a += b;
        }
    }

    pub fn summary(&self) -> FieldSummary {
        let n = self.flows.max(1) as f32;
        let mut per_field: Vec<FieldShare> = Field::ALL
            .iter()
            .zip(self.share_sums.iter().zip(&self.signed_sums))
            .filter(|(_, (s, _))| **s > 0.0)
            .map(|(&field, (&s, &signed))| FieldShare {
                field,
                group: field.group(),
                share: s / n,
                mean_signed: signed / n,
            })
            .collect();
        per_field.sort_by(|a, b| b.share.total_cmp(&a.share));
        let mut per_group: Vec<GroupShare> = FieldGroup::ALL
            .iter()
            .filter_map(|&group| {
                let share: f32 = per_field
                    .iter()
                    .filter(|f| f.group == group)
                    .map(|f| f.share)
                    .sum();
                (share > 0.0).then_some(GroupShare {
                    group,
                    site_dependent: group.is_site_dependent(),
                    share,
                })
            })
            .collect();
        per_group.sort_by(|a, b| b.share.total_cmp(&a.share));
        let site: f32 = per_group
            .iter()
            .filter(|g| g.site_dependent)
            .map(|g| g.share)
            .sum();
        FieldSummary {
            flows: self.flows,
            per_field,
            per_group,
            site_dependent_share: site,
            site_dependent_dominates: self.flows > 0 && site >= SITE_DEPENDENT_ALERT,
        }
    }
}
