//! Vectors for rules of FORMAT.md that had none: the CBOR subset (tags,
//! bignums included; invalid UTF-8; nesting depth), keychain names (C1
//! controls, DEL, length), unknown slots, metadata limits, tombstones,
//! kinds and names at their limits, the unlock table of §4.6 (KDF limits
//! with and without a passphrase, the work budget) and the empty
//! passphrase.

use ciborium::Value;

use crate::cases::body::{entry, one, plain};
use crate::cases::schema::build_edit_as;
use crate::cbor::{self, body_key, encode, field, pairs, set, slot_key, uint};
use crate::fixture::{kdf_params, weak_kdf, Attrs, Fixture, PASSPHRASE, T0};
use crate::Case;
use crate::Expect::{KdfLimit, Malformed, NonCanonical, Success, TooLarge, UnlockFailed};

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    out.extend(subset());
    out.extend(keychain_names());
    out.extend(unknown_slots());
    out.extend(metadata());
    out.extend(tombstones_kinds_names());
    out.extend(unlock());
    out
}

/// FORMAT.md §3: every tag is malformed (bignums of any value included),
/// text must be valid UTF-8, depth at most 8.
fn subset() -> Vec<Case> {
    Vec::from([
        header_bytes(
            "cbor_bignum_save_counter",
            Malformed,
            "save counter 1 written as a tag 2 bignum (c2 41 01): tags are outside the subset",
            |fx| fx.add_passphrase(PASSPHRASE, weak_kdf()),
            |_| {
                // Key 2 and its value 1, then the head of key 3's 24-byte
                // nonce: unique in the header.
                let from = vec![0x02, 0x01, 0x03, 0x58, 0x18];
                let to = vec![0x02, 0xc2, 0x41, 0x01, 0x03, 0x58, 0x18];
                (from, to)
            },
        ),
        unknown_slot_field(
            "cbor_bignum_in_unknown_slot",
            Malformed,
            "an unknown slot's field 20 is the tag 2 bignum 2^64, where any item of the subset may stand",
            Value::Tag(2, Box::new(Value::Bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0]))),
        ),
        unknown_slot_field(
            "cbor_depth_9_in_unknown_slot",
            Malformed,
            "an unknown slot's field 20 nests arrays so that its innermost item is at depth 9",
            nested(6),
        ),
        unknown_slot_field(
            "valid_depth_8_in_unknown_slot",
            Success,
            "an unknown slot's field 20 nests arrays so that its innermost item is at depth 8, the maximum",
            nested(5),
        ),
        header_bytes(
            "cbor_invalid_utf8_keychain_service",
            Malformed,
            "keychain service \"credvault\" with \"dv\" replaced by the bytes c3 28: not UTF-8",
            |fx| fx.add_keychain("credvault", "vectors/1"),
            |_| (b"credvault".to_vec(), b"cre\xc3\x28ault".to_vec()),
        ),
        header_bytes(
            "cbor_invalid_utf8_in_unknown_slot",
            Malformed,
            "an unknown slot's text field with one byte replaced by 0xff: not UTF-8",
            |fx| fx.add_unknown(9),
            |_| (b"from a newer".to_vec(), b"from a \xffewer".to_vec()),
        ),
        plain(
            "body_invalid_utf8_metadata_value",
            Malformed,
            "a metadata value with a lone continuation byte 0x80: not UTF-8",
            |fx| {
                let attrs = Attrs {
                    metadata: &[("region", "eu-west-1")],
                    ..Attrs::default()
                };
                fx.add_entry("github.token", b"ghp_vector0000000000", attrs);
            },
            |b| replace_once(&encode(b), b"eu-west-1", b"eu-w\x80st-1"),
        ),
        plain(
            "body_invalid_utf8_entry_name",
            Malformed,
            "an entry name with one byte replaced by 0xc3 (a lead byte with no continuation)",
            one,
            |b| replace_once(&encode(b), b"github.token", b"github\xc3token"),
        ),
    ])
}

