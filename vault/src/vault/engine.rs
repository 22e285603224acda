//! The engine: [`Vault`], an open vault built on its read-only view
//! [`Snapshot`](super::Snapshot): create, open (and the rollback check of
//! FORMAT.md §9.2), reload, set and delete. Saving is in `save.rs`, slot
//! changes in `key_slots.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::crypto::{self, KdfLimits, SecretKey, SecretValue};
use crate::format::{self, limits, Body, FormatError, Header, KeyName, Slot};
use crate::slots::Unlocker;
use crate::store::{self, generations, FaultInjector, StoreError, VaultLock};

#[cfg(feature = "keychain")]
use crate::slots::keychain::{self, Keychain};

use super::file_seal::{open_body_in_place, open_body_indexed, seal_file, Keys, Layout};
use super::key_slots::{build_slot, NewSlot};
use super::snapshot::{Contents, Snapshot};
use super::unlock::unlock;
use super::{SetOptions, Transaction, VaultError};

/// Options for opening a vault.
#[derive(Clone)]
pub struct OpenOptions {
    /// The most Argon2id work accepted from the file.
    pub kdf_limits: KdfLimits,
    /// How long a save waits for another writer's lock.
    pub lock_timeout: Duration,
    /// Fails storage steps on purpose (tests of crashes and full disks);
    /// `None`, the default, in real use.
    pub fault_injector: Option<Arc<dyn FaultInjector>>,
    /// How many earlier versions every save keeps beside the vault as
    /// `<vault>.1` (newest) … `<vault>.N` ([`generations`]); 0 keeps none.
    /// Default [`generations::DEFAULT_GENERATIONS`] (3).
    pub generations: usize,
    /// Rollback detection (FORMAT.md §9.2): the highest save counter seen
    /// per vault id is kept here; an open of a vault whose counter is
    /// lower fails with [`VaultError::RolledBack`]. `None` (the library's
    /// default) checks nothing; the CLI and the Node module use
    /// [`Marks::default_location`](store::marks::Marks::default_location).
    pub rollback: Option<store::marks::Marks>,
    /// Accept a counter below the mark once and move the mark down to it
    /// (the user put an older copy in place on purpose).
    pub accept_rollback: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            kdf_limits: KdfLimits::default(),
            lock_timeout: Duration::from_secs(10),
            fault_injector: None,
            generations: generations::DEFAULT_GENERATIONS,
            rollback: None,
            accept_rollback: false,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("kdf_limits", &self.kdf_limits)
            .field("lock_timeout", &self.lock_timeout)
            .field("fault_injector", &self.fault_injector.is_some())
            .field("generations", &self.generations)
            .field("rollback", &self.rollback)
            .field("accept_rollback", &self.accept_rollback)
            .finish()
    }
}

/// An open, unlocked vault: its read-only view (a [`Snapshot`], to which
/// it dereferences for every read accessor), its path and its options.
/// Values stay sealed in memory; [`Snapshot::get`] unseals one at a time.
pub struct Vault {
    pub(super) path: PathBuf,
    /// Header, body and keys as last read or written.
    pub(super) view: Snapshot,
    pub(super) options: OpenOptions,
    /// Whether `body` is the body of the file whose header is `header`, as
    /// last read or written. A save then skips decrypting the file again
    /// when its prefix and header are unchanged (FORMAT.md §7); false after
    /// a failed save whose changes could not be rolled back.
    pub(super) body_is_current: bool,
    /// The next save revokes a credential (issue 13): it purges every kept
    /// copy (generations, `.bak-*`) under its lock and keeps none of the
    /// file it replaces, so nothing credvault keeps opens with the revoked
    /// credential.
    pub(super) revoking: bool,
    /// The kept copies a revoking save removed, for [`Vault::take_purged`].
    pub(super) purged: std::sync::Mutex<Vec<PathBuf>>,
}

