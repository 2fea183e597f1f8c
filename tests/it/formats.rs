//! Every capture format and link type, on real packets.
//!
//! The data set has no big-endian pcapng, no multi-section pcapng, no simple
//! or obsolete packet blocks, no binary timestamp resolution and no Linux
//! SLL2, DLT 229 or DLT 108 capture; these are built here from real
//! packets of the fixtures, by writers that follow the format
//! specifications (`util.rs`), and must read back as the originals do.

use flowlens_core::{Analysis, CaptureError, Flow};

use super::util::{
    analyze, analyze_with, fixture, is_pcapng, no_idle, pcap_magic, pcap_to_nanoseconds,
    read_packets, records, swap_pcap_byte_order, write_pcap, NgWriter, OwnedPacket, FIXTURES,
};

/// Legacy pcap fixtures (by magic, not by name) that read without error.
fn pcap_fixtures() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    FIXTURES
        .iter()
        .filter(|f| pcap_magic(f.bytes).is_some() && read_packets(f.bytes).1.is_ok())
        .map(|f| (f.name, f.bytes))
}

fn packets_of(name: &str) -> Vec<OwnedPacket> {
    let (p, end) = read_packets(fixture(name));
    assert_eq!(end, Ok(()), "{name}");
    assert!(!p.is_empty(), "{name}");
    p
}

/// Flows without their timestamps (for packets that lost theirs).
fn untimed(a: &Analysis) -> Vec<(String, [u64; 2], [u64; 2])> {
    a.flows
        .iter()
        .map(|f: &Flow| (format!("{:?}", f.key), f.packets, f.bytes))
        .collect()
}

#[test]
fn byte_swapped_pcaps_read_the_same() {
    let mut big_endian_seen = 0;
    for (name, bytes) in pcap_fixtures() {
        let swapped = swap_pcap_byte_order(bytes);
        assert_ne!(swapped, bytes, "{name}");
        assert_eq!(
            swap_pcap_byte_order(&swapped),
            bytes,
            "{name}: not an involution"
        );
        let (be_orig, _) = pcap_magic(bytes).expect("pcap");
        assert_eq!(pcap_magic(&swapped).map(|m| m.0), Some(!be_orig));
        big_endian_seen += usize::from(be_orig);
        assert_eq!(read_packets(&swapped), read_packets(bytes), "{name}");
        assert_eq!(analyze(&swapped), analyze(bytes), "{name}");
    }
    // Both directions were exercised: nfsv3.pcap, sctp.cap and ipoib.pcap are real BE captures.
    assert_eq!(big_endian_seen, 3);
}

#[test]
fn nanosecond_pcaps_read_the_same() {
    for (name, bytes) in pcap_fixtures() {
        if pcap_magic(bytes).map(|m| m.1) == Some(true) {
            continue; // already nanosecond (someip_sd_sample.pcap)
        }
        for variant in [bytes.to_vec(), swap_pcap_byte_order(bytes)] {
            let ns = pcap_to_nanoseconds(&variant);
            assert_eq!(pcap_magic(&ns).map(|m| m.1), Some(true));
            assert_eq!(read_packets(&ns), read_packets(bytes), "{name}");
            assert_eq!(analyze(&ns), analyze(bytes), "{name}");
        }
    }
}

/// The same packets written by our pcap writer (a check on the writer, which
/// the pcapng tests below rely on).
#[test]
fn rewritten_pcaps_read_the_same() {
    for name in ["dlms.pcap", "nfsv3.pcap", "someip_sd_sample.pcap"] {
        let p = packets_of(name);
        let lt = p[0].link_type;
        for (be, ns) in [(false, false), (true, false), (false, true), (true, true)] {
            let w = write_pcap(lt, &p, be, ns);
            let (back, end) = read_packets(&w);
            assert_eq!(end, Ok(()));
            if ns || name != "someip_sd_sample.pcap" {
                assert_eq!(back, p, "{name} be={be} ns={ns}");
            }
        }
    }
}

