//! flowlens: see the flows in a packet capture, in the browser.
//!
//! One wasm module serves both threads of the page:
//! - [`start_app`] (called by `www/main.js`) mounts the Yew app ([`app`]);
//! - [`start_worker`] (called by `www/worker.js`) runs the web worker
//!   ([`worker`]) that reads the dropped file and builds its flows with
//!   `flowlens-core`.
//!
//! They talk through the messages in [`protocol`]; nothing is uploaded.

#![forbid(unsafe_code)]

pub mod app;
pub mod bridge;
pub mod components;
pub mod explain;
pub mod explain_state;
pub mod export;
pub mod format;
pub mod infer;
pub mod protocol;
pub mod state;
pub mod worker;

use wasm_bindgen::prelude::*;

/// Id of the element the app is mounted into (`www/index.html`).
const ROOT_ID: &str = "app";

/// Mount the page. Called once by `www/main.js` after `init()`.
#[wasm_bindgen]
pub fn start_app() -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("start_app: no document (not on a page?)"))?;
    let root = document
        .get_element_by_id(ROOT_ID)
        .ok_or_else(|| JsValue::from_str("start_app: the page has no #app element"))?;
    // Drop the "loading" placeholder.
    root.set_inner_html("");
    yew::Renderer::<app::App>::with_root(root).render();
    Ok(())
}

/// Run the web worker. Called once by `www/worker.js` after `init()`.
#[wasm_bindgen]
pub fn start_worker() -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    worker::run()
}

/// Benchmark hook for `cargo xtask bench`: capture -> flows ->
/// representation (default spec) over a capture held in memory, fed in
/// `chunk`-byte pieces, as the worker does. Returns `[flows, packets,
/// representation bytes]`; the caller times it.
#[wasm_bindgen]
pub fn bench_pipeline(bytes: &[u8], chunk: usize) -> Vec<f64> {
    let (flows, packets, encoded) = flowlens_core::bench::pipeline(bytes, chunk);
    vec![flows as f64, packets as f64, encoded as f64]
}

/// Benchmark hook for `cargo xtask bench`: `reps` products of an
/// `[m, k]` by `[k, n]` f32 matrix with candle, as the dense layers run
/// ([`flowlens_core::bench::matmul`]). Returns the floating-point operations
/// done; the caller times it.
#[wasm_bindgen]
pub fn bench_matmul(m: usize, k: usize, n: usize, reps: usize) -> Result<f64, JsValue> {
    flowlens_core::bench::matmul(m, k, n, reps).map_err(|e| JsValue::from_str(&e.to_string()))
}
