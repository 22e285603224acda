//! What a vault file says before it is unlocked, and the slot facts
//! `status` shows. Nothing here is authenticated unless it says so.

use std::path::Path;

use crate::format::{self, limits, FormatError, Header};
use crate::store::{self, StoreError};
use crate::vault::VaultError;

/// A vault file's header, parsed but **not authenticated**.
#[derive(Debug, Clone)]
pub struct Peeked {
    /// The header (slots, vault id, save counter).
    pub header: Header,
    /// The format's minor version (the major is always 1 here).
    pub minor: u8,
}

/// Why [`peek`] read no header.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeekError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] StoreError),
    /// The file is larger than any vault (its size).
    #[error("{0} bytes: larger than any vault")]
    TooLarge(u64),
    /// The bytes are not a vault the format knows (`len` 0: an empty
    /// file).
    #[error("{error}")]
    NotAVault {
        /// What is wrong.
        error: FormatError,
        /// The file's size.
        len: usize,
    },
}

impl From<PeekError> for VaultError {
    /// As an engine error: a file too large or not a vault is a
    /// [`FormatError`].
    fn from(e: PeekError) -> Self {
        match e {
            PeekError::Io(e) => e.into(),
            PeekError::TooLarge(found) => FormatError::TooLarge {
                what: "file size",
                found,
                max: limits::MAX_FILE_LEN,
            }
            .into(),
            PeekError::NotAVault { error, .. } => error.into(),
        }
    }
}

/// Reads the vault file at `path` (at most the format's file limit) and
/// parses its prefix and header, without unlocking or authenticating
/// anything: for `status --no-unlock`, `lock`, `undo` and `git-textconv`.
pub fn peek(path: &Path) -> Result<Peeked, PeekError> {
    let bytes = store::read(path, limits::MAX_FILE_LEN)?.map_err(PeekError::TooLarge)?;
    let parsed = format::parse_file(&bytes).map_err(|error| PeekError::NotAVault {
        error,
        len: bytes.len(),
    })?;
    Ok(Peeked {
        header: parsed.header,
        minor: parsed.prefix.minor,
    })
}

/// Whether `keychain` holds a key that opens keychain slot `slot` of the
/// vault `vault_id`: `Some(false)` for any other slot, or a keychain slot
/// of another program (whose items are never read); `None` when it cannot
/// be told (no keychain: `keychain` returned `None`; locked; unreachable).
/// `keychain` is called only when a keychain item must be read, so a face
/// connects only when needed.
#[cfg(feature = "keychain")]
pub fn keychain_opens_slot<'k>(
    slot: &format::Slot,
    vault_id: &[u8; 16],
    keychain: impl FnOnce() -> Option<&'k crate::Keychain>,
) -> Option<bool> {
    use crate::slots::keychain::SERVICE;
    use crate::KeychainError;
    let format::SlotKind::Keychain(k) = &slot.kind else {
        return Some(false);
    };
    if k.service != SERVICE {
        return Some(false);
    }
    match keychain()?.load_kek(&k.service, &k.account) {
        Ok(kek) => Some(crate::slots::unwrap(slot, vault_id, &kek).is_ok()),
        Err(KeychainError::NoEntry | KeychainError::NotAKey) => Some(false),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KdfParams, NewSlot, Passphrase, Vault};

    #[test]
    fn peek_reads_the_header_without_unlocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let kdf = KdfParams::new(8 * 1024, 1, 1).unwrap();
        let vault =
            Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("pw"), kdf)).unwrap();
        let peeked = peek(&path).unwrap();
        assert_eq!(peeked.header, *vault.header());
        assert_eq!(peeked.minor, vault.format_version().1);
    }

    #[test]
    fn peek_tells_empty_missing_and_foreign_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            peek(&empty),
            Err(PeekError::NotAVault { len: 0, .. })
        ));
        let text = dir.path().join("text");
        std::fs::write(&text, b"hello, world\n").unwrap();
        let err = peek(&text).unwrap_err();
        assert!(matches!(err, PeekError::NotAVault { len: 13, .. }));
        assert!(matches!(VaultError::from(err), VaultError::Format(_)));
        let missing = peek(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(
            VaultError::from(missing),
            VaultError::Store(StoreError::NotFound(_))
        ));
    }
}
