//! Every capture against tshark, run live: the shared data set (all of it,
//! tcpdump's 830 regression captures included; skipped with a message when
//! `../shared/data` is absent), the fixtures and the generated captures of
//! `linktypes.rs`. Needs `tshark` on the PATH (skipped with a message
//! without it).
//!
//! For each frame, tshark's first IP header gives a 5-tuple: addresses of
//! the first `ip`/`ipv6` layer of `frame.protocols`, its protocol (after
//! IPv6 extension headers and AH, as etherparse reads them), and for TCP,
//! UDP and SCTP the first ports of that protocol; non-first fragments have
//! none. Our `packet::decode` gives the 5-tuple of the same frame, or a
//! skip reason. Keying both on the outer IP header means tunnels (which
//! tshark follows to the inner headers for its own streams) and ICMP errors
//! (whose quoted headers tshark also dissects) compare like for like.
//! Per capture the sets of (unordered) 5-tuples must be equal, except for
//! frames of the classes below, each of which is a documented difference
//! between tshark and flowlens, recognised frame by frame:
//!
//! * `unsupported link type`: frames of link types we do not decode (the
//!   list and the reasons are in `flowlens_core::packet`'s link module).
//! * `SLIP: tshark shows the frame as data`: tshark 4.0 has no dissector
//!   for LINKTYPE_SLIP's 16-byte pseudo-header; we follow tcpdump's
//!   `print-sl.c` (the generated SLIP capture is checked against its
//!   source packets in `linktypes.rs` instead).
//! * `IPv6 extension header cut short or malformed`: etherparse stops at an
//!   extension header it cannot read whole and reports that header's number
//!   as the protocol, or reads a fragment header tshark gives up on; tshark
//!   reads the next-header byte regardless, or stops at the fragment header.
//!   Recognised as: same addresses, and one side's protocol is an extension
//!   header (0, 43, 44, 51, 60).
//! * `IPv6 jumbogram: tshark reads no ports`: an IPv6 payload length of 0
//!   (RFC 2675 jumbograms, Linux BIG TCP): tshark dissects no transport
//!   header, we read the ports as tcpdump does.
//!
//! To keep run time low, captures are read by our reader and concatenated
//! into large pcapng files (one interface per capture and link type,
//! nanosecond timestamps), so that one tshark process reads many captures;
//! two run at a time. Capture-format reading is checked against tshark
//! elsewhere (`fixtures.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use flowlens_core::packet::decode;
use flowlens_core::SkipReason;

use super::linktypes::generated;
use super::util::{
    capture_files, read_packets, shared_data, shared_data_path, NgWriter, OwnedPacket, FIXTURES,
};

/// Canonical 5-tuple: protocol and the two (address, port) ends, sorted.
type Tuple = (u8, (IpAddr, u16), (IpAddr, u16));

fn tuple(proto: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> Tuple {
    if a <= b {
        (proto, a, b)
    } else {
        (proto, b, a)
    }
}

/// Whether tshark is installed (says so on stderr when it is not).
pub fn tshark_or_skip(test: &str) -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: tshark not installed (Debian: apt-get install tshark): {test}");
    }
    ok
}

/// A capture to compare: its name and packets.
struct Capture {
    name: String,
    packets: Vec<OwnedPacket>,
}

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.frag_offset",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.nxt",
    "ipv6.hopopts.nxt",
    "ipv6.routing.nxt",
    "ipv6.fraghdr.nxt",
    "ipv6.fraghdr.offset",
    "ipv6.dstopts.nxt",
    "ah.next_header",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "sctp.srcport",
    "sctp.dstport",
];

/// What tshark made of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Tuple(Tuple),
    /// A non-first IP fragment.
    Fragment,
    /// No IP header, or one without addresses.
    NoIp,
}

