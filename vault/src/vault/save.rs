//! The save path (FORMAT.md §7): every change to a vault is written here,
//! under the vault's lock, after re-reading the file — a [`Transaction`]
//! of sets and deletes (patched into the body bytes when it can be), or a
//! change of header and body through [`Vault::save_with`]; and revoking
//! saves, which purge the kept copies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::crypto::{self, SecretKey, SecretValue};
use crate::format::body::Change;
use crate::format::{
    self, limits, Body, Entry, FormatError, Header, KeyName, Kind, Metadata, SealedValue,
};
use crate::store::{self, generations, VaultLock};

use super::engine::now_ms;
use super::file_seal::{seal_file, seal_plain};
use super::snapshot::Contents;
use super::value_seal::seal_value;
use super::{read_file, Vault, VaultError};

/// Options for a set: the entry's non-secret attributes.
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    /// Entry kind; `secret` when `None` on a new entry, unchanged on an
    /// existing one.
    pub kind: Option<Kind>,
    /// Expiry, Unix milliseconds.
    pub expires_ms: Option<u64>,
    /// Metadata; unchanged on an existing entry when `None`.
    pub metadata: Option<Metadata>,
}

pub(super) enum Op {
    Set {
        name: KeyName,
        value: SealedValue,
        options: SetOptions,
    },
    Delete {
        name: KeyName,
    },
}

/// What a committed transaction changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Names whose delete found nothing to delete.
    pub not_found: Vec<KeyName>,
    /// Whether a save happened (false when nothing changed).
    pub saved: bool,
}

/// A batch of changes applied to the freshly re-read vault in one locked
/// save. Values are sealed as soon as they are added.
pub struct Transaction<'v> {
    pub(super) vault: &'v mut Vault,
    pub(super) ops: Vec<Op>,
}

impl Transaction<'_> {
    /// Adds a set of `name` to `value`.
    pub fn set(
        &mut self,
        name: &KeyName,
        value: &SecretValue,
        options: SetOptions,
    ) -> Result<(), VaultError> {
        if value.len() > limits::MAX_VALUE_LEN {
            return Err(VaultError::ValueTooLarge {
                len: value.len(),
                max: limits::MAX_VALUE_LEN,
            });
        }
        let sealed = seal_value(
            &self.vault.view.keys.value,
            name,
            value.expose(),
            crypto::random_array(),
        );
        self.ops.push(Op::Set {
            name: name.clone(),
            value: sealed,
            options,
        });
        Ok(())
    }

    /// Adds a delete of `name`.
    pub fn delete(&mut self, name: &KeyName) {
        self.ops.push(Op::Delete { name: name.clone() });
    }

    /// Number of changes queued.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no change is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Takes the lock, re-reads the vault, applies the changes in order and
    /// saves atomically. Nothing is saved if a step fails.
    pub fn commit(self) -> Result<Committed, VaultError> {
        let lock = self.vault.write_lock()?;
        let committed = self.vault.commit_held(&self.ops);
        drop(lock);
        committed
    }
}

/// Turns a transaction's `ops`, applied in order, into one change per name
/// against the live entries `live` returns, and what the commit reports.
/// A set merges its options over the entry it replaces; a delete of a name
/// that is not live (any more) is reported not found and changes nothing.
pub(super) fn plan(
    ops: &[Op],
    now: u64,
    live: impl Fn(&KeyName) -> Option<Entry>,
) -> (BTreeMap<KeyName, Change>, Committed) {
    let mut committed = Committed::default();
    let mut changes: BTreeMap<KeyName, Change> = BTreeMap::new();
    for op in ops {
        let (name, earlier) = match op {
            Op::Set { name, .. } | Op::Delete { name } => (name, changes.get(name)),
        };
        let current = match earlier {
            Some(Change::Set(entry)) => Some(entry.clone()),
            Some(Change::Delete(_)) => None,
            None => live(name),
        };
        match op {
            Op::Set {
                name,
                value,
                options,
            } => {
                let entry = merged_entry(current, value.clone(), options.clone(), now);
                changes.insert(name.clone(), Change::Set(entry));
                committed.saved = true;
            }
            Op::Delete { name } => {
                if current.is_some() {
                    changes.insert(name.clone(), Change::Delete(now));
                    committed.saved = true;
                } else {
                    committed.not_found.push(name.clone());
                }
            }
        }
    }
    (changes, committed)
}

/// The entry a set makes: `value` with `options` over the `old` entry's
/// attributes, if there was one (times in Unix milliseconds).
fn merged_entry(old: Option<Entry>, value: SealedValue, options: SetOptions, now: u64) -> Entry {
    match old {
        Some(old) => Entry {
            value,
            kind: options.kind.unwrap_or(old.kind),
            created_ms: old.created_ms,
            updated_ms: now.max(old.updated_ms),
            expires_ms: options.expires_ms.or(old.expires_ms),
            metadata: options.metadata.unwrap_or(old.metadata),
        },
        None => Entry {
            value,
            kind: options.kind.unwrap_or_else(Kind::secret),
            created_ms: now,
            updated_ms: now,
            expires_ms: options.expires_ms,
            metadata: options.metadata.unwrap_or_default(),
        },
    }
}

