//! Opening, locking and reading the audit files (side files: `store::open_side_file`).

use super::*;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::time::Instant;

/// Audit files are opened as the vault's other side files: never through
/// a symlink, only when owned by this user (`store::open_side_file`).
pub(super) fn open_append(path: &Path) -> Result<File, AuditError> {
    let mut o = OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    crate::store::open_side_file(path, o).map_err(io_err("open", path))
}

pub(super) fn open_rw(path: &Path) -> Result<File, AuditError> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    crate::store::open_side_file(path, o).map_err(io_err("open", path))
}

pub(super) fn lock(file: &File, path: &Path) -> Result<(), AuditError> {
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

pub(super) fn read_text(path: &Path) -> Result<String, AuditError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// The last complete line of `path` (without newline), reading only its
/// tail unless the line is longer.
pub(super) fn last_line(path: &Path) -> Result<Option<String>, AuditError> {
    tail_of(path).map(|(line, _)| line)
}

/// The end of `path`: its last complete line (without newline) and, when
/// the file does not end with a newline, the torn fragment after it (a
/// crash or a full disk during an append). Reads only the tail unless the
/// lines are longer.
pub(super) fn tail_of(path: &Path) -> Result<(Option<String>, Option<Vec<u8>>), AuditError> {
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
