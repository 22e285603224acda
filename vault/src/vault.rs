//! The engine: create, open and unlock a vault; read values; change them in
//! locked, atomic saves that re-read the file first (FORMAT.md §7).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::crypto::{self, kdf, ExcessiveWork, KdfLimits, Passphrase, SecretKey, SecretValue};
use crate::format::body::Change;
use crate::format::{
    self, limits, Body, Entry, FormatError, Header, KdfParams, KeyName, Kind, Metadata, NameError,
};
use crate::format::{SealedValue, Slot, SlotKind};
use crate::slots::{self, RecoveryKey, Unlocker};
use crate::store::{self, generations, FaultInjector, StoreError, VaultLock};

// Backups, verification and restore; rewrap and rekey. Child modules, so
// they reach the engine's private parts.
mod backup;
mod locked;
mod merge;
mod rekey;
pub use backup::{kept_copies, Backup, BackupOptions, KeptCopy, Restored, SlotRef, Verified};
pub use locked::Locked;
pub use merge::{CopyMerge, MergeOptions, MergeReport};
pub use rekey::{RekeyOptions, Rekeyed, RekeyedSlot, UnavailableSlot};

#[cfg(feature = "keychain")]
use crate::slots::keychain::{self, Keychain, KeychainError};

/// HKDF info of the body key (FORMAT.md §4.7).
const BODY_INFO: &[u8] = b"credvault/v1/body";
/// HKDF info of the value key (FORMAT.md §4.7).
const VALUE_INFO: &[u8] = b"credvault/v1/value";
/// Prefix of a sealed value's associated data (FORMAT.md §5.3).
const VALUE_AAD_PREFIX: &[u8] = b"credvault/v1/value\0";

/// Why a vault could not be unlocked. Never says which check failed inside
/// a slot: a wrong credential and a tampered slot look the same.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    /// No credential was available for any slot of the vault (and the
    /// keychain, if the vault has keychain slots, did not open one).
    #[error(
        "no credential available to unlock the vault (slots: {slots}){}",
        keychain.as_deref().map(|k| format!("; keychain: {k}")).unwrap_or_default()
    )]
    NoCredentials {
        /// The slot types present, e.g. "passphrase, recovery".
        slots: String,
        /// Why the keychain slots did not open the vault, when it has any.
        keychain: Option<String>,
    },
    /// Credentials were tried and none opened a slot: a wrong passphrase or
    /// recovery code, or a tampered slot.
    #[error("wrong passphrase or key, or the key slot was tampered with")]
    WrongKeyOrTampered,
    /// A slot asks for more KDF work than allowed; nothing was computed.
    #[error(transparent)]
    ExcessiveWork(#[from] ExcessiveWork),
    /// The header has only slot types this version does not know.
    #[error("no key slot of a type this credvault knows (made by a newer credvault?)")]
    NoUsableSlot,
    /// The keychain slots failed and no other slot could be tried.
    #[error("keychain: {0}")]
    Keychain(String),
    /// The passphrase opened none of the passphrase slots tried, and some
    /// were not tried: one open runs Argon2id a bounded number of times
    /// and for bounded work in total (FORMAT.md §6.3).
    #[error("the passphrase opened none of the passphrase slots tried; {skipped} more were not tried: one open runs Argon2id at most {max} times, for at most the work of one slot at this reader's limits", max = crate::crypto::kdf::MAX_RUNS_PER_OPEN)]
    WorkBudget {
        /// Passphrase slots left untried.
        skipped: usize,
    },
}

/// Every error of the engine, by layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The file is not a valid vault (not a vault, newer version, corrupt).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The vault could not be unlocked.
    #[error(transparent)]
    Unlock(#[from] UnlockError),
    /// A slot opened but the body failed authentication: the file was
    /// tampered with or damaged.
    #[error("vault is tampered or damaged: authentication failed")]
    Tampered,
    /// The file on disk was replaced by another vault or re-keyed since it
    /// was opened; reopen it.
    #[error("the vault file changed underneath: replaced, re-keyed by another process, or tampered with; open it again")]
    KeyChanged,
    /// File-system failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An invalid key name.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// A value above the format's limit.
    #[error("value is {len} bytes, above the limit of {max}")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The vault has no slot with this id.
    #[error("no key slot with id {0}")]
    NoSuchSlot(u32),
    /// Removing this slot would leave no slot that can open the vault.
    #[error("refusing to remove the last slot that can open the vault")]
    LastSlot,
    /// The header cannot hold another slot.
    #[error("the vault already has the maximum of {0} key slots")]
    TooManySlots(usize),
    /// The OS keychain failed while adding a keychain slot.
    #[cfg(feature = "keychain")]
    #[error("keychain: {0}")]
    Keychain(#[from] KeychainError),
    /// A backup would have no passphrase or recovery slot, so nothing could
    /// open it on another machine.
    #[error(
        "the backup would have no passphrase or recovery slot: no other machine could open it"
    )]
    NoPortableSlot,
    /// A rekey cannot wrap the new data key for these slots: their
    /// credential is not available (nothing was changed).
    #[error("cannot wrap the new data key for {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    SlotsUnavailable(Vec<UnavailableSlot>),
    /// A merge was given a copy of another vault (its vault id differs).
    #[error("the other file is a different vault (its vault id differs): only copies of the same vault can be merged")]
    DifferentVault,
    /// After a merge, the vault read back from disk did not hold what was
    /// merged into it; the copy was kept.
    #[error("the merged vault, read back from disk, does not hold everything merged into it")]
    MergeUnverified,
    /// The slot is not of the type the operation needs.
    #[error("slot {id} is not a {expected} slot")]
    WrongSlotType {
        /// The slot id.
        id: u32,
        /// The type needed.
        expected: &'static str,
    },
    /// The vault's save counter is below the highest one seen on this
    /// machine for its id: the file was replaced by an older copy of
    /// itself (FORMAT.md §9.2).
    #[error("the vault was rolled back: its save counter is {found}, but this machine has seen {seen}; an older copy of it (a generation, a backup, a sync) replaced the newer one, which may undo a passphrase change or a removed slot")]
    RolledBack {
        /// The counter of the file now.
        found: u64,
        /// The highest counter seen before.
        seen: u64,
    },
}