/// The "modified" pcap (Alexey Kuznetsov's patched libpcap, magic
/// 0xA1B2CD34): 24-byte record headers.
#[test]
fn modified_pcap_reads_the_same() {
    let p = packets_of("dlms.pcap");
    let mut out = write_pcap(1, &[], false, false);
    out[..4].copy_from_slice(&0xA1B2_CD34u32.to_le_bytes());
    for q in &p {
        let secs = q.ts_ns.div_euclid(1_000_000_000) as u32;
        let usec = (q.ts_ns.rem_euclid(1_000_000_000) / 1000) as u32;
        for v in [secs, usec, q.data.len() as u32, q.orig_len, 7] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[0x08, 0x00, 0, 0]); // protocol, pkt_type, pad
        out.extend_from_slice(&q.data);
    }
    assert_eq!(read_packets(&out), (p, Ok(())));
}

/// pcapng of the same packets: both byte orders, µs (default), ns, and
/// binary (2^-20 s) resolutions, enhanced and obsolete packet blocks.
#[test]
fn pcapng_from_real_packets_reads_the_same() {
    for name in [
        "dlms.pcap",
        "tcp_scan.pcapng",
        "dns2tcp_tunnel.pcap",
        "nfsv3.pcap",
    ] {
        let p = packets_of(name);
        let lt = p[0].link_type as u16;
        let want = analyze(fixture(name));
        for be in [false, true] {
            for (resol, units) in [
                (None, 1_000u64),
                (Some(6u8), 1_000),
                (Some(9), 1),
                (Some(8), 10),
            ] {
                for opb in [false, true] {
                    let mut w = NgWriter::new(be);
                    w.idb(lt, resol);
                    for q in &p {
                        let u = q.ts_ns as u64 / units;
                        if opb {
                            w.opb(0, u, &q.data, q.orig_len);
                        } else {
                            w.epb(0, u, &q.data, q.orig_len);
                        }
                    }
                    let bytes = w.bytes();
                    let (back, end) = read_packets(&bytes);
                    assert_eq!(end, Ok(()), "{name}");
                    assert_eq!(back, p, "{name} be={be} resol={resol:?} opb={opb}");
                    assert_eq!(analyze(&bytes), want, "{name}");
                }
            }
        }
    }
}

/// `if_tsresol` with the top bit set: 2^-n seconds.
#[test]
fn pcapng_binary_timestamp_resolution() {
    let p = packets_of("dlms.pcap");
    let mut w = NgWriter::new(false);
    w.idb(1, Some(0x80 | 20));
    let units = [
        0u64,
        1 << 20,
        (3 << 20) + (1 << 19),
        (1_500_000_000u64 << 20) + 1,
    ];
    for (u, q) in units.iter().zip(&p) {
        w.epb(0, *u, &q.data, q.orig_len);
    }
    let (back, end) = read_packets(&w.bytes());
    assert_eq!(end, Ok(()));
    let ts: Vec<i64> = back.iter().map(|q| q.ts_ns).collect();
    // 1 unit = 1e9 / 2^20 ns = 953.67... ns, rounded down.
    assert_eq!(
        ts,
        [0, 1_000_000_000, 3_500_000_000, 1_500_000_000_000_000_953]
    );
}

/// Simple packet blocks carry no timestamp and no interface id: the
/// packets, flows and byte counts must still be right.
#[test]
fn pcapng_simple_packet_blocks() {
    for name in ["dlms.pcap", "mongodb.pcap", "bjnp.pcap"] {
        let p = packets_of(name);
        let mut w = NgWriter::new(false);
        w.idb(p[0].link_type as u16, None);
        for q in &p {
            w.spb(&q.data, q.orig_len);
        }
        let bytes = w.bytes();
        let (back, end) = read_packets(&bytes);
        assert_eq!(end, Ok(()));
        let untimed_packets = |v: &[OwnedPacket]| -> Vec<(Vec<u8>, u32)> {
            v.iter().map(|q| (q.data.clone(), q.orig_len)).collect()
        };
        assert_eq!(untimed_packets(&back), untimed_packets(&p), "{name}");
        assert!(back.iter().all(|q| q.ts_ns == 0 && q.interface == 0));
        let a = analyze_with(&bytes, no_idle());
        assert_eq!(a.error, None);
        assert_eq!(
            untimed(&a),
            untimed(&analyze_with(fixture(name), no_idle()))
        );
    }
}

