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

const AFTER_LONG_HELP: &str = "\
Environment:
  CREDVAULT_VAULT       vault path when --vault is not given
  CREDVAULT_PASSPHRASE  passphrase when --passphrase-file is not given
  XDG_DATA_HOME         base of the default vault path

Exit codes:
  0  success
  1  key not found (get, rm, has)
  2  usage: bad arguments, invalid key name, value too large
  3  cannot unlock: wrong passphrase, no usable slot, no passphrase source
  4  unreadable vault: not a vault, corrupt, tampered, truncated, newer version
  5  file system: no vault yet, already exists, permission, disk full, lock timeout";

/// An encrypted credential vault.
///
/// Values are stored in one encrypted file (by default
/// ~/.local/share/credvault/vault.cvault) whose data key is protected by a
/// passphrase. Values are read from stdin or a hidden prompt, never from the
/// command line.
#[derive(Debug, Parser)]
#[command(
    name = "credvault",
    version,
    propagate_version = true,
    arg_required_else_help = true,
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

    /// Do not use the OS keychain at all.
    #[arg(long, global = true)]
    pub no_keychain: bool,

    /// Print results (and errors, on stderr) as JSON.
    #[arg(long, global = true)]
    pub json: bool,

    /// Seconds to wait for another credvault process that is saving.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,
}

/// The commands. Aliases match the desktop app's credential service API.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new vault protected by a passphrase.
    ///
    /// The passphrase is asked twice on a terminal. Argon2id parameters are
    /// calibrated on this machine (about 0.5-1 s per unlock) unless all
    /// three --kdf-* options are given. Never overwrites an existing vault.
    Init(InitArgs),

    /// Store a value under KEY, read from stdin or a hidden prompt.
    ///
    /// From a pipe or file, exactly one trailing newline (\n or \r\n) is
    /// stripped. On a terminal the value is asked twice with hidden input.
    /// The value is never taken from the command line.
    #[command(visible_alias = "store")]
    Set(SetArgs),

    /// Print the value of KEY followed by one newline.
    #[command(visible_alias = "retrieve")]
    Get(KeyArgs),

    /// Delete KEY.
    #[command(visible_alias = "delete")]
    Rm(KeyArgs),

    /// Exit 0 if KEY exists, 1 if it does not.
    Has(KeyArgs),

    /// List key names, one per line, optionally only those starting with
    /// PREFIX.
    #[command(visible_alias = "list")]
    Ls(LsArgs),

    /// Show the vault's path, format, key slots, entry count and warnings.
    /// Never shows a value.
    Status,

    /// Print a shell completion script.
    Completions(CompletionsArgs),

    /// Print the man page (roff).
    Man,
}

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
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
