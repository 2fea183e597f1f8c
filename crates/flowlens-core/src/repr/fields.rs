//! Header fields: their names, their groups, and the dissector that says
//! which field every byte of a packet belongs to.
//!
//! The dissector works on byte offsets computed from the headers' own length
//! fields and never allocates. It reports contiguous, non-overlapping spans
//! in increasing order to a [`Sink`]; the encoder (masking), the per-byte
//! field ids and the readable field map are three sinks over the same walk,
//! so they cannot disagree.
//!
//! The rules (inner headers, tunnels, lying lengths) are documented in
//! the [`repr` module docs](crate::repr).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ReprError;

/// How many IP headers deep the dissector follows tunnels and ICMP errors.
pub const MAX_DEPTH: u8 = 8;

macro_rules! fields {
    ($( $(#[$doc:meta])* $var:ident = $name:literal => $group:ident, )*) => {
        /// A header field, or payload, or padding: what a byte of the model's
        /// input is. Serialised as its dotted name ([`Field::name`]).
        ///
        /// Inner headers (ICMP errors, tunnels) use the same names as outer
        /// ones; see the [`repr` module docs](crate::repr).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Field {
            $( $(#[$doc])* $var, )*
        }

        impl Field {
            /// Every field, in a stable order (also the order of the enum).
            pub const ALL: &'static [Field] = &[$(Field::$var,)*];

            /// The stable dotted name, e.g. `ipv4.ttl`.
            pub fn name(self) -> &'static str {
                match self { $(Field::$var => $name,)* }
            }

            /// The group the field is audited under.
            pub fn group(self) -> FieldGroup {
                match self { $(Field::$var => FieldGroup::$group,)* }
            }
        }
    };
}

fields! {
    /// Version (4) and header length in 32-bit words.
    Ipv4VersionIhl = "ipv4.version_ihl" => Other,
    Ipv4DscpEcn = "ipv4.dscp_ecn" => TrafficClass,
    Ipv4TotalLength = "ipv4.total_length" => PacketSizes,
    Ipv4Identification = "ipv4.identification" => IpId,
    /// Flags (reserved, DF, MF) and fragment offset.
    Ipv4FlagsFragment = "ipv4.flags_fragment" => IpId,
    Ipv4Ttl = "ipv4.ttl" => Ttl,
    Ipv4Protocol = "ipv4.protocol" => Protocol,
    Ipv4Checksum = "ipv4.checksum" => IpChecksum,
    /// Always zero in the model's input.
    Ipv4Src = "ipv4.src" => Address,
    /// Always zero in the model's input (also an ICMP redirect's gateway).
    Ipv4Dst = "ipv4.dst" => Address,
    Ipv4Options = "ipv4.options" => Other,
    /// Version (6), traffic class and flow label.
    Ipv6VersionClassFlow = "ipv6.version_class_flow" => TrafficClass,
    Ipv6PayloadLength = "ipv6.payload_length" => PacketSizes,
    Ipv6NextHeader = "ipv6.next_header" => Protocol,
    Ipv6HopLimit = "ipv6.hop_limit" => Ttl,
    /// Always zero in the model's input (also an ICMPv6 NA target).
    Ipv6Src = "ipv6.src" => Address,
    /// Always zero in the model's input (also routing-header and ICMPv6
    /// NS/redirect addresses).
    Ipv6Dst = "ipv6.dst" => Address,
    /// Any IPv6 extension header (hop-by-hop, routing, fragment,
    /// destination options, AH, ...), but for the addresses in it.
    Ipv6Extension = "ipv6.extension" => Other,
    TcpSport = "tcp.sport" => Ports,
    TcpDport = "tcp.dport" => Ports,
    TcpSeq = "tcp.seq" => TcpSeqAck,
    TcpAck = "tcp.ack" => TcpSeqAck,
    /// Byte 12: data offset, reserved bits and the NS flag.
    TcpDataOffset = "tcp.data_offset" => TcpOptions,
    /// Byte 13: CWR, ECE, URG, ACK, PSH, RST, SYN, FIN.
    TcpFlags = "tcp.flags" => TcpFlags,
    TcpWindow = "tcp.window" => TcpWindow,
    TcpChecksum = "tcp.checksum" => TransportChecksum,
    TcpUrgent = "tcp.urgent" => Other,
    /// TCP options other than timestamps (NOP, EOL, MSS, WS, SACK, ...).
    TcpOptions = "tcp.options" => TcpOptions,
    /// The whole timestamp option (kind 8: kind, length, TSval, TSecr).
    TcpTimestamp = "tcp.options.timestamp" => TcpOptions,
    UdpSport = "udp.sport" => Ports,
    UdpDport = "udp.dport" => Ports,
    UdpLength = "udp.length" => PacketSizes,
    UdpChecksum = "udp.checksum" => TransportChecksum,
    IcmpType = "icmp.type" => Other,
    IcmpCode = "icmp.code" => Other,
    IcmpChecksum = "icmp.checksum" => TransportChecksum,
    /// Bytes 4..8 of the ICMP header (echo id and sequence, next-hop MTU,
    /// unused, ...).
    IcmpRest = "icmp.rest" => Other,
    Icmpv6Type = "icmpv6.type" => Other,
    Icmpv6Code = "icmpv6.code" => Other,
    Icmpv6Checksum = "icmpv6.checksum" => TransportChecksum,
    /// Bytes 4..8 of the ICMPv6 header.
    Icmpv6Rest = "icmpv6.rest" => Other,
    /// A tunnel's own header: GRE, VXLAN, GTP-U, Teredo (authentication
    /// and origin indication, but for the origin's address).
    TunnelHeader = "tunnel.header" => Other,
    /// Destination MAC of an Ethernet frame inside a tunnel (VXLAN, GRE
    /// bridging). Always zero in the model's input, as in the paper.
    EthDst = "eth.dst" => Address,
    /// Source MAC of an Ethernet frame inside a tunnel. Always zero.
    EthSrc = "eth.src" => Address,
    /// EtherType (and VLAN tags) of an Ethernet frame inside a tunnel.
    EthType = "eth.type" => Other,
    /// Everything after the last header understood: application data, the
    /// body of ICMP messages, unknown protocols.
    Payload = "payload" => Payload,
    /// Positions after the end of the IP packet or of what was captured,
    /// and every position of a missing packet. Always zero.
    Padding = "padding" => Padding,
}

impl Field {
    /// Number of fields.
    pub const COUNT: usize = Field::ALL.len();

    /// The field with this dotted name.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Source or destination address (IPv4 or IPv6): always zeroed.
    pub fn is_address(self) -> bool {
        self.group() == FieldGroup::Address
    }

    /// Always zero in the model's input, whatever the view: addresses and
    /// padding.
    pub fn is_always_zero(self) -> bool {
        matches!(self.group(), FieldGroup::Address | FieldGroup::Padding)
    }

    /// Index into per-field tables (`0..Field::COUNT`).
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Field {
    type Err = ReprError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Field::from_name(s).ok_or_else(|| ReprError::UnknownField {
            name: s.to_string(),
        })
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Fields grouped as the audit (and the paper) talks about them.
///
/// The paper names TTL, IP ID ("fragment identification"), header checksum,
/// sequence numbers, window size, TCP options and TCP flags as site- or
/// environment-dependent; ports, packet sizes, protocol, number of packets
/// and payload as the well-known key features. Beyond the paper, we also
/// count as site-dependent the transport checksums (they hash the
/// site-dependent fields and the addresses) and the traffic class (DSCP/ECN,
/// and the IPv6 flow label, which is per host or per connection). IPv4
/// flags/fragment offset go with the IP ID (DF is an OS default), the TCP
/// data offset with the options (it is 20 + their length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldGroup {
    /// `ipv4.ttl`, `ipv6.hop_limit`.
    Ttl,
    /// `ipv4.identification`, `ipv4.flags_fragment`.
    IpId,
    /// `ipv4.checksum`.
    IpChecksum,
    /// `tcp.seq`, `tcp.ack`.
    TcpSeqAck,
    /// `tcp.window`.
    TcpWindow,
    /// `tcp.options`, `tcp.options.timestamp`, `tcp.data_offset`.
    TcpOptions,
    /// `tcp.flags`.
    TcpFlags,
    /// `tcp.checksum`, `udp.checksum`, `icmp.checksum`, `icmpv6.checksum`.
    TransportChecksum,
    /// `ipv4.dscp_ecn`, `ipv6.version_class_flow`.
    TrafficClass,
    /// `tcp.sport`, `tcp.dport`, `udp.sport`, `udp.dport`.
    Ports,
    /// `ipv4.total_length`, `ipv6.payload_length`, `udp.length`.
    PacketSizes,
    /// `ipv4.protocol`, `ipv6.next_header`.
    Protocol,
    /// `payload`.
    Payload,
    /// Addresses: always zero, so they can carry nothing.
    Address,
    /// `padding`: always zero. Whole padding rows are how the number of
    /// packets shows in the input, padding at the end of a row how short a
    /// packet is.
    Padding,
    /// Everything else (IP version/header length, IP options, extension
    /// headers, urgent pointer, ICMP type/code/rest).
    Other,
}

impl FieldGroup {
    /// Every group, in a stable order.
    pub const ALL: &'static [FieldGroup] = &[
        FieldGroup::Ttl,
        FieldGroup::IpId,
        FieldGroup::IpChecksum,
        FieldGroup::TcpSeqAck,
        FieldGroup::TcpWindow,
        FieldGroup::TcpOptions,
        FieldGroup::TcpFlags,
        FieldGroup::TransportChecksum,
        FieldGroup::TrafficClass,
        FieldGroup::Ports,
        FieldGroup::PacketSizes,
        FieldGroup::Protocol,
        FieldGroup::Payload,
        FieldGroup::Address,
        FieldGroup::Padding,
        FieldGroup::Other,
    ];

    /// Fields whose values depend on the site, the network path or the
    /// host's stack rather than on the application (see the type's docs).
    /// Addresses are not counted: they are always zero.
    pub fn is_site_dependent(self) -> bool {
        matches!(
            self,
            FieldGroup::Ttl
                | FieldGroup::IpId
                | FieldGroup::IpChecksum
                | FieldGroup::TcpSeqAck
                | FieldGroup::TcpWindow
                | FieldGroup::TcpOptions
                | FieldGroup::TcpFlags
                | FieldGroup::TransportChecksum
                | FieldGroup::TrafficClass
        )
    }

    /// The fields in this group.
    pub fn fields(self) -> impl Iterator<Item = Field> {
        Field::ALL
            .iter()
            .copied()
            .filter(move |f| f.group() == self)
    }

    /// Stable snake_case name (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            FieldGroup::Ttl => "ttl",
            FieldGroup::IpId => "ip_id",
            FieldGroup::IpChecksum => "ip_checksum",
            FieldGroup::TcpSeqAck => "tcp_seq_ack",
            FieldGroup::TcpWindow => "tcp_window",
            FieldGroup::TcpOptions => "tcp_options",
            FieldGroup::TcpFlags => "tcp_flags",
            FieldGroup::TransportChecksum => "transport_checksum",
            FieldGroup::TrafficClass => "traffic_class",
            FieldGroup::Ports => "ports",
            FieldGroup::PacketSizes => "packet_sizes",
            FieldGroup::Protocol => "protocol",
            FieldGroup::Payload => "payload",
            FieldGroup::Address => "address",
            FieldGroup::Padding => "padding",
            FieldGroup::Other => "other",
        }
    }
}

