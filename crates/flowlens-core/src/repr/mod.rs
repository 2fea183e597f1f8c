//! Representation: what the models see, decided in one place.
//!
//! A [`Representation`] is the spec written into every model manifest: the
//! first `packets` (P) packets of a flow, the first `bytes_per_packet` (B)
//! bytes of each from the IP header on (the link layer is already gone),
//! zero-padded, with every IPv4/IPv6 source and destination address zeroed
//! (the seed paper's rule; also inside ICMP errors and tunnels, see
//! [Dissection](#dissection)), and a [`View`] that may hide more.
//!
//! ```text
//! Flow.head[i].bytes -> dissect (byte offsets, no allocation) -> spans
//!   -> encode:     [P, B] u8, view applied (zero / keep / noise per field)
//!   -> field_ids:  [P, B] Field (attribution by field)
//!   -> field_map:  per packet, spans with readable values (the UI's tree)
//! ```
//!
//! # Shapes
//! - [`Representation::encode_into`]: `out` is `[P, B]` row-major
//!   (`out[p * B + b]` = byte `b` of packet `p`).
//! - [`Representation::encode_batch`]: `[N, P, B]`.
//! - [`Representation::field_ids`]: `[P, B]`, same layout.
//! - [`Representation::key_features`]: `[4 + P]`, named by
//!   [`Representation::key_feature_names`].
//!
//! # Invariants
//! - Missing packets are all-zero rows; bytes after the end of a packet (or
//!   of what was captured) are zero; addresses are zero. Whatever the view.
//! - The encoder, the field ids and the field map come from the same walk
//!   over the headers, so a byte's field id says exactly which rule the
//!   encoder applied to it.
//! - Nothing here panics on packet contents: lengths in headers are
//!   clipped to what was captured.
//!
//! # Dissection
//!
//! ## Inner headers share the outer names
//!
//! Headers found inside a packet (the IP header quoted by an ICMP or ICMPv6
//! error and the transport header after it, the inner headers of tunnels)
//! are reported under the same field names as the outer ones: `ipv4.ttl`
//! means every IPv4 TTL byte of the packet, wherever it is. A view that
//! zeroes a field therefore zeroes it at every depth, and the addresses are
//! zeroed at every depth.
//!
//! Other address-carrying places are mapped to the address fields so that
//! they are zeroed too: the gateway of an ICMP redirect (`ipv4.dst`), the
//! target of an ICMPv6 neighbour solicitation and the target and
//! destination of an ICMPv6 redirect (`ipv6.dst`), the target of a
//! neighbour advertisement (`ipv6.src`), and the address lists of IPv6
//! routing headers of types 0, 2, 3 and 4 (`ipv6.dst`). Not (yet) zeroed:
//! addresses inside IPv4 options (record route, source route), the IPv6
//! home address option, link-layer addresses in ND options, and anything
//! in application payload (DNS answers, SIP, FTP `PORT`).
//!
//! ## Tunnels
//!
//! IP-in-IP (protocols 4 and 41: 4in4, 6in4, 4in6, 6in6) and GRE (47:
//! IPv4, IPv6 or Ethernet inside, or PPTP's PPP carrying IPv4 or IPv6) are
//! followed from the protocol number; VXLAN (UDP 4789), GTP-U (UDP 2152)
//! and Teredo (UDP 3544) from either port, when the bytes after the UDP
//! header look like that tunnel (flags, then an IP version nibble). Their
//! headers are `tunnel.header`; an Ethernet frame inside has `eth.dst` /
//! `eth.src` (MACs: always zero, as the paper zeroes MACs) and `eth.type`;
//! a Teredo origin indication's address is `ipv4.src`. A UDP flow on one of
//! those ports whose payload happens to look like the tunnel is read as the
//! tunnel: some of its bytes may be zeroed as addresses, which costs the
//! model a little payload and never leaks an address. Not followed: L2TP,
//! MPLS, IPsec (encrypted anyway), Geneve.
//!
//! ## Lying or truncated headers
//!
//! Packets come from untrusted captures. Lengths are clipped to what was
//! captured; an IPv4 header length below 20, a TCP data offset below 20 or
//! an unknown IP version make the rest of that packet `payload` (the fixed
//! fields, addresses included, are still reported where they would be). An
//! IP total length of 0 (TSO) or below the header length means "up to the
//! end of the capture". Bytes after the end of the outermost IP packet
//! (Ethernet trailer) are `padding`. Nesting deeper than [`MAX_DEPTH`]
//! inner IP headers is `payload`.