/// Eight-deep arrays and so on: `n` arrays around the integer 0.
fn nested(n: usize) -> Value {
    (0..n).fold(uint(0), |inner, _| Value::Array(vec![inner]))
}

/// FORMAT.md §4.3: no control character (Cc, C0 and C1 and DEL), 1 to 256
/// bytes.
fn keychain_names() -> Vec<Case> {
    let name = |n: &'static str, comment: &'static str, service: &str, account: &str| {
        let (service, account) = (service.to_owned(), account.to_owned());
        build_edit_as(
            n,
            Malformed,
            comment,
            |fx| {
                fx.add_keychain("credvault", "vectors/1");
            },
            move |h| {
                let slot = cbor::slot(h, 1);
                set(slot, slot_key::SERVICE, Value::Text(service));
                set(slot, 10, Value::Text(account));
            },
        )
    };
    let long = "a".repeat(257);
    Vec::from([
        name(
            "schema_keychain_name_c1_control",
            "keychain account containing U+0085 (NEL), a C1 control character",
            "credvault",
            "vectors\u{85}1",
        ),
        name(
            "schema_keychain_name_c1_last",
            "keychain service containing U+009F, the last C1 control character",
            "cred\u{9f}vault",
            "vectors/1",
        ),
        name(
            "schema_keychain_name_del",
            "keychain service containing U+007F (DEL)",
            "cred\u{7f}vault",
            "vectors/1",
        ),
        name(
            "schema_keychain_name_too_long",
            "keychain account of 257 bytes, one above the maximum",
            "credvault",
            &long,
        ),
        {
            let n = "valid_keychain_name_limits";
            let mut fx = Fixture::new(n);
            fx.add_keychain("credvault", &"a".repeat(256));
            fx.add_keychain("\u{a0}credvault\u{a0}", "vectors/é");
            fx.add_passphrase(PASSPHRASE, weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let file = fx.seal();
            Case::success(
                n,
                "keychain names of 256 bytes and with U+00A0 and U+00E9 (not controls): valid, skipped on unlock",
                file,
                fx.payload(),
            )
        },
    ])
}

/// FORMAT.md §4.5: an unknown slot still needs key 1 and key 2 and
/// unsigned integer keys.
fn unknown_slots() -> Vec<Case> {
    let edit = |n: &'static str, comment: &'static str, change: fn(&mut Value)| {
        build_edit_as(
            n,
            Malformed,
            comment,
            |fx| {
                fx.add_unknown(9);
            },
            change,
        )
    };
    Vec::from([
        edit(
            "schema_unknown_slot_text_key",
            "an unknown slot (type 9) with a text key \"x\"",
            |h| {
                pairs(cbor::slot(h, 1)).push((Value::Text("x".into()), uint(0)));
            },
        ),
        edit(
            "schema_unknown_slot_missing_id",
            "an unknown slot (type 9) without key 1 (id)",
            |h| {
                cbor::remove(cbor::slot(h, 1), slot_key::ID);
            },
        ),
        {
            let n = "valid_unknown_slot_types_0_and_max";
            let mut fx = Fixture::new(n);
            fx.add_unknown(0);
            fx.add_passphrase(PASSPHRASE, weak_kdf());
            fx.add_unknown(u64::MAX);
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let file = fx.seal();
            Case::success(
                n,
                "unknown slots of types 0 and 2^64-1 around a passphrase slot: kept and skipped",
                file,
                fx.payload(),
            )
        },
        edit(
            "schema_unknown_slot_type_text",
            "an unknown slot whose type (key 2) is the text \"9\"",
            |h| {
                set(cbor::slot(h, 1), slot_key::TYPE, Value::Text("9".into()));
            },
        ),
    ])
}

/// FORMAT.md §5.2: metadata of 1 to 32 pairs, keys 1 to 64 bytes, values
/// 0 to 1024 bytes, text only.
fn metadata() -> Vec<Case> {
    let meta = |n: &'static str, expect, comment: &'static str, pairs: Vec<(Value, Value)>| {
        plain(n, expect, comment, one, move |b| {
            set(entry(b, 0), 6, Value::Map(pairs));
            encode(b)
        })
    };
    let text = |s: &str| Value::Text(s.to_owned());
    let numbered = |n: usize| -> Vec<(Value, Value)> {
        (0..n)
            .map(|i| (text(&format!("k{i:02}")), text("v")))
            .collect()
    };
    Vec::from([
        meta(
            "body_metadata_33_pairs",
            TooLarge,
            "an entry with 33 metadata pairs, one above the maximum of 32",
            numbered(33),
        ),
        meta(
            "body_metadata_key_empty",
            Malformed,
            "a metadata key of 0 bytes",
            vec![(text(""), text("v"))],
        ),
        meta(
            "body_metadata_key_65_bytes",
            Malformed,
            "a metadata key of 65 bytes, one above the maximum of 64",
            vec![(text(&"k".repeat(65)), text("v"))],
        ),
        meta(
            "body_metadata_value_1025_bytes",
            Malformed,
            "a metadata value of 1025 bytes, one above the maximum of 1024",
            vec![(text("k"), text(&"v".repeat(1025)))],
        ),
        meta(
            "body_metadata_value_bytes",
            Malformed,
            "a metadata value that is a byte string, not text",
            vec![(text("k"), Value::Bytes(b"v".to_vec()))],
        ),
        meta(
            "body_metadata_key_uint",
            Malformed,
            "a metadata key that is the unsigned integer 1, not text",
            vec![(uint(1), text("v"))],
        ),
        plain(
            "body_metadata_unsorted",
            NonCanonical,
            "metadata keys \"aaa\" before \"zz\": text order, not encoding order (the shorter key first)",
            one,
            |b| {
                let pairs = vec![(text("aaa"), text("1")), (text("zz"), text("2"))];
                set(entry(b, 0), 6, Value::Map(pairs));
                encode(b)
            },
        ),
        plain(
            "body_metadata_not_a_map",
            Malformed,
            "an entry whose metadata (key 6) is an array of two texts",
            one,
            |b| {
                set(entry(b, 0), 6, Value::Array(vec![text("k"), text("v")]));
                encode(b)
            },
        ),
        {
            let n = "valid_metadata_limits";
            let mut fx = Fixture::with_passphrase(n);
            let many: Vec<(&'static str, &'static str)> = (0..32)
                .map(|i| -> (&'static str, &'static str) { (leak(format!("k{i:02}")), "") })
                .collect();
            fx.add_entry(
                "many.pairs",
                b"32",
                Attrs {
                    metadata: Vec::leak(many),
                    ..Attrs::default()
                },
            );
            let longest: &'static [(&'static str, &'static str)] =
                Vec::leak(vec![(leak("k".repeat(64)), leak("v".repeat(1024)))]);
            fx.add_entry(
                "long.pair",
                b"64/1024",
                Attrs {
                    metadata: longest,
                    ..Attrs::default()
                },
            );
            let file = fx.seal();
            Case::success(
                n,
                "32 metadata pairs with empty values; a pair with a 64-byte key and a 1024-byte value",
                file,
                fx.payload(),
            )
        },
    ])
}

fn leak(s: String) -> &'static str {
    String::leak(s)
}

