//! Sealing a whole file (FORMAT.md §2, §4.7, §5): the subkeys derived
//! from the data key, the body sealed under the body key with `prefix ||
//! header` as associated data, and the body opened again — decrypted in
//! place and decoded, or kept as a checked index.

use crate::crypto::{self, SecretKey};
use crate::format::{self, Body, Header};

use super::value_seal::value_key;
use super::VaultError;

/// HKDF info of the body key (FORMAT.md §4.7).
const BODY_INFO: &[u8] = b"credvault/v1/body";

/// The data key and the subkeys derived from it (FORMAT.md §4.7).
pub(super) struct Keys {
    pub(super) dek: SecretKey,
    body: SecretKey,
    pub(super) value: SecretKey,
}

impl Keys {
    pub(super) fn derive(dek: SecretKey, vault_id: &[u8; 16]) -> Keys {
        let body = crypto::hkdf(dek.expose(), vault_id, BODY_INFO);
        let value = value_key(&dek, vault_id);
        Keys { dek, body, value }
    }
}

/// The pure encoding of a whole file (FORMAT.md §2): prefix, header, and
/// the body sealed under the body key with `prefix || header` as
/// associated data. `header.body_nonce` is used as the nonce and
/// `header.body_len` is set here. Public so the vector generator and tools
/// can build files byte for byte.
pub fn seal_file(header: &mut Header, minor: u8, body: &Body, dek: &SecretKey) -> Vec<u8> {
    let plain = zeroize::Zeroizing::new(body.encode());
    seal_plain(header, minor, &plain, dek)
}

/// [`seal_file`] of an encoded body plaintext.
pub(super) fn seal_plain(header: &mut Header, minor: u8, plain: &[u8], dek: &SecretKey) -> Vec<u8> {
    let keys = Keys::derive(dek.clone(), &header.vault_id);
    header.body_len = (plain.len() + format::TAG_LEN) as u64;
    let mut out = format::encode_aad(header);
    if minor != format::MINOR_VERSION {
        out[9] = minor;
    }
    // One buffer for the whole file: the body is copied in after the header
    // and encrypted where it lies, then the tag is appended.
    let aad_len = out.len();
    out.reserve_exact(plain.len() + format::TAG_LEN);
    out.extend_from_slice(plain);
    let (aad, buf) = out.split_at_mut(aad_len);
    let tag = crypto::seal_in_place(&keys.body, &header.body_nonce, aad, buf);
    out.extend_from_slice(&tag);
    out
}

/// Where the parts of a parsed file lie in its bytes, so the body can be
/// decrypted in place once the parse's borrow has ended.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    aad_len: usize,
    body_len: usize,
}

impl Layout {
    /// The layout of `parsed`, whose `aad` and `body_ciphertext` are
    /// consecutive slices of the file, in that order (FORMAT.md §2).
    pub(super) fn of(parsed: &format::ParsedFile<'_>) -> Layout {
        Layout {
            aad_len: parsed.aad.len(),
            body_len: parsed.body_ciphertext.len(),
        }
    }
}

/// Decrypts the body of the file `bytes` in place and decodes it
/// (FORMAT.md §5). `bytes` must be the bytes `layout` and `header` were
/// parsed from. The plaintext is left in `bytes` (callers hold them in a
/// `Zeroizing` buffer); on an authentication failure nothing is decrypted.
pub(super) fn open_body_in_place(
    bytes: &mut [u8],
    layout: Layout,
    header: &Header,
    keys: &Keys,
) -> Result<Body, VaultError> {
    let range = decrypt_body_in_place(bytes, layout, header, keys)?;
    let plain = bytes.get(range).ok_or(VaultError::Tampered)?;
    Ok(Body::decode(plain)?)
}

/// [`open_body_in_place`], keeping the plaintext in a checked
/// [`BodyIndex`](format::body::BodyIndex) instead of decoding every entry.
pub(super) fn open_body_indexed(
    mut bytes: zeroize::Zeroizing<Vec<u8>>,
    layout: Layout,
    header: &Header,
    keys: &Keys,
) -> Result<format::body::BodyIndex, VaultError> {
    let range = decrypt_body_in_place(&mut bytes, layout, header, keys)?;
    Ok(format::body::BodyIndex::new(bytes, range)?)
}

/// Decrypts the body ciphertext of the file `bytes` in place; returns where
/// the plaintext lies.
fn decrypt_body_in_place(
    bytes: &mut [u8],
    layout: Layout,
    header: &Header,
    keys: &Keys,
) -> Result<std::ops::Range<usize>, VaultError> {
    let (aad, rest) = bytes.split_at_mut(layout.aad_len);
    let ct_len = layout
        .body_len
        .checked_sub(format::TAG_LEN)
        .ok_or(VaultError::Tampered)?;
    let (ct, rest) = rest.split_at_mut(ct_len);
    let tag: &[u8; format::TAG_LEN] = rest
        .get(..format::TAG_LEN)
        .and_then(|t| t.try_into().ok())
        .ok_or(VaultError::Tampered)?;
    crypto::open_in_place(&keys.body, &header.body_nonce, aad, ct, tag)
        .map_err(|_| VaultError::Tampered)?;
    Ok(layout.aad_len..layout.aad_len + ct_len)
}

/// Decrypts and decodes the body of a parsed file with the data key.
pub(super) fn open_body(parsed: &format::ParsedFile<'_>, keys: &Keys) -> Result<Body, VaultError> {
    let plain = crypto::open(
        &keys.body,
        &parsed.header.body_nonce,
        parsed.aad,
        parsed.body_ciphertext,
    )
    .map_err(|_| VaultError::Tampered)?;
    Ok(Body::decode(&plain)?)
}
