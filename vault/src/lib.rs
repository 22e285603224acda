//! # credvault
//!
//! An encrypted credential vault: one versioned, AEAD-encrypted,
//! deterministic-CBOR file (`*.cvault`) whose random data key is wrapped by
//! key slots (passphrase, OS keychain, recovery code). The normative format
//! description is `spec/FORMAT.md`.
//!
//! Layers, bottom up: [`format`](mod@format) (pure parsing and encoding),
//! [`crypto`] (AEAD, KDFs, secret types), [`slots`] (unlock methods),
//! [`store`] (the only file-system code: lock, atomic replace) and
//! [`Vault`] (the engine).
//!
//! Portability: [`Vault::write_backup`] writes a backup with the portable
//! slots only, [`Verified`] checks any vault file end to end and puts it
//! back ([`Verified::restore_to`], [`Verified::undo_to`] with the
//! generations of [`store::generations`]), [`Vault::rewrap_slot`] and
//! [`Vault::rekey`] are the two ways to change keys (FORMAT.md §9), and
//! [`slots::recovery_code`] is the human form of a recovery key.
//!
//! Cargo features, all on by default:
//!
//! - `keychain`: the OS keychain behind keychain slots (`slots::keychain`:
//!   Secret Service on Linux, Keychain on macOS, Credential Manager on
//!   Windows), `Vault::create_with_keychain` and friends.
//! - `session` (Linux only): a timed cache of unlocked data keys in the
//!   kernel keyring (`session`).
//! - `legacy`: migration from the desktop app's `credentials.json`
//!   (`legacy`: `plain:` and Electron safeStorage / Chromium OSCrypt `enc:`
//!   values) and `service`, a facade with the app's service API
//!   (`store`, `retrieve`, ..., `get_with_fallback`). With `keychain` it
//!   also finds the app's safeStorage password in the OS keyring.
//! - `oauth`: OAuth 2.0 logins for native apps whose tokens live in the
//!   vault (`oauth`): authorization code + PKCE on a loopback redirect,
//!   the device flow, presets and OpenID discovery, refresh under the
//!   vault's write lock, revocation.
//! - `audit`: a tamper-evident, hash-chained and HMAC-authenticated log of
//!   operations (`audit`), which the CLI writes for every command.
//! - `pass`: interop with the `pass` password store (`pass`): a
//!   `PassBackend` over the real `pass` program, and import, export and
//!   two-way sync of `claude/<service>/<type>` entries, with the sync
//!   state kept inside the vault.
//!
//! ```
//! use credvault::{KdfParams, KeyName, NewSlot, Passphrase, PassphraseUnlocker, SecretValue, Vault};
//!
//! # fn main() -> Result<(), credvault::VaultError> {
//! let dir = tempfile::tempdir().expect("temp dir");
//! let path = dir.path().join("demo.cvault");
//! // Weak KDF parameters keep the example fast; use calibrated ones for real.
//! let kdf = KdfParams::new(8 * 1024, 1, 1)?;
//! let mut vault = Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("pw"), kdf))?;
//!
//! let name = KeyName::new("postgresql.password")?;
//! vault.set(&name, &SecretValue::from("s3cret"))?;
//!
//! let reopened = Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw")))?;
//! let value = reopened.get(&name)?.expect("stored above");
//! assert_eq!(value.expose(), b"s3cret");
//! assert_eq!(reopened.list(Some("postgresql.")).len(), 1);
//! # Ok(())
//! # }
//! ```

// No unsafe code, except the one Windows DPAPI call in `legacy::dpapi`,
// which allows it for itself alone.
#![cfg_attr(not(all(windows, feature = "legacy")), forbid(unsafe_code))]
#![cfg_attr(all(windows, feature = "legacy"), deny(unsafe_code))]
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[cfg(feature = "audit")]
pub mod audit;
pub mod crypto;
pub mod format;
#[cfg(feature = "legacy")]
pub mod legacy;
pub mod merge;
#[cfg(feature = "oauth")]
pub mod oauth;
pub mod ops;
#[cfg(feature = "pass")]
pub mod pass;
pub mod secret_env;
#[cfg(feature = "legacy")]
pub mod service;
#[cfg(all(feature = "session", target_os = "linux"))]
pub mod session;
pub mod slots;
pub mod store;
mod vault;

#[cfg(test)]
mod testing;

pub use crypto::{ExcessiveWork, KdfLimits, Passphrase, SecretKey, SecretValue};
pub use format::limits::MAX_VALUE_LEN;
pub use format::MINOR_VERSION as FORMAT_MINOR_VERSION;
pub use format::{
    FormatError, Header, KdfParams, KeyName, Kind, Metadata, NameError, Slot, SlotKind,
};
/// Keychain account of slot `slot_id` of vault `vault_id`:
/// `<vault-id as 32 lowercase hex>/<slot id in decimal>` (FORMAT.md §4.3);
/// [`slots::keychain::account_name`].
pub use slots::keychain::account_name as keychain_account;
/// Keychain service of every keychain slot this crate writes (FORMAT.md
/// §4.3); [`slots::keychain::SERVICE`].
pub use slots::keychain::SERVICE as KEYCHAIN_SERVICE;
#[cfg(feature = "keychain")]
pub use slots::keychain::{
    Keychain, KeychainError, KeychainUnlocker, DEFAULT_TIMEOUT as KEYCHAIN_TIMEOUT,
};
pub use slots::recovery_code::RecoveryCodeError;
pub use slots::{PassphraseUnlocker, RecoveryKey, Unlocker};
pub use store::StoreError;
#[cfg(feature = "keychain")]
pub use vault::KeychainCleanup;
pub use vault::{
    kept_copies, Backup, BackupOptions, CopyMerge, KeptCopy, MergeOptions, MergeReport,
    RekeyOptions, Rekeyed, RekeyedSlot, Restored, SlotRef, UnavailableSlot, Verified,
};
pub use vault::{
    open_bytes, seal_file, seal_value, unlock, value_key, Committed, Locked, NewSlot, OpenOptions,
    SetOptions, Snapshot, Transaction, UnlockError, Vault, VaultError,
};
