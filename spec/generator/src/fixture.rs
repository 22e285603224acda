//! A model of one vault built from the library's pure pieces: slots wrapped
//! with deterministic salts and nonces, entries sealed with deterministic
//! nonces, and the file sealed either by `credvault::seal_file` or, for
//! edited headers, by [`seal_raw`] (the same construction over arbitrary
//! header bytes, FORMAT.md §2 and §5).

use std::collections::BTreeMap;

use ciborium::Value;
use credvault::crypto::{self, kdf, Passphrase, SecretKey};
use credvault::format::header::WRAPPED_KEY_LEN;
use credvault::format::{
    Body, Entry, Header, KdfParams, KeyName, KeychainSlot, Kind, Metadata, PassphraseSlot, Prefix,
    RecoverySlot, Slot, SlotKind, Wrap, MAJOR_VERSION, MINOR_VERSION, TAG_LEN,
};
use credvault::slots;
use sha2::{Digest, Sha256};

use crate::det::Det;

/// The passphrase of every vector unless a vector says otherwise.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// 2026-01-01T00:00:00Z in Unix milliseconds: the clock of every vector.
pub const T0: u64 = 1_767_225_600_000;

/// HKDF info of the body key (FORMAT.md §4.7).
const BODY_INFO: &[u8] = b"credvault/v1/body";

/// Argon2id m = 8 MiB, t = 1, p = 1: the weakest parameters the format
/// allows, so that the vectors run fast.
pub fn weak_kdf() -> KdfParams {
    kdf_params(8 * 1024, 1, 1)
}

/// Parameters known to be inside the format's ranges.
pub fn kdf_params(m: u32, t: u32, p: u32) -> KdfParams {
    KdfParams::new(m, t, p).expect("vector KDF parameters are inside the format's ranges")
}

/// A key name known to be valid.
pub fn name(s: &str) -> KeyName {
    KeyName::new(s).expect("vector key names are valid")
}

/// The non-secret attributes of an entry.
pub struct Attrs {
    /// Entry kind.
    pub kind: &'static str,
    /// Creation time.
    pub created: u64,
    /// Last update time.
    pub updated: u64,
    /// Optional expiry.
    pub expires: Option<u64>,
    /// Metadata pairs.
    pub metadata: &'static [(&'static str, &'static str)],
}

impl Default for Attrs {
    fn default() -> Self {
        Attrs {
            kind: "secret",
            created: T0,
            updated: T0,
            expires: None,
            metadata: &[],
        }
    }
}

/// One vault: its keys, header, body and the plaintext of its live entries.
pub struct Fixture {
    /// The deterministic byte source of this vault.
    pub det: Det,
    /// The data key.
    pub dek: SecretKey,
    /// The header; `body_len` is set by the sealing functions.
    pub header: Header,
    /// The body, values sealed.
    pub body: Body,
    /// The minor version written in the prefix.
    pub minor: u8,
    /// Plaintext of the live entries, for the payload hash.
    plain: BTreeMap<String, Vec<u8>>,
}

impl Fixture {
    /// A vault with no slots and no entries, save counter 1.
    pub fn new(label: &str) -> Fixture {
        let mut det = Det::new(label);
        let vault_id = det.array();
        let dek = det.key();
        let body_nonce = det.array();
        Fixture {
            det,
            dek,
            header: Header {
                vault_id,
                save_counter: 1,
                body_nonce,
                body_len: 0,
                slots: Vec::new(),
            },
            body: Body::default(),
            minor: MINOR_VERSION,
            plain: BTreeMap::new(),
        }
    }

    /// A vault with one passphrase slot (id 1) for [`PASSPHRASE`].
    pub fn with_passphrase(label: &str) -> Fixture {
        let mut fx = Fixture::new(label);
        fx.add_passphrase(PASSPHRASE, weak_kdf());
        fx
    }

    /// A vault with one passphrase slot and one entry, `github.token`.
    pub fn basic(label: &str) -> Fixture {
        let mut fx = Fixture::with_passphrase(label);
        fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
        fx
    }

    /// The vault id.
    pub fn vault_id(&self) -> [u8; 16] {
        self.header.vault_id
    }

    /// The next free slot id.
    pub fn next_slot_id(&self) -> u32 {
        self.header.slots.iter().map(|s| s.id).max().unwrap_or(0) + 1
    }

    /// A passphrase slot with a fresh salt, wrapped under
    /// `Argon2id(passphrase, salt, kdf)`; not added.
    pub fn passphrase_slot(&mut self, id: u32, passphrase: &str, kdf: KdfParams) -> Slot {
        self.passphrase_slot_and_kek(id, passphrase, kdf).0
    }

