//! A facade with the desktop app's credential service API (DESIGN.md §1),
//! so the app can swap its `credentials.json` service for a vault method
//! for method (feature `legacy`).
//!
//! | the app (TypeScript) | credvault | notes |
//! |---|---|---|
//! | `store(key, value)` | [`CredentialService::store`] | value as text or bytes |
//! | `retrieve(key) -> string \| null` | [`CredentialService::retrieve`] | `Ok(None)` for null |
//! | `delete(key)` | [`CredentialService::delete`] | `Ok(false)` when absent |
//! | `has(key)` | [`CredentialService::has`] | |
//! | `list() -> string[]` | [`CredentialService::list`] | sorted |
//! | `isEncryptionAvailable()` | [`CredentialService::is_encryption_available`] | always `true`: a vault has no plaintext mode |
//! | `migrateFromEnv({ENV_VAR: key})` | [`CredentialService::migrate_from_env`] | one save; reports each variable |
//! | `getWithFallback(key, ENV_VAR)` | [`CredentialService::get_with_fallback`] | vault → environment → legacy config file; says which answered |
//!
//! Keys follow credvault's grammar (dot-separated segments of `A-Z a-z 0-9
//! _ -`), which the app's `<service>.<credential-type>` keys satisfy.
//!
//! Reads ([`retrieve`](CredentialService::retrieve),
//! [`has`](CredentialService::has), [`list`](CredentialService::list),
//! [`get_with_fallback`](CredentialService::get_with_fallback)) first check
//! whether the vault file changed ([`CredentialService::refresh`]: a `stat`,
//! and a reload only after another process's save), so they see what other
//! processes saved, as the app's file-backed service did; writes always
//! re-read under the lock. [`CredentialService::open`] opens or creates the
//! vault as the CLI does, and [`CredentialService::audited`] writes the CLI's
//! audit line of an operation (module `app`, used by the Node module).
//!
//! The building blocks are free functions too ([`get_with_fallback`],
//! [`migrate_from_env`], [`legacy_config_value`]), for callers that hold a
//! [`Vault`] themselves or have none (the fallback chain skips a missing
//! vault).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::SecretValue;
use crate::format::{KeyName, NameError};
use crate::legacy::credentials_json::{self, LegacyValue};
use crate::legacy::{file, KeyOptions, LegacyIoError, SafeStorage};
use crate::vault::{SetOptions, Vault, VaultError};

mod app;
#[cfg(feature = "audit")]
pub mod audit_env;
mod kind;
pub use app::{
    backends, default_credentials_path, default_vault_path, LegacyImport, LegacyItem, LegacyReport,
    Opened, ServiceOptions, Status, StatusSlot, ENV_VAULT, KEYCHAIN_ONLY,
};
#[cfg(feature = "audit")]
pub use audit_env::{AuditMode, AuditSettings};
pub use kind::{vault_error_kind, ErrorKind};

/// The environment variables the app used before it had a credential
/// store, and the keys they belong under: the default of
/// `credvault migrate-env`.
pub const DEFAULT_ENV_MAP: [(&str, &str); 6] = [
    ("PGPASSWORD", "postgresql.password"),
    ("ANTHROPIC_API_KEY", "anthropic.apiKey"),
    ("OPENAI_API_KEY", "openai.apiKey"),
    ("GITHUB_TOKEN", "github.token"),
    ("QDRANT_API_KEY", "qdrant.apiKey"),
    ("MEMGRAPH_PASSWORD", "memgraph.password"),
];

/// Largest legacy config file read (1 MiB).
pub const MAX_CONFIG_LEN: u64 = 1024 * 1024;

