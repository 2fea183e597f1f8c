//! Messages between the page and its web worker.
//!
//! Both sides of the boundary use these types, and only these: the page
//! posts a [`ToWorker`] command (plus, for [`ToWorker::Parse`], the dropped
//! `File` itself, which is not serde data), the worker answers with
//! [`FromWorker`] messages. Commands cross as plain JS objects made by
//! `serde-wasm-bindgen` (64-bit integers as `BigInt`); the worker's answers
//! cross as one JSON string each ([`encode_reply`]/[`decode_reply`]): with
//! 100,000 flows in a [`FromWorker::Done`], parsing JSON inside wasm is many
//! times faster than reading as many JS objects field by field, and 64-bit
//! integers stay exact either way.
//!
//! Nothing here leaves the browser: the worker reads the file from the
//! user's disk and the results go back to the page.

use flowlens_core::{Flow, Summary};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

/// Bytes the worker reads from the file at a time.
pub const SLICE_BYTES: u32 = 4 << 20;
/// Smallest and largest slice the worker accepts.
pub const SLICE_BYTES_RANGE: std::ops::RangeInclusive<u32> = (4 << 10)..=(64 << 20);

/// The slice size for a page URL's query string: `?slice_bytes=N` (clamped
/// to [`SLICE_BYTES_RANGE`]) or [`SLICE_BYTES`]. Small slices make the
/// progress and cancel paths, and records cut by slice boundaries, easy to
/// exercise with small files (the browser tests use it).
pub fn slice_bytes_from_query(search: &str) -> u32 {
    query_u32(search, "slice_bytes")
        .map(clamp_slice_bytes)
        .unwrap_or(SLICE_BYTES)
}

/// The most flows a job keeps. The worker stops reading there, says so and
/// shows what it read: a wasm module has at most 4 GiB, and a capture of
/// millions of tiny flows would otherwise fill it (about 560 bytes per
/// flow in the worker, measured with 6 million flows).
pub const MAX_FLOWS: u32 = 2_000_000;

/// The flow limit for a page URL's query string: `?max_flows=N` (at least 1,
/// at most [`MAX_FLOWS`]) or [`MAX_FLOWS`]; the browser tests lower it to
/// reach the limit with a small file.
pub fn max_flows_from_query(search: &str) -> u32 {
    query_u32(search, "max_flows")
        .map(|n| n.clamp(1, MAX_FLOWS))
        .unwrap_or(MAX_FLOWS)
}

/// The number after `key=` in a URL query string, if any.
fn query_u32(search: &str, key: &str) -> Option<u32> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, value)| value.parse::<u32>().ok())
}

/// `n` moved into [`SLICE_BYTES_RANGE`].
pub fn clamp_slice_bytes(n: u32) -> u32 {
    n.clamp(*SLICE_BYTES_RANGE.start(), *SLICE_BYTES_RANGE.end())
}

fn default_max_flows() -> u32 {
    MAX_FLOWS
}

/// A command from the page to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Read the `File` posted with this command. Starting a job cancels every
    /// earlier one.
    /// Reading stops with a message after `max_flows` flows.
    Parse {
        job: u32,
        slice_bytes: u32,
        #[serde(default = "default_max_flows")]
        max_flows: u32,
    },
    /// Stop `job` (and any earlier job) at the next slice boundary. The worker
    /// still answers with [`FromWorker::Done`] carrying the flows read so far.
    Cancel { job: u32 },
    /// Run every model of `pack` on every flow of `job` (the worker keeps
    /// the flows of its last job). A newer `run` stops older ones.
    Classify { job: u32, run: u32, pack: String },
    /// Everything the worker can say about one flow of `job` (the detail
    /// pane): answered with [`FromWorker::Detail`].
    Detail { job: u32, run: u32, flow: u32 },
    /// Explain one flow for one model (attribution, decision path,
    /// neighbours, what-if, share links): answered with
    /// [`FromWorker::Explained`]. See [`crate::explain`].
    Explain(crate::explain::ExplainRequest),
    /// Capture-wide field weights or the shortcut audit: answered with
    /// [`FromWorker::Analysis`] messages.
    Analyse(crate::explain::AnalysisRequest),
}

/// Flow rows per [`FromWorker::FlowRows`] message.
pub const FLOW_ROWS_PER_MESSAGE: usize = 8192;

