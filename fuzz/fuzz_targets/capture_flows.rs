//! Capture reader + flow table on arbitrary bytes, fed in two chunks.
//!
//! The body and its properties are in `crates/fuzz-harness/src/targets/capture_flows.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowlens_fuzz_harness::run("capture_flows", data));
