//! The work benchmarks time, natively (`examples/bench_pipeline`,
//! `examples/bench_infer`) and in the browser (the page's `bench_pipeline`
//! and `bench_matmul` exports): one definition so both measure the same work.

use candle_core::{DType, Device, Tensor};

use crate::flows::Flow;
use crate::repr::Representation;
use crate::Analyzer;

/// Capture bytes fed in `chunk`-byte pieces -> flows -> `[N, P, B]` under
/// the default representation. Returns (flows, packets, encoded bytes).
pub fn pipeline(bytes: &[u8], chunk: usize) -> (usize, u64, usize) {
    let repr = Representation::default();
    let mut a = Analyzer::new(repr.flow_config());
    for c in bytes.chunks(chunk.max(1)) {
        if a.feed(c).is_err() {
            break;
        }
    }
    let analysis = a.finish();
    let flows: Vec<&Flow> = analysis.flows.iter().collect();
    let x = repr.encode_batch(&flows);
    (flows.len(), analysis.summary.packets, x.len())
}

/// `reps` products of an `[m, k]` by `[k, n]` f32 matrix, the right one
/// transposed as in a linear layer (`x W^T`, `W` stored `[n, k]`). Returns
/// the floating-point operations counted (`2 m k n` per product); the caller
/// times it (after a first, untimed call: the browser compiles hot code on
/// first use). The ceiling of every dense layer, natively and in the
/// browser the same candle call.
pub fn matmul(m: usize, k: usize, n: usize, reps: usize) -> candle_core::Result<f64> {
    let x = Tensor::ones((m, k), DType::F32, &Device::Cpu)?;
    let w = Tensor::ones((n, k), DType::F32, &Device::Cpu)?.t()?;
    for _ in 0..reps {
        x.matmul(&w)?;
    }
    Ok(2.0 * (m * k * n) as f64 * reps as f64)
}
