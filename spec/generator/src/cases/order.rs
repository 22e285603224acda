//! Files with two defects (FORMAT.md §8, "Order of checks"): each names
//! the class of the defect that the order of checks meets first. Every
//! other vector has exactly one defect.

use ciborium::Value;
use credvault::format::PREFIX_LEN;

use crate::cases::body::{entry, one, plain};
use crate::cbor::{self, body_key, encode, field, header_key, pairs, remove, set, slot_key, uint};
use crate::fixture::{weak_kdf, Attrs, Fixture, PASSPHRASE};
use crate::Case;
use crate::Expect::{
    KdfOutOfRange, Malformed, NonCanonical, TooLarge, Truncated, UnlockFailed, UnsupportedVersion,
};

pub fn cases() -> Vec<Case> {
    Vec::from([
        {
            let n = "order_truncated_before_version";
            let mut file = Fixture::basic(n).seal();
            file[8] = 2;
            file.truncate(12);
            Case::fail(
                n,
                Truncated,
                "12 bytes (truncated, §2.3 step 4) with major version 2 (step 5)",
                file,
            )
        },
        {
            let n = "order_version_before_header_len";
            let mut file = Fixture::basic(n).seal();
            file[8] = 2;
            file[10..PREFIX_LEN].copy_from_slice(&[0; 4]);
            Case::fail(
                n,
                UnsupportedVersion,
                "major version 2 (§2.3 step 5) and header length 0 (step 6)",
                file,
            )
        },
        header(
            "order_malformed_before_non_canonical",
            Malformed,
            "header keys 1 and 2 swapped (non-canonical) and, later in the header, slot key 7 is -1 (malformed)",
            |_| {},
            |h| {
                set(cbor::slot(h, 0), slot_key::ITERATIONS, Value::Integer((-1).into()));
                pairs(h).swap(0, 1);
            },
        ),
        header(
            "order_non_canonical_before_schema",
            NonCanonical,
            "header keys 1 and 2 swapped (non-canonical) and header key 3 missing (malformed)",
            |_| {},
            |h| {
                remove(h, header_key::BODY_NONCE);
                pairs(h).swap(0, 1);
            },
        ),
        header(
            "order_header_keys_before_slots",
            TooLarge,
            "body length above the limit (header key 4, too-large) and a slot with t = 0 (kdf-out-of-range)",
            |_| {},
            |h| {
                set(h, header_key::BODY_LEN, uint(64 * 1024 * 1024 + 17));
                set(cbor::slot(h, 0), slot_key::ITERATIONS, uint(0));
            },
        ),
        header(
            "order_slot_count_before_kdf_range",
            TooLarge,
            "17 slots (too-large) of which the first has t = 0 (kdf-out-of-range)",
            |fx| {
                for _ in 0..16 {
                    fx.add_unknown(200);
                }
            },
            |h| set(cbor::slot(h, 0), slot_key::ITERATIONS, uint(0)),
        ),
        header(
            "order_slot_keys_before_kdf_range",
            Malformed,
            "a passphrase slot with t = 0 (kdf-out-of-range) and an extra key 11 (malformed, checked first)",
            |_| {},
            |h| {
                let slot = cbor::slot(h, 0);
                set(slot, slot_key::ITERATIONS, uint(0));
                set(slot, 11, uint(0));
            },
        ),
        header(
            "order_salt_before_kdf_range",
            Malformed,
            "a passphrase slot with t = 0 (kdf-out-of-range) and a salt of 15 bytes (malformed, checked first)",
            |_| {},
            |h| {
                let slot = cbor::slot(h, 0);
                set(slot, slot_key::ITERATIONS, uint(0));
                cbor::bytes(field(slot, slot_key::SALT)).truncate(15);
            },
        ),
        header(
            "order_kdf_range_before_later_slot",
            KdfOutOfRange,
            "slot 1 has t = 0 (kdf-out-of-range); slot 2 has a salt of 15 bytes (malformed)",
            |fx| {
                fx.add_passphrase(PASSPHRASE, weak_kdf());
            },
            |h| {
                set(cbor::slot(h, 0), slot_key::ITERATIONS, uint(0));
                cbor::bytes(field(cbor::slot(h, 1), slot_key::SALT)).truncate(15);
            },
        ),
        header(
            "order_earlier_slot_before_kdf_range",
            Malformed,
            "slot 1 has a salt of 15 bytes (malformed); slot 2 has t = 0 (kdf-out-of-range)",
            |fx| {
                fx.add_passphrase(PASSPHRASE, weak_kdf());
            },
            |h| {
                cbor::bytes(field(cbor::slot(h, 0), slot_key::SALT)).truncate(15);
                set(cbor::slot(h, 1), slot_key::ITERATIONS, uint(0));
            },
        ),
        header(
            "order_kdf_range_before_slot_id_order",
            KdfOutOfRange,
            "slot ids 3 then 1 (malformed) and the second slot has t = 0 (kdf-out-of-range, checked first)",
            |fx| {
                let again = fx.passphrase_slot(3, PASSPHRASE, weak_kdf());
                fx.header.slots.insert(0, again);
            },
            |h| {
                set(cbor::slot(h, 1), slot_key::ITERATIONS, uint(0));
            },
        ),
        {
            let n = "order_header_before_trailing_data";
            let mut fx = Fixture::basic(n);
            let mut h = fx.header_value();
            set(cbor::slot(&mut h, 0), slot_key::ITERATIONS, uint(0));
            let mut file = fx.reseal(&encode(&h));
            file.push(0);
            Case::fail(
                n,
                KdfOutOfRange,
                "a slot with t = 0 (§2.3 step 9) and one byte after the body (trailing-data, step 10)",
                file,
            )
        },
        {
            let n = "order_kdf_range_before_credentials";
            let mut fx = Fixture::basic(n);
            let mut h = fx.header_value();
            set(cbor::slot(&mut h, 0), slot_key::ITERATIONS, uint(0));
            Case::fail(
                n,
                KdfOutOfRange,
                "a slot with t = 0, and the reader offers no credential (no-credentials comes later)",
                fx.reseal(&encode(&h)),
            )
            .no_passphrase()
        },
        {
            let n = "order_truncated_before_unlock";
            let mut file = Fixture::basic(n).seal();
            file.pop();
            Case::fail(
                n,
                Truncated,
                "the last byte missing, and the wrong passphrase offered",
                file,
            )
            .passphrase("wrong passphrase")
        },
        {
            let n = "order_unlock_before_body";
            let mut fx = Fixture::basic(n);
            let mut file = fx.seal();
            let last = file.len() - 1;
            file[last] ^= 1;
            Case::fail(
                n,
                UnlockFailed,
                "the wrong passphrase offered, and the body's tag flipped (tampered, never reached)",
                file,
            )
            .passphrase("wrong passphrase")
        },
        plain(
            "order_body_non_canonical_before_schema",
            NonCanonical,
            "body entries out of order (non-canonical) and the second entry's kind \"API\" (malformed)",
            |fx| {
                fx.add_entry("aws.key", b"AKIAVECTOR", Attrs::default());
                fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            },
            |b| {
                set(entry(b, 1), body_key::KIND, Value::Text("API".into()));
                pairs(field(b, body_key::ENTRIES)).reverse();
                encode(b)
            },
        ),
        plain(
            "order_entries_before_tombstones",
            NonCanonical,
            "an entry with an empty metadata map (non-canonical) and a tombstone named \"old key\" (malformed)",
            one,
            |b| {
                set(entry(b, 0), 6, Value::Map(Vec::new()));
                pairs(field(b, body_key::TOMBSTONES))[0].0 = Value::Text("old key".into());
                encode(b)
            },
        ),
        plain(
            "order_entry_name_before_fields",
            Malformed,
            "an entry named \"github token\" (malformed) with an empty metadata map (non-canonical)",
            one,
            |b| {
                set(entry(b, 0), 6, Value::Map(Vec::new()));
                pairs(field(b, body_key::ENTRIES))[0].0 = Value::Text("github token".into());
                encode(b)
            },
        ),
        plain(
            "order_metadata_count_before_lengths",
            TooLarge,
            "33 metadata pairs (too-large), one of them with a 65-byte key (malformed)",
            one,
            |b| {
                let mut meta: Vec<(Value, Value)> = (0..32)
                    .map(|i| (Value::Text(format!("k{i:02}")), Value::Text("v".into())))
                    .collect();
                meta.push((Value::Text("k".repeat(65)), Value::Text("v".into())));
                set(entry(b, 0), 6, Value::Map(meta));
                encode(b)
            },
        ),
        plain(
            "order_entry_fields_before_unknown_key",
            TooLarge,
            "an entry with an unknown key 7 (malformed, checked last) and 33 metadata pairs (too-large)",
            one,
            |b| {
                let meta: Vec<(Value, Value)> = (0..33)
                    .map(|i| (Value::Text(format!("k{i:02}")), Value::Text("v".into())))
                    .collect();
                set(entry(b, 0), 6, Value::Map(meta));
                set(entry(b, 0), 7, uint(0));
                encode(b)
            },
        ),
    ])
}

/// A one-entry vault extended by `build`, its header value edited by
/// `change` and encoded canonically as far as ciborium goes (it keeps the
/// pair order given); the body is sealed under the edited header.
fn header(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    build: impl FnOnce(&mut Fixture),
    change: impl FnOnce(&mut Value),
) -> Case {
    let mut fx = Fixture::basic(name);
    build(&mut fx);
    let mut h = fx.header_value();
    change(&mut h);
    Case::fail(name, expect, comment, fx.reseal(&encode(&h)))
}