impl fmt::Display for FieldGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Receives the spans of one packet, in increasing order.
pub(crate) trait Sink {
    /// Bytes `start..end` (non-empty, within the captured packet or, for
    /// trailing padding, up to the cover length) are `field`. `ctx` is a
    /// hint for decoding the value: the ICMP/ICMPv6 type for `*.code` and
    /// `*.rest`, the extension header's protocol number for
    /// `ipv6.extension`, 0 otherwise.
    fn span(&mut self, field: Field, start: usize, end: usize, ctx: u8);
}

/// Dissect one packet (`bytes` from the IP header on) and report spans that
/// cover `0..max(bytes.len(), cover)` exactly once, in order. With
/// `detail == false` TCP and UDP headers and what follows them are not
/// reported (enough to find every address), and coverage has gaps.
pub(crate) fn dissect<S: Sink>(bytes: &[u8], cover: usize, detail: bool, sink: &mut S) {
    let mut w = Walker {
        data: bytes,
        detail,
        sink,
    };
    let end = w.ip(0, bytes.len(), 0);
    let total = bytes.len().max(cover);
    if end < total {
        w.sink.span(Field::Padding, end, total, 0);
    }
}

struct Walker<'a, S> {
    data: &'a [u8],
    detail: bool,
    sink: &'a mut S,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Transparent Ethernet bridging (Ethernet inside GRE).
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_PPP: u16 = 0x880b;
const UDP_VXLAN: u16 = 4789;
const UDP_GTP_U: u16 = 2152;
const UDP_TEREDO: u16 = 3544;