/// Errors of the facade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A key that is not a valid credvault key name.
    #[error("invalid key name: {0}")]
    InvalidName(#[from] NameError),
    /// The legacy config file could not be read.
    #[error("legacy config: {0}")]
    ConfigIo(#[from] LegacyIoError),
    /// The `pass` step of [`get_with_pass_fallback`], or a sync, failed.
    #[cfg(feature = "pass")]
    #[error("pass: {0}")]
    Pass(#[from] crate::pass::PassError),
    /// An OAuth token operation failed.
    #[cfg(feature = "oauth")]
    #[error(transparent)]
    OAuth(#[from] crate::oauth::OAuthError),
    /// The legacy config file, or the value in it, is not usable.
    #[error("legacy config {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why (never the value).
        reason: String,
    },
    /// Invalid arguments (the CLI's `usage`).
    #[error("{0}")]
    Usage(String),
    /// An import's re-read did not hold what was imported; the legacy
    /// file was left alone.
    #[error("verification failed: {0}; the legacy file was left alone")]
    Verify(crate::legacy::VerifyError),
    /// The audit log could not be written under `CREDVAULT_AUDIT=required`.
    #[cfg(feature = "audit")]
    #[error("{0}")]
    Audit(crate::audit::AuditError),
}

/// Which link of the fallback chain answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The vault.
    Vault,
    /// This environment variable.
    Environment(String),
    /// This legacy config file.
    LegacyConfig(PathBuf),
    /// This entry of the `pass` password store (feature `pass`).
    Pass(String),
}

impl Source {
    /// "vault", "environment" or "config".
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Vault => "vault",
            Source::Environment(_) => "environment",
            Source::LegacyConfig(_) => "config",
            Source::Pass(_) => "pass",
        }
    }
}

/// A value and where it came from.
pub struct Found {
    /// The value.
    pub value: SecretValue,
    /// Its source.
    pub source: Source,
}

/// What happened to one variable of [`migrate_from_env`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvStatus {
    /// Copied into the vault.
    Moved,
    /// The vault already holds the same value.
    Unchanged,
    /// The vault holds a different value, which is kept.
    Kept,
    /// The variable is not set (or empty).
    Unset,
    /// Not usable (invalid key name, not Unicode on Windows, too large).
    Failed,
}

impl EnvStatus {
    /// "moved", "unchanged", "kept", "unset" or "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            EnvStatus::Moved => "moved",
            EnvStatus::Unchanged => "unchanged",
            EnvStatus::Kept => "kept",
            EnvStatus::Unset => "unset",
            EnvStatus::Failed => "failed",
        }
    }
}

/// One variable of [`migrate_from_env`]. Never holds the value.
#[derive(Debug, Clone)]
pub struct EnvItem {
    /// The variable.
    pub var: String,
    /// The vault key.
    pub key: String,
    /// What happened.
    pub status: EnvStatus,
    /// Why it failed or was kept.
    pub reason: Option<String>,
}

/// Copies the set variables of `map` (`(VAR, key)` pairs) into `vault` in
/// one save, reading them through `env`. An empty variable counts as
/// unset (as the app's truthiness check did). A different value already in
/// the vault is kept unless `overwrite`. The save happens only if
/// something moved.
pub fn migrate_from_env(
    vault: &mut Vault,
    map: &[(String, String)],
    env: &dyn Fn(&str) -> Option<OsString>,
    overwrite: bool,
) -> Result<Vec<EnvItem>, VaultError> {
    let mut items = Vec::with_capacity(map.len());
    let mut to_store: Vec<(KeyName, SecretValue)> = Vec::new();
    for (var, key) in map {
        let mut item = EnvItem {
            var: var.clone(),
            key: key.clone(),
            status: EnvStatus::Failed,
            reason: None,
        };
        let name = match KeyName::new(key) {
            Ok(n) => n,
            Err(e) => {
                item.reason = Some(format!("invalid key name: {e}"));
                items.push(item);
                continue;
            }
        };
        let value = match env(var).filter(|v| !v.is_empty()).map(os_bytes) {
            None => {
                item.status = EnvStatus::Unset;
                items.push(item);
                continue;
            }
            Some(Err(reason)) => {
                item.reason = Some(reason);
                items.push(item);
                continue;
            }
            Some(Ok(v)) => SecretValue::from(v),
        };
        item.status = match vault.get(&name)? {
            Some(old) if same(old.expose(), value.expose()) => EnvStatus::Unchanged,
            Some(_) if !overwrite => {
                item.reason = Some(
                    "the vault already holds a different value (kept; --overwrite replaces it)"
                        .to_owned(),
                );
                EnvStatus::Kept
            }
            _ => {
                to_store.push((name, value));
                EnvStatus::Moved
            }
        };
        items.push(item);
    }
    if !to_store.is_empty() {
        let mut tx = vault.transaction();
        for (name, value) in &to_store {
            tx.set(name, value, SetOptions::default())?;
        }
        tx.commit()?;
    }
    Ok(items)
}

