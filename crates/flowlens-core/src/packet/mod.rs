//! One captured frame -> the IP packet inside it, its 5-tuple and TCP flags.
//!
//! The link layer is dropped here, so nothing downstream depends on the
//! capture's link type. Parsing is lax (etherparse `LaxSlicedPacket`): a
//! packet cut by the snap length still yields the headers it has.

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use serde::{Deserialize, Serialize};

/// Link types (tcpdump `LINKTYPE_*` values) this decoder understands.
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
    /// Legacy DLT_RAW values some writers still use.
    pub const RAW_ALT_12: u32 = 12;
    pub const RAW_ALT_14: u32 = 14;
}

/// Why a packet was not put in a flow. Every skipped packet is counted
/// under one of these in [`crate::Summary::skipped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SkipReason {
    /// The capture's link type is not one we decode.
    UnsupportedLinkType(u32),
    /// The link header is shorter than its fixed size.
    TruncatedLink,
    /// The frame carries something other than IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// An IP header was expected but could not be read.
    MalformedIp,
    /// A non-first IP fragment: it has no transport header to key it on.
    Fragment,
}

impl SkipReason {
    /// Stable, human-readable name used as the key in summaries.
    pub fn as_str(&self) -> String {
        match self {
            SkipReason::UnsupportedLinkType(t) => format!("unsupported link type {t}"),
            SkipReason::TruncatedLink => "truncated link header".into(),
            SkipReason::NotIp => "not IP".into(),
            SkipReason::MalformedIp => "malformed IP header".into(),
            SkipReason::Fragment => "IP fragment (not first)".into(),
        }
    }
}

/// A tunnel seen in a packet. Flows are made on the outer header; tunnels
/// are counted, not decapsulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tunnel {
    IpInIp,
    Gre,
    Vxlan,
    Gtp,
    Teredo,
}

impl Tunnel {
    pub fn as_str(&self) -> &'static str {
        match self {
            Tunnel::IpInIp => "ip-in-ip",
            Tunnel::Gre => "gre",
            Tunnel::Vxlan => "vxlan",
            Tunnel::Gtp => "gtp",
            Tunnel::Teredo => "teredo",
        }
    }
}

/// A decoded packet: the IP layer and what a flow needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The packet from the IP header on, as captured.
    pub ip: &'a [u8],
    /// Length of the IP packet on the wire: its header's total length when
    /// it has one, else what the frame says.
    pub ip_len: u32,
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Transport ports; 0 when the protocol has none (ICMP, GRE, ...).
    pub sport: u16,
    pub dport: u16,
    /// TCP flags byte, for TCP packets whose header was captured.
    pub tcp_flags: Option<u8>,
    pub tunnel: Option<Tunnel>,
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// Protocol as written in flows output: `tcp`, `udp`, `icmp`, `icmpv6`, or
/// the protocol number.
pub fn proto_name(proto: u8) -> String {
    match proto {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => n.to_string(),
    }
}

/// Decode one frame of the given link type.
///
/// `orig_len` is the frame's length on the wire (used when the IP header
/// cannot say how long the packet was).
pub fn decode(link_type: u32, frame: &[u8], orig_len: u32) -> Result<Decoded<'_>, SkipReason> {
    use linktype::*;
    let (sliced, link_len) = match link_type {
        ETHERNET => {
            let p = LaxSlicedPacket::from_ethernet(frame).map_err(|_| SkipReason::TruncatedLink)?;
            if p.net.is_none() {
                if let Some(at) = pppoe_ip_offset(frame) {
                    return finish(from_ip(&frame[at..])?, frame, at, orig_len);
                }
            }
            let link_len = ip_offset_in(frame, &p);
            (p, link_len)
        }
        RAW | RAW_ALT_12 | RAW_ALT_14 | IPV4 | IPV6 => (from_ip(frame)?, 0),
        LINUX_SLL => {
            // 16-byte cooked header; protocol (an EtherType) in bytes 14..16.
            let hdr = frame.get(..16).ok_or(SkipReason::TruncatedLink)?;
            let et = u16::from_be_bytes([hdr[14], hdr[15]]);
            (
                LaxSlicedPacket::from_ether_type(EtherType(et), &frame[16..]),
                16,
            )
        }
        LINUX_SLL2 => {
            // 20-byte cooked header v2; protocol in bytes 0..2.
            let hdr = frame.get(..20).ok_or(SkipReason::TruncatedLink)?;
            let et = u16::from_be_bytes([hdr[0], hdr[1]]);
            (
                LaxSlicedPacket::from_ether_type(EtherType(et), &frame[20..]),
                20,
            )
        }
        NULL | LOOP => {
            // 4-byte address family: host byte order for NULL, network for LOOP.
            let hdr = frame.get(..4).ok_or(SkipReason::TruncatedLink)?;
            let le = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let be = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let fam = if link_type == LOOP {
                be
            } else if le < 0x1_0000 {
                le
            } else {
                be
            };
            match fam {
                // AF_INET; AF_INET6 on BSDs, macOS, Linux.
                2 | 10 | 24 | 28 | 30 => (from_ip(&frame[4..])?, 4),
                _ => return Err(SkipReason::NotIp),
            }
        }
        other => return Err(SkipReason::UnsupportedLinkType(other)),
    };
    finish(sliced, frame, link_len, orig_len)
}

