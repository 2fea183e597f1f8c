//! `cargo xtask build-web`: the page's wasm module and its JS glue.
//!
//! 1. `cargo build --lib -p flowlens --target wasm32-unknown-unknown --profile wasm`
//! 2. wasm-bindgen (`--target web --no-typescript --remove-name-section`)
//!    into `www/pkg/`, in-process through `wasm-bindgen-cli-support`.
//!
//! The generated glue and the `wasm-bindgen` crate compiled into the module
//! must be the very same version; [`check_bindgen_versions`] makes sure
//! Cargo.lock agrees before anything is built.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wasm_bindgen_cli_support::Bindgen;

use crate::{cargo, run_command, target_dir};

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The package (and wasm file stem) of the page.
const APP_PACKAGE: &str = "flowlens";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `[profile.wasm]` in the root Cargo.toml: small and fast.
    Wasm,
    /// The debug profile: quick to build, keeps names for stack traces.
    Dev,
}

impl Profile {
    pub fn from_dev(dev: bool) -> Profile {
        if dev {
            Profile::Dev
        } else {
            Profile::Wasm
        }
    }

    /// `--profile` value.
    pub fn cargo_name(self) -> &'static str {
        match self {
            Profile::Wasm => "wasm",
            Profile::Dev => "dev",
        }
    }

    /// Folder under `target/<triple>/`.
    fn dir_name(self) -> &'static str {
        match self {
            Profile::Wasm => "wasm",
            Profile::Dev => "debug",
        }
    }
}

/// `cargo build` of the page for wasm32 (also a build check on its own).
pub fn cargo_build(root: &Path, profile: Profile) -> Result<()> {
    run_command(cargo().current_dir(root).args([
        "build",
        "--lib",
        "-p",
        APP_PACKAGE,
        "--target",
        WASM_TARGET,
        "--profile",
        profile.cargo_name(),
    ]))
}

/// Build the page into `www/pkg/`.
pub fn build(root: &Path, profile: Profile) -> Result<()> {
    check_bindgen_versions(root)?;
    cargo_build(root, profile)?;
    let wasm = target_dir(root)?
        .join(WASM_TARGET)
        .join(profile.dir_name())
        .join(format!("{APP_PACKAGE}.wasm"));
    let out_dir = root.join("www").join("pkg");
    bindgen(&wasm, &out_dir, profile)?;
    Ok(())
}

fn bindgen(wasm: &Path, out_dir: &Path, profile: Profile) -> Result<()> {
    let started = Instant::now();
    if out_dir.exists() {
        fs::remove_dir_all(out_dir)
            .with_context(|| format!("cannot clear {}", out_dir.display()))?;
    }
    let mut b = Bindgen::new();
    b.input_path(wasm)
        .web(true)?
        .typescript(false)
        // What the CLI does by default: `init()` with no argument finds
        // `<stem>_bg.wasm` next to the JS file.
        .omit_default_module_path(false)
        .remove_name_section(profile == Profile::Wasm);
    b.generate(out_dir).with_context(|| {
        format!(
            "wasm-bindgen failed on {} (output to {})",
            wasm.display(),
            out_dir.display()
        )
    })?;
    let bg = out_dir.join(format!("{APP_PACKAGE}_bg.wasm"));
    let size = fs::metadata(&bg)
        .with_context(|| format!("wasm-bindgen wrote no {}", bg.display()))?
        .len();
    println!(
        "xtask: www/pkg ready ({} profile, {}_bg.wasm {:.2} MB, bindgen {:.1} s)",
        profile.cargo_name(),
        APP_PACKAGE,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The page's `wasm-bindgen` and our in-process generator must be one
/// version, or the module and its glue disagree at run time.
pub fn check_bindgen_versions(root: &Path) -> Result<()> {
    let lock_path = root.join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path)
        .with_context(|| format!("cannot read {}", lock_path.display()))?;
    let lib = locked_versions(&lock, "wasm-bindgen");
    let cli = locked_versions(&lock, "wasm-bindgen-cli-support");
    match (lib.as_slice(), cli.as_slice()) {
        ([lib], [cli]) if lib == cli => Ok(()),
        ([lib], [cli]) => bail!(
            "Cargo.lock has wasm-bindgen {lib} but wasm-bindgen-cli-support {cli}: \
             pin `wasm-bindgen-cli-support = \"={lib}\"` in xtask/Cargo.toml"
        ),
        _ => bail!(
            "Cargo.lock should hold exactly one wasm-bindgen (found {lib:?}) and one \
             wasm-bindgen-cli-support (found {cli:?})"
        ),
    }
}

/// Versions of package `name` in a Cargo.lock.
pub fn locked_versions(lock: &str, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        if field("name").as_deref() == Some(name) {
            if let Some(v) = field("version") {
                found.push(v);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_parsing() {
        let lock = r#"
[[package]]
name = "wasm-bindgen"
version = "0.2.130"
dependencies = [
 "wasm-bindgen-macro",
]

[[package]]
name = "wasm-bindgen-cli-support"
version = "0.2.130"
"#;
        assert_eq!(locked_versions(lock, "wasm-bindgen"), vec!["0.2.130"]);
        assert_eq!(
            locked_versions(lock, "wasm-bindgen-macro"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn generator_matches_the_page_bindgen() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("root");
        check_bindgen_versions(root).expect("versions agree");
    }
}
