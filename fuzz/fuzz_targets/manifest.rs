//! The published-models manifest loader (JSON).
//!
//! The body and its properties are in `crates/fuzz-harness/src/targets/manifest.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowlens_fuzz_harness::run("manifest", data));
