//! The command line, as clap derive definitions. Doc comments are the help
//! text; the names, aliases and exit codes are the public contract of
//! DESIGN.md §3.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Smallest `--kdf-memory-mib` accepted: the format's minimum (8 MiB).
pub const KDF_MEMORY_MIB_MIN: i64 = 8;
/// Largest `--kdf-memory-mib` accepted: what this credvault agrees to open
/// (1 GiB), so a new vault can always be opened again.
pub const KDF_MEMORY_MIB_MAX: i64 = 1024;
/// Largest `--kdf-iterations` / `--kdf-parallelism` accepted (reader limits).
pub const KDF_COUNT_MAX: i64 = 16;
/// Time per unlock that calibration aims at (`init`, `kdf-calibrate`):
/// 750 ms, inside FORMAT.md §6.2's 0.5–1 s.
pub const CALIBRATION_TARGET_MS: u32 = 750;
/// Largest `kdf-calibrate --target-ms` accepted (one minute).
pub const CALIBRATION_TARGET_MS_MAX: i64 = 60_000;
/// Most memory calibration picks unless told otherwise (`--max-memory-mib`),
/// further capped at half of physical memory.
pub const CALIBRATION_MEMORY_MIB: u32 = 256;

const AFTER_LONG_HELP: &str = "\
Environment:
  CREDVAULT_VAULT       vault path when --vault is not given
  CREDVAULT_PASSPHRASE  passphrase when --passphrase-file is not given
  CREDVAULT_NEW_PASSPHRASE
                        new passphrase of `slot add passphrase` and
                        `passwd` when --new-passphrase-file is not given
  CREDVAULT_RECOVERY    recovery code when --recovery-file is not given
  CREDVAULT_GENERATIONS earlier versions kept beside the vault (--generations)
  CREDVAULT_AUDIT       audit log: on (default), off, required (an audit
                        write failure fails the command, exit 5)
  CREDVAULT_AUDIT_LOG   audit log path (--audit-log)
  CREDVAULT_AUDIT_MAX_BYTES
                        rotate the audit log at this size (default 1048576)
  XDG_DATA_HOME         base of the default vault path
  PASSWORD_STORE_DIR    the pass store of `pass import|export|sync` and
                        `get --pass` (default ~/.password-store); pass and
                        gpg also read their own variables (GNUPGHOME,
                        PASSWORD_STORE_GPG_OPTS, ...)
  SSL_CERT_FILE         extra CA certificates (PEM) for the oauth commands

Exit codes:
  0  success
  1  key not found (get, rm, has)
  2  usage: bad arguments, invalid key name, value too large, malformed
     recovery code, a backup nothing portable could open
  3  cannot unlock: wrong passphrase or recovery code, no usable slot, no
     passphrase source, OS keychain locked or unreachable (keychain-only
     vault), rekey of a slot whose credential is not at hand
  4  unreadable vault: not a vault, corrupt, tampered, truncated, newer version;
     `audit verify`: the audit log was tampered with
  5  file system: no vault yet, already exists, permission, disk full, lock timeout
  6  legacy migration incomplete: a legacy file or value could not be read,
     decrypted or migrated (import-legacy, migrate-env, get --config);
     merge --conflict-copies: a conflict copy could not be merged (kept);
     pass import|export|sync: a key failed, was unmappable or conflicts
  7  network: an OAuth server could not be reached and no token with time
     left was at hand (oauth, exec --oauth)
  126, 127  exec: the program cannot be run / was not found; otherwise exec
     exits with the program's own status

Guides: docs/ in the credvault repository (docs/README.md): the full
reference (docs/cli.md), migrating, keychain, backup, audit, several
machines, performance, security.";

/// The last line of `-h` (the short help).
const AFTER_HELP: &str = "\
More: `credvault --help` (environment, exit codes); guides in docs/ of the
credvault repository (docs/README.md; full reference: docs/cli.md).";

/// An encrypted credential vault.
///
/// Values are stored in one encrypted file (by default
/// ~/.local/share/credvault/vault.cvault) whose data key is protected by the
/// OS keychain or a passphrase. Values are read from stdin or a hidden
/// prompt, never from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "credvault",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = AFTER_HELP,
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    /// Options accepted before or after any command.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Vault file [default: $CREDVAULT_VAULT, else
    /// $XDG_DATA_HOME/credvault/vault.cvault, i.e.
    /// ~/.local/share/credvault/vault.cvault].
    #[arg(long, global = true, value_name = "PATH")]
    pub vault: Option<PathBuf>,

    /// Read the passphrase from this file (one trailing newline is
    /// stripped). Otherwise $CREDVAULT_PASSPHRASE is used, else a hidden
    /// prompt on the terminal.
    #[arg(long, global = true, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,

    /// Do not use the OS keychain at all: `init` makes a passphrase slot,
    /// keychain slots are skipped when opening.
    #[arg(long, global = true)]
    pub no_keychain: bool,

    /// Print results (and errors, on stderr) as JSON.
    #[arg(long, global = true)]
    pub json: bool,

    /// Seconds to wait for another credvault process that is saving.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,

    /// Unlock with the recovery code in this file (case, spaces and dashes
    /// do not matter). Otherwise $CREDVAULT_RECOVERY is used, if set.
    #[arg(long, global = true, value_name = "PATH")]
    pub recovery_file: Option<PathBuf>,

    /// Unlock with the recovery code, asked on the terminal (hidden).
    #[arg(long, global = true, conflicts_with = "recovery_file")]
    pub recovery: bool,

    /// How many earlier versions of the vault every save keeps beside it,
    /// as VAULT.1 (newest) to VAULT.N, for `undo`; 0 keeps none.
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "CREDVAULT_GENERATIONS",
        default_value_t = 3,
        value_parser = clap::value_parser!(u16).range(0..=100)
    )]
    pub generations: u16,

    /// Append the audit log here instead of beside the vault
    /// (VAULT.audit.jsonl).
    #[arg(long, global = true, value_name = "PATH", env = "CREDVAULT_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,

    /// Do not write the audit log for this command (as CREDVAULT_AUDIT=off).
    #[arg(long, global = true)]
    pub no_audit: bool,

    /// Accept a vault whose save counter went back (you put an older copy
    /// in place on purpose): this machine's rollback mark moves down to it.
    #[arg(long, global = true)]
    pub accept_rollback: bool,
}

