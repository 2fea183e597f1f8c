//! Every fixture: its format, link types, counts and what was skipped.

use std::collections::BTreeMap;

use flowlens_core::capture::CaptureFormat;
use flowlens_core::{CaptureError, CaptureReader};

use super::util::{
    analyze, assert_consistent, epoch_ns, fixture, read_packets, FIXTURES, MALFORMED_FIXTURE,
};

/// What the reader must make of each fixture (default flow settings).
struct Expect {
    name: &'static str,
    /// "pcap" (µs, little-endian), "pcap-be", "pcap-ns" or "pcapng".
    format: &'static str,
    /// Link types of the packets, in order of first appearance.
    link_types: &'static [u32],
    /// `capinfos -c tests/data/F` (tshark's frame count).
    packets: u64,
    flows: u64,
    skipped: &'static [(&'static str, u64)],
}

/// Packet counts are `capinfos -c` (Wireshark 4.0.17). Skipped counts:
/// `tshark -r tcp_scan.pcapng -Y arp | wc -l` = 12;
/// `tshark -r dns_fragmented.pcap -o ip.defragment:FALSE -o ipv6.defragment:FALSE
///  | grep -c -e 'Fragmented IP protocol' -e 'IPv6 fragment'` = 7;
/// `tshark -r HDLC.pcap -Y 'slarp || cdp' | wc -l` = 28; ARP in the ARCNET
/// and IPoIB captures (`-Y arp`): 4 each.
/// Flow counts: `tshark.rs` compares most of them stream by stream, and
/// `tshark_live.rs` the 5-tuples of every protocol (ICMP, OSPF too).
/// bt_search (the same UDP 5-tuple twice, 300 s apart) and kafka are cut by
/// the 120 s idle timeout. The others have one flow per conversation:
/// `tshark -q -z conv,sctp` on sctp.cap lists 2; `-z conv,ip` lists 1 for
/// kerberos_fuzz and mpeg, 2 for riot; `-z conv,ipv6` 1 for quic-33; gre is
/// one GRE packet (tshark's 2 IP conversations are its outer and inner
/// headers: flowlens keys on the outer one, protocol 47).
const EXPECT: &[Expect] = &[
    e("BGP_redist.pcap", "pcap", &[104], 2, 2, &[]),
    e("HDLC.pcap", "pcap", &[104], 38, 1, &[("not IP", 28)]),
    e("KakaoTalk_talk.pcap", "pcapng", &[113], 2, 1, &[]),
    e("LINKTYPE_PKTAP.pcap", "pcap", &[258], 1, 1, &[]),
    e("LINKTYPE_USER2_PKTAP.pcap", "pcap", &[149], 1, 1, &[]),
    e(
        "OSPFv3_multipoint_adjacencies.pcap",
        "pcap",
        &[107],
        73,
        5,
        &[],
    ),
    e(
        "arcnet-rfc1051-arp-icmp-http.pcap",
        "pcap",
        &[129],
        26,
        3,
        &[("not IP", 4)],
    ),
    e(
        "arcnet-rfc1201-arp-icmp-http.pcap",
        "pcap",
        &[129],
        26,
        3,
        &[("not IP", 4)],
    ),
    e("bgp-aigp.pcap", "pcap", &[178], 1, 1, &[]),
    e("bjnp.pcap", "pcap", &[101], 10, 10, &[]),
    e("bt_search.pcap", "pcap", &[1], 2, 2, &[]),
    e("discord_mid_flow.pcap", "pcap", &[1], 40, 1, &[]),
    e("dlms.pcap", "pcap", &[1], 27, 2, &[]),
    e("dlt_ppp.pcap", "pcap", &[9], 1, 1, &[]),
    e("dns2tcp_tunnel.pcap", "pcap", &[113], 50, 1, &[]),
    e(
        "dns_fragmented.pcap",
        "pcap",
        &[1],
        66,
        21,
        &[("IP fragment (not first)", 7)],
    ),
    e("e1000g.pcap", "pcap", &[226], 20, 1, &[]),
    e("gre.pcapng", "pcapng", &[1], 1, 1, &[]),
    e("http-empty-useragent.pcap", "pcap", &[0], 16, 1, &[]),
    e("ieee802.11_htc.pcap", "pcap", &[127], 1, 1, &[]),
    e("ipoib.pcap", "pcap-be", &[242], 30, 7, &[("not IP", 4)]),
    e("kafka.pcapng", "pcapng", &[1], 41, 13, &[]),
    e("kerberos_fuzz.pcapng", "pcapng", &[228], 1, 1, &[]),
    e("lspping-fec-ldp.pcap", "pcap", &[9], 13, 4, &[]),
    e("mongodb.pcap", "pcap", &[1], 27, 5, &[]),
    e("mpeg.pcap", "pcapng", &[1], 19, 1, &[]),
    e("nflog.pcap", "pcap", &[239], 4, 4, &[]),
    e("nfsv3.pcap", "pcap-be", &[1], 128, 8, &[]),
    e("ocs.pcap", "pcapng", &[101], 8, 8, &[]),
    e(
        "ossfuzz_seed_fake_traces_4.pcapng",
        "pcap",
        &[228],
        2,
        1,
        &[],
    ),
    e("pgsql2.pcapng", "pcapng", &[0], 19, 1, &[]),
    e("quic-33.pcapng", "pcapng", &[1], 7, 1, &[]),
    e("riot.pcapng", "pcapng", &[1], 7, 2, &[]),
    e("sctp.cap", "pcap-be", &[1], 4, 2, &[]),
    e("sites.pcapng", "pcapng", &[1], 6, 4, &[]),
    e("someip_sd_sample.pcap", "pcap-ns", &[192], 6, 2, &[]),
    e("syslog.pcap", "pcap", &[1], 94, 24, &[]),
    e("tcp_scan.pcapng", "pcap", &[1], 30, 7, &[("not IP", 12)]),
    e("twovlan.pcap", "pcap", &[1], 6, 1, &[]),
];

