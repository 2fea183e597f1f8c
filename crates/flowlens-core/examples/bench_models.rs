//! Native forward throughput of the four models with their default configs.
//!
//! `cargo run --release -p flowlens-core --example bench_models [-- BATCH [KIND...]]`
//! (`RAYON_NUM_THREADS=1` for one thread, as in the browser). Random weights
//! and random bytes, P = 8, B = 128, 10 classes. Prints, per model: parameter
//! count, safetensors size, flows/s per wall-clock second and per second of
//! process CPU time (Linux; the latter is steadier on a busy machine).
//! Prints figures; asserts nothing.

use std::time::{Duration, Instant};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use flowlens_core::models::{serialize_varmap, Model, ModelConfig, ModelInput, ModelKind};

const PACKETS: usize = 8;
const BYTES_PER_PACKET: usize = 128;
const CLASSES: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let batch: usize = match args.first() {
        Some(arg) => arg.parse()?,
        None => 64,
    };
    let kinds: Vec<ModelKind> = match args.get(1..) {
        Some(names) if !names.is_empty() => {
            names.iter().map(|n| n.parse()).collect::<Result<_, _>>()?
        }
        _ => ModelKind::ALL.to_vec(),
    };
    let device = Device::Cpu;
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let bytes: Vec<u8> = (0..batch * PACKETS * BYTES_PER_PACKET)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 32) as u8
        })
        .collect();
    let input = ModelInput::from_bytes(&bytes, batch, PACKETS, BYTES_PER_PACKET, &device)?;
    println!("batch {batch}, P {PACKETS}, B {BYTES_PER_PACKET}, {CLASSES} classes");
    println!(
        "{:<5} {:>10} {:>12} {:>12} {:>12}",
        "model", "params", "safetensors", "flows/s", "flows/cpu-s"
    );
    for kind in kinds {
        let cfg = ModelConfig::new(kind, CLASSES, PACKETS, BYTES_PER_PACKET);
        let varmap = VarMap::new();
        Model::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
        let params: usize = varmap.all_vars().iter().map(|v| v.elem_count()).sum();
        let file = serialize_varmap(&varmap)?;
        // As the browser does: weights from bytes, not variables (variables
        // would make every forward record a backward graph).
        let model = Model::from_safetensors(&cfg, &file, &device)?;

        model.forward(&input)?; // warm up
        let mut runs = 0usize;
        let (start, start_cpu) = (Instant::now(), cpu_secs());
        while runs < 3 || start.elapsed() < Duration::from_secs(3) {
            model.forward(&input)?;
            runs += 1;
        }
        let flows = (runs * batch) as f64;
        let wall = flows / start.elapsed().as_secs_f64();
        let cpu = match (start_cpu, cpu_secs()) {
            (Some(a), Some(b)) if b > a => format!("{:.0}", flows / (b - a)),
            _ => "-".into(),
        };
        println!(
            "{kind:<5} {params:>10} {:>12} {wall:>12.0} {cpu:>12}",
            file.len()
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
