//! flowlens-core: capture bytes in; flows, model inputs and explanations out.
//!
//! This crate does no IO: no file system, no threads, no clocks. It builds for
//! `wasm32-unknown-unknown` and native targets, and the browser and the trainer
//! use it unchanged.
//!
//! Data flow, one way:
//! ```text
//! bytes (any chunking) -> capture::CaptureReader -> capture::Packet (borrowed)
//!   -> packet::decode (link layer walked and dropped, IP/ports found, or a SkipReason)
//!   -> flows::FlowTable (bidirectional 5-tuple, idle timeout, FIN/RST)
//!   -> repr::Representation (P packets x B bytes, addresses zeroed, view applied)
//! ```
//! [`Analyzer`] glues the first three together for the common case.

#![forbid(unsafe_code)]

pub mod baselines;
pub mod bench;
pub mod capture;
pub mod classifier;
pub mod explain;
pub mod flows;
pub mod manifest;
pub mod models;
pub mod packet;
pub mod repr;

mod analyzer;

pub use analyzer::{Analysis, Analyzer};
pub use capture::{CaptureError, CaptureReader, Packet};
pub use flows::{Direction, Flow, FlowConfig, FlowKey, FlowTable, PacketHead, Summary};
pub use packet::SkipReason;
