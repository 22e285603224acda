//! The log files and the append path: batches, deferred lines, rotation (module docs of `audit`).

use super::*;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// How long the lines of [`AuditLog::append_deferred`] may wait.
    defer: Option<Duration>,
}

/// Most lines [`AuditLog::append_deferred`] keeps waiting before it writes
/// them itself.
pub const MAX_DEFERRED: usize = 64;

/// See [`AuditLog`]'s `kept`.
#[derive(Debug, Default)]
pub(super) struct Kept {
    tail: Option<Tail>,
    /// The head anchor, open, and its device and inode.
    head: Option<(File, (u64, u64))>,
    /// The active log, open for appending, and its device and inode.
    log: Option<(File, (u64, u64))>,
    /// Deferred lines not yet written, oldest first, and the key that
    /// authenticates them ([`AuditLog::append_deferred`]).
    waiting: Vec<Event>,
    waiting_key: Option<AuditKey>,
    /// When the oldest waiting line was deferred.
    oldest: Option<Instant>,
    /// Whether a thread is on its way to write the waiting lines.
    flusher: bool,
}

/// The active file as it was right after our last append: its identity
/// and length, and the hash and `seq` of its last line. Appends happen
/// under the head lock, so while the file still has this identity and
/// length, nobody appended since and the last line is ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tail {
    file: (u64, u64, u64),
    hash: String,
    seq: u64,
}

/// Device and inode of the file at `path`, if it exists (Unix).
pub(super) fn dev_ino(path: &Path) -> Option<(u64, u64)> {
    identity(path).map(|(dev, ino, _)| (dev, ino))
}

/// Device and inode of an open file (Unix).
pub(super) fn file_id(file: &File) -> Option<(u64, u64)> {
    file_identity(file).map(|(dev, ino, _)| (dev, ino))
}

/// Device, inode and length of an open file (Unix).
pub(super) fn file_identity(file: &File) -> Option<(u64, u64, u64)> {
    meta_identity(file.metadata().ok()?)
}

/// Rewrites the fixed-length head record in place: one `pwrite` on Unix.
pub(super) fn write_head(head: &mut File, record: &[u8]) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        head.write_all_at(record, 0)
    }
    #[cfg(not(unix))]
    {
        head.seek(SeekFrom::Start(0))?;
        head.write_all(record)
    }
}

/// Device, inode and length of the file at `path`, if it exists.
pub(super) fn identity(path: &Path) -> Option<(u64, u64, u64)> {
    meta_identity(std::fs::symlink_metadata(path).ok()?)
}

