//! The share-link decoder (URL fragment, postcard + deflate + base64url).
//!
//! The body and its properties are in `crates/fuzz-harness/src/targets/share_link.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowlens_fuzz_harness::run("share_link", data));
