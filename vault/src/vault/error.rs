//! The engine's errors: [`UnlockError`] (no slot opened) and
//! [`VaultError`] (every error of the engine, by layer).

use crate::crypto::ExcessiveWork;
use crate::format::{FormatError, NameError};
use crate::store::StoreError;

#[cfg(feature = "keychain")]
use crate::slots::keychain::KeychainError;

use super::UnavailableSlot;

/// Why a vault could not be unlocked. Never says which check failed inside
/// a slot: a wrong credential and a tampered slot look the same.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    /// No credential was available for any slot of the vault (and the
    /// keychain, if the vault has keychain slots, did not open one).
    #[error(
        "no credential available to unlock the vault (slots: {slots}){}",
        keychain.as_deref().map(|k| format!("; keychain: {k}")).unwrap_or_default()
    )]
    NoCredentials {
        /// The slot types present, e.g. "passphrase, recovery".
        slots: String,
        /// Why the keychain slots did not open the vault, when it has any.
        keychain: Option<String>,
    },
    /// Credentials were tried and none opened a slot: a wrong passphrase or
    /// recovery code, or a tampered slot.
    #[error("wrong passphrase or key, or the key slot was tampered with")]
    WrongKeyOrTampered,
    /// A slot asks for more KDF work than allowed; nothing was computed.
    #[error(transparent)]
    ExcessiveWork(#[from] ExcessiveWork),
    /// The header has only slot types this version does not know.
    #[error("no key slot of a type this credvault knows (made by a newer credvault?)")]
    NoUsableSlot,
    /// The keychain slots failed and no other slot could be tried.
    #[error("keychain: {0}")]
    Keychain(String),
    /// The passphrase opened none of the passphrase slots tried, and some
    /// were not tried: one open runs Argon2id a bounded number of times
    /// and for bounded work in total (FORMAT.md §6.3).
    #[error("the passphrase opened none of the passphrase slots tried; {skipped} more were not tried: one open runs Argon2id at most {max} times, for at most the work of one slot at this reader's limits", max = crate::crypto::kdf::MAX_RUNS_PER_OPEN)]
    WorkBudget {
        /// Passphrase slots left untried.
        skipped: usize,
    },
}

/// Every error of the engine, by layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The file is not a valid vault (not a vault, newer version, corrupt).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The vault could not be unlocked.
    #[error(transparent)]
    Unlock(#[from] UnlockError),
    /// A slot opened but the body failed authentication: the file was
    /// tampered with or damaged.
    #[error("vault is tampered or damaged: authentication failed")]
    Tampered,
    /// The file on disk was replaced by another vault or re-keyed since it
    /// was opened; reopen it.
    #[error("the vault file changed underneath: replaced, re-keyed by another process, or tampered with; open it again")]
    KeyChanged,
    /// File-system failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An invalid key name.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// A value above the format's limit.
    #[error("value is {len} bytes, above the limit of {max}")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The vault has no slot with this id.
    #[error("no key slot with id {0}")]
    NoSuchSlot(u32),
    /// Removing this slot would leave no slot that can open the vault.
    #[error("refusing to remove the last slot that can open the vault")]
    LastSlot,
    /// The header cannot hold another slot.
    #[error("the vault already has the maximum of {0} key slots")]
    TooManySlots(usize),
    /// The OS keychain failed while adding a keychain slot.
    #[cfg(feature = "keychain")]
    #[error("keychain: {0}")]
    Keychain(#[from] KeychainError),
    /// A backup would have no passphrase or recovery slot, so nothing could
    /// open it on another machine.
    #[error(
        "the backup would have no passphrase or recovery slot: no other machine could open it"
    )]
    NoPortableSlot,
    /// A rekey cannot wrap the new data key for these slots: their
    /// credential is not available (nothing was changed).
    #[error("cannot wrap the new data key for {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    SlotsUnavailable(Vec<UnavailableSlot>),
    /// A merge was given a copy of another vault (its vault id differs).
    #[error("the other file is a different vault (its vault id differs): only copies of the same vault can be merged")]
    DifferentVault,
    /// After a merge, the vault read back from disk did not hold what was
    /// merged into it; the copy was kept.
    #[error("the merged vault, read back from disk, does not hold everything merged into it")]
    MergeUnverified,
    /// The slot is not of the type the operation needs.
    #[error("slot {id} is not a {expected} slot")]
    WrongSlotType {
        /// The slot id.
        id: u32,
        /// The type needed.
        expected: &'static str,
    },
    /// The vault's save counter is below the highest one seen on this
    /// machine for its id: the file was replaced by an older copy of
    /// itself (FORMAT.md §9.2).
    #[error("the vault was rolled back: its save counter is {found}, but this machine has seen {seen}; an older copy of it (a generation, a backup, a sync) replaced the newer one, which may undo a passphrase change or a removed slot")]
    RolledBack {
        /// The counter of the file now.
        found: u64,
        /// The highest counter seen before.
        seen: u64,
    },
}
