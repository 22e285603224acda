//! Opening vault bytes held in memory: [`open_bytes`] does everything
//! [`Vault::open`](crate::Vault::open) does except reading the file, and
//! returns a read-only [`Snapshot`]. Fuzzers, tamper tests and tools that
//! got the bytes elsewhere (a backup, a pipe) use it; nothing here touches
//! the file system.

use crate::crypto::SecretValue;
use crate::format::{self, Body, Entry, Header, KeyName};
use crate::slots::Unlocker;
use crate::vault::{open_body, unlock, unseal, Keys};
use crate::{OpenOptions, VaultError};

/// An unlocked, read-only view of one vault file's contents. Values stay
/// sealed until [`Snapshot::get`] opens one.
pub struct Snapshot {
    minor: u8,
    header: Header,
    body: Body,
    keys: Keys,
    unlocked_by: u32,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("save_counter", &self.header.save_counter)
            .field("entries", &self.body.entries.len())
            .finish_non_exhaustive()
    }
}

/// Parses, unlocks and decrypts a whole vault file given as bytes, in the
/// order of FORMAT.md §2.3 and §4.6; only `options.kdf_limits` matters
/// here. Fails exactly as [`Vault::open_with`](crate::Vault::open_with)
/// fails on a file with these bytes, minus the storage errors.
pub fn open_bytes(
    bytes: &[u8],
    unlocker: &mut dyn Unlocker,
    options: &OpenOptions,
) -> Result<Snapshot, VaultError> {
    let parsed = format::parse_file(bytes)?;
    let (dek, unlocked_by) = unlock(&parsed.header, unlocker, &options.kdf_limits)?;
    let keys = Keys::derive(dek, &parsed.header.vault_id);
    let body = open_body(&parsed, &keys)?;
    Ok(Snapshot {
        minor: parsed.prefix.minor,
        header: parsed.header,
        body,
        keys,
        unlocked_by,
    })
}

impl Snapshot {
    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The format version of the bytes, `(major, minor)`.
    pub fn format_version(&self) -> (u8, u8) {
        (format::MAJOR_VERSION, self.minor)
    }

    /// The id of the slot that unlocked the vault.
    pub fn unlocked_by(&self) -> u32 {
        self.unlocked_by
    }

    /// The decoded body; values in it are still sealed.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Names of live entries, sorted, optionally only those starting with
    /// `prefix`.
    pub fn list(&self, prefix: Option<&str>) -> Vec<&KeyName> {
        self.body
            .entries
            .keys()
            .filter(|k| prefix.is_none_or(|p| k.as_str().starts_with(p)))
            .collect()
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.body.entries.len()
    }

    /// Whether there is no live entry.
    pub fn is_empty(&self) -> bool {
        self.body.entries.is_empty()
    }

    /// The entry's non-secret attributes and sealed value.
    pub fn entry(&self, name: &KeyName) -> Option<&Entry> {
        self.body.entries.get(name)
    }

    /// Unseals and returns the value of `name`, or `None`. Fails with
    /// [`VaultError::Tampered`] if the sealed value does not authenticate.
    pub fn get(&self, name: &KeyName) -> Result<Option<SecretValue>, VaultError> {
        self.body
            .entries
            .get(name)
            .map(|entry| unseal(&self.keys.value, name, entry))
            .transpose()
    }
}