/// Options for opening a vault.
#[derive(Clone)]
pub struct OpenOptions {
    /// The most Argon2id work accepted from the file.
    pub kdf_limits: KdfLimits,
    /// How long a save waits for another writer's lock.
    pub lock_timeout: Duration,
    /// Fails storage steps on purpose (tests of crashes and full disks);
    /// `None`, the default, in real use.
    pub fault_injector: Option<Arc<dyn FaultInjector>>,
    /// How many earlier versions every save keeps beside the vault as
    /// `<vault>.1` (newest) … `<vault>.N` ([`generations`]); 0 keeps none.
    /// Default [`generations::DEFAULT_GENERATIONS`] (3).
    pub generations: usize,
    /// Rollback detection (FORMAT.md §9.2): the highest save counter seen
    /// per vault id is kept here; an open of a vault whose counter is
    /// lower fails with [`VaultError::RolledBack`]. `None` (the library's
    /// default) checks nothing; the CLI and the Node module use
    /// [`Marks::default_location`](store::marks::Marks::default_location).
    pub rollback: Option<store::marks::Marks>,
    /// Accept a counter below the mark once and move the mark down to it
    /// (the user put an older copy in place on purpose).
    pub accept_rollback: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            kdf_limits: KdfLimits::default(),
            lock_timeout: Duration::from_secs(10),
            fault_injector: None,
            generations: generations::DEFAULT_GENERATIONS,
            rollback: None,
            accept_rollback: false,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("kdf_limits", &self.kdf_limits)
            .field("lock_timeout", &self.lock_timeout)
            .field("fault_injector", &self.fault_injector.is_some())
            .field("generations", &self.generations)
            .field("rollback", &self.rollback)
            .field("accept_rollback", &self.accept_rollback)
            .finish()
    }
}

/// The data key and the subkeys derived from it (FORMAT.md §4.7).
pub(crate) struct Keys {
    pub(crate) dek: SecretKey,
    body: SecretKey,
    pub(crate) value: SecretKey,
}

impl Keys {
    pub(crate) fn derive(dek: SecretKey, vault_id: &[u8; 16]) -> Keys {
        let body = crypto::hkdf(dek.expose(), vault_id, BODY_INFO);
        let value = crypto::hkdf(dek.expose(), vault_id, VALUE_INFO);
        Keys { dek, body, value }
    }
}

/// The pure encoding of a whole file (FORMAT.md §2): prefix, header, and
/// the body sealed under the body key with `prefix || header` as
/// associated data. `header.body_nonce` is used as the nonce and
/// `header.body_len` is set here. Public so the vector generator and tools
/// can build files byte for byte.
pub fn seal_file(header: &mut Header, minor: u8, body: &Body, dek: &SecretKey) -> Vec<u8> {
    let plain = zeroize::Zeroizing::new(body.encode());
    seal_plain(header, minor, &plain, dek)
}

/// [`seal_file`] of an encoded body plaintext.
fn seal_plain(header: &mut Header, minor: u8, plain: &[u8], dek: &SecretKey) -> Vec<u8> {
    let keys = Keys::derive(dek.clone(), &header.vault_id);
    header.body_len = (plain.len() + format::TAG_LEN) as u64;
    let mut out = format::encode_aad(header);
    if minor != format::MINOR_VERSION {
        out[9] = minor;
    }
    // One buffer for the whole file: the body is copied in after the header
    // and encrypted where it lies, then the tag is appended.
    let aad_len = out.len();
    out.reserve_exact(plain.len() + format::TAG_LEN);
    out.extend_from_slice(plain);
    let (aad, buf) = out.split_at_mut(aad_len);
    let tag = crypto::seal_in_place(&keys.body, &header.body_nonce, aad, buf);
    out.extend_from_slice(&tag);
    out
}

/// Where the parts of a parsed file lie in its bytes, so the body can be
/// decrypted in place once the parse's borrow has ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    aad_len: usize,
    body_len: usize,
}

impl Layout {
    /// The layout of `parsed`, whose `aad` and `body_ciphertext` are
    /// consecutive slices of the file, in that order (FORMAT.md §2).
    pub(crate) fn of(parsed: &format::ParsedFile<'_>) -> Layout {
        Layout {
            aad_len: parsed.aad.len(),
            body_len: parsed.body_ciphertext.len(),
        }
    }
}

/// Decrypts the body of the file `bytes` in place and decodes it
/// (FORMAT.md §5). `bytes` must be the bytes `layout` and `header` were
/// parsed from. The plaintext is left in `bytes` (callers hold them in a
/// `Zeroizing` buffer); on an authentication failure nothing is decrypted.
pub(crate) fn open_body_in_place(
    bytes: &mut [u8],
    layout: Layout,
    header: &Header,
    keys: &Keys,
) -> Result<Body, VaultError> {
    let range = decrypt_body_in_place(bytes, layout, header, keys)?;
    let plain = bytes.get(range).ok_or(VaultError::Tampered)?;
    Ok(Body::decode(plain)?)
}

/// [`open_body_in_place`], keeping the plaintext in a checked
/// [`BodyIndex`](format::body::BodyIndex) instead of decoding every entry.
fn open_body_indexed(
    mut bytes: zeroize::Zeroizing<Vec<u8>>,
    layout: Layout,
    header: &Header,
    keys: &Keys,
) -> Result<format::body::BodyIndex, VaultError> {
    let range = decrypt_body_in_place(&mut bytes, layout, header, keys)?;
    Ok(format::body::BodyIndex::new(bytes, range)?)
}

/// Decrypts the body ciphertext of the file `bytes` in place; returns where
/// the plaintext lies.
fn decrypt_body_in_place(
    bytes: &mut [u8],
    layout: Layout,
    header: &Header,
    keys: &Keys,
) -> Result<std::ops::Range<usize>, VaultError> {
    let (aad, rest) = bytes.split_at_mut(layout.aad_len);
    let ct_len = layout
        .body_len
        .checked_sub(format::TAG_LEN)
        .ok_or(VaultError::Tampered)?;
    let (ct, rest) = rest.split_at_mut(ct_len);
    let tag: &[u8; format::TAG_LEN] = rest
        .get(..format::TAG_LEN)
        .and_then(|t| t.try_into().ok())
        .ok_or(VaultError::Tampered)?;
    crypto::open_in_place(&keys.body, &header.body_nonce, aad, ct, tag)
        .map_err(|_| VaultError::Tampered)?;
    Ok(layout.aad_len..layout.aad_len + ct_len)
}

/// Decrypts and decodes the body of a parsed file with the data key.
pub(crate) fn open_body(parsed: &format::ParsedFile<'_>, keys: &Keys) -> Result<Body, VaultError> {
    let plain = crypto::open(
        &keys.body,
        &parsed.header.body_nonce,
        parsed.aad,
        parsed.body_ciphertext,
    )
    .map_err(|_| VaultError::Tampered)?;
    Ok(Body::decode(&plain)?)
}

/// Seals `value` for entry `name` under the value key (FORMAT.md §5.3).
pub fn seal_value(
    value_key: &SecretKey,
    name: &KeyName,
    value: &[u8],
    nonce: [u8; 24],
) -> SealedValue {
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&crypto::seal(value_key, &nonce, &value_aad(name), value));
    // nonce + tag + value within MAX_VALUE_LEN (checked by callers).
    #[allow(clippy::expect_used)]
    SealedValue::new(sealed).expect("value length checked before sealing")
}

/// Opens the sealed value of `entry`, named `name` (FORMAT.md §5.3).
pub(crate) fn unseal(
    value_key: &SecretKey,
    name: &KeyName,
    entry: &Entry,
) -> Result<SecretValue, VaultError> {
    unseal_bytes(value_key, name, entry.value.as_bytes())
}