mod describe;
mod error;
mod fields;
mod view;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::flows::{Direction, Flow, FlowConfig};

use fields::Sink;
use view::{Plan, RawView};

pub use error::ReprError;
pub use fields::{Field, FieldGroup, MAX_DEPTH};
pub use view::{Action, View, KEY_FIELDS};

/// The representation format version this build writes and reads.
pub const REPR_VERSION: u32 = 1;
/// Default packets per flow (P).
pub const DEFAULT_PACKETS: usize = 8;
/// Default bytes per packet (B).
pub const DEFAULT_BYTES_PER_PACKET: usize = 128;
/// Largest P accepted.
pub const MAX_PACKETS: usize = 4096;
/// Largest B accepted (field spans use `u16` offsets).
pub const MAX_BYTES_PER_PACKET: usize = u16::MAX as usize;

/// What a model sees of a flow. Valid by construction: built by
/// [`Representation::new`] or deserialised (which checks the version
/// first, then the sizes and the view).
///
/// Serialised as
/// `{"version":1,"packets":8,"bytes_per_packet":128,"view":{"kind":"all"}}`;
/// `packets`, `bytes_per_packet` and `view` may be left out (defaults: 8,
/// 128, all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation {
    packets: usize,
    bytes_per_packet: usize,
    view: View,
    plan: Plan,
}

/// The fields of one packet as the field map shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketFields {
    pub dir: Direction,
    /// Length of the IP packet on the wire.
    pub ip_len: u32,
    /// Spans covering `0..B` exactly once, in order.
    pub fields: Vec<FieldSpan>,
}

/// Bytes `start..start + len` of a packet's row are `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpan {
    pub field: Field,
    pub start: u16,
    pub len: u16,
    /// The field's decoded value as captured (before the view): `64`,
    /// `0x4000 (DF)`, `SYN, ACK`, `MSS 1460, SACK_PERM`; addresses read
    /// `(zeroed)`. Decoded from all of the field's captured bytes, also
    /// those beyond B; `… (truncated)` when the capture cut it.
    pub value: String,
}

impl Default for Representation {
    fn default() -> Self {
        Self::from_parts(DEFAULT_PACKETS, DEFAULT_BYTES_PER_PACKET, View::All)
    }
}

impl Representation {
    /// The format version ([`REPR_VERSION`]).
    pub const VERSION: u32 = REPR_VERSION;

    /// P packets of B bytes, seen through `view`.
    pub fn new(packets: usize, bytes_per_packet: usize, view: View) -> Result<Self, ReprError> {
        check_range("packets", packets, 1, MAX_PACKETS)?;
        check_range(
            "bytes_per_packet",
            bytes_per_packet,
            1,
            MAX_BYTES_PER_PACKET,
        )?;
        view.validate()?;
        Ok(Self::from_parts(packets, bytes_per_packet, view))
    }

    fn from_parts(packets: usize, bytes_per_packet: usize, view: View) -> Self {
        let plan = Plan::new(&view);
        Self {
            packets,
            bytes_per_packet,
            view,
            plan,
        }
    }

    /// The same sizes through another view.
    pub fn with_view(&self, view: View) -> Result<Self, ReprError> {
        Self::new(self.packets, self.bytes_per_packet, view)
    }

    /// Refuse a spec written in another format version.
    pub fn check_version(found: u32) -> Result<(), ReprError> {
        if found == REPR_VERSION {
            Ok(())
        } else {
            Err(ReprError::UnsupportedVersion {
                found,
                supported: REPR_VERSION,
            })
        }
    }

