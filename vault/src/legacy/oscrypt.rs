//! Chromium OSCrypt, as Electron's `safeStorage.encryptString` uses it.
//! Pure: bytes in, bytes out; no key lookup, no file access.
//!
//! `safeStorage.encryptString(text)` returns the bytes of Chromium's
//! `OSCrypt::EncryptString(UTF-8 of text)` unchanged
//! (`shell/browser/api/electron_api_safe_storage.cc`); the app's `enc:`
//! values are their hex. The formats, from `components/os_crypt/sync/`:
//!
//! | platform | bytes | key |
//! |---|---|---|
//! | Linux (`os_crypt_linux.cc`) | `v10` or `v11`, then AES-128-CBC, PKCS#7, IV = 16 × `0x20` | PBKDF2-HMAC-SHA1(password, `saltysalt`, **1** iteration, 16 bytes); `v10`: password `peanuts`; `v11`: the password in the Secret Service or KWallet, its text as is |
//! | macOS (`os_crypt_mac.mm`) | `v10`, then the same cipher | the same PBKDF2 with **1003** iterations over the Keychain item `<App> Safe Storage` |
//! | Windows (`os_crypt_win.cc`) | `v10`, 12-byte nonce, AES-256-GCM ciphertext and 16-byte tag | 32 random bytes in `Local State` (`os_crypt.encrypted_key`), DPAPI-protected |
//!
//! An empty plaintext encrypts to an empty value with no prefix, on Linux
//! and macOS; an empty value decrypts to the empty string everywhere.
//! When a Linux decryption fails, Chromium retries with the key derived
//! from an empty password (crbug.com/40055416); [`decrypt_string`] does too.
//!
//! # No integrity
//!
//! CBC with PKCS#7 has no MAC: a wrong key still yields a well-padded
//! plaintext about one time in 256. `safeStorage.encryptString` takes a
//! JavaScript string, so its plaintext is always UTF-8; [`decrypt_string`]
//! accepts a key only if the padding is valid *and* the plaintext is UTF-8,
//! which for random bytes is far rarer (a 15-byte single-block value passes
//! both with probability around 10⁻⁷). GCM (Windows) is authenticated.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use aes_gcm::aead::{Aead, KeyInit};
use zeroize::Zeroizing;

/// The prefix of values under the hardcoded Linux password, and of every
/// macOS and Windows value.
pub const V10: &[u8; 3] = b"v10";
/// The prefix of Linux values under the password in the OS keyring.
pub const V11: &[u8; 3] = b"v11";
/// The PBKDF2 salt, on Linux and macOS.
pub const SALT: &[u8] = b"saltysalt";
/// The CBC initialisation vector: 16 spaces.
pub const CBC_IV: [u8; 16] = [b' '; 16];
/// PBKDF2 iterations on Linux.
pub const LINUX_ITERATIONS: u32 = 1;
/// PBKDF2 iterations on macOS.
pub const MACOS_ITERATIONS: u32 = 1003;
/// The hardcoded password of Linux `v10` values (`--password-store=basic`).
pub const V10_PASSWORD: &[u8] = b"peanuts";
/// Length of the Windows GCM nonce.
pub const GCM_NONCE_LEN: usize = 12;
/// Length of the Windows GCM tag.
pub const GCM_TAG_LEN: usize = 16;

/// The version prefix of an OSCrypt value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `v10`.
    V10,
    /// `v11` (Linux only).
    V11,
}

impl Version {
    /// `"v10"` or `"v11"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V10 => "v10",
            Version::V11 => "v11",
        }
    }
}

/// A value split into its version and the bytes after the prefix.
#[derive(Debug, Clone, Copy)]
pub struct Blob<'a> {
    /// The prefix.
    pub version: Version,
    /// Everything after the prefix.
    pub body: &'a [u8],
}

/// Why a value could not be decrypted. Never contains plaintext or key
/// material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OsCryptError {
    /// The value starts with neither `v10` nor `v11` (its first bytes, in
    /// hex, are shown: they are a version tag, not a secret).
    #[error("not a safeStorage value: it starts with {0}, not v10 or v11")]
    UnknownVersion(String),
    /// The version does not exist on the platform that is said to have
    /// written the value.
    #[error("a {version} value cannot come from {platform}")]
    WrongPlatform {
        /// The value's prefix.
        version: &'static str,
        /// The platform.
        platform: &'static str,
    },
    /// The value's length cannot be a ciphertext (not whole AES blocks, or
    /// too short for a nonce and a tag).
    #[error("damaged value: {0}")]
    Malformed(&'static str),
    /// No key opened the value: a wrong password or key, or a damaged
    /// value.
    #[error("wrong key or damaged value: no key decrypted it")]
    DecryptionFailed,
}

