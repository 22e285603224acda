//! The OS keychain itself (feature `keychain`): Secret Service on Linux,
//! the login Keychain on macOS, Credential Manager on Windows, through the
//! keyring 4.x family (`keyring-core` plus one store crate per OS). Other
//! targets compile this module but report the keychain as unavailable.
//! The slot's naming and wrapping are in the parent module.
//!
//! # Never waiting forever
//!
//! A locked keyring can make the platform show an unlock dialog and wait
//! for it without limit. Every call here therefore runs on a worker thread
//! and is given up after the [`Keychain`]'s timeout (default
//! [`DEFAULT_TIMEOUT`], 3 s) with [`KeychainError::Timeout`]. A call that
//! was given up keeps running in the background (a thread blocked in D-Bus
//! cannot be cancelled); until it ends, further calls on the same
//! [`Keychain`] fail at once with the same error instead of queueing behind
//! it.
//!
//! # Secrets
//!
//! The KEK text is zeroized on our side after use; copies made inside the
//! platform libraries and the keychain daemon are out of our hands. No
//! error or `Debug` output here contains key material.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use keyring_core::api::CredentialStore;
use keyring_core::Entry;
use zeroize::Zeroizing;

use super::SERVICE;
use crate::crypto::{self, hex_lower, Passphrase, SecretKey};
use crate::slots::RecoveryKey;
use crate::slots::Unlocker;

/// How long a keychain call may take before it is given up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a keychain operation failed. Messages are one line and never
/// contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeychainError {
    /// No keychain can be reached (no D-Bus session, no Secret Service, an
    /// unsupported platform).
    #[error("no OS keychain is reachable: {0}")]
    Unavailable(String),
    /// The keychain is locked, or it refused access (an unlock prompt was
    /// dismissed or could not be shown).
    #[error("the OS keychain is locked or refused access")]
    Locked,
    /// The keychain holds no item for this service and account (never
    /// written, or deleted since).
    #[error("the OS keychain has no item for this vault (was it deleted?)")]
    NoEntry,
    /// Several items match the service and account (another program wrote
    /// one with the same names).
    #[error("several OS keychain items match this vault's service and account")]
    Ambiguous,
    /// The keychain did not answer in time (a locked keyring waiting on an
    /// unlock dialog, a hung daemon).
    #[error("the OS keychain did not answer within {}", seconds(.0))]
    Timeout(Duration),
    /// The item exists but does not hold a credvault key.
    #[error("the OS keychain item does not hold a credvault key")]
    NotAKey,
    /// Any other failure of the keychain or its transport.
    #[error("OS keychain error: {0}")]
    Other(String),
}

/// A connection to the OS keychain. Cheap to clone (clones share the
/// connection). Every call is bounded by [`Keychain::timeout`].
#[derive(Clone)]
pub struct Keychain {
    store: Arc<CredentialStore>,
    timeout: Duration,
    /// Calls given up on that are still running (see the module docs).
    stalled: Arc<AtomicUsize>,
}

