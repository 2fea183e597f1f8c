//! The web worker: reads the dropped file in slices and turns it into flows,
//! then runs the published models on them, off the page's thread.
//!
//! `www/worker.js` loads the same wasm module as the page and calls
//! [`crate::start_worker`], which lands here. On start the worker fetches
//! `models/manifest.json` from its own origin (and nothing else until a
//! model is needed), then reports [`FromWorker::Models`] and
//! [`FromWorker::Ready`].
//!
//! - [`ToWorker::Parse`]: the worker reads the `File` itself
//!   (`file.slice(a, b).arrayBuffer()`), so the page never holds the capture;
//!   between slices it returns to the event loop so a [`ToWorker::Cancel`]
//!   can arrive. It keeps the flows of its last job (their first packets,
//!   which the models read) for the commands below.
//! - [`ToWorker::Classify`]: each model of the pack, in order: weights
//!   fetched on first use and checked against the manifest's sha256, then
//!   every flow in batches; predictions stream back as they come.
//! - [`ToWorker::Detail`]: every model's logits and probabilities for one
//!   flow, and its packets field by field.
//! - [`ToWorker::Explain`], [`ToWorker::Analyse`]: explanations, what-if,
//!   share links, capture-wide field weights and the shortcut audit
//!   (`worker_explain.rs`, over [`crate::explain`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use candle_core::Device;
use flowlens_core::classifier::Classifier;
use flowlens_core::manifest::{Manifest, ModelEntry};
use flowlens_core::{Analyzer, Flow, FlowConfig};
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, File, MessageEvent, Response};

use crate::infer;

#[path = "worker_explain.rs"]
mod explain_cmds;
use crate::protocol::{
    self, FlowDetail, FlowRow, FromWorker, ModelInfo, ModelOutput, PackInfo, ToWorker,
};

/// The manifest, relative to `worker.js` (same origin, same folder as the page).
const MANIFEST_URL: &str = "models/manifest.json";
/// Folder of the weight files, relative to `worker.js`.
const MODELS_DIR: &str = "models/";
/// Post predictions at least this often while a model runs (ms).
const POST_EVERY_MS: f64 = 100.0;
/// Return to the event loop after this much work (ms), so a cancel, a new
/// file or a detail request gets in.
const YIELD_EVERY_MS: f64 = 30.0;

/// Everything the worker keeps between messages.
struct Worker {
    scope: DedicatedWorkerGlobalScope,
    /// Parse jobs with an id up to this one must stop.
    stop_up_to: Cell<u32>,
    /// The newest job and classification run; older runs stop.
    current: Cell<(u32, u32)>,
    manifest: Option<Rc<Manifest>>,
    /// The flows of the newest finished job.
    flows: RefCell<Option<(u32, Rc<Vec<Flow>>)>>,
    /// Loaded classifiers by model id (weights fetched once).
    classifiers: RefCell<HashMap<String, Rc<Classifier>>>,
    /// Models of the current run, in order.
    run_models: RefCell<Vec<ModelEntry>>,
    /// Runs waiting for a file to be read (resolved when a parse ends).
    flow_waiters: RefCell<Vec<js_sys::Function>>,
    /// The newest capture-wide analysis; older ones stop.
    analysis: Cell<u32>,
    device: Device,
}

/// Fetch the manifest, install the message handler, tell the page.
pub fn run() -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    wasm_bindgen_futures::spawn_local(async move {
        let (manifest, models_msg) = load_manifest(&scope).await;
        let worker = Rc::new(Worker {
            scope: scope.clone(),
            stop_up_to: Cell::new(0),
            current: Cell::new((0, 0)),
            manifest: manifest.map(Rc::new),
            flows: RefCell::new(None),
            classifiers: RefCell::new(HashMap::new()),
            run_models: RefCell::new(Vec::new()),
            flow_waiters: RefCell::new(Vec::new()),
            analysis: Cell::new(0),
            device: Device::Cpu,
        });
        let w = worker.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            w.clone().on_message(ev)
        });
        scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The handler lives as long as the worker.
        on_message.forget();
        worker.post(&models_msg);
        worker.post(&FromWorker::Ready);
    });
    Ok(())
}

