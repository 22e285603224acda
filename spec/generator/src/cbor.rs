//! CBOR surgery for the invalid vectors: decode the library's canonical
//! header or body into a `ciborium::Value`, edit it, and encode it again,
//! either canonically (ciborium writes shortest heads and keeps map order
//! as given) or piece by piece with hand-written heads.

use ciborium::Value;

/// Header map keys (FORMAT.md §3.1).
pub mod header_key {
    /// Vault id.
    pub const VAULT_ID: u64 = 1;
    /// Save counter.
    pub const SAVE_COUNTER: u64 = 2;
    /// Body nonce.
    pub const BODY_NONCE: u64 = 3;
    /// Body ciphertext length.
    pub const BODY_LEN: u64 = 4;
    /// Key slots.
    pub const SLOTS: u64 = 5;
}

/// Slot map keys (FORMAT.md §4.1).
pub mod slot_key {
    /// Slot id.
    pub const ID: u64 = 1;
    /// Slot type.
    pub const TYPE: u64 = 2;
    /// Wrap nonce.
    pub const NONCE: u64 = 3;
    /// Wrapped data key.
    pub const WRAPPED: u64 = 4;
    /// Salt.
    pub const SALT: u64 = 5;
    /// Argon2id memory, KiB.
    pub const MEMORY_KIB: u64 = 6;
    /// Argon2id passes.
    pub const ITERATIONS: u64 = 7;
    /// Argon2id lanes.
    pub const PARALLELISM: u64 = 8;
    /// Keychain service.
    pub const SERVICE: u64 = 9;
}

/// Body and entry map keys (FORMAT.md §5).
pub mod body_key {
    /// Body: entries.
    pub const ENTRIES: u64 = 1;
    /// Body: tombstones.
    pub const TOMBSTONES: u64 = 2;
    /// Entry: kind.
    pub const KIND: u64 = 2;
    /// Entry: creation time.
    pub const CREATED: u64 = 3;
}

/// Decodes one CBOR item.
pub fn decode(bytes: &[u8]) -> Value {
    ciborium::from_reader(bytes).expect("the library's encodings decode")
}

/// Encodes `value` with ciborium: shortest heads, definite lengths, map
/// pairs in the order given.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("encoding into a Vec cannot fail");
    out
}

/// An unsigned integer.
pub fn uint(n: u64) -> Value {
    Value::Integer(n.into())
}

/// The pairs of a map value.
pub fn pairs(map: &mut Value) -> &mut Vec<(Value, Value)> {
    match map {
        Value::Map(p) => p,
        other => panic!("not a map: {other:?}"),
    }
}

/// The items of an array value.
pub fn items(array: &mut Value) -> &mut Vec<Value> {
    match array {
        Value::Array(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}

/// Field `key` of an integer-keyed map.
pub fn field(map: &mut Value, key: u64) -> &mut Value {
    pairs(map)
        .iter_mut()
        .find(|(k, _)| *k == uint(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {key}"))
}

/// Sets field `key`, inserting it in canonical position if absent.
pub fn set(map: &mut Value, key: u64, value: Value) {
    let p = pairs(map);
    if let Some(slot) = p.iter_mut().find(|(k, _)| *k == uint(key)) {
        slot.1 = value;
        return;
    }
    let k = uint(key);
    let at = p
        .iter()
        .position(|(other, _)| encode(other) > encode(&k))
        .unwrap_or(p.len());
    p.insert(at, (k, value));
}

/// Removes field `key`.
pub fn remove(map: &mut Value, key: u64) -> Value {
    let p = pairs(map);
    let at = p
        .iter()
        .position(|(k, _)| *k == uint(key))
        .unwrap_or_else(|| panic!("no field {key}"));
    p.remove(at).1
}

/// The slot array of a header value.
pub fn slots(header: &mut Value) -> &mut Vec<Value> {
    items(field(header, header_key::SLOTS))
}

/// The `n`-th slot map of a header value.
pub fn slot(header: &mut Value, n: usize) -> &mut Value {
    &mut slots(header)[n]
}

/// The byte string in `value`, for flipping bits.
pub fn bytes(value: &mut Value) -> &mut Vec<u8> {
    match value {
        Value::Bytes(b) => b,
        other => panic!("not a byte string: {other:?}"),
    }
}

/// A map written piece by piece: `head`, then each key and value as given
/// (already encoded, possibly non-canonically), then `tail`.
pub fn raw_map(head: &[u8], pairs: &[(Vec<u8>, Vec<u8>)], tail: &[u8]) -> Vec<u8> {
    let mut out = head.to_vec();
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out.extend_from_slice(tail);
    out
}

/// The canonically encoded pairs of a map value, for [`raw_map`].
pub fn encoded_pairs(map: &mut Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs(map)
        .iter()
        .map(|(k, v)| (encode(k), encode(v)))
        .collect()
}

/// Replaces the encoded value of `key` in pairs from [`encoded_pairs`].
pub fn replace_encoded(pairs: &mut [(Vec<u8>, Vec<u8>)], key: u64, raw: Vec<u8>) {
    let k = encode(&uint(key));
    let pair = pairs
        .iter_mut()
        .find(|(pk, _)| *pk == k)
        .unwrap_or_else(|| panic!("no field {key}"));
    pair.1 = raw;
}

/// The head of a definite-length map of `n` pairs, shortest form.
pub fn map_head(n: usize) -> Vec<u8> {
    // A map head is the unsigned integer head with major type 5.
    let mut head = encode(&uint(n as u64));
    head[0] |= 0xa0;
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_inserts_in_canonical_order() {
        let mut m = Value::Map(vec![(uint(1), uint(0)), (uint(3), uint(0))]);
        set(&mut m, 2, uint(9));
        set(&mut m, 10, uint(9));
        let keys: Vec<_> = pairs(&mut m).iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, [uint(1), uint(2), uint(3), uint(10)]);
    }

    #[test]
    fn raw_map_of_encoded_pairs_is_the_encoding() {
        let mut m = Value::Map(vec![
            (uint(1), Value::Bytes(vec![1, 2])),
            (uint(2), uint(500)),
        ]);
        let p = encoded_pairs(&mut m);
        assert_eq!(raw_map(&map_head(2), &p, &[]), encode(&m));
        assert_eq!(map_head(30), [0xb8, 30]);
    }
}
