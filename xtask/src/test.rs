//! `cargo xtask test`: everything CI runs, in order, with a summary.
//!
//! 1. `cargo test --workspace` (native)
//! 2. `cargo check -p flowlens-core --target wasm32-unknown-unknown`
//! 3. `cargo build --lib -p flowlens --target wasm32-unknown-unknown --profile wasm`
//! 4. the web bundle (`build-web`; step 3 already built the wasm)
//! 5. the browser tests (`tests/browser/`, node + playwright-core driving
//!    headless Chromium against a static server on 127.0.0.1)
//!
//! A failing step does not stop the independent ones; steps that need a
//! failed one are skipped. Exit status is non-zero if anything failed.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::serve::StaticServer;
use crate::web::{self, Profile, WASM_TARGET};
use crate::{cargo, run_command};

/// Browser used by the end-to-end tests unless `CHROMIUM` says otherwise.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const BROWSER_DIR: &str = "tests/browser";
/// Browser test files: every `*.test.mjs` in [`BROWSER_DIR`].
const BROWSER_TEST_SUFFIX: &str = ".test.mjs";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

struct Step {
    name: &'static str,
    outcome: Outcome,
    took: Duration,
    note: String,
}

pub fn run(root: &Path, browser: bool) -> Result<ExitCode> {
    let mut steps: Vec<Step> = Vec::new();

    let mut step = |name: &'static str, needs: &[&str], f: &dyn Fn() -> Result<()>| {
        let blocked = needs.iter().find(|n| {
            steps
                .iter()
                .any(|s| s.name == **n && s.outcome != Outcome::Passed)
        });
        if let Some(dep) = blocked {
            steps.push(Step {
                name,
                outcome: Outcome::Skipped,
                took: Duration::ZERO,
                note: format!("needs `{dep}`"),
            });
            return;
        }
        println!("\n==> {name}");
        let started = Instant::now();
        let result = f();
        let took = started.elapsed();
        let (outcome, note) = match result {
            Ok(()) => (Outcome::Passed, String::new()),
            Err(e) => {
                eprintln!("==> {name}: FAILED: {e:#}");
                (Outcome::Failed, format!("{e:#}"))
            }
        };
        steps.push(Step {
            name,
            outcome,
            took,
            note,
        });
    };

    step("native tests", &[], &|| {
        run_command(cargo().current_dir(root).args(["test", "--workspace"]))
    });
    step("wasm32 check: flowlens-core", &[], &|| {
        run_command(cargo().current_dir(root).args([
            "check",
            "-p",
            "flowlens-core",
            "--target",
            WASM_TARGET,
        ]))
    });
    step("wasm32 build: flowlens (page)", &[], &|| {
        web::check_bindgen_versions(root)?;
        web::cargo_build(root, Profile::Wasm)
    });
    step(
        "web bundle (www/pkg)",
        &["wasm32 build: flowlens (page)"],
        &|| web::build(root, Profile::Wasm),
    );
    if browser {
        step(
            "browser tests (headless Chromium)",
            &["web bundle (www/pkg)"],
            &|| browser_tests(root),
        );
    } else {
        step("browser tests (headless Chromium)", &[], &|| Ok(()));
        if let Some(last) = steps.last_mut() {
            last.outcome = Outcome::Skipped;
            last.note = "--no-browser".into();
        }
    }

    println!("\n==> summary");
    let mut failed = 0;
    for s in &steps {
        let mark = match s.outcome {
            Outcome::Passed => "ok     ",
            Outcome::Failed => {
                failed += 1;
                "FAILED "
            }
            Outcome::Skipped => "skipped",
        };
        let first_line = s.note.lines().next().unwrap_or("");
        println!(
            "  {mark} {:<36} {:>7.1} s  {first_line}",
            s.name,
            s.took.as_secs_f64()
        );
    }
    if failed > 0 {
        println!("xtask test: {failed} step(s) failed");
        Ok(ExitCode::FAILURE)
    } else {
        println!("xtask test: all passed");
        Ok(ExitCode::SUCCESS)
    }
}

fn browser_tests(root: &Path) -> Result<()> {
    let dir = root.join(BROWSER_DIR);
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| DEFAULT_CHROMIUM.into());
    if !Path::new(&chromium).exists() {
        bail!(
            "no browser at {chromium} (install Debian's `chromium`, or set CHROMIUM=/path/to/chrome); \
             `.ci/run` installs everything"
        );
    }
    if !dir.join("node_modules").join("playwright-core").exists() {
        println!("xtask: installing the browser test's npm packages (npm ci)");
        run_command(
            Command::new("npm")
                .current_dir(&dir)
                .args(["ci", "--no-audit", "--no-fund"]),
        )
        .context("npm ci in tests/browser failed (is node/npm installed?)")?;
    }
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(BROWSER_TEST_SUFFIX))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no *{BROWSER_TEST_SUFFIX} files in {}", dir.display());
    }
    let server = StaticServer::start(&root.join("www"), 0, false)?;
    let url = server.url();
    println!("xtask: serving www/ at {url} for the browser tests");
    let result = run_command(
        Command::new("node")
            .current_dir(&dir)
            // One file at a time: each drives its own Chromium.
            .args(["--test", "--test-reporter=spec", "--test-concurrency=1"])
            .args(&files)
            .env("FLOWLENS_URL", &url)
            .env("FLOWLENS_ROOT", root)
            .env("CHROMIUM", &chromium),
    );
    server.stop();
    result
}
