//! How the CLI unlocks and creates vaults: the resolved global options
//! ([`Context`]), a [`CliUnlocker`] that the library asks for credentials
//! (so a prompt only appears when a slot needs it), and the [`Backend`]
//! that protects a new vault.
//!
//! # Opening order
//!
//! 1. The session cache in the Linux kernel keyring (`credvault unlock`),
//!    when one is present for this vault. An expired or stale cache is
//!    skipped silently.
//! 2. Keychain slots, through the OS keychain (never with `--no-keychain`).
//!    Every keychain call is bounded (the library's 3 s limit), and a
//!    missing, locked, ambiguous or slow keychain falls through to the next
//!    slot with a one-line note; nothing waits on an unlock dialog.
//! 3. Recovery slots, when a recovery code is given (`--recovery-file`,
//!    `--recovery`, `CREDVAULT_RECOVERY`; see `recovery.rs`).
//! 4. Passphrase slots, with the passphrase from `--passphrase-file`,
//!    `CREDVAULT_PASSPHRASE` or a hidden prompt, in that order.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use credvault::ops::open::OpenedBy;
use credvault::ops::{self, ENV_VAULT};
use credvault::{
    Header, Keychain, KeychainUnlocker, OpenOptions, Passphrase, RecoveryKey, SecretKey,
    UnlockError, Unlocker, Vault, VaultError, Verified, KEYCHAIN_TIMEOUT,
};

use crate::exit::{CliError, Exit};
use crate::output::note;
use crate::passphrase::{self, Confirm, Source};
use crate::recovery::{Recovery, RecoverySource, ENV_RECOVERY};

/// Why the keychain is not used under `--no-keychain`.
const DISABLED: &str = "the OS keychain is disabled by --no-keychain";

/// A keychain failure without the library's "no OS keychain is
/// reachable: " lead, for messages that say that themselves.
pub fn keychain_detail(reason: &str) -> &str {
    reason
        .strip_prefix("no OS keychain is reachable: ")
        .unwrap_or(reason)
}

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
    /// Where a recovery code comes from, if anywhere.
    pub recovery: Recovery,
    /// How many earlier versions every save keeps (`--generations`).
    pub generations: usize,
    /// `--accept-rollback`.
    pub accept_rollback: bool,
    /// The OS keychain connection, made at most once per process.
    keychain: OnceCell<Connection>,
}

/// The outcome of connecting to the OS keychain.
struct Connection {
    result: Result<Keychain, String>,
    took: Duration,
}

/// How an open vault was unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// With the data key cached by `credvault unlock`.
    Session,
    /// By the key slot with this id.
    Slot(u32),
}

/// An open vault and how it was opened.
pub struct Opened {
    /// The vault.
    pub vault: Vault,
    /// What unlocked it.
    pub via: Via,
    /// Why the keychain slots did not open it, when it has some and they
    /// were tried.
    pub keychain_failure: Option<String>,
    /// The passphrase and recovery code handed to the library while
    /// opening (whichever slot opened it), for commands that need them
    /// again (`backup`, `rekey`).
    pub credentials: Credentials,
}

/// Credentials read while opening a vault, kept to be offered again; as an
/// [`Unlocker`] it hands out copies.
#[derive(Default)]
pub struct Credentials {
    /// The passphrase read, if any.
    pub passphrase: Option<Passphrase>,
    /// The recovery code read, if any.
    pub recovery: Option<RecoveryKey>,
}

impl Unlocker for Credentials {
    fn passphrase(&mut self) -> Option<Passphrase> {
        self.passphrase
            .as_ref()
            .map(|p| Passphrase::new(p.expose().to_vec()))
    }

    fn recovery_key(&mut self) -> Option<RecoveryKey> {
        self.recovery
            .as_ref()
            .and_then(|k| RecoveryKey::from_bytes(k.expose().to_vec()))
    }
}

impl Context {
    /// Resolves the global options.
    pub fn new(global: &crate::cli::GlobalArgs) -> Context {
        Context {
            // Symlinks resolved once (issue 13): the lock, generations,
            // backups and the audit log derive from the real file.
            vault: vault_path(global.vault.clone()).map(|p| ops::resolve_vault_path(&p)),
            passphrase: Source::resolve(global.passphrase_file.clone()),
            no_keychain: global.no_keychain,
            lock_timeout: Duration::from_secs(global.lock_timeout),
            recovery: Recovery::resolve(global.recovery_file.clone(), global.recovery),
            generations: usize::from(global.generations),
            accept_rollback: global.accept_rollback,
            keychain: OnceCell::new(),
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
            generations: self.generations,
            accept_rollback: self.accept_rollback,
            // FORMAT.md §9.2: the highest save counter seen per vault id,
            // under $XDG_STATE_HOME/credvault/marks.
            ..ops::face_open_options()
        }
    }

