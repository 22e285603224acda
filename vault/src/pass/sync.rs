//! The whole operations: [`import`] (pass → vault), [`export`] (vault →
//! pass) and [`sync`] (both ways), each reporting every key.
//!
//! # The sync state
//!
//! What every entry was at the last sync lives inside the vault, in one
//! entry of credvault's reserved namespace per store and prefix,
//! `_credvault.pass-sync.<id>` (`<id>`: 16 hex digits of SHA-256 of the
//! store's canonical path, a NUL and the prefix), kind `pass-sync`. Its
//! value, sealed like every value, is text: a header line, then one line
//! per entry, `<key> TAB <mac> TAB <file id>`:
//!
//! - `<mac>`: HMAC-SHA256, keyed with `HKDF(DEK, vault id,
//!   "credvault/v1/pass-sync")`, of the key name, a NUL and the value at
//!   the last sync (both sides held that value then);
//! - `<file id>`: the pass file's identity then (`FileId`: device, inode,
//!   size, modification and change time).
//!
//! A pass file whose identity is unchanged is taken as unchanged without
//! decrypting it, so a no-op sync of a large store runs no gpg at all;
//! only files whose identity changed are decrypted, and then compared by
//! MAC (a file rewritten with the same content is unchanged).
//!
//! # Failures
//!
//! Every pass entry is read (decrypted) before anything is written. Then
//! the pass side is written entry by entry (`pass insert`, `pass rm`: with
//! a git store, each is one of pass's commits), and finally the vault side
//! — the values copied from pass, the deletions and the new sync state —
//! in one locked, atomic save. A key whose read or write fails is reported
//! `failed` and is left exactly as it was on both sides, its sync state
//! too, so the next sync tries it again; the other keys are done. A key
//! another process changes in the vault while pass is being written is not
//! overwritten: the vault is re-read just before the save, and such a key
//! is reported `failed` and left for the next sync (which then sees a
//! change on both sides).
//!
//! # Rooms
//!
//! This file decides, key by key, what each operation does; `run.rs`
//! holds the plan and carries it out (pass first, then one vault save);
//! `state.rs` is the sync state: its MAC, its entry name and its text.

use std::collections::BTreeSet;

use crate::format::KeyName;
use crate::vault::Vault;

use super::{PassBackend, PassEntry, PassError, Prefix};

mod run;
mod state;

use run::{Action, Rec, Run};

/// Which side wins a conflict in [`sync`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The vault's value (or its deletion) is copied to pass.
    Vault,
    /// Pass's value (or its deletion) is copied to the vault.
    Pass,
}

/// Options of [`import`], [`export`] and [`sync`].
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Which part of the store maps to the vault (default `claude/`).
    pub prefix: Prefix,
    /// Decide and report, change nothing.
    pub dry_run: bool,
    /// [`import`] / [`export`]: replace a different value on the other
    /// side (default: keep it and report [`Status::Kept`]).
    pub overwrite: bool,
    /// [`sync`]: who wins when both sides changed (default: nobody; the
    /// key is reported [`Status::Conflict`] and left alone).
    pub prefer: Option<Side>,
}

/// What happened to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Copied from pass into the vault.
    Imported,
    /// Copied from the vault into pass.
    Exported,
    /// Both sides hold the same value.
    Unchanged,
    /// The other side holds a different value, which was kept (import and
    /// export without `overwrite`).
    Kept,
    /// Both sides changed since the last sync (or were never synced and
    /// differ): left alone.
    Conflict,
    /// Deleted in pass since the last sync, so deleted from the vault.
    RemovedFromVault,
    /// Deleted from the vault since the last sync, so removed from pass.
    RemovedFromPass,
    /// A pass name with no vault key (spaces, dots, non-ASCII, ...).
    Unmappable,
    /// Reading or writing failed (a gpg error, a missing key): nothing was
    /// changed for this key.
    Failed,
}

impl Status {
    /// `imported`, `exported`, `unchanged`, `kept`, `conflict`,
    /// `removed-from-vault`, `removed-from-pass`, `unmappable` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Imported => "imported",
            Status::Exported => "exported",
            Status::Unchanged => "unchanged",
            Status::Kept => "kept",
            Status::Conflict => "conflict",
            Status::RemovedFromVault => "removed-from-vault",
            Status::RemovedFromPass => "removed-from-pass",
            Status::Unmappable => "unmappable",
            Status::Failed => "failed",
        }
    }

    /// Whether this key was left behind: the operation is incomplete
    /// (failed, unmappable, conflict).
    pub fn is_incomplete(self) -> bool {
        matches!(self, Status::Failed | Status::Unmappable | Status::Conflict)
    }
}

