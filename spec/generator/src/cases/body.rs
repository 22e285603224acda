//! The body (FORMAT.md §5): the ciphertext flipped, and plaintexts that
//! decrypt correctly but break the body's encoding or schema, or whose
//! sealed values fail authentication when read.

use ciborium::Value;
use credvault::format::PREFIX_LEN;

use crate::cbor::{
    self, body_key, encode, encoded_pairs, field, map_head, pairs, raw_map, remove,
    replace_encoded, set, uint,
};
use crate::fixture::{name, Attrs, Fixture, T0};
use crate::Case;
use crate::Expect::{Malformed, NonCanonical, Tampered};

pub fn cases() -> Vec<Case> {
    Vec::from([
        flipped(
            "body_ciphertext_flipped",
            "one bit of the first body ciphertext byte flipped",
            Some(0),
        ),
        flipped(
            "body_tag_flipped",
            "one bit of the last byte of the body's tag flipped",
            None,
        ),
        value_swapped(),
        value_flipped(),
        plain(
            "body_entries_unsorted",
            NonCanonical,
            "body entries in reverse order (github.token before aws.key)",
            two,
            |b| {
                pairs(cbor::field(b, body_key::ENTRIES)).reverse();
                encode(b)
            },
        ),
        plain(
            "body_entries_sorted_as_text",
            NonCanonical,
            "entries \"aa\" before \"b\": text order, not encoding order (0x61 < 0x62)",
            |fx| {
                fx.add_entry("aa", b"1", Attrs::default());
                fx.add_entry("b", b"2", Attrs::default());
            },
            |b| {
                let entries = pairs(cbor::field(b, body_key::ENTRIES));
                assert_eq!(entries[0].0, Value::Text("b".into()));
                entries.swap(0, 1);
                encode(b)
            },
        ),
        plain(
            "body_nonminimal_int",
            NonCanonical,
            "tombstone time 5 encoded in two bytes (0x18 0x05)",
            one,
            |b| {
                let old = encode(&Value::Text("old.key".into()));
                let tomb = [&[0xa1][..], &old, &[0x18, 0x05]].concat();
                let mut p = encoded_pairs(b);
                replace_encoded(&mut p, body_key::TOMBSTONES, tomb);
                raw_map(&map_head(p.len()), &p, &[])
            },
        ),
        plain(
            "body_metadata_empty_map",
            NonCanonical,
            "an entry with an empty metadata map (an empty map is written by omitting key 6)",
            one,
            |b| {
                set(entry(b, 0), 6, Value::Map(Vec::new()));
                encode(b)
            },
        ),
        plain(
            "body_empty_plaintext",
            Malformed,
            "the body decrypts to zero bytes",
            one,
            |_| Vec::new(),
        ),
        plain(
            "body_not_a_map",
            Malformed,
            "the body decrypts to a CBOR array",
            one,
            |b| {
                let values = pairs(b).iter().map(|(_, v)| v.clone()).collect();
                encode(&Value::Array(values))
            },
        ),
        plain(
            "body_missing_tombstones",
            Malformed,
            "body key 2 (tombstones) is missing",
            one,
            |b| {
                remove(b, body_key::TOMBSTONES);
                encode(b)
            },
        ),
        plain(
            "body_missing_kind",
            Malformed,
            "entry key 2 (kind) is missing",
            one,
            |b| {
                remove(entry(b, 0), body_key::KIND);
                encode(b)
            },
        ),
        plain(
            "body_unknown_entry_key",
            Malformed,
            "an entry with an unknown key 7",
            one,
            |b| {
                set(entry(b, 0), 7, uint(0));
                encode(b)
            },
        ),
        plain(
            "body_bad_kind",
            Malformed,
            "entry kind \"API-Key\" (kinds are [a-z0-9-])",
            one,
            |b| {
                set(entry(b, 0), body_key::KIND, Value::Text("API-Key".into()));
                encode(b)
            },
        ),
        plain(
            "body_bad_key_name",
            Malformed,
            "entry name \"github..token\" (empty segment)",
            one,
            |b| {
                pairs(cbor::field(b, body_key::ENTRIES))[0].0 = Value::Text("github..token".into());
                encode(b)
            },
        ),
        plain(
            "body_updated_before_created",
            Malformed,
            "an entry updated one millisecond before it was created",
            one,
            |b| {
                set(entry(b, 0), body_key::CREATED, uint(T0 + 1));
                encode(b)
            },
        ),
        plain(
            "body_live_and_deleted",
            Malformed,
            "github.token is both a live entry and a tombstone",
            one,
            |b| {
                let tombs = pairs(field(b, body_key::TOMBSTONES));
                tombs.clear();
                tombs.push((Value::Text("github.token".into()), uint(T0)));
                encode(b)
            },
        ),
        plain(
            "body_sealed_value_short",
            Malformed,
            "a sealed value of 39 bytes, shorter than nonce and tag",
            one,
            |b| {
                cbor::bytes(field(entry(b, 0), 1)).truncate(39);
                encode(b)
            },
        ),
    ])
}

