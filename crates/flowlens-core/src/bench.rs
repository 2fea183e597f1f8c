//! The pipeline as benchmarks run it, natively (`examples/bench_pipeline`)
//! and in the browser (the page's `bench_pipeline` export): one definition
//! so both measure the same work.

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