/// The value of `key`: from `vault` if it has it, else from the
/// environment variable `env_var` (if given, set and non-empty, read
/// through `env`), else from the legacy config file (if given; see
/// [`legacy_config_value`]). `Ok(None)` when no link has it. `vault` may be
/// `None` (no vault yet): the chain starts at the environment.
pub fn get_with_fallback(
    vault: Option<&Vault>,
    key: &KeyName,
    env_var: Option<&str>,
    env: &dyn Fn(&str) -> Option<OsString>,
    legacy_config: Option<&Path>,
    keys: &mut SafeStorage,
) -> Result<Option<Found>, ServiceError> {
    if let Some(vault) = vault {
        if let Some(value) = vault.get(key)? {
            return Ok(Some(Found {
                value,
                source: Source::Vault,
            }));
        }
    }
    if let Some(var) = env_var {
        if let Some(raw) = env(var).filter(|v| !v.is_empty()) {
            // A variable that is not Unicode (Windows only) is skipped.
            if let Ok(bytes) = os_bytes(raw) {
                return Ok(Some(Found {
                    value: SecretValue::from(bytes),
                    source: Source::Environment(var.to_owned()),
                }));
            }
        }
    }
    if let Some(path) = legacy_config {
        if let Some(value) = legacy_config_value(path, key, keys)? {
            return Ok(Some(Found {
                value,
                source: Source::LegacyConfig(path.to_owned()),
            }));
        }
    }
    Ok(None)
}

/// [`get_with_fallback`] with a `pass` step after the vault: the vault,
/// then the pass entry of `key` under the prefix (`claude/github/token` for
/// `github.token`), then the environment variable, then the legacy config
/// file. `pass` `None` skips the pass step; a store that is not
/// initialised is skipped too. A pass entry that exists but cannot be
/// decrypted is an error, not a fall-through.
#[cfg(feature = "pass")]
pub fn get_with_pass_fallback(
    vault: Option<&Vault>,
    key: &KeyName,
    pass: Option<(&crate::pass::PassBackend, &crate::pass::Prefix)>,
    env_var: Option<&str>,
    env: &dyn Fn(&str) -> Option<OsString>,
    legacy_config: Option<&Path>,
    keys: &mut SafeStorage,
) -> Result<Option<Found>, ServiceError> {
    if let Some(vault) = vault {
        if let Some(value) = vault.get(key)? {
            return Ok(Some(Found {
                value,
                source: Source::Vault,
            }));
        }
    }
    if let Some((backend, prefix)) = pass {
        if backend.is_initialised() {
            let name = prefix.pass_name(key);
            if let Some(value) = backend.get(&name)? {
                return Ok(Some(Found {
                    value,
                    source: Source::Pass(name),
                }));
            }
        }
    }
    get_with_fallback(None, key, env_var, env, legacy_config, keys)
}

/// The value of `key` in a legacy config file: a JSON object where it is
/// found as, in this order,
///
/// 1. `credentials.<key>` of the app's `credentials.json` shape, a
///    `plain:` or `enc:` value (decrypted with `keys`);
/// 2. a top-level member named `key` (`{"postgresql.password": "..."}`);
/// 3. the dotted path (`{"postgresql": {"password": "..."}}`).
///
/// The value must be a JSON string (used as is). `Ok(None)` when absent.
/// The file is read into a zeroized buffer, but the JSON parser's own
/// copies of its strings are not zeroized (best effort, as for any
/// plaintext config file).
pub fn legacy_config_value(
    path: &Path,
    key: &KeyName,
    keys: &mut SafeStorage,
) -> Result<Option<SecretValue>, ServiceError> {
    let bad = |reason: String| ServiceError::Config {
        path: path.to_owned(),
        reason,
    };
    let bytes = file::read(path, MAX_CONFIG_LEN)?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not valid JSON (at line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !doc.is_object() {
        return Err(bad("not a JSON object".to_owned()));
    }
    let key = key.as_str();
    if let Some(v) = doc.get("credentials").and_then(|c| c.get(key)) {
        let text = v
            .as_str()
            .ok_or_else(|| bad(format!("credentials.{key} is not a string")))?;
        let value = credentials_json::decode(Zeroizing::new(text.to_owned()))
            .map_err(|e| bad(format!("credentials.{key}: {e}")))?;
        return match value {
            LegacyValue::Plain(v) => Ok(Some(v)),
            LegacyValue::Encrypted(blob) => keys
                .decrypt(&blob)
                .map(|d| Some(SecretValue::from(d.plaintext)))
                .map_err(|e| bad(format!("credentials.{key}: {e}"))),
        };
    }
    let found = doc.get(key).or_else(|| {
        key.split('.')
            .try_fold(&doc, |node, segment| node.get(segment))
    });
    match found {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(SecretValue::new(s.as_bytes().to_vec()))),
        Some(_) => Err(bad(format!("{key} is not a string"))),
    }
}