    /// Read a spec from JSON, with typed errors (version first, then field
    /// names, then the rest).
    pub fn from_json(json: &str) -> Result<Self, ReprError> {
        let v: Versioned = serde_json::from_str(json).map_err(json_error)?;
        Self::from_versioned(v)
    }

    /// Read a spec from a JSON value (e.g. a manifest's `representation`).
    pub fn from_json_value(value: serde_json::Value) -> Result<Self, ReprError> {
        let v: Versioned = serde_json::from_value(value).map_err(json_error)?;
        Self::from_versioned(v)
    }

    fn from_versioned(v: Versioned) -> Result<Self, ReprError> {
        Self::check_version(v.version)?;
        let body: Body =
            serde_json::from_value(serde_json::Value::Object(v.body)).map_err(json_error)?;
        let view = View::try_from(body.view)?;
        Self::new(body.packets, body.bytes_per_packet, view)
    }

    /// The format version ([`REPR_VERSION`]).
    pub fn version(&self) -> u32 {
        REPR_VERSION
    }

    /// Packets per flow (P).
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// Bytes per packet (B).
    pub fn bytes_per_packet(&self) -> usize {
        self.bytes_per_packet
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// `[P, B]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.packets, self.bytes_per_packet]
    }

    /// P × B: the length of one encoded flow.
    pub fn input_len(&self) -> usize {
        self.packets * self.bytes_per_packet
    }

    /// What the view does to `field` (addresses and padding: always zero).
    pub fn action(&self, field: Field) -> Action {
        self.plan.action(field)
    }

    /// How to cut flows for this representation: P packets of B bytes kept,
    /// default idle timeout.
    pub fn flow_config(&self) -> FlowConfig {
        FlowConfig {
            keep_packets: self.packets,
            keep_bytes: self.bytes_per_packet,
            ..FlowConfig::default()
        }
    }

    /// Encode one flow into `out` (`[P, B]`, row-major). Allocates nothing.
    ///
    /// # Panics
    /// If `out.len() != P * B` (a caller bug, not an input problem).
    pub fn encode_into(&self, flow: &Flow, out: &mut [u8]) {
        assert_eq!(
            out.len(),
            self.input_len(),
            "encode_into: out must be packets * bytes_per_packet long"
        );
        let b = self.bytes_per_packet;
        let key = flow_noise_key(self.plan.seed, flow.first_packet_index);
        let present = flow.head.len().min(self.packets);
        let (rows, missing) = out.split_at_mut(present * b);
        missing.fill(0);
        for (i, (row, p)) in rows.chunks_exact_mut(b).zip(&flow.head).enumerate() {
            // Copy what was captured; the dissector's padding span zeroes
            // the rest of the row (and any bytes after the IP packet).
            let n = p.bytes.len().min(b);
            row[..n].copy_from_slice(&p.bytes[..n]);
            let mut sink = MaskSink {
                row,
                plan: &self.plan,
                key,
                packet: i,
            };
            fields::dissect(&p.bytes, b, self.plan.detail, &mut sink);
        }
    }

    /// Encode one flow: `[P, B]`.
    pub fn encode(&self, flow: &Flow) -> Vec<u8> {
        let mut out = vec![0; self.input_len()];
        self.encode_into(flow, &mut out);
        out
    }

    /// Encode flows: `[N, P, B]`.
    pub fn encode_batch(&self, flows: &[&Flow]) -> Vec<u8> {
        let n = self.input_len();
        let mut out = vec![0; flows.len() * n];
        for (flow, chunk) in flows.iter().zip(out.chunks_exact_mut(n)) {
            self.encode_into(flow, chunk);
        }
        out
    }

    /// The field of every byte of the encoded flow: `[P, B]`, row-major;
    /// missing packets and bytes past a packet's end are
    /// [`Field::Padding`]. Describes the packets as captured: the view's
    /// effect on each is [`Representation::action`].
    pub fn field_ids(&self, flow: &Flow) -> Vec<Field> {
        let b = self.bytes_per_packet;
        let mut out = vec![Field::Padding; self.input_len()];
        for (row, p) in out.chunks_exact_mut(b).zip(&flow.head) {
            fields::dissect(&p.bytes, b, true, &mut IdSink { row });
        }
        out
    }

