//! Native inference throughput of the published models, on the same work as
//! the browser worker: one capture cut into flows with the manifest's flow
//! config, then every model of every pack on every flow, in the worker's
//! batches (`classifier::batch_flows`), encoding included.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p flowlens-core --example bench_infer -- MODELS_DIR CAPTURE [PACK...]`
//!
//! Without pack ids: the packs the browser benchmark (`tests/browser/bench.mjs`)
//! runs, the manifest's first and the next one with a baseline.
//!
//! Prints flows/s per model per wall-clock second and per second of process
//! CPU time (Linux; steadier on a busy machine), best of up to three passes
//! (no new pass after 20 s); then
//! the GFLOP/s of candle's matrix product at the SAE's first layer
//! (`[batch, 1024] x [1024, 256]`), the ceiling of the dense models, which
//! the browser benchmark prints too. Prints figures; asserts nothing.

#![forbid(unsafe_code)]
// A benchmark program: it reads files and keeps time around the core,
// which does neither itself (see crates/flowlens-core/clippy.toml).
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    clippy::disallowed_macros
)]

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Device;
use flowlens_core::classifier::{batch_flows, Classifier};
use flowlens_core::manifest::{Architecture, Manifest, Pack};
use flowlens_core::{Analyzer, Flow};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(capture)) = (args.next(), args.next()) else {
        return Err("usage: bench_infer MODELS_DIR CAPTURE [PACK...]".into());
    };
    let wanted: Vec<String> = args.collect();
    let dir = PathBuf::from(dir);
    let manifest = Manifest::from_json(&std::fs::read_to_string(dir.join("manifest.json"))?)?;
    let bytes = std::fs::read(&capture)?;
    let analysis = Analyzer::analyze(&bytes, manifest.flow_config());
    let flows: Vec<&Flow> = analysis.flows.iter().collect();
    println!(
        "{capture}: {:.1} MB, {} flows; threads: RAYON_NUM_THREADS={}",
        bytes.len() as f64 / 1e6,
        flows.len(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "(all cores)".into())
    );
    let device = Device::Cpu;
    let packs: Vec<&Pack> = if wanted.is_empty() {
        let has_baseline = |p: &&Pack| {
            p.models
                .iter()
                .any(|m| matches!(m.architecture, Architecture::C45 | Architecture::Knn))
        };
        let first = manifest.packs.first();
        let other = manifest.packs.iter().skip(1).find(has_baseline);
        first.into_iter().chain(other).collect()
    } else {
        let mut packs = Vec::new();
        for id in &wanted {
            match manifest.packs.iter().find(|p| &p.id == id) {
                Some(p) => packs.push(p),
                None => return Err(format!("no pack {id} in the manifest").into()),
            }
        }
        packs
    };
    for entry in packs.iter().flat_map(|p| &p.models) {
        let weights = std::fs::read(dir.join(&entry.weights.file))?;
        let clf = Classifier::load(entry, &weights, &device)?;
        let batch = batch_flows(entry.architecture);
        let (mut wall, mut cpu) = (f64::INFINITY, None::<f64>);
        let began = Instant::now();
        for pass in 0..3 {
            // Slow models (the HAN) get fewer passes.
            if pass > 0 && began.elapsed().as_secs_f64() > 20.0 {
                break;
            }
            let (start, start_cpu) = (Instant::now(), cpu_secs());
            for chunk in flows.chunks(batch) {
                clf.predict_flows(&entry.representation, chunk, &device)?;
            }
            wall = wall.min(start.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (start_cpu, cpu_secs()) {
                if b > a {
                    cpu = Some(cpu.map_or(b - a, |c: f64| c.min(b - a)));
                }
            }
        }
        let n = flows.len() as f64;
        println!(
            "native inference {:<36} {:>7} flows = {:>9.0} flows/s, {:>9} flows/cpu-s (batch {batch}, encoding included)",
            entry.id,
            flows.len(),
            n / wall,
            cpu.map_or("-".into(), |c| format!("{:.0}", n / c)),
        );
    }
    for m in [64, 256] {
        let (k, n) = (1024, 256);
        flowlens_core::bench::matmul(m, k, n, 1)?; // warm-up
        let start = Instant::now();
        let flops = flowlens_core::bench::matmul(m, k, n, 20 * 1024 / m)?;
        println!(
            "native matmul [{m}, {k}] x [{k}, {n}]: {:.1} GFLOP/s",
            flops / start.elapsed().as_secs_f64() / 1e9
        );
    }
    Ok(())
}

/// User + system CPU time of this process so far, from `/proc/self/stat`.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