/// `ctx` of `tunnel.header` spans: which tunnel.
pub(crate) const TUNNEL_GRE: u8 = 1;
pub(crate) const TUNNEL_VXLAN: u8 = 2;
pub(crate) const TUNNEL_GTP_U: u8 = 3;
pub(crate) const TUNNEL_TEREDO: u8 = 4;

/// `ctx` of the part of an IPv6 routing header after its addresses.
pub(crate) const EXT_CONTINUED: u8 = 255;

/// IPv6 extension headers that use the generic layout (next header, length).
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_AUTH: u8 = 51;
const V6_DEST_OPTS: u8 = 60;
const V6_NO_NEXT: u8 = 59;
const V6_MOBILITY: u8 = 135;
const V6_HIP: u8 = 139;
const V6_SHIM6: u8 = 140;

impl<S: Sink> Walker<'_, S> {
    /// Report `field` over `start..end`, clipped to `lim`.
    #[inline]
    fn emit(&mut self, field: Field, start: usize, end: usize, lim: usize, ctx: u8) {
        let end = end.min(lim);
        if start < end {
            self.sink.span(field, start, end, ctx);
        }
    }

    #[inline]
    fn byte(&self, i: usize, lim: usize) -> Option<u8> {
        if i < lim {
            self.data.get(i).copied()
        } else {
            None
        }
    }

    #[inline]
    fn be16(&self, i: usize, lim: usize) -> Option<u16> {
        Some(u16::from_be_bytes([
            self.byte(i, lim)?,
            self.byte(i + 1, lim)?,
        ]))
    }

    /// The IP packet at `o`, within `o..lim`. Covers `o..end` and returns
    /// `end` (<= `lim`), where the packet's own length ends it.
    fn ip(&mut self, o: usize, lim: usize, depth: u8) -> usize {
        let lim = lim.min(self.data.len());
        match self.byte(o, lim).map(|b| b >> 4) {
            Some(4) => self.ipv4(o, lim, depth),
            Some(6) => self.ipv6(o, lim, depth),
            _ => {
                self.emit(Field::Payload, o, lim, lim, 0);
                lim.max(o)
            }
        }
    }

    fn ipv4(&mut self, o: usize, lim: usize, depth: u8) -> usize {
        let ihl = usize::from(self.data[o] & 0x0f) * 4;
        let end = match self.be16(o + 2, lim) {
            Some(total) if usize::from(total) >= ihl.max(20) => (o + usize::from(total)).min(lim),
            // Missing, zero (TSO) or below the header: up to the capture.
            _ => lim,
        };
        use Field::*;
        static FIXED: [(Field, u8, u8); 10] = [
            (Ipv4VersionIhl, 0, 1),
            (Ipv4DscpEcn, 1, 2),
            (Ipv4TotalLength, 2, 4),
            (Ipv4Identification, 4, 6),
            (Ipv4FlagsFragment, 6, 8),
            (Ipv4Ttl, 8, 9),
            (Ipv4Protocol, 9, 10),
            (Ipv4Checksum, 10, 12),
            (Ipv4Src, 12, 16),
            (Ipv4Dst, 16, 20),
        ];
        for &(f, a, b) in &FIXED {
            self.emit(f, o + usize::from(a), o + usize::from(b), end, 0);
        }
        if o + 20 >= end {
            return end;
        }
        if ihl < 20 {
            self.emit(Payload, o + 20, end, end, 0);
            return end;
        }
        self.emit(Ipv4Options, o + 20, o + ihl, end, 0);
        let t = o + ihl;
        if t >= end {
            return end;
        }
        let proto = self.data[o + 9];
        let frag_offset = self.be16(o + 6, end).unwrap_or(0) & 0x1fff;
        if frag_offset != 0 {
            // A later fragment: no transport header in it.
            self.emit(Payload, t, end, end, 0);
        } else {
            self.transport(proto, t, end, depth);
        }
        end
    }

    fn ipv6(&mut self, o: usize, lim: usize, depth: u8) -> usize {
        let end = match self.be16(o + 4, lim) {
            Some(len) if len != 0 => (o + 40 + usize::from(len)).min(lim),
            // Missing or zero (jumbogram, TSO): up to the capture.
            _ => lim,
        };
        use Field::*;
        static FIXED: [(Field, u8, u8); 6] = [
            (Ipv6VersionClassFlow, 0, 4),
            (Ipv6PayloadLength, 4, 6),
            (Ipv6NextHeader, 6, 7),
            (Ipv6HopLimit, 7, 8),
            (Ipv6Src, 8, 24),
            (Ipv6Dst, 24, 40),
        ];
        for &(f, a, b) in &FIXED {
            self.emit(f, o + usize::from(a), o + usize::from(b), end, 0);
        }
        let mut next = match self.byte(o + 6, end) {
            Some(n) => n,
            None => return end,
        };
        let mut p = o + 40;
        while p < end {
            match next {
                V6_HOP_BY_HOP | V6_ROUTING | V6_FRAGMENT | V6_AUTH | V6_DEST_OPTS | V6_MOBILITY
                | V6_HIP | V6_SHIM6 => {
                    let (Some(nh), Some(l)) = (self.byte(p, end), self.byte(p + 1, end)) else {
                        self.emit(Ipv6Extension, p, end, end, next);
                        return end;
                    };
                    let len = match next {
                        V6_FRAGMENT => 8,
                        V6_AUTH => (usize::from(l) + 2) * 4,
                        _ => (usize::from(l) + 1) * 8,
                    };
                    let h_end = (p + len).min(end);
                    if next == V6_ROUTING {
                        self.routing(p, h_end);
                    } else {
                        self.emit(Ipv6Extension, p, h_end, h_end, next);
                    }
                    if next == V6_FRAGMENT && self.be16(p + 2, end).unwrap_or(0) & 0xfff8 != 0 {
                        // A later fragment: no transport header in it.
                        self.emit(Payload, h_end, end, end, 0);
                        return end;
                    }
                    next = nh;
                    p = h_end;
                }
                V6_NO_NEXT => {
                    self.emit(Payload, p, end, end, 0);
                    return end;
                }
                proto => {
                    self.transport(proto, p, end, depth);
                    return end;
                }
            }
        }
        end
    }

    /// An IPv6 routing header at `p..h_end`: the addresses in it are
    /// `ipv6.dst`.
    fn routing(&mut self, p: usize, h_end: usize) {
        use Field::*;
        let ctx = V6_ROUTING;
        let addrs = match self.byte(p + 2, h_end) {
            // Type 0 (source route), 2 (Mobile IPv6), 3 (RPL): addresses
            // after 8 bytes, up to the end of the header.
            Some(0 | 2 | 3) => h_end,
            // Type 4 (segment routing): last entry + 1 segments, then TLVs.
            Some(4) => match self.byte(p + 4, h_end) {
                Some(last) => p + 8 + (usize::from(last) + 1) * 16,
                None => h_end,
            },
            _ => p + 8,
        };
        let addrs = addrs.min(h_end);
        if addrs <= p + 8 {
            self.emit(Ipv6Extension, p, h_end, h_end, ctx);
            return;
        }
        self.emit(Ipv6Extension, p, p + 8, h_end, ctx);
        self.emit(Ipv6Dst, p + 8, addrs, h_end, ctx);
        self.emit(Ipv6Extension, addrs, h_end, h_end, EXT_CONTINUED);
    }

    /// The transport (or inner network) header at `t`, covering `t..end`.
    fn transport(&mut self, proto: u8, t: usize, end: usize, depth: u8) {
        match proto {
            6 => self.tcp(t, end),
            17 => self.udp(t, end, depth),
            47 => self.gre(t, end, depth),
            1 => self.icmp(t, end, depth),
            58 => self.icmpv6(t, end, depth),
            // IPv4 or IPv6 inside IP (IP-in-IP, 6in4, 4in6, 6in6).
            4 | 41 => self.inner_ip(t, end, depth),
            _ => self.emit(Field::Payload, t, end, end, 0),
        }
    }

    /// An IP header inside this one (tunnel or ICMP error) at `p..end`.
    fn inner_ip(&mut self, p: usize, end: usize, depth: u8) {
        let inner_end = if depth + 1 < MAX_DEPTH {
            self.ip(p, end, depth + 1)
        } else {
            p
        };
        self.emit(Field::Payload, inner_end.max(p), end, end, 0);
    }

    fn tcp(&mut self, t: usize, end: usize) {
        if !self.detail {
            return;
        }
        use Field::*;
        static FIXED: [(Field, u8, u8); 9] = [
            (TcpSport, 0, 2),
            (TcpDport, 2, 4),
            (TcpSeq, 4, 8),
            (TcpAck, 8, 12),
            (TcpDataOffset, 12, 13),
            (TcpFlags, 13, 14),
            (TcpWindow, 14, 16),
            (TcpChecksum, 16, 18),
            (TcpUrgent, 18, 20),
        ];
        for &(f, a, b) in &FIXED {
            self.emit(f, t + usize::from(a), t + usize::from(b), end, 0);
        }
        if t + 20 >= end {
            return;
        }
        let data_offset = usize::from(self.data[t + 12] >> 4) * 4;
        if data_offset < 20 {
            self.emit(Payload, t + 20, end, end, 0);
            return;
        }
        let opts_end = (t + data_offset).min(end);
        self.tcp_options(t + 20, opts_end);
        self.emit(Payload, opts_end, end, end, 0);
    }

    /// TCP options in `s..e`: timestamps apart, runs of other options as one
    /// `tcp.options` span each.
    fn tcp_options(&mut self, s: usize, e: usize) {
        let mut run = s;
        let mut i = s;
        while i < e {
            match self.data[i] {
                0 => break, // EOL: the rest is options padding.
                1 => i += 1,
                kind => {
                    let len = self.byte(i + 1, e).map(usize::from);
                    if kind == 8 {
                        let ts_end = match len {
                            Some(l) if l >= 2 => (i + l).min(e),
                            _ => e,
                        };
                        self.emit(Field::TcpOptions, run, i, e, 0);
                        self.emit(Field::TcpTimestamp, i, ts_end, e, 0);
                        run = ts_end;
                        i = ts_end;
                        continue;
                    }
                    match len {
                        Some(l) if l >= 2 => i += l,
                        // Malformed or cut: the rest is options.
                        _ => break,
                    }
                }
            }
        }
        self.emit(Field::TcpOptions, run, e, e, 0);
    }

    fn udp(&mut self, t: usize, end: usize, depth: u8) {
        use Field::*;
        if self.detail {
            self.emit(UdpSport, t, t + 2, end, 0);
            self.emit(UdpDport, t + 2, t + 4, end, 0);
            self.emit(UdpLength, t + 4, t + 6, end, 0);
            self.emit(UdpChecksum, t + 6, t + 8, end, 0);
        }
        // Tunnels over UDP are found even when the detail is not wanted:
        // they carry addresses.
        let body = t + 8;
        if let (Some(sport), Some(dport)) = (self.be16(t, end), self.be16(t + 2, end)) {
            let port = |p: u16| sport == p || dport == p;
            let found = if port(UDP_VXLAN) {
                self.vxlan(body, end, depth)
            } else if port(UDP_GTP_U) {
                self.gtp_u(body, end, depth)
            } else if port(UDP_TEREDO) {
                self.teredo(body, end, depth)
            } else {
                false
            };
            if found {
                return;
            }
        }
        if self.detail {
            self.emit(Payload, body, end, end, 0);
        }
    }

    /// GRE (RFC 2784/2890) and PPTP's enhanced GRE (RFC 2637) carrying
    /// PPP.
    fn gre(&mut self, t: usize, end: usize, depth: u8) {
        use Field::*;
        let (Some(flags), Some(version)) = (self.byte(t, end), self.byte(t + 1, end)) else {
            self.emit(TunnelHeader, t, end, end, TUNNEL_GRE);
            return;
        };
        let bit = |b: u8, n: usize| if flags & b != 0 { n } else { 0 };
        let (len, inner) = match version & 0x07 {
            // Checksum (C), key (K), sequence (S).
            0 => (4 + bit(0x80, 4) + bit(0x20, 4) + bit(0x10, 4), true),
            // PPTP: key always, sequence (S), acknowledgement (A).
            1 => (
                8 + bit(0x10, 4) + if version & 0x80 != 0 { 4 } else { 0 },
                false,
            ),
            _ => (4, false),
        };
        let p = t + len;
        if version & 0x07 == 1 && self.be16(t + 2, end) == Some(ETHERTYPE_PPP) {
            // PPP in PPTP: [address 0xff, control 0x03,] protocol (1 or 2
            // bytes); IPv4 (0x21) or IPv6 (0x57) is followed.
            let mut q = p;
            if self.be16(q, end) == Some(0xff03) {
                q += 2;
            }
            let proto = match self.byte(q, end) {
                Some(b) if b & 1 == 1 => {
                    q += 1;
                    Some(u16::from(b))
                }
                _ => {
                    q += 2;
                    self.be16(q - 2, end)
                }
            };
            if matches!(proto, Some(0x21 | 0x57)) {
                self.emit(TunnelHeader, t, q, end, TUNNEL_GRE);
                return self.inner_ip(q, end, depth);
            }
        }
        self.emit(TunnelHeader, t, t + len, end, TUNNEL_GRE);
        match self.be16(t + 2, end) {
            // The routing bit (R) is obsolete: do not guess past it.
            _ if !inner || flags & 0x40 != 0 => self.emit(Payload, p, end, end, 0),
            Some(ETHERTYPE_IPV4 | ETHERTYPE_IPV6) => self.inner_ip(p, end, depth),
            Some(ETHERTYPE_TEB) => self.ethernet(p, end, depth),
            _ => self.emit(Payload, p, end, end, 0),
        }
    }

    /// An Ethernet frame inside a tunnel at `p..end`.
    fn ethernet(&mut self, p: usize, end: usize, depth: u8) {
        use Field::*;
        self.emit(EthDst, p, p + 6, end, 0);
        self.emit(EthSrc, p + 6, p + 12, end, 0);
        let mut q = p + 12;
        for _ in 0..3 {
            match self.be16(q, end) {
                Some(0x8100 | 0x88a8) => {
                    self.emit(EthType, q, q + 4, end, 0);
                    q += 4;
                }
                Some(ty) => {
                    self.emit(EthType, q, q + 2, end, 0);
                    q += 2;
                    if matches!(ty, ETHERTYPE_IPV4 | ETHERTYPE_IPV6) {
                        return self.inner_ip(q, end, depth);
                    }
                    break;
                }
                None => break,
            }
        }
        self.emit(Payload, q, end, end, 0);
    }

    /// VXLAN (RFC 7348): 8-byte header with the I flag, then Ethernet.
    fn vxlan(&mut self, b: usize, end: usize, depth: u8) -> bool {
        if b + 8 + 14 > end || self.byte(b, end).unwrap_or(0) & 0x08 == 0 {
            return false;
        }
        self.emit(Field::TunnelHeader, b, b + 8, end, TUNNEL_VXLAN);
        self.ethernet(b + 8, end, depth);
        true
    }

    /// GTP-U version 1 carrying a user packet (message type 255).
    fn gtp_u(&mut self, b: usize, end: usize, depth: u8) -> bool {
        let (Some(flags), Some(255)) = (self.byte(b, end), self.byte(b + 1, end)) else {
            return false;
        };
        if flags >> 5 != 1 {
            return false;
        }
        let mut q = b + 8;
        if flags & 0x07 != 0 {
            // Sequence number, N-PDU number, next extension type.
            q += 4;
            let mut next = if flags & 0x04 != 0 {
                self.byte(q - 1, end).unwrap_or(0)
            } else {
                0
            };
            // Extension headers: length in 4-byte units, next type last.
            while next != 0 && q < end {
                let len = usize::from(self.byte(q, end).unwrap_or(0)) * 4;
                if len == 0 {
                    q = end;
                    break;
                }
                q += len;
                next = self.byte(q - 1, end).unwrap_or(0);
            }
        }
        if !matches!(self.byte(q, end).map(|v| v >> 4), Some(4 | 6)) {
            return false;
        }
        self.emit(Field::TunnelHeader, b, q, end, TUNNEL_GTP_U);
        self.inner_ip(q, end, depth);
        true
    }

    /// Teredo (RFC 4380): optional authentication and origin indication,
    /// then IPv6. The origin indication's (obfuscated) IPv4 address is
    /// `ipv4.src`.
    fn teredo(&mut self, b: usize, end: usize, depth: u8) -> bool {
        let mut q = b;
        if self.be16(q, end) == Some(0x0001) {
            let id_len = usize::from(self.byte(q + 2, end).unwrap_or(0));
            let auth_len = usize::from(self.byte(q + 3, end).unwrap_or(0));
            q += 4 + id_len + auth_len + 8 + 1;
        }
        let origin = if self.be16(q, end) == Some(0x0000) {
            q += 8;
            Some(q - 8)
        } else {
            None
        };
        if self.byte(q, end).map(|v| v >> 4) != Some(6) {
            return false;
        }
        match origin {
            Some(o) => {
                self.emit(Field::TunnelHeader, b, o + 4, end, TUNNEL_TEREDO);
                self.emit(Field::Ipv4Src, o + 4, o + 8, end, 0);
            }
            None => self.emit(Field::TunnelHeader, b, q, end, TUNNEL_TEREDO),
        }
        self.inner_ip(q, end, depth);
        true
    }

    fn icmp(&mut self, t: usize, end: usize, depth: u8) {
        use Field::*;
        let Some(ty) = self.byte(t, end) else { return };
        self.emit(IcmpType, t, t + 1, end, 0);
        self.emit(IcmpCode, t + 1, t + 2, end, ty);
        self.emit(IcmpChecksum, t + 2, t + 4, end, 0);
        match ty {
            // Redirect: bytes 4..8 are the gateway's address.
            5 => self.emit(Ipv4Dst, t + 4, t + 8, end, ty),
            _ => self.emit(IcmpRest, t + 4, t + 8, end, ty),
        }
        match ty {
            // Destination unreachable, source quench, redirect, time
            // exceeded, parameter problem: the offending IP header follows.
            3 | 4 | 5 | 11 | 12 => self.inner_ip(t + 8, end, depth),
            _ => self.emit(Payload, t + 8, end, end, 0),
        }
    }

    fn icmpv6(&mut self, t: usize, end: usize, depth: u8) {
        use Field::*;
        let Some(ty) = self.byte(t, end) else { return };
        self.emit(Icmpv6Type, t, t + 1, end, 0);
        self.emit(Icmpv6Code, t + 1, t + 2, end, ty);
        self.emit(Icmpv6Checksum, t + 2, t + 4, end, 0);
        self.emit(Icmpv6Rest, t + 4, t + 8, end, ty);
        let mut body = t + 8;
        match ty {
            // Destination unreachable, packet too big, time exceeded,
            // parameter problem: the offending IPv6 header follows.
            1..=4 => return self.inner_ip(body, end, depth),
            // Neighbour solicitation: target address.
            135 => {
                self.emit(Ipv6Dst, body, body + 16, end, ty);
                body += 16;
            }
            // Neighbour advertisement: target (the advertiser's address).
            136 => {
                self.emit(Ipv6Src, body, body + 16, end, ty);
                body += 16;
            }
            // Redirect: target and destination addresses.
            137 => {
                self.emit(Ipv6Dst, body, body + 32, end, ty);
                body += 32;
            }
            _ => {}
        }
        self.emit(Payload, body, end, end, 0);
    }
}
