//! Recovery codes in the CLI: where one comes from when unlocking
//! (`--recovery-file PATH`, `CREDVAULT_RECOVERY`, `--recovery` for a hidden
//! prompt) and how a new one is shown, once.
//!
//! The code's form (Crockford base32 in groups, a bech32m checksum) is the
//! library's: `credvault::slots::recovery_code`. A code that is not
//! well-formed is a usage error (exit 2) and is refused before any vault is
//! touched; a well-formed code that opens nothing is an unlock failure
//! (exit 3). No message ever quotes a code.

use std::cell::OnceCell;
use std::io::Read;
use std::path::PathBuf;

use credvault::RecoveryKey;
use zeroize::Zeroizing;

use crate::exit::{CliError, Exit};
use crate::output::{sanitize, write_stdout, OutputError};
use crate::passphrase::{ask, interactive};

/// The environment variable holding a recovery code.
pub const ENV_RECOVERY: &str = "CREDVAULT_RECOVERY";

/// Largest recovery code file read.
const MAX_FILE_LEN: u64 = 4096;

/// Where a recovery code comes from, if anywhere, and the code once read
/// (a file may be a pipe, a prompt is asked once).
pub struct Recovery {
    source: RecoverySource,
    read: OnceCell<Option<RecoveryKey>>,
}

/// Where a recovery code comes from.
pub enum RecoverySource {
    /// None given: recovery slots are not tried.
    None,
    /// `--recovery-file PATH`.
    File(PathBuf),
    /// `CREDVAULT_RECOVERY` (non-empty), copied out.
    Env(Zeroizing<String>),
    /// `--recovery`: a hidden prompt on the terminal.
    Prompt,
}

impl Recovery {
    /// `--recovery-file`, else `--recovery`, else a non-empty
    /// `CREDVAULT_RECOVERY`, else none.
    pub fn resolve(file: Option<PathBuf>, prompt: bool) -> Recovery {
        let source = if let Some(path) = file {
            RecoverySource::File(path)
        } else if prompt {
            RecoverySource::Prompt
        } else {
            match std::env::var(ENV_RECOVERY) {
                Ok(value) if !value.trim().is_empty() => RecoverySource::Env(Zeroizing::new(value)),
                _ => RecoverySource::None,
            }
        };
        Recovery {
            source,
            read: OnceCell::new(),
        }
    }

    /// Where the code comes from.
    pub fn source(&self) -> &RecoverySource {
        &self.source
    }

    /// Whether a code was given (a file, the environment or the prompt).
    pub fn is_given(&self) -> bool {
        !matches!(self.source, RecoverySource::None)
    }

    /// Checks a file or environment code without a vault: a malformed one
    /// is a usage error before anything is opened.
    pub fn check(&self) -> Result<(), CliError> {
        match self.source {
            RecoverySource::File(_) | RecoverySource::Env(_) => self.read().map(drop),
            RecoverySource::None | RecoverySource::Prompt => Ok(()),
        }
    }

    /// Reads and parses the code, once per process; `None` when no source
    /// was given.
    pub fn read(&self) -> Result<Option<RecoveryKey>, CliError> {
        if let Some(read) = self.read.get() {
            return Ok(read.as_ref().and_then(copy));
        }
        let key = self.source.read()?;
        let _ = self.read.set(key.as_ref().and_then(copy));
        Ok(key)
    }
}

fn copy(key: &RecoveryKey) -> Option<RecoveryKey> {
    RecoveryKey::from_bytes(key.expose().to_vec())
}

impl RecoverySource {
    /// Reads and parses the code; `None` when no source was given.
    fn read(&self) -> Result<Option<RecoveryKey>, CliError> {
        match self {
            RecoverySource::None => Ok(None),
            RecoverySource::Env(text) => parse(text, ENV_RECOVERY).map(Some),
            RecoverySource::File(path) => {
                let shown = sanitize(&path.display().to_string());
                let fail = |what: String| {
                    CliError::new(
                        Exit::Unlock,
                        format!("cannot read the recovery code file {shown}: {what}"),
                    )
                };
                let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
                let mut bytes = Zeroizing::new(Vec::with_capacity(128));
                file.take(MAX_FILE_LEN + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| fail(e.to_string()))?;
                if bytes.len() as u64 > MAX_FILE_LEN {
                    return Err(fail(format!("larger than {MAX_FILE_LEN} bytes")));
                }
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    CliError::usage(format!("the recovery code file {shown} is not text"))
                })?;
                parse(text, &format!("the file {shown}")).map(Some)
            }
            RecoverySource::Prompt => {
                if !interactive() {
                    return Err(CliError::new(
                        Exit::Unlock,
                        "--recovery asks for the recovery code on a terminal, and there is none",
                    )
                    .with_hint(format!(
                        "pass --recovery-file PATH or set {ENV_RECOVERY} instead"
                    )));
                }
                let typed = ask("Recovery code: ").map_err(|e| {
                    CliError::new(
                        Exit::Unlock,
                        format!("cannot read the recovery code from the terminal: {e}"),
                    )
                })?;
                parse(&typed, "the recovery code typed").map(Some)
            }
        }
    }
}

/// Parses a recovery code from `from` (named in the error, never quoted).
fn parse(text: &str, from: &str) -> Result<RecoveryKey, CliError> {
    RecoveryKey::from_code(text).map_err(|e| {
        CliError::usage(format!("{from}: {e}")).with_hint(
            "a recovery code looks like XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXXXX (0-9 and A-Z without I L O U; case, spaces and dashes do not matter)",
        )
    })
}

/// Prints a new recovery code on stdout, framed, for a person to write
/// down. This is the only place a code is ever printed (text mode; with
/// `--json` it is the `recovery_code` field of the command's result).
pub fn show(key: &RecoveryKey, slot: u32) -> Result<(), OutputError> {
    let code = key.to_code();
    let mut out = Zeroizing::new(String::with_capacity(1024));
    out.push_str("\nRecovery code (slot ");
    out.push_str(&slot.to_string());
    out.push_str("). Write it down now: it is shown only this once.\n\n    ");
    out.push_str(&code);
    out.push_str(
        "\n\nIt opens this vault and its backups on any machine, without the passphrase or\n\
         the keychain: keep it offline (on paper, in a safe), never next to the vault.\n\
         Use it with --recovery (asks for it), --recovery-file FILE or CREDVAULT_RECOVERY.\n\n",
    );
    write_stdout(out.as_bytes())
}

/// The code as text for a `--json` result (zeroized on drop).
pub fn json_code(key: &RecoveryKey) -> Zeroizing<String> {
    key.to_code()
}
