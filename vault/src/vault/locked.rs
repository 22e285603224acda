//! Read, decide and write under one hold of the vault's write lock: for
//! work whose decision depends on what another process may have just
//! written, such as an OAuth refresh (rotating refresh tokens must never
//! be spent twice, so N processes that need a refresh at once must cause
//! exactly one). [`Vault::lock_for_update`] takes the lock and re-reads the
//! file; the caller reads entries, does its work (which may take a while:
//! other writers wait up to their lock timeout), queues changes and
//! [`Locked::commit`]s them before the lock is released.

use crate::crypto::SecretValue;
use crate::format::body::Entry;
use crate::format::KeyName;
use crate::store::VaultLock;

use super::{Committed, SetOptions, Transaction, Vault, VaultError};

/// A vault held under its write lock, freshly re-read. Dropping it without
/// [`Locked::commit`] releases the lock and saves nothing.
pub struct Locked<'v> {
    tx: Transaction<'v>,
    _lock: VaultLock,
}

impl Vault {
    /// Takes the vault's write lock (waiting up to the lock timeout) and
    /// re-reads the file, so what [`Locked::get`] returns is the newest
    /// saved state and no other process can save until the handle is
    /// committed or dropped.
    pub fn lock_for_update(&mut self) -> Result<Locked<'_>, VaultError> {
        let lock = self.write_lock()?;
        self.reload()?;
        Ok(Locked {
            tx: self.transaction(),
            _lock: lock,
        })
    }
}

impl Locked<'_> {
    /// The value of `name` as saved (changes queued here are not applied
    /// until [`Locked::commit`]).
    pub fn get(&self, name: &KeyName) -> Result<Option<SecretValue>, VaultError> {
        self.tx.vault.get(name)
    }

    /// The entry's attributes as saved.
    pub fn entry(&self, name: &KeyName) -> Option<&Entry> {
        self.tx.vault.entry(name)
    }

    /// Queues a set of `name` to `value`.
    pub fn set(
        &mut self,
        name: &KeyName,
        value: &SecretValue,
        options: SetOptions,
    ) -> Result<(), VaultError> {
        self.tx.set(name, value, options)
    }

    /// Queues a delete of `name`.
    pub fn delete(&mut self, name: &KeyName) {
        self.tx.delete(name);
    }

    /// Applies the queued changes and saves atomically, still under the
    /// lock taken by [`Vault::lock_for_update`]; then releases it.
    pub fn commit(self) -> Result<Committed, VaultError> {
        let Locked { tx, _lock } = self;
        let Transaction { vault, ops } = tx;
        // Under the lock taken above: `flock` locks of one process on two
        // descriptors conflict, so the commit must not take it again.
        let committed = vault.commit_held(&ops);
        drop(_lock);
        committed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KdfParams, NewSlot, OpenOptions, Passphrase, PassphraseUnlocker};

    #[test]
    fn locked_update_sees_other_writers_and_saves_under_the_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.cvault");
        let kdf = KdfParams::new(8 * 1024, 1, 1).expect("weak params");
        let pw = Passphrase::from("pw");
        let mut a = Vault::create(&path, NewSlot::Passphrase(&pw, kdf)).expect("create");
        let mut b =
            Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw"))).expect("open");
        let name = KeyName::new("x.token").expect("name");
        b.set(&name, &SecretValue::from("from b")).expect("set");

        let mut locked = a.lock_for_update().expect("lock");
        assert_eq!(
            locked.get(&name).expect("get").expect("seen").expose(),
            b"from b"
        );
        // Another writer waits for the lock: here it times out.
        let mut c = Vault::open_with(
            &path,
            &mut PassphraseUnlocker::new(Passphrase::from("pw")),
            OpenOptions {
                lock_timeout: std::time::Duration::from_millis(50),
                ..OpenOptions::default()
            },
        )
        .expect("open");
        assert!(c.set(&name, &SecretValue::from("from c")).is_err());
        locked
            .set(&name, &SecretValue::from("from a"), SetOptions::default())
            .expect("queue");
        assert!(locked.commit().expect("commit").saved);
        assert_eq!(a.get(&name).expect("get").expect("set").expose(), b"from a");
        c.set(&name, &SecretValue::from("from c"))
            .expect("lock free again");
    }
}
