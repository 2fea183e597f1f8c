//! IEEE 802.11 frames, and the radio headers captured in front of them.
//!
//! Layouts, and where each comes from:
//!
//! * 802.11 MAC header (IEEE 802.11-2020 §9.2.4.1, §9.3.2.1): frame control
//!   (protocol version in bits 0-1, type in 2-3, subtype in 4-7; flags To DS
//!   0x01, From DS 0x02, Protected Frame 0x40, +HTC/Order 0x80), duration,
//!   three addresses, sequence control: 24 bytes; a fourth address (+6) when
//!   To DS and From DS are both set; QoS data subtypes (subtype bit 3) add a
//!   2-byte QoS Control field, and 4 bytes of HT Control when the Order bit
//!   is set on them. Data subtypes with bit 2 set (Null, QoS Null, CF-Ack,
//!   CF-Poll without data) carry no payload. The body of a data frame starts
//!   with 802.2 LLC/SNAP (IEEE 802.11-2020 §5.1.5; walked by
//!   [`super::link`]). An A-MSDU (QoS Control bit 7) is a sequence of
//!   subframes (destination, source, length: 14 bytes, then LLC/SNAP); only
//!   the first subframe's packet is taken.
//! * Radiotap (radiotap.org): version 0, pad, little-endian header length at
//!   byte 2, presence bitmaps from byte 4 (bit 31: another bitmap follows).
//!   Fields follow the last bitmap in bit order, each aligned to its natural
//!   size from the start of the header: TSFT (bit 0, 8 bytes), Flags (bit 1,
//!   1 byte). Flags 0x10: the frame ends with its 4-byte FCS; 0x20: the
//!   802.11 header is padded to a multiple of 4 bytes.
//! * PPI (CACE Technologies, "Per-Packet Information Header Specification"
//!   1.0.10): version 0, flags, little-endian header length at byte 2, the
//!   packet's DLT (little-endian u32) at byte 4, then fields of a 2-byte type
//!   and 2-byte length. Field type 2 (802.11-Common) holds a u64 TSFT then
//!   u16 flags, 0x0001 meaning the frame ends with an FCS.
//! * Prism (linux-wlan-ng's capture header, as read by Wireshark's
//!   `packet-ieee80211-prism.c`): u32 message code 0x41 or 0x44 and u32
//!   message length (144) in the capturing host's byte order, then the
//!   802.11 frame after that length. Some drivers write an AVS header under
//!   this link type instead; it is recognised by its version word.
//! * AVS (linux-wlan-ng "AVS WLAN capture header"): big-endian version word
//!   0x80211001 or 0x80211002 and header length at byte 4.
//!
//! No FCS is assumed for plain 802.11 (LINKTYPE_IEEE802_11), Prism and AVS
//! frames, as in tshark's default: the link types do not say. Where the
//! radio header says an FCS is there (radiotap, PPI) it is cut off, when
//! the frame was captured whole; the IP header's length bounds the packet
//! either way. Frames the radio header marks as failing their FCS check
//! (radiotap flag 0x40) are decoded like the others, as tshark does.

use super::link::{add, linktype, locate, shift, walk, Bytes, Located, Step};
use super::SkipReason;

/// An 802.11 frame whose MAC header is at `at`: the packet in its body.
/// `pad`: the header is padded to 4 bytes (radiotap's data-pad flag).
pub(crate) fn frame(frame: Bytes<'_>, at: usize, pad: bool) -> Result<Located, SkipReason> {
    let fc0 = frame.u8(at)?;
    let fc1 = frame.u8(add(at, 1)?)?;
    if fc0 & 0x03 != 0 {
        // Protocol version 0 is the only one defined for these headers.
        return Err(SkipReason::MalformedLink);
    }
    // Management (0), control (1), extension (3): no network layer.
    if (fc0 >> 2) & 0x03 != 2 {
        return Err(SkipReason::WlanNoData);
    }
    let subtype = fc0 >> 4;
    if subtype & 0x04 != 0 {
        return Err(SkipReason::WlanNoData);
    }
    let mut hdr = 24;
    if fc1 & 0x03 == 0x03 {
        hdr += 6;
    }
    let mut amsdu = false;
    if subtype & 0x08 != 0 {
        amsdu = frame.u8(add(at, hdr)?)? & 0x80 != 0;
        hdr += 2;
        if fc1 & 0x80 != 0 {
            hdr += 4;
        }
    }
    if pad {
        hdr = (hdr + 3) & !3;
    }
    if fc1 & 0x40 != 0 {
        return Err(SkipReason::WlanEncrypted);
    }
    frame.get(at, hdr)?;
    let body = add(at, hdr)?;
    walk(frame, Step::Llc(if amsdu { add(body, 14)? } else { body }))
}

