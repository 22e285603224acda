//! Where the keys of `enc:` values come from, per platform, looked up
//! lazily: only when a value needs them, at most once per [`SafeStorage`].
//!
//! | platform | `v10` | `v11` |
//! |---|---|---|
//! | Linux | `peanuts` (built in) | [`KeyOptions::password`], else the Secret Service item of schema `chrome_libsecret_os_crypt_password_v2` with `application` = [`KeyOptions::app_name`] |
//! | macOS | [`KeyOptions::password`], else the Keychain item `<app> Safe Storage` | — |
//! | Windows | the key in [`KeyOptions::local_state`] (`os_crypt.encrypted_key`), through DPAPI | — |
//!
//! KWallet (KDE) is not searched: read the password with KDE's tools and
//! pass it as [`KeyOptions::password`].

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::oscrypt::{
    self, Decrypted, GcmKey, Keys, Opened, OsCryptError, SafeStoragePassword, Version,
};

/// The application name of the desktop app this crate replaces.
pub const DEFAULT_APP_NAME: &str = "claude-pilot";

/// How long an OS keyring lookup may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The prefix Chromium puts before the DPAPI blob in Local State.
pub const DPAPI_PREFIX: &[u8] = b"DPAPI";

/// The operating system whose Electron wrote the `enc:` values: it decides
/// what `v10` means and where keys are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux (and other Unix desktops Chromium treats like it).
    Linux,
    /// macOS.
    Macos,
    /// Windows.
    Windows,
}

impl Platform {
    /// The platform this program runs on.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Macos
        } else if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }

    /// "Linux", "macOS" or "Windows".
    pub fn name(self) -> &'static str {
        match self {
            Platform::Linux => "Linux",
            Platform::Macos => "macOS",
            Platform::Windows => "Windows",
        }
    }
}

/// What [`SafeStorage`] may use to find keys.
#[derive(Debug)]
pub struct KeyOptions {
    /// Whose OSCrypt wrote the values.
    pub platform: Platform,
    /// The Electron app's name (`app.getName()`): the Secret Service
    /// `application` attribute, the macOS Keychain item `<name> Safe Storage`.
    pub app_name: String,
    /// The safeStorage password, given explicitly (Linux `v11`, macOS). When
    /// set, no OS keyring is asked.
    pub password: Option<SafeStoragePassword>,
    /// Whether the OS keyring may be asked at all.
    pub os_keychain: bool,
    /// Windows: the app's `Local State` file (in its userData directory).
    pub local_state: Option<PathBuf>,
    /// Limit on each OS keyring lookup.
    pub timeout: Duration,
}

