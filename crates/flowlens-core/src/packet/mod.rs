//! One captured frame -> the IP packet inside it, its 5-tuple and TCP flags.
//!
//! The link layer is dropped here, so nothing downstream depends on the
//! capture's link type. [`link`] finds where the network layer starts for
//! every supported link type (Ethernet and its tags, PPP, HDLC, Frame Relay,
//! 802.11 with its radio headers in [`ieee80211`], Linux cooked, ...: the
//! list and the specification of each layout are in its docs); etherparse
//! parses from the IP header on. Parsing is lax (etherparse's
//! `LaxSlicedPacket`): a packet cut by the snap length still yields the
//! headers it has. No input makes [`decode`] panic: every read is bounds
//! checked, and what cannot be read is a [`SkipReason`].

use std::net::IpAddr;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use serde::{Deserialize, Serialize};

mod ieee80211;
mod link;

pub use link::linktype;
use link::{Bytes, Net};

/// Why a packet was not put in a flow. Every skipped packet is counted
/// under one of these in [`crate::Summary::skipped`], by [`SkipReason::as_str`].
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
    /// A link header that is there but invalid: wrong magic number or
    /// version, a length field pointing outside the frame, too many nested
    /// encapsulations.
    MalformedLink,
    /// An 802.11 frame with no network layer: management, control, or a
    /// data frame of a subtype without payload (Null, QoS Null, ...).
    WlanNoData,
    /// An 802.11 data frame with the Protected Frame bit set: its payload
    /// is encrypted.
    WlanEncrypted,
    /// A Linux cooked capture of a netlink socket (ARPHRD_NETLINK).
    Netlink,
    /// A Linux cooked capture whose protocol is one of Linux's non-EtherType
    /// `ETH_P_*` values other than Ethernet, 802.2 LLC and PPP (CAN, IPX, ...).
    SllProtocol(u16),
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
            SkipReason::MalformedLink => "malformed link header".into(),
            SkipReason::WlanNoData => {
                "802.11 frame without data (management, control, null)".into()
            }
            SkipReason::WlanEncrypted => "encrypted 802.11 payload".into(),
            SkipReason::Netlink => "netlink (Linux cooked capture)".into(),
            SkipReason::SllProtocol(p) => {
                let name = match p {
                    0x0001 => " (802.3 without LLC: IPX)",
                    0x0002 => " (AX.25)",
                    0x000C => " (CAN)",
                    0x000D => " (CAN FD)",
                    0x0010 => " (PPPTalk)",
                    0x0011 => " (802.2 over Token Ring)",
                    0x0017 => " (IrDA)",
                    0x0019 => " (HDLC)",
                    0x001A => " (ARCNET)",
                    0x001B => " (DSA)",
                    0x00F5 => " (Phonet)",
                    0x00F6 => " (IEEE 802.15.4)",
                    0x00F7 => " (CAIF)",
                    0x00FA => " (MCTP)",
                    _ => "",
                };
                format!("Linux cooked protocol 0x{p:04x}{name}")
            }
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
/// cannot say how long the packet was, and to know whether a trailing FCS
/// was captured).
pub fn decode(link_type: u32, frame: &[u8], orig_len: u32) -> Result<Decoded<'_>, SkipReason> {
    let complete = frame.len() as u64 >= u64::from(orig_len);
    let loc = link::locate(link_type, Bytes(frame), complete, 0)?;
    let net = frame
        .get(loc.start..loc.end)
        .ok_or(SkipReason::TruncatedLink)?;
    let p = match loc.net {
        Net::Ip => LaxSlicedPacket::from_ip(net).map_err(|_| SkipReason::MalformedIp)?,
        Net::EtherType(t) => LaxSlicedPacket::from_ether_type(EtherType(t), net),
    };
    finish(p, net, loc.start, orig_len)
}

fn offset_of(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize)
        .saturating_sub(outer.as_ptr() as usize)
        .min(outer.len())
}

/// The decoded packet from etherparse's slices; `net` is what the link
/// layer carries, `net_start` where it starts in the frame.
fn finish<'a>(
    p: LaxSlicedPacket<'a>,
    net: &'a [u8],
    net_start: usize,
    orig_len: u32,
) -> Result<Decoded<'a>, SkipReason> {
    let (src, dst, proto, ip_total, fragmented, header) = match &p.net {
        Some(LaxNetSlice::Ipv4(s)) => {
            let h = s.header();
            let total = u32::from(h.total_len());
            // A total length shorter than the header (0 excepted: senders
            // using segmentation offload leave it 0) is no IPv4 packet;
            // etherparse's lax parsing would fall back to the frame length.
            if total != 0 && total < u32::from(h.ihl()) * 4 {
                return Err(SkipReason::MalformedIp);
            }
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
    let ip_at = offset_of(net, header);
    let ip = net.get(ip_at..).unwrap_or(&[]);
    let ip_len =
        ip_total.unwrap_or_else(|| orig_len.saturating_sub(net_start.saturating_add(ip_at) as u32));
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
