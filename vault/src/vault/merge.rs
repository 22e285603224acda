//! Merging another copy of this vault into it (FORMAT.md §11): the pure
//! rule of [`crate::merge`] applied in one locked save, and the sync-folder
//! conflict copies merged and removed after a verified save.
//!
//! The other copy must have this vault's id. It is opened with this
//! vault's data key when it has the same (the usual case: a copy of the
//! same file); otherwise (it was re-keyed on one side) with the credentials
//! the caller's [`Unlocker`] offers, and its values are sealed again under
//! this vault's key. The header, and so every slot, stays this vault's:
//! slots are never imported. With a base, a slot that the other copy
//! removed since the base is removed here too (a revocation travels), as
//! long as a usable slot is left.

use std::path::{Path, PathBuf};

use crate::crypto;
use crate::format::{self, limits, Body, FormatError, Header, Slot, SlotKind};
use crate::merge::{self, Conflict, SyncTool, Taken};
use crate::slots::Unlocker;
use crate::store;
use crate::KeyName;

use super::file_seal::{open_body, Keys};
use super::value_seal::{seal_value, unseal};
use super::{read_file, unlock, SlotRef, Vault, VaultError};

/// How [`Vault::merge`] runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOptions<'a> {
    /// The last version both copies share (git's merge base). Names
    /// changed on both sides since it are reported as conflicts, and slots
    /// the other copy removed since it are removed here too. An empty file
    /// means "no common version" (git passes one for an add/add conflict).
    pub base: Option<&'a Path>,
    /// Compute and report the merge, save nothing.
    pub dry_run: bool,
}

/// What [`Vault::merge`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MergeReport {
    /// Names whose record came from the other copy, and how.
    pub taken: Vec<(KeyName, Taken)>,
    /// Names changed on both sides since the base, resolved by the rule.
    pub conflicts: Vec<Conflict>,
    /// The other copy's slots that this vault does not have: never
    /// imported.
    pub skipped_slots: Vec<SlotRef>,
    /// Slots removed here because the other copy removed them since the
    /// base.
    pub removed_slots: Vec<SlotRef>,
    /// Slots the other copy removed since the base that were kept here,
    /// because removing them would leave no usable slot.
    pub kept_slots: Vec<SlotRef>,
    /// Whether the other copy was under another data key (re-keyed on one
    /// side), so its values were sealed again under this vault's key.
    pub resealed: bool,
    /// Whether the vault was saved (false with nothing to take, or a dry
    /// run).
    pub saved: bool,
    /// Live entries after the merge.
    pub entries: usize,
    /// Tombstones after the merge.
    pub tombstones: usize,
}

/// One sync-folder conflict copy handled by [`Vault::merge_conflict_copies`].
#[derive(Debug)]
#[non_exhaustive]
pub struct CopyMerge {
    /// The copy.
    pub path: PathBuf,
    /// The tool that named it.
    pub tool: SyncTool,
    /// The merge, or why the copy was left in place.
    pub outcome: Result<MergeReport, VaultError>,
    /// Whether the copy was removed (after the merged vault was re-read
    /// and verified).
    pub removed: bool,
}

/// Another copy of the vault, opened.
struct Copy {
    header: Header,
    body: Body,
    resealed: bool,
}

impl Vault {
    /// Merges the copy at `other` into this vault (FORMAT.md §11) in one
    /// locked save: the file is re-read under the lock, merged with the
    /// copy by the rule of §11.2, and written atomically if anything
    /// changed. Fails with [`VaultError::DifferentVault`] when the copy has
    /// another vault id, and like [`Vault::open`] when it cannot be
    /// unlocked.
    pub fn merge(
        &mut self,
        other: &Path,
        unlocker: &mut dyn Unlocker,
        options: MergeOptions<'_>,
    ) -> Result<MergeReport, VaultError> {
        let theirs = self.open_copy(&read_file(other)?, unlocker)?;
        let base = match options.base {
            Some(path) => {
                let bytes = read_file(path)?;
                if bytes.is_empty() {
                    None
                } else {
                    Some(self.open_copy(&bytes, unlocker)?)
                }
            }
            None => None,
        };
        self.merge_copy(&theirs, base.as_ref(), options.dry_run)
    }

