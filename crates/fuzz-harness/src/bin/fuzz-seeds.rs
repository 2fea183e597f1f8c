//! `fuzz-seeds DIR [TARGET...]`: writes each target's seeds (made from
//! `tests/data/` and `www/models/`) to `DIR/<target>/`, replacing what was
//! there. Run by `cargo xtask fuzz` before the fuzzer.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: fuzz-seeds DIR [TARGET...]");
        return ExitCode::from(2);
    };
    let mut names: Vec<String> = args.collect();
    if names.is_empty() {
        names = flowlens_fuzz_harness::TARGETS
            .iter()
            .map(|t| t.name.to_string())
            .collect();
    }
    for name in names {
        if flowlens_fuzz_harness::target(&name).is_none() {
            eprintln!("fuzz-seeds: no target {name:?}");
            return ExitCode::from(2);
        }
        let out = dir.join(&name);
        let _ = std::fs::remove_dir_all(&out);
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("fuzz-seeds: {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        let seeds = flowlens_fuzz_harness::seeds::seeds(&name);
        for (file, bytes) in &seeds {
            if let Err(e) = std::fs::write(out.join(file), bytes) {
                eprintln!("fuzz-seeds: {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
        println!("{name}: {} seeds in {}", seeds.len(), out.display());
    }
    ExitCode::SUCCESS
}
