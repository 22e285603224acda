//! Old copies of a vault kept beside it (FORMAT.md §7.1): rotating
//! *generations* `<vault>.1` (newest) … `<vault>.N` made by every save, and
//! timestamped `<vault>.bak-<UTC time>` copies kept by `restore` and `undo`.
//!
//! Both are whole vault files (mode 0600) that open with the slots they
//! had when they were the live vault. Generations are best effort: a save
//! never fails because its generation could not be kept.
//!
//! # Rotation, and why the live vault always exists
//!
//! Under the vault's lock, before the new file is renamed over the vault,
//! the current vault file is hard-linked (copied, on file systems without
//! hard links) to `.<vault name>.gen-tmp`. Only after the rename succeeded
//! are the generations shifted (`.N-1` → `.N`, …, `.1` → `.2`, by rename)
//! and the link renamed to `.1`. The vault's own path is never renamed away
//! or rewritten here, so a crash at any point leaves the live vault whole;
//! at worst one generation is missing and a stale `.gen-tmp` stays until
//! the next save removes it. A save that fails keeps no generation.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{
    create_options, fault_point, parent_dir, replace_with, sibling, FaultInjector, Step, StoreError,
};

/// Generations kept by default.
pub const DEFAULT_GENERATIONS: usize = 3;

/// The most generations a vault keeps, whatever is asked.
pub const MAX_GENERATIONS: usize = 100;

/// Generation `k` (1 = newest) of `vault`: `<vault>.<k>`.
pub fn path(vault: &Path, k: usize) -> PathBuf {
    sibling(vault, "", &format!(".{k}"))
}

/// The generations present beside `vault`, newest (`.1`) first.
pub fn list(vault: &Path) -> Vec<(usize, PathBuf)> {
    let Some(name) = vault.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let Ok(dir) = fs::read_dir(parent_dir(vault)) else {
        return Vec::new();
    };
    let mut out: Vec<(usize, PathBuf)> = dir
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let digits = file_name.strip_prefix(&prefix)?;
            let canonical = !digits.is_empty()
                && digits.len() <= 4
                && !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit());
            let k: usize = digits.parse().ok().filter(|_| canonical)?;
            entry
                .file_type()
                .is_ok_and(|t| t.is_file())
                .then(|| (k, entry.path()))
        })
        .collect();
    out.sort();
    out
}

/// The `.bak-*` copies kept beside `vault` by `restore` and `undo`.
pub fn baks(vault: &Path) -> Vec<PathBuf> {
    let Some(name) = vault.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let prefix = format!("{name}.bak-");
    let Ok(dir) = fs::read_dir(parent_dir(vault)) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = dir
        .flatten()
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with(&prefix)
                && e.file_type().is_ok_and(|t| t.is_file())
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Every copy credvault keeps of `vault`: its generations, newest first,
/// then its `.bak-*` copies.
pub fn kept(vault: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = list(vault).into_iter().map(|(_, p)| p).collect();
    out.extend(baks(vault));
    out
}

/// Removes every kept copy of `vault` (and a stale `.gen-tmp` link) and
/// syncs the directory; returns the copies removed. The caller holds the
/// vault's lock. A revoked credential must not open anything credvault
/// keeps (FORMAT.md §7.1).
pub fn purge(vault: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let _ = fs::remove_file(sibling(vault, ".", ".gen-tmp"));
    let mut removed = Vec::new();
    for path in kept(vault) {
        match fault_point(Step::Remove).and_then(|()| fs::remove_file(&path)) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("remove", &path, e)),
        }
    }
    if !removed.is_empty() {
        super::sync_dir(vault, None)?;
    }
    Ok(removed)
}

/// Replaces `vault` with `bytes` like [`replace_with`], keeping the file it
/// replaces as generation 1 when `keep` > 0 (module docs). The caller holds
/// the vault's lock.
pub fn replace_keeping(
    vault: &Path,
    bytes: &[u8],
    keep: usize,
    faults: Option<&dyn FaultInjector>,
) -> Result<(), StoreError> {
    let pending = Pending::prepare(vault, keep);
    replace_with(vault, bytes, faults)?;
    if let Some(pending) = pending {
        // Best effort: the save itself succeeded.
        let _ = pending.commit();
    }
    Ok(())
}