const fn e(
    name: &'static str,
    format: &'static str,
    link_types: &'static [u32],
    packets: u64,
    flows: u64,
    skipped: &'static [(&'static str, u64)],
) -> Expect {
    Expect {
        name,
        format,
        link_types,
        packets,
        flows,
        skipped,
    }
}

fn format_name(f: CaptureFormat) -> &'static str {
    match f {
        CaptureFormat::Pcapng => "pcapng",
        CaptureFormat::Pcap {
            big_endian: true,
            nanosecond: false,
            modified: false,
            ..
        } => "pcap-be",
        CaptureFormat::Pcap {
            big_endian: false,
            nanosecond: true,
            modified: false,
            ..
        } => "pcap-ns",
        CaptureFormat::Pcap {
            big_endian: false,
            nanosecond: false,
            modified: false,
            ..
        } => "pcap",
        other => panic!("unexpected format {other:?}"),
    }
}

#[test]
fn every_fixture_reads_as_expected() {
    for x in EXPECT {
        let bytes = fixture(x.name);
        let mut reader = CaptureReader::new();
        let mut link_types = Vec::new();
        reader
            .push(bytes, |p| {
                if !link_types.contains(&p.link_type) {
                    link_types.push(p.link_type);
                }
            })
            .unwrap_or_else(|e| panic!("{}: {e}", x.name));
        assert_eq!(reader.finish(), Ok(()), "{}", x.name);
        assert_eq!(reader.bytes_consumed(), bytes.len() as u64, "{}", x.name);
        let format = reader.format().expect("format known after a header");
        assert_eq!(format_name(format), x.format, "{}", x.name);
        assert_eq!(link_types, x.link_types, "{}", x.name);

        let a = analyze(bytes);
        assert_eq!(a.error, None, "{}", x.name);
        assert_consistent(x.name, &a);
        assert_eq!(a.summary.packets, x.packets, "{}: packets", x.name);
        assert_eq!(a.summary.flows, x.flows, "{}: flows", x.name);
        let skipped: BTreeMap<String, u64> =
            x.skipped.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(a.summary.skipped, skipped, "{}: skipped", x.name);
    }
    // Every fixture but the malformed one is in the table.
    let listed: Vec<&str> = EXPECT.iter().map(|x| x.name).collect();
    for f in FIXTURES {
        assert!(
            listed.contains(&f.name) || f.name == MALFORMED_FIXTURE,
            "{} has no expectation",
            f.name
        );
    }
}

