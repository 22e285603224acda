//! Deterministic CBOR (RFC 8949 §4.2.1) on top of `ciborium`'s `Value`.
//!
//! The format uses a small subset of CBOR: unsigned integers, byte strings,
//! text strings, arrays and maps, all with definite lengths. FORMAT.md §3
//! requires the *core deterministic encoding*; this module enforces it on
//! read by decoding one item, rejecting types outside the subset, checking
//! that map keys are strictly ascending in the bytewise order of their
//! encodings (which also rejects duplicates) and re-encoding the item: any
//! input that does not re-encode to itself byte for byte (non-minimal
//! integers or lengths, indefinite lengths, trailing bytes) is rejected.

use ciborium::Value;

use super::FormatError;

/// Nesting depth allowed by the schema plus slack (FORMAT.md §3).
const MAX_DEPTH: usize = 8;

/// Encodes `value` deterministically.
///
/// The values built by this crate only contain integers, strings, arrays and
/// maps whose keys were inserted in canonical order, so `ciborium`'s
/// encoder (shortest-form heads, definite lengths) yields the deterministic
/// encoding.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every Value built by this crate is
    // encodable (no floats, no non-UTF-8 text).
    #[allow(clippy::expect_used)]
    ciborium::into_writer(value, &mut out).expect("encoding into a Vec is infallible");
    out
}

/// Decodes exactly one deterministically encoded item filling all of `bytes`.
pub fn decode(bytes: &[u8], what: &'static str) -> Result<Value, FormatError> {
    let value: Value = ciborium::de::from_reader_with_recursion_limit(bytes, MAX_DEPTH + 2)
        .map_err(|_| FormatError::Malformed(what))?;
    check_subset(&value, what, 0)?;
    if encode(&value) != bytes {
        return Err(FormatError::NonCanonical(what));
    }
    Ok(value)
}

fn check_subset(value: &Value, what: &'static str, depth: usize) -> Result<(), FormatError> {
    if depth > MAX_DEPTH {
        return Err(FormatError::Malformed(what));
    }
    match value {
        Value::Integer(i) => {
            if i128::from(*i) < 0 {
                return Err(FormatError::Malformed(what));
            }
            Ok(())
        }
        Value::Bytes(_) | Value::Text(_) => Ok(()),
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_subset(v, what, depth + 1)),
        Value::Map(pairs) => {
            let mut previous: Option<Vec<u8>> = None;
            for (k, v) in pairs {
                check_subset(k, what, depth + 1)?;
                check_subset(v, what, depth + 1)?;
                let key = encode(k);
                if let Some(prev) = &previous {
                    // RFC 8949 §4.2.1: keys sorted by the bytewise lexicographic
                    // order of their deterministic encodings; equal = duplicate.
                    if prev.as_slice() >= key.as_slice() {
                        return Err(FormatError::NonCanonical(what));
                    }
                }
                previous = Some(key);
            }
            Ok(())
        }
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Builds a map from `(key, value)` pairs, sorting keys canonically.
pub fn map(mut pairs: Vec<(Value, Value)>) -> Value {
    pairs.sort_by_cached_key(|(k, _)| encode(k));
    Value::Map(pairs)
}

/// An unsigned integer value.
pub fn uint(n: u64) -> Value {
    Value::Integer(n.into())
}

/// A reader over the pairs of an integer-keyed map that hands out each field
/// once and, at the end, rejects any key it was not asked for.
pub struct Fields {
    pairs: Vec<(u64, Value)>,
    what: &'static str,
}

impl Fields {
    /// Takes `value` as a map whose keys are all unsigned integers.
    pub fn new(value: Value, what: &'static str) -> Result<Self, FormatError> {
        let Value::Map(raw) = value else {
            return Err(FormatError::Malformed(what));
        };
        let mut pairs = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            pairs.push((as_u64(&k, what)?, v));
        }
        Ok(Fields { pairs, what })
    }

    /// Removes and returns field `key`, if present.
    pub fn take(&mut self, key: u64) -> Option<Value> {
        let at = self.pairs.iter().position(|(k, _)| *k == key)?;
        Some(self.pairs.remove(at).1)
    }

    /// Removes and returns field `key`, which must be present.
    pub fn require(&mut self, key: u64) -> Result<Value, FormatError> {
        self.take(key).ok_or(FormatError::Malformed(self.what))
    }

    /// Fails if any field was not taken: v1.0 maps have no unknown keys.
    pub fn finish(self) -> Result<(), FormatError> {
        if self.pairs.is_empty() {
            Ok(())
        } else {
            Err(FormatError::Malformed(self.what))
        }
    }

    /// The remaining (untaken) fields.
    pub fn into_rest(self) -> Vec<(u64, Value)> {
        self.pairs
    }
}

