//! File access for legacy files (the app's `credentials.json`, Chromium's
//! `Local State`, a legacy config file): a bounded read into a zeroized
//! buffer, and the overwrite-then-delete of `--remove-legacy`. The vault's
//! own files are `store`'s business; these are foreign files credvault
//! only reads, and deletes on request.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A legacy file could not be read or removed. Shows the path, never
/// contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyIoError {
    /// The file does not exist.
    #[error("no such file: {0}")]
    NotFound(PathBuf),
    /// The file is larger than the limit.
    #[error("{path} is larger than {max} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// Any other I/O failure, with the step.
    #[error("{op} {path}: {source}")]
    Io {
        /// "read", "overwrite", "remove", ...
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl LegacyIoError {
    fn io(op: &'static str, path: &Path, source: io::Error) -> LegacyIoError {
        if source.kind() == io::ErrorKind::NotFound {
            return LegacyIoError::NotFound(path.to_owned());
        }
        LegacyIoError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

/// Reads all of `path`, at most `max` bytes, into a zeroized buffer.
pub fn read(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, LegacyIoError> {
    let file = File::open(path).map_err(|e| LegacyIoError::io("open", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| LegacyIoError::io("stat", path, e))?
        .len();
    if len > max {
        return Err(LegacyIoError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    // Sized up front (plus one byte to notice growth) so the buffer never
    // reallocates and leaves unzeroized copies behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(len as usize + 1));
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| LegacyIoError::io("read", path, e))?;
    if buf.len() as u64 > max {
        return Err(LegacyIoError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    Ok(buf)
}

/// Overwrites `path` with zeros (its full length), flushes that to disk,
/// then deletes it and flushes the directory.
///
/// On copy-on-write or log-structured file systems, SSDs and in backups
/// the old bytes may survive the overwrite; it is a best effort against
/// casual recovery, not a guarantee. Refuses anything but a regular file.
pub fn overwrite_and_remove(path: &Path) -> Result<(), LegacyIoError> {
    let meta = fs::symlink_metadata(path).map_err(|e| LegacyIoError::io("stat", path, e))?;
    if !meta.file_type().is_file() {
        return Err(LegacyIoError::io(
            "remove",
            path,
            io::Error::other("not a regular file; left alone"),
        ));
    }
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| LegacyIoError::io("open for overwrite", path, e))?;
    let opened = file
        .metadata()
        .map_err(|e| LegacyIoError::io("stat", path, e))?;
    #[cfg(unix)]
    {
        // The file opened is the one checked above (not swapped for a
        // symlink in between).
        use std::os::unix::fs::MetadataExt;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err(LegacyIoError::io(
                "remove",
                path,
                io::Error::other("the file changed while it was being removed; left alone"),
            ));
        }
    }
    let len = opened.len();
    file.seek(SeekFrom::Start(0))
        .map_err(|e| LegacyIoError::io("overwrite", path, e))?;
    let zeros = [0u8; 8192];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])
            .map_err(|e| LegacyIoError::io("overwrite", path, e))?;
        left -= n as u64;
    }
    file.sync_all()
        .map_err(|e| LegacyIoError::io("fsync", path, e))?;
    drop(file);
    fs::remove_file(path).map_err(|e| LegacyIoError::io("remove", path, e))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the deletion durable; failure here leaves a deleted file.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_read_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read(&path, 10).unwrap().as_slice(), b"0123456789");
        assert!(matches!(
            read(&path, 9),
            Err(LegacyIoError::TooLarge { .. })
        ));
        overwrite_and_remove(&path).unwrap();
        assert!(!path.exists());
        assert!(matches!(read(&path, 10), Err(LegacyIoError::NotFound(_))));
        assert!(matches!(
            overwrite_and_remove(&path),
            Err(LegacyIoError::NotFound(_))
        ));
        // Directories (and other non-files) are refused.
        assert!(overwrite_and_remove(dir.path()).is_err());
        assert!(dir.path().exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(overwrite_and_remove(&link).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"keep");
    }
}
