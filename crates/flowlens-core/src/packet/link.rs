//! Link layers: where the network-layer packet of a frame starts and ends.
//!
//! [`locate`] walks the headers below IP for every supported link type and
//! returns the offsets of the network-layer packet; the IP header and what
//! follows it are parsed by etherparse (`packet::decode`). etherparse 0.21
//! decodes Ethernet II, up to three 802.1Q/802.1ad tags, MACsec and ARP, but
//! none of MPLS, PPPoE, 802.2 LLC/SNAP, 802.1ah, VN-Tag, PPP or the non-
//! Ethernet link types, and those may come in any order (PPPoE inside
//! 802.1ad inside 802.1ah, MPLS inside PPP inside Linux cooked, ...). So the
//! walk below the network layer is one small state machine over [`Step`]s,
//! written here, and every step reads with bounds checks (`Bytes`): a short
//! frame is a [`SkipReason::TruncatedLink`], never a panic. MACsec frames are
//! handed to etherparse as an EtherType ([`Net::EtherType`]).
//!
//! Layouts, and where each comes from:
//!
//! * Ethernet II / IEEE 802.3 (Length/Type field: a value below 0x0600 is a
//!   length and an 802.2 LLC header follows, IEEE 802.3 §3.2.6); 802.2 LLC
//!   (DSAP, SSAP, 1- or 2-byte control; SAP 0x06 is IPv4) with SNAP (RFC
//!   1042: `AA AA 03`, OUI 00-00-00, then an EtherType; IEEE 802.1H
//!   bridge-tunnel OUI 00-00-F8 likewise).
//! * 802.1Q (0x8100), 802.1ad (0x88A8) and the pre-standard QinQ 0x9100
//!   tags: 2-byte TCI then the next EtherType (IEEE 802.1Q-2018 §9);
//!   802.1ah provider backbone bridging (0x88E7): 4-byte I-TAG, then the
//!   customer's whole Ethernet frame (§9.7); Cisco VN-Tag (0x8926): 4-byte
//!   tag, then the next EtherType; Arista's timestamp header (0xD28B):
//!   sub-type 1, a version whose low byte 0x10 means a 64-bit and 0x20 a
//!   48-bit timestamp, then the next EtherType (Wireshark's `avsp`
//!   dissector, tcpdump's `print-arista.c`); Network Service Header
//!   (0x894F, RFC 8300 §2.2): length in 4-byte words, next protocol 1 IPv4,
//!   2 IPv6, 3 Ethernet, 5 MPLS.
//! * Where the header before the IP packet says its version (EtherType,
//!   PPP protocol, NLPID, address family, LINKTYPE_IPV4/IPV6), a packet of
//!   the other version is a malformed IP header, as tshark reads it; where
//!   nothing says (raw IP, MPLS, SLIP), the version nibble decides.
//! * MPLS (0x8847, 0x8848; PPP 0x0281, 0x0283): 4-byte label stack entries
//!   until the bottom-of-stack bit (RFC 3032 §2.1); what follows has no type
//!   field, so the first nibble decides, as tcpdump and Wireshark do: 4 is
//!   IPv4, 6 is IPv6, 0 is a pseudowire control word (RFC 4385) followed by
//!   an Ethernet frame (RFC 4448) when that frame carries a known EtherType;
//!   anything else is not IP.
//! * PPPoE session (0x8864): 6-byte header then the PPP protocol (RFC 2516
//!   §4); PPP: protocol field of 1 byte when its low bit is set (protocol
//!   field compression) else 2 (RFC 1661 §2, §6.5), after an optional
//!   `FF 03` address and control (RFC 1662 §3.1); 0x0021 IPv4, 0x0057 IPv6.
//!   A frame starting `0F 00` or `8F 00` on a PPP link is Cisco HDLC, as in
//!   libpcap's LINKTYPE_PPP_HDLC definition.
//! * Cisco HDLC: address, control, 2-byte EtherType (libpcap LINKTYPE_C_HDLC).
//! * Frame Relay: Q.922 address of 2 to 4 bytes (end marked by the EA bit),
//!   then either a Cisco-style EtherType or control 0x03 (UI), an optional
//!   0x00 pad, and an NLPID: 0xCC IPv4, 0x8E IPv6, 0x80 SNAP, 0xCF PPP (RFC
//!   2427 §3, §4; tcpdump's `print-fr.c` semantics for the Cisco form).
//! * Linux cooked v1 (16-byte header; ARPHRD type at 2, protocol at 14) and
//!   v2 (20 bytes; protocol at 0, ARPHRD type at 8) (libpcap's
//!   LINKTYPE_LINUX_SLL/SLL2 pages): the protocol is an EtherType, or below
//!   0x0600 one of Linux's `ETH_P_*` values (`if_ether.h`): 0x0003 a whole
//!   Ethernet frame, 0x0004 an 802.2 LLC frame, 0x0007 PPP in HDLC-like
//!   framing; ARPHRD 824 is netlink (never IP), 801/802/803 an 802.11
//!   frame, alone or after a Prism or radiotap header.
//! * FDDI: frame control, destination and source addresses (13 bytes), then
//!   802.2 LLC for LLC frames (frame control 0x50-0x57) (ANSI X3.139,
//!   libpcap LINKTYPE_FDDI).
//! * NFLOG: family, version, resource id (4 bytes), then TLVs of a 16-bit
//!   length (header included) and type in the capturing host's byte order,
//!   each padded to 4 bytes; type 9 (NFULA_PAYLOAD) is the packet from its
//!   network header on (libpcap LINKTYPE_NFLOG). The byte order is not
//!   recorded: little-endian is tried first, then big-endian.
//! * IP over InfiniBand (LINKTYPE_IPOIB is 242): as Linux captures it and
//!   tcpdump reads it (`print-ipoib.c`), a 44-byte header whose last 4 bytes
//!   are RFC 4391 §6's encapsulation header (EtherType, reserved).
//! * IPNET (Solaris): 24-byte header, address family at byte 1 (2 IPv4, 26
//!   IPv6) (libpcap LINKTYPE_IPNET).
//! * PKTAP (Apple): little-endian header length at 0 (at least 108) and the
//!   inner packet's DLT at 4, then that packet (libpcap LINKTYPE_PKTAP).
//!   macOS writes it as LINKTYPE_USER2 (149), which tcpdump and Wireshark
//!   read as PKTAP too; here 149 is PKTAP when its header is valid.
//! * Juniper Ethernet: "MGC", a flags byte, with flag 0x80 a 2-byte
//!   extension length and the extensions, then the Ethernet frame; with
//!   flag 0x02 (no layer 2) 4 more bytes then the IP packet (tcpdump's
//!   `print-juniper.c`).
//! * ARCNET (Linux): source, destination, 2-byte offset, then the system
//!   code (5 bytes; RFC 1051 types 0xF0/0xF1), or for RFC 1201 types 3 more
//!   bytes (split flag, sequence number); 0xD4 and 0xF0 are IPv4, 0xC4 IPv6
//!   (libpcap LINKTYPE_ARCNET_LINUX; tcpdump's `print-arcnet.c`).
//! * SLIP: 16-byte pseudo-header (direction, then the compressed-header
//!   bytes of VJ-compressed packets), then the uncompressed IP packet
//!   (libpcap LINKTYPE_SLIP, tcpdump's `print-sl.c`).
//!
//! 802.11 and its radio headers are in [`super::ieee80211`].
//!
//! Not decoded (counted as skipped, with a reason): 802.11 mesh control
//! fields, A-MSDU subframes after the first, PPP VJ-compressed TCP, bridged
//! Ethernet in SNAP (OUI 00-80-C2) and PPP BCP, ATM (LINKTYPE_SUNATM,
//! LINKTYPE_ATM_RFC1483, Linux CLIP: in the tcpdump test captures they hold
//! no IP that tshark decodes), Juniper's other link types (ATM, PPP, MFR:
//! pseudo-headers with per-PIC cookies), Multilink Frame Relay (tshark 4.0
//! does not read these files, so there is no oracle), 802.15.4 (6LoWPAN
//! compresses the IP header away), the switch DSA tags (LINKTYPE 281,
//! 282, 284, 285: tshark 4.0 does not read those captures either), and
//! Cisco HDLC and Frame Relay with a direction byte (205, 206: no capture of
//! them anywhere at hand, and tshark 4.0 does not read them).

