//! Where the vault is when no path is given, and the options the faces
//! open it with: one definition for the CLI and the Node module.

use std::path::{Path, PathBuf};

use crate::store;
use crate::vault::OpenOptions;

/// The environment variable naming the vault (DESIGN.md §3).
pub const ENV_VAULT: &str = "CREDVAULT_VAULT";

/// The default vault path: a non-empty `CREDVAULT_VAULT`, else
/// `$XDG_DATA_HOME/credvault/vault.cvault` (normally
/// `~/.local/share/credvault/vault.cvault`; the platform's data directory
/// elsewhere). `None` without a home directory (each face words that
/// error for its own options).
pub fn default_vault_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(ENV_VAULT).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    directories::BaseDirs::new().map(|dirs| dirs.data_dir().join("credvault").join("vault.cvault"))
}

/// `path` with its symlinks resolved (issue 13: the lock, generations,
/// backups and the audit log derive from the real file); `path` itself
/// when it cannot be resolved (no file yet).
pub fn resolve_vault_path(path: &Path) -> PathBuf {
    store::resolve(path).unwrap_or_else(|_| path.to_owned())
}

/// The engine options every face starts from: the defaults plus the
/// rollback marks under `$XDG_STATE_HOME/credvault/marks` (FORMAT.md
/// §9.2), so the CLI and the app guard the same vault alike.
pub fn face_open_options() -> OpenOptions {
    OpenOptions {
        rollback: store::marks::Marks::default_location(),
        ..OpenOptions::default()
    }
}
