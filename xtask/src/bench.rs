//! `cargo xtask bench [--no-browser]`: figures, not assertions.
//!
//! 1. native capture -> flows -> representation from memory
//!    (`flowlens-core/examples/bench_pipeline`, one thread);
//! 2. native model inference (`flowlens-core/examples/bench_infer`: the
//!    published models on the flows of a 10 MB capture, in the worker's
//!    batches, one thread, encoding included: the browser's work, natively;
//!    and candle's matrix product, the dense layers' ceiling) and
//!    training throughput (`trainer bench-train`: one epoch of forward,
//!    backward and AdamW step per deep model on real USTC-TFC2016 flows);
//! 3. the same pipeline and matrix product in headless Chromium (the page's `bench_pipeline`
//!    export, timed in the page), and a 1 GiB capture dropped into the page:
//!    flows found and the worker's peak wasm memory;
//! 4. the models in headless Chromium: the size of the page's wasm gzipped
//!    (no weights in it), a 10 MB capture of many short flows dropped into
//!    the page: time to the first predictions, then each model's throughput
//!    as the worker measures it (encoding + inference, one thread), for the
//!    default pack and for one with the C4.5 and k-NN baselines, and the
//!    default pack again (V8's optimising tier by then); the time to show
//!    each model's explanation of one flow;
//! 5. a capture of over 100,000 flows dropped into the page: the main
//!    thread's long tasks while it parses and classifies, and the time to
//!    scroll the (virtualised) table to its last flow.
//!
//! Real captures: `../shared/data/LAB-siteA` (full-payload lab traffic) and
//! `USTC-TFC2016-784B` (small packets, many flows) when present, else the
//! fixtures in `tests/data/`. The 1 GiB file is built from one real
//! Ethernet capture repeated, with the IPv4 source address shifted in each
//! copy so flows multiply as they would in a long capture.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{cargo, run_command, serve, target_dir, web};

pub fn run(root: &Path, browser: bool) -> Result<()> {
    let captures = bench_captures(root)?;
    println!(
        "==> bench captures: {} files ({})",
        captures.len(),
        describe(&captures)
    );
    println!("\n==> native pipeline (release, one thread)");
    run_command(
        release_run(
            root,
            &["-p", "flowlens-core", "--example", "bench_pipeline"],
        )
        .args(&captures),
    )?;
    // 10 MB of many short flows for the models: a USTC-TFC2016-784B capture
    // (one session per few packets) repeated, else the first capture that
    // can be repeated.
    let many_flows = repeatable(&captures, "USTC-TFC2016-784B")?;
    let ten = big_file(root, "10mb", many_flows)?;
    make_big_capture(many_flows, &ten, 10 << 20)?;
    println!("\n==> native model inference (release, one thread, the published models)");
    run_command(
        release_run(root, &["-p", "flowlens-core", "--example", "bench_infer"])
            .arg(root.join("www/models"))
            .arg(&ten),
    )?;
    println!("\n==> native training throughput (release, one thread per model)");
    let train_data = root.join("../shared/data/USTC-TFC2016-784B");
    if train_data.is_dir() {
        run_command(
            release_run(root, &["-p", "trainer"])
                .args(["bench-train", "--data"])
                .arg(&train_data),
        )?;
    } else {
        println!(
            "skipped: training throughput needs labelled captures ({} not present)",
            train_data.display()
        );
    }
    if !browser {
        return Ok(());
    }
    println!("\n==> browser (headless Chromium)");
    web::build(root, web::Profile::Wasm)?;
    let seed = repeatable(&captures, "HTTPS")?;
    let big = big_file(root, "1gib", seed)?;
    make_big_capture(seed, &big, 1 << 30)?;
    // Over 100,000 flows (about 2,400 per MB of short sessions) for the
    // page's responsiveness.
    let many = big_file(root, "48mib", many_flows)?;
    make_big_capture(many_flows, &many, 48 << 20)?;
    let server = serve::StaticServer::start(&root.join("www"), 0, false)?;
    let browser_dir = root.join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        run_command(
            Command::new("npm")
                .current_dir(&browser_dir)
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .args(["ci", "--no-audit", "--no-fund"]),
        )?;
    }
    let list: Vec<String> = captures.iter().map(|p| p.display().to_string()).collect();
    let result = run_command(
        Command::new("node")
            .current_dir(&browser_dir)
            .arg("bench.mjs")
            .env("FLOWLENS_URL", server.url())
            .env("BENCH_CAPTURES", list.join("\n"))
            .env("BENCH_BIG", &big)
            .env("BENCH_10MB", &ten)
            .env("BENCH_100K", &many)
            .env("BENCH_WASM", root.join("www/pkg/flowlens_bg.wasm")),
    );
    server.stop();
    result
}