/// The app's credential service over a vault. See the module docs for the
/// name mapping.
pub struct CredentialService {
    vault: Vault,
    legacy_config: Option<PathBuf>,
    keys: SafeStorage,
    /// The legacy app's name (for [`CredentialService::import_legacy`]).
    app_name: String,
    /// Whether the OS keyring may be asked (safeStorage passwords).
    os_keychain: bool,
    /// The vault file's identity when last checked ([`CredentialService::refresh`]).
    seen: Option<app::Stamp>,
    /// What [`CredentialService::open`] was given, to unlock the vault anew
    /// when another process re-keyed or restored it (its passphrase, if
    /// any, zeroized with the handle).
    reopen: Option<app::ServiceOptions>,
    #[cfg(feature = "audit")]
    audit: Option<app::Audit>,
}

impl std::fmt::Debug for CredentialService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialService")
            .field("vault", &self.vault)
            .field("legacy_config", &self.legacy_config)
            .finish_non_exhaustive()
    }
}

impl CredentialService {
    /// The service over an open vault.
    pub fn new(vault: Vault) -> CredentialService {
        CredentialService {
            vault,
            legacy_config: None,
            keys: SafeStorage::new(KeyOptions::default()),
            app_name: crate::legacy::DEFAULT_APP_NAME.to_owned(),
            os_keychain: true,
            seen: None,
            reopen: None,
            #[cfg(feature = "audit")]
            audit: None,
        }
    }

    /// Sets the legacy config file consulted last by
    /// [`get_with_fallback`](CredentialService::get_with_fallback), and how
    /// `enc:` values in it are decrypted.
    pub fn with_legacy_config(mut self, path: &Path, keys: KeyOptions) -> CredentialService {
        self.legacy_config = Some(path.to_owned());
        self.keys = SafeStorage::new(keys);
        self
    }

    /// Sets the legacy config file consulted last by
    /// [`get_with_fallback`](CredentialService::get_with_fallback), or none,
    /// keeping how `enc:` values are decrypted.
    pub fn set_legacy_config(&mut self, path: Option<&Path>) {
        self.legacy_config = path.map(Path::to_owned);
    }

    /// The vault.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The vault, for operations beyond the app's API.
    pub fn vault_mut(&mut self) -> &mut Vault {
        &mut self.vault
    }

    /// `store(key, value)`: stores and saves.
    pub fn store(&mut self, key: &str, value: impl AsRef<[u8]>) -> Result<(), ServiceError> {
        let name = KeyName::new(key)?;
        self.vault
            .set(&name, &SecretValue::new(value.as_ref().to_vec()))?;
        Ok(())
    }

    /// `retrieve(key)`: the value, or `None` (the app's `null`).
    pub fn retrieve(&mut self, key: &str) -> Result<Option<SecretValue>, ServiceError> {
        let name = KeyName::new(key)?;
        self.refresh()?;
        Ok(self.vault.get(&name)?)
    }

    /// `delete(key)`: `true` if something was deleted.
    pub fn delete(&mut self, key: &str) -> Result<bool, ServiceError> {
        let name = KeyName::new(key)?;
        Ok(self.vault.delete(&name)?)
    }

    /// `has(key)`.
    pub fn has(&mut self, key: &str) -> Result<bool, ServiceError> {
        let name = KeyName::new(key)?;
        self.refresh()?;
        Ok(self.vault.has(&name))
    }

    /// `list()`: every key, sorted.
    pub fn list(&mut self) -> Result<Vec<String>, ServiceError> {
        self.list_prefix(None)
    }

    /// `list(prefix)`: the keys starting with `prefix` (all with `None`),
    /// sorted.
    pub fn list_prefix(&mut self, prefix: Option<&str>) -> Result<Vec<String>, ServiceError> {
        self.refresh()?;
        Ok(self
            .vault
            .list(prefix)
            .into_iter()
            .map(|k| k.as_str().to_owned())
            .collect())
    }

    /// `isEncryptionAvailable()`: always `true`. The app's answer depended
    /// on an OS keyring and meant "values are not stored as plaintext";
    /// a vault is always encrypted.
    pub fn is_encryption_available(&self) -> bool {
        self.vault.is_encryption_available()
    }

