//! Native throughput of capture -> flows -> representation, from memory
//! ([`flowlens_core::bench::pipeline`], the same work the browser bench runs).
//!
//! `cargo run --release -p flowlens-core --example bench_pipeline -- FILE...`
//! (`cargo xtask bench` runs it on a real capture). Prints figures; asserts
//! nothing. One thread.

#![forbid(unsafe_code)]
// A benchmark program: it reads files and keeps time around the core,
// which does neither itself (see crates/flowlens-core/clippy.toml).
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    clippy::disallowed_macros
)]

use std::time::Instant;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: bench_pipeline FILE...");
        std::process::exit(2);
    }
    let captures: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("cannot read {f}: {e}")))
        .collect();
    let total: usize = captures.iter().map(Vec::len).sum();
    // Warm up, then take the best of several rounds.
    let mut best = f64::INFINITY;
    let mut flows = 0;
    let mut packets = 0;
    let rounds = (2_000_000_000 / total.max(1)).clamp(3, 50);
    for _ in 0..rounds {
        let t = Instant::now();
        flows = 0;
        packets = 0;
        for c in &captures {
            let (f, p, encoded) = flowlens_core::bench::pipeline(c, 4 << 20);
            flows += f;
            packets += p;
            std::hint::black_box(encoded);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "native capture->flows->representation: {:.1} MiB in {:.2} ms = {:.0} MB/s ({:.2} Mpackets/s, {} flows, best of {rounds})",
        total as f64 / (1 << 20) as f64,
        best * 1e3,
        total as f64 / best / 1e6,
        packets as f64 / best / 1e6,
        flows,
    );
}
