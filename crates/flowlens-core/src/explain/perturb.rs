//! Perturbation by field group (issue 5): randomise or zero one group of
//! header fields in the encoded flows and, consistently, in the key-feature
//! vectors the classic baselines read.
//!
//! # What changes
//!
//! Bytes: every byte of the `[P, B]` grid whose field (from
//! [`Representation::field_ids`]) belongs to the group, and that the
//! representation's view keeps ([`Action::Keep`]): bytes the view already
//! zeroes or randomises stay as the model was trained to see them, so a
//! model trained on the key view is, rightly, insensitive to TTL. `Zero`
//! writes 0; `Randomise` writes the view's own noise
//! (`repr` `noise(flow_noise_key(seed, salt), packet, offset)`), so that for
//! the `all` view and `salt = flow.first_packet_index` the result equals
//! encoding the flow with the custom view
//! `{"kind":"custom","randomise":[the group's fields],"seed":seed}` (tested).
//!
//! Key features (`protocol, sport, dport, packets, len_0..len_{P-1}`), so
//! that the baselines see the same information as the deep models:
//! - `protocol` with [`FieldGroup::Protocol`], `sport`/`dport` with
//!   [`FieldGroup::Ports`], `len_i` with [`FieldGroup::PacketSizes`]; every
//!   other group leaves the features alone (no key feature comes from TTL,
//!   IP ID, checksums, seq/ack, window, options, flags or payload).
//! - `Zero`: the feature becomes what [`Representation::key_features`] gives
//!   when the view hides its field: 0, and for `len_i` the direction sign
//!   (+1 / −1; 0 stays 0 for missing packets).
//! - `Randomise`: the feature is read back from the perturbed bytes:
//!   `protocol` from the first protocol byte of packet 0, `sport`/`dport`
//!   from the first source/destination port field of packet 0 (big endian),
//!   `len_i` = sign × the first IPv4 total length / IPv6 payload length of
//!   packet `i`. When the packet has no such field (e.g. no ports), the
//!   feature is left as it was (it is 0 or carries nothing the bytes carry).
//! - A feature whose field the view hides is never touched.

use serde::{Deserialize, Serialize};

use super::ExplainError;
use crate::flows::Flow;
use crate::repr::{flow_noise_key, noise, Action, Field, FieldGroup, Representation};

/// The groups the audit perturbs, in its order (issue 5): TTL/hop limit, IP
/// ID, IP checksum, TCP seq/ack, TCP window, TCP options incl. timestamps,
/// TCP flags, ports, packet sizes, payload.
pub const AUDIT_GROUPS: [FieldGroup; 10] = [
    FieldGroup::Ttl,
    FieldGroup::IpId,
    FieldGroup::IpChecksum,
    FieldGroup::TcpSeqAck,
    FieldGroup::TcpWindow,
    FieldGroup::TcpOptions,
    FieldGroup::TcpFlags,
    FieldGroup::Ports,
    FieldGroup::PacketSizes,
    FieldGroup::Payload,
];

/// How a group's bytes are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Seeded noise (deterministic per seed, flow salt and position).
    Randomise,
    /// Zeros.
    Zero,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Randomise, Mode::Zero];

    /// `randomise` or `zero`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Randomise => "randomise",
            Mode::Zero => "zero",
        }
    }
}

/// One perturbation: a group, a mode and the noise seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Perturbation {
    pub group: FieldGroup,
    pub mode: Mode,
    pub seed: u64,
}

impl Perturbation {
    /// Refuses the groups that are always zero (addresses, padding).
    pub fn new(group: FieldGroup, mode: Mode, seed: u64) -> Result<Self, ExplainError> {
        if matches!(group, FieldGroup::Address | FieldGroup::Padding) {
            return Err(ExplainError::Group { group });
        }
        Ok(Perturbation { group, mode, seed })
    }

    /// Applies the perturbation to one flow's encoded bytes `[P, B]` in
    /// place. `field_ids` is the flow's `[P, B]` field map
    /// ([`Representation::field_ids`]), `salt` keys the noise per flow
    /// (`first_packet_index` for flows of a capture, any stable id
    /// otherwise). Returns how many bytes were rewritten (bytes that
    /// happen to get their old value count too).
    pub fn apply_bytes(
        &self,
        repr: &Representation,
        bytes: &mut [u8],
        field_ids: &[Field],
        salt: u64,
    ) -> Result<usize, ExplainError> {
        let [p, b] = repr.shape();
        check_len("bytes", p * b, bytes.len())?;
        check_len("field ids", p * b, field_ids.len())?;
        let key = flow_noise_key(self.seed, salt);
        let mut touched = 0;
        for (i, (byte, &field)) in bytes.iter_mut().zip(field_ids).enumerate() {
            if field.group() != self.group || repr.action(field) != Action::Keep {
                continue;
            }
            *byte = match self.mode {
                Mode::Zero => 0,
                Mode::Randomise => noise(key, i / b, i % b),
            };
            touched += 1;
        }
        Ok(touched)
    }

