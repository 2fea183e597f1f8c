//! Fingerprint of the core crate's sources, for the dataset cache key: a
//! cached dataset is only reused when the code that parsed the captures and
//! encoded the flows is the code of this build.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn main() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/flowlens-core");
    let src = core.join("src");
    println!("cargo:rerun-if-changed={}", src.display());
    println!(
        "cargo:rerun-if-changed={}",
        core.join("Cargo.toml").display()
    );
    let mut paths = Vec::new();
    files(&src, &mut paths);
    paths.push(core.join("Cargo.toml"));
    paths.sort();
    let mut h = Sha256::new();
    for path in &paths {
        let rel = path.strip_prefix(&core).unwrap_or(path);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(path).unwrap_or_default());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=FLOWLENS_CORE_FINGERPRINT={hex}");
}
