//! Non-canonical CBOR in the header (FORMAT.md §3: RFC 8949 §4.2.1 core
//! deterministic encoding). Each header would decode to a valid header if
//! the reader were lenient, and the body is sealed under the exact header
//! bytes, so a lenient reader would open the vault: the only defect is the
//! encoding.

use ciborium::Value;

use crate::cbor::{
    self, encode, encoded_pairs, header_key, map_head, pairs, raw_map, replace_encoded, slot_key,
};
use crate::fixture::Fixture;
use crate::Case;
use crate::Expect::NonCanonical;

pub fn cases() -> Vec<Case> {
    Vec::from([
        header(
            "cbor_unsorted_header_keys",
            "header keys 1 and 2 swapped",
            |h| {
                pairs(h).swap(0, 1);
                encode(h)
            },
        ),
        header(
            "cbor_duplicate_header_key",
            "header key 2 (save counter) appears twice with the same value",
            |h| {
                let dup = pairs(h)[1].clone();
                pairs(h).insert(2, dup);
                encode(h)
            },
        ),
        header(
            "cbor_unsorted_slot_keys",
            "slot keys 5 (salt) and 6 (memory) swapped",
            |h| {
                let slot = cbor::slot(h, 0);
                let at = position(slot, slot_key::SALT);
                pairs(slot).swap(at, at + 1);
                encode(h)
            },
        ),
        header(
            "cbor_duplicate_slot_key",
            "slot key 7 (iterations) appears twice with the same value",
            |h| {
                let slot = cbor::slot(h, 0);
                let at = position(slot, slot_key::ITERATIONS);
                let dup = pairs(slot)[at].clone();
                pairs(slot).insert(at + 1, dup);
                encode(h)
            },
        ),
        header(
            "cbor_nonminimal_int",
            "save counter 1 encoded in two bytes (0x18 0x01)",
            |h| with_field(h, header_key::SAVE_COUNTER, vec![0x18, 0x01]),
        ),
        header(
            "cbor_nonminimal_int_in_slot",
            "slot memory 8192 encoded in five bytes (0x1a 00 00 20 00)",
            |h| {
                let raw = vec![0x1a, 0x00, 0x00, 0x20, 0x00];
                let slots = slots_with_field(h, 0, slot_key::MEMORY_KIB, raw);
                with_field(h, header_key::SLOTS, slots)
            },
        ),
        header(
            "cbor_nonminimal_length",
            "vault id byte string length 16 encoded in two bytes (0x58 0x10)",
            |h| {
                let id = cbor::bytes(cbor::field(h, header_key::VAULT_ID)).clone();
                with_field(h, header_key::VAULT_ID, [&[0x58, 0x10][..], &id].concat())
            },
        ),
        header(
            "cbor_nonminimal_map_length",
            "header map of 5 pairs with a two-byte head (0xb8 0x05)",
            |h| {
                let p = encoded_pairs(h);
                raw_map(&[0xb8, 0x05], &p, &[])
            },
        ),
        header(
            "cbor_nonminimal_array_length",
            "slot array of 1 item with a two-byte head (0x98 0x01)",
            |h| {
                let slot = encode(cbor::slot(h, 0));
                with_field(h, header_key::SLOTS, [&[0x98, 0x01][..], &slot].concat())
            },
        ),
        header(
            "cbor_indefinite_map",
            "header as an indefinite-length map (0xbf ... 0xff)",
            |h| {
                let p = encoded_pairs(h);
                raw_map(&[0xbf], &p, &[0xff])
            },
        ),
        header(
            "cbor_indefinite_array",
            "slot array as an indefinite-length array (0x9f ... 0xff)",
            |h| {
                let slot = encode(cbor::slot(h, 0));
                with_field(h, header_key::SLOTS, [&[0x9f][..], &slot, &[0xff]].concat())
            },
        ),
        header(
            "cbor_indefinite_bytes",
            "vault id as an indefinite-length byte string of two 8-byte chunks",
            |h| {
                let id = cbor::bytes(cbor::field(h, header_key::VAULT_ID)).clone();
                let raw = [&[0x5f, 0x48][..], &id[..8], &[0x48], &id[8..], &[0xff]].concat();
                with_field(h, header_key::VAULT_ID, raw)
            },
        ),
        keychain(
            "cbor_indefinite_text",
            "keychain service as an indefinite-length text string (\"cred\" \"vault\")",
            |h| {
                let raw = [&[0x7f, 0x64][..], b"cred", &[0x65], b"vault", &[0xff]].concat();
                let slots = slots_with_field(h, 1, slot_key::SERVICE, raw);
                with_field(h, header_key::SLOTS, slots)
            },
        ),
        keychain(
            "cbor_nonminimal_text_length",
            "keychain service of 9 bytes with a two-byte length (0x78 0x09)",
            |h| {
                let raw = [&[0x78, 0x09][..], b"credvault"].concat();
                let slots = slots_with_field(h, 1, slot_key::SERVICE, raw);
                with_field(h, header_key::SLOTS, slots)
            },
        ),
        header(
            "cbor_trailing_bytes_in_header",
            "one zero byte after the header map, inside the announced header length",
            |h| [encode(h), vec![0x00]].concat(),
        ),
        header(
            "cbor_second_item_in_header",
            "a second CBOR item (an empty map) after the header map, inside the header length",
            |h| [encode(h), encode(&Value::Map(Vec::new()))].concat(),
        ),
    ])
}