    /// [`Vault::merge`] of a copy already opened.
    fn merge_copy(
        &mut self,
        theirs: &Copy,
        base: Option<&Copy>,
        dry_run: bool,
    ) -> Result<MergeReport, VaultError> {
        // A merge that removes slots revokes their credentials: like
        // `slot remove`, its save purges the kept copies (FORMAT.md §7.1).
        let (_, removes, _) = slots_after(
            &self.view.header.slots,
            &theirs.header,
            base.map(|b| &b.header),
        );
        if removes.is_empty() || dry_run {
            self.merge_copy_save(theirs, base, dry_run)
        } else {
            self.revoking(|v| v.merge_copy_save(theirs, base, dry_run))
        }
    }

    fn merge_copy_save(
        &mut self,
        theirs: &Copy,
        base: Option<&Copy>,
        dry_run: bool,
    ) -> Result<MergeReport, VaultError> {
        self.save_with(move |_, header, body, _| {
            let merged = merge::merge(body.clone(), &theirs.body, base.map(|b| &b.body));
            let records = merged.body.entries.len() + merged.body.tombstones.len();
            if records > limits::MAX_RECORDS {
                return Err(FormatError::TooLarge {
                    what: "entry and tombstone count",
                    found: records as u64,
                    max: limits::MAX_RECORDS as u64,
                }
                .into());
            }
            let (slots, removed_slots, kept_slots) =
                slots_after(&header.slots, &theirs.header, base.map(|b| &b.header));
            let skipped_slots = theirs
                .header
                .slots
                .iter()
                .filter(|s| !slots.contains(s))
                .map(SlotRef::from)
                .collect();
            let changed = !merged.taken.is_empty() || !removed_slots.is_empty();
            let save = changed && !dry_run;
            let report = MergeReport {
                taken: merged.taken,
                conflicts: merged.conflicts,
                skipped_slots,
                removed_slots,
                kept_slots,
                resealed: theirs.resealed,
                saved: save,
                entries: merged.body.entries.len(),
                tombstones: merged.body.tombstones.len(),
            };
            if save {
                *body = merged.body;
                header.slots = slots;
                // The merged file is newer than both copies.
                header.save_counter = header.save_counter.max(theirs.header.save_counter);
            }
            Ok((report, save))
        })
    }

    /// Merges every sync-folder conflict copy beside the vault
    /// ([`store::conflict_copies`]) by [`Vault::merge`], one save each,
    /// and removes a copy only after the vault was read back from disk,
    /// every value authenticated, and found to hold everything the copy
    /// had (FORMAT.md §11.5). A copy that fails (another vault, cannot be
    /// unlocked, damaged) is left in place and reported; the others go on.
    pub fn merge_conflict_copies(
        &mut self,
        unlocker: &mut dyn Unlocker,
        dry_run: bool,
    ) -> Result<Vec<CopyMerge>, VaultError> {
        let copies = store::conflict_copies(&self.path)?;
        let mut out = Vec::with_capacity(copies.len());
        for (path, tool) in copies {
            // Opened once: the body verified is the one merged (a copy
            // under another data key is sealed again, with fresh nonces).
            let outcome = read_file(&path)
                .and_then(|bytes| self.open_copy(&bytes, unlocker))
                .and_then(|copy| {
                    let report = self.merge_copy(&copy, None, dry_run)?;
                    if !dry_run {
                        self.verify_holds(&copy.body)?;
                    }
                    Ok(report)
                });
            let removed = outcome.is_ok() && !dry_run;
            let outcome = match outcome {
                Ok(report) if removed => store::remove_copy(&path)
                    .map(|()| report)
                    .map_err(VaultError::from),
                other => other,
            };
            let removed = removed && outcome.is_ok();
            out.push(CopyMerge {
                path,
                tool,
                outcome,
                removed,
            });
        }
        Ok(out)
    }

