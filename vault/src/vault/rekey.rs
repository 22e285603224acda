//! Rewrap versus rekey (FORMAT.md §9): changing how the data key is wrapped
//! ([`Vault::rewrap_slot`], [`Vault::replace_recovery`]) and replacing the
//! data key itself ([`Vault::rekey`]).
//!
//! - A **rewrap** keeps the data key (DEK) and the body plaintext; one
//!   slot gets a new credential (fresh salt and wrap nonce). The file is
//!   saved as every save is: the header changed and the body AEAD binds the
//!   header, so the same body plaintext is sealed again under the same body
//!   key with a fresh nonce. Older copies of the file still open with the
//!   old credential, and the DEK they hold opens the new file too.
//! - A **rekey** draws a new DEK: every value is unsealed with the old
//!   value key and sealed under the new one, the body is sealed under the
//!   new body key, and every slot is wrapped again (passphrase and
//!   recovery slots with fresh salts; keychain slots with a fresh key in a
//!   new keychain item). Nothing derived from the old DEK opens the new
//!   file; older copies still open with their own old slots.

use crate::crypto::{self, kdf, Passphrase, SecretKey};
use crate::format::{self, Header, Slot, SlotKind};
use crate::slots::{self, RecoveryKey};
use crate::store::VaultLock;

#[cfg(feature = "keychain")]
use crate::slots::keychain::{self, Keychain};
#[cfg(feature = "keychain")]
use crate::KeychainCleanup;

use super::{
    build_slot, next_slot_id, seal_file, seal_value, unseal, Keys, NewSlot, Vault, VaultError,
};

/// A slot that a rekey could not wrap again, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnavailableSlot {
    /// The slot id.
    pub id: u32,
    /// Its type name ("passphrase", "keychain", "recovery", "unknown").
    pub kind: &'static str,
    /// Why its credential is not available (never a secret).
    pub reason: String,
}

impl std::fmt::Display for UnavailableSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "slot {} ({}): {}", self.id, self.kind, self.reason)
    }
}

/// The credentials a [`Vault::rekey`] wraps the new data key with.
#[derive(Default)]
pub struct RekeyOptions<'a> {
    /// Passphrases to try on each passphrase slot; a slot is wrapped again
    /// under the one that opens it (fresh salt, same Argon2id parameters).
    pub passphrases: Vec<&'a Passphrase>,
    /// Keep the recovery code: each recovery slot this key opens is
    /// wrapped again under it (fresh salt). Without it every recovery slot
    /// gets a new random recovery key, returned in [`Rekeyed`].
    pub keep_recovery: Option<&'a RecoveryKey>,
    /// The OS keychain: each keychain slot whose item it holds gets a
    /// fresh key in a new item (the slot gets a new id, so the item a new
    /// account); the old items are deleted after the save.
    #[cfg(feature = "keychain")]
    pub keychain: Option<&'a Keychain>,
    /// Remove slots whose credential is not available instead of refusing
    /// the whole rekey.
    pub drop_unavailable: bool,
}

/// What happened to one slot in a rekey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyedSlot {
    /// The id before the rekey.
    pub old_id: u32,
    /// The id after it; `None` when the slot was dropped.
    pub new_id: Option<u32>,
    /// The slot type name.
    pub kind: &'static str,
    /// Why it was dropped.
    pub dropped_because: Option<String>,
}

/// The outcome of a [`Vault::rekey`].
#[non_exhaustive]
pub struct Rekeyed {
    /// Every old slot, in order, and what became of it.
    pub slots: Vec<RekeyedSlot>,
    /// New recovery keys by (new) slot id. Show them to the user once.
    pub recovery_keys: Vec<(u32, RecoveryKey)>,
    /// The old keychain items, by old slot id, and what deleting each did.
    #[cfg(feature = "keychain")]
    pub keychain_cleanup: Vec<(u32, KeychainCleanup)>,
}

impl std::fmt::Debug for Rekeyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rekeyed")
            .field("slots", &self.slots)
            .field("recovery_keys", &self.recovery_keys.len())
            .finish_non_exhaustive()
    }
}

/// A keychain item written for the new data key (deleted again if the
/// rekey fails) and the old one it replaces.
#[cfg(feature = "keychain")]
struct NewItem {
    old_id: u32,
    old_account: String,
    old_service: String,
    account: String,
}

