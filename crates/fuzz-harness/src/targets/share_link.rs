//! The share-link decoder: a URL fragment anyone can send.
//!
//! The first byte picks the layer the rest of the input is written at, so
//! that the fuzzer reaches the inner layers without having to get the
//! outer ones right by chance:
//!
//! - 0: the fragment as text (invalid UTF-8 replaced, as a browser would);
//! - 1: the postcard payload, which the harness deflates and wraps;
//! - 2: `[version][deflate stream]`, which the harness base64url-encodes;
//! - 3: a link made by the core's encoder from a real flow of
//!   `tests/data/`, with a view, a method, edits and payload on or off
//!   taken from the input.
//!
//! Properties: a fragment that decodes is a valid payload
//! ([`SharePayload::validate`]), encodes again, and the re-encoded link
//! decodes to the same payload (when it fits the link length limit: a
//! hand-made deflate stream may be tighter than the encoder's);
//! `edited_bytes` and `field_ids` are `P × B`. A link made from a real
//! flow always decodes to the payload it was made from. Bad links are
//! [`ShareError`]s (the signature says so; `Display` must not panic).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flowlens_core::explain::share::{MAX_FRAGMENT_CHARS, SHARE_VERSION};
use flowlens_core::explain::{
    AttentionLevel, ByteEdit, Method, ShareError, SharePayload, ViewState,
};
use flowlens_core::repr::{Representation, View};

use crate::fixtures::{self, Bytes};

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => check_fragment(&String::from_utf8_lossy(rest)),
        1 => {
            let mut z = vec![SHARE_VERSION];
            z.extend(miniz_oxide::deflate::compress_to_vec(rest, 6));
            check_fragment(&URL_SAFE_NO_PAD.encode(z));
        }
        2 => check_fragment(&URL_SAFE_NO_PAD.encode(rest)),
        _ => from_real_flow(&mut Bytes::new(rest)),
    }
}

/// Decodes `fragment` and checks what came out.
pub fn check_fragment(fragment: &str) {
    match SharePayload::decode(fragment) {
        Err(e) => {
            let _: &ShareError = &e;
            let _ = e.to_string();
        }
        Ok(p) => check_payload(&p),
    }
}

fn check_payload(p: &SharePayload) {
    p.validate().expect("a decoded link is valid");
    let cells = p.packets as usize * p.bytes_per_packet as usize;
    assert_eq!(p.bytes.len(), cells);
    assert_eq!(p.edited_bytes().len(), cells);
    assert_eq!(p.field_ids().len(), cells);
    let again = p.encode().expect("a decoded payload encodes");
    match SharePayload::decode(&again) {
        Ok(back) => assert_eq!(&back, p, "decode(encode(p)) != p"),
        Err(ShareError::TooLong { .. }) => assert!(again.len() > MAX_FRAGMENT_CHARS),
        Err(e) => panic!("a re-encoded link does not decode: {e}"),
    }
}

fn from_real_flow(r: &mut Bytes) {
    let flows = fixtures::flows();
    let flow = &flows[r.index(flows.len())];
    let packets = 1 + r.u8() as usize % 12;
    let bytes_per_packet = 1 + r.u16() as usize % 300;
    let view = match r.u8() % 3 {
        0 => View::All,
        1 => View::Key,
        _ => View::zero_site_dependent(),
    };
    let repr = Representation::new(packets, bytes_per_packet, view).expect("sizes in range");
    let method = match r.u8() % 5 {
        0 => None,
        1 => Some(Method::GradientInput),
        2 => Some(Method::IntegratedGradients {
            steps: r.u16() as usize,
        }),
        3 => Some(Method::Attention {
            level: AttentionLevel::Combined,
        }),
        _ => Some(Method::Attention {
            level: AttentionLevel::Byte,
        }),
    };
    let include_payload = r.u8() & 1 == 1;
    let selected_packet = Some(r.u16() % packets as u16).filter(|_| r.u8() & 1 == 1);
    let mut edits = Vec::new();
    while !r.is_empty() && edits.len() < 64 {
        edits.push(ByteEdit {
            packet: r.u16() % packets as u16,
            offset: r.u16() % bytes_per_packet as u16,
            value: r.u8(),
        });
    }
    let view = ViewState {
        selected_packet,
        method,
        edits,
    };
    let p = SharePayload::from_flow(
        "pack",
        "pack.model",
        &repr,
        flow,
        view.clone(),
        include_payload,
    );
    let fragment = p.encode().expect("a real flow's payload encodes");
    let back = SharePayload::decode(&fragment)
        .unwrap_or_else(|e| panic!("a link made from a real flow does not decode: {e}"));
    assert_eq!(back, p);
    if include_payload {
        assert_eq!(back.view, view, "edits are kept with the payload");
    }
    check_payload(&back);
}