    /// Reads the vault back from disk, authenticates the body and every
    /// value, and checks that it holds `body`: for every name, its record
    /// on disk is `body`'s or one that wins over it (FORMAT.md §11.2), so
    /// a concurrent writer's newer change does not fail the check.
    fn verify_holds(&self, body: &Body) -> Result<(), VaultError> {
        let bytes = read_file(&self.path)?;
        let parsed = format::parse_file(&bytes)?;
        if parsed.header.vault_id != self.view.header.vault_id {
            return Err(VaultError::KeyChanged);
        }
        let on_disk = open_body(&parsed, &self.view.keys).map_err(|e| match e {
            VaultError::Tampered => VaultError::KeyChanged,
            other => other,
        })?;
        for (name, entry) in &on_disk.entries {
            drop(unseal(&self.view.keys.value, name, entry)?);
        }
        let holds = body
            .entries
            .keys()
            .chain(body.tombstones.keys())
            .all(|name| {
                match (
                    merge::Record::of(&on_disk, name),
                    merge::Record::of(body, name),
                ) {
                    (Some(disk), Some(want)) => merge::cmp_records(&disk, &want).is_ge(),
                    _ => false,
                }
            });
        if holds {
            Ok(())
        } else {
            Err(VaultError::MergeUnverified)
        }
    }

    /// Parses and opens another copy of this vault: with this vault's data
    /// key when it opens the body, else with `unlocker` (then every value
    /// is sealed again under this vault's value key).
    fn open_copy(&self, bytes: &[u8], unlocker: &mut dyn Unlocker) -> Result<Copy, VaultError> {
        let parsed = format::parse_file(bytes)?;
        if parsed.header.vault_id != self.view.header.vault_id {
            return Err(VaultError::DifferentVault);
        }
        let ours = Keys::derive(self.view.keys.dek.clone(), &parsed.header.vault_id);
        match open_body(&parsed, &ours) {
            Ok(body) => {
                return Ok(Copy {
                    header: parsed.header,
                    body,
                    resealed: false,
                })
            }
            Err(VaultError::Tampered) => {}
            Err(e) => return Err(e),
        }
        let (dek, _) = unlock(&parsed.header, unlocker, &self.options.kdf_limits)?;
        let theirs = Keys::derive(dek, &parsed.header.vault_id);
        let mut body = open_body(&parsed, &theirs)?;
        for (name, entry) in body.entries.iter_mut() {
            let value = unseal(&theirs.value, name, entry)?;
            entry.value = seal_value(
                &self.view.keys.value,
                name,
                value.expose(),
                crypto::random_array(),
            );
        }
        Ok(Copy {
            header: parsed.header,
            body,
            resealed: true,
        })
    }
}

