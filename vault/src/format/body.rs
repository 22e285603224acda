//! The body plaintext (FORMAT.md §5): entries with sealed values, and
//! tombstones for deletions.
//!
//! This file holds the body's types and the fast encoder; the readers,
//! the index and the patcher are in their own rooms:
//!
//! - `fast.rs`: the one-pass reader over the bytes ([`Body::decode`]);
//! - `reference.rs`: the reference encoder and reader over a `ciborium`
//!   value tree, which define what the fast paths must agree with;
//! - `index.rs`: [`BodyIndex`], a checked body read entry by entry;
//! - `patch.rs`: [`Change`] and [`Patch`], a few changes saved without
//!   re-encoding the whole body.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::cbor;
use super::limits;
use super::name::KeyName;
use super::{FormatError, NONCE_LEN, TAG_LEN};

mod fast;
mod index;
mod patch;
mod reference;

pub use index::BodyIndex;
pub use patch::{Change, Patch};

/// Body map keys (FORMAT.md §5).
mod key {
    pub const ENTRIES: u64 = 1;
    pub const TOMBSTONES: u64 = 2;
}

/// Entry map keys (FORMAT.md §5.2).
mod entry_key {
    pub const VALUE: u64 = 1;
    pub const KIND: u64 = 2;
    pub const CREATED: u64 = 3;
    pub const UPDATED: u64 = 4;
    pub const EXPIRES: u64 = 5;
    pub const METADATA: u64 = 6;
}

/// The decoded body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// Live entries by name.
    pub entries: BTreeMap<KeyName, Entry>,
    /// Deleted names and the time of deletion (Unix milliseconds).
    pub tombstones: BTreeMap<KeyName, u64>,
}

/// One credential (FORMAT.md §5.2). The value stays sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value sealed under the value key, with the name as associated data.
    pub value: SealedValue,
    /// What the value is, e.g. `password`, `api-key`, `token`.
    pub kind: Kind,
    /// Creation time, Unix milliseconds.
    pub created_ms: u64,
    /// Last update time, Unix milliseconds; not before `created_ms`.
    pub updated_ms: u64,
    /// Optional expiry time, Unix milliseconds.
    pub expires_ms: Option<u64>,
    /// Free text metadata, not secret.
    pub metadata: Metadata,
}

/// A sealed value: `nonce(24) || ciphertext || tag(16)` (FORMAT.md §5.3).
/// Its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue(Vec<u8>);

impl SealedValue {
    /// Smallest sealed value: nonce and tag around an empty plaintext.
    pub const MIN_LEN: usize = NONCE_LEN + TAG_LEN;

    /// Wraps sealed bytes, checking their length.
    pub fn new(bytes: Vec<u8>) -> Result<Self, FormatError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(FormatError::Malformed("sealed value"));
        }
        if bytes.len() > limits::MAX_VALUE_LEN + Self::MIN_LEN {
            return Err(FormatError::TooLarge {
                what: "sealed value",
                found: bytes.len() as u64,
                max: (limits::MAX_VALUE_LEN + Self::MIN_LEN) as u64,
            });
        }
        Ok(SealedValue(bytes))
    }

    /// The sealed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedValue({} bytes)", self.0.len())
    }
}

/// Kinds common enough to be kept as static strings: no allocation per
/// entry when a large body is decoded.
const COMMON_KINDS: [&str; 6] = [
    "secret",
    "password",
    "api-key",
    "token",
    "oauth-token",
    "certificate",
];

/// An entry kind: 1–32 bytes of `[a-z0-9-]` (FORMAT.md §5.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind(Cow<'static, str>);

impl Kind {
    /// Whether `kind` is 1–32 bytes of `[a-z0-9-]` (FORMAT.md §5.2).
    #[inline]
    pub(crate) fn is_valid(kind: &[u8]) -> bool {
        let (min, max) = limits::KIND_LEN;
        (min..=max).contains(&kind.len())
            && kind
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    }

    /// A kind already checked by [`Kind::is_valid`] (so ASCII: the lossy
    /// conversion never replaces anything).
    fn checked(kind: &[u8]) -> Self {
        match COMMON_KINDS.iter().find(|k| k.as_bytes() == kind) {
            Some(k) => Kind(Cow::Borrowed(k)),
            None => Kind(Cow::Owned(String::from_utf8_lossy(kind).into_owned())),
        }
    }

    /// Checks a kind.
    pub fn new(kind: &str) -> Result<Self, FormatError> {
        if !Self::is_valid(kind.as_bytes()) {
            return Err(FormatError::Malformed("entry kind"));
        }
        Ok(Self::checked(kind.as_bytes()))
    }