/// The commands. Aliases match the desktop app's credential service API.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new vault, protected by the OS keychain when one is usable,
    /// else by a passphrase.
    ///
    /// With a reachable, writable OS keychain (and no --no-keychain) the
    /// vault gets a keychain slot and needs no passphrase; if a passphrase
    /// is also given (--passphrase-file or CREDVAULT_PASSPHRASE), a
    /// passphrase slot is added too, so the file opens on other machines.
    /// Otherwise the vault gets a passphrase slot, the passphrase asked
    /// twice on a terminal. Argon2id parameters are calibrated on this
    /// machine as `kdf-calibrate` does (4 lanes, about 0.75 s per unlock)
    /// unless all three --kdf-* options are given. Never overwrites an
    /// existing vault.
    Init(InitArgs),

    /// Store a value under KEY, read from stdin or a hidden prompt.
    ///
    /// From a pipe or file, exactly one trailing newline (\n or \r\n) is
    /// stripped. On a terminal the value is asked twice with hidden input.
    /// The value is never taken from the command line.
    #[command(visible_alias = "store")]
    Set(SetArgs),

    /// Print the value of KEY followed by one newline.
    ///
    /// With --env VAR (and --config FILE), a KEY missing from the vault is
    /// taken from the environment variable VAR, then from the legacy config
    /// file: the app's getWithFallback. Which source answered is reported on
    /// stderr (and as "source" with --json). A vault that does not exist yet
    /// is skipped; one that cannot be opened is an error.
    #[command(visible_alias = "retrieve")]
    Get(GetArgs),

    /// Delete KEY.
    #[command(visible_alias = "delete")]
    Rm(KeyArgs),

    /// Exit 0 if KEY exists, 1 if it does not.
    Has(KeyArgs),

    /// List key names, one per line, optionally only those starting with
    /// PREFIX.
    #[command(visible_alias = "list")]
    Ls(LsArgs),

    /// Show the vault's path, format, backend (keychain or passphrase), key
    /// slots, session unlock, entry count and warnings. Never shows a value.
    Status(StatusArgs),

    /// List, add and remove key slots: the ways the vault can be unlocked.
    #[command(subcommand)]
    Slot(SlotCommand),

    /// Cache the unlocked vault key in the kernel keyring for a while, so
    /// later commands need no passphrase (Linux).
    ///
    /// The data key goes to the calling user's kernel keyring (keyrings(7))
    /// with a timeout the kernel enforces; it never touches the disk and
    /// is gone at reboot. Until it expires or `credvault lock` runs, any
    /// process of the same user (and root) can read it. Later commands
    /// use it without a prompt and silently fall back to the keychain or
    /// the passphrase once it has expired.
    Unlock(UnlockArgs),

    /// Drop the key cached by `credvault unlock` now.
    Lock,

    /// Import the desktop app's credentials.json: plain: values and enc:
    /// values (Electron safeStorage, i.e. Chromium OSCrypt), in one save.
    ///
    /// PATH defaults to the app's userData directory:
    /// ~/.config/NAME/credentials.json on Linux (~/Library/Application
    /// Support/NAME on macOS, %APPDATA%\NAME on Windows). enc: values are
    /// decrypted as the app's Electron would: on Linux v10 with Chromium's
    /// built-in key, v11 with the password Chromium keeps in the Secret
    /// Service (schema chrome_libsecret_os_crypt_password_v2,
    /// application=NAME), looked up automatically unless
    /// --safe-storage-password-file gives it (e.g. read from KWallet); on
    /// macOS with the Keychain item "NAME Safe Storage"; on Windows with
    /// the key in Local State, through DPAPI.
    ///
    /// Every key is reported as imported, unchanged (already in the vault),
    /// kept (the vault holds a different value; --overwrite replaces it) or
    /// failed, with the reason; values are never printed. The successes are
    /// saved even when some keys fail, and then the exit code is 6.
    /// Re-running is harmless: everything already imported is unchanged.
    /// The vault is re-read and every value verified after the save.
    #[command(name = "import-legacy")]
    ImportLegacy(ImportLegacyArgs),

    /// Copy credentials from environment variables into the vault, in one
    /// save, and report what moved.
    ///
    /// Without VAR=key pairs the app's variables are used: PGPASSWORD,
    /// ANTHROPIC_API_KEY, OPENAI_API_KEY, GITHUB_TOKEN, QDRANT_API_KEY and
    /// MEMGRAPH_PASSWORD, to postgresql.password, anthropic.apiKey,
    /// openai.apiKey, github.token, qdrant.apiKey and memgraph.password.
    /// Unset and empty variables are skipped; a different value already in
    /// the vault is kept unless --overwrite.
    #[command(name = "migrate-env")]
    MigrateEnv(MigrateEnvArgs),

    /// Run a program with vault values in its environment.
    ///
    /// Each --env VAR=key sets VAR to KEY's value for the program only;
    /// values are never written to disk or put on any command line. On Unix
    /// credvault replaces itself with the program, so the exit status is
    /// the program's. The program does not inherit CREDVAULT_PASSPHRASE,
    /// CREDVAULT_NEW_PASSPHRASE or CREDVAULT_RECOVERY.
    /// Exit 1 if a key is missing (the program is not started), 127 if the
    /// program is not found, 126 if it cannot be run.
    Exec(ExecArgs),

    /// Write a backup that opens on any machine: passphrase and recovery
    /// slots only.
    ///
    /// The copy is read under the vault's lock, carries the vault's
    /// passphrase and recovery slots (keychain slots do not travel) and,
    /// with --backup-passphrase-file or --backup-passphrase, a passphrase
    /// slot of its own. It is checked end to end before it is written
    /// (every value opens; the backup passphrase, or the credential that
    /// opened the vault, unlocks it), written with mode 0600 and read back.
    /// A backup that no passphrase or recovery code could open is refused.
    /// Never overwrites DEST unless --force.
    Backup(BackupArgs),

    /// Replace the vault with a backup (or an earlier generation), keeping
    /// the current file.
    ///
    /// SRC is opened with the usual credentials (passphrase, recovery
    /// code, keychain) and every value is checked before anything is
    /// touched; a damaged or unopenable SRC changes nothing. Then, under
    /// the vault's lock, the current vault (if any) is kept as
    /// VAULT.bak-<UTC time> and SRC replaces it atomically. Works where no
    /// vault exists yet (a new machine). Afterwards it offers to add a
    /// keychain slot on this machine (asked on a terminal; --add-keychain
    /// without one).
    Restore(RestoreArgs),

    /// Undo the last save: restore the newest generation (VAULT.1).
    ///
    /// The current vault is kept as VAULT.bak-<UTC time> first, so an undo
    /// can itself be undone with `restore`. Each undo goes one save further
    /// back (VAULT.2 becomes VAULT.1).
    Undo,

    /// Check a vault or backup end to end: format, unlock, body and every
    /// value. Prints no secret.
    ///
    /// Exit 0 when intact, 4 when damaged (corrupt, tampered, truncated),
    /// 3 when it cannot be unlocked. PATH defaults to the vault.
    Verify(VerifyArgs),

    /// Change a passphrase (a rewrap: same data key, same values).
    ///
    /// The passphrase slot that opened the vault (or --slot ID) gets the
    /// new passphrase from --new-passphrase-file, CREDVAULT_NEW_PASSPHRASE
    /// or two prompts. Older copies and backups still open with the old
    /// passphrase; to make the current vault independent of everything
    /// old, use `rekey`.
    Passwd(PasswdArgs),

    /// Replace the data key (a rekey): every value sealed again, every slot
    /// wrapped again, in one atomic save.
    ///
    /// Passphrase slots need the passphrase (the usual sources); keychain
    /// slots get a new key in a new keychain item and the old item is
    /// deleted; recovery slots get a NEW recovery code, printed once
    /// (--keep-recovery-code keeps the one given by --recovery-file,
    /// --recovery or CREDVAULT_RECOVERY). A slot whose credential is not at
    /// hand is refused unless --drop-unavailable. Older backups keep
    /// opening with their old credentials, but nothing old opens this
    /// vault any more. A session unlock of the vault is ended.
    Rekey(RekeyArgs),

    /// The copies kept beside the vault: generations VAULT.1 ... VAULT.N
    /// (one per save, for `undo`) and VAULT.bak-* (made by `restore` and
    /// `undo`).
    ///
    /// `passwd`, `slot remove`, `rekey` and `recovery rotate` remove them
    /// all in the same locked save, since they still open with the revoked
    /// credential.
    #[command(subcommand)]
    Generations(GenerationsCommand),

    /// The recovery code: a random code that opens the vault anywhere.
    #[command(subcommand)]
    Recovery(RecoveryCommand),

    /// Write every value in PLAINTEXT JSON, for moving to another tool.
    ///
    /// Needs --danger-plaintext. Writes a new file with mode 0600 (never
    /// over an existing one), or to stdout with --output - when stdout is
    /// not a terminal. Format: {"format":"credvault-export-v1","entries":
    /// {NAME: {"value" or "value_base64", "kind", "created", "updated",
    /// "expires", "metadata"}}}, times in Unix milliseconds.
    Export(ExportArgs),

    /// Import a credvault-export-v1 JSON file, in one save.
    ///
    /// Every key is reported as imported, unchanged (the vault holds the
    /// same value) or kept (the vault holds a different value; --overwrite
    /// replaces it); values are never printed. Running it twice is
    /// harmless.
    Import(ImportArgs),

    /// Share credentials with `pass`, the standard Unix password store:
    /// import, export, two-way sync.
    ///
    /// Pass entries PREFIX<service>/<type> (default prefix claude/) are
    /// vault keys <service>.<type>; deeper paths map the same way
    /// (claude/a/b/c is a.b.c). Pass names that cannot be keys (spaces,
    /// dots, non-ASCII in a path component) are reported "unmappable",
    /// never renamed. An entry's whole content is the value, one trailing
    /// newline stripped. Everything goes through the real `pass` program
    /// (values on stdin, never on a command line), so a store that is a git
    /// repository gets pass's own commits. The store is --store, else
    /// $PASSWORD_STORE_DIR, else ~/.password-store. Exit 6 when a key
    /// failed (a gpg error, a missing key), was unmappable or is a
    /// conflict; everything else was done.
    #[command(subcommand)]
    Pass(PassCommand),

    /// Show or check the tamper-evident audit log (VAULT.audit.jsonl).
    ///
    /// Every command appends one line: time, operation, key or prefix,
    /// outcome, process id and user, never a value. Lines are hash-chained
    /// and MACed with a key derived from the vault's data key, so both
    /// subcommands unlock the vault.
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Measure Argon2id on this machine and print the parameters `init`
    /// would choose. Needs no vault and touches none.
    ///
    /// Runs the calibration of `init` and `slot add passphrase`: 4 lanes
    /// (RFC 9106), memory raised first from 64 MiB up to --max-memory-mib,
    /// then passes, never below the OWASP floor (19 MiB, t=2), every trial
    /// timed. Prints the chosen parameters and the time of one unlock with
    /// them (--json: also every trial). A spinner shows the trials on a
    /// terminal. Writes no file and no audit line.
    #[command(name = "kdf-calibrate")]
    KdfCalibrate(KdfCalibrateArgs),

    /// Merge another copy of this vault (same vault id) into it, or the
    /// sync-folder conflict copies beside it.
    ///
    /// Per entry the newest change wins (its update or deletion time; at
    /// equal times a deletion wins, then the rule of FORMAT.md §11.2), in
    /// one locked save. The other copy must open with the credentials at
    /// hand. Slots are never imported from it (the output lists those
    /// skipped); with --base, names changed on both sides since the base
    /// are listed as conflicts (still resolved by the rule), and slots the
    /// other copy removed since the base are removed here too. A copy of
    /// another vault is refused (exit 2). With --conflict-copies, each
    /// Syncthing, Dropbox or Nextcloud conflict copy beside the vault is
    /// merged and removed once the merged vault was read back and
    /// verified; one that cannot be merged stays (exit 6). Never shows a
    /// value.
    Merge(MergeArgs),

    /// Git merge driver: `credvault git-merge-driver %O %A %B` merges
    /// the vault versions of a git merge into %A (the .gitattributes and
    /// git config recipe: docs/several-machines.md).
    ///
    /// Exit 0 when merged. On any failure (no credentials, another vault)
    /// %A is left as it was and the exit is non-zero: git then reports a
    /// conflict on an intact vault, never with conflict markers.
    GitMergeDriver(GitMergeDriverArgs),

    /// Git textconv: print a vault as text for `git diff`: its header,
    /// then entry names, kinds and change times, and deletions. Never a
    /// value. A vault the credentials at hand do not open shows its header
    /// only.
    GitTextconv(GitTextconvArgs),

    /// Print a shell completion script.
    Completions(CompletionsArgs),

    /// Print the man page (roff).
    Man,

    /// OAuth 2.0 logins whose tokens live in the vault: log in (browser
    /// with PKCE, or device code), get a valid token, refresh, revoke.
    ///
    /// A login NAME keeps NAME.accessToken, NAME.refreshToken,
    /// NAME.tokenExpiry (Unix milliseconds) and NAME.oauthClient (endpoints,
    /// client id, scopes, issuer) in the vault. Refreshes happen under the
    /// vault's write lock, so concurrent callers cause one refresh.
    #[command(subcommand)]
    Oauth(OauthCommand),
}

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Argon2id parameters of the passphrase slot.
    #[command(flatten)]
    pub kdf: KdfArgs,

    /// Do not make a recovery slot (by default `init` makes one and prints
    /// its recovery code once).
    #[arg(long)]
    pub no_recovery: bool,

    /// Write the new recovery code to this new file (mode 0600, never over
    /// an existing one) instead of stdout. It is created before the vault
    /// changes: if it cannot be, nothing changes.
    #[arg(long, value_name = "FILE")]
    pub recovery_out: Option<PathBuf>,
}

