//! A tamper-evident audit log of vault operations: one JSON object per
//! line in `<vault>.audit.jsonl` (mode 0600), hash-chained, each line
//! authenticated with a MAC keyed from the vault's data key when the
//! writer knows it.
//!
//! This module calls nothing in the engine and the engine never calls it:
//! the caller (the `credvault` CLI) records one [`Event`] per operation.
//!
//! # A line
//!
//! ```text
//! {"auth":"hmac","kid":"…16 hex…","mac":"…64 hex…","op":"store","outcome":"success",
//!  "pid":4242,"prev":"…64 hex…","seq":7,"ts":"2026-11-28T17:02:11Z","user":"alice","v":1,"key":"github.token"}
//! ```
//!
//! Fields: `v` (1), `seq` (1, 2, … across rotated files), `ts` (RFC 3339,
//! UTC, seconds), `op`, `key` or `prefix` (never a value or passphrase),
//! `outcome` (`success` / `failure`), `error` (the failure class), `pid`,
//! `user`, `prev` (hex SHA-256 of the previous line's bytes, without its
//! newline; 64 zeros for the first line ever), `auth`, and when `auth` is
//! `hmac`: `kid` (which audit key) and `mac`.
//!
//! `mac` = HMAC-SHA256(audit key, canonical content), where the canonical
//! content is the line's JSON object without `mac`, keys sorted, no
//! whitespace. The audit key is HKDF-SHA256(data key, salt = vault id,
//! info = `credvault/v1/audit`) ([`AuditKey::derive`]); `kid` is the first
//! 8 bytes of HMAC(audit key, `credvault/v1/audit-kid`), in hex.
//!
//! A writer that does not know the key (a failed unlock, `lock`) writes
//! `"auth":"none"` and no `mac`: such a line is unauthenticated, but it is
//! still chained, and the next authenticated line covers it through its
//! `prev`.
//!
//! # The head anchor
//!
//! `<vault>.audit.head` is both the writers' lock (an exclusive advisory
//! lock around "read the last line, append") and the anchor: one
//! fixed-length record naming the `seq` and hash of the last authenticated
//! line, MACed with the audit key. Without it, cutting lines off the end
//! of the log could not be told from a log that simply ends there.
//!
//! # What [`AuditLog::verify`] detects
//!
//! With the current data key, every change to any line up to the last
//! authenticated one: an edit (its MAC, or the next line's `prev`), a
//! deleted, inserted or reordered line (`prev` and `seq`), truncation of
//! the end (the head anchor), lines cut from the start of a log that was
//! never rotated (`seq` does not start at 1), and a removed or forged head.
//! Lines under an earlier data key (before a `rekey`) cannot have their MAC
//! checked, but they are covered by the hash chain up to the head.
//!
//! # Torn lines
//!
//! A crash or a full disk during an append can leave the active file ending
//! in a fragment without its newline. That is not tampering: `verify`
//! notes it ("line N is torn"), and the head anchor still names the last
//! whole line, so a cut of an anchored line is still caught. The next
//! append ends the fragment with a newline and writes a marker line first
//! (`op` = [`RECOVERED_OP`], `error` = `torn:<bytes>:<sha256>` of the
//! fragment), MACed and chained from the last whole line; `verify` then
//! skips exactly that fragment ("line N was torn by a crash; line N+1
//! records it"). Any other line that is not a valid audit line, or a
//! fragment changed after it was recorded, is reported as before.
//!
//! Not detected: removing unauthenticated lines written after the last
//! authenticated line (failed unlocks at the very end); when the head is
//! under another data key than the current one (the vault was restored
//! from a copy older than a `rekey`, and nothing was written since),
//! truncation back to a line written under that other key; replacing the log
//! *and* its head with an older copy of both (a rollback); deleting the
//! oldest rotated files (indistinguishable from rotation dropping them);
//! and anything done by someone holding the data key. The log is not
//! fsynced, so a power loss may lose the last lines (reported as
//! truncation).
//!
//! # Rotation and concurrency
//!
//! Before an append that finds the active file at or above
//! [`AuditLog::max_bytes`], it is renamed to `<vault>.audit.1.jsonl`
//! (older ones shift up to `.N`, [`AuditLog::keep`]; the oldest is
//! dropped). The new file's first line has `prev` = the hash of the old
//! file's last line, so the chain continues across files. Each line is
//! written with one `write` on a file opened with `O_APPEND`, under the
//! head lock, so concurrent writers produce one linear chain. Readers
//! (`verify`, `entries`) hold a shared lock on the head while they read,
//! so they see the lines and their anchor as of one moment.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::{self, SecretKey};

/// HKDF info of the audit key.
pub const AUDIT_INFO: &[u8] = b"credvault/v1/audit";
const KID_INFO: &[u8] = b"credvault/v1/audit-kid";
/// Default size at which the active file is rotated (1 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
/// Default number of rotated files kept.
pub const DEFAULT_KEEP: usize = 9;
/// How long an append waits for another writer.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
const HEAD_MAGIC: &str = "credvault-audit-head v1";
const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

type HmacSha256 = hmac::Hmac<Sha256>;

/// The key that authenticates audit lines, derived from a vault's data key.
pub struct AuditKey {
    key: SecretKey,
    kid: String,
}

impl AuditKey {
    /// HKDF-SHA256(`dek`, salt = `vault_id`, info = `credvault/v1/audit`).
    pub fn derive(dek: &SecretKey, vault_id: &[u8; 16]) -> AuditKey {
        let key = crypto::hkdf(dek.expose(), vault_id, AUDIT_INFO);
        let tag = mac_hex(&key, KID_INFO);
        AuditKey {
            kid: tag[..16].to_owned(),
            key,
        }
    }