/// The header with field `key` written as the raw bytes `raw` and every
/// other field canonical.
fn with_field(h: &mut Value, key: u64, raw: Vec<u8>) -> Vec<u8> {
    let mut p = encoded_pairs(h);
    replace_encoded(&mut p, key, raw);
    raw_map(&map_head(p.len()), &p, &[])
}

/// The slot array with field `key` of slot `n` written as the raw bytes
/// `raw` and everything else canonical.
fn slots_with_field(h: &mut Value, n: usize, key: u64, raw: Vec<u8>) -> Vec<u8> {
    let slots = cbor::slots(h);
    let mut out = encode(&cbor::uint(slots.len() as u64));
    out[0] |= 0x80; // array head: major type 4
    for (i, slot) in slots.iter_mut().enumerate() {
        if i == n {
            out.extend(with_field(slot, key, raw.clone()));
        } else {
            out.extend(encode(slot));
        }
    }
    out
}

/// The index of field `key` in a map.
fn position(map: &mut Value, key: u64) -> usize {
    pairs(map)
        .iter()
        .position(|(k, _)| *k == cbor::uint(key))
        .expect("field present")
}

/// A one-entry vault whose header is re-encoded by `edit`; the body is
/// sealed under the edited bytes.
fn header(
    name: &'static str,
    comment: &'static str,
    edit: impl FnOnce(&mut Value) -> Vec<u8>,
) -> Case {
    let mut fx = Fixture::basic(name);
    finish(name, comment, &mut fx, edit)
}

/// Like [`header`] with a keychain slot (slot 1, service `credvault`)
/// beside the passphrase slot.
fn keychain(
    name: &'static str,
    comment: &'static str,
    edit: impl FnOnce(&mut Value) -> Vec<u8>,
) -> Case {
    let mut fx = Fixture::basic(name);
    fx.add_keychain("credvault", "vectors/1");
    finish(name, comment, &mut fx, edit)
}

fn finish(
    name: &'static str,
    comment: &'static str,
    fx: &mut Fixture,
    edit: impl FnOnce(&mut Value) -> Vec<u8>,
) -> Case {
    let mut h = fx.header_value();
    let canonical = encode(&h);
    let bytes = edit(&mut h);
    assert_ne!(bytes, canonical, "{name}: the edit changed nothing");
    assert!(cbor::decode(&bytes).is_map(), "{name}: still a map");
    Case::fail(name, NonCanonical, comment, fx.reseal(&bytes))
}
