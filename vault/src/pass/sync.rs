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
//! - `<file id>`: the pass file's identity then ([`FileId`]: device, inode,
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

use std::collections::{BTreeMap, BTreeSet};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::crypto::{self, SecretKey, SecretValue};
use crate::format::{KeyName, Kind};
use crate::vault::{SetOptions, Vault};

use super::{is_reserved, FileId, PassBackend, PassEntry, PassError, Prefix};

type HmacSha256 = hmac::Hmac<Sha256>;

/// HKDF info of the sync state's MAC key.
const STATE_INFO: &[u8] = b"credvault/v1/pass-sync";
/// First line of a sync state value.
const STATE_HEADER: &str = "credvault-pass-sync v1";
/// Kind of the sync state entry.
const STATE_KIND: &str = "pass-sync";

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

/// The sync record of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    mac: [u8; 32],
    id: FileId,
}

/// What to do with a key's sync record.
enum Rec {
    /// Leave it as it was.
    Keep,
    /// Set it to this MAC and the pass file's identity after the change.
    Set([u8; 32]),
    /// Drop it (the key is gone from both sides).
    Remove,
}

/// What to change for a key.
enum Action {
    None,
    ToVault(SecretValue),
    ToPass(SecretValue),
    DeleteVault,
    DeletePass,
}

struct Planned {
    key: KeyName,
    item: Item,
    action: Action,
    rec: Rec,
}

/// One operation in progress.
struct Run<'a> {
    vault: &'a mut Vault,
    pass: &'a PassBackend,
    options: &'a PassOptions,
    mac_key: SecretKey,
    state_key: KeyName,
    state: BTreeMap<String, Record>,
    /// The mappable pass entries under the prefix, by vault key.
    mapped: BTreeMap<KeyName, PassEntry>,
    /// Items settled without a plan (unmappable, failed reads).
    items: Vec<Item>,
    planned: Vec<Planned>,
}

