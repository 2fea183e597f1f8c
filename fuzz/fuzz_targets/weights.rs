//! The deep models' safetensors loader, raw or structure-aware, against each architecture's published entry.
//!
//! The body and its properties are in `crates/fuzz-harness/src/targets/weights.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowlens_fuzz_harness::run("weights", data));
