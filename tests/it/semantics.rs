//! What a flow is: data-driven checks of `FlowTable` through the whole
//! reader, on packets built with etherparse and on real packets.
//!
//! Each case is a list of packets and the flows expected, one line each (see
//! `util::flow_line`): `proto src:sport > dst:dport fwd P/B bwd P/B t first..last`
//! where fwd counts the packets sent by the flow's first sender.

use etherparse::PacketBuilder;
use flowlens_core::{FlowConfig, FlowKey};

use super::util::{
    analyze_with, assert_consistent, default_cfg, fixture, flow_line, read_packets, write_pcap,
    OwnedPacket,
};

type Host = ([u8; 4], u16);
const A: Host = ([10, 0, 0, 1], 40000);
const B: Host = ([10, 0, 0, 2], 80);
const C: Host = ([192, 168, 1, 7], 5353);
const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

fn frame(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::new();
    build(&mut v);
    v
}

/// A TCP segment at `t` ns after T0; `flags` from "SAFRP" (SYN, ACK, FIN, RST, PSH).
fn tcp(t: i64, from: Host, to: Host, flags: &str, payload: usize) -> OwnedPacket {
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(from.0, to.0, 64)
        .tcp(from.1, to.1, 1000, 65535);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(1),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            other => panic!("flag {other}"),
        };
    }
    let data = frame(|v| b.write(v, &vec![0x61; payload]).expect("tcp packet"));
    at(t, data)
}

fn udp(t: i64, from: Host, to: Host, payload: usize) -> OwnedPacket {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(from.0, to.0, 64)
        .udp(from.1, to.1);
    at(
        t,
        frame(|v| b.write(v, &vec![0x62; payload]).expect("udp packet")),
    )
}

fn udp6(t: i64, from: Host, to: Host, payload: usize) -> OwnedPacket {
    let v6 = |h: Host| {
        let mut a = [0u8; 16];
        a[..2].copy_from_slice(&[0x20, 0x01]);
        a[12..].copy_from_slice(&h.0);
        a
    };
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(v6(from), v6(to), 64)
        .udp(from.1, to.1);
    at(
        t,
        frame(|v| b.write(v, &vec![0x63; payload]).expect("udp6 packet")),
    )
}

fn ping(t: i64, from: Host, to: Host) -> OwnedPacket {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(from.0, to.0, 64)
        .icmpv4_echo_request(7, 1);
    at(t, frame(|v| b.write(v, &[0u8; 8]).expect("icmp packet")))
}

fn at(t: i64, data: Vec<u8>) -> OwnedPacket {
    OwnedPacket {
        link_type: 1,
        ts_ns: T0 + t,
        orig_len: data.len() as u32,
        data,
        interface: 0,
    }
}

fn flows(packets: &[OwnedPacket], cfg: FlowConfig) -> Vec<String> {
    let a = analyze_with(&write_pcap(1, packets, false, true), cfg);
    assert_eq!(a.error, None);
    assert_consistent("built", &a);
    a.flows.iter().map(flow_line).collect()
}

#[track_caller]
fn check(packets: &[OwnedPacket], expect: &[&str]) {
    let got = flows(packets, default_cfg());
    let want: Vec<String> = expect.iter().map(|l| l.to_string()).collect();
    assert_eq!(got, want);
}

// Frame sizes: Ethernet 14 + IPv4 20 + TCP 20 = 54 (+ payload); UDP: 42 + payload.

#[test]
fn direction_is_relative_to_the_first_sender() {
    // The capture starts mid-connection with the server talking.
    check(
        &[
            tcp(0, B, A, "AP", 100),
            tcp(S, A, B, "A", 0),
            tcp(2 * S, B, A, "AP", 10),
        ],
        &["tcp 10.0.0.2:80 > 10.0.0.1:40000 fwd 2/218 bwd 1/54 t 1700000000.000000000..1700000002.000000000"],
    );
    check(
        &[udp(0, C, A, 0), udp(1, A, C, 0)],
        &["udp 192.168.1.7:5353 > 10.0.0.1:40000 fwd 1/42 bwd 1/42 t 1700000000.000000000..1700000000.000000001"],
    );
}

