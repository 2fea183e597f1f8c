//! Data-driven tests: real packets built with etherparse, dissected, and
//! checked field by field; properties checked on every truncation and on
//! corrupted headers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    icmpv4::DestUnreachableHeader, icmpv6, IcmpEchoHeader, Icmpv4Type, Icmpv6Type, IpHeaders,
    IpNumber, Ipv4Header, Ipv6Extensions, Ipv6FlowLabel, Ipv6Header, Ipv6RawExtHeader,
    PacketBuilder, TcpOptionElement,
};

use super::*;
use crate::flows::{FlowKey, PacketHead};

const SRC4: [u8; 4] = [192, 168, 1, 10];
const DST4: [u8; 4] = [93, 184, 216, 34];
const SRC6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];
const DST6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
];

// ---------------------------------------------------------------- packets

fn ipv4_header(ttl: u8, id: u16, df: bool) -> IpHeaders {
    let mut h = Ipv4Header::new(0, ttl, IpNumber::TCP, SRC4, DST4).unwrap();
    h.identification = id;
    h.dont_fragment = df;
    IpHeaders::Ipv4(h, Default::default())
}

/// IPv4/TCP SYN-ACK with MSS, SACK_PERM, TS, NOP, WS.
fn tcp_syn_ack() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ip(ipv4_header(64, 0x1c46, true))
        .tcp(443, 51000, 123456789, 64240)
        .syn()
        .ack(1000)
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(123, 0),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .unwrap()
        .write(&mut out, &[])
        .unwrap();
    out
}

/// IPv4/TCP with NOP NOP TS and an HTTP request.
fn tcp_http() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ip(ipv4_header(128, 7, false))
        .tcp(51000, 80, 1000, 502)
        .psh()
        .ack(1)
        .options(&[
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(4000, 123),
        ])
        .unwrap()
        .write(&mut out, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .unwrap();
    out
}

fn ipv6_udp() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(SRC6, DST6, 57)
        .udp(5353, 53)
        .write(&mut out, &[0xab; 20])
        .unwrap();
    out
}

fn icmp_echo() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 64)
        .icmpv4_echo_request(0x1234, 7)
        .write(&mut out, b"abcdefgh")
        .unwrap();
    out
}

/// IPv4/UDP as quoted in an ICMP error: header + 8 bytes.
fn inner_udp4() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(DST4, SRC4, 3)
        .udp(40000, 33434)
        .write(&mut out, &[0x55; 12])
        .unwrap();
    out.truncate(28);
    out
}

/// ICMP port unreachable quoting an IPv4/UDP header.
fn icmp_unreachable() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 250)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            DestUnreachableHeader::Port,
        ))
        .write(&mut out, &inner_udp4())
        .unwrap();
    out
}

/// IPv6 with a hop-by-hop header (router alert) carrying ICMPv6 echo.
fn ipv6_hop_by_hop() -> Vec<u8> {
    let ext = Ipv6Extensions {
        hop_by_hop_options: Some(
            Ipv6RawExtHeader::new_raw(IpNumber(0), &[5, 2, 0, 0, 1, 0]).unwrap(),
        ),
        ..Default::default()
    };
    let h = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::try_new(0x12345).unwrap(),
        payload_length: 0,
        next_header: IpNumber(0),
        hop_limit: 1,
        source: SRC6,
        destination: DST6,
    };
    let mut out = Vec::new();
    PacketBuilder::ip(IpHeaders::Ipv6(h, ext))
        .icmpv6(Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 9, seq: 1 }))
        .write(&mut out, b"ping")
        .unwrap();
    out
}

/// An outer IPv4 header with `proto` around `inner`.
fn ipv4_around(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut h = Ipv4Header::new(inner.len() as u16, 64, IpNumber(proto), SRC4, DST4).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut out = h.to_bytes().to_vec();
    out.extend_from_slice(inner);
    out
}

/// 6in4: IPv4 (proto 41) around IPv6/UDP.
fn six_in_four() -> Vec<u8> {
    ipv4_around(41, &ipv6_udp())
}

/// IP-in-IP: IPv4 (proto 4) around IPv4/TCP.
fn ip_in_ip() -> Vec<u8> {
    ipv4_around(4, &tcp_http())
}

/// ICMPv6 port unreachable quoting an IPv6/UDP packet.
fn icmpv6_unreachable() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(DST6, SRC6, 64)
        .icmpv6(Icmpv6Type::DestinationUnreachable(
            icmpv6::DestUnreachableCode::Port,
        ))
        .write(&mut out, &ipv6_udp())
        .unwrap();
    out
}

/// ICMPv6 neighbour solicitation for SRC6 (raw: type 135).
fn neighbour_solicitation() -> Vec<u8> {
    let mut body = vec![0u8; 4]; // reserved
    body.extend_from_slice(&SRC6); // target
    body.extend_from_slice(&[1, 1, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55]); // source link-layer
    let mut out = Vec::new();
    PacketBuilder::ipv6(DST6, SRC6, 255)
        .icmpv6_raw(135, 0, [0, 0, 0, 0])
        .write(&mut out, &body[4..])
        .unwrap();
    out
}

/// IPv6 with a segment routing header (two segments) then UDP, by hand.
fn ipv6_segment_routing() -> Vec<u8> {
    let mut srh = vec![17, 4, 4, 1, 1, 0, 0, 0]; // next UDP, len 4 (40 bytes), type 4, left 1, last entry 1
    srh.extend_from_slice(&DST6);
    srh.extend_from_slice(&SRC6);
    let udp = [0x13, 0x88, 0x13, 0x89, 0, 12, 0, 0, 1, 2, 3, 4];
    let mut out = Vec::new();
    let h = Ipv6Header {
        traffic_class: 0,
        flow_label: Default::default(),
        payload_length: (srh.len() + udp.len()) as u16,
        next_header: IpNumber(43),
        hop_limit: 64,
        source: SRC6,
        destination: DST6,
    };
    h.write(&mut out).unwrap();
    out.extend_from_slice(&srh);
    out.extend_from_slice(&udp);
    out
}

const MAC_A: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01];
const MAC_B: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02];

/// IPv4/UDP with 8 bytes of payload (the inner packet of tunnels).
fn udp4() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 61)
        .udp(40000, 53)
        .write(&mut out, &[0x77; 8])
        .unwrap();
    out
}

/// An Ethernet header with one VLAN tag (100) before IPv4.
fn ethernet_vlan() -> Vec<u8> {
    let mut e = MAC_A.to_vec();
    e.extend_from_slice(&MAC_B);
    e.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
    e
}

/// GRE with a key around IPv4/UDP.
fn gre_ipv4() -> Vec<u8> {
    let mut g = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0x30, 0x39];
    g.extend_from_slice(&udp4());
    ipv4_around(47, &g)
}

