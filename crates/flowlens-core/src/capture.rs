//! Streaming capture reader: legacy pcap (both byte orders, µs and ns, and
//! the "modified" variant) and pcapng (several sections and interfaces;
//! SHB, IDB, EPB, SPB and the obsolete OPB; other blocks skipped).
//!
//! The caller feeds chunks of any size; the reader never needs the whole
//! file. Records are framed here (so a lying length is caught before any
//! buffering) and decoded by `pcap-parser`. A complete record is parsed in
//! place from the caller's chunk; only a record cut by a chunk boundary is
//! copied, into a buffer at most one record long.

use pcap_parser::pcapng::{
    parse_block_be, parse_block_le, parse_sectionheaderblock, Block, SHB_MAGIC,
};
use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified};
use serde::{Deserialize, Serialize};

/// Largest captured length accepted for one packet (256 KiB). Anything
/// larger is a corrupt or hostile file, not a packet.
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// Largest pcapng block of another kind (name resolution, custom, ...).
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

const PCAPNG_OPB: u32 = 0x0000_0002;
const PCAPNG_EPB: u32 = 0x0000_0006;
const PCAPNG_SPB: u32 = 0x0000_0003;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// One captured frame, borrowed from the bytes fed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// tcpdump `LINKTYPE_*` of the frame's interface.
    pub link_type: u32,
    /// Timestamp in nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// The captured bytes (`caplen` of them).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// pcapng interface id (0 for legacy pcap).
    pub interface: u32,
}

/// Which kind of file is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "format")]
pub enum CaptureFormat {
    Pcap {
        big_endian: bool,
        nanosecond: bool,
        modified: bool,
        link_type: u32,
    },
    Pcapng,
}

/// Why a capture could not be read further. Everything read before the
/// fault stays valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CaptureError {
    #[error("not a pcap or pcapng capture: it starts with {magic:02x?}")]
    UnknownFormat { magic: Vec<u8> },
    #[error("the file is empty")]
    Empty,
    #[error("the packet record at byte {offset} claims {caplen} captured bytes, more than the {max} bytes any real packet has: the file is corrupt")]
    CaplenTooLarge { offset: u64, caplen: u64, max: u32 },
    #[error("the pcapng block at byte {offset} claims a length of {len} bytes, which is impossible: the file is corrupt")]
    BadBlockLength { offset: u64, len: u64 },
    #[error("malformed {what} at byte {offset}")]
    Malformed { offset: u64, what: String },
    #[error("the packet at byte {offset} names interface {interface}, but the capture describes only {known} interface(s)")]
    UnknownInterface {
        offset: u64,
        interface: u32,
        known: usize,
    },
    #[error("the capture ends in the middle of a record: {have} bytes of a {need}-byte record at byte {offset} (truncated file?)")]
    Truncated { offset: u64, have: u64, need: u64 },
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    offset_secs: i64,
}