#[test]
fn idle_timeout_splits_a_flow() {
    let timeout = 120 * S;
    // A gap of exactly the timeout keeps the flow; one nanosecond more ends it.
    check(
        &[
            udp(0, A, C, 10),
            udp(S, C, A, 20),
            udp(S + timeout, A, C, 10),
            udp(2 * S + 2 * timeout + 1, C, A, 20),
        ],
        &[
            "udp 10.0.0.1:40000 > 192.168.1.7:5353 fwd 2/104 bwd 1/62 t 1700000000.000000000..1700000121.000000000",
            "udp 192.168.1.7:5353 > 10.0.0.1:40000 fwd 1/62 bwd 0/0 t 1700000242.000000001..1700000242.000000001",
        ],
    );
    // The same for TCP, and with another timeout.
    let cfg = FlowConfig {
        idle_timeout_ns: 5 * S as u64,
        ..default_cfg()
    };
    let got = flows(
        &[
            tcp(0, A, B, "S", 0),
            tcp(S, B, A, "SA", 0),
            tcp(7 * S, A, B, "A", 0),
        ],
        cfg,
    );
    assert_eq!(
        got,
        [
            "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 1/54 bwd 1/54 t 1700000000.000000000..1700000001.000000000",
            "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 1/54 bwd 0/0 t 1700000007.000000000..1700000007.000000000",
        ]
    );
}

#[test]
fn fin_both_ways_ends_a_tcp_flow_and_a_new_syn_starts_one() {
    check(
        &[
            tcp(0, A, B, "S", 0),
            tcp(1, B, A, "SA", 0),
            tcp(2, A, B, "A", 0),
            tcp(3, A, B, "AP", 100),
            tcp(4, B, A, "AF", 0),
            tcp(5, A, B, "AF", 0),
            // The last ACK and a retransmitted FIN stay with the closed flow.
            tcp(6, B, A, "A", 0),
            tcp(7, A, B, "AF", 0),
            // A SYN/ACK does not open a connection: it stays too.
            tcp(8, B, A, "SA", 0),
            // The same ports again: a new connection.
            tcp(9, A, B, "S", 0),
            tcp(10, B, A, "SA", 0),
        ],
        &[
            "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 5/370 bwd 4/216 t 1700000000.000000000..1700000000.000000008",
            "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 1/54 bwd 1/54 t 1700000000.000000009..1700000000.000000010",
        ],
    );
}

#[test]
fn fin_one_way_does_not_end_a_flow() {
    check(
        &[
            tcp(0, A, B, "S", 0),
            tcp(1, B, A, "SA", 0),
            tcp(2, A, B, "AF", 0),
            tcp(3, B, A, "AP", 10),
            tcp(4, A, B, "S", 0),
        ],
        &["tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 3/162 bwd 2/118 t 1700000000.000000000..1700000000.000000004"],
    );
}

#[test]
fn rst_ends_a_tcp_flow() {
    for rst_from_server in [false, true] {
        let (x, y) = if rst_from_server { (B, A) } else { (A, B) };
        check(
            &[
                tcp(0, A, B, "S", 0),
                tcp(1, B, A, "SA", 0),
                tcp(2, x, y, "R", 0),
                tcp(3, A, B, "AP", 5), // a straggler: stays
                tcp(4, A, B, "S", 0),
                tcp(5, B, A, "RA", 0), // refused: ends the second flow
                tcp(6, A, B, "S", 0),
            ],
            &[
                &format!(
                    "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd {} bwd {} t 1700000000.000000000..1700000000.000000003",
                    if rst_from_server { "2/113" } else { "3/167" },
                    if rst_from_server { "2/108" } else { "1/54" },
                ),
                "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 1/54 bwd 1/54 t 1700000000.000000004..1700000000.000000005",
                "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 1/54 bwd 0/0 t 1700000000.000000006..1700000000.000000006",
            ],
        );
    }
}

#[test]
fn flows_come_out_in_order_of_their_first_packet() {
    check(
        &[
            udp(0, C, A, 1),
            tcp(1, A, B, "S", 0),
            udp6(2, A, C, 1),
            udp(3, A, C, 2),
            ping(4, A, B),
            tcp(5, B, A, "R", 0),
            tcp(6, A, B, "S", 0),
            udp(7, C, A, 3),
        ],
        &[
            "udp 192.168.1.7:5353 > 10.0.0.1:40000 fwd 2/88 bwd 1/44 t 1700000000.000000000..1700000000.000000007",
            "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 1/54 bwd 1/54 t 1700000000.000000001..1700000000.000000005",
            "udp 2001::a00:1:40000 > 2001::c0a8:107:5353 fwd 1/63 bwd 0/0 t 1700000000.000000002..1700000000.000000002",
            "icmp 10.0.0.1:0 > 10.0.0.2:0 fwd 1/50 bwd 0/0 t 1700000000.000000004..1700000000.000000004",
            "tcp 10.0.0.1:40000 > 10.0.0.2:80 fwd 1/54 bwd 0/0 t 1700000000.000000006..1700000000.000000006",
        ],
    );
}

