//! Portable backups, full verification and restore (FORMAT.md §7.2).
//!
//! - [`Vault::write_backup`] writes a consistent copy, read under the
//!   vault's lock, that carries only *portable* slots (passphrase and
//!   recovery; keychain slots do not travel), optionally plus a new
//!   passphrase slot of its own. It keeps the vault id and save counter,
//!   seals the same body plaintext under the same data key with a fresh
//!   nonce (the header changed, and the body binds the header), checks the
//!   exact bytes end to end before writing them, and reads them back after.
//! - [`Verified`] is a vault file checked end to end: parsed, unlocked,
//!   body decrypted and every value unsealed (and dropped at once). `verify`,
//!   `restore` and `undo` start from it.
//! - [`Verified::restore_to`] and [`Verified::undo_to`] put a verified file
//!   in place of the live vault under its lock, keeping what was there as
//!   a timestamped `.bak` file.

use std::path::{Path, PathBuf};

use crate::crypto::{self, Passphrase, SecretKey};
use crate::format::{self, limits, Header, KdfParams, Slot, SlotKind};
use crate::slots::{self, PassphraseUnlocker, Unlocker};
use crate::store::{self, generations, StoreError, VaultLock};

use super::file_seal::{open_body, seal_file, Keys};
use super::value_seal::unseal;
use super::{read_file, unlock, OpenOptions, Vault, VaultError};

/// What a backup carries besides the vault's portable slots.
#[derive(Default)]
pub struct BackupOptions<'a> {
    /// A new passphrase slot for the backup only (the live vault does not
    /// get it), with these Argon2id parameters.
    pub passphrase: Option<(&'a Passphrase, KdfParams)>,
    /// Replace a file already at the destination (default: refuse with
    /// [`StoreError::AlreadyExists`]). The vault itself is never replaced.
    pub overwrite: bool,
}

/// A slot as reports show it: id and type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRef {
    /// The slot id.
    pub id: u32,
    /// "passphrase", "keychain", "recovery" or "unknown".
    pub kind: &'static str,
}

impl From<&Slot> for SlotRef {
    fn from(slot: &Slot) -> Self {
        SlotRef {
            id: slot.id,
            kind: slot.type_name(),
        }
    }
}

/// A backup written by [`Vault::write_backup`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Backup {
    /// Where it is.
    pub path: PathBuf,
    /// Its slots.
    pub slots: Vec<SlotRef>,
    /// The vault's slots it does not carry (keychain and unknown slots).
    pub left_out: Vec<SlotRef>,
    /// The id of the backup's own passphrase slot, if one was asked for.
    pub added_passphrase_slot: Option<u32>,
    /// Live entries.
    pub entries: usize,
    /// The save counter (the vault's at the time of the backup).
    pub save_counter: u64,
    /// The slot that a credential was seen to open, before the backup was
    /// written (the backup passphrase, or what the caller offered).
    pub opened_by: Option<u32>,
}