    /// The default kind, `secret`.
    pub fn secret() -> Self {
        Kind(Cow::Borrowed("secret"))
    }

    /// The kind as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Entry metadata: at most 32 pairs of text (FORMAT.md §5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Checks a metadata map against the limits of FORMAT.md §6.
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, FormatError> {
        if map.len() > limits::MAX_METADATA_PAIRS {
            return Err(FormatError::TooLarge {
                what: "metadata pair count",
                found: map.len() as u64,
                max: limits::MAX_METADATA_PAIRS as u64,
            });
        }
        if !map.iter().all(|(k, v)| Self::pair_is_valid(k, v)) {
            return Err(FormatError::Malformed("entry metadata"));
        }
        Ok(Metadata(map))
    }

    /// Whether one pair is within the limits of FORMAT.md §6: key 1–64
    /// bytes, value at most 1024 bytes.
    pub(crate) fn pair_is_valid(key: &str, value: &str) -> bool {
        let (kmin, kmax) = limits::METADATA_KEY_LEN;
        (kmin..=kmax).contains(&key.len()) && value.len() <= limits::MAX_METADATA_VALUE_LEN
    }

    /// The pairs.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl Entry {
    /// Writes the entry map (FORMAT.md §5.2), keys in ascending order.
    fn write(&self, w: &mut cbor::Writer) {
        let fields =
            4 + usize::from(self.expires_ms.is_some()) + usize::from(!self.metadata.0.is_empty());
        w.map(fields);
        w.uint(entry_key::VALUE);
        w.bytes(&self.value.0);
        w.uint(entry_key::KIND);
        w.text(&self.kind.0);
        w.uint(entry_key::CREATED);
        w.uint(self.created_ms);
        w.uint(entry_key::UPDATED);
        w.uint(self.updated_ms);
        if let Some(e) = self.expires_ms {
            w.uint(entry_key::EXPIRES);
            w.uint(e);
        }
        if !self.metadata.0.is_empty() {
            w.uint(entry_key::METADATA);
            let mut pairs: Vec<(&String, &String)> = self.metadata.0.iter().collect();
            pairs.sort_unstable_by(|a, b| canonical(a.0, b.0));
            w.map(pairs.len());
            for (k, v) in pairs {
                w.text(k);
                w.text(v);
            }
        }
    }
}

impl Body {
    /// Applies one change per name: a set makes the name live with its
    /// entry and drops its tombstone; a delete drops the live entry and
    /// writes the tombstone. [`BodyIndex::patch`] encodes the same result.
    pub fn apply(&mut self, changes: BTreeMap<KeyName, Change>) {
        for (name, change) in changes {
            match change {
                Change::Set(entry) => {
                    self.tombstones.remove(&name);
                    self.entries.insert(name, entry);
                }
                Change::Delete(at) => {
                    self.entries.remove(&name);
                    self.tombstones.insert(name, at);
                }
            }
        }
    }

    /// Encodes the body as deterministic CBOR (FORMAT.md §5).
    ///
    /// Written directly with `cbor::Writer`; the result is byte for byte
    /// the one of the reference encoder ([`Body::encode_reference`]), which
    /// the tests and the `fuzz_body` target check.
    pub fn encode(&self) -> Vec<u8> {
        // Maps are written in the order of their keys' encodings (§3): for
        // text keys, shorter first, then bytewise — not `BTreeMap` order.
        let mut entries: Vec<(&KeyName, &Entry)> = self.entries.iter().collect();
        entries.sort_unstable_by(|a, b| canonical(a.0.as_str(), b.0.as_str()));
        let mut tombstones: Vec<(&KeyName, u64)> =
            self.tombstones.iter().map(|(k, t)| (k, *t)).collect();
        tombstones.sort_unstable_by(|a, b| canonical(a.0.as_str(), b.0.as_str()));

        let estimate: usize = entries
            .iter()
            .map(|(k, e)| k.as_str().len() + e.value.0.len() + e.kind.0.len() + 48)
            .sum::<usize>()
            + tombstones.len() * 48
            + 16;
        let mut w = cbor::Writer::with_capacity(estimate);
        w.map(2);
        w.uint(key::ENTRIES);
        w.map(entries.len());
        for (name, entry) in entries {
            w.text(name.as_str());
            entry.write(&mut w);
        }
        w.uint(key::TOMBSTONES);
        w.map(tombstones.len());
        for (name, at) in tombstones {
            w.text(name.as_str());
            w.uint(at);
        }
        w.into_bytes()
    }