/// The slots after a merge (FORMAT.md §11.4): this vault's, less those the
/// other copy removed since the base (same id and bytes in the base and
/// here, absent there), as long as a slot of a known type is left.
/// Returns the slots, the removed ones and the ones kept for that reason.
fn slots_after(
    ours: &[Slot],
    theirs: &Header,
    base: Option<&Header>,
) -> (Vec<Slot>, Vec<SlotRef>, Vec<SlotRef>) {
    let mut slots = ours.to_vec();
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    let Some(base) = base else {
        return (slots, removed, kept);
    };
    for gone in base
        .slots
        .iter()
        .filter(|b| !theirs.slots.iter().any(|t| t.id == b.id))
    {
        let Some(at) = slots.iter().position(|s| s == gone) else {
            continue;
        };
        let known_left = slots
            .iter()
            .enumerate()
            .filter(|(i, s)| *i != at && !matches!(s.kind, SlotKind::Unknown { .. }))
            .count();
        if known_left == 0 {
            kept.push(SlotRef::from(gone));
        } else {
            removed.push(SlotRef::from(&slots.remove(at)));
        }
    }
    (slots, removed, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::PassphraseUnlocker;
    use crate::testing::{key, weak};
    use crate::{NewSlot, Passphrase, SecretValue};

    fn pw() -> PassphraseUnlocker {
        PassphraseUnlocker::new(Passphrase::from("pw"))
    }

    #[test]
    fn two_copies_merge_both_ways_to_the_same_entries() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.cvault");
        let b = dir.path().join("b.cvault");
        let mut va =
            Vault::create(&a, NewSlot::Passphrase(&Passphrase::from("pw"), weak())).unwrap();
        va.set(&key("shared"), &SecretValue::from("0")).unwrap();
        va.set(&key("gone"), &SecretValue::from("g")).unwrap();
        std::fs::copy(&a, &b).unwrap();
        let base = dir.path().join("base.cvault");
        std::fs::copy(&a, &base).unwrap();
        let mut vb = Vault::open(&b, &mut pw()).unwrap();
        va.set(&key("only.a"), &SecretValue::from("a")).unwrap();
        vb.set(&key("only.b"), &SecretValue::from("b")).unwrap();
        vb.delete(&key("gone")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
        vb.set(&key("shared"), &SecretValue::from("newer")).unwrap();

        let opts = MergeOptions {
            base: Some(&base),
            dry_run: false,
        };
        let ra = va.merge(&b, &mut pw(), opts).unwrap();
        assert!(ra.saved && !ra.resealed);
        let rb = vb.merge(&a, &mut pw(), opts).unwrap();
        assert!(rb.saved);
        for v in [&va, &vb] {
            let v = Vault::open(v.path(), &mut pw()).unwrap();
            assert_eq!(v.get(&key("only.a")).unwrap().unwrap().expose(), b"a");
            assert_eq!(v.get(&key("only.b")).unwrap().unwrap().expose(), b"b");
            assert_eq!(v.get(&key("shared")).unwrap().unwrap().expose(), b"newer");
            assert!(!v.has(&key("gone")));
        }
        let (fa, fb) = (
            Vault::open(&a, &mut pw()).unwrap(),
            Vault::open(&b, &mut pw()).unwrap(),
        );
        assert_eq!(fa.body.body(), fb.body.body());
        // Idempotent: merging again changes nothing.
        let again = va.merge(&b, &mut pw(), MergeOptions::default()).unwrap();
        assert!(!again.saved && again.taken.is_empty());
    }

    #[test]
    fn another_vault_is_refused_and_a_rekeyed_copy_is_resealed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.cvault");
        let b = dir.path().join("b.cvault");
        let c = dir.path().join("c.cvault");
        let mut va =
            Vault::create(&a, NewSlot::Passphrase(&Passphrase::from("pw"), weak())).unwrap();
        Vault::create(&c, NewSlot::Passphrase(&Passphrase::from("pw"), weak())).unwrap();
        assert!(matches!(
            va.merge(&c, &mut pw(), MergeOptions::default()),
            Err(VaultError::DifferentVault)
        ));
        std::fs::copy(&a, &b).unwrap();
        let mut vb = Vault::open(&b, &mut pw()).unwrap();
        vb.set(&key("x"), &SecretValue::from("x")).unwrap();
        let pass = Passphrase::from("pw");
        vb.rekey(crate::RekeyOptions {
            passphrases: vec![&pass],
            ..Default::default()
        })
        .unwrap();
        let r = va.merge(&b, &mut pw(), MergeOptions::default()).unwrap();
        assert!(r.resealed && r.saved);
        let v = Vault::open(&a, &mut pw()).unwrap();
        assert_eq!(v.get(&key("x")).unwrap().unwrap().expose(), b"x");
    }

    #[test]
    fn a_rekeyed_conflict_copy_is_merged_verified_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.cvault");
        let copy = dir
            .path()
            .join("a.sync-conflict-20261206-101112-ABCDEF1.cvault");
        let mut va =
            Vault::create(&a, NewSlot::Passphrase(&Passphrase::from("pw"), weak())).unwrap();
        std::fs::copy(&a, &copy).unwrap();
        let mut vc = Vault::open(&copy, &mut pw()).unwrap();
        vc.set(&key("from.copy"), &SecretValue::from("c")).unwrap();
        let pass = Passphrase::from("pw");
        vc.rekey(crate::RekeyOptions {
            passphrases: vec![&pass],
            ..Default::default()
        })
        .unwrap();
        let done = va.merge_conflict_copies(&mut pw(), false).unwrap();
        assert_eq!(done.len(), 1);
        let report = done[0].outcome.as_ref().unwrap();
        assert!(report.resealed && report.saved && done[0].removed);
        assert!(!copy.exists());
        let v = Vault::open(&a, &mut pw()).unwrap();
        assert_eq!(v.get(&key("from.copy")).unwrap().unwrap().expose(), b"c");
    }
}
