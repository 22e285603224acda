//! Replays every committed corpus file (`corpus/<target>/`) and every kept
//! crash or timeout (`regressions/<target>/`) through its target function,
//! without libFuzzer, so `cargo test` catches regressions. All failing
//! files are reported at once, by name.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
}

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("corpus").join(target));
    assert!(!corpus.is_empty(), "no corpus for {target}");
    let regressions = files(&root.join("regressions").join(target));
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let bytes = fs::read(path).expect("read corpus file");
        if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs failed:\n  {}",
        failed.len(),
        corpus.len() + regressions.len(),
        failed.join("\n  ")
    );
}

#[test]
fn corpus_fuzz_header() {
    replay("fuzz_header", credvault_fuzz::header);
}

#[test]
fn corpus_fuzz_body() {
    replay("fuzz_body", credvault_fuzz::body);
}

#[test]
fn corpus_fuzz_open() {
    replay("fuzz_open", credvault_fuzz::open);
}

#[test]
fn corpus_fuzz_mutate_valid() {
    replay("fuzz_mutate_valid", credvault_fuzz::mutate_valid);
}

#[test]
fn corpus_fuzz_merge() {
    replay("fuzz_merge", credvault_fuzz::merge::merge);
}