/// GRE transparent bridging: Ethernet (VLAN) around IPv4/UDP.
fn gre_ethernet() -> Vec<u8> {
    let mut g = vec![0x00, 0x00, 0x65, 0x58];
    g.extend_from_slice(&ethernet_vlan());
    g.extend_from_slice(&udp4());
    ipv4_around(47, &g)
}

/// PPTP: enhanced GRE (key, sequence) with PPP around IPv4/UDP.
fn gre_pptp() -> Vec<u8> {
    let mut g = vec![0x30, 0x01, 0x88, 0x0b, 0, 36, 0, 7, 0, 0, 0, 1];
    g.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
    g.extend_from_slice(&udp4());
    ipv4_around(47, &g)
}

/// An outer IPv4/UDP packet with `payload`.
fn udp_around(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// VXLAN (VNI 42): Ethernet (VLAN) around IPv4/UDP.
fn vxlan() -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    v.extend_from_slice(&ethernet_vlan());
    v.extend_from_slice(&udp4());
    udp_around(50123, 4789, &v)
}

/// GTP-U with a PDU session container extension around IPv6/UDP.
fn gtp_u() -> Vec<u8> {
    let inner = ipv6_udp();
    let mut g = vec![0x34, 0xff, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0x85];
    g.extend_from_slice(&[1, 0x00, 0x09, 0x00]);
    let len = (g.len() - 8 + inner.len()) as u16;
    g[2..4].copy_from_slice(&len.to_be_bytes());
    g.extend_from_slice(&inner);
    udp_around(2152, 2152, &g)
}

/// Teredo with an origin indication (obfuscated port and address).
fn teredo() -> Vec<u8> {
    let mut t = vec![0x00, 0x00, !0x13, !0x88];
    t.extend(SRC4.iter().map(|b| !b));
    t.extend_from_slice(&ipv6_udp());
    udp_around(3544, 50000, &t)
}

// ---------------------------------------------------------------- helpers

fn head(dir: Direction, bytes: Vec<u8>) -> PacketHead {
    PacketHead {
        dir,
        ts_ns: 0,
        ip_len: bytes.len() as u32,
        bytes,
    }
}

fn flow_of(packets: Vec<PacketHead>) -> Flow {
    let v6 = packets
        .first()
        .is_some_and(|p| p.bytes.first().map(|b| b >> 4) == Some(6));
    let (src, dst) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::from(SRC6)),
            IpAddr::V6(Ipv6Addr::from(DST6)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::from(SRC4)),
            IpAddr::V4(Ipv4Addr::from(DST4)),
        )
    };
    let fwd = packets
        .iter()
        .filter(|p| p.dir == Direction::Forward)
        .count() as u64;
    let bwd = packets.len() as u64 - fwd;
    Flow {
        key: FlowKey {
            proto: 6,
            src,
            sport: 51000,
            dst,
            dport: 443,
        },
        packets: [fwd, bwd],
        bytes: [0, 0],
        first_ts_ns: 0,
        last_ts_ns: 0,
        head: packets,
        first_packet_index: 42,
    }
}

fn one(bytes: Vec<u8>) -> Flow {
    flow_of(vec![head(Direction::Forward, bytes)])
}

fn repr(packets: usize, b: usize, view: View) -> Representation {
    Representation::new(packets, b, view).unwrap()
}

/// The field map of a one-packet flow as text: `start..end name = value`.
fn render(bytes: &[u8], b: usize) -> String {
    let r = repr(1, b, View::All);
    let map = r.field_map(&one(bytes.to_vec()));
    let mut s = String::new();
    for span in &map[0].fields {
        s.push_str(&format!(
            "{}..{} {} = {}\n",
            span.start,
            span.start + span.len,
            span.field,
            span.value
        ));
    }
    s
}

/// Data-driven check: the rendered field map equals `expect` (indentation
/// and blank lines ignored).
#[track_caller]
fn check(bytes: &[u8], b: usize, expect: &str) {
    let got = render(bytes, b);
    let want: String = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, want, "\ngot:\n{got}");
}

/// Offsets whose field is an address, per the field ids.
fn address_offsets(r: &Representation, flow: &Flow) -> Vec<usize> {
    r.field_ids(flow)
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_address())
        .map(|(i, _)| i)
        .collect()
}

/// The invariants every flow must satisfy, for any view.
#[track_caller]
fn check_invariants(r: &Representation, flow: &Flow) {
    let b = r.bytes_per_packet();
    let enc = r.encode(flow);
    let ids = r.field_ids(flow);
    assert_eq!(enc.len(), r.input_len());
    // encode_into overwrites every byte of a dirty buffer.
    let mut dirty = vec![0xab; r.input_len()];
    r.encode_into(flow, &mut dirty);
    assert_eq!(dirty, enc, "encode_into left bytes of a previous flow");
    assert_eq!(ids.len(), r.input_len());
    let map = r.field_map(flow);
    assert_eq!(map.len(), flow.head.len().min(r.packets()));
    for (i, pf) in map.iter().enumerate() {
        // Spans cover 0..B exactly once, in order, and agree with the ids.
        let mut at = 0usize;
        for s in &pf.fields {
            assert_eq!(usize::from(s.start), at, "gap or overlap in packet {i}");
            assert!(s.len > 0);
            for o in at..at + usize::from(s.len) {
                assert_eq!(ids[i * b + o], s.field, "packet {i} byte {o}");
            }
            at += usize::from(s.len);
        }
        assert_eq!(at, b, "packet {i} not covered to B");
    }
    for (i, (&byte, &field)) in enc.iter().zip(&ids).enumerate() {
        let (p, o) = (i / b, i % b);
        let orig = flow.head.get(p).and_then(|h| h.bytes.get(o)).copied();
        match r.action(field) {
            Action::Zero => assert_eq!(byte, 0, "{field} at packet {p} byte {o} not zeroed"),
            Action::Keep => assert_eq!(Some(byte), orig, "{field} at packet {p} byte {o} changed"),
            Action::Randomise => {}
        }
    }
    let kf = r.key_features(flow);
    assert_eq!(kf.len(), r.key_feature_names().len());
}

/// Every cut of every packet, with several B, never panics and keeps the
/// invariants.
#[track_caller]
fn check_all_truncations(bytes: &[u8]) {
    let views = [
        View::All,
        View::Key,
        View::Custom {
            zero: vec![Field::Ipv4Ttl, Field::TcpOptions],
            randomise: vec![Field::TcpWindow, Field::Payload, Field::Ipv6HopLimit],
            seed: 1,
        },
    ];
    for view in views {
        for b in [1, 7, 20, 40, 64, 128, 1500] {
            let r = repr(2, b, view.clone());
            for cut in 0..=bytes.len() {
                let flow = one(bytes[..cut].to_vec());
                check_invariants(&r, &flow);
            }
        }
    }
}

