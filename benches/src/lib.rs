//! Shared helpers of the credvault benchmarks: realistic entry names and
//! values, and vaults of a given size built with a fixed, cheap KDF so that
//! what is measured is the engine, not Argon2id.
//!
//! Everything is deterministic: entry `i` always has the same name, and the
//! same value for the same `round`, so two runs measure the same vault
//! (nonces and salts aside, which the engine draws fresh).
//!
//! ```no_run
//! # fn main() -> Result<(), credvault::VaultError> {
//! let path = std::path::Path::new("/some/dir/bench.cvault");
//! let vault = credvault_benches::build_vault(path, 1_000)?;
//! assert_eq!(vault.len(), 1_000);
//! let name = credvault_benches::entry_name(42);
//! assert!(vault.get(&name)?.is_some());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::Path;

use credvault::{
    KdfParams, KeyName, NewSlot, Passphrase, PassphraseUnlocker, SecretValue, SetOptions, Vault,
    VaultError,
};

/// The passphrase of every bench vault.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// The fields each service has, in the order entry indices cycle through
/// them: entry `i` is field `i % 4` of service `i / 4`.
const FIELDS: [&str; 4] = ["password", "token", "api-key", "client-secret"];

/// Shortest generated value, in bytes; values are 32 to 40 bytes long.
const VALUE_MIN_LEN: usize = 32;

/// How many lengths above [`VALUE_MIN_LEN`] values spread over (32..=40).
const VALUE_LEN_SPREAD: u64 = 9;

/// Characters of generated values (URL-safe base64, like most API tokens).
const VALUE_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The Argon2id parameters of every bench vault: m = 8 MiB (the format's
/// minimum), t = 1, p = 1. Fixed and cheap, they keep the KDF out of the
/// numbers: an unlock pays a few milliseconds of Argon2id whatever the
/// machine, and `open_with_key` benches skip even that.
pub fn bench_kdf() -> KdfParams {
    // 8 MiB, one pass, one lane is inside the format's ranges (FORMAT.md
    // §4.2): the constructor cannot reject it.
    #[allow(clippy::expect_used)]
    KdfParams::new(8 * 1024, 1, 1).expect("8 MiB, t=1, p=1 are valid KDF parameters")
}

/// The name of entry `i`: `svc<i / 4, 5 digits>.<field>`, e.g.
/// `svc01234.password`, `svc01234.token`, `svc01234.api-key`,
/// `svc01234.client-secret`. Distinct for distinct `i`, and sorted like
/// `i` within a service only (the vault sorts names, not indices).
pub fn entry_name(i: usize) -> KeyName {
    let name = format!("svc{:05}.{}", i / FIELDS.len(), FIELDS[i % FIELDS.len()]);
    // Letters, digits, `-` and one dot, 17–22 bytes: valid by FORMAT.md
    // §5.1 for every `i` below 10^9, far beyond any bench size.
    #[allow(clippy::expect_used)]
    KeyName::new(&name).expect("generated names follow the key name grammar")
}

/// The value of entry `i` in `round` (bump `round` to change a value): 32
/// to 40 bytes of URL-safe base64 characters, pseudo-random but
/// deterministic.
pub fn entry_value(i: usize, round: u64) -> SecretValue {
    let mut state = (i as u64) ^ round.rotate_left(32) ^ 0x6a09_e667_f3bc_c908;
    let len = VALUE_MIN_LEN + (splitmix64(&mut state) % VALUE_LEN_SPREAD) as usize;
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        // Ten 6-bit characters per 64-bit draw.
        let mut draw = splitmix64(&mut state);
        for _ in 0..10 {
            if bytes.len() == len {
                break;
            }
            bytes.push(VALUE_ALPHABET[(draw & 63) as usize]);
            draw >>= 6;
        }
    }
    SecretValue::new(bytes)
}

/// Creates a vault at `path` (which must not exist) with one passphrase
/// slot ([`PASSPHRASE`], [`bench_kdf`]) and fills it with entries `0..entries`
/// ([`entry_name`], [`entry_value`] of round 0) in one transaction, so one
/// save whatever the size. Returns the open vault.
///
/// The vault keeps the default [`credvault::OpenOptions`], so every later
/// save also rotates the default number of generations beside the file,
/// as in real use.
pub fn build_vault(path: &Path, entries: usize) -> Result<Vault, VaultError> {
    let passphrase = Passphrase::from(PASSPHRASE);
    let mut vault = Vault::create(path, NewSlot::Passphrase(&passphrase, bench_kdf()))?;
    let mut tx = vault.transaction();
    for i in 0..entries {
        tx.set(&entry_name(i), &entry_value(i, 0), SetOptions::default())?;
    }
    tx.commit()?;
    Ok(vault)
}

/// Opens the bench vault at `path` with its passphrase: Argon2id with
/// [`bench_kdf`], then the body's decryption and decoding.
pub fn open_vault(path: &Path) -> Result<Vault, VaultError> {
    Vault::open(
        path,
        &mut PassphraseUnlocker::new(Passphrase::from(PASSPHRASE)),
    )
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny deterministic
/// generator, enough for bench data and free of dependencies.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_realistic() {
        assert_eq!(entry_name(0).as_str(), "svc00000.password");
        assert_eq!(entry_name(4 * 1234 + 1).as_str(), "svc01234.token");
        let names: std::collections::BTreeSet<_> = (0..1000)
            .map(|i| entry_name(i).as_str().to_owned())
            .collect();
        assert_eq!(names.len(), 1000);
    }

    #[test]
    fn values_are_32_to_40_bytes_and_deterministic() {
        for i in 0..1000 {
            let value = entry_value(i, 0);
            assert!((32..=40).contains(&value.len()), "{}", value.len());
            assert_eq!(value.expose(), entry_value(i, 0).expose());
            assert_ne!(value.expose(), entry_value(i, 1).expose());
        }
    }

    #[test]
    fn builds_and_reopens_a_vault() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.cvault");
        let built = build_vault(&path, 10).expect("build");
        assert_eq!(built.len(), 10);
        let opened = open_vault(&path).expect("open");
        let value = opened.get(&entry_name(7)).expect("get").expect("present");
        assert_eq!(value.expose(), entry_value(7, 0).expose());
    }
}
