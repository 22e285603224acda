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

use crate::crypto::{self, Passphrase, SecretKey};
use crate::format::{self, Header, Slot, SlotKind};
use crate::slots::keychain::NotOurs;
use crate::slots::{self, RecoveryKey, Unlocker};
use crate::store::VaultLock;

#[cfg(feature = "keychain")]
use crate::format::KeychainSlot;
#[cfg(feature = "keychain")]
use crate::slots::keychain::{self, Keychain};
#[cfg(feature = "keychain")]
use crate::KeychainCleanup;

use super::file_seal::{seal_file, Keys};
#[cfg(feature = "keychain")]
use super::key_slots::delete_keychain_item;
use super::key_slots::{build_slot, next_slot_id};
use super::unlock::{Credentials, Opener, Trial};
use super::value_seal::{seal_value, unseal};
use super::{NewSlot, Vault, VaultError};

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
    old: KeychainSlot,
    account: String,
}

/// Keychain slot `id` for `new_dek` under a fresh key in a new item of
/// `keychain` (account `<vault id>/<id>`), replacing keychain slot `old_id`
/// (`old`); the item to delete after the save, or again if it fails.
#[cfg(feature = "keychain")]
fn new_keychain_slot(
    keychain: &Keychain,
    id: u32,
    vault_id: &[u8; 16],
    new_dek: &SecretKey,
    old_id: u32,
    old: &KeychainSlot,
) -> Result<(Slot, NewItem), String> {
    let account = keychain::account_name(vault_id, id);
    let kek = SecretKey::random();
    keychain
        .store_kek(keychain::SERVICE, &account, &kek)
        .map_err(|e| format!("cannot write a new keychain item: {e}"))?;
    let item = NewItem {
        old_id,
        old: old.clone(),
        account: account.clone(),
    };
    let new = NewSlot::Keychain {
        service: keychain::SERVICE,
        account: &account,
        kek: &kek,
    };
    match build_slot(id, vault_id, new_dek, new) {
        Ok(slot) => Ok((slot, item)),
        Err(e) => {
            // Best effort: the slot will not exist, so neither should its item.
            let _ = keychain.delete(keychain::SERVICE, &item.account);
            Err(e.to_string())
        }
    }
}

/// The keychain as a rekey reaches it: keychain keys only, from
/// `RekeyOptions::keychain`.
#[cfg(feature = "keychain")]
struct KeychainKeys<'a>(Option<&'a Keychain>);

#[cfg(feature = "keychain")]
impl Unlocker for KeychainKeys<'_> {
    fn keychain_key(&mut self, service: &str, account: &str) -> Result<SecretKey, String> {
        match self.0 {
            Some(kc) => kc.load_kek(service, account).map_err(|e| e.to_string()),
            None => Err("the OS keychain is not used".to_owned()),
        }
    }
}

/// Without the OS keychain, a rekey has no keychain keys.
#[cfg(not(feature = "keychain"))]
struct KeychainKeys;

