//! Readable values of header fields, for the field map (not the hot path).

use std::fmt::Write;

use super::fields::{EXT_CONTINUED, TUNNEL_GRE, TUNNEL_GTP_U, TUNNEL_TEREDO, TUNNEL_VXLAN};
use super::Field;

/// The value of `field`, whose captured bytes are `b` (possibly cut short by
/// the capture). `ctx` is the hint given by the dissector ([`super::fields::Sink`]).
pub(crate) fn describe(field: Field, b: &[u8], ctx: u8) -> String {
    decode(field, b, ctx).unwrap_or_else(|| format!("{} (truncated)", hex(b, 16)))
}

fn decode(field: Field, b: &[u8], ctx: u8) -> Option<String> {
    use Field::*;
    Some(match field {
        Ipv4Src | Ipv4Dst | Ipv6Src | Ipv6Dst | EthSrc | EthDst => "(zeroed)".to_string(),
        Padding => "(padding)".to_string(),
        Ipv4VersionIhl => {
            let [v] = arr(b)?;
            format!("version {}, header {} bytes", v >> 4, (v & 0x0f) * 4)
        }
        Ipv4DscpEcn => {
            let [v] = arr(b)?;
            format!("DSCP {}, ECN {}", v >> 2, v & 3)
        }
        Ipv4TotalLength | Ipv6PayloadLength | UdpLength | TcpWindow | TcpUrgent | TcpSport
        | TcpDport | UdpSport | UdpDport => u16::from_be_bytes(arr(b)?).to_string(),
        Ipv4Identification => {
            let v = u16::from_be_bytes(arr(b)?);
            format!("0x{v:04x} ({v})")
        }
        Ipv4FlagsFragment => {
            let v = u16::from_be_bytes(arr(b)?);
            let mut parts = Vec::new();
            for (bit, name) in [(0x8000, "reserved"), (0x4000, "DF"), (0x2000, "MF")] {
                if v & bit != 0 {
                    parts.push(name.to_string());
                }
            }
            if v & 0x1fff != 0 {
                parts.push(format!("offset {}", u32::from(v & 0x1fff) * 8));
            }
            if parts.is_empty() {
                format!("0x{v:04x}")
            } else {
                format!("0x{v:04x} ({})", parts.join(", "))
            }
        }
        Ipv4Ttl | Ipv6HopLimit => {
            let [v] = arr(b)?;
            v.to_string()
        }
        Ipv4Protocol | Ipv6NextHeader => {
            let [v] = arr(b)?;
            proto(v)
        }
        Ipv4Checksum | TcpChecksum | UdpChecksum | IcmpChecksum | Icmpv6Checksum => {
            format!("0x{:04x}", u16::from_be_bytes(arr(b)?))
        }
        Ipv4Options => format!("{} bytes: {}", b.len(), hex(b, 16)),
        Ipv6VersionClassFlow => {
            let v = u32::from_be_bytes(arr(b)?);
            format!(
                "version {}, class 0x{:02x}, flow label 0x{:05x}",
                v >> 28,
                (v >> 20) & 0xff,
                v & 0xf_ffff
            )
        }
        Ipv6Extension => extension(b, ctx),
        TcpSeq | TcpAck => u32::from_be_bytes(arr(b)?).to_string(),
        TcpDataOffset => {
            let [v] = arr(b)?;
            let words = v >> 4;
            let ns = if v & 1 != 0 { ", NS" } else { "" };
            format!("{words} ({} bytes){ns}", u16::from(words) * 4)
        }
        TcpFlags => {
            let [v] = arr(b)?;
            tcp_flags(v)
        }
        TcpOptions => tcp_options(b),
        TcpTimestamp => {
            if b.len() == 10 && b[1] == 10 {
                let val = u32::from_be_bytes([b[2], b[3], b[4], b[5]]);
                let ecr = u32::from_be_bytes([b[6], b[7], b[8], b[9]]);
                format!("TS val {val} ecr {ecr}")
            } else {
                format!("TS (malformed or cut): {}", hex(b, 16))
            }
        }
        IcmpType => {
            let [v] = arr(b)?;
            named(v, icmp_type_name(v))
        }
        IcmpCode => {
            let [v] = arr(b)?;
            named(v, icmp_code_name(ctx, v))
        }
        IcmpRest => {
            let r: [u8; 4] = arr(b)?;
            match ctx {
                0 | 8 | 13 | 14 => echo_like(r),
                3 if r[2] != 0 || r[3] != 0 => {
                    format!("next-hop MTU {}", u16::from_be_bytes([r[2], r[3]]))
                }
                3 | 4 | 11 => "unused".to_string(),
                12 => format!("pointer {}", r[0]),
                _ => hex(&r, 4),
            }
        }
        Icmpv6Type => {
            let [v] = arr(b)?;
            named(v, icmpv6_type_name(v))
        }
        Icmpv6Code => {
            let [v] = arr(b)?;
            named(v, icmpv6_code_name(ctx, v))
        }
        Icmpv6Rest => {
            let r: [u8; 4] = arr(b)?;
            match ctx {
                128 | 129 => echo_like(r),
                2 => format!("MTU {}", u32::from_be_bytes(r)),
                4 => format!("pointer {}", u32::from_be_bytes(r)),
                136 => {
                    let mut flags = Vec::new();
                    for (bit, name) in [(0x80, "router"), (0x40, "solicited"), (0x20, "override")] {
                        if r[0] & bit != 0 {
                            flags.push(name);
                        }
                    }
                    if flags.is_empty() {
                        "no flags".to_string()
                    } else {
                        flags.join(", ")
                    }
                }
                1 | 3 | 133 | 135 | 137 => "unused".to_string(),
                _ => hex(&r, 4),
            }
        }
        Payload => payload(b),
        TunnelHeader => tunnel(b, ctx),
        EthType => {
            let ty = u16::from_be_bytes(arr(b.get(..2)?)?);
            match (ty, b.get(2..4)) {
                (0x8100 | 0x88a8, Some(tci)) => {
                    format!("VLAN {}", u16::from_be_bytes([tci[0], tci[1]]) & 0x0fff)
                }
                (0x0800, _) => "0x0800 (IPv4)".to_string(),
                (0x86dd, _) => "0x86dd (IPv6)".to_string(),
                _ => format!("0x{ty:04x}"),
            }
        }
    })
}

fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.try_into().ok()
}

/// Up to `max` bytes as hex, `…` after.
fn hex(b: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(3 * b.len().min(max) + 3);
    for (i, x) in b.iter().take(max).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:02x}");
    }
    if b.len() > max {
        s.push_str(" …");
    }
    s
}

fn named(v: u8, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{v} ({n})"),
        None => v.to_string(),
    }
}

fn echo_like(r: [u8; 4]) -> String {
    format!(
        "id 0x{:04x}, seq {}",
        u16::from_be_bytes([r[0], r[1]]),
        u16::from_be_bytes([r[2], r[3]])
    )
}

/// IP protocol number with its name.
pub(crate) fn proto(v: u8) -> String {
    let name = match v {
        0 => "hop-by-hop options",
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPv4",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        43 => "routing",
        44 => "fragment",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        59 => "no next header",
        60 => "destination options",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        135 => "mobility",
        136 => "UDP-Lite",
        139 => "HIP",
        140 => "Shim6",
        _ => return v.to_string(),
    };
    format!("{v} ({name})")
}

fn extension(b: &[u8], ctx: u8) -> String {
    if ctx == EXT_CONTINUED {
        return format!("routing header (continued), {} bytes", b.len());
    }
    let name = match ctx {
        0 => "hop-by-hop options",
        43 => "routing",
        44 => "fragment",
        51 => "authentication",
        60 => "destination options",
        135 => "mobility",
        139 => "HIP",
        140 => "Shim6",
        _ => "extension",
    };
    let mut s = format!("{name} header");
    if let Some(&nh) = b.first() {
        let _ = write!(s, ", next {}", proto(nh));
    }
    match (ctx, b.get(2)) {
        (43, Some(t)) => {
            let _ = write!(s, ", type {t}");
        }
        (44, Some(_)) if b.len() >= 4 => {
            let v = u16::from_be_bytes([b[2], b[3]]);
            let _ = write!(s, ", offset {}", (v >> 3) * 8);
            if v & 1 != 0 {
                s.push_str(", MF");
            }
        }
        _ => {}
    }
    let _ = write!(s, ", {} bytes", b.len());
    s
}

fn tunnel(b: &[u8], ctx: u8) -> String {
    let n = b.len();
    match ctx {
        TUNNEL_GRE => {
            let proto = b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
            match proto {
                Some(p) => format!("GRE, protocol 0x{p:04x}, {n} bytes"),
                None => format!("GRE, {n} bytes"),
            }
        }
        TUNNEL_VXLAN => match b.get(4..7) {
            Some(v) => format!("VXLAN, VNI {}", u32::from_be_bytes([0, v[0], v[1], v[2]])),
            None => "VXLAN".to_string(),
        },
        TUNNEL_GTP_U => match b.get(4..8) {
            Some(t) => format!(
                "GTP-U, TEID 0x{:08x}, {n} bytes",
                u32::from_be_bytes([t[0], t[1], t[2], t[3]])
            ),
            None => format!("GTP-U, {n} bytes"),
        },
        TUNNEL_TEREDO => format!("Teredo, {n} bytes"),
        _ => format!("{n} bytes"),
    }
}

