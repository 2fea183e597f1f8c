//! flowlens automation, run as `cargo xtask <command>` (alias in
//! `.cargo/config.toml`). No shell scripts, no tools beyond cargo, node and
//! a browser.
//!
//! - `build-web [--dev]`: the page's wasm + JS glue into `www/pkg/`.
//! - `serve [--port 8080] [--dev] [--check]`: build, then serve `www/` on
//!   127.0.0.1 (`--check`: fetch the page and its wasm once, then exit).
//! - `test [--no-browser]`: install what is missing (`setup.rs`), then
//!   formatting, native tests, clippy, wasm32 builds, the bundle, a served
//!   check and the end-to-end tests in headless Chromium.
//!
//! Both begin with `setup.rs`, which adds the wasm32 target and (for
//! `test`) the Debian packages and npm modules the tests need, so the two
//! commands work on a fresh machine that has only rustup.
//!
//! wasm-bindgen runs in-process (the `wasm-bindgen-cli-support` library at
//! exactly the version of the `wasm-bindgen` crate in Cargo.lock), so no
//! `wasm-bindgen` binary has to be installed or kept in step.

#![forbid(unsafe_code)]

mod bench;
mod fuzz;
mod serve;
mod setup;
mod test;
#[cfg(test)]
mod tidy;
mod web;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build-web [--dev]            build the page into www/pkg (release-like `wasm` profile; --dev: debug)
  serve [--port N] [--dev] [--check]
                               build, then serve www/ on http://127.0.0.1:N (default 8080);
                               --check: fetch the page and its wasm once from a free port, then exit
  test [--no-browser]          install what is missing, then formatting, native tests, clippy
                               (native and wasm32), web bundle, serve --check, browser tests
  bench [--no-browser]         throughput and memory figures (native, then headless Chromium)
  fuzz [--seconds N] [--target NAME]
                               run every fuzz target (cargo-fuzz), or NAME, for N seconds each (default 60)
";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        eprint!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    match command.as_str() {
        "build-web" => {
            let opts = Flags::parse(&rest, &["--dev"], &[])?;
            setup::for_serve()?;
            web::build(&root, web::Profile::from_dev(opts.has("--dev")))?;
            Ok(ExitCode::SUCCESS)
        }
        "serve" => {
            let opts = Flags::parse(&rest, &["--dev", "--check"], &["--port"])?;
            let port = match opts.value("--port") {
                Some(p) => p
                    .parse()
                    .with_context(|| format!("--port {p}: not a port number"))?,
                None => 8080,
            };
            setup::for_serve()?;
            web::build(&root, web::Profile::from_dev(opts.has("--dev")))?;
            if opts.has("--check") {
                serve::check(&root.join("www"))?;
            } else {
                serve::serve_forever(&root.join("www"), port)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        "test" => {
            let opts = Flags::parse(&rest, &["--no-browser"], &[])?;
            let browser = !opts.has("--no-browser");
            setup::for_test(&root, browser)?;
            test::run(&root, browser)
        }
        "bench" => {
            let opts = Flags::parse(&rest, &["--no-browser"], &[])?;
            let browser = !opts.has("--no-browser");
            setup::for_test(&root, browser)?;
            bench::run(&root, browser)?;
            Ok(ExitCode::SUCCESS)
        }
        "fuzz" => {
            let opts = Flags::parse(&rest, &[], &["--seconds", "--target"])?;
            let seconds = match opts.value("--seconds") {
                Some(s) => s
                    .parse()
                    .with_context(|| format!("--seconds {s}: not a number"))?,
                None => 60,
            };
            fuzz::run(seconds, opts.value("--target"))?;
            Ok(ExitCode::SUCCESS)
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
}

/// Command-line flags of one command: switches and `--name value` options.
struct Flags {
    switches: Vec<String>,
    values: Vec<(String, String)>,
}

impl Flags {
    fn parse(args: &[String], switches: &[&str], valued: &[&str]) -> Result<Flags> {
        let mut flags = Flags {
            switches: Vec::new(),
            values: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (arg.as_str(), None),
            };
            if switches.contains(&name) && inline.is_none() {
                flags.switches.push(name.to_string());
            } else if valued.contains(&name) {
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .with_context(|| format!("{name} needs a value"))?
                        .clone(),
                };
                flags.values.push((name.to_string(), value));
            } else {
                bail!("unexpected argument `{arg}`\n{USAGE}");
            }
        }
        Ok(flags)
    }

    fn has(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The workspace root (parent of this crate's manifest directory).
///
/// `cargo run` sets CARGO_MANIFEST_DIR at run time; it wins over the path
/// baked in at build time, so a binary shared between two checkouts (one
/// CARGO_TARGET_DIR) still works on the checkout that runs it.
fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest_dir
        .parent()
        .context("xtask is not inside a workspace")?
        .to_path_buf();
    Ok(root)
}

/// The cargo that runs us (so `cargo +toolchain xtask` keeps its toolchain).
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Where cargo puts build output: `target/` unless CARGO_TARGET_DIR or
/// config says otherwise.
fn target_dir(root: &Path) -> Result<PathBuf> {
    let out = cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run `cargo metadata`")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("`cargo metadata` printed no JSON")?;
    let dir = meta["target_directory"]
        .as_str()
        .context("`cargo metadata` gave no target_directory")?;
    Ok(PathBuf::from(dir))
}

/// Run `cmd` with inherited output; error if it fails.
fn run_command(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}
