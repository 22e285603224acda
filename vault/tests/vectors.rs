//! Runs every test vector in `spec/vectors/` (testkit form, written by
//! `cargo run -p credvault-vectors`) through `Vault::open` and checks the
//! outcome class in its `expect:` line; for `success`, reads every value
//! and checks the `payload:` hash. All mismatches are reported at once.
//!
//! The testkit syntax is that of spec/FORMAT.md §10: UTF-8 header lines
//! ended by LF, `name: value` split at the first `": "`, the value taken
//! verbatim (no trimming; it may be empty), the header ended by the first
//! empty line, then the vault bytes.

use std::fs;
use std::path::{Path, PathBuf};

use credvault::{FormatError, Passphrase, RecoveryKey, UnlockError, Unlocker, Vault, VaultError};
use sha2::{Digest, Sha256};

/// The spec asks for at least this many vectors; fewer means files went
/// missing.
const MIN_VECTORS: usize = 226;

/// One parsed testkit file.
struct Testkit {
    expect: String,
    payload: Option<String>,
    passphrase: Option<String>,
    recovery: Option<Vec<u8>>,
    recovery_code: Option<String>,
    file: Vec<u8>,
}

/// Offers exactly the credentials a testkit lists; never the keychain.
struct TestkitUnlocker {
    passphrase: Option<String>,
    recovery: Option<Vec<u8>>,
}

impl Unlocker for TestkitUnlocker {
    fn passphrase(&mut self) -> Option<Passphrase> {
        self.passphrase.take().map(|p| Passphrase::from(p.as_str()))
    }

    fn recovery_key(&mut self) -> Option<RecoveryKey> {
        self.recovery.take().and_then(RecoveryKey::from_bytes)
    }
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "testkit"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= MIN_VECTORS,
        "only {} vectors in {}; expected at least {MIN_VECTORS} \
         (run `cargo run -p credvault-vectors`)",
        paths.len(),
        dir.display()
    );

    let scratch = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for path in &paths {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 name");
        let bytes = fs::read(path).expect("read vector");
        let testkit = match parse(&bytes) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: bad testkit: {e}"));
                continue;
            }
        };
        let vault = scratch.path().join(format!("{name}.cvault"));
        fs::write(&vault, &testkit.file).expect("write vault");
        let (class, detail) = run(&vault, &testkit);
        if class != testkit.expect {
            failures.push(format!(
                "{name}: expected {}, got {class} ({detail})",
                testkit.expect
            ));
        } else if class == "success" && testkit.payload.as_deref() != Some(detail.as_str()) {
            failures.push(format!(
                "{name}: payload {detail}, expected {:?}",
                testkit.payload
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n  {}",
        failures.len(),
        paths.len(),
        failures.join("\n  ")
    );
}

/// Opens the vault and reads every value. Returns the outcome class and,
/// for success, the payload hash; otherwise the error message.
fn run(path: &Path, testkit: &Testkit) -> (String, String) {
    let mut recovery = testkit.recovery.clone();
    if let Some(code) = &testkit.recovery_code {
        // FORMAT.md §4.4.1: the code is refused before any slot is tried.
        match RecoveryKey::from_code(code) {
            Ok(key) => recovery = Some(key.expose().to_vec()),
            Err(e) => return ("bad-recovery-code".to_owned(), e.to_string()),
        }
    }
    let mut unlocker = TestkitUnlocker {
        passphrase: testkit.passphrase.clone(),
        recovery,
    };
    let vault = match Vault::open(path, &mut unlocker) {
        Ok(v) => v,
        Err(e) => return (class(&e).to_owned(), e.to_string()),
    };
    // FORMAT.md §10: u64(len(name)) || name || u64(len(value)) || value,
    // big-endian lengths, live entries in bytewise name order.
    let mut names: Vec<_> = vault.list(None).into_iter().collect();
    names.sort_by(|a, b| a.as_str().as_bytes().cmp(b.as_str().as_bytes()));
    let mut hash = Sha256::new();
    for name in names {
        match vault.get(name) {
            Ok(Some(value)) => {
                let name = name.as_str().as_bytes();
                hash.update((name.len() as u64).to_be_bytes());
                hash.update(name);
                hash.update((value.expose().len() as u64).to_be_bytes());
                hash.update(value.expose());
            }
            Ok(None) => return ("missing-value".to_owned(), name.to_string()),
            Err(e) => return (class(&e).to_owned(), e.to_string()),
        }
    }
    ("success".to_owned(), hex(&hash.finalize()))
}

/// The outcome class of an error (the classes of spec/FORMAT.md).
fn class(err: &VaultError) -> &'static str {
    match err {
        VaultError::Format(f) => match f {
            FormatError::NotAVault => "not-a-vault",
            FormatError::UnsupportedVersion { .. } => "unsupported-version",
            FormatError::Truncated(_) => "truncated",
            FormatError::TrailingData => "trailing-data",
            FormatError::TooLarge { .. } => "too-large",
            FormatError::NonCanonical(_) => "non-canonical",
            FormatError::Malformed(_) => "malformed",
            FormatError::KdfOutOfRange { .. } => "kdf-out-of-range",
            _ => "unclassified-format-error",
        },
        VaultError::Unlock(u) => match u {
            UnlockError::ExcessiveWork(_) | UnlockError::WorkBudget { .. } => "kdf-limit",
            UnlockError::NoCredentials { .. } | UnlockError::Keychain(_) => "no-credentials",
            UnlockError::WrongKeyOrTampered => "unlock-failed",
            UnlockError::NoUsableSlot => "no-usable-slot",
            _ => "unclassified-unlock-error",
        },
        VaultError::Tampered => "tampered",
        _ => "unclassified-error",
    }
}

/// Splits a testkit file at its first blank line and reads the header.
fn parse(bytes: &[u8]) -> Result<Testkit, String> {
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or("no blank line after the header")?;
    let header = std::str::from_utf8(&bytes[..split]).map_err(|_| "header is not UTF-8")?;
    let mut t = Testkit {
        expect: String::new(),
        payload: None,
        passphrase: None,
        recovery: None,
        recovery_code: None,
        file: bytes[split + 2..].to_vec(),
    };
    let mut comment = false;
    for line in header.split('\n') {
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("header line without \": \": {line:?}"))?;
        match key {
            "expect" => t.expect = value.to_owned(),
            "payload" => t.payload = Some(value.to_owned()),
            "passphrase" => t.passphrase = Some(value.to_owned()),
            "recovery" => t.recovery = Some(unhex(value)?),
            "recovery-code" => t.recovery_code = Some(value.to_owned()),
            "comment" => comment = true,
            other => return Err(format!("unknown header line {other:?}")),
        }
    }
    if t.expect.is_empty() || !comment {
        return Err("missing expect: or comment: line".to_owned());
    }
    if (t.expect == "success") != t.payload.is_some() {
        return Err("payload: must be present exactly for success".to_owned());
    }
    Ok(t)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("bad hex {s:?}")))
        .collect()
}