/// FORMAT.md §5.1, §5.2, §5.4: tombstone names and times, kinds and names
/// at their limits.
fn tombstones_kinds_names() -> Vec<Case> {
    Vec::from([
        plain(
            "body_tombstone_bad_name",
            Malformed,
            "a tombstone named \"old key\" (a space is not allowed in names)",
            one,
            |b| {
                pairs(field(b, body_key::TOMBSTONES))[0].0 = Value::Text("old key".into());
                encode(b)
            },
        ),
        plain(
            "body_tombstone_time_text",
            Malformed,
            "a tombstone whose deletion time is text, not an unsigned integer",
            one,
            |b| {
                pairs(field(b, body_key::TOMBSTONES))[0].1 = Value::Text("1767225600000".into());
                encode(b)
            },
        ),
        plain(
            "body_tombstones_unsorted",
            NonCanonical,
            "tombstones \"old.key\" and \"aa\" in that order (the shorter key sorts first)",
            |fx| {
                fx.add_tombstone("aa", T0);
                fx.add_tombstone("old.key", T0);
            },
            |b| {
                pairs(field(b, body_key::TOMBSTONES)).reverse();
                encode(b)
            },
        ),
        plain(
            "body_kind_empty",
            Malformed,
            "an entry kind of 0 bytes",
            one,
            |b| {
                set(entry(b, 0), body_key::KIND, Value::Text(String::new()));
                encode(b)
            },
        ),
        plain(
            "body_kind_33_bytes",
            Malformed,
            "an entry kind of 33 bytes, one above the maximum of 32",
            one,
            |b| {
                set(entry(b, 0), body_key::KIND, Value::Text("k".repeat(33)));
                encode(b)
            },
        ),
        plain(
            "body_name_257_bytes",
            Malformed,
            "an entry name of 257 bytes, one above the maximum of 256",
            one,
            |b| {
                let long = format!("{}.{}", "x".repeat(128), "y".repeat(128));
                pairs(field(b, body_key::ENTRIES))[0].0 = Value::Text(long);
                encode(b)
            },
        ),
        plain(
            "body_missing_entries",
            Malformed,
            "body key 1 (entries) is missing; key 2 (tombstones) is present",
            one,
            |b| {
                cbor::remove(b, body_key::ENTRIES);
                encode(b)
            },
        ),
        plain(
            "body_unknown_key",
            Malformed,
            "the body map has an unknown key 3 beside entries and tombstones",
            one,
            |b| {
                set(b, 3, Value::Map(Vec::new()));
                encode(b)
            },
        ),
        {
            let n = "version_minor_1_unknown_header_key";
            let mut fx = Fixture::basic(n);
            fx.minor = 1;
            let mut h = fx.header_value();
            set(&mut h, 6, uint(0));
            Case::fail(
                n,
                Malformed,
                "format 1.1 with an unknown header key 6: a higher minor version is read with the 1.0 rules",
                fx.reseal(&encode(&h)),
            )
        },
        {
            let n = "valid_tombstones_only";
            let mut fx = Fixture::with_passphrase(n);
            fx.add_tombstone("a", 0);
            fx.add_tombstone("old.key", u64::MAX);
            let file = fx.seal();
            Case::success(
                n,
                "no entries; tombstones with deletion times 0 and 2^64-1",
                file,
                fx.payload(),
            )
        },
        {
            let n = "valid_kind_32_bytes";
            let mut fx = Fixture::with_passphrase(n);
            let attrs = Attrs {
                kind: "0123456789-abcdefghijklmnopqrstu",
                expires: Some(0),
                ..Attrs::default()
            };
            fx.add_entry("k", b"v", attrs);
            let file = fx.seal();
            Case::success(
                n,
                "an entry kind of 32 bytes of [a-z0-9-], the maximum, and an expiry of 0",
                file,
                fx.payload(),
            )
        },
    ])
}

