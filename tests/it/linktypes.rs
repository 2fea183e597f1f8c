//! Link types the shared data set has no real capture of (or none with IP
//! inside), built from real packets.
//!
//! The IP packets of two fixtures (`dlms.pcap`: IPv4, a TCP connection and
//! a UDP flow, Ethernet padding kept; `http-empty-useragent.pcap`: an IPv6
//! TCP connection) are wrapped in the headers of each link type, following
//! the specifications cited in `flowlens_core::packet`'s link modules (the
//! builders below are written from those layouts, not from the decoder), with
//! frames that carry no IP interleaved (802.11 management, control, null and
//! protected frames, LCP, STP, netlink, CAN, Q.933). Each generated capture
//! must give exactly the flows of its IP packets read as raw IP (same
//! packets, bytes on the wire, timestamps and kept IP bytes: so an FCS the
//! radio header announces must not leak into the packet bytes), and skip
//! the other frames for the expected reasons. `tshark.rs` checks the same
//! captures against tshark; `write_generated_captures` writes them out for
//! that (see there).

use std::collections::BTreeMap;

use flowlens_core::Flow;

use super::util::{analyze, assert_consistent, crc32, packets_of_fixture, write_pcap, OwnedPacket};

/// A capture built here.
pub struct Generated {
    pub name: &'static str,
    pub link_type: u32,
    pub packets: Vec<OwnedPacket>,
    /// Frames of `packets` that carry an IP packet of the sources (the others
    /// are skipped).
    pub ip_frames: Vec<bool>,
    pub skipped: &'static [(&'static str, u64)],
}

impl Generated {
    pub fn bytes(&self) -> Vec<u8> {
        write_pcap(self.link_type, &self.packets, false, false)
    }
}

/// One IP packet of the sources.
#[derive(Clone)]
struct Ip {
    ts_ns: i64,
    data: Vec<u8>,
    /// Length on the wire of the IP packet (and any Ethernet padding).
    wire: u32,
}

impl Ip {
    fn v6(&self) -> bool {
        self.data[0] >> 4 == 6
    }
    fn ether_type(&self) -> [u8; 2] {
        if self.v6() {
            [0x86, 0xDD]
        } else {
            [0x08, 0x00]
        }
    }
}

/// The IP packets of dlms.pcap (Ethernet) and http-empty-useragent.pcap
/// (null), in that order (also time order).
fn sources() -> Vec<Ip> {
    let mut out = Vec::new();
    for (name, link) in [("dlms.pcap", 14), ("http-empty-useragent.pcap", 4)] {
        for p in packets_of_fixture(name) {
            out.push(Ip {
                ts_ns: p.ts_ns,
                data: p.data[link..].to_vec(),
                wire: p.orig_len - link as u32,
            });
        }
    }
    out
}

/// The (header, trailer) around IP packet `i`.
type Wrap<'a> = &'a dyn Fn(usize, &Ip) -> (Vec<u8>, Vec<u8>);

/// Builds a capture: `wrap` makes the frame of each IP packet (its index
/// given, to vary the encapsulation); `extra` frames without IP go after the
/// IP packet of the same index.
fn build(
    name: &'static str,
    link_type: u32,
    skipped: &'static [(&'static str, u64)],
    wrap: Wrap<'_>,
    extra: &[(usize, Vec<u8>)],
) -> Generated {
    let mut packets = Vec::new();
    let mut ip_frames = Vec::new();
    for (i, ip) in sources().iter().enumerate() {
        // (header, trailer) around the IP packet.
        let (head, tail) = wrap(i, ip);
        let mut data = head.clone();
        data.extend_from_slice(&ip.data);
        data.extend_from_slice(&tail);
        packets.push(OwnedPacket {
            link_type,
            ts_ns: ip.ts_ns,
            orig_len: ip.wire + (head.len() + tail.len()) as u32,
            data,
            interface: 0,
        });
        ip_frames.push(true);
        for (_, frame) in extra.iter().filter(|(at, _)| *at == i) {
            packets.push(OwnedPacket {
                link_type,
                ts_ns: ip.ts_ns,
                orig_len: frame.len() as u32,
                data: frame.clone(),
                interface: 0,
            });
            ip_frames.push(false);
        }
    }
    Generated {
        name,
        link_type,
        packets,
        ip_frames,
        skipped,
    }
}