impl Vault {
    /// Takes the vault's write lock (FORMAT.md §7), waiting up to the
    /// lock timeout.
    pub(super) fn write_lock(&self) -> Result<VaultLock, VaultError> {
        let faults = self.options.fault_injector.as_deref();
        Ok(VaultLock::acquire_with(
            &self.path,
            self.options.lock_timeout,
            faults,
        )?)
    }

    /// The one commit path of queued sets and deletes ([`Transaction`],
    /// [`Locked`](super::Locked)), under the write lock the caller holds:
    /// patched into the body bytes when it can be, else through the
    /// general save.
    pub(super) fn commit_held(&mut self, ops: &[Op]) -> Result<Committed, VaultError> {
        if let Some(committed) = self.commit_patched(ops)? {
            return Ok(committed);
        }
        self.save_held(|_, _header, body, _dek| {
            let (changes, committed) = plan(ops, now_ms(), |name| body.entries.get(name).cloned());
            body.apply(changes);
            if body.entries.len() + body.tombstones.len() > limits::MAX_RECORDS {
                return Err(FormatError::TooLarge {
                    what: "entry and tombstone count",
                    found: (body.entries.len() + body.tombstones.len()) as u64,
                    max: limits::MAX_RECORDS as u64,
                }
                .into());
            }
            let saved = committed.saved;
            Ok((committed, saved))
        })
    }

    /// Reads the file under the lock, checks it is still this vault under
    /// this key, lets `change` edit header and body, and saves if it says so.
    pub(super) fn save_with<T>(
        &mut self,
        change: impl FnOnce(
            &[u8; 16],
            &mut Header,
            &mut Body,
            &SecretKey,
        ) -> Result<(T, bool), VaultError>,
    ) -> Result<T, VaultError> {
        let _lock = self.write_lock()?;
        self.save_held(change)
    }

