//! The only module that touches the file system: the sidecar lock, bounded
//! reads, atomic durable replace, and file modes (FORMAT.md §7).
//!
//! A save is: take an exclusive advisory lock on `<vault>.lock` (never on
//! the vault itself, whose inode the rename replaces), re-read the vault,
//! write a temp file in the same directory, fsync it, rename it over the
//! vault, fsync the directory. Readers take no lock: a rename is atomic, so
//! they see the old or the new file, never a mix.
//!
//! Each of those [`Step`]s asks an optional [`FaultInjector`] first, so
//! tests can fail or crash a save at any step (`vault/tests/faults.rs`);
//! real use passes none. The storage steps around a save (keeping a
//! generation, removing a file, writing a rollback mark or an audit line)
//! are fault points too; with the test-only feature `fault-injection`,
//! every point a process reaches without an injector of its own asks the
//! process-wide hook of `env_faults.rs` (the CLI's crash tests).

#[cfg(feature = "fault-injection")]
mod env_faults;
pub mod generations;
pub mod marks;
// Sync-folder conflict copies (merge): finding and removing them.
mod copies;
pub use copies::{conflict_copies, remove_copy};

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A step of a locked save (FORMAT.md §7), in the order they run. A
/// [`FaultInjector`] is asked before each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Taking the sidecar lock (before the lock file is opened).
    Lock,
    /// Creating the temp file next to the vault.
    CreateTemp,
    /// Writing the new file's bytes: before the first byte.
    Write,
    /// Writing the new file's bytes: after the first half, before the
    /// rest (the temp file holds a torn prefix of the new file).
    MidWrite,
    /// Fsync of the complete temp file.
    Fsync,
    /// Putting the temp file in place: the rename over the vault (the
    /// hard link, for a new vault).
    Rename,
    /// Fsync of the directory, making the rename durable.
    SyncDir,
    /// Linking the current vault aside as the next generation, before a
    /// save (store/generations.rs).
    KeepGeneration,
    /// Shifting the generations up after a save, or closing the gap an
    /// `undo` left.
    ShiftGenerations,
    /// Keeping a `.bak-*` copy of the vault before `restore` or `undo`.
    KeepBak,
    /// Removing a file: a kept copy (purge), a merged conflict copy, an
    /// imported legacy file.
    Remove,
    /// Writing a rollback mark: after it was emptied, before the new
    /// counter is written (store/marks.rs).
    Mark,
    /// Rotating the audit log (before the first rename).
    AuditRotate,
    /// Appending an audit line (before the write).
    AuditAppend,
    /// Writing the audit head anchor, after the line was appended.
    AuditAnchor,
}

impl Step {
    /// Every step of one save, in order (the steps around a save are
    /// fault points of their own: [`Step::KeepGeneration`] and after).
    pub const ALL: [Step; 7] = [
        Step::Lock,
        Step::CreateTemp,
        Step::Write,
        Step::MidWrite,
        Step::Fsync,
        Step::Rename,
        Step::SyncDir,
    ];
}

/// Fails storage steps on purpose, for tests of what a failure or a crash
/// at each step leaves behind. Production code passes none.
///
/// [`before`](FaultInjector::before) runs just before `step`; an `Err` is
/// reported exactly as if the step itself had failed with that OS error
/// (so an injected ENOSPC at [`Step::Write`] looks like a full disk), and
/// an injector may also end the process there (`std::process::abort`) to
/// simulate a crash.
pub trait FaultInjector: Send + Sync {
    /// Called before `step`; `Err` fails the step.
    fn before(&self, step: Step) -> io::Result<()>;
}

/// Asks `faults` about `step` (with none, the test-only process-wide hook,
/// module docs); an error is the step's own error.
fn inject(
    faults: Option<&dyn FaultInjector>,
    step: Step,
    op: &'static str,
    path: &Path,
) -> Result<(), StoreError> {
    match faults {
        Some(f) => f.before(step),
        None => fault_point(step),
    }
    .map_err(|e| StoreError::io(op, path, e))
}

/// A fault point outside a save's own steps: asks the test-only
/// process-wide hook (feature `fault-injection`, module docs), and is a
/// no-op in every other build. An `Err` is to be reported as the step's
/// own I/O error.
pub fn fault_point(step: Step) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    {
        env_faults::before(step)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = step;
        Ok(())
    }
}