/// A message from the worker to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker's wasm module is up and it listens for commands.
    Ready,
    /// Sent after each slice.
    Progress {
        job: u32,
        bytes_done: u64,
        bytes_total: u64,
        flows: u64,
    },
    /// Rows of a finished job, in capture order, sent just before its
    /// [`FromWorker::Done`] in pieces of [`FLOW_ROWS_PER_MESSAGE`]: the page
    /// decodes each in its own task, so 100,000 flows never stall it for long.
    /// The bridge puts them in front of the rows `Done` carries.
    FlowRows { job: u32, flows: Vec<FlowRow> },
    /// The job ended: the whole file was read, reading failed, or it was
    /// cancelled. `flows` (after the job's [`FromWorker::FlowRows`]) and
    /// `summary` hold everything read until then.
    Done {
        job: u32,
        bytes_done: u64,
        bytes_total: u64,
        flows: Vec<FlowRow>,
        summary: Summary,
        /// Why reading stopped early, readable by a person.
        error: Option<String>,
        cancelled: bool,
        /// Size of the worker's wasm memory when it finished: its peak, as
        /// wasm memory never shrinks.
        #[serde(default)]
        worker_memory_bytes: u64,
    },
    /// The published models (`models/manifest.json`), sent once after
    /// [`FromWorker::Ready`]. `packs` is empty when there are none;
    /// `missing` says the manifest is not there (not an error: the page
    /// still lists flows); `error` says it is there but unusable.
    Models {
        packs: Vec<PackInfo>,
        missing: Option<String>,
        error: Option<String>,
    },
    /// A [`ToWorker::Classify`] started: these models will run, in order.
    InferenceStarted {
        job: u32,
        run: u32,
        pack: String,
        models: Vec<ModelInfo>,
        flows: u32,
    },
    /// Predictions of model number `model` (index into `InferenceStarted::models`)
    /// for flows `start .. start + labels.len()`.
    Predictions {
        job: u32,
        run: u32,
        model: u32,
        start: u32,
        /// Index into the model's classes.
        labels: Vec<u16>,
        /// Probability of the predicted class.
        confidences: Vec<f32>,
    },
    /// Model `model` ran on every flow: `flows` flows in `compute_ms`
    /// milliseconds of encoding and inference (not counting the weight
    /// download, nor the pauses that let messages in).
    ModelDone {
        job: u32,
        run: u32,
        model: u32,
        flows: u32,
        compute_ms: f64,
        load_ms: f64,
    },
    /// Model `model` could not be used (weights missing, wrong hash, ...);
    /// the other models still run.
    ModelFailed {
        job: u32,
        run: u32,
        model: u32,
        error: String,
    },
    /// Every model of the run has run on every flow (or failed).
    InferenceDone { job: u32, run: u32 },
    /// Answer to [`ToWorker::Detail`].
    Detail(FlowDetail),
    /// Answer to [`ToWorker::Explain`].
    Explained(crate::explain::ExplainReply),
    /// Progress and results of a [`ToWorker::Analyse`].
    Analysis(crate::explain::AnalysisMsg),
}

/// A model pack as the page offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackInfo {
    pub id: String,
    pub title: String,
    pub dataset: String,
    pub classes: Vec<String>,
    pub models: Vec<ModelInfo>,
}

/// One model of a pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The manifest id.
    pub id: String,
    /// `cnn`, `lstm`, `sae`, `han`, `c45`, `knn`.
    pub architecture: String,
    /// Short name for column headers (`CNN`, `C4.5`, ...).
    pub short: String,
    pub classes: Vec<String>,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Packets x bytes the model reads, and its view (`all`, `key`, ...).
    pub packets: u32,
    pub bytes_per_packet: u32,
    pub view: String,
}

impl PackInfo {
    pub fn from_pack(p: &flowlens_core::manifest::Pack) -> Self {
        PackInfo {
            id: p.id.clone(),
            title: p.title.clone(),
            dataset: p.dataset.name.clone(),
            classes: p.dataset.classes.clone(),
            models: p.models.iter().map(ModelInfo::from_entry).collect(),
        }
    }
}

impl ModelInfo {
    pub fn from_entry(m: &flowlens_core::manifest::ModelEntry) -> Self {
        let repr = &m.representation;
        ModelInfo {
            id: m.id.clone(),
            architecture: m.architecture.as_str().to_string(),
            short: short_name(m.architecture),
            classes: m.classes.clone(),
            accuracy: m.metrics.accuracy,
            macro_f1: m.metrics.macro_f1,
            packets: repr.packets() as u32,
            bytes_per_packet: repr.bytes_per_packet() as u32,
            view: view_name(repr.view()),
        }
    }
}

fn view_name(view: &flowlens_core::repr::View) -> String {
    use flowlens_core::repr::View;
    match view {
        View::All => "all",
        View::Key => "key",
        View::Custom { .. } => "custom",
    }
    .to_string()
}

