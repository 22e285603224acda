//! What a long-lived face (the Node/Electron module, `bindings/node`)
//! needs beyond the app's six methods: opening or creating the vault the
//! way the CLI does ([`CredentialService::open`]), a cheap check for
//! saves by other processes before every read ([`CredentialService::refresh`]),
//! the audit line of every operation, `status`, `import-legacy` and the
//! CLI's error kinds ([`ServiceError::kind`]).
//!
//! # Other processes
//!
//! A handle lives for hours while the CLI or another app instance saves.
//! Every save replaces the file by a rename (FORMAT.md §7), so the file's
//! identity (device, inode, size, modification and change times) changes
//! with every save. Before a read the handle compares that identity with
//! the one it last checked, a `stat` and nothing more. When it differs,
//! the file's header is read and compared with the handle's: the header
//! holds the save counter and a fresh random body nonce per save, so an
//! equal header means the same save (the handle's own, typically) and a
//! different one means a full reload. The identity is taken *before* the
//! file is read, so a save racing with the check costs at most one more
//! reload, never a missed one. Writes need none of this: they re-read the
//! file under the lock ([`Vault::set`]), so no write made elsewhere is lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crypto::kdf;
use crate::format::KdfParams;
use crate::legacy::migrate::ReadError;
use crate::legacy::{
    KeyOptions, LegacyIoError, LegacySource, MigrateError, Migrated, Migration, Platform,
    SafeStorage, SafeStoragePassword, VerifyError,
};
use crate::slots::RecoveryKey;
use crate::store::{self, StoreError};
use crate::vault::{NewSlot, OpenOptions, UnlockError, Vault, VaultError};
use crate::Passphrase;

use super::{CredentialService, ServiceError};

pub use crate::ops::ENV_VAULT;

/// The default vault path, the CLI's ([`crate::ops::default_vault_path`]):
/// a non-empty `CREDVAULT_VAULT`, else
/// `$XDG_DATA_HOME/credvault/vault.cvault`.
pub fn default_vault_path() -> Result<PathBuf, ServiceError> {
    crate::ops::default_vault_path().ok_or_else(|| {
            ServiceError::Usage(format!(
                "cannot find a home directory for the default vault path; give a path or set {ENV_VAULT}"
            ))
        })
}

/// The app's `credentials.json`: `<config dir>/<app>/credentials.json`
/// (Electron's userData directory: `~/.config/<app>` on Linux).
pub fn default_credentials_path(app_name: &str) -> Result<PathBuf, ServiceError> {
    crate::legacy::migrate::default_credentials_path(app_name).ok_or_else(|| {
        ServiceError::Usage(
            "cannot find a home directory for the default credentials.json; give its path"
                .to_owned(),
        )
    })
}

/// How [`CredentialService::open`] finds, unlocks or creates the vault.
pub struct ServiceOptions {
    /// The vault; `None`: [`default_vault_path`].
    pub path: Option<PathBuf>,
    /// A passphrase for passphrase slots (and the passphrase slot of a new
    /// vault). The handle keeps it (zeroized when it is dropped) to unlock
    /// the vault anew after another process re-keys it.
    pub passphrase: Option<Passphrase>,
    /// Whether the OS keychain may be used (keychain slots, and a keychain
    /// slot for a new vault).
    pub keychain: bool,
    /// Create the vault when there is none: a keychain slot when the
    /// keychain is usable (plus a passphrase slot if a passphrase is
    /// given), else a passphrase slot; and a recovery slot.
    pub create: bool,
    /// Argon2id parameters of a new passphrase slot; `None` calibrates on
    /// this machine toward 0.75 s, as `credvault init` does.
    pub kdf: Option<KdfParams>,
    /// The legacy app's name (`claude-pilot`): where its `credentials.json`
    /// and safeStorage password are.
    pub app_name: String,
    /// Engine options (lock timeout, generations, rollback marks). The
    /// default keeps the CLI's rollback marks (FORMAT.md §9.2), so the app
    /// and the CLI guard the same vault alike.
    pub open: OpenOptions,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            path: None,
            passphrase: None,
            keychain: true,
            create: false,
            kdf: None,
            app_name: crate::legacy::DEFAULT_APP_NAME.to_owned(),
            open: crate::ops::face_open_options(),
        }
    }
}