/// tshark's 5-tuple of one output line.
fn parse_line(line: &str) -> (usize, Seen, bool) {
    let cols: Vec<&str> = line.split('\t').collect();
    let col = |name: &str| -> Vec<&str> {
        let i = FIELDS.iter().position(|f| *f == name).expect("field");
        match cols.get(i) {
            Some(s) if !s.is_empty() => s.split(',').collect(),
            _ => Vec::new(),
        }
    };
    let frame: usize = cols[0].parse().expect("frame number");
    let protocols = col("frame.protocols").join(",");
    let layers: Vec<&str> = protocols.split(':').collect();
    let malformed = layers.contains(&"_ws.malformed");
    let Some(first) = layers.iter().find(|l| **l == "ip" || **l == "ipv6") else {
        return (frame, Seen::NoIp, malformed);
    };
    let num = |v: Option<&&str>| -> Option<u32> {
        let s = v?;
        if let Some(h) = s.strip_prefix("0x") {
            u32::from_str_radix(h, 16).ok()
        } else {
            s.parse().ok()
        }
    };
    let (src, dst, mut proto) = if *first == "ip" {
        let (Some(s), Some(d)) = (
            col("ip.src").first().copied(),
            col("ip.dst").first().copied(),
        ) else {
            return (frame, Seen::NoIp, malformed);
        };
        if num(col("ip.frag_offset").first()).unwrap_or(0) > 0 {
            return (frame, Seen::Fragment, malformed);
        }
        (s, d, num(col("ip.proto").first()))
    } else {
        let (Some(s), Some(d)) = (
            col("ipv6.src").first().copied(),
            col("ipv6.dst").first().copied(),
        ) else {
            return (frame, Seen::NoIp, malformed);
        };
        if num(col("ipv6.fraghdr.offset").first()).unwrap_or(0) > 0 {
            return (frame, Seen::Fragment, malformed);
        }
        (s, d, num(col("ipv6.nxt").first()))
    };
    // Follow the outer header's extension headers (and AH), in order.
    let mut used: HashMap<&str, usize> = HashMap::new();
    for _ in 0..8 {
        let field = match proto {
            Some(0) if *first == "ipv6" => "ipv6.hopopts.nxt",
            Some(43) if *first == "ipv6" => "ipv6.routing.nxt",
            Some(44) if *first == "ipv6" => "ipv6.fraghdr.nxt",
            Some(60) if *first == "ipv6" => "ipv6.dstopts.nxt",
            Some(51) => "ah.next_header",
            _ => break,
        };
        let k = used.entry(field).or_insert(0);
        let next = col(field).get(*k).copied();
        *k += 1;
        match next {
            Some(v) => proto = num(Some(&v)),
            None => break,
        }
    }
    let (Ok(src), Ok(dst), Some(proto)) = (src.parse::<IpAddr>(), dst.parse::<IpAddr>(), proto)
    else {
        return (frame, Seen::NoIp, malformed);
    };
    let proto = proto as u8;
    let ports = |p: &str| -> (u16, u16) {
        let s = num(col(&format!("{p}.srcport")).first()).unwrap_or(0);
        let d = num(col(&format!("{p}.dstport")).first()).unwrap_or(0);
        (s as u16, d as u16)
    };
    let (sp, dp) = match proto {
        6 => ports("tcp"),
        17 => ports("udp"),
        132 => ports("sctp"),
        _ => (0, 0),
    };
    (
        frame,
        Seen::Tuple(tuple(proto, (src, sp), (dst, dp))),
        malformed,
    )
}

/// Why a frame's 5-tuple may differ from tshark's (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Class {
    UnsupportedLinkType,
    SlipAsData,
    Ipv6ExtensionHeader,
    Jumbogram,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::UnsupportedLinkType => "unsupported link type",
            Class::SlipAsData => "SLIP: tshark shows the frame as data",
            Class::Ipv6ExtensionHeader => "IPv6 extension header cut short or malformed",
            Class::Jumbogram => "IPv6 jumbogram: tshark reads no ports",
        }
    }
}

/// A frame where we and tshark disagree, and why (None: unexplained).
struct Diff {
    frame: usize,
    ours: Result<Tuple, SkipReason>,
    theirs: Seen,
    class: Option<Class>,
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "frame {}: ours {:?}, tshark {:?} ({})",
            self.frame + 1,
            self.ours,
            self.theirs,
            self.class.map_or("unexplained", Class::name)
        )
    }
}

/// Comparison of one capture.
#[derive(Default)]
struct Outcome {
    name: String,
    /// Frames of supported link types.
    compared_frames: usize,
    excluded_frames: BTreeMap<Class, usize>,
    equal_sets: bool,
    unexplained: Vec<Diff>,
    link_types: BTreeSet<u32>,
}

fn ours(p: &OwnedPacket) -> Result<Tuple, SkipReason> {
    decode(p.link_type, &p.data, p.orig_len)
        .map(|d| tuple(d.proto, (d.src, d.sport), (d.dst, d.dport)))
}

/// IPv6 extension header numbers etherparse follows.
const EXTENSION_HEADERS: [u8; 5] = [0, 43, 44, 51, 60];