/// A model's name in a column header: `CNN`, `C4.5`, `k-NN`, ...
fn short_name(a: flowlens_core::manifest::Architecture) -> String {
    use flowlens_core::manifest::Architecture as A;
    match a {
        A::Cnn => "CNN",
        A::Lstm => "LSTM",
        A::Sae => "SAE",
        A::Han => "HAN",
        A::C45 => "C4.5",
        A::Knn => "k-NN",
    }
    .to_string()
}

/// One flow, in depth: what each model of the current run says about it.
/// The detail pane shows it; later views (attribution, share) extend it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDetail {
    pub job: u32,
    pub run: u32,
    pub flow: u32,
    /// Per model of the run, in its order.
    pub models: Vec<ModelOutput>,
    /// The flow's first packets as the models see them (before the view),
    /// field by field; the first model's representation decides P and B.
    pub packets: Vec<flowlens_core::repr::PacketFields>,
    pub error: Option<String>,
}

/// One model's full answer for one flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutput {
    pub id: String,
    /// Index into the model's classes.
    pub label: u16,
    pub probabilities: Vec<f32>,
    /// Raw logits (deep models); the class probabilities for C4.5 and k-NN,
    /// which have no logits.
    pub logits: Vec<f32>,
    pub error: Option<String>,
}

/// One flow as the page shows it. Addresses and protocol are written the way
/// `trainer flows --json` writes them (`IpAddr` Display, `proto_name()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRow {
    pub proto: String,
    pub src: String,
    pub sport: u16,
    pub dst: String,
    pub dport: u16,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts_ns: i64,
    pub duration_ns: u64,
}

impl From<&Flow> for FlowRow {
    fn from(f: &Flow) -> Self {
        Self {
            proto: f.key.proto_name(),
            src: f.key.src.to_string(),
            sport: f.key.sport,
            dst: f.key.dst.to_string(),
            dport: f.key.dport,
            packets: f.total_packets(),
            bytes: f.total_bytes(),
            first_ts_ns: f.first_ts_ns,
            duration_ns: f.duration_ns(),
        }
    }
}

/// Key of the serde command in a posted message.
const COMMAND_KEY: &str = "command";
/// Key of the `File` in a posted [`ToWorker::Parse`] message.
const FILE_KEY: &str = "file";

fn serializer() -> serde_wasm_bindgen::Serializer {
    serde_wasm_bindgen::Serializer::new().serialize_large_number_types_as_bigints(true)
}

/// A value ready for `postMessage`.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serializer())
        .map_err(|e| JsValue::from_str(&format!("cannot encode message: {e}")))
}

/// A value received from `postMessage`.
pub fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("cannot decode message: {e}"))
}

/// A worker answer ready for `postMessage`: a JSON string.
pub fn encode_reply(msg: &FromWorker) -> Result<JsValue, JsValue> {
    serde_json::to_string(msg)
        .map(|s| JsValue::from_str(&s))
        .map_err(|e| JsValue::from_str(&format!("cannot encode message: {e}")))
}

/// The page's side of [`encode_reply`].
pub fn decode_reply(value: &JsValue) -> Result<FromWorker, String> {
    let text = value
        .as_string()
        .ok_or_else(|| "cannot decode message: not a string".to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("cannot decode message: {e}"))
}

/// The message the page posts: `{command, file?}`.
pub fn envelope(command: &ToWorker, file: Option<&web_sys::File>) -> Result<JsValue, JsValue> {
    let obj = js_sys::Object::new();
    js_sys::Reflect::set(&obj, &COMMAND_KEY.into(), &to_js(command)?)?;
    if let Some(file) = file {
        js_sys::Reflect::set(&obj, &FILE_KEY.into(), file)?;
    }
    Ok(obj.into())
}

/// The worker's side of [`envelope`].
pub fn open_envelope(data: &JsValue) -> Result<(ToWorker, Option<web_sys::File>), String> {
    let command = js_sys::Reflect::get(data, &COMMAND_KEY.into())
        .map_err(|_| "message without a command".to_string())?;
    let command = from_js(command)?;
    let file = js_sys::Reflect::get(data, &FILE_KEY.into())
        .ok()
        .and_then(|f| f.dyn_into::<web_sys::File>().ok());
    Ok((command, file))
}

/// Puts a job's [`FromWorker::FlowRows`] back in front of the rows of its
/// [`FromWorker::Done`] (the page's side of the split).
#[derive(Debug, Default)]
pub struct FlowRowsAssembler {
    job: Option<u32>,
    rows: Vec<FlowRow>,
}

