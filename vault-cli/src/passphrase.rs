//! Where the passphrase comes from, first found wins (DESIGN.md §3):
//! `--passphrase-file PATH`, then `CREDVAULT_PASSPHRASE`, then a hidden
//! prompt on the terminal. With none of them, exit 3 naming the options.
//!
//! Every buffer that holds a passphrase is zeroized when dropped.

use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use credvault::Passphrase;
use zeroize::Zeroizing;

use crate::exit::{CliError, Exit, HINT_NO_SOURCE};
use crate::output::sanitize;

/// The environment variable holding the passphrase.
pub const ENV_PASSPHRASE: &str = credvault::secret_env::PASSPHRASE;

/// The environment variable holding a new passphrase (`slot add
/// passphrase`).
pub const ENV_NEW_PASSPHRASE: &str = credvault::secret_env::NEW_PASSPHRASE;

/// The secret variables, taken out of the process environment at start
/// ([`capture_secret_env`]), so no child ever inherits them.
static CAPTURED: std::sync::OnceLock<credvault::secret_env::Captured> = std::sync::OnceLock::new();

/// Takes the secret variables (`credvault::secret_env::ALL`) out of this
/// process's environment and keeps their values for the sources below.
/// `main` calls it first, before any thread exists.
pub fn capture_secret_env() {
    let _ = CAPTURED.set(credvault::secret_env::take_from_process());
}

/// The value of a secret variable: as captured at start, else (when
/// nothing was captured, as in unit tests) from the environment.
pub fn secret_var(var: &str) -> Option<OsString> {
    match CAPTURED.get() {
        // Bytes that came from the environment of this very platform.
        Some(captured) => captured.get(var).map(|bytes| {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStringExt;
                OsString::from_vec(bytes.to_vec())
            }
            #[cfg(not(unix))]
            {
                OsString::from(String::from_utf8_lossy(bytes).into_owned())
            }
        }),
        None => std::env::var_os(var),
    }
}

/// Largest passphrase file read, in bytes.
const MAX_FILE_LEN: u64 = 64 * 1024;

/// The passphrase source chosen from the options and the environment.
pub enum Source {
    /// `--passphrase-file PATH`.
    File(PathBuf),
    /// `CREDVAULT_PASSPHRASE` (non-empty), already copied out.
    Env(Zeroizing<Vec<u8>>),
    /// A hidden prompt on the terminal, if there is one.
    Prompt,
}

/// Whether a new passphrase is asked once or twice (on a prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Opening a vault: ask once.
    Once,
    /// Creating a vault: ask twice and compare.
    Twice,
    /// A new passphrase for another slot (`slot add passphrase`): asked
    /// twice as "New passphrase"; the sources are
    /// [`Source::resolve_new`]'s.
    New,
}

impl Source {
    /// Picks the source: the file if given, else a non-empty
    /// `CREDVAULT_PASSPHRASE`, else the prompt.
    pub fn resolve(file: Option<PathBuf>) -> Source {
        if let Some(path) = file {
            return Source::File(path);
        }
        match secret_var(ENV_PASSPHRASE) {
            Some(value) if !value.is_empty() => Source::Env(os_bytes(value)),
            _ => Source::Prompt,
        }
    }

    /// Picks the source of a *new* passphrase (`slot add passphrase`):
    /// `--new-passphrase-file` if given, else a non-empty
    /// `CREDVAULT_NEW_PASSPHRASE`, else the prompt. Read it with
    /// [`Confirm::New`].
    pub fn resolve_new(file: Option<PathBuf>) -> Source {
        if let Some(path) = file {
            return Source::File(path);
        }
        match secret_var(ENV_NEW_PASSPHRASE) {
            Some(value) if !value.is_empty() => Source::Env(os_bytes(value)),
            _ => Source::Prompt,
        }
    }

