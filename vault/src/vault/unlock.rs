//! Unlocking: the credentials at hand tried against a vault's slots.
//!
//! [`Credentials::try_slot`] is the one place a slot is opened: the
//! keychain item binding of FORMAT.md §4.3, the KDF limits and the per-open
//! budget of §6.3, each credential asked of the caller at most once.
//! [`unlock`] walks the slots in the order of §4.6 with it (for open,
//! verify, backup, restore and merge); a rekey asks it about every slot.

use crate::crypto::{kdf, ExcessiveWork, KdfLimits, Passphrase, SecretKey};
use crate::format::{Header, Slot, SlotKind};
use crate::slots::keychain::{self, NotOurs};
use crate::slots::{self, RecoveryKey, Unlocker};

use super::UnlockError;

/// The credentials at hand for one pass over a vault's slots: asked of an
/// [`Unlocker`] when first needed, each at most once (keychain keys once
/// per keychain slot), or given up front.
pub(super) struct Credentials<'u> {
    unlocker: &'u mut dyn Unlocker,
    limits: KdfLimits,
    /// Argon2id runs and work spent so far against the per-open budget
    /// (FORMAT.md §6.3); `None`: no budget (a rekey of an open vault
    /// tries every passphrase slot within the limits).
    budget: Option<(usize, u64)>,
    /// `None` until asked.
    passphrases: Option<Vec<Passphrase>>,
    /// `None` until asked.
    recovery: Option<Option<RecoveryKey>>,
}

/// What the credentials at hand did on one slot.
pub(super) enum Trial {
    /// The slot opened: the data key, and which credential opened it.
    Opened(SecretKey, Opener),
    /// A credential of the slot's type was tried and did not open it: a
    /// wrong credential, or a tampered slot.
    Wrong,
    /// No credential of the slot's type is at hand; for a keychain slot,
    /// why the lookup failed (never a secret).
    Absent(Option<String>),
    /// A keychain slot naming an item credvault did not write for it:
    /// never looked up.
    NotOurs(NotOurs),
    /// A passphrase slot asking for more KDF work than allowed: no KDF ran.
    Excessive(ExcessiveWork),
    /// A passphrase slot left untried: the open's KDF budget is spent.
    OverBudget,
    /// A slot type this version does not know.
    Unknown,
}

/// Which credential opened a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opener {
    /// The keychain key looked up for it.
    Keychain,
    /// The recovery key.
    Recovery,
    /// The passphrase at this index of [`Credentials::passphrase`].
    Passphrase(usize),
}

impl<'u> Credentials<'u> {
    /// Credentials asked of `unlocker` as slots need them (one
    /// passphrase, one recovery key), under the per-open KDF budget.
    pub(super) fn asking(unlocker: &'u mut dyn Unlocker, limits: &KdfLimits) -> Self {
        Credentials {
            unlocker,
            limits: *limits,
            budget: Some((0, 0)),
            passphrases: None,
            recovery: None,
        }
    }

    /// Credentials given up front: `passphrases` and `recovery`; keychain
    /// keys still come from `unlocker`. No per-open budget: every
    /// passphrase is tried on every passphrase slot within `limits`.
    pub(super) fn given(
        unlocker: &'u mut dyn Unlocker,
        limits: &KdfLimits,
        passphrases: Vec<Passphrase>,
        recovery: Option<RecoveryKey>,
    ) -> Self {
        Credentials {
            unlocker,
            limits: *limits,
            budget: None,
            passphrases: Some(passphrases),
            recovery: Some(recovery),
        }
    }

    /// The passphrase at `index` ([`Opener::Passphrase`]).
    pub(super) fn passphrase(&self, index: usize) -> Option<&Passphrase> {
        self.passphrases.as_ref()?.get(index)
    }

    /// The recovery key, if one is at hand (and was asked for).
    pub(super) fn recovery_key(&self) -> Option<&RecoveryKey> {
        self.recovery.as_ref()?.as_ref()
    }