fn all_packets() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("tcp_syn_ack", tcp_syn_ack()),
        ("tcp_http", tcp_http()),
        ("ipv6_udp", ipv6_udp()),
        ("icmp_echo", icmp_echo()),
        ("icmp_unreachable", icmp_unreachable()),
        ("ipv6_hop_by_hop", ipv6_hop_by_hop()),
        ("six_in_four", six_in_four()),
        ("ip_in_ip", ip_in_ip()),
        ("icmpv6_unreachable", icmpv6_unreachable()),
        ("neighbour_solicitation", neighbour_solicitation()),
        ("ipv6_segment_routing", ipv6_segment_routing()),
        ("gre_ipv4", gre_ipv4()),
        ("gre_ethernet", gre_ethernet()),
        ("gre_pptp", gre_pptp()),
        ("vxlan", vxlan()),
        ("gtp_u", gtp_u()),
        ("teredo", teredo()),
    ]
}

// ---------------------------------------------------------------- field map

#[test]
fn repr_field_map_ipv4_tcp_syn_ack_with_options() {
    check(
        &tcp_syn_ack(),
        64,
        "
        0..1 ipv4.version_ihl = version 4, header 20 bytes
        1..2 ipv4.dscp_ecn = DSCP 0, ECN 0
        2..4 ipv4.total_length = 60
        4..6 ipv4.identification = 0x1c46 (7238)
        6..8 ipv4.flags_fragment = 0x4000 (DF)
        8..9 ipv4.ttl = 64
        9..10 ipv4.protocol = 6 (TCP)
        10..12 ipv4.checksum = 0x26e9
        12..16 ipv4.src = (zeroed)
        16..20 ipv4.dst = (zeroed)
        20..22 tcp.sport = 443
        22..24 tcp.dport = 51000
        24..28 tcp.seq = 123456789
        28..32 tcp.ack = 1000
        32..33 tcp.data_offset = 10 (40 bytes)
        33..34 tcp.flags = SYN, ACK
        34..36 tcp.window = 64240
        36..38 tcp.checksum = 0xb3aa
        38..40 tcp.urgent = 0
        40..46 tcp.options = MSS 1460, SACK_PERM
        46..56 tcp.options.timestamp = TS val 123 ecr 0
        56..60 tcp.options = NOP, WS 7
        60..64 padding = (padding)
        ",
    );
}

#[test]
fn repr_field_map_ipv4_tcp_payload() {
    check(
        &tcp_http(),
        96,
        r#"
        0..1 ipv4.version_ihl = version 4, header 20 bytes
        1..2 ipv4.dscp_ecn = DSCP 0, ECN 0
        2..4 ipv4.total_length = 89
        4..6 ipv4.identification = 0x0007 (7)
        6..8 ipv4.flags_fragment = 0x0000
        8..9 ipv4.ttl = 128
        9..10 ipv4.protocol = 6 (TCP)
        10..12 ipv4.checksum = 0x430b
        12..16 ipv4.src = (zeroed)
        16..20 ipv4.dst = (zeroed)
        20..22 tcp.sport = 51000
        22..24 tcp.dport = 80
        24..28 tcp.seq = 1000
        28..32 tcp.ack = 1
        32..33 tcp.data_offset = 8 (32 bytes)
        33..34 tcp.flags = PSH, ACK
        34..36 tcp.window = 502
        36..38 tcp.checksum = 0x58db
        38..40 tcp.urgent = 0
        40..42 tcp.options = NOP, NOP
        42..52 tcp.options.timestamp = TS val 4000 ecr 123
        52..89 payload = 37 bytes: "GET / HTTP/1.1\r\nHost: ex"…
        89..96 padding = (padding)
        "#,
    );
}

#[test]
fn repr_field_map_ipv6_udp() {
    check(
        &ipv6_udp(),
        72,
        "
        0..4 ipv6.version_class_flow = version 6, class 0x00, flow label 0x00000
        4..6 ipv6.payload_length = 28
        6..7 ipv6.next_header = 17 (UDP)
        7..8 ipv6.hop_limit = 57
        8..24 ipv6.src = (zeroed)
        24..40 ipv6.dst = (zeroed)
        40..42 udp.sport = 5353
        42..44 udp.dport = 53
        44..46 udp.length = 28
        46..48 udp.checksum = 0xda6e
        48..68 payload = 20 bytes: ab ab ab ab ab ab ab ab …
        68..72 padding = (padding)
        ",
    );
}

#[test]
fn repr_field_map_icmp_echo() {
    check(
        &icmp_echo(),
        40,
        r#"
        0..1 ipv4.version_ihl = version 4, header 20 bytes
        1..2 ipv4.dscp_ecn = DSCP 0, ECN 0
        2..4 ipv4.total_length = 36
        4..6 ipv4.identification = 0x0000 (0)
        6..8 ipv4.flags_fragment = 0x4000 (DF)
        8..9 ipv4.ttl = 64
        9..10 ipv4.protocol = 1 (ICMP)
        10..12 ipv4.checksum = 0x434c
        12..16 ipv4.src = (zeroed)
        16..20 ipv4.dst = (zeroed)
        20..21 icmp.type = 8 (echo request)
        21..22 icmp.code = 0
        22..24 icmp.checksum = 0x542f
        24..28 icmp.rest = id 0x1234, seq 7
        28..36 payload = 8 bytes: "abcdefgh"
        36..40 padding = (padding)
        "#,
    );
}

#[test]
fn repr_field_map_icmp_error_quotes_ipv4_udp_under_the_same_names() {
    check(
        &icmp_unreachable(),
        64,
        "
        0..1 ipv4.version_ihl = version 4, header 20 bytes
        1..2 ipv4.dscp_ecn = DSCP 0, ECN 0
        2..4 ipv4.total_length = 56
        4..6 ipv4.identification = 0x0000 (0)
        6..8 ipv4.flags_fragment = 0x4000 (DF)
        8..9 ipv4.ttl = 250
        9..10 ipv4.protocol = 1 (ICMP)
        10..12 ipv4.checksum = 0x8937
        12..16 ipv4.src = (zeroed)
        16..20 ipv4.dst = (zeroed)
        20..21 icmp.type = 3 (destination unreachable)
        21..22 icmp.code = 3 (port unreachable)
        22..24 icmp.checksum = 0xf4af
        24..28 icmp.rest = unused
        28..29 ipv4.version_ihl = version 4, header 20 bytes
        29..30 ipv4.dscp_ecn = DSCP 0, ECN 0
        30..32 ipv4.total_length = 40
        32..34 ipv4.identification = 0x0000 (0)
        34..36 ipv4.flags_fragment = 0x4000 (DF)
        36..37 ipv4.ttl = 3
        37..38 ipv4.protocol = 17 (UDP)
        38..40 ipv4.checksum = 0x8038
        40..44 ipv4.src = (zeroed)
        44..48 ipv4.dst = (zeroed)
        48..50 udp.sport = 40000
        50..52 udp.dport = 33434
        52..54 udp.length = 20
        54..56 udp.checksum = 0xe95d
        56..64 padding = (padding)
        ",
    );
}