pub(super) fn meta_identity(meta: std::fs::Metadata) -> Option<(u64, u64, u64)> {
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
            defer: None,
        }
    }

    /// Lets [`AuditLog::append_deferred`] keep lines waiting for up to
    /// `window` (at most [`MAX_DEFERRED`] of them), for a long-lived handle
    /// that audits many reads (module docs, "Deferred lines").
    pub fn with_deferred(mut self, window: Duration) -> AuditLog {
        self.defer = Some(window);
        self
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
    /// `"auth":"none"`), after any deferred lines. Returns its `seq`.
    pub fn append(&self, event: &Event, key: Option<&AuditKey>) -> Result<u64, AuditError> {
        let mut kept = self.kept();
        self.write(&mut kept, Some((event, key)))
            .map(|seq| seq.unwrap_or_default())
    }

    /// Records `event` (MACed with `key`) to be written within the window
    /// of [`AuditLog::with_deferred`]: by the next [`AuditLog::append`] or
    /// [`AuditLog::flush`] of this handle, once [`MAX_DEFERRED`] lines wait,
    /// or by a background thread when the oldest has waited the window.
    /// Without a window it appends at once. An error is that of a write
    /// this call made; a background write's error is dropped, so a caller
    /// that must not lose a line uses [`AuditLog::append`].
    pub fn append_deferred(&self, event: Event, key: &AuditKey) -> Result<(), AuditError> {
        let Some(window) = self.defer else {
            return self.append(&event, Some(key)).map(drop);
        };
        let mut kept = self.kept();
        if kept.waiting_key.as_ref().is_some_and(|k| k.kid != key.kid) {
            self.write(&mut kept, None)?;
        }
        kept.waiting.push(event);
        if kept.waiting_key.is_none() {
            kept.waiting_key = Some(key.clone());
        }
        let oldest = *kept.oldest.get_or_insert_with(Instant::now);
        if kept.waiting.len() >= MAX_DEFERRED || oldest.elapsed() >= window {
            return self.write(&mut kept, None).map(drop);
        }
        if !kept.flusher {
            kept.flusher = true;
            let log = self.clone();
            let started = std::thread::Builder::new()
                .name("credvault-audit".into())
                .spawn(move || log.flush_when_due(window));
            if started.is_err() {
                kept.flusher = false;
                return self.write(&mut kept, None).map(drop);
            }
        }
        Ok(())
    }

    /// Writes the deferred lines now.
    pub fn flush(&self) -> Result<(), AuditError> {
        let mut kept = self.kept();
        self.write(&mut kept, None).map(drop)
    }

    /// The background writer of deferred lines: writes them when the
    /// oldest has waited `window`; ends when none wait.
    fn flush_when_due(&self, window: Duration) {
        loop {
            let wait = {
                let mut kept = self.kept();
                match kept.oldest {
                    None => {
                        kept.flusher = false;
                        return;
                    }
                    Some(t) if t.elapsed() >= window => {
                        // Nobody to tell: the handle's caller chose to defer.
                        let _ = self.write(&mut kept, None);
                        window
                    }
                    Some(t) => window.saturating_sub(t.elapsed()),
                }
            };
            std::thread::sleep(wait.max(Duration::from_millis(5)));
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the waiting lines and then `extra`, under the head lock, in
    /// one `write`; returns the `seq` of the last line written.
    fn write(
        &self,
        kept: &mut Kept,
        extra: Option<(&Event, Option<&AuditKey>)>,
    ) -> Result<Option<u64>, AuditError> {
        let waiting = std::mem::take(&mut kept.waiting);
        let waiting_key = kept.waiting_key.take();
        kept.oldest = None;
        let mut batch: Vec<(&Event, Option<&AuditKey>)> =
            waiting.iter().map(|e| (e, waiting_key.as_ref())).collect();
        batch.extend(extra);
        if batch.is_empty() {
            return Ok(None);
        }
        let head_path = self.head_path();
        // The head file kept open from the last append, while it is still
        // the file at its path.
        let at_path = dev_ino(&head_path);
        let (mut head, id) = match kept.head.take() {
            Some((file, id)) if at_path == Some(id) => (file, Some(id)),
            _ => {
                let file = open_rw(&head_path)?;
                let id = file_id(&file);
                (file, id)
            }
        };
        lock(&head, &head_path)?;
        let result = self.append_locked(&batch, &mut head, kept);
        let _ = head.unlock();
        if let Some(id) = id {
            kept.head = Some((head, id));
        }
        result.map(Some)
    }

    fn append_locked(
        &self,
        batch: &[(&Event, Option<&AuditKey>)],
        head: &mut File,
        kept: &mut Kept,
    ) -> Result<u64, AuditError> {
        let Some(&(first, first_key)) = batch.first() else {
            return Ok(0);
        };
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
        let rotated = size >= self.max_bytes;
        if rotated {
            self.rotate()?;
        }
        // A torn last line (a crash or a full disk during an append) is
        // ended and recorded by a marker line that chains from the last
        // complete line, so the chain goes on and `verify` can tell a crash
        // from tampering (module docs).
        let (marker, mut seq, mut prev) = match &torn {
            Some(fragment) => {
                let mut recovered = Event::new(RECOVERED_OP, first.user.clone());
                recovered.error = Some(torn_record(fragment));
                let marker = encode(&recovered, seq, &prev, first_key);
                let hash = sha256_hex(marker.as_bytes());
                (Some(marker), seq + 1, hash)
            }
            None => (None, seq, prev),
        };
        let mut bytes = Vec::with_capacity(400 * batch.len());
        if let Some(marker) = &marker {
            // The newline ends the torn fragment; the marker follows.
            bytes.push(b'\n');
            bytes.extend_from_slice(marker.as_bytes());
            bytes.push(b'\n');
        }
        // Each line chains from the one before; the head names the last
        // authenticated one.
        let mut anchor: Option<(&AuditKey, u64, String)> = None;
        for (i, &(event, key)) in batch.iter().enumerate() {
            if i > 0 {
                seq += 1;
            }
            let line = encode(event, seq, &prev, key);
            prev = sha256_hex(line.as_bytes());
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
            if let Some(key) = key {
                anchor = Some((key, seq, prev.clone()));
            }
        }
        // The active file kept open from the last append, while it is
        // still the file at the path (a rotation renames it away).
        let at_path = match before {
            Some((dev, ino, _)) if !rotated => Some((dev, ino)),
            _ => None,
        };
        let (mut file, reused) = match kept.log.take() {
            Some((file, id)) if at_path == Some(id) => (file, true),
            _ => (open_append(&self.path)?, false),
        };
        // One write per batch on an O_APPEND file: lines never interleave.
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
        if let Some((key, seq, hash)) = &anchor {
            let record = head_record(key, *seq, hash);
            crate::store::fault_point(crate::store::Step::AuditAnchor)
                .and_then(|()| write_head(head, record.as_bytes()))
                .map_err(io_err("write", &self.head_path()))?;
        }
        // Appends happen under the head lock: the file we appended to is
        // exactly as long as before plus our bytes, so no `stat` is needed
        // for a file we kept; a newly opened one is asked (`fstat`).
        let after = match before {
            Some((dev, ino, len)) if reused => Some((
                dev,
                ino,
                len + u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            )),
            _ => file_identity(&file),
        };
        if let Some(after) = after {
            kept.tail = Some(Tail {
                file: after,
                hash: prev,
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
    pub(super) fn read_lock(&self) -> Result<Option<File>, AuditError> {
        let head_path = self.head_path();
        let mut o = std::fs::OpenOptions::new();
        o.read(true);
        let file = match crate::store::open_side_file(&head_path, o) {
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
}