fn tcp_flags(v: u8) -> String {
    const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
    let set: Vec<&str> = (0..8)
        .filter(|i| v & (1 << i) != 0)
        .map(|i| NAMES[i])
        .collect();
    if set.is_empty() {
        "none".to_string()
    } else {
        set.join(", ")
    }
}

/// A run of TCP options (never the timestamp, which is its own field).
fn tcp_options(b: &[u8]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let kind = b[i];
        match kind {
            0 => {
                out.push(if b.len() - i > 1 {
                    format!("EOL + {} padding", b.len() - i - 1)
                } else {
                    "EOL".to_string()
                });
                break;
            }
            1 => {
                out.push("NOP".to_string());
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = match b.get(i + 1) {
            Some(&l) if l >= 2 => usize::from(l),
            Some(&l) => {
                out.push(format!("kind {kind} with bad length {l}"));
                break;
            }
            None => {
                out.push(format!("kind {kind} (truncated)"));
                break;
            }
        };
        let Some(o) = b.get(i..i + len) else {
            out.push(format!("kind {kind} (truncated)"));
            break;
        };
        let data = &o[2..];
        out.push(match (kind, data.len()) {
            (2, 2) => format!("MSS {}", u16::from_be_bytes([data[0], data[1]])),
            (3, 1) => format!("WS {}", data[0]),
            (4, 0) => "SACK_PERM".to_string(),
            (5, n) if n % 8 == 0 => {
                let blocks: Vec<String> = data
                    .chunks_exact(8)
                    .map(|c| {
                        let l = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                        let r = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
                        format!("{l}-{r}")
                    })
                    .collect();
                format!("SACK {}", blocks.join(" "))
            }
            (28, 2) => format!("UTO {}", u16::from_be_bytes([data[0], data[1]])),
            (29, _) => "TCP-AO".to_string(),
            (30, _) => "MPTCP".to_string(),
            (34, 0) => "TFO request".to_string(),
            (34, _) => "TFO cookie".to_string(),
            (19, _) => "MD5".to_string(),
            _ => format!("kind {kind} ({len} bytes)"),
        });
        i += len;
    }
    out.join(", ")
}

fn payload(b: &[u8]) -> String {
    let n = b.len();
    let head = &b[..n.min(24)];
    let printable = head
        .iter()
        .filter(|&&c| c == b'\r' || c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c))
        .count();
    if !head.is_empty() && printable * 4 >= head.len() * 3 {
        let text: String = head.iter().map(|&c| char::from(c)).collect();
        let more = if n > head.len() { "…" } else { "" };
        format!("{n} bytes: {:?}{more}", text)
    } else {
        format!("{n} bytes: {}", hex(b, 8))
    }
}

fn icmp_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "echo reply",
        3 => "destination unreachable",
        4 => "source quench",
        5 => "redirect",
        8 => "echo request",
        9 => "router advertisement",
        10 => "router solicitation",
        11 => "time exceeded",
        12 => "parameter problem",
        13 => "timestamp",
        14 => "timestamp reply",
        _ => return None,
    })
}

fn icmp_code_name(t: u8, c: u8) -> Option<&'static str> {
    Some(match (t, c) {
        (3, 0) => "net unreachable",
        (3, 1) => "host unreachable",
        (3, 2) => "protocol unreachable",
        (3, 3) => "port unreachable",
        (3, 4) => "fragmentation needed",
        (3, 9 | 10 | 13) => "administratively prohibited",
        (5, 0) => "for network",
        (5, 1) => "for host",
        (11, 0) => "TTL exceeded in transit",
        (11, 1) => "fragment reassembly time exceeded",
        _ => return None,
    })
}

fn icmpv6_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        132 => "multicast listener done",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbour solicitation",
        136 => "neighbour advertisement",
        137 => "redirect",
        143 => "multicast listener report v2",
        _ => return None,
    })
}

fn icmpv6_code_name(t: u8, c: u8) -> Option<&'static str> {
    Some(match (t, c) {
        (1, 0) => "no route",
        (1, 1) => "administratively prohibited",
        (1, 3) => "address unreachable",
        (1, 4) => "port unreachable",
        (3, 0) => "hop limit exceeded in transit",
        (3, 1) => "fragment reassembly time exceeded",
        _ => return None,
    })
}
