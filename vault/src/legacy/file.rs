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
    /// The file is no longer the one that was read and verified (another
    /// program saved it meanwhile); it was left alone.
    #[error(
        "{path} changed after it was read ({what}); it was kept, so no credential it holds is lost"
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// What differs: "replaced by another file", "size", "modification time", "content".
        what: &'static str,
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
    read_open(file, len, path, max)
}

fn read_open(
    file: File,
    len: u64,
    path: &Path,
    max: u64,
) -> Result<Zeroizing<Vec<u8>>, LegacyIoError> {
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

/// What identifies the exact file that was read: device and inode, size,
/// modification time and a SHA-256 of the content. `--remove-legacy`
/// removes a file only while all of them still match (issue 13).
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
    sha256: [u8; 32],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash of a file of secrets is not printed.
        f.debug_struct("Identity")
            .field("dev", &self.dev)
            .field("ino", &self.ino)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Identity {
    fn of(meta: &fs::Metadata, content: &[u8]) -> Identity {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        use sha2::Digest;
        Identity {
            dev,
            ino,
            len: meta.len(),
            modified: meta.modified().ok(),
            sha256: sha2::Sha256::digest(content).into(),
        }
    }

    /// What differs from `other`, if anything.
    fn differs(&self, other: &Identity) -> Option<&'static str> {
        if (self.dev, self.ino) != (other.dev, other.ino) {
            Some("replaced by another file")
        } else if self.len != other.len {
            Some("size")
        } else if self.modified != other.modified {
            Some("modification time")
        } else if self.sha256 != other.sha256 {
            Some("content")
        } else {
            None
        }
    }
}

/// [`read`], and the [`Identity`] of the file read (from the same open
/// file).
pub fn read_identified(
    path: &Path,
    max: u64,
) -> Result<(Zeroizing<Vec<u8>>, Identity), LegacyIoError> {
    let file = File::open(path).map_err(|e| LegacyIoError::io("open", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| LegacyIoError::io("stat", path, e))?;
    let bytes = read_open(file, meta.len(), path, max)?;
    let identity = Identity::of(&meta, &bytes);
    Ok((bytes, identity))
}

/// Overwrites `path` with zeros and deletes it like [`overwrite_and_remove`],
/// but only if it is still exactly the file described by `read` (same
/// inode, size, modification time and content); otherwise leaves it alone
/// with [`LegacyIoError::Changed`]. The check reads the file through the
/// descriptor that then overwrites it.
pub fn remove_if_unchanged(path: &Path, read: &Identity) -> Result<(), LegacyIoError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| LegacyIoError::io("open for overwrite", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| LegacyIoError::io("stat", path, e))?;
    let mut content = Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
    (&mut file)
        .take(read.len + 1)
        .read_to_end(&mut content)
        .map_err(|e| LegacyIoError::io("read", path, e))?;
    if let Some(what) = Identity::of(&meta, &content).differs(read) {
        return Err(LegacyIoError::Changed {
            path: path.to_owned(),
            what,
        });
    }
    drop(file);
    overwrite_and_remove(path)
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
    crate::store::fault_point(crate::store::Step::Remove)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
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
    fn a_file_that_changed_after_the_read_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        fs::write(&path, b"{\"a\":1}").unwrap();
        let (_, read) = read_identified(&path, 100).unwrap();
        // Saved again by the app: a new file renamed into place.
        let tmp = dir.path().join("tmp");
        fs::write(&tmp, b"{\"a\":1}").unwrap();
        fs::rename(&tmp, &path).unwrap();
        assert!(matches!(
            remove_if_unchanged(&path, &read),
            Err(LegacyIoError::Changed {
                what: "replaced by another file",
                ..
            })
        ));
        // Rewritten in place with other content of the same size.
        let (_, read) = read_identified(&path, 100).unwrap();
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"a\":2}")
            .unwrap();
        assert!(matches!(
            remove_if_unchanged(&path, &read),
            Err(LegacyIoError::Changed { .. })
        ));
        assert!(path.exists());
        let (_, read) = read_identified(&path, 100).unwrap();
        remove_if_unchanged(&path, &read).unwrap();
        assert!(!path.exists());
    }

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
