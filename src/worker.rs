//! The web worker: reads the dropped file in slices and turns it into flows,
//! off the page's thread.
//!
//! `www/worker.js` loads the same wasm module as the page and calls
//! [`crate::start_worker`], which lands here. The worker reads the `File`
//! itself (`file.slice(a, b).arrayBuffer()`), so the page never holds the
//! capture in memory; between slices it returns to the event loop so a
//! [`ToWorker::Cancel`] can arrive.

use std::cell::Cell;
use std::rc::Rc;

use flowlens_core::{Analyzer, FlowConfig};
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, File, MessageEvent};

use crate::protocol::{self, FlowRow, FromWorker, ToWorker};

/// Install the message handler and tell the page the worker is ready.
pub fn run() -> Result<(), JsValue> {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into()?;
    // Jobs with an id up to this one must stop.
    let stop_up_to = Rc::new(Cell::new(0u32));

    let handler_scope = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        match protocol::open_envelope(&ev.data()) {
            Ok((ToWorker::Parse { job, slice_bytes }, Some(file))) => {
                // A new job supersedes every earlier one.
                stop_up_to.set(stop_up_to.get().max(job.saturating_sub(1)));
                let scope = handler_scope.clone();
                let stop = stop_up_to.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let done = parse(&scope, job, file, slice_bytes, &stop).await;
                    if !post(&scope, &done) {
                        let error = "the results could not be sent to the page".to_string();
                        post(&scope, &done_with_error(job, error));
                    }
                });
            }
            Ok((ToWorker::Parse { job, .. }, None)) => {
                let error = "the page sent no file to read".to_string();
                post(&handler_scope, &done_with_error(job, error));
            }
            Ok((ToWorker::Cancel { job }, _)) => stop_up_to.set(stop_up_to.get().max(job)),
            Err(e) => web_sys::console::error_1(&format!("flowlens worker: {e}").into()),
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(&scope, &FromWorker::Ready);
    Ok(())
}

/// Read `file` slice by slice; the returned message is [`FromWorker::Done`].
async fn parse(
    scope: &DedicatedWorkerGlobalScope,
    job: u32,
    file: File,
    slice_bytes: u32,
    stop_up_to: &Cell<u32>,
) -> FromWorker {
    let bytes_total = file.size().max(0.0) as u64;
    let slice_bytes = u64::from(protocol::clamp_slice_bytes(slice_bytes));
    let mut analyzer = Analyzer::new(FlowConfig::default());
    let mut buf: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    let mut cancelled = false;
    let mut read_error = None;
    post(scope, &progress(job, &analyzer, bytes_total));

    while offset < bytes_total {
        if stop_up_to.get() >= job {
            cancelled = true;
            break;
        }
        let end = (offset + slice_bytes).min(bytes_total);
        match read_slice(&file, offset, end, &mut buf).await {
            Ok(()) => {}
            Err(e) => {
                read_error = Some(format!(
                    "could not read the file at byte {offset}: {e}; the flows read before are shown"
                ));
                break;
            }
        }
        // The user may have cancelled while the slice was being read.
        if stop_up_to.get() >= job {
            cancelled = true;
            break;
        }
        // After an error the analyzer refuses more input; `finish` reports it.
        if analyzer.feed(&buf).is_err() {
            break;
        }
        offset = end;
        post(scope, &progress(job, &analyzer, bytes_total));
        // Let queued messages (a cancel) run before the next slice.
        yield_to_event_loop(scope).await;
    }

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
    FromWorker::Done {
        job,
        bytes_done,
        bytes_total,
        flows: analysis.flows.iter().map(FlowRow::from).collect(),
        summary: analysis.summary,
        error,
        cancelled,
        worker_memory_bytes: wasm_memory_bytes(),
    }
}

/// Current size of this module's linear memory.
fn wasm_memory_bytes() -> u64 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as u64
        })
        .unwrap_or(0)
}

fn progress(job: u32, analyzer: &Analyzer, bytes_total: u64) -> FromWorker {
    FromWorker::Progress {
        job,
        bytes_done: analyzer.bytes_fed(),
        bytes_total,
        flows: analyzer.flow_count() as u64,
    }
}

fn done_with_error(job: u32, error: String) -> FromWorker {
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

/// Post `msg` to the page; false (and a console error) if that failed.
fn post(scope: &DedicatedWorkerGlobalScope, msg: &FromWorker) -> bool {
    let sent = protocol::to_js(msg).and_then(|v| scope.post_message(&v));
    if let Err(e) = &sent {
        web_sys::console::error_2(&"flowlens worker: cannot post a message:".into(), e);
    }
    sent.is_ok()
}

fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}
