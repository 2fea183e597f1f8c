//! Damaged captures: truncated anywhere, bit-flipped, lying lengths, wrong
//! magic. Each gives a typed `CaptureError` (never a panic), and everything
//! read before the fault is kept.

use flowlens_core::{Analyzer, CaptureError};

use super::util::{
    analyze, assert_consistent, default_cfg, fixture, is_pcapng, read_packets, records, write_pcap,
    NgWriter, OwnedPacket, Record, Rng,
};

const MAX_CAPLEN: u32 = 256 * 1024;

/// Small real captures of both formats and byte orders.
const SMALL: [&str; 5] = [
    "dlms.pcap",
    "sctp.cap",
    "pgsql2.pcapng",
    "kafka.pcapng",
    "KakaoTalk_talk.pcap",
];

/// What the reader needs, in total, to frame a record of which it has the
/// first `have` bytes (`at_start`: the file's first record).
fn need(bytes: &[u8], r: Option<&Record>, have: usize, at_start: bool) -> u64 {
    let len = r.map(|r| r.len).unwrap_or(usize::MAX) as u64;
    if at_start && have < 4 {
        4
    } else if is_pcapng(bytes) {
        if have < 12 {
            12
        } else {
            len
        }
    } else if at_start {
        24
    } else if have < 16 {
        16
    } else {
        len
    }
}

#[test]
fn truncated_at_every_offset() {
    for name in SMALL {
        let bytes = fixture(name);
        let recs = records(bytes);
        assert_eq!(
            recs.iter().map(|r| r.len).sum::<usize>(),
            bytes.len(),
            "{name}: framing"
        );
        let all = analyze(bytes);
        for k in 0..=bytes.len() {
            let a = analyze(&bytes[..k]);
            assert_consistent(name, &a);
            let complete: Vec<&Record> = recs.iter().filter(|r| r.offset + r.len <= k).collect();
            let boundary = complete.last().map(|r| r.offset + r.len).unwrap_or(0);
            let packets = complete.iter().filter(|r| r.is_packet).count() as u64;
            assert_eq!(a.summary.packets, packets, "{name} cut at {k}");
            let expected_error = if k == 0 {
                Some(CaptureError::Empty)
            } else if k == boundary {
                None
            } else {
                let have = k - boundary;
                let next = recs.iter().find(|r| r.offset == boundary);
                Some(CaptureError::Truncated {
                    offset: boundary as u64,
                    have: have as u64,
                    need: need(bytes, next, have, boundary == 0),
                })
            };
            assert_eq!(a.error, expected_error, "{name} cut at {k}");
            // The flows are those of the complete records before the cut.
            if boundary > 0 {
                let prefix = analyze(&bytes[..boundary]);
                assert_eq!(prefix.error, None);
                assert_eq!((&a.flows, &a.summary), (&prefix.flows, &prefix.summary));
            }
            // ...which are the whole capture's flows, cut short.
            assert!(a.flows.len() <= all.flows.len());
        }
    }
}

fn allowed(e: &CaptureError) -> bool {
    matches!(
        e,
        CaptureError::UnknownFormat { .. }
            | CaptureError::CaplenTooLarge { .. }
            | CaptureError::BadBlockLength { .. }
            | CaptureError::Malformed { .. }
            | CaptureError::UnknownInterface { .. }
            | CaptureError::Truncated { .. }
    )
}

fn error_offset(e: &CaptureError) -> u64 {
    match e {
        CaptureError::UnknownFormat { .. } | CaptureError::Empty => 0,
        CaptureError::CaplenTooLarge { offset, .. }
        | CaptureError::BadBlockLength { offset, .. }
        | CaptureError::Malformed { offset, .. }
        | CaptureError::UnknownInterface { offset, .. }
        | CaptureError::Truncated { offset, .. } => *offset,
        other => panic!("unknown error kind {other:?}"),
    }
}

/// Damage at byte `pos` leaves every packet of the records before it intact.
fn check_damaged(name: &str, orig: &[OwnedPacket], recs: &[Record], damaged: &[u8], pos: usize) {
    let (got, end) = read_packets(damaged);
    let first_hit = recs
        .iter()
        .position(|r| pos < r.offset + r.len)
        .expect("position inside the file");
    let before = recs[..first_hit].iter().filter(|r| r.is_packet).count();
    assert!(
        got.len() >= before,
        "{name}: byte {pos} damaged, {} packets kept of {before}",
        got.len()
    );
    assert_eq!(got[..before], orig[..before], "{name}: byte {pos}");
    if let Err(e) = &end {
        assert!(allowed(e), "{name}: {e:?}");
        assert!(
            error_offset(e) >= recs[first_hit].offset as u64,
            "{name}: {e:?} before byte {pos}"
        );
    }
    let a = Analyzer::analyze(damaged, default_cfg());
    assert_eq!(a.error, end.err());
    assert_consistent(name, &a);
}

