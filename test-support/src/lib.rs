//! Helpers shared by the tests of the library (`vault/tests/`) and of the
//! CLI (`tests/cli/`); a dev-dependency only, never published.
//!
//! - [`secret_service`]: which keychain this machine offers the tests
//!   (`CREDVAULT_TEST_KEYRING`), `secret-tool`, and re-running a test in a
//!   second, private Secret Service (`scripts/with-secret-service.sh`);
//! - [`weak_kdf`] and [`key`]: the cheap Argon2id parameters and key names
//!   every engine test uses;
//! - [`framed`]: a hand-made file prefix for hostile-file tests;
//! - [`skip`]: the strict skip (a failure under CI), and
//!   [`mark_keyring_test`]: the record that lets scripts/test.sh check that
//!   every keyring-mode test ran in its pass.

#![forbid(unsafe_code)]

pub mod secret_service;

use credvault::format::MAGIC;
use credvault::{KdfParams, KeyName};

/// Weak Argon2id parameters that keep tests fast: 8 MiB, t=1, p=1 (the
/// CLI's `--kdf-memory-mib 8 --kdf-iterations 1 --kdf-parallelism 1`).
/// Never for a real vault.
pub fn weak_kdf() -> KdfParams {
    KdfParams::new(8 * 1024, 1, 1).expect("8 MiB, t=1, p=1 are valid KDF parameters")
}

/// Key name `s`, which the test knows is valid.
pub fn key(s: &str) -> KeyName {
    KeyName::new(s).expect("a valid key name")
}

/// A prefix for format 1.0 announcing `h` header bytes, then `header`
/// (FORMAT.md §2).
pub fn framed(h: u32, header: &[u8]) -> Vec<u8> {
    let mut f = MAGIC.to_vec();
    f.extend_from_slice(&[1, 0]);
    f.extend_from_slice(&h.to_be_bytes());
    f.extend_from_slice(header);
    f
}

/// A real check this machine cannot run (a missing program, no root, no
/// kernel keyring). Under `CI=true` or `CREDVAULT_TEST_STRICT=1` (set by
/// scripts/test.sh) that is a failure, never a silent pass; elsewhere the
/// test says why on stderr and returns.
pub fn skip(reason: &str) {
    let strict = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("CREDVAULT_TEST_STRICT").is_ok_and(|v| v == "1");
    assert!(
        !strict,
        "a real check cannot run here and CI must not skip it: {reason}"
    );
    eprintln!("skipping: {reason}");
}

/// Appends `ran|skipped WANT TEST` to `$CREDVAULT_TEST_MARKERS`, if set
/// (one short `O_APPEND` write: safe from parallel tests). scripts/test.sh
/// fails unless each test skipped in one keyring pass ran in the pass of
/// its mode, and unless a keyring test ran in each mode.
pub fn mark_keyring_test(ran: bool, want: &str, test: &str) {
    let Some(file) = std::env::var_os("CREDVAULT_TEST_MARKERS") else {
        return;
    };
    let line = format!("{} {want} {test}\n", if ran { "ran" } else { "skipped" });
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()))
        .expect("append to CREDVAULT_TEST_MARKERS");
}
