//! `verify`, `restore` and `undo` check vault bytes from elsewhere (a
//! backup, a generation) end to end. A face tries the session key first,
//! as it opens the live vault, then the slots ([`Verified::open`]).

use crate::vault::{VaultError, Verified};

/// Checks `bytes` end to end with the session key cached by `credvault
/// unlock` for their vault id (Linux kernel keyring), if there is one and
/// it fits. `None`: no session key for this vault, or not this file's key
/// (an older copy, rekeyed since), so the caller unlocks with the slots
/// instead; `Some(Err)`: the file fails its checks.
pub fn verify_with_session_key(bytes: &[u8]) -> Option<Result<Verified, VaultError>> {
    #[cfg(all(feature = "session", target_os = "linux"))]
    {
        let parsed = crate::format::parse_file(bytes).ok()?;
        let dek = crate::session::load(&parsed.header.vault_id)?;
        drop(parsed);
        match Verified::open_with_key(bytes.to_vec(), dek) {
            Err(VaultError::Tampered) => None,
            other => Some(other),
        }
    }
    #[cfg(not(all(feature = "session", target_os = "linux")))]
    {
        let _ = bytes;
        None
    }
}