    /// [`Fixture::passphrase_slot`], also returning the key-encryption key.
    pub fn passphrase_slot_and_kek(
        &mut self,
        id: u32,
        passphrase: &str,
        kdf: KdfParams,
    ) -> (Slot, SecretKey) {
        let salt = self.det.bytes(32);
        let kek = kdf::argon2id(&Passphrase::from(passphrase), &salt, &kdf);
        let mut slot = Slot {
            id,
            kind: SlotKind::Passphrase(PassphraseSlot {
                salt,
                kdf,
                wrap: empty_wrap(),
            }),
        };
        self.wrap(&mut slot, &kek);
        (slot, kek)
    }

    /// Adds a passphrase slot; returns its id.
    pub fn add_passphrase(&mut self, passphrase: &str, kdf: KdfParams) -> u32 {
        let id = self.next_slot_id();
        let slot = self.passphrase_slot(id, passphrase, kdf);
        self.header.slots.push(slot);
        id
    }

    /// Adds a passphrase slot whose parameters are not computed (too costly
    /// or beside the point): it is wrapped under a random key.
    pub fn add_passphrase_unworkable(&mut self, kdf: KdfParams) -> u32 {
        let id = self.next_slot_id();
        let kek = self.det.key();
        let mut slot = Slot {
            id,
            kind: SlotKind::Passphrase(PassphraseSlot {
                salt: self.det.bytes(32),
                kdf,
                wrap: empty_wrap(),
            }),
        };
        self.wrap(&mut slot, &kek);
        self.header.slots.push(slot);
        id
    }

    /// Adds a recovery slot for the raw recovery key `key`; returns its id.
    pub fn add_recovery(&mut self, key: &[u8]) -> u32 {
        let id = self.next_slot_id();
        let salt = self.det.array();
        let kek = crypto::hkdf(key, &salt, slots::recovery::INFO);
        let mut slot = Slot {
            id,
            kind: SlotKind::Recovery(RecoverySlot {
                salt,
                wrap: empty_wrap(),
            }),
        };
        self.wrap(&mut slot, &kek);
        self.header.slots.push(slot);
        id
    }

    /// Adds a keychain slot whose key-encryption key exists nowhere but
    /// here; returns its id.
    pub fn add_keychain(&mut self, service: &str, account: &str) -> u32 {
        let id = self.next_slot_id();
        let kek = self.det.key();
        let mut slot = Slot {
            id,
            kind: SlotKind::Keychain(KeychainSlot {
                service: service.to_owned(),
                account: account.to_owned(),
                wrap: empty_wrap(),
            }),
        };
        self.wrap(&mut slot, &kek);
        self.header.slots.push(slot);
        id
    }

    /// Adds a slot of a type unknown to format 1.0; returns its id.
    pub fn add_unknown(&mut self, type_code: u64) -> u32 {
        let id = self.next_slot_id();
        let fields = vec![
            (3, Value::Bytes(self.det.bytes(24))),
            (4, Value::Bytes(self.det.bytes(WRAPPED_KEY_LEN))),
            (20, Value::Text("from a newer credvault".to_owned())),
        ];
        self.header.slots.push(Slot {
            id,
            kind: SlotKind::Unknown { type_code, fields },
        });
        id
    }

    /// Wraps the data key into `slot` under `kek` with a fresh nonce.
    pub fn wrap(&mut self, slot: &mut Slot, kek: &SecretKey) {
        let nonce = self.det.array();
        slots::wrap_into(slot, &self.header.vault_id, kek, &self.dek, nonce);
    }

    /// Seals `value` under the value key and adds the entry.
    pub fn add_entry(&mut self, key: &str, value: &[u8], attrs: Attrs) {
        let key = name(key);
        let sealed = self.seal_value(&key, value);
        let metadata = attrs
            .metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let entry = Entry {
            value: sealed,
            kind: Kind::new(attrs.kind).expect("vector kinds are valid"),
            created_ms: attrs.created,
            updated_ms: attrs.updated,
            expires_ms: attrs.expires,
            metadata: Metadata::new(metadata).expect("vector metadata is valid"),
        };
        self.plain.insert(key.as_str().to_owned(), value.to_vec());
        self.body.entries.insert(key, entry);
    }