impl Vault {
    /// Writes a backup of this vault to `dest` (module docs): read under
    /// the lock, portable slots only (plus `options.passphrase`), checked
    /// before it is written — the body and every value open, and, when a
    /// credential is at hand (the backup passphrase, else whatever `prove`
    /// supplies), the ordinary unlock opens it — then written durably with
    /// mode 0600 (never over an existing file unless `options.overwrite`,
    /// never over the vault itself) and read back byte for byte.
    ///
    /// Fails with [`VaultError::NoPortableSlot`] when the backup would
    /// have no passphrase or recovery slot: nothing could open it on
    /// another machine.
    pub fn write_backup(
        &self,
        dest: &Path,
        options: &BackupOptions<'_>,
        prove: Option<&mut dyn Unlocker>,
    ) -> Result<Backup, VaultError> {
        // The backup passphrase's KDF runs before the lock is taken.
        let extra = options
            .passphrase
            .map(|(pw, kdf_params)| slots::passphrase::Prepared::derive(pw, kdf_params));

        let (bytes, header, left_out, added) = {
            let faults = self.options.fault_injector.as_deref();
            let _lock = VaultLock::acquire_with(&self.path, self.options.lock_timeout, faults)?;
            let (fresh, minor, body) = self.read_fresh()?;
            let (mut carried, left_out): (Vec<Slot>, Vec<Slot>) =
                fresh.slots.iter().cloned().partition(|s| {
                    matches!(s.kind, SlotKind::Passphrase(_) | SlotKind::Recovery(_))
                });
            let mut added = None;
            if let Some(prepared) = extra {
                let id = fresh
                    .slots
                    .iter()
                    .map(|s| s.id)
                    .max()
                    .unwrap_or(0)
                    .checked_add(1)
                    .filter(|_| carried.len() < limits::MAX_SLOTS)
                    .ok_or(VaultError::TooManySlots(limits::MAX_SLOTS))?;
                let slot = prepared.slot(id, &fresh.vault_id, &self.view.keys.dek);
                carried.push(slot);
                added = Some(id);
            }
            if carried.is_empty() {
                return Err(VaultError::NoPortableSlot);
            }
            let mut header = Header {
                vault_id: fresh.vault_id,
                save_counter: fresh.save_counter,
                body_nonce: crypto::random_array(),
                body_len: 0,
                slots: carried,
            };
            let bytes = seal_file(&mut header, minor, &body, &self.view.keys.dek);
            (bytes, header, left_out, added)
        };

        // Check the exact bytes before they are written.
        let checked = Verified::open_with_key(bytes, self.view.keys.dek.clone())?;
        let opened_by = match (options.passphrase, prove) {
            (Some((pw, _)), _) => {
                let mut unlocker = PassphraseUnlocker::new(Passphrase::new(pw.expose().to_vec()));
                Some(proven(&checked.bytes, &mut unlocker, &self.options)?)
            }
            (None, Some(prove)) => Some(proven(&checked.bytes, prove, &self.options)?),
            (None, None) => None,
        };

        write_new_file(
            dest,
            &checked.bytes,
            options.overwrite,
            &self.path,
            &self.options,
        )?;
        let back = read_file(dest)?;
        if back != checked.bytes {
            if !options.overwrite {
                let _ = std::fs::remove_file(dest);
            }
            return Err(StoreError::Io {
                op: "verify",
                path: dest.to_owned(),
                source: std::io::Error::other("the file read back differs from what was written"),
            }
            .into());
        }
        Ok(Backup {
            path: dest.to_owned(),
            slots: header.slots.iter().map(SlotRef::from).collect(),
            left_out: left_out.iter().map(SlotRef::from).collect(),
            added_passphrase_slot: added,
            entries: checked.entries,
            save_counter: header.save_counter,
            opened_by,
        })
    }
}

/// Unlocks `bytes` with `unlocker` through the ordinary unlock and returns
/// the slot that opened it; the body was checked already.
fn proven(
    bytes: &[u8],
    unlocker: &mut dyn Unlocker,
    options: &OpenOptions,
) -> Result<u32, VaultError> {
    let parsed = format::parse_file(bytes)?;
    let (_, id) = unlock(&parsed.header, unlocker, &options.kdf_limits)?;
    Ok(id)
}

/// Writes `bytes` to `dest` (a new file, or with `overwrite` a durable
/// replace under `dest`'s own lock), refusing the vault itself.
fn write_new_file(
    dest: &Path,
    bytes: &[u8],
    overwrite: bool,
    vault: &Path,
    options: &OpenOptions,
) -> Result<(), VaultError> {
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let exists = store::exists(dest)?;
    if exists && (!overwrite || same(dest, vault)) {
        return Err(StoreError::AlreadyExists(dest.to_owned()).into());
    }
    store::ensure_dir(dest)?;
    if overwrite && exists {
        let _lock = VaultLock::acquire(dest, options.lock_timeout)?;
        store::replace(dest, bytes)?;
    } else {
        store::create_new(dest, bytes)?;
    }
    Ok(())
}

