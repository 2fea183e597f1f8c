//! Fixtures, capture writers and rewriters shared by the tests.
//!
//! The writers here are deliberately independent of the reader under test:
//! they frame records from the file formats' specifications, so a test that
//! rewrites a real capture (byte order, timestamp unit, block types) and
//! reads it back checks the reader against the format, not against itself.

use std::path::{Path, PathBuf};

use flowlens_core::{Analysis, Analyzer, CaptureError, CaptureReader, Flow, FlowConfig, Packet};

/// A real capture from `tests/data/` (see `tests/data/SOURCES.md`).
pub struct Fixture {
    pub name: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$(Fixture { name: $name, bytes: include_bytes!(concat!("../data/", $name)) }),*]
    };
}

/// Every capture in `tests/data/` (the `browser/` folder belongs to the
/// browser tests). `fixtures::every_data_file_is_listed` keeps this in step
/// with the folder and with `SOURCES.md`.
pub const FIXTURES: &[Fixture] = fixtures![
    "BGP_redist.pcap",
    "HDLC.pcap",
    "KakaoTalk_talk.pcap",
    "LINKTYPE_PKTAP.pcap",
    "LINKTYPE_USER2_PKTAP.pcap",
    "OSPFv3_multipoint_adjacencies.pcap",
    "arcnet-rfc1051-arp-icmp-http.pcap",
    "arcnet-rfc1201-arp-icmp-http.pcap",
    "bgp-aigp.pcap",
    "bjnp.pcap",
    "bt_search.pcap",
    "discord_mid_flow.pcap",
    "dlms.pcap",
    "dlt_ppp.pcap",
    "dns2tcp_tunnel.pcap",
    "dns_fragmented.pcap",
    "e1000g.pcap",
    "fuzz-2021-10-13.pcap",
    "gre.pcapng",
    "http-empty-useragent.pcap",
    "ieee802.11_htc.pcap",
    "ipoib.pcap",
    "kafka.pcapng",
    "kerberos_fuzz.pcapng",
    "lspping-fec-ldp.pcap",
    "mongodb.pcap",
    "mpeg.pcap",
    "nflog.pcap",
    "nfsv3.pcap",
    "ocs.pcap",
    "ossfuzz_seed_fake_traces_4.pcapng",
    "pgsql2.pcapng",
    "quic-33.pcapng",
    "riot.pcapng",
    "sctp.cap",
    "sites.pcapng",
    "someip_sd_sample.pcap",
    "syslog.pcap",
    "tcp_scan.pcapng",
    "twovlan.pcap",
];

/// The one fixture that is malformed on purpose.
pub const MALFORMED_FIXTURE: &str = "fuzz-2021-10-13.pcap";

pub fn fixture(name: &str) -> &'static [u8] {
    FIXTURES
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name} in FIXTURES"))
        .bytes
}

/// Default flow settings (120 s idle timeout).
pub fn default_cfg() -> FlowConfig {
    FlowConfig::default()
}

/// No idle timeout: flows end only on TCP close, as tshark's streams do.
pub fn no_idle() -> FlowConfig {
    FlowConfig {
        idle_timeout_ns: u64::MAX,
        ..FlowConfig::default()
    }
}

pub fn analyze(bytes: &[u8]) -> Analysis {
    Analyzer::analyze(bytes, default_cfg())
}

pub fn analyze_with(bytes: &[u8], cfg: FlowConfig) -> Analysis {
    Analyzer::analyze(bytes, cfg)
}

/// Feed `bytes` in chunks of `chunk` bytes (after the first error the
/// analyzer refuses more, as a caller would stop).
pub fn analyze_chunked(bytes: &[u8], chunk: usize, cfg: FlowConfig) -> Analysis {
    let mut a = Analyzer::new(cfg);
    for c in bytes.chunks(chunk.max(1)) {
        if a.feed(c).is_err() {
            break;
        }
    }
    a.finish()
}

