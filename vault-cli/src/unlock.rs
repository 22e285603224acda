//! How the CLI unlocks and creates vaults: the resolved global options
//! ([`Context`]), a [`CliUnlocker`] that the library asks for credentials
//! (so a prompt only appears when a slot needs it), and the [`Backend`]
//! that protects a new vault.
//!
//! The OS keychain is not wired in yet. Adding it means: a
//! `Backend::Keychain` variant picked by [`Backend::choose`] when a keychain
//! is reachable and `--no-keychain` is absent, and a
//! [`CliUnlocker::keychain_key`] that looks the key up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use credvault::{OpenOptions, Passphrase, SecretKey, UnlockError, Unlocker, Vault, VaultError};

use crate::exit::CliError;
use crate::passphrase::{Confirm, Source};

/// The environment variable naming the vault.
pub const ENV_VAULT: &str = "CREDVAULT_VAULT";

/// What every command shares: the resolved global options.
pub struct Context {
    /// The vault path, or why it could not be determined.
    vault: Result<PathBuf, String>,
    /// Where a passphrase comes from.
    pub passphrase: Source,
    /// `--no-keychain`.
    pub no_keychain: bool,
    /// How long a save waits for the lock.
    pub lock_timeout: Duration,
}

impl Context {
    /// Resolves the global options.
    pub fn new(global: &crate::cli::GlobalArgs) -> Context {
        Context {
            vault: vault_path(global.vault.clone()),
            passphrase: Source::resolve(global.passphrase_file.clone()),
            no_keychain: global.no_keychain,
            lock_timeout: Duration::from_secs(global.lock_timeout),
        }
    }

    /// The vault path: `--vault`, else `CREDVAULT_VAULT`, else the XDG
    /// data directory.
    pub fn vault_path(&self) -> Result<&Path, CliError> {
        self.vault
            .as_deref()
            .map_err(|e| CliError::usage(e.clone()))
    }

    /// Options for the library.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            lock_timeout: self.lock_timeout,
            ..OpenOptions::default()
        }
    }

    /// Opens and unlocks the vault, asking for credentials only if a slot
    /// needs them.
    pub fn open(&self) -> Result<Vault, CliError> {
        let path = self.vault_path()?;
        let mut unlocker = CliUnlocker::new(self);
        match Vault::open_with(path, &mut unlocker, self.open_options()) {
            Ok(vault) => Ok(vault),
            // A credential source that failed explains more than the
            // library's "no credential available".
            Err(e) => match (e, unlocker.failure.take()) {
                (VaultError::Unlock(UnlockError::NoCredentials { .. }), Some(failure)) => {
                    Err(failure)
                }
                (e, _) => Err(e.into()),
            },
        }
    }
}

/// `--vault`, else a non-empty `CREDVAULT_VAULT`, else
/// `$XDG_DATA_HOME/credvault/vault.cvault` (`~/.local/share/...`).
fn vault_path(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = flag {
        return Ok(path);
    }
    if let Some(path) = std::env::var_os(ENV_VAULT).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    directories::BaseDirs::new()
        .map(|dirs| dirs.data_dir().join("credvault").join("vault.cvault"))
        .ok_or_else(|| {
            format!("cannot find a home directory for the default vault path; pass --vault PATH or set {ENV_VAULT}")
        })
}

/// Supplies credentials to the library from the CLI's sources. A failure
/// to read a source is kept and reported instead of the library's generic
/// "no credential".
pub struct CliUnlocker<'c> {
    context: &'c Context,
    failure: Option<CliError>,
}

impl<'c> CliUnlocker<'c> {
    /// An unlocker over the context's sources.
    pub fn new(context: &'c Context) -> Self {
        CliUnlocker {
            context,
            failure: None,
        }
    }
}

impl Unlocker for CliUnlocker<'_> {
    fn passphrase(&mut self) -> Option<Passphrase> {
        match self.context.passphrase.read(Confirm::Once) {
            Ok(p) => Some(p),
            Err(e) => {
                self.failure = Some(e);
                None
            }
        }
    }

    fn keychain_key(&mut self, _service: &str, _account: &str) -> Result<SecretKey, String> {
        if self.context.no_keychain {
            return Err("the OS keychain is disabled by --no-keychain".to_owned());
        }
        Err("this credvault has no OS keychain support yet".to_owned())
    }
}

/// What protects a new vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A passphrase slot (Argon2id).
    Passphrase,
}

impl Backend {
    /// The backend for `init`. Today always the passphrase; with keychain
    /// support, the keychain when reachable and not disabled.
    pub fn choose(_context: &Context) -> Backend {
        Backend::Passphrase
    }

    /// The name shown by `init` and `status`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Passphrase => "passphrase",
        }
    }
}