/// A vault file checked end to end: parsed, unlocked, the body decrypted
/// and every value unsealed. Holds the file's bytes, its header and its
/// data key; values are not kept.
pub struct Verified {
    bytes: Vec<u8>,
    header: Header,
    minor: u8,
    keys: Keys,
    unlocked_by: Option<u32>,
    entries: usize,
    tombstones: usize,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("save_counter", &self.header.save_counter)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

/// What [`Verified::restore_to`] or [`Verified::undo_to`] did.
#[non_exhaustive]
pub struct Restored {
    /// The restored vault, re-read from its path and open.
    pub vault: Vault,
    /// Where the file that was at the vault's path was kept, if there was
    /// one.
    pub kept: Option<PathBuf>,
    /// The vault id of the file that was replaced, when it could be read:
    /// a different id means another vault was replaced.
    pub replaced_vault_id: Option<[u8; 16]>,
}

impl std::fmt::Debug for Restored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restored")
            .field("vault", &self.vault)
            .field("kept", &self.kept)
            .finish_non_exhaustive()
    }
}

impl Verified {
    /// Reads a vault file (refusing one above the format's size limit
    /// before reading it), for [`Verified::open`].
    pub fn read(path: &Path) -> Result<Vec<u8>, VaultError> {
        read_file(path)
    }

    /// Checks `bytes`: parse (FORMAT.md §2–§4), unlock with `unlocker` in
    /// the order of §4.6 (only `options.kdf_limits` matters), open the body
    /// and every value. Fails like [`Vault::open_with`] would, and with
    /// [`VaultError::Tampered`] when a value does not authenticate.
    pub fn open(
        bytes: Vec<u8>,
        unlocker: &mut dyn Unlocker,
        options: &OpenOptions,
    ) -> Result<Verified, VaultError> {
        let parsed = format::parse_file(&bytes)?;
        let (dek, id) = unlock(&parsed.header, unlocker, &options.kdf_limits)?;
        drop(parsed);
        Self::check(bytes, dek, Some(id))
    }

    /// [`Verified::open`] with the data key instead of a credential (a
    /// session cache, the key of the live vault). [`VaultError::Tampered`]
    /// when the key does not open the body.
    pub fn open_with_key(bytes: Vec<u8>, dek: SecretKey) -> Result<Verified, VaultError> {
        Self::check(bytes, dek, None)
    }

    fn check(
        bytes: Vec<u8>,
        dek: SecretKey,
        unlocked_by: Option<u32>,
    ) -> Result<Verified, VaultError> {
        let parsed = format::parse_file(&bytes)?;
        let keys = Keys::derive(dek, &parsed.header.vault_id);
        let body = open_body(&parsed, &keys)?;
        for (name, entry) in &body.entries {
            // Opened, authenticated and dropped (zeroized) at once.
            drop(unseal(&keys.value, name, entry)?);
        }
        let header = parsed.header;
        let minor = parsed.prefix.minor;
        Ok(Verified {
            header,
            minor,
            keys,
            unlocked_by,
            entries: body.entries.len(),
            tombstones: body.tombstones.len(),
            bytes,
        })
    }

    /// The header (authenticated: the body opened under it).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The format version, `(major, minor)`.
    pub fn format_version(&self) -> (u8, u8) {
        (format::MAJOR_VERSION, self.minor)
    }

    /// The slot that opened it; `None` when opened with a data key.
    pub fn unlocked_by(&self) -> Option<u32> {
        self.unlocked_by
    }

    /// Live entries (each value was opened).
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether there is no live entry.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Tombstones.
    pub fn tombstones(&self) -> usize {
        self.tombstones
    }

    /// The file's size in bytes.
    pub fn file_len(&self) -> usize {
        self.bytes.len()
    }

    /// The data key, for callers that cache it. Handle with care.
    pub fn data_key(&self) -> &SecretKey {
        &self.keys.dek
    }

    /// Puts this file in place of the vault at `live`, under `live`'s lock:
    /// whatever is there (even a damaged file) is first kept as
    /// `<live>.bak-<UTC time>` (a hard link, or a 0600 copy), then the
    /// verified bytes replace it atomically and durably (the replaced file
    /// also becomes generation 1, so `undo` reverts a restore), and the
    /// result is re-read and opened. A missing vault (a new machine) is
    /// fine: nothing is kept then.
    pub fn restore_to(self, live: &Path, options: OpenOptions) -> Result<Restored, VaultError> {
        self.put_in_place(live, None, options)
    }