    /// The fields of each present packet (at most P; missing packets have
    /// no entry: they are all padding), with decoded values, covering
    /// `0..B` of each exactly once. Describes the packets as captured: the
    /// view's effect on each is [`Representation::action`].
    pub fn field_map(&self, flow: &Flow) -> Vec<PacketFields> {
        let b = self.bytes_per_packet;
        flow.head
            .iter()
            .take(self.packets)
            .map(|p| {
                let mut sink = MapSink {
                    data: &p.bytes,
                    row_len: b,
                    spans: Vec::new(),
                };
                fields::dissect(&p.bytes, b, true, &mut sink);
                PacketFields {
                    dir: p.dir,
                    ip_len: p.ip_len,
                    fields: sink.spans,
                }
            })
            .collect()
    }

    /// Names of [`Representation::key_features`]: `protocol`, `sport`,
    /// `dport`, `packets`, then `len_0` .. `len_{P-1}`.
    pub fn key_feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["protocol", "sport", "dport", "packets"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        names.extend((0..self.packets).map(|i| format!("len_{i}")));
        names
    }

    /// The classic baselines' input (C4.5, k-NN), `[4 + P]`:
    /// - `protocol`: the IP protocol number;
    /// - `sport`, `dport`: the initiator's ports (0 without ports);
    /// - `packets`: packets in the whole flow, both directions, raw (not
    ///   capped at P: the deep models see at most P of them, as all-zero
    ///   rows beyond the flow's end);
    /// - `len_i`: the IP length of packet `i`, positive forward, negative
    ///   backward, 0 when the flow has fewer packets.
    ///
    /// The view hides features exactly as it hides the fields they come
    /// from, so the baselines see what the deep models see: `protocol` is 0
    /// when the view hides `ipv4.protocol` (IPv4 flows) or
    /// `ipv6.next_header` (IPv6 flows); `sport`/`dport` are 0 when it hides
    /// `tcp.sport`/`tcp.dport` (TCP flows) or `udp.sport`/`udp.dport` (UDP
    /// flows); when it hides `ipv4.total_length` / `ipv6.payload_length`,
    /// each `len_i` keeps only the direction (+1 or −1, 0 when missing).
    /// Hidden means zeroed or randomised. `packets` and the direction sign
    /// are never hidden (no header field carries them).
    pub fn key_features(&self, flow: &Flow) -> Vec<f32> {
        use Field::*;
        let k = &flow.key;
        let v6 = k.src.is_ipv6();
        let hides = |f4: Field, f6: Field| self.view.hides(if v6 { f6 } else { f4 });
        let ports = match k.proto {
            6 => Some((TcpSport, TcpDport)),
            17 => Some((UdpSport, UdpDport)),
            _ => None,
        };
        let port = |value: u16, field: Option<Field>| match field {
            Some(f) if self.view.hides(f) => 0.0,
            _ => f32::from(value),
        };
        let mut out = Vec::with_capacity(4 + self.packets);
        out.push(if hides(Ipv4Protocol, Ipv6NextHeader) {
            0.0
        } else {
            f32::from(k.proto)
        });
        out.push(port(k.sport, ports.map(|p| p.0)));
        out.push(port(k.dport, ports.map(|p| p.1)));
        out.push(flow.total_packets() as f32);
        let sizes_hidden = hides(Ipv4TotalLength, Ipv6PayloadLength);
        out.extend((0..self.packets).map(|i| match flow.head.get(i) {
            None => 0.0,
            Some(p) => {
                let sign = match p.dir {
                    Direction::Forward => 1.0,
                    Direction::Backward => -1.0,
                };
                if sizes_hidden {
                    sign
                } else {
                    sign * p.ip_len as f32
                }
            }
        }));
        out
    }
}