/// Arguments of `kdf-calibrate`.
#[derive(Debug, Args)]
pub struct KdfCalibrateArgs {
    /// Time per unlock to aim at, in milliseconds, 1 to 60000.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = CALIBRATION_TARGET_MS,
        value_parser = clap::value_parser!(u32).range(1..=CALIBRATION_TARGET_MS_MAX)
    )]
    pub target_ms: u32,

    /// Most memory to use, in MiB, 8 to 1024 [default: 256, at most half of
    /// physical memory]. Calibration never goes below 19 MiB all the same.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(KDF_MEMORY_MIB_MIN..=KDF_MEMORY_MIB_MAX)
    )]
    pub max_memory_mib: Option<u32>,
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup, e.g. /media/usb/credvault-backup.cvault.
    pub dest: PathBuf,

    /// Give the backup a passphrase slot of its own, the passphrase read
    /// from this file (one trailing newline stripped). The global
    /// --passphrase-file still means the vault's passphrase.
    #[arg(long, value_name = "PATH", conflicts_with = "backup_passphrase")]
    pub backup_passphrase_file: Option<PathBuf>,

    /// Give the backup a passphrase slot of its own, the passphrase asked
    /// twice on the terminal.
    #[arg(long)]
    pub backup_passphrase: bool,

    /// Replace DEST if it exists (never the vault itself).
    #[arg(long)]
    pub force: bool,

    /// Argon2id parameters of the backup's passphrase slot.
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["src", "generation"])))]
pub struct RestoreArgs {
    /// The backup (or any copy of a vault) to restore.
    pub src: Option<PathBuf>,