    /// `undo`: like [`Verified::restore_to`], for generation `k` of `live`
    /// (`<live>.k`, see [`generations`]), which must still hold exactly
    /// these bytes under the lock (else [`VaultError::KeyChanged`]). The
    /// generation is used up: `.k+1` becomes `.k`, and so on, so a second
    /// undo goes one save further back.
    pub fn undo_to(
        self,
        live: &Path,
        k: usize,
        options: OpenOptions,
    ) -> Result<Restored, VaultError> {
        self.put_in_place(live, Some(k), options)
    }

    fn put_in_place(
        self,
        live: &Path,
        generation: Option<usize>,
        options: OpenOptions,
    ) -> Result<Restored, VaultError> {
        store::ensure_dir(live)?;
        let faults = options.fault_injector.as_deref();
        let (kept, replaced_vault_id, vault) = {
            let _lock = VaultLock::acquire_with(live, options.lock_timeout, faults)?;
            if let Some(k) = generation {
                // Another writer may have rotated or purged the generations
                // since they were read (tests/cli/races.rs): gone is changed.
                let source = generations::path(live, k);
                if !store::exists(&source)? || read_file(&source)? != self.bytes {
                    return Err(VaultError::KeyChanged);
                }
            }
            let (kept, replaced) = if store::exists(live)? {
                // Its vault id, if it is a readable vault at all.
                let replaced = read_file(live)
                    .ok()
                    .and_then(|b| format::parse_file(&b).ok().map(|p| p.header.vault_id));
                (Some(generations::keep_bak(live)?), replaced)
            } else {
                (None, None)
            };
            // Putting an older copy in place is the user's decision: the
            // rollback mark follows it (FORMAT.md §9.2). Before the file is
            // replaced, so that a crash in between leaves a vault that
            // opens (a lowered mark rises again on the next open).
            if let Some(marks) = &options.rollback {
                if let Ok(parsed) = format::parse_file(&self.bytes) {
                    let at = store::resolve(live)?;
                    marks.reset(&parsed.header.vault_id, &at, parsed.header.save_counter)?;
                }
            }
            match generation {
                // A restore is undone like a save: what it replaced becomes
                // generation 1 (as well as the .bak).
                None => {
                    generations::replace_keeping(live, &self.bytes, options.generations, faults)?
                }
                Some(_) => store::replace_with(live, &self.bytes, faults)?,
            }
            if let Some(k) = generation {
                let source = generations::path(live, k);
                let _ = std::fs::remove_file(&source);
                let _ = generations::close_gap(live, k);
            }
            // Opened under the lock: a restore or undo by another process
            // must not put its file in place between this one's file and
            // this one's open, or this one reports a rollback after it
            // replaced the vault.
            let vault = Vault::open_with_key(live, self.keys.dek.clone(), options)?;
            (kept, replaced, vault)
        };
        Ok(Restored {
            vault,
            kept,
            replaced_vault_id,
        })
    }
}

/// One copy credvault keeps beside a vault ([`kept_copies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCopy {
    /// Its path.
    pub path: PathBuf,
    /// `Some(k)` for generation `k` (`VAULT.k`), `None` for a `.bak-*`.
    pub generation: Option<usize>,
    /// Its size in bytes.
    pub bytes: u64,
    /// The save counter of its header, if it parses (not authenticated:
    /// for display only).
    pub save_counter: Option<u64>,
}