/// Makes generation `k`'s successors move up by one after generation `k`
/// was consumed (by `undo`): `.k+1` → `.k`, `.k+2` → `.k+1`, …
pub fn close_gap(vault: &Path, k: usize) -> Result<(), StoreError> {
    fault_point(Step::ShiftGenerations).map_err(|e| StoreError::io("rename", vault, e))?;
    let later = list(vault).into_iter().filter(|(have, _)| *have > k);
    for (want, (have, from)) in (k..).zip(later) {
        if have != want {
            let to = path(vault, want);
            fs::rename(&from, &to).map_err(|e| StoreError::io("rename", &to, e))?;
        }
    }
    sync_dir_quietly(vault);
    Ok(())
}

/// The current vault file, linked aside before a save.
struct Pending {
    vault: PathBuf,
    link: PathBuf,
    keep: usize,
    committed: bool,
}

impl Pending {
    /// Links (or copies) the current vault to `.<name>.gen-tmp`. `None`
    /// when no generation is to be kept: `keep` is 0, there is no vault
    /// yet, or neither a link nor a copy could be made.
    fn prepare(vault: &Path, keep: usize) -> Option<Pending> {
        if keep == 0 {
            return None;
        }
        let link = sibling(vault, ".", ".gen-tmp");
        let _ = fs::remove_file(&link);
        fault_point(Step::KeepGeneration).ok()?;
        match fs::hard_link(vault, &link) {
            Ok(()) => {
                let _ = super::make_private(&link);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(_) => copy_synced(vault, &link).ok()?,
        }
        Some(Pending {
            vault: vault.to_owned(),
            link,
            keep: keep.min(MAX_GENERATIONS),
            committed: false,
        })
    }

    /// Shifts the generations up and renames the link to `.1`; removes
    /// generations above `keep`.
    fn commit(mut self) -> Result<(), StoreError> {
        fault_point(Step::ShiftGenerations).map_err(|e| StoreError::io("rename", &self.link, e))?;
        for k in (1..self.keep).rev() {
            let from = path(&self.vault, k);
            if from.exists() {
                let to = path(&self.vault, k + 1);
                fs::rename(&from, &to).map_err(|e| StoreError::io("rename", &to, e))?;
            }
        }
        let first = path(&self.vault, 1);
        fs::rename(&self.link, &first).map_err(|e| StoreError::io("rename", &first, e))?;
        // Only now is the link gone: until here a failure leaves it to
        // `drop`, which removes it.
        self.committed = true;
        for (k, old) in list(&self.vault) {
            if k > self.keep {
                let _ = fs::remove_file(old);
            }
        }
        sync_dir_quietly(&self.vault);
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.link);
        }
    }
}

/// Copies `from` to `to` (created exclusively, 0600) and fsyncs it.
fn copy_synced(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = fs::File::open(from)?;
    let mut file = create_options(true).write(true).create_new(true).open(to)?;
    let copied = io::copy(&mut source, &mut file).and_then(|_| file.sync_all());
    if copied.is_err() {
        let _ = fs::remove_file(to);
    }
    copied
}

fn sync_dir_quietly(vault: &Path) {
    #[cfg(unix)]
    {
        let _ = fs::File::open(parent_dir(vault)).and_then(|d| d.sync_all());
    }
    let _ = vault;
}

/// Keeps the file at `vault`, whatever it holds, as a new file
/// `<vault>.bak-<YYYYMMDDTHHMMSSZ>` (with `-2`, `-3`, … if that name is
/// taken), never replacing anything: a hard link (nothing is read, however
/// large or damaged the file), or on file systems without hard links a
/// durable copy with mode 0600. Returns its path. The caller holds the
/// vault's lock.
pub fn keep_bak(vault: &Path) -> Result<PathBuf, StoreError> {
    fault_point(Step::KeepBak).map_err(|e| StoreError::io("link", vault, e))?;
    let stamp = utc_stamp(SystemTime::now());
    let mut last = None;
    for n in 1..=100 {
        let suffix = if n == 1 {
            format!(".bak-{stamp}")
        } else {
            format!(".bak-{stamp}-{n}")
        };
        let bak = sibling(vault, "", &suffix);
        match fs::hard_link(vault, &bak) {
            Ok(()) => {
                let _ = super::make_private(&bak);
                sync_dir_quietly(vault);
                return Ok(bak);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(bak),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(vault.to_owned()))
            }
            Err(_) => match copy_synced(vault, &bak) {
                Ok(()) => {
                    sync_dir_quietly(vault);
                    return Ok(bak);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(bak),
                Err(e) => return Err(StoreError::io("copy", &bak, e)),
            },
        }
    }
    Err(StoreError::AlreadyExists(
        last.unwrap_or_else(|| vault.to_owned()),
    ))
}

/// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic format, UTC) of `t`; times before
/// 1970 (a clock gone wrong) count as 1970-01-01.
pub fn utc_stamp(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .ok()
        .filter(|ts| *ts >= jiff::Timestamp::UNIX_EPOCH)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn saves_rotate_the_last_n_files_and_prune_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("v.cvault");
        fs::write(&vault, b"0").unwrap();
        for i in 1..=5 {
            replace_keeping(&vault, i.to_string().as_bytes(), 3, None).unwrap();
        }
        assert_eq!(fs::read(&vault).unwrap(), b"5");
        for (k, want) in [(1, "4"), (2, "3"), (3, "2")] {
            assert_eq!(fs::read(path(&vault, k)).unwrap(), want.as_bytes());
        }
        assert_eq!(
            names(dir.path()),
            ["v.cvault", "v.cvault.1", "v.cvault.2", "v.cvault.3"]
        );
        // Fewer generations asked: the surplus goes at the next save.
        replace_keeping(&vault, b"6", 1, None).unwrap();
        assert_eq!(names(dir.path()), ["v.cvault", "v.cvault.1"]);
        assert_eq!(fs::read(path(&vault, 1)).unwrap(), b"5");
        // None asked: nothing is kept, nothing is removed.
        replace_keeping(&vault, b"7", 0, None).unwrap();
        assert_eq!(names(dir.path()), ["v.cvault", "v.cvault.1"]);
        assert_eq!(fs::read(path(&vault, 1)).unwrap(), b"5");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path(&vault, 1)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_failed_save_keeps_no_generation() {
        struct Fail;
        impl FaultInjector for Fail {
            fn before(&self, step: super::super::Step) -> io::Result<()> {
                if step == super::super::Step::Rename {
                    Err(io::Error::other("injected"))
                } else {
                    Ok(())
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("v.cvault");
        fs::write(&vault, b"0").unwrap();
        replace_keeping(&vault, b"1", 3, None).unwrap();
        replace_keeping(&vault, b"2", 3, Some(&Fail)).unwrap_err();
        assert_eq!(fs::read(&vault).unwrap(), b"1");
        assert_eq!(names(dir.path()), ["v.cvault", "v.cvault.1"]);
        assert_eq!(fs::read(path(&vault, 1)).unwrap(), b"0");
    }

    #[test]
    fn list_ignores_lookalikes_and_close_gap_renumbers() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("v.cvault");
        for name in [
            "v.cvault.1",
            "v.cvault.3",
            "v.cvault.01",
            "v.cvault.x",
            "v.cvault.lock",
        ] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let ks: Vec<usize> = list(&vault).into_iter().map(|(k, _)| k).collect();
        assert_eq!(ks, [1, 3]);
        fs::remove_file(path(&vault, 1)).unwrap();
        close_gap(&vault, 1).unwrap();
        assert_eq!(fs::read(path(&vault, 1)).unwrap(), b"v.cvault.3");
        let ks: Vec<usize> = list(&vault).into_iter().map(|(k, _)| k).collect();
        assert_eq!(ks, [1]);
    }

    #[test]
    fn bak_files_are_timestamped_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("v.cvault");
        assert!(matches!(keep_bak(&vault), Err(StoreError::NotFound(_))));
        fs::write(&vault, b"a").unwrap();
        let a = keep_bak(&vault).unwrap();
        replace_with(&vault, b"b", None).unwrap();
        let b = keep_bak(&vault).unwrap();
        assert_ne!(a, b);
        assert_eq!(fs::read(&a).unwrap(), b"a");
        assert_eq!(fs::read(&b).unwrap(), b"b");
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("v.cvault.bak-2"), "{name}");
        assert!(name.ends_with('Z') || name.contains("Z-"), "{name}");
    }

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_661); // 2000-02-29
        assert_eq!(utc_stamp(t), "20000229T010101Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799); // 2099-12-31
        assert_eq!(utc_stamp(t), "20991231T235959Z");
        // A clock before 1970 counts as 1970-01-01, as before jiff.
        let t = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(utc_stamp(t), "19700101T000000Z");
    }
}
