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
//! # Deferred lines
//!
//! A long-lived handle that audits many reads (the app's credential
//! service) may defer their lines ([`AuditLog::with_deferred`],
//! [`AuditLog::append_deferred`]): each [`Event`] keeps the time it
//! happened, and the waiting lines are written in order, in one `write`
//! with one head update, before the handle's next [`AuditLog::append`], on
//! [`AuditLog::flush`], once [`MAX_DEFERRED`] wait, or by a background
//! thread when the oldest has waited the window. A crash of the process
//! loses the lines still waiting.
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

mod files;
mod line;
mod log;
mod verify;

pub use line::RECOVERED_OP;
pub use log::{AuditLog, MAX_DEFERRED};

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::crypto::{self, SecretKey};
use files::*;
use line::*;

/// HKDF info of the audit key.
pub const AUDIT_INFO: &[u8] = b"credvault/v1/audit";
pub(super) const KID_INFO: &[u8] = b"credvault/v1/audit-kid";
/// Default size at which the active file is rotated (1 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
/// Default number of rotated files kept.
pub const DEFAULT_KEEP: usize = 9;
/// How long an append waits for another writer.
pub(super) const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const HEAD_MAGIC: &str = "credvault-audit-head v1";
pub(super) const ZERO_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

pub(super) type HmacSha256 = hmac::Hmac<Sha256>;

/// The key that authenticates audit lines, derived from a vault's data key.
/// Its `Debug` shows the key id only.
#[derive(Clone)]
pub struct AuditKey {
    key: SecretKey,
    kid: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("kid", &self.kid).finish()
    }
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

/// `t` as RFC 3339 UTC with whole seconds: `2026-11-28T17:02:11Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Whole seconds, so `Display` prints no fraction; clamped to jiff's
    // last whole second (9999-12-30T22:00:00Z).
    let last = jiff::Timestamp::MAX.as_second();
    let secs = i64::try_from(secs).unwrap_or(last).min(last);
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_string()
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
mod tests;
