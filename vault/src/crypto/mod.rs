//! Thin wrappers over the primitives (FORMAT.md §4–§5): XChaCha20-Poly1305,
//! HKDF-SHA256, Argon2id, the OS random generator, and secret newtypes.

pub mod kdf;
pub mod secret;

use chacha20poly1305::aead::{Aead, AeadInOut, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::TryRngCore;
use zeroize::Zeroizing;

pub use kdf::{ExcessiveWork, KdfLimits};
pub use secret::{Passphrase, SecretKey, SecretValue};

use crate::format::{NONCE_LEN, TAG_LEN};

/// Authentication failed: wrong key or tampered data. Deliberately carries
/// no detail (one failure class, no oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("wrong key or tampered data")]
pub struct AeadFailure;

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
///
/// If the OS generator fails, which on supported systems it does not; no
/// key material can be made safely without it.
pub fn fill_random(buf: &mut [u8]) {
    #[allow(clippy::expect_used)]
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .expect("the OS random generator is unavailable");
}

/// A fresh random array.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill_random(&mut out);
    out
}

/// XChaCha20-Poly1305 encryption: returns ciphertext with its 16-byte tag.
pub fn seal(key: &SecretKey, nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = cipher(key);
    // Encryption only fails for plaintexts beyond 2^38 bytes; ours are
    // bounded by the format limits (64 MiB).
    #[allow(clippy::expect_used)]
    cipher
        .encrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("plaintext within XChaCha20-Poly1305 limits")
}

/// XChaCha20-Poly1305 encryption in place: `buf` holds the plaintext and
/// becomes the ciphertext; returns the 16-byte tag. Saves the copies of
/// [`seal`] for large bodies.
pub fn seal_in_place(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> [u8; TAG_LEN] {
    let cipher = cipher(key);
    // As in `seal`: only plaintexts beyond 2^38 bytes fail.
    #[allow(clippy::expect_used)]
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into())
        .expect("plaintext within XChaCha20-Poly1305 limits");
    tag.into()
}

/// XChaCha20-Poly1305 decryption in place: `buf` holds the ciphertext
/// (without its tag) and becomes the plaintext if `tag` authenticates it;
/// on failure `buf` is left as it was (the tag is checked before any byte
/// is decrypted).
pub fn open_in_place(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), AeadFailure> {
    let cipher = cipher(key);
    cipher
        .decrypt_inout_detached(&XNonce::from(*nonce), aad, buf.into(), &(*tag).into())
        .map_err(|_| AeadFailure)
}

/// XChaCha20-Poly1305 decryption; the plaintext is zeroized on drop.
pub fn open(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AeadFailure> {
    let cipher = cipher(key);
    cipher
        .decrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| AeadFailure)
}

/// HKDF-SHA256 (RFC 5869) of 32 bytes: `HKDF(ikm, salt, info)`.
pub fn hkdf(ikm: &[u8], salt: &[u8], info: &[u8]) -> SecretKey {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), ikm);
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte maximum.
    #[allow(clippy::expect_used)]
    hk.expand(info, &mut out)
        .expect("32 bytes is a valid HKDF length");
    let key = SecretKey::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    key
}

/// Lowercase hexadecimal text of `bytes` (keychain account names and items,
/// session cache descriptions). The `hex` crate allocates the exact length
/// once (its iterator's size is exact), so a key's hex leaves no copy in a
/// reallocated buffer when the caller wraps the text in `Zeroizing`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The AEAD keyed with `key`, borrowing its bytes: no unzeroized copy of
/// the key on the stack (the cipher itself wipes its copy on drop, the
/// crate's `zeroize` feature).
fn cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    let key: &Key = key.expose().into();
    XChaCha20Poly1305::new(key)
}

#[cfg(test)]
mod tests {
    /// Issue 13: the crates' own state is wiped too (their `zeroize`
    /// features): this does not compile without them.
    #[test]
    fn the_aead_and_argon2_wipe_their_own_state() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        fn wipeable<T: zeroize::Zeroize>() {}
        wiped_on_drop::<chacha20poly1305::XChaCha20Poly1305>();
        wipeable::<argon2::Block>();
    }

    use super::*;

    #[test]
    fn in_place_matches_seal_and_open() {
        let key = SecretKey::random();
        let nonce = [7u8; NONCE_LEN];
        let msg = b"in place, same bytes".to_vec();
        let sealed = seal(&key, &nonce, b"aad", &msg);
        let mut buf = msg.clone();
        let tag = seal_in_place(&key, &nonce, b"aad", &mut buf);
        assert_eq!([buf.as_slice(), &tag].concat(), sealed);
        let ct = buf.clone();
        assert_eq!(
            open_in_place(&key, &nonce, b"aaD", &mut buf, &tag),
            Err(AeadFailure)
        );
        assert_eq!(buf, ct, "a failed open leaves the buffer alone");
        open_in_place(&key, &nonce, b"aad", &mut buf, &tag).unwrap();
        assert_eq!(buf, msg);
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = SecretKey::from_bytes([1; 32]);
        let nonce = [2; NONCE_LEN];
        let ct = seal(&key, &nonce, b"aad", b"hello");
        assert_eq!(ct.len(), 5 + 16);
        assert_eq!(&open(&key, &nonce, b"aad", &ct).unwrap()[..], b"hello");
        assert_eq!(open(&key, &nonce, b"aaD", &ct), Err(AeadFailure));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(open(&key, &nonce, b"aad", &bad), Err(AeadFailure));
        assert_eq!(
            open(&SecretKey::from_bytes([3; 32]), &nonce, b"aad", &ct),
            Err(AeadFailure)
        );
    }

    #[test]
    fn hkdf_matches_rfc5869_case_1() {
        // RFC 5869 A.1 (first 32 bytes of OKM).
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let okm = hkdf(&ikm, &salt, &info);
        assert_eq!(
            okm.expose()[..8],
            [0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a]
        );
    }
}