#[test]
fn bit_flips_anywhere() {
    let mut rng = Rng::new(0x5EED_F10B);
    for name in SMALL
        .iter()
        .chain(&["nfsv3.pcap", "sites.pcapng", "tcp_scan.pcapng"])
    {
        let bytes = fixture(name);
        let recs = records(bytes);
        let (orig, end) = read_packets(bytes);
        assert_eq!(end, Ok(()));
        let mut errors = 0;
        for _ in 0..1500 {
            let pos = rng.below(bytes.len());
            let mut damaged = bytes.to_vec();
            damaged[pos] ^= 1 << rng.below(8);
            check_damaged(name, &orig, &recs, &damaged, pos);
            errors += usize::from(read_packets(&damaged).1.is_err());
        }
        // Flips in headers and lengths must be caught, not only survived.
        assert!(errors > 0, "{name}: no flip was detected");
    }
}

/// Every header byte of every record set to 0x00 and to 0xFF in turn.
#[test]
fn header_bytes_overwritten() {
    for name in SMALL {
        let bytes = fixture(name);
        let recs = records(bytes);
        let (orig, _) = read_packets(bytes);
        for r in &recs {
            for i in 0..r.len.min(28) {
                for v in [0x00, 0xFF] {
                    let mut damaged = bytes.to_vec();
                    damaged[r.offset + i] = v;
                    check_damaged(name, &orig, &recs, &damaged, r.offset + i);
                }
            }
        }
    }
}

fn set_u32(b: &mut [u8], at: usize, v: u32, be: bool) {
    let x = if be { v.to_be_bytes() } else { v.to_le_bytes() };
    b[at..at + 4].copy_from_slice(&x);
}

/// A pcap record whose caplen runs past the end of the file, or past what
/// any packet can be.
#[test]
fn pcap_lying_caplen() {
    for (name, be) in [("dlms.pcap", false), ("sctp.cap", true)] {
        let bytes = fixture(name);
        let recs = records(bytes);
        let (orig, _) = read_packets(bytes);
        let packets: Vec<&Record> = recs.iter().filter(|r| r.is_packet).collect();
        for (i, r) in packets.iter().enumerate() {
            let rest = (bytes.len() - r.offset - 16) as u32;
            // Longer than the file: truncated, at this record.
            let mut b = bytes.to_vec();
            set_u32(&mut b, r.offset + 8, rest + 1, be);
            let (got, end) = read_packets(&b);
            assert_eq!(got[..], orig[..i], "{name} record {i}");
            assert_eq!(
                end,
                Err(CaptureError::Truncated {
                    offset: r.offset as u64,
                    have: bytes.len() as u64 - r.offset as u64,
                    need: 16 + u64::from(rest) + 1,
                })
            );
            // Larger than any packet: refused before anything is buffered.
            for caplen in [MAX_CAPLEN + 1, u32::MAX] {
                let mut b = bytes.to_vec();
                set_u32(&mut b, r.offset + 8, caplen, be);
                let a = analyze(&b);
                assert_eq!(a.summary.packets, i as u64);
                assert_eq!(
                    a.error,
                    Some(CaptureError::CaplenTooLarge {
                        offset: r.offset as u64,
                        caplen: u64::from(caplen),
                        max: MAX_CAPLEN,
                    })
                );
            }
        }
    }
}

/// 256 KiB is the largest packet accepted; one byte more is refused.
#[test]
fn caplen_limit_is_256_kib() {
    let (p, _) = read_packets(fixture("dlms.pcap"));
    let mut big = p[0].clone();
    big.data.resize(MAX_CAPLEN as usize, 0);
    big.orig_len = MAX_CAPLEN;
    let ok = write_pcap(1, &[p[1].clone(), big.clone(), p[2].clone()], false, false);
    let (got, end) = read_packets(&ok);
    assert_eq!(end, Ok(()));
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].data.len(), MAX_CAPLEN as usize);

    big.data.push(0);
    let bad = write_pcap(1, &[p[1].clone(), big], false, false);
    let second = 24 + 16 + p[1].data.len() as u64;
    let a = analyze(&bad);
    assert_eq!(a.summary.packets, 1);
    assert_eq!(
        a.error,
        Some(CaptureError::CaplenTooLarge {
            offset: second,
            caplen: u64::from(MAX_CAPLEN) + 1,
            max: MAX_CAPLEN
        })
    );

    // The same limit for a pcapng enhanced packet block.
    let mut w = NgWriter::new(false);
    w.idb(1, None).epb(0, 0, &p[1].data, p[1].orig_len);
    let at = w.bytes().len() as u64;
    let huge = vec![0u8; MAX_CAPLEN as usize + 8192];
    w.epb(0, 0, &huge, huge.len() as u32);
    let a = analyze(&w.bytes());
    assert_eq!(a.summary.packets, 1);
    assert!(
        matches!(a.error, Some(CaptureError::CaplenTooLarge { offset, .. }) if offset == at),
        "{:?}",
        a.error
    );
}