const MAC_A: [u8; 6] = [0x00, 0x1B, 0x21, 0x3A, 0x4F, 0x10];
const MAC_B: [u8; 6] = [0x00, 0x1B, 0x21, 0x3A, 0x4F, 0x20];
const MAC_C: [u8; 6] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x01];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// LLC UI + SNAP with this OUI and protocol id.
fn snap(oui: [u8; 3], pid: [u8; 2]) -> Vec<u8> {
    cat(&[&[0xAA, 0xAA, 0x03], &oui, &pid])
}

// ---------------------------------------------------------------------------
// 802.11

/// MAC header of an 802.11 data frame: `fc` (frame control), and the QoS
/// control when the subtype has one, HT control when the Order bit is set.
fn wlan_header(fc: [u8; 2]) -> Vec<u8> {
    let mut h = cat(&[&fc, &[0x2C, 0x00], &MAC_A, &MAC_B, &MAC_C, &[0x10, 0x00]]);
    if fc[1] & 0x03 == 0x03 {
        h.extend_from_slice(&MAC_C); // fourth address
    }
    if fc[0] & 0x80 != 0 {
        h.extend_from_slice(&[0x05, 0x00]); // QoS control: TID 5
        if fc[1] & 0x80 != 0 {
            h.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]); // HT control
        }
    }
    h
}

/// Frame controls of the data frames used, in turn: data to the AP, QoS
/// data from the AP, QoS data with HT control, a 4-address (WDS) QoS frame,
/// and a data frame with the bridge-tunnel OUI.
fn wlan_fc(i: usize) -> ([u8; 2], [u8; 3]) {
    match i % 5 {
        0 => ([0x08, 0x01], [0, 0, 0]),
        1 => ([0x88, 0x02], [0, 0, 0]),
        2 => ([0x88, 0x81], [0, 0, 0]),
        3 => ([0x88, 0x03], [0, 0, 0]),
        _ => ([0x08, 0x02], [0, 0, 0xF8]),
    }
}

/// 802.11 header and LLC/SNAP of the data frame for IP packet `i`; `pad`
/// pads the MAC header to 4 bytes (radiotap's data-pad flag).
fn wlan_data(i: usize, ip: &Ip, pad: bool) -> Vec<u8> {
    let (fc, oui) = wlan_fc(i);
    let mut h = wlan_header(fc);
    if pad {
        while !h.len().is_multiple_of(4) {
            h.push(0);
        }
    }
    h.extend_from_slice(&snap(oui, ip.ether_type()));
    h
}

/// 802.11 frames without IP: a beacon, an ACK, a Null and a QoS Null data
/// frame, a protected (CCMP) data frame, and ARP in a data frame.
fn wlan_others() -> Vec<(usize, Vec<u8>)> {
    let beacon = cat(&[
        &[0x80, 0x00, 0x00, 0x00],
        &[0xFF; 6],
        &MAC_C,
        &MAC_C,
        &[0x20, 0x00],
        &[0u8; 8],                 // timestamp
        &[0x64, 0x00, 0x11, 0x04], // interval, capabilities
        &[0x00, 0x04],
        b"test",
    ]);
    let ack = cat(&[&[0xD4, 0x00, 0x00, 0x00], &MAC_A]);
    let null = cat(&[&wlan_header([0x48, 0x01])]);
    let qos_null = wlan_header([0xC8, 0x01]);
    let protected = cat(&[
        &wlan_header([0x08, 0x41]),
        &[0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00], // CCMP header
        &[0x5A; 48],
        &[0xA5; 8], // MIC
    ]);
    let arp = cat(&[
        &wlan_header([0x08, 0x01]),
        &snap([0, 0, 0], [0x08, 0x06]),
        &[0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01],
        &MAC_A,
        &[10, 1, 1, 1],
        &[0; 6],
        &[10, 1, 1, 2],
    ]);
    vec![
        (0, beacon),
        (1, ack),
        (2, null),
        (5, qos_null),
        (9, protected),
        (12, arp),
    ]
}

