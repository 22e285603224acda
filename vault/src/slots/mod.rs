//! Key slots: how each unlock method turns its credential into a
//! key-encryption key (KEK) and wraps or unwraps the data key (FORMAT.md §4).
//!
//! The library never prompts: it asks the caller through [`Unlocker`].

pub mod keychain;
pub mod passphrase;
pub mod recovery;
pub mod recovery_code;

use crate::crypto::{self, AeadFailure, Passphrase, SecretKey};
use crate::format::header::{Slot, WRAPPED_KEY_LEN};
use crate::format::Wrap;

pub use recovery::RecoveryKey;

/// Supplies credentials while a vault is opened. Each method is called at
/// most once per open, and only when a slot of that type exists and no
/// slot tried earlier opened the vault (FORMAT.md §4.6 order: keychain,
/// recovery, passphrase).
pub trait Unlocker {
    /// The passphrase, or `None` when none is available.
    fn passphrase(&mut self) -> Option<Passphrase> {
        None
    }

    /// The recovery key, or `None` when none is available.
    fn recovery_key(&mut self) -> Option<RecoveryKey> {
        None
    }

    /// The key-encryption key of a keychain slot, looked up in the OS
    /// keychain. `Err` carries a one-line reason shown to the user when no
    /// other slot opens the vault.
    fn keychain_key(&mut self, service: &str, account: &str) -> Result<SecretKey, String> {
        let _ = (service, account);
        Err("the OS keychain is not used by this caller".to_owned())
    }
}

/// An [`Unlocker`] that only knows a passphrase.
pub struct PassphraseUnlocker(Option<Passphrase>);

impl PassphraseUnlocker {
    /// Unlocks with `passphrase`.
    pub fn new(passphrase: Passphrase) -> Self {
        PassphraseUnlocker(Some(passphrase))
    }
}

impl Unlocker for PassphraseUnlocker {
    fn passphrase(&mut self) -> Option<Passphrase> {
        self.0.take()
    }
}

/// Seals `dek` for `slot` under `kek` with a fresh nonce, filling the
/// slot's wrap (FORMAT.md §4.1). The slot's other fields must be final:
/// they are bound as associated data.
pub fn wrap_into(
    slot: &mut Slot,
    vault_id: &[u8; 16],
    kek: &SecretKey,
    dek: &SecretKey,
    nonce: [u8; 24],
) {
    set_wrap(
        slot,
        Wrap {
            nonce,
            wrapped: [0; WRAPPED_KEY_LEN],
        },
    );
    let aad = slot.wrap_aad(vault_id);
    let sealed = crypto::seal(kek, &nonce, &aad, dek.expose());
    let mut wrapped = [0u8; WRAPPED_KEY_LEN];
    wrapped.copy_from_slice(&sealed);
    set_wrap(slot, Wrap { nonce, wrapped });
}

/// Opens the data key wrapped in `slot` with `kek`.
pub fn unwrap(slot: &Slot, vault_id: &[u8; 16], kek: &SecretKey) -> Result<SecretKey, AeadFailure> {
    let wrap = slot.wrap().ok_or(AeadFailure)?;
    let aad = slot.wrap_aad(vault_id);
    let plain = crypto::open(kek, &wrap.nonce, &aad, &wrap.wrapped)?;
    // A successful open of a 48-byte wrap yields exactly 32 bytes.
    let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| AeadFailure)?;
    Ok(SecretKey::from_bytes(bytes))
}

fn set_wrap(slot: &mut Slot, wrap: Wrap) {
    use crate::format::SlotKind;
    match &mut slot.kind {
        SlotKind::Passphrase(s) => s.wrap = wrap,
        SlotKind::Keychain(s) => s.wrap = wrap,
        SlotKind::Recovery(s) => s.wrap = wrap,
        SlotKind::Unknown { .. } => {}
    }
}