fn from_ip(bytes: &[u8]) -> Result<LaxSlicedPacket<'_>, SkipReason> {
    LaxSlicedPacket::from_ip(bytes).map_err(|_| SkipReason::MalformedIp)
}

/// Where the IP header starts in an Ethernet frame carrying IPv4 or IPv6 in
/// a PPPoE session (EtherType 0x8864, after any VLAN tags), which etherparse
/// does not decode: 6-byte PPPoE header, then the 2-byte PPP protocol.
fn pppoe_ip_offset(frame: &[u8]) -> Option<usize> {
    let mut at = 12;
    loop {
        match u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]) {
            0x8100 | 0x88A8 | 0x9100 => at += 4,
            0x8864 => break,
            _ => return None,
        }
    }
    match u16::from_be_bytes([*frame.get(at + 8)?, *frame.get(at + 9)?]) {
        0x0021 | 0x0057 => Some(at + 10),
        _ => None,
    }
}

/// Where the IP header starts in an Ethernet frame (after VLAN tags).
fn ip_offset_in(frame: &[u8], p: &LaxSlicedPacket<'_>) -> usize {
    match &p.net {
        Some(LaxNetSlice::Ipv4(s)) => offset_of(frame, s.header().slice()),
        Some(LaxNetSlice::Ipv6(s)) => offset_of(frame, s.header().slice()),
        _ => 0,
    }
}

fn offset_of(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize)
        .saturating_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

fn finish<'a>(
    p: LaxSlicedPacket<'a>,
    frame: &'a [u8],
    link_len: usize,
    orig_len: u32,
) -> Result<Decoded<'a>, SkipReason> {
    let (src, dst, proto, ip_total, fragmented, header) = match &p.net {
        Some(LaxNetSlice::Ipv4(s)) => {
            let h = s.header();
            let total = u32::from(h.total_len());
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                s.payload().ip_number.0,
                Some(total),
                h.is_fragmenting_payload() && h.fragments_offset().value() != 0,
                h.slice(),
            )
        }
        Some(LaxNetSlice::Ipv6(s)) => {
            let h = s.header();
            let total = 40 + u32::from(h.payload_length());
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                s.payload().ip_number.0,
                Some(total),
                s.payload().fragmented && !is_first_v6_fragment(s),
                h.slice(),
            )
        }
        Some(LaxNetSlice::Arp(_)) | None => {
            return Err(match p.stop_err {
                Some((
                    _,
                    etherparse::err::Layer::Ipv4Header | etherparse::err::Layer::Ipv6Header,
                )) => SkipReason::MalformedIp,
                _ => SkipReason::NotIp,
            })
        }
    };
    if fragmented {
        return Err(SkipReason::Fragment);
    }
    let ip_start = if link_len > 0 {
        link_len
    } else {
        offset_of(frame, header)
    };
    let ip = frame.get(ip_start..).unwrap_or(&[]);
    let ip_len = ip_total.unwrap_or_else(|| orig_len.saturating_sub(ip_start as u32));
    let mut d = Decoded {
        ip,
        ip_len,
        proto,
        src,
        dst,
        sport: 0,
        dport: 0,
        tcp_flags: None,
        tunnel: match proto {
            4 | 41 => Some(Tunnel::IpInIp),
            47 => Some(Tunnel::Gre),
            _ => None,
        },
    };
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            d.sport = t.source_port();
            d.dport = t.destination_port();
            // Flags are byte 13 of the TCP header.
            d.tcp_flags = t.slice().get(13).copied();
        }
        Some(TransportSlice::Udp(u)) => {
            d.sport = u.source_port();
            d.dport = u.destination_port();
            d.tunnel = match (d.sport, d.dport) {
                (4789, _) | (_, 4789) => Some(Tunnel::Vxlan),
                (2152, _) | (_, 2152) => Some(Tunnel::Gtp),
                (3544, _) | (_, 3544) => Some(Tunnel::Teredo),
                _ => None,
            };
        }
        _ => {
            // A truncated transport header etherparse refused: read the ports
            // ourselves when at least they were captured.
            if matches!(proto, 6 | 17 | 132) {
                if let Some(l4) = transport_bytes(&p) {
                    if l4.len() >= 4 {
                        d.sport = u16::from_be_bytes([l4[0], l4[1]]);
                        d.dport = u16::from_be_bytes([l4[2], l4[3]]);
                    }
                    if proto == 6 {
                        d.tcp_flags = l4.get(13).copied();
                    }
                }
            }
        }
    }
    Ok(d)
}

fn transport_bytes<'a>(p: &LaxSlicedPacket<'a>) -> Option<&'a [u8]> {
    p.net
        .as_ref()
        .and_then(|n| n.ip_payload_ref())
        .map(|pl| pl.payload)
}

fn is_first_v6_fragment(s: &etherparse::LaxIpv6Slice<'_>) -> bool {
    s.extensions()
        .clone()
        .into_iter()
        .find_map(|e| match e {
            etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f.fragment_offset().value() == 0),
            _ => None,
        })
        .unwrap_or(true)
}
