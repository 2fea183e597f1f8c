//! Capture bytes -> flows, in one object the browser worker and the CLI share.

use serde::{Deserialize, Serialize};

use crate::capture::{CaptureError, CaptureReader};
use crate::flows::{Flow, FlowConfig, FlowTable, Summary};

/// Reads a capture fed in chunks and builds its flows.
#[derive(Debug)]
pub struct Analyzer {
    reader: CaptureReader,
    table: FlowTable,
    bytes_fed: u64,
}

/// Everything read from one capture. `error` says why reading stopped
/// early, if it did; `flows` and `summary` hold everything read before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub flows: Vec<Flow>,
    pub summary: Summary,
    pub error: Option<CaptureError>,
}

impl Analyzer {
    pub fn new(cfg: FlowConfig) -> Self {
        Self {
            reader: CaptureReader::new(),
            table: FlowTable::new(cfg),
            bytes_fed: 0,
        }
    }

    /// Feed the next chunk of the capture (any size). After an error, more
    /// input is refused with the same error; what was read stays.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CaptureError> {
        self.bytes_fed += chunk.len() as u64;
        let table = &mut self.table;
        self.reader.push(chunk, |p| {
            table.push_frame(p.link_type, p.ts_ns, p.data, p.orig_len)
        })
    }

    pub fn bytes_fed(&self) -> u64 {
        self.bytes_fed
    }

    pub fn flow_count(&self) -> usize {
        self.table.flow_count()
    }

    /// Flows so far (in order of their first packet).
    pub fn flows(&self) -> &[Flow] {
        self.table.flows()
    }

    pub fn summary(&self) -> Summary {
        self.table.summary()
    }

    /// End of input.
    pub fn finish(self) -> Analysis {
        let error = self.reader.finish().err();
        let (flows, summary) = self.table.finish();
        Analysis {
            flows,
            summary,
            error,
        }
    }

    /// Read a whole capture held in memory (tests, CLI).
    pub fn analyze(bytes: &[u8], cfg: FlowConfig) -> Analysis {
        let mut a = Analyzer::new(cfg);
        // An error is recorded by the reader and returned by `finish`.
        let _ = a.feed(bytes);
        a.finish()
    }
}