/// Radiotap header, then an 802.11 frame.
pub(crate) fn radiotap(bytes: Bytes<'_>, complete: bool) -> Result<Located, SkipReason> {
    if bytes.u8(0)? != 0 {
        return Err(SkipReason::MalformedLink);
    }
    let len = usize::from(bytes.le16(2)?);
    if len < 8 {
        return Err(SkipReason::MalformedLink);
    }
    bytes.get(0, len)?;
    let first = bytes.le32(4)?;
    let mut word = first;
    let mut at = 4;
    while word & 0x8000_0000 != 0 {
        at += 4;
        if at + 4 > len {
            return Err(SkipReason::MalformedLink);
        }
        word = bytes.le32(at)?;
    }
    at += 4;
    let mut flags = 0;
    if first & 0x02 != 0 {
        if first & 0x01 != 0 {
            at = ((at + 7) & !7) + 8;
        }
        if at >= len {
            return Err(SkipReason::MalformedLink);
        }
        flags = bytes.u8(at)?;
    }
    frame(
        without_fcs(bytes, flags & 0x10 != 0, complete, len)?,
        len,
        flags & 0x20 != 0,
    )
}

/// The frame without its last 4 bytes when it has an FCS and was captured
/// whole.
fn without_fcs<'a>(
    bytes: Bytes<'a>,
    fcs: bool,
    complete: bool,
    header: usize,
) -> Result<Bytes<'a>, SkipReason> {
    if !(fcs && complete) {
        return Ok(bytes);
    }
    match bytes.len().checked_sub(4) {
        Some(n) if n >= header => Ok(bytes.cut(n)),
        _ => Err(SkipReason::TruncatedLink),
    }
}

/// PPI header, then a packet of the DLT it names (802.11 usually).
pub(crate) fn ppi(bytes: Bytes<'_>, complete: bool, depth: u8) -> Result<Located, SkipReason> {
    if bytes.u8(0)? != 0 {
        return Err(SkipReason::MalformedLink);
    }
    let aligned = bytes.u8(1)? & 0x01 != 0;
    let len = usize::from(bytes.le16(2)?);
    if len < 8 {
        return Err(SkipReason::MalformedLink);
    }
    bytes.get(0, len)?;
    let dlt = bytes.le32(4)?;
    let mut fcs = false;
    let mut at = 8;
    while at + 4 <= len {
        let ty = bytes.le16(at)?;
        let data = usize::from(bytes.le16(at + 2)?);
        // 802.11-Common: TSFT (8 bytes), then the flags.
        if ty == 2 && data >= 20 {
            fcs = bytes.le16(at + 4 + 8)? & 0x0001 != 0;
        }
        at = add(at, 4 + data)?;
        if aligned {
            at = add(at, 3)? & !3;
        }
    }
    if depth > 0 || dlt == linktype::PPI {
        return Err(SkipReason::MalformedLink);
    }
    let inner = without_fcs(bytes, fcs, complete, len)?.from(len)?;
    locate(dlt, inner, complete, depth + 1).map(|l| shift(l, len))
}

/// Prism header (or an AVS header under Prism's link type), then 802.11.
pub(crate) fn prism(bytes: Bytes<'_>) -> Result<Located, SkipReason> {
    let be = bytes.be32(0)?;
    if be & 0xFFFF_FFF0 == 0x8021_1000 {
        return avs(bytes);
    }
    let le = bytes.le32(0)?;
    let len = if matches!(le, 0x41 | 0x44) {
        bytes.le32(4)?
    } else if matches!(be, 0x41 | 0x44) {
        bytes.be32(4)?
    } else {
        return Err(SkipReason::MalformedLink);
    };
    header_then_frame(bytes, len)
}

/// AVS header, then 802.11.
pub(crate) fn avs(bytes: Bytes<'_>) -> Result<Located, SkipReason> {
    if !matches!(bytes.be32(0)?, 0x8021_1001 | 0x8021_1002) {
        return Err(SkipReason::MalformedLink);
    }
    header_then_frame(bytes, bytes.be32(4)?)
}

fn header_then_frame(bytes: Bytes<'_>, len: u32) -> Result<Located, SkipReason> {
    let len = usize::try_from(len).map_err(|_| SkipReason::MalformedLink)?;
    if len < 8 {
        return Err(SkipReason::MalformedLink);
    }
    bytes.get(0, len)?;
    frame(bytes, len, false)
}