/// Packets = packets in flows + skipped packets; flows counted right.
pub fn assert_consistent(name: &str, a: &Analysis) {
    let in_flows: u64 = a.flows.iter().map(Flow::total_packets).sum();
    let skipped: u64 = a.summary.skipped.values().sum();
    assert_eq!(
        a.summary.packets,
        in_flows + skipped,
        "{name}: packets != packets in flows ({in_flows}) + skipped ({skipped}): {:?}",
        a.summary
    );
    assert_eq!(a.summary.flows, a.flows.len() as u64, "{name}: flow count");
    for f in &a.flows {
        assert!(f.total_packets() > 0, "{name}: empty flow {f:?}");
        assert!(f.first_ts_ns <= f.last_ts_ns, "{name}: {f:?}");
    }
    let mut idx: Vec<u64> = a.flows.iter().map(|f| f.first_packet_index).collect();
    let sorted = {
        let mut s = idx.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(idx, sorted, "{name}: flows not in order of first packet");
    idx.dedup();
    assert_eq!(
        idx.len(),
        a.flows.len(),
        "{name}: two flows share a first packet"
    );
}

/// A packet as the reader delivered it, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPacket {
    pub link_type: u32,
    pub ts_ns: i64,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub interface: u32,
}

impl From<Packet<'_>> for OwnedPacket {
    fn from(p: Packet<'_>) -> Self {
        Self {
            link_type: p.link_type,
            ts_ns: p.ts_ns,
            data: p.data.to_vec(),
            orig_len: p.orig_len,
            interface: p.interface,
        }
    }
}

/// Every packet of a capture fed whole, and how reading ended.
pub fn read_packets(bytes: &[u8]) -> (Vec<OwnedPacket>, Result<(), CaptureError>) {
    let mut r = CaptureReader::new();
    let mut v = Vec::new();
    let res = r
        .push(bytes, |p| v.push(OwnedPacket::from(p)))
        .and_then(|()| r.finish());
    (v, res)
}

/// Timestamp as tshark prints `frame.time_epoch` ("1643355518.166568000")
/// to nanoseconds.
pub fn epoch_ns(s: &str) -> i64 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let mut frac = frac.to_string();
    assert!(frac.len() <= 9, "{s}");
    while frac.len() < 9 {
        frac.push('0');
    }
    secs.parse::<i64>().expect("seconds") * 1_000_000_000 + frac.parse::<i64>().expect("ns")
}

/// One line per flow for data-driven comparisons:
/// `tcp 10.0.0.1:1000 > 10.0.0.2:80 fwd 3/180 bwd 2/120 t 0.000000000..1.500000000`.
pub fn flow_line(f: &Flow) -> String {
    format!(
        "{} {}:{} > {}:{} fwd {}/{} bwd {}/{} t {}..{}",
        f.key.proto_name(),
        f.key.src,
        f.key.sport,
        f.key.dst,
        f.key.dport,
        f.packets[0],
        f.bytes[0],
        f.packets[1],
        f.bytes[1],
        secs(f.first_ts_ns),
        secs(f.last_ts_ns),
    )
}

/// A flow as the tshark command of `tshark.rs` writes a stream: protocol,
/// first sender, its packets and bytes, the other side's, first and last
/// timestamps (`tcp 10.0.0.1:1000 3 180 2 120 1.000000000 1.500000000`).
pub fn tshark_line(f: &Flow) -> String {
    format!(
        "{} {}:{} {} {} {} {} {} {}",
        f.key.proto_name(),
        f.key.src,
        f.key.sport,
        f.packets[0],
        f.bytes[0],
        f.packets[1],
        f.bytes[1],
        secs(f.first_ts_ns),
        secs(f.last_ts_ns),
    )
}

fn secs(ns: i64) -> String {
    format!(
        "{}.{:09}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}

// ---------------------------------------------------------------------------
// Independent framing of the two formats.

/// One record of a capture file: the file header / a packet record (pcap),
/// or a block (pcapng).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub offset: usize,
    pub len: usize,
    /// A packet record (pcap) or an EPB/SPB/OPB (pcapng).
    pub is_packet: bool,
}

pub fn is_pcapng(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x0A, 0x0D, 0x0D, 0x0A])
}

