//! Replays every fuzz input the repository keeps through the targets'
//! bodies, on stable and without libFuzzer:
//! - the seeds ([`flowlens_fuzz_harness::seeds`], made from real data);
//! - `fuzz/corpus/<target>/`: the minimised corpora of past runs;
//! - `fuzz/regressions/<target>/`: inputs that once crashed a target
//!   (each also has a named test in the core).
//!
//! A failing input is named with its path; rerun it alone with
//! `cargo test -p flowlens-fuzz-harness --test corpus -- <target>`.

#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use flowlens_fuzz_harness::{fixtures, seeds, target};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn replay(name: &str) {
    let t = target(name).expect("a target");
    if t.needs_models && fixtures::published().is_none() {
        eprintln!(
            "skipped: {name} needs the published models in {}",
            fixtures::models_dir().display()
        );
        return;
    }
    let root = fixtures::repo_root().join("fuzz");
    let mut inputs: Vec<(String, Vec<u8>)> = seeds::seeds(name)
        .into_iter()
        .map(|(n, b)| (format!("seed {n}"), b))
        .collect();
    for dir in ["corpus", "regressions"] {
        for p in files(&root.join(dir).join(name)) {
            match std::fs::read(&p) {
                Ok(bytes) => inputs.push((p.display().to_string(), bytes)),
                // `cargo fuzz cmin` replaces the folder while it runs.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("{}: {e}", p.display()),
            }
        }
    }
    let mut failed = Vec::new();
    for (what, bytes) in &inputs {
        if catch_unwind(AssertUnwindSafe(|| (t.run)(bytes))).is_err() {
            failed.push(what.clone());
        }
    }
    eprintln!("{name}: replayed {} inputs", inputs.len());
    assert!(
        failed.is_empty(),
        "{name} fails on {} input(s): {failed:#?}",
        failed.len()
    );
}

#[test]
fn capture_flows() {
    replay("capture_flows");
}

#[test]
fn share_link() {
    replay("share_link");
}

#[test]
fn manifest() {
    replay("manifest");
}

#[test]
fn weights() {
    replay("weights");
}

#[test]
fn c45_export() {
    replay("c45_export");
}

#[test]
fn knn_export() {
    replay("knn_export");
}

#[test]
fn key_features() {
    replay("key_features");
}

#[test]
fn every_target_has_a_test_here_and_a_fuzz_target() {
    let this = include_str!("corpus.rs");
    for t in flowlens_fuzz_harness::TARGETS {
        assert!(
            this.contains(&format!("fn {}()", t.name)),
            "no test for {}",
            t.name
        );
        let bin = fixtures::repo_root().join(format!("fuzz/fuzz_targets/{}.rs", t.name));
        assert!(bin.is_file(), "no {}", bin.display());
    }
}