/// One key of a report. Never holds a value.
#[derive(Debug, Clone)]
pub struct Item {
    /// The vault key (`None` for an unmappable pass name).
    pub key: Option<String>,
    /// The pass entry name.
    pub pass_name: String,
    /// What happened (with `dry_run`: what would happen).
    pub status: Status,
    /// Why it failed, was kept, conflicted or was resolved.
    pub reason: Option<String>,
}

/// The report of one operation.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every key, sorted by pass name.
    pub items: Vec<Item>,
    /// Whether the vault was saved.
    pub saved: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl Report {
    /// How many items have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.items.iter().filter(|i| i.status == status).count()
    }

    /// The items left behind (failed, unmappable, conflict).
    pub fn incomplete(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.status.is_incomplete())
    }

    /// Whether nothing was left behind.
    pub fn is_complete(&self) -> bool {
        self.incomplete().next().is_none()
    }
}

/// Copies the entries under the prefix from pass into the vault, in one
/// save. A key the vault holds with another value is kept unless
/// `overwrite`. The keys that end equal on both sides are recorded as
/// synced.
pub fn import(
    vault: &mut Vault,
    pass: &PassBackend,
    options: &PassOptions,
) -> Result<Report, PassError> {
    pass.check_initialised()?;
    let mut run = Run::new(vault, pass, options)?;
    let entries: Vec<(KeyName, PassEntry)> = run.mapped.clone().into_iter().collect();
    for (key, entry) in entries {
        let value = run.vault.get(&key)?;
        let mac = value.as_ref().map(|v| run.mac(&key, v));
        let same = run
            .state
            .get(key.as_str())
            .is_some_and(|rec| rec.id == entry.id && Some(rec.mac) == mac);
        if let (true, Some(mac)) = (same, mac) {
            run.plan(&key, Status::Unchanged, None, Action::None, Rec::Set(mac));
            continue;
        }
        let Some(theirs) = run.read(&key, &entry.name) else {
            continue;
        };
        let theirs_mac = run.mac(&key, &theirs);
        match value {
            None => run.plan(
                &key,
                Status::Imported,
                None,
                Action::ToVault(theirs),
                Rec::Set(theirs_mac),
            ),
            Some(_) if mac == Some(theirs_mac) => run.plan(
                &key,
                Status::Unchanged,
                None,
                Action::None,
                Rec::Set(theirs_mac),
            ),
            Some(_) if options.overwrite => run.plan(
                &key,
                Status::Imported,
                Some("replaced the vault's different value (--overwrite)".to_owned()),
                Action::ToVault(theirs),
                Rec::Set(theirs_mac),
            ),
            Some(_) => run.plan(
                &key,
                Status::Kept,
                Some(
                    "the vault holds a different value (kept; --overwrite replaces it)".to_owned(),
                ),
                Action::None,
                Rec::Keep,
            ),
        }
    }
    run.finish()
}

/// Copies every vault entry (except credvault's reserved ones) into pass
/// under the prefix, one `pass insert` each. An entry pass holds with
/// another value is kept unless `overwrite`. The keys that end equal on
/// both sides are recorded as synced (in one save).
pub fn export(
    vault: &mut Vault,
    pass: &PassBackend,
    options: &PassOptions,
) -> Result<Report, PassError> {
    pass.check_initialised()?;
    let mut run = Run::new(vault, pass, options)?;
    // Unmappable pass names are none of export's business.
    run.items.clear();
    for key in run.vault_keys() {
        let Some(value) = run.vault.get(&key)? else {
            continue;
        };
        let mac = run.mac(&key, &value);
        let Some(entry) = run.mapped.get(&key).cloned() else {
            run.plan(
                &key,
                Status::Exported,
                None,
                Action::ToPass(value),
                Rec::Set(mac),
            );
            continue;
        };
        let same = run
            .state
            .get(key.as_str())
            .is_some_and(|rec| rec.id == entry.id && rec.mac == mac);
        if same {
            run.plan(&key, Status::Unchanged, None, Action::None, Rec::Set(mac));
            continue;
        }
        let Some(theirs) = run.read(&key, &entry.name) else {
            continue;
        };
        if run.mac(&key, &theirs) == mac {
            run.plan(&key, Status::Unchanged, None, Action::None, Rec::Set(mac));
        } else if options.overwrite {
            run.plan(
                &key,
                Status::Exported,
                Some("replaced pass's different value (--overwrite)".to_owned()),
                Action::ToPass(value),
                Rec::Set(mac),
            );
        } else {
            run.plan(
                &key,
                Status::Kept,
                Some("pass holds a different value (kept; --overwrite replaces it)".to_owned()),
                Action::None,
                Rec::Keep,
            );
        }
    }
    run.finish()
}

