//! `credvault` for Node and Electron's main process: the desktop app's
//! credential service API (`store`, `retrieve`, `delete`, `has`, `list`,
//! `isEncryptionAvailable`, `migrateFromEnv`, `getWithFallback`) over a
//! vault, in process, through Node-API only (one build loads in Node and in
//! every Electron without a rebuild).
//!
//! A thin face: every method is one call of the library's
//! [`credvault::service::CredentialService`], which opens the vault as the
//! CLI does, sees other processes' saves with a cheap check before each
//! read, saves under the vault's lock, and writes the CLI's audit lines.
//! This file converts arguments and results and maps errors to `Error`s
//! whose `code` is the CLI's JSON `kind`; it never formats a value into a
//! message.
//!
//! Every method has a Promise twin (`storeAsync`, ...) that runs on the
//! libuv thread pool. A handle is shared by its twins through a mutex, so
//! calls on one handle never interleave; separate handles (or processes)
//! coordinate through the vault's lock.

#![deny(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use credvault::legacy::SafeStoragePassword;
use credvault::service::{
    self, CredentialService as Service, LegacyImport, ServiceError, ServiceOptions,
};
use credvault::{KdfParams, OpenOptions, Passphrase};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use zeroize::{Zeroize, Zeroizing};

// ---- errors ---------------------------------------------------------------

/// The CLI's JSON `kind`, as a JS error's `code`.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// A failure: its kind and a message that never holds a secret.
pub struct Fail {
    code: &'static str,
    message: String,
}

impl From<ServiceError> for Fail {
    fn from(e: ServiceError) -> Self {
        Fail {
            code: e.kind(),
            message: e.to_string(),
        }
    }
}

impl Fail {
    fn usage(message: impl Into<String>) -> Fail {
        Fail {
            code: "usage",
            message: message.into(),
        }
    }

    fn closed() -> Fail {
        Fail::usage("the credential service is closed")
    }

    /// A JS `Error` with `code` = the kind, to be thrown or rejected with.
    fn into_js(self, env: Env) -> Error {
        let error = JsError::from(Error::new(Code(self.code), self.message)).into_unknown(env);
        Error::from(error)
    }
}

// ---- values ---------------------------------------------------------------

/// A secret string handed to JS: copied into a JS string, then zeroized.
pub struct Secret(Zeroizing<String>);

impl TypeName for Secret {
    fn type_name() -> &'static str {
        "string"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ToNapiValue for Secret {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        // SAFETY: forwarded as is; `env` comes from napi-rs.
        unsafe { <&str as ToNapiValue>::to_napi_value(env, val.0.as_str()) }
    }
}

fn text(value: credvault::SecretValue) -> std::result::Result<Secret, Fail> {
    match std::str::from_utf8(value.expose()) {
        Ok(s) => Ok(Secret(Zeroizing::new(s.to_owned()))),
        Err(_) => Err(Fail::usage(
            "the value is not valid UTF-8 text; read it with retrieveBuffer",
        )),
    }
}

/// Bytes from a `string | Buffer` argument, zeroized when dropped.
fn bytes(value: Either<String, Buffer>) -> Zeroizing<Vec<u8>> {
    match value {
        Either::A(s) => Zeroizing::new(s.into_bytes()),
        Either::B(b) => Zeroizing::new(b.to_vec()),
    }
}

// ---- options and results ----------------------------------------------------

/// Argon2id parameters of a new passphrase slot (weak ones only for tests).
#[napi(object)]
pub struct KdfOptions {
    /// Memory in MiB (8-1024).
    pub memory_mib: u32,
    /// Iterations (1-16).
    pub iterations: u32,
    /// Lanes (1-16).
    pub parallelism: u32,
}

/// How `CredentialService.open` finds, unlocks or creates the vault.
#[napi(object, js_name = "OpenOptions")]
pub struct OpenOptionsJs {
    /// The vault file; default: `CREDVAULT_VAULT`, else the XDG data
    /// directory (`~/.local/share/credvault/vault.cvault`), as the CLI.
    pub path: Option<String>,
    /// The passphrase of passphrase slots (and of a new vault's passphrase
    /// slot).
    pub passphrase: Option<String>,
    /// Whether the OS keychain may be used (default true).
    pub keychain: Option<bool>,
    /// Create the vault when there is none (keychain slot if usable, else
    /// a passphrase slot; plus a recovery slot: see `takeRecoveryCode`).
    pub create: Option<bool>,
    /// The legacy app's name (default `claude-pilot`): its credentials.json
    /// and safeStorage password.
    pub app_name: Option<String>,
    /// Argon2id parameters of a new passphrase slot; default: calibrated
    /// on this machine (~0.75 s), as `credvault init`.
    pub kdf: Option<KdfOptions>,
    /// How long a write waits for another writer's lock (default 10000).
    pub lock_timeout_ms: Option<u32>,
}