/// Several sections, each with its own byte order and interfaces; packets
/// of several interfaces of different link types within a section; blocks
/// that carry no packets (name resolution, statistics, decryption secrets,
/// custom, unknown) in between.
#[test]
fn pcapng_sections_interfaces_and_other_blocks() {
    let eth = packets_of("dlms.pcap");
    let raw = packets_of("bjnp.pcap");
    let sll = packets_of("dns2tcp_tunnel.pcap");
    let mut w = NgWriter::new(false);
    w.idb(1, None).idb(101, Some(9));
    w.raw_block(4, &[0, 0, 0, 0]); // NRB: end of records only
    for (a, b) in eth.iter().zip(&raw) {
        w.epb(0, a.ts_ns as u64 / 1000, &a.data, a.orig_len);
        w.epb(1, b.ts_ns as u64, &b.data, b.orig_len);
    }
    w.raw_block(5, &[0; 12]); // ISB: interface 0, timestamp
    w.raw_block(10, &[0x4B, 0x53, 0x4C, 0x54, 0, 0, 0, 0]); // DSB, empty TLS key log
    w.raw_block(0x0000_0BAD, b"custom!!"); // custom block
    w.raw_block(0x1234_5678, b"unknown");
    w.section(true).idb(113, None);
    for q in &sll {
        w.epb(0, q.ts_ns as u64 / 1000, &q.data, q.orig_len);
    }
    let bytes = w.bytes();

    let (back, end) = read_packets(&bytes);
    assert_eq!(end, Ok(()));
    let mut want = Vec::new();
    for (a, b) in eth.iter().zip(&raw) {
        want.push(a.clone());
        want.push(OwnedPacket {
            interface: 1,
            ..b.clone()
        });
    }
    want.extend(sll.iter().cloned());
    assert_eq!(back, want);

    // A new section forgets the interfaces of the last: interface 1 is gone.
    let mut w2 = NgWriter::new(false);
    w2.idb(1, None).idb(101, None).section(false).idb(1, None);
    let offset = w2.bytes().len() as u64;
    w2.epb(1, 0, &raw[0].data, raw[0].orig_len);
    let (back, end) = read_packets(&w2.bytes());
    assert!(back.is_empty());
    assert_eq!(
        end,
        Err(CaptureError::UnknownInterface {
            offset,
            interface: 1,
            known: 1
        })
    );
}

/// The real pcapng fixtures hold name resolution (4), interface statistics
/// (5), decryption secrets (10) and custom (0x80000001) blocks, so the
/// reader is tested on real ones too (their packets are in `fixtures.rs`).
#[test]
fn fixtures_hold_the_other_pcapng_blocks() {
    let mut kinds = std::collections::BTreeSet::new();
    for f in FIXTURES.iter().filter(|f| is_pcapng(f.bytes)) {
        for r in records(f.bytes) {
            kinds.insert(u32::from_le_bytes(
                f.bytes[r.offset..r.offset + 4].try_into().expect("4 bytes"),
            ));
        }
    }
    for k in [1, 4, 5, 6, 10, 0x8000_0001, 0x0A0D_0D0A] {
        assert!(
            kinds.contains(&k),
            "no block of type {k:#x} in the fixtures"
        );
    }
}

/// Frames whose link layer is rewritten must give the same flows, minus
/// the link header bytes in the byte counts.
fn same_flows_modulo_link(orig: &Analysis, rewritten: &Analysis, link_delta: i64) {
    assert_eq!(rewritten.error, None);
    assert_eq!(rewritten.flows.len(), orig.flows.len());
    for (a, b) in orig.flows.iter().zip(&rewritten.flows) {
        assert_eq!(a.key, b.key);
        assert_eq!(a.packets, b.packets);
        assert_eq!((a.first_ts_ns, a.last_ts_ns), (b.first_ts_ns, b.last_ts_ns));
        for d in 0..2 {
            let expect = a.bytes[d] as i64 + link_delta * a.packets[d] as i64;
            assert_eq!(b.bytes[d] as i64, expect);
        }
        // The kept packet bytes start at the IP header whatever the link.
        assert_eq!(a.head, b.head);
    }
    assert_eq!(orig.summary.skipped, rewritten.summary.skipped);
}

fn relink(
    p: &[OwnedPacket],
    strip: usize,
    prefix: &dyn Fn(&OwnedPacket) -> Vec<u8>,
) -> Vec<OwnedPacket> {
    p.iter()
        .map(|q| {
            let mut data = prefix(q);
            let added = data.len() as i64 - strip as i64;
            data.extend_from_slice(&q.data[strip..]);
            OwnedPacket {
                data,
                orig_len: (q.orig_len as i64 + added) as u32,
                ..q.clone()
            }
        })
        .collect()
}