const WLAN_SKIPPED: &[(&str, u64)] = &[
    ("802.11 frame without data (management, control, null)", 4),
    ("encrypted 802.11 payload", 1),
    ("not IP", 1),
];

/// Radiotap header: TSFT, Flags, Rate; `extended` adds a second (empty)
/// presence bitmap, which moves the fields.
fn radiotap(flags: u8, extended: bool) -> Vec<u8> {
    let mut h = vec![0, 0, 0, 0];
    if extended {
        h.extend_from_slice(&0x8000_0007u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
    } else {
        h.extend_from_slice(&0x0000_0007u32.to_le_bytes());
    }
    while h.len() % 8 != 0 {
        h.push(0);
    }
    h.extend_from_slice(&0x0000_0001_2345_6789u64.to_le_bytes());
    h.push(flags);
    h.push(0x6C); // 54 Mb/s
    let len = h.len() as u16;
    h[2..4].copy_from_slice(&len.to_le_bytes());
    h
}

/// An 802.11 frame with its FCS.
fn with_fcs(frame: &[u8]) -> Vec<u8> {
    cat(&[frame, &crc32(frame).to_le_bytes()])
}

fn wlan(
    name: &'static str,
    link_type: u32,
    radio: &dyn Fn(usize) -> Vec<u8>,
    fcs: bool,
) -> Generated {
    build(
        name,
        link_type,
        WLAN_SKIPPED,
        &|i, ip| {
            let head = cat(&[&radio(i), &wlan_data(i, ip, false)]);
            let tail = if fcs {
                crc32(&cat(&[&wlan_data(i, ip, false), &ip.data]))
                    .to_le_bytes()
                    .to_vec()
            } else {
                Vec::new()
            };
            (head, tail)
        },
        &wlan_others()
            .into_iter()
            .map(|(i, f)| {
                let f = if fcs { with_fcs(&f) } else { f };
                (i, cat(&[&radio(i), &f]))
            })
            .collect::<Vec<_>>(),
    )
}

/// PPI header with an 802.11-Common field saying the frame has an FCS.
fn ppi() -> Vec<u8> {
    let mut h = vec![0, 0];
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(&105u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(&0x0000_0001_2345_6789u64.to_le_bytes()); // TSFT
    h.extend_from_slice(&0x0001u16.to_le_bytes()); // flags: FCS present
    h.extend_from_slice(&108u16.to_le_bytes()); // rate, 500 kb/s units
    h.extend_from_slice(&2437u16.to_le_bytes()); // channel frequency
    h.extend_from_slice(&0x00C0u16.to_le_bytes()); // channel flags
    h.extend_from_slice(&[0, 0, 0xC4, 0xA6]); // FHSS, signal, noise
    assert_eq!(h.len(), 32);
    h
}

/// Prism header (linux-wlan-ng), little-endian, 144 bytes.
fn prism() -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0x44u32.to_le_bytes());
    h.extend_from_slice(&144u32.to_le_bytes());
    let mut dev = *b"wlan0\0\0\0\0\0\0\0\0\0\0\0";
    dev[15] = 0;
    h.extend_from_slice(&dev);
    for (k, value) in [0u32, 0, 6, 0, 0, 40, 0, 108, 0, 100].iter().enumerate() {
        let did = ((k as u32 + 1) << 12) | 0x44;
        h.extend_from_slice(&did.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // status: present
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&value.to_le_bytes());
    }
    assert_eq!(h.len(), 144);
    h
}

