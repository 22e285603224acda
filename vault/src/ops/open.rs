//! Opening an existing vault the way every face does (the CLI, the app's
//! credential service, the Node module): one order of credentials.

use std::path::Path;

use crate::slots::Unlocker;
use crate::vault::{OpenOptions, Vault, VaultError};

/// How [`open`] unlocked the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenedBy {
    /// A data key cached by `credvault unlock` for this vault (the Linux
    /// session keyring, [`crate::session`]).
    Session,
    /// A key slot, through the caller's [`Unlocker`]
    /// ([`Snapshot::unlocked_by`](crate::Snapshot::unlocked_by) names it).
    Slot,
}

/// Opens the vault at `path`: with the session key cached for it when
/// there is one (Linux, feature `session`), else by trying `unlocker`'s
/// credentials against its slots in the order of FORMAT.md §4.6
/// ([`Vault::open_with`]). A stale or planted session key never shadows
/// the slots (it is forgotten and the slots are tried).
pub fn open(
    path: &Path,
    unlocker: &mut dyn Unlocker,
    options: OpenOptions,
) -> Result<(Vault, OpenedBy), VaultError> {
    #[cfg(all(feature = "session", target_os = "linux"))]
    if let Some(vault) = crate::session::open(path, options.clone())? {
        return Ok((vault, OpenedBy::Session));
    }
    Vault::open_with(path, unlocker, options).map(|vault| (vault, OpenedBy::Slot))
}
