//! Sealing values (FORMAT.md §5.3): each value is sealed again, under the
//! value key derived from the data key, with its entry name as associated
//! data, and stays sealed in memory until it is read.

use crate::crypto::{self, SecretKey, SecretValue};
use crate::format::{self, Entry, KeyName, SealedValue};

use super::VaultError;

/// HKDF info of the value key (FORMAT.md §4.7).
const VALUE_INFO: &[u8] = b"credvault/v1/value";

/// Prefix of a sealed value's associated data (FORMAT.md §5.3).
const VALUE_AAD_PREFIX: &[u8] = b"credvault/v1/value\0";

/// Derives the value key of a vault (for tools that seal values directly).
pub fn value_key(dek: &SecretKey, vault_id: &[u8; 16]) -> SecretKey {
    crypto::hkdf(dek.expose(), vault_id, VALUE_INFO)
}

/// Seals `value` for entry `name` under the value key (FORMAT.md §5.3).
pub fn seal_value(
    value_key: &SecretKey,
    name: &KeyName,
    value: &[u8],
    nonce: [u8; 24],
) -> SealedValue {
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&crypto::seal(value_key, &nonce, &value_aad(name), value));
    // nonce + tag + value within MAX_VALUE_LEN (checked by callers).
    #[allow(clippy::expect_used)]
    SealedValue::new(sealed).expect("value length checked before sealing")
}

/// Opens the sealed value of `entry`, named `name` (FORMAT.md §5.3).
pub(super) fn unseal(
    value_key: &SecretKey,
    name: &KeyName,
    entry: &Entry,
) -> Result<SecretValue, VaultError> {
    unseal_bytes(value_key, name, entry.value.as_bytes())
}

/// [`unseal`] of the sealed bytes of a value (at least 40 bytes, as the
/// body reader checks).
pub(super) fn unseal_bytes(
    value_key: &SecretKey,
    name: &KeyName,
    sealed: &[u8],
) -> Result<SecretValue, VaultError> {
    if sealed.len() < format::SealedValue::MIN_LEN {
        return Err(VaultError::Tampered);
    }
    let (nonce, ct) = sealed.split_at(format::NONCE_LEN);
    // split_at of a SealedValue (>= 40 bytes) leaves exactly 24 bytes.
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| VaultError::Tampered)?;
    let plain =
        crypto::open(value_key, &nonce, &value_aad(name), ct).map_err(|_| VaultError::Tampered)?;
    Ok(SecretValue::from(plain))
}

fn value_aad(name: &KeyName) -> Vec<u8> {
    let mut aad = VALUE_AAD_PREFIX.to_vec();
    aad.extend_from_slice(name.as_str().as_bytes());
    aad
}