#[derive(Debug, Clone)]
enum State {
    /// Nothing read yet.
    Start,
    Pcap {
        big_endian: bool,
        nanosecond: bool,
        modified: bool,
        link_type: u32,
    },
    Pcapng {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// Reads a capture fed in chunks.
#[derive(Debug, Clone)]
pub struct CaptureReader {
    state: State,
    /// A record (or the file header) cut by a chunk boundary.
    pending: Vec<u8>,
    /// File offset of the first byte not yet consumed (`pending` starts here).
    offset: u64,
    failed: Option<CaptureError>,
    packets: u64,
}

impl Default for CaptureReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Outcome of trying to frame one record at the start of a slice.
enum Frame {
    /// Need at least this many bytes in total.
    Need(usize),
    /// The record is this long.
    Len(usize),
}

impl CaptureReader {
    pub fn new() -> Self {
        Self {
            state: State::Start,
            pending: Vec::new(),
            offset: 0,
            failed: None,
            packets: 0,
        }
    }

    /// The file's format, once its header has been read.
    pub fn format(&self) -> Option<CaptureFormat> {
        match self.state {
            State::Start => None,
            State::Pcap {
                big_endian,
                nanosecond,
                modified,
                link_type,
            } => Some(CaptureFormat::Pcap {
                big_endian,
                nanosecond,
                modified,
                link_type,
            }),
            State::Pcapng { .. } => Some(CaptureFormat::Pcapng),
        }
    }

    /// Bytes fully consumed so far.
    pub fn bytes_consumed(&self) -> u64 {
        self.offset
    }

    /// Packets delivered so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Feed the next chunk; `on_packet` is called for each complete packet
    /// record, in file order. After an error, the reader refuses more input
    /// (returning the same error); packets already delivered stay valid.
    pub fn push<F: FnMut(Packet<'_>)>(
        &mut self,
        chunk: &[u8],
        mut on_packet: F,
    ) -> Result<(), CaptureError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.push_inner(chunk, &mut on_packet);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    /// Declare the end of the input: an error if it stopped inside a record.
    pub fn finish(&self) -> Result<(), CaptureError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if matches!(self.state, State::Start) && self.pending.is_empty() {
            return Err(CaptureError::Empty);
        }
        if !self.pending.is_empty() {
            let need = match self.frame(&self.pending) {
                Ok(Frame::Need(n)) | Ok(Frame::Len(n)) => n as u64,
                Err(e) => return Err(e),
            };
            return Err(CaptureError::Truncated {
                offset: self.offset,
                have: self.pending.len() as u64,
                need,
            });
        }
        Ok(())
    }

    fn push_inner(
        &mut self,
        mut chunk: &[u8],
        on_packet: &mut dyn FnMut(Packet<'_>),
    ) -> Result<(), CaptureError> {
        // Complete a record cut by the previous chunk boundary.
        while !self.pending.is_empty() && !chunk.is_empty() {
            let want = match self.frame(&self.pending)? {
                Frame::Need(n) | Frame::Len(n) => n,
            };
            let take = want.saturating_sub(self.pending.len()).min(chunk.len());
            self.pending.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if let Frame::Len(n) = self.frame(&self.pending)? {
                if self.pending.len() >= n {
                    let rec = std::mem::take(&mut self.pending);
                    self.record(&rec[..n], on_packet)?;
                    self.offset += n as u64;
                    let mut rec = rec;
                    rec.clear();
                    self.pending = rec; // keep the allocation
                }
            }
        }
        // Whole records straight from the chunk.
        let mut pos = 0;
        while pos < chunk.len() {
            match self.frame(&chunk[pos..])? {
                Frame::Len(n) if chunk.len() - pos >= n => {
                    self.record(&chunk[pos..pos + n], on_packet)?;
                    self.offset += n as u64;
                    pos += n;
                }
                _ => break,
            }
        }
        self.pending.extend_from_slice(&chunk[pos..]);
        Ok(())
    }

    /// Frame the record at the start of `b` without trusting it further
    /// than its length fields.
    fn frame(&self, b: &[u8]) -> Result<Frame, CaptureError> {
        match &self.state {
            State::Start => {
                if b.len() < 4 {
                    return Ok(Frame::Need(4));
                }
                let m = [b[0], b[1], b[2], b[3]];
                if u32::from_le_bytes(m) == SHB_MAGIC {
                    self.frame_pcapng(b, None)
                } else if pcap_magic(m).is_some() {
                    Ok(Frame::Len(24))
                } else {
                    Err(CaptureError::UnknownFormat { magic: m.to_vec() })
                }
            }
            State::Pcap {
                big_endian,
                modified,
                ..
            } => {
                let hdr = if *modified { 24 } else { 16 };
                if b.len() < hdr {
                    return Ok(Frame::Need(hdr));
                }
                let caplen = read_u32(&b[8..12], *big_endian);
                if caplen > MAX_CAPLEN {
                    return Err(CaptureError::CaplenTooLarge {
                        offset: self.offset,
                        caplen: u64::from(caplen),
                        max: MAX_CAPLEN,
                    });
                }
                Ok(Frame::Len(hdr + caplen as usize))
            }
            State::Pcapng { big_endian, .. } => self.frame_pcapng(b, Some(*big_endian)),
        }
    }

    fn frame_pcapng(&self, b: &[u8], big_endian: Option<bool>) -> Result<Frame, CaptureError> {
        if b.len() < 12 {
            return Ok(Frame::Need(12));
        }
        let raw_type = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        // A section header carries its own byte order.
        let be = if raw_type == SHB_MAGIC {
            match (read_u32(&b[8..12], false), read_u32(&b[8..12], true)) {
                (BYTE_ORDER_MAGIC, _) => false,
                (_, BYTE_ORDER_MAGIC) => true,
                _ => {
                    return Err(CaptureError::Malformed {
                        offset: self.offset,
                        what: "pcapng section header (bad byte-order magic)".into(),
                    })
                }
            }
        } else {
            big_endian.unwrap_or(false)
        };
        let block_type = read_u32(&b[0..4], be);
        let len = read_u32(&b[4..8], be);
        let is_packet = matches!(block_type, PCAPNG_EPB | PCAPNG_SPB | PCAPNG_OPB);
        let max = if is_packet {
            MAX_CAPLEN + 4096
        } else {
            MAX_BLOCK_LEN
        };
        if len < 12 || !len.is_multiple_of(4) || len > max {
            if is_packet && len > max {
                return Err(CaptureError::CaplenTooLarge {
                    offset: self.offset,
                    caplen: u64::from(len),
                    max: MAX_CAPLEN,
                });
            }
            return Err(CaptureError::BadBlockLength {
                offset: self.offset,
                len: u64::from(len),
            });
        }
        Ok(Frame::Len(len as usize))
    }

    /// Decode one complete record (exactly framed).
    fn record(
        &mut self,
        rec: &[u8],
        on_packet: &mut dyn FnMut(Packet<'_>),
    ) -> Result<(), CaptureError> {
        let offset = self.offset;
        let malformed = |what: &str| CaptureError::Malformed {
            offset,
            what: what.to_string(),
        };
        match &mut self.state {
            State::Start => {
                let m = [rec[0], rec[1], rec[2], rec[3]];
                if let Some((big_endian, nanosecond, modified)) = pcap_magic(m) {
                    // The low 26 bits are the link type (libpcap's
                    // LT_LINKTYPE); above them sit the FCS-length flag (bit
                    // 26) and length (bits 28-31).
                    let link_type = read_u32(&rec[20..24], big_endian) & 0x03FF_FFFF;
                    self.state = State::Pcap {
                        big_endian,
                        nanosecond,
                        modified,
                        link_type,
                    };
                } else {
                    self.state = State::Pcapng {
                        big_endian: false,
                        interfaces: Vec::new(),
                    };
                    return self.record(rec, on_packet);
                }
            }
            State::Pcap {
                big_endian,
                nanosecond,
                modified,
                link_type,
            } => {
                let parsed = if *modified {
                    parse_pcap_frame_modified(rec)
                } else if *big_endian {
                    parse_pcap_frame_be(rec)
                } else {
                    parse_pcap_frame(rec)
                };
                let (_, f) = parsed.map_err(|_| malformed("pcap packet record"))?;
                let frac = if *nanosecond {
                    i64::from(f.ts_usec)
                } else {
                    i64::from(f.ts_usec) * 1000
                };
                self.packets += 1;
                on_packet(Packet {
                    link_type: *link_type,
                    ts_ns: i64::from(f.ts_sec) * 1_000_000_000 + frac,
                    data: f.data,
                    orig_len: f.origlen.max(f.caplen),
                    interface: 0,
                });
            }
            State::Pcapng {
                big_endian,
                interfaces,
            } => {
                let raw_type = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
                if raw_type == SHB_MAGIC {
                    let (_, shb) = parse_sectionheaderblock(rec)
                        .map_err(|_| malformed("pcapng section header"))?;
                    *big_endian = shb.big_endian();
                    interfaces.clear();
                    return Ok(());
                }
                let be = *big_endian;
                let block_type = read_u32(&rec[0..4], be);
                if block_type == PCAPNG_OPB {
                    return obsolete_packet(
                        rec,
                        be,
                        interfaces,
                        offset,
                        &mut self.packets,
                        on_packet,
                    );
                }
                let parsed = if be {
                    parse_block_be(rec)
                } else {
                    parse_block_le(rec)
                };
                let (_, block) = parsed.map_err(|_| malformed("pcapng block"))?;
                match block {
                    Block::InterfaceDescription(idb) => {
                        interfaces.push(Interface {
                            link_type: idb.linktype.0 as u32,
                            units_per_sec: units_per_sec(idb.if_tsresol),
                            offset_secs: idb.ts_offset(),
                        });
                    }
                    Block::EnhancedPacket(epb) => {
                        let iface = interface(interfaces, epb.if_id, offset)?;
                        let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let caplen = (epb.caplen as usize).min(epb.data.len());
                        self.packets += 1;
                        on_packet(Packet {
                            link_type: iface.link_type,
                            ts_ns: to_ns(units, iface),
                            data: &epb.data[..caplen],
                            orig_len: epb.origlen.max(caplen as u32),
                            interface: epb.if_id,
                        });
                    }
                    Block::SimplePacket(spb) => {
                        let iface = interface(interfaces, 0, offset)?;
                        let caplen = (spb.origlen as usize).min(spb.data.len());
                        self.packets += 1;
                        on_packet(Packet {
                            link_type: iface.link_type,
                            ts_ns: 0,
                            data: &spb.data[..caplen],
                            orig_len: spb.origlen,
                            interface: 0,
                        });
                    }
                    // Statistics, name resolution, secrets, custom, unknown: not packets.
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

fn interface(interfaces: &[Interface], id: u32, offset: u64) -> Result<Interface, CaptureError> {
    interfaces
        .get(id as usize)
        .copied()
        .ok_or(CaptureError::UnknownInterface {
            offset,
            interface: id,
            known: interfaces.len(),
        })
}

/// The obsolete Packet Block (type 2): interface id u16, drops u16,
/// timestamp high/low, caplen, origlen, data, options.
fn obsolete_packet(
    rec: &[u8],
    be: bool,
    interfaces: &[Interface],
    offset: u64,
    packets: &mut u64,
    on_packet: &mut dyn FnMut(Packet<'_>),
) -> Result<(), CaptureError> {
    if rec.len() < 32 {
        return Err(CaptureError::Malformed {
            offset,
            what: "pcapng packet block".into(),
        });
    }
    let if_id = if be {
        u16::from_be_bytes([rec[8], rec[9]])
    } else {
        u16::from_le_bytes([rec[8], rec[9]])
    };
    let iface = interface(interfaces, u32::from(if_id), offset)?;
    let units =
        (u64::from(read_u32(&rec[12..16], be)) << 32) | u64::from(read_u32(&rec[16..20], be));
    let caplen = read_u32(&rec[20..24], be) as usize;
    let orig_len = read_u32(&rec[24..28], be);
    let body = &rec[28..rec.len() - 4];
    let data = body.get(..caplen).ok_or(CaptureError::Malformed {
        offset,
        what: "pcapng packet block (captured length beyond the block)".into(),
    })?;
    *packets += 1;
    on_packet(Packet {
        link_type: iface.link_type,
        ts_ns: to_ns(units, iface),
        data,
        orig_len: orig_len.max(caplen as u32),
        interface: u32::from(if_id),
    });
    Ok(())
}

/// Timestamp units per second for an `if_tsresol` value: 10^n, or 2^n when
/// the top bit is set. (pcap-parser's `ts_resolution` rejects every binary
/// resolution: it range-checks the byte with the flag bit still set.) An
/// impossible value falls back to the default, microseconds.
fn units_per_sec(if_tsresol: u8) -> u64 {
    let n = u32::from(if_tsresol & 0x7F);
    let units = if if_tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n)
    };
    units.unwrap_or(1_000_000)
}

fn to_ns(units: u64, iface: Interface) -> i64 {
    let ns = u128::from(units) * 1_000_000_000 / u128::from(iface.units_per_sec);
    let ns = i64::try_from(ns).unwrap_or(i64::MAX);
    ns.saturating_add(iface.offset_secs.saturating_mul(1_000_000_000))
}

/// (big endian, nanosecond, modified) for a legacy pcap magic.
fn pcap_magic(m: [u8; 4]) -> Option<(bool, bool, bool)> {
    match u32::from_le_bytes(m) {
        0xA1B2_C3D4 => Some((false, false, false)),
        0xA1B2_3C4D => Some((false, true, false)),
        0xA1B2_CD34 => Some((false, false, true)),
        _ => match u32::from_be_bytes(m) {
            0xA1B2_C3D4 => Some((true, false, false)),
            0xA1B2_3C4D => Some((true, true, false)),
            0xA1B2_CD34 => Some((true, false, true)),
            _ => None,
        },
    }
}

fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}