#[test]
fn repr_field_map_ipv6_hop_by_hop_extension() {
    check(
        &ipv6_hop_by_hop(),
        64,
        r#"
        0..4 ipv6.version_class_flow = version 6, class 0x00, flow label 0x12345
        4..6 ipv6.payload_length = 20
        6..7 ipv6.next_header = 0 (hop-by-hop options)
        7..8 ipv6.hop_limit = 1
        8..24 ipv6.src = (zeroed)
        24..40 ipv6.dst = (zeroed)
        40..48 ipv6.extension = hop-by-hop options header, next 58 (ICMPv6), 8 bytes
        48..49 icmpv6.type = 128 (echo request)
        49..50 icmpv6.code = 0
        50..52 icmpv6.checksum = 0x4569
        52..56 icmpv6.rest = id 0x0009, seq 1
        56..60 payload = 4 bytes: "ping"
        60..64 padding = (padding)
        "#,
    );
}

#[test]
fn repr_field_map_6in4_inner_header() {
    check(
        &six_in_four(),
        72,
        "
        0..1 ipv4.version_ihl = version 4, header 20 bytes
        1..2 ipv4.dscp_ecn = DSCP 0, ECN 0
        2..4 ipv4.total_length = 88
        4..6 ipv4.identification = 0x0000 (0)
        6..8 ipv4.flags_fragment = 0x4000 (DF)
        8..9 ipv4.ttl = 64
        9..10 ipv4.protocol = 41 (IPv6)
        10..12 ipv4.checksum = 0x42f0
        12..16 ipv4.src = (zeroed)
        16..20 ipv4.dst = (zeroed)
        20..24 ipv6.version_class_flow = version 6, class 0x00, flow label 0x00000
        24..26 ipv6.payload_length = 28
        26..27 ipv6.next_header = 17 (UDP)
        27..28 ipv6.hop_limit = 57
        28..44 ipv6.src = (zeroed)
        44..60 ipv6.dst = (zeroed)
        60..62 udp.sport = 5353
        62..64 udp.dport = 53
        64..66 udp.length = 28
        66..68 udp.checksum = 0xda6e
        68..72 payload = 20 bytes: ab ab ab ab ab ab ab ab …
        ",
    );
}

#[test]
fn repr_field_map_icmpv6_error_and_neighbour_discovery() {
    check(
        &icmpv6_unreachable(),
        96,
        "
        0..4 ipv6.version_class_flow = version 6, class 0x00, flow label 0x00000
        4..6 ipv6.payload_length = 76
        6..7 ipv6.next_header = 58 (ICMPv6)
        7..8 ipv6.hop_limit = 64
        8..24 ipv6.src = (zeroed)
        24..40 ipv6.dst = (zeroed)
        40..41 icmpv6.type = 1 (destination unreachable)
        41..42 icmpv6.code = 4 (port unreachable)
        42..44 icmpv6.checksum = 0x31d8
        44..48 icmpv6.rest = unused
        48..52 ipv6.version_class_flow = version 6, class 0x00, flow label 0x00000
        52..54 ipv6.payload_length = 28
        54..55 ipv6.next_header = 17 (UDP)
        55..56 ipv6.hop_limit = 57
        56..72 ipv6.src = (zeroed)
        72..88 ipv6.dst = (zeroed)
        88..90 udp.sport = 5353
        90..92 udp.dport = 53
        92..94 udp.length = 28
        94..96 udp.checksum = 0xda6e
        ",
    );
    check(
        &neighbour_solicitation(),
        72,
        "
        0..4 ipv6.version_class_flow = version 6, class 0x00, flow label 0x00000
        4..6 ipv6.payload_length = 32
        6..7 ipv6.next_header = 58 (ICMPv6)
        7..8 ipv6.hop_limit = 255
        8..24 ipv6.src = (zeroed)
        24..40 ipv6.dst = (zeroed)
        40..41 icmpv6.type = 135 (neighbour solicitation)
        41..42 icmpv6.code = 0
        42..44 icmpv6.checksum = 0x85db
        44..48 icmpv6.rest = unused
        48..64 ipv6.dst = (zeroed)
        64..72 payload = 8 bytes: 01 01 02 11 22 33 44 55
        ",
    );
}

#[test]
fn repr_field_map_segment_routing_addresses() {
    check(
        &ipv6_segment_routing(),
        96,
        "
        0..4 ipv6.version_class_flow = version 6, class 0x00, flow label 0x00000
        4..6 ipv6.payload_length = 52
        6..7 ipv6.next_header = 43 (routing)
        7..8 ipv6.hop_limit = 64
        8..24 ipv6.src = (zeroed)
        24..40 ipv6.dst = (zeroed)
        40..48 ipv6.extension = routing header, next 17 (UDP), type 4, 8 bytes
        48..80 ipv6.dst = (zeroed)
        80..82 udp.sport = 5000
        82..84 udp.dport = 5001
        84..86 udp.length = 12
        86..88 udp.checksum = 0x0000
        88..92 payload = 4 bytes: 01 02 03 04
        92..96 padding = (padding)
        ",
    );
}

#[test]
fn repr_field_map_tunnels() {
    let map = render(&vxlan(), 56);
    let want = "
        20..22 udp.sport = 50123
        22..24 udp.dport = 4789
        24..26 udp.length = 70
        26..28 udp.checksum = 0x36ac
        28..36 tunnel.header = VXLAN, VNI 42
        36..42 eth.dst = (zeroed)
        42..48 eth.src = (zeroed)
        48..52 eth.type = VLAN 100
        52..54 eth.type = 0x0800 (IPv4)
        54..55 ipv4.version_ihl = version 4, header 20 bytes
        55..56 ipv4.dscp_ecn = DSCP 0, ECN 0
    ";
    let want: String = want
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(map.ends_with(&want), "{map}");
    let map = render(&gre_ipv4(), 64);
    assert!(map.contains("9..10 ipv4.protocol = 47 (GRE)\n"), "{map}");
    assert!(
        map.contains(
            "20..28 tunnel.header = GRE, protocol 0x0800, 8 bytes\n28..29 ipv4.version_ihl"
        ),
        "{map}"
    );
    let map = render(&gre_pptp(), 64);
    assert!(
        map.contains(
            "20..36 tunnel.header = GRE, protocol 0x880b, 16 bytes\n36..37 ipv4.version_ihl"
        ),
        "{map}"
    );
    let map = render(&gtp_u(), 80);
    assert!(map.contains("28..44 tunnel.header = GTP-U, TEID 0xdeadbeef, 16 bytes\n44..48 ipv6.version_class_flow"), "{map}");
    let map = render(&teredo(), 80);
    assert!(map.contains("28..32 tunnel.header = Teredo, 4 bytes\n32..36 ipv4.src = (zeroed)\n36..40 ipv6.version_class_flow"), "{map}");
    // Not the tunnel: UDP on the port, other bytes.
    let map = render(&udp_around(4789, 999, &[0u8; 30]), 64);
    assert!(map.contains("28..58 payload"), "{map}");
}