/// Errors of the storage layer. Paths are shown; contents never are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// There is no vault at the path.
    #[error("no vault at {0}")]
    NotFound(PathBuf),
    /// `create` found a file already there.
    #[error("a file already exists at {0}")]
    AlreadyExists(PathBuf),
    /// Another process held the lock for longer than the timeout.
    #[error("timed out after {waited_ms} ms waiting for the lock {path} (another credvault process is saving)")]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited_ms: u128,
    },
    /// Any other I/O failure, with the step that failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The step: "read", "write", "fsync", "rename", ...
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl StoreError {
    fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

/// The sidecar lock file of `vault`: `<vault>.lock`.
pub fn lock_path(vault: &Path) -> PathBuf {
    sibling(vault, "", ".lock")
}

fn sibling(vault: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = vault
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    vault.with_file_name(format!("{prefix}{name}{suffix}"))
}

/// An exclusive advisory lock on `<vault>.lock`, released on drop (and by
/// the kernel when the process dies, so a killed writer never leaves a
/// stale lock). The lock file itself is left in place on purpose: removing
/// it would let two processes lock two different inodes.
pub struct VaultLock {
    file: File,
}

impl VaultLock {
    /// Waits up to `timeout` for the lock.
    pub fn acquire(vault: &Path, timeout: Duration) -> Result<VaultLock, StoreError> {
        Self::acquire_with(vault, timeout, None)
    }

    /// [`VaultLock::acquire`], consulting `faults` at [`Step::Lock`].
    pub fn acquire_with(
        vault: &Path,
        timeout: Duration,
        faults: Option<&dyn FaultInjector>,
    ) -> Result<VaultLock, StoreError> {
        let path = lock_path(vault);
        inject(faults, Step::Lock, "lock", &path)?;
        let mut options = create_options(false);
        options.read(true).write(true).create(true).truncate(false);
        let file = open_side_file(&path, options)
            .map_err(|e| StoreError::io("open lock file", &path, e))?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(VaultLock { file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(StoreError::io("lock", &path, e)),
            }
            if start.elapsed() >= timeout {
                return Err(StoreError::LockTimeout {
                    path,
                    waited_ms: start.elapsed().as_millis(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }
}

impl Drop for VaultLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Reads a whole vault file, refusing files larger than `max_len` before
/// allocating for them.
pub fn read(path: &Path, max_len: u64) -> Result<Result<Vec<u8>, u64>, StoreError> {
    let (file, len) = open_with_len(path)?;
    if len > max_len {
        return Ok(Err(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_len + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io("read", path, e))?;
    if bytes.len() as u64 > max_len {
        return Ok(Err(bytes.len() as u64));
    }
    Ok(Ok(bytes))
}

/// The first `n` bytes of the file at `path` (fewer if it is shorter) and
/// its length: what a writer compares to tell whether the file changed
/// since it was read (FORMAT.md §7).
pub fn read_prefix(path: &Path, n: usize) -> Result<(Vec<u8>, u64), StoreError> {
    let (file, len) = open_with_len(path)?;
    let mut bytes = Vec::with_capacity(n);
    file.take(n as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io("read", path, e))?;
    Ok((bytes, len))
}

/// Opens `path` for reading and returns its length.
fn open_with_len(path: &Path) -> Result<(File, u64), StoreError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound(path.to_owned()),
        _ => StoreError::io("open", path, e),
    })?;
    let len = file
        .metadata()
        .map_err(|e| StoreError::io("stat", path, e))?
        .len();
    Ok((file, len))
}

/// Whether a vault file exists at `path`.
pub fn exists(path: &Path) -> Result<bool, StoreError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io("stat", path, e)),
    }
}

/// Replaces `path` with `bytes` durably and atomically (mode 0600): temp
/// file in the same directory, write, fsync, rename, fsync the directory.
/// The caller holds the [`VaultLock`]. Leftover temp files of earlier
/// crashed saves are removed first (only a lock holder writes them).
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    replace_with(path, bytes, None)
}

/// [`replace`], consulting `faults` before each [`Step`].
///
/// A failure before [`Step::Rename`] leaves the old file in place and no
/// temp file; a failure at [`Step::SyncDir`] is reported although the new
/// file is already in place (its rename may not survive a power loss).
pub fn replace_with(
    path: &Path,
    bytes: &[u8],
    faults: Option<&dyn FaultInjector>,
) -> Result<(), StoreError> {
    remove_stale_temps(path);
    let tmp = temp_path(path);
    let result = write_synced(&tmp, bytes, faults).and_then(|()| {
        inject(faults, Step::Rename, "rename", path)?;
        fs::rename(&tmp, path).map_err(|e| StoreError::io("rename", path, e))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(path, faults)
}

/// `.<vault file name>.tmp.<pid>.<8 random hex digits>` (FORMAT.md §7).
fn temp_path(path: &Path) -> PathBuf {
    sibling(
        path,
        ".",
        &format!(".tmp.{}.{:08x}", std::process::id(), rand_suffix()),
    )
}

/// Creates `path` with `bytes` durably, failing with
/// [`StoreError::AlreadyExists`] if anything is there, even a file created
/// by a process that ignores the lock: the temp file is hard-linked into
/// place (`link` never replaces), then removed. The caller holds the
/// [`VaultLock`] and has checked that `path` does not exist.
pub fn create_new(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    create_new_with(path, bytes, None)
}

/// [`create_new`], consulting `faults` before each [`Step`]
/// ([`Step::Rename`] stands for the hard link).
pub fn create_new_with(
    path: &Path,
    bytes: &[u8],
    faults: Option<&dyn FaultInjector>,
) -> Result<(), StoreError> {
    remove_stale_temps(path);
    let tmp = temp_path(path);
    let result = write_synced(&tmp, bytes, faults).and_then(|()| {
        inject(faults, Step::Rename, "link", path)?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(StoreError::AlreadyExists(path.to_owned()))
            }
            // File systems without hard links (FAT, some network mounts):
            // the caller checked under the lock that nothing is there.
            Err(_) => fs::rename(&tmp, path).map_err(|e| StoreError::io("rename", path, e)),
        }
    });
    let _ = fs::remove_file(&tmp);
    result?;
    sync_dir(path, faults)
}

/// Creates `tmp` exclusively (0600), writes `bytes` in two halves and
/// fsyncs it.
fn write_synced(
    tmp: &Path,
    bytes: &[u8],
    faults: Option<&dyn FaultInjector>,
) -> Result<(), StoreError> {
    inject(faults, Step::CreateTemp, "create", tmp)?;
    let mut file = create_options(true)
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| StoreError::io("create", tmp, e))?;
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    inject(faults, Step::Write, "write", tmp)?;
    file.write_all(first)
        .map_err(|e| StoreError::io("write", tmp, e))?;
    inject(faults, Step::MidWrite, "write", tmp)?;
    file.write_all(rest)
        .map_err(|e| StoreError::io("write", tmp, e))?;
    inject(faults, Step::Fsync, "fsync", tmp)?;
    file.sync_all().map_err(|e| StoreError::io("fsync", tmp, e))
}