/// Supplies a passphrase, if one was given; nothing else.
struct Given(Option<Passphrase>);

impl crate::Unlocker for Given {
    fn passphrase(&mut self) -> Option<Passphrase> {
        self.0
            .as_ref()
            .map(|p| Passphrase::new(p.expose().to_vec()))
    }
}

/// The identity of the vault file as last checked (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Result<Stamp, StoreError> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(path.to_owned()),
            _ => StoreError::Io {
                op: "stat",
                path: path.to_owned(),
                source: e,
            },
        })?;
        #[cfg(unix)]
        let unix = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        };
        Ok(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            unix,
        })
    }
}

/// Audit settings from the environment, as the CLI's: `CREDVAULT_AUDIT`
/// (`on`, `off`, `required`), `CREDVAULT_AUDIT_LOG`,
/// `CREDVAULT_AUDIT_MAX_BYTES`.
#[cfg(feature = "audit")]
pub(super) struct Audit {
    log: crate::audit::AuditLog,
    key: crate::audit::AuditKey,
    required: bool,
    user: String,
}

/// The operations whose lines a long-lived service defers
/// ([`crate::audit::AuditLog::append_deferred`]): reads, the calls an app
/// makes most.
#[cfg(feature = "audit")]
const DEFERRED_OPS: [&str; 3] = ["retrieve", "has", "list"];

/// How long a read's line may wait before it is written.
#[cfg(feature = "audit")]
const READ_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

#[cfg(feature = "audit")]
impl Drop for Audit {
    fn drop(&mut self) {
        // The deferred lines of a closed or collected handle.
        let _ = self.log.flush();
    }
}

#[cfg(feature = "audit")]
impl Audit {
    fn from_env(vault: &Vault) -> Result<Option<Audit>, ServiceError> {
        use super::audit_env::{AuditMode, AuditSettings};
        let settings = AuditSettings::from_env().map_err(|e| ServiceError::Usage(e.to_string()))?;
        let required = match settings.mode {
            AuditMode::Off => return Ok(None),
            AuditMode::On => false,
            AuditMode::Required => true,
        };
        let log = settings.log_for(vault.path());
        // Reads are deferred (module docs of `crate::audit`, "Deferred
        // lines"), except when every line is required before the call
        // returns.
        let log = if required {
            log
        } else {
            log.with_deferred(READ_WINDOW)
        };
        if required {
            log.check_writable().map_err(ServiceError::Audit)?;
        }
        Ok(Some(Audit {
            log,
            key: crate::audit::AuditKey::for_vault(vault),
            required,
            user: crate::audit::user(),
        }))
    }
}

