//! Adding and removing key slots of an open vault, building a new slot
//! from its credential, and choosing its id.

use crate::crypto::{Passphrase, SecretKey};
use crate::format::{limits, Header, KdfParams, Slot, SlotKind};
use crate::slots::{self, RecoveryKey};

#[cfg(feature = "keychain")]
use crate::format::KeychainSlot;
#[cfg(feature = "keychain")]
use crate::slots::keychain::{self, Keychain, KeychainError};

use super::{Vault, VaultError};

/// Where a new slot's key-encryption key comes from.
pub enum NewSlot<'a> {
    /// A passphrase slot with these Argon2id parameters.
    Passphrase(&'a Passphrase, KdfParams),
    /// A recovery slot for this recovery key.
    Recovery(&'a RecoveryKey),
    /// A keychain slot whose random KEK the caller stored under
    /// `service`/`account` in the OS keychain.
    Keychain {
        /// Keychain service.
        service: &'a str,
        /// Keychain account.
        account: &'a str,
        /// The key-encryption key kept in the keychain.
        kek: &'a SecretKey,
    },
}

/// Builds slot `id` wrapping `dek` from its credential (each slot type
/// builds its own: `slots::passphrase`, `slots::recovery`,
/// `slots::keychain`).
pub(super) fn build_slot(
    id: u32,
    vault_id: &[u8; 16],
    dek: &SecretKey,
    new: NewSlot<'_>,
) -> Result<Slot, VaultError> {
    Ok(match new {
        NewSlot::Passphrase(pw, kdf) => slots::passphrase::new_slot(id, vault_id, dek, pw, kdf),
        NewSlot::Recovery(key) => slots::recovery::new_slot(id, vault_id, dek, key),
        NewSlot::Keychain {
            service,
            account,
            kek,
        } => slots::keychain::new_slot(id, vault_id, dek, service, account, kek)?,
    })
}

/// Deletes the keychain item of keychain slot `slot` (id `slot_id` of
/// vault `vault_id`) from `keychain` — only ever the item credvault wrote
/// for this very slot ([`keychain::check_item`]): a crafted file must not
/// make us delete another program's item or another vault's.
#[cfg(feature = "keychain")]
pub(super) fn delete_keychain_item(
    keychain: &Keychain,
    vault_id: &[u8; 16],
    slot_id: u32,
    slot: &KeychainSlot,
) -> KeychainCleanup {
    if keychain::check_item(vault_id, slot_id, slot).is_err() {
        return KeychainCleanup::NotOurs;
    }
    match keychain.delete(&slot.service, &slot.account) {
        Ok(true) => KeychainCleanup::Deleted,
        Ok(false) => KeychainCleanup::AlreadyGone,
        Err(e) => KeychainCleanup::Failed(e),
    }
}

/// The id of a new slot: one above the highest present.
pub(super) fn next_slot_id(header: &Header) -> Result<u32, VaultError> {
    if header.slots.len() >= limits::MAX_SLOTS {
        return Err(VaultError::TooManySlots(limits::MAX_SLOTS));
    }
    header
        .slots
        .iter()
        .map(|s| s.id)
        .max()
        .unwrap_or(0)
        .checked_add(1)
        .ok_or(VaultError::TooManySlots(limits::MAX_SLOTS))
}

/// What [`Vault::remove_slot_with_keychain`] did with the keychain item of
/// the removed slot. The slot is removed and saved in every case.
#[cfg(feature = "keychain")]
#[derive(Debug)]
#[non_exhaustive]
pub enum KeychainCleanup {
    /// The removed slot was not a keychain slot; the keychain was not used.
    NotKeychain,
    /// The item was deleted.
    Deleted,
    /// There was no item to delete.
    AlreadyGone,
    /// The slot names an item credvault does not write for it (another
    /// service, or another vault's or slot's account); it was left alone.
    NotOurs,
    /// The item could not be deleted (it stays in the keychain, useless).
    Failed(KeychainError),
}

impl Vault {
    /// Adds a key slot wrapping the same data key; returns its id.
    pub fn add_slot(&mut self, slot: NewSlot<'_>) -> Result<u32, VaultError> {
        self.save_with(|vault_id, header, _body, dek| {
            let id = next_slot_id(header)?;
            header.slots.push(build_slot(id, vault_id, dek, slot)?);
            Ok((id, true))
        })
    }

    /// Adds a keychain slot; returns its id. A fresh random key-encryption
    /// key is stored in `keychain` (service [`keychain::SERVICE`], account
    /// [`keychain::account_name`]`(vault id, slot id)`) first, under the
    /// vault's lock, then the header is saved; if the save fails the item
    /// is deleted again. Nothing is saved when the item cannot be stored
    /// ([`VaultError::Keychain`]).
    #[cfg(feature = "keychain")]
    pub fn add_keychain_slot(&mut self, keychain: &Keychain) -> Result<u32, VaultError> {
        let mut stored: Option<String> = None;
        let added = self.save_with(|vault_id, header, _body, dek| {
            let id = next_slot_id(header)?;
            let account = keychain::account_name(vault_id, id);
            let kek = SecretKey::random();
            keychain.store_kek(keychain::SERVICE, &account, &kek)?;
            stored = Some(account.clone());
            let slot = NewSlot::Keychain {
                service: keychain::SERVICE,
                account: &account,
                kek: &kek,
            };
            header.slots.push(build_slot(id, vault_id, dek, slot)?);
            Ok((id, true))
        });
        if let (Err(_), Some(account)) = (&added, stored) {
            // Best effort, as in `create_with_keychain`.
            // Unless it failed after the file was put in place (at the
            // directory fsync): then the file needs the item.
            if !super::rekey::keychain_accounts_on_disk(&self.path).contains(&account) {
                let _ = keychain.delete(keychain::SERVICE, &account);
            }
        }
        added
    }

    /// Removes slot `id`. Refuses to remove the last slot of a known type.
    /// The OS keychain is not touched: for a keychain slot, see
    /// `Vault::remove_slot_with_keychain` (feature `keychain`).
    pub fn remove_slot(&mut self, id: u32) -> Result<(), VaultError> {
        self.remove_slot_inner(id).map(|_| ())
    }

    /// Removes slot `id` like [`Vault::remove_slot`] and then, if it was a
    /// keychain slot, deletes its item from `keychain`. The item is deleted
    /// only after the save succeeded; a failure to delete it does not undo
    /// the save and is reported in the returned [`KeychainCleanup`].
    #[cfg(feature = "keychain")]
    pub fn remove_slot_with_keychain(
        &mut self,
        id: u32,
        keychain: &Keychain,
    ) -> Result<KeychainCleanup, VaultError> {
        let removed = self.remove_slot_inner(id)?;
        let SlotKind::Keychain(k) = &removed.kind else {
            return Ok(KeychainCleanup::NotKeychain);
        };
        Ok(delete_keychain_item(
            keychain,
            &self.view.header.vault_id,
            removed.id,
            k,
        ))
    }

    /// Removes slot `id` and saves; returns the removed slot.
    fn remove_slot_inner(&mut self, id: u32) -> Result<Slot, VaultError> {
        self.revoking(|v| v.remove_slot_save(id))
    }

    fn remove_slot_save(&mut self, id: u32) -> Result<Slot, VaultError> {
        self.save_with(|_, header, _body, _dek| {
            let at = header
                .slots
                .iter()
                .position(|s| s.id == id)
                .ok_or(VaultError::NoSuchSlot(id))?;
            let known_left = header
                .slots
                .iter()
                .filter(|s| s.id != id && !matches!(s.kind, SlotKind::Unknown { .. }))
                .count();
            if known_left == 0 {
                return Err(VaultError::LastSlot);
            }
            Ok((header.slots.remove(at), true))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretValue;
    use crate::slots::{PassphraseUnlocker, Unlocker};
    use crate::testing::{key, weak};
    use crate::UnlockError;

    #[test]
    fn slots_add_remove_and_recovery_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        v.set(&key("k"), &SecretValue::from("v")).unwrap();
        let rk = RecoveryKey::generate();
        let id = v.add_slot(NewSlot::Recovery(&rk)).unwrap();
        assert_eq!(id, 2);
        v.remove_slot(1).unwrap();
        assert!(matches!(v.remove_slot(2), Err(VaultError::LastSlot)));

        struct Rec(Option<RecoveryKey>);
        impl Unlocker for Rec {
            fn recovery_key(&mut self) -> Option<RecoveryKey> {
                self.0.take()
            }
        }
        let copy = RecoveryKey::from_bytes(rk.expose().to_vec()).unwrap();
        let v2 = Vault::open(&path, &mut Rec(Some(copy))).unwrap();
        assert_eq!(v2.get(&key("k")).unwrap().unwrap().expose(), b"v");
        let none =
            Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw"))).unwrap_err();
        assert!(matches!(
            none,
            VaultError::Unlock(UnlockError::NoCredentials { .. })
        ));
    }
}
