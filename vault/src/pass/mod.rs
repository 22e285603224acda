//! Interop with `pass`, the standard Unix password store (feature `pass`):
//! GPG-encrypted files under `~/.password-store` (or
//! `$PASSWORD_STORE_DIR`), one per entry.
//!
//! - [`PassBackend`] runs the real `pass` program: [`get`](PassBackend::get)
//!   (`pass show`), [`set`](PassBackend::set) (`pass insert -m -f`, the
//!   value on stdin, never in argv), [`delete`](PassBackend::delete)
//!   (`pass rm -f`), and lists entries by walking the store directory
//!   ([`list`](PassBackend::list)), which costs no decryption. So a store
//!   that is a git repository gets pass's own commits.
//! - [`Prefix`] maps names: `claude/<service>/<type>` ↔
//!   `<service>.<type>` (each `/` of the pass name below the prefix is a
//!   `.` of the key). Names that cannot map either way are reported by the
//!   operations, never mangled.
//! - [`import`], [`export`] and [`sync`](fn@sync) (module [`sync`](mod@sync)) are the
//!   whole operations every face calls: per-key reports, one locked save of
//!   the vault side, and the state of the last sync kept inside the vault.
//!
//! An entry's whole content is its value, minus one trailing `\n`, which
//! [`PassBackend::set`] adds back (as `pass insert` does for a one-line
//! password): values round-trip byte for byte, newlines and all.
//!
//! The `pass` child process inherits credvault's environment minus every
//! `CREDVAULT_*` variable (passphrases, recovery codes: it must not learn
//! how to open the vault), with `PASSWORD_STORE_DIR` set to the backend's
//! store.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::crypto::SecretValue;
use crate::format::limits::MAX_VALUE_LEN;
use crate::format::KeyName;
use crate::vault::VaultError;

pub mod sync;

pub use sync::{export, import, sync, Item, PassOptions, Report, Side, Status};

/// Environment variables never passed to `pass` (and so to gpg): every
/// variable whose name starts with this, on top of the secret variables of
/// [`crate::secret_env`] (the one list every child is scrubbed of).
pub const SCRUBBED_ENV_PREFIX: &str = "CREDVAULT_";

/// The default prefix of credvault entries in a password store.
pub const DEFAULT_PREFIX: &str = "claude/";

/// Vault keys whose first segment is this are credvault's own bookkeeping
/// (the sync state) and never go to pass.
pub const RESERVED_SEGMENT: &str = "_credvault";

/// Most stderr kept from a failed `pass` run, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// Errors of the pass interop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PassError {
    /// The `pass` program could not be started.
    #[error("cannot run `{program}`: {source} (is pass installed?)")]
    NotInstalled {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The password store has no `.gpg-id`: `pass init` was never run.
    #[error("no initialised password store at {0} (run `pass init GPG-ID`)")]
    NotInitialised(PathBuf),
    /// `pass` ran and failed (a gpg error, a missing key, ...).
    #[error("pass {op} {name} failed: {message}")]
    Command {
        /// show, insert or rm.
        op: &'static str,
        /// The entry.
        name: String,
        /// The last lines of pass's stderr (never a value).
        message: String,
    },
    /// A pass entry name this module refuses (empty, `..`, absolute, NUL
    /// or a newline).
    #[error("invalid pass entry name {0:?}")]
    InvalidName(String),
    /// A prefix that is not a relative path inside the store.
    #[error("invalid prefix {0:?}: a relative path inside the store, without `..`")]
    InvalidPrefix(String),
    /// An entry above the vault's value limit.
    #[error("pass entry {name} is {len} bytes, above the vault's limit of {MAX_VALUE_LEN}")]
    TooLarge {
        /// The entry.
        name: String,
        /// Its length.
        len: usize,
    },
    /// Reading the store directory failed.
    #[error("cannot read the password store at {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What the file system says about a pass entry's file, cheaply (no
/// decryption): device, inode, size, modification and change time. Any
/// rewrite by `pass insert`, `pass edit`, git or gpg changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId(String);

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileId(format!(
                "{}:{}:{}:{}.{}:{}.{}",
                meta.dev(),
                meta.ino(),
                meta.size(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec()
            ))
        }
        #[cfg(not(unix))]
        {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            FileId(format!("{}:{modified}", meta.len()))
        }
    }

    /// The identity as text (digits, `:` and `.`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses [`as_str`](FileId::as_str) output.
    pub(crate) fn parse(s: &str) -> Option<FileId> {
        (!s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b == b':' || b == b'.'))
        .then(|| FileId(s.to_owned()))
    }
}