    /// `migrateFromEnv({ENV_VAR: key})`: copies the set variables into the
    /// vault in one save (see [`migrate_from_env`]); a different value
    /// already stored is kept.
    pub fn migrate_from_env(&mut self, map: &[(&str, &str)]) -> Result<Vec<EnvItem>, ServiceError> {
        let map: Vec<(String, String)> = map
            .iter()
            .map(|(v, k)| ((*v).to_owned(), (*k).to_owned()))
            .collect();
        self.refresh()?;
        Ok(migrate_from_env(
            &mut self.vault,
            &map,
            &|var| std::env::var_os(var),
            false,
        )?)
    }

    /// `getWithFallback(key, ENV_VAR)`: vault, then the environment
    /// variable, then the legacy config file (if set); says which answered.
    pub fn get_with_fallback(
        &mut self,
        key: &str,
        env_var: &str,
    ) -> Result<Option<Found>, ServiceError> {
        self.get_with_fallback_opt(key, Some(env_var))
    }

    /// [`get_with_fallback`](CredentialService::get_with_fallback) with
    /// the environment variable optional.
    pub fn get_with_fallback_opt(
        &mut self,
        key: &str,
        env_var: Option<&str>,
    ) -> Result<Option<Found>, ServiceError> {
        let name = KeyName::new(key)?;
        self.refresh()?;
        get_with_fallback(
            Some(&self.vault),
            &name,
            env_var,
            &|var| std::env::var_os(var),
            self.legacy_config.as_deref(),
            &mut self.keys,
        )
    }
}

#[cfg(unix)]
fn os_bytes(value: OsString) -> Result<Zeroizing<Vec<u8>>, String> {
    use std::os::unix::ffi::OsStringExt;
    Ok(Zeroizing::new(value.into_vec()))
}