/// Reads an unsigned integer that fits in `u64`.
pub fn as_u64(value: &Value, what: &'static str) -> Result<u64, FormatError> {
    match value {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| FormatError::Malformed(what)),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads an unsigned integer that fits in `u32`.
pub fn as_u32(value: &Value, what: &'static str) -> Result<u32, FormatError> {
    u32::try_from(as_u64(value, what)?).map_err(|_| FormatError::Malformed(what))
}

/// Reads a byte string.
pub fn into_bytes(value: Value, what: &'static str) -> Result<Vec<u8>, FormatError> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads a byte string of exactly `N` bytes.
pub fn into_array<const N: usize>(
    value: Value,
    what: &'static str,
) -> Result<[u8; N], FormatError> {
    into_bytes(value, what)?
        .try_into()
        .map_err(|_| FormatError::Malformed(what))
}

/// Reads a text string.
pub fn into_text(value: Value, what: &'static str) -> Result<String, FormatError> {
    match value {
        Value::Text(s) => Ok(s),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads a map as its raw pairs.
pub fn into_pairs(value: Value, what: &'static str) -> Result<Vec<(Value, Value)>, FormatError> {
    match value {
        Value::Map(p) => Ok(p),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads an array.
pub fn into_items(value: Value, what: &'static str) -> Result<Vec<Value>, FormatError> {
    match value {
        Value::Array(a) => Ok(a),
        _ => Err(FormatError::Malformed(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_map() {
        let v = map(vec![(uint(2), uint(1)), (uint(1), Value::Bytes(vec![1]))]);
        let bytes = encode(&v);
        assert_eq!(bytes, [0xa2, 0x01, 0x41, 0x01, 0x02, 0x01]);
        assert_eq!(decode(&bytes, "t").unwrap(), v);
    }

    #[test]
    fn rejects_non_canonical_forms() {
        let cases: &[&[u8]] = &[
            &[0x18, 0x01],                   // non-minimal int
            &[0xa2, 0x02, 0x00, 0x01, 0x00], // unsorted keys
            &[0xa2, 0x01, 0x00, 0x01, 0x00], // duplicate keys
            &[0x5f, 0x41, 0x00, 0xff],       // indefinite byte string
            &[0x9f, 0x01, 0xff],             // indefinite array
            &[0x59, 0x00, 0x01, 0x00],       // non-minimal length
            &[0x01, 0x00],                   // trailing byte
        ];
        for c in cases {
            assert!(
                matches!(decode(c, "t"), Err(FormatError::NonCanonical(_))),
                "{c:02x?}"
            );
        }
    }

    #[test]
    fn rejects_types_outside_subset() {
        let cases: &[&[u8]] = &[
            &[0x20],                         // negative int
            &[0xf5],                         // true
            &[0xf6],                         // null
            &[0xf9, 0x3c, 0x00],             // half float
            &[0xc1, 0x01],                   // tag
            &[0x5a, 0xff, 0xff, 0xff, 0xff], // huge length claim, no data
            &[],
        ];
        for c in cases {
            assert!(
                matches!(decode(c, "t"), Err(FormatError::Malformed(_))),
                "{c:02x?}"
            );
        }
    }

    #[test]
    fn rejects_deep_nesting() {
        let bytes = [0x81u8; 64]
            .iter()
            .copied()
            .chain([0x00])
            .collect::<Vec<_>>();
        assert!(decode(&bytes, "t").is_err());
    }
}