/// The manifest (if usable) and the message that describes it to the page.
async fn load_manifest(scope: &DedicatedWorkerGlobalScope) -> (Option<Manifest>, FromWorker) {
    let none = |missing: Option<String>, error: Option<String>| FromWorker::Models {
        packs: Vec::new(),
        missing,
        error,
    };
    let text = match fetch(scope, MANIFEST_URL).await {
        Ok(FetchResult::Found(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(FetchResult::NotFound) => {
            let msg = format!("no models are published here ({MANIFEST_URL} not found)");
            return (None, none(Some(msg), None));
        }
        Err(e) => {
            let msg = format!("The model list ({MANIFEST_URL}) could not be loaded: {e}");
            return (None, none(None, Some(msg)));
        }
    };
    match Manifest::from_json(&text) {
        Ok(m) => {
            let packs = m.packs.iter().map(PackInfo::from_pack).collect();
            (
                Some(m),
                FromWorker::Models {
                    packs,
                    missing: None,
                    error: None,
                },
            )
        }
        Err(e) => {
            let msg = format!("The model list ({MANIFEST_URL}) cannot be used: {e}");
            (None, none(None, Some(msg)))
        }
    }
}

impl Worker {
    fn on_message(self: Rc<Self>, ev: MessageEvent) {
        match protocol::open_envelope(&ev.data()) {
            Ok((
                ToWorker::Parse {
                    job,
                    slice_bytes,
                    max_flows,
                },
                Some(file),
            )) => {
                // A new job supersedes every earlier one, and their runs.
                self.stop_up_to
                    .set(self.stop_up_to.get().max(job.saturating_sub(1)));
                self.current.set((job, 0));
                // The previous file's flows are not needed any more.
                *self.flows.borrow_mut() = None;
                wasm_bindgen_futures::spawn_local(async move {
                    let done = self.parse(job, file, slice_bytes, max_flows).await;
                    if !self.post(&done) {
                        let error = "the results could not be sent to the page".to_string();
                        self.post(&self.done_with_error(job, error));
                    }
                });
            }
            Ok((ToWorker::Parse { job, .. }, None)) => {
                let error = "the page sent no file to read".to_string();
                self.keep_flows(job, Vec::new());
                self.post(&self.done_with_error(job, error));
            }
            Ok((ToWorker::Cancel { job }, _)) => {
                self.stop_up_to.set(self.stop_up_to.get().max(job))
            }
            Ok((ToWorker::Classify { job, run, pack }, _)) => {
                self.current.set((job, run));
                wasm_bindgen_futures::spawn_local(async move {
                    self.classify(job, run, &pack).await;
                });
            }
            Ok((ToWorker::Detail { job, run, flow }, _)) => {
                wasm_bindgen_futures::spawn_local(async move {
                    let detail = self.detail(job, run, flow).await;
                    self.post(&FromWorker::Detail(detail));
                });
            }
            Ok((ToWorker::Explain(req), _)) => {
                wasm_bindgen_futures::spawn_local(async move {
                    let reply = self.explain(req).await;
                    self.post(&FromWorker::Explained(reply));
                });
            }
            Ok((ToWorker::Analyse(req), _)) => {
                self.analysis.set(req.req);
                wasm_bindgen_futures::spawn_local(async move { self.analyse(req).await });
            }
            Err(e) => web_sys::console::error_1(&format!("flowlens worker: {e}").into()),
        }
    }

    /// Read `file` slice by slice; the returned message is [`FromWorker::Done`].
    async fn parse(&self, job: u32, file: File, slice_bytes: u32, max_flows: u32) -> FromWorker {
        let bytes_total = file.size().max(0.0) as u64;
        let slice_bytes = u64::from(protocol::clamp_slice_bytes(slice_bytes));
        let cfg: FlowConfig = self
            .manifest
            .as_deref()
            .map_or_else(FlowConfig::default, Manifest::flow_config);
        let mut analyzer = Analyzer::new(cfg);
        let mut buf: Vec<u8> = Vec::new();
        let mut offset = 0u64;
        let mut cancelled = false;
        let mut read_error = None;
        let stopped = || self.stop_up_to.get() >= job;
        self.post(&progress(job, &analyzer, bytes_total));

        while offset < bytes_total {
            if stopped() {
                cancelled = true;
                break;
            }
            let end = (offset + slice_bytes).min(bytes_total);
            if let Err(e) = read_slice(&file, offset, end, &mut buf).await {
                read_error = Some(format!(
                    "could not read the file at byte {offset}: {e}; the flows read before are shown"
                ));
                break;
            }
            // The user may have cancelled while the slice was being read.
            if stopped() {
                cancelled = true;
                break;
            }
            // After an error the analyzer refuses more input; `finish` reports it.
            if analyzer.feed(&buf).is_err() {
                break;
            }
            offset = end;
            self.post(&progress(job, &analyzer, bytes_total));
            if analyzer.flow_count() as u64 >= u64::from(max_flows) && offset < bytes_total {
                read_error = Some(format!(
                    "stopped at byte {offset} of {bytes_total}: this page keeps at most \
                     {max_flows} flows (a browser tab's memory is limited); the {} flows \
                     read so far are shown. Split the capture (e.g. editcap -c) to see the rest",
                    analyzer.flow_count()
                ));
                break;
            }
            // Let queued messages (a cancel) run before the next slice.
            yield_to_event_loop(&self.scope).await;
        }
        drop(buf);

        let bytes_done = analyzer.bytes_fed();
        let analysis = analyzer.finish();
        let error = match (read_error, cancelled) {
            (Some(e), _) => Some(e),
            // Stopping mid-file is not a fault of the file: a `Truncated` error
            // here only says where we stopped. A real fault would have ended the
            // loop before the cancel was seen.
            (None, true) => None,
            (None, false) => analysis.error.map(|e| e.to_string()),
        };
        let rows: Vec<FlowRow> = analysis.flows.iter().map(FlowRow::from).collect();
        self.keep_flows(job, analysis.flows);
        // All but the last piece ahead of `Done` (see `FromWorker::FlowRows`).
        let per = protocol::FLOW_ROWS_PER_MESSAGE;
        let ahead = rows.len().saturating_sub(1) / per;
        let mut rows = rows.into_iter();
        for _ in 0..ahead {
            let flows = rows.by_ref().take(per).collect();
            self.post(&FromWorker::FlowRows { job, flows });
        }
        let rows = rows.collect();
        FromWorker::Done {
            job,
            bytes_done,
            bytes_total,
            flows: rows,
            summary: analysis.summary,
            error,
            cancelled,
            worker_memory_bytes: wasm_memory_bytes(),
        }
    }

    /// Keep the flows of `job` for the models (unless a newer job owns the
    /// slot) and wake the runs waiting for them.
    fn keep_flows(&self, job: u32, flows: Vec<Flow>) {
        {
            let mut slot = self.flows.borrow_mut();
            if slot.as_ref().is_none_or(|(j, _)| *j <= job) {
                *slot = Some((job, Rc::new(flows)));
            }
        }
        let waiters = std::mem::take(&mut *self.flow_waiters.borrow_mut());
        for wake in waiters {
            let _ = wake.call0(&JsValue::UNDEFINED);
        }
    }

    /// The flows of `job` once it has been read; `None` if the run was
    /// superseded meanwhile.
    async fn wait_for_flows(&self, job: u32, run: u32) -> Option<Rc<Vec<Flow>>> {
        loop {
            if !self.is_current(job, run) {
                return None;
            }
            if let Some(flows) = self.job_flows(job) {
                return Some(flows);
            }
            let waiters = &self.flow_waiters;
            let promise = Promise::new(&mut |resolve, _reject| waiters.borrow_mut().push(resolve));
            let _ = JsFuture::from(promise).await;
        }
    }

    fn is_current(&self, job: u32, run: u32) -> bool {
        self.current.get() == (job, run)
    }

    /// The flows of `job`, if they are still the worker's.
    fn job_flows(&self, job: u32) -> Option<Rc<Vec<Flow>>> {
        match &*self.flows.borrow() {
            Some((j, flows)) if *j == job => Some(flows.clone()),
            _ => None,
        }
    }

    /// Run every model of `pack_id` on the flows of `job`. The page asks
    /// as soon as the file is dropped: the first model's weights load while
    /// the file is read, then the run waits for the flows.
    async fn classify(&self, job: u32, run: u32, pack_id: &str) {
        let Some(pack) = self
            .manifest
            .as_ref()
            .and_then(|m| m.packs.iter().find(|p| p.id == pack_id))
        else {
            self.post(&FromWorker::ModelFailed {
                job,
                run,
                model: u32::MAX,
                error: format!("no model pack {pack_id:?} in the manifest"),
            });
            self.post(&FromWorker::InferenceDone { job, run });
            return;
        };
        if self.job_flows(job).is_none() {
            // A failure is reported in order by the loop below.
            if let Some(first) = pack.models.first() {
                let _ = self.classifier(first).await;
            }
        }
        let Some(flows) = self.wait_for_flows(job, run).await else {
            return;
        };
        *self.run_models.borrow_mut() = pack.models.clone();
        self.post(&FromWorker::InferenceStarted {
            job,
            run,
            pack: pack.id.clone(),
            models: pack.models.iter().map(ModelInfo::from_entry).collect(),
            flows: flows.len() as u32,
        });
        let mut last_yield = now_ms();
        for (index, entry) in pack.models.iter().enumerate() {
            let model = index as u32;
            if !self.is_current(job, run) {
                return;
            }
            let loading = now_ms();
            let clf = match self.classifier(entry).await {
                Ok(c) => c,
                Err(error) => {
                    self.post(&FromWorker::ModelFailed {
                        job,
                        run,
                        model,
                        error,
                    });
                    continue;
                }
            };
            let load_ms = now_ms() - loading;
            let mut compute_ms = 0.0;
            let mut pending = Pending::new(0);
            let mut last_post = now_ms();
            let mut model_failed = false;
            let batches = flows.chunks(flowlens_core::classifier::batch_flows(entry.architecture));
            let n_batches = batches.len();
            for (b, batch) in batches.enumerate() {
                let t = now_ms();
                match infer::predict(&clf, entry, batch, &self.device) {
                    Ok((labels, confidences)) => {
                        pending.labels.extend(labels);
                        pending.confidences.extend(confidences);
                    }
                    Err(e) => {
                        self.post(&FromWorker::ModelFailed {
                            job,
                            run,
                            model,
                            error: format!("{}: {e}", entry.id),
                        });
                        model_failed = true;
                        break;
                    }
                }
                let after = now_ms();
                compute_ms += after - t;
                let last = b + 1 == n_batches;
                // The first batch at once (first results fast), then at most
                // every POST_EVERY_MS.
                if b == 0 || last || after - last_post >= POST_EVERY_MS {
                    let next = pending.start + pending.labels.len() as u32;
                    let out = std::mem::replace(&mut pending, Pending::new(next));
                    self.post(&out.message(job, run, model));
                    last_post = after;
                }
                if after - last_yield >= YIELD_EVERY_MS {
                    yield_to_event_loop(&self.scope).await;
                    last_yield = now_ms();
                    if !self.is_current(job, run) {
                        return;
                    }
                }
            }
            if !model_failed {
                self.post(&FromWorker::ModelDone {
                    job,
                    run,
                    model,
                    flows: flows.len() as u32,
                    compute_ms,
                    load_ms,
                });
            }
        }
        if self.is_current(job, run) {
            self.post(&FromWorker::InferenceDone { job, run });
        }
    }

    /// The classifier of `entry`: from the cache, or fetched, checked
    /// against its sha256 and loaded.
    async fn classifier(&self, entry: &ModelEntry) -> Result<Rc<Classifier>, String> {
        let key = format!("{}:{}", entry.id, entry.weights.sha256);
        if let Some(c) = self.classifiers.borrow().get(&key) {
            return Ok(c.clone());
        }
        let url = format!("{MODELS_DIR}{}", entry.weights.file);
        let bytes = match fetch(&self.scope, &url).await {
            Ok(FetchResult::Found(b)) => b,
            Ok(FetchResult::NotFound) => {
                return Err(format!(
                    "model {}: its weight file {} is missing (not found on the server)",
                    entry.id, entry.weights.file
                ))
            }
            Err(e) => {
                return Err(format!(
                    "model {}: its weight file {} could not be loaded: {e}",
                    entry.id, entry.weights.file
                ))
            }
        };
        let clf = Classifier::load(entry, &bytes, &self.device)
            .map_err(|e| format!("model {} cannot be used: {e}", entry.id))?;
        let clf = Rc::new(clf);
        self.classifiers.borrow_mut().insert(key, clf.clone());
        Ok(clf)
    }

    /// Every model of the current run on flow `index` of `job`.
    async fn detail(&self, job: u32, run: u32, index: u32) -> FlowDetail {
        let mut out = FlowDetail {
            job,
            run,
            flow: index,
            models: Vec::new(),
            packets: Vec::new(),
            error: None,
        };
        let flow = self
            .job_flows(job)
            .and_then(|flows| flows.get(index as usize).cloned());
        let Some(flow) = flow else {
            out.error = Some("this flow is no longer in memory".into());
            return out;
        };
        let entries = self.run_models.borrow().clone();
        if let Some(first) = entries.first() {
            out.packets = first.representation.field_map(&flow);
        } else {
            out.packets = flowlens_core::repr::Representation::default().field_map(&flow);
        }
        for entry in &entries {
            let result = match self.classifier(entry).await {
                Ok(clf) => infer::explain_one(&clf, entry, &flow, &self.device)
                    .map_err(|e| format!("{}: {e}", entry.id)),
                Err(e) => Err(e),
            };
            out.models.push(result.unwrap_or_else(|error| ModelOutput {
                id: entry.id.clone(),
                label: u16::MAX,
                probabilities: Vec::new(),
                logits: Vec::new(),
                error: Some(error),
            }));
        }
        out
    }

    fn done_with_error(&self, job: u32, error: String) -> FromWorker {
        FromWorker::Done {
            job,
            bytes_done: 0,
            bytes_total: 0,
            flows: Vec::new(),
            summary: Default::default(),
            error: Some(error),
            cancelled: false,
            worker_memory_bytes: wasm_memory_bytes(),
        }
    }

    /// Post `msg` to the page; false (and a console error) if that failed.
    fn post(&self, msg: &FromWorker) -> bool {
        let sent = protocol::encode_reply(msg).and_then(|v| self.scope.post_message(&v));
        if let Err(e) = &sent {
            web_sys::console::error_2(&"flowlens worker: cannot post a message:".into(), e);
        }
        sent.is_ok()
    }
}

/// Predictions gathered between two posts.
struct Pending {
    start: u32,
    labels: Vec<u16>,
    confidences: Vec<f32>,
}

impl Pending {
    fn new(start: u32) -> Self {
        Pending {
            start,
            labels: Vec::new(),
            confidences: Vec::new(),
        }
    }

    fn message(self, job: u32, run: u32, model: u32) -> FromWorker {
        FromWorker::Predictions {
            job,
            run,
            model,
            start: self.start,
            labels: self.labels,
            confidences: self.confidences,
        }
    }
}

/// Current size of this module's linear memory.
fn wasm_memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as u64
        })
        .unwrap_or(0)
}

