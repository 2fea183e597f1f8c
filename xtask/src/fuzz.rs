//! `cargo xtask fuzz --seconds N`: run the `capture_flows` fuzz target
//! (`fuzz/`, cargo-fuzz + libFuzzer) for N seconds.
//!
//! - cargo-fuzz is installed from crates.io at a pinned version when it is
//!   missing or another version.
//! - With a nightly toolchain (`rustup run nightly`), the target is built
//!   with AddressSanitizer, cargo-fuzz's default. Without one (nightly is a
//!   download that a machine without the network cannot make), it is built
//!   by the stable toolchain with `RUSTC_BOOTSTRAP=1` and
//!   `--sanitizer none`: the same libFuzzer, coverage instrumentation and
//!   debug assertions, only no ASan (the core has no `unsafe` of its own,
//!   so a memory error would be a bug in a dependency).
//! - The corpus (`fuzz/corpus/capture_flows/`, not committed) is seeded at
//!   each run with the real captures of `tests/data/`.
//! - A crash stops the run with an error naming the input libFuzzer saved
//!   in `fuzz/artifacts/capture_flows/`. Once fixed, that input belongs in
//!   `tests/data/` with a test in `tests/it/`, so the native suite keeps it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The cargo-fuzz release this was verified with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
const TARGET: &str = "capture_flows";

pub fn run(seconds: u64) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent folder")?
        .to_path_buf();
    ensure_cargo_fuzz()?;
    let corpus = seed_corpus(&root)?;
    let nightly = nightly_available();

    let mut cmd = if nightly {
        let mut c = Command::new("rustup");
        c.args(["run", "nightly", "cargo", "fuzz", "run"]);
        c
    } else {
        eprintln!("xtask fuzz: no nightly toolchain; building with stable, RUSTC_BOOTSTRAP=1, no sanitizer");
        let mut c = cargo();
        c.args(["fuzz", "run", "--sanitizer", "none"]);
        c.env("RUSTC_BOOTSTRAP", "1");
        c
    };
    cmd.current_dir(&root)
        .arg(TARGET)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .args([
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-max_len=65536",
            "-print_final_stats=1",
        ])
        // What the outer `cargo run` set for xtask itself must not leak
        // into the fuzz build (it would pin the stable toolchain).
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC");
    eprintln!(
        "xtask fuzz: {TARGET} for {seconds} s ({}), corpus {}",
        if nightly {
            "nightly, ASan"
        } else {
            "stable, no sanitizer"
        },
        corpus.display()
    );
    let status = cmd
        .status()
        .context("cannot run cargo fuzz (is rustup/cargo on PATH?)")?;
    if !status.success() {
        let artifacts = root.join("fuzz/artifacts").join(TARGET);
        bail!(
            "the fuzzer stopped with {status}: see the crash input in {} and rerun it with \
             `cargo fuzz run {TARGET} <file>`",
            artifacts.display()
        );
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

/// `fuzz/corpus/capture_flows/`, with the fixtures copied in (libFuzzer
/// adds what it finds next to them).
fn seed_corpus(root: &Path) -> Result<PathBuf> {
    let corpus = root.join("fuzz/corpus").join(TARGET);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let data = root.join("tests/data");
    let mut seeds = 0;
    for e in std::fs::read_dir(&data).with_context(|| format!("cannot read {}", data.display()))? {
        let path = e?.path();
        let is_capture = matches!(
            path.extension().and_then(|x| x.to_str()),
            Some("pcap" | "pcapng" | "cap")
        );
        if path.is_file() && is_capture {
            let name = path.file_name().context("file name")?;
            std::fs::copy(&path, corpus.join(name))
                .with_context(|| format!("cannot copy {}", path.display()))?;
            seeds += 1;
        }
    }
    if seeds == 0 {
        bail!("no seed captures found in tests/data");
    }
    Ok(corpus)
}