    /// The audit key of an unlocked vault.
    pub fn for_vault(vault: &crate::Vault) -> AuditKey {
        AuditKey::derive(vault.data_key(), &vault.header().vault_id)
    }

    /// The key id written in `kid` (16 hex digits; not secret).
    pub fn id(&self) -> &str {
        &self.kid
    }

    fn mac(&self, content: &[u8]) -> String {
        mac_hex(&self.key, content)
    }

    fn check(&self, content: &[u8], mac: &str) -> bool {
        let Some(tag) = unhex(mac) else {
            return false;
        };
        #[allow(clippy::expect_used)]
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(self.key.expose())
            .expect("HMAC takes any key length");
        m.update(content);
        m.verify_slice(&tag).is_ok()
    }
}

fn mac_hex(key: &SecretKey, content: &[u8]) -> String {
    // HMAC accepts keys of any length.
    #[allow(clippy::expect_used)]
    let mut m =
        <HmacSha256 as KeyInit>::new_from_slice(key.expose()).expect("HMAC takes any key length");
    m.update(content);
    crypto::hex_lower(&m.finalize().into_bytes())
}

fn sha256_hex(bytes: &[u8]) -> String {
    crypto::hex_lower(&Sha256::digest(bytes))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// Whether an operation succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did what was asked.
    Success,
    /// It failed; [`Event::error`] says how.
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One operation to record. Holds names, never values.
#[derive(Debug, Clone)]
pub struct Event {
    /// When it happened.
    pub time: SystemTime,
    /// The operation (`store`, `retrieve`, `unlock`, …).
    pub operation: String,
    /// The entry name it concerned, if one.
    pub key: Option<String>,
    /// The name prefix it concerned (`list`), if one.
    pub prefix: Option<String>,
    /// Success or failure.
    pub outcome: Outcome,
    /// The failure class (`unlock`, `not_found`, …), for failures.
    pub error: Option<String>,
    /// The process id.
    pub pid: u32,
    /// The user name.
    pub user: String,
}

impl Event {
    /// An event of `operation` now, by this process, succeeded, no key.
    pub fn new(operation: impl Into<String>, user: impl Into<String>) -> Event {
        Event {
            time: SystemTime::now(),
            operation: operation.into(),
            key: None,
            prefix: None,
            outcome: Outcome::Success,
            error: None,
            pid: std::process::id(),
            user: user.into(),
        }
    }
}

/// An audit line as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Sequence number.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub timestamp: String,
    /// Operation.
    pub operation: String,
    /// Entry name, if any.
    pub key: Option<String>,
    /// Prefix, if any.
    pub prefix: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Failure class.
    pub error: Option<String>,
    /// Process id.
    pub pid: u64,
    /// User.
    pub user: String,
    /// `hmac` or `none`.
    pub auth: String,
    /// The line as stored (one JSON object).
    pub raw: String,
}

/// Why the audit log could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file-system operation failed.
    #[error("audit log: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another writer held the audit lock too long.
    #[error("audit log: timed out waiting for the lock {}", path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
    },
}

