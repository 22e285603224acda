//! Exit codes (the public contract of DESIGN.md §3) and the one error type
//! of the binary, which carries its code, a one-line message and a hint.

use credvault::service::ErrorKind;
use credvault::{FormatError, StoreError, UnlockError, VaultError};

/// The documented exit codes. Never 101: panics are caught in `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// The key does not exist (get, rm, has).
    NotFound = 1,
    /// Bad arguments, invalid key name, value too large.
    Usage = 2,
    /// Cannot unlock: wrong passphrase, no usable slot, no passphrase
    /// source, KDF work above the limits.
    Unlock = 3,
    /// The file is not a readable vault: not a vault, corrupt, tampered,
    /// truncated, unsupported version.
    Unreadable = 4,
    /// File system: no vault yet, already exists, permission, disk full,
    /// lock timeout.
    FileSystem = 5,
    /// A legacy migration left something behind: a legacy file or value
    /// could not be read, decrypted or migrated (import-legacy,
    /// migrate-env, get --config).
    Incomplete = 6,
    /// An OAuth server could not be reached (or answered unusably) and no
    /// token with time left was at hand.
    Network = 7,
    /// exec: the program exists but cannot be run (as env(1)).
    CannotExecute = 126,
    /// exec: the program was not found (as env(1)).
    CommandNotFound = 127,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A short machine-readable name, used in `--json` errors.
    pub fn kind(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::NotFound => "not_found",
            Exit::Usage => "usage",
            Exit::Unlock => "unlock",
            Exit::Unreadable => "unreadable",
            Exit::FileSystem => "file_system",
            Exit::Incomplete => "incomplete",
            Exit::Network => "network",
            Exit::CannotExecute => "cannot_execute",
            Exit::CommandNotFound => "command_not_found",
        }
    }
}

/// A failure of a command: what to print and how to exit. The message and
/// hint never contain a secret.
#[derive(Debug)]
pub struct CliError {
    exit: Exit,
    message: String,
    hint: Option<String>,
}

const HINT_INIT: &str = "run `credvault init` to create a vault, or point --vault or CREDVAULT_VAULT at an existing one";
const HINT_PASSPHRASE: &str =
    "check the passphrase given by --passphrase-file, CREDVAULT_PASSPHRASE or the prompt";
const HINT_LOCK: &str =
    "try again when the other process is done, or wait longer with --lock-timeout SECS";
const HINT_NOT_A_VAULT: &str = "check that --vault or CREDVAULT_VAULT names a credvault file";
const HINT_DAMAGED: &str = "the file was changed outside credvault; restore it from a backup";

impl CliError {
    /// An error with `exit` and `message`.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CliError {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// Adds a hint shown after the message.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// "No entry named KEY" (exit 1).
    pub fn not_found(key: &credvault::KeyName) -> Self {
        Self::new(Exit::NotFound, format!("no entry named {key}"))
    }

    /// The exit code.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// The message, without hint.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl From<ErrorKind> for Exit {
    /// The exit code of a library error class (the one mapping, shared
    /// with the Node module's `code`).
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NotFound => Exit::NotFound,
            ErrorKind::Usage => Exit::Usage,
            ErrorKind::Unlock => Exit::Unlock,
            ErrorKind::Unreadable => Exit::Unreadable,
            ErrorKind::FileSystem => Exit::FileSystem,
            ErrorKind::Incomplete => Exit::Incomplete,
            ErrorKind::Network => Exit::Network,
            // A class added to the library later: report it as a failure
            // of the environment rather than guess at a more specific code.
            _ => Exit::FileSystem,
        }
    }
}

