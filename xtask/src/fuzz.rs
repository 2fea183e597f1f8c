//! `cargo xtask fuzz --seconds N [--target NAME]`: run the fuzz targets
//! (`fuzz/`, cargo-fuzz + libFuzzer) for N seconds each, one at a time, or
//! only NAME.
//!
//! - The targets' bodies live in `crates/fuzz-harness` (one module each,
//!   with the properties they check); `fuzz/fuzz_targets/<name>.rs` is one
//!   line calling it, and `cargo test` replays the committed corpora
//!   through the same functions on stable.
//! - cargo-fuzz is installed from crates.io at a pinned version when it is
//!   missing or another version.
//! - With a nightly toolchain (`rustup run nightly`), the targets are built
//!   with AddressSanitizer, cargo-fuzz's default, and debug assertions
//!   (integer overflow checks). Without one (nightly is a download that a
//!   machine without the network cannot make), they are built by the
//!   stable toolchain with `RUSTC_BOOTSTRAP=1` and `--sanitizer none`: the
//!   same libFuzzer, coverage instrumentation and debug assertions, only no
//!   ASan (the core has no `unsafe` of its own, so a memory error would be
//!   a bug in a dependency) and no `-malloc_limit_mb` (libFuzzer's malloc
//!   hooks come with a sanitizer); `-rss_limit_mb` still holds.
//! - Seeds are made from real data before each run (`fuzz-seeds`, in the
//!   harness crate: the captures of `tests/data/`, share links of their
//!   flows, the manifest and exports of `www/models/`) into
//!   `fuzz/seeds/<target>/` (not committed). libFuzzer reads them and the
//!   corpus `fuzz/corpus/<target>/` (committed) and adds what it finds to
//!   the corpus, which is minimised (`cargo fuzz cmin`) after each target.
//! - Memory: `-rss_limit_mb=2048` and `-malloc_limit_mb=512`: a hostile
//!   length field that makes a decoder allocate hundreds of MiB at once is
//!   a crash.
//! - Per target it prints the executions, the corpus size and whether
//!   anything was found. A crash stops the run with the input libFuzzer
//!   saved in `fuzz/artifacts/<target>/` and how to rerun it; once fixed,
//!   that input belongs in `fuzz/regressions/<target>/` (replayed by
//!   `cargo test`) with a named test in the core.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The cargo-fuzz release this was verified with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// A fuzz target and the longest input libFuzzer makes for it.
struct Target {
    name: &'static str,
    max_len: usize,
    /// Needs the published models in `www/models/`.
    needs_models: bool,
    /// A libFuzzer dictionary in `fuzz/dicts/`.
    dict: Option<&'static str>,
}

/// Every target, in the order they run (as `TARGETS` in the harness).
const TARGETS: &[Target] = &[
    Target {
        name: "capture_flows",
        max_len: 65_536,
        needs_models: false,
        dict: None,
    },
    Target {
        // A fragment of up to 64 Ki characters and the mode byte.
        name: "share_link",
        max_len: 65_600,
        needs_models: false,
        dict: None,
    },
    Target {
        // Room for a pack or two; the published manifest (~57 KB, a seed)
        // is read cut to this, and the corpus stays small.
        name: "manifest",
        max_len: 16_384,
        needs_models: false,
        dict: Some("json.dict"),
    },
    Target {
        // Mutation programs over a real file, or a raw file's first KiBs.
        name: "weights",
        max_len: 8_192,
        needs_models: true,
        dict: None,
    },
    Target {
        // The smallest published tree is ~2.5 KB; larger ones (a seed each)
        // are read cut to this, and the corpus stays small.
        name: "c45_export",
        max_len: 16_384,
        needs_models: false,
        dict: Some("json.dict"),
    },
    Target {
        name: "knn_export",
        max_len: 16_384,
        needs_models: false,
        dict: Some("json.dict"),
    },
    Target {
        name: "key_features",
        max_len: 4_096,
        needs_models: true,
        dict: None,
    },
];

const LIBFUZZER_LIMITS: [&str; 4] = [
    "-timeout=10",
    "-rss_limit_mb=2048",
    "-malloc_limit_mb=512",
    "-print_final_stats=1",
];