    /// The OS keychain, connected on first use within the library's
    /// default limit (3 s). `Err` carries a one-line reason: disabled by
    /// `--no-keychain`, or unreachable. Connecting unlocks nothing and
    /// writes nothing.
    pub fn keychain(&self) -> Result<&Keychain, String> {
        if self.no_keychain {
            return Err(DISABLED.to_owned());
        }
        let connection = self.keychain.get_or_init(|| {
            let started = Instant::now();
            let result = Keychain::connect(KEYCHAIN_TIMEOUT).map_err(|e| e.to_string());
            Connection {
                result,
                took: started.elapsed(),
            }
        });
        connection.result.as_ref().map_err(Clone::clone)
    }

    /// How long connecting to the keychain took, if it was tried.
    pub fn keychain_connect_time(&self) -> Option<Duration> {
        self.keychain.get().map(|c| c.took)
    }

    /// Opens and unlocks the vault, asking for credentials only if a slot
    /// needs them.
    pub fn open(&self) -> Result<Vault, CliError> {
        self.open_detailed().map(|opened| opened.vault)
    }

    /// Opens and unlocks the vault in the order of the module docs, and
    /// says how.
    pub fn open_detailed(&self) -> Result<Opened, CliError> {
        self.open_at(self.vault_path()?, self.open_options())
    }

    /// [`Context::open_detailed`] of the vault file at `path` (another
    /// copy, a git merge driver's file) with `options`.
    pub fn open_at(&self, path: &Path, options: OpenOptions) -> Result<Opened, CliError> {
        self.recovery.check()?;
        let mut unlocker = CliUnlocker::new(self);
        match ops::open::open(path, &mut unlocker, options) {
            Ok((vault, by)) => {
                crate::audit::remember(&vault);
                Ok(match by {
                    OpenedBy::Session => Opened {
                        vault,
                        via: Via::Session,
                        keychain_failure: None,
                        credentials: Credentials::default(),
                    },
                    OpenedBy::Slot => Opened {
                        via: Via::Slot(vault.unlocked_by()),
                        vault,
                        keychain_failure: unlocker.keychain_failure,
                        credentials: unlocker.given,
                    },
                })
            }
            Err(e) => Err(unlocker.explain(e)),
        }
    }

    /// Checks vault bytes read from elsewhere (a backup, a generation) end
    /// to end ([`Verified`]), unlocking them as [`Context::open_detailed`]
    /// unlocks the vault: a session key cached for their vault id first,
    /// then keychain, recovery and passphrase slots.
    pub fn verify_bytes(&self, bytes: Vec<u8>) -> Result<(Verified, Credentials), CliError> {
        self.recovery.check()?;
        // A session key that is not this file's (an older copy, rekeyed
        // since) gives `None`: unlock it with its slots instead.
        if let Some(verified) = ops::verify_with_session_key(&bytes) {
            return Ok((verified?, Credentials::default()));
        }
        let mut unlocker = CliUnlocker::new(self);
        match Verified::open(bytes, &mut unlocker, &self.open_options()) {
            Ok(verified) => Ok((verified, unlocker.given)),
            Err(e) => Err(unlocker.explain(e)),
        }
    }

    /// The header of the vault file and its format minor version, parsed
    /// but not authenticated (the vault is not unlocked). For `lock` and
    /// `--no-unlock` views.
    pub fn read_header(&self) -> Result<(Header, u8), CliError> {
        let peeked = ops::peek(self.vault_path()?).map_err(VaultError::from)?;
        Ok((peeked.header, peeked.minor))
    }
}

/// `--vault`, else a non-empty `CREDVAULT_VAULT`, else
/// `$XDG_DATA_HOME/credvault/vault.cvault` (`~/.local/share/...`).
fn vault_path(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = flag {
        return Ok(path);
    }
    ops::default_vault_path().ok_or_else(|| {
        format!("cannot find a home directory for the default vault path; pass --vault PATH or set {ENV_VAULT}")
    })
}

/// Supplies credentials to the library from the CLI's sources: keychain
/// slots from the OS keychain (through the library's [`KeychainUnlocker`],
/// which only reads credvault's own items), passphrase slots from the
/// passphrase source. A failure of either is kept, to explain a failed
/// open better than the library's generic "no credential".
pub struct CliUnlocker<'c> {
    context: &'c Context,
    failure: Option<CliError>,
    keychain_failure: Option<String>,
    announced: bool,
    given: Credentials,
    /// A malformed recovery code: reported instead of anything else, and
    /// no passphrase is asked for after it.
    fatal: Option<CliError>,
}

/// Supplies nothing; the keychain part of [`CliUnlocker`] wraps it.
struct Nothing;
impl Unlocker for Nothing {}

impl<'c> CliUnlocker<'c> {
    /// An unlocker over the context's sources.
    pub fn new(context: &'c Context) -> Self {
        CliUnlocker {
            context,
            failure: None,
            keychain_failure: None,
            announced: false,
            given: Credentials::default(),
            fatal: None,
        }
    }

    /// Says once, on stderr, that the keychain did not open the vault and
    /// the passphrase (or recovery code) is tried next.
    fn announce_fallthrough(&mut self) {
        self.announce_fallthrough_to("the passphrase");
    }