impl<'a> Run<'a> {
    fn new(
        vault: &'a mut Vault,
        pass: &'a PassBackend,
        options: &'a PassOptions,
    ) -> Result<Run<'a>, PassError> {
        let mac_key = crypto::hkdf(
            vault.data_key().expose(),
            &vault.header().vault_id,
            STATE_INFO,
        );
        let state_key = state_key(pass, &options.prefix);
        let state = match vault.get(&state_key)? {
            Some(v) => parse_state(v.expose()),
            None => BTreeMap::new(),
        };
        let mut items = Vec::new();
        let mut mapped = BTreeMap::new();
        for entry in pass.entries(&options.prefix)? {
            let key = if entry.utf8 {
                options.prefix.key_for(&entry.name)
            } else {
                Err("the file name is not UTF-8".to_owned())
            };
            match key {
                Ok(key) => {
                    mapped.insert(key, entry);
                }
                Err(reason) => items.push(Item {
                    key: None,
                    pass_name: entry.name,
                    status: Status::Unmappable,
                    reason: Some(reason),
                }),
            }
        }
        Ok(Run {
            vault,
            pass,
            options,
            mac_key,
            state_key,
            state,
            mapped,
            items,
            planned: Vec::new(),
        })
    }

    /// The vault keys that map to pass (all but the reserved ones).
    fn vault_keys(&self) -> Vec<KeyName> {
        self.vault
            .list(None)
            .into_iter()
            .filter(|k| !is_reserved(k.as_str()))
            .cloned()
            .collect()
    }

    fn mac(&self, key: &KeyName, value: &SecretValue) -> [u8; 32] {
        mac_with(&self.mac_key, key, value)
    }

    /// Decrypts pass entry `name`; on failure records the key as failed
    /// and returns `None`.
    fn read(&mut self, key: &KeyName, name: &str) -> Option<SecretValue> {
        let reason = match self.pass.get(name) {
            Ok(Some(v)) => return Some(v),
            Ok(None) => "the pass entry disappeared while reading".to_owned(),
            Err(e) => e.to_string(),
        };
        self.items.push(Item {
            key: Some(key.as_str().to_owned()),
            pass_name: name.to_owned(),
            status: Status::Failed,
            reason: Some(reason),
        });
        None
    }

    fn plan(
        &mut self,
        key: &KeyName,
        status: Status,
        reason: Option<String>,
        action: Action,
        rec: Rec,
    ) {
        self.planned.push(Planned {
            key: key.clone(),
            item: Item {
                key: Some(key.as_str().to_owned()),
                pass_name: self.options.prefix.pass_name(key),
                status,
                reason,
            },
            action,
            rec,
        });
    }

    /// A conflict: resolved by `--prefer`, else reported and left alone.
    fn conflict(
        &mut self,
        key: &KeyName,
        ours: Option<SecretValue>,
        theirs: Option<SecretValue>,
        why: &str,
    ) {
        match self.options.prefer {
            None => self.plan(
                key,
                Status::Conflict,
                Some(format!("{why}; --prefer vault|pass decides")),
                Action::None,
                Rec::Keep,
            ),
            Some(Side::Vault) => {
                let reason = Some(format!("{why}; the vault's side won (--prefer vault)"));
                match ours {
                    Some(v) => {
                        let mac = self.mac(key, &v);
                        self.plan(
                            key,
                            Status::Exported,
                            reason,
                            Action::ToPass(v),
                            Rec::Set(mac),
                        );
                    }
                    None => self.plan(
                        key,
                        Status::RemovedFromPass,
                        reason,
                        Action::DeletePass,
                        Rec::Remove,
                    ),
                }
            }
            Some(Side::Pass) => {
                let reason = Some(format!("{why}; pass's side won (--prefer pass)"));
                match theirs {
                    Some(v) => {
                        let mac = self.mac(key, &v);
                        self.plan(
                            key,
                            Status::Imported,
                            reason,
                            Action::ToVault(v),
                            Rec::Set(mac),
                        );
                    }
                    None => self.plan(
                        key,
                        Status::RemovedFromVault,
                        reason,
                        Action::DeleteVault,
                        Rec::Remove,
                    ),
                }
            }
        }
    }

    /// Applies the plan: the pass side entry by entry, then the vault side
    /// and the new sync state in one save.
    fn finish(self) -> Result<Report, PassError> {
        let Run {
            vault,
            pass,
            options,
            mac_key,
            state_key,
            mut state,
            mapped,
            mut items,
            planned,
            ..
        } = self;
        if options.dry_run {
            items.extend(planned.into_iter().map(|p| p.item));
            items.sort_by(|a, b| a.pass_name.cmp(&b.pass_name));
            return Ok(Report {
                items,
                saved: false,
                dry_run: true,
            });
        }
        let old_state = encode_state(&state);
        let old_records = state.clone();
        // The vault side as planned, to notice another process changing a
        // key while pass is written (see below).
        let vault_mac = |vault: &Vault, key: &KeyName| -> Result<Option<[u8; 32]>, PassError> {
            Ok(vault.get(key)?.map(|v| mac_with(&mac_key, key, &v)))
        };
        let mut planned_macs = BTreeMap::new();
        for p in &planned {
            if matches!(p.action, Action::ToVault(_) | Action::DeleteVault) {
                planned_macs.insert(p.key.clone(), vault_mac(vault, &p.key)?);
            }
        }
        // (key, value or deletion, index of its item)
        let mut tx_ops: Vec<(KeyName, Option<SecretValue>, usize)> = Vec::new();
        for mut p in planned {
            let name = p.item.pass_name.clone();
            let written = match &p.action {
                Action::ToPass(v) => pass.set(&name, v),
                Action::DeletePass => pass.delete(&name).map(|_| ()),
                _ => Ok(()),
            };
            if let Err(e) = written {
                p.item.status = Status::Failed;
                p.item.reason = Some(e.to_string());
                items.push(p.item);
                continue;
            }
            match p.rec {
                Rec::Keep => {}
                Rec::Remove => {
                    state.remove(p.key.as_str());
                }
                Rec::Set(mac) => {
                    let id = match &p.action {
                        Action::ToPass(_) => pass.file_id(&name).ok().flatten(),
                        _ => mapped.get(&p.key).map(|e| e.id.clone()),
                    };
                    match id {
                        Some(id) => {
                            state.insert(p.key.as_str().to_owned(), Record { mac, id });
                        }
                        None => {
                            state.remove(p.key.as_str());
                        }
                    }
                }
            }
            match p.action {
                Action::ToVault(v) => tx_ops.push((p.key.clone(), Some(v), items.len())),
                Action::DeleteVault => tx_ops.push((p.key.clone(), None, items.len())),
                _ => {}
            }
            items.push(p.item);
        }
        // Writing pass takes a while: a key another process changed in the
        // vault meanwhile is not overwritten but reported failed (and not
        // recorded as synced), so the next sync sees both changes.
        if !tx_ops.is_empty() {
            vault.reload()?;
            let mut kept = Vec::with_capacity(tx_ops.len());
            for (key, value, index) in tx_ops {
                if vault_mac(vault, &key)? == planned_macs.get(&key).copied().flatten() {
                    kept.push((key, value, index));
                    continue;
                }
                match old_records.get(key.as_str()) {
                    Some(rec) => state.insert(key.as_str().to_owned(), rec.clone()),
                    None => state.remove(key.as_str()),
                };
                if let Some(item) = items.get_mut(index) {
                    item.status = Status::Failed;
                    item.reason = Some(
                        "changed in the vault by another process during the sync; run it again"
                            .to_owned(),
                    );
                }
            }
            tx_ops = kept;
        }
        let new_state = encode_state(&state);
        let mut saved = false;
        if !tx_ops.is_empty() || new_state != old_state {
            let state_value = SecretValue::new(new_state.into_bytes());
            let mut tx = vault.transaction();
            for (key, value, _) in &tx_ops {
                match value {
                    Some(v) => tx.set(key, v, SetOptions::default())?,
                    None => tx.delete(key),
                }
            }
            if state.is_empty() {
                tx.delete(&state_key);
            } else {
                tx.set(
                    &state_key,
                    &state_value,
                    SetOptions {
                        kind: Kind::new(STATE_KIND).ok(),
                        ..SetOptions::default()
                    },
                )?;
            }
            saved = tx.commit()?.saved;
        }
        items.sort_by(|a, b| a.pass_name.cmp(&b.pass_name));
        Ok(Report {
            items,
            saved,
            dry_run: false,
        })
    }
}

