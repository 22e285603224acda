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
pub const ENV_RECOVERY: &str = credvault::secret_env::RECOVERY;

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
            match crate::passphrase::secret_var(ENV_RECOVERY).map(std::ffi::OsString::into_string) {
                Some(Ok(value)) if !value.trim().is_empty() => {
                    RecoverySource::Env(Zeroizing::new(value))
                }
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

/// Where a new recovery code goes, settled *before* the vault changes
/// (issue 13): a code that the vault starts using must reach a person, or
/// the change is not made. `init`, `rekey` and `recovery rotate` call
/// [`Delivery::prepare`] before their save, [`Delivery::abandon`] when the
/// save fails, and deliver after it.
pub enum Delivery {
    /// Printed on stdout (framed text, or the JSON result's field).
    Stdout,
    /// Written to a new file of mode 0600 (`--recovery-out FILE`), created
    /// before the save.
    File {
        /// The file's path.
        path: PathBuf,
        /// The open file, empty until delivery.
        file: std::fs::File,
    },
}

impl Delivery {
    /// Checks that a code can be delivered: `--recovery-out FILE` is
    /// created now (new, 0600, never through a symlink); stdout must be
    /// open for writing and, if it is a pipe or socket, still have a
    /// reader. Exit 5 otherwise, with nothing changed.
    pub fn prepare(out: Option<&std::path::Path>) -> Result<Delivery, CliError> {
        if let Some(path) = out {
            let file = credvault::ops::create_private_file(path).map_err(CliError::from)?;
            return Ok(Delivery::File {
                path: path.to_owned(),
                file,
            });
        }
        check_stdout().map_err(|why| {
            CliError::new(
                Exit::FileSystem,
                format!("a new recovery code cannot be shown: stdout {why}; nothing was changed"),
            )
            .with_hint("write it to a new file instead with --recovery-out FILE")
        })?;
        Ok(Delivery::Stdout)
    }

    /// The save failed: removes the file made by [`Delivery::prepare`].
    pub fn abandon(self) {
        if let Delivery::File { path, file } = self {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
    }

    /// The `--recovery-out` path, if the code goes to a file.
    pub fn file_path(&self) -> Option<&std::path::Path> {
        match self {
            Delivery::Stdout => None,
            Delivery::File { path, .. } => Some(path),
        }
    }

    /// Writes `keys` (slot id, key) to the file, one code per line, and
    /// syncs it. Does nothing for [`Delivery::Stdout`].
    pub fn write_file(&mut self, keys: &[(u32, &RecoveryKey)]) -> Result<(), CliError> {
        let Delivery::File { path, file } = self else {
            return Ok(());
        };
        let mut text = Zeroizing::new(String::with_capacity(128 * keys.len().max(1)));
        for (_, key) in keys {
            text.push_str(&key.to_code());
            text.push('\n');
        }
        use std::io::Write;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| undelivered(&format!("{}: {e}", sanitize(&path.to_string_lossy()))))
    }
}

/// The error when a code committed to the vault could not be shown.
pub fn undelivered(why: &str) -> CliError {
    CliError::new(
        Exit::FileSystem,
        format!("the vault now uses a new recovery code, but it could not be delivered ({why}); the old code no longer opens this vault"),
    )
    .with_hint("run `credvault recovery rotate --recovery-out FILE` now to get a code you can keep")
}

/// Maps a failed write of a code on stdout (a closed pipe included) to
/// [`undelivered`]: never the quiet exit 0 of a closed pipe.
pub fn undelivered_stdout(e: OutputError) -> CliError {
    match e {
        OutputError::Closed(_) => undelivered("stdout was closed"),
        OutputError::Failed(e) => undelivered(e.message()),
    }
}

/// Why stdout cannot take a code, if it cannot. A closed stdout shows up
/// as /dev/null: Rust's runtime reopens closed standard descriptors there
/// at start, so a code "printed" to it is silently lost.
#[cfg(unix)]
fn check_stdout() -> Result<(), &'static str> {
    use rustix::event::{poll, PollFd, PollFlags};
    use rustix::fs::{fcntl_getfl, fstat, FileType, OFlags};
    let out = rustix::stdio::stdout();
    let flags = fcntl_getfl(out).map_err(|_| "is closed")?;
    if !(flags & OFlags::RWMODE).intersects(OFlags::WRONLY | OFlags::RDWR) {
        return Err("is not open for writing");
    }
    let st = fstat(out).map_err(|_| "is closed")?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind == FileType::CharacterDevice {
        if let Ok(null) = rustix::fs::stat("/dev/null") {
            if null.st_rdev == st.st_rdev {
                return Err("is closed or /dev/null");
            }
        }
    }
    if matches!(kind, FileType::Fifo | FileType::Socket) {
        let mut fds = [PollFd::new(&out, PollFlags::OUT)];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if poll(&mut fds, Some(&zero)).is_ok()
            && fds[0]
                .revents()
                .intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL)
        {
            return Err("has no reader (the pipe is closed)");
        }
    }
    Ok(())
}

/// Elsewhere only a write can tell; a failed write is still an error.
#[cfg(not(unix))]
fn check_stdout() -> Result<(), &'static str> {
    Ok(())
}