/// A one-entry vault with one bit of the body flipped after sealing, at
/// offset `at` in the body or in its last byte.
fn flipped(name: &'static str, comment: &'static str, at: Option<usize>) -> Case {
    let mut fx = Fixture::basic(name);
    let mut file = fx.seal();
    let body_start = PREFIX_LEN + fx.header.encode().len();
    let at = at.map_or(file.len() - 1, |at| body_start + at);
    file[at] ^= 0x01;
    Case::fail(name, Tampered, comment, file)
}

pub(crate) fn one(fx: &mut Fixture) {
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    fx.add_tombstone("old.key", T0);
}

fn two(fx: &mut Fixture) {
    fx.add_entry("aws.key", b"AKIAVECTOR", Attrs::default());
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
}

/// The `n`-th entry map of a body value.
pub(crate) fn entry(body: &mut Value, n: usize) -> &mut Value {
    &mut pairs(field(body, body_key::ENTRIES))[n].1
}

/// A vault filled by `fill` whose body plaintext is re-encoded by `edit`
/// and sealed correctly (header body length adjusted): the body decrypts,
/// and only its plaintext is wrong.
pub(crate) fn plain(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    fill: impl FnOnce(&mut Fixture),
    edit: impl FnOnce(&mut Value) -> Vec<u8>,
) -> Case {
    let mut fx = Fixture::with_passphrase(name);
    fill(&mut fx);
    let canonical = fx.body.encode();
    let mut body = cbor::decode(&canonical);
    let bytes = edit(&mut body);
    assert_ne!(bytes, canonical, "{name}: the edit changed nothing");
    fx.header.body_len = (bytes.len() + credvault::format::TAG_LEN) as u64;
    let header = fx.header.encode();
    Case::fail(name, expect, comment, fx.reseal_body(&header, &bytes))
}

/// Two entries whose sealed values are swapped: each value's associated
/// data names its entry, so reading either fails.
fn value_swapped() -> Case {
    let name = "body_values_swapped";
    let mut fx = Fixture::with_passphrase(name);
    two(&mut fx);
    let (a, b) = (self::name("aws.key"), self::name("github.token"));
    let va = fx.body.entries[&a].value.clone();
    let vb = fx.body.entries[&b].value.clone();
    fx.body.entries.get_mut(&a).expect("added").value = vb;
    fx.body.entries.get_mut(&b).expect("added").value = va;
    Case::fail(
        name,
        Tampered,
        "the sealed values of two entries swapped: the vault opens, reading a value fails",
        fx.seal(),
    )
}

/// One bit of a sealed value flipped before sealing the body.
fn value_flipped() -> Case {
    let name = "body_value_flipped";
    let mut fx = Fixture::with_passphrase(name);
    one(&mut fx);
    let key = self::name("github.token");
    let mut bytes = fx.body.entries[&key].value.as_bytes().to_vec();
    bytes[30] ^= 0x01;
    fx.body.entries.get_mut(&key).expect("added").value =
        credvault::format::SealedValue::new(bytes).expect("same length");
    Case::fail(
        name,
        Tampered,
        "one bit of a sealed value flipped: the vault opens, reading the value fails",
        fx.seal(),
    )
}