/// The copies kept beside the vault at `live`: generations newest first,
/// then `.bak-*` copies. Reads headers only; unlocks nothing.
pub fn kept_copies(live: &Path) -> Vec<KeptCopy> {
    let generations = generations::list(live);
    generations::kept(live)
        .into_iter()
        .map(|path| {
            let generation = generations
                .iter()
                .find(|(_, p)| *p == path)
                .map(|(k, _)| *k);
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            let save_counter = read_file(&path)
                .ok()
                .and_then(|b| format::parse_file(&b).ok().map(|p| p.header.save_counter));
            KeptCopy {
                path,
                generation,
                bytes,
                save_counter,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretValue;
    use crate::format::FormatError;
    use crate::slots::RecoveryKey;
    use crate::testing::{key, weak};
    use crate::vault::NewSlot;
    use crate::UnlockError;

    fn pw(s: &str) -> PassphraseUnlocker {
        PassphraseUnlocker::new(Passphrase::from(s))
    }

    struct Rec(Option<RecoveryKey>);
    impl Unlocker for Rec {
        fn recovery_key(&mut self) -> Option<RecoveryKey> {
            self.0.take()
        }
    }

    /// A vault with a fake keychain slot (1), a passphrase slot (2) and a
    /// recovery slot (3), and two values.
    fn desktop(dir: &Path) -> (PathBuf, Vault, RecoveryKey) {
        let path = dir.join("v.cvault");
        let mut v = Vault::create(
            &path,
            NewSlot::Keychain {
                service: "credvault",
                account: "00000000000000000000000000000000/1",
                kek: &SecretKey::random(),
            },
        )
        .unwrap();
        v.add_slot(NewSlot::Passphrase(&Passphrase::from("pw"), weak()))
            .unwrap();
        let rk = RecoveryKey::generate();
        v.add_slot(NewSlot::Recovery(&rk)).unwrap();
        v.set(&key("a"), &SecretValue::from("1")).unwrap();
        v.set(&key("bin"), &SecretValue::new(vec![0, 159, 255]))
            .unwrap();
        (path, v, rk)
    }

    #[test]
    fn a_backup_carries_portable_slots_only_and_opens_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let (path, v, rk) = desktop(dir.path());
        let dest = dir.path().join("usb").join("backup.cvault");
        let backup = v
            .write_backup(&dest, &BackupOptions::default(), Some(&mut pw("pw")))
            .unwrap();
        let kinds: Vec<&str> = backup.slots.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, ["passphrase", "recovery"]);
        assert_eq!(
            backup.left_out,
            [SlotRef {
                id: 1,
                kind: "keychain"
            }]
        );
        assert_eq!(backup.opened_by, Some(2));
        assert_eq!(backup.entries, 2);
        assert_eq!(backup.save_counter, v.header().save_counter);

        let copy = RecoveryKey::from_bytes(rk.expose().to_vec()).unwrap();
        let opened = Vault::open(&dest, &mut Rec(Some(copy))).unwrap();
        assert_eq!(opened.header().vault_id, v.header().vault_id);
        assert_eq!(
            opened.get(&key("bin")).unwrap().unwrap().expose(),
            &[0, 159, 255]
        );
        Vault::open(&dest, &mut pw("pw")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Never over an existing file, never over the vault.
        let again = v.write_backup(&dest, &BackupOptions::default(), None);
        assert!(matches!(
            again,
            Err(VaultError::Store(StoreError::AlreadyExists(_)))
        ));
        let onto_vault = v.write_backup(
            &path,
            &BackupOptions {
                overwrite: true,
                ..BackupOptions::default()
            },
            None,
        );
        assert!(matches!(
            onto_vault,
            Err(VaultError::Store(StoreError::AlreadyExists(_)))
        ));
        // A wrong credential offered as proof fails the backup.
        let other = dir.path().join("other.cvault");
        let wrong = v.write_backup(&other, &BackupOptions::default(), Some(&mut pw("nope")));
        assert!(matches!(
            wrong,
            Err(VaultError::Unlock(UnlockError::WrongKeyOrTampered))
        ));
        assert!(!other.exists());
    }

    #[test]
    fn a_keychain_only_vault_needs_a_backup_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let mut v = Vault::create(
            &path,
            NewSlot::Keychain {
                service: "credvault",
                account: "00000000000000000000000000000000/1",
                kek: &SecretKey::random(),
            },
        )
        .unwrap();
        v.set(&key("a"), &SecretValue::from("1")).unwrap();
        let dest = dir.path().join("b.cvault");
        assert!(matches!(
            v.write_backup(&dest, &BackupOptions::default(), None),
            Err(VaultError::NoPortableSlot)
        ));
        assert!(!dest.exists());
        let backup_pw = Passphrase::from("backup pw");
        let backup = v
            .write_backup(
                &dest,
                &BackupOptions {
                    passphrase: Some((&backup_pw, weak())),
                    overwrite: false,
                },
                None,
            )
            .unwrap();
        assert_eq!(backup.added_passphrase_slot, Some(2));
        assert_eq!(backup.opened_by, Some(2));
        let opened = Vault::open(&dest, &mut pw("backup pw")).unwrap();
        assert_eq!(opened.get(&key("a")).unwrap().unwrap().expose(), b"1");
        // The live vault did not get the slot.
        assert_eq!(v.slots().len(), 1);
        assert_eq!(
            Vault::open_with_key(&path, v.data_key().clone(), OpenOptions::default())
                .unwrap()
                .slots()
                .len(),
            1
        );
    }

    #[test]
    fn verified_finds_a_damaged_value() {
        let dir = tempfile::tempdir().unwrap();
        let (_, v, _) = desktop(dir.path());
        let dest = dir.path().join("b.cvault");
        v.write_backup(&dest, &BackupOptions::default(), None)
            .unwrap();
        let good = std::fs::read(&dest).unwrap();
        let ok = Verified::open(good.clone(), &mut pw("pw"), &OpenOptions::default()).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok.unlocked_by(), Some(2));
        // Every flipped byte of the body: tampered; of the header: some
        // error; never a success.
        for at in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            assert!(
                Verified::open_with_key(bad, v.data_key().clone()).is_err(),
                "{at}"
            );
        }
        let mut cut = good.clone();
        cut.truncate(good.len() - 1);
        assert!(matches!(
            Verified::open(cut, &mut pw("pw"), &OpenOptions::default()),
            Err(VaultError::Format(FormatError::Truncated(_)))
        ));
    }

    #[test]
    fn restore_keeps_the_old_file_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut v, _) = desktop(dir.path());
        let dest = dir.path().join("b.cvault");
        v.write_backup(&dest, &BackupOptions::default(), None)
            .unwrap();
        v.set(&key("after"), &SecretValue::from("x")).unwrap();
        let before = std::fs::read(&path).unwrap();

        let checked = Verified::open(
            Verified::read(&dest).unwrap(),
            &mut pw("pw"),
            &OpenOptions::default(),
        )
        .unwrap();
        let restored = checked.restore_to(&path, OpenOptions::default()).unwrap();
        let kept = restored.kept.clone().unwrap();
        assert_eq!(std::fs::read(&kept).unwrap(), before);
        assert_eq!(restored.replaced_vault_id, Some(v.header().vault_id));
        assert!(!restored.vault.has(&key("after")));
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&dest).unwrap());

        // Onto a path with no vault yet: a new machine.
        let fresh = dir.path().join("new-home").join("vault.cvault");
        let checked = Verified::open(
            Verified::read(&dest).unwrap(),
            &mut pw("pw"),
            &OpenOptions::default(),
        )
        .unwrap();
        let restored = checked.restore_to(&fresh, OpenOptions::default()).unwrap();
        assert!(restored.kept.is_none());
        assert_eq!(restored.vault.len(), 2);
    }

    #[test]
    fn undo_walks_back_through_generations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let mut v =
            Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("pw"), weak())).unwrap();
        for i in 1..=4 {
            v.set(&key("n"), &SecretValue::from(i.to_string().as_str()))
                .unwrap();
        }
        let ks: Vec<usize> = generations::list(&path)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(ks, [1, 2, 3]);
        let value = |v: &Vault| v.get(&key("n")).unwrap().map(|s| s.expose().to_vec());
        for want in ["3", "2", "1"] {
            let bytes = Verified::read(&generations::path(&path, 1)).unwrap();
            let checked = Verified::open_with_key(bytes, v.data_key().clone()).unwrap();
            let restored = checked.undo_to(&path, 1, OpenOptions::default()).unwrap();
            assert_eq!(value(&restored.vault), Some(want.as_bytes().to_vec()));
            assert!(restored.kept.is_some());
        }
        assert!(generations::list(&path).is_empty());
        // A generation that changed after it was checked is refused.
        v.reload().unwrap();
        v.set(&key("n"), &SecretValue::from("5")).unwrap();
        let bytes = Verified::read(&generations::path(&path, 1)).unwrap();
        let checked = Verified::open_with_key(bytes, v.data_key().clone()).unwrap();
        v.set(&key("n"), &SecretValue::from("6")).unwrap();
        assert!(matches!(
            checked.undo_to(&path, 1, OpenOptions::default()),
            Err(VaultError::KeyChanged)
        ));
    }
}