#[test]
fn repr_field_map_cut_fields_and_short_rows() {
    // Captured up to the middle of the timestamp option: the IP length
    // says 60, 50 bytes were kept.
    let cut = &tcp_syn_ack()[..50];
    let map = render(cut, 64);
    assert!(
        map.contains("46..50 tcp.options.timestamp = TS (malformed or cut): 08 0a 00 00\n"),
        "{map}"
    );
    assert!(map.ends_with("50..64 padding = (padding)\n"), "{map}");
    let cut = &tcp_syn_ack()[..31];
    assert!(render(cut, 64).contains("28..31 tcp.ack = 00 00 03 (truncated)\n"));
    // B shorter than the headers: spans stop at B, values use the whole
    // captured field.
    let map = render(&tcp_syn_ack(), 30);
    assert!(
        map.ends_with("24..28 tcp.seq = 123456789\n28..30 tcp.ack = 1000\n"),
        "{map}"
    );
}

#[test]
fn repr_ethernet_trailer_is_padding_and_zeroed() {
    let mut p = tcp_syn_ack();
    p.extend_from_slice(&[0xee; 6]); // a 60-byte Ethernet minimum frame's trailer
    let map = render(&p, 80);
    assert!(map.ends_with("56..60 tcp.options = NOP, WS 7\n60..80 padding = (padding)\n"));
    let r = repr(1, 80, View::All);
    let enc = r.encode(&one(p));
    assert!(enc[60..].iter().all(|&b| b == 0));
}

// ---------------------------------------------------------------- encoding

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn repr_addresses_zeroed_at_every_depth() {
    // (packet, number of address bytes the field ids must find)
    let cases = [
        ("tcp_syn_ack", tcp_syn_ack(), 8),
        ("ipv6_udp", ipv6_udp(), 32),
        ("icmp_unreachable", icmp_unreachable(), 16),
        ("ip_in_ip", ip_in_ip(), 16),
        ("six_in_four", six_in_four(), 40),
        ("icmpv6_unreachable", icmpv6_unreachable(), 64),
        ("neighbour_solicitation", neighbour_solicitation(), 48),
        ("ipv6_segment_routing", ipv6_segment_routing(), 64),
    ];
    let tunnels = [
        ("gre_ipv4", gre_ipv4(), 16),
        ("gre_ethernet", gre_ethernet(), 28),
        ("gre_pptp", gre_pptp(), 16),
        ("vxlan", vxlan(), 28),
        ("gtp_u", gtp_u(), 40),
        ("teredo", teredo(), 44),
    ];
    for view in [View::All, View::Key, View::zero_site_dependent()] {
        let r = repr(1, 256, view);
        for (name, p, n) in &tunnels {
            let flow = one(p.clone());
            assert_eq!(address_offsets(&r, &flow).len(), *n, "{name}");
            let enc = r.encode(&flow);
            let obfuscated: Vec<u8> = SRC4.iter().map(|b| !b).collect();
            for a in [
                &SRC4[..],
                &DST4[..],
                &SRC6[..],
                &DST6[..],
                &MAC_A[..],
                &MAC_B[..],
                &obfuscated,
            ] {
                assert!(
                    !contains(&enc, a),
                    "{name}: address {a:?} left in the input"
                );
            }
            check_invariants(&r, &flow);
        }
        for (name, p, n) in &cases {
            let flow = one(p.clone());
            assert!(
                contains(p, &SRC4) || contains(p, &SRC6),
                "{name}: the test packet should carry addresses"
            );
            assert_eq!(address_offsets(&r, &flow).len(), *n, "{name}");
            let enc = r.encode(&flow);
            for a in [&SRC4[..], &DST4[..], &SRC6[..], &DST6[..]] {
                assert!(
                    !contains(&enc, a),
                    "{name}: address {a:?} left in the input"
                );
            }
            for o in address_offsets(&r, &flow) {
                assert_eq!(enc[o], 0, "{name}: byte {o}");
            }
            check_invariants(&r, &flow);
        }
    }
    // The embedded header's addresses, by offset (ICMP error: 28 + 12..20).
    let enc = repr(1, 64, View::All).encode(&one(icmp_unreachable()));
    assert_eq!(&enc[40..48], &[0; 8]);
    assert_eq!(&enc[48..52], &[0x9c, 0x40, 0x82, 0x9a], "inner ports kept");
}

#[test]
fn repr_all_view_keeps_everything_else() {
    let p = tcp_http();
    let enc = repr(1, 128, View::All).encode(&one(p.clone()));
    let mut want = p.clone();
    want.resize(128, 0);
    want[12..20].fill(0);
    assert_eq!(enc, want);
}

#[test]
fn repr_key_view_keeps_only_ports_lengths_and_protocol() {
    // (packet, offsets kept)
    let cases: [(Vec<u8>, Vec<usize>); 4] = [
        (tcp_syn_ack(), vec![2, 3, 9, 20, 21, 22, 23]),
        (ipv6_udp(), vec![4, 5, 6, 40, 41, 42, 43, 44, 45]),
        (icmp_echo(), vec![2, 3, 9]),
        // ICMP error: the quoted header's length, protocol, ports, length.
        (
            icmp_unreachable(),
            vec![2, 3, 9, 30, 31, 37, 48, 49, 50, 51, 52, 53],
        ),
    ];
    let r = repr(2, 64, View::Key);
    for (p, kept) in cases {
        let enc = r.encode(&one(p.clone()));
        for (o, &b) in enc[..64].iter().enumerate() {
            if kept.contains(&o) {
                assert_eq!(b, p[o], "offset {o} should be kept");
            } else {
                assert_eq!(b, 0, "offset {o} should be zero");
            }
        }
        assert!(enc[64..].iter().all(|&b| b == 0), "missing packet row");
        check_invariants(&r, &one(p));
    }
}