/// [`unseal`] of the sealed bytes of a value (at least 40 bytes, as the
/// body reader checks).
fn unseal_bytes(
    value_key: &SecretKey,
    name: &KeyName,
    sealed: &[u8],
) -> Result<SecretValue, VaultError> {
    if sealed.len() < format::SealedValue::MIN_LEN {
        return Err(VaultError::Tampered);
    }
    let (nonce, ct) = sealed.split_at(format::NONCE_LEN);
    // split_at of a SealedValue (>= 40 bytes) leaves exactly 24 bytes.
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| VaultError::Tampered)?;
    let plain =
        crypto::open(value_key, &nonce, &value_aad(name), ct).map_err(|_| VaultError::Tampered)?;
    Ok(SecretValue::from(plain))
}

fn value_aad(name: &KeyName) -> Vec<u8> {
    let mut aad = VALUE_AAD_PREFIX.to_vec();
    aad.extend_from_slice(name.as_str().as_bytes());
    aad
}

/// Derives the value key of a vault (for tools that seal values directly).
pub fn value_key(dek: &SecretKey, vault_id: &[u8; 16]) -> SecretKey {
    crypto::hkdf(dek.expose(), vault_id, VALUE_INFO)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where a new slot's key-encryption key comes from.
pub enum NewSlot<'a> {
    /// A passphrase slot with these Argon2id parameters.
    Passphrase(&'a Passphrase, KdfParams),
    /// A recovery slot for this recovery key.
    Recovery(&'a RecoveryKey),
    /// A keychain slot whose random KEK the caller stored under
    /// `service`/`account` in the OS keychain.
    Keychain {
        /// Keychain service.
        service: &'a str,
        /// Keychain account.
        account: &'a str,
        /// The key-encryption key kept in the keychain.
        kek: &'a SecretKey,
    },
}

/// Options for a set: the entry's non-secret attributes.
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    /// Entry kind; `secret` when `None` on a new entry, unchanged on an
    /// existing one.
    pub kind: Option<Kind>,
    /// Expiry, Unix milliseconds.
    pub expires_ms: Option<u64>,
    /// Metadata; unchanged on an existing entry when `None`.
    pub metadata: Option<Metadata>,
}

enum Op {
    Set {
        name: KeyName,
        value: SealedValue,
        options: SetOptions,
    },
    Delete {
        name: KeyName,
    },
}

/// What a committed transaction changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// Names whose delete found nothing to delete.
    pub not_found: Vec<KeyName>,
    /// Whether a save happened (false when nothing changed).
    pub saved: bool,
}