/// nDPI's fuzz-2021-10-13.pcap: a nanosecond pcap whose first record claims
/// 524,501 captured bytes in a 239-byte file (`capinfos` reports the same
/// length and "cut short in the middle of a packet"). The reader must stop
/// there with a typed error, having delivered no packet.
#[test]
fn the_malformed_fixture_gives_a_typed_error() {
    let bytes = fixture(MALFORMED_FIXTURE);
    let a = analyze(bytes);
    assert_eq!(
        a.error,
        Some(CaptureError::CaplenTooLarge {
            offset: 24,
            caplen: 524_501,
            max: 256 * 1024
        })
    );
    assert_eq!(a.summary.packets, 0);
    assert!(a.flows.is_empty());
}

/// Per-packet timestamps, interfaces and lengths against
/// `tshark -r F -T fields -e frame.interface_id -e frame.time_epoch -e frame.cap_len -e frame.len`.
/// sites.pcapng has 22 interfaces with microsecond and nanosecond
/// resolutions; its packets come from interfaces 1 (µs), 6 and 17 (ns).
/// someip_sd_sample.pcap is a nanosecond pcap; nfsv3.pcap big-endian.
#[test]
fn packet_timestamps_and_lengths_equal_tshark() {
    // (fixture, its packets as the test below reads them)
    type Case<'a> = (&'a str, &'a [(u32, &'a str, usize, u32)]);
    let cases: &[Case] = &[
        (
            "sites.pcapng",
            &[
                (1, "1643355518.166568000", 1292, 1292),
                (6, "1646495785.326719423", 1399, 1399),
                (6, "1646495785.351813394", 1399, 1399),
                (6, "1646495837.086190409", 1399, 1399),
                (6, "1646495837.102627993", 1399, 1399),
                (17, "1714855626.875150934", 1399, 1399),
            ],
        ),
        (
            "someip_sd_sample.pcap",
            &[
                (0, "1559741544.964106975", 114, 114),
                (0, "1559741545.065160375", 114, 114),
                (0, "1559741545.065225650", 102, 102),
                (0, "1559741545.764092325", 114, 114),
                (0, "1559741545.865172800", 114, 114),
                (0, "1559741545.865698300", 102, 102),
            ],
        ),
        (
            "nfsv3.pcap",
            &[
                (0, "944207397.280000000", 106, 106),
                (0, "944207397.280000000", 90, 90),
                (0, "944207397.290000000", 82, 82),
                (0, "944207397.290000000", 66, 66),
                (0, "944207397.290000000", 158, 158),
                (0, "944207397.310000000", 114, 114),
            ],
        ),
    ];
    for (name, expected) in cases {
        let (packets, end) = read_packets(fixture(name));
        assert_eq!(end, Ok(()), "{name}");
        let got: Vec<(u32, i64, usize, u32)> = packets
            .iter()
            .take(expected.len())
            .map(|p| (p.interface, p.ts_ns, p.data.len(), p.orig_len))
            .collect();
        let want: Vec<(u32, i64, usize, u32)> = expected
            .iter()
            .map(|(i, t, c, l)| (*i, epoch_ns(t), *c, *l))
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

/// The fixtures in `tests/data/` are exactly those in [`FIXTURES`], and each
/// has its source in `tests/data/SOURCES.md`.
#[test]
fn every_data_file_is_listed_with_its_source() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let sources = std::fs::read_to_string(dir.join("SOURCES.md")).expect("tests/data/SOURCES.md");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/data")
        .map(|e| e.expect("dir entry"))
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "SOURCES.md")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|f| f.name.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/data/ and FIXTURES differ");
    for f in FIXTURES {
        assert!(
            sources.contains(&format!("`{}`", f.name)),
            "{} is not in tests/data/SOURCES.md",
            f.name
        );
        assert_eq!(
            std::fs::read(dir.join(f.name)).expect("fixture file"),
            f.bytes,
            "{}",
            f.name
        );
    }
    let total: usize = FIXTURES.iter().map(|f| f.bytes.len()).sum();
    assert!(total <= 3 << 20, "fixtures take {total} bytes, over 3 MiB");
}