use super::{ieee80211, SkipReason};

/// Link type values (tcpdump `LINKTYPE_*`) this module decodes.
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const SLIP: u32 = 8;
    pub const PPP: u32 = 9;
    pub const FDDI: u32 = 10;
    /// Legacy DLT_RAW values some writers still use.
    pub const RAW_ALT_12: u32 = 12;
    pub const RAW_ALT_14: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const PPP_ETHER: u32 = 51;
    pub const RAW: u32 = 101;
    pub const C_HDLC: u32 = 104;
    pub const IEEE802_11: u32 = 105;
    pub const FRELAY: u32 = 107;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IEEE802_11_PRISM: u32 = 119;
    pub const IEEE802_11_RADIOTAP: u32 = 127;
    pub const ARCNET_LINUX: u32 = 129;
    /// Private use; Apple's PKTAP in macOS captures.
    pub const USER2: u32 = 149;
    pub const IEEE802_11_AVS: u32 = 163;
    pub const JUNIPER_ETHER: u32 = 178;
    pub const PPI: u32 = 192;
    pub const PPP_WITH_DIR: u32 = 204;
    pub const IPNET: u32 = 226;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const NFLOG: u32 = 239;
    pub const IPOIB: u32 = 242;
    pub const PKTAP: u32 = 258;
    pub const LINUX_SLL2: u32 = 276;
}

