//! Share links: one flow's view in a URL fragment, never sent to a server.
//!
//! ```text
//! SharePayload --postcard--> bytes --deflate (miniz_oxide, raw)--> z
//! fragment = base64url_nopad( [SHARE_VERSION] ++ z )
//! ```
//!
//! The version byte sits before the compressed data, so a link from a newer
//! build is refused as such without inflating anything.
//!
//! Privacy: [`SharePayload::from_flow`] zeroes every payload byte of the
//! representation and blanks the payload's decoded value in the field map
//! unless `include_payload` is set; addresses are zero in every
//! representation (see [`crate::repr`]). Edits of payload bytes are dropped
//! when the payload is left out.
//!
//! Hostile fragments: the fragment is capped at [`MAX_FRAGMENT_CHARS`]
//! before decoding and the inflated size at [`MAX_INFLATED_BYTES`]
//! (decompression bombs stop there), then the decoded payload is checked
//! for consistency ([`ShareError::Inconsistent`]). Nothing panics.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::attribution::Method;
use crate::flows::Flow;
use crate::repr::{Field, PacketFields, Representation, MAX_BYTES_PER_PACKET, MAX_PACKETS};

/// The share format this build writes and reads.
pub const SHARE_VERSION: u8 = 1;
/// Longest fragment accepted (characters, without the leading `#`).
pub const MAX_FRAGMENT_CHARS: usize = 64 * 1024;
/// Largest inflated payload accepted.
pub const MAX_INFLATED_BYTES: usize = 1024 * 1024;
/// deflate level (miniz: 0..=10).
const LEVEL: u8 = 9;

/// Why a fragment could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    #[error("the view could not be serialised: {0}")]
    Encode(String),
    #[error("the share link is empty")]
    Empty,
    #[error("the share link is too long: {chars} characters, at most {max}")]
    TooLong { chars: usize, max: usize },
    #[error("the share link is not valid base64url: {0}")]
    Base64(String),
    #[error("the share link was made by a newer or unknown version ({found}; this page reads {supported})")]
    UnknownVersion { found: u8, supported: u8 },
    #[error("the share link's data would inflate beyond {max} bytes")]
    TooLarge { max: usize },
    #[error("the share link's data is not valid deflate data")]
    Inflate,
    #[error("the share link's data does not decode: {0}")]
    Decode(String),
    #[error("the share link is inconsistent: {0}")]
    Inconsistent(String),
}

/// One byte changed for a what-if.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteEdit {
    pub packet: u16,
    pub offset: u16,
    pub value: u8,
}

/// What the viewer had selected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ViewState {
    pub selected_packet: Option<u16>,
    /// Attribution shown on the grid (`None`: none).
    pub method: Option<Method>,
    /// What-if edits applied to the representation, in order.
    pub edits: Vec<ByteEdit>,
}

/// Everything a share link carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharePayload {
    /// The manifest pack and model the view was made with.
    pub pack_id: String,
    pub model_id: String,
    pub packets: u32,
    pub bytes_per_packet: u32,
    /// `[P, B]`: the flow's representation under the model's view, payload
    /// zeroed unless `payload_included`.
    pub bytes: Vec<u8>,
    pub payload_included: bool,
    /// Per present packet: direction, IP length, field spans with decoded
    /// values (payload values blanked unless `payload_included`).
    pub field_map: Vec<PacketFields>,
    /// `[4 + P]`: the flow's key features under the model's view
    /// ([`Representation::key_features`]), what C4.5 and k-NN read (the
    /// flow's packet count is in no byte of the grid).
    pub key_features: Vec<f32>,
    pub view: ViewState,
}

impl SharePayload {
    /// The payload for `flow` as `repr` (the model's) encodes it.
    pub fn from_flow(
        pack_id: &str,
        model_id: &str,
        repr: &Representation,
        flow: &Flow,
        mut view: ViewState,
        include_payload: bool,
    ) -> SharePayload {
        let [p, b] = repr.shape();
        let mut bytes = repr.encode(flow);
        let ids = repr.field_ids(flow);
        let mut field_map = repr.field_map(flow);
        if !include_payload {
            for (byte, &f) in bytes.iter_mut().zip(&ids) {
                if f == Field::Payload {
                    *byte = 0;
                }
            }
            for span in field_map.iter_mut().flat_map(|pf| pf.fields.iter_mut()) {
                if span.field == Field::Payload {
                    span.value = String::new();
                }
            }
            view.edits.retain(|e| {
                ids.get(usize::from(e.packet) * b + usize::from(e.offset))
                    .is_some_and(|&f| f != Field::Payload)
            });
        }
        SharePayload {
            pack_id: pack_id.to_string(),
            model_id: model_id.to_string(),
            packets: p as u32,
            bytes_per_packet: b as u32,
            bytes,
            payload_included: include_payload,
            field_map,
            key_features: repr.key_features(flow),
            view,
        }
    }

