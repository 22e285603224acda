//! Everything the binary prints: stdout for results (text or `--json`),
//! stderr for one-line errors and notes. Results are written straight to
//! the file descriptor, unbuffered, so a value never lingers in a stdio
//! buffer; a closed pipe becomes [`OutputError::Closed`] and exits 0.

use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::exit::{CliError, Exit};
pub use crate::sanitize::sanitize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON document per command.
    Json,
}

/// Writing to stdout stopped because the reader went away (EPIPE). The
/// command is done: `main` exits 0 without a message.
#[derive(Debug)]
pub struct Closed;

/// What a command's output step can fail with.
#[derive(Debug)]
pub enum OutputError {
    /// The reader closed the pipe.
    Closed(Closed),
    /// Any other write failure.
    Failed(CliError),
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::Closed(Closed)
        } else {
            OutputError::Failed(CliError::new(
                Exit::FileSystem,
                format!("cannot write to stdout: {e}"),
            ))
        }
    }
}

/// Writes all of `bytes` to stdout without buffering.
pub fn write_stdout(bytes: &[u8]) -> Result<(), OutputError> {
    let stdout = io::stdout();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rustix::io::write(&stdout, rest) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(io::Error::from(e).into()),
        }
    }
    Ok(())
}

/// Writes `text` to stdout.
pub fn print(text: &str) -> Result<(), OutputError> {
    write_stdout(text.as_bytes())
}

/// Writes `value` as one line of JSON to stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), OutputError> {
    let mut out = serde_json::to_vec(value).map_err(json_error)?;
    out.push(b'\n');
    write_stdout(&out)
}

/// Writes `value`, which contains a secret, as one line of JSON to stdout.
/// The buffer is sized up front (so it never reallocates and leaves
/// copies behind) and zeroized after the write.
pub fn print_secret_json<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> Result<(), OutputError> {
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    serde_json::to_writer(&mut *out, value).map_err(json_error)?;
    out.push(b'\n');
    write_stdout(&out)
}

fn json_error(e: serde_json::Error) -> OutputError {
    OutputError::Failed(CliError::new(
        Exit::FileSystem,
        format!("cannot encode JSON: {e}"),
    ))
}

/// Prints a note (progress, warning) on stderr. Errors writing to stderr
/// are ignored: there is nowhere left to report them.
pub fn note(text: &str) {
    let _ = writeln!(io::stderr(), "credvault: {}", sanitize(text));
}

/// Prints a warning on stderr.
pub fn warn(text: &str) {
    note(&format!("warning: {text}"));
}

/// Prints `err` on stderr as exactly one line: text, or a JSON object with
/// `error`, `hint`, `exit_code` and `kind` in `--json` mode.
pub fn report(err: &CliError, format: Format) {
    let line = match format {
        Format::Json => {
            #[derive(Serialize)]
            struct JsonError<'a> {
                error: &'a str,
                hint: Option<&'a str>,
                exit_code: u8,
                kind: &'static str,
            }
            serde_json::to_string(&JsonError {
                error: err.message(),
                hint: err.hint(),
                exit_code: err.exit().code(),
                kind: err.exit().kind(),
            })
            .unwrap_or_else(|_| format!("{{\"exit_code\":{}}}", err.exit().code()))
        }
        Format::Text => {
            let mut line = format!("credvault: error: {}", sanitize(err.message()));
            if let Some(hint) = err.hint() {
                line.push_str(&format!(" (hint: {})", sanitize(hint)));
            }
            line
        }
    };
    let _ = writeln!(io::stderr(), "{line}");
}

/// Paths as text for JSON.
pub fn purged_paths(purged: &[PathBuf]) -> Vec<String> {
    purged.iter().map(|p| p.display().to_string()).collect()
}

/// Tells (text mode) what a revoking command removed: the generations
/// and `.bak-*` copies that still opened with the revoked credential.
pub fn report_purged(purged: &[PathBuf], format: Format) {
    if format == Format::Text && !purged.is_empty() {
        note(&format!(
            "removed {} kept cop{} (generations, .bak-*) that still opened with the old credential: {}; `undo` has no earlier version now. Backups you made elsewhere keep their old credentials",
            purged.len(),
            if purged.len() == 1 { "y" } else { "ies" },
            purged_paths(purged).join(", ")
        ));
    }
}