    /// Restore generation K (VAULT.K) instead of a file.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(1..=100))]
    pub generation: Option<u16>,

    /// Add a keychain slot on this machine afterwards without asking.
    #[arg(long)]
    pub add_keychain: bool,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The vault file or backup to check [default: the vault].
    pub path: Option<PathBuf>,
}

/// Arguments of `passwd`.
#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// The passphrase slot to change [default: the one that opened the
    /// vault, or the only one].
    #[arg(long, value_name = "ID")]
    pub slot: Option<u32>,

    /// Read the new passphrase from this file (one trailing newline is
    /// stripped).
    #[arg(long, value_name = "PATH")]
    pub new_passphrase_file: Option<PathBuf>,

    /// New Argon2id parameters [default: the slot's current ones].
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// Arguments of `rekey`.
#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// Remove slots whose credential is not at hand (another machine's
    /// keychain slot, a passphrase slot with another passphrase) instead
    /// of refusing.
    #[arg(long)]
    pub drop_unavailable: bool,

    /// Keep the recovery code given by --recovery-file, --recovery or
    /// CREDVAULT_RECOVERY instead of making a new one.
    #[arg(long)]
    pub keep_recovery_code: bool,

    /// Write the new recovery code to this new file (mode 0600, never over
    /// an existing one) instead of stdout. It is created before the vault
    /// changes: if it cannot be, nothing changes.
    #[arg(long, value_name = "FILE")]
    pub recovery_out: Option<PathBuf>,
}