/// One entry found under a prefix.
#[derive(Debug, Clone)]
pub struct PassEntry {
    /// The pass name (path below the store without `.gpg`), or the lossy
    /// text of a name that is not UTF-8.
    pub name: String,
    /// Whether the file name was valid UTF-8 (if not, `name` is lossy and
    /// the entry cannot be mapped).
    pub utf8: bool,
    /// The file's identity.
    pub id: FileId,
}

/// A prefix of pass names, e.g. `claude/`: empty (the whole store) or a
/// relative path ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Default for Prefix {
    fn default() -> Self {
        Prefix(DEFAULT_PREFIX.to_owned())
    }
}

impl Prefix {
    /// Checks and normalises `prefix` (a missing trailing `/` is added;
    /// `claude` means `claude/`).
    pub fn new(prefix: &str) -> Result<Prefix, PassError> {
        let bad = || PassError::InvalidPrefix(prefix.to_owned());
        if prefix.is_empty() {
            return Ok(Prefix(String::new()));
        }
        let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
        if trimmed.is_empty() || trimmed.starts_with('/') {
            return Err(bad());
        }
        for part in trimmed.split('/') {
            if part.is_empty()
                || part == "."
                || part == ".."
                || part.starts_with('.')
                || part.chars().any(|c| c == '\0' || c.is_control())
            {
                return Err(bad());
            }
        }
        Ok(Prefix(format!("{trimmed}/")))
    }

    /// The prefix as given to pass (`claude/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pass name of vault key `key`: `claude/github/token` for
    /// `github.token`. Every key maps (its segments are valid path
    /// components).
    pub fn pass_name(&self, key: &KeyName) -> String {
        format!("{}{}", self.0, key.as_str().replace('.', "/"))
    }

    /// The vault key of pass entry `name`, or why it has none: outside
    /// the prefix, or a path component that is not a key segment (`A-Z
    /// a-z 0-9 _ -`: no spaces, dots or non-ASCII), or credvault's
    /// reserved `_credvault` namespace.
    pub fn key_for(&self, name: &str) -> Result<KeyName, String> {
        let rest = name
            .strip_prefix(&self.0)
            .ok_or_else(|| format!("not under the prefix {:?}", self.0))?;
        let mut key = String::with_capacity(rest.len());
        for (i, part) in rest.split('/').enumerate() {
            let valid = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(format!(
                    "path component {part:?} cannot be a key segment (only A-Z a-z 0-9 _ -)"
                ));
            }
            if i > 0 {
                key.push('.');
            }
            key.push_str(part);
        }
        if is_reserved(&key) {
            return Err(format!("{RESERVED_SEGMENT} is reserved for credvault"));
        }
        KeyName::new(&key).map_err(|e| format!("not a valid key name: {e}"))
    }
}

/// Whether `key` is in credvault's reserved namespace (never synced).
pub fn is_reserved(key: &str) -> bool {
    key == RESERVED_SEGMENT
        || key
            .strip_prefix(RESERVED_SEGMENT)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The `pass` program over one password store.
#[derive(Debug, Clone)]
pub struct PassBackend {
    program: OsString,
    store_dir: PathBuf,
}

/// Whether `pass` and an initialised store are present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// `pass version` ran and succeeded.
    pub program: bool,
    /// The store directory has a `.gpg-id`.
    pub initialised: bool,
    /// The store directory.
    pub store_dir: PathBuf,
}

