//! One operation in progress: the planned change of every key, and
//! [`Run::finish`], which writes pass entry by entry and then the vault and
//! the new sync state in one save (see the parent module's "Failures").

use std::collections::BTreeMap;

use crate::crypto::{self, SecretKey, SecretValue};
use crate::format::{KeyName, Kind};
use crate::vault::{SetOptions, Vault};

use super::state::{self, Record};
use super::{Item, PassOptions, Report, Side, Status};
use crate::pass::{is_reserved, PassBackend, PassEntry, PassError};

/// What to do with a key's sync record.
pub(super) enum Rec {
    /// Leave it as it was.
    Keep,
    /// Set it to this MAC and the pass file's identity after the change.
    Set([u8; 32]),
    /// Drop it (the key is gone from both sides).
    Remove,
}

/// What to change for a key.
pub(super) enum Action {
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
pub(super) struct Run<'a> {
    pub(super) vault: &'a mut Vault,
    pass: &'a PassBackend,
    options: &'a PassOptions,
    mac_key: SecretKey,
    state_key: KeyName,
    pub(super) state: BTreeMap<String, Record>,
    /// The mappable pass entries under the prefix, by vault key.
    pub(super) mapped: BTreeMap<KeyName, PassEntry>,
    /// Items settled without a plan (unmappable, failed reads).
    pub(super) items: Vec<Item>,
    planned: Vec<Planned>,
    /// Held for the whole run ([`sync_lock`]).
    _sync_lock: crate::store::VaultLock,
}

/// How long a sync waits for another sync of the same vault.
const SYNC_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// One import, export or sync of a vault at a time, for the whole run
/// (`<vault>.pass-sync.lock`): pass writes its files in place, so two
/// runs writing the same entry at once left a file gpg could not read
/// (tests/cli/pass.rs `two_syncs_at_once_lose_nothing`). The vault's own
/// lock is only taken for the save at the end.
fn sync_lock(vault: &std::path::Path) -> Result<crate::store::VaultLock, PassError> {
    let name = vault
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = vault.with_file_name(format!("{name}.pass-sync"));
    crate::store::VaultLock::acquire(&target, SYNC_LOCK_TIMEOUT)
        .map_err(|e| PassError::from(crate::vault::VaultError::from(e)))
}

impl<'a> Run<'a> {
    pub(super) fn new(
        vault: &'a mut Vault,
        pass: &'a PassBackend,
        options: &'a PassOptions,
    ) -> Result<Run<'a>, PassError> {
        let sync_lock = sync_lock(vault.path())?;
        // What a run that held the lock before this one saved.
        vault.reload()?;
        let mac_key = crypto::hkdf(
            vault.data_key().expose(),
            &vault.header().vault_id,
            state::INFO,
        );
        let state_key = state::key(pass, &options.prefix);
        let state = match vault.get(&state_key)? {
            Some(v) => state::parse(v.expose()),
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
            _sync_lock: sync_lock,
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
    pub(super) fn vault_keys(&self) -> Vec<KeyName> {
        self.vault
            .list(None)
            .into_iter()
            .filter(|k| !is_reserved(k.as_str()))
            .cloned()
            .collect()
    }

    pub(super) fn mac(&self, key: &KeyName, value: &SecretValue) -> [u8; 32] {
        state::mac_with(&self.mac_key, key, value)
    }

    /// Decrypts pass entry `name`; on failure records the key as failed
    /// and returns `None`.
    pub(super) fn read(&mut self, key: &KeyName, name: &str) -> Option<SecretValue> {
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

    pub(super) fn plan(
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
    pub(super) fn conflict(
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
    pub(super) fn finish(self) -> Result<Report, PassError> {
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
        let old_state = state::encode(&state);
        let old_records = state.clone();
        // The vault side as planned, to notice another process changing a
        // key while pass is written (see below).
        let vault_mac = |vault: &Vault, key: &KeyName| -> Result<Option<[u8; 32]>, PassError> {
            Ok(vault.get(key)?.map(|v| state::mac_with(&mac_key, key, &v)))
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
        let new_state = state::encode(&state);
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
                        kind: Kind::new(state::KIND).ok(),
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
