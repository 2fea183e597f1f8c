//! Capture reader + flow table on arbitrary bytes, fed in two chunks.
//!
//! The input is taken as a whole capture file, so the real captures of
//! `tests/data/` are seeds as they are. Where it is cut in two is decided by
//! its last byte (0..=255 scaled to its length). Besides "no panic, no
//! hang, no huge allocation", two properties are checked on every input:
//! the two-chunk analysis equals the whole-buffer one, and the summary adds
//! up (packets = packets in flows + skipped).

use flowlens_core::{Analyzer, Flow, FlowConfig};

pub fn run(data: &[u8]) {
    let split = data
        .last()
        .map_or(0, |&b| usize::from(b) * data.len() / 256);
    let (first, second) = data.split_at(split);

    let cfg = FlowConfig::default();
    let mut chunked = Analyzer::new(cfg);
    if chunked.feed(first).is_ok() {
        let _ = chunked.feed(second);
    }
    let chunked = chunked.finish();
    let whole = Analyzer::analyze(data, cfg);
    assert_eq!(
        chunked, whole,
        "two chunks (split at {split}) differ from whole"
    );

    let in_flows: u64 = whole.flows.iter().map(Flow::total_packets).sum();
    let skipped: u64 = whole.summary.skipped.values().sum();
    assert_eq!(whole.summary.packets, in_flows + skipped);
    assert_eq!(whole.summary.flows, whole.flows.len() as u64);
}
