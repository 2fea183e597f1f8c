//! `cargo xtask test`: everything CI runs, in order, with a summary.
//! (`setup.rs` has installed what was missing before this starts.)
//!
//! 1. `cargo fmt --check` (the workspace and the fuzz crate)
//! 2. `cargo test --workspace` (native; includes the tidy checks of
//!    `tidy.rs`)
//! 3. `cargo clippy --workspace --all-targets`, warnings denied
//! 4. `cargo clippy -p flowlens-core -p flowlens --target wasm32-unknown-unknown`,
//!    warnings denied (`crates/flowlens-core/clippy.toml` bans IO in the core)
//! 5. `cargo build --lib -p flowlens --target wasm32-unknown-unknown --profile wasm`
//! 6. the web bundle (`build-web`; step 5 already built the wasm)
//! 7. `serve --check`: the bundle served, the page and its wasm fetched once
//! 8. the browser tests (`tests/browser/`, node + playwright-core driving
//!    headless Chromium against a static server on 127.0.0.1)
//!
//! A failing step does not stop the independent ones; steps that need a
//! failed one are skipped. Exit status is non-zero if anything failed.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::serve::{self, StaticServer};
use crate::setup::{chromium_path, BROWSER_DIR, DEFAULT_CHROMIUM};
use crate::web::{self, Profile, WASM_TARGET};
use crate::{cargo, run_command};

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

    step("formatting (cargo fmt --check)", &[], &|| {
        run_command(cargo().current_dir(root).args(["fmt", "--all", "--check"]))?;
        run_command(cargo().current_dir(root).args([
            "fmt",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--check",
        ]))
    });
    step("native tests", &[], &|| {
        run_command(cargo().current_dir(root).args(["test", "--workspace"]))
    });
    step("clippy: workspace (native)", &[], &|| {
        run_command(cargo().current_dir(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    });
    step("clippy: core and page (wasm32)", &[], &|| {
        run_command(cargo().current_dir(root).args([
            "clippy",
            "-p",
            "flowlens-core",
            "-p",
            "flowlens",
            "--lib",
            "--target",
            WASM_TARGET,
            "--",
            "-D",
            "warnings",
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
    step("serve --check", &["web bundle (www/pkg)"], &|| {
        serve::check(&root.join("www"))
    });
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
    let Some(chromium) = chromium_path() else {
        bail!("no browser at {DEFAULT_CHROMIUM} or $CHROMIUM (set-up should have installed it)");
    };
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