    /// Whether the passphrase was given explicitly (a file or the
    /// environment) rather than left to a prompt.
    pub fn is_explicit(&self) -> bool {
        !matches!(self, Source::Prompt)
    }

    /// Reads the passphrase from the source.
    pub fn read(&self, confirm: Confirm) -> Result<Passphrase, CliError> {
        match self {
            Source::File(path) => read_file(path),
            Source::Env(bytes) => Ok(Passphrase::new(bytes.to_vec())),
            Source::Prompt => prompt(confirm),
        }
    }
}

fn os_bytes(value: OsString) -> Zeroizing<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Zeroizing::new(value.into_vec())
    }
    #[cfg(not(unix))]
    {
        Zeroizing::new(value.to_string_lossy().into_owned().into_bytes())
    }
}

fn read_file(path: &Path) -> Result<Passphrase, CliError> {
    let fail = |what: String| {
        CliError::new(
            Exit::Unlock,
            format!(
                "cannot read the passphrase file {}: {what}",
                sanitize(&path.display().to_string())
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(fail(format!("larger than {MAX_FILE_LEN} bytes")));
    }
    strip_one_newline(&mut bytes);
    Ok(Passphrase::new(bytes.to_vec()))
}

/// Removes one trailing `\n` or `\r\n`, if present.
pub fn strip_one_newline(bytes: &mut Vec<u8>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

fn prompt(confirm: Confirm) -> Result<Passphrase, CliError> {
    if !interactive() {
        if confirm == Confirm::New {
            return Err(CliError::new(
                Exit::Unlock,
                format!(
                    "no new passphrase: --new-passphrase-file not given, {ENV_NEW_PASSPHRASE} not set, and no terminal to prompt on"
                ),
            )
            .with_hint(format!(
                "pass --new-passphrase-file PATH or set {ENV_NEW_PASSPHRASE}, or run on a terminal to be prompted"
            )));
        }
        return Err(CliError::new(
            Exit::Unlock,
            format!(
                "no passphrase: --passphrase-file not given, {ENV_PASSPHRASE} not set, and no terminal to prompt on"
            ),
        )
        .with_hint(HINT_NO_SOURCE));
    }
    let (first, repeat) = match confirm {
        Confirm::New => ("New passphrase: ", "Repeat new passphrase: "),
        _ => ("Passphrase: ", "Repeat passphrase: "),
    };
    let first = ask_passphrase(first)?;
    if confirm != Confirm::Once {
        let second = ask_passphrase(repeat)?;
        if !same(first.as_bytes(), second.as_bytes()) {
            return Err(CliError::usage("the passphrases do not match"));
        }
    }
    Ok(Passphrase::new(first.as_bytes().to_vec()))
}

/// Asks for hidden input on the terminal (/dev/tty). The answer is
/// zeroized on drop.
pub fn ask(prompt: &str) -> std::io::Result<Zeroizing<String>> {
    rpassword::prompt_password(prompt).map(Zeroizing::new)
}

fn ask_passphrase(prompt: &str) -> Result<Zeroizing<String>, CliError> {
    ask(prompt).map_err(|e| {
        CliError::new(
            Exit::Unlock,
            format!("cannot read the passphrase from the terminal: {e}"),
        )
        .with_hint(HINT_NO_SOURCE)
    })
}

/// Whether a person can be prompted: stdin or stderr is a terminal. The
/// prompt itself reads and writes the controlling terminal (/dev/tty).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() || std::io::stderr().is_terminal()
}

/// Compares two secrets in constant time (`subtle`); only their lengths
/// may show in the timing.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_newline() {
        for (input, want) in [
            (&b"pw\n"[..], &b"pw"[..]),
            (b"pw\r\n", b"pw"),
            (b"pw\n\n", b"pw\n"),
            (b"pw", b"pw"),
            (b"\n", b""),
            (b"pw\r", b"pw\r"),
        ] {
            let mut v = input.to_vec();
            strip_one_newline(&mut v);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn same_compares_whole_slices() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