/// The keychain accounts the vault file at `path` names now (none when it
/// does not read).
#[cfg(feature = "keychain")]
pub(super) fn keychain_accounts_on_disk(path: &std::path::Path) -> Vec<String> {
    let Ok(bytes) = super::read_file(path) else {
        return Vec::new();
    };
    let Ok(parsed) = format::parse_file(&bytes) else {
        return Vec::new();
    };
    parsed
        .header
        .slots
        .iter()
        .filter_map(|slot| match &slot.kind {
            SlotKind::Keychain(k) => Some(k.account.clone()),
            _ => None,
        })
        .collect()
}

impl Vault {
    /// Rewraps slot `id`: replaces it by a slot of the same type built from
    /// `new` (a passphrase or a recovery key), under the same id, wrapping
    /// the same data key. The body plaintext and the data key do not change
    /// (see the module docs for what that means for old copies). Keychain
    /// slots are not rewrapped this way ([`VaultError::WrongSlotType`]).
    pub fn rewrap_slot(&mut self, id: u32, new: NewSlot<'_>) -> Result<(), VaultError> {
        let want = match &new {
            NewSlot::Passphrase(..) => "passphrase",
            NewSlot::Recovery(_) => "recovery",
            NewSlot::Keychain { .. } => "keychain",
        };
        if want == "keychain" {
            return Err(VaultError::WrongSlotType { id, expected: want });
        }
        // The KDF runs before the lock is taken.
        let fresh = build_slot(id, &self.header.vault_id, &self.keys.dek, new)?;
        self.revoking(|v| v.rewrap_save(id, want, fresh))
    }

    fn rewrap_save(&mut self, id: u32, want: &'static str, fresh: Slot) -> Result<(), VaultError> {
        self.save_with(move |_, header, _body, _dek| {
            let at = header
                .slots
                .iter()
                .position(|s| s.id == id)
                .ok_or(VaultError::NoSuchSlot(id))?;
            if header.slots[at].type_name() != want {
                return Err(VaultError::WrongSlotType { id, expected: want });
            }
            header.slots[at] = fresh;
            Ok(((), true))
        })
    }

    /// Replaces every recovery slot by one recovery slot for `key`, under
    /// the id of the first recovery slot (or a new id when there is none):
    /// the old recovery codes stop opening this vault (older copies keep
    /// theirs). Returns the slot id.
    pub fn replace_recovery(&mut self, key: &RecoveryKey) -> Result<u32, VaultError> {
        self.revoking(|v| v.replace_recovery_save(key))
    }

    fn replace_recovery_save(&mut self, key: &RecoveryKey) -> Result<u32, VaultError> {
        self.save_with(|vault_id, header, _body, dek| {
            let first = header
                .slots
                .iter()
                .find(|s| matches!(s.kind, SlotKind::Recovery(_)))
                .map(|s| s.id);
            let id = match first {
                Some(id) => id,
                None => next_slot_id(header)?,
            };
            header
                .slots
                .retain(|s| !matches!(s.kind, SlotKind::Recovery(_)));
            header
                .slots
                .push(build_slot(id, vault_id, dek, NewSlot::Recovery(key))?);
            header.slots.sort_by_key(|s| s.id);
            Ok((id, true))
        })
    }

