//! Bidirectional flows keyed on the 5-tuple.
//!
//! A flow is identified by its protocol and its two endpoints in canonical
//! order; each packet's [`Direction`] is relative to the flow's first sender.
//! A flow ends after `idle_timeout_ns` without packets, or once TCP has closed
//! it (RST, or FIN seen in both directions): the next packet of the same key
//! starts a new flow if it opens a connection (a SYN without ACK) or arrives
//! after the idle timeout; stray segments after a close (last ACK, a
//! retransmitted FIN) stay with the closed flow. Flows come out in the order
//! of their first packet in the capture.

use std::net::IpAddr;

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::packet::{self, Decoded, SkipReason, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};

/// Default idle timeout: 120 s.
pub const DEFAULT_IDLE_TIMEOUT_NS: u64 = 120_000_000_000;

/// How flows are cut and how much of each packet is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowConfig {
    /// A gap longer than this (in the capture's own timestamps) ends a flow.
    pub idle_timeout_ns: u64,
    /// How many packets per flow keep their bytes ([`Flow::head`]).
    pub keep_packets: usize,
    /// How many bytes of each kept packet, from the IP header on.
    pub keep_bytes: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            idle_timeout_ns: DEFAULT_IDLE_TIMEOUT_NS,
            keep_packets: 8,
            keep_bytes: 128,
        }
    }
}

/// Direction of a packet relative to the first packet of its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Sent by the flow's initiator (the sender of its first packet).
    Forward,
    /// Sent to the initiator.
    Backward,
}

impl Direction {
    /// 0 for forward, 1 for backward: index into per-direction counters.
    pub fn index(self) -> usize {
        match self {
            Direction::Forward => 0,
            Direction::Backward => 1,
        }
    }
}

/// A flow's 5-tuple, written from the initiator's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FlowKey {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub proto: u8,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
}

impl FlowKey {
    /// Protocol as `trainer flows --json` and the page write it:
    /// `tcp`, `udp`, `icmp`, `icmpv6`, or the protocol number.
    pub fn proto_name(&self) -> String {
        packet::proto_name(self.proto)
    }

    /// The same flow seen from the other side.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
        }
    }

    /// Canonical (direction-free) form: the smaller endpoint first.
    fn canonical(&self) -> (FlowKey, Direction) {
        if (self.src, self.sport) <= (self.dst, self.dport) {
            (*self, Direction::Forward)
        } else {
            (self.reversed(), Direction::Backward)
        }
    }
}

/// The first packets of a flow, as kept for the representation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketHead {
    pub dir: Direction,
    /// Capture timestamp, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Length of the IP packet on the wire (from its header, or the frame).
    pub ip_len: u32,
    /// The packet from the IP header on, at most `keep_bytes`, as captured
    /// (shorter when the capture's snap length cut it).
    pub bytes: Vec<u8>,
}

/// One bidirectional flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// The 5-tuple as the initiator sent it.
    pub key: FlowKey,
    /// Packets per direction, `[forward, backward]`.
    pub packets: [u64; 2],
    /// Frame bytes on the wire per direction, `[forward, backward]`.
    pub bytes: [u64; 2],
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// The first `keep_packets` packets.
    pub head: Vec<PacketHead>,
    /// Index of the flow's first packet among all packets read.
    pub first_packet_index: u64,
}

impl Flow {
    pub fn total_packets(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }
    pub fn total_bytes(&self) -> u64 {
        self.bytes[0] + self.bytes[1]
    }
    /// Duration in nanoseconds (0 for one packet; never negative even when
    /// the capture's timestamps go backwards).
    pub fn duration_ns(&self) -> u64 {
        self.last_ts_ns.saturating_sub(self.first_ts_ns).max(0) as u64
    }
}

/// What was read: packets, flows and what was skipped, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Every packet read from the capture (in flows + skipped).
    pub packets: u64,
    /// Flows made.
    pub flows: u64,
    /// Packets not put in any flow, by [`SkipReason::as_str`].
    pub skipped: std::collections::BTreeMap<String, u64>,
    /// Packets put in flows that carry a tunnel (counted, not decapsulated),
    /// by kind (`gre`, `ipip`, `vxlan`, `gtp`, ...).
    pub tunnelled: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy)]
struct Live {
    index: usize,
    closed: bool,
    fin_seen: [bool; 2],
}

