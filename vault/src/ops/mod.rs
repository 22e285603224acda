//! Operations the faces share: the CLI, the app's credential service and
//! the Node module call these instead of reaching into [`format`](mod@crate::format),
//! [`store`](crate::store) or [`slots`](crate::slots), so every face gets the
//! same behaviour and the same tests (see `ARCHITECTURE.md`, "thin faces").
//!
//! - [`paths`]: the default vault path, the options every face opens with.
//! - [`files`]: the files around a vault: existence, a new private file
//!   (an export, a recovery code), generations, conflict copies, mode
//!   warnings.
//! - [`inspect`]: what a vault file says before it is unlocked (its
//!   header), for `status --no-unlock`, `lock`, `undo` and `git-textconv`;
//!   and the facts `status` shows ([`Protection`]: the slot types, what
//!   unlocked the vault; whether this machine's keychain opens a keychain
//!   slot).
//! - [`verify`]: checking vault bytes with the session key first.
//! - [`open`](mod@open): opening a vault with the session key first, then
//!   the caller's credentials against its slots.
//!
//! The whole legacy import is [`crate::legacy::LegacySource`]; the error
//! kinds and audit settings both faces use are in [`crate::service`].

pub mod files;
pub mod inspect;
pub mod open;
pub mod paths;
pub mod verify;

pub use files::{
    conflict_copies, create_private_file, file_warnings, generation_path, generations, lock_path,
    refuse_existing, vault_exists, write_new_private_file,
};
#[cfg(feature = "keychain")]
pub use inspect::keychain_opens_slot;
pub use inspect::{backends, peek, protection, PeekError, Peeked, Protection, UnlockedBy};
pub use paths::{default_vault_path, face_open_options, resolve_vault_path, ENV_VAULT};
pub use verify::verify_with_session_key;
