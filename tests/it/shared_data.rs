//! The whole data set in `../shared/data` (or `$FLOWLENS_SHARED_DATA`), when
//! it is there. CI runs a fresh clone with `shared/` beside it. Without it
//! each test here says `skipped: ...` on stderr and returns; the summary
//! test `shared_data_tests_ran_or_say_why_not` lists them all in one place.

use flowlens_core::{Analyzer, CaptureError, Flow};

use super::util::{
    analyze, analyze_with, assert_consistent, capture_files, no_idle, shared_data_or_skip,
    tshark_line,
};

/// The tests below that need the shared data.
const NEEDS_SHARED_DATA: &[&str] = &[
    "every_shared_capture_parses_and_adds_up",
    "shared_flow_counts_equal_tshark",
    "shared_flows_equal_tshark",
    "tcpdump_tests_decoded_and_skipped_per_link_type",
];

#[test]
fn shared_data_tests_ran_or_say_why_not() {
    match super::util::shared_data() {
        Some(dir) => eprintln!(
            "shared data at {}: {} tests ran on it",
            dir.display(),
            NEEDS_SHARED_DATA.len()
        ),
        None => {
            let at = super::util::shared_data_path();
            for t in NEEDS_SHARED_DATA {
                eprintln!(
                    "skipped: ../shared/data not present (looked in {}): shared_data::{t}",
                    at.display()
                );
            }
        }
    }
}

/// Every capture of every dataset reads to its end without error (each
/// link type present: Ethernet with VLANs and tunnels, Linux SLL, raw IP
/// 101/228, null, PPP, Cisco HDLC, PPI), and packets = packets in flows +
/// skipped. The one exception is nDPI's intentionally malformed
/// `fuzz-2021-10-13.pcap` (see `fixtures::the_malformed_fixture_gives_a_typed_error`).
#[test]
fn every_shared_capture_parses_and_adds_up() {
    let Some(dir) = shared_data_or_skip("every_shared_capture_parses_and_adds_up") else {
        return;
    };
    let files = capture_files(&dir);
    assert!(files.len() >= 1000, "only {} captures found", files.len());
    let mut link_types = std::collections::BTreeSet::new();
    let mut malformed = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).expect("readable capture");
        let name = path.display().to_string();
        let mut a = Analyzer::new(no_idle());
        let mut seen = Vec::new();
        let fed = {
            let mut r = flowlens_core::CaptureReader::new();
            r.push(&bytes, |p| seen.push(p.link_type))
                .and_then(|()| r.finish())
        };
        link_types.extend(seen.iter().copied());
        let _ = a.feed(&bytes);
        let done = a.finish();
        assert_eq!(done.error, fed.clone().err(), "{name}");
        assert_consistent(&name, &done);
        assert_eq!(done.summary.packets, seen.len() as u64, "{name}");
        if let Err(e) = fed {
            malformed.push((
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
                e,
            ));
        }
    }
    assert_eq!(
        malformed,
        [(
            "fuzz-2021-10-13.pcap".to_string(),
            CaptureError::CaplenTooLarge {
                offset: 24,
                caplen: 524_501,
                max: 256 * 1024
            }
        )]
    );
    // Link types of the data set (SOURCES.md): Ethernet, SLL, raw IP (101,
    // 228), null, PPP, Cisco HDLC, PPI.
    for lt in [0, 1, 9, 101, 104, 113, 192, 228] {
        assert!(link_types.contains(&lt), "no packet of link type {lt}");
    }
}

/// Flow counts of shared captures from each dataset against tshark's
/// stream counts, with no idle timeout (see `tshark.rs`):
///
/// ```sh
/// tshark -r F -T fields -e tcp.stream -e udp.stream \
///   | awk -F'\t' '{if($1!="")t[$1]; if($2!="")u[$2]} END{print length(t), length(u)}'
/// ```
///
/// Tinba.pcap: SOURCES.md counts 8509 5-tuples; tshark and flowlens find
/// 8504 UDP streams (plus ICMP flows, not counted by tshark).
#[test]
fn shared_flow_counts_equal_tshark() {
    let Some(dir) = shared_data_or_skip("shared_flow_counts_equal_tshark") else {
        return;
    };
    let cases: &[(&str, usize, usize)] = &[
        ("USTC-TFC2016/Facetime/Facetime.pcap", 0, 6000),
        ("USTC-TFC2016/Tinba/Tinba.pcap", 0, 8504),
        (
            "USTC-TFC2016-784B/Tinba/Tinba_t10k_SessionAllLayers_784B.pcap",
            0,
            850,
        ),
        (
            "ISCX-VPN-nonVPN-784B/P2p/P2p_t10k_SessionAllLayers_784B.pcap",
            37,
            67,
        ),
        (
            "ISCX-VPN-nonVPN-784B-VPN/Email/Email_t10k_SessionAllLayers_784B.pcap",
            12,
            18,
        ),
        ("LAB-siteA/DNS/siteA_DNS_run1.pcap", 16, 128),
        ("LAB-siteA/NTP/siteA_NTP_run1.pcap", 0, 225),
        ("Arkime-tests/SMTP/smtp-originating.pcap", 1, 0),
        ("nDPI-tests/TLS/sites.pcapng", 55, 0),
        ("nDPI-tests-unsplit/pcap/dns2tcp_tunnel.pcap", 1, 0),
    ];
    for (rel, tcp, udp) in cases {
        let bytes = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let a = analyze_with(&bytes, no_idle());
        assert_eq!(a.error, None, "{rel}");
        let count = |p: u8| a.flows.iter().filter(|f| f.key.proto == p).count();
        assert_eq!((count(6), count(17)), (*tcp, *udp), "{rel}");
    }
}