/// Assigns packets to flows.
#[derive(Debug, Default)]
pub struct FlowTable {
    cfg: FlowConfig,
    flows: Vec<Flow>,
    live: FxHashMap<FlowKey, Live>,
    /// Skipped packets by reason; named only when a summary is asked for.
    skipped: FxHashMap<SkipReason, u64>,
    summary: Summary,
    packets_seen: u64,
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> Self {
        Self {
            cfg,
            ..Default::default()
        }
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Decode one frame and put it in its flow (or count why not).
    pub fn push_frame(&mut self, link_type: u32, ts_ns: i64, frame: &[u8], orig_len: u32) {
        match packet::decode(link_type, frame, orig_len) {
            Ok(d) => self.push_decoded(ts_ns, &d, orig_len),
            Err(reason) => self.skip(reason),
        }
    }

    /// Count a packet that is in no flow.
    pub fn skip(&mut self, reason: SkipReason) {
        self.packets_seen += 1;
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// Put one decoded packet in its flow. `frame_len` is the frame's length
    /// on the wire, counted in [`Flow::bytes`].
    pub fn push_decoded(&mut self, ts_ns: i64, d: &Decoded<'_>, frame_len: u32) {
        let index = self.packets_seen;
        self.packets_seen += 1;
        if let Some(t) = d.tunnel {
            *self
                .summary
                .tunnelled
                .entry(t.as_str().to_string())
                .or_insert(0) += 1;
        }
        let seen = FlowKey {
            proto: d.proto,
            src: d.src,
            sport: d.sport,
            dst: d.dst,
            dport: d.dport,
        };
        let (canon, _) = seen.canonical();
        let flags = d.tcp_flags.unwrap_or(0);
        let opens = d.proto == 6 && flags & (TCP_SYN | TCP_ACK) == TCP_SYN;

        let idle_limit = i64::try_from(self.cfg.idle_timeout_ns).unwrap_or(i64::MAX);
        let flows = &mut self.flows;
        let start_flow = |flows: &mut Vec<Flow>| {
            flows.push(Flow {
                key: seen,
                packets: [0; 2],
                bytes: [0; 2],
                first_ts_ns: ts_ns,
                last_ts_ns: ts_ns,
                head: Vec::new(),
                first_packet_index: index,
            });
            Live {
                index: flows.len() - 1,
                closed: false,
                fin_seen: [false; 2],
            }
        };
        let live = match self.live.entry(canon) {
            Entry::Occupied(e) => {
                let l = e.into_mut();
                let idle = ts_ns.saturating_sub(flows[l.index].last_ts_ns) > idle_limit;
                if idle || (l.closed && opens) {
                    *l = start_flow(flows);
                }
                l
            }
            Entry::Vacant(e) => e.insert(start_flow(flows)),
        };
        self.summary.flows = flows.len() as u64;
        let flow = &mut flows[live.index];
        let dir = if seen == flow.key {
            Direction::Forward
        } else {
            Direction::Backward
        };
        flow.packets[dir.index()] += 1;
        flow.bytes[dir.index()] += u64::from(frame_len);
        flow.last_ts_ns = flow.last_ts_ns.max(ts_ns);
        if flow.head.len() < self.cfg.keep_packets {
            let n = d.ip.len().min(self.cfg.keep_bytes);
            flow.head.push(PacketHead {
                dir,
                ts_ns,
                ip_len: d.ip_len,
                bytes: d.ip[..n].to_vec(),
            });
        }
        if d.proto == 6 {
            if flags & TCP_RST != 0 {
                live.closed = true;
            }
            if flags & TCP_FIN != 0 {
                live.fin_seen[dir.index()] = true;
                if live.fin_seen == [true, true] {
                    live.closed = true;
                }
            }
        }
    }

    /// Flows so far, in the order of their first packet.
    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Counts so far.
    pub fn summary(&self) -> Summary {
        Summary {
            packets: self.packets_seen,
            skipped: self.named_skipped(),
            ..self.summary.clone()
        }
    }

    /// All flows and the final counts.
    pub fn finish(self) -> (Vec<Flow>, Summary) {
        let summary = Summary {
            packets: self.packets_seen,
            skipped: self.named_skipped(),
            ..self.summary
        };
        (self.flows, summary)
    }

    /// Skipped packets by [`SkipReason::as_str`], sorted by name.
    fn named_skipped(&self) -> std::collections::BTreeMap<String, u64> {
        let mut named = std::collections::BTreeMap::new();
        for (reason, n) in &self.skipped {
            *named.entry(reason.as_str()).or_insert(0) += n;
        }
        named
    }
}
