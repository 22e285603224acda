//! The body plaintext (FORMAT.md §5): entries with sealed values, and
//! tombstones for deletions.

use std::collections::BTreeMap;

use ciborium::Value;

use super::cbor::{self, as_u64, into_bytes, into_pairs, into_text, uint, Fields};
use super::limits;
use super::name::KeyName;
use super::{FormatError, NONCE_LEN, TAG_LEN};

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

/// An entry kind: 1–32 bytes of `[a-z0-9-]` (FORMAT.md §5.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind(String);

impl Kind {
    /// Checks a kind.
    pub fn new(kind: &str) -> Result<Self, FormatError> {
        let (min, max) = limits::KIND_LEN;
        if kind.len() < min
            || kind.len() > max
            || !kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(FormatError::Malformed("entry kind"));
        }
        Ok(Kind(kind.to_owned()))
    }

    /// The default kind, `secret`.
    pub fn secret() -> Self {
        Kind("secret".to_owned())
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
        let (kmin, kmax) = limits::METADATA_KEY_LEN;
        for (k, v) in &map {
            if k.len() < kmin || k.len() > kmax || v.len() > limits::MAX_METADATA_VALUE_LEN {
                return Err(FormatError::Malformed("entry metadata"));
            }
        }
        Ok(Metadata(map))
    }

    /// The pairs.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl Entry {
    fn to_value(&self) -> Value {
        let mut pairs = vec![
            (uint(entry_key::VALUE), Value::Bytes(self.value.0.clone())),
            (uint(entry_key::KIND), Value::Text(self.kind.0.clone())),
            (uint(entry_key::CREATED), uint(self.created_ms)),
            (uint(entry_key::UPDATED), uint(self.updated_ms)),
        ];
        if let Some(e) = self.expires_ms {
            pairs.push((uint(entry_key::EXPIRES), uint(e)));
        }
        if !self.metadata.0.is_empty() {
            let meta = self
                .metadata
                .0
                .iter()
                .map(|(k, v)| (Value::Text(k.clone()), Value::Text(v.clone())))
                .collect();
            pairs.push((uint(entry_key::METADATA), cbor::map(meta)));
        }
        cbor::map(pairs)
    }

    fn from_value(value: Value) -> Result<Entry, FormatError> {
        const WHAT: &str = "entry";
        let mut f = Fields::new(value, WHAT)?;
        let value = SealedValue::new(into_bytes(f.require(entry_key::VALUE)?, WHAT)?)?;
        let kind = Kind::new(&into_text(f.require(entry_key::KIND)?, WHAT)?)?;
        let created_ms = as_u64(&f.require(entry_key::CREATED)?, WHAT)?;
        let updated_ms = as_u64(&f.require(entry_key::UPDATED)?, WHAT)?;
        if updated_ms < created_ms {
            return Err(FormatError::Malformed(
                "entry times (updated before created)",
            ));
        }
        let expires_ms = f
            .take(entry_key::EXPIRES)
            .map(|v| as_u64(&v, WHAT))
            .transpose()?;
        let metadata = match f.take(entry_key::METADATA) {
            None => Metadata::default(),
            Some(v) => {
                let pairs = into_pairs(v, "entry metadata")?;
                if pairs.is_empty() {
                    // An empty map is written by omitting the key.
                    return Err(FormatError::NonCanonical("entry metadata"));
                }
                let mut map = BTreeMap::new();
                for (k, v) in pairs {
                    map.insert(
                        into_text(k, "entry metadata")?,
                        into_text(v, "entry metadata")?,
                    );
                }
                Metadata::new(map)?
            }
        };
        f.finish()?;
        Ok(Entry {
            value,
            kind,
            created_ms,
            updated_ms,
            expires_ms,
            metadata,
        })
    }
}

impl Body {
    /// Encodes the body as deterministic CBOR (FORMAT.md §5).
    pub fn encode(&self) -> Vec<u8> {
        let entries = self
            .entries
            .iter()
            .map(|(k, e)| (Value::Text(k.as_str().to_owned()), e.to_value()))
            .collect();
        let tombstones = self
            .tombstones
            .iter()
            .map(|(k, t)| (Value::Text(k.as_str().to_owned()), uint(*t)))
            .collect();
        cbor::encode(&cbor::map(vec![
            (uint(key::ENTRIES), cbor::map(entries)),
            (uint(key::TOMBSTONES), cbor::map(tombstones)),
        ]))
    }

    /// Decodes and checks a body plaintext (FORMAT.md §5, §6).
    pub fn decode(bytes: &[u8]) -> Result<Body, FormatError> {
        const WHAT: &str = "body";
        if bytes.len() as u64 > limits::MAX_BODY_LEN {
            return Err(FormatError::TooLarge {
                what: "body length",
                found: bytes.len() as u64,
                max: limits::MAX_BODY_LEN,
            });
        }
        let mut f = Fields::new(cbor::decode(bytes, WHAT)?, WHAT)?;
        let raw_entries = into_pairs(f.require(key::ENTRIES)?, "entries")?;
        let raw_tombs = into_pairs(f.require(key::TOMBSTONES)?, "tombstones")?;
        f.finish()?;
        let records = raw_entries.len() + raw_tombs.len();
        if records > limits::MAX_RECORDS {
            return Err(FormatError::TooLarge {
                what: "entry and tombstone count",
                found: records as u64,
                max: limits::MAX_RECORDS as u64,
            });
        }
        let mut body = Body::default();
        for (k, v) in raw_entries {
            body.entries.insert(name(k)?, Entry::from_value(v)?);
        }
        for (k, v) in raw_tombs {
            let name = name(k)?;
            if body.entries.contains_key(&name) {
                return Err(FormatError::Malformed("name both live and deleted"));
            }
            body.tombstones.insert(name, as_u64(&v, "tombstone")?);
        }
        Ok(body)
    }
}

fn name(v: Value) -> Result<KeyName, FormatError> {
    KeyName::new(&into_text(v, "key name")?).map_err(|_| FormatError::Malformed("key name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Body {
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
}