/// Milliseconds on the worker's monotonic clock.
fn now_ms() -> f64 {
    js_sys::global()
        .dyn_into::<web_sys::WorkerGlobalScope>()
        .ok()
        .and_then(|s| s.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

fn progress(job: u32, analyzer: &Analyzer, bytes_total: u64) -> FromWorker {
    FromWorker::Progress {
        job,
        bytes_done: analyzer.bytes_fed(),
        bytes_total,
        flows: analyzer.flow_count() as u64,
    }
}

enum FetchResult {
    Found(Vec<u8>),
    NotFound,
}

/// GET `url` (relative to the worker script: same origin) as bytes.
async fn fetch(scope: &DedicatedWorkerGlobalScope, url: &str) -> Result<FetchResult, String> {
    let response: Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    if response.status() == 404 {
        return Ok(FetchResult::NotFound);
    }
    if !response.ok() {
        return Err(format!(
            "HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    Ok(FetchResult::Found(Uint8Array::new(&buffer).to_vec()))
}

/// Bytes `start..end` of `file` into `buf` (reused between slices).
async fn read_slice(file: &File, start: u64, end: u64, buf: &mut Vec<u8>) -> Result<(), String> {
    let blob = file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(js_error)?;
    let array = JsFuture::from(blob.array_buffer())
        .await
        .map_err(js_error)?;
    let bytes = Uint8Array::new(&array);
    buf.resize(bytes.length() as usize, 0);
    bytes.copy_to(buf);
    Ok(())
}

/// A macrotask boundary (`setTimeout(0)`), so message events get their turn.
async fn yield_to_event_loop(scope: &DedicatedWorkerGlobalScope) {
    let promise = Promise::new(&mut |resolve, _reject| {
        // If scheduling fails we simply do not wait.
        if scope
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .is_err()
        {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = JsFuture::from(promise).await;
}

fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}