/// Splits `blob` into version and body; `None` for the empty value (the
/// empty string, which has no prefix).
pub fn parse(blob: &[u8]) -> Result<Option<Blob<'_>>, OsCryptError> {
    if blob.is_empty() {
        return Ok(None);
    }
    let (prefix, body) = blob.split_at(blob.len().min(3));
    let version = if prefix == V10 {
        Version::V10
    } else if prefix == V11 {
        Version::V11
    } else {
        return Err(OsCryptError::UnknownVersion(format!(
            "{} (hex)",
            crate::crypto::hex_lower(prefix)
        )));
    };
    Ok(Some(Blob { version, body }))
}

/// A password that derives a CBC key: `peanuts`, the OS keyring's, or the
/// macOS Keychain's. Zeroized on drop; `Debug` shows nothing.
#[derive(Clone)]
pub struct SafeStoragePassword(Zeroizing<Vec<u8>>);

impl SafeStoragePassword {
    /// Takes ownership of the password bytes (the keyring's text, as is).
    pub fn new(bytes: Vec<u8>) -> Self {
        SafeStoragePassword(Zeroizing::new(bytes))
    }

    /// The password bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SafeStoragePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SafeStoragePassword([redacted])")
    }
}

/// An AES-128 key for CBC values. Zeroized on drop.
pub struct CbcKey(Zeroizing<[u8; 16]>);

impl CbcKey {
    /// PBKDF2-HMAC-SHA1(`password`, `saltysalt`, `iterations`, 16 bytes).
    pub fn derive(password: &[u8], iterations: u32) -> CbcKey {
        let mut key = Zeroizing::new([0u8; 16]);
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, SALT, iterations, key.as_mut_slice());
        CbcKey(key)
    }

    /// The raw key bytes (for tests against Chromium's constants).
    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }
}

/// An AES-256 key for Windows GCM values. Zeroized on drop.
pub struct GcmKey(Zeroizing<[u8; 32]>);

impl GcmKey {
    /// Wraps the 32 key bytes (from Local State after DPAPI).
    pub fn from_bytes(bytes: [u8; 32]) -> GcmKey {
        GcmKey(Zeroizing::new(bytes))
    }

    /// Takes a key of any length; `None` unless it is 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<GcmKey> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(GcmKey::from_bytes(array))
    }
}

/// AES-128-CBC decryption with Chromium's IV and a PKCS#7 check. `None`
/// when the body is not whole blocks or the padding is wrong.
pub fn cbc_decrypt(key: &CbcKey, body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if body.is_empty() || !body.len().is_multiple_of(16) {
        return None;
    }
    let mut buf = Zeroizing::new(body.to_vec());
    let len = cbc::Decryptor::<aes::Aes128>::new(&(*key.0).into(), &CBC_IV.into())
        .decrypt_padded::<Pkcs7>(&mut buf)
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

/// Windows: AES-256-GCM over `nonce (12) || ciphertext || tag (16)`, the
/// bytes after `v10`. `None` when too short or not authentic.
pub fn gcm_decrypt(key: &GcmKey, body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if body.len() < GCM_NONCE_LEN + GCM_TAG_LEN {
        return None;
    }
    let (nonce, ciphertext) = body.split_at(GCM_NONCE_LEN);
    let nonce: [u8; GCM_NONCE_LEN] = nonce.try_into().ok()?;
    aes_gcm::Aes256Gcm::new(&(*key.0).into())
        .decrypt(&nonce.into(), ciphertext)
        .ok()
        .map(Zeroizing::new)
}

/// Which platform's OSCrypt wrote the values, with the key material for
/// it. Linux `v10` needs nothing (the password is `peanuts`).
pub enum Keys<'k> {
    /// Linux: candidate passwords for `v11` values, tried in order (the
    /// Secret Service may hold several items); empty if none is known.
    Linux {
        /// Candidates for the `v11` password.
        v11_passwords: &'k [SafeStoragePassword],
    },
    /// macOS: the `<App> Safe Storage` Keychain password.
    Macos {
        /// The password.
        password: &'k SafeStoragePassword,
    },
    /// Windows: the AES-256 key from Local State.
    Windows {
        /// The key.
        key: &'k GcmKey,
    },
}

