//! `unlock [--for DURATION]` and `lock`: a timed session unlock without a
//! daemon. `unlock` opens the vault as any command does and caches its data
//! key in the calling user's Linux kernel keyring with a timeout the kernel
//! enforces (`credvault::session`); later commands find it there first.
//! `lock` drops it. Elsewhere both fail with a clear error (exit 2).
//!
//! The trade-off (docs/keychain.md, "Session unlock"): while the key
//! lives, any process of the same user, and root, can read it.

#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use serde::Serialize;

use crate::cli::UnlockArgs;
use crate::exit::{CliError, Exit};
use crate::output::{note, print_json, Format};
use crate::unlock::Context;

use crate::failure::Failure;

/// Runs `unlock`.
#[cfg(target_os = "linux")]
pub fn unlock(args: &UnlockArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    use crate::duration::show;
    let opened = context.open_detailed()?;
    let vault = &opened.vault;
    credvault::session::cache(&vault.header().vault_id, vault.data_key(), args.duration)
        .map_err(keyring_failed)?;
    let seconds = args.duration.as_secs();
    match format {
        Format::Text => note(&format!(
            "unlocked {} for {}: your commands need no passphrase until then (any process running as you can use the key meanwhile); `credvault lock` ends it early",
            vault.path().display(),
            show(args.duration)
        )),
        Format::Json => {
            #[derive(Serialize)]
            struct Unlocked {
                path: String,
                unlocked: bool,
                seconds: u64,
                expires_at_unix: Option<u64>,
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok();
            print_json(&Unlocked {
                path: vault.path().display().to_string(),
                unlocked: true,
                seconds,
                expires_at_unix: now.map(|n| n.as_secs().saturating_add(seconds)),
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// Runs `lock`: drops the cached key of this vault, if any. Needs no
/// credential (only the vault id from the header).
#[cfg(target_os = "linux")]
pub fn lock(context: &Context, format: Format) -> Result<Exit, Failure> {
    let (header, _) = context.read_header()?;
    let was_active = credvault::session::forget(&header.vault_id).map_err(keyring_failed)?;
    match format {
        Format::Text => note(if was_active {
            "locked: the cached vault key was removed from the kernel keyring"
        } else {
            "no session unlock was active for this vault"
        }),
        Format::Json => {
            #[derive(Serialize)]
            struct Locked {
                path: String,
                locked: bool,
                was_active: bool,
            }
            let path = context.vault_path()?;
            print_json(&Locked {
                path: path.display().to_string(),
                locked: true,
                was_active,
            })?;
        }
    }
    Ok(Exit::Ok)
}

#[cfg(target_os = "linux")]
fn keyring_failed(e: credvault::session::SessionError) -> CliError {
    CliError::new(Exit::FileSystem, e.to_string()).with_hint(
        "the kernel keyring is not usable here (disabled, or blocked in this container); the vault still opens with its keychain or passphrase slots",
    )
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> Failure {
    CliError::usage(
        "session unlock needs the Linux kernel keyring; it is not available on this platform",
    )
    .with_hint("open the vault through the OS keychain or the passphrase instead")
    .into()
}

/// Runs `unlock` (not supported here).
#[cfg(not(target_os = "linux"))]
pub fn unlock(_args: &UnlockArgs, _context: &Context, _format: Format) -> Result<Exit, Failure> {
    Err(unsupported())
}

/// Runs `lock` (not supported here).
#[cfg(not(target_os = "linux"))]
pub fn lock(_context: &Context, _format: Format) -> Result<Exit, Failure> {
    Err(unsupported())
}