    /// Replaces the data key (module docs): a new random DEK, every value
    /// sealed again, the body sealed under the new body key, every slot
    /// wrapped again with the credentials in `options`, in one locked,
    /// atomic save. Slots whose credential is not available make it fail
    /// with [`VaultError::SlotsUnavailable`] (nothing changed) unless
    /// `options.drop_unavailable`; it never leaves the vault without a slot.
    ///
    /// All KDF work and keychain writes happen before the lock is taken;
    /// if another process changed the slots meanwhile it fails with
    /// [`VaultError::KeyChanged`] and deletes the keychain items it wrote.
    pub fn rekey(&mut self, options: RekeyOptions<'_>) -> Result<Rekeyed, VaultError> {
        let vault_id = self.header.vault_id;
        let new_dek = SecretKey::random();
        // Ids for keychain slots, which move to new ids (new items).
        #[cfg(feature = "keychain")]
        let mut next_id = self.header.slots.iter().map(|s| s.id).max().unwrap_or(0);
        let mut new_slots: Vec<Slot> = Vec::new();
        let mut report: Vec<RekeyedSlot> = Vec::new();
        let mut unavailable: Vec<UnavailableSlot> = Vec::new();
        let mut recovery_keys: Vec<(u32, RecoveryKey)> = Vec::new();
        #[cfg(feature = "keychain")]
        let mut items: Vec<NewItem> = Vec::new();

        for slot in &self.header.slots {
            let outcome: Result<Slot, String> = match &slot.kind {
                SlotKind::Passphrase(p) => {
                    if let Err(e) = self.options.kdf_limits.check(&p.kdf) {
                        Err(format!("{e}"))
                    } else {
                        options
                            .passphrases
                            .iter()
                            .find(|pw| {
                                slots::unwrap(slot, &vault_id, &slots::passphrase::kek(p, pw))
                                    .is_ok()
                            })
                            .map(|pw| {
                                let mut fresh = slot.clone();
                                let salt = crypto::random_array::<32>().to_vec();
                                let kek = kdf::argon2id(pw, &salt, &p.kdf);
                                if let SlotKind::Passphrase(f) = &mut fresh.kind {
                                    f.salt = salt;
                                }
                                slots::wrap_into(
                                    &mut fresh,
                                    &vault_id,
                                    &kek,
                                    &new_dek,
                                    crypto::random_array(),
                                );
                                fresh
                            })
                            .ok_or_else(|| {
                                if options.passphrases.is_empty() {
                                    "no passphrase was given".to_owned()
                                } else {
                                    "the passphrase given does not open it".to_owned()
                                }
                            })
                    }
                }
                SlotKind::Recovery(r) => match options.keep_recovery {
                    Some(key) => {
                        if slots::unwrap(slot, &vault_id, &slots::recovery::kek(r, key)).is_ok() {
                            Ok(slots::recovery::new_slot(slot.id, &vault_id, &new_dek, key))
                        } else {
                            Err("the recovery code given does not open it".to_owned())
                        }
                    }
                    None => {
                        let key = RecoveryKey::generate();
                        let fresh = slots::recovery::new_slot(slot.id, &vault_id, &new_dek, &key);
                        recovery_keys.push((slot.id, key));
                        Ok(fresh)
                    }
                },
                #[cfg(feature = "keychain")]
                SlotKind::Keychain(k) => match options.keychain {
                    None => Err("the OS keychain is not used".to_owned()),
                    Some(_) if k.service != keychain::SERVICE => {
                        Err("it names another program's keychain item".to_owned())
                    }
                    Some(kc) => match kc.load_kek(&k.service, &k.account) {
                        Err(e) => Err(e.to_string()),
                        Ok(old) if slots::unwrap(slot, &vault_id, &old).is_err() => {
                            Err("this machine's keychain item does not open it".to_owned())
                        }
                        Ok(_) => match next_id.checked_add(1) {
                            None => Err("no slot id is left for it".to_owned()),
                            Some(id) => {
                                let account = keychain::account_name(&vault_id, id);
                                let kek = SecretKey::random();
                                match kc.store_kek(keychain::SERVICE, &account, &kek) {
                                    Err(e) => {
                                        Err(format!("cannot write a new keychain item: {e}"))
                                    }
                                    Ok(()) => {
                                        next_id = id;
                                        items.push(NewItem {
                                            old_id: slot.id,
                                            old_account: k.account.clone(),
                                            old_service: k.service.clone(),
                                            account: account.clone(),
                                        });
                                        build_slot(
                                            id,
                                            &vault_id,
                                            &new_dek,
                                            NewSlot::Keychain {
                                                service: keychain::SERVICE,
                                                account: &account,
                                                kek: &kek,
                                            },
                                        )
                                        .map_err(|e| e.to_string())
                                    }
                                }
                            }
                        },
                    },
                },
                #[cfg(not(feature = "keychain"))]
                SlotKind::Keychain(_) => {
                    Err("this credvault is built without OS keychain support".to_owned())
                }
                SlotKind::Unknown { type_code, .. } => Err(format!(
                    "its type {type_code} is unknown to this credvault, so its key cannot be wrapped again"
                )),
            };
            match outcome {
                Ok(fresh) => {
                    report.push(RekeyedSlot {
                        old_id: slot.id,
                        new_id: Some(fresh.id),
                        kind: slot.type_name(),
                        dropped_because: None,
                    });
                    new_slots.push(fresh);
                }
                Err(reason) => {
                    report.push(RekeyedSlot {
                        old_id: slot.id,
                        new_id: None,
                        kind: slot.type_name(),
                        dropped_because: Some(reason.clone()),
                    });
                    unavailable.push(UnavailableSlot {
                        id: slot.id,
                        kind: slot.type_name(),
                        reason,
                    });
                }
            }
        }

        #[cfg(feature = "keychain")]
        let undo_items = |items: &[NewItem]| {
            if let Some(kc) = options.keychain {
                for item in items {
                    let _ = kc.delete(keychain::SERVICE, &item.account);
                }
            }
        };
        #[cfg(not(feature = "keychain"))]
        let undo_items = |_: &[()]| {};
        #[cfg(not(feature = "keychain"))]
        let items: Vec<()> = Vec::new();

        if !unavailable.is_empty() && !options.drop_unavailable {
            undo_items(&items);
            return Err(VaultError::SlotsUnavailable(unavailable));
        }
        if new_slots.is_empty() {
            undo_items(&items);
            return Err(VaultError::LastSlot);
        }
        new_slots.sort_by_key(|s| s.id);

        let saved = self.save_rekeyed(new_dek, new_slots);
        if let Err(e) = saved {
            // A save that failed after its rename (at the directory fsync)
            // left the new file in place: the items it names must stay.
            #[cfg(feature = "keychain")]
            let items: Vec<NewItem> = {
                let in_place = keychain_accounts_on_disk(&self.path);
                items
                    .into_iter()
                    .filter(|item| !in_place.contains(&item.account))
                    .collect()
            };
            undo_items(&items);
            return Err(e);
        }
        if let Some(new_id) = report
            .iter()
            .find(|r| r.old_id == self.unlocked_by)
            .and_then(|r| r.new_id)
        {
            self.unlocked_by = new_id;
        }

        #[cfg(feature = "keychain")]
        let keychain_cleanup = items
            .iter()
            .filter_map(|item| {
                let kc = options.keychain?;
                let ours = keychain::account_name(&vault_id, item.old_id);
                let cleanup = if item.old_service != keychain::SERVICE || item.old_account != ours {
                    KeychainCleanup::NotOurs
                } else {
                    match kc.delete(&item.old_service, &item.old_account) {
                        Ok(true) => KeychainCleanup::Deleted,
                        Ok(false) => KeychainCleanup::AlreadyGone,
                        Err(e) => KeychainCleanup::Failed(e),
                    }
                };
                Some((item.old_id, cleanup))
            })
            .collect();
        #[cfg(not(feature = "keychain"))]
        let _ = items;

        Ok(Rekeyed {
            slots: report,
            recovery_keys,
            #[cfg(feature = "keychain")]
            keychain_cleanup,
        })
    }