impl From<VaultError> for CliError {
    fn from(e: VaultError) -> Self {
        let message = e.to_string();
        let exit = Exit::from(ErrorKind::of_vault(&e));
        let hint = match &e {
            VaultError::Format(f) => format_hint(f),
            VaultError::Unlock(u) => unlock_hint(u),
            VaultError::Tampered => Some(HINT_DAMAGED),
            VaultError::KeyChanged => Some("another process replaced or re-keyed the vault meanwhile; run the command again"),
            VaultError::Store(s) => store_hint(s),
            // The OS keychain refused to store a keychain slot's key.
            VaultError::Keychain(_) => Some(HINT_KEYCHAIN_WRITE),
            VaultError::NoPortableSlot => Some("give the backup a passphrase of its own (--backup-passphrase-file FILE or --backup-passphrase), or add one to the vault (`credvault slot add passphrase`, `credvault recovery rotate`)"),
            VaultError::SlotsUnavailable(_) => Some("give the missing credentials (the passphrase, an unlocked keychain, --recovery-file with --keep-recovery-code), or pass --drop-unavailable to remove those slots; nothing was changed"),
            VaultError::RolledBack { .. } => Some("if you put the older copy in place on purpose, run the command again with --accept-rollback (`credvault undo` and `credvault restore` move the mark themselves); otherwise put the newer copy back"),
            VaultError::DifferentVault => Some("merge only copies of this vault (same vault id); a different vault can be copied in with export and import"),
            _ => None,
        };
        CliError {
            exit,
            message,
            hint: hint.map(str::to_owned),
        }
    }
}

impl From<credvault::oauth::OAuthError> for CliError {
    fn from(e: credvault::oauth::OAuthError) -> Self {
        use credvault::oauth::OAuthError as E;
        let message = e.to_string();
        let exit = Exit::from(ErrorKind::of_oauth(&e));
        let hint = match e {
            E::Vault(v) => return v.into(),
            E::NoLogin(name) => Some(format!(
                "log in first: credvault oauth login {name} --client-id ID ..."
            )),
            E::NeedsLogin(name) => Some(format!(
                "the server ended the grant; run credvault oauth login {name} again"
            )),
            E::Network(_) => Some("check the network, the server's address and its certificate (SSL_CERT_FILE, --ca-file)".to_owned()),
            _ => None,
        };
        CliError {
            exit,
            message,
            hint,
        }
    }
}

impl From<credvault::NameError> for CliError {
    fn from(e: credvault::NameError) -> Self {
        CliError::usage(format!("invalid key name: {e}"))
    }
}

fn format_hint(e: &FormatError) -> Option<&'static str> {
    match e {
        FormatError::NotAVault => Some(HINT_NOT_A_VAULT),
        FormatError::UnsupportedVersion { .. } => Some("upgrade credvault to read this vault"),
        FormatError::Truncated(_)
        | FormatError::TrailingData
        | FormatError::NonCanonical(_)
        | FormatError::Malformed(_) => Some(HINT_DAMAGED),
        _ => None,
    }
}

fn unlock_hint(e: &UnlockError) -> Option<&'static str> {
    match e {
        UnlockError::WrongKeyOrTampered => Some(HINT_PASSPHRASE),
        UnlockError::NoCredentials { .. } => Some(HINT_NO_SOURCE),
        UnlockError::NoUsableSlot => Some("upgrade credvault to open this vault"),
        UnlockError::Keychain(_) => Some(HINT_KEYCHAIN_OPEN),
        _ => None,
    }
}

fn store_hint(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::NotFound(_) => Some(HINT_INIT),
        StoreError::AlreadyExists(_) => {
            Some("the existing file was left unchanged; choose another path with --vault")
        }
        StoreError::LockTimeout { .. } => Some(HINT_LOCK),
        StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            Some("check the permissions of the vault file and its directory")
        }
        // Before the rename (every step but the directory fsync) a failed
        // save leaves the old vault in place (FORMAT.md §7).
        StoreError::Io { op, source, .. }
            if *op != "fsync directory"
                && matches!(
                    source.kind(),
                    std::io::ErrorKind::StorageFull
                        | std::io::ErrorKind::FileTooLarge
                        | std::io::ErrorKind::QuotaExceeded
                ) =>
        {
            Some(HINT_FULL)
        }
        _ => None,
    }
}