fn sync_dir(path: &Path, faults: Option<&dyn FaultInjector>) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    inject(faults, Step::SyncDir, "fsync directory", &dir)?;
    #[cfg(unix)]
    if !skip_dir_sync_for_tests() {
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("fsync directory", &dir, e))?;
    }
    let _ = dir;
    Ok(())
}

/// The negative test of the power-loss file system: with the test-only
/// feature `fault-injection` and `CREDVAULT_TEST_SKIP_DIR_FSYNC=1`, saves
/// skip the directory fsync, and that test must see a save get lost.
fn skip_dir_sync_for_tests() -> bool {
    cfg!(feature = "fault-injection")
        && std::env::var_os("CREDVAULT_TEST_SKIP_DIR_FSYNC").is_some_and(|v| v == "1")
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.tmp.");
    let Ok(dir) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in dir.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        // Exactly `.<name>.tmp.<pid>.<8 hex>`, so another vault's temps
        // (say of `<name>.tmp.x`) are never taken for ours.
        let is_ours = file_name.strip_prefix(&prefix).is_some_and(|rest| {
            rest.split_once('.').is_some_and(|(pid, hex)| {
                !pid.is_empty()
                    && pid.bytes().all(|b| b.is_ascii_digit())
                    && hex.len() == 8
                    && hex.bytes().all(|b| b.is_ascii_hexdigit())
            })
        });
        if is_ours {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn rand_suffix() -> u32 {
    u32::from_le_bytes(crate::crypto::random_array())
}

fn create_options(secret: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let _ = secret;
    o
}

/// The real path of a vault: symlinks resolved once, so that the lock,
/// the temp file, the generations, the backups and the audit log all sit
/// beside the file that is actually written, a save replaces the target
/// and never the link, and two paths to one vault share one lock
/// (FORMAT.md §7). A vault that does not exist yet resolves through its
/// directory; a dangling symlink is followed to where it points.
pub fn resolve(path: &Path) -> Result<PathBuf, StoreError> {
    let mut path = path.to_owned();
    // As the kernel's own limit on symlinks in one lookup (ELOOP).
    for _ in 0..40 {
        match fs::canonicalize(&path) {
            Ok(real) => return Ok(real),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("resolve", &path, e)),
        }
        if let Ok(target) = fs::read_link(&path) {
            path = parent_dir(&path).join(target);
            continue;
        }
        let Some(name) = path.file_name().map(ToOwned::to_owned) else {
            return Ok(path);
        };
        let dir = parent_dir(&path);
        return Ok(match fs::canonicalize(&dir) {
            Ok(real) => real.join(name),
            Err(_) => std::path::absolute(&path).unwrap_or(path),
        });
    }
    Err(StoreError::io(
        "resolve",
        &path,
        io::Error::other("too many levels of symbolic links"),
    ))
}

/// Opens a side file of the vault (its lock, its audit log) with
/// `options`, never through a symlink (`O_NOFOLLOW`), and only if the
/// calling user owns it: a file planted by someone else in a shared or
/// synced directory is refused, not used.
pub fn open_side_file(path: &Path, mut options: OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        options.custom_flags(libc_o_nofollow());
        let file = options.open(path).map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "is a symbolic link; refusing to follow it",
                )
            } else {
                e
            }
        })?;
        let owner = file.metadata()?.uid();
        let me = rustix::process::geteuid().as_raw();
        if owner != me {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("is owned by uid {owner}, not by this user (uid {me}); refusing to use it"),
            ));
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

