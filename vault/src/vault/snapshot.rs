//! The read-only view of one vault's contents, [`Snapshot`], which every
//! open [`Vault`](super::Vault) is built on, and [`open_bytes`]: opening
//! vault bytes held in memory. `open_bytes` does everything
//! [`Vault::open`](super::Vault::open) does except reading the file;
//! fuzzers, tamper tests and tools that got the bytes elsewhere (a backup,
//! a pipe) use it; nothing here touches the file system.

use crate::crypto::SecretValue;
use crate::format::{self, Body, Entry, Header, KeyName, Slot};
use crate::slots::Unlocker;

use super::file_seal::{open_body, Keys};
use super::unlock::unlock;
use super::value_seal::unseal_bytes;
use super::{OpenOptions, VaultError};

/// An unlocked, read-only view of one vault's contents: its header, its
/// body and the keys to open its values. Values stay sealed until
/// [`Snapshot::get`] opens one. Every open [`Vault`](super::Vault) is built
/// on one (and dereferences to it), so these accessors serve both.
pub struct Snapshot {
    pub(super) minor: u8,
    pub(super) header: Header,
    pub(super) body: Contents,
    pub(super) keys: Keys,
    pub(super) unlocked_by: u32,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("save_counter", &self.header.save_counter)
            .field("entries", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Parses, unlocks and decrypts a whole vault file given as bytes, in the
/// order of FORMAT.md §2.3 and §4.6; only `options.kdf_limits` matters
/// here. Fails exactly as [`Vault::open_with`](super::Vault::open_with)
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
        body: body.into(),
        keys,
        unlocked_by,
    })
}

impl Snapshot {
    /// The header (as last read or written, for a [`Vault`](super::Vault)).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The format version of the file or bytes, `(major, minor)`.
    pub fn format_version(&self) -> (u8, u8) {
        (format::MAJOR_VERSION, self.minor)
    }

    /// The key slots.
    pub fn slots(&self) -> &[Slot] {
        &self.header.slots
    }

    /// The id of the slot that unlocked the vault (0 when it was opened
    /// with a data key).
    pub fn unlocked_by(&self) -> u32 {
        self.unlocked_by
    }

    /// The decoded body; values in it are still sealed.
    pub fn body(&self) -> &Body {
        self.body.body()
    }

    /// Whether a live entry named `name` exists.
    pub fn has(&self, name: &KeyName) -> bool {
        self.body.contains(name)
    }

    /// The entry's non-secret attributes and sealed value.
    pub fn entry(&self, name: &KeyName) -> Option<&Entry> {
        self.body.body().entries.get(name)
    }

    /// Unseals and returns the value of `name`, or `None`. Fails with
    /// [`VaultError::Tampered`] if the sealed value does not authenticate.
    pub fn get(&self, name: &KeyName) -> Result<Option<SecretValue>, VaultError> {
        self.body
            .sealed_value(name)
            .map(|sealed| unseal_bytes(&self.keys.value, name, sealed))
            .transpose()
    }

    /// Names of live entries, sorted, optionally only those starting with
    /// `prefix`.
    pub fn list(&self, prefix: Option<&str>) -> Vec<&KeyName> {
        self.body
            .body()
            .entries
            .keys()
            .filter(|k| prefix.is_none_or(|p| k.as_str().starts_with(p)))
            .collect()
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the vault has no live entries.
    pub fn is_empty(&self) -> bool {
        self.body.len() == 0
    }

    /// Names deleted, with their deletion times (Unix milliseconds).
    pub fn tombstones(&self) -> impl Iterator<Item = (&KeyName, u64)> {
        self.body.body().tombstones.iter().map(|(k, t)| (k, *t))
    }
}

/// The body of an open vault: as opened (checked and indexed, decoded on
/// first need), or decoded (after a create or a save).
#[derive(Debug)]
pub(super) enum Contents {
    Indexed(format::body::BodyIndex),
    Decoded(Body),
}

impl Contents {
    pub(super) fn body(&self) -> &Body {
        match self {
            Contents::Indexed(index) => index.body(),
            Contents::Decoded(body) => body,
        }
    }

    pub(super) fn take(&mut self) -> Body {
        match std::mem::replace(self, Contents::Decoded(Body::default())) {
            Contents::Indexed(index) => index.into_body(),
            Contents::Decoded(body) => body,
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Contents::Indexed(index) => index.len(),
            Contents::Decoded(body) => body.entries.len(),
        }
    }

    pub(super) fn contains(&self, name: &KeyName) -> bool {
        match self {
            Contents::Indexed(index) => index.contains(name),
            Contents::Decoded(body) => body.entries.contains_key(name),
        }
    }

    pub(super) fn sealed_value(&self, name: &KeyName) -> Option<&[u8]> {
        match self {
            Contents::Indexed(index) => index.sealed_value(name),
            Contents::Decoded(body) => body.entries.get(name).map(|e| e.value.as_bytes()),
        }
    }
}

impl From<Body> for Contents {
    fn from(body: Body) -> Self {
        Contents::Decoded(body)
    }
}
