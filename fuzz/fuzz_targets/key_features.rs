//! The key-feature path into C4.5 and k-NN (rows, what-if edits, share payloads).
//!
//! The body and its properties are in `crates/fuzz-harness/src/targets/key_features.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowlens_fuzz_harness::run("key_features", data));