/// An open, unlocked vault. Values stay sealed in memory; [`Vault::get`]
/// unseals one at a time.
pub struct Vault {
    path: PathBuf,
    minor: u8,
    header: Header,
    body: Contents,
    keys: Keys,
    unlocked_by: u32,
    options: OpenOptions,
    /// Whether `body` is the body of the file whose header is `header`, as
    /// last read or written. A save then skips decrypting the file again
    /// when its prefix and header are unchanged (FORMAT.md §7); false after
    /// a failed save whose changes could not be rolled back.
    body_is_current: bool,
    /// The next save revokes a credential (issue 13): it purges every kept
    /// copy (generations, `.bak-*`) under its lock and keeps none of the
    /// file it replaces, so nothing credvault keeps opens with the revoked
    /// credential.
    revoking: bool,
    /// The kept copies a revoking save removed, for [`Vault::take_purged`].
    purged: std::sync::Mutex<Vec<PathBuf>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("save_counter", &self.header.save_counter)
            .field("entries", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The body of an open vault: as opened (checked and indexed, decoded on
/// first need), or decoded (after a create or a save).
#[derive(Debug)]
enum Contents {
    Indexed(format::body::BodyIndex),
    Decoded(Body),
}

impl Contents {
    fn body(&self) -> &Body {
        match self {
            Contents::Indexed(index) => index.body(),
            Contents::Decoded(body) => body,
        }
    }

    fn take(&mut self) -> Body {
        match std::mem::replace(self, Contents::Decoded(Body::default())) {
            Contents::Indexed(index) => index.into_body(),
            Contents::Decoded(body) => body,
        }
    }

    fn len(&self) -> usize {
        match self {
            Contents::Indexed(index) => index.len(),
            Contents::Decoded(body) => body.entries.len(),
        }
    }

    fn contains(&self, name: &KeyName) -> bool {
        match self {
            Contents::Indexed(index) => index.contains(name),
            Contents::Decoded(body) => body.entries.contains_key(name),
        }
    }

    fn sealed_value(&self, name: &KeyName) -> Option<&[u8]> {
        match self {
            Contents::Indexed(index) => index.sealed_value(name),
            Contents::Decoded(body) => body.entries.get(name).map(|e| e.value.as_bytes()),
        }
    }
}

impl From<Body> for Contents {
    fn from(body: Body) -> Self {
        Contents::Decoded(body)
    }
}

impl Vault {
    /// Creates a new vault at `path` protected by one slot. Fails with
    /// [`StoreError::AlreadyExists`] if anything is there; never overwrites.
    pub fn create(path: &Path, first: NewSlot<'_>) -> Result<Vault, VaultError> {
        Self::create_with(path, first, OpenOptions::default())
    }

    /// [`Vault::create`] with explicit options.
    pub fn create_with(
        path: &Path,
        first: NewSlot<'_>,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        Self::create_with_slots(path, vec![first], options)
    }

    /// Creates a new vault at `path` with `slots` (ids 1, 2, ...), in one
    /// write. Fails like [`Vault::create`]; `slots` must not be empty.
    pub fn create_with_slots(
        path: &Path,
        slots: Vec<NewSlot<'_>>,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        if slots.is_empty() || slots.len() > limits::MAX_SLOTS {
            return Err(VaultError::TooManySlots(limits::MAX_SLOTS));
        }
        Self::create_inner(path, options, |vault_id, dek| {
            (1u32..)
                .zip(slots)
                .map(|(id, slot)| build_slot(id, vault_id, dek, slot))
                .collect()
        })
    }

    /// Creates a new vault at `path` whose first slot (id 1) is a keychain
    /// slot: a fresh random key-encryption key is stored in `keychain`
    /// (service [`keychain::SERVICE`], account
    /// [`keychain::account_name`]`(vault id, 1)`) before the file is
    /// written, and deleted again if writing the file fails. Fails like
    /// [`Vault::create`], or with [`VaultError::Keychain`] when the item
    /// cannot be stored (then no file is written).
    ///
    /// A keychain does not travel with the file: add a passphrase or
    /// recovery slot before relying on backups.
    #[cfg(feature = "keychain")]
    pub fn create_with_keychain(
        path: &Path,
        keychain: &Keychain,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        Self::create_with_keychain_and(path, keychain, Vec::new(), options)
    }

    /// [`Vault::create_with_keychain`] with `more` slots after the keychain
    /// slot (ids 2, 3, ...), in the same write.
    #[cfg(feature = "keychain")]
    pub fn create_with_keychain_and(
        path: &Path,
        keychain: &Keychain,
        more: Vec<NewSlot<'_>>,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        if more.len() >= limits::MAX_SLOTS {
            return Err(VaultError::TooManySlots(limits::MAX_SLOTS));
        }
        let mut stored: Option<String> = None;
        let created = Self::create_inner(path, options, |vault_id, dek| {
            let account = keychain::account_name(vault_id, 1);
            let kek = SecretKey::random();
            keychain.store_kek(keychain::SERVICE, &account, &kek)?;
            let slot = build_slot(
                1,
                vault_id,
                dek,
                NewSlot::Keychain {
                    service: keychain::SERVICE,
                    account: &account,
                    kek: &kek,
                },
            )?;
            stored = Some(account);
            let mut all = vec![slot];
            for (id, new) in (2u32..).zip(more) {
                all.push(build_slot(id, vault_id, dek, new)?);
            }
            Ok(all)
        });
        if let (Err(_), Some(account)) = (&created, stored) {
            // Best effort: the vault was never written, so the item is
            // garbage; the save error is what the caller needs to see.
            // Unless it failed after the file was put in place (at the
            // directory fsync): then the file needs the item.
            if !rekey::keychain_accounts_on_disk(path).contains(&account) {
                let _ = keychain.delete(keychain::SERVICE, &account);
            }
        }
        created
    }

    /// Creates the file under the lock; `first` builds the slots (ids 1,
    /// 2, ...) from the new vault id and data key.
    fn create_inner(
        path: &Path,
        options: OpenOptions,
        first: impl FnOnce(&[u8; 16], &SecretKey) -> Result<Vec<Slot>, VaultError>,
    ) -> Result<Vault, VaultError> {
        store::ensure_dir(path)?;
        // Symlinks resolved once: every side file sits beside the target.
        let path = &store::resolve(path)?;
        let faults = options.fault_injector.as_deref();
        let _lock = VaultLock::acquire_with(path, options.lock_timeout, faults)?;
        if store::exists(path)? {
            return Err(StoreError::AlreadyExists(path.to_owned()).into());
        }
        let vault_id = crypto::random_array::<16>();
        let keys = Keys::derive(SecretKey::random(), &vault_id);
        let slots = first(&vault_id, &keys.dek)?;
        let mut header = Header {
            vault_id,
            save_counter: 1,
            body_nonce: crypto::random_array(),
            body_len: 0,
            slots,
        };
        let body = Body::default();
        let bytes = seal_file(&mut header, format::MINOR_VERSION, &body, &keys.dek);
        store::create_new_with(path, &bytes, faults)?;
        if let Some(marks) = &options.rollback {
            let _ = marks.record(&header.vault_id, path, header.save_counter);
        }
        Ok(Vault {
            path: path.to_owned(),
            minor: format::MINOR_VERSION,
            header,
            body: body.into(),
            keys,
            unlocked_by: 1,
            options,
            body_is_current: true,
            revoking: false,
            purged: std::sync::Mutex::default(),
        })
    }

    /// Opens and unlocks the vault at `path`.
    pub fn open(path: &Path, unlocker: &mut dyn Unlocker) -> Result<Vault, VaultError> {
        Self::open_with(path, unlocker, OpenOptions::default())
    }

    /// [`Vault::open`] with explicit options.
    pub fn open_with(
        path: &Path,
        unlocker: &mut dyn Unlocker,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        // Symlinks resolved once: saves replace the target, not the link.
        let path = &store::resolve(path)?;
        let bytes = zeroize::Zeroizing::new(read_file(path)?);
        let parsed = format::parse_file(&bytes)?;
        let (dek, unlocked_by) = unlock(&parsed.header, unlocker, &options.kdf_limits)?;
        drop(parsed);
        let mut vault = Self::decrypt(path, bytes, dek, options)?;
        vault.unlocked_by = unlocked_by;
        vault.checked()
    }

    /// Opens the vault at `path` with an already unwrapped data key (for
    /// session caches). Fails with [`VaultError::Tampered`] if the key does
    /// not authenticate the body.
    pub fn open_with_key(
        path: &Path,
        dek: SecretKey,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let bytes = read_file(path)?;
        Self::open_bytes_with_key(path, bytes, dek, options)
    }

    /// [`Vault::open_with_key`] on `bytes` already read from `path`; the
    /// body is decrypted in place.
    pub(crate) fn open_bytes_with_key(
        path: &Path,
        bytes: Vec<u8>,
        dek: SecretKey,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let path = &store::resolve(path)?;
        Self::decrypt(path, zeroize::Zeroizing::new(bytes), dek, options)?.checked()
    }

    /// The vault in `bytes` (read from `path`) opened with `dek`, the body
    /// authenticated; no rollback check yet.
    fn decrypt(
        path: &Path,
        bytes: zeroize::Zeroizing<Vec<u8>>,
        dek: SecretKey,
        options: OpenOptions,
    ) -> Result<Vault, VaultError> {
        let parsed = format::parse_file(&bytes)?;
        let layout = Layout::of(&parsed);
        let minor = parsed.prefix.minor;
        let header = parsed.header;
        let keys = Keys::derive(dek, &header.vault_id);
        let body = Contents::Indexed(open_body_indexed(bytes, layout, &header, &keys)?);
        Ok(Vault {
            path: path.to_owned(),
            minor,
            header,
            body,
            keys,
            unlocked_by: 0,
            options,
            body_is_current: true,
            revoking: false,
            purged: std::sync::Mutex::default(),
        })
    }

    /// [`Vault::guard_rollback`], telling a rollback from a race: other
    /// processes may have saved (and raised the mark) between our read of
    /// the file and our read of the mark. The file is then read again and
    /// opened with the same key, as long as its counter keeps rising; a
    /// file that stays below the mark is refused.
    fn checked(self) -> Result<Vault, VaultError> {
        let mut current = self;
        // Each round needs another process to have saved meanwhile.
        for _ in 0..1000 {
            match current.guard_rollback() {
                Err(VaultError::RolledBack { .. }) => {
                    let bytes = zeroize::Zeroizing::new(read_file(&current.path)?);
                    let mut again = Self::decrypt(
                        &current.path,
                        bytes,
                        current.keys.dek.clone(),
                        current.options.clone(),
                    )?;
                    if again.header.save_counter <= current.header.save_counter {
                        return current.guard_rollback().map(|()| current);
                    }
                    again.unlocked_by = current.unlocked_by;
                    current = again;
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(current),
            }
        }
        current.guard_rollback().map(|()| current)
    }

    /// The vault's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header as last read or written.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The format version of the file, `(major, minor)`.
    pub fn format_version(&self) -> (u8, u8) {
        (format::MAJOR_VERSION, self.minor)
    }

    /// The key slots.
    pub fn slots(&self) -> &[Slot] {
        &self.header.slots
    }

    /// The id of the slot that unlocked the vault (0 when opened with a key).
    pub fn unlocked_by(&self) -> u32 {
        self.unlocked_by
    }

    /// The data key, for callers that cache it (session unlock). Handle
    /// with care.
    pub fn data_key(&self) -> &SecretKey {
        &self.keys.dek
    }

    /// Always `true`: a vault is always encrypted; there is no plaintext
    /// mode. (The app's `isEncryptionAvailable()`.)
    pub fn is_encryption_available(&self) -> bool {
        true
    }

    /// Whether a live entry named `name` exists.
    pub fn has(&self, name: &KeyName) -> bool {
        self.body.contains(name)
    }

    /// The entry's non-secret attributes and sealed value.
    pub fn entry(&self, name: &KeyName) -> Option<&Entry> {
        self.body.body().entries.get(name)
    }

    /// Unseals and returns the value of `name`, or `None`.
    pub fn get(&self, name: &KeyName) -> Result<Option<SecretValue>, VaultError> {
        self.body
            .sealed_value(name)
            .map(|sealed| unseal_bytes(&self.keys.value, name, sealed))
            .transpose()
    }

    /// Names of live entries, sorted, optionally only those starting with
    /// `prefix`.
    pub fn list(&self, prefix: Option<&str>) -> Vec<&KeyName> {
        self.body
            .body()
            .entries
            .keys()
            .filter(|k| prefix.is_none_or(|p| k.as_str().starts_with(p)))
            .collect()
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the vault has no live entries.
    pub fn is_empty(&self) -> bool {
        self.body.len() == 0
    }

    /// Names deleted, with their deletion times (Unix milliseconds).
    pub fn tombstones(&self) -> impl Iterator<Item = (&KeyName, u64)> {
        self.body.body().tombstones.iter().map(|(k, t)| (k, *t))
    }

    /// Stores `value` under `name` and saves.
    pub fn set(&mut self, name: &KeyName, value: &SecretValue) -> Result<(), VaultError> {
        let mut tx = self.transaction();
        tx.set(name, value, SetOptions::default())?;
        tx.commit().map(|_| ())
    }

    /// Deletes `name` and saves; `Ok(false)` if it did not exist.
    pub fn delete(&mut self, name: &KeyName) -> Result<bool, VaultError> {
        let mut tx = self.transaction();
        tx.delete(name);
        Ok(tx.commit()?.not_found.is_empty())
    }

    /// Starts a batch of changes saved together by [`Transaction::commit`].
    pub fn transaction(&mut self) -> Transaction<'_> {
        Transaction {
            vault: self,
            ops: Vec::new(),
        }
    }

    /// Re-reads the file (e.g. after another process saved).
    pub fn reload(&mut self) -> Result<(), VaultError> {
        let (header, minor, body) = self.read_fresh()?;
        self.header = header;
        self.minor = minor;
        self.body = body.into();
        self.body_is_current = true;
        Ok(())
    }

    /// Adds a key slot wrapping the same data key; returns its id.
    pub fn add_slot(&mut self, slot: NewSlot<'_>) -> Result<u32, VaultError> {
        self.save_with(|vault_id, header, _body, dek| {
            let id = next_slot_id(header)?;
            header.slots.push(build_slot(id, vault_id, dek, slot)?);
            Ok((id, true))
        })
    }

    /// Adds a keychain slot; returns its id. A fresh random key-encryption
    /// key is stored in `keychain` (service [`keychain::SERVICE`], account
    /// [`keychain::account_name`]`(vault id, slot id)`) first, under the
    /// vault's lock, then the header is saved; if the save fails the item
    /// is deleted again. Nothing is saved when the item cannot be stored
    /// ([`VaultError::Keychain`]).
    #[cfg(feature = "keychain")]
    pub fn add_keychain_slot(&mut self, keychain: &Keychain) -> Result<u32, VaultError> {
        let mut stored: Option<String> = None;
        let added = self.save_with(|vault_id, header, _body, dek| {
            let id = next_slot_id(header)?;
            let account = keychain::account_name(vault_id, id);
            let kek = SecretKey::random();
            keychain.store_kek(keychain::SERVICE, &account, &kek)?;
            stored = Some(account.clone());
            let slot = NewSlot::Keychain {
                service: keychain::SERVICE,
                account: &account,
                kek: &kek,
            };
            header.slots.push(build_slot(id, vault_id, dek, slot)?);
            Ok((id, true))
        });
        if let (Err(_), Some(account)) = (&added, stored) {
            // Best effort, as in `create_with_keychain`.
            if !rekey::keychain_accounts_on_disk(&self.path).contains(&account) {
                let _ = keychain.delete(keychain::SERVICE, &account);
            }
        }
        added
    }

    /// Removes slot `id`. Refuses to remove the last slot of a known type.
    /// The OS keychain is not touched: for a keychain slot, see
    /// `Vault::remove_slot_with_keychain` (feature `keychain`).
    pub fn remove_slot(&mut self, id: u32) -> Result<(), VaultError> {
        self.remove_slot_inner(id).map(|_| ())
    }

    /// Removes slot `id` like [`Vault::remove_slot`] and then, if it was a
    /// keychain slot, deletes its item from `keychain`. The item is deleted
    /// only after the save succeeded; a failure to delete it does not undo
    /// the save and is reported in the returned [`KeychainCleanup`].
    #[cfg(feature = "keychain")]
    pub fn remove_slot_with_keychain(
        &mut self,
        id: u32,
        keychain: &Keychain,
    ) -> Result<KeychainCleanup, VaultError> {
        let removed = self.remove_slot_inner(id)?;
        let SlotKind::Keychain(k) = &removed.kind else {
            return Ok(KeychainCleanup::NotKeychain);
        };
        // Only ever delete the item credvault wrote for this very slot: a
        // crafted file must not make us delete another program's item or
        // another vault's.
        let ours = keychain::account_name(&self.header.vault_id, removed.id);
        if k.service != keychain::SERVICE || k.account != ours {
            return Ok(KeychainCleanup::NotOurs);
        }
        Ok(match keychain.delete(&k.service, &k.account) {
            Ok(true) => KeychainCleanup::Deleted,
            Ok(false) => KeychainCleanup::AlreadyGone,
            Err(e) => KeychainCleanup::Failed(e),
        })
    }

    /// Removes slot `id` and saves; returns the removed slot.
    fn remove_slot_inner(&mut self, id: u32) -> Result<Slot, VaultError> {
        self.revoking(|v| v.remove_slot_save(id))
    }

    fn remove_slot_save(&mut self, id: u32) -> Result<Slot, VaultError> {
        self.save_with(|_, header, _body, _dek| {
            let at = header
                .slots
                .iter()
                .position(|s| s.id == id)
                .ok_or(VaultError::NoSuchSlot(id))?;
            let known_left = header
                .slots
                .iter()
                .filter(|s| s.id != id && !matches!(s.kind, SlotKind::Unknown { .. }))
                .count();
            if known_left == 0 {
                return Err(VaultError::LastSlot);
            }
            Ok((header.slots.remove(at), true))
        })
    }

    /// Reads the file under the lock, checks it is still this vault under
    /// this key, lets `change` edit header and body, and saves if it says so.
    fn save_with<T>(
        &mut self,
        change: impl FnOnce(
            &[u8; 16],
            &mut Header,
            &mut Body,
            &SecretKey,
        ) -> Result<(T, bool), VaultError>,
    ) -> Result<T, VaultError> {
        let faults = self.options.fault_injector.as_deref();
        let _lock = VaultLock::acquire_with(&self.path, self.options.lock_timeout, faults)?;
        let mut bytes = zeroize::Zeroizing::new(read_file(&self.path)?);
        let fresh = format::parse_file(&bytes)?;
        if fresh.header.vault_id != self.header.vault_id {
            return Err(VaultError::KeyChanged);
        }
        // FORMAT.md §7 step 1. Every save writes a fresh random body nonce
        // into the header, so an unchanged prefix and header means the file
        // is the one this vault last read or wrote, and the body in memory
        // is its body: no need to decrypt and decode it again.
        let unchanged = self.body_is_current
            && fresh.prefix.minor == self.minor
            && fresh.aad == self.aad().as_slice();
        drop(fresh);
        let (mut header, minor, mut body) = if unchanged {
            (self.header.clone(), self.minor, self.body.take())
        } else {
            self.decode_fresh(&mut bytes)?
        };
        let result = self.change_and_write(&mut header, minor, &mut body, change);
        match result {
            Ok((out, saved)) => {
                if let Some(minor) = saved {
                    self.minor = minor;
                }
                self.header = header;
                self.body = body.into();
                self.body_is_current = true;
                Ok(out)
            }
            Err(e) => {
                if unchanged {
                    // `change` may have edited the body taken from `self`:
                    // go back to the file's, which is still in `bytes`.
                    match self.decode_fresh(&mut bytes) {
                        Ok((_, _, original)) => self.body = original.into(),
                        Err(_) => {
                            self.body = body.into();
                            self.body_is_current = false;
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// Lets `change` edit header and body and, if it says so, seals and
    /// writes them; returns its output and the minor written, if any.
    fn change_and_write<T>(
        &self,
        header: &mut Header,
        minor: u8,
        body: &mut Body,
        change: impl FnOnce(
            &[u8; 16],
            &mut Header,
            &mut Body,
            &SecretKey,
        ) -> Result<(T, bool), VaultError>,
    ) -> Result<(T, Option<u8>), VaultError> {
        let vault_id = header.vault_id;
        let (out, changed) = change(&vault_id, header, body, &self.keys.dek)?;
        if !changed {
            return Ok((out, None));
        }
        header.save_counter = header.save_counter.saturating_add(1);
        header.body_nonce = crypto::random_array();
        // A file of a newer minor keeps its minor: this writer preserves
        // the slots it does not know (FORMAT.md §2.2).
        #[allow(clippy::unnecessary_min_or_max)]
        let minor = minor.max(format::MINOR_VERSION);
        let bytes = seal_file(header, minor, body, &self.keys.dek);
        self.replace_file(header, &bytes)?;
        Ok((out, Some(minor)))
    }

    /// Puts the sealed file `bytes` (whose header is `header`) in place of
    /// the vault, keeping generations; the caller holds the lock. A writer
    /// never produces a file no reader accepts (FORMAT.md §6.1).
    pub(crate) fn replace_file(&self, header: &Header, bytes: &[u8]) -> Result<(), VaultError> {
        if header.body_len > limits::MAX_BODY_LEN + format::TAG_LEN as u64 {
            return Err(FormatError::TooLarge {
                what: "body length",
                found: header.body_len - format::TAG_LEN as u64,
                max: limits::MAX_BODY_LEN,
            }
            .into());
        }
        let faults = self.options.fault_injector.as_deref();
        if self.revoking {
            // Purge first: at no moment does a kept copy open with the
            // revoked credential while the live vault no longer does.
            let dropped = generations::purge(&self.path)?;
            store::replace_with(&self.path, bytes, faults)?;
            if let Ok(mut purged) = self.purged.lock() {
                purged.extend(dropped);
            }
        } else {
            generations::replace_keeping(&self.path, bytes, self.options.generations, faults)?;
        }
        self.raise_mark(header);
        Ok(())
    }

    /// Runs `op` as a revoking change: its save purges every kept copy
    /// (see [`Vault::take_purged`]).
    pub(crate) fn revoking<T>(
        &mut self,
        op: impl FnOnce(&mut Vault) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.revoking = true;
        let out = op(self);
        self.revoking = false;
        out
    }

    /// The kept copies (generations `VAULT.N`, `VAULT.bak-*`) removed by
    /// the last revoking operation of this handle — `rewrap_slot`,
    /// `remove_slot`, `replace_recovery`, `rekey` — since they still
    /// opened with the revoked credential. Empties the list.
    pub fn take_purged(&mut self) -> Vec<PathBuf> {
        self.purged
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Removes every kept copy of the vault (generations and `.bak-*`)
    /// under the vault's lock; returns what was removed.
    pub fn purge_kept(&self) -> Result<Vec<PathBuf>, VaultError> {
        let faults = self.options.fault_injector.as_deref();
        let _lock = VaultLock::acquire_with(&self.path, self.options.lock_timeout, faults)?;
        Ok(generations::purge(&self.path)?)
    }

    /// FORMAT.md §9.2, on an open: a counter below this machine's mark is
    /// refused (unless accepted on purpose); a higher one raises the mark.
    /// Called after the body authenticated, so the counter is genuine.
    fn guard_rollback(&self) -> Result<(), VaultError> {
        let Some(marks) = &self.options.rollback else {
            return Ok(());
        };
        let (id, counter) = (&self.header.vault_id, self.header.save_counter);
        if self.options.accept_rollback {
            marks.reset(id, &self.path, counter)?;
            return Ok(());
        }
        match marks.seen(id, &self.path)? {
            Some(seen) if counter < seen => Err(VaultError::RolledBack {
                found: counter,
                seen,
            }),
            Some(seen) if counter == seen => Ok(()),
            // Best effort: a read-only state directory must not stop reads.
            _ => {
                let _ = marks.record(id, &self.path, counter);
                Ok(())
            }
        }
    }

    /// After a save: the mark follows the new counter (best effort; the
    /// save itself succeeded).
    pub(crate) fn raise_mark(&self, header: &Header) {
        if let Some(marks) = &self.options.rollback {
            let _ = marks.record(&header.vault_id, &self.path, header.save_counter);
        }
    }

    /// The prefix and header bytes of the file this vault last read or
    /// wrote (the body's associated data, FORMAT.md §5).
    fn aad(&self) -> Vec<u8> {
        let mut aad = format::encode_aad(&self.header);
        if let Some(minor) = aad.get_mut(9) {
            *minor = self.minor;
        }
        aad
    }

    /// Reads the file (under the caller's lock) and decodes it with
    /// [`Vault::decode_fresh`].
    pub(crate) fn read_fresh(&self) -> Result<(Header, u8, Body), VaultError> {
        let mut bytes = zeroize::Zeroizing::new(read_file(&self.path)?);
        self.decode_fresh(&mut bytes)
    }

    /// Parses the file `bytes` read under the lock, checks it is still this
    /// vault under this key and decrypts (in place) and decodes its body.
    fn decode_fresh(&self, bytes: &mut [u8]) -> Result<(Header, u8, Body), VaultError> {
        let parsed = format::parse_file(bytes)?;
        if parsed.header.vault_id != self.header.vault_id {
            return Err(VaultError::KeyChanged);
        }
        let layout = Layout::of(&parsed);
        let minor = parsed.prefix.minor;
        let header = parsed.header;
        let body = open_body_in_place(bytes, layout, &header, &self.keys).map_err(|e| match e {
            VaultError::Tampered => VaultError::KeyChanged,
            other => other,
        })?;
        Ok((header, minor, body))
    }
}

/// A batch of changes applied to the freshly re-read vault in one locked
/// save. Values are sealed as soon as they are added.
pub struct Transaction<'v> {
    vault: &'v mut Vault,
    ops: Vec<Op>,
}

impl Transaction<'_> {
    /// Adds a set of `name` to `value`.
    pub fn set(
        &mut self,
        name: &KeyName,
        value: &SecretValue,
        options: SetOptions,
    ) -> Result<(), VaultError> {
        if value.len() > limits::MAX_VALUE_LEN {
            return Err(VaultError::ValueTooLarge {
                len: value.len(),
                max: limits::MAX_VALUE_LEN,
            });
        }
        let sealed = seal_value(
            &self.vault.keys.value,
            name,
            value.expose(),
            crypto::random_array(),
        );
        self.ops.push(Op::Set {
            name: name.clone(),
            value: sealed,
            options,
        });
        Ok(())
    }

    /// Adds a delete of `name`.
    pub fn delete(&mut self, name: &KeyName) {
        self.ops.push(Op::Delete { name: name.clone() });
    }

    /// Number of changes queued.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no change is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Takes the lock, re-reads the vault, applies the changes in order and
    /// saves atomically. Nothing is saved if a step fails.
    pub fn commit(self) -> Result<Committed, VaultError> {
        if let Some(committed) = self.vault.commit_patched(&self.ops)? {
            return Ok(committed);
        }
        let ops = self.ops;
        self.vault.save_with(move |_, _header, body, _dek| {
            let (changes, committed) = plan(&ops, now_ms(), |name| body.entries.get(name).cloned());
            body.apply(changes);
            if body.entries.len() + body.tombstones.len() > limits::MAX_RECORDS {
                return Err(FormatError::TooLarge {
                    what: "entry and tombstone count",
                    found: (body.entries.len() + body.tombstones.len()) as u64,
                    max: limits::MAX_RECORDS as u64,
                }
                .into());
            }
            let saved = committed.saved;
            Ok((committed, saved))
        })
    }
}

/// Turns a transaction's `ops`, applied in order, into one change per name
/// against the live entries `live` returns, and what the commit reports.
/// A set merges its options over the entry it replaces; a delete of a name
/// that is not live (any more) is reported not found and changes nothing.
fn plan(
    ops: &[Op],
    now: u64,
    live: impl Fn(&KeyName) -> Option<Entry>,
) -> (BTreeMap<KeyName, Change>, Committed) {
    let mut committed = Committed::default();
    let mut changes: BTreeMap<KeyName, Change> = BTreeMap::new();
    for op in ops {
        let (name, earlier) = match op {
            Op::Set { name, .. } | Op::Delete { name } => (name, changes.get(name)),
        };
        let current = match earlier {
            Some(Change::Set(entry)) => Some(entry.clone()),
            Some(Change::Delete(_)) => None,
            None => live(name),
        };
        match op {
            Op::Set {
                name,
                value,
                options,
            } => {
                let entry = merged_entry(current, value.clone(), options.clone(), now);
                changes.insert(name.clone(), Change::Set(entry));
                committed.saved = true;
            }
            Op::Delete { name } => {
                if current.is_some() {
                    changes.insert(name.clone(), Change::Delete(now));
                    committed.saved = true;
                } else {
                    committed.not_found.push(name.clone());
                }
            }
        }
    }
    (changes, committed)
}

/// The entry a set makes: `value` with `options` over the `old` entry's
/// attributes, if there was one (times in Unix milliseconds).
fn merged_entry(old: Option<Entry>, value: SealedValue, options: SetOptions, now: u64) -> Entry {
    match old {
        Some(old) => Entry {
            value,
            kind: options.kind.unwrap_or(old.kind),
            created_ms: old.created_ms,
            updated_ms: now.max(old.updated_ms),
            expires_ms: options.expires_ms.or(old.expires_ms),
            metadata: options.metadata.unwrap_or(old.metadata),
        },
        None => Entry {
            value,
            kind: options.kind.unwrap_or_else(Kind::secret),
            created_ms: now,
            updated_ms: now,
            expires_ms: options.expires_ms,
            metadata: options.metadata.unwrap_or_default(),
        },
    }
}

impl Vault {
    /// Commits `ops` by patching the body bytes (FORMAT.md §7): when the
    /// body is held as an index and the file is still the one it came from,
    /// the new body is the old one with the changed records spliced in,
    /// byte for byte what a full encoding gives, so a set costs what the
    /// AEAD and the write cost rather than decoding and encoding every
    /// entry. `None`: not applicable, the caller takes the general path.
    fn commit_patched(&mut self, ops: &[Op]) -> Result<Option<Committed>, VaultError> {
        let Contents::Indexed(index) = &self.body else {
            return Ok(None);
        };
        if !self.body_is_current {
            return Ok(None);
        }
        let faults = self.options.fault_injector.as_deref();
        let lock = VaultLock::acquire_with(&self.path, self.options.lock_timeout, faults)?;
        // FORMAT.md §7 step 1, as in `save_with`, reading only the prefix
        // and header: equal bytes and length mean the same save.
        let aad = self.aad();
        let expected_len = aad.len() as u64 + self.header.body_len;
        let (head, len) = store::read_prefix(&self.path, aad.len())?;
        if head != aad || len != expected_len {
            drop(lock);
            return Ok(None);
        }

        let (changes, committed) = plan(ops, now_ms(), |name| index.entry(name));
        if !committed.saved {
            return Ok(Some(committed));
        }
        let Some(patch) = index.patch(&changes) else {
            drop(lock);
            return Ok(None);
        };
        if patch.records() > limits::MAX_RECORDS {
            return Err(FormatError::TooLarge {
                what: "entry and tombstone count",
                found: patch.records() as u64,
                max: limits::MAX_RECORDS as u64,
            }
            .into());
        }
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(patch.len()));
        patch.write_into(&mut plain);
        let mut header = self.header.clone();
        header.save_counter = header.save_counter.saturating_add(1);
        header.body_nonce = crypto::random_array();
        // As in `change_and_write`: a newer minor keeps its minor.
        #[allow(clippy::unnecessary_min_or_max)]
        let minor = self.minor.max(format::MINOR_VERSION);
        let bytes = seal_plain(&mut header, minor, &plain, &self.keys.dek);
        self.replace_file(&header, &bytes)?;
        drop(lock);
        self.header = header;
        self.minor = minor;
        self.body = Contents::Indexed(format::body::BodyIndex::trusted(plain));
        Ok(Some(committed))
    }
}

/// What [`Vault::remove_slot_with_keychain`] did with the keychain item of
/// the removed slot. The slot is removed and saved in every case.
#[cfg(feature = "keychain")]
#[derive(Debug)]
#[non_exhaustive]
pub enum KeychainCleanup {
    /// The removed slot was not a keychain slot; the keychain was not used.
    NotKeychain,
    /// The item was deleted.
    Deleted,
    /// There was no item to delete.
    AlreadyGone,
    /// The slot names an item credvault does not write for it (another
    /// service, or another vault's or slot's account); it was left alone.
    NotOurs,
    /// The item could not be deleted (it stays in the keychain, useless).
    Failed(KeychainError),
}

/// The id of a new slot: one above the highest present.
fn next_slot_id(header: &Header) -> Result<u32, VaultError> {
    if header.slots.len() >= limits::MAX_SLOTS {
        return Err(VaultError::TooManySlots(limits::MAX_SLOTS));
    }
    header
        .slots
        .iter()
        .map(|s| s.id)
        .max()
        .unwrap_or(0)
        .checked_add(1)
        .ok_or(VaultError::TooManySlots(limits::MAX_SLOTS))
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, VaultError> {
    store::read(path, limits::MAX_FILE_LEN)?.map_err(|found| {
        FormatError::TooLarge {
            what: "file size",
            found,
            max: limits::MAX_FILE_LEN,
        }
        .into()
    })
}

/// Keychain service of every keychain slot this crate writes (FORMAT.md §4.3).
pub const KEYCHAIN_SERVICE: &str = "credvault";

/// Keychain account of slot `slot_id` of vault `vault_id`:
/// `<vault-id as 32 lowercase hex>/<slot id in decimal>` (FORMAT.md §4.3).
pub fn keychain_account(vault_id: &[u8; 16], slot_id: u32) -> String {
    format!("{}/{slot_id}", crypto::hex_lower(vault_id))
}

fn build_slot(
    id: u32,
    vault_id: &[u8; 16],
    dek: &SecretKey,
    new: NewSlot<'_>,
) -> Result<Slot, VaultError> {
    if let NewSlot::Keychain {
        service, account, ..
    } = &new
    {
        for name in [service, account] {
            if !format::header::is_valid_keychain_name(name) {
                return Err(FormatError::Malformed("keychain slot name").into());
            }
        }
    }
    Ok(match new {
        NewSlot::Passphrase(pw, kdf) => slots::passphrase::new_slot(id, vault_id, dek, pw, kdf),
        NewSlot::Recovery(key) => slots::recovery::new_slot(id, vault_id, dek, key),
        NewSlot::Keychain {
            service,
            account,
            kek,
        } => {
            let mut slot = Slot {
                id,
                kind: SlotKind::Keychain(format::KeychainSlot {
                    service: service.to_owned(),
                    account: account.to_owned(),
                    wrap: format::Wrap {
                        nonce: [0; 24],
                        wrapped: [0; format::header::WRAPPED_KEY_LEN],
                    },
                }),
            };
            slots::wrap_into(&mut slot, vault_id, kek, dek, crypto::random_array());
            slot
        }
    })
}

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
    use crate::slots::PassphraseUnlocker;

    fn weak() -> KdfParams {
        KdfParams::new(8192, 1, 1).unwrap()
    }

    fn key(s: &str) -> KeyName {
        KeyName::new(s).unwrap()
    }

    #[test]
    fn create_set_get_delete_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("correct horse");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        v.set(&key("postgresql.password"), &SecretValue::from("pg"))
            .unwrap();
        v.set(&key("github.token"), &SecretValue::from("gh"))
            .unwrap();
        assert!(v.delete(&key("github.token")).unwrap());
        assert!(!v.delete(&key("github.token")).unwrap());

        let v2 = Vault::open(
            &path,
            &mut PassphraseUnlocker::new(Passphrase::from("correct horse")),
        )
        .unwrap();
        assert_eq!(
            v2.get(&key("postgresql.password"))
                .unwrap()
                .unwrap()
                .expose(),
            b"pg"
        );
        assert!(v2.get(&key("github.token")).unwrap().is_none());
        assert_eq!(v2.list(None).len(), 1);
        assert_eq!(v2.tombstones().count(), 1);
        assert_eq!(v2.header().save_counter, 4);

        let err = Vault::open(
            &path,
            &mut PassphraseUnlocker::new(Passphrase::from("wrong")),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            VaultError::Unlock(UnlockError::WrongKeyOrTampered)
        ));
        assert!(matches!(
            Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap_err(),
            VaultError::Store(StoreError::AlreadyExists(_))
        ));
    }

    #[test]
    fn a_vault_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Vault>();
        shareable::<crate::Snapshot>();
    }

    #[test]
    fn two_handles_do_not_lose_updates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut a = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        let mut b =
            Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw"))).unwrap();
        a.set(&key("a"), &SecretValue::from("1")).unwrap();
        b.set(&key("b"), &SecretValue::from("2")).unwrap();
        a.reload().unwrap();
        assert_eq!(a.list(None).len(), 2);
    }

    #[test]
    fn slots_add_remove_and_recovery_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from("pw");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).unwrap();
        v.set(&key("k"), &SecretValue::from("v")).unwrap();
        let rk = RecoveryKey::generate();
        let id = v.add_slot(NewSlot::Recovery(&rk)).unwrap();
        assert_eq!(id, 2);
        v.remove_slot(1).unwrap();
        assert!(matches!(v.remove_slot(2), Err(VaultError::LastSlot)));

        struct Rec(Option<RecoveryKey>);
        impl Unlocker for Rec {
            fn recovery_key(&mut self) -> Option<RecoveryKey> {
                self.0.take()
            }
        }
        let copy = RecoveryKey::from_bytes(rk.expose().to_vec()).unwrap();
        let v2 = Vault::open(&path, &mut Rec(Some(copy))).unwrap();
        assert_eq!(v2.get(&key("k")).unwrap().unwrap().expose(), b"v");
        let none =
            Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("pw"))).unwrap_err();
        assert!(matches!(
            none,
            VaultError::Unlock(UnlockError::NoCredentials { .. })
        ));
    }

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