/// One variable of `migrateFromEnv`.
#[napi(object)]
pub struct EnvResult {
    /// The environment variable.
    pub var: String,
    /// The vault key.
    pub key: String,
    /// moved, unchanged, kept, unset or failed.
    pub status: String,
    /// Why it failed or was kept.
    pub reason: Option<String>,
}

/// What `importLegacy` imports.
#[napi(object)]
pub struct ImportLegacyOptions {
    /// The app's credentials.json; default `~/.config/<appName>/credentials.json`.
    pub path: Option<String>,
    /// The app's name; default the one given to `open`.
    pub app_name: Option<String>,
    /// Report only; change nothing.
    pub dry_run: Option<bool>,
    /// Remove the legacy file after a complete, verified import.
    pub remove_legacy: Option<bool>,
    /// Replace different values already in the vault.
    pub overwrite: Option<bool>,
    /// The safeStorage password (Linux `v11` values) instead of the OS keyring.
    pub safe_storage_password: Option<String>,
}

/// One key of `importLegacy` (the fields of `import-legacy --json`).
#[napi(object)]
pub struct ImportItem {
    /// The key.
    pub key: String,
    /// imported, unchanged, kept or failed.
    pub status: String,
    /// plain, enc:v10, enc:v11, ...
    pub source: Option<String>,
    /// Why it failed or was kept.
    pub reason: Option<String>,
}

/// The report of `importLegacy` (the fields of `import-legacy --json`).
#[napi(object)]
pub struct ImportReport {
    /// The legacy file.
    pub path: String,
    #[napi(js_name = "dry_run")]
    /// Whether nothing was changed on purpose.
    pub dry_run: bool,
    /// Keys imported.
    pub imported: u32,
    /// Keys the vault already held.
    pub unchanged: u32,
    /// Keys whose different vault value was kept.
    pub kept: u32,
    /// Keys that could not be imported.
    pub failed: u32,
    /// Whether the vault was re-read and verified.
    pub verified: bool,
    #[napi(js_name = "removed_legacy")]
    /// Whether the legacy file was removed.
    pub removed_legacy: bool,
    /// Every key.
    pub items: Vec<ImportItem>,
}

/// One slot of `status`.
#[napi(object)]
pub struct StatusSlot {
    /// Its id.
    pub id: u32,
    #[napi(js_name = "type")]
    /// passphrase, keychain, recovery or unknown.
    pub kind: String,
    /// Whether it unlocked this handle.
    pub unlocked: bool,
}