impl fmt::Debug for Keychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keychain")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Keychain {
    /// Connects to the platform keychain. Fails fast with
    /// [`KeychainError::Unavailable`] when there is none (on Linux: no
    /// D-Bus session bus, or no Secret Service on it), and with
    /// [`KeychainError::Timeout`] when connecting takes longer than
    /// `timeout`, which then bounds every later call too.
    ///
    /// Connecting does not unlock anything; use [`Keychain::probe`] to
    /// learn whether items can be written.
    pub fn connect(timeout: Duration) -> Result<Keychain, KeychainError> {
        let stalled = Arc::new(AtomicUsize::new(0));
        let store = with_timeout(&stalled, timeout, platform_store).map_err(|e| match e {
            // Connecting: any platform failure means there is no keychain.
            KeychainError::Other(reason) => KeychainError::Unavailable(reason),
            e => e,
        })?;
        Ok(Keychain {
            store,
            timeout,
            stalled,
        })
    }

    /// The limit on each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Stores `kek` under `service`/`account`, replacing an existing item
    /// of the same names. The secret is written as 64 lowercase hex digits
    /// (see the module docs).
    pub fn store_kek(
        &self,
        service: &str,
        account: &str,
        kek: &SecretKey,
    ) -> Result<(), KeychainError> {
        let text = Zeroizing::new(hex_lower(kek.expose()));
        let (service, account) = (service.to_owned(), account.to_owned());
        self.run(move |store| entry(store, &service, &account)?.set_password(&text))
    }

    /// Loads the key stored under `service`/`account`.
    /// [`KeychainError::NotAKey`] when the item is not 64 lowercase hex
    /// digits.
    pub fn load_kek(&self, service: &str, account: &str) -> Result<SecretKey, KeychainError> {
        let (service, account) = (service.to_owned(), account.to_owned());
        let text = self.run(move |store| {
            entry(store, &service, &account)?
                .get_password()
                .map(Zeroizing::new)
        })?;
        parse_kek(&text).ok_or(KeychainError::NotAKey)
    }

    /// Deletes the item under `service`/`account`. `Ok(false)` if there
    /// was none.
    pub fn delete(&self, service: &str, account: &str) -> Result<bool, KeychainError> {
        let (service, account) = (service.to_owned(), account.to_owned());
        match self.run(move |store| entry(store, &service, &account)?.delete_credential()) {
            Ok(()) => Ok(true),
            Err(KeychainError::NoEntry) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Checks that items can be written, read back and deleted, with a
    /// throwaway item (service [`SERVICE`], account `probe-<random hex>`)
    /// holding a random key. `init` uses it to choose between a keychain
    /// and a passphrase slot: a reachable but locked keyring fails here
    /// with [`KeychainError::Locked`] (or [`KeychainError::Timeout`] when
    /// an unlock dialog is left unanswered).
    pub fn probe(&self) -> Result<(), KeychainError> {
        let account = format!("probe-{}", hex_lower(&crypto::random_array::<8>()));
        let key = SecretKey::random();
        self.store_kek(SERVICE, &account, &key)?;
        let read = self.load_kek(SERVICE, &account);
        let deleted = self.delete(SERVICE, &account);
        let read = read?;
        deleted?;
        if read.expose() != key.expose() {
            return Err(KeychainError::Other(
                "the keychain returned a different value than was written".to_owned(),
            ));
        }
        Ok(())
    }

    /// Runs `op` on a worker thread, waiting at most `self.timeout`.
    fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Arc<CredentialStore>) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T, KeychainError> {
        let store = Arc::clone(&self.store);
        with_timeout(&self.stalled, self.timeout, move || op(&store))
    }
}