/// HMAC-SHA256 under `mac_key` of the key name, a NUL and the value.
fn mac_with(mac_key: &SecretKey, key: &KeyName, value: &SecretValue) -> [u8; 32] {
    // HMAC takes keys of any length.
    #[allow(clippy::expect_used)]
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(mac_key.expose())
        .expect("HMAC accepts a 32-byte key");
    m.update(key.as_str().as_bytes());
    m.update(&[0]);
    m.update(value.expose());
    m.finalize().into_bytes().into()
}

/// The vault key holding the sync state of `prefix` in `pass`'s store.
fn state_key(pass: &PassBackend, prefix: &Prefix) -> KeyName {
    let dir = std::fs::canonicalize(pass.store_dir()).unwrap_or_else(|_| pass.store_dir().into());
    let mut h = Sha256::new();
    h.update(dir.to_string_lossy().as_bytes());
    h.update([0]);
    h.update(prefix.as_str().as_bytes());
    let digest = h.finalize();
    let id = crypto::hex_lower(digest.get(..8).unwrap_or_default());
    // `_credvault.pass-sync.<16 hex>` is a valid key name.
    #[allow(clippy::expect_used)]
    KeyName::new(&format!("{}.pass-sync.{id}", super::RESERVED_SEGMENT)).expect("a valid key name")
}

fn encode_state(state: &BTreeMap<String, Record>) -> String {
    let mut out = String::from(STATE_HEADER);
    out.push('\n');
    for (key, rec) in state {
        out.push_str(key);
        out.push('\t');
        out.push_str(&crypto::hex_lower(&rec.mac));
        out.push('\t');
        out.push_str(rec.id.as_str());
        out.push('\n');
    }
    out
}

/// Parses a sync state; lines that do not parse are dropped (their keys
/// count as never synced, which never loses a value: at worst a conflict).
fn parse_state(bytes: &[u8]) -> BTreeMap<String, Record> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::str::from_utf8(bytes) else {
        return out;
    };
    let mut lines = text.lines();
    if lines.next() != Some(STATE_HEADER) {
        return out;
    }
    for line in lines {
        let mut parts = line.split('\t');
        let (Some(key), Some(mac), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(_), Some(mac), Some(id)) = (KeyName::new(key), unhex32(mac), FileId::parse(id))
        else {
            continue;
        };
        out.insert(key.to_owned(), Record { mac, id });
    }
    out
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_ignores_garbage() {
        let mut state = BTreeMap::new();
        state.insert(
            "github.token".to_owned(),
            Record {
                mac: [7; 32],
                id: FileId::parse("1:2:3:4.5:6.7").unwrap(),
            },
        );
        let text = encode_state(&state);
        assert_eq!(parse_state(text.as_bytes()), state);
        let mut noisy = text.clone();
        noisy.push_str("bad line\nx\tzz\t1\n");
        assert_eq!(parse_state(noisy.as_bytes()), state);
        assert!(parse_state(b"other header\n").is_empty());
        assert!(parse_state(&[0xff, 0xfe]).is_empty());
    }
}
