//! What a fresh machine needs before `serve` and `test` can run, installed
//! by one implementation that both commands (and so `.ci/run`) use.
//!
//! - The `wasm32-unknown-unknown` standard library, added with
//!   `rustup target add` when it is missing (the page is built for it).
//! - For `test` only: Debian's `chromium` (the browser tests drive it with
//!   playwright-core), `tshark` (the live flow oracle of the native tests),
//!   Node.js and npm (the browser tests' runner), then `npm ci` in
//!   `tests/browser`.
//!
//! Everything is checked first and installed only when missing, so a warm
//! machine pays nothing. System packages need root: as root we run
//! `apt-get`, with a password-less `sudo` we run it through `sudo`;
//! otherwise we stop at once, before compiling anything, with the exact
//! command to run.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::run_command;
use crate::web::WASM_TARGET;

/// Where the browser tests live (their `package.json`).
pub const BROWSER_DIR: &str = "tests/browser";
/// The browser used by the end-to-end tests unless `CHROMIUM` says otherwise.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// A Debian package the tests need, and how to tell it is there.
struct Package {
    name: &'static str,
    present: fn() -> bool,
}

const TEST_PACKAGES: &[Package] = &[
    Package {
        name: "chromium",
        present: || chromium_path().is_some(),
    },
    Package {
        name: "tshark",
        present: || on_path("tshark"),
    },
    Package {
        name: "nodejs",
        present: || on_path("node"),
    },
    Package {
        name: "npm",
        present: || on_path("npm"),
    },
];

/// The browser the tests will drive: `CHROMIUM` if set, else Debian's.
pub fn chromium_path() -> Option<String> {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| DEFAULT_CHROMIUM.into());
    Path::new(&path).exists().then_some(path)
}

/// Everything `cargo xtask serve` needs: the wasm32 standard library.
pub fn for_serve() -> Result<()> {
    ensure_wasm_target()
}

/// Everything `cargo xtask test` needs. `browser`: the browser tests will
/// run (Chromium, Node.js, npm packages).
pub fn for_test(root: &Path, browser: bool) -> Result<()> {
    let wanted: Vec<&Package> = TEST_PACKAGES
        .iter()
        .filter(|p| browser || p.name == "tshark")
        .collect();
    let missing: Vec<&'static str> = wanted
        .iter()
        .filter(|p| !(p.present)())
        .map(|p| p.name)
        .collect();
    // System packages first: it is the step that may have to stop and ask.
    if missing.is_empty() {
        println!("xtask setup: {} present", names(&wanted));
    } else {
        apt_install(&missing)?;
        let still: Vec<&str> = wanted
            .iter()
            .filter(|p| !(p.present)())
            .map(|p| p.name)
            .collect();
        if !still.is_empty() {
            bail!(
                "apt-get ran, but these are still missing: {}",
                still.join(" ")
            );
        }
    }
    ensure_wasm_target()?;
    if browser {
        ensure_npm_packages(root)?;
    }
    Ok(())
}

fn names(packages: &[&Package]) -> String {
    packages
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Add the wasm32 standard library when the active toolchain lacks it.
pub fn ensure_wasm_target() -> Result<()> {
    if wasm_target_installed()? {
        return Ok(());
    }
    if !on_path("rustup") {
        bail!(
            "the Rust standard library for {WASM_TARGET} is not installed and there is no \
             rustup to add it: install it with your toolchain's installer, or install rustup \
             (https://rustup.rs) and run `rustup target add {WASM_TARGET}`"
        );
    }
    println!("xtask setup: rustup target add {WASM_TARGET}");
    run_command(
        Command::new("rustup")
            .args(["target", "add", WASM_TARGET])
            // The toolchain cargo runs us with, so the target is added to it.
            .env_remove("RUSTC"),
    )
    .with_context(|| format!("could not add the {WASM_TARGET} target"))?;
    if !wasm_target_installed()? {
        bail!(
            "`rustup target add {WASM_TARGET}` ran, but rustc still has no {WASM_TARGET} library"
        );
    }
    Ok(())
}

/// Does the rustc that cargo uses have the wasm32 standard library?
fn wasm_target_installed() -> Result<bool> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .with_context(|| format!("cannot run {}", rustc.to_string_lossy()))?;
    if !out.status.success() {
        return Ok(false);
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let has_core = std::fs::read_dir(&dir)
        .map(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libcore-") && name.ends_with(".rlib")
            })
        })
        .unwrap_or(false);
    Ok(has_core)
}

/// `apt-get install` the packages, as root or through password-less sudo;
/// otherwise stop with the command to run.
fn apt_install(packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    let command =
        format!("sudo apt-get update && sudo apt-get install -y --no-install-recommends {list}");
    if !on_path("apt-get") {
        bail!(
            "missing: {list}. This machine has no apt-get: install them with its package \
             manager (the tests expect Chromium at {DEFAULT_CHROMIUM} or in $CHROMIUM)"
        );
    }
    let sudo = if is_root() {
        None
    } else if sudo_without_password() {
        Some("sudo")
    } else {
        bail!("missing: {list}. Installing them needs root; run\n\n    {command}\n\nthen run this command again");
    };
    println!(
        "xtask setup: installing {list} with apt-get{}",
        if sudo.is_some() { " (sudo)" } else { "" }
    );
    let apt = |args: &[&str]| {
        let mut cmd = match sudo {
            Some(s) => {
                let mut c = Command::new(s);
                c.arg("apt-get");
                c
            }
            None => Command::new("apt-get"),
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run_command(&mut apt(&["update", "-q"])).context("apt-get update failed")?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(packages);
    run_command(&mut install).with_context(|| format!("apt-get install {list} failed"))
}

/// `npm ci` in the browser tests' folder unless its packages are there.
fn ensure_npm_packages(root: &Path) -> Result<()> {
    let dir = root.join(BROWSER_DIR);
    if dir.join("node_modules").join("playwright-core").exists() {
        return Ok(());
    }
    println!("xtask setup: npm ci in {BROWSER_DIR}");
    run_command(
        Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund"])
            // playwright-core downloads no browser; be explicit anyway.
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"),
    )
    .with_context(|| format!("npm ci in {BROWSER_DIR} failed"))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn sudo_without_password() -> bool {
    on_path("sudo")
        && Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}