/// `generations` subcommands.
#[derive(Debug, Subcommand)]
pub enum GenerationsCommand {
    /// List the kept copies: path, kind, save counter, size. Unlocks
    /// nothing.
    List,
    /// Remove every kept copy now (under the vault's lock; unlocks the
    /// vault first, so only its owner can).
    Purge,
}

/// `recovery` subcommands.
#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Replace the recovery code with a new one, printed once; the old code
    /// stops opening this vault (older backups keep it). Adds a recovery
    /// slot if the vault has none.
    Rotate(RotateArgs),
}

/// Arguments of `recovery rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Write the new recovery code to this new file (mode 0600, never over
    /// an existing one) instead of stdout. It is created before the vault
    /// changes: if it cannot be, nothing changes.
    #[arg(long, value_name = "FILE")]
    pub recovery_out: Option<PathBuf>,
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Required: acknowledges that the output holds every value in
    /// plaintext.
    #[arg(long)]
    pub danger_plaintext: bool,

    /// The file to create (mode 0600, never over an existing file); `-`
    /// for stdout when it is not a terminal.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A credvault-export-v1 JSON file.
    pub file: PathBuf,

    /// Replace values the vault holds when they differ (default: keep the
    /// vault's and report "kept").
    #[arg(long)]
    pub overwrite: bool,
}

/// Argon2id parameters of a new passphrase slot; calibrated when absent.
#[derive(Debug, Args)]
pub struct KdfArgs {
    /// Argon2id memory in MiB, 8 to 1024 (with --kdf-iterations and
    /// --kdf-parallelism). Below 19 MiB is weak and only meant for tests.
    #[arg(
        long,
        value_name = "N",
        requires_all = ["kdf_iterations", "kdf_parallelism"],
        value_parser = clap::value_parser!(u32).range(KDF_MEMORY_MIB_MIN..=KDF_MEMORY_MIB_MAX)
    )]
    pub kdf_memory_mib: Option<u32>,

    /// Argon2id passes, 1 to 16. Below 2 is weak and only meant for tests.
    #[arg(
        long,
        value_name = "N",
        requires_all = ["kdf_memory_mib", "kdf_parallelism"],
        value_parser = clap::value_parser!(u32).range(1..=KDF_COUNT_MAX)
    )]
    pub kdf_iterations: Option<u32>,

    /// Argon2id lanes, 1 to 16.
    #[arg(
        long,
        value_name = "N",
        requires_all = ["kdf_memory_mib", "kdf_iterations"],
        value_parser = clap::value_parser!(u32).range(1..=KDF_COUNT_MAX)
    )]
    pub kdf_parallelism: Option<u32>,
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit log, oldest first (all rotated files).
    Show(AuditShowArgs),
    /// Check the chain: exit 0 when intact, 4 at the first bad line
    /// (edited, deleted, reordered, truncated).
    Verify,
}