impl FlowRowsAssembler {
    /// `None` while rows are gathered; any other message as it should be
    /// handled (a `Done` with every row of its job, in capture order).
    pub fn accept(&mut self, msg: FromWorker) -> Option<FromWorker> {
        match msg {
            FromWorker::FlowRows { job, mut flows } => {
                if self.job != Some(job) {
                    // A newer job: the older one's rows are stale.
                    self.job = Some(job);
                    self.rows.clear();
                }
                self.rows.append(&mut flows);
                None
            }
            mut other => {
                if let FromWorker::Done { job, flows, .. } = &mut other {
                    let mut all = if self.job == Some(*job) {
                        std::mem::take(&mut self.rows)
                    } else {
                        Vec::new()
                    };
                    self.job = None;
                    self.rows = Vec::new();
                    all.append(flows);
                    *flows = all;
                }
                Some(other)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_rows_in_pieces_come_back_whole_and_in_order() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/browser/dns-wiresharkrepo.pcap"
        ))
        .expect("fixture");
        let rows: Vec<FlowRow> = flowlens_core::Analyzer::analyze(&bytes, Default::default())
            .flows
            .iter()
            .map(FlowRow::from)
            .collect();
        assert!(rows.len() > 3);
        let done = |job: u32, flows: Vec<FlowRow>| FromWorker::Done {
            job,
            bytes_done: 1,
            bytes_total: 1,
            flows,
            summary: Summary::default(),
            error: None,
            cancelled: false,
            worker_memory_bytes: 0,
        };
        let mut a = FlowRowsAssembler::default();
        // A stale job's pieces, then job 2 in three pieces and its `Done`.
        let stale = FromWorker::FlowRows {
            job: 1,
            flows: rows[..1].to_vec(),
        };
        assert_eq!(a.accept(stale), None);
        for piece in [&rows[..1], &rows[1..3]] {
            let msg = FromWorker::FlowRows {
                job: 2,
                flows: piece.to_vec(),
            };
            assert_eq!(a.accept(msg), None);
        }
        let ready = FromWorker::Ready;
        assert_eq!(a.accept(ready.clone()), Some(ready));
        assert_eq!(
            a.accept(done(2, rows[3..].to_vec())),
            Some(done(2, rows.clone()))
        );
        // A job without pieces passes as is; nothing is left over.
        assert_eq!(
            a.accept(done(3, rows[..2].to_vec())),
            Some(done(3, rows[..2].to_vec()))
        );
    }

    #[test]
    fn row_is_written_like_the_cli() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/browser/dns-wiresharkrepo.pcap"
        ))
        .expect("fixture");
        let analysis = flowlens_core::Analyzer::analyze(&bytes, Default::default());
        assert!(analysis.error.is_none(), "{:?}", analysis.error);
        let rows: Vec<FlowRow> = analysis.flows.iter().map(FlowRow::from).collect();
        assert!(rows.len() > 1);
        let first = &rows[0];
        assert_eq!(first.proto, "udp");
        assert!(first.src.parse::<std::net::IpAddr>().is_ok());
        assert!(first.dport == 53 || first.sport == 53);
    }

    #[test]
    fn slice_size_from_the_url() {
        assert_eq!(slice_bytes_from_query(""), SLICE_BYTES);
        assert_eq!(slice_bytes_from_query("?slice_bytes=16384"), 16384);
        assert_eq!(slice_bytes_from_query("?a=1&slice_bytes=8192&b"), 8192);
        assert_eq!(slice_bytes_from_query("?slice_bytes=1"), 4096);
        assert_eq!(slice_bytes_from_query("?slice_bytes=999999999"), 64 << 20);
        assert_eq!(slice_bytes_from_query("?slice_bytes=lots"), SLICE_BYTES);
    }

    #[test]
    fn flow_limit_from_the_url() {
        assert_eq!(max_flows_from_query(""), MAX_FLOWS);
        assert_eq!(max_flows_from_query("?slice_bytes=4096&max_flows=300"), 300);
        assert_eq!(max_flows_from_query("?max_flows=0"), 1);
        assert_eq!(max_flows_from_query("?max_flows=4000000000"), MAX_FLOWS);
        assert_eq!(max_flows_from_query("?max_flows=-5"), MAX_FLOWS);
    }

    #[test]
    fn commands_round_trip_through_json_shape() {
        // The JS shape is the serde shape; JSON shows it without a browser.
        let cmd = ToWorker::Parse {
            job: 3,
            slice_bytes: SLICE_BYTES,
            max_flows: 300,
        };
        let json = serde_json::to_value(&cmd).expect("serialize");
        assert_eq!(json["type"], "parse");
        assert_eq!(json["job"], 3);
        let back: ToWorker = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, cmd);
    }
}