impl PassBackend {
    /// The store pass itself would use: `$PASSWORD_STORE_DIR`, else
    /// `~/.password-store`.
    pub fn from_env() -> PassBackend {
        let store_dir = std::env::var_os("PASSWORD_STORE_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".password-store")
            });
        PassBackend::new(store_dir)
    }

    /// The store at `store_dir`, through the `pass` on `PATH`.
    pub fn new(store_dir: impl Into<PathBuf>) -> PassBackend {
        PassBackend {
            program: OsString::from("pass"),
            store_dir: store_dir.into(),
        }
    }

    /// Uses `program` instead of `pass` from `PATH`.
    pub fn with_program(mut self, program: impl Into<OsString>) -> PassBackend {
        self.program = program.into();
        self
    }

    /// The store directory.
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Whether the `pass` program runs (`pass version` succeeds).
    pub fn is_available(&self) -> bool {
        self.command()
            .arg("version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether the store was initialised (`pass init` wrote its `.gpg-id`).
    pub fn is_initialised(&self) -> bool {
        self.store_dir.join(".gpg-id").is_file()
    }

    /// [`is_available`](PassBackend::is_available) and
    /// [`is_initialised`](PassBackend::is_initialised) together.
    pub fn availability(&self) -> Availability {
        Availability {
            program: self.is_available(),
            initialised: self.is_initialised(),
            store_dir: self.store_dir.clone(),
        }
    }

    /// Fails unless the store is initialised.
    pub fn check_initialised(&self) -> Result<(), PassError> {
        if self.is_initialised() {
            Ok(())
        } else {
            Err(PassError::NotInitialised(self.store_dir.clone()))
        }
    }

    /// The value of entry `name` (`pass show`, one trailing newline
    /// stripped), or `None` when there is no such entry.
    pub fn get(&self, name: &str) -> Result<Option<SecretValue>, PassError> {
        check_name(name)?;
        if !self.file(name).is_file() {
            return Ok(None);
        }
        let out = self.run("show", name, &["show", name], None)?;
        let mut value = out;
        if value.last() == Some(&b'\n') {
            value.pop();
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(PassError::TooLarge {
                name: name.to_owned(),
                len: value.len(),
            });
        }
        Ok(Some(SecretValue::from(value)))
    }

    /// Stores `value` as entry `name` (`pass insert -m -f`, the value and
    /// one newline on stdin), replacing any entry of that name.
    pub fn set(&self, name: &str, value: &SecretValue) -> Result<(), PassError> {
        check_name(name)?;
        let mut input = Zeroizing::new(Vec::with_capacity(value.len() + 1));
        input.extend_from_slice(value.expose());
        input.push(b'\n');
        self.run("insert", name, &["insert", "-m", "-f", name], Some(&input))?;
        Ok(())
    }

    /// Deletes entry `name` (`pass rm -f`); `false` when there was none.
    pub fn delete(&self, name: &str) -> Result<bool, PassError> {
        check_name(name)?;
        if !self.file(name).is_file() {
            return Ok(false);
        }
        self.run("rm", name, &["rm", "-f", name], None)?;
        Ok(true)
    }

    /// The names of the entries under `prefix` (e.g. `claude/`), sorted;
    /// read from the directory, no decryption.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, PassError> {
        let prefix = Prefix::new(prefix)?;
        Ok(self.entries(&prefix)?.into_iter().map(|e| e.name).collect())
    }

    /// The entries under `prefix` with their file identities, sorted by
    /// name. Hidden files and directories (`.git`, `.gpg-id`) are skipped,
    /// symlinked directories are not followed.
    pub fn entries(&self, prefix: &Prefix) -> Result<Vec<PassEntry>, PassError> {
        let dir = self.store_dir.join(prefix.as_str());
        let mut out = Vec::new();
        match std::fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(source) => return Err(PassError::Io { path: dir, source }),
            Ok(_) => {}
        }
        walk(&dir, prefix.as_str(), &mut out)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The identity of entry `name`'s file, `None` when it does not exist.
    pub fn file_id(&self, name: &str) -> Result<Option<FileId>, PassError> {
        check_name(name)?;
        let path = self.file(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(FileId::of(&meta))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PassError::Io { path, source }),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.store_dir.join(format!("{name}.gpg"))
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        crate::secret_env::scrub(&mut cmd);
        for (var, _) in std::env::vars_os() {
            if var
                .to_str()
                .is_some_and(|v| v.starts_with(SCRUBBED_ENV_PREFIX))
            {
                cmd.env_remove(var);
            }
        }
        cmd.env("PASSWORD_STORE_DIR", &self.store_dir);
        cmd
    }

    /// Runs pass with `args`, `input` on stdin; returns its stdout.
    fn run(
        &self,
        op: &'static str,
        name: &str,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, PassError> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| PassError::NotInstalled {
            program: self.program.to_string_lossy().into_owned(),
            source,
        })?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            // A pass that exits early (an error) closes the pipe: its exit
            // status says what went wrong, so a write error is ignored.
            let _ = stdin.write_all(bytes);
        }
        let output = child
            .wait_with_output()
            .map_err(|source| PassError::Command {
                op,
                name: name.to_owned(),
                message: source.to_string(),
            })?;
        let stdout = Zeroizing::new(output.stdout);
        if output.status.success() {
            return Ok(stdout);
        }
        Err(PassError::Command {
            op,
            name: name.to_owned(),
            message: message(&output.stderr, output.status),
        })
    }
}

