//! The tamper sweep: every single-byte change and every truncation of a
//! small real vault (a passphrase slot with weak Argon2id, two entries)
//! is opened with the right passphrase. Nothing may open to different
//! contents; in fact nothing may open at all, because every byte of the
//! file is authenticated (FORMAT.md §2, §5).
//!
//! Each byte is changed three ways (xor 0x01, 0x80, 0xff: the lowest bit,
//! the highest bit, all bits), so about 1,500 opens; the ones whose header
//! still parses run Argon2id (8 MiB, t=1) before failing.

use std::collections::BTreeMap;

use credvault::{
    open_bytes, FormatError, KdfParams, KeyName, NewSlot, OpenOptions, Passphrase,
    PassphraseUnlocker, SecretValue, Snapshot, UnlockError, Vault, VaultError,
};

const PASS: &str = "tamper sweep";

fn small_vault() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v.cvault");
    let kdf = KdfParams::new(8192, 1, 1).expect("in range");
    let mut v =
        Vault::create(&path, NewSlot::Passphrase(&Passphrase::from(PASS), kdf)).expect("create");
    let mut tx = v.transaction();
    for (k, value) in [("github.token", "gho_abc"), ("postgresql.password", "pg")] {
        let name = KeyName::new(k).expect("valid name");
        tx.set(&name, &SecretValue::from(value), Default::default())
            .expect("set");
    }
    tx.commit().expect("commit");
    std::fs::read(&path).expect("read vault")
}

fn open(bytes: &[u8]) -> Result<Snapshot, VaultError> {
    let mut unlocker = PassphraseUnlocker::new(Passphrase::from(PASS));
    open_bytes(bytes, &mut unlocker, &OpenOptions::default())
}

fn contents(s: &Snapshot) -> Result<BTreeMap<String, Vec<u8>>, VaultError> {
    s.list(None)
        .into_iter()
        .map(|k| {
            let value = s.get(k)?.expect("listed");
            Ok((k.to_string(), value.expose().to_vec()))
        })
        .collect()
}

/// The outcome class of a failed open (FORMAT.md §8).
fn class(e: &VaultError) -> &'static str {
    match e {
        VaultError::Format(FormatError::NotAVault) => "not-a-vault",
        VaultError::Format(FormatError::UnsupportedVersion { .. }) => "unsupported-version",
        VaultError::Format(FormatError::Truncated(_)) => "truncated",
        VaultError::Format(FormatError::TrailingData) => "trailing-data",
        VaultError::Format(FormatError::TooLarge { .. }) => "too-large",
        VaultError::Format(FormatError::NonCanonical(_)) => "non-canonical",
        VaultError::Format(FormatError::Malformed(_)) => "malformed",
        VaultError::Format(FormatError::KdfOutOfRange { .. }) => "kdf-out-of-range",
        VaultError::Unlock(UnlockError::ExcessiveWork(_)) => "kdf-limit",
        VaultError::Unlock(UnlockError::WrongKeyOrTampered) => "unlock-failed",
        VaultError::Unlock(_) => "other-unlock",
        VaultError::Tampered => "tampered",
        _ => "other",
    }
}

#[test]
fn no_changed_byte_and_no_truncation_opens() {
    let good = small_vault();
    let original = contents(&open(&good).expect("the vault opens")).expect("values open");
    assert_eq!(original.len(), 2);

    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut opened = Vec::new();
    let mut check = |what: String, bytes: &[u8]| match open(bytes) {
        Err(e) => *classes.entry(class(&e)).or_default() += 1,
        Ok(s) => {
            // The bar: never different contents. Ours: never opens.
            let got = contents(&s);
            assert!(
                matches!(&got, Ok(c) if *c == original) || got.is_err(),
                "{what} opened to different contents"
            );
            opened.push(what);
        }
    };

    for at in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[at] ^= mask;
            check(format!("byte {at} ^ {mask:#04x}"), &bad);
        }
    }
    for len in 0..good.len() {
        check(format!("truncated to {len} bytes"), &good[..len]);
    }
    for extra in [&[0u8][..], b"\n", &good[good.len() - 16..]] {
        let mut long = good.clone();
        long.extend_from_slice(extra);
        check(format!("extended by {} bytes", extra.len()), &long);
    }

    assert!(opened.is_empty(), "opened after tampering: {opened:?}");
    let total: usize = classes.values().sum();
    assert_eq!(total, good.len() * 4 + 3);
    println!(
        "tamper sweep: {} bytes, {total} variants, none opened; classes {classes:?}",
        good.len()
    );
}