#[test]
fn repr_zero_view_zeroes_only_that_field() {
    let view = View::Custom {
        zero: vec![Field::TcpTimestamp],
        randomise: vec![],
        seed: 0,
    };
    let p = tcp_syn_ack();
    let all = repr(1, 64, View::All).encode(&one(p.clone()));
    let enc = repr(1, 64, view).encode(&one(p));
    for o in 0..64 {
        if (46..56).contains(&o) {
            assert_eq!(enc[o], 0);
        } else {
            assert_eq!(enc[o], all[o], "offset {o}");
        }
    }
}

#[test]
fn repr_randomise_changes_only_that_field_deterministically() {
    let view = |seed| View::Custom {
        zero: vec![],
        randomise: vec![Field::Ipv4Ttl, Field::TcpWindow, Field::Payload],
        seed,
    };
    let flow = flow_of(vec![
        head(Direction::Forward, tcp_syn_ack()),
        head(Direction::Backward, tcp_http()),
        head(Direction::Forward, tcp_http()),
    ]);
    let r = repr(4, 128, view(7));
    let all = repr(4, 128, View::All).encode(&flow);
    let enc = r.encode(&flow);
    let ids = r.field_ids(&flow);
    let mut changed = 0;
    for (i, (&a, &e)) in all.iter().zip(&enc).enumerate() {
        let randomised = matches!(ids[i], Field::Ipv4Ttl | Field::TcpWindow | Field::Payload);
        if !randomised {
            assert_eq!(a, e, "byte {i} ({}) changed", ids[i]);
        } else if a != e {
            changed += 1;
        }
    }
    // 3 TTL + 6 window + 2 * 37 payload bytes: nearly all change.
    assert!(changed >= 70, "only {changed} bytes changed");
    // Deterministic: same seed and flow, same bytes; other seed or other
    // flow position, other bytes.
    assert_eq!(r.encode(&flow), enc);
    assert_ne!(repr(4, 128, view(8)).encode(&flow), enc);
    let mut moved = flow.clone();
    moved.first_packet_index += 1;
    assert_ne!(r.encode(&moved), enc);
    // Noise in the same field differs between packets.
    assert_ne!(enc[128 + 52..128 + 89], enc[256 + 52..256 + 89]);
    check_invariants(&r, &flow);
}

#[test]
fn repr_missing_packets_and_long_flows() {
    let flow = flow_of(vec![
        head(Direction::Forward, tcp_syn_ack()),
        head(Direction::Backward, tcp_http()),
    ]);
    let r = repr(4, 32, View::All);
    let enc = r.encode(&flow);
    assert_eq!(enc.len(), 4 * 32);
    assert!(enc[64..].iter().all(|&b| b == 0));
    assert!(r.field_ids(&flow)[64..]
        .iter()
        .all(|&f| f == Field::Padding));
    let map = r.field_map(&flow);
    assert_eq!(map.len(), 2);
    assert_eq!(map[1].dir, Direction::Backward);
    assert_eq!(map[1].ip_len, 89);
    // More packets kept than P: only the first P are used.
    let r1 = repr(1, 32, View::All);
    assert_eq!(r1.encode(&flow), enc[..32]);
    assert_eq!(r1.field_map(&flow).len(), 1);
    check_invariants(&r, &flow);
    check_invariants(&r1, &flow);
}

#[test]
fn repr_encode_batch_is_n_p_b() {
    let f1 = one(tcp_syn_ack());
    let f2 = flow_of(vec![
        head(Direction::Forward, ipv6_udp()),
        head(Direction::Backward, ipv6_udp()),
    ]);
    let r = repr(3, 50, View::Key);
    let batch = r.encode_batch(&[&f1, &f2, &f1]);
    assert_eq!(batch.len(), 3 * 3 * 50);
    let mut want = r.encode(&f1);
    want.extend(r.encode(&f2));
    want.extend(r.encode(&f1));
    assert_eq!(batch, want);
    assert!(r.encode_batch(&[]).is_empty());
}

// ---------------------------------------------------------------- hostile input

#[test]
fn repr_truncated_packets_never_panic() {
    for (name, p) in all_packets() {
        let result = std::panic::catch_unwind(|| check_all_truncations(&p));
        assert!(result.is_ok(), "{name}: a truncation panicked");
    }
}

/// Deterministic pseudo-random bytes for the fuzz tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn repr_lying_lengths_are_clipped() {
    let set = |mut p: Vec<u8>, at: usize, v: u8| {
        p[at] = v;
        p
    };
    let cases = vec![
        ("ihl 3", set(tcp_syn_ack(), 0, 0x43)),
        ("ihl 15", set(tcp_syn_ack(), 0, 0x4f)),
        ("ihl 0", set(tcp_syn_ack(), 0, 0x40)),
        ("total length 0 (TSO)", set(set(tcp_http(), 2, 0), 3, 0)),
        ("total length 10", set(set(tcp_http(), 2, 0), 3, 10)),
        ("total length 65535", set(set(tcp_http(), 2, 0xff), 3, 0xff)),
        ("data offset 2", set(tcp_http(), 32, 0x20)),
        ("data offset 15", set(tcp_http(), 32, 0xf0)),
        ("data offset 0", set(tcp_http(), 32, 0x00)),
        ("option length 0", set(tcp_syn_ack(), 41, 0)),
        ("option length 255", set(tcp_syn_ack(), 41, 255)),
        ("ts length 1", set(tcp_syn_ack(), 47, 1)),
        ("ts length 40", set(tcp_syn_ack(), 47, 40)),
        ("hop-by-hop length 255", set(ipv6_hop_by_hop(), 41, 255)),
        ("ipv6 payload length 0", set(set(ipv6_udp(), 4, 0), 5, 0)),
        ("ipv6 payload length 1", set(set(ipv6_udp(), 4, 0), 5, 1)),
        ("srh last entry 255", set(ipv6_segment_routing(), 44, 255)),
        (
            "routing type 0 long",
            set(set(ipv6_segment_routing(), 42, 0), 41, 200),
        ),
        ("version 5", set(tcp_syn_ack(), 0, 0x55)),
        ("inner version 7", set(icmp_unreachable(), 28, 0x75)),
        ("inner ihl 1", set(icmp_unreachable(), 28, 0x41)),
        ("fragment offset", set(tcp_http(), 7, 0x10)),
    ];
    for (name, p) in cases {
        let result = std::panic::catch_unwind(|| check_all_truncations(&p));
        assert!(result.is_ok(), "{name}: a truncation panicked");
    }
    // A header length below 20: the fixed fields are still found (so the
    // addresses are zeroed), the rest is payload.
    let map = render(&set(tcp_syn_ack(), 0, 0x43), 24);
    assert!(map.contains("12..16 ipv4.src = (zeroed)\n16..20 ipv4.dst = (zeroed)\n20..24 payload"));
    // A data offset below 20: the fixed TCP header, then payload.
    let map = render(&set(tcp_http(), 32, 0x20), 48);
    assert!(
        map.contains("38..40 tcp.urgent = 0\n40..48 payload"),
        "{map}"
    );
}