    /// Tries the credentials at hand on `slot` of vault `vault_id`: the one
    /// place a slot is opened.
    ///
    /// - keychain: only the item credvault writes for this very slot is
    ///   looked up ([`keychain::check_item`], FORMAT.md §4.3);
    /// - recovery: the recovery key, asked for once;
    /// - passphrase: KDF limits are checked before any work, the
    ///   passphrase is asked for once (only for a slot within limits), and
    ///   when asking, one open runs Argon2id at most
    ///   [`kdf::MAX_RUNS_PER_OPEN`] times and for at most the work of one
    ///   slot at the limits (§6.3).
    pub(super) fn try_slot(&mut self, slot: &Slot, vault_id: &[u8; 16]) -> Trial {
        let opened = |kek: SecretKey, by: Opener| match slots::unwrap(slot, vault_id, &kek) {
            Ok(dek) => Trial::Opened(dek, by),
            Err(_) => Trial::Wrong,
        };
        match &slot.kind {
            SlotKind::Keychain(k) => {
                if let Err(not_ours) = keychain::check_item(vault_id, slot.id, k) {
                    return Trial::NotOurs(not_ours);
                }
                match self.unlocker.keychain_key(&k.service, &k.account) {
                    Ok(kek) => opened(kek, Opener::Keychain),
                    Err(reason) => Trial::Absent(Some(reason)),
                }
            }
            SlotKind::Recovery(r) => {
                let unlocker = &mut *self.unlocker;
                let key = self.recovery.get_or_insert_with(|| unlocker.recovery_key());
                match key {
                    Some(key) => opened(slots::recovery::kek(r, key), Opener::Recovery),
                    None => Trial::Absent(None),
                }
            }
            SlotKind::Passphrase(p) => {
                if let Err(e) = self.limits.check(&p.kdf) {
                    return Trial::Excessive(e);
                }
                let unlocker = &mut *self.unlocker;
                let passphrases = self
                    .passphrases
                    .get_or_insert_with(|| unlocker.passphrase().into_iter().collect());
                if passphrases.is_empty() {
                    return Trial::Absent(None);
                }
                let work = KdfLimits::work(&p.kdf);
                for (index, pw) in passphrases.iter().enumerate() {
                    if let Some((runs, spent)) = &mut self.budget {
                        if *runs == kdf::MAX_RUNS_PER_OPEN
                            || spent.saturating_add(work) > self.limits.total_work()
                        {
                            return Trial::OverBudget;
                        }
                        *runs += 1;
                        *spent += work;
                    }
                    let kek = slots::passphrase::kek(p, pw);
                    if let Ok(dek) = slots::unwrap(slot, vault_id, &kek) {
                        return Trial::Opened(dek, Opener::Passphrase(index));
                    }
                }
                Trial::Wrong
            }
            SlotKind::Unknown { .. } => Trial::Unknown,
        }
    }
}

/// The slots in the order they are tried (FORMAT.md §4.6): keychain, then
/// recovery, then passphrase, each in header order; unknown types skipped.
fn unlock_order(slots: &[Slot]) -> impl Iterator<Item = &Slot> {
    let rank = |slot: &Slot| match slot.kind {
        SlotKind::Keychain(_) => 0,
        SlotKind::Recovery(_) => 1,
        SlotKind::Passphrase(_) => 2,
        SlotKind::Unknown { .. } => 3,
    };
    (0..3).flat_map(move |r| slots.iter().filter(move |s| rank(s) == r))
}

/// Tries the slots in the order of FORMAT.md §4.6: keychain, recovery,
/// passphrase; unknown types are skipped. Returns the data key and the id
/// of the slot that opened. The errors, in this order of precedence:
/// passphrase slots left untried by the budget, a credential that opened
/// nothing, a KDF limit, only unknown slots, a keychain failure with no
/// other slot, no credential at all.
pub fn unlock(
    header: &Header,
    unlocker: &mut dyn Unlocker,
    kdf_limits: &KdfLimits,
) -> Result<(SecretKey, u32), UnlockError> {
    let mut credentials = Credentials::asking(unlocker, kdf_limits);
    let mut tried = false;
    let mut keychain_err: Option<String> = None;
    let mut excessive: Option<ExcessiveWork> = None;
    let mut over_budget = 0usize;

    for slot in unlock_order(&header.slots) {
        match credentials.try_slot(slot, &header.vault_id) {
            Trial::Opened(dek, _) => return Ok((dek, slot.id)),
            Trial::Wrong => {
                tried = true;
                if matches!(slot.kind, SlotKind::Keychain(_)) {
                    keychain_err = Some("the keychain item does not open this vault".to_owned());
                }
            }
            Trial::Absent(reason) => {
                if reason.is_some() {
                    keychain_err = reason;
                }
            }
            Trial::NotOurs(NotOurs::OtherProgram) => {
                keychain_err = Some("refusing to read another program's keychain item".to_owned());
            }
            Trial::NotOurs(NotOurs::OtherVaultOrSlot) => {
                keychain_err = Some(
                    "refusing to read a keychain item that belongs to another vault or slot"
                        .to_owned(),
                );
            }
            Trial::Excessive(e) => excessive = Some(e),
            Trial::OverBudget => over_budget += 1,
            Trial::Unknown => {}
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
