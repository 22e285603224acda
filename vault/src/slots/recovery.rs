//! Recovery slots (FORMAT.md §4.4): KEK = HKDF-SHA256(recovery key, salt,
//! "credvault/v1/recovery"). The recovery key has at least 128 bits of
//! entropy, so no password-hardening KDF is needed.

use std::fmt;

use zeroize::Zeroizing;

use crate::crypto::{self, SecretKey};
use crate::format::header::{RecoverySlot, WRAPPED_KEY_LEN};
use crate::format::{Slot, SlotKind, Wrap};

/// The HKDF info string of recovery slots.
pub const INFO: &[u8] = b"credvault/v1/recovery";

/// The raw bytes behind a recovery code (16–64 bytes). How they are shown
/// to people (groups, alphabet, checksum) is the CLI's business.
pub struct RecoveryKey(Zeroizing<Vec<u8>>);

impl RecoveryKey {
    /// Wraps raw recovery key bytes; `None` if shorter than 16 bytes
    /// (128 bits) or longer than 64.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (16..=64)
            .contains(&bytes.len())
            .then(|| RecoveryKey(Zeroizing::new(bytes)))
    }

    /// A fresh random 20-byte (160-bit) recovery key.
    pub fn generate() -> Self {
        RecoveryKey(Zeroizing::new(crypto::random_array::<20>().to_vec()))
    }

    /// The raw bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey([redacted])")
    }
}

/// Builds a recovery slot for `dek` with a fresh salt and nonce.
pub fn new_slot(id: u32, vault_id: &[u8; 16], dek: &SecretKey, key: &RecoveryKey) -> Slot {
    let salt = crypto::random_array::<32>();
    let kek = crypto::hkdf(key.expose(), &salt, INFO);
    let mut slot = Slot {
        id,
        kind: SlotKind::Recovery(RecoverySlot {
            salt,
            wrap: Wrap {
                nonce: [0; 24],
                wrapped: [0; WRAPPED_KEY_LEN],
            },
        }),
    };
    super::wrap_into(&mut slot, vault_id, &kek, dek, crypto::random_array());
    slot
}

/// The KEK of `slot` for `key`.
pub fn kek(slot: &RecoverySlot, key: &RecoveryKey) -> SecretKey {
    crypto::hkdf(key.expose(), &slot.salt, INFO)
}