#[cfg(not(feature = "keychain"))]
impl Unlocker for KeychainKeys {
    fn keychain_key(&mut self, _: &str, _: &str) -> Result<SecretKey, String> {
        Err("this credvault is built without OS keychain support".to_owned())
    }
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
        let fresh = build_slot(id, &self.view.header.vault_id, &self.view.keys.dek, new)?;
        self.revoking(|v| v.rewrap_save(id, want, fresh))
    }

    fn rewrap_save(&mut self, id: u32, want: &'static str, fresh: Slot) -> Result<(), VaultError> {
        let opened = self.header.slots.iter().find(|s| s.id == id).cloned();
        self.save_with(move |_, header, _body, _dek| {
            let at = header
                .slots
                .iter()
                .position(|s| s.id == id)
                .ok_or(VaultError::NoSuchSlot(id))?;
            if header.slots[at].type_name() != want {
                return Err(VaultError::WrongSlotType { id, expected: want });
            }
            if opened.as_ref() != Some(&header.slots[at]) {
                // Another process rewrapped this slot since this handle
                // read it: replacing it would silently undo that change.
                return Err(VaultError::KeyChanged);
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
        let recovery = |slots: &[Slot]| -> Vec<Slot> {
            slots
                .iter()
                .filter(|s| matches!(s.kind, SlotKind::Recovery(_)))
                .cloned()
                .collect()
        };
        let opened = recovery(&self.header.slots);
        self.save_with(|vault_id, header, _body, dek| {
            if recovery(&header.slots) != opened {
                // Another process replaced the recovery code since this
                // handle read the header: replacing it again would kill a
                // code that process has just shown, without a word.
                return Err(VaultError::KeyChanged);
            }
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
        let vault_id = self.view.header.vault_id;
        let new_dek = SecretKey::random();
        // Ids for keychain slots, which move to new ids (new items).
        #[cfg(feature = "keychain")]
        let mut next_id = self
            .view
            .header
            .slots
            .iter()
            .map(|s| s.id)
            .max()
            .unwrap_or(0);
        let mut new_slots: Vec<Slot> = Vec::new();
        let mut report: Vec<RekeyedSlot> = Vec::new();
        let mut unavailable: Vec<UnavailableSlot> = Vec::new();
        let mut recovery_keys: Vec<(u32, RecoveryKey)> = Vec::new();
        #[cfg(feature = "keychain")]
        let mut items: Vec<NewItem> = Vec::new();

        // The credentials at hand, tried on each slot by the one unlock
        // path (`unlock.rs`): the passphrases and the recovery code given,
        // and this machine's keychain.
        #[cfg(feature = "keychain")]
        let mut keychain_keys = KeychainKeys(options.keychain);
        #[cfg(not(feature = "keychain"))]
        let mut keychain_keys = KeychainKeys;
        let mut credentials = Credentials::given(
            &mut keychain_keys,
            &self.options.kdf_limits,
            options
                .passphrases
                .iter()
                .map(|pw| Passphrase::new(pw.expose().to_vec()))
                .collect(),
            options
                .keep_recovery
                .and_then(|key| RecoveryKey::from_bytes(key.expose().to_vec())),
        );

        for slot in &self.view.header.slots {
            let outcome: Result<Slot, String> = match &slot.kind {
                SlotKind::Recovery(_) if options.keep_recovery.is_none() => {
                    let key = RecoveryKey::generate();
                    let fresh = slots::recovery::new_slot(slot.id, &vault_id, &new_dek, &key);
                    recovery_keys.push((slot.id, key));
                    Ok(fresh)
                }
                #[cfg(feature = "keychain")]
                SlotKind::Keychain(_) if options.keychain.is_none() => {
                    Err("the OS keychain is not used".to_owned())
                }
                #[cfg(not(feature = "keychain"))]
                SlotKind::Keychain(_) => {
                    Err("this credvault is built without OS keychain support".to_owned())
                }
                SlotKind::Unknown { type_code, .. } => Err(format!(
                    "its type {type_code} is unknown to this credvault, so its key cannot be wrapped again"
                )),
                kind => match credentials.try_slot(slot, &vault_id) {
                    Trial::Opened(_, Opener::Passphrase(i)) => {
                        match (kind, credentials.passphrase(i)) {
                            (SlotKind::Passphrase(p), Some(pw)) => Ok(
                                slots::passphrase::new_slot(slot.id, &vault_id, &new_dek, pw, p.kdf),
                            ),
                            _ => Err("the passphrase given does not open it".to_owned()),
                        }
                    }
                    Trial::Opened(_, Opener::Recovery) => match credentials.recovery_key() {
                        Some(key) => Ok(slots::recovery::new_slot(
                            slot.id, &vault_id, &new_dek, key,
                        )),
                        None => Err("the recovery code given does not open it".to_owned()),
                    },
                    #[cfg(feature = "keychain")]
                    Trial::Opened(_, Opener::Keychain) => match (kind, options.keychain) {
                        (SlotKind::Keychain(old), Some(kc)) => next_id
                            .checked_add(1)
                            .ok_or_else(|| "no slot id is left for it".to_owned())
                            .and_then(|id| {
                                new_keychain_slot(kc, id, &vault_id, &new_dek, slot.id, old)
                            })
                            .map(|(fresh, item)| {
                                next_id = fresh.id;
                                items.push(item);
                                fresh
                            }),
                        _ => Err("the OS keychain is not used".to_owned()),
                    },
                    #[cfg(not(feature = "keychain"))]
                    Trial::Opened(_, Opener::Keychain) => {
                        Err("this credvault is built without OS keychain support".to_owned())
                    }
                    Trial::Wrong => Err(match kind {
                        SlotKind::Passphrase(_) => "the passphrase given does not open it",
                        SlotKind::Recovery(_) => "the recovery code given does not open it",
                        _ => "this machine's keychain item does not open it",
                    }
                    .to_owned()),
                    Trial::Absent(reason) => {
                        Err(reason.unwrap_or_else(|| "no passphrase was given".to_owned()))
                    }
                    Trial::NotOurs(NotOurs::OtherProgram) => {
                        Err("it names another program's keychain item".to_owned())
                    }
                    Trial::NotOurs(NotOurs::OtherVaultOrSlot) => {
                        Err("it names another vault's or another slot's keychain item".to_owned())
                    }
                    Trial::Excessive(e) => Err(e.to_string()),
                    Trial::OverBudget | Trial::Unknown => {
                        Err("its credential could not be tried".to_owned())
                    }
                },
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
            .find(|r| r.old_id == self.view.unlocked_by)
            .and_then(|r| r.new_id)
        {
            self.view.unlocked_by = new_id;
        }

        #[cfg(feature = "keychain")]
        let keychain_cleanup = items
            .iter()
            .filter_map(|item| {
                let kc = options.keychain?;
                let cleanup = delete_keychain_item(kc, &vault_id, item.old_id, &item.old);
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
        if fresh.slots != self.view.header.slots {
            // Another process added or removed a slot since this handle
            // read the header: the new slots were made from a stale list.
            return Err(VaultError::KeyChanged);
        }
        let new_keys = Keys::derive(new_dek, &fresh.vault_id);
        for (name, entry) in body.entries.iter_mut() {
            let value = unseal(&self.view.keys.value, name, entry)?;
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
        self.view.keys = new_keys;
        self.view.header = header;
        self.view.minor = minor;
        self.view.body = body.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretValue;
    use crate::slots::{PassphraseUnlocker, Unlocker};
    use crate::testing::{key, weak};
    use crate::{OpenOptions, UnlockError};

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