/// Two-way sync of the vault and the entries under the prefix: a side
/// that changed since the last sync is copied to the other (a deletion
/// too); when both changed, the key is a [`Status::Conflict`] and left
/// alone unless `prefer` names the winner. Keys never synced before are
/// copied where missing, and conflict when both sides hold different
/// values.
pub fn sync(
    vault: &mut Vault,
    pass: &PassBackend,
    options: &PassOptions,
) -> Result<Report, PassError> {
    pass.check_initialised()?;
    let mut run = Run::new(vault, pass, options)?;
    let mut keys: BTreeSet<KeyName> = run.vault_keys().into_iter().collect();
    keys.extend(run.mapped.keys().cloned());
    for key in run.state.keys() {
        if let Ok(k) = KeyName::new(key) {
            keys.insert(k);
        }
    }
    for key in keys {
        let ours = run.vault.get(&key)?;
        let ours_mac = ours.as_ref().map(|v| run.mac(&key, v));
        let entry = run.mapped.get(&key).cloned();
        let rec = run.state.get(key.as_str()).cloned();

        let Some(rec) = rec else {
            // Never synced.
            match (ours, entry) {
                (Some(ours), Some(entry)) => {
                    let Some(theirs) = run.read(&key, &entry.name) else {
                        continue;
                    };
                    let theirs_mac = run.mac(&key, &theirs);
                    if Some(theirs_mac) == ours_mac {
                        run.plan(
                            &key,
                            Status::Unchanged,
                            None,
                            Action::None,
                            Rec::Set(theirs_mac),
                        );
                    } else {
                        run.conflict(
                            &key,
                            Some(ours),
                            Some(theirs),
                            "both sides hold a value and they differ (never synced)",
                        );
                    }
                }
                (Some(ours), None) => {
                    let mac = run.mac(&key, &ours);
                    run.plan(
                        &key,
                        Status::Exported,
                        None,
                        Action::ToPass(ours),
                        Rec::Set(mac),
                    );
                }
                (None, Some(entry)) => {
                    let Some(theirs) = run.read(&key, &entry.name) else {
                        continue;
                    };
                    let mac = run.mac(&key, &theirs);
                    run.plan(
                        &key,
                        Status::Imported,
                        None,
                        Action::ToVault(theirs),
                        Rec::Set(mac),
                    );
                }
                (None, None) => {}
            }
            continue;
        };

        let vault_changed = ours_mac != Some(rec.mac);
        // The pass side: unchanged without decrypting when the file is the
        // same file as at the last sync.
        let (pass_changed, theirs) = match &entry {
            None => (true, None),
            Some(e) if e.id == rec.id => (false, None),
            Some(e) => {
                let Some(theirs) = run.read(&key, &e.name) else {
                    continue;
                };
                (run.mac(&key, &theirs) != rec.mac, Some(theirs))
            }
        };
        match (vault_changed, pass_changed) {
            (false, false) => run.plan(
                &key,
                Status::Unchanged,
                None,
                Action::None,
                Rec::Set(rec.mac),
            ),
            (true, false) => match ours {
                Some(ours) => {
                    let mac = run.mac(&key, &ours);
                    run.plan(
                        &key,
                        Status::Exported,
                        None,
                        Action::ToPass(ours),
                        Rec::Set(mac),
                    );
                }
                None => run.plan(
                    &key,
                    Status::RemovedFromPass,
                    Some("deleted from the vault since the last sync".to_owned()),
                    Action::DeletePass,
                    Rec::Remove,
                ),
            },
            (false, true) => match theirs {
                Some(theirs) => {
                    let mac = run.mac(&key, &theirs);
                    run.plan(
                        &key,
                        Status::Imported,
                        None,
                        Action::ToVault(theirs),
                        Rec::Set(mac),
                    );
                }
                None => run.plan(
                    &key,
                    Status::RemovedFromVault,
                    Some("deleted from pass since the last sync".to_owned()),
                    Action::DeleteVault,
                    Rec::Remove,
                ),
            },
            (true, true) => {
                let theirs_mac = theirs.as_ref().map(|v| run.mac(&key, v));
                match (ours, theirs) {
                    (None, None) => run.plan(
                        &key,
                        Status::Unchanged,
                        Some("deleted on both sides".to_owned()),
                        Action::None,
                        Rec::Remove,
                    ),
                    (Some(_), Some(_)) if ours_mac == theirs_mac => {
                        // Both changed to the same value.
                        let mac = ours_mac.unwrap_or(rec.mac);
                        run.plan(&key, Status::Unchanged, None, Action::None, Rec::Set(mac));
                    }
                    (ours, theirs) => run.conflict(
                        &key,
                        ours,
                        theirs,
                        "changed on both sides since the last sync",
                    ),
                }
            }
        }
    }
    run.finish()
}