    /// `value` sealed for entry `key` with a fresh nonce (FORMAT.md §5.3).
    pub fn seal_value(&mut self, key: &KeyName, value: &[u8]) -> credvault::format::SealedValue {
        let vk = credvault::value_key(&self.dek, &self.header.vault_id);
        credvault::seal_value(&vk, key, value, self.det.array())
    }

    /// Adds a tombstone.
    pub fn add_tombstone(&mut self, key: &str, deleted_ms: u64) {
        self.body.tombstones.insert(name(key), deleted_ms);
    }

    /// SHA-256 over `u64(len(name)) || name || u64(len(value)) || value`
    /// (lengths big-endian) of each live entry in bytewise name order: the
    /// `payload:` line of a success vector (FORMAT.md §10). The lengths make
    /// the hash input decodable, so two different sets of entries never
    /// hash the same input.
    pub fn payload(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (k, v) in &self.plain {
            h.update((k.len() as u64).to_be_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_be_bytes());
            h.update(v);
        }
        h.finalize().into()
    }

    /// Sets `header.body_len` for the current body.
    pub fn set_body_len(&mut self) {
        self.header.body_len = (self.body.encode().len() + TAG_LEN) as u64;
    }

    /// The file, sealed by the library's `seal_file`.
    pub fn seal(&mut self) -> Vec<u8> {
        credvault::seal_file(&mut self.header, self.minor, &self.body, &self.dek)
    }

    /// The header (with `body_len` set) as a CBOR value for editing.
    pub fn header_value(&mut self) -> Value {
        self.set_body_len();
        crate::cbor::decode(&self.header.encode())
    }

    /// A file with `header_cbor` as its header and the current body sealed
    /// under it: everything is consistent except what the caller changed in
    /// the header bytes.
    pub fn reseal(&self, header_cbor: &[u8]) -> Vec<u8> {
        self.reseal_body(header_cbor, &self.body.encode())
    }

    /// Like [`Fixture::reseal`] with an arbitrary body plaintext.
    pub fn reseal_body(&self, header_cbor: &[u8], body_plain: &[u8]) -> Vec<u8> {
        seal_raw(
            self.minor,
            header_cbor,
            &self.header.vault_id,
            &self.header.body_nonce,
            &self.dek,
            body_plain,
        )
    }
}

/// Builds a file from raw parts (FORMAT.md §2, §5): the prefix, the header
/// bytes, and `body_plain` sealed with XChaCha20-Poly1305 under
/// `HKDF-SHA256(dek, salt = vault_id, "credvault/v1/body")` with
/// `prefix || header` as associated data. The header bytes are not checked.
pub fn seal_raw(
    minor: u8,
    header_cbor: &[u8],
    vault_id: &[u8; 16],
    body_nonce: &[u8; 24],
    dek: &SecretKey,
    body_plain: &[u8],
) -> Vec<u8> {
    let prefix = Prefix {
        major: MAJOR_VERSION,
        minor,
        header_len: u32::try_from(header_cbor.len()).expect("vector headers are small"),
    };
    let mut out = prefix.encode().to_vec();
    out.extend_from_slice(header_cbor);
    let body_key = crypto::hkdf(dek.expose(), vault_id, BODY_INFO);
    let ct = crypto::seal(&body_key, body_nonce, &out, body_plain);
    out.extend_from_slice(&ct);
    out
}

/// A zero wrap, replaced by [`slots::wrap_into`].
pub fn empty_wrap() -> Wrap {
    Wrap {
        nonce: [0; 24],
        wrapped: [0; WRAPPED_KEY_LEN],
    }
}

/// Replaces the wrap of a known slot type.
pub fn set_wrap(slot: &mut Slot, wrap: Wrap) {
    match &mut slot.kind {
        SlotKind::Passphrase(s) => s.wrap = wrap,
        SlotKind::Keychain(s) => s.wrap = wrap,
        SlotKind::Recovery(s) => s.wrap = wrap,
        _ => panic!("no wrap to set on slot {}", slot.id),
    }
}

/// The KDF parameters of a passphrase slot.
pub fn passphrase_slot(slot: &mut Slot) -> &mut PassphraseSlot {
    match &mut slot.kind {
        SlotKind::Passphrase(s) => s,
        _ => panic!("slot {} is not a passphrase slot", slot.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_raw_matches_the_library() {
        let mut fx = Fixture::basic("seal_raw_matches_the_library");
        fx.add_tombstone("old.key", T0);
        let header = fx.header_value();
        let raw = fx.reseal(&crate::cbor::encode(&header));
        assert_eq!(raw, fx.seal());
    }
}