/// How many headers one frame may stack below IP before it is refused.
const MAX_LAYERS: usize = 24;

/// What the link layer carries, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Located {
    pub net: Net,
    /// Offset of the network-layer header in the frame.
    pub start: usize,
    /// End of the link layer's payload (before a trailer such as an FCS).
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net {
    /// An IPv4 or IPv6 header (its version nibble says which).
    Ip,
    /// A payload of this EtherType that etherparse decodes (MACsec).
    EtherType(u16),
}

/// Bounds-checked reads; past the end is a truncated link header.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a>(pub &'a [u8]);

impl<'a> Bytes<'a> {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn get(&self, at: usize, n: usize) -> Result<&'a [u8], SkipReason> {
        let end = at.checked_add(n).ok_or(SkipReason::TruncatedLink)?;
        self.0.get(at..end).ok_or(SkipReason::TruncatedLink)
    }
    pub fn u8(&self, at: usize) -> Result<u8, SkipReason> {
        self.0.get(at).copied().ok_or(SkipReason::TruncatedLink)
    }
    pub fn be16(&self, at: usize) -> Result<u16, SkipReason> {
        let b = self.get(at, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn le16(&self, at: usize) -> Result<u16, SkipReason> {
        let b = self.get(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn be32(&self, at: usize) -> Result<u32, SkipReason> {
        let b = self.get(at, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn le32(&self, at: usize) -> Result<u32, SkipReason> {
        let b = self.get(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// The bytes from `at` on, as a new view (offsets restart at 0).
    pub fn from(&self, at: usize) -> Result<Bytes<'a>, SkipReason> {
        self.0.get(at..).map(Bytes).ok_or(SkipReason::TruncatedLink)
    }
    /// The first `n` bytes (all of them when `n` is past the end).
    pub fn cut(&self, n: usize) -> Bytes<'a> {
        Bytes(self.0.get(..n).unwrap_or(self.0))
    }
}

/// `a + b` on offsets; an overflow can only come from a hostile length field.
pub(crate) fn add(a: usize, b: usize) -> Result<usize, SkipReason> {
    a.checked_add(b).ok_or(SkipReason::MalformedLink)
}

/// One header to read at an offset of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// An Ethernet II or IEEE 802.3 header.
    Ethernet(usize),
    /// The payload of an EtherType.
    EtherType(u16, usize),
    /// An IEEE 802.2 LLC header.
    Llc(usize),
    /// A SNAP header (OUI, protocol id) after LLC `AA AA 03` or NLPID 0x80.
    Snap(usize),
    /// A PPP protocol field.
    Ppp(usize),
    /// PPP with or without `FF 03` before it, or Cisco HDLC.
    PppFramed(usize),
    /// An MPLS label stack.
    Mpls(usize),
    /// An IPv4 or IPv6 header: of the version given when the header before
    /// says which (a packet of the other version is a malformed IP header,
    /// as tshark reads it), else as its version nibble says.
    Ip(usize, Option<u8>),
}

/// Where the network layer of a frame of `link_type` is. `complete` says
/// whether the whole frame was captured (a trailing FCS is only stripped
/// then); `depth` counts link types nested in one another (PPI, PKTAP).
pub(crate) fn locate(
    link_type: u32,
    frame: Bytes<'_>,
    complete: bool,
    depth: u8,
) -> Result<Located, SkipReason> {
    use linktype::*;
    let step = match link_type {
        ETHERNET => Step::Ethernet(0),
        RAW | RAW_ALT_12 | RAW_ALT_14 => Step::Ip(0, None),
        IPV4 => Step::Ip(0, Some(4)),
        IPV6 => Step::Ip(0, Some(6)),
        NULL | LOOP => {
            // 4-byte address family: host byte order for NULL, network for LOOP.
            let le = frame.le32(0)?;
            let be = frame.be32(0)?;
            let fam = if link_type == LOOP {
                be
            } else if le < 0x1_0000 {
                le
            } else {
                be
            };
            match fam {
                2 => Step::Ip(4, Some(4)),
                // AF_INET6 on Linux, the BSDs, macOS.
                10 | 24 | 28 | 30 => Step::Ip(4, Some(6)),
                _ => return Err(SkipReason::NotIp),
            }
        }
        LINUX_SLL => {
            frame.get(0, 16)?;
            return sll(frame, frame.be16(2)?, frame.be16(14)?, 16, complete);
        }
        LINUX_SLL2 => {
            frame.get(0, 20)?;
            return sll(frame, frame.be16(8)?, frame.be16(0)?, 20, complete);
        }
        PPP | PPP_HDLC => Step::PppFramed(0),
        PPP_WITH_DIR => Step::PppFramed(1),
        PPP_ETHER => {
            frame.get(0, 6)?;
            Step::Ppp(6)
        }
        C_HDLC => Step::EtherType(frame.be16(2)?, 4),
        FRELAY => frame_relay(frame, 0)?,
        FDDI => {
            frame.get(0, 13)?;
            // LLC frames: frame control 0101 0PPP (asynchronous, priority P).
            if frame.u8(0)? & 0xF8 != 0x50 {
                return Err(SkipReason::NotIp);
            }
            Step::Llc(13)
        }
        IEEE802_11 => return ieee80211::frame(frame, 0, false),
        IEEE802_11_RADIOTAP => return ieee80211::radiotap(frame, complete),
        IEEE802_11_PRISM => return ieee80211::prism(frame),
        IEEE802_11_AVS => return ieee80211::avs(frame),
        PPI => return ieee80211::ppi(frame, complete, depth),
        NFLOG => return nflog(frame),
        IPOIB => {
            frame.get(0, 44)?;
            Step::EtherType(frame.be16(40)?, 44)
        }
        IPNET => {
            frame.get(0, 24)?;
            match frame.u8(1)? {
                2 => Step::Ip(24, Some(4)),
                26 => Step::Ip(24, Some(6)),
                _ => return Err(SkipReason::NotIp),
            }
        }
        PKTAP => return pktap(frame, complete, depth).map_err(|e| e.1),
        USER2 => {
            return pktap(frame, complete, depth).map_err(|(valid, e)| {
                if valid {
                    e
                } else {
                    SkipReason::UnsupportedLinkType(USER2)
                }
            })
        }
        JUNIPER_ETHER => juniper_ether(frame)?,
        ARCNET_LINUX => match frame.u8(4)? {
            // RFC 1051 IP: 5-byte header.
            0xF0 => Step::Ip(5, Some(4)),
            // RFC 1201 IP and IPv6 (RFC 2497): split flag and sequence too.
            0xD4 | 0xC4 => {
                frame.get(0, 8)?;
                Step::Ip(8, Some(if frame.u8(4)? == 0xD4 { 4 } else { 6 }))
            }
            _ => return Err(SkipReason::NotIp),
        },
        SLIP => {
            frame.get(0, 16)?;
            Step::Ip(16, None)
        }
        other => return Err(SkipReason::UnsupportedLinkType(other)),
    };
    walk(frame, step)
}

/// Follow headers from `step` down to the network layer.
pub(crate) fn walk(frame: Bytes<'_>, mut step: Step) -> Result<Located, SkipReason> {
    let end = frame.len();
    for _ in 0..MAX_LAYERS {
        step = match step {
            Step::Ethernet(at) => {
                let t = frame.be16(add(at, 12)?)?;
                ether_type_or_length(t, add(at, 14)?)
            }
            Step::EtherType(t, at) => match t {
                // 802.1Q, 802.1ad, QinQ: TCI, then the next type or a length.
                0x8100 | 0x88A8 | 0x9100 => {
                    ether_type_or_length(frame.be16(add(at, 2)?)?, add(at, 4)?)
                }
                // 802.1ah I-TAG, then the customer's Ethernet frame.
                0x88E7 => {
                    frame.get(at, 4)?;
                    Step::Ethernet(add(at, 4)?)
                }
                // VN-Tag: 4 bytes, then the next type.
                0x8926 => ether_type_or_length(frame.be16(add(at, 4)?)?, add(at, 6)?),
                0x8847 | 0x8848 => Step::Mpls(at),
                // PPPoE session: version/type, code, session id, length.
                0x8864 => {
                    frame.get(at, 6)?;
                    Step::Ppp(add(at, 6)?)
                }
                // PPP directly in an EtherType (0x880B).
                0x880B => Step::Ppp(at),
                // Arista timestamp: sub-type 1, version 0x?10 (64-bit
                // timestamp) or 0x?20 (48-bit), then the next type.
                0xD28B => {
                    let ts = match (frame.be16(at)?, frame.be16(add(at, 2)?)? & 0xFF) {
                        (1, 0x10) => 8,
                        (1, 0x20) => 6,
                        _ => return Err(SkipReason::NotIp),
                    };
                    let next = add(at, 4 + ts)?;
                    ether_type_or_length(frame.be16(next)?, add(next, 2)?)
                }
                // NSH: its length (6 bits, in 4-byte words) and next protocol.
                0x894F => nsh(frame, at)?,
                0x0800 => Step::Ip(at, Some(4)),
                0x86DD => Step::Ip(at, Some(6)),
                // MACsec: etherparse decodes it (and IP behind it when the
                // payload is not encrypted).
                0x88E5 => {
                    return Ok(Located {
                        net: Net::EtherType(t),
                        start: at,
                        end,
                    })
                }
                _ => return Err(SkipReason::NotIp),
            },
            Step::Llc(at) => {
                let (dsap, ssap, ctl) = (
                    frame.u8(at)?,
                    frame.u8(add(at, 1)?)?,
                    frame.u8(add(at, 2)?)?,
                );
                // Unnumbered frames have a 1-byte control field, I and S 2.
                let body = add(at, if ctl & 3 == 3 { 3 } else { 4 })?;
                // The low bit of a SAP is the group / response bit.
                match (dsap & 0xFE, ssap & 0xFE) {
                    (0xAA, 0xAA) => Step::Snap(body),
                    (0x06, 0x06) => Step::Ip(body, Some(4)),
                    _ => return Err(SkipReason::NotIp),
                }
            }
            Step::Snap(at) => {
                let oui = frame.get(at, 3)?;
                let pid = frame.be16(add(at, 3)?)?;
                match oui {
                    [0, 0, 0] | [0, 0, 0xF8] => Step::EtherType(pid, add(at, 5)?),
                    _ => return Err(SkipReason::NotIp),
                }
            }
            Step::PppFramed(at) => match (frame.u8(at)?, frame.u8(add(at, 1)?)?) {
                (0xFF, 0x03) => Step::Ppp(add(at, 2)?),
                (0x0F | 0x8F, 0x00) => Step::EtherType(frame.be16(add(at, 2)?)?, add(at, 4)?),
                _ => Step::Ppp(at),
            },
            Step::Ppp(at) => {
                let first = frame.u8(at)?;
                let (proto, next) = if first & 1 == 1 {
                    (u16::from(first), add(at, 1)?)
                } else {
                    (frame.be16(at)?, add(at, 2)?)
                };
                match proto {
                    0x0021 => Step::Ip(next, Some(4)),
                    0x0057 => Step::Ip(next, Some(6)),
                    0x0281 | 0x0283 => Step::Mpls(next),
                    _ => return Err(SkipReason::NotIp),
                }
            }
            Step::Mpls(mut at) => {
                // Label entries until the bottom-of-stack bit (bit 8 of 32).
                loop {
                    let entry = frame.get(at, 4)?;
                    at = add(at, 4)?;
                    if entry[2] & 1 == 1 {
                        break;
                    }
                }
                match frame.u8(at)? >> 4 {
                    4 | 6 => Step::Ip(at, None),
                    // A pseudowire control word, then an Ethernet frame, if
                    // that frame's type is one we know.
                    0 => {
                        let inner = add(at, 4)?;
                        match frame.be16(add(inner, 12)?) {
                            Ok(0x0800 | 0x86DD | 0x8100 | 0x88A8 | 0x8847 | 0x8848) => {
                                Step::Ethernet(inner)
                            }
                            _ => return Err(SkipReason::NotIp),
                        }
                    }
                    _ => return Err(SkipReason::NotIp),
                }
            }
            Step::Ip(at, version) => {
                if at > end {
                    return Err(SkipReason::TruncatedLink);
                }
                match (version, frame.u8(at)) {
                    (Some(v), Ok(b)) if b >> 4 != v => return Err(SkipReason::MalformedIp),
                    _ => {}
                }
                return Ok(Located {
                    net: Net::Ip,
                    start: at,
                    end,
                });
            }
        };
    }
    Err(SkipReason::MalformedLink)
}

/// Network Service Header (RFC 8300 §2.2): base header, service path
/// header, context headers; `Length` counts them all in 4-byte words.
fn nsh(frame: Bytes<'_>, at: usize) -> Result<Step, SkipReason> {
    let words = usize::from(frame.u8(add(at, 1)?)? & 0x3F);
    if words < 2 {
        return Err(SkipReason::MalformedLink);
    }
    let next = add(at, words * 4)?;
    frame.get(at, words * 4)?;
    Ok(match frame.u8(add(at, 3)?)? {
        1 => Step::Ip(next, Some(4)),
        2 => Step::Ip(next, Some(6)),
        3 => Step::Ethernet(next),
        5 => Step::Mpls(next),
        _ => return Err(SkipReason::NotIp),
    })
}

/// An Ethernet Length/Type value: below 0x0600 a length (802.2 LLC
/// follows), else an EtherType.
fn ether_type_or_length(t: u16, at: usize) -> Step {
    if t < 0x0600 {
        Step::Llc(at)
    } else {
        Step::EtherType(t, at)
    }
}

/// Linux cooked capture, v1 or v2: ARPHRD type `hatype`, protocol `proto`,
/// payload at `at`.
fn sll(
    frame: Bytes<'_>,
    hatype: u16,
    proto: u16,
    at: usize,
    complete: bool,
) -> Result<Located, SkipReason> {
    let step = match (hatype, proto) {
        // ARPHRD_NETLINK: the protocol is a netlink family.
        (824, _) => return Err(SkipReason::Netlink),
        // ARPHRD_IEEE80211, _PRISM, _IEEE80211_RADIOTAP.
        (801..=803, _) => {
            let inner = frame.from(at)?;
            let loc = match hatype {
                801 => ieee80211::frame(inner, 0, false),
                802 => ieee80211::prism(inner),
                _ => ieee80211::radiotap(inner, complete),
            }?;
            return Ok(shift(loc, at));
        }
        (_, 0x0003) => Step::Ethernet(at),
        (_, 0x0004) => Step::Llc(at),
        (_, 0x0007) => Step::PppFramed(at),
        (_, p) if p < 0x0600 => return Err(SkipReason::SllProtocol(p)),
        (_, p) => Step::EtherType(p, at),
    };
    walk(frame, step)
}

/// Offsets of a frame nested at `base` in its outer frame.
pub(crate) fn shift(loc: Located, base: usize) -> Located {
    Located {
        net: loc.net,
        start: loc.start.saturating_add(base),
        end: loc.end.saturating_add(base),
    }
}

/// Frame Relay from its Q.922 address at `at`.
fn frame_relay(frame: Bytes<'_>, at: usize) -> Result<Step, SkipReason> {
    let b0 = frame.u8(at)?;
    if b0 & 1 == 1 {
        return Err(SkipReason::MalformedLink);
    }
    let b1 = frame.u8(add(at, 1)?)?;
    let mut dlci = (u32::from(b0 & 0xFC) << 2) | u32::from(b1 >> 4);
    let mut addr_len = 2;
    if b1 & 1 == 0 {
        // 3- or 4-byte address.
        let mut b = frame.u8(add(at, 2)?)?;
        addr_len = 3;
        if b & 1 == 0 {
            dlci = (dlci << 7) | u32::from(b >> 1);
            b = frame.u8(add(at, 3)?)?;
            addr_len = 4;
            if b & 1 == 0 {
                return Err(SkipReason::MalformedLink);
            }
        }
        dlci = (dlci << 6) | u32::from(b >> 2);
    }
    let ctl_at = add(at, addr_len)?;
    if frame.u8(ctl_at)? != 0x03 && dlci != 0 {
        // Cisco encapsulation: an EtherType right after the address.
        return Ok(Step::EtherType(frame.be16(ctl_at)?, add(ctl_at, 2)?));
    }
    let nlpid_at = if frame.u8(add(ctl_at, 1)?)? == 0 {
        add(ctl_at, 2)?
    } else {
        add(ctl_at, 1)?
    };
    let next = add(nlpid_at, 1)?;
    Ok(match frame.u8(nlpid_at)? {
        0xCC => Step::Ip(next, Some(4)),
        0x8E => Step::Ip(next, Some(6)),
        0x80 => Step::Snap(next),
        0xCF => Step::Ppp(next),
        _ => return Err(SkipReason::NotIp),
    })
}

/// NFLOG: the NFULA_PAYLOAD TLV, from its value's start to its end.
fn nflog(frame: Bytes<'_>) -> Result<Located, SkipReason> {
    frame.get(0, 4)?;
    let payload = |big_endian: bool| -> Option<(usize, usize)> {
        let mut at = 4usize;
        while at.checked_add(4)? <= frame.len() {
            let (len, ty) = if big_endian {
                (frame.be16(at).ok()?, frame.be16(at + 2).ok()?)
            } else {
                (frame.le16(at).ok()?, frame.le16(at + 2).ok()?)
            };
            let len = usize::from(len);
            if len < 4 {
                return None;
            }
            // The top two bits of the type are netlink flags.
            if ty & 0x3FFF == 9 {
                return Some((at + 4, (at + len).min(frame.len())));
            }
            at = at.checked_add((len + 3) & !3)?;
        }
        None
    };
    let (start, end) = payload(false)
        .or_else(|| payload(true))
        .ok_or(SkipReason::NotIp)?;
    let version = match frame.u8(0)? {
        2 => Some(4),
        10 => Some(6),
        _ => None,
    };
    walk(frame.cut(end), Step::Ip(start, version))
}

/// PKTAP: the inner packet, of the DLT its header names. The error says
/// whether the header itself was valid.
fn pktap(frame: Bytes<'_>, complete: bool, depth: u8) -> Result<Located, (bool, SkipReason)> {
    let hdr_len = frame.le32(0).map_err(|e| (false, e))?;
    let dlt = frame.le32(4).map_err(|e| (false, e))?;
    let hdr_len = usize::try_from(hdr_len).map_err(|_| (false, SkipReason::MalformedLink))?;
    if hdr_len < 108 || hdr_len > frame.len() {
        return Err((false, SkipReason::MalformedLink));
    }
    if depth > 0 || matches!(dlt, linktype::PKTAP | linktype::USER2) {
        return Err((true, SkipReason::MalformedLink));
    }
    let inner = frame.from(hdr_len).map_err(|e| (true, e))?;
    locate(dlt, inner, complete, depth + 1)
        .map(|l| shift(l, hdr_len))
        .map_err(|e| (true, e))
}

/// Juniper Ethernet: magic, flags, extensions, then Ethernet (or IP when
/// the layer 2 header was stripped).
fn juniper_ether(frame: Bytes<'_>) -> Result<Step, SkipReason> {
    if frame.get(0, 3)? != b"MGC" {
        return Err(SkipReason::MalformedLink);
    }
    let flags = frame.u8(3)?;
    let mut hdr = 4;
    if flags & 0x80 != 0 {
        hdr = add(6, usize::from(frame.be16(4)?))?;
    }
    if flags & 0x02 != 0 {
        Ok(Step::Ip(add(hdr, 4)?, None))
    } else {
        Ok(Step::Ethernet(hdr))
    }
}