#[test]
fn repr_deep_nesting_stops_at_max_depth() {
    let mut p = tcp_http();
    for _ in 0..12 {
        p = ipv4_around(4, &p);
    }
    let r = repr(1, 1024, View::All);
    let flow = one(p.clone());
    check_invariants(&r, &flow);
    let ids = r.field_ids(&flow);
    // MAX_DEPTH headers are followed (outer + MAX_DEPTH - 1 inner).
    let headers = ids.iter().filter(|&&f| f == Field::Ipv4VersionIhl).count();
    assert_eq!(headers, usize::from(MAX_DEPTH));
    assert_eq!(ids[20 * usize::from(MAX_DEPTH)], Field::Payload);
}

#[test]
fn repr_fuzzed_headers_keep_invariants() {
    let mut rng = Rng(0x5eed);
    let views = [
        View::All,
        View::Key,
        View::Custom {
            zero: vec![Field::Ipv4Ttl],
            randomise: vec![Field::TcpSeq, Field::Payload],
            seed: 3,
        },
    ];
    let base = all_packets();
    for round in 0..3000 {
        let (_, p) = &base[round % base.len()];
        let mut p = p.clone();
        // Corrupt a few header bytes (most headers live in the first 100).
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(p.len().min(100));
            p[at] = rng.next() as u8;
        }
        let cut = rng.below(p.len() + 1);
        p.truncate(cut.max(p.len() / 2));
        let r = repr(
            2,
            [16, 64, 128, 200][rng.below(4)],
            views[round % 3].clone(),
        );
        check_invariants(&r, &one(p));
    }
    // Pure noise behind a plausible first byte.
    for round in 0..2000 {
        let len = rng.below(200);
        let mut p: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(b) = p.first_mut() {
            *b = [0x45, 0x4f, 0x60, 0x41][round % 4];
        }
        check_invariants(&repr(1, 128, View::All), &one(p));
    }
}

// ---------------------------------------------------------------- spec, serde