/// Tightens a kept copy (a generation, a `.bak-*`) to mode 0600, whatever
/// the mode of the vault it was linked from. A hard link shares the inode,
/// so the vault it came from (about to be replaced) is tightened too.
pub(crate) fn make_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Creates a new private file at `path` for the caller to write: it must
/// not exist (never follows or replaces anything, a symlink included),
/// mode 0600. For files that hold a secret beside the vault, such as a
/// recovery code written by `--recovery-out`.
pub fn create_private(path: &Path) -> Result<File, StoreError> {
    let mut o = create_options(true);
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc_o_nofollow());
    }
    o.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            StoreError::AlreadyExists(path.to_owned())
        } else {
            StoreError::io("create", path, e)
        }
    })
}

/// `O_NOFOLLOW` for [`std::os::unix::fs::OpenOptionsExt::custom_flags`].
#[cfg(unix)]
pub(crate) fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Creates the vault's directory (mode 0700) if it does not exist.
pub fn ensure_dir(path: &Path) -> Result<(), StoreError> {
    create_private_dir(&parent_dir(path))
}

/// Creates `dir` and its missing parents with mode 0700, if it does not
/// exist, each made durable by an fsync of the directory holding it (a
/// power cut must not lose the directory of a vault whose save was
/// acknowledged: issue 19).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() {
        return Ok(());
    }
    // The missing directories, innermost first.
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() {
        missing.push(at);
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    for d in missing.into_iter().rev() {
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        match b.create(d) {
            Ok(()) => {}
            // Made meanwhile by another process: still made durable here.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(StoreError::io("create directory", d, e)),
        }
        sync_dir(d, None)?;
    }
    Ok(())
}

/// Warnings about modes looser than 0600 on the vault and every file kept
/// beside it (its lock, audit log, generations, `.bak-*` copies) or 0700
/// on its directory (group or other bits set).
pub fn mode_warnings(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = parent_dir(path);
        let mut files = vec![
            (path.to_owned(), "vault file", 0o600),
            (dir, "vault directory", 0o700),
            (lock_path(path), "lock file", 0o600),
        ];
        for side in side_files(path) {
            files.push((side, "kept file", 0o600));
        }
        for (p, what, want) in files {
            if let Ok(m) = fs::symlink_metadata(&p) {
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 && !m.file_type().is_symlink() {
                    out.push(format!(
                        "{what} {} has mode {mode:04o}; expected {want:04o} (chmod {want:o} {})",
                        p.display(),
                        p.display()
                    ));
                }
            }
        }
    }
    out
}

/// The files credvault keeps beside `vault` (besides the vault and its
/// lock): generations `<vault>.N`, `<vault>.bak-*` copies and the audit
/// log with its rotated files and head anchor (`<vault>.audit.*`).
pub fn side_files(vault: &Path) -> Vec<PathBuf> {
    let Some(name) = vault.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir(parent_dir(vault)) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = dir
        .flatten()
        .filter(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.strip_prefix(&name).is_some_and(|rest| {
                rest.starts_with(".bak-")
                    || rest.starts_with(".audit.")
                    || (rest.len() > 1
                        && rest.starts_with('.')
                        && rest[1..].bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_is_0600_and_cleans_temps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        fs::write(dir.path().join(".v.cvault.tmp.1.deadbeef"), b"stale").unwrap();
        replace(&path, b"one").unwrap();
        replace(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn lock_times_out_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let held = VaultLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let err = VaultLock::acquire(&path, Duration::from_millis(50))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::LockTimeout { .. }));
        drop(held);
        VaultLock::acquire(&path, Duration::from_millis(50)).unwrap();
    }

    #[test]
    fn read_refuses_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs::write(&path, vec![0u8; 100]).unwrap();
        assert_eq!(read(&path, 99).unwrap(), Err(100));
        assert_eq!(read(&path, 100).unwrap().unwrap().len(), 100);
        assert!(matches!(
            read(&dir.path().join("none"), 1),
            Err(StoreError::NotFound(_))
        ));
    }
}
