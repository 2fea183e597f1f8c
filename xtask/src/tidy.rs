//! Tidy checks over the repository's own Rust sources, run as ordinary
//! tests by `cargo test --workspace` (so by `cargo xtask test` and CI), in
//! the style of rust-analyzer's `xtask/src/tidy.rs`.
//!
//! - no `dbg!` left in;
//! - no `#[allow(dead_code)]`: write `#[expect(dead_code, reason = "...")]`,
//!   which the compiler turns into a warning (an error under clippy's
//!   `-D warnings`) the day the code is used again, so the reason cannot go
//!   stale;
//! - every `TODO`/`FIXME` names what it waits for: `TODO(#13): ...` (an
//!   issue) or `TODO(when ...): ...`;
//! - every crate root forbids `unsafe` (`#![forbid(unsafe_code)]`), except
//!   the fuzz targets, whose `fuzz_target!` macro exports a `#[no_mangle]`
//!   symbol (which the lint counts as unsafe).

use std::path::{Path, PathBuf};

/// Folders holding our Rust sources (build output and node modules are
/// never walked).
const SOURCE_DIRS: &[&str] = &["src", "crates", "trainer", "xtask", "tests", "fuzz"];
const SKIP_DIRS: &[&str] = &["target", "node_modules", "corpus", "artifacts", "pkg"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !SKIP_DIRS.contains(&name.as_ref()) && !name.starts_with('.') {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let root = root();
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        walk(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 50,
        "tidy found only {} Rust files: wrong root?",
        files.len()
    );
    files
}

/// Every line of every source file, with where it is, except this file's
/// (which has to spell the patterns it looks for).
fn lines() -> Vec<(String, usize, String)> {
    let this = Path::new(file!()).file_name().expect("file name");
    let root = root();
    let mut out = Vec::new();
    for path in rust_files() {
        if path.ends_with(Path::new("xtask/src").join(this)) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let shown = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        for (i, line) in text.lines().enumerate() {
            out.push((shown.clone(), i + 1, line.to_string()));
        }
    }
    out
}

fn report(what: &str, bad: &[String]) {
    assert!(bad.is_empty(), "{what}:\n  {}", bad.join("\n  "));
}

#[test]
fn no_dbg_macro() {
    let bad: Vec<String> = lines()
        .into_iter()
        .filter(|(_, _, l)| l.contains(concat!("dbg", "!(")))
        .map(|(f, n, l)| format!("{f}:{n}: {}", l.trim()))
        .collect();
    report("`dbg!` left in (remove it)", &bad);
}

#[test]
fn no_allow_dead_code() {
    let bad: Vec<String> = lines()
        .into_iter()
        .filter(|(_, _, l)| {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            l.contains("allow(dead_code") || l.contains("allow(unused")
        })
        .map(|(f, n, l)| format!("{f}:{n}: {}", l.trim()))
        .collect();
    report(
        "`allow(dead_code)`/`allow(unused…)`: use `#[expect(dead_code, reason = \"...\")]`, \
         which fails once the code is used again",
        &bad,
    );
}

/// `TODO(#12)`, `TODO(when candle 0.12 lands)`: a marker followed by a
/// parenthesised issue number or condition.
fn names_what_it_waits_for(line: &str, at: usize, marker: &str) -> bool {
    let rest = &line[at + marker.len()..];
    let Some(inner) = rest.strip_prefix('(') else {
        return false;
    };
    let Some(end) = inner.find(')') else {
        return false;
    };
    let inner = inner[..end].trim();
    let issue = inner
        .strip_prefix('#')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    issue || (inner.starts_with("when ") && inner.len() > "when ".len() + 3)
}

#[test]
fn every_todo_names_what_it_waits_for() {
    let mut bad = Vec::new();
    for (f, n, l) in lines() {
        for marker in ["TODO", "FIXME"] {
            let mut from = 0;
            while let Some(i) = l[from..].find(marker) {
                let at = from + i;
                if !names_what_it_waits_for(&l, at, marker) {
                    bad.push(format!("{f}:{n}: {}", l.trim()));
                }
                from = at + marker.len();
            }
        }
    }
    report(
        "TODO/FIXME without what it waits for (write `TODO(#N): …` or `TODO(when …): …`)",
        &bad,
    );
}

#[test]
fn todo_rule_accepts_and_refuses() {
    let ok = |s: &str| names_what_it_waits_for(s, s.find("TODO").expect("marker"), "TODO");
    assert!(ok("// TODO(#13): calibrate"));
    assert!(ok("// TODO(when candle has conv1d on wasm): drop the copy"));
    assert!(!ok("// TODO: later"));
    assert!(!ok("// TODO(): later"));
    assert!(!ok("// TODO(#): later"));
    assert!(!ok("// TODO(me): later"));
}

/// The files that start a crate: `src/lib.rs`, `src/main.rs`, examples and
/// integration-test roots of every workspace package.
#[test]
fn every_crate_root_forbids_unsafe() {
    let root = root();
    let mut roots: Vec<PathBuf> = Vec::new();
    // The root package, the trainer, xtask and every crate under crates/.
    let mut packages: Vec<PathBuf> = [".", "trainer", "xtask"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        packages.extend(entries.flatten().map(|e| e.path()));
    }
    for dir in packages {
        for name in ["src/lib.rs", "src/main.rs"] {
            let path = dir.join(name);
            if path.is_file() {
                roots.push(path);
            }
        }
        for sub in ["examples", "tests", "benches", "src/bin"] {
            if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
                for e in entries.flatten() {
                    let path = e.path();
                    if path.extension().is_some_and(|x| x == "rs") {
                        roots.push(path);
                    }
                }
            }
        }
    }
    assert!(roots.len() >= 6, "found only {} crate roots", roots.len());
    let bad: Vec<String> = roots
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.contains("#![forbid(unsafe_code)]")
        })
        .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        .collect();
    report("crate roots without `#![forbid(unsafe_code)]`", &bad);
}
