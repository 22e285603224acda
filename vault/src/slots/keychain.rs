//! Keychain slots (FORMAT.md §4.3): the data key wrapped under a random
//! key-encryption key (KEK) kept in the OS keychain. This module owns the
//! slot's naming, building and the check of which items a slot may name;
//! it is compiled with or without the OS keychain, since a vault made
//! elsewhere may hold keychain slots. The keychain itself (`Keychain`,
//! `KeychainUnlocker`) is in `keychain/os.rs`, behind the feature
//! `keychain`.
//!
//! # Items
//!
//! A keychain slot names a *service* and an *account*. credvault writes
//! service [`SERVICE`] (`"credvault"`) and account
//! [`account_name`]`(vault_id, slot_id)` = `"<vault id, 32 lowercase hex
//! digits>/<slot id, decimal>"`, so an item never collides with another
//! program's (or another vault's, or another slot's), and the store's
//! "ambiguous" case cannot arise for items credvault wrote. A slot that
//! names any other item is never read nor deleted ([`check_item`]).
//!
//! The item's secret is the slot's 32-byte key-encryption key (KEK) written
//! as **64 lowercase hexadecimal ASCII characters** through the store's
//! password API (UTF-8 text; no newline, no prefix). Text rather than raw
//! bytes keeps the item readable by the platform tools (`secret-tool
//! lookup service credvault account …`) and round-trips identically on all
//! three stores. A reader accepts exactly that form and nothing else.

#[cfg(feature = "keychain")]
mod os;
#[cfg(feature = "keychain")]
pub use os::{Keychain, KeychainError, KeychainUnlocker, DEFAULT_TIMEOUT};

use crate::crypto::{self, SecretKey};
use crate::format::header::{is_valid_keychain_name, KeychainSlot, WRAPPED_KEY_LEN};
use crate::format::{FormatError, Slot, SlotKind, Wrap};

/// The keychain service of every item credvault writes.
pub const SERVICE: &str = "credvault";

/// The keychain account of keychain slot `slot_id` of vault `vault_id`:
/// `"<vault id as 32 lowercase hex digits>/<slot id in decimal>"`.
pub fn account_name(vault_id: &[u8; 16], slot_id: u32) -> String {
    format!("{}/{slot_id}", crypto::hex_lower(vault_id))
}

/// Why credvault will not touch the item a keychain slot names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotOurs {
    /// The slot names another service: another program's item.
    OtherProgram,
    /// The slot names credvault's service but not the account of this
    /// vault's slot: another vault's or another slot's item.
    OtherVaultOrSlot,
}

/// Checks that keychain slot `slot` (id `slot_id` of vault `vault_id`)
/// names exactly the item credvault writes for it: service [`SERVICE`] and
/// account [`account_name`]`(vault_id, slot_id)`. Nothing else is ever
/// looked up or deleted, so a crafted file cannot make us read or delete
/// another program's item, nor point at a real vault's (FORMAT.md §4.3).
pub fn check_item(vault_id: &[u8; 16], slot_id: u32, slot: &KeychainSlot) -> Result<(), NotOurs> {
    if slot.service != SERVICE {
        return Err(NotOurs::OtherProgram);
    }
    if slot.account != account_name(vault_id, slot_id) {
        return Err(NotOurs::OtherVaultOrSlot);
    }
    Ok(())
}

/// Builds keychain slot `id` for `dek`, wrapped under `kek` (which the
/// caller keeps under `service`/`account` in the OS keychain) with a fresh
/// nonce. Fails when a name is not a valid keychain name (FORMAT.md §4.3).
pub fn new_slot(
    id: u32,
    vault_id: &[u8; 16],
    dek: &SecretKey,
    service: &str,
    account: &str,
    kek: &SecretKey,
) -> Result<Slot, FormatError> {
    for name in [service, account] {
        if !is_valid_keychain_name(name) {
            return Err(FormatError::Malformed("keychain slot name"));
        }
    }
    let mut slot = Slot {
        id,
        kind: SlotKind::Keychain(KeychainSlot {
            service: service.to_owned(),
            account: account.to_owned(),
            wrap: Wrap {
                nonce: [0; 24],
                wrapped: [0; WRAPPED_KEY_LEN],
            },
        }),
    };
    super::wrap_into(&mut slot, vault_id, kek, dek, crypto::random_array());
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_vault_id_hex_and_slot_id() {
        let id: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
        assert_eq!(account_name(&id, 7), "00112233445566778899aabbccddeeff/7");
    }

    #[test]
    fn only_the_slots_own_item_is_ours() {
        let id = [7u8; 16];
        let kek = SecretKey::random();
        let slot = |service: &str, account: &str| {
            let slot = new_slot(3, &id, &SecretKey::random(), service, account, &kek).unwrap();
            match slot.kind {
                SlotKind::Keychain(k) => k,
                _ => unreachable!("a keychain slot was built"),
            }
        };
        let own = account_name(&id, 3);
        assert_eq!(check_item(&id, 3, &slot(SERVICE, &own)), Ok(()));
        assert_eq!(
            check_item(&id, 3, &slot("other", &own)),
            Err(NotOurs::OtherProgram)
        );
        assert_eq!(
            check_item(&id, 4, &slot(SERVICE, &own)),
            Err(NotOurs::OtherVaultOrSlot)
        );
        assert_eq!(
            check_item(&[8; 16], 3, &slot(SERVICE, &own)),
            Err(NotOurs::OtherVaultOrSlot)
        );
        assert!(new_slot(1, &id, &kek, SERVICE, "", &kek).is_err());
        assert!(new_slot(1, &id, &kek, "a\nb", &own, &kek).is_err());
    }
}