#[test]
fn repr_spec_json_defaults_and_round_trip() {
    let r = Representation::default();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"version":1,"packets":8,"bytes_per_packet":128,"view":{"kind":"all"}}"#
    );
    assert_eq!(Representation::from_json(r#"{"version":1}"#).unwrap(), r);
    assert_eq!(r.shape(), [8, 128]);
    assert_eq!(r.input_len(), 1024);
    let cfg = r.flow_config();
    assert_eq!((cfg.keep_packets, cfg.keep_bytes), (8, 128));
    assert_eq!(cfg.idle_timeout_ns, FlowConfig::default().idle_timeout_ns);

    let custom = repr(
        4,
        64,
        View::Custom {
            zero: vec![Field::Ipv4Ttl, Field::TcpTimestamp],
            randomise: vec![Field::TcpWindow],
            seed: 99,
        },
    );
    let json = serde_json::to_string(&custom).unwrap();
    assert_eq!(
        json,
        r#"{"version":1,"packets":4,"bytes_per_packet":64,"view":{"kind":"custom","zero":["ipv4.ttl","tcp.options.timestamp"],"randomise":["tcp.window"],"seed":99}}"#
    );
    assert_eq!(
        serde_json::from_str::<Representation>(&json).unwrap(),
        custom
    );
    assert_eq!(Representation::from_json(&json).unwrap(), custom);
    let key = Representation::from_json(r#"{"version":1,"view":{"kind":"key"}}"#).unwrap();
    assert_eq!(key.view(), &View::Key);
    let bare = r#"{"version":1,"view":{"kind":"custom","zero":["ipv4.ttl"]}}"#;
    assert_eq!(
        Representation::from_json(bare).unwrap().view(),
        &View::Custom {
            zero: vec![Field::Ipv4Ttl],
            randomise: vec![],
            seed: 0
        }
    );
}

#[test]
fn repr_spec_errors_are_typed() {
    let err = |json: &str| Representation::from_json(json).unwrap_err();
    assert_eq!(
        err(r#"{"version":2,"packets":8,"something_new":true}"#),
        ReprError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert_eq!(
        Representation::check_version(0),
        Err(ReprError::UnsupportedVersion {
            found: 0,
            supported: 1
        })
    );
    assert_eq!(
        err(r#"{"version":1,"view":{"kind":"custom","zero":["ip.ttl"]}}"#),
        ReprError::UnknownField {
            name: "ip.ttl".into()
        }
    );
    assert_eq!(
        err(r#"{"version":1,"view":{"kind":"custom","randomise":["ipv6.src"]}}"#),
        ReprError::CannotRandomise {
            field: Field::Ipv6Src
        }
    );
    assert_eq!(
        err(r#"{"version":1,"view":{"kind":"custom","zero":["tcp.seq"],"randomise":["tcp.seq"]}}"#),
        ReprError::ConflictingActions {
            field: Field::TcpSeq
        }
    );
    assert!(matches!(
        err(r#"{"version":1,"packets":0}"#),
        ReprError::OutOfRange {
            what: "packets",
            found: 0,
            ..
        }
    ));
    assert!(matches!(
        err(r#"{"version":1,"bytes_per_packet":70000}"#),
        ReprError::OutOfRange {
            what: "bytes_per_packet",
            ..
        }
    ));
    for bad in [
        r#"{"packets":8}"#,
        r#"{"version":1,"bytes_per_packets":8}"#,
        r#"{"version":1,"view":{"kind":"some"}}"#,
        r#"{"version":1,"view":{"kind":"custom","zeros":[]}}"#,
        r#"not json"#,
    ] {
        assert!(matches!(err(bad), ReprError::Json { .. }), "{bad}");
    }
    // Through plain serde (inside a manifest) the same errors, as messages.
    let e = serde_json::from_str::<Representation>(r#"{"version":3}"#).unwrap_err();
    assert!(e.to_string().contains("version 3 is not supported"), "{e}");
    let e = serde_json::from_str::<View>(r#"{"kind":"custom","zero":["nope"]}"#).unwrap_err();
    assert!(e.to_string().contains("unknown header field `nope`"), "{e}");
    assert_eq!(
        Representation::new(
            8,
            128,
            View::Custom {
                zero: vec![],
                randomise: vec![Field::Padding],
                seed: 0
            }
        ),
        Err(ReprError::CannotRandomise {
            field: Field::Padding
        })
    );
}

#[test]
fn repr_field_names_are_stable_and_unique() {
    let required = [
        "ipv4.version_ihl",
        "ipv4.dscp_ecn",
        "ipv4.total_length",
        "ipv4.identification",
        "ipv4.flags_fragment",
        "ipv4.ttl",
        "ipv4.protocol",
        "ipv4.checksum",
        "ipv4.src",
        "ipv4.dst",
        "ipv4.options",
        "ipv6.version_class_flow",
        "ipv6.payload_length",
        "ipv6.next_header",
        "ipv6.hop_limit",
        "ipv6.src",
        "ipv6.dst",
        "ipv6.extension",
        "tcp.sport",
        "tcp.dport",
        "tcp.seq",
        "tcp.ack",
        "tcp.data_offset",
        "tcp.flags",
        "tcp.window",
        "tcp.checksum",
        "tcp.urgent",
        "tcp.options",
        "tcp.options.timestamp",
        "udp.sport",
        "udp.dport",
        "udp.length",
        "udp.checksum",
        "icmp.type",
        "icmp.code",
        "icmp.checksum",
        "icmp.rest",
        "icmpv6.type",
        "icmpv6.code",
        "icmpv6.checksum",
        "icmpv6.rest",
        "payload",
        "padding",
    ];
    // Beyond the issue's list: tunnels and Ethernet inside them.
    let extra = ["tunnel.header", "eth.dst", "eth.src", "eth.type"];
    assert_eq!(Field::ALL.len(), required.len() + extra.len());
    for name in required.into_iter().chain(extra) {
        let f = Field::from_name(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(f.name(), name);
        assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<Field>(&format!("\"{name}\"")).unwrap(),
            f
        );
        assert_eq!(name.parse::<Field>(), Ok(f));
    }
    for (i, f) in Field::ALL.iter().enumerate() {
        assert_eq!(f.index(), i, "Field::ALL must follow the enum order");
    }
    assert_eq!(Field::from_name("ip.ttl"), None);
}

#[test]
fn repr_field_groups() {
    use FieldGroup::*;
    let site: Vec<FieldGroup> = FieldGroup::ALL
        .iter()
        .copied()
        .filter(|g| g.is_site_dependent())
        .collect();
    assert_eq!(
        site,
        [
            Ttl,
            IpId,
            IpChecksum,
            TcpSeqAck,
            TcpWindow,
            TcpOptions,
            TcpFlags,
            TransportChecksum,
            TrafficClass
        ]
    );
    for g in FieldGroup::ALL {
        assert!(g.fields().next().is_some(), "{g} has no field");
        assert_eq!(
            serde_json::to_string(g).unwrap(),
            format!("\"{}\"", g.name())
        );
    }
    assert_eq!(Field::Ipv6HopLimit.group(), Ttl);
    assert_eq!(Field::TcpTimestamp.group(), TcpOptions);
    assert_eq!(Field::UdpChecksum.group(), TransportChecksum);
    assert_eq!(Field::Ipv4DscpEcn.group(), TrafficClass);
    assert_eq!(Field::UdpLength.group(), PacketSizes);
    assert_eq!(Field::Ipv6NextHeader.group(), Protocol);
    let key: Vec<Field> = Field::ALL
        .iter()
        .copied()
        .filter(|f| matches!(f.group(), Ports | PacketSizes | Protocol))
        .collect();
    let mut want = KEY_FIELDS.to_vec();
    want.sort();
    assert_eq!(
        key, want,
        "the key view is the ports, sizes and protocol groups"
    );
    // The site-dependent view hides exactly the site-dependent groups.
    let v = View::zero_site_dependent();
    for &f in Field::ALL {
        assert_eq!(
            v.hides(f),
            f.group().is_site_dependent() || f.is_always_zero(),
            "{f}"
        );
    }
}

// ---------------------------------------------------------------- key features

#[test]
fn repr_key_features() {
    let flow = flow_of(vec![
        head(Direction::Forward, tcp_syn_ack()),
        head(Direction::Backward, tcp_syn_ack()),
        head(Direction::Forward, tcp_http()),
    ]);
    let r = repr(4, 64, View::All);
    assert_eq!(
        r.key_feature_names(),
        ["protocol", "sport", "dport", "packets", "len_0", "len_1", "len_2", "len_3"]
    );
    let all = r.key_features(&flow);
    assert_eq!(all, [6.0, 51000.0, 443.0, 3.0, 60.0, -60.0, 89.0, 0.0]);
    assert_eq!(repr(4, 64, View::Key).key_features(&flow), all);
    let mut long = flow.clone();
    long.packets = [700, 300];
    assert_eq!(
        repr(2, 64, View::All).key_features(&long),
        [6.0, 51000.0, 443.0, 1000.0, 60.0, -60.0]
    );

    let hide = |fields: Vec<Field>| {
        repr(
            4,
            64,
            View::Custom {
                zero: fields,
                randomise: vec![],
                seed: 0,
            },
        )
        .key_features(&flow)
    };
    assert_eq!(
        hide(vec![Field::TcpSport]),
        [6.0, 0.0, 443.0, 3.0, 60.0, -60.0, 89.0, 0.0]
    );
    assert_eq!(
        hide(vec![Field::TcpDport]),
        [6.0, 51000.0, 0.0, 3.0, 60.0, -60.0, 89.0, 0.0]
    );
    assert_eq!(
        hide(vec![Field::UdpSport, Field::Ipv6PayloadLength]),
        all,
        "other protocol's fields"
    );
    assert_eq!(
        hide(vec![Field::Ipv4TotalLength]),
        [6.0, 51000.0, 443.0, 3.0, 1.0, -1.0, 1.0, 0.0]
    );
    assert_eq!(
        hide(vec![Field::Ipv4Protocol]),
        [0.0, 51000.0, 443.0, 3.0, 60.0, -60.0, 89.0, 0.0]
    );
    let noisy = View::Custom {
        zero: vec![],
        randomise: vec![Field::TcpSport],
        seed: 1,
    };
    assert_eq!(
        repr(4, 64, noisy).key_features(&flow)[1],
        0.0,
        "randomised hides too"
    );

    // IPv6/UDP: the IPv6 and UDP fields decide.
    let mut v6 = flow_of(vec![head(Direction::Forward, ipv6_udp())]);
    v6.key.proto = 17;
    v6.key.sport = 5353;
    v6.key.dport = 53;
    let r6 = |zero| {
        repr(
            2,
            64,
            View::Custom {
                zero,
                randomise: vec![],
                seed: 0,
            },
        )
        .key_features(&v6)
    };
    assert_eq!(r6(vec![]), [17.0, 5353.0, 53.0, 1.0, 68.0, 0.0]);
    assert_eq!(
        r6(vec![Field::UdpDport, Field::Ipv6PayloadLength]),
        [17.0, 5353.0, 0.0, 1.0, 1.0, 0.0]
    );
    assert_eq!(
        r6(vec![Field::Ipv6NextHeader]),
        [0.0, 5353.0, 53.0, 1.0, 68.0, 0.0]
    );
}