/// What one target's run gave.
struct Outcome {
    name: &'static str,
    seconds: u64,
    executions: Option<u64>,
    corpus_files: usize,
    corpus_bytes: u64,
    found: Option<String>,
}

pub fn run(seconds: u64, only: Option<&str>) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent folder")?
        .to_path_buf();
    let targets: Vec<&Target> = match only {
        Some(name) => vec![TARGETS.iter().find(|t| t.name == name).with_context(|| {
            let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
            format!("no fuzz target `{name}` (targets: {})", names.join(", "))
        })?],
        None => TARGETS.iter().collect(),
    };
    let have_models = root.join("www/models/manifest.json").is_file();
    let (targets, skipped): (Vec<&Target>, Vec<&Target>) = targets
        .into_iter()
        .partition(|t| have_models || !t.needs_models);
    for t in &skipped {
        eprintln!(
            "xtask fuzz: skipped: {} needs the published models in www/models (trainer publish)",
            t.name
        );
    }
    if targets.is_empty() {
        bail!("no target to run");
    }
    ensure_cargo_fuzz()?;
    let nightly = nightly_available();
    if !nightly {
        eprintln!("xtask fuzz: no nightly toolchain; building with stable, RUSTC_BOOTSTRAP=1, no sanitizer");
    }
    write_seeds(&root, &targets)?;

    let mut outcomes = Vec::new();
    for t in targets {
        let outcome = fuzz_one(&root, t, seconds, nightly)?;
        let found = outcome.found.clone();
        outcomes.push(outcome);
        if let Some(artifact) = found {
            print_summary(&outcomes, nightly);
            bail!(
                "{} found a crash: {artifact}\n\
                 rerun it: cargo {}fuzz run --debug-assertions {} {artifact}\n\
                 once fixed, copy it to fuzz/regressions/{}/ (cargo test replays it) \
                 and add a named test in the core",
                t.name,
                if nightly { "+nightly " } else { "" },
                t.name,
                t.name
            );
        }
        if let Err(e) = minimise(&root, t, nightly) {
            eprintln!("xtask fuzz: {}: corpus not minimised: {e:#}", t.name);
        }
        let last = outcomes.last_mut().context("an outcome")?;
        (last.corpus_files, last.corpus_bytes) = corpus_size(&corpus_dir(&root, t));
    }
    print_summary(&outcomes, nightly);
    Ok(())
}

fn corpus_dir(root: &Path, t: &Target) -> PathBuf {
    root.join("fuzz/corpus").join(t.name)
}

/// `cargo fuzz <sub>` with the toolchain, sanitizer and environment of
/// this machine.
fn cargo_fuzz(root: &Path, sub: &str, nightly: bool) -> Command {
    let mut c = if nightly {
        let mut c = Command::new("rustup");
        c.args(["run", "nightly", "cargo", "fuzz", sub]);
        c
    } else {
        let mut c = cargo();
        c.args(["fuzz", sub, "--sanitizer", "none"]);
        c.env("RUSTC_BOOTSTRAP", "1");
        c
    };
    c.current_dir(root)
        .arg("--debug-assertions")
        // What the outer `cargo run` set for xtask itself must not leak
        // into the fuzz build (it would pin the stable toolchain), and the
        // fuzz crate builds into fuzz/target, not the workspace's.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("CARGO_TARGET_DIR");
    c
}