/// Arguments of `audit show`.
#[derive(Debug, Args)]
pub struct AuditShowArgs {
    /// Only lines at or after TIME: RFC 3339 UTC (2026-11-28T17:00:00Z),
    /// a date (2026-11-28), or an age such as 30m, 12h, 7d.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only lines about this key.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

/// Arguments of `set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Key name: dot-separated segments of A-Z a-z 0-9 _ -, e.g.
    /// postgresql.password.
    pub key: String,

    /// Catches a value given on the command line, to refuse it without
    /// echoing it.
    #[arg(hide = true)]
    pub stray: Vec<OsString>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Do not unlock: show what the header says (slots, backend) without
    /// any credential. The header is not authenticated then, and entry
    /// counts are unknown.
    #[arg(long)]
    pub no_unlock: bool,
}

/// `slot` subcommands.
#[derive(Debug, Subcommand)]
pub enum SlotCommand {
    /// List the key slots: id, type, KDF parameters, keychain service and
    /// account, and whether this machine's keychain holds its key.
    #[command(visible_alias = "ls")]
    List(StatusArgs),

    /// Add a key slot (the vault is unlocked first).
    #[command(subcommand)]
    Add(AddSlot),

    /// Remove slot ID; for a keychain slot, also delete its keychain item.
    ///
    /// Refuses to remove the last slot that can open the vault (a keychain
    /// slot counts only if this machine's keychain holds its key).
    #[command(visible_alias = "rm")]
    Remove(RemoveSlotArgs),
}

/// `oauth` subcommands.
#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// Log in and store the tokens in the vault.
    ///
    /// Default: authorization code with PKCE (S256) in the system browser,
    /// redirected to http://127.0.0.1:<ephemeral port>/callback; the
    /// redirect's state (and iss) is checked. With --no-browser the URL is
    /// printed alone on one line of stderr instead. --device uses the
    /// device authorization grant (RFC 8628): open the printed URL on any
    /// device and enter the code (for SSH sessions and headless machines).
    Login(OauthLoginArgs),

    /// Print a valid access token on stdout, refreshing it when it has
    /// less than --min-valid seconds left.
    ///
    /// Exit 3 when the grant has ended (log in again), 7 when the server
    /// cannot be reached and the stored token has no time left (with time
    /// left it is printed, with a warning on stderr).
    Token(OauthTokenArgs),

    /// Refresh the tokens now (once, under the vault's lock).
    Refresh(OauthNameArgs),

    /// Show the logins: provider, issuer, client id, scopes, expiry; never
    /// a token.
    Status(OauthStatusArgs),

    /// Revoke the login at the server (RFC 7009: the refresh token, which
    /// ends the grant) and remove its entries from the vault.
    ///
    /// Providers without a revocation endpoint (GitHub, Microsoft): the
    /// entries are removed and the output says the server was not asked.
    Revoke(OauthNameArgs),
}

/// The authorization servers with presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OauthProvider {
    /// GitHub OAuth apps.
    Github,
    /// Google.
    Google,
    /// Microsoft identity platform (common tenant).
    Microsoft,
    /// Any OpenID provider, by discovery from --issuer.
    Oidc,
}

/// Arguments of `oauth login`.
#[derive(Debug, Args)]
pub struct OauthLoginArgs {
    /// The login's name: the prefix of its entries (NAME.accessToken, ...).
    pub name: String,

    /// The authorization server.
    #[arg(long, value_enum, default_value = "oidc")]
    pub provider: OauthProvider,

    /// The issuer URL of an OpenID provider (endpoints by discovery).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,

    /// The OAuth client id.
    #[arg(long, value_name = "ID")]
    pub client_id: String,

    /// Read the client secret (confidential clients only) from this file.
    #[arg(long, value_name = "PATH")]
    pub client_secret_file: Option<PathBuf>,

    /// A scope to ask for (repeatable, or space-separated); default: the
    /// provider's (openid offline_access for OpenID providers).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,

    /// Use the device authorization grant instead of a browser redirect.
    #[arg(long)]
    pub device: bool,

    /// Do not open a browser: print the authorization URL alone on one
    /// line of stderr.
    #[arg(long)]
    pub no_browser: bool,

    /// Also trust the CA certificates in this PEM file (repeatable); kept
    /// with the login for later refreshes. SSL_CERT_FILE is honoured too.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<PathBuf>,
}

/// Arguments of `oauth token`.
#[derive(Debug, Args)]
pub struct OauthTokenArgs {
    /// The login's name.
    pub name: String,

    /// Refresh when the token has fewer seconds than this left.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub min_valid: u64,

    /// The last token was rejected (HTTP 401): refresh it, once, even if
    /// its expiry says it is valid.
    #[arg(long, visible_alias = "after-401")]
    pub rejected: bool,

    /// Also trust the CA certificates in this PEM file (repeatable).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<PathBuf>,
}

/// A login name (and CA files).
#[derive(Debug, Args)]
pub struct OauthNameArgs {
    /// The login's name.
    pub name: String,

    /// Also trust the CA certificates in this PEM file (repeatable).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<PathBuf>,
}

/// Arguments of `oauth status`.
#[derive(Debug, Args)]
pub struct OauthStatusArgs {
    /// Only this login.
    pub name: Option<String>,
}

/// `slot add` subcommands.
#[derive(Debug, Subcommand)]
pub enum AddSlot {
    /// Add a passphrase slot: portable, opens the vault on any machine.
    ///
    /// The new passphrase comes from --new-passphrase-file, else
    /// CREDVAULT_NEW_PASSPHRASE, else it is asked twice on a terminal.
    Passphrase(AddPassphraseArgs),