impl std::ops::Deref for Vault {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.view
    }
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("save_counter", &self.view.header.save_counter)
            .field("entries", &self.view.body.len())
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Creates a new vault at `path` protected by one slot. Fails with
    /// [`StoreError::AlreadyExists`] if anything is there; never overwrites.
    pub fn create(path: &Path, first: NewSlot<'_>) -> Result<Vault, VaultError> {
        Self::create_with(path, first, OpenOptions::default())
    }

    /// [`Vault::create`] with explicit options.
    pub fn create_with(
        path: &Path,
        first: NewSlot<'_>,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        Self::create_with_slots(path, vec![first], options)
    }

    /// Creates a new vault at `path` with `slots` (ids 1, 2, ...), in one
    /// write. Fails like [`Vault::create`]; `slots` must not be empty.
    pub fn create_with_slots(
        path: &Path,
        slots: Vec<NewSlot<'_>>,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        if slots.is_empty() || slots.len() > limits::MAX_SLOTS {
            return Err(VaultError::TooManySlots(limits::MAX_SLOTS));
        }
        Self::create_inner(path, options, |vault_id, dek| {
            (1u32..)
                .zip(slots)
                .map(|(id, slot)| build_slot(id, vault_id, dek, slot))
                .collect()
        })
    }

    /// Creates a new vault at `path` whose first slot (id 1) is a keychain
    /// slot: a fresh random key-encryption key is stored in `keychain`
    /// (service [`keychain::SERVICE`], account
    /// [`keychain::account_name`]`(vault id, 1)`) before the file is
    /// written, and deleted again if writing the file fails. Fails like
    /// [`Vault::create`], or with [`VaultError::Keychain`] when the item
    /// cannot be stored (then no file is written).
    ///
    /// A keychain does not travel with the file: add a passphrase or
    /// recovery slot before relying on backups.
    #[cfg(feature = "keychain")]
    pub fn create_with_keychain(
        path: &Path,
        keychain: &Keychain,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        Self::create_with_keychain_and(path, keychain, Vec::new(), options)
    }

    /// [`Vault::create_with_keychain`] with `more` slots after the keychain
    /// slot (ids 2, 3, ...), in the same write.
    #[cfg(feature = "keychain")]
    pub fn create_with_keychain_and(
        path: &Path,
        keychain: &Keychain,
        more: Vec<NewSlot<'_>>,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        if more.len() >= limits::MAX_SLOTS {
            return Err(VaultError::TooManySlots(limits::MAX_SLOTS));
        }
        let mut stored: Option<String> = None;
        let created = Self::create_inner(path, options, |vault_id, dek| {
            let account = keychain::account_name(vault_id, 1);
            let kek = SecretKey::random();
            keychain.store_kek(keychain::SERVICE, &account, &kek)?;
            let slot = build_slot(
                1,
                vault_id,
                dek,
                NewSlot::Keychain {
                    service: keychain::SERVICE,
                    account: &account,
                    kek: &kek,
                },
            )?;
            stored = Some(account);
            let mut all = vec![slot];
            for (id, new) in (2u32..).zip(more) {
                all.push(build_slot(id, vault_id, dek, new)?);
            }
            Ok(all)
        });
        if let (Err(_), Some(account)) = (&created, stored) {
            // Best effort: the vault was never written, so the item is
            // garbage; the save error is what the caller needs to see.
            // Unless it failed after the file was put in place (at the
            // directory fsync): then the file needs the item.
            if !super::rekey::keychain_accounts_on_disk(path).contains(&account) {
                let _ = keychain.delete(keychain::SERVICE, &account);
            }
        }
        created
    }

    /// Creates the file under the lock; `first` builds the slots (ids 1,
    /// 2, ...) from the new vault id and data key.
    fn create_inner(
        path: &Path,
        options: OpenOptions,
        first: impl FnOnce(&[u8; 16], &SecretKey) -> Result<Vec<Slot>, VaultError>,
    ) -> Result<Vault, VaultError> {
        store::ensure_dir(path)?;
        // Symlinks resolved once: every side file sits beside the target.
        let path = &store::resolve(path)?;
        let faults = options.fault_injector.as_deref();
        let _lock = VaultLock::acquire_with(path, options.lock_timeout, faults)?;
        if store::exists(path)? {
            return Err(StoreError::AlreadyExists(path.to_owned()).into());
        }
        let vault_id = crypto::random_array::<16>();
        let keys = Keys::derive(SecretKey::random(), &vault_id);
        let slots = first(&vault_id, &keys.dek)?;
        let mut header = Header {
            vault_id,
            save_counter: 1,
            body_nonce: crypto::random_array(),
            body_len: 0,
            slots,
        };
        let body = Body::default();
        let bytes = seal_file(&mut header, format::MINOR_VERSION, &body, &keys.dek);
        store::create_new_with(path, &bytes, faults)?;
        if let Some(marks) = &options.rollback {
            let _ = marks.record(&header.vault_id, path, header.save_counter);
        }
        Ok(Vault {
            path: path.to_owned(),
            view: Snapshot {
                minor: format::MINOR_VERSION,
                header,
                body: body.into(),
                keys,
                unlocked_by: 1,
            },
            options,
            body_is_current: true,
            revoking: false,
            purged: std::sync::Mutex::default(),
        })
    }

    /// Opens and unlocks the vault at `path`.
    pub fn open(path: &Path, unlocker: &mut dyn Unlocker) -> Result<Vault, VaultError> {
        Self::open_with(path, unlocker, OpenOptions::default())
    }

    /// [`Vault::open`] with explicit options.
    pub fn open_with(
        path: &Path,
        unlocker: &mut dyn Unlocker,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        // Symlinks resolved once: saves replace the target, not the link.
        let path = &store::resolve(path)?;
        let bytes = zeroize::Zeroizing::new(read_file(path)?);
        let parsed = format::parse_file(&bytes)?;
        let (dek, unlocked_by) = unlock(&parsed.header, unlocker, &options.kdf_limits)?;
        drop(parsed);
        let mut vault = Self::decrypt(path, bytes, dek, options)?;
        vault.view.unlocked_by = unlocked_by;
        vault.checked()
    }

    /// Opens the vault at `path` with an already unwrapped data key (for
    /// session caches). Fails with [`VaultError::Tampered`] if the key does
    /// not authenticate the body.
    pub fn open_with_key(
        path: &Path,
        dek: SecretKey,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let bytes = read_file(path)?;
        Self::open_bytes_with_key(path, bytes, dek, options)
    }

    /// [`Vault::open_with_key`] on `bytes` already read from `path`; the
    /// body is decrypted in place.
    pub(crate) fn open_bytes_with_key(
        path: &Path,
        bytes: Vec<u8>,
        dek: SecretKey,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let path = &store::resolve(path)?;
        Self::decrypt(path, zeroize::Zeroizing::new(bytes), dek, options)?.checked()
    }

    /// The vault in `bytes` (read from `path`) opened with `dek`, the body
    /// authenticated; no rollback check yet.
    fn decrypt(
        path: &Path,
        bytes: zeroize::Zeroizing<Vec<u8>>,
        dek: SecretKey,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let parsed = format::parse_file(&bytes)?;
        let layout = Layout::of(&parsed);
        let minor = parsed.prefix.minor;
        let header = parsed.header;
        let keys = Keys::derive(dek, &header.vault_id);
        let body = Contents::Indexed(open_body_indexed(bytes, layout, &header, &keys)?);
        Ok(Vault {
            path: path.to_owned(),
            view: Snapshot {
                minor,
                header,
                body,
                keys,
                unlocked_by: 0,
            },
            options,
            body_is_current: true,
            revoking: false,
            purged: std::sync::Mutex::default(),
        })
    }

    /// [`Vault::guard_rollback`], telling a rollback from a race: other
    /// processes may have saved (and raised the mark) between our read of
    /// the file and our read of the mark. The file is then read again and
    /// opened with the same key, as long as its counter keeps rising; a
    /// file that stays below the mark is refused.
    fn checked(self) -> Result<Vault, VaultError> {
        let mut current = self;
        // Each round needs another process to have saved meanwhile.
        for _ in 0..1000 {
            match current.guard_rollback() {
                Err(VaultError::RolledBack { .. }) => {
                    let bytes = zeroize::Zeroizing::new(read_file(&current.path)?);
                    let mut again = Self::decrypt(
                        &current.path,
                        bytes,
                        current.view.keys.dek.clone(),
                        current.options.clone(),
                    )?;
                    if again.view.header.save_counter <= current.view.header.save_counter {
                        return current.guard_rollback().map(|()| current);
                    }
                    again.view.unlocked_by = current.view.unlocked_by;
                    current = again;
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(current),
            }
        }
        current.guard_rollback().map(|()| current)
    }

    /// The vault's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The data key, for callers that cache it (session unlock). Handle
    /// with care.
    pub fn data_key(&self) -> &SecretKey {
        &self.view.keys.dek
    }

    /// Always `true`: a vault is always encrypted; there is no plaintext
    /// mode. (The app's `isEncryptionAvailable()`.)
    pub fn is_encryption_available(&self) -> bool {
        true
    }

    /// Stores `value` under `name` and saves.
    pub fn set(&mut self, name: &KeyName, value: &SecretValue) -> Result<(), VaultError> {
        let mut tx = self.transaction();
        tx.set(name, value, SetOptions::default())?;
        tx.commit().map(|_| ())
    }

    /// Deletes `name` and saves; `Ok(false)` if it did not exist.
    pub fn delete(&mut self, name: &KeyName) -> Result<bool, VaultError> {
        let mut tx = self.transaction();
        tx.delete(name);
        Ok(tx.commit()?.not_found.is_empty())
    }

    /// Starts a batch of changes saved together by [`Transaction::commit`].
    pub fn transaction(&mut self) -> Transaction<'_> {
        Transaction {
            vault: self,
            ops: Vec::new(),
        }
    }

    /// Re-reads the file (e.g. after another process saved). Like an open,
    /// it refuses a file whose counter is below this machine's mark
    /// ([`VaultError::RolledBack`], FORMAT.md §9.2), telling a rollback
    /// from a race with other savers as an open does.
    pub fn reload(&mut self) -> Result<(), VaultError> {
        let mut fresh = self.read_fresh()?;
        let mut rounds = 0;
        loop {
            let (header, _, _) = &fresh;
            match self.guard_counter(&header.vault_id, header.save_counter) {
                // Each round needs another process to have saved meanwhile.
                Err(VaultError::RolledBack { .. }) if rounds < 1000 => {
                    rounds += 1;
                    let again = self.read_fresh()?;
                    let rising = again.0.save_counter > fresh.0.save_counter;
                    fresh = again;
                    if !rising {
                        self.guard_counter(&fresh.0.vault_id, fresh.0.save_counter)?;
                        break;
                    }
                }
                other => {
                    other?;
                    break;
                }
            }
        }
        let (header, minor, body) = fresh;
        self.view.header = header;
        self.view.minor = minor;
        self.view.body = body.into();
        self.body_is_current = true;
        Ok(())
    }

    /// FORMAT.md §9.2, on an open: a counter below this machine's mark is
    /// refused (unless accepted on purpose); a higher one raises the mark.
    /// Called after the body authenticated, so the counter is genuine.
    fn guard_rollback(&self) -> Result<(), VaultError> {
        self.guard_counter(&self.view.header.vault_id, self.view.header.save_counter)
    }

    /// [`Vault::guard_rollback`] for file `id` at save counter `counter`.
    fn guard_counter(&self, id: &[u8; 16], counter: u64) -> Result<(), VaultError> {
        let Some(marks) = &self.options.rollback else {
            return Ok(());
        };
        if self.options.accept_rollback {
            marks.reset(id, &self.path, counter)?;
            return Ok(());
        }
        match marks.seen(id, &self.path)? {
            Some(seen) if counter < seen => Err(VaultError::RolledBack {
                found: counter,
                seen,
            }),
            Some(seen) if counter == seen => Ok(()),
            // Best effort: a read-only state directory must not stop reads.
            _ => {
                let _ = marks.record(id, &self.path, counter);
                Ok(())
            }
        }
    }

    /// After a save: the mark follows the new counter (best effort; the
    /// save itself succeeded).
    pub(crate) fn raise_mark(&self, header: &Header) {
        if let Some(marks) = &self.options.rollback {
            let _ = marks.record(&header.vault_id, &self.path, header.save_counter);
        }
    }

    /// The prefix and header bytes of the file this vault last read or
    /// wrote (the body's associated data, FORMAT.md §5).
    pub(super) fn aad(&self) -> Vec<u8> {
        let mut aad = format::encode_aad(&self.view.header);
        if let Some(minor) = aad.get_mut(9) {
            *minor = self.view.minor;
        }
        aad
    }

    /// Reads the file (under the caller's lock) and decodes it with
    /// [`Vault::decode_fresh`].
    pub(crate) fn read_fresh(&self) -> Result<(Header, u8, Body), VaultError> {
        let mut bytes = zeroize::Zeroizing::new(read_file(&self.path)?);
        self.decode_fresh(&mut bytes)
    }

    /// Parses the file `bytes` read under the lock, checks it is still this
    /// vault under this key and decrypts (in place) and decodes its body.
    pub(super) fn decode_fresh(&self, bytes: &mut [u8]) -> Result<(Header, u8, Body), VaultError> {
        let parsed = format::parse_file(bytes)?;
        if parsed.header.vault_id != self.view.header.vault_id {
            return Err(VaultError::KeyChanged);
        }
        let layout = Layout::of(&parsed);
        let minor = parsed.prefix.minor;
        let header = parsed.header;
        let body =
            open_body_in_place(bytes, layout, &header, &self.view.keys).map_err(|e| match e {
                VaultError::Tampered => VaultError::KeyChanged,
                other => other,
            })?;
        Ok((header, minor, body))
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, VaultError> {
    store::read(path, limits::MAX_FILE_LEN)?.map_err(|found| {
        FormatError::TooLarge {
            what: "file size",
            found,
            max: limits::MAX_FILE_LEN,
        }
        .into()
    })
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Passphrase;
    use crate::slots::PassphraseUnlocker;
    use crate::testing::{key, weak};
    use crate::{StoreError, UnlockError};

    #[test]
    fn create_set_get_delete_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("correct horse");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        v.set(&key("postgresql.password"), &SecretValue::from("pg"))
            .unwrap();
        v.set(&key("github.token"), &SecretValue::from("gh"))
            .unwrap();
        assert!(v.delete(&key("github.token")).unwrap());
        assert!(!v.delete(&key("github.token")).unwrap());

        let v2 = Vault::open(
            &path,
            &mut PassphraseUnlocker::new(Passphrase::from("correct horse")),
        )
        .unwrap();
        assert_eq!(
            v2.get(&key("postgresql.password"))
                .unwrap()
                .unwrap()
                .expose(),
            b"pg"
        );
        assert!(v2.get(&key("github.token")).unwrap().is_none());
        assert_eq!(v2.list(None).len(), 1);
        assert_eq!(v2.tombstones().count(), 1);
        assert_eq!(v2.header().save_counter, 4);

        let err = Vault::open(
            &path,
            &mut PassphraseUnlocker::new(Passphrase::from("wrong")),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            VaultError::Unlock(UnlockError::WrongKeyOrTampered)
        ));
        assert!(matches!(
            Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap_err(),
            VaultError::Store(StoreError::AlreadyExists(_))
        ));
    }

    #[test]
    fn a_vault_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Vault>();
        shareable::<crate::Snapshot>();
    }

    #[test]
    fn two_handles_do_not_lose_updates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut a = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        let mut b =
            Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw"))).unwrap();
        a.set(&key("a"), &SecretValue::from("1")).unwrap();
        b.set(&key("b"), &SecretValue::from("2")).unwrap();
        a.reload().unwrap();
        assert_eq!(a.list(None).len(), 2);
    }

    #[test]
    fn a_reload_refuses_a_rolled_back_file_as_an_open_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let options = OpenOptions {
            rollback: Some(store::marks::Marks::at(dir.path().join("marks"))),
            ..OpenOptions::default()
        };
        let pw = Passphrase::from("pw");
        let mut a = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        a.set(&key("a"), &SecretValue::from("1")).unwrap();
        let old = std::fs::read(&path).unwrap();
        let mut unlocker = PassphraseUnlocker::new(Passphrase::from("pw"));
        let mut reader = Vault::open_with(&path, &mut unlocker, options.clone()).unwrap();
        a.set(&key("a"), &SecretValue::from("2")).unwrap();
        reader.reload().unwrap();
        assert_eq!(reader.get(&key("a")).unwrap().unwrap().expose(), b"2");
        // The older file put back by hand: the reload refuses it.
        std::fs::write(&path, &old).unwrap();
        assert!(matches!(
            reader.reload().unwrap_err(),
            VaultError::RolledBack { .. }
        ));
        assert_eq!(reader.get(&key("a")).unwrap().unwrap().expose(), b"2");
    }
}
