//! The C4.5 JSON export loader, prediction and decision paths.
//!
//! The body and its properties are in `crates/fuzz-harness/src/targets/c45_export.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowlens_fuzz_harness::run("c45_export", data));