/// Byte counts are frame lengths on the wire, also when the snap length cut
/// the captured bytes; the kept head holds only what was captured.
#[test]
fn bytes_count_the_wire_length() {
    let mut cut = tcp(0, A, B, "AP", 1400);
    cut.data.truncate(68);
    let full = tcp(1, B, A, "A", 0);
    let a = analyze_with(&write_pcap(1, &[cut, full], false, false), default_cfg());
    assert_eq!(a.flows.len(), 1);
    let f = &a.flows[0];
    assert_eq!((f.packets, f.bytes), ([1, 1], [1454, 54]));
    assert_eq!(f.head[0].ip_len, 1440);
    assert_eq!(f.head[0].bytes.len(), 54);
    assert_eq!(f.head[1].ip_len, 40);
}

#[test]
fn duration_is_last_minus_first_and_never_negative() {
    let a = analyze_with(
        &write_pcap(
            1,
            &[
                udp(5 * S, A, C, 0),
                udp(2 * S, C, A, 0),
                udp(7 * S, A, C, 0),
                udp(S, C, A, 0),
            ],
            false,
            false,
        ),
        default_cfg(),
    );
    let f = &a.flows[0];
    assert_eq!(a.flows.len(), 1);
    assert_eq!(f.first_ts_ns, T0 + 5 * S);
    assert_eq!(f.last_ts_ns, T0 + 7 * S);
    assert_eq!(f.duration_ns(), 2 * S as u64);
    let one = analyze_with(
        &write_pcap(1, &[ping(S, A, B)], false, false),
        default_cfg(),
    );
    assert_eq!(one.flows[0].duration_ns(), 0);
}

/// The TCP connection of dlms.pcap (real packets: SYN ... FIN from the
/// server, then RSTs, with client segments after the first RST) replayed
/// twice on the same ports one second apart: the close ends the first copy
/// and its stragglers stay with it, the second SYN starts a second flow.
#[test]
fn a_real_connection_replayed_on_the_same_ports() {
    let (packets, _) = read_packets(fixture("dlms.pcap"));
    let conn: Vec<OwnedPacket> = packets.into_iter().filter(|p| p.data[23] == 6).collect();
    assert_eq!(conn.len(), 18);
    let span = conn.last().expect("packets").ts_ns - conn[0].ts_ns;
    let again = conn.iter().map(|p| OwnedPacket {
        ts_ns: p.ts_ns + span + S,
        ..p.clone()
    });
    let twice: Vec<OwnedPacket> = conn.iter().cloned().chain(again).collect();
    let a = analyze_with(&write_pcap(1, &twice, false, false), default_cfg());
    let lines: Vec<String> = a.flows.iter().map(flow_line).collect();
    let first = "tcp 192.168.137.20:60797 > 192.168.137.189:4060 fwd 10/2942 bwd 8/520";
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with(first) && lines[1].starts_with(first),
        "{lines:#?}"
    );
    assert_eq!(a.flows[1].first_ts_ns, a.flows[0].last_ts_ns + S);
}

/// The UDP flow of dlms.pcap (9 real packets, 1 µs apart) with a gap put
/// before its sixth packet: the default timeout (120 s) splits it only when
/// the gap is longer than 120 s.
#[test]
fn a_real_flow_with_a_gap() {
    let (packets, _) = read_packets(fixture("dlms.pcap"));
    let udp: Vec<OwnedPacket> = packets.into_iter().filter(|p| p.data[23] == 17).collect();
    assert_eq!(udp.len(), 9);
    let natural = udp[5].ts_ns - udp[4].ts_ns;
    for (extra, pieces) in [
        (120 * S - natural, vec![9]),
        (120 * S - natural + 1, vec![5, 4]),
    ] {
        let gapped: Vec<OwnedPacket> = udp
            .iter()
            .enumerate()
            .map(|(i, p)| OwnedPacket {
                ts_ns: p.ts_ns + if i >= 5 { extra } else { 0 },
                ..p.clone()
            })
            .collect();
        // A nanosecond pcap, so that the one extra nanosecond is kept.
        let a = analyze_with(&write_pcap(1, &gapped, false, true), default_cfg());
        let got: Vec<u64> = a.flows.iter().map(|f| f.total_packets()).collect();
        assert_eq!(got, pieces);
        let key = |k: &FlowKey| (k.src, k.sport, k.dst, k.dport);
        assert!(a.flows.iter().all(|f| key(&f.key) == key(&a.flows[0].key)));
    }
}