fn fuzz_one(root: &Path, t: &Target, seconds: u64, nightly: bool) -> Result<Outcome> {
    let corpus = corpus_dir(root, t);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let seeds = root.join("fuzz/seeds").join(t.name);
    // Built first, so that the seconds are the fuzzer's.
    let status = cargo_fuzz(root, "build", nightly)
        .arg(t.name)
        .status()
        .context("cannot run cargo fuzz build")?;
    if !status.success() {
        bail!("cargo fuzz build {} failed: {status}", t.name);
    }
    let mut cmd = cargo_fuzz(root, "run", nightly);
    cmd.arg(t.name)
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={}", t.max_len))
        .args(LIBFUZZER_LIMITS)
        .args(
            t.dict
                .map(|d| format!("-dict={}", root.join("fuzz/dicts").join(d).display())),
        )
        .stderr(Stdio::piped());
    eprintln!(
        "xtask fuzz: {} for {seconds} s ({}), corpus {}",
        t.name,
        if nightly {
            "nightly, ASan"
        } else {
            "stable, no sanitizer"
        },
        corpus.display()
    );
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .context("cannot run cargo fuzz (is rustup/cargo on PATH?)")?;
    let mut executions = None;
    let mut artifact = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("reading libFuzzer's output")?;
            eprintln!("{line}");
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                executions = n.trim().parse().ok();
            }
            if let Some((_, path)) = line.split_once("Test unit written to ") {
                artifact = Some(path.trim().to_string());
            }
        }
    }
    let status = child.wait().context("waiting for cargo fuzz")?;
    let found = match (status.success(), artifact) {
        (true, _) => None,
        // cargo-fuzz gives libFuzzer an absolute artifact prefix.
        (false, Some(path)) => Some(root.join(&path).display().to_string()),
        (false, None) => bail!(
            "cargo fuzz run {} stopped with {status} and saved no input (a build error?)",
            t.name
        ),
    };
    let (corpus_files, corpus_bytes) = corpus_size(&corpus);
    Ok(Outcome {
        name: t.name,
        seconds: started.elapsed().as_secs(),
        executions,
        corpus_files,
        corpus_bytes,
        found,
    })
}

/// `cargo fuzz cmin`: keeps the smallest set of corpus inputs with the
/// same coverage.
fn minimise(root: &Path, t: &Target, nightly: bool) -> Result<()> {
    let status = cargo_fuzz(root, "cmin", nightly)
        .arg(t.name)
        .arg(corpus_dir(root, t))
        .arg("--")
        .arg(format!("-max_len={}", t.max_len))
        .args(&LIBFUZZER_LIMITS[..3])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run cargo fuzz cmin")?;
    if !status.success() {
        bail!("cargo fuzz cmin {} stopped with {status}", t.name);
    }
    Ok(())
}

fn corpus_size(dir: &Path) -> (usize, u64) {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
        })
        .unwrap_or((0, 0))
}

fn print_summary(outcomes: &[Outcome], nightly: bool) {
    println!(
        "\nfuzz summary ({}):",
        if nightly {
            "nightly, ASan"
        } else {
            "stable, no sanitizer"
        }
    );
    println!(
        "{:<14} {:>8} {:>14} {:>14}  found",
        "target", "seconds", "executions", "corpus"
    );
    for o in outcomes {
        println!(
            "{:<14} {:>8} {:>14} {:>14}  {}",
            o.name,
            o.seconds,
            o.executions
                .map_or_else(|| "?".to_string(), |n| n.to_string()),
            format!("{} / {} KiB", o.corpus_files, o.corpus_bytes.div_ceil(1024)),
            o.found.as_deref().unwrap_or("nothing")
        );
    }
}

/// Makes the seeds of `targets` with the harness's `fuzz-seeds`.
fn write_seeds(root: &Path, targets: &[&Target]) -> Result<()> {
    let status = cargo()
        .current_dir(root)
        .args([
            "run",
            "--quiet",
            "-p",
            "flowlens-fuzz-harness",
            "--bin",
            "fuzz-seeds",
            "--",
        ])
        .arg(root.join("fuzz/seeds"))
        .args(targets.iter().map(|t| t.name))
        .env_remove("RUSTUP_TOOLCHAIN")
        .status()
        .context("cannot run fuzz-seeds")?;
    if !status.success() {
        bail!("fuzz-seeds failed: {status}");
    }
    Ok(())
}

/// `cargo` as the user has it (the rustup proxy), not the toolchain's
/// binary that `cargo run` put in `$CARGO`.
fn cargo() -> Command {
    Command::new("cargo")
}

fn ensure_cargo_fuzz() -> Result<()> {
    let out = cargo().args(["fuzz", "--version"]).output();
    let have = match &out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => String::new(),
    };
    if have == format!("cargo-fuzz {CARGO_FUZZ_VERSION}") {
        return Ok(());
    }
    eprintln!(
        "xtask fuzz: installing cargo-fuzz {CARGO_FUZZ_VERSION} (found: {})",
        if have.is_empty() { "none" } else { &have }
    );
    let status = cargo()
        .args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ])
        .env_remove("RUSTUP_TOOLCHAIN")
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz {CARGO_FUZZ_VERSION} failed: {status}");
    }
    Ok(())
}

fn nightly_available() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