impl KeyOptions {
    /// Options for `app_name` on this platform, with the OS keyring allowed.
    pub fn new(app_name: &str) -> KeyOptions {
        KeyOptions {
            platform: Platform::current(),
            app_name: app_name.to_owned(),
            password: None,
            os_keychain: true,
            local_state: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Default for KeyOptions {
    fn default() -> Self {
        KeyOptions::new(DEFAULT_APP_NAME)
    }
}

/// Why an `enc:` value was not decrypted. Never contains secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The value itself: unknown version, damaged, or no key opened it.
    #[error(transparent)]
    OsCrypt(#[from] OsCryptError),
    /// The key for this kind of value could not be found.
    #[error("no key for {what}: {reason}")]
    KeyUnavailable {
        /// "v11 values", "macOS values", ...
        what: &'static str,
        /// Why (one line).
        reason: String,
    },
}

/// Decrypts `enc:` values, finding keys as [`KeyOptions`] allow.
pub struct SafeStorage {
    options: KeyOptions,
    v11: Option<Result<Vec<SafeStoragePassword>, String>>,
    macos: Option<Result<SafeStoragePassword, String>>,
    windows: Option<Result<GcmKey, String>>,
}

impl SafeStorage {
    /// A decryptor that looks keys up only when first needed.
    pub fn new(options: KeyOptions) -> SafeStorage {
        SafeStorage {
            options,
            v11: None,
            macos: None,
            windows: None,
        }
    }

    /// The options.
    pub fn options(&self) -> &KeyOptions {
        &self.options
    }

    /// Decrypts one `safeStorage.encryptString` value.
    pub fn decrypt(&mut self, blob: &[u8]) -> Result<Decrypted, DecryptError> {
        let Some(parsed) = oscrypt::parse(blob)? else {
            return Ok(Decrypted {
                plaintext: Zeroizing::new(Vec::new()),
                opened: Opened::Empty,
            });
        };
        match self.options.platform {
            Platform::Linux => {
                if parsed.version == Version::V10 {
                    return Ok(oscrypt::decrypt_string(
                        blob,
                        &Keys::Linux { v11_passwords: &[] },
                    )?);
                }
                let missing = match self.v11_passwords().map(<[_]>::is_empty) {
                    Ok(true) => Some(self.no_v11_item()),
                    Ok(false) => None,
                    Err(reason) => Some(reason),
                };
                let passwords: &[SafeStoragePassword] = match &self.v11 {
                    Some(Ok(found)) => found,
                    _ => &[],
                };
                // Without a key, only the empty-password retry can still
                // open the value; if it does not, the missing key is the
                // reason to report.
                match oscrypt::decrypt_string(
                    blob,
                    &Keys::Linux {
                        v11_passwords: passwords,
                    },
                ) {
                    Ok(d) => Ok(d),
                    Err(OsCryptError::DecryptionFailed) if missing.is_some() => {
                        Err(DecryptError::KeyUnavailable {
                            what: "v11 values",
                            reason: missing.unwrap_or_default(),
                        })
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Platform::Macos => {
                let password =
                    self.macos_password()
                        .map_err(|reason| DecryptError::KeyUnavailable {
                            what: "macOS values",
                            reason,
                        })?;
                Ok(oscrypt::decrypt_string(blob, &Keys::Macos { password })?)
            }
            Platform::Windows => {
                let key = self
                    .windows_key()
                    .map_err(|reason| DecryptError::KeyUnavailable {
                        what: "Windows values",
                        reason,
                    })?;
                Ok(oscrypt::decrypt_string(blob, &Keys::Windows { key })?)
            }
        }
    }

    fn no_v11_item(&self) -> String {
        format!(
            "the Secret Service has no item with xdg:schema {} and application {:?}; check --app-name, or give the password with --safe-storage-password-file",
            V11_SCHEMA, self.options.app_name
        )
    }

    fn v11_passwords(&mut self) -> Result<&[SafeStoragePassword], String> {
        if self.v11.is_none() {
            let found = match &self.options.password {
                Some(p) => Ok(vec![p.clone()]),
                None if !self.options.os_keychain => Err(KEYCHAIN_DISABLED.to_owned()),
                None => lookup_v11(&self.options.app_name, self.options.timeout),
            };
            self.v11 = Some(found);
        }
        match &self.v11 {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the keyring lookup did not run".to_owned()),
        }
    }

    fn macos_password(&mut self) -> Result<&SafeStoragePassword, String> {
        if self.macos.is_none() {
            let found = match &self.options.password {
                Some(p) => Ok(p.clone()),
                None if !self.options.os_keychain => Err(KEYCHAIN_DISABLED.to_owned()),
                None => lookup_macos(&self.options.app_name, self.options.timeout),
            };
            self.macos = Some(found);
        }
        match &self.macos {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the Keychain lookup did not run".to_owned()),
        }
    }

    fn windows_key(&mut self) -> Result<&GcmKey, String> {
        if self.windows.is_none() {
            self.windows = Some(windows_key(&self.options));
        }
        match &self.windows {
            Some(Ok(k)) => Ok(k),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the Local State key was not read".to_owned()),
        }
    }
}

const V11_SCHEMA: &str = "chrome_libsecret_os_crypt_password_v2";
const KEYCHAIN_DISABLED: &str =
    "the OS keychain is disabled (--no-keychain); give the password with --safe-storage-password-file";

#[cfg(all(target_os = "linux", feature = "keychain"))]
fn lookup_v11(app_name: &str, timeout: Duration) -> Result<Vec<SafeStoragePassword>, String> {
    super::secret_service::v11_passwords(app_name, timeout)
}

#[cfg(not(all(target_os = "linux", feature = "keychain")))]
fn lookup_v11(_app_name: &str, _timeout: Duration) -> Result<Vec<SafeStoragePassword>, String> {
    Err("this credvault cannot search a Secret Service (Linux with feature `keychain` only); give the password with --safe-storage-password-file".to_owned())
}

#[cfg(all(target_os = "macos", feature = "keychain"))]
fn lookup_macos(app_name: &str, timeout: Duration) -> Result<SafeStoragePassword, String> {
    super::macos::password(app_name, timeout)
}

#[cfg(not(all(target_os = "macos", feature = "keychain")))]
fn lookup_macos(_app_name: &str, _timeout: Duration) -> Result<SafeStoragePassword, String> {
    Err("this credvault cannot read the macOS Keychain (macOS with feature `keychain` only); give the password with --safe-storage-password-file".to_owned())
}

fn windows_key(options: &KeyOptions) -> Result<GcmKey, String> {
    let path = options
        .local_state
        .as_deref()
        .ok_or("the app's Local State file is not known")?;
    let json = super::file::read(path, LOCAL_STATE_MAX_LEN).map_err(|e| e.to_string())?;
    let blob = local_state_dpapi_blob(&json).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = unprotect(&blob)?;
    GcmKey::from_slice(&key)
        .ok_or_else(|| format!("{}: the key is {} bytes, not 32", path.display(), key.len()))
}

#[cfg(windows)]
fn unprotect(blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    super::dpapi::unprotect(blob)
}

#[cfg(not(windows))]
fn unprotect(_blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(
        "Windows values can only be decrypted on Windows, by the user who wrote them (DPAPI)"
            .to_owned(),
    )
}

/// Largest Local State file read (Chromium's are a few KiB).
const LOCAL_STATE_MAX_LEN: u64 = 4 * 1024 * 1024;

/// Extracts the DPAPI blob from Chromium's `Local State` JSON: base64 of
/// `os_crypt.encrypted_key`, which must start with `DPAPI` (stripped).
/// Pure; `os_crypt_win.cc` `InitWithExistingKey`.
pub fn local_state_dpapi_blob(json: &[u8]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(|_| "not valid JSON")?;
    let encoded = doc
        .get("os_crypt")
        .and_then(|o| o.get("encrypted_key"))
        .and_then(|k| k.as_str())
        .ok_or("no os_crypt.encrypted_key string")?;
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "os_crypt.encrypted_key is not base64")?,
    );
    let blob = decoded
        .strip_prefix(DPAPI_PREFIX)
        .ok_or("os_crypt.encrypted_key does not start with DPAPI")?;
    Ok(Zeroizing::new(blob.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::test_vectors::vectors;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn linux(password: Option<&str>, os_keychain: bool) -> SafeStorage {
        SafeStorage::new(KeyOptions {
            platform: Platform::Linux,
            password: password.map(|p| SafeStoragePassword::new(p.as_bytes().to_vec())),
            os_keychain,
            ..KeyOptions::new("credvault-test-app-without-item")
        })
    }

    #[test]
    fn linux_v10_needs_no_lookup_and_v11_uses_the_given_password() {
        let doc = vectors();
        let v11_password = doc.keyring("gnome-libsecret").password.clone();
        let mut ss = linux(Some(&v11_password), false);
        for v in doc
            .vectors
            .iter()
            .filter(|v| v.keyring == "basic" || v.keyring == "gnome-libsecret")
        {
            let got = ss.decrypt(&hex(&v.blob)).unwrap();
            assert_eq!(*got.plaintext, v.plaintext.as_bytes(), "{}", v.name);
        }
    }

    #[test]
    fn a_missing_v11_key_is_reported_as_such() {
        let doc = vectors();
        let v11 = doc
            .vectors
            .iter()
            .find(|v| v.keyring == "gnome-libsecret")
            .unwrap();
        let mut ss = linux(None, false);
        let err = ss.decrypt(&hex(&v11.blob)).unwrap_err();
        assert!(
            matches!(&err, DecryptError::KeyUnavailable { reason, .. } if reason.contains("--no-keychain")),
            "{err}"
        );
        // v10 still works without any key source.
        let v10 = doc.vectors.iter().find(|v| v.keyring == "basic").unwrap();
        assert!(ss.decrypt(&hex(&v10.blob)).is_ok());
        // The empty-password retry needs no key either.
        let empty = doc
            .vectors
            .iter()
            .find(|v| v.keyring == "empty-password")
            .unwrap();
        assert_eq!(
            ss.decrypt(&hex(&empty.blob)).unwrap().opened,
            Opened::EmptyPasswordRetry(Version::V11)
        );
        // A wrong explicit password is a decryption failure, not a lookup one.
        let mut wrong = linux(Some("wrong"), false);
        assert_eq!(
            wrong.decrypt(&hex(&v11.blob)).unwrap_err(),
            DecryptError::OsCrypt(OsCryptError::DecryptionFailed)
        );
    }

    #[test]
    fn macos_values_with_the_given_password() {
        let doc = vectors();
        let k = doc.keyring("macos");
        let mut ss = SafeStorage::new(KeyOptions {
            platform: Platform::Macos,
            password: Some(SafeStoragePassword::new(k.password.as_bytes().to_vec())),
            ..KeyOptions::new("App")
        });
        for v in doc.vectors.iter().filter(|v| v.keyring == "macos") {
            assert_eq!(
                *ss.decrypt(&hex(&v.blob)).unwrap().plaintext,
                v.plaintext.as_bytes()
            );
        }
    }

    #[test]
    fn local_state_blob_extraction() {
        let blob = local_state_dpapi_blob(
            br#"{"os_crypt":{"audit_enabled":true,"encrypted_key":"RFBBUEkBAgM="}}"#,
        )
        .unwrap();
        assert_eq!(blob.as_slice(), [1, 2, 3]);
        for (json, want) in [
            (&b"{"[..], "not valid JSON"),
            (br#"{"os_crypt":{}}"#, "no os_crypt.encrypted_key string"),
            (
                br#"{"os_crypt":{"encrypted_key":5}}"#,
                "no os_crypt.encrypted_key string",
            ),
            (
                br#"{"os_crypt":{"encrypted_key":"***"}}"#,
                "os_crypt.encrypted_key is not base64",
            ),
            (
                br#"{"os_crypt":{"encrypted_key":"QVBQQgEC"}}"#,
                "os_crypt.encrypted_key does not start with DPAPI",
            ),
        ] {
            assert_eq!(local_state_dpapi_blob(json).unwrap_err(), want);
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn windows_values_need_windows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Local State");
        std::fs::write(&path, br#"{"os_crypt":{"encrypted_key":"RFBBUEkBAgM="}}"#).unwrap();
        let mut ss = SafeStorage::new(KeyOptions {
            platform: Platform::Windows,
            local_state: Some(path),
            ..KeyOptions::new("App")
        });
        let mut blob = b"v10".to_vec();
        blob.extend([0u8; 40]);
        let err = ss.decrypt(&blob).unwrap_err().to_string();
        assert!(err.contains("only be decrypted on Windows"), "{err}");
    }
}