/// Which key opened a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The empty value: nothing to decrypt.
    Empty,
    /// Linux `v10` with `peanuts`.
    LinuxV10,
    /// Linux `v11` with the `n`th candidate password (0-based).
    LinuxV11(usize),
    /// Linux, only by the retry with the empty password.
    EmptyPasswordRetry(Version),
    /// macOS, with the Keychain password.
    Macos,
    /// Windows, with the Local State key.
    Windows,
}

/// A decrypted `safeStorage` string. `Debug` shows its length only.
pub struct Decrypted {
    /// The UTF-8 plaintext. Zeroized on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Which key opened it.
    pub opened: Opened,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field(
                "plaintext",
                &format_args!("{} bytes, redacted", self.plaintext.len()),
            )
            .field("opened", &self.opened)
            .finish()
    }
}

/// Decrypts a `safeStorage.encryptString` value the way Chromium's
/// OSCrypt on the given platform does, accepting a key only when the
/// result is well padded and UTF-8 (see the module docs). Linux tries the
/// version's key(s), then the empty password.
pub fn decrypt_string(blob: &[u8], keys: &Keys<'_>) -> Result<Decrypted, OsCryptError> {
    let Some(Blob { version, body }) = parse(blob)? else {
        return Ok(Decrypted {
            plaintext: Zeroizing::new(Vec::new()),
            opened: Opened::Empty,
        });
    };
    let text = |p: Zeroizing<Vec<u8>>| std::str::from_utf8(&p).is_ok().then_some(p);
    match keys {
        Keys::Linux { v11_passwords } => {
            if !body.len().is_multiple_of(16) || body.is_empty() {
                return Err(OsCryptError::Malformed("not a whole number of AES blocks"));
            }
            let first: Option<(Zeroizing<Vec<u8>>, Opened)> = match version {
                Version::V10 => cbc_decrypt(&CbcKey::derive(V10_PASSWORD, LINUX_ITERATIONS), body)
                    .and_then(text)
                    .map(|p| (p, Opened::LinuxV10)),
                Version::V11 => v11_passwords.iter().enumerate().find_map(|(i, pw)| {
                    cbc_decrypt(&CbcKey::derive(pw.expose(), LINUX_ITERATIONS), body)
                        .and_then(text)
                        .map(|p| (p, Opened::LinuxV11(i)))
                }),
            };
            let (plaintext, opened) = first
                .or_else(|| {
                    cbc_decrypt(&CbcKey::derive(b"", LINUX_ITERATIONS), body)
                        .and_then(text)
                        .map(|p| (p, Opened::EmptyPasswordRetry(version)))
                })
                .ok_or(OsCryptError::DecryptionFailed)?;
            Ok(Decrypted { plaintext, opened })
        }
        Keys::Macos { password } => {
            if version != Version::V10 {
                return Err(OsCryptError::WrongPlatform {
                    version: version.as_str(),
                    platform: "macOS",
                });
            }
            if !body.len().is_multiple_of(16) || body.is_empty() {
                return Err(OsCryptError::Malformed("not a whole number of AES blocks"));
            }
            let plaintext = cbc_decrypt(&CbcKey::derive(password.expose(), MACOS_ITERATIONS), body)
                .and_then(text)
                .ok_or(OsCryptError::DecryptionFailed)?;
            Ok(Decrypted {
                plaintext,
                opened: Opened::Macos,
            })
        }
        Keys::Windows { key } => {
            if version != Version::V10 {
                return Err(OsCryptError::WrongPlatform {
                    version: version.as_str(),
                    platform: "Windows",
                });
            }
            if body.len() < GCM_NONCE_LEN + GCM_TAG_LEN {
                return Err(OsCryptError::Malformed("too short for a nonce and a tag"));
            }
            let plaintext = gcm_decrypt(key, body)
                .and_then(text)
                .ok_or(OsCryptError::DecryptionFailed)?;
            Ok(Decrypted {
                plaintext,
                opened: Opened::Windows,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::test_vectors::{vectors, Vector};
    use aes::cipher::BlockModeEncrypt;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn pw(s: &str) -> SafeStoragePassword {
        SafeStoragePassword::new(s.as_bytes().to_vec())
    }

    /// Our own CBC encryption, only to make malformed inputs below; every
    /// positive case uses blobs from Chromium or openssl.
    fn cbc_encrypt_raw(key: &CbcKey, padded: &[u8]) -> Vec<u8> {
        let mut buf = padded.to_vec();
        let len = buf.len();
        cbc::Encryptor::<aes::Aes128>::new(&(*key.0).into(), &CBC_IV.into())
            .encrypt_padded::<aes::cipher::block_padding::NoPadding>(&mut buf, len)
            .unwrap();
        buf
    }

    #[test]
    fn derived_keys_match_chromium_constants() {
        // os_crypt_linux.cc: kV10Key and kEmptyKey.
        assert_eq!(
            CbcKey::derive(b"peanuts", 1).expose(),
            &[
                0xfd, 0x62, 0x1f, 0xe5, 0xa2, 0xb4, 0x02, 0x53, 0x9d, 0xfa, 0x14, 0x7c, 0xa9, 0x27,
                0x27, 0x78
            ]
        );
        assert_eq!(
            CbcKey::derive(b"", 1).expose(),
            &[
                0xd0, 0xd0, 0xec, 0x9c, 0x7d, 0x77, 0xd4, 0x3a, 0xc5, 0x41, 0x87, 0xfa, 0x48, 0x18,
                0xd1, 0x7f
            ]
        );
    }

    fn keys_for<'a>(v: &Vector, password: &'a [SafeStoragePassword]) -> Keys<'a> {
        match v.keyring.as_str() {
            "macos" => Keys::Macos {
                password: &password[0],
            },
            // Only the retry opens these: no candidate password at all.
            "empty-password" => Keys::Linux { v11_passwords: &[] },
            _ => Keys::Linux {
                v11_passwords: password,
            },
        }
    }

    #[test]
    fn every_real_blob_decrypts_to_its_plaintext() {
        let doc = vectors();
        assert!(doc.vectors.len() >= 30, "vectors file looks truncated");
        for v in &doc.vectors {
            let password = [pw(&doc.keyring(&v.keyring).password)];
            let got = decrypt_string(&hex(&v.blob), &keys_for(v, &password))
                .unwrap_or_else(|e| panic!("{}/{}: {e}", v.keyring, v.name));
            assert_eq!(
                *got.plaintext,
                hex(&v.plaintext_hex),
                "{}/{}",
                v.keyring,
                v.name
            );
            assert_eq!(*got.plaintext, v.plaintext.as_bytes());
            let want = match v.keyring.as_str() {
                "basic" => Opened::LinuxV10,
                "gnome-libsecret" => Opened::LinuxV11(0),
                "empty-password" => Opened::EmptyPasswordRetry(Version::V11),
                "macos" => Opened::Macos,
                other => panic!("unknown keyring {other}"),
            };
            assert_eq!(got.opened, want, "{}/{}", v.keyring, v.name);
        }
    }

    #[test]
    fn chromium_made_both_versions_with_its_own_keys() {
        let doc = vectors();
        for (keyring, prefix, made_by) in [
            ("basic", "v10", "chromium"),
            ("gnome-libsecret", "v11", "chromium"),
        ] {
            let k = doc.keyring(keyring);
            assert_eq!((k.prefix.as_str(), k.made_by.as_str()), (prefix, made_by));
            let n = doc.vectors.iter().filter(|v| v.keyring == keyring).count();
            assert!(n >= 10, "{keyring}: {n} vectors");
        }
        assert_eq!(doc.keyring("basic").password, "peanuts");
    }

    #[test]
    fn v11_needs_the_right_password_and_candidates_are_tried_in_order() {
        let doc = vectors();
        let real = pw(&doc.keyring("gnome-libsecret").password);
        for v in doc
            .vectors
            .iter()
            .filter(|v| v.keyring == "gnome-libsecret")
        {
            let blob = hex(&v.blob);
            let none = decrypt_string(&blob, &Keys::Linux { v11_passwords: &[] });
            assert_eq!(
                none.err(),
                Some(OsCryptError::DecryptionFailed),
                "{}",
                v.name
            );
            let wrong = [pw("not-the-password"), pw("peanuts")];
            assert_eq!(
                decrypt_string(
                    &blob,
                    &Keys::Linux {
                        v11_passwords: &wrong
                    }
                )
                .err(),
                Some(OsCryptError::DecryptionFailed),
                "{}",
                v.name
            );
            let candidates = [pw("not-the-password"), real.clone()];
            let got = decrypt_string(
                &blob,
                &Keys::Linux {
                    v11_passwords: &candidates,
                },
            )
            .unwrap();
            assert_eq!(got.opened, Opened::LinuxV11(1));
            assert_eq!(*got.plaintext, v.plaintext.as_bytes());
        }
    }

    #[test]
    fn the_empty_password_retry_opens_v10_and_v11() {
        let doc = vectors();
        let v = doc
            .vectors
            .iter()
            .find(|v| v.keyring == "empty-password")
            .unwrap();
        // A v11 blob under the empty key opens with any (wrong) candidate.
        let wrong = [pw("x2/oN/GcEhrZwbdQ0Pj9Eg==")];
        let got = decrypt_string(
            &hex(&v.blob),
            &Keys::Linux {
                v11_passwords: &wrong,
            },
        )
        .unwrap();
        assert_eq!(got.opened, Opened::EmptyPasswordRetry(Version::V11));
        assert_eq!(*got.plaintext, v.plaintext.as_bytes());
        // The same body under a v10 prefix: peanuts fails, the retry opens it.
        let mut v10 = hex(&v.blob);
        v10[..3].copy_from_slice(V10);
        let got = decrypt_string(&v10, &Keys::Linux { v11_passwords: &[] }).unwrap();
        assert_eq!(got.opened, Opened::EmptyPasswordRetry(Version::V10));
    }

    #[test]
    fn empty_value_is_the_empty_string() {
        let got = decrypt_string(b"", &Keys::Linux { v11_passwords: &[] }).unwrap();
        assert!(got.plaintext.is_empty());
        assert_eq!(got.opened, Opened::Empty);
    }

    #[test]
    fn unknown_prefixes_are_refused_by_name() {
        for blob in [
            &b"v12abcdefabcdefabcd"[..],
            b"V10",
            b"v1",
            b"x",
            b"\x01\x02\x03\x04",
        ] {
            let err = decrypt_string(blob, &Keys::Linux { v11_passwords: &[] }).err();
            assert!(
                matches!(err, Some(OsCryptError::UnknownVersion(_))),
                "{blob:?}: {err:?}"
            );
        }
        let err = parse(b"v12xyz").unwrap_err().to_string();
        assert!(err.contains("763132 (hex)"), "{err}");
    }

    #[test]
    fn damaged_lengths_and_bad_padding_fail() {
        let doc = vectors();
        let v = doc.vectors.iter().find(|v| v.keyring == "basic").unwrap();
        let blob = hex(&v.blob);
        let keys = Keys::Linux { v11_passwords: &[] };
        // Prefix only, and every length that is not whole blocks.
        assert_eq!(
            decrypt_string(V10, &keys).err(),
            Some(OsCryptError::Malformed("not a whole number of AES blocks"))
        );
        for cut in 1..16 {
            let short = &blob[..blob.len() - cut];
            assert!(matches!(
                decrypt_string(short, &keys),
                Err(OsCryptError::Malformed(_))
            ));
        }
        // A 16-byte value ends in a whole block of padding (16 x 0x10); a
        // flipped bit in the block before flips the same bit of the last
        // padding byte, which is then invalid (and the empty-password retry
        // finds nothing either).
        let full = doc
            .vectors
            .iter()
            .find(|v| v.keyring == "basic" && v.name == "test.sixteenBytes")
            .unwrap();
        let full = hex(&full.blob);
        assert_eq!(full.len(), 3 + 32);
        for bit in 0..8 {
            let mut bad = full.clone();
            bad[3 + 15] ^= 1 << bit;
            assert_eq!(
                decrypt_string(&bad, &keys).err(),
                Some(OsCryptError::DecryptionFailed),
                "bit {bit}"
            );
        }
        // Well-formed ciphertexts whose padding is invalid under peanuts and
        // under the empty password.
        let peanuts = CbcKey::derive(V10_PASSWORD, 1);
        for padded in [
            [0u8; 16],
            [b'a'; 16],
            *b"aaaaaaaaaaaaaa\x02\x03",
            *b"aaaaaaaaaaaaaaa\x11",
        ] {
            let mut bad = V10.to_vec();
            bad.extend(cbc_encrypt_raw(&peanuts, &padded));
            assert!(cbc_decrypt(&peanuts, &bad[3..]).is_none());
        }
        // A valid padding around bytes that are not UTF-8 is refused too.
        let mut not_text = V10.to_vec();
        not_text.extend(cbc_encrypt_raw(
            &peanuts,
            b"\xff\xfe\xfd\xfc\xfb\xfa\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x0a",
        ));
        assert!(cbc_decrypt(&peanuts, &not_text[3..]).is_some());
        assert_eq!(
            decrypt_string(&not_text, &keys).err(),
            Some(OsCryptError::DecryptionFailed)
        );
    }

    #[test]
    fn macos_uses_1003_iterations_and_only_v10() {
        let doc = vectors();
        let k = doc.keyring("macos");
        assert_eq!(k.iterations, 1003);
        let v = doc.vectors.iter().find(|v| v.keyring == "macos").unwrap();
        let blob = hex(&v.blob);
        let right = pw(&k.password);
        let got = decrypt_string(&blob, &Keys::Macos { password: &right }).unwrap();
        assert_eq!(*got.plaintext, v.plaintext.as_bytes());
        // The Linux scheme (1 iteration) with the same password fails.
        assert!(decrypt_string(
            &blob,
            &Keys::Linux {
                v11_passwords: std::slice::from_ref(&right)
            }
        )
        .is_err());
        let mut v11 = blob.clone();
        v11[..3].copy_from_slice(V11);
        assert!(matches!(
            decrypt_string(&v11, &Keys::Macos { password: &right }),
            Err(OsCryptError::WrongPlatform { .. })
        ));
    }

    /// AES-256-GCM with a 96-bit IV and no associated data: test case 15 of McGrew & Viega, "The
    /// Galois/Counter Mode of Operation (GCM)" (the NIST submission), framed
    /// the Windows OSCrypt way: `v10 || nonce || ciphertext || tag`. Its
    /// plaintext is binary, so it is checked at the GCM layer;
    /// `decrypt_string` refuses it as text.
    #[test]
    fn windows_gcm_framing_with_a_published_vector() {
        let key = GcmKey::from_slice(&hex(
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        ))
        .unwrap();
        let nonce = hex("cafebabefacedbaddecaf888");
        let ct = hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad");
        let tag = hex("b094dac5d93471bdec1a502270e3cc6c");
        let plain = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
        let mut body = nonce.clone();
        body.extend(&ct);
        body.extend(&tag);
        assert_eq!(*gcm_decrypt(&key, &body).unwrap(), plain);
        let mut blob = V10.to_vec();
        blob.extend(&body);
        assert_eq!(
            decrypt_string(&blob, &Keys::Windows { key: &key }).err(),
            Some(OsCryptError::DecryptionFailed),
            "binary plaintext is not a safeStorage string"
        );
        // Any flipped byte fails authentication; short bodies are malformed.
        for i in 0..body.len() {
            let mut bad = body.clone();
            bad[i] ^= 0x80;
            assert!(gcm_decrypt(&key, &bad).is_none(), "byte {i}");
        }
        assert!(matches!(
            decrypt_string(&blob[..3 + 27], &Keys::Windows { key: &key }),
            Err(OsCryptError::Malformed(_))
        ));
        let mut v11 = blob.clone();
        v11[..3].copy_from_slice(V11);
        assert!(matches!(
            decrypt_string(&v11, &Keys::Windows { key: &key }),
            Err(OsCryptError::WrongPlatform { .. })
        ));
        assert!(GcmKey::from_slice(&[0; 31]).is_none());
    }

    #[test]
    fn windows_text_round_trip_through_aes_gcm() {
        // A text value framed as Windows OSCrypt would write it (the GCM
        // encryption is the aes-gcm crate's, the framing is Chromium's).
        let key = GcmKey::from_bytes([7; 32]);
        let nonce = [9u8; 12];
        let sealed = aes_gcm::Aes256Gcm::new(&(*key.0).into())
            .encrypt(&nonce.into(), "ghp_example".as_bytes())
            .unwrap();
        let mut blob = V10.to_vec();
        blob.extend(nonce);
        blob.extend(sealed);
        let got = decrypt_string(&blob, &Keys::Windows { key: &key }).unwrap();
        assert_eq!(*got.plaintext, b"ghp_example");
        assert_eq!(got.opened, Opened::Windows);
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", pw("hunter2")),
            "SafeStoragePassword([redacted])"
        );
    }
}