/// What [`CredentialService::open`] did.
pub struct Opened {
    /// The service.
    pub service: CredentialService,
    /// The recovery code of a vault this call created (shown once).
    pub recovery_code: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("service", &self.service)
            .field(
                "recovery_code",
                &self.recovery_code.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl CredentialService {
    /// Opens the vault of `options` (creating it when asked and absent),
    /// unlocking it as the CLI does: a session key cached by `credvault
    /// unlock`, then keychain slots (unless `options.keychain` is false),
    /// then passphrase slots. Audits as the CLI does (module docs of
    /// [`crate::audit`]; `CREDVAULT_AUDIT`, `CREDVAULT_AUDIT_LOG`).
    pub fn open(options: ServiceOptions) -> Result<Opened, ServiceError> {
        let path = match options.path.clone() {
            Some(p) => p,
            None => default_vault_path()?,
        };
        let mut recovery_code = None;
        let mut created = false;
        let vault = if options.create && !store::exists(&path)? {
            match create(&path, &options) {
                Ok((vault, code)) => {
                    recovery_code = Some(code);
                    created = true;
                    vault
                }
                // Another process created it meanwhile: open theirs.
                Err(ServiceError::Vault(VaultError::Store(StoreError::AlreadyExists(_)))) => {
                    open_existing(&path, &options)?
                }
                Err(e) => return Err(e),
            }
        } else {
            open_existing(&path, &options)?
        };
        let mut keys = KeyOptions::new(&options.app_name);
        keys.os_keychain = options.keychain;
        let mut service = CredentialService::new(vault);
        service.keys = SafeStorage::new(keys);
        service.app_name = options.app_name.clone();
        service.os_keychain = options.keychain;
        #[cfg(feature = "audit")]
        {
            service.audit = Audit::from_env(&service.vault)?;
        }
        if created {
            service.record::<()>("init", None, None, &Ok(()))?;
        }
        service.reopen = Some(options);
        Ok(Opened {
            service,
            recovery_code,
        })
    }

    /// Makes the next read see what other processes saved: a `stat`, and a
    /// reload only when the file changed (module docs).
    pub fn refresh(&mut self) -> Result<(), ServiceError> {
        let path = self.vault.path().to_owned();
        let now = Stamp::of(&path).map_err(VaultError::from)?;
        if self.seen.as_ref() == Some(&now) {
            return Ok(());
        }
        // A file that does not parse is not the handle's save: reload (and
        // report what the reload finds).
        let same = match crate::ops::peek(&path) {
            Ok(peeked) => peeked.header == *self.vault.header(),
            Err(crate::ops::PeekError::NotAVault { .. }) => false,
            Err(e) => return Err(VaultError::from(e).into()),
        };
        if !same {
            match self.vault.reload() {
                // Another process re-keyed the vault, or restored a copy
                // under another data key: unlock it anew with what this
                // handle was opened with (a revoked passphrase fails here,
                // as it should: `unlock`).
                Err(VaultError::KeyChanged) if self.reopen.is_some() => self.unlock_anew(&path)?,
                other => other?,
            }
        }
        self.seen = Some(now);
        Ok(())
    }

    /// [`CredentialService::refresh`] after a change of data key.
    fn unlock_anew(&mut self, path: &Path) -> Result<(), ServiceError> {
        let Some(options) = &self.reopen else {
            return Ok(());
        };
        let vault = open_existing(path, options)?;
        #[cfg(feature = "audit")]
        if let Some(audit) = &mut self.audit {
            // Deferred lines go out under the key they were recorded with.
            let _ = audit.log.flush();
            audit.key = crate::audit::AuditKey::for_vault(&vault);
        }
        self.vault = vault;
        Ok(())
    }

    /// Writes the audit lines this handle deferred (reads: module docs of
    /// [`crate::audit`], "Deferred lines") now, e.g. when the process is
    /// about to exit. Closing or dropping the handle does it too.
    pub fn flush_audit(&self) -> Result<(), ServiceError> {
        #[cfg(feature = "audit")]
        if let Some(audit) = &self.audit {
            audit.log.flush().map_err(ServiceError::Audit)?;
        }
        Ok(())
    }

    /// Runs `op` and appends its audit line (operation `name`, `key`,
    /// `prefix`; the failure's [`kind`](ServiceError::kind)). Under
    /// `CREDVAULT_AUDIT=required` a line that cannot be written fails the
    /// operation; otherwise it is dropped silently (the library prints
    /// nothing).
    pub fn audited<T>(
        &mut self,
        name: &str,
        key: Option<&str>,
        prefix: Option<&str>,
        op: impl FnOnce(&mut CredentialService) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let result = op(self);
        self.record(name, key, prefix, &result)?;
        result
    }

    #[cfg_attr(not(feature = "audit"), allow(unused_variables))]
    fn record<T>(
        &self,
        name: &str,
        key: Option<&str>,
        prefix: Option<&str>,
        result: &Result<T, ServiceError>,
    ) -> Result<(), ServiceError> {
        #[cfg(feature = "audit")]
        if let Some(audit) = &self.audit {
            let mut event = crate::audit::Event::new(name, audit.user.clone());
            event.key = key.map(str::to_owned);
            event.prefix = prefix.map(str::to_owned);
            if let Err(e) = result {
                event.outcome = crate::audit::Outcome::Failure;
                event.error = Some(e.kind().to_owned());
            }
            let written = if !audit.required && DEFERRED_OPS.contains(&name) {
                audit.log.append_deferred(event, &audit.key)
            } else {
                audit.log.append(&event, Some(&audit.key)).map(drop)
            };
            if let Err(e) = written {
                if audit.required && result.is_ok() {
                    return Err(ServiceError::Audit(e));
                }
            }
        }
        Ok(())
    }

    /// What `credvault --json status` shows of an unlocked vault, without
    /// asking the keychain anything more.
    pub fn status(&mut self) -> Result<Status, ServiceError> {
        self.refresh()?;
        let vault = &self.vault;
        let slots: Vec<StatusSlot> = vault
            .slots()
            .iter()
            .map(|s| StatusSlot {
                id: s.id,
                kind: s.type_name(),
                unlocked: s.id == vault.unlocked_by(),
            })
            .collect();
        let p = crate::ops::protection(
            vault.slots(),
            Some(crate::ops::UnlockedBy::of_vault(vault.unlocked_by())),
        );
        let mut warnings = Vec::new();
        if p.keychain_only {
            warnings.push(KEYCHAIN_ONLY.to_owned());
        }
        Ok(Status {
            path: std::path::absolute(vault.path()).unwrap_or_else(|_| vault.path().to_owned()),
            format_version: format!("{}.{}", vault.format_version().0, vault.format_version().1),
            encryption_available: true,
            backend: p.backend,
            backends: p.backends,
            unlocked: true,
            // Always some: the handle is unlocked.
            unlocked_by: p.unlocked_by.unwrap_or("unknown"),
            unlocked_by_slot: p.unlocked_by_slot,
            slots,
            entries: vault.len(),
            tombstones: vault.tombstones().count(),
            save_counter: vault.header().save_counter,
            warnings,
        })
    }

    /// `credvault import-legacy` ([`LegacySource`], the CLI's code): the
    /// app's `credentials.json` into the vault in one save, re-read and
    /// verified; the legacy file removed (overwritten, then deleted) only
    /// with `remove_legacy` after a complete, verified import, and only if
    /// it is still the file that was read. Per-key failures are in the report
    /// (`failed`), not errors.
    pub fn import_legacy(&mut self, request: LegacyImport) -> Result<LegacyReport, ServiceError> {
        let app_name = request.app_name.unwrap_or_else(|| self.app_name.clone());
        let path = match request.path {
            Some(p) => p,
            None => default_credentials_path(&app_name)?,
        };
        let source = LegacySource::read(&path).map_err(|e| match e {
            ReadError::Io(e) => ServiceError::ConfigIo(e),
            e => ServiceError::Config {
                path: path.clone(),
                reason: format!("{e}; nothing was imported"),
            },
        })?;
        let keys = KeyOptions {
            platform: Platform::current(),
            password: request.password,
            os_keychain: self.os_keychain,
            local_state: source.local_state(),
            ..KeyOptions::new(&app_name)
        };
        self.vault.reload()?;
        let how = Migration {
            dry_run: request.dry_run,
            overwrite: request.overwrite,
            remove_legacy: request.remove_legacy,
        };
        let Migrated {
            plan,
            verified,
            removed,
        } = source
            .import_into(&mut self.vault, keys, how)
            .map_err(|e| match e {
                MigrateError::Vault(e) => ServiceError::Vault(e),
                MigrateError::Verify(e) => ServiceError::Verify(e),
                // The app saved the file during the import: the kind of an
                // incomplete migration, as the CLI's exit 6.
                MigrateError::Remove(e @ LegacyIoError::Changed { .. }) => ServiceError::Config {
                    path: path.clone(),
                    reason: format!("imported and verified what was read, but not removed: {e}"),
                },
                MigrateError::Remove(e) => ServiceError::ConfigIo(e),
            })?;
        let counts = plan.counts();
        Ok(LegacyReport {
            path,
            dry_run: request.dry_run,
            imported: counts.imported,
            unchanged: counts.unchanged,
            kept: counts.kept,
            failed: counts.failed,
            verified,
            removed_legacy: removed,
            items: plan
                .items()
                .iter()
                .map(|i| LegacyItem {
                    key: i.key.clone(),
                    status: i.status.as_str(),
                    source: i.source.clone(),
                    reason: i.reason.clone(),
                })
                .collect(),
        })
    }
}

/// The warning for a vault only this machine's keychain opens (as `init`
/// and `status` say it).
pub const KEYCHAIN_ONLY: &str = "the vault opens only with this machine's OS keychain: a copy or backup cannot be opened elsewhere; add a portable passphrase slot with `credvault slot add passphrase`";

pub use crate::ops::backends;

/// The fields of `credvault --json status` that an open handle knows.
#[derive(Debug, Clone)]
pub struct Status {
    /// The vault's absolute path.
    pub path: PathBuf,
    /// `1.<minor>`.
    pub format_version: String,
    /// Always true.
    pub encryption_available: bool,
    /// The strongest slot type present.
    pub backend: &'static str,
    /// Every slot type present, in order of preference.
    pub backends: Vec<&'static str>,
    /// Always true for an open handle.
    pub unlocked: bool,
    /// keychain, passphrase, recovery or session.
    pub unlocked_by: &'static str,
    /// The slot that unlocked it (none for a session key).
    pub unlocked_by_slot: Option<u32>,
    /// The slots.
    pub slots: Vec<StatusSlot>,
    /// Live entries.
    pub entries: usize,
    /// Tombstones.
    pub tombstones: usize,
    /// The save counter.
    pub save_counter: u64,
    /// Warnings (a keychain-only vault).
    pub warnings: Vec<String>,
}

/// One slot of [`Status`].
#[derive(Debug, Clone)]
pub struct StatusSlot {
    /// Its id.
    pub id: u32,
    /// passphrase, keychain, recovery or unknown.
    pub kind: &'static str,
    /// Whether it unlocked this handle.
    pub unlocked: bool,
}

/// What [`CredentialService::import_legacy`] imports.
#[derive(Default)]
pub struct LegacyImport {
    /// The credentials.json; `None`: [`default_credentials_path`].
    pub path: Option<PathBuf>,
    /// The app's name; `None`: the one the service was opened with.
    pub app_name: Option<String>,
    /// Report only; change nothing.
    pub dry_run: bool,
    /// Remove the legacy file after a complete, verified import.
    pub remove_legacy: bool,
    /// Replace different values already in the vault.
    pub overwrite: bool,
    /// The safeStorage password (Linux `v11`), instead of the OS keyring.
    pub password: Option<SafeStoragePassword>,
}

/// The outcome of [`CredentialService::import_legacy`], as `import-legacy
/// --json` reports it. Never holds a value.
#[derive(Debug)]
pub struct LegacyReport {
    /// The legacy file.
    pub path: PathBuf,
    /// Whether nothing was changed on purpose.
    pub dry_run: bool,
    /// Keys imported (or to import, in a dry run).
    pub imported: usize,
    /// Keys whose value the vault already held.
    pub unchanged: usize,
    /// Keys whose different vault value was kept.
    pub kept: usize,
    /// Keys that could not be imported.
    pub failed: usize,
    /// Whether the vault was re-read and held every imported value.
    pub verified: bool,
    /// Whether the legacy file was removed.
    pub removed_legacy: bool,
    /// Every key.
    pub items: Vec<LegacyItem>,
}

/// One key of a [`LegacyReport`].
#[derive(Debug, Clone)]
pub struct LegacyItem {
    /// The key as written in the legacy file (untrusted text).
    pub key: String,
    /// imported, unchanged, kept or failed.
    pub status: &'static str,
    /// plain, enc:v10, enc:v11, ...
    pub source: Option<String>,
    /// Why it failed or was kept.
    pub reason: Option<String>,
}

impl From<VerifyError> for ServiceError {
    fn from(e: VerifyError) -> Self {
        ServiceError::Verify(e)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Vault(e.into())
    }
}

/// Unlocks an existing vault (see [`CredentialService::open`]).
fn open_existing(path: &Path, options: &ServiceOptions) -> Result<Vault, ServiceError> {
    let given = Given(
        options
            .passphrase
            .as_ref()
            .map(|p| Passphrase::new(p.expose().to_vec())),
    );
    #[cfg(feature = "keychain")]
    if options.keychain {
        let mut unlocker = crate::KeychainUnlocker::new(given);
        return Ok(crate::ops::open::open(path, &mut unlocker, options.open.clone())?.0);
    }
    let mut unlocker = given;
    Ok(crate::ops::open::open(path, &mut unlocker, options.open.clone())?.0)
}

/// Creates the vault as `credvault init` does; returns it and its recovery
/// code.
fn create(
    path: &Path,
    options: &ServiceOptions,
) -> Result<(Vault, zeroize::Zeroizing<String>), ServiceError> {
    let recovery = RecoveryKey::generate();
    let code = recovery.to_code();
    let kdf_params = || {
        options
            .kdf
            .unwrap_or_else(|| kdf::calibrate(Duration::from_millis(750), 256 * 1024).0)
    };
    #[allow(unused_mut)]
    let mut keychain_error: Option<String> = if options.keychain {
        None
    } else {
        Some("the OS keychain is disabled (keychain: false)".to_owned())
    };
    #[cfg(feature = "keychain")]
    if options.keychain {
        let usable = crate::Keychain::connect(crate::slots::keychain::DEFAULT_TIMEOUT)
            .and_then(|kc| kc.probe().map(|()| kc));
        match usable {
            Ok(keychain) => {
                let params = options.passphrase.as_ref().map(|_| kdf_params());
                let mut more = Vec::new();
                if let (Some(p), Some(params)) = (&options.passphrase, params) {
                    more.push(NewSlot::Passphrase(p, params));
                }
                more.push(NewSlot::Recovery(&recovery));
                let vault =
                    Vault::create_with_keychain_and(path, &keychain, more, options.open.clone())?;
                return Ok((vault, code));
            }
            Err(e) => keychain_error = Some(e.to_string()),
        }
    }
    let Some(passphrase) = &options.passphrase else {
        return Err(VaultError::Unlock(UnlockError::NoCredentials {
            slots: "none (no vault yet)".to_owned(),
            keychain: keychain_error,
        })
        .into());
    };
    if passphrase.expose().is_empty() {
        return Err(ServiceError::Usage(
            "refusing an empty passphrase".to_owned(),
        ));
    }
    let slots = vec![
        NewSlot::Passphrase(passphrase, kdf_params()),
        NewSlot::Recovery(&recovery),
    ];
    let vault = Vault::create_with_slots(path, slots, options.open.clone())?;
    Ok((vault, code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::vault_error_kind;
    use crate::{KeyName, PassphraseUnlocker, SecretValue};

    fn options(path: &Path) -> ServiceOptions {
        ServiceOptions {
            path: Some(path.to_owned()),
            passphrase: Some(Passphrase::from("pw")),
            keychain: false,
            create: true,
            kdf: Some(KdfParams::new(8 * 1024, 1, 1).unwrap()),
            ..ServiceOptions::default()
        }
    }

    #[test]
    fn open_creates_once_with_a_recovery_code_then_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let first = CredentialService::open(options(&path)).unwrap();
        assert!(first.recovery_code.is_some());
        let code = first.recovery_code.unwrap();
        assert!(RecoveryKey::from_code(&code).is_ok());
        let again = CredentialService::open(options(&path)).unwrap();
        assert!(again.recovery_code.is_none());
        let mut bad = options(&path);
        bad.passphrase = Some(Passphrase::from("wrong"));
        let e = CredentialService::open(bad).unwrap_err();
        assert_eq!(e.kind(), "unlock");
        let mut none = options(&dir.path().join("none.cvault"));
        none.create = false;
        assert_eq!(
            CredentialService::open(none).unwrap_err().kind(),
            "file_system"
        );
    }

    #[test]
    fn refresh_sees_another_handles_save_and_skips_an_unchanged_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let mut s = CredentialService::open(options(&path)).unwrap().service;
        s.store("a.one", "1").unwrap();
        assert_eq!(s.list().unwrap(), ["a.one"]);
        let seen = s.seen.clone();
        assert!(seen.is_some());
        // Nothing changed: the stamp holds.
        assert!(s.has("a.one").unwrap());
        assert_eq!(s.seen, seen);
        // Another handle saves: the next read sees it.
        let mut other =
            Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw"))).unwrap();
        other
            .set(&KeyName::new("a.two").unwrap(), &SecretValue::from("2"))
            .unwrap();
        assert_eq!(s.retrieve("a.two").unwrap().unwrap().expose(), b"2");
        assert_ne!(s.seen, seen);
        // The handle's own save, then another's: both visible.
        s.store("a.three", "3").unwrap();
        other.delete(&KeyName::new("a.one").unwrap()).unwrap();
        assert_eq!(s.list().unwrap(), ["a.three", "a.two"]);
    }

    #[test]
    fn a_handle_reads_on_after_another_process_rekeys_and_stops_when_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let mut s = CredentialService::open(options(&path)).unwrap().service;
        s.store("a.one", "1").unwrap();
        let pw = Passphrase::from("pw");
        let mut other =
            Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw"))).unwrap();
        other
            .rekey(crate::RekeyOptions {
                passphrases: vec![&pw],
                keep_recovery: None,
                #[cfg(feature = "keychain")]
                keychain: None,
                drop_unavailable: true,
            })
            .unwrap();
        other
            .set(&KeyName::new("a.two").unwrap(), &SecretValue::from("2"))
            .unwrap();
        // A new data key: the handle unlocks anew and reads on, and its
        // own writes land under the new key.
        assert_eq!(s.retrieve("a.two").unwrap().unwrap().expose(), b"2");
        s.store("a.three", "3").unwrap();
        assert!(other
            .get(&KeyName::new("a.three").unwrap())
            .unwrap()
            .is_none());
        other.reload().unwrap();
        assert_eq!(
            other
                .get(&KeyName::new("a.three").unwrap())
                .unwrap()
                .unwrap()
                .expose(),
            b"3"
        );
        // The passphrase it was opened with is revoked: it stops.
        let new = Passphrase::from("new");
        let id = other
            .slots()
            .iter()
            .find(|s| s.type_name() == "passphrase")
            .unwrap()
            .id;
        other
            .rewrap_slot(
                id,
                crate::NewSlot::Passphrase(&new, KdfParams::new(8 * 1024, 1, 1).unwrap()),
            )
            .unwrap();
        other
            .rekey(crate::RekeyOptions {
                passphrases: vec![&new],
                keep_recovery: None,
                #[cfg(feature = "keychain")]
                keychain: None,
                drop_unavailable: true,
            })
            .unwrap();
        assert_eq!(s.retrieve("a.one").unwrap_err().kind(), "unlock");
    }

    #[test]
    fn status_and_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let mut s = CredentialService::open(options(&path)).unwrap().service;
        s.store("a.b", "x").unwrap();
        let st = s.status().unwrap();
        assert_eq!(st.backends, ["passphrase", "recovery"]);
        assert_eq!(st.unlocked_by, "passphrase");
        assert_eq!(st.entries, 1);
        assert_eq!(s.store("bad key", "x").unwrap_err().kind(), "usage");
        assert_eq!(vault_error_kind(&VaultError::Tampered), "unreadable");
        assert_eq!(
            ServiceError::from(StoreError::NotFound(path)).kind(),
            "file_system"
        );
    }
}