fn classify(p: &OwnedPacket, ours: &Result<Tuple, SkipReason>, theirs: &Seen) -> Option<Class> {
    let addrs = |t: &Tuple| {
        let mut v = [t.1 .0, t.2 .0];
        v.sort();
        v
    };
    match (ours, theirs) {
        (Err(SkipReason::UnsupportedLinkType(_)), _) => Some(Class::UnsupportedLinkType),
        (Ok(_), Seen::NoIp) if p.link_type == 8 => Some(Class::SlipAsData),
        (Err(SkipReason::Fragment), Seen::Tuple(b)) if b.0 == 44 => {
            Some(Class::Ipv6ExtensionHeader)
        }
        (Ok(a), Seen::Tuple(b)) if addrs(a) != addrs(b) => None,
        (Ok(a), Seen::Tuple(b))
            if a.0 != b.0
                && (EXTENSION_HEADERS.contains(&a.0) || EXTENSION_HEADERS.contains(&b.0)) =>
        {
            Some(Class::Ipv6ExtensionHeader)
        }
        // Payload length 0: a jumbogram (RFC 2675) or BIG TCP; tshark
        // dissects no transport header in it.
        (Ok(a), Seen::Tuple(b)) if a.0 == b.0 && b.1 .1 == 0 && b.2 .1 == 0 => {
            let d = decode(p.link_type, &p.data, p.orig_len).ok()?;
            (d.ip.first().map(|b| b >> 4) == Some(6) && d.ip.get(4..6) == Some(&[0, 0]))
                .then_some(Class::Jumbogram)
        }
        _ => None,
    }
}

fn compare(capture: &Capture, seen: &[Seen]) -> Outcome {
    let mut out = Outcome {
        name: capture.name.clone(),
        ..Outcome::default()
    };
    let mut mine = BTreeSet::new();
    let mut theirs = BTreeSet::new();
    let mut excluded_tuples = BTreeSet::new();
    let mut diffs = Vec::new();
    for (frame, (p, t)) in capture.packets.iter().zip(seen).enumerate() {
        out.link_types.insert(p.link_type);
        let o = ours(p);
        if let Err(SkipReason::UnsupportedLinkType(_)) = o {
            *out.excluded_frames
                .entry(Class::UnsupportedLinkType)
                .or_insert(0) += 1;
            continue;
        }
        let agree = match (&o, t) {
            (Ok(a), Seen::Tuple(b)) => a == b,
            (Err(SkipReason::Fragment), Seen::Fragment) => true,
            (Err(_), Seen::NoIp) => true,
            _ => false,
        };
        if agree {
            out.compared_frames += 1;
            if let Ok(a) = o {
                mine.insert(a);
                theirs.insert(a);
            }
            continue;
        }
        let class = classify(p, &o, t);
        match class {
            Some(c) => {
                *out.excluded_frames.entry(c).or_insert(0) += 1;
                for x in [
                    o.as_ref().ok(),
                    if let Seen::Tuple(b) = t {
                        Some(b)
                    } else {
                        None
                    },
                ]
                .into_iter()
                .flatten()
                {
                    excluded_tuples.insert(*x);
                }
            }
            None => out.compared_frames += 1,
        }
        if let Ok(a) = o {
            mine.insert(a);
        }
        if let Seen::Tuple(b) = t {
            theirs.insert(*b);
        }
        diffs.push(Diff {
            frame,
            ours: o,
            theirs: t.clone(),
            class,
        });
    }
    // Tuples only seen through excluded frames do not count.
    let keep = |s: &BTreeSet<Tuple>| -> BTreeSet<Tuple> {
        s.iter()
            .filter(|t| !excluded_tuples.contains(*t))
            .copied()
            .collect()
    };
    out.equal_sets = keep(&mine) == keep(&theirs);
    if !out.equal_sets {
        out.unexplained = diffs.into_iter().filter(|d| d.class.is_none()).collect();
    }
    out
}