impl Serialize for Representation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Written<'a> {
            version: u32,
            packets: usize,
            bytes_per_packet: usize,
            view: &'a View,
        }
        Written {
            version: REPR_VERSION,
            packets: self.packets,
            bytes_per_packet: self.bytes_per_packet,
            view: &self.view,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Representation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Versioned::deserialize(d)?;
        Self::from_versioned(v).map_err(serde::de::Error::custom)
    }
}

/// The version, read before anything else so that a newer spec is refused
/// as such rather than for a key this build does not know.
#[derive(Deserialize)]
struct Versioned {
    version: u32,
    #[serde(flatten)]
    body: serde_json::Map<String, serde_json::Value>,
}

/// Version 1 of the spec.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default = "default_packets")]
    packets: usize,
    #[serde(default = "default_bytes_per_packet")]
    bytes_per_packet: usize,
    #[serde(default = "default_view")]
    view: RawView,
}

fn default_packets() -> usize {
    DEFAULT_PACKETS
}

fn default_bytes_per_packet() -> usize {
    DEFAULT_BYTES_PER_PACKET
}

fn default_view() -> RawView {
    RawView::All
}

fn json_error(e: serde_json::Error) -> ReprError {
    ReprError::Json {
        message: e.to_string(),
    }
}

fn check_range(what: &'static str, found: usize, min: usize, max: usize) -> Result<(), ReprError> {
    if (min..=max).contains(&found) {
        Ok(())
    } else {
        Err(ReprError::OutOfRange {
            what,
            found: found as u64,
            min: min as u64,
            max: max as u64,
        })
    }
}

/// splitmix64: a tiny, well-mixed, portable hash (no clocks, no OS
/// randomness).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(crate) fn flow_noise_key(seed: u64, first_packet_index: u64) -> u64 {
    splitmix64(seed ^ splitmix64(first_packet_index))
}

/// The noise byte at (packet, offset) of a flow.
pub(crate) fn noise(key: u64, packet: usize, offset: usize) -> u8 {
    let at = ((packet as u64) << 32) | (offset as u64 & 0xffff_ffff);
    (splitmix64(key ^ at) >> 56) as u8
}

/// Applies the view to one packet's row.
struct MaskSink<'a> {
    row: &'a mut [u8],
    plan: &'a Plan,
    key: u64,
    packet: usize,
}

impl Sink for MaskSink<'_> {
    #[inline]
    fn span(&mut self, field: Field, start: usize, end: usize, _ctx: u8) {
        let end = end.min(self.row.len());
        if start >= end {
            return;
        }
        match self.plan.action(field) {
            Action::Keep => {}
            Action::Zero => self.row[start..end].fill(0),
            Action::Randomise => {
                for (off, byte) in (start..end).zip(&mut self.row[start..end]) {
                    *byte = noise(self.key, self.packet, off);
                }
            }
        }
    }
}

/// Writes each byte's field.
struct IdSink<'a> {
    row: &'a mut [Field],
}

impl Sink for IdSink<'_> {
    fn span(&mut self, field: Field, start: usize, end: usize, _ctx: u8) {
        let end = end.min(self.row.len());
        if start < end {
            self.row[start..end].fill(field);
        }
    }
}

/// Collects spans with readable values, clipped to the row.
struct MapSink<'a> {
    data: &'a [u8],
    row_len: usize,
    spans: Vec<FieldSpan>,
}

impl Sink for MapSink<'_> {
    fn span(&mut self, field: Field, start: usize, end: usize, ctx: u8) {
        if start >= self.row_len {
            return;
        }
        let shown_end = end.min(self.row_len);
        let bytes = self
            .data
            .get(start..end.min(self.data.len()))
            .unwrap_or(&[]);
        self.spans.push(FieldSpan {
            field,
            start: u16::try_from(start).unwrap_or(u16::MAX),
            len: u16::try_from(shown_end - start).unwrap_or(u16::MAX),
            value: describe::describe(field, bytes, ctx),
        });
    }
}
