//! The reference encoder and reader of the body (FORMAT.md §3, §5): a
//! `ciborium` value tree, checked field by field and re-encoded to compare.
//! Slow, and kept as the specification the fast paths agree with (checked
//! by the tests and the `fuzz_body` target).

use std::collections::BTreeMap;

use ciborium::Value;

use super::{check_len, entry_key, key, Body, Entry, Kind, Metadata, SealedValue};
use crate::format::cbor::{self, as_u64, into_bytes, into_pairs, into_text, uint, Fields};
use crate::format::limits;
use crate::format::name::KeyName;
use crate::format::FormatError;

impl Entry {
    fn to_value(&self) -> Value {
        let mut pairs = vec![
            (uint(entry_key::VALUE), Value::Bytes(self.value.0.clone())),
            (uint(entry_key::KIND), Value::Text(self.kind.0.to_string())),
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
    /// The reference encoder: builds a CBOR value tree and lets `ciborium`
    /// encode it. Slower than [`Body::encode`], kept as its specification
    /// for tests and fuzzing.
    #[doc(hidden)]
    pub fn encode_reference(&self) -> Vec<u8> {
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

    /// The reference reader of FORMAT.md §3 and §5: decodes a value tree
    /// with `ciborium`, checks it, re-encodes it and compares. It defines
    /// the error classes; [`Body::decode`] agrees with it on what it
    /// accepts (checked by tests and the `fuzz_body` target).
    #[doc(hidden)]
    pub fn decode_reference(bytes: &[u8]) -> Result<Body, FormatError> {
        const WHAT: &str = "body";
        check_len(bytes)?;
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
    use crate::format::body::tests::{sample, varied};

    #[test]
    fn fast_encoder_matches_reference_encoder() {
        for b in [Body::default(), sample(), varied()] {
            assert_eq!(b.encode(), b.encode_reference());
        }
    }
}
