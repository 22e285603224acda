//! The engine: create, open and unlock a vault; read values; change them in
//! locked, atomic saves that re-read the file first (FORMAT.md §7).
//!
//! The only module that ever holds an unwrapped data key. Its rooms:
//!
//! - `engine.rs` — [`Vault`]: create, open (and the rollback check), reload,
//!   set and delete; [`OpenOptions`].
//! - `snapshot.rs` — [`Snapshot`], the read-only view every `Vault` is built
//!   on (every read accessor lives there), and [`open_bytes`].
//! - `unlock.rs` — [`unlock`], the one place the credentials at hand meet a
//!   vault's slots (FORMAT.md §4.6), also used by verify, backup, restore,
//!   merge and rekey.
//! - `save.rs` — the one save path: [`Transaction`], the locked re-read and
//!   write, revoking saves.
//! - `key_slots.rs` — [`NewSlot`], adding and removing slots, slot ids.
//! - `file_seal.rs` and `value_seal.rs` — sealing the whole file (header
//!   and body) and each value.
//! - `backup.rs` (backup, [`Verified`], restore, undo), `rekey.rs` (rewrap
//!   and rekey), `merge.rs` (merging another copy), `locked.rs` (read,
//!   decide and write under one hold of the lock).
//! - `error.rs` — [`UnlockError`] and [`VaultError`].

mod backup;
mod engine;
mod error;
mod file_seal;
mod key_slots;
mod locked;
mod merge;
mod rekey;
mod save;
mod snapshot;
mod unlock;
mod value_seal;

pub use backup::{kept_copies, Backup, BackupOptions, KeptCopy, Restored, SlotRef, Verified};
pub use engine::{OpenOptions, Vault};
pub use error::{UnlockError, VaultError};
pub use file_seal::seal_file;
#[cfg(feature = "keychain")]
pub use key_slots::KeychainCleanup;
pub use key_slots::NewSlot;
pub use locked::Locked;
pub use merge::{CopyMerge, MergeOptions, MergeReport};
pub use rekey::{RekeyOptions, Rekeyed, RekeyedSlot, UnavailableSlot};
pub use save::{Committed, SetOptions, Transaction};
pub use snapshot::{open_bytes, Snapshot};
pub use unlock::unlock;
pub use value_seal::{seal_value, value_key};

pub(crate) use engine::read_file;
