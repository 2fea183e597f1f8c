//! The page's handle on its web worker (`www/worker.js`, see [`crate::worker`]).
//!
//! Commands posted before the worker's wasm module is up are queued and
//! sent when it reports [`FromWorker::Ready`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, File, MessageEvent, Worker, WorkerOptions, WorkerType};
use yew::Callback;

use crate::protocol::{self, FromWorker, ToWorker};

/// The worker script, relative to the page.
const WORKER_URL: &str = "./worker.js";

pub struct WorkerBridge {
    worker: Worker,
    ready: Rc<Cell<bool>>,
    /// The worker failed to load or crashed: commands would never be answered.
    broken: Rc<Cell<bool>>,
    queue: Rc<RefCell<Vec<JsValue>>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl WorkerBridge {
    /// Start the worker. `on_message` gets every message it sends;
    /// `on_failure` a readable reason when it cannot start or crashes.
    pub fn spawn(
        on_message: Callback<FromWorker>,
        on_failure: Callback<String>,
    ) -> Result<Self, JsValue> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(WORKER_URL, &options)?;
        let ready = Rc::new(Cell::new(false));
        let broken = Rc::new(Cell::new(false));
        let queue: Rc<RefCell<Vec<JsValue>>> = Rc::default();

        let (ready_in, queue_in, worker_in) = (ready.clone(), queue.clone(), worker.clone());
        let fail = on_failure.clone();
        let mut rows = protocol::FlowRowsAssembler::default();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            match protocol::decode_reply(&ev.data()).map(|msg| rows.accept(msg)) {
                Ok(None) => {}
                Ok(Some(FromWorker::Ready)) => {
                    ready_in.set(true);
                    for msg in queue_in.borrow_mut().drain(..) {
                        if let Err(e) = worker_in.post_message(&msg) {
                            fail.emit(format!("cannot talk to the worker: {}", describe(&e)));
                        }
                    }
                }
                Ok(Some(msg)) => on_message.emit(msg),
                Err(e) => fail.emit(format!("unreadable message from the worker: {e}")),
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let broken_in = broken.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
            ev.prevent_default();
            broken_in.set(true);
            let detail = ev.message();
            let detail = if detail.is_empty() {
                "it failed to load or crashed".to_string()
            } else {
                detail
            };
            on_failure.emit(format!("The background reader stopped: {detail}"));
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        Ok(Self {
            worker,
            ready,
            broken,
            queue,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// Post `command` (with `file` for [`ToWorker::Parse`]).
    pub fn send(&self, command: &ToWorker, file: Option<&File>) -> Result<(), JsValue> {
        if self.broken.get() {
            return Err(JsValue::from_str(
                "the background reader is not running (reload the page)",
            ));
        }
        let msg = protocol::envelope(command, file)?;
        if self.ready.get() {
            self.worker.post_message(&msg)
        } else {
            self.queue.borrow_mut().push(msg);
            Ok(())
        }
    }
}

impl Drop for WorkerBridge {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

/// A JS error value as words.
pub fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}