    /// The locked save of a rekey: re-reads the file (it must still open
    /// under the old key, with the slots the new ones were made from),
    /// seals every value and the body under `new_dek`, writes atomically.
    fn save_rekeyed(&mut self, new_dek: SecretKey, new_slots: Vec<Slot>) -> Result<(), VaultError> {
        self.revoking(|v| v.save_rekeyed_inner(new_dek, new_slots))
    }

    fn save_rekeyed_inner(
        &mut self,
        new_dek: SecretKey,
        new_slots: Vec<Slot>,
    ) -> Result<(), VaultError> {
        let faults = self.options.fault_injector.as_deref();
        let _lock = VaultLock::acquire_with(&self.path, self.options.lock_timeout, faults)?;
        let (fresh, minor, mut body) = self.read_fresh()?;
        if fresh.slots != self.header.slots {
            // Another process added or removed a slot since this handle
            // read the header: the new slots were made from a stale list.
            return Err(VaultError::KeyChanged);
        }
        let new_keys = Keys::derive(new_dek, &fresh.vault_id);
        for (name, entry) in body.entries.iter_mut() {
            let value = unseal(&self.keys.value, name, entry)?;
            entry.value = seal_value(
                &new_keys.value,
                name,
                value.expose(),
                crypto::random_array(),
            );
        }
        let mut header = Header {
            vault_id: fresh.vault_id,
            save_counter: fresh.save_counter.saturating_add(1),
            body_nonce: crypto::random_array(),
            body_len: 0,
            slots: new_slots,
        };
        #[allow(clippy::unnecessary_min_or_max)]
        let minor = minor.max(format::MINOR_VERSION);
        let bytes = seal_file(&mut header, minor, &body, &new_keys.dek);
        self.replace_file(&header, &bytes)?;
        self.keys = new_keys;
        self.header = header;
        self.minor = minor;
        self.body = body.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretValue;
    use crate::format::{KdfParams, KeyName};
    use crate::slots::{PassphraseUnlocker, Unlocker};
    use crate::{OpenOptions, UnlockError};

    fn weak() -> KdfParams {
        KdfParams::new(8192, 1, 1).unwrap()
    }

    fn key(s: &str) -> KeyName {
        KeyName::new(s).unwrap()
    }

    struct Rec(Option<RecoveryKey>);
    impl Unlocker for Rec {
        fn recovery_key(&mut self) -> Option<RecoveryKey> {
            self.0.take()
        }
    }

    fn copy(k: &RecoveryKey) -> RecoveryKey {
        RecoveryKey::from_bytes(k.expose().to_vec()).unwrap()
    }

    fn open_pw(path: &std::path::Path, pw: &str) -> Result<Vault, VaultError> {
        Vault::open(path, &mut PassphraseUnlocker::new(Passphrase::from(pw)))
    }

    #[test]
    fn rewrap_changes_the_passphrase_but_not_the_data_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let old = Passphrase::from("old");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&old, weak())).unwrap();
        v.set(&key("k"), &SecretValue::from("value")).unwrap();
        let before = std::fs::read(&path).unwrap();
        let dek = *v.data_key().expose();

        let new = Passphrase::from("new");
        v.rewrap_slot(1, NewSlot::Passphrase(&new, weak())).unwrap();
        assert!(matches!(
            open_pw(&path, "old").unwrap_err(),
            VaultError::Unlock(UnlockError::WrongKeyOrTampered)
        ));
        let reopened = open_pw(&path, "new").unwrap();
        assert_eq!(reopened.get(&key("k")).unwrap().unwrap().expose(), b"value");
        assert_eq!(reopened.data_key().expose(), &dek);
        // The old file still opens with the old passphrase, and its key
        // opens the new file: that is what a rewrap means.
        let old_copy = dir.path().join("old.cvault");
        std::fs::write(&old_copy, before).unwrap();
        let from_old = open_pw(&old_copy, "old").unwrap();
        Vault::open_with_key(&path, from_old.data_key().clone(), OpenOptions::default()).unwrap();
        // Wrong type.
        assert!(matches!(
            v.rewrap_slot(1, NewSlot::Recovery(&RecoveryKey::generate())),
            Err(VaultError::WrongSlotType { id: 1, .. })
        ));
    }

    #[test]
    fn replace_recovery_retires_the_old_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        let first = RecoveryKey::generate();
        assert_eq!(v.replace_recovery(&first).unwrap(), 2);
        Vault::open(&path, &mut Rec(Some(copy(&first)))).unwrap();
        let second = RecoveryKey::generate();
        assert_eq!(v.replace_recovery(&second).unwrap(), 2);
        assert_eq!(v.slots().len(), 2);
        assert!(Vault::open(&path, &mut Rec(Some(copy(&first)))).is_err());
        Vault::open(&path, &mut Rec(Some(second))).unwrap();
    }

    #[test]
    fn rekey_replaces_the_data_key_and_keeps_every_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        let rk = RecoveryKey::generate();
        v.add_slot(NewSlot::Recovery(&rk)).unwrap();
        v.set(&key("a"), &SecretValue::from("1")).unwrap();
        v.set(&key("b"), &SecretValue::new(vec![0, 255, 10]))
            .unwrap();
        v.delete(&key("a")).unwrap();
        v.set(&key("a.c"), &SecretValue::from("3")).unwrap();
        let old_dek = v.data_key().clone();
        let before = std::fs::read(&path).unwrap();

        // Without the passphrase the passphrase slot is unavailable.
        let err = v.rekey(RekeyOptions::default()).unwrap_err();
        match &err {
            VaultError::SlotsUnavailable(list) => {
                assert_eq!(list.len(), 1);
                assert_eq!(list[0].id, 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing changed");

        let rekeyed = v
            .rekey(RekeyOptions {
                passphrases: vec![&pw],
                ..RekeyOptions::default()
            })
            .unwrap();
        assert_eq!(rekeyed.recovery_keys.len(), 1);
        assert_eq!(rekeyed.recovery_keys[0].0, 2);
        assert_ne!(v.data_key().expose(), old_dek.expose());

        let reopened = open_pw(&path, "pw").unwrap();
        assert_eq!(
            reopened.get(&key("b")).unwrap().unwrap().expose(),
            &[0, 255, 10]
        );
        assert_eq!(reopened.get(&key("a.c")).unwrap().unwrap().expose(), b"3");
        assert_eq!(reopened.tombstones().count(), 1);
        assert_eq!(reopened.data_key().expose(), v.data_key().expose());
        // The old data key no longer opens the vault; the old recovery
        // code neither; the new one does.
        assert!(matches!(
            Vault::open_with_key(&path, old_dek, OpenOptions::default()),
            Err(VaultError::Tampered)
        ));
        assert!(Vault::open(&path, &mut Rec(Some(copy(&rk)))).is_err());
        let (_, new_rk) = &rekeyed.recovery_keys[0];
        Vault::open(&path, &mut Rec(Some(copy(new_rk)))).unwrap();
        // The old copy still opens with its old slots.
        let old_copy = dir.path().join("old.cvault");
        std::fs::write(&old_copy, before).unwrap();
        Vault::open(&old_copy, &mut Rec(Some(rk))).unwrap();
        // Later saves work under the new key.
        v.set(&key("d"), &SecretValue::from("4")).unwrap();
        assert_eq!(open_pw(&path, "pw").unwrap().len(), 3);
    }

    #[test]
    // Without the `keychain` feature every field is given below.
    #[allow(clippy::needless_update)]
    fn rekey_can_keep_the_recovery_code_or_drop_what_it_cannot_wrap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        let other = Passphrase::from("other");
        v.add_slot(NewSlot::Passphrase(&other, weak())).unwrap();
        let rk = RecoveryKey::generate();
        v.add_slot(NewSlot::Recovery(&rk)).unwrap();
        v.set(&key("k"), &SecretValue::from("v")).unwrap();

        let rekeyed = v
            .rekey(RekeyOptions {
                passphrases: vec![&pw],
                keep_recovery: Some(&rk),
                drop_unavailable: true,
                ..RekeyOptions::default()
            })
            .unwrap();
        assert!(rekeyed.recovery_keys.is_empty());
        assert_eq!(rekeyed.slots[1].new_id, None);
        assert!(rekeyed.slots[1].dropped_because.is_some());
        let ids: Vec<u32> = v.slots().iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 3]);
        Vault::open(&path, &mut Rec(Some(rk))).unwrap();
        assert!(open_pw(&path, "other").is_err());
        assert_eq!(
            open_pw(&path, "pw")
                .unwrap()
                .get(&key("k"))
                .unwrap()
                .unwrap()
                .expose(),
            b"v"
        );

        // Dropping everything is refused.
        let err = v
            .rekey(RekeyOptions {
                drop_unavailable: true,
                keep_recovery: Some(&RecoveryKey::generate()),
                ..RekeyOptions::default()
            })
            .unwrap_err();
        assert!(matches!(err, VaultError::LastSlot), "{err:?}");
    }

    #[test]
    fn rekey_refuses_a_stale_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut a = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        let mut b = open_pw(&path, "pw").unwrap();
        b.add_slot(NewSlot::Recovery(&RecoveryKey::generate()))
            .unwrap();
        let err = a
            .rekey(RekeyOptions {
                passphrases: vec![&pw],
                ..RekeyOptions::default()
            })
            .unwrap_err();
        assert!(matches!(err, VaultError::KeyChanged), "{err:?}");
        // b's view is current: it can rekey.
        b.rekey(RekeyOptions {
            passphrases: vec![&pw],
            ..RekeyOptions::default()
        })
        .unwrap();
    }
}
