//! Sync-folder conflict copies beside a vault (FORMAT.md §11.5): finding
//! them and removing one after its merge was verified.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::StoreError;
use crate::merge::{conflict_copy_of, SyncTool};

/// The conflict copies of `vault` in its directory, sorted by path, with
/// the tool that named each one. Only regular files count (no symlinks, no
/// directories). A directory that cannot be listed is an error; an entry
/// whose name is not UTF-8 is skipped (credvault never names a vault so).
pub fn conflict_copies(vault: &Path) -> Result<Vec<(PathBuf, SyncTool)>, StoreError> {
    let Some(name) = vault.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match vault.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let listing = match fs::read_dir(&dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("list", &dir, e)),
    };
    let mut out = Vec::new();
    for item in listing {
        let item = item.map_err(|e| StoreError::io("list", &dir, e))?;
        let Some(candidate) = item.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some(tool) = conflict_copy_of(name, &candidate) else {
            continue;
        };
        if item.file_type().is_ok_and(|t| t.is_file()) {
            out.push((vault.with_file_name(candidate), tool));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes a conflict copy that was merged and verified, and syncs the
/// directory so the removal is durable.
pub fn remove_copy(path: &Path) -> Result<(), StoreError> {
    super::fault_point(super::Step::Remove)
        .and_then(|()| fs::remove_file(path))
        .map_err(|e| StoreError::io("remove", path, e))?;
    super::sync_dir(path, None)
}
