//! The bodies of flowlens's fuzz targets, as plain functions of `&[u8]`.
//!
//! Every decoder that takes outside input has one target here:
//!
//! | target | input | what it checks besides "no panic" |
//! |---|---|---|
//! | `capture_flows` | a capture file | two-chunk analysis = whole; the summary adds up |
//! | `share_link` | a URL fragment (or the postcard / deflate layer under it) | decode ∘ encode = id; a decoded link is valid and replays |
//! | `manifest` | `manifest.json` | JSON round trip; flows encode under every entry within a bounded size |
//! | `weights` | safetensors bytes against each deep architecture's published entry (raw, or a real file mutated structurally) | loaded ⇒ `[n, classes]` logits, finite for bounded weights |
//! | `c45_export` | a C4.5 JSON export | loaded ⇒ probabilities in [0, 1], one per class, a valid decision path, JSON round trip |
//! | `knn_export` | a k-NN binary export | loaded ⇒ votes sum to 1, neighbours sorted, byte round trip |
//! | `key_features` | key-feature rows, what-if edits, views, share payloads | what reaches C4.5 / k-NN is `[4 + P]` finite values and gives valid predictions |
//!
//! `fuzz/fuzz_targets/<name>.rs` calls [`run`] (cargo-fuzz, libFuzzer);
//! this crate's `tests/corpus.rs` replays every file of
//! `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/` through the same
//! function on stable, so `cargo test --workspace` keeps every input the
//! fuzzer ever kept or crashed on. A property that fails panics (that is
//! what libFuzzer reports); an error returned by the core is fine as long
//! as it is one of its typed errors, which the signatures already ensure.
//!
//! The targets that need trained models (`weights`, `key_features`) read
//! the published ones in `www/models/` ([`fixtures::published`]).

#![forbid(unsafe_code)]

pub mod fixtures;
pub mod seeds;
pub mod st;
mod targets;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Needs `www/models/` (skipped natively without it).
    pub needs_models: bool,
}

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "capture_flows",
        run: targets::capture_flows::run,
        needs_models: false,
    },
    Target {
        name: "share_link",
        run: targets::share_link::run,
        needs_models: false,
    },
    Target {
        name: "manifest",
        run: targets::manifest::run,
        needs_models: false,
    },
    Target {
        name: "weights",
        run: targets::weights::run,
        needs_models: true,
    },
    Target {
        name: "c45_export",
        run: targets::c45_export::run,
        needs_models: false,
    },
    Target {
        name: "knn_export",
        run: targets::knn_export::run,
        needs_models: false,
    },
    Target {
        name: "key_features",
        run: targets::key_features::run,
        needs_models: true,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs target `name` on `data` (panics on an unknown name: a typo in a
/// fuzz target's one line).
pub fn run(name: &str, data: &[u8]) {
    match target(name) {
        Some(t) => (t.run)(data),
        None => panic!("no fuzz target {name:?}"),
    }
}