#[test]
fn linux_sll2_from_real_sll_packets() {
    for name in ["dns2tcp_tunnel.pcap", "KakaoTalk_talk.pcap"] {
        let p = packets_of(name);
        // SLL: pkttype(2) hatype(2) halen(2) addr(8) protocol(2).
        // SLL2: protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8).
        let sll2 = relink(&p, 16, &|q| {
            let h = &q.data[..16];
            let mut v = vec![h[14], h[15], 0, 0, 0, 0, 0, 3, h[2], h[3], h[1], h[5]];
            v.extend_from_slice(&h[6..14]);
            v
        });
        let bytes = write_pcap(276, &sll2, false, false);
        same_flows_modulo_link(&analyze(fixture(name)), &analyze(&bytes), 4);
    }
}

#[test]
fn raw_ip_link_types_from_real_packets() {
    // DLT 101 capture rewritten as the legacy DLT_RAW values 12 and 14.
    let raw = packets_of("bjnp.pcap");
    for lt in [12, 14, 101] {
        let bytes = write_pcap(lt, &raw, false, false);
        same_flows_modulo_link(&analyze(fixture("bjnp.pcap")), &analyze(&bytes), 0);
    }
    // Ethernet frames of dns_fragmented.pcap (IPv4 and IPv6, fragments) as
    // DLT 228 (IPv4 only) and DLT 229 (IPv6 only) captures.
    let eth = packets_of("dns_fragmented.pcap");
    for (ethertype, lt) in [([0x08, 0x00], 228), ([0x86, 0xDD], 229)] {
        let only: Vec<OwnedPacket> = eth
            .iter()
            .filter(|q| q.data[12..14] == ethertype)
            .cloned()
            .collect();
        assert!(only.len() > 10);
        let orig = analyze(&write_pcap(1, &only, false, false));
        let bare = relink(&only, 14, &|_| Vec::new());
        same_flows_modulo_link(&orig, &analyze(&write_pcap(lt, &bare, false, false)), -14);
        if lt == 228 {
            // And DLT 228 written by a real writer: ossfuzz_seed_fake_traces_4.
            assert_eq!(
                analyze(fixture("ossfuzz_seed_fake_traces_4.pcapng"))
                    .flows
                    .len(),
                1
            );
        }
    }
}

#[test]
fn null_and_loopback_from_real_packets() {
    // http-empty-useragent.pcap: DLT 0, address family in host (LE) order.
    let p = packets_of("http-empty-useragent.pcap");
    let family = u32::from_le_bytes(p[0].data[..4].try_into().expect("4 bytes"));
    assert!(
        matches!(family, 24 | 28 | 30),
        "AF_INET6 of a BSD: {family}"
    );
    let orig = analyze(fixture("http-empty-useragent.pcap"));
    // The same written on a big-endian host (DLT 0, BE family) and as DLT 108 (always BE).
    let be_family = relink(&p, 4, &|_| family.to_be_bytes().to_vec());
    for lt in [0, 108] {
        same_flows_modulo_link(
            &orig,
            &analyze(&write_pcap(lt, &be_family, false, false)),
            0,
        );
    }
    // An IPv4 null capture: AF_INET = 2.
    let eth = packets_of("dlms.pcap");
    let v4 = relink(&eth, 14, &|_| 2u32.to_le_bytes().to_vec());
    same_flows_modulo_link(
        &analyze(fixture("dlms.pcap")),
        &analyze(&write_pcap(0, &v4, false, false)),
        -10,
    );
}

/// Ethernet with one 802.1Q tag (mongodb.pcap) and two (twovlan.pcap, QinQ):
/// the same frames without their tags give the same flows.
#[test]
fn vlan_tags_are_looked_through() {
    for (name, tags) in [("mongodb.pcap", 1), ("twovlan.pcap", 2)] {
        let p = packets_of(name);
        let untagged = p
            .iter()
            .cloned()
            .map(|mut q| {
                let mut removed = 0;
                while matches!(q.data[12..14], [0x81, 0x00] | [0x88, 0xA8] | [0x91, 0x00]) {
                    q.data.drain(12..16);
                    removed += 1;
                }
                assert_eq!(removed, tags, "{name}");
                q.orig_len -= 4 * tags as u32;
                q
            })
            .collect::<Vec<_>>();
        same_flows_modulo_link(
            &analyze(fixture(name)),
            &analyze(&write_pcap(1, &untagged, false, false)),
            -4 * tags,
        );
    }
}
