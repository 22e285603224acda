//! Named regression tests: each input that once crashed a target (kept in
//! `regressions/<target>/`, which `tests/corpus.rs` also replays).

use std::path::Path;

fn input(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A plan whose first header edit is an array nested 4,000 deep. The
/// derived `Arbitrary` of the plan's CBOR recursed once per level and
/// overflowed a test thread's 2 MiB stack in a debug build (the corpus
/// replay aborted); the generator now stops nesting at depth 12. A bug in
/// the harness, not in the library, whose reader stops at depth 8.
#[test]
fn deep_cbor_nesting_stack_overflow() {
    credvault_fuzz::mutate_valid(&input(
        "fuzz_mutate_valid",
        "deep-cbor-nesting-stack-overflow",
    ));
}