    /// Decodes and checks a body plaintext (FORMAT.md §5, §6).
    ///
    /// The fast path reads the bytes in place with `cbor::Reader` and
    /// checks every rule of §3 and §5 as it goes. Input it rejects is handed
    /// to the reference reader ([`Body::decode_reference`]), whose error is
    /// returned, so the error class is that of FORMAT.md §3 in every case.
    pub fn decode(bytes: &[u8]) -> Result<Body, FormatError> {
        check_len(bytes)?;
        match fast::decode(bytes) {
            Ok(body) => Ok(body),
            Err(cbor::Reject) => Body::decode_reference(bytes),
        }
    }
}

/// The order of text map keys in the deterministic encoding (FORMAT.md §3).
fn canonical(a: &str, b: &str) -> std::cmp::Ordering {
    canonical_bytes(a.as_bytes(), b.as_bytes())
}

/// [`canonical`] on the bytes of the texts.
fn canonical_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

/// Whether text key `a` sorts strictly before `b` (FORMAT.md §3).
fn text_key_before(a: &[u8], b: &[u8]) -> bool {
    canonical_bytes(a, b).is_lt()
}

fn check_len(bytes: &[u8]) -> Result<(), FormatError> {
    if bytes.len() as u64 > limits::MAX_BODY_LEN {
        return Err(FormatError::TooLarge {
            what: "body length",
            found: bytes.len() as u64,
            max: limits::MAX_BODY_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample() -> Body {
        let mut b = Body::default();
        let mut meta = BTreeMap::new();
        meta.insert("url".to_owned(), "postgres://db".to_owned());
        b.entries.insert(
            KeyName::new("postgresql.password").unwrap(),
            Entry {
                value: SealedValue::new(vec![5; 50]).unwrap(),
                kind: Kind::new("password").unwrap(),
                created_ms: 1,
                updated_ms: 2,
                expires_ms: Some(3),
                metadata: Metadata::new(meta).unwrap(),
            },
        );
        b.entries.insert(
            KeyName::new("a").unwrap(),
            Entry {
                value: SealedValue::new(vec![6; 40]).unwrap(),
                kind: Kind::secret(),
                created_ms: 10,
                updated_ms: 10,
                expires_ms: None,
                metadata: Metadata::default(),
            },
        );
        b.tombstones.insert(KeyName::new("old.key").unwrap(), 99);
        b
    }

    pub(super) fn varied() -> Body {
        let mut b = sample();
        for i in 0..8u64 {
            let name = format!("svc{}.{}", "x".repeat(i as usize % 7), i);
            b.entries.insert(
                KeyName::new(&name).unwrap(),
                Entry {
                    value: SealedValue::new(vec![i as u8; 40 + i as usize * 9]).unwrap(),
                    kind: Kind::new(if i % 2 == 0 { "api-key" } else { "token" }).unwrap(),
                    created_ms: i * 1_000_000_007,
                    updated_ms: i * 1_000_000_007 + (1 << (i * 2)),
                    expires_ms: (i % 3 == 0).then_some(1 << 40),
                    metadata: Metadata::default(),
                },
            );
            b.tombstones
                .insert(KeyName::new(&format!("gone{i}")).unwrap(), 1 << i);
        }
        b
    }

    #[test]
    fn can_round_trip_body() {
        let b = sample();
        let bytes = b.encode();
        assert_eq!(Body::decode(&bytes).unwrap(), b);
        assert_eq!(Body::default().encode(), [0xa2, 0x01, 0xa0, 0x02, 0xa0]);
    }

    #[test]
    fn every_truncated_body_is_rejected() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(Body::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn rejects_live_and_deleted() {
        let mut b = sample();
        b.tombstones.insert(KeyName::new("a").unwrap(), 5);
        assert!(Body::decode(&b.encode()).is_err());
    }

    #[test]
    fn reports_the_reference_error_class() {
        // Unsorted entries: the fast reader rejects, the reference names it.
        let mut w = cbor::Writer::default();
        w.map(2);
        w.uint(1);
        w.map(2);
        for name in ["b", "a"] {
            w.text(name);
            Entry {
                value: SealedValue::new(vec![0; 40]).unwrap(),
                kind: Kind::secret(),
                created_ms: 0,
                updated_ms: 0,
                expires_ms: None,
                metadata: Metadata::default(),
            }
            .write(&mut w);
        }
        w.uint(2);
        w.map(0);
        let bytes = w.into_bytes();
        assert_eq!(Body::decode(&bytes), Err(FormatError::NonCanonical("body")));
    }
}