/// Reads `captures` into one pcapng, runs tshark on it, compares.
fn run_batch(captures: &[Capture], dir: &Path, batch: usize) -> Vec<Outcome> {
    let mut w = NgWriter::new(false);
    let mut next_if = 0u32;
    for c in captures {
        let mut ifs: HashMap<(u32, u32), u32> = HashMap::new();
        for p in &c.packets {
            let key = (p.interface, p.link_type);
            let id = *ifs.entry(key).or_insert_with(|| {
                w.idb(p.link_type as u16, Some(9));
                next_if += 1;
                next_if - 1
            });
            w.epb(id, p.ts_ns.max(0) as u64, &p.data, p.orig_len);
        }
    }
    let path = dir.join(format!("batch-{batch}.pcapng"));
    std::fs::write(&path, w.bytes()).expect("write batch");
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(&path).args([
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-o",
        "tcp.desegment_tcp_streams:FALSE",
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seen = vec![Seen::NoIp; captures.iter().map(|c| c.packets.len()).sum()];
    let mut lines = 0;
    for line in text.lines() {
        let (frame, s, _) = parse_line(line);
        if let Some(slot) = frame.checked_sub(1).and_then(|i| seen.get_mut(i)) {
            *slot = s;
            lines += 1;
        }
    }
    assert_eq!(
        lines,
        seen.len(),
        "batch {batch}: tshark printed {lines} frames of {}: {}",
        seen.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut at = 0;
    captures
        .iter()
        .map(|c| {
            let s = &seen[at..at + c.packets.len()];
            at += c.packets.len();
            compare(c, s)
        })
        .collect()
}

#[test]
fn five_tuples_equal_tshark_on_every_capture() {
    if !tshark_or_skip("tshark_live::five_tuples_equal_tshark_on_every_capture") {
        return;
    }
    let mut captures: Vec<Capture> = Vec::new();
    for g in generated() {
        captures.push(Capture {
            name: format!("generated/{}", g.name),
            packets: read_packets(&g.bytes()).0,
        });
    }
    for f in FIXTURES {
        captures.push(Capture {
            name: format!("tests/data/{}", f.name),
            packets: read_packets(f.bytes).0,
        });
    }
    match shared_data() {
        Some(dir) => {
            for p in capture_files(&dir) {
                let bytes = std::fs::read(&p).expect("readable capture");
                captures.push(Capture {
                    name: p.strip_prefix(&dir).unwrap_or(&p).display().to_string(),
                    packets: read_packets(&bytes).0,
                });
            }
        }
        None => eprintln!(
            "skipped: ../shared/data not present (looked in {}): tshark_live compares the fixtures and generated captures only",
            shared_data_path().display()
        ),
    }
    captures.retain(|c| !c.packets.is_empty());
    // Batches of about 20 MB of packets.
    let mut batches: Vec<Vec<Capture>> = vec![Vec::new()];
    let mut size = 0;
    for c in captures {
        let n: usize = c.packets.iter().map(|p| p.data.len() + 32).sum();
        if size + n > 20 << 20 && batches.last().is_some_and(|b| !b.is_empty()) {
            batches.push(Vec::new());
            size = 0;
        }
        size += n;
        batches.last_mut().expect("a batch").push(c);
    }
    let dir = std::env::temp_dir().join(format!("flowlens-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = batches.get(i) else { break };
                let r = run_batch(b, &dir, i);
                results.lock().expect("lock").extend(r);
            });
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut results = results.into_inner().expect("lock");
    results.sort_by(|a, b| a.name.cmp(&b.name));

    let mut compared = 0;
    let mut equal = 0;
    let mut excluded_captures: BTreeMap<&str, usize> = BTreeMap::new();
    let mut excluded_frames: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for r in &results {
        for (c, n) in &r.excluded_frames {
            *excluded_frames.entry(c.name()).or_insert(0) += n;
        }
        if r.compared_frames == 0 {
            let why = r
                .excluded_frames
                .keys()
                .next()
                .map_or("no frames", |c| c.name());
            *excluded_captures.entry(why).or_insert(0) += 1;
            continue;
        }
        compared += 1;
        if r.equal_sets {
            equal += 1;
        } else if !r.unexplained.is_empty() {
            failures.push(r);
        } else {
            // Sets differ only through excluded frames' tuples: cannot
            // happen (they are filtered out); counted to be sure.
            failures.push(r);
        }
    }
    eprintln!(
        "tshark_live: {} captures; {compared} compared, {equal} with equal 5-tuple sets; excluded captures: {excluded_captures:?}; excluded frames: {excluded_frames:?}",
        results.len()
    );
    // Per link type: captures compared and equal.
    let mut per_link: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for r in results.iter().filter(|r| r.compared_frames > 0) {
        for lt in &r.link_types {
            let e = per_link.entry(*lt).or_insert((0, 0));
            e.0 += 1;
            e.1 += usize::from(r.equal_sets);
        }
    }
    eprintln!("tshark_live: per link type, captures compared / equal: {per_link:?}");
    for f in &failures {
        eprintln!(
            "DIFF {} (link types {:?}): {} unexplained frames",
            f.name,
            f.link_types,
            f.unexplained.len()
        );
        for d in f.unexplained.iter().take(3) {
            eprintln!("  {d}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} captures differ from tshark",
        failures.len()
    );
    assert!(compared >= 40, "only {compared} captures compared");
}