/// (big endian, nanosecond) of a legacy pcap's magic.
pub fn pcap_magic(bytes: &[u8]) -> Option<(bool, bool)> {
    match bytes.get(..4)? {
        [0xD4, 0xC3, 0xB2, 0xA1] => Some((false, false)),
        [0x4D, 0x3C, 0xB2, 0xA1] => Some((false, true)),
        [0xA1, 0xB2, 0xC3, 0xD4] => Some((true, false)),
        [0xA1, 0xB2, 0x3C, 0x4D] => Some((true, true)),
        _ => None,
    }
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// The records of a well-formed capture, as its format defines them. Stops
/// at the first record that does not fit.
pub fn records(bytes: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    if is_pcapng(bytes) {
        let mut be = false;
        let mut pos = 0;
        while pos + 12 <= bytes.len() {
            if bytes[pos..pos + 4] == [0x0A, 0x0D, 0x0D, 0x0A] {
                be = bytes[pos + 8..pos + 12] == [0x1A, 0x2B, 0x3C, 0x4D];
            }
            let ty = u32_at(bytes, pos, be);
            let len = u32_at(bytes, pos + 4, be) as usize;
            if len < 12 || pos + len > bytes.len() {
                break;
            }
            out.push(Record {
                offset: pos,
                len,
                is_packet: matches!(ty, 2 | 3 | 6),
            });
            pos += len;
        }
    } else if let Some((be, _)) = pcap_magic(bytes) {
        if bytes.len() < 24 {
            return out;
        }
        out.push(Record {
            offset: 0,
            len: 24,
            is_packet: false,
        });
        let mut pos = 24;
        while pos + 16 <= bytes.len() {
            let len = 16 + u32_at(bytes, pos + 8, be) as usize;
            if pos + len > bytes.len() {
                break;
            }
            out.push(Record {
                offset: pos,
                len,
                is_packet: true,
            });
            pos += len;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Rewriters of real captures.

/// The same legacy pcap with every header field byte-swapped (LE <-> BE),
/// as a writer on a machine of the other byte order would have written it.
pub fn swap_pcap_byte_order(bytes: &[u8]) -> Vec<u8> {
    assert!(pcap_magic(bytes).is_some(), "not a legacy pcap");
    let mut out = bytes.to_vec();
    let swap = |b: &mut [u8], at: usize, n: usize| b[at..at + n].reverse();
    // magic, version major, minor, thiszone, sigfigs, snaplen, linktype
    for (at, n) in [(0, 4), (4, 2), (6, 2), (8, 4), (12, 4), (16, 4), (20, 4)] {
        swap(&mut out, at, n);
    }
    for r in records(bytes).iter().filter(|r| r.is_packet) {
        for field in 0..4 {
            swap(&mut out, r.offset + 4 * field, 4);
        }
    }
    out
}

/// The same legacy (microsecond) pcap as a nanosecond pcap.
pub fn pcap_to_nanoseconds(bytes: &[u8]) -> Vec<u8> {
    let (be, ns) = pcap_magic(bytes).expect("a legacy pcap");
    assert!(!ns, "already nanosecond");
    let mut out = bytes.to_vec();
    let magic: u32 = 0xA1B2_3C4D;
    out[..4].copy_from_slice(&if be {
        magic.to_be_bytes()
    } else {
        magic.to_le_bytes()
    });
    for r in records(bytes).iter().filter(|r| r.is_packet) {
        let usec = u32_at(bytes, r.offset + 4, be);
        let nsec = usec.checked_mul(1000).expect("usec < 1e6");
        out[r.offset + 4..r.offset + 8].copy_from_slice(&if be {
            nsec.to_be_bytes()
        } else {
            nsec.to_le_bytes()
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Writers.

/// A legacy pcap of these packets (all of `link_type`).
pub fn write_pcap(link_type: u32, packets: &[OwnedPacket], be: bool, nanosecond: bool) -> Vec<u8> {
    let mut w = Writer {
        be,
        buf: Vec::new(),
    };
    w.u32(if nanosecond { 0xA1B2_3C4D } else { 0xA1B2_C3D4 });
    w.u16(2);
    w.u16(4);
    w.u32(0);
    w.u32(0);
    w.u32(262_144);
    w.u32(link_type);
    for p in packets {
        let secs = p.ts_ns.div_euclid(1_000_000_000);
        let frac = p.ts_ns.rem_euclid(1_000_000_000);
        w.u32(u32::try_from(secs).expect("timestamp fits a pcap"));
        w.u32(if nanosecond { frac } else { frac / 1000 } as u32);
        w.u32(p.data.len() as u32);
        w.u32(p.orig_len);
        w.buf.extend_from_slice(&p.data);
    }
    w.buf
}

/// Builds a pcapng file block by block, in either byte order.
pub struct NgWriter {
    w: Writer,
}

struct Writer {
    be: bool,
    buf: Vec<u8>,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
}

/// Block body padded to 32 bits.
fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

impl NgWriter {
    /// Starts with a section header block.
    pub fn new(be: bool) -> Self {
        let mut w = Self {
            w: Writer {
                be,
                buf: Vec::new(),
            },
        };
        w.section(be);
        w
    }

    /// A new section (its own byte order and interfaces).
    pub fn section(&mut self, be: bool) -> &mut Self {
        self.w.be = be;
        let mut body = Writer {
            be,
            buf: Vec::new(),
        };
        body.u32(0x1A2B_3C4D);
        body.u16(1);
        body.u16(0);
        body.u32(u32::MAX); // section length unknown (-1)
        body.u32(u32::MAX);
        self.raw_block(0x0A0D_0D0A, &body.buf)
    }

    /// Interface description; `tsresol` is the `if_tsresol` option byte (None: default µs).
    pub fn idb(&mut self, link_type: u16, tsresol: Option<u8>) -> &mut Self {
        let mut body = Writer {
            be: self.w.be,
            buf: Vec::new(),
        };
        body.u16(link_type);
        body.u16(0);
        body.u32(262_144);
        if let Some(r) = tsresol {
            body.u16(9); // if_tsresol
            body.u16(1);
            body.buf.push(r);
            pad4(&mut body.buf);
            body.u16(0); // opt_endofopt
            body.u16(0);
        }
        self.raw_block(1, &body.buf)
    }

    /// Enhanced packet block; `units` in the interface's resolution.
    pub fn epb(&mut self, interface: u32, units: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = Writer {
            be: self.w.be,
            buf: Vec::new(),
        };
        body.u32(interface);
        body.u32((units >> 32) as u32);
        body.u32(units as u32);
        body.u32(data.len() as u32);
        body.u32(orig_len);
        body.buf.extend_from_slice(data);
        pad4(&mut body.buf);
        self.raw_block(6, &body.buf)
    }

    /// Simple packet block (no timestamp, interface 0); the captured length is
    /// what the block holds.
    pub fn spb(&mut self, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = Writer {
            be: self.w.be,
            buf: Vec::new(),
        };
        body.u32(orig_len);
        body.buf.extend_from_slice(data);
        pad4(&mut body.buf);
        self.raw_block(3, &body.buf)
    }

    /// Obsolete packet block (type 2).
    pub fn opb(&mut self, interface: u16, units: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = Writer {
            be: self.w.be,
            buf: Vec::new(),
        };
        body.u16(interface);
        body.u16(0); // drops count
        body.u32((units >> 32) as u32);
        body.u32(units as u32);
        body.u32(data.len() as u32);
        body.u32(orig_len);
        body.buf.extend_from_slice(data);
        pad4(&mut body.buf);
        self.raw_block(2, &body.buf)
    }

    /// Any block: type, body (padded here), lengths around it.
    pub fn raw_block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let mut body = body.to_vec();
        pad4(&mut body);
        let len = 12 + body.len() as u32;
        self.w.u32(block_type);
        self.w.u32(len);
        self.w.buf.extend_from_slice(&body);
        self.w.u32(len);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.w.buf.clone()
    }
}

// ---------------------------------------------------------------------------
// The shared data set, when it is there.

/// Where the shared data set is looked for: `$FLOWLENS_SHARED_DATA`, else
/// `../shared/data` beside the repository.
pub fn shared_data_path() -> PathBuf {
    match std::env::var_os("FLOWLENS_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    }
}

/// The shared data set, if it is there.
pub fn shared_data() -> Option<PathBuf> {
    let dir = shared_data_path();
    dir.is_dir().then_some(dir)
}

/// The shared data directory, or `None` after saying on stderr that `test`
/// was skipped (visible with `--nocapture`, and in the summary test).
pub fn shared_data_or_skip(test: &str) -> Option<PathBuf> {
    let dir = shared_data();
    if dir.is_none() {
        eprintln!(
            "skipped: ../shared/data not present (looked in {}; FLOWLENS_SHARED_DATA overrides): {test}",
            shared_data_path().display()
        );
    }
    dir
}

/// A small deterministic generator (xorshift64*), for seeded mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Every packet of a fixture that reads without error.
pub fn packets_of_fixture(name: &str) -> Vec<OwnedPacket> {
    let (p, end) = read_packets(fixture(name));
    assert_eq!(end, Ok(()), "{name}");
    assert!(!p.is_empty(), "{name}");
    p
}

/// CRC-32 of IEEE 802.3 (reflected, polynomial 0x04C11DB7), the FCS of
/// Ethernet and 802.11 frames, sent least significant byte first.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32_check_value() {
    // The catalogued check value of CRC-32/ISO-HDLC for "123456789".
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

/// Every capture (`.pcap`, `.pcapng`, `.cap`) below `dir`, sorted.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable shared data") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
