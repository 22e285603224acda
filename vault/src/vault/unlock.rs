//! Unlocking: the credentials at hand tried against a vault's slots.

use crate::crypto::{kdf, ExcessiveWork, KdfLimits, SecretKey};
use crate::format::{Header, Slot, SlotKind};
use crate::slots::keychain::{account_name as keychain_account, SERVICE as KEYCHAIN_SERVICE};
use crate::slots::{self, Unlocker};

use super::UnlockError;

/// Tries the slots in the order of FORMAT.md §4.6: keychain, recovery,
/// passphrase; unknown types are skipped. Returns the data key and the id
/// of the slot that opened.
pub fn unlock(
    header: &Header,
    unlocker: &mut dyn Unlocker,
    kdf_limits: &KdfLimits,
) -> Result<(SecretKey, u32), UnlockError> {
    let id = &header.vault_id;
    let mut tried = false;
    let mut keychain_err: Option<String> = None;
    let mut excessive: Option<ExcessiveWork> = None;
    let mut over_budget = 0usize;

    for slot in &header.slots {
        if let SlotKind::Keychain(k) = &slot.kind {
            // Only credvault's own items are looked up: a hostile file must
            // not make us read another program's item (FORMAT.md §4.3).
            if k.service != KEYCHAIN_SERVICE {
                keychain_err = Some("refusing to read another program's keychain item".to_owned());
                continue;
            }
            // Nor another vault's or another slot's item: the account MUST
            // carry this file's own vault id and the slot's id (FORMAT.md
            // §4.3), so a crafted file cannot point at a real vault's item.
            if k.account != keychain_account(id, slot.id) {
                keychain_err = Some(
                    "refusing to read a keychain item that belongs to another vault or slot"
                        .to_owned(),
                );
                continue;
            }
            match unlocker.keychain_key(&k.service, &k.account) {
                Ok(kek) => {
                    tried = true;
                    if let Ok(dek) = slots::unwrap(slot, id, &kek) {
                        return Ok((dek, slot.id));
                    }
                    keychain_err = Some("the keychain item does not open this vault".to_owned());
                }
                Err(e) => keychain_err = Some(e),
            }
        }
    }
    if header
        .slots
        .iter()
        .any(|s| matches!(s.kind, SlotKind::Recovery(_)))
    {
        if let Some(key) = unlocker.recovery_key() {
            tried = true;
            for slot in &header.slots {
                if let SlotKind::Recovery(r) = &slot.kind {
                    if let Ok(dek) = slots::unwrap(slot, id, &slots::recovery::kek(r, &key)) {
                        return Ok((dek, slot.id));
                    }
                }
            }
        }
    }
    for slot in &header.slots {
        if let SlotKind::Passphrase(p) = &slot.kind {
            if let Err(e) = kdf_limits.check(&p.kdf) {
                excessive = Some(e);
            }
        }
    }
    // Ask for a passphrase only when some passphrase slot is within limits.
    if header
        .slots
        .iter()
        .any(|s| matches!(&s.kind, SlotKind::Passphrase(p) if kdf_limits.check(&p.kdf).is_ok()))
    {
        if let Some(pw) = unlocker.passphrase() {
            // FORMAT.md §6.3: one open runs Argon2id at most
            // MAX_RUNS_PER_OPEN times and for at most the work of one slot
            // at the limits, whatever the file holds.
            let (mut runs, mut spent) = (0usize, 0u64);
            for slot in &header.slots {
                if let SlotKind::Passphrase(p) = &slot.kind {
                    if kdf_limits.check(&p.kdf).is_err() {
                        continue;
                    }
                    let work = KdfLimits::work(&p.kdf);
                    if runs == kdf::MAX_RUNS_PER_OPEN
                        || spent.saturating_add(work) > kdf_limits.total_work()
                    {
                        over_budget += 1;
                        continue;
                    }
                    runs += 1;
                    spent += work;
                    tried = true;
                    if let Ok(dek) = slots::unwrap(slot, id, &slots::passphrase::kek(p, &pw)) {
                        return Ok((dek, slot.id));
                    }
                }
            }
        }
    }
    if over_budget > 0 {
        return Err(UnlockError::WorkBudget {
            skipped: over_budget,
        });
    }
    if tried {
        return Err(UnlockError::WrongKeyOrTampered);
    }
    if let Some(e) = excessive {
        return Err(e.into());
    }
    if header
        .slots
        .iter()
        .all(|s| matches!(s.kind, SlotKind::Unknown { .. }))
    {
        return Err(UnlockError::NoUsableSlot);
    }
    let others = header
        .slots
        .iter()
        .any(|s| matches!(s.kind, SlotKind::Passphrase(_) | SlotKind::Recovery(_)));
    if let (Some(e), false) = (&keychain_err, others) {
        return Err(UnlockError::Keychain(e.clone()));
    }
    let mut types: Vec<&str> = header.slots.iter().map(Slot::type_name).collect();
    types.sort_unstable();
    types.dedup();
    Err(UnlockError::NoCredentials {
        slots: types.join(", "),
        keychain: keychain_err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Passphrase;
    use crate::format::KdfParams;
    use crate::slots::PassphraseUnlocker;
    use crate::{NewSlot, OpenOptions, Vault, VaultError};

    #[test]
    fn kdf_limits_are_checked_before_work() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        Vault::create(
            &path,
            NewSlot::Passphrase(&pw, KdfParams::new(16 * 1024, 2, 1).unwrap()),
        )
        .unwrap();
        let options = OpenOptions {
            kdf_limits: KdfLimits {
                max_memory_kib: 8192,
                max_iterations: 16,
                max_parallelism: 16,
            },
            ..OpenOptions::default()
        };
        let err = Vault::open_with(
            &path,
            &mut PassphraseUnlocker::new(Passphrase::from("pw")),
            options,
        )
        .unwrap_err();
        assert!(
            matches!(err, VaultError::Unlock(UnlockError::ExcessiveWork(_))),
            "{err}"
        );
    }
}