fn io_err<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> AuditError + 'p {
    move |source| AuditError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The first problem [`AuditLog::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file holding the bad line (or the head file).
    pub file: PathBuf,
    /// The 1-based line number in that file (0 for the head).
    pub line: usize,
    /// The line's `seq`, if it could be read.
    pub seq: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

/// The result of [`AuditLog::verify`].
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// The files read, oldest first.
    pub files: Vec<PathBuf>,
    /// Lines read.
    pub lines: u64,
    /// Lines whose MAC was checked with the current key.
    pub authenticated: u64,
    /// Lines without a MAC (written before an unlock).
    pub unauthenticated: u64,
    /// Lines MACed with an earlier data key (covered by the hash chain only).
    pub earlier_key: u64,
    /// The first `seq` present.
    pub first_seq: Option<u64>,
    /// The last `seq` present.
    pub last_seq: Option<u64>,
    /// The `seq` the head anchor names, when it was checked.
    pub anchored_seq: Option<u64>,
    /// Remarks that do not fail verification.
    pub notes: Vec<String>,
    /// The first problem, if any: the log was tampered with.
    pub problem: Option<Problem>,
}

impl Verification {
    /// True when no problem was found.
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// An audit log file and its rotated predecessors.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    /// What a long-lived handle (and its clones) keeps between appends:
    /// the end of the log as it last wrote it, and its open files. Held
    /// for the whole of an append, which also serialises the threads of
    /// one process (a `flock` does not tell them apart).
    kept: std::sync::Arc<std::sync::Mutex<Kept>>,
}

/// See [`AuditLog`]'s `kept`.
#[derive(Debug, Default)]
struct Kept {
    tail: Option<Tail>,
    /// The head anchor, open, and its device and inode.
    head: Option<(File, (u64, u64))>,
    /// The active log, open for appending, and its device and inode.
    log: Option<(File, (u64, u64))>,
}

/// The active file as it was right after our last append: its identity
/// and length, and the hash and `seq` of its last line. Appends happen
/// under the head lock, so while the file still has this identity and
/// length, nobody appended since and the last line is ours.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tail {
    file: (u64, u64, u64),
    hash: String,
    seq: u64,
}

/// Device and inode of the file at `path`, if it exists (Unix).
fn dev_ino(path: &Path) -> Option<(u64, u64)> {
    identity(path).map(|(dev, ino, _)| (dev, ino))
}

/// Device, inode and length of the file at `path`, if it exists.
fn identity(path: &Path) -> Option<(u64, u64, u64)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino(), meta.len()))
    }
    #[cfg(not(unix))]
    {
        // Without inode numbers the cache is not trusted (see `append`).
        let _ = meta;
        None
    }
}

impl AuditLog {
    /// The default log of `vault`: `<vault>.audit.jsonl`.
    pub fn beside(vault: &Path) -> AuditLog {
        let name = vault
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        AuditLog::at(vault.with_file_name(format!("{name}.audit.jsonl")))
    }

    /// A log at `path` (rotated files and the head beside it).
    pub fn at(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog {
            path: path.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            keep: DEFAULT_KEEP,
            kept: std::sync::Arc::default(),
        }
    }

    /// Rotates when the active file has reached `bytes`.
    pub fn with_max_bytes(mut self, bytes: u64) -> AuditLog {
        self.max_bytes = bytes.max(1);
        self
    }

    /// Keeps at most `keep` rotated files (at least 1).
    pub fn with_keep(mut self, keep: usize) -> AuditLog {
        self.keep = keep.max(1);
        self
    }

    /// The active file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotation size.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// How many rotated files are kept.
    pub fn keep(&self) -> usize {
        self.keep
    }

    fn stem(&self) -> String {
        let s = self.path.to_string_lossy();
        s.strip_suffix(".jsonl").unwrap_or(&s).to_owned()
    }

    /// Rotated file `n` (1 = newest): `<stem>.<n>.jsonl`.
    pub fn rotated(&self, n: usize) -> PathBuf {
        PathBuf::from(format!("{}.{n}.jsonl", self.stem()))
    }

    /// The head anchor and lock: `<stem>.head`.
    pub fn head_path(&self) -> PathBuf {
        PathBuf::from(format!("{}.head", self.stem()))
    }

    /// Every existing log file, oldest first.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = (1..=self.keep)
            .rev()
            .map(|n| self.rotated(n))
            .filter(|p| p.exists())
            .collect();
        if self.path.exists() {
            out.push(self.path.clone());
        }
        out
    }

    /// Checks that the log can be opened for appending (creating it), for
    /// callers that must not run an operation they cannot audit.
    pub fn check_writable(&self) -> Result<(), AuditError> {
        open_append(&self.path).map(drop)
    }

    /// Appends one line for `event`, MACed with `key` when given (else
    /// `"auth":"none"`). Returns its `seq`.
    pub fn append(&self, event: &Event, key: Option<&AuditKey>) -> Result<u64, AuditError> {
        let head_path = self.head_path();
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The head file kept open from the last append, while it is still
        // the file at its path.
        let reuse = match kept.head.take() {
            Some((file, id)) if dev_ino(&head_path) == Some(id) => Some(file),
            _ => None,
        };
        let mut head = match reuse {
            Some(file) => file,
            None => open_rw(&head_path)?,
        };
        lock(&head, &head_path)?;
        let result = self.append_locked(event, key, &mut head, &mut kept);
        let _ = head.unlock();
        if let Some(id) = dev_ino(&head_path) {
            kept.head = Some((head, id));
        }
        result
    }

    fn append_locked(
        &self,
        event: &Event,
        key: Option<&AuditKey>,
        head: &mut File,
        kept: &mut Kept,
    ) -> Result<u64, AuditError> {
        let before = identity(&self.path);
        let mut torn: Option<Vec<u8>> = None;
        let cached = kept.tail.take();
        let (prev, seq) = match cached {
            // Nobody appended since our last line: it is still the last.
            Some(tail) if before.is_some() && before == Some(tail.file) => {
                (tail.hash, tail.seq + 1)
            }
            _ => {
                let (mut last, found) = tail_of(&self.path)?;
                torn = found;
                if last.is_none() {
                    last = last_line(&self.rotated(1))?;
                }
                match &last {
                    Some(line) => (
                        sha256_hex(line.as_bytes()),
                        parse_seq(line).map_or(1, |s| s + 1),
                    ),
                    None => (ZERO_HASH.to_owned(), 1),
                }
            }
        };
        let size = before.map_or(0, |(_, _, len)| len);
        if size >= self.max_bytes {
            self.rotate()?;
        }
        // A torn last line (a crash or a full disk during an append) is
        // ended and recorded by a marker line that chains from the last
        // complete line, so the chain goes on and `verify` can tell a crash
        // from tampering (module docs).
        let (marker, seq, prev) = match &torn {
            Some(fragment) => {
                let mut recovered = Event::new(RECOVERED_OP, event.user.clone());
                recovered.error = Some(torn_record(fragment));
                let marker = encode(&recovered, seq, &prev, key);
                let hash = sha256_hex(marker.as_bytes());
                (Some(marker), seq + 1, hash)
            }
            None => (None, seq, prev),
        };
        let line = encode(event, seq, &prev, key);
        // The active file kept open from the last append, while it is
        // still the file at the path (a rotation renames it away).
        let now = dev_ino(&self.path);
        let mut file = match kept.log.take() {
            Some((file, id)) if now == Some(id) => file,
            _ => open_append(&self.path)?,
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        if let Some(marker) = &marker {
            // The newline ends the torn fragment; the marker follows.
            bytes.push(b'\n');
            bytes.extend_from_slice(marker.as_bytes());
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // One write per line on an O_APPEND file: lines never interleave.
        let written = crate::store::fault_point(crate::store::Step::AuditAppend)
            .and_then(|()| file.write(&bytes))
            .map_err(io_err("write", &self.path))?;
        if written != bytes.len() {
            return Err(AuditError::Io {
                op: "write",
                path: self.path.clone(),
                source: io::Error::new(io::ErrorKind::WriteZero, "short write"),
            });
        }
        let hash = sha256_hex(line.as_bytes());
        if let Some(key) = key {
            let record = head_record(key, seq, &hash);
            crate::store::fault_point(crate::store::Step::AuditAnchor)
                .and_then(|()| head.seek(SeekFrom::Start(0)))
                .and_then(|_| head.write_all(record.as_bytes()))
                .map_err(io_err("write", &self.head_path()))?;
        }
        if let Some(after) = identity(&self.path) {
            kept.tail = Some(Tail {
                file: after,
                hash,
                seq,
            });
            kept.log = Some((file, (after.0, after.1)));
        }
        Ok(seq)
    }

    fn rotate(&self) -> Result<(), AuditError> {
        crate::store::fault_point(crate::store::Step::AuditRotate)
            .map_err(io_err("rename", &self.path))?;
        let oldest = self.rotated(self.keep);
        if oldest.exists() {
            std::fs::remove_file(&oldest).map_err(io_err("remove", &oldest))?;
        }
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                let to = self.rotated(n + 1);
                std::fs::rename(&from, &to).map_err(io_err("rename", &from))?;
            }
        }
        let to = self.rotated(1);
        std::fs::rename(&self.path, &to).map_err(io_err("rename", &self.path))
    }

    /// A shared lock on the head file while the log is read: writers
    /// append, anchor and rotate under its exclusive lock, so a reader sees
    /// the lines and their anchor as of one moment (an append landing
    /// between reading the lines and reading the anchor looked like a
    /// truncation). `None` while there is no head yet.
    fn read_lock(&self) -> Result<Option<File>, AuditError> {
        let head_path = self.head_path();
        let file = match File::open(&head_path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &head_path)(e)),
        };
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock_shared() {
                Ok(()) => return Ok(Some(file)),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock", &head_path)(e)),
            }
            if start.elapsed() >= LOCK_TIMEOUT {
                return Err(AuditError::LockTimeout { path: head_path });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Every line of every file, oldest first. Lines that are not valid
    /// audit lines are skipped (use [`AuditLog::verify`] to find them).
    pub fn entries(&self) -> Result<Vec<Entry>, AuditError> {
        let _read = self.read_lock()?;
        let mut out = Vec::new();
        for file in self.files() {
            let text = read_text(&file)?;
            out.extend(text.lines().filter_map(parse_entry));
        }
        Ok(out)
    }

    /// Checks the whole chain with `key`; see the module docs for what is
    /// and is not detected. `Err` only for I/O failures.
    pub fn verify(&self, key: &AuditKey) -> Result<Verification, AuditError> {
        let _read = self.read_lock()?;
        let mut v = Verification {
            files: self.files(),
            ..Verification::default()
        };
        let mut prev: Option<(String, u64)> = None; // (hash, seq) of the line before
        let mut last_auth: Option<(u64, String)> = None;
        let mut hashes: BTreeMap<u64, (String, String)> = BTreeMap::new();
        let rotated_full = self.rotated(self.keep).exists();
        let files = v.files.clone();
        'files: for file in &files {
            let text = read_text(file)?;
            let lines: Vec<&str> = text.lines().collect();
            // A last line without its newline in the active file: an append
            // torn by a crash or a full disk. Not tampering by itself: the
            // next append records it, and the head anchor still names the
            // last whole line (checked below), so a cut anchored line shows.
            let open_end = !text.is_empty() && !text.ends_with('\n');
            if open_end && *file != self.path {
                v.problem = Some(Problem {
                    file: file.clone(),
                    line: lines.len(),
                    seq: lines.last().and_then(|l| parse_seq(l)),
                    reason: "incomplete last line in a rotated file (cut)".into(),
                });
                break;
            }
            for (i, line) in lines.iter().copied().enumerate() {
                if open_end && i + 1 == lines.len() {
                    v.notes.push(format!(
                        "line {} of {} is torn (a crash or a full disk during an append); the next append records it",
                        i + 1,
                        file.display()
                    ));
                    break;
                }
                // Even a fragment that happens to parse (a write cut just
                // before its newline) was recorded as torn by the next one.
                if recovers(lines.get(i + 1), line.as_bytes()) {
                    v.notes.push(format!(
                        "line {} of {} was torn by a crash; line {} records it",
                        i + 1,
                        file.display(),
                        i + 2
                    ));
                    continue;
                }
                let bad = |seq: Option<u64>, reason: String| Problem {
                    file: file.clone(),
                    line: i + 1,
                    seq,
                    reason,
                };
                let Some(obj) = parse_object(line) else {
                    v.problem = Some(bad(None, "not a valid audit line".into()));
                    break 'files;
                };
                let seq = obj.get("seq").and_then(Value::as_u64);
                let Some(seq) = seq else {
                    v.problem = Some(bad(None, "no sequence number".into()));
                    break 'files;
                };
                let stored_prev = obj.get("prev").and_then(Value::as_str).unwrap_or("");
                match &prev {
                    None => {
                        if seq != 1 && !rotated_full {
                            v.problem = Some(bad(
                                Some(seq),
                                format!("the log starts at line {seq}: earlier lines were removed"),
                            ));
                            break 'files;
                        }
                        if seq == 1 && stored_prev != ZERO_HASH {
                            v.problem =
                                Some(bad(Some(seq), "first line does not start the chain".into()));
                            break 'files;
                        }
                        if seq != 1 {
                            v.notes.push(format!(
                                "the log starts at line {seq}; older files were rotated away"
                            ));
                        }
                    }
                    Some((hash, before)) => {
                        if seq != before + 1 {
                            v.problem = Some(bad(
                                Some(seq),
                                format!(
                                    "sequence {seq} follows {before}: a line was deleted, inserted or reordered"
                                ),
                            ));
                            break 'files;
                        }
                        if stored_prev != hash {
                            v.problem = Some(bad(
                                Some(seq),
                                "chain broken: the line before was changed, deleted or reordered"
                                    .into(),
                            ));
                            break 'files;
                        }
                    }
                }
                match obj.get("auth").and_then(Value::as_str) {
                    Some("none") if !obj.contains_key("mac") => v.unauthenticated += 1,
                    Some("hmac") => {
                        let kid = obj.get("kid").and_then(Value::as_str).unwrap_or("");
                        let mac = obj.get("mac").and_then(Value::as_str).unwrap_or("");
                        if kid == key.id() {
                            if !key.check(canonical(&obj).as_bytes(), mac) {
                                v.problem = Some(bad(
                                    Some(seq),
                                    "MAC does not match: the line was edited or forged".into(),
                                ));
                                break 'files;
                            }
                            v.authenticated += 1;
                            last_auth = Some((seq, sha256_hex(line.as_bytes())));
                        } else {
                            v.earlier_key += 1;
                        }
                    }
                    _ => {
                        v.problem = Some(bad(Some(seq), "unknown or missing auth".into()));
                        break 'files;
                    }
                }
                v.lines += 1;
                v.first_seq.get_or_insert(seq);
                v.last_seq = Some(seq);
                let hash = sha256_hex(line.as_bytes());
                let kid = obj.get("kid").and_then(Value::as_str).unwrap_or("");
                hashes.insert(seq, (hash.clone(), kid.to_owned()));
                prev = Some((hash, seq));
            }
        }
        if v.problem.is_none() {
            self.check_head(key, &mut v, last_auth, &hashes)?;
        }
        Ok(v)
    }

    fn check_head(
        &self,
        key: &AuditKey,
        v: &mut Verification,
        last_auth: Option<(u64, String)>,
        hashes: &BTreeMap<u64, (String, String)>,
    ) -> Result<(), AuditError> {
        let head_path = self.head_path();
        let text = match std::fs::read(&head_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_err("read", &head_path)(e)),
        };
        let problem = |reason: &str| Problem {
            file: head_path.clone(),
            line: 0,
            seq: None,
            reason: reason.to_owned(),
        };
        if last_auth.is_none() && v.earlier_key > 0 {
            v.problem = Some(problem(
                "no line is authenticated with this vault's current data key (wrong vault, or the lines were forged)",
            ));
            return Ok(());
        }
        let Some(head) = parse_head(&text) else {
            if last_auth.is_some() {
                v.problem = Some(problem(
                    "the head anchor is missing or damaged: the log may have been truncated",
                ));
            } else if v.lines > 0 {
                v.notes.push(
                    "no line is authenticated with the current key, so truncation cannot be checked"
                        .into(),
                );
            }
            return Ok(());
        };
        if head.kid != key.id() {
            // Under another data key (the vault was rekeyed, or restored
            // from a copy made before a rekey): its MAC cannot be checked.
            // A current-key line after it would have moved it, though.
            if last_auth.as_ref().is_some_and(|(seq, _)| *seq > head.seq) {
                v.problem = Some(problem("the head anchor was replaced"));
            } else if hashes.get(&head.seq) != Some(&(head.hash.clone(), head.kid.clone())) {
                // The line it names must exist, unchanged, and be one that
                // key wrote (so a made-up head cannot hide a truncation).
                v.problem = Some(Problem {
                    file: self.path.clone(),
                    line: 0,
                    seq: Some(head.seq),
                    reason: format!(
                        "log truncated or rewritten: line {} named by the head anchor is missing or changed",
                        head.seq
                    ),
                });
            } else {
                v.notes.push(format!(
                    "the head anchor (line {}) is under another data key (a rekey or restore); it is not authenticated with this key until the next authenticated line",
                    head.seq
                ));
            }
            return Ok(());
        }
        if !key.check(head.content.as_bytes(), &head.mac) {
            v.problem = Some(problem("the head anchor's MAC does not match"));
            return Ok(());
        }
        v.anchored_seq = Some(head.seq);
        match last_auth {
            Some((seq, hash)) if seq == head.seq && hash == head.hash => Ok(()),
            Some((seq, _)) if seq > head.seq => {
                // A line authenticated after the anchor was written would
                // have moved it: the head was rolled back.
                v.problem = Some(problem("the head anchor is older than the log"));
                Ok(())
            }
            _ => {
                v.problem = Some(Problem {
                    file: self.path.clone(),
                    line: 0,
                    seq: Some(head.seq),
                    reason: format!(
                        "log truncated or rewritten: line {} named by the head anchor is missing or changed",
                        head.seq
                    ),
                });
                Ok(())
            }
        }
    }
}

/// Audit files are opened as the vault's other side files: never through
/// a symlink, only when owned by this user (`store::open_side_file`).
fn open_append(path: &Path) -> Result<File, AuditError> {
    let mut o = OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    crate::store::open_side_file(path, o).map_err(io_err("open", path))
}

fn open_rw(path: &Path) -> Result<File, AuditError> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    crate::store::open_side_file(path, o).map_err(io_err("open", path))
}

fn lock(file: &File, path: &Path) -> Result<(), AuditError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock", path)(e)),
        }
        if start.elapsed() >= LOCK_TIMEOUT {
            return Err(AuditError::LockTimeout {
                path: path.to_owned(),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn read_text(path: &Path) -> Result<String, AuditError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// The last complete line of `path` (without newline), reading only its
/// tail unless the line is longer.
fn last_line(path: &Path) -> Result<Option<String>, AuditError> {
    tail_of(path).map(|(line, _)| line)
}

/// The end of `path`: its last complete line (without newline) and, when
/// the file does not end with a newline, the torn fragment after it (a
/// crash or a full disk during an append). Reads only the tail unless the
/// lines are longer.
fn tail_of(path: &Path) -> Result<(Option<String>, Option<Vec<u8>>), AuditError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, None)),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    let mut window: u64 = 16 * 1024;
    loop {
        let start = len.saturating_sub(window);
        let mut buf = Vec::new();
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_to_end(&mut buf))
            .map_err(io_err("read", path))?;
        // A torn fragment: the bytes after the last newline.
        let (complete, torn) = match buf.iter().rposition(|&b| b == b'\n') {
            _ if buf.last() == Some(&b'\n') => (&buf[..], None),
            Some(i) => (&buf[..=i], Some(buf[i + 1..].to_vec())),
            None if start == 0 => (&buf[..0], (!buf.is_empty()).then(|| buf.clone())),
            None => {
                window *= 4;
                continue;
            }
        };
        let text = String::from_utf8_lossy(complete);
        let trimmed = text.strip_suffix('\n').unwrap_or(&text);
        match trimmed.rfind('\n') {
            Some(i) => return Ok((Some(trimmed[i + 1..].to_owned()), torn)),
            None if start == 0 => {
                return Ok(((!trimmed.is_empty()).then(|| trimmed.to_owned()), torn));
            }
            None => window *= 4,
        }
    }
}

/// Whether `next` is a marker line recording `fragment` as torn. Its MAC
/// and its place in the chain are checked as for any line when the loop
/// reaches it.
fn recovers(next: Option<&&str>, fragment: &[u8]) -> bool {
    let Some(obj) = next.and_then(|l| parse_object(l)) else {
        return false;
    };
    obj.get("op").and_then(Value::as_str) == Some(RECOVERED_OP)
        && obj.get("error").and_then(Value::as_str) == Some(torn_record(fragment).as_str())
}

fn parse_object(line: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn parse_seq(line: &str) -> Option<u64> {
    parse_object(line)?.get("seq")?.as_u64()
}

/// The line without `mac`, keys sorted, compact.
fn canonical(obj: &serde_json::Map<String, Value>) -> String {
    let sorted: BTreeMap<&String, &Value> = obj.iter().filter(|(k, _)| *k != "mac").collect();
    // Serializing strings and numbers to a String cannot fail.
    #[allow(clippy::expect_used)]
    serde_json::to_string(&sorted).expect("JSON of plain values")
}

/// The operation of the marker line that records a torn line.
pub const RECOVERED_OP: &str = "recover-torn-line";

/// What a marker says of the torn fragment (in its `error` field): its
/// length and SHA-256, `torn:<bytes>:<sha256 hex>`.
fn torn_record(fragment: &[u8]) -> String {
    format!("torn:{}:{}", fragment.len(), sha256_hex(fragment))
}

fn encode(event: &Event, seq: u64, prev: &str, key: Option<&AuditKey>) -> String {
    let mut obj = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        obj.insert(k.to_owned(), v);
    };
    put("v", 1.into());
    put("seq", seq.into());
    put("ts", rfc3339(event.time).into());
    put("op", event.operation.clone().into());
    if let Some(k) = &event.key {
        put("key", k.clone().into());
    }
    if let Some(p) = &event.prefix {
        put("prefix", p.clone().into());
    }
    put("outcome", event.outcome.as_str().into());
    if let Some(e) = &event.error {
        put("error", e.clone().into());
    }
    put("pid", event.pid.into());
    put("user", event.user.clone().into());
    put("prev", prev.into());
    match key {
        Some(key) => {
            put("auth", "hmac".into());
            put("kid", key.id().into());
            let mac = key.mac(canonical(&obj).as_bytes());
            obj.insert("mac".into(), mac.into());
        }
        None => put("auth", "none".into()),
    }
    let sorted: BTreeMap<&String, &Value> = obj.iter().collect();
    #[allow(clippy::expect_used)]
    serde_json::to_string(&sorted).expect("JSON of plain values")
}

fn parse_entry(line: &str) -> Option<Entry> {
    let obj = parse_object(line)?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Entry {
        seq: obj.get("seq")?.as_u64()?,
        timestamp: s("ts")?,
        operation: s("op")?,
        key: s("key"),
        prefix: s("prefix"),
        outcome: s("outcome")?,
        error: s("error"),
        pid: obj.get("pid").and_then(Value::as_u64).unwrap_or(0),
        user: s("user").unwrap_or_default(),
        auth: s("auth").unwrap_or_default(),
        raw: line.to_owned(),
    })
}

struct Head {
    seq: u64,
    hash: String,
    kid: String,
    mac: String,
    content: String,
}

fn head_record(key: &AuditKey, seq: u64, hash: &str) -> String {
    // Fixed length, so rewriting it in place never leaves old bytes behind.
    let content = format!("{HEAD_MAGIC} seq={seq:020} hash={hash} kid={}", key.id());
    let mac = key.mac(content.as_bytes());
    format!("{content} mac={mac}\n")
}

fn parse_head(text: &str) -> Option<Head> {
    let line = text.lines().next()?;
    let (content, mac) = line.rsplit_once(" mac=")?;
    let rest = content.strip_prefix(HEAD_MAGIC)?;
    let mut seq = None;
    let mut hash = None;
    let mut kid = None;
    for field in rest.split_whitespace() {
        match field.split_once('=')? {
            ("seq", v) => seq = v.parse().ok(),
            ("hash", v) => hash = Some(v.to_owned()),
            ("kid", v) => kid = Some(v.to_owned()),
            _ => return None,
        }
    }
    Some(Head {
        seq: seq?,
        hash: hash?,
        kid: kid?,
        mac: mac.to_owned(),
        content: content.to_owned(),
    })
}

/// `t` as RFC 3339 UTC with whole seconds: `2026-11-28T17:02:11Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The login name of the real user, for [`Event::user`]: the uid looked
/// up in /etc/passwd, else `$USER`, else `uid:N` (elsewhere `%USERNAME%`,
/// `$USER`, or `unknown`).
pub fn user() -> String {
    #[cfg(unix)]
    {
        let uid = rustix::process::getuid().as_raw();
        let from_passwd = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let mut fields = line.split(':');
                    let name = fields.next()?;
                    let id = fields.nth(1)?;
                    (id.parse() == Ok(uid)).then(|| name.to_owned())
                })
            });
        from_passwd
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| format!("uid:{uid}"))
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> AuditKey {
        AuditKey::derive(&SecretKey::from_bytes([b; 32]), &[7; 16])
    }

    fn event(op: &str, k: &str) -> Event {
        let mut e = Event::new(op, "tester");
        e.key = Some(k.to_owned());
        e
    }

    fn log_with(n: usize) -> (tempfile::TempDir, AuditLog, AuditKey) {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::beside(&dir.path().join("v.cvault"));
        let k = key(1);
        for i in 0..n {
            log.append(&event("store", &format!("k{i}")), Some(&k))
                .unwrap();
        }
        (dir, log, k)
    }

    fn lines(log: &AuditLog) -> Vec<String> {
        std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(log: &AuditLog, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(log.path(), text).unwrap();
    }

    fn problem_line(log: &AuditLog, k: &AuditKey) -> (usize, String) {
        let v = log.verify(k).unwrap();
        let p = v.problem.expect("tampering detected");
        (p.line, p.reason)
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // leap year
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (_d, log, k) = log_with(5);
        let v = log.verify(&k).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert_eq!((v.lines, v.authenticated), (5, 5));
        assert_eq!(v.anchored_seq, Some(5));
        let entries = log.entries().unwrap();
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[2].key.as_deref(), Some("k2"));
        assert_eq!(entries[2].seq, 3);
    }

    #[test]
    fn long_lived_handles_interleaving_keep_one_chain() {
        // Two handles with their own tail caches (the app and the CLI),
        // and rotation in between: every append must follow the other's.
        let (_d, a, k) = log_with(1);
        let b = AuditLog::at(a.path()).with_max_bytes(600);
        let a = a.with_max_bytes(600);
        for i in 0..12 {
            let log = if i % 3 == 0 { &b } else { &a };
            let seq = log
                .append(&event("retrieve", &format!("k{i}")), Some(&k))
                .unwrap();
            assert_eq!(seq, i + 2);
        }
        let v = a.verify(&k).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert_eq!(v.last_seq, Some(13));
        assert!(a.rotated(1).exists(), "the test rotated");
    }

    /// Issue 19: a line torn by a crash (or a full disk) during an append
    /// used to break the chain for good: the next line was glued to it and
    /// `seq` restarted at 1. Now the next append ends the fragment, records
    /// it in a MACed marker line, and the chain goes on.
    #[test]
    fn a_torn_last_line_is_recovered_and_told_from_tampering() {
        let (_d, log, k) = log_with(3);
        let intact = std::fs::read(log.path()).unwrap();
        // A crash in the middle of appending line 4.
        let line4 = encode(&event("store", "k3"), 4, "x", Some(&k));
        let mut torn = intact.clone();
        torn.extend_from_slice(&line4.as_bytes()[..40]);
        std::fs::write(log.path(), &torn).unwrap();
        let fresh = AuditLog::at(log.path());
        let v = fresh.verify(&k).unwrap();
        assert!(
            v.is_intact(),
            "a torn last line is not tampering: {:?}",
            v.problem
        );
        assert!(
            v.notes
                .iter()
                .any(|n| n.contains("line 4") && n.contains("torn")),
            "{:?}",
            v.notes
        );

        // The next append records it and continues the chain at seq 4, 5.
        assert_eq!(fresh.append(&event("store", "k4"), Some(&k)).unwrap(), 5);
        let l = lines(&fresh);
        assert_eq!(l.len(), 6, "{l:?}");
        assert!(l[4].contains(RECOVERED_OP), "{}", l[4]);
        let v = fresh.verify(&k).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert_eq!((v.lines, v.last_seq), (5, Some(5)));
        assert!(
            v.notes.iter().any(|n| n.contains("torn by a crash")),
            "{:?}",
            v.notes
        );

        // Changing the torn fragment afterwards is tampering.
        let mut edited = l.clone();
        edited[3] = edited[3].replacen('{', "[", 1);
        write_lines(&fresh, &edited);
        assert!(fresh.verify(&k).unwrap().problem.is_some());

        // Cutting a whole, anchored last line looks torn, but the head
        // anchor names it: tampering.
        let (_d2, cut, k2) = log_with(3);
        let mut bytes = std::fs::read(cut.path()).unwrap();
        bytes.truncate(bytes.len() - 10);
        std::fs::write(cut.path(), bytes).unwrap();
        assert!(cut.verify(&k2).unwrap().problem.is_some());
    }

    #[test]
    fn the_wrong_key_fails() {
        let (_d, log, _k) = log_with(2);
        // Another key: lines count as "earlier key", but the head is not theirs.
        let v = log.verify(&key(2)).unwrap();
        assert_eq!(v.earlier_key, 2);
        assert!(v.problem.is_some());
    }

    #[test]
    fn an_edit_is_detected_at_that_line() {
        let (_d, log, k) = log_with(4);
        let mut l = lines(&log);
        l[1] = l[1].replace("\"k1\"", "\"kX\"");
        write_lines(&log, &l);
        let (line, reason) = problem_line(&log, &k);
        assert_eq!(line, 2);
        assert!(reason.contains("MAC"), "{reason}");
    }

    #[test]
    fn a_deletion_is_detected() {
        let (_d, log, k) = log_with(4);
        let mut l = lines(&log);
        l.remove(1);
        write_lines(&log, &l);
        assert_eq!(problem_line(&log, &k).0, 2);
    }

    #[test]
    fn reordering_is_detected() {
        let (_d, log, k) = log_with(4);
        let mut l = lines(&log);
        l.swap(1, 2);
        write_lines(&log, &l);
        assert_eq!(problem_line(&log, &k).0, 2);
    }

    #[test]
    fn truncation_is_detected_by_the_head() {
        let (_d, log, k) = log_with(4);
        let mut l = lines(&log);
        l.truncate(2);
        write_lines(&log, &l);
        let (_, reason) = problem_line(&log, &k);
        assert!(reason.contains("truncated"), "{reason}");
        // Truncating the start is caught by seq.
        let (_d, log, k) = log_with(4);
        let l = lines(&log);
        write_lines(&log, &l[1..]);
        assert_eq!(problem_line(&log, &k).0, 1);
        // And removing the head itself.
        let (_d, log, k) = log_with(2);
        std::fs::remove_file(log.head_path()).unwrap();
        assert!(log.verify(&k).unwrap().problem.is_some());
    }

    #[test]
    fn a_torn_last_line_is_reported() {
        let (_d, log, k) = log_with(2);
        let text = std::fs::read_to_string(log.path()).unwrap();
        std::fs::write(log.path(), &text[..text.len() - 5]).unwrap();
        // It looks torn, but the head anchor names line 2: a cut, not a
        // crash (a crash never anchors a line it did not finish).
        let (line, reason) = problem_line(&log, &k);
        assert_eq!(line, 0, "{reason}");
        assert!(reason.contains("line 2"), "{reason}");
    }

    #[test]
    fn unauthenticated_lines_are_chained_and_covered() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::beside(&dir.path().join("v.cvault"));
        let k = key(1);
        log.append(&event("store", "a"), Some(&k)).unwrap();
        let mut failed = Event::new("retrieve", "tester");
        failed.outcome = Outcome::Failure;
        failed.error = Some("unlock".into());
        log.append(&failed, None).unwrap();
        log.append(&event("store", "b"), Some(&k)).unwrap();
        let v = log.verify(&k).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert_eq!((v.authenticated, v.unauthenticated), (2, 1));
        assert!(lines(&log)[1].contains("\"auth\":\"none\""));
        assert!(!lines(&log)[1].contains("\"mac\""));
        // Deleting the unauthenticated line is detected by the next one.
        let mut l = lines(&log);
        l.remove(1);
        write_lines(&log, &l);
        assert_eq!(problem_line(&log, &k).0, 2);
    }

    #[test]
    fn rotation_carries_the_chain_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::beside(&dir.path().join("v.cvault"))
            .with_max_bytes(600)
            .with_keep(20);
        let k = key(1);
        for i in 0..12 {
            log.append(&event("store", &format!("k{i}")), Some(&k))
                .unwrap();
        }
        let files = log.files();
        assert!(files.len() >= 3, "{files:?}");
        let v = log.verify(&k).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert_eq!(v.lines, 12);
        assert_eq!(log.entries().unwrap().len(), 12);
        // Removing a middle rotated file breaks the chain.
        std::fs::remove_file(log.rotated(1)).unwrap();
        assert!(log.verify(&k).unwrap().problem.is_some());
    }

    #[test]
    fn rotation_drops_the_oldest_beyond_keep() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::beside(&dir.path().join("v.cvault"))
            .with_max_bytes(300)
            .with_keep(2);
        let k = key(1);
        for i in 0..10 {
            log.append(&event("store", &format!("k{i}")), Some(&k))
                .unwrap();
        }
        assert_eq!(log.files().len(), 3);
        let v = log.verify(&k).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert!(v.first_seq.unwrap() > 1);
    }

    #[test]
    fn a_rekeyed_vault_still_chains_earlier_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::beside(&dir.path().join("v.cvault"));
        log.append(&event("store", "a"), Some(&key(1))).unwrap();
        log.append(&event("rekey", "b"), Some(&key(2))).unwrap();
        let v = log.verify(&key(2)).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert_eq!((v.earlier_key, v.authenticated), (1, 1));
        let mut l = lines(&log);
        l[0] = l[0].replace("\"a\"", "\"z\"");
        write_lines(&log, &l);
        assert_eq!(problem_line(&log, &key(2)).0, 2);
    }

    #[test]
    fn a_vault_restored_to_an_earlier_key_still_verifies() {
        // Key 1, then a rekey to key 2, then a restore of a key-1 copy:
        // the head is under key 2, the current key is key 1 again.
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::beside(&dir.path().join("v.cvault"));
        log.append(&event("store", "a"), Some(&key(1))).unwrap();
        log.append(&event("rekey", "b"), Some(&key(2))).unwrap();
        log.append(&event("restore", "c"), Some(&key(2))).unwrap();
        let v = log.verify(&key(1)).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert!(!v.notes.is_empty());
        // Truncation is still caught by the hash the head names.
        let l = lines(&log);
        write_lines(&log, &l[..2]);
        assert!(log.verify(&key(1)).unwrap().problem.is_some());
        // The next key-1 line moves the head back under key 1.
        write_lines(&log, &l);
        log.append(&event("store", "d"), Some(&key(1))).unwrap();
        let v = log.verify(&key(1)).unwrap();
        assert!(v.is_intact(), "{:?}", v.problem);
        assert_eq!(v.anchored_seq, Some(4));
    }

    #[test]
    fn head_records_round_trip() {
        let k = key(3);
        let rec = head_record(&k, 42, ZERO_HASH);
        let head = parse_head(&rec).unwrap();
        assert_eq!(head.seq, 42);
        assert!(k.check(head.content.as_bytes(), &head.mac));
        assert_eq!(rec.len(), head_record(&k, 1, ZERO_HASH).len());
    }
}