#[cfg(not(unix))]
fn os_bytes(value: OsString) -> Result<Zeroizing<Vec<u8>>, String> {
    value
        .into_string()
        .map(|s| Zeroizing::new(s.into_bytes()))
        .map_err(|_| "the variable's value is not valid Unicode".to_owned())
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::Platform;
    use crate::testing::key;
    use crate::{KdfParams, NewSlot, Passphrase};
    use std::collections::HashMap;

    fn vault(dir: &tempfile::TempDir) -> Vault {
        let kdf = KdfParams::new(8 * 1024, 1, 1).unwrap();
        Vault::create(
            &dir.path().join("v.cvault"),
            NewSlot::Passphrase(&Passphrase::from("pw"), kdf),
        )
        .unwrap()
    }

    fn keys() -> SafeStorage {
        SafeStorage::new(KeyOptions {
            platform: Platform::Linux,
            os_keychain: false,
            ..KeyOptions::default()
        })
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn facade_round_trip_with_the_apps_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = CredentialService::new(vault(&dir));
        assert!(s.is_encryption_available());
        s.store("postgresql.password", "pg").unwrap();
        s.store("github.token", b"gh").unwrap();
        assert_eq!(
            s.retrieve("postgresql.password").unwrap().unwrap().expose(),
            b"pg"
        );
        assert!(s.retrieve("nope").unwrap().is_none());
        assert!(s.has("github.token").unwrap());
        assert_eq!(s.list().unwrap(), ["github.token", "postgresql.password"]);
        assert!(s.delete("github.token").unwrap());
        assert!(!s.delete("github.token").unwrap());
        assert!(matches!(
            s.store("bad key", "x"),
            Err(ServiceError::InvalidName(_))
        ));
        // Another handle's save is seen by the next read.
        let mut other = Vault::open(
            s.vault().path(),
            &mut crate::PassphraseUnlocker::new(Passphrase::from("pw")),
        )
        .unwrap();
        other
            .set(&key("openai.apiKey"), &SecretValue::from("sk"))
            .unwrap();
        assert_eq!(
            s.retrieve("openai.apiKey").unwrap().unwrap().expose(),
            b"sk"
        );
    }

    #[test]
    fn migrate_from_env_moves_set_variables_in_one_save() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(&dir);
        v.set(&key("github.token"), &SecretValue::from("vault-wins"))
            .unwrap();
        v.set(&key("qdrant.apiKey"), &SecretValue::from("same"))
            .unwrap();
        let before = v.header().save_counter;
        let map: Vec<(String, String)> = DEFAULT_ENV_MAP
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .chain([("X".to_owned(), "bad key".to_owned())])
            .collect();
        let env = env(&[
            ("PGPASSWORD", "pg"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("OPENAI_API_KEY", ""),
            ("GITHUB_TOKEN", "env-token"),
            ("QDRANT_API_KEY", "same"),
            ("X", "x"),
        ]);
        let items = migrate_from_env(&mut v, &map, &env, false).unwrap();
        let status: Vec<_> = items.iter().map(|i| (i.var.as_str(), i.status)).collect();
        assert_eq!(
            status,
            [
                ("PGPASSWORD", EnvStatus::Moved),
                ("ANTHROPIC_API_KEY", EnvStatus::Moved),
                ("OPENAI_API_KEY", EnvStatus::Unset),
                ("GITHUB_TOKEN", EnvStatus::Kept),
                ("QDRANT_API_KEY", EnvStatus::Unchanged),
                ("MEMGRAPH_PASSWORD", EnvStatus::Unset),
                ("X", EnvStatus::Failed),
            ]
        );
        assert_eq!(v.header().save_counter, before + 1, "one save");
        assert_eq!(
            v.get(&key("postgresql.password"))
                .unwrap()
                .unwrap()
                .expose(),
            b"pg"
        );
        assert_eq!(
            v.get(&key("github.token")).unwrap().unwrap().expose(),
            b"vault-wins"
        );
        // Overwrite replaces; a second run changes nothing.
        migrate_from_env(&mut v, &map, &env, true).unwrap();
        assert_eq!(
            v.get(&key("github.token")).unwrap().unwrap().expose(),
            b"env-token"
        );
        let counter = v.header().save_counter;
        let again = migrate_from_env(&mut v, &map, &env, false).unwrap();
        assert!(again.iter().all(|i| i.status != EnvStatus::Moved));
        assert_eq!(v.header().save_counter, counter);
    }

    #[test]
    fn fallback_chain_order_and_sources() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(&dir);
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            br#"{"credentials": {"github.token": "plain:66726f6d2d63726564656e7469616c73",
                                 "openai.apiKey": "enc:76313047e3b59be395f78fb44fb1b4d7ff06dc"},
                 "anthropic.apiKey": "flat",
                 "postgresql": {"password": "nested", "port": 5432}}"#,
        )
        .unwrap();
        let env = env(&[("PGPASSWORD", "from-env")]);
        let mut keys = keys();
        let mut get = |v: Option<&Vault>, k: &str, var: Option<&str>, cfg: Option<&Path>| {
            get_with_fallback(v, &key(k), var, &env, cfg, &mut keys)
                .map(|f| f.map(|f| (f.value.expose().to_vec(), f.source.kind())))
        };
        // Environment before config; config when the variable is unset.
        assert_eq!(
            get(
                Some(&v),
                "postgresql.password",
                Some("PGPASSWORD"),
                Some(&config)
            )
            .unwrap(),
            Some((b"from-env".to_vec(), "environment"))
        );
        assert_eq!(
            get(
                Some(&v),
                "postgresql.password",
                Some("UNSET"),
                Some(&config)
            )
            .unwrap(),
            Some((b"nested".to_vec(), "config"))
        );
        assert_eq!(
            get(None, "github.token", None, Some(&config)).unwrap(),
            Some((b"from-credentials".to_vec(), "config"))
        );
        assert_eq!(
            get(None, "openai.apiKey", None, Some(&config)).unwrap(),
            Some((b"s3cret".to_vec(), "config"))
        );
        assert_eq!(
            get(None, "anthropic.apiKey", None, Some(&config)).unwrap(),
            Some((b"flat".to_vec(), "config"))
        );
        assert!(matches!(
            get(None, "postgresql.port", None, Some(&config)),
            Err(ServiceError::Config { .. })
        ));
        assert_eq!(
            get(Some(&v), "qdrant.apiKey", Some("UNSET"), Some(&config)).unwrap(),
            None
        );
        // The vault first.
        v.set(&key("postgresql.password"), &SecretValue::from("vault"))
            .unwrap();
        assert_eq!(
            get(
                Some(&v),
                "postgresql.password",
                Some("PGPASSWORD"),
                Some(&config)
            )
            .unwrap(),
            Some((b"vault".to_vec(), "vault"))
        );
        // A missing config file is an error, not "absent".
        assert!(matches!(
            get(None, "x.y", None, Some(&dir.path().join("missing.json"))),
            Err(ServiceError::ConfigIo(LegacyIoError::NotFound(_)))
        ));
    }
}
