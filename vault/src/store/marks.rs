//! Rollback detection (FORMAT.md §9.2): the highest save counter seen for
//! each vault id at each path, kept *outside* the vault's directory, so that replacing
//! the vault with an older copy of itself (a generation, a backup, a
//! synced folder's old version) is noticed instead of silently undoing a
//! passphrase change or a slot removal.
//!
//! One file per vault id and (resolved) vault path, `<dir>/<vault id as 32
//! hex digits>-<first 16 hex digits of SHA-256 of the path>`, holding the
//! counter in decimal. Keying by path too keeps copies of one vault at
//! other paths (a USB copy, a merge's other copy, a generation opened on
//! its own) from being taken for a rollback of each other; the directory is created 0700, the files 0600, and
//! both are opened without following symlinks. A mark only ever moves up
//! ([`Marks::record`]), except when the user moves it on purpose
//! ([`Marks::reset`]: `undo`, `restore`, `--accept-rollback`). Concurrent
//! writers are serialised by an advisory lock on the mark file itself.
//!
//! The default directory is `$XDG_STATE_HOME/credvault/marks` (normally
//! `~/.local/state/credvault/marks`) on Linux, the local data directory
//! elsewhere.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{open_side_file, StoreError};

/// Where the marks of this user's vaults are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marks {
    dir: PathBuf,
}

/// A vault whose save counter is below the highest one seen for its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollback {
    /// The save counter of the file now.
    pub found: u64,
    /// The highest save counter seen before for this vault id.
    pub seen: u64,
}

impl Marks {
    /// Marks kept in `dir` (created on the first record).
    pub fn at(dir: impl Into<PathBuf>) -> Marks {
        Marks { dir: dir.into() }
    }

    /// The default location (module docs); `None` without a home
    /// directory.
    pub fn default_location() -> Option<Marks> {
        let dirs = directories::BaseDirs::new()?;
        let base = dirs
            .state_dir()
            .map_or_else(|| dirs.data_local_dir().to_owned(), Path::to_owned);
        Some(Marks::at(base.join("credvault").join("marks")))
    }

    /// The directory holding the marks.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, vault_id: &[u8; 16], path: &Path) -> PathBuf {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
        let short = crate::crypto::hex_lower(digest.get(..8).unwrap_or_default());
        self.dir
            .join(format!("{}-{short}", crate::crypto::hex_lower(vault_id)))
    }

    /// The highest counter recorded for `vault_id` at `vault` (a resolved
    /// path, `store::resolve`), if any.
    pub fn seen(&self, vault_id: &[u8; 16], vault: &Path) -> Result<Option<u64>, StoreError> {
        let path = self.file(vault_id, vault);
        let mut options = OpenOptions::new();
        options.read(true);
        match open_side_file(&path, options) {
            Ok(mut file) => read_mark(&mut file, &path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("open", &path, e)),
        }
    }

    /// `Err` when `counter` is below the mark of `vault_id` at `vault`.
    pub fn check(
        &self,
        vault_id: &[u8; 16],
        vault: &Path,
        counter: u64,
    ) -> Result<Result<(), Rollback>, StoreError> {
        Ok(match self.seen(vault_id, vault)? {
            Some(seen) if counter < seen => Err(Rollback {
                found: counter,
                seen,
            }),
            _ => Ok(()),
        })
    }

    /// Raises the mark of `vault_id` at `vault` to `counter` (never lowers
    /// it).
    pub fn record(
        &self,
        vault_id: &[u8; 16],
        vault: &Path,
        counter: u64,
    ) -> Result<(), StoreError> {
        self.update(vault_id, vault, |seen| {
            seen.is_none_or(|s| counter > s).then_some(counter)
        })
    }

    /// Sets the mark of `vault_id` to `counter`, lower or not: the user
    /// put an older copy in place on purpose.
    pub fn reset(&self, vault_id: &[u8; 16], vault: &Path, counter: u64) -> Result<(), StoreError> {
        self.update(vault_id, vault, |_| Some(counter))
    }

    fn update(
        &self,
        vault_id: &[u8; 16],
        vault: &Path,
        new: impl FnOnce(Option<u64>) -> Option<u64>,
    ) -> Result<(), StoreError> {
        super::create_private_dir(&self.dir)?;
        let path = self.file(vault_id, vault);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file =
            open_side_file(&path, options).map_err(|e| StoreError::io("open", &path, e))?;
        file.lock().map_err(|e| StoreError::io("lock", &path, e))?;
        let seen = read_mark(&mut file, &path)?;
        if let Some(counter) = new(seen) {
            let text = format!("{counter}\n");
            file.seek(SeekFrom::Start(0))
                .and_then(|_| file.set_len(0))
                .and_then(|()| super::fault_point(super::Step::Mark))
                .and_then(|()| file.write_all(text.as_bytes()))
                .and_then(|()| file.sync_all())
                .map_err(|e| StoreError::io("write", &path, e))?;
        }
        Ok(())
    }
}

/// Reads a mark; an empty or unreadable one (a crash while it was
/// written) counts as none.
fn read_mark(file: &mut File, path: &Path) -> Result<Option<u64>, StoreError> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.take(64).read_to_string(&mut text))
        .map_err(|e| StoreError::io("read", path, e))?;
    Ok(text.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_only_rise_unless_reset() {
        let dir = tempfile::tempdir().unwrap();
        let marks = Marks::at(dir.path().join("m"));
        let id = [7; 16];
        let at = Path::new("/vaults/v.cvault");
        assert_eq!(marks.seen(&id, at).unwrap(), None);
        assert_eq!(marks.check(&id, at, 1).unwrap(), Ok(()));
        marks.record(&id, at, 5).unwrap();
        marks.record(&id, at, 3).unwrap();
        assert_eq!(marks.seen(&id, at).unwrap(), Some(5));
        assert_eq!(
            marks.check(&id, at, 4).unwrap(),
            Err(Rollback { found: 4, seen: 5 })
        );
        assert_eq!(marks.check(&id, at, 5).unwrap(), Ok(()));
        // A copy of the same vault elsewhere has a mark of its own.
        let usb = Path::new("/media/usb/v.cvault");
        assert_eq!(marks.check(&id, usb, 1).unwrap(), Ok(()));
        marks.reset(&id, at, 2).unwrap();
        assert_eq!(marks.seen(&id, at).unwrap(), Some(2));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&marks.file(&id, at)), 0o600);
            assert_eq!(mode(marks.dir()), 0o700);
        }
    }
}
