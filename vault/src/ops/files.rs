//! The files around a vault, as the faces need them. Everything goes
//! through [`crate::store`]: symlinks refused, modes 0600/0700.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::merge::SyncTool;
use crate::store::{self, generations, StoreError};
use crate::vault::VaultError;

/// Whether a vault file exists at `path`.
pub fn vault_exists(path: &Path) -> Result<bool, VaultError> {
    Ok(store::exists(path)?)
}

/// Fails with [`StoreError::AlreadyExists`] when something is at `path`:
/// the early check of `init` and `export` (before any prompt or KDF; the
/// creation itself checks again atomically).
pub fn refuse_existing(path: &Path) -> Result<(), VaultError> {
    if store::exists(path)? {
        return Err(StoreError::AlreadyExists(path.to_owned()).into());
    }
    Ok(())
}

/// Writes `bytes` to a new file at `path` (mode 0600, its directory made
/// 0700 if missing, never replacing a file or following a symlink), made
/// durable: the export file.
pub fn write_new_private_file(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    store::ensure_dir(path)?;
    store::create_new(path, bytes)?;
    Ok(())
}

/// Creates a new, empty file at `path` (mode 0600, never through a
/// symlink) for the caller to write: a recovery code's file.
pub fn create_private_file(path: &Path) -> Result<File, VaultError> {
    Ok(store::create_private(path)?)
}

/// Warnings about loose modes of the vault file and its directory.
pub fn file_warnings(path: &Path) -> Vec<String> {
    store::mode_warnings(path)
}

/// Sync-folder conflict copies beside the vault (Syncthing, Dropbox,
/// Nextcloud), with the tool that made each; none when the directory
/// cannot be read.
pub fn conflict_copies(vault: &Path) -> Vec<(PathBuf, SyncTool)> {
    store::conflict_copies(vault).unwrap_or_default()
}

/// The sidecar lock file of the vault at `vault`.
pub fn lock_path(vault: &Path) -> PathBuf {
    store::lock_path(vault)
}

/// The kept generations of the vault (`VAULT.1` newest), as (k, path).
pub fn generations(vault: &Path) -> Vec<(usize, PathBuf)> {
    generations::list(vault)
}

/// The path of generation `k` of the vault, whether or not it exists.
pub fn generation_path(vault: &Path, k: usize) -> PathBuf {
    generations::path(vault, k)
}
