//! The whole `import-legacy` operation, shared by every face (the CLI's
//! `import-legacy`, the service's and the Node module's `importLegacy`):
//! read the app's `credentials.json` and remember exactly what was read,
//! plan against the vault, save once, re-read and verify, and remove the
//! legacy file only after a complete, verified import and only while it is
//! still the file that was read (issue 13).
//!
//! It comes in two steps, so a face can report a missing or malformed file
//! before it unlocks the vault (no prompt for nothing):
//! [`LegacySource::read`], then [`LegacySource::import_into`].

use std::path::{Path, PathBuf};

use crate::vault::{Vault, VaultError};

use super::credentials_json::{self, LegacyFile, LegacyFileError};
use super::file::{self, Identity, LegacyIoError};
use super::{ImportOptions, ImportPlan, KeyOptions, SafeStorage, VerifyError};

/// The `<config dir>/<app>/credentials.json` of the app named `app_name`
/// (Electron's userData directory: `~/.config/<app>` on Linux,
/// `~/Library/Application Support/<app>` on macOS, `%APPDATA%\<app>` on
/// Windows); `None` without a home directory.
pub fn default_credentials_path(app_name: &str) -> Option<PathBuf> {
    directories::BaseDirs::new()
        .map(|dirs| dirs.config_dir().join(app_name).join("credentials.json"))
}

/// A legacy `credentials.json` read and parsed, with the identity of the
/// exact file read. Holds no decrypted value (values are decrypted by
/// [`LegacySource::import_into`]).
pub struct LegacySource {
    path: PathBuf,
    file: LegacyFile,
    identity: Identity,
}

/// Why [`LegacySource::read`] failed; nothing was imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read (missing, too large, permission).
    #[error(transparent)]
    Io(#[from] LegacyIoError),
    /// The file is not the app's credentials.json.
    #[error(transparent)]
    Malformed(#[from] LegacyFileError),
}

/// How [`LegacySource::import_into`] imports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migration {
    /// Report only; change nothing.
    pub dry_run: bool,
    /// Replace different values already in the vault.
    pub overwrite: bool,
    /// Remove the legacy file after a complete, verified import.
    pub remove_legacy: bool,
}

/// What [`LegacySource::import_into`] did.
#[derive(Debug)]
pub struct Migrated {
    /// Every key, with its status (never a value).
    pub plan: ImportPlan,
    /// Whether the vault was re-read and held every imported value.
    pub verified: bool,
    /// Whether the legacy file was removed (overwritten, then deleted).
    pub removed: bool,
}

/// Why [`LegacySource::import_into`] stopped. Each variant says how far it
/// got: nothing saved ([`MigrateError::Vault`] while planning or saving),
/// saved but not verified ([`MigrateError::Verify`]: the legacy file was
/// left alone), or saved and verified but the legacy file not removed
/// ([`MigrateError::Remove`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The vault could not be read or saved.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The re-read vault does not hold what was imported.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Imported and verified, but the legacy file could not be removed:
    /// [`LegacyIoError::Changed`] when the app saved it meanwhile.
    #[error(transparent)]
    Remove(LegacyIoError),
}

impl LegacySource {
    /// Reads and parses the legacy file at `path` (at most
    /// [`credentials_json::MAX_FILE_LEN`] bytes), remembering exactly what
    /// was read.
    pub fn read(path: &Path) -> Result<LegacySource, ReadError> {
        let (bytes, identity) = file::read_identified(path, credentials_json::MAX_FILE_LEN)?;
        let file = credentials_json::parse(&bytes)?;
        drop(bytes);
        Ok(LegacySource {
            path: path.to_owned(),
            file,
            identity,
        })
    }

    /// The legacy file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `Local State` file beside the legacy file, where Chromium keeps
    /// the Windows key (the default of [`KeyOptions::local_state`]).
    pub fn local_state(&self) -> Option<PathBuf> {
        self.path.parent().map(|dir| dir.join("Local State"))
    }

    /// Imports into `vault` with the safeStorage keys of `keys`: plans
    /// against the vault, then (unless `dry_run`) saves once, re-reads and
    /// verifies, and with `remove_legacy` removes the legacy file if the
    /// import was complete and the file is still the one read. Per-key
    /// failures are items of the plan, not errors.
    pub fn import_into(
        &self,
        vault: &mut Vault,
        keys: KeyOptions,
        how: Migration,
    ) -> Result<Migrated, MigrateError> {
        let mut keys = SafeStorage::new(keys);
        let plan = ImportPlan::new(
            &self.file,
            vault,
            &mut keys,
            ImportOptions {
                overwrite: how.overwrite,
            },
        )?;
        let mut verified = false;
        let mut removed = false;
        if !how.dry_run {
            plan.commit(vault)?;
            plan.verify(vault)?;
            verified = true;
            if how.remove_legacy && plan.is_complete() {
                file::remove_if_unchanged(&self.path, &self.identity)
                    .map_err(MigrateError::Remove)?;
                removed = true;
            }
        }
        Ok(Migrated {
            plan,
            verified,
            removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KdfParams, KeyName, NewSlot, Passphrase};

    fn vault(dir: &Path) -> Vault {
        let kdf = KdfParams::new(8 * 1024, 1, 1).unwrap();
        Vault::create(
            &dir.join("v.cvault"),
            NewSlot::Passphrase(&Passphrase::from("pw"), kdf),
        )
        .unwrap()
    }

    const JSON: &[u8] = br#"{"credentials": {"github.token": "plain:6768705f78"}}"#;

    fn keys() -> KeyOptions {
        KeyOptions {
            os_keychain: false,
            ..KeyOptions::default()
        }
    }

    #[test]
    fn imports_verifies_and_removes_the_file_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = vault(dir.path());
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, JSON).unwrap();
        let source = LegacySource::read(&path).unwrap();
        let how = Migration {
            remove_legacy: true,
            ..Migration::default()
        };
        let done = source.import_into(&mut vault, keys(), how).unwrap();
        assert!(done.verified && done.removed);
        assert_eq!(done.plan.counts().imported, 1);
        assert!(!path.exists());
        let name = KeyName::new("github.token").unwrap();
        assert_eq!(vault.get(&name).unwrap().unwrap().expose(), b"ghp_x");
    }

    #[test]
    fn keeps_a_file_the_app_changed_and_changes_nothing_in_a_dry_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = vault(dir.path());
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, JSON).unwrap();
        let source = LegacySource::read(&path).unwrap();
        let dry = Migration {
            dry_run: true,
            remove_legacy: true,
            ..Migration::default()
        };
        let done = source.import_into(&mut vault, keys(), dry).unwrap();
        assert!(!done.verified && !done.removed && vault.is_empty());
        // The app saves the file after it was read: it is not removed.
        std::fs::write(&path, br#"{"credentials": {}}"#).unwrap();
        let how = Migration {
            remove_legacy: true,
            ..Migration::default()
        };
        let err = source.import_into(&mut vault, keys(), how).unwrap_err();
        assert!(matches!(
            err,
            MigrateError::Remove(LegacyIoError::Changed { .. })
        ));
        assert!(path.exists());
        assert!(matches!(
            LegacySource::read(&dir.path().join("missing.json")),
            Err(ReadError::Io(LegacyIoError::NotFound(_)))
        ));
    }
}