/// Runs `op` on a worker thread and waits at most `timeout` for it. Fails
/// at once while an earlier call given up on is still running.
fn with_timeout<T: Send + 'static>(
    stalled: &Arc<AtomicUsize>,
    timeout: Duration,
    op: impl FnOnce() -> keyring_core::Result<T> + Send + 'static,
) -> Result<T, KeychainError> {
    if stalled.load(Ordering::SeqCst) > 0 {
        return Err(KeychainError::Timeout(timeout));
    }
    let (tx, rx) = mpsc::sync_channel(1);
    // Set by whichever of the worker (finished) and the caller (gave up)
    // gets there first; the later one learns from it what the other did.
    let settled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker_settled = Arc::clone(&settled);
    let worker_stalled = Arc::clone(stalled);
    std::thread::Builder::new()
        .name("credvault-keychain".to_owned())
        .spawn(move || {
            // The receiver may be gone (timed out): nothing to report then.
            let _ = tx.send(op());
            if worker_settled.swap(true, Ordering::SeqCst) {
                // The caller gave up on us and counted us as stalled.
                worker_stalled.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .map_err(|e| KeychainError::Other(format!("cannot start a keychain thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result.map_err(map_error),
        Err(_) => {
            stalled.fetch_add(1, Ordering::SeqCst);
            if settled.swap(true, Ordering::SeqCst) {
                // The worker finished just now after all.
                stalled.fetch_sub(1, Ordering::SeqCst);
                if let Ok(result) = rx.try_recv() {
                    return result.map_err(map_error);
                }
            }
            Err(KeychainError::Timeout(timeout))
        }
    }
}

fn entry(
    store: &Arc<CredentialStore>,
    service: &str,
    account: &str,
) -> keyring_core::Result<Entry> {
    #[cfg(target_os = "linux")]
    {
        // The Secret Service shows labels (e.g. in Seahorse); give ours a
        // recognisable one. Other stores take no label modifier.
        let label = format!("credvault key-encryption key ({service} {account})");
        let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
        Entry::new_in_store_with_modifiers(store, service, account, &modifiers)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Entry::new_in_store(store, service, account)
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NotSupportedByStore(
        "credvault supports no OS keychain on this platform".to_owned(),
    ))
}

/// Maps a store error to ours without ever printing secret data (some
/// variants carry the item's bytes).
fn map_error(e: keyring_core::Error) -> KeychainError {
    use keyring_core::Error as E;
    match e {
        E::NoEntry => KeychainError::NoEntry,
        E::NoStorageAccess(_) => KeychainError::Locked,
        E::Ambiguous(_) => KeychainError::Ambiguous,
        E::PlatformFailure(inner) => KeychainError::Other(one_line(&inner.to_string())),
        E::NoDefaultStore | E::NotSupportedByStore(_) => {
            KeychainError::Unavailable(one_line(&e.to_string()))
        }
        E::BadEncoding(_) | E::BadDataFormat(..) => KeychainError::NotAKey,
        E::BadStoreFormat(_) | E::TooLong(..) | E::Invalid(..) => {
            KeychainError::Other(one_line(&e.to_string()))
        }
        // A variant added later: its payload is unknown, so say nothing of it.
        _ => KeychainError::Other("unexpected keychain failure".to_owned()),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn seconds(d: &Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Parses exactly 64 lowercase hex digits.
fn parse_kek(text: &str) -> Option<SecretKey> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (out, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *out = nibble(*hi)? << 4 | nibble(*lo)?;
    }
    Some(SecretKey::from_bytes(*key))
}

/// An [`Unlocker`] that answers keychain slots from the OS keychain and
/// asks `inner` for everything else (passphrase, recovery key), so a
/// caller wraps its passphrase source:
///
/// ```no_run
/// use credvault::slots::keychain::KeychainUnlocker;
/// use credvault::{Passphrase, PassphraseUnlocker, Vault};
///
/// # fn main() -> Result<(), credvault::VaultError> {
/// let inner = PassphraseUnlocker::new(Passphrase::from("fallback"));
/// let vault = Vault::open("v.cvault".as_ref(), &mut KeychainUnlocker::new(inner))?;
/// # Ok(()) }
/// ```
///
/// It connects on the first keychain slot, once, and only reads items of
/// service [`SERVICE`]: a slot naming another service (a crafted file
/// trying to make us read another program's secret) is refused.
pub struct KeychainUnlocker<U> {
    inner: U,
    keychain: Connection,
}

enum Connection {
    Pending(Duration),
    Ready(Keychain),
    Failed(String),
}

impl<U: Unlocker> KeychainUnlocker<U> {
    /// Wraps `inner`; connects with [`DEFAULT_TIMEOUT`] when first needed.
    pub fn new(inner: U) -> Self {
        Self::with_timeout(inner, DEFAULT_TIMEOUT)
    }

    /// Wraps `inner`; connects with `timeout` when first needed.
    pub fn with_timeout(inner: U, timeout: Duration) -> Self {
        KeychainUnlocker {
            inner,
            keychain: Connection::Pending(timeout),
        }
    }

    /// Wraps `inner` and uses an existing connection.
    pub fn with_keychain(inner: U, keychain: Keychain) -> Self {
        KeychainUnlocker {
            inner,
            keychain: Connection::Ready(keychain),
        }
    }

    /// The wrapped unlocker.
    pub fn into_inner(self) -> U {
        self.inner
    }
}

impl<U: Unlocker> Unlocker for KeychainUnlocker<U> {
    fn passphrase(&mut self) -> Option<Passphrase> {
        self.inner.passphrase()
    }

    fn recovery_key(&mut self) -> Option<RecoveryKey> {
        self.inner.recovery_key()
    }

    fn keychain_key(&mut self, service: &str, account: &str) -> Result<SecretKey, String> {
        if service != SERVICE {
            return Err(format!(
                "the keychain slot names service {service:?}, not {SERVICE:?}; refusing to read another program's item"
            ));
        }
        if let Connection::Pending(timeout) = self.keychain {
            self.keychain = match Keychain::connect(timeout) {
                Ok(k) => Connection::Ready(k),
                Err(e) => Connection::Failed(e.to_string()),
            };
        }
        match &self.keychain {
            Connection::Ready(k) => k.load_kek(service, account).map_err(|e| e.to_string()),
            Connection::Failed(reason) => Err(reason.clone()),
            Connection::Pending(_) => Err("the OS keychain was not connected".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_text_round_trips_and_is_strict() {
        let key = SecretKey::from_bytes(core::array::from_fn(|i| (i * 37) as u8));
        let text = hex_lower(key.expose());
        assert_eq!(text.len(), 64);
        assert!(text
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(parse_kek(&text).unwrap().expose(), key.expose());
        assert!(parse_kek(&text.to_uppercase()).is_none());
        assert!(parse_kek(&text[..62]).is_none());
        assert!(parse_kek(&format!("{text}\n")).is_none());
        assert!(parse_kek(&format!("{}zz", &text[..62])).is_none());
        assert!(parse_kek("").is_none());
        // A multi-byte character of the right byte length is no digit pair.
        assert!(parse_kek(&format!("é{}", &text[..62])).is_none());
    }

    #[test]
    fn timeouts_read_in_seconds() {
        let e = KeychainError::Timeout(DEFAULT_TIMEOUT);
        assert_eq!(e.to_string(), "the OS keychain did not answer within 3 s");
        let e = KeychainError::Timeout(Duration::from_millis(1500));
        assert_eq!(e.to_string(), "the OS keychain did not answer within 1.5 s");
    }

    #[test]
    fn a_slow_call_is_given_up_and_blocks_later_calls_until_it_ends() {
        let stalled = Arc::new(AtomicUsize::new(0));
        let t = Duration::from_millis(50);
        let slow = with_timeout(&stalled, t, || {
            std::thread::sleep(Duration::from_secs(3));
            Ok(1)
        });
        assert!(matches!(slow, Err(KeychainError::Timeout(_))));
        // While the slow call still runs, a call that would answer at once
        // is refused without being run, even with a long timeout (no timed
        // assertion: it would have returned Ok(2) had it run).
        assert!(matches!(
            with_timeout(&stalled, Duration::from_secs(60), || Ok(2)),
            Err(KeychainError::Timeout(_))
        ));
        while stalled.load(Ordering::SeqCst) != 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(with_timeout(&stalled, t, || Ok(3)).unwrap(), 3);
        assert_eq!(stalled.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn store_errors_never_show_item_bytes() {
        let e = map_error(keyring_core::Error::BadEncoding(b"\xffsecret".to_vec()));
        assert!(matches!(e, KeychainError::NotAKey));
        assert!(!e.to_string().contains("secret"));
        assert!(matches!(
            map_error(keyring_core::Error::Ambiguous(Vec::new())),
            KeychainError::Ambiguous
        ));
    }
}