    /// The representation with the view's edits applied, `[P, B]`.
    pub fn edited_bytes(&self) -> Vec<u8> {
        let mut out = self.bytes.clone();
        let b = self.bytes_per_packet as usize;
        for e in &self.view.edits {
            if let Some(x) = out.get_mut(usize::from(e.packet) * b + usize::from(e.offset)) {
                *x = e.value;
            }
        }
        out
    }

    /// The URL fragment (without `#`).
    pub fn encode(&self) -> Result<String, ShareError> {
        let raw = postcard::to_allocvec(self).map_err(|e| ShareError::Encode(e.to_string()))?;
        let mut data = Vec::with_capacity(raw.len() / 2 + 1);
        data.push(SHARE_VERSION);
        data.extend(miniz_oxide::deflate::compress_to_vec(&raw, LEVEL));
        Ok(URL_SAFE_NO_PAD.encode(data))
    }

    /// Reads a fragment (a leading `#` is ignored).
    pub fn decode(fragment: &str) -> Result<SharePayload, ShareError> {
        let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
        if fragment.is_empty() {
            return Err(ShareError::Empty);
        }
        if fragment.len() > MAX_FRAGMENT_CHARS {
            return Err(ShareError::TooLong {
                chars: fragment.len(),
                max: MAX_FRAGMENT_CHARS,
            });
        }
        let data = URL_SAFE_NO_PAD
            .decode(fragment)
            .map_err(|e| ShareError::Base64(e.to_string()))?;
        let (&version, z) = data.split_first().ok_or(ShareError::Empty)?;
        if version != SHARE_VERSION {
            return Err(ShareError::UnknownVersion {
                found: version,
                supported: SHARE_VERSION,
            });
        }
        let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(z, MAX_INFLATED_BYTES)
            .map_err(|e| match e.status {
                miniz_oxide::inflate::TINFLStatus::HasMoreOutput => ShareError::TooLarge {
                    max: MAX_INFLATED_BYTES,
                },
                _ => ShareError::Inflate,
            })?;
        let (payload, rest): (SharePayload, &[u8]) =
            postcard::take_from_bytes(&raw).map_err(|e| ShareError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(ShareError::Decode(format!(
                "{} bytes after the payload",
                rest.len()
            )));
        }
        payload.validate()?;
        Ok(payload)
    }

    /// Sizes agree: `bytes` is P × B, P and B in the representation's
    /// ranges, `4 + P` finite key features, at most P packets in the field map, each covering `0..B`
    /// exactly once in order, edits and the selected packet inside the grid.
    pub fn validate(&self) -> Result<(), ShareError> {
        let bad = |m: String| Err(ShareError::Inconsistent(m));
        let (p, b) = (self.packets as usize, self.bytes_per_packet as usize);
        if !(1..=MAX_PACKETS).contains(&p) || !(1..=MAX_BYTES_PER_PACKET).contains(&b) {
            return bad(format!("{p} packets of {b} bytes is out of range"));
        }
        if Some(self.bytes.len()) != p.checked_mul(b) {
            return bad(format!(
                "{} bytes for {p} packets of {b} bytes",
                self.bytes.len()
            ));
        }
        if self.key_features.len() != 4 + p {
            return bad(format!(
                "{} key features for {p} packets (expected {})",
                self.key_features.len(),
                4 + p
            ));
        }
        if self.key_features.iter().any(|v| !v.is_finite()) {
            return bad("a key feature is not a finite number".into());
        }
        if self.field_map.len() > p {
            return bad(format!(
                "field map has {} packets, the grid {p}",
                self.field_map.len()
            ));
        }
        for (i, pf) in self.field_map.iter().enumerate() {
            let mut at = 0usize;
            for span in &pf.fields {
                if usize::from(span.start) != at || span.len == 0 {
                    return bad(format!("packet {i}: field spans do not tile the row"));
                }
                at += usize::from(span.len);
            }
            if at != b {
                return bad(format!("packet {i}: field spans cover {at} of {b} bytes"));
            }
        }
        if let Some(sel) = self.view.selected_packet {
            if usize::from(sel) >= p {
                return bad(format!("selected packet {sel} of {p}"));
            }
        }
        if let Some(e) = self
            .view
            .edits
            .iter()
            .find(|e| usize::from(e.packet) >= p || usize::from(e.offset) >= b)
        {
            return bad(format!(
                "edit at packet {}, byte {} is outside the grid",
                e.packet, e.offset
            ));
        }
        Ok(())
    }

    /// `[P, B]` field ids from the field map (missing packets: padding).
    pub fn field_ids(&self) -> Vec<Field> {
        let b = self.bytes_per_packet as usize;
        let mut out = vec![Field::Padding; self.bytes.len()];
        for (row, pf) in out.chunks_mut(b.max(1)).zip(&self.field_map) {
            for span in &pf.fields {
                let start = usize::from(span.start);
                let end = (start + usize::from(span.len)).min(row.len());
                if let Some(cells) = row.get_mut(start..end) {
                    cells.fill(span.field);
                }
            }
        }
        out
    }
}