    /// Add a keychain slot: a new random key kept in this machine's OS
    /// keychain, so the vault opens here without a passphrase.
    Keychain,
}

/// Arguments of `slot add passphrase`.
#[derive(Debug, Args)]
pub struct AddPassphraseArgs {
    /// Read the new passphrase from this file (one trailing newline is
    /// stripped).
    #[arg(long, value_name = "PATH")]
    pub new_passphrase_file: Option<PathBuf>,

    /// Argon2id parameters of the new slot.
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// Arguments of `slot remove`.
#[derive(Debug, Args)]
pub struct RemoveSlotArgs {
    /// The slot id, as shown by `credvault slot list`.
    pub id: u32,
}

/// Arguments of `unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// How long the cached key lives: e.g. 90s, 15m, 1h, 1h30m (at most
    /// 24h).
    #[arg(
        long = "for",
        value_name = "DURATION",
        default_value = "15m",
        value_parser = crate::duration::parse
    )]
    pub duration: std::time::Duration,
}

/// Arguments of `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Key name, e.g. github.token.
    pub key: String,

    /// If the vault has no KEY, use the environment variable VAR (unset
    /// or empty counts as absent).
    #[arg(long, value_name = "VAR", value_parser = parse_var_name)]
    pub env: Option<String>,

    /// Last, look KEY up in this legacy config file: JSON with KEY under
    /// "credentials" (the app's credentials.json, plain: or enc:), as a
    /// top-level member, or as a dotted path (postgresql.password in
    /// {"postgresql": {"password": ...}}).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// After the vault, look KEY up in the `pass` password store
    /// ($PASSWORD_STORE_DIR, else ~/.password-store) as
    /// PREFIX<service>/<type> (see --pass-prefix), before --env and
    /// --config.
    #[arg(long)]
    pub pass: bool,

    /// The prefix of --pass.
    #[arg(long, value_name = "PREFIX", default_value = credvault::pass::DEFAULT_PREFIX, requires = "pass")]
    pub pass_prefix: String,
}

/// Arguments of `import-legacy`.
#[derive(Debug, Args)]
pub struct ImportLegacyArgs {
    /// The app's credentials.json [default:
    /// <config dir>/NAME/credentials.json, e.g.
    /// ~/.config/claude-pilot/credentials.json].
    pub path: Option<PathBuf>,

    /// The Electron app's name (app.getName()): its config directory, its
    /// Secret Service application attribute, its macOS Keychain item
    /// "NAME Safe Storage".
    #[arg(long, value_name = "NAME", default_value = "claude-pilot")]
    pub app_name: String,

    /// Read the safeStorage password from FILE instead of asking the OS
    /// keyring (one trailing newline is stripped): on Linux the v11
    /// password (Secret Service or KWallet), on macOS the "NAME Safe
    /// Storage" Keychain password.
    #[arg(long, value_name = "FILE")]
    pub safe_storage_password_file: Option<PathBuf>,

    /// The operating system whose app wrote the file [default: this one].
    /// It decides what v10 means and where keys are looked up.
    #[arg(long, value_enum, value_name = "OS")]
    pub platform: Option<PlatformArg>,

    /// Windows: the app's Local State file [default: next to PATH].
    #[arg(long, value_name = "FILE")]
    pub local_state: Option<PathBuf>,

    /// Decode, decrypt and compare, report, and change nothing.
    #[arg(long, conflicts_with = "remove_legacy")]
    pub dry_run: bool,

    /// Replace values the vault already holds with the legacy ones when
    /// they differ (default: keep the vault's and report "kept").
    #[arg(long)]
    pub overwrite: bool,

    /// When every value is in the vault (re-read and verified), overwrite
    /// the legacy file with zeros and delete it. Nothing is removed if any
    /// key failed or was kept.
    #[arg(long)]
    pub remove_legacy: bool,
}

/// `pass` subcommands.
#[derive(Debug, Subcommand)]
pub enum PassCommand {
    /// Copy the entries under the prefix from pass into the vault, in one
    /// save.
    ///
    /// Every key is reported imported, unchanged (the vault holds the same
    /// value), kept (the vault holds a different value; --overwrite
    /// replaces it), unmappable or failed; values are never printed.
    /// Running it twice is harmless.
    Import(PassArgs),

    /// Copy every vault entry into pass under the prefix (`pass insert`,
    /// one entry at a time).
    ///
    /// Every key is reported exported, unchanged, kept (pass holds a
    /// different value; --overwrite replaces it) or failed.
    Export(PassArgs),

    /// Two-way sync of the vault and the entries under the prefix.
    ///
    /// The vault remembers (inside the vault) what each entry was at the
    /// last sync. A side that changed since then is copied to the other,
    /// a deletion too (removed-from-vault, removed-from-pass); when both
    /// changed the key is reported "conflict" and left alone, unless
    /// --prefer names the side that wins. Entries never synced before are
    /// copied where missing and conflict when both sides differ. Only pass
    /// files that changed on disk are decrypted. A key that fails is left
    /// as it was on both sides (exit 6); the vault side of the others is
    /// saved at once.
    Sync(PassSyncArgs),
}