/// `cargo run --release -q <what> --` on one candle thread (the browser
/// has one): append the program's arguments.
fn release_run(root: &Path, what: &[&str]) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(root)
        .env("RAYON_NUM_THREADS", "1")
        .args(["run", "--release", "-q"])
        .args(what)
        .arg("--");
    cmd
}

fn describe(files: &[PathBuf]) -> String {
    let bytes: u64 = files
        .iter()
        .filter_map(|f| fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn bench_captures(root: &Path) -> Result<Vec<PathBuf>> {
    let shared = root.join("../shared/data");
    let mut out = Vec::new();
    for set in ["LAB-siteA", "USTC-TFC2016-784B"] {
        let dir = shared.join(set);
        if dir.is_dir() {
            for label in sorted(&dir)? {
                if label.is_dir() {
                    out.extend(
                        sorted(&label)?
                            .into_iter()
                            .filter(|f| f.extension().is_some_and(|e| e == "pcap")),
                    );
                }
            }
        }
    }
    if out.is_empty() {
        println!("(../shared/data not present: benchmarking tests/data fixtures)");
        out = sorted(&root.join("tests/data"))?
            .into_iter()
            .filter(|f| f.is_file() && f.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .filter(|f| !f.to_string_lossy().contains("fuzz"))
            .collect();
    }
    Ok(out)
}

fn sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

/// Repeat the packets of a little-endian legacy Ethernet pcap until `size`
/// bytes, adding the copy number to each IPv4 source address.
/// The capture whose path contains `preferred`, else the first one
/// [`make_big_capture`] can repeat (a little-endian Ethernet pcap).
fn repeatable<'a>(captures: &'a [PathBuf], preferred: &str) -> Result<&'a PathBuf> {
    let ethernet = |p: &&PathBuf| {
        let mut head = [0u8; 24];
        fs::File::open(p)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|()| head[..4] == [0xd4, 0xc3, 0xb2, 0xa1] && head[20] == 1)
    };
    captures
        .iter()
        .filter(ethernet)
        .find(|p| p.to_string_lossy().contains(preferred))
        .or_else(|| captures.iter().find(ethernet))
        .context("no little-endian Ethernet pcap among the bench captures to repeat")
}

/// `target/bench/<size>-<seed's stem>.pcap`: built once per seed.
fn big_file(root: &Path, size: &str, seed: &Path) -> Result<PathBuf> {
    let stem = seed.file_stem().unwrap_or_default().to_string_lossy();
    Ok(target_dir(root)?
        .join("bench")
        .join(format!("{size}-{stem}.pcap")))
}

fn make_big_capture(seed: &Path, out: &Path, size: u64) -> Result<()> {
    if out.metadata().is_ok_and(|m| m.len() >= size) {
        return Ok(());
    }
    let bytes = fs::read(seed).with_context(|| format!("cannot read {}", seed.display()))?;
    anyhow::ensure!(
        bytes.len() > 24 && bytes[..4] == [0xd4, 0xc3, 0xb2, 0xa1] && bytes[20] == 1,
        "{}: not a little-endian Ethernet pcap",
        seed.display()
    );
    fs::create_dir_all(out.parent().context("no parent")?)?;
    let mut w = BufWriter::with_capacity(8 << 20, fs::File::create(out)?);
    w.write_all(&bytes[..24])?;
    let mut written = 24u64;
    let mut copy: u32 = 0;
    while written < size {
        copy += 1;
        let mut pos = 24;
        while pos + 16 <= bytes.len() && written < size {
            let caplen = u32::from_le_bytes([
                bytes[pos + 8],
                bytes[pos + 9],
                bytes[pos + 10],
                bytes[pos + 11],
            ]) as usize;
            let end = (pos + 16 + caplen).min(bytes.len());
            let mut rec = bytes[pos..end].to_vec();
            // Ethernet type IPv4 at 12..14 of the frame; source address at 26..30.
            let frame = &mut rec[16..];
            if frame.len() >= 30 && frame[12..14] == [0x08, 0x00] {
                let src = u32::from_be_bytes([frame[26], frame[27], frame[28], frame[29]])
                    .wrapping_add(copy << 8);
                frame[26..30].copy_from_slice(&src.to_be_bytes());
            }
            w.write_all(&rec)?;
            written += rec.len() as u64;
            pos = end;
        }
    }
    w.flush()?;
    Ok(())
}