/// AVS capture header, version 1, 64 bytes, big-endian.
fn avs() -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0x8021_1001u32.to_be_bytes());
    h.extend_from_slice(&64u32.to_be_bytes());
    h.extend_from_slice(&0x0000_0001_2345_6789u64.to_be_bytes()); // mactime
    h.extend_from_slice(&0x0000_0000_5BE0_0000u64.to_be_bytes()); // hosttime
    for v in [
        6u32,
        6,
        540,
        0,
        0,
        1,
        (-40i32) as u32,
        (-95i32) as u32,
        0,
        1,
    ] {
        // phytype, channel, datarate, antenna, priority, ssi type, signal,
        // noise, preamble, encoding
        h.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(h.len(), 64);
    h
}

// ---------------------------------------------------------------------------
// PPP, HDLC, Frame Relay, SLIP

/// PPP protocol field of an IP packet: two bytes, or one (protocol field
/// compression) every third packet.
fn ppp_proto(i: usize, ip: &Ip) -> Vec<u8> {
    let p = if ip.v6() { 0x57 } else { 0x21 };
    if i % 3 == 2 {
        vec![p]
    } else {
        vec![0x00, p]
    }
}

/// An LCP Configure-Request (protocol 0xC021) with a magic number.
fn lcp() -> Vec<u8> {
    vec![
        0xC0, 0x21, 0x01, 0x01, 0x00, 0x0A, 0x05, 0x06, 0x12, 0x34, 0x56, 0x78,
    ]
}

/// A Q.922 address (2 bytes) for this DLCI, C/R, FECN, BECN and DE clear.
fn q922(dlci: u16) -> [u8; 2] {
    [
        ((dlci >> 4) << 2) as u8,
        (((dlci & 0x0F) << 4) as u8) | 0x01,
    ]
}

// ---------------------------------------------------------------------------
// Ethernet encapsulations

fn eth(ether_type: [u8; 2]) -> Vec<u8> {
    cat(&[&MAC_B, &MAC_A, &ether_type])
}

