//! A session cache of unlocked data keys in the Linux kernel keyring
//! (keyrings(7)), so that a run of commands asks for the passphrase once.
//!
//! # What is stored where
//!
//! [`cache`] adds a key of type `user` with description
//! [`description`]`(vault_id)` = `"credvault:<vault id, 32 lowercase hex
//! digits>"` and the 32 raw bytes of the data key as payload to the
//! **user keyring** (`@u`) of the calling user, with a timeout
//! (`KEYCTL_SET_TIMEOUT`): when it runs out the kernel expires the key by
//! itself, whether or not any credvault process is still running. It is
//! gone at reboot and never written to disk by us; a `user` key's payload
//! lives in kernel memory. [`load`] finds it again from any later process,
//! [`forget`] removes it early.
//!
//! # Who can read it
//!
//! **Any process running as the same user (and root) can read the data key
//! while it lives**, with nothing more than `keyctl print`. That is the
//! trade-off of a cache shared across processes: it is as strong as the
//! user account, not as the passphrase. Use short timeouts, [`forget`] on
//! `lock`, and do not enable caching on machines where other programs of
//! the same user are not trusted. The key is limited to that user: other
//! users (except root) cannot see it.
//!
//! # Why the user keyring, and why user read permission
//!
//! The kernel keeps one user keyring per user (per user namespace). A
//! process without a session keyring of its own uses the "user session"
//! keyring, which links `@u`, so keys in `@u` are *possessed* there — no
//! session keyring has to be joined first (measured: a plain shell and
//! `cargo test` here run without one, and `@u` works directly). A process
//! whose session keyring does not link `@u` (after `keyctl session`, in
//! some container runtimes and PAM setups) does not possess our key, and
//! with the kernel's default permissions (possessor: all; user: view) it
//! could not read it. So [`cache`] creates the key in the process keyring
//! (always possessed), sets the timeout and the permissions *possessor:
//! all; user: view, read, search*, and only then links it into `@u` — the
//! key is never in `@u` without its timeout — and unlinks it from the
//! process keyring. `load` then works from any process of the user; the
//! `session` test checks this from a fresh anonymous session keyring.
//!
//! A key found under our description that is not 32 bytes is ignored; one
//! that does not open the vault (planted, or for an older vault with the
//! same id) is dropped by [`open`]. The kernel calls are made through the
//! `linux-keyutils` crate (raw syscalls, no C library).

use std::path::Path;
use std::time::Duration;

use linux_keyutils::{
    Key, KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission,
};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{hex_lower, SecretKey};
use crate::{format, OpenOptions, Vault, VaultError};

/// Why the kernel keyring refused an operation. Carries no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A keyring system call failed (keyrings disabled by a seccomp filter,
    /// the user's key quota exhausted, ...).
    #[error("kernel keyring: could not {action}: {reason}")]
    Keyring {
        /// What was being done, e.g. "add the key".
        action: &'static str,
        /// The kernel's answer, e.g. "QuotaExceeded".
        reason: String,
    },
}

fn fail(action: &'static str) -> impl FnOnce(KeyError) -> SessionError {
    move |e| SessionError::Keyring {
        action,
        reason: format!("{e:?}"),
    }
}

/// The description of the cache key of vault `vault_id`:
/// `"credvault:<vault id as 32 lowercase hex digits>"`.
pub fn description(vault_id: &[u8; 16]) -> String {
    format!("credvault:{}", hex_lower(vault_id))
}

/// Caches `dek` for vault `vault_id` in the user keyring for `ttl`
/// (rounded up to whole seconds), replacing an earlier cache of the same
/// vault. A zero `ttl` caches nothing and removes an earlier cache.
pub fn cache(vault_id: &[u8; 16], dek: &SecretKey, ttl: Duration) -> Result<(), SessionError> {
    if ttl.is_zero() {
        // A timeout of 0 would mean "never expires" to the kernel.
        return forget(vault_id).map(|_| ());
    }
    let seconds = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0))
        .min(u64::from(u32::MAX));
    let seconds = usize::try_from(seconds).unwrap_or(usize::MAX);

    let process = KeyRing::from_special_id(KeyRingIdentifier::Process, true)
        .map_err(fail("create the process keyring"))?;
    let user = KeyRing::from_special_id(KeyRingIdentifier::User, true)
        .map_err(fail("find the user keyring"))?;
    let key = process
        .add_key(&description(vault_id), dek.expose())
        .map_err(fail("add the key"))?;
    let staged = (|| {
        key.set_timeout(seconds).map_err(fail("set the timeout"))?;
        key.set_perms(
            KeyPermissionsBuilder::builder()
                .posessor(Permission::ALL)
                .user(Permission::VIEW | Permission::READ | Permission::SEARCH)
                .build(),
        )
        .map_err(fail("set the permissions"))?;
        // Displaces an earlier key of the same description from @u.
        user.link_key(key)
            .map_err(fail("link the key into the user keyring"))
    })();
    // The process keyring is only a staging place: drop our link there
    // (the key lives on in @u, or dies here if staging failed).
    let _ = process.unlink_key(key);
    if staged.is_err() {
        let _ = key.invalidate();
    }
    staged
}

/// The cached data key of vault `vault_id`, or `None` when there is none:
/// never cached, expired, removed, unreadable, or not 32 bytes. Never
/// fails loudly: a missing cache just means "unlock normally".
pub fn load(vault_id: &[u8; 16]) -> Option<SecretKey> {
    let key = find(vault_id)?;
    let mut buf = Zeroizing::new([0u8; 64]);
    let len = key.read(&mut *buf).ok()?;
    let mut bytes: [u8; 32] = buf.get(..32).filter(|_| len == 32)?.try_into().ok()?;
    let dek = SecretKey::from_bytes(bytes);
    bytes.zeroize();
    Some(dek)
}

/// Removes the cached data key of vault `vault_id`. `Ok(false)` if none was
/// cached (or it had expired).
pub fn forget(vault_id: &[u8; 16]) -> Result<bool, SessionError> {
    let Some(key) = find(vault_id) else {
        return Ok(false);
    };
    key.invalidate().map_err(fail("invalidate the key"))?;
    Ok(true)
}

/// Opens the vault at `path` with its cached data key. `Ok(None)` when no
/// key is cached, or when the cached key does not open this file (then the
/// cache entry is removed); the caller then unlocks normally and may
/// [`cache`] the key of the vault it opened ([`Vault::data_key`]).
/// Errors are those of reading the file (missing, not a vault, corrupt).
pub fn open(path: &Path, options: OpenOptions) -> Result<Option<Vault>, VaultError> {
    let bytes = crate::vault::read_file(path)?;
    let vault_id = format::parse_file(&bytes)?.header.vault_id;
    let Some(dek) = load(&vault_id) else {
        return Ok(None);
    };
    // The bytes just read: one read of the file, and the key is tried on
    // exactly the file its vault ID came from.
    match Vault::open_bytes_with_key(path, bytes, dek, options) {
        Ok(vault) => Ok(Some(vault)),
        Err(VaultError::Tampered) => {
            // A stale or planted key: never let it shadow real unlocking.
            let _ = forget(&vault_id);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn find(vault_id: &[u8; 16]) -> Option<Key> {
    let user = KeyRing::from_special_id(KeyRingIdentifier::User, false).ok()?;
    user.search(&description(vault_id)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_prefix_and_vault_id_hex() {
        let id: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            description(&id),
            "credvault:000102030405060708090a0b0c0d0e0f"
        );
    }
}
