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

/// What unlocked a vault: a session key (`credvault unlock`) or a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockedBy {
    /// The data key cached in the kernel keyring.
    Session,
    /// The slot with this id.
    Slot(u32),
}

impl UnlockedBy {
    /// From [`Snapshot::unlocked_by`](crate::Snapshot::unlocked_by): 0 is a
    /// session key.
    pub fn of_vault(slot: u32) -> UnlockedBy {
        match slot {
            0 => UnlockedBy::Session,
            id => UnlockedBy::Slot(id),
        }
    }
}

/// How a vault is protected, as `status` shows it: computed once for the
/// CLI's `status` and the Node module's `status()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// Every slot type present, in order of preference: the keychain (no
    /// prompt), the passphrase, the recovery code as a last resort.
    pub backends: Vec<&'static str>,
    /// The first of `backends` ("unknown" without one).
    pub backend: &'static str,
    /// `session`, or the type of the slot that unlocked the vault
    /// (`unknown` for an id not in the header); `None` when not unlocked.
    pub unlocked_by: Option<&'static str>,
    /// The slot that unlocked the vault (none for a session key).
    pub unlocked_by_slot: Option<u32>,
    /// Only keychain slots: no copy or backup opens elsewhere (the
    /// warning `KEYCHAIN_ONLY` of the service).
    pub keychain_only: bool,
}

/// The [`Protection`] of a vault with `slots`, unlocked by `unlocked`
/// (`None`: read without unlocking).
pub fn protection(slots: &[format::Slot], unlocked: Option<UnlockedBy>) -> Protection {
    let backends = backends(slots);
    let unlocked_by = unlocked.map(|u| match u {
        UnlockedBy::Session => "session",
        UnlockedBy::Slot(id) => slots
            .iter()
            .find(|s| s.id == id)
            .map_or("unknown", format::Slot::type_name),
    });
    Protection {
        backend: backends.first().copied().unwrap_or("unknown"),
        keychain_only: backends == ["keychain"],
        backends,
        unlocked_by,
        unlocked_by_slot: match unlocked {
            Some(UnlockedBy::Slot(id)) => Some(id),
            _ => None,
        },
    }
}

/// The slot types present, in order of preference: the keychain (no
/// prompt), the passphrase, the recovery code as a last resort.
pub fn backends(slots: &[format::Slot]) -> Vec<&'static str> {
    use format::SlotKind;
    let has = |f: fn(&SlotKind) -> bool| slots.iter().any(|s| f(&s.kind));
    let mut out = Vec::new();
    if has(|k| matches!(k, SlotKind::Keychain(_))) {
        out.push("keychain");
    }
    if has(|k| matches!(k, SlotKind::Passphrase(_))) {
        out.push("passphrase");
    }
    if has(|k| matches!(k, SlotKind::Recovery(_))) {
        out.push("recovery");
    }
    out
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
    fn protection_is_what_status_shows() {
        let dir = tempfile::tempdir().unwrap();
        let kdf = KdfParams::new(8 * 1024, 1, 1).unwrap();
        let path = dir.path().join("v.cvault");
        let vault =
            Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("pw"), kdf)).unwrap();
        let slots = vault.slots();
        let by_slot = protection(slots, Some(UnlockedBy::of_vault(vault.unlocked_by())));
        assert_eq!(by_slot.backends, ["passphrase"]);
        assert_eq!(by_slot.backend, "passphrase");
        assert_eq!(by_slot.unlocked_by, Some("passphrase"));
        assert_eq!(by_slot.unlocked_by_slot, Some(vault.unlocked_by()));
        assert!(!by_slot.keychain_only);
        let session = protection(slots, Some(UnlockedBy::Session));
        assert_eq!(
            (session.unlocked_by, session.unlocked_by_slot),
            (Some("session"), None)
        );
        let header_only = protection(slots, None);
        assert_eq!(
            (header_only.unlocked_by, header_only.unlocked_by_slot),
            (None, None)
        );
        assert_eq!(protection(&[], None).backend, "unknown");
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
