//! The k-NN binary export loader and search.
//!
//! The body and its properties are in `crates/fuzz-harness/src/targets/knn_export.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flowlens_fuzz_harness::run("knn_export", data));