    /// [`Vault::save_with`] under the write lock the caller holds
    /// ([`Vault::write_lock`]).
    fn save_held<T>(
        &mut self,
        change: impl FnOnce(
            &[u8; 16],
            &mut Header,
            &mut Body,
            &SecretKey,
        ) -> Result<(T, bool), VaultError>,
    ) -> Result<T, VaultError> {
        let mut bytes = zeroize::Zeroizing::new(read_file(&self.path)?);
        let fresh = format::parse_file(&bytes)?;
        if fresh.header.vault_id != self.view.header.vault_id {
            return Err(VaultError::KeyChanged);
        }
        // FORMAT.md §7 step 1. Every save writes a fresh random body nonce
        // into the header, so an unchanged prefix and header means the file
        // is the one this vault last read or wrote, and the body in memory
        // is its body: no need to decrypt and decode it again.
        let unchanged = self.body_is_current
            && fresh.prefix.minor == self.view.minor
            && fresh.aad == self.aad().as_slice();
        drop(fresh);
        let (mut header, minor, mut body) = if unchanged {
            (
                self.view.header.clone(),
                self.view.minor,
                self.view.body.take(),
            )
        } else {
            self.decode_fresh(&mut bytes)?
        };
        let result = self.change_and_write(&mut header, minor, &mut body, change);
        match result {
            Ok((out, saved)) => {
                if let Some(minor) = saved {
                    self.view.minor = minor;
                }
                self.view.header = header;
                self.view.body = body.into();
                self.body_is_current = true;
                Ok(out)
            }
            Err(e) => {
                if unchanged {
                    // `change` may have edited the body taken from `self`:
                    // go back to the file's, which is still in `bytes`.
                    match self.decode_fresh(&mut bytes) {
                        Ok((_, _, original)) => self.view.body = original.into(),
                        Err(_) => {
                            self.view.body = body.into();
                            self.body_is_current = false;
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// Lets `change` edit header and body and, if it says so, seals and
    /// writes them; returns its output and the minor written, if any.
    pub(super) fn change_and_write<T>(
        &self,
        header: &mut Header,
        minor: u8,
        body: &mut Body,
        change: impl FnOnce(
            &[u8; 16],
            &mut Header,
            &mut Body,
            &SecretKey,
        ) -> Result<(T, bool), VaultError>,
    ) -> Result<(T, Option<u8>), VaultError> {
        let vault_id = header.vault_id;
        let (out, changed) = change(&vault_id, header, body, &self.view.keys.dek)?;
        if !changed {
            return Ok((out, None));
        }
        header.save_counter = header.save_counter.saturating_add(1);
        header.body_nonce = crypto::random_array();
        // A file of a newer minor keeps its minor: this writer preserves
        // the slots it does not know (FORMAT.md §2.2).
        #[allow(clippy::unnecessary_min_or_max)]
        let minor = minor.max(format::MINOR_VERSION);
        let bytes = seal_file(header, minor, body, &self.view.keys.dek);
        self.replace_file(header, &bytes)?;
        Ok((out, Some(minor)))
    }

    /// Puts the sealed file `bytes` (whose header is `header`) in place of
    /// the vault, keeping generations; the caller holds the lock. A writer
    /// never produces a file no reader accepts (FORMAT.md §6.1).
    pub(super) fn replace_file(&self, header: &Header, bytes: &[u8]) -> Result<(), VaultError> {
        if header.body_len > limits::MAX_BODY_LEN + format::TAG_LEN as u64 {
            return Err(FormatError::TooLarge {
                what: "body length",
                found: header.body_len - format::TAG_LEN as u64,
                max: limits::MAX_BODY_LEN,
            }
            .into());
        }
        let faults = self.options.fault_injector.as_deref();
        if self.revoking {
            // Purge first: at no moment does a kept copy open with the
            // revoked credential while the live vault no longer does.
            let dropped = generations::purge(&self.path)?;
            store::replace_with(&self.path, bytes, faults)?;
            if let Ok(mut purged) = self.purged.lock() {
                purged.extend(dropped);
            }
        } else {
            generations::replace_keeping(&self.path, bytes, self.options.generations, faults)?;
        }
        self.raise_mark(header);
        Ok(())
    }

    /// Runs `op` as a revoking change: its save purges every kept copy
    /// (see [`Vault::take_purged`]).
    pub(super) fn revoking<T>(
        &mut self,
        op: impl FnOnce(&mut Vault) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.revoking = true;
        let out = op(self);
        self.revoking = false;
        out
    }

    /// The kept copies (generations `VAULT.N`, `VAULT.bak-*`) removed by
    /// the last revoking operation of this handle — `rewrap_slot`,
    /// `remove_slot`, `replace_recovery`, `rekey` — since they still
    /// opened with the revoked credential. Empties the list.
    pub fn take_purged(&mut self) -> Vec<PathBuf> {
        self.purged
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Removes every kept copy of the vault (generations and `.bak-*`)
    /// under the vault's lock; returns what was removed.
    pub fn purge_kept(&self) -> Result<Vec<PathBuf>, VaultError> {
        let faults = self.options.fault_injector.as_deref();
        let _lock = VaultLock::acquire_with(&self.path, self.options.lock_timeout, faults)?;
        Ok(generations::purge(&self.path)?)
    }

    /// Commits `ops` by patching the body bytes (FORMAT.md §7): when the
    /// body is held as an index and the file is still the one it came from,
    /// the new body is the old one with the changed records spliced in,
    /// byte for byte what a full encoding gives, so a set costs what the
    /// AEAD and the write cost rather than decoding and encoding every
    /// entry. `None`: not applicable, the caller takes the general path.
    /// The caller holds the write lock.
    fn commit_patched(&mut self, ops: &[Op]) -> Result<Option<Committed>, VaultError> {
        let Contents::Indexed(index) = &self.view.body else {
            return Ok(None);
        };
        if !self.body_is_current {
            return Ok(None);
        }
        // FORMAT.md §7 step 1, as in `save_with`, reading only the prefix
        // and header: equal bytes and length mean the same save.
        let aad = self.aad();
        let expected_len = aad.len() as u64 + self.view.header.body_len;
        let (head, len) = store::read_prefix(&self.path, aad.len())?;
        if head != aad || len != expected_len {
            return Ok(None);
        }

        let (changes, committed) = plan(ops, now_ms(), |name| index.entry(name));
        if !committed.saved {
            return Ok(Some(committed));
        }
        let Some(patch) = index.patch(&changes) else {
            return Ok(None);
        };
        if patch.records() > limits::MAX_RECORDS {
            return Err(FormatError::TooLarge {
                what: "entry and tombstone count",
                found: patch.records() as u64,
                max: limits::MAX_RECORDS as u64,
            }
            .into());
        }
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(patch.len()));
        patch.write_into(&mut plain);
        let mut header = self.view.header.clone();
        header.save_counter = header.save_counter.saturating_add(1);
        header.body_nonce = crypto::random_array();
        // As in `change_and_write`: a newer minor keeps its minor.
        #[allow(clippy::unnecessary_min_or_max)]
        let minor = self.view.minor.max(format::MINOR_VERSION);
        let bytes = seal_plain(&mut header, minor, &plain, &self.view.keys.dek);
        self.replace_file(&header, &bytes)?;
        self.view.header = header;
        self.view.minor = minor;
        self.view.body = Contents::Indexed(format::body::BodyIndex::trusted(plain));
        Ok(Some(committed))
    }
}