/// FORMAT.md §4.6: the outcome table, the work budget of §6.3, and the
/// empty passphrase (§4.2).
fn unlock() -> Vec<Case> {
    let over = || kdf_params(2 * 1024 * 1024, 1, 1);
    Vec::from([
        {
            let n = "unlock_kdf_limit_no_passphrase";
            let mut fx = Fixture::new(n);
            fx.add_passphrase_unworkable(over());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            Case::fail(
                n,
                KdfLimit,
                "one passphrase slot above the limits (m = 2 GiB) and no passphrase offered",
                fx.seal(),
            )
            .no_passphrase()
        },
        {
            let n = "unlock_kdf_limit_beside_usable_slot_no_passphrase";
            let mut fx = Fixture::new(n);
            fx.add_passphrase_unworkable(over());
            fx.add_passphrase(PASSPHRASE, weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            Case::fail(
                n,
                KdfLimit,
                "a slot above the limits and one within them; no passphrase offered, so no unwrap is attempted",
                fx.seal(),
            )
            .no_passphrase()
        },
        {
            let n = "unlock_kdf_limit_beside_usable_slot_wrong_passphrase";
            let mut fx = Fixture::new(n);
            fx.add_passphrase_unworkable(over());
            fx.add_passphrase(PASSPHRASE, weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            Case::fail(
                n,
                UnlockFailed,
                "a slot above the limits and one within them; the wrong passphrase is tried on the second",
                fx.seal(),
            )
            .passphrase("wrong passphrase")
        },
        {
            let n = "unlock_kdf_limit_recovery_slot_no_recovery_key";
            let mut fx = Fixture::new(n);
            let key = fx.det.bytes(20);
            fx.add_recovery(&key);
            fx.add_passphrase_unworkable(over());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            Case::fail(
                n,
                KdfLimit,
                "a recovery slot and a passphrase slot above the limits; only a passphrase offered",
                fx.seal(),
            )
        },
        {
            let n = "unlock_work_budget_fifth_slot";
            let mut fx = Fixture::new(n);
            for other in ["one", "two", "three", "four"] {
                fx.add_passphrase(other, weak_kdf());
            }
            fx.add_passphrase(PASSPHRASE, weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            Case::fail(
                n,
                KdfLimit,
                "five passphrase slots; the passphrase opens only the fifth, beyond the 4 runs of one open",
                fx.seal(),
            )
        },
        {
            let n = "valid_empty_passphrase";
            let mut fx = Fixture::new(n);
            fx.add_passphrase("", weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let file = fx.seal();
            Case::success(
                n,
                "the passphrase is the empty string (the line \"passphrase: \" with nothing after the separator)",
                file,
                fx.payload(),
            )
            .passphrase("")
        },
        {
            let n = "unlock_empty_passphrase_is_tried";
            let mut fx = Fixture::basic(n);
            Case::fail(
                n,
                UnlockFailed,
                "the empty passphrase is offered and tried (it is a passphrase, not the absence of one)",
                fx.seal(),
            )
            .passphrase("")
        },
        {
            let n = "valid_passphrase_with_spaces";
            let pw = " pass: phrase ";
            let mut fx = Fixture::new(n);
            fx.add_passphrase(pw, weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let file = fx.seal();
            Case::success(
                n,
                "the passphrase \" pass: phrase \": leading and trailing spaces and \": \" are part of it (no trimming)",
                file,
                fx.payload(),
            )
            .passphrase(pw)
        },
    ])
}

/// A one-entry vault extended by `build`, whose header bytes are edited
/// by replacing the first occurrence of one byte string with another
/// (`edit` returns both); the body is sealed under the edited bytes.
fn header_bytes<T>(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    build: impl FnOnce(&mut Fixture) -> T,
    edit: impl FnOnce(&mut Value) -> (Vec<u8>, Vec<u8>),
) -> Case {
    let mut fx = Fixture::basic(name);
    build(&mut fx);
    let mut h = fx.header_value();
    let bytes = encode(&h);
    let (from, to) = edit(&mut h);
    let edited = replace_once(&bytes, &from, &to);
    Case::fail(name, expect, comment, fx.reseal(&edited))
}

/// A vault with a passphrase slot and an unknown slot (type 9) whose field
/// 20 is `value`.
fn unknown_slot_field(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    value: Value,
) -> Case {
    let mut fx = Fixture::basic(name);
    fx.add_unknown(9);
    let mut h = fx.header_value();
    set(cbor::slot(&mut h, 1), 20, value);
    let file = fx.reseal(&encode(&h));
    if expect == Success {
        Case::success(name, comment, file, fx.payload())
    } else {
        Case::fail(name, expect, comment, file)
    }
}

/// `bytes` with the first occurrence of `from` replaced by `to`.
pub(crate) fn replace_once(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{from:02x?} not found"));
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}