/// Single flows of shared captures against tshark (the command of
/// `tshark.rs`: protocol, first sender, its packets/bytes, the other side's,
/// first and last timestamps).
#[test]
fn shared_flows_equal_tshark() {
    let Some(dir) = shared_data_or_skip("shared_flows_equal_tshark") else {
        return;
    };
    let cases: &[(&str, &str)] = &[
        (
            "LAB-siteA/DNS/siteA_DNS_run1.pcap",
            "tcp 10.77.1.2:36833 6 463 4 364 1795759542.732154000 1795759542.735055000",
        ),
        (
            "ISCX-VPN-nonVPN-784B-VPN/Email/Email_t10k_SessionAllLayers_784B.pcap",
            "tcp 10.8.8.234:51039 4 306 4 300 1433773510.558566000 1433773511.276892000",
        ),
        (
            "USTC-TFC2016-784B/Tinba/Tinba_t10k_SessionAllLayers_784B.pcap",
            "udp 10.0.2.108:63855 4 304 3 423 326.321343000 1609.386733000",
        ),
        (
            "Arkime-tests/SMTP/smtp-originating.pcap",
            "tcp 10.0.0.5:55713 13 2515 11 1251 1389625273.848291000 1389625274.669731000",
        ),
    ];
    for (rel, line) in cases {
        let bytes = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let a = analyze_with(&bytes, no_idle());
        let lines: Vec<String> = a.flows.iter().map(tshark_line).collect();
        assert!(lines.iter().any(|l| l == line), "{rel}: no flow `{line}`");
    }
    // The Tinba flow above spans 21 minutes with long gaps: the default
    // idle timeout cuts it into pieces that add up to the same counts.
    let bytes = std::fs::read(dir.join(cases[2].0)).expect("Tinba 784B");
    let cut = analyze(&bytes);
    let pieces: Vec<&Flow> = cut
        .flows
        .iter()
        .filter(|f| {
            let k = (f.key.sport, f.key.dport);
            f.key.proto == 17 && (k == (63855, 53) || k == (53, 63855))
        })
        .collect();
    assert!(pieces.len() > 1);
    assert_eq!(pieces.iter().map(|f| f.total_packets()).sum::<u64>(), 7);
    assert_eq!(pieces.iter().map(|f| f.total_bytes()).sum::<u64>(), 727);
}

/// tcpdump's regression captures, per link type: packets decoded (IP found,
/// 5-tuple read) and skipped by reason. Printed as a Markdown table (with
/// `--nocapture`); the decoded counts per link type are pinned below. What
/// is decoded agrees with tshark frame by frame (`tshark_live.rs`).
#[test]
fn tcpdump_tests_decoded_and_skipped_per_link_type() {
    let Some(dir) = shared_data_or_skip("tcpdump_tests_decoded_and_skipped_per_link_type") else {
        return;
    };
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Row {
        files: std::collections::BTreeSet<String>,
        packets: u64,
        decoded: u64,
        skipped: BTreeMap<String, u64>,
    }
    let mut rows: BTreeMap<u32, Row> = BTreeMap::new();
    let files = capture_files(&dir.join("tcpdump-tests"));
    assert_eq!(files.len(), 830);
    for path in &files {
        let bytes = std::fs::read(path).expect("readable capture");
        let (packets, _) = super::util::read_packets(&bytes);
        for p in packets {
            let row = rows.entry(p.link_type).or_default();
            row.files.insert(path.display().to_string());
            row.packets += 1;
            match flowlens_core::packet::decode(p.link_type, &p.data, p.orig_len) {
                Ok(_) => row.decoded += 1,
                Err(r) => *row.skipped.entry(r.as_str()).or_insert(0) += 1,
            }
        }
    }
    eprintln!("| link type | captures | packets | decoded | skipped, by reason |");
    eprintln!("|---|---|---|---|---|");
    for (lt, r) in &rows {
        let skipped: Vec<String> = r.skipped.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        eprintln!(
            "| {lt} | {} | {} | {} | {} |",
            r.files.len(),
            r.packets,
            r.decoded,
            skipped.join("; ")
        );
    }
    let decoded: Vec<(u32, u64)> = rows
        .iter()
        .filter(|(_, r)| r.decoded > 0)
        .map(|(lt, r)| (*lt, r.decoded))
        .collect();
    // Null, Ethernet, SLIP (fuzzed packets only), PPP, raw IP, Cisco HDLC,
    // Frame Relay, Linux cooked, radiotap (one QoS data frame; the other 210
    // are management frames and three protected ones), ARCNET, PKTAP as
    // USER2, Juniper Ethernet, IPNET, DLT 228/229, NFLOG, IPoIB, PKTAP.
    assert_eq!(
        decoded,
        [
            (0, 125),
            (1, 4422),
            (8, 4),
            (9, 53),
            (101, 17),
            (104, 10),
            (107, 165),
            (113, 683),
            (127, 1),
            (129, 44),
            (149, 1),
            (178, 1),
            (226, 20),
            (228, 4),
            (229, 28),
            (239, 4),
            (242, 26),
            (258, 1)
        ]
    );
}