/// Options shared by the `pass` subcommands.
#[derive(Debug, Args)]
pub struct PassStoreArgs {
    /// The part of the store that maps to the vault: PREFIX<service>/<type>
    /// is <service>.<type>. An empty prefix maps the whole store.
    #[arg(long, value_name = "PREFIX", default_value = credvault::pass::DEFAULT_PREFIX)]
    pub prefix: String,

    /// The password store [default: $PASSWORD_STORE_DIR, else
    /// ~/.password-store].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Decide and report what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `pass import` and `pass export`.
#[derive(Debug, Args)]
pub struct PassArgs {
    /// Prefix, store, dry run.
    #[command(flatten)]
    pub common: PassStoreArgs,

    /// Replace a different value on the receiving side (default: keep it
    /// and report "kept").
    #[arg(long)]
    pub overwrite: bool,
}

/// Arguments of `pass sync`.
#[derive(Debug, Args)]
pub struct PassSyncArgs {
    /// Prefix, store, dry run.
    #[command(flatten)]
    pub common: PassStoreArgs,

    /// Which side wins when both changed since the last sync (default:
    /// neither; the key is reported "conflict" and left alone).
    #[arg(long, value_enum, value_name = "SIDE")]
    pub prefer: Option<PreferArg>,
}

/// The winning side of a sync conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreferArg {
    /// The vault's value (or deletion) goes to pass.
    Vault,
    /// Pass's value (or deletion) goes to the vault.
    Pass,
}

/// The OS that wrote a credentials.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformArg {
    /// Linux (v10: built-in key; v11: Secret Service / KWallet password).
    Linux,
    /// macOS (v10: Keychain password, 1003 PBKDF2 iterations).
    Macos,
    /// Windows (v10: AES-256-GCM, key in Local State under DPAPI).
    Windows,
}

impl PlatformArg {
    /// The library's platform.
    pub fn platform(self) -> credvault::legacy::Platform {
        match self {
            PlatformArg::Linux => credvault::legacy::Platform::Linux,
            PlatformArg::Macos => credvault::legacy::Platform::Macos,
            PlatformArg::Windows => credvault::legacy::Platform::Windows,
        }
    }
}

/// Arguments of `migrate-env`.
#[derive(Debug, Args)]
pub struct MigrateEnvArgs {
    /// Which variables go to which keys [default: the app's six].
    #[arg(value_name = "VAR=key", value_parser = parse_mapping)]
    pub mappings: Vec<(String, String)>,

    /// Replace a different value already in the vault.
    #[arg(long)]
    pub overwrite: bool,
}

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Set environment variable VAR to the value of key (repeatable).
    #[arg(long = "env", value_name = "VAR=key", required_unless_present = "oauth", value_parser = parse_mapping)]
    pub env: Vec<(String, String)>,

    /// Set environment variable VAR to a valid access token of the OAuth
    /// login NAME, refreshed first if it has less than 5 minutes left
    /// (repeatable).
    #[arg(long = "oauth", value_name = "VAR=NAME", value_parser = parse_mapping)]
    pub oauth: Vec<(String, String)>,

    /// The program and its arguments, after --.
    #[arg(
        value_name = "CMD",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

/// Parses `VAR=key`.
fn parse_mapping(s: &str) -> Result<(String, String), String> {
    let (var, key) = s
        .split_once('=')
        .ok_or_else(|| "expected VAR=key, e.g. PGPASSWORD=postgresql.password".to_owned())?;
    let var = parse_var_name(var)?;
    if key.is_empty() {
        return Err("the key after = is empty".to_owned());
    }
    Ok((var, key.to_owned()))
}

/// An environment variable name: not empty, no `=`, no NUL.
fn parse_var_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains(['=', '\0']) {
        return Err("not an environment variable name".to_owned());
    }
    Ok(s.to_owned())
}

/// A single key name.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Key name, e.g. github.token.
    pub key: String,
}

/// Arguments of `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only names starting with this text, e.g. "github.".
    pub prefix: Option<String>,
}

/// Arguments of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The other copy of the vault to merge in.
    #[arg(required_unless_present = "conflict_copies")]
    pub other: Option<PathBuf>,

    /// The last version both copies share (e.g. from `git merge-base`):
    /// changes made on both sides since it are reported as conflicts.
    #[arg(long, value_name = "PATH", requires = "other")]
    pub base: Option<PathBuf>,

    /// Show what the merge would do; save nothing, remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Merge every sync-folder conflict copy beside the vault (Syncthing
    /// NAME.sync-conflict-*, Dropbox and Nextcloud "NAME (... conflicted
    /// copy ...)"), removing each once the merged vault was verified.
    #[arg(long)]
    pub conflict_copies: bool,
}

/// Arguments of `git-merge-driver` (git's `%O %A %B`).
#[derive(Debug, Args)]
pub struct GitMergeDriverArgs {
    /// The merge base (%O); an empty file when there is none.
    pub base: PathBuf,
    /// Our version (%A), replaced by the merge result.
    pub ours: PathBuf,
    /// Their version (%B).
    pub theirs: PathBuf,
}

/// Arguments of `git-textconv`.
#[derive(Debug, Args)]
pub struct GitTextconvArgs {
    /// The vault file git hands over.
    pub path: PathBuf,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    pub shell: clap_complete::Shell,
}

/// The clap command, for completions and the man page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_is_consistent() {
        command().debug_assert();
    }
}