/// pcapng blocks whose length fields lie.
#[test]
fn pcapng_lying_block_length() {
    let bytes = fixture("pgsql2.pcapng");
    let recs = records(bytes);
    let (orig, _) = read_packets(bytes);
    let packet_recs: Vec<(usize, &Record)> =
        recs.iter().filter(|r| r.is_packet).enumerate().collect();
    assert!(packet_recs.len() > 10);
    for &(i, r) in packet_recs.iter().step_by(3) {
        let len_at = r.offset + 4;
        let keeps = |b: &[u8]| {
            let (got, end) = read_packets(b);
            assert_eq!(got[..i], orig[..i], "packets before block {i}");
            end
        };
        // Not a multiple of 4, or shorter than a block can be.
        for bad in [r.len as u32 + 1, r.len as u32 - 2, 0, 8] {
            let mut b = bytes.to_vec();
            set_u32(&mut b, len_at, bad, false);
            assert_eq!(
                keeps(&b),
                Err(CaptureError::BadBlockLength {
                    offset: r.offset as u64,
                    len: u64::from(bad)
                })
            );
        }
        // Longer than the rest of the file.
        let past = (bytes.len() - r.offset + 4) as u32;
        let mut b = bytes.to_vec();
        set_u32(&mut b, len_at, past, false);
        assert_eq!(
            keeps(&b),
            Err(CaptureError::Truncated {
                offset: r.offset as u64,
                have: (bytes.len() - r.offset) as u64,
                need: u64::from(past)
            })
        );
        // Far larger than any packet block.
        let mut b = bytes.to_vec();
        set_u32(&mut b, len_at, 0x7FFF_FFFC, false);
        assert!(matches!(
            keeps(&b),
            Err(CaptureError::CaplenTooLarge { offset, .. }) if offset == r.offset as u64
        ));
        // The trailing copy of the length disagrees.
        let mut b = bytes.to_vec();
        set_u32(&mut b, r.offset + r.len - 4, r.len as u32 + 4, false);
        assert!(matches!(
            keeps(&b),
            Err(CaptureError::Malformed { offset, .. }) if offset == r.offset as u64
        ));
        // The captured length runs past the block.
        let mut b = bytes.to_vec();
        set_u32(&mut b, r.offset + 20, r.len as u32, false);
        assert!(matches!(
            keeps(&b),
            Err(CaptureError::Malformed { offset, .. }) if offset == r.offset as u64
        ));
        // An interface that was never described.
        let mut b = bytes.to_vec();
        set_u32(&mut b, r.offset + 8, 5, false);
        assert_eq!(
            keeps(&b),
            Err(CaptureError::UnknownInterface {
                offset: r.offset as u64,
                interface: 5,
                known: 1
            })
        );
    }
    // A non-packet block (the interface description) claiming 32 MiB.
    let idb = recs[1];
    let mut b = bytes.to_vec();
    set_u32(&mut b, idb.offset + 4, 32 << 20, false);
    assert_eq!(
        analyze(&b).error,
        Some(CaptureError::BadBlockLength {
            offset: idb.offset as u64,
            len: 32 << 20
        })
    );
    // A section header with a broken byte-order magic.
    let mut b = bytes.to_vec();
    b[8] ^= 0x40;
    assert!(matches!(
        analyze(&b).error,
        Some(CaptureError::Malformed { offset: 0, .. })
    ));
}

#[test]
fn wrong_magic_and_empty_input() {
    let cases: &[&[u8]] = &[
        b"\x1f\x8b\x08\x00gzip",
        b"<!DOCTYPE html>",
        b"PK\x03\x04",
        &[0xA1, 0xB2, 0xC3, 0xD5, 0, 0, 0, 0],
        &[0x0A, 0x0D, 0x0D, 0x0B, 0, 0, 0, 0],
    ];
    for bytes in cases {
        let a = analyze(bytes);
        assert_eq!(
            a.error,
            Some(CaptureError::UnknownFormat {
                magic: bytes[..4].to_vec()
            })
        );
        assert_eq!(a.summary.packets, 0);
    }
    // A real capture behind a wrong magic.
    let mut b = fixture("dlms.pcap").to_vec();
    b[0] = b'X';
    assert!(matches!(
        analyze(&b).error,
        Some(CaptureError::UnknownFormat { .. })
    ));

    assert_eq!(analyze(&[]).error, Some(CaptureError::Empty));
}

/// After an error the analyzer refuses more input, with the same error, and
/// keeps what it had.
#[test]
fn an_error_is_final() {
    let bytes = fixture("dlms.pcap");
    let recs = records(bytes);
    let cut = recs[5].offset;
    let mut damaged = bytes.to_vec();
    set_u32(&mut damaged, cut + 8, MAX_CAPLEN + 1, false);
    let mut a = Analyzer::new(default_cfg());
    let e = a.feed(&damaged[..cut + 20]).expect_err("caplen too large");
    assert_eq!(a.summary().packets, 4);
    assert_eq!(a.feed(&bytes[cut..]), Err(e.clone()));
    assert_eq!(a.summary().packets, 4);
    let done = a.finish();
    assert_eq!(done.error, Some(e));
    assert_eq!(done.summary.packets, 4);
}