    /// Applies the perturbation to one flow's key features
    /// ([`Representation::key_features`], `[4 + P]`) in place, reading
    /// randomised values back from the already perturbed `bytes` (see the
    /// module docs).
    pub fn apply_features(
        &self,
        repr: &Representation,
        features: &mut [f32],
        perturbed_bytes: &[u8],
        field_ids: &[Field],
    ) -> Result<(), ExplainError> {
        let [p, b] = repr.shape();
        check_len("key features", 4 + p, features.len())?;
        check_len("bytes", p * b, perturbed_bytes.len())?;
        check_len("field ids", p * b, field_ids.len())?;
        let kept = |f: Field| repr.action(f) == Action::Keep;
        // The value of the first span of one of `fields` in packet `row`,
        // big endian, if the view keeps it.
        let read = |row: usize, fields: &[Field]| -> Option<f32> {
            let ids = field_ids.get(row * b..(row + 1) * b)?;
            let data = perturbed_bytes.get(row * b..(row + 1) * b)?;
            let start = ids.iter().position(|f| fields.contains(f))?;
            let field = ids[start];
            if !kept(field) {
                return None;
            }
            let len = ids[start..].iter().take_while(|&&f| f == field).count();
            Some(
                data[start..start + len]
                    .iter()
                    .fold(0u32, |acc, &x| (acc << 8) | u32::from(x)) as f32,
            )
        };
        let hidden_any = |fields: &[Field]| fields.iter().all(|&f| !kept(f));
        let set = |slot: &mut f32, value: Option<f32>| {
            if let Some(v) = value {
                *slot = v;
            }
        };
        match self.group {
            FieldGroup::Protocol => {
                let fields = [Field::Ipv4Protocol, Field::Ipv6NextHeader];
                if hidden_any(&fields) {
                    return Ok(());
                }
                match self.mode {
                    Mode::Zero => features[0] = 0.0,
                    Mode::Randomise => set(&mut features[0], read(0, &fields)),
                }
            }
            FieldGroup::Ports => {
                let src = [Field::TcpSport, Field::UdpSport];
                let dst = [Field::TcpDport, Field::UdpDport];
                if hidden_any(&src) && hidden_any(&dst) {
                    return Ok(());
                }
                match self.mode {
                    Mode::Zero => {
                        features[1] = 0.0;
                        features[2] = 0.0;
                    }
                    Mode::Randomise => {
                        let (s, d) = (read(0, &src), read(0, &dst));
                        set(&mut features[1], s);
                        set(&mut features[2], d);
                    }
                }
            }
            FieldGroup::PacketSizes => {
                let fields = [Field::Ipv4TotalLength, Field::Ipv6PayloadLength];
                if hidden_any(&fields) {
                    return Ok(());
                }
                for (i, slot) in features[4..].iter_mut().enumerate() {
                    let sign = if *slot > 0.0 {
                        1.0
                    } else if *slot < 0.0 {
                        -1.0
                    } else {
                        continue;
                    };
                    match self.mode {
                        Mode::Zero => *slot = sign,
                        Mode::Randomise => set(slot, read(i, &fields).map(|v| sign * v)),
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), ExplainError> {
    if expected == got {
        Ok(())
    } else {
        Err(ExplainError::Length {
            what,
            expected,
            got,
        })
    }
}

/// Flows prepared once for many perturbations: the encoded bytes, the
/// field ids and the key features of `n` flows, and a noise salt per flow.
///
/// # Shapes
/// - `bytes`: `[n, P, B]`; `field_ids`: `[n, P, B]`; `features`: `[n, 4 + P]`;
///   `salts`: `[n]`
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedFlows {
    pub n: usize,
    pub bytes: Vec<u8>,
    pub field_ids: Vec<Field>,
    pub features: Vec<f32>,
    pub salts: Vec<u64>,
}

impl EncodedFlows {
    /// Encodes `flows` with `repr` (salt: each flow's `first_packet_index`).
    pub fn from_flows(repr: &Representation, flows: &[&Flow]) -> EncodedFlows {
        let mut field_ids = Vec::with_capacity(flows.len() * repr.input_len());
        let mut features = Vec::with_capacity(flows.len() * (4 + repr.packets()));
        for f in flows {
            field_ids.extend(repr.field_ids(f));
            features.extend(repr.key_features(f));
        }
        EncodedFlows {
            n: flows.len(),
            bytes: repr.encode_batch(flows),
            field_ids,
            features,
            salts: flows.iter().map(|f| f.first_packet_index).collect(),
        }
    }

    /// Checks that the four parts fit `n` flows of `repr`.
    pub fn check(&self, repr: &Representation) -> Result<(), ExplainError> {
        let len = repr.input_len();
        check_len("bytes (n x P x B)", self.n * len, self.bytes.len())?;
        check_len("field ids (n x P x B)", self.n * len, self.field_ids.len())?;
        check_len(
            "key features (n x (4 + P))",
            self.n * (4 + repr.packets()),
            self.features.len(),
        )?;
        check_len("salts (n)", self.n, self.salts.len())
    }

    /// A copy with `perturbation` applied to every flow's bytes and key
    /// features.
    pub fn perturbed(
        &self,
        repr: &Representation,
        perturbation: &Perturbation,
    ) -> Result<EncodedFlows, ExplainError> {
        self.check(repr)?;
        let mut out = self.clone();
        let len = repr.input_len();
        let f_len = 4 + repr.packets();
        if len == 0 {
            return Ok(out);
        }
        for (((bytes, ids), features), &salt) in out
            .bytes
            .chunks_exact_mut(len)
            .zip(self.field_ids.chunks_exact(len))
            .zip(out.features.chunks_exact_mut(f_len))
            .zip(&self.salts)
        {
            perturbation.apply_bytes(repr, bytes, ids, salt)?;
            perturbation.apply_features(repr, features, bytes, ids)?;
        }
        Ok(out)
    }

    /// Key features of flow `i`, `[4 + P]`.
    pub fn features_of(&self, repr: &Representation, i: usize) -> Option<&[f32]> {
        let f_len = 4 + repr.packets();
        self.features.get(i * f_len..(i + 1) * f_len)
    }
}