/// The last non-empty lines of a failed run's stderr, shortened and
/// stripped of control characters.
fn message(stderr: &[u8], status: std::process::ExitStatus) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(2)..].join("; ");
    let mut clean: String = tail
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if clean.is_empty() {
        clean = format!("exited with {status}");
    }
    clean
}

fn check_name(name: &str) -> Result<(), PassError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.ends_with('/')
        || name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        || name.contains(['\0', '\n', '\r']);
    if bad {
        return Err(PassError::InvalidName(name.to_owned()));
    }
    Ok(())
}

fn walk(dir: &Path, name_prefix: &str, out: &mut Vec<PassEntry>) -> Result<(), PassError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PassError::Io { path, source }
    };
    for item in std::fs::read_dir(dir).map_err(io(dir))? {
        let item = item.map_err(io(dir))?;
        let file_name = item.file_name();
        let (text, utf8) = match file_name.to_str() {
            Some(s) => (s.to_owned(), true),
            None => (file_name.to_string_lossy().into_owned(), false),
        };
        if text.starts_with('.') {
            continue;
        }
        let path = item.path();
        let kind = item.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            walk(&path, &format!("{name_prefix}{text}/"), out)?;
            continue;
        }
        let Some(stem) = text.strip_suffix(".gpg") else {
            continue;
        };
        // A symlinked entry file counts (pass follows it); a symlinked
        // directory is not entered.
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PassError::Io { path, source }),
        };
        out.push(PassEntry {
            name: format!("{name_prefix}{stem}"),
            utf8,
            id: FileId::of(&meta),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        let p = Prefix::default();
        let key = p.key_for("claude/github/token").unwrap();
        assert_eq!(key.as_str(), "github.token");
        assert_eq!(p.pass_name(&key), "claude/github/token");
        assert_eq!(p.key_for("claude/a/b/c-d_e").unwrap().as_str(), "a.b.c-d_e");
        for bad in [
            "claude/my service/token",
            "claude/gïthub/token",
            "claude/a.b/c",
            "other/a",
            "claude/_credvault/x",
            "claude/a\nb",
        ] {
            assert!(p.key_for(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_normalised_and_checked() {
        assert_eq!(Prefix::new("claude").unwrap().as_str(), "claude/");
        assert_eq!(Prefix::new("a/b/").unwrap().as_str(), "a/b/");
        assert_eq!(Prefix::new("").unwrap().as_str(), "");
        let empty = Prefix::new("").unwrap();
        assert_eq!(empty.key_for("x/y").unwrap().as_str(), "x.y");
        for bad in ["/abs", "a/../b", "..", ".git/", "a//b", "a\nb", "/"] {
            assert!(Prefix::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entry_names_are_checked() {
        for bad in ["", "/a", "a/", "a/../b", "a\0b", "a\nb", "./a"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("claude/my service/ünï").unwrap();
    }

    #[test]
    fn reserved_names() {
        assert!(is_reserved("_credvault"));
        assert!(is_reserved("_credvault.pass-sync.ab"));
        assert!(!is_reserved("_credvaultx.a"));
        assert!(!is_reserved("github.token"));
    }
}