/// For a save that ran out of space or hit a file-size limit.
const HINT_FULL: &str =
    "the vault was left as it was; free some space (or raise the file-size limit) and run the command again";

/// For a keychain-only vault whose keychain is locked, unreachable or
/// lacks the vault's item.
const HINT_KEYCHAIN_OPEN: &str = "unlock the OS keychain, or run where it is reachable; a vault with only keychain slots opens nowhere else (add a passphrase slot with `credvault slot add passphrase` while it opens)";
/// For a keychain that refused to store a new slot's key.
const HINT_KEYCHAIN_WRITE: &str = "unlock the OS keychain and try again; nothing was written";

/// Names the passphrase sources; used when none is available.
pub const HINT_NO_SOURCE: &str =
    "pass --passphrase-file PATH or set CREDVAULT_PASSPHRASE, or run on a terminal to be prompted";

/// The exit code and message of a [`PassError`].
pub fn pass_error(e: credvault::pass::PassError) -> CliError {
    let message = crate::sanitize::sanitize(&e.to_string());
    use credvault::pass::PassError;
    match e {
        PassError::Vault(v) => CliError::from(v),
        PassError::InvalidPrefix(_) | PassError::InvalidName(_) => CliError::usage(message),
        PassError::NotInstalled { .. } => CliError::new(Exit::FileSystem, message)
            .with_hint("install pass (Debian: apt-get install pass gnupg)"),
        PassError::NotInitialised(_) => CliError::new(Exit::FileSystem, message)
            .with_hint("point --store or PASSWORD_STORE_DIR at your store"),
        PassError::Io { .. } => CliError::new(Exit::FileSystem, message),
        _ => CliError::new(Exit::Incomplete, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn library_errors_map_to_documented_codes() {
        let cases: Vec<(VaultError, Exit)> = vec![
            (FormatError::NotAVault.into(), Exit::Unreadable),
            (VaultError::Tampered, Exit::Unreadable),
            (VaultError::KeyChanged, Exit::Unreadable),
            (UnlockError::WrongKeyOrTampered.into(), Exit::Unlock),
            (UnlockError::NoUsableSlot.into(), Exit::Unlock),
            (
                StoreError::NotFound(PathBuf::from("v")).into(),
                Exit::FileSystem,
            ),
            (
                StoreError::AlreadyExists(PathBuf::from("v")).into(),
                Exit::FileSystem,
            ),
            (VaultError::ValueTooLarge { len: 9, max: 8 }, Exit::Usage),
            (VaultError::LastSlot, Exit::Usage),
            (
                UnlockError::Keychain("the OS keychain is locked or refused access".into()).into(),
                Exit::Unlock,
            ),
            (credvault::KeychainError::Locked.into(), Exit::Unlock),
            (credvault::NameError::Character.into(), Exit::Usage),
        ];
        for (e, want) in cases {
            let shown = e.to_string();
            let cli = CliError::from(e);
            assert_eq!(cli.exit(), want, "{shown}");
        }
    }

    #[test]
    fn a_full_disk_is_a_file_system_error_with_a_hint() {
        for errno in [28, 27] {
            // ENOSPC, EFBIG (RLIMIT_FSIZE with SIGXFSZ ignored)
            let e = CliError::from(VaultError::from(StoreError::Io {
                op: "write",
                path: PathBuf::from(".v.tmp"),
                source: std::io::Error::from_raw_os_error(errno),
            }));
            assert_eq!(e.exit(), Exit::FileSystem);
            assert!(e.hint().unwrap().contains("left as it was"), "{errno}");
        }
    }

    #[test]
    fn common_failures_carry_hints() {
        let e = CliError::from(VaultError::from(StoreError::NotFound(PathBuf::from("v"))));
        assert!(e.hint().unwrap().contains("credvault init"));
        let e = CliError::from(VaultError::from(UnlockError::WrongKeyOrTampered));
        assert!(e.hint().unwrap().contains("passphrase"));
    }
}
