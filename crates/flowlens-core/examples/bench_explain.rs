//! Native cost of the explanations per flow, per model and method, with the
//! default configs (P = 8, B = 128, 10 classes, random weights loaded from
//! safetensors bytes as the browser does) on the real flows of
//! `tests/data/sites.pcapng`.
//!
//! `cargo run --release -p flowlens-core --example bench_explain [-- BATCH]`
//! (`RAYON_NUM_THREADS=1` for one thread, as in the browser). Prints
//! milliseconds per flow; asserts nothing.

#![forbid(unsafe_code)]
// A benchmark program: it reads files and keeps time around the core,
// which does neither itself (see crates/flowlens-core/clippy.toml).
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    clippy::disallowed_macros
)]

use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use flowlens_core::explain::{attribute, AttentionLevel, Method, DEFAULT_IG_STEPS};
use flowlens_core::models::{serialize_varmap, Model, ModelConfig, ModelKind};
use flowlens_core::repr::{Representation, View};
use flowlens_core::{Analyzer, Flow};

const PACKETS: usize = 8;
const BYTES_PER_PACKET: usize = 128;
const CLASSES: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let batch: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 8,
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let repr = Representation::new(PACKETS, BYTES_PER_PACKET, View::All)?;
    let capture = std::fs::read(root.join("sites.pcapng"))?;
    let flows = Analyzer::analyze(&capture, repr.flow_config()).flows;
    let chosen: Vec<&Flow> = flows.iter().cycle().take(batch).collect();
    let bytes = repr.encode_batch(&chosen);
    let device = Device::Cpu;
    println!(
        "{batch} flows of sites.pcapng per call, P {PACKETS}, B {BYTES_PER_PACKET}, {CLASSES} classes"
    );
    println!("{:<5} {:<24} {:>10}", "model", "method", "ms/flow");
    for kind in ModelKind::ALL {
        let cfg = ModelConfig::new(kind, CLASSES, PACKETS, BYTES_PER_PACKET);
        let varmap = VarMap::new();
        Model::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
        let model = Model::from_safetensors(&cfg, &serialize_varmap(&varmap)?, &device)?;
        let mut methods = vec![
            Method::GradientInput,
            Method::IntegratedGradients {
                steps: DEFAULT_IG_STEPS,
            },
        ];
        if kind == ModelKind::Han {
            methods.insert(
                0,
                Method::Attention {
                    level: AttentionLevel::Combined,
                },
            );
        }
        for method in methods {
            attribute(&model, &bytes, batch, None, method)?; // warm up
            let runs = 3;
            let start = Instant::now();
            for _ in 0..runs {
                attribute(&model, &bytes, batch, None, method)?;
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / (runs * batch) as f64;
            let name = match method {
                Method::IntegratedGradients { steps } => format!("integrated_gradients/{steps}"),
                m => m.name().to_string(),
            };
            println!("{:<5} {:<24} {:>10.2}", kind.as_str(), name, ms);
        }
    }
    Ok(())
}
