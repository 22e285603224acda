//! Migration from the desktop app's `credentials.json` (feature `legacy`,
//! on by default; DESIGN.md §1).
//!
//! - [`credentials_json`]: the file's shape, `plain:` and `enc:` values
//!   (pure).
//! - [`oscrypt`]: Chromium OSCrypt as Electron `safeStorage` uses it —
//!   Linux `v10`/`v11` (AES-128-CBC), macOS `v10`, Windows `v10`
//!   (AES-256-GCM) (pure).
//! - [`keys`]: where the keys come from — `peanuts`, the Secret Service,
//!   the macOS Keychain, Windows DPAPI over `Local State` — looked up only
//!   when a value needs them.
//! - [`import`]: plan, one atomic save, verification by re-reading.
//! - [`file`](mod@file): bounded reads of legacy files and the overwrite-then-delete
//!   of `--remove-legacy`.
//! - [`migrate`]: the whole `import-legacy` operation every face calls
//!   ([`LegacySource`]: read, plan, save, verify, remove).
//!
//! The facade that mirrors the app's service API is [`crate::service`].
//!
//! ```
//! use credvault::legacy::{credentials_json, ImportOptions, ImportPlan, KeyOptions, Platform, SafeStorage};
//! use credvault::{KdfParams, NewSlot, Passphrase, Vault};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut vault = Vault::create(
//!     &dir.path().join("v.cvault"),
//!     NewSlot::Passphrase(&Passphrase::from("pw"), KdfParams::new(8 * 1024, 1, 1)?),
//! )?;
//! // "v10" + AES-128-CBC under PBKDF2("peanuts") of "s3cret" (Chromium without a keyring).
//! let json = br#"{"credentials": {"github.token": "plain:6768705f78",
//!                  "postgresql.password": "enc:76313047e3b59be395f78fb44fb1b4d7ff06dc"}}"#;
//! let file = credentials_json::parse(json)?;
//! // Linux values; no OS keyring needed for v10 (a v11 value would need one,
//! // or the password given in KeyOptions::password).
//! let mut keys = SafeStorage::new(KeyOptions {
//!     platform: Platform::Linux,
//!     os_keychain: false,
//!     ..KeyOptions::new("claude-pilot")
//! });
//! let plan = ImportPlan::new(&file, &vault, &mut keys, ImportOptions::default())?;
//! assert!(plan.is_complete());
//! plan.commit(&mut vault)?;
//! plan.verify(&mut vault)?;
//! # Ok(()) }
//! ```

pub mod credentials_json;
#[cfg(windows)]
mod dpapi;
pub mod file;
pub mod import;
pub mod keys;
#[cfg(all(target_os = "macos", feature = "keychain"))]
mod macos;
pub mod migrate;
pub mod oscrypt;
#[cfg(all(target_os = "linux", feature = "keychain"))]
pub mod secret_service;

pub use credentials_json::{LegacyEntry, LegacyFile, LegacyValue};
pub use file::LegacyIoError;
pub use import::{Counts, ImportOptions, ImportPlan, Item, Status, VerifyError};
pub use keys::{DecryptError, KeyOptions, Platform, SafeStorage, DEFAULT_APP_NAME};
pub use migrate::{LegacySource, MigrateError, Migrated, Migration};
pub use oscrypt::SafeStoragePassword;

/// The vectors of `spec/legacy/oscrypt-blobs.json` (made by a real
/// Chromium, see `spec/legacy/make-oscrypt-blobs.sh`), for unit tests.
#[cfg(test)]
pub(crate) mod test_vectors {
    pub struct Vector {
        pub keyring: String,
        pub name: String,
        pub blob: String,
        pub plaintext: String,
        pub plaintext_hex: String,
    }

    pub struct Keyring {
        pub made_by: String,
        pub prefix: String,
        pub password: String,
        pub iterations: u32,
    }

    pub struct Doc {
        pub keyrings: Vec<(String, Keyring)>,
        pub vectors: Vec<Vector>,
    }

    impl Doc {
        pub fn keyring(&self, name: &str) -> &Keyring {
            &self
                .keyrings
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no keyring {name}"))
                .1
        }
    }

    pub fn vectors() -> Doc {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../spec/legacy/oscrypt-blobs.json")).unwrap();
        let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_owned();
        let keyrings = doc["keyrings"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, k)| {
                (
                    name.clone(),
                    Keyring {
                        made_by: s(k, "made_by"),
                        prefix: s(k, "prefix"),
                        password: s(k, "password"),
                        iterations: k["iterations"].as_u64().unwrap() as u32,
                    },
                )
            })
            .collect();
        let vectors = doc["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Vector {
                keyring: s(v, "keyring"),
                name: s(v, "name"),
                blob: s(v, "blob"),
                plaintext: s(v, "plaintext"),
                plaintext_hex: s(v, "plaintext_hex"),
            })
            .collect();
        Doc { keyrings, vectors }
    }
}