/// `status` (the fields of `credvault --json status` an open handle knows).
#[napi(object)]
pub struct Status {
    /// The vault's absolute path.
    pub path: String,
    #[napi(js_name = "format_version")]
    /// `1.<minor>`.
    pub format_version: String,
    #[napi(js_name = "encryption_available")]
    /// Always true.
    pub encryption_available: bool,
    /// The strongest slot type.
    pub backend: String,
    /// Every slot type, in order of preference.
    pub backends: Vec<String>,
    /// Always true.
    pub unlocked: bool,
    #[napi(js_name = "unlocked_by")]
    /// keychain, passphrase, recovery or session.
    pub unlocked_by: String,
    #[napi(js_name = "unlocked_by_slot")]
    /// The slot that unlocked it.
    pub unlocked_by_slot: Option<u32>,
    /// The slots.
    pub slots: Vec<StatusSlot>,
    /// Live entries.
    pub entries: u32,
    /// Tombstones.
    pub tombstones: u32,
    #[napi(js_name = "save_counter")]
    /// The save counter.
    pub save_counter: f64,
    /// Warnings.
    pub warnings: Vec<String>,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---- the operations, shared by the sync methods and their twins -------------

type Shared = Arc<Mutex<Option<Service>>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Option<Service>> {
    // A poisoned mutex only means another call panicked; the service
    // itself is consistent (the engine restores its state on errors).
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `op` on the open service, audited as the CLI audits (`name`,
/// `key`, `prefix`).
fn with<T>(
    shared: &Shared,
    name: &str,
    key: Option<&str>,
    prefix: Option<&str>,
    op: impl FnOnce(&mut Service) -> std::result::Result<T, ServiceError>,
) -> std::result::Result<T, Fail> {
    let mut guard = lock(shared);
    let service = guard.as_mut().ok_or_else(Fail::closed)?;
    Ok(service.audited(name, key, prefix, op)?)
}

fn store(shared: &Shared, key: &str, value: &[u8]) -> std::result::Result<(), Fail> {
    with(shared, "store", Some(key), None, |s| s.store(key, value))
}

fn retrieve(
    shared: &Shared,
    key: &str,
) -> std::result::Result<Option<credvault::SecretValue>, Fail> {
    with(shared, "retrieve", Some(key), None, |s| s.retrieve(key))
}

fn delete(shared: &Shared, key: &str) -> std::result::Result<bool, Fail> {
    with(shared, "delete", Some(key), None, |s| s.delete(key))
}

fn has(shared: &Shared, key: &str) -> std::result::Result<bool, Fail> {
    with(shared, "has", Some(key), None, |s| s.has(key))
}

fn list(shared: &Shared, prefix: Option<&str>) -> std::result::Result<Vec<String>, Fail> {
    with(shared, "list", None, prefix, |s| s.list_prefix(prefix))
}

fn migrate(shared: &Shared, map: &[(String, String)]) -> std::result::Result<Vec<EnvResult>, Fail> {
    let pairs: Vec<(&str, &str)> = map.iter().map(|(v, k)| (v.as_str(), k.as_str())).collect();
    let items = with(shared, "migrate-env", None, None, |s| {
        s.migrate_from_env(&pairs)
    })?;
    Ok(items
        .into_iter()
        .map(|i| EnvResult {
            var: i.var,
            key: i.key,
            status: i.status.as_str().to_owned(),
            reason: i.reason,
        })
        .collect())
}

fn fallback(
    shared: &Shared,
    key: &str,
    env_var: Option<&str>,
    config: Option<&str>,
) -> std::result::Result<Option<credvault::SecretValue>, Fail> {
    with(shared, "retrieve", Some(key), None, |s| {
        s.set_legacy_config(config.map(std::path::Path::new));
        let found = s.get_with_fallback_opt(key, env_var);
        s.set_legacy_config(None);
        Ok(found?.map(|f| f.value))
    })
}

fn import_legacy(
    shared: &Shared,
    options: Option<ImportLegacyOptions>,
) -> std::result::Result<ImportReport, Fail> {
    let o = options.unwrap_or(ImportLegacyOptions {
        path: None,
        app_name: None,
        dry_run: None,
        remove_legacy: None,
        overwrite: None,
        safe_storage_password: None,
    });
    let request = LegacyImport {
        path: o.path.map(PathBuf::from),
        app_name: o.app_name,
        dry_run: o.dry_run.unwrap_or(false),
        remove_legacy: o.remove_legacy.unwrap_or(false),
        overwrite: o.overwrite.unwrap_or(false),
        password: o
            .safe_storage_password
            .map(|p| SafeStoragePassword::new(p.into_bytes())),
    };
    let r = with(shared, "import-legacy", None, None, |s| {
        s.import_legacy(request)
    })?;
    Ok(ImportReport {
        path: r.path.display().to_string(),
        dry_run: r.dry_run,
        imported: count(r.imported),
        unchanged: count(r.unchanged),
        kept: count(r.kept),
        failed: count(r.failed),
        verified: r.verified,
        removed_legacy: r.removed_legacy,
        items: r
            .items
            .into_iter()
            .map(|i| ImportItem {
                key: i.key,
                status: i.status.to_owned(),
                source: i.source,
                reason: i.reason,
            })
            .collect(),
    })
}

fn status(shared: &Shared) -> std::result::Result<Status, Fail> {
    let s = with(shared, "status", None, None, Service::status)?;
    Ok(Status {
        path: s.path.display().to_string(),
        format_version: s.format_version,
        encryption_available: s.encryption_available,
        backend: s.backend.to_owned(),
        backends: s.backends.iter().map(|b| (*b).to_owned()).collect(),
        unlocked: s.unlocked,
        unlocked_by: s.unlocked_by.to_owned(),
        unlocked_by_slot: s.unlocked_by_slot,
        slots: s
            .slots
            .iter()
            .map(|slot| StatusSlot {
                id: slot.id,
                kind: slot.kind.to_owned(),
                unlocked: slot.unlocked,
            })
            .collect(),
        entries: count(s.entries),
        tombstones: count(s.tombstones),
        // Exact up to 2^53 saves.
        save_counter: s.save_counter as f64,
        warnings: s.warnings,
    })
}

// ---- pass and OAuth ------------------------------------------------------------

/// Options of `syncPass`.
#[napi(object)]
pub struct PassSyncOptions {
    /// The part of the store that maps to the vault (default `claude/`).
    pub prefix: Option<String>,
    /// The password store (default `PASSWORD_STORE_DIR`, else
    /// `~/.password-store`).
    pub store: Option<String>,
    /// Decide and report, change nothing.
    pub dry_run: Option<bool>,
    /// Who wins when both sides changed: `vault` or `pass` (default:
    /// nobody; the key is reported `conflict`).
    pub prefer: Option<String>,
}

/// One key of a `syncPass` report.
#[napi(object)]
pub struct PassItem {
    /// The vault key (`null` for a pass name that cannot map).
    pub key: Option<String>,
    /// The pass entry name.
    pub pass: String,
    /// `imported`, `exported`, `unchanged`, `kept`, `conflict`,
    /// `removed-from-vault`, `removed-from-pass`, `unmappable` or `failed`.
    pub status: String,
    /// Why it failed, was kept or conflicted.
    pub reason: Option<String>,
}

/// The report of `syncPass`, as `credvault --json pass sync`.
#[napi(object)]
pub struct PassReport {
    /// Whether the vault was saved.
    pub saved: bool,
    /// Whether this was a dry run.
    #[napi(js_name = "dry_run")]
    pub dry_run: bool,
    /// Every key, sorted by pass name.
    pub items: Vec<PassItem>,
}

fn sync_pass(
    shared: &Shared,
    options: Option<PassSyncOptions>,
) -> std::result::Result<PassReport, Fail> {
    use credvault::pass::{PassBackend, PassOptions, Prefix, Side};
    let o = options.unwrap_or(PassSyncOptions {
        prefix: None,
        store: None,
        dry_run: None,
        prefer: None,
    });
    let prefix_text = o
        .prefix
        .unwrap_or_else(|| credvault::pass::DEFAULT_PREFIX.to_owned());
    let prefix = Prefix::new(&prefix_text).map_err(|e| Fail::usage(e.to_string()))?;
    let prefer = match o.prefer.as_deref() {
        None => None,
        Some("vault") => Some(Side::Vault),
        Some("pass") => Some(Side::Pass),
        Some(_) => return Err(Fail::usage("prefer must be \"vault\" or \"pass\"")),
    };
    let backend = match o.store {
        Some(dir) => PassBackend::new(dir),
        None => PassBackend::from_env(),
    };
    let options = PassOptions {
        prefix,
        dry_run: o.dry_run.unwrap_or(false),
        overwrite: false,
        prefer,
    };
    let report = with(shared, "pass-sync", None, Some(&prefix_text), |s| {
        s.refresh()?;
        Ok(credvault::pass::sync(s.vault_mut(), &backend, &options)?)
    })?;
    Ok(PassReport {
        saved: report.saved,
        dry_run: report.dry_run,
        items: report
            .items
            .into_iter()
            .map(|i| PassItem {
                key: i.key,
                pass: i.pass_name,
                status: i.status.as_str().to_owned(),
                reason: i.reason,
            })
            .collect(),
    })
}

/// Options of `getValidToken`.
#[napi(object)]
pub struct TokenOptions {
    /// Refresh when less than this is left, in seconds (default 300).
    pub min_valid_seconds: Option<u32>,
    /// The last token got HTTP 401: refresh it whatever its expiry says.
    pub rejected: Option<bool>,
}

/// What `revokeToken` did.
#[napi(object)]
pub struct RevokeResult {
    /// Whether the server revoked it (RFC 7009); false when the provider
    /// has no revocation endpoint (the entries are removed all the same).
    pub at_server: bool,
    /// `refresh_token` or `access_token`: which one the server revoked.
    pub token_type: Option<String>,
}

fn login(name: &str) -> std::result::Result<credvault::oauth::LoginName, ServiceError> {
    Ok(credvault::oauth::LoginName::new(name)?)
}

fn min_valid(seconds: Option<u32>) -> Duration {
    Duration::from_secs(u64::from(seconds.unwrap_or(300)))
}

fn valid_token(
    shared: &Shared,
    name: &str,
    options: Option<TokenOptions>,
) -> std::result::Result<credvault::SecretValue, Fail> {
    let (min, rejected) = options.map_or((None, false), |o| {
        (o.min_valid_seconds, o.rejected.unwrap_or(false))
    });
    with(shared, "oauth-token", Some(name), None, |s| {
        s.refresh()?;
        let login = login(name)?;
        let token =
            credvault::oauth::valid_token(s.vault_mut(), &login, min_valid(min), rejected, &[])?;
        Ok(token.token)
    })
}

fn refresh_token(shared: &Shared, name: &str) -> std::result::Result<credvault::SecretValue, Fail> {
    with(shared, "oauth-refresh", Some(name), None, |s| {
        s.refresh()?;
        let login = login(name)?;
        Ok(credvault::oauth::refresh_token(s.vault_mut(), &login, &[])?.token)
    })
}

fn token_expired(
    shared: &Shared,
    name: &str,
    seconds: Option<u32>,
) -> std::result::Result<bool, Fail> {
    with(shared, "oauth-status", Some(name), None, |s| {
        s.refresh()?;
        let login = login(name)?;
        let state = credvault::oauth::tokens::status(s.vault(), &login)?;
        Ok(state.access.is_none()
            || credvault::oauth::is_token_expired(state.expires_ms, min_valid(seconds)))
    })
}

fn revoke(shared: &Shared, name: &str) -> std::result::Result<RevokeResult, Fail> {
    let revoked = with(shared, "oauth-revoke", Some(name), None, |s| {
        s.refresh()?;
        let login = login(name)?;
        Ok(credvault::oauth::revoke_token(s.vault_mut(), &login, &[])?)
    })?;
    Ok(RevokeResult {
        at_server: revoked.at_server,
        token_type: revoked.token_type.map(str::to_owned),
    })
}

fn service_options(options: Option<OpenOptionsJs>) -> std::result::Result<ServiceOptions, Fail> {
    let mut out = ServiceOptions::default();
    let Some(mut o) = options else {
        return Ok(out);
    };
    out.path = o.path.take().map(PathBuf::from);
    out.passphrase = o.passphrase.take().map(|p| Passphrase::new(p.into_bytes()));
    out.keychain = o.keychain.unwrap_or(true);
    out.create = o.create.unwrap_or(false);
    if let Some(name) = o.app_name.take() {
        out.app_name = name;
    }
    if let Some(k) = &o.kdf {
        out.kdf = Some(
            KdfParams::new(
                k.memory_mib.saturating_mul(1024),
                k.iterations,
                k.parallelism,
            )
            .map_err(|e| Fail::usage(format!("kdf: {e}")))?,
        );
    }
    // The service's defaults (the CLI's rollback marks among them) with
    // the caller's lock timeout.
    out.open = OpenOptions {
        lock_timeout: Duration::from_millis(u64::from(o.lock_timeout_ms.unwrap_or(10_000))),
        ..out.open
    };
    Ok(out)
}

fn open(options: ServiceOptions) -> std::result::Result<CredentialService, Fail> {
    let opened = Service::open(options)?;
    let inner = Arc::new(Mutex::new(Some(opened.service)));
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|w| w.strong_count() > 0);
    open.push(Arc::downgrade(&inner));
    Ok(CredentialService {
        inner,
        recovery: Mutex::new(opened.recovery_code),
    })
}

/// Every handle opened in this process, for [`flush_audit_logs`].
static OPEN: Mutex<Vec<std::sync::Weak<Mutex<Option<Service>>>>> = Mutex::new(Vec::new());

/// Writes the audit lines every open handle deferred (its reads' lines
/// wait up to 1 s). The package's entry (`credvault.js`) calls it on the
/// process's `exit` event, so a normal exit loses none.
#[napi]
pub fn flush_audit_logs() {
    let open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    for shared in open.iter().filter_map(std::sync::Weak::upgrade) {
        if let Some(service) = lock(&shared).as_ref() {
            // Nobody to tell at exit; the line is lost as in a crash.
            let _ = service.flush_audit();
        }
    }
}

// ---- Promise twins ----------------------------------------------------------

/// One operation run on the libuv thread pool; resolves with `T`, rejects
/// with an `Error` whose `code` is the kind.
pub struct Job<T: Send + 'static> {
    run: Option<Box<dyn FnOnce() -> std::result::Result<T, Fail> + Send>>,
}

fn job<T: ToNapiValue + TypeName + Send + 'static>(
    run: impl FnOnce() -> std::result::Result<T, Fail> + Send + 'static,
) -> AsyncTask<Job<T>> {
    AsyncTask::new(Job {
        run: Some(Box::new(run)),
    })
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Job<T> {
    type Output = std::result::Result<T, Fail>;
    type JsValue = T;

    fn compute(&mut self) -> Result<Self::Output> {
        match self.run.take() {
            Some(run) => Ok(run()),
            None => Ok(Err(Fail::usage("the operation already ran"))),
        }
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<T> {
        output.map_err(|fail| fail.into_js(env))
    }
}

// ---- the class --------------------------------------------------------------

/// The app's credential service over a vault.
#[napi]
pub struct CredentialService {
    inner: Shared,
    recovery: Mutex<Option<Zeroizing<String>>>,
}

#[napi]
impl CredentialService {
    /// Opens (or with `create`, creates) the vault and unlocks it: a session
    /// key cached by `credvault unlock`, then the OS keychain (unless
    /// `keychain: false`), then `passphrase`.
    #[napi(factory)]
    pub fn open(env: Env, options: Option<OpenOptionsJs>) -> Result<CredentialService> {
        service_options(options)
            .and_then(open)
            .map_err(|f| f.into_js(env))
    }

    /// `open` off the main thread (unlocking may run Argon2id for ~1 s).
    #[napi(ts_return_type = "Promise<CredentialService>")]
    pub fn open_async(
        env: Env,
        options: Option<OpenOptionsJs>,
    ) -> Result<AsyncTask<Job<CredentialService>>> {
        let options = service_options(options).map_err(|f| f.into_js(env))?;
        Ok(job(move || open(options)))
    }

    /// Stores `value` (text or bytes) under `key` and saves.
    #[napi]
    pub fn store(&self, env: Env, key: String, value: Either<String, Buffer>) -> Result<()> {
        store(&self.inner, &key, &bytes(value)).map_err(|f| f.into_js(env))
    }

    /// The value of `key` as text, or null.
    #[napi(ts_return_type = "string | null")]
    pub fn retrieve(&self, env: Env, key: String) -> Result<Option<Secret>> {
        retrieve(&self.inner, &key)
            .and_then(|v| v.map(text).transpose())
            .map_err(|f| f.into_js(env))
    }

    /// The value of `key` as bytes, or null.
    #[napi(ts_return_type = "Buffer | null")]
    pub fn retrieve_buffer<'e>(
        &self,
        env: &'e Env,
        key: String,
    ) -> Result<Option<BufferSlice<'e>>> {
        let value = retrieve(&self.inner, &key).map_err(|f| f.into_js(*env))?;
        value
            .map(|v| BufferSlice::copy_from(env, v.expose()))
            .transpose()
            .map_err(|e| Fail::usage(e.reason.clone()).into_js(*env))
    }

    /// Deletes `key`; false if it was absent.
    #[napi]
    pub fn delete(&self, env: Env, key: String) -> Result<bool> {
        delete(&self.inner, &key).map_err(|f| f.into_js(env))
    }

    /// Whether `key` exists.
    #[napi]
    pub fn has(&self, env: Env, key: String) -> Result<bool> {
        has(&self.inner, &key).map_err(|f| f.into_js(env))
    }

    /// The keys (starting with `prefix`), sorted.
    #[napi]
    pub fn list(&self, env: Env, prefix: Option<String>) -> Result<Vec<String>> {
        list(&self.inner, prefix.as_deref()).map_err(|f| f.into_js(env))
    }

    /// Always true: a vault has no plaintext mode.
    #[napi]
    pub fn is_encryption_available(&self) -> bool {
        true
    }

    /// Copies the set variables of `map` (`{ENV_VAR: key}`) into the vault
    /// in one save; a different value already stored is kept.
    #[napi(ts_args_type = "map: Record<string, string>")]
    pub fn migrate_from_env(&self, env: Env, map: Object) -> Result<Vec<EnvResult>> {
        let pairs = env_map(&map).map_err(|f| f.into_js(env))?;
        migrate(&self.inner, &pairs).map_err(|f| f.into_js(env))
    }

    /// The vault's value of `key`, else `process.env[envVar]`, else the
    /// legacy config file's (`credentials.json` shape, flat or nested).
    #[napi(ts_return_type = "string | null")]
    pub fn get_with_fallback(
        &self,
        env: Env,
        key: String,
        env_var: Option<String>,
        config_path: Option<String>,
    ) -> Result<Option<Secret>> {
        fallback(
            &self.inner,
            &key,
            env_var.as_deref(),
            config_path.as_deref(),
        )
        .and_then(|v| v.map(text).transpose())
        .map_err(|f| f.into_js(env))
    }

    /// Imports the app's credentials.json (`plain:` and `enc:` values) in
    /// one save, verified; per-key failures are in the report.
    #[napi]
    pub fn import_legacy(
        &self,
        env: Env,
        opts: Option<ImportLegacyOptions>,
    ) -> Result<ImportReport> {
        import_legacy(&self.inner, opts).map_err(|f| f.into_js(env))
    }

    /// The fields of `credvault --json status` this handle knows.
    #[napi]
    pub fn status(&self, env: Env) -> Result<Status> {
        status(&self.inner).map_err(|f| f.into_js(env))
    }

    /// The recovery code of a vault this handle created, once; null after.
    #[napi(ts_return_type = "string | null")]
    pub fn take_recovery_code(&self) -> Option<Secret> {
        self.recovery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .map(Secret)
    }

    /// Closes the handle (the vault's keys are dropped and zeroized); later
    /// calls fail with code `usage`. Closing twice is harmless.
    #[napi]
    pub fn close(&self) {
        drop(lock(&self.inner).take());
        if let Some(mut code) = self
            .recovery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            code.zeroize();
        }
    }

    /// Two-way sync with the `pass` password store (`credvault pass
    /// sync`): a side that changed since the last sync is copied to the
    /// other; both changed is a conflict, left alone unless `prefer`.
    #[napi]
    pub fn sync_pass(&self, env: Env, opts: Option<PassSyncOptions>) -> Result<PassReport> {
        sync_pass(&self.inner, opts).map_err(|f| f.into_js(env))
    }

    /// An access token of the OAuth login `name` with at least
    /// `minValidSeconds` (default 300) left, refreshed under the vault's
    /// lock when needed (or when `rejected`: the last one got HTTP 401).
    /// Errors: `not_found` (no such login), `unlock` (a new login is
    /// needed), `network` (the server is unreachable and the token has no
    /// time left).
    #[napi(ts_return_type = "string")]
    pub fn get_valid_token(
        &self,
        env: Env,
        name: String,
        opts: Option<TokenOptions>,
    ) -> Result<Secret> {
        valid_token(&self.inner, &name, opts)
            .and_then(text)
            .map_err(|f| f.into_js(env))
    }

    /// Refreshes the OAuth login `name` now; returns the new access token.
    #[napi(ts_return_type = "string")]
    pub fn refresh_token(&self, env: Env, name: String) -> Result<Secret> {
        refresh_token(&self.inner, &name)
            .and_then(text)
            .map_err(|f| f.into_js(env))
    }

    /// Whether the access token of `name` is missing or has less than
    /// `minValidSeconds` (default 300) left.
    #[napi]
    pub fn is_token_expired(
        &self,
        env: Env,
        name: String,
        min_valid_seconds: Option<u32>,
    ) -> Result<bool> {
        token_expired(&self.inner, &name, min_valid_seconds).map_err(|f| f.into_js(env))
    }

    /// Revokes the OAuth login `name` at the server (RFC 7009) and removes
    /// its tokens from the vault.
    #[napi]
    pub fn revoke_token(&self, env: Env, name: String) -> Result<RevokeResult> {
        revoke(&self.inner, &name).map_err(|f| f.into_js(env))
    }

    /// `getValidToken` off the main thread.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn get_valid_token_async(
        &self,
        name: String,
        opts: Option<TokenOptions>,
    ) -> AsyncTask<Job<Secret>> {
        let shared = Arc::clone(&self.inner);
        job(move || valid_token(&shared, &name, opts).and_then(text))
    }

    /// `syncPass` off the main thread.
    #[napi(ts_return_type = "Promise<PassReport>")]
    pub fn sync_pass_async(&self, opts: Option<PassSyncOptions>) -> AsyncTask<Job<PassReport>> {
        let shared = Arc::clone(&self.inner);
        job(move || sync_pass(&shared, opts))
    }

    /// `store` off the main thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn store_async(&self, key: String, value: Either<String, Buffer>) -> AsyncTask<Job<()>> {
        let (shared, value) = (self.inner.clone(), bytes(value));
        job(move || store(&shared, &key, &value))
    }

    /// `retrieve` off the main thread.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn retrieve_async(&self, key: String) -> AsyncTask<Job<Option<Secret>>> {
        let shared = self.inner.clone();
        job(move || retrieve(&shared, &key).and_then(|v| v.map(text).transpose()))
    }

    /// `retrieveBuffer` off the main thread.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn retrieve_buffer_async(&self, key: String) -> AsyncTask<Job<Option<Buffer>>> {
        let shared = self.inner.clone();
        job(move || Ok(retrieve(&shared, &key)?.map(|v| Buffer::from(v.expose().to_vec()))))
    }

    /// `delete` off the main thread.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete_async(&self, key: String) -> AsyncTask<Job<bool>> {
        let shared = self.inner.clone();
        job(move || delete(&shared, &key))
    }

    /// `has` off the main thread.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn has_async(&self, key: String) -> AsyncTask<Job<bool>> {
        let shared = self.inner.clone();
        job(move || has(&shared, &key))
    }

    /// `list` off the main thread.
    #[napi(ts_return_type = "Promise<Array<string>>")]
    pub fn list_async(&self, prefix: Option<String>) -> AsyncTask<Job<Vec<String>>> {
        let shared = self.inner.clone();
        job(move || list(&shared, prefix.as_deref()))
    }

    /// `migrateFromEnv` off the main thread.
    #[napi(
        ts_args_type = "map: Record<string, string>",
        ts_return_type = "Promise<Array<EnvResult>>"
    )]
    pub fn migrate_from_env_async(
        &self,
        env: Env,
        map: Object,
    ) -> Result<AsyncTask<Job<Vec<EnvResult>>>> {
        let pairs = env_map(&map).map_err(|f| f.into_js(env))?;
        let shared = self.inner.clone();
        Ok(job(move || migrate(&shared, &pairs)))
    }

    /// `getWithFallback` off the main thread.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn get_with_fallback_async(
        &self,
        key: String,
        env_var: Option<String>,
        config_path: Option<String>,
    ) -> AsyncTask<Job<Option<Secret>>> {
        let shared = self.inner.clone();
        job(move || {
            fallback(&shared, &key, env_var.as_deref(), config_path.as_deref())
                .and_then(|v| v.map(text).transpose())
        })
    }

    /// `importLegacy` off the main thread.
    #[napi(ts_return_type = "Promise<ImportReport>")]
    pub fn import_legacy_async(
        &self,
        opts: Option<ImportLegacyOptions>,
    ) -> AsyncTask<Job<ImportReport>> {
        let shared = self.inner.clone();
        job(move || import_legacy(&shared, opts))
    }

    /// `status` off the main thread.
    #[napi(ts_return_type = "Promise<Status>")]
    pub fn status_async(&self) -> AsyncTask<Job<Status>> {
        let shared = self.inner.clone();
        job(move || status(&shared))
    }
}

/// The `(ENV_VAR, key)` pairs of a `{ENV_VAR: key}` object, in its order.
fn env_map(map: &Object) -> std::result::Result<Vec<(String, String)>, Fail> {
    let bad = |_| Fail::usage("migrateFromEnv expects an object of strings");
    let mut pairs = Vec::new();
    for var in Object::keys(map).map_err(bad)? {
        let key: String = map.get_named_property(&var).map_err(bad)?;
        pairs.push((var, key));
    }
    Ok(pairs)
}

/// The environment variables the app used before it had a credential
/// store, and their keys (`migrateFromEnv`'s usual map).
#[napi]
pub fn default_env_map() -> std::collections::HashMap<String, String> {
    service::DEFAULT_ENV_MAP
        .iter()
        .map(|(v, k)| ((*v).to_owned(), (*k).to_owned()))
        .collect()
}
