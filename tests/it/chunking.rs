//! The same bytes fed in chunks of any size give the same analysis.

use super::util::{
    analyze_chunked, analyze_with, default_cfg, fixture, pcap_magic, pcap_to_nanoseconds,
    read_packets, swap_pcap_byte_order, NgWriter, FIXTURES,
};

const CHUNKS: [usize; 3] = [1, 7, 4096];

fn check(name: &str, bytes: &[u8]) {
    let whole = analyze_with(bytes, default_cfg());
    for chunk in CHUNKS {
        let a = analyze_chunked(bytes, chunk, default_cfg());
        assert_eq!(
            a, whole,
            "{name}: chunks of {chunk} bytes differ from whole"
        );
    }
}

/// Every fixture, including the malformed one (same error, same offset).
#[test]
fn fixtures_in_chunks() {
    for f in FIXTURES {
        check(f.name, f.bytes);
    }
}

/// The formats the fixtures lack, built from their packets: big-endian and
/// nanosecond pcap, big-endian pcapng with simple and obsolete packet
/// blocks and two sections.
#[test]
fn rewritten_formats_in_chunks() {
    for f in FIXTURES.iter().filter(|f| pcap_magic(f.bytes).is_some()) {
        if read_packets(f.bytes).1.is_err() {
            continue;
        }
        let swapped = swap_pcap_byte_order(f.bytes);
        check(f.name, &swapped);
        if pcap_magic(f.bytes) == Some((false, false)) {
            check(f.name, &pcap_to_nanoseconds(f.bytes));
            check(f.name, &pcap_to_nanoseconds(&swapped));
        }
    }
    let (p, _) = read_packets(fixture("dlms.pcap"));
    let mut w = NgWriter::new(true);
    w.idb(1, Some(9));
    for (i, q) in p.iter().enumerate() {
        match i % 3 {
            0 => w.epb(0, q.ts_ns as u64, &q.data, q.orig_len),
            1 => w.opb(0, q.ts_ns as u64, &q.data, q.orig_len),
            _ => w.spb(&q.data, q.orig_len),
        };
    }
    w.section(false).idb(1, None);
    for q in &p {
        w.epb(0, q.ts_ns as u64 / 1000, &q.data, q.orig_len);
    }
    check("built pcapng", &w.bytes());
}

/// Truncated and corrupt inputs keep giving the same result in chunks.
#[test]
fn damaged_inputs_in_chunks() {
    for name in ["dlms.pcap", "kafka.pcapng"] {
        let bytes = fixture(name);
        for cut in [1, 3, 23, 24, 30, 100, bytes.len() / 2, bytes.len() - 1] {
            check(name, &bytes[..cut]);
        }
        let mut corrupt = bytes.to_vec();
        let n = corrupt.len();
        corrupt[n / 2..n / 2 + 8].fill(0xFF);
        check(name, &corrupt);
    }
}