    fn announce_fallthrough_to(&mut self, next: &str) {
        if self.announced {
            return;
        }
        if let Some(reason) = &self.keychain_failure {
            self.announced = true;
            note(&format!(
                "the OS keychain did not open the vault: {reason}; trying {next}"
            ));
        }
    }

    /// The error to show for a failed open: the library's, or a clearer
    /// one built from what the keychain and the passphrase source said.
    pub fn explain(self, e: VaultError) -> CliError {
        if let Some(fatal) = self.fatal {
            return fatal;
        }
        let recovery_given = self.given.recovery.is_some();
        match (e, self.failure) {
            (VaultError::Unlock(UnlockError::WrongKeyOrTampered), _) if recovery_given => {
                CliError::new(Exit::Unlock, UnlockError::WrongKeyOrTampered.to_string()).with_hint(
                    format!("check the recovery code given by --recovery-file, --recovery or {ENV_RECOVERY} (and the passphrase, if one was given)"),
                )
            }
            (VaultError::Unlock(UnlockError::NoCredentials { keychain, .. }), Some(failure)) => {
                match keychain {
                    Some(reason) => CliError::new(
                        failure.exit(),
                        format!("keychain: {reason}; {}", failure.message()),
                    )
                    .with_hint(
                        failure
                            .hint()
                            .unwrap_or(crate::exit::HINT_NO_SOURCE)
                            .to_owned(),
                    ),
                    None => failure,
                }
            }
            (VaultError::Unlock(UnlockError::Keychain(reason)), _) if self.context.no_keychain => {
                CliError::new(
                    Exit::Unlock,
                    format!("keychain: {reason}, and the vault has no other slot this credvault can use"),
                )
                .with_hint("run without --no-keychain")
            }
            (e, _) => e.into(),
        }
    }
}

impl Unlocker for CliUnlocker<'_> {
    fn passphrase(&mut self) -> Option<Passphrase> {
        if self.fatal.is_some() {
            return None;
        }
        // Before a prompt, say why one appears; for other sources, only
        // once the passphrase is in hand (an error stays one line).
        let prompting =
            matches!(self.context.passphrase, Source::Prompt) && passphrase::interactive();
        if prompting {
            self.announce_fallthrough();
        }
        match self.context.passphrase.read(Confirm::Once) {
            Ok(p) => {
                self.announce_fallthrough();
                self.given.passphrase = Some(Passphrase::new(p.expose().to_vec()));
                Some(p)
            }
            Err(e) => {
                self.failure = Some(e);
                None
            }
        }
    }

    fn recovery_key(&mut self) -> Option<RecoveryKey> {
        if !self.context.recovery.is_given() {
            return None;
        }
        if matches!(self.context.recovery.source(), RecoverySource::Prompt) {
            self.announce_fallthrough_to("the recovery code");
        }
        match self.context.recovery.read() {
            Ok(Some(key)) => {
                self.announce_fallthrough_to("the recovery code");
                self.given.recovery = RecoveryKey::from_bytes(key.expose().to_vec());
                Some(key)
            }
            Ok(None) => None,
            Err(e) if e.exit() == Exit::Usage => {
                self.fatal = Some(e);
                None
            }
            Err(e) => {
                self.failure = Some(e);
                None
            }
        }
    }

    fn keychain_key(&mut self, service: &str, account: &str) -> Result<SecretKey, String> {
        let keychain = self.context.keychain();
        let keychain = match keychain {
            Ok(k) => k.clone(),
            Err(reason) => {
                if !self.context.no_keychain {
                    self.keychain_failure = Some(reason.clone());
                }
                return Err(reason);
            }
        };
        let found =
            KeychainUnlocker::with_keychain(Nothing, keychain).keychain_key(service, account);
        if let Err(reason) = &found {
            self.keychain_failure = Some(reason.clone());
        }
        found
    }
}

/// What protects a new vault.
pub enum Backend {
    /// A keychain slot in this OS keychain (reachable and writable).
    Keychain(Keychain),
    /// A passphrase slot (Argon2id).
    Passphrase {
        /// Why the keychain is not used, unless `--no-keychain` said so.
        keychain_unusable: Option<String>,
    },
}

impl Backend {
    /// The backend for `init`: the OS keychain when it is reachable and a
    /// throwaway item can be written, read back and deleted
    /// ([`Keychain::probe`]) and `--no-keychain` is absent; otherwise a
    /// passphrase.
    pub fn choose(context: &Context) -> Backend {
        if context.no_keychain {
            return Backend::Passphrase {
                keychain_unusable: None,
            };
        }
        let usable = context
            .keychain()
            .and_then(|kc| kc.probe().map(|()| kc.clone()).map_err(|e| e.to_string()));
        match usable {
            Ok(kc) => Backend::Keychain(kc),
            Err(reason) => Backend::Passphrase {
                keychain_unusable: Some(reason),
            },
        }
    }

    /// The name shown by `init` and `status`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Keychain(_) => "keychain",
            Backend::Passphrase { .. } => "passphrase",
        }
    }
}
