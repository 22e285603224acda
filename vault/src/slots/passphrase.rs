//! Passphrase slots (FORMAT.md §4.2): KEK = Argon2id(passphrase, salt, m, t, p).

use crate::crypto::{self, kdf, Passphrase, SecretKey};
use crate::format::header::{PassphraseSlot, WRAPPED_KEY_LEN};
use crate::format::{KdfParams, Slot, SlotKind, Wrap};

/// Builds a passphrase slot for `dek` with a fresh 32-byte salt and nonce.
pub fn new_slot(
    id: u32,
    vault_id: &[u8; 16],
    dek: &SecretKey,
    passphrase: &Passphrase,
    kdf: KdfParams,
) -> Slot {
    Prepared::derive(passphrase, kdf).slot(id, vault_id, dek)
}

/// A passphrase slot's salt and KEK, derived before its id and data key
/// are known: Argon2id runs before a caller takes the vault's lock.
pub struct Prepared {
    salt: Vec<u8>,
    kdf: KdfParams,
    kek: SecretKey,
}

impl Prepared {
    /// Runs Argon2id on `passphrase` with a fresh 32-byte salt.
    pub fn derive(passphrase: &Passphrase, kdf: KdfParams) -> Prepared {
        let salt = crypto::random_array::<32>().to_vec();
        let kek = kdf::argon2id(passphrase, &salt, &kdf);
        Prepared { salt, kdf, kek }
    }

    /// Passphrase slot `id` wrapping `dek` under this KEK, with a fresh
    /// nonce.
    pub fn slot(&self, id: u32, vault_id: &[u8; 16], dek: &SecretKey) -> Slot {
        let mut slot = Slot {
            id,
            kind: SlotKind::Passphrase(PassphraseSlot {
                salt: self.salt.clone(),
                kdf: self.kdf,
                wrap: Wrap {
                    nonce: [0; 24],
                    wrapped: [0; WRAPPED_KEY_LEN],
                },
            }),
        };
        super::wrap_into(&mut slot, vault_id, &self.kek, dek, crypto::random_array());
        slot
    }
}

/// The KEK of `slot` for `passphrase`. The caller checks KDF limits first.
pub fn kek(slot: &PassphraseSlot, passphrase: &Passphrase) -> SecretKey {
    kdf::argon2id(passphrase, &slot.salt, &slot.kdf)
}