/// MPLS label stack entry.
fn label(label: u32, bottom: bool) -> [u8; 4] {
    ((label << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes()
}

/// The Ethernet header stack of IP packet `i`, in turn: 802.3 + LLC/SNAP;
/// 802.1ad + 802.1Q; 802.1Q + MPLS (two labels); 802.1ah + the customer's
/// Ethernet with an 802.1Q tag; VN-Tag; 802.1Q + PPPoE; MPLS + pseudowire
/// control word + Ethernet; 802.1Q + 802.3 + LLC/SNAP with the
/// bridge-tunnel OUI.
fn ether_stack(i: usize, ip: &Ip) -> Vec<u8> {
    let et = ip.ether_type();
    let len802_3 = |extra: usize| ((8 + extra + ip.data.len()) as u16).to_be_bytes();
    match i % 8 {
        0 => cat(&[&MAC_B, &MAC_A, &len802_3(0), &snap([0, 0, 0], et)]),
        1 => cat(&[
            &eth([0x88, 0xA8]),
            &[0x00, 0x64, 0x81, 0x00],
            &[0x00, 0x0A],
            &et,
        ]),
        2 => cat(&[
            &eth([0x81, 0x00]),
            &[0x00, 0x0A, 0x88, 0x47],
            &label(1000, false),
            &label(16, true),
        ]),
        3 => cat(&[
            &eth([0x88, 0xE7]),
            &[0x00, 0x01, 0x00, 0x2A], // I-TAG: I-SID 298
            &MAC_C,
            &MAC_B,
            &[0x81, 0x00, 0x00, 0x0A],
            &et,
        ]),
        4 => cat(&[&eth([0x89, 0x26]), &[0x80, 0x05, 0x00, 0x03], &et]),
        5 => cat(&[
            &eth([0x81, 0x00]),
            &[0x00, 0x0A, 0x88, 0x64],
            &[0x11, 0x00, 0x12, 0x34],
            &((ip.data.len() + 2) as u16).to_be_bytes(),
            &if ip.v6() { [0x00, 0x57] } else { [0x00, 0x21] },
        ]),
        6 => cat(&[
            &eth([0x88, 0x47]),
            &label(2000, true),
            &[0x00, 0x00, 0x00, 0x07], // control word, sequence 7
            &MAC_C,
            &MAC_B,
            &et,
        ]),
        _ => cat(&[
            &eth([0x81, 0x00]),
            &[0x00, 0x0A],
            &len802_3(0),
            &snap([0, 0, 0xF8], et),
        ]),
    }
}

/// A spanning tree BPDU (802.3, LLC SAP 0x42).
fn stp() -> Vec<u8> {
    let mut f = cat(&[
        &[0x01, 0x80, 0xC2, 0, 0, 0],
        &MAC_A,
        &[0x00, 0x26],
        &[0x42, 0x42, 0x03],
    ]);
    f.extend_from_slice(&[0; 35]);
    f
}

// ---------------------------------------------------------------------------
// Linux cooked capture v1

fn sll(hatype: u16, protocol: u16) -> Vec<u8> {
    cat(&[
        &[0x00, 0x00],
        &hatype.to_be_bytes(),
        &[0x00, 0x06],
        &MAC_A,
        &[0, 0],
        &protocol.to_be_bytes(),
    ])
}

/// The generated captures.
pub fn generated() -> Vec<Generated> {
    vec![
        wlan("gen-ieee802-11.pcap", 105, &|_| Vec::new(), false),
        // Radiotap: FCS at the end of every frame (flag 0x10); every other
        // header with two presence bitmaps.
        wlan(
            "gen-radiotap.pcap",
            127,
            &|i| radiotap(0x10, i % 2 == 1),
            true,
        ),
        wlan("gen-ppi.pcap", 192, &|_| ppi(), true),
        wlan("gen-prism.pcap", 119, &|_| prism(), false),
        wlan("gen-avs.pcap", 163, &|_| avs(), false),
        // Radiotap's data-pad flag: 802.11 headers padded to 4 bytes.
        build(
            "gen-radiotap-pad.pcap",
            127,
            &[],
            &|i, ip| {
                (
                    cat(&[&radiotap(0x20, false), &wlan_data(i, ip, true)]),
                    Vec::new(),
                )
            },
            &[],
        ),
        build(
            "gen-ppp-hdlc.pcap",
            50,
            &[("not IP", 1)],
            &|i, ip| (cat(&[&[0xFF, 0x03], &ppp_proto(i, ip)]), Vec::new()),
            &[(0, cat(&[&[0xFF, 0x03], &lcp()]))],
        ),
        build(
            "gen-ppp-with-dir.pcap",
            204,
            &[("not IP", 1)],
            &|i, ip| {
                let dir = [(i % 2) as u8];
                let framing: &[u8] = if i % 4 < 2 { &[0xFF, 0x03] } else { &[] };
                (cat(&[&dir, framing, &ppp_proto(i, ip)]), Vec::new())
            },
            &[(0, cat(&[&[1], &lcp()]))],
        ),
        build(
            "gen-pppoe-no-ether.pcap",
            51,
            &[],
            &|i, ip| {
                let proto = ppp_proto(i, ip);
                let len = ((ip.data.len() + proto.len()) as u16).to_be_bytes();
                (cat(&[&[0x11, 0x00, 0x12, 0x34], &len, &proto]), Vec::new())
            },
            &[],
        ),
        build(
            "gen-slip.pcap",
            8,
            &[],
            &|i, _| {
                let mut h = vec![0u8; 16];
                h[0] = (i % 2) as u8; // direction
                h[1] = 0x40; // TYPE_IP: not compressed
                (h, Vec::new())
            },
            &[],
        ),
        build(
            "gen-frelay.pcap",
            107,
            &[("not IP", 1)],
            &|i, ip| {
                let a = q922(100);
                let head = match i % 3 {
                    // RFC 2427: UI, NLPID.
                    0 => cat(&[&a, &[0x03, if ip.v6() { 0x8E } else { 0xCC }]]),
                    // RFC 2427 SNAP: UI, pad, NLPID 0x80, OUI, EtherType.
                    1 => cat(&[&a, &[0x03, 0x00, 0x80, 0, 0, 0], &ip.ether_type()]),
                    // Cisco: an EtherType after the address.
                    _ => cat(&[&a, &ip.ether_type()]),
                };
                (head, Vec::new())
            },
            // A Q.933 status enquiry on DLCI 0.
            &[(
                0,
                cat(&[&q922(0), &[0x03, 0x08, 0x00, 0x75, 0x95, 0x01, 0x01, 0x01]]),
            )],
        ),
        build(
            "gen-fddi.pcap",
            10,
            &[("not IP", 1)],
            &|_, ip| {
                (
                    cat(&[&[0x50], &MAC_B, &MAC_A, &snap([0, 0, 0], ip.ether_type())]),
                    Vec::new(),
                )
            },
            // An SMT frame (frame control 0x41).
            &[(
                0,
                cat(&[&[0x41], &MAC_B, &MAC_A, &[0x01, 0x01, 0x01, 0x00], &[0; 28]]),
            )],
        ),
        build(
            "gen-ethernet-stacks.pcap",
            1,
            &[("not IP", 1)],
            &|i, ip| (ether_stack(i, ip), Vec::new()),
            &[(0, stp())],
        ),
        build(
            "gen-linux-sll-protocols.pcap",
            113,
            &[
                ("netlink (Linux cooked capture)", 1),
                ("Linux cooked protocol 0x000c (CAN)", 1),
            ],
            &|i, ip| {
                let head = match i % 4 {
                    // ETH_P_802_2: an LLC frame.
                    0 => cat(&[&sll(1, 0x0004), &snap([0, 0, 0], ip.ether_type())]),
                    // ETH_P_WAN_PPP on a PPP device: PPP in HDLC framing.
                    1 => cat(&[&sll(512, 0x0007), &[0xFF, 0x03], &ppp_proto(i, ip)]),
                    // ETH_P_ALL-style: a whole Ethernet frame.
                    2 => cat(&[&sll(1, 0x0003), &eth(ip.ether_type())]),
                    _ => cat(&[&sll(1, u16::from_be_bytes(ip.ether_type()))]),
                };
                (head, Vec::new())
            },
            &[
                // Netlink (ARPHRD_NETLINK 824, NETLINK_ROUTE): an RTM_NEWLINK header.
                (
                    0,
                    cat(&[
                        &sll(824, 0x0000),
                        &[0x10, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
                    ]),
                ),
                // CAN (ARPHRD_CAN 280, ETH_P_CAN): one classic CAN frame.
                (
                    1,
                    cat(&[
                        &sll(280, 0x000C),
                        &[0x23, 0x01, 0, 0, 2, 0, 0, 0, 0xAB, 0xCD, 0, 0, 0, 0, 0, 0],
                    ]),
                ),
            ],
        ),
    ]
}

/// The raw-IP capture of the generated capture's IP packets, with the
/// same lengths on the wire.
fn reference(g: &Generated) -> Vec<u8> {
    let ips: Vec<OwnedPacket> = sources()
        .iter()
        .zip(g.packets.iter().zip(&g.ip_frames).filter(|(_, ip)| **ip))
        .map(|(ip, (frame, _))| OwnedPacket {
            link_type: 101,
            ts_ns: ip.ts_ns,
            data: ip.data.clone(),
            orig_len: frame.orig_len,
            interface: 0,
        })
        .collect();
    write_pcap(101, &ips, false, false)
}

fn comparable(f: &Flow) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        &f.key,
        f.packets,
        f.bytes,
        f.first_ts_ns,
        f.last_ts_ns,
        &f.head,
    )
}

#[test]
fn generated_link_types_give_the_flows_of_their_ip_packets() {
    let all = generated();
    assert!(all.len() >= 14);
    for g in &all {
        let a = analyze(&g.bytes());
        let r = analyze(&reference(g));
        assert_eq!(a.error, None, "{}", g.name);
        assert_consistent(g.name, &a);
        assert_eq!(r.flows.len(), 3, "{}: the sources have 3 flows", g.name);
        let got: Vec<_> = a.flows.iter().map(comparable).collect();
        let want: Vec<_> = r.flows.iter().map(comparable).collect();
        assert_eq!(got, want, "{}", g.name);
        let skipped: BTreeMap<String, u64> =
            g.skipped.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(a.summary.skipped, skipped, "{}", g.name);
    }
}

/// Writes the generated captures to `$FLOWLENS_WRITE_GENERATED` (a
/// directory), for tshark (`tshark.rs`):
/// `FLOWLENS_WRITE_GENERATED=/tmp/gen cargo test --test tests write_generated -- --ignored`.
#[test]
#[ignore = "writes files; run by hand to regenerate tshark's expected lines"]
fn write_generated_captures() {
    let dir = std::env::var_os("FLOWLENS_WRITE_GENERATED").expect("FLOWLENS_WRITE_GENERATED");
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("output directory");
    for g in generated() {
        std::fs::write(dir.join(g.name), g.bytes()).expect("write");
    }
}

/// Every link type this crate decodes (`flowlens_core::packet::linktype`).
const LINK_TYPES: &[u32] = &[
    0, 1, 8, 9, 10, 12, 14, 50, 51, 101, 104, 105, 107, 108, 113, 119, 127, 129, 149, 163, 178,
    192, 204, 226, 228, 229, 239, 242, 258, 276,
];

/// `decode` never panics: every frame of the fixtures and generated
/// captures cut at every length up to 200 bytes, with bytes overwritten
/// (seeded), with its first 8 bytes all ones (hostile length fields), and
/// read as every other link type.
#[test]
fn decode_survives_cut_damaged_and_misread_frames() {
    use flowlens_core::packet::decode;
    let mut frames: Vec<OwnedPacket> = generated().into_iter().flat_map(|g| g.packets).collect();
    for f in super::util::FIXTURES {
        frames.extend(super::util::read_packets(f.bytes).0);
    }
    assert!(frames.len() > 1000);
    let mut rng = super::util::Rng::new(42);
    let mut decoded = 0;
    for p in &frames {
        for n in 0..p.data.len().min(200) {
            let _ = decode(p.link_type, &p.data[..n], p.orig_len);
        }
        for _ in 0..16 {
            let mut d = p.data.clone();
            if d.is_empty() {
                break;
            }
            let at = rng.below(d.len().min(128));
            d[at] = rng.next() as u8;
            let _ = decode(p.link_type, &d, p.orig_len);
        }
        let mut ones = p.data.clone();
        for b in ones.iter_mut().take(8) {
            *b = 0xFF;
        }
        for &lt in LINK_TYPES {
            decoded += usize::from(decode(lt, &p.data, p.orig_len).is_ok());
            let _ = decode(lt, &ones, p.orig_len);
            let _ = decode(lt, &p.data, 0);
        }
    }
    // Real frames read as the wrong link type mostly fail, and the right
    // one succeeds: some decode, not all.
    assert!(decoded > frames.len() && decoded < frames.len() * LINK_TYPES.len());
}

/// The link types listed above are the ones `decode` knows: any other is
/// an unsupported link type; so is LINKTYPE_USER2 (149) unless the frame
/// starts with a valid PKTAP header (an Ethernet frame here does not).
#[test]
fn link_types_outside_the_list_are_unsupported() {
    use flowlens_core::packet::decode;
    use flowlens_core::SkipReason;
    let frame = &packets_of_fixture("dlms.pcap")[0].data;
    for lt in 0..300u32 {
        let unsupported =
            decode(lt, frame, frame.len() as u32) == Err(SkipReason::UnsupportedLinkType(lt));
        assert_eq!(
            unsupported,
            !LINK_TYPES.contains(&lt) || lt == 149,
            "link type {lt}"
        );
    }
}
