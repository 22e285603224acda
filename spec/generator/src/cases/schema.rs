//! Schema violations in canonically encoded headers (FORMAT.md §3, §4, §6):
//! each is deterministic CBOR, so the only defect is the structure. The
//! body is sealed under the edited header.

use ciborium::Value;

use crate::cbor::{self, encode, field, header_key, pairs, remove, set, slot_key, uint};
use crate::fixture::{weak_kdf, Fixture, PASSPHRASE};
use crate::Case;
use crate::Expect::{Malformed, TooLarge};

pub fn cases() -> Vec<Case> {
    Vec::from([
        edit(
            "schema_header_not_a_map",
            Malformed,
            "the header is an array of the header's values, not a map",
            |h| {
                let values = pairs(h).iter().map(|(_, v)| v.clone()).collect();
                *h = Value::Array(values);
            },
        ),
        edit(
            "schema_missing_body_nonce",
            Malformed,
            "header key 3 (body nonce) is missing",
            |h| {
                remove(h, header_key::BODY_NONCE);
            },
        ),
        edit(
            "schema_missing_slots",
            Malformed,
            "header key 5 (key slots) is missing",
            |h| {
                remove(h, header_key::SLOTS);
            },
        ),
        edit(
            "schema_unknown_header_key",
            Malformed,
            "an unknown header key 6 (format 1 maps have no unknown keys)",
            |h| {
                set(h, 6, uint(0));
            },
        ),
        edit(
            "schema_text_header_key",
            Malformed,
            "an extra header field with a text key",
            |h| {
                pairs(h).push((Value::Text("comment".into()), Value::Text("hello".into())));
            },
        ),
        edit(
            "schema_vault_id_text",
            Malformed,
            "vault id as a 16-character text string instead of bytes",
            |h| {
                set(
                    h,
                    header_key::VAULT_ID,
                    Value::Text("0123456789abcdef".into()),
                );
            },
        ),
        edit(
            "schema_vault_id_short",
            Malformed,
            "vault id of 15 bytes",
            |h| {
                cbor::bytes(field(h, header_key::VAULT_ID)).pop();
            },
        ),
        edit(
            "schema_body_nonce_short",
            Malformed,
            "body nonce of 23 bytes",
            |h| {
                cbor::bytes(field(h, header_key::BODY_NONCE)).pop();
            },
        ),
        edit(
            "schema_save_counter_zero",
            Malformed,
            "save counter 0 (counters start at 1)",
            |h| {
                set(h, header_key::SAVE_COUNTER, uint(0));
            },
        ),
        edit(
            "schema_save_counter_negative",
            Malformed,
            "save counter -1 (negative integers are outside the CBOR subset)",
            |h| {
                set(h, header_key::SAVE_COUNTER, Value::Integer((-1).into()));
            },
        ),
        edit(
            "schema_save_counter_float",
            Malformed,
            "save counter 1.0 as a float (floats are outside the CBOR subset)",
            |h| {
                set(h, header_key::SAVE_COUNTER, Value::Float(1.0));
            },
        ),
        edit(
            "schema_save_counter_tagged",
            Malformed,
            "save counter 1 under CBOR tag 1 (tags are outside the CBOR subset)",
            |h| {
                set(
                    h,
                    header_key::SAVE_COUNTER,
                    Value::Tag(1, Box::new(uint(1))),
                );
            },
        ),
        edit(
            "schema_save_counter_bool",
            Malformed,
            "save counter true (simple values are outside the CBOR subset)",
            |h| {
                set(h, header_key::SAVE_COUNTER, Value::Bool(true));
            },
        ),
        edit(
            "schema_body_len_below_tag",
            Malformed,
            "body length 15, less than the 16-byte tag",
            |h| {
                set(h, header_key::BODY_LEN, uint(15));
            },
        ),
        edit(
            "schema_body_len_above_limit",
            TooLarge,
            "body length 64 MiB + 17, one above the limit; rejected before reading the body",
            |h| {
                set(h, header_key::BODY_LEN, uint(64 * 1024 * 1024 + 17));
            },
        ),
        edit(
            "schema_slots_not_array",
            Malformed,
            "key slots as a map instead of an array",
            |h| {
                let first = cbor::slot(h, 0).clone();
                set(h, header_key::SLOTS, Value::Map(vec![(uint(1), first)]));
            },
        ),
        edit(
            "schema_zero_slots",
            Malformed,
            "an empty key slot array",
            |h| {
                cbor::slots(h).clear();
            },
        ),
        build(
            "schema_17_slots",
            TooLarge,
            "17 key slots, one above the limit of 16 (a passphrase slot and 16 of unknown type)",
            |fx| {
                for _ in 0..16 {
                    fx.add_unknown(200);
                }
            },
        ),
        build(
            "schema_duplicate_slot_ids",
            Malformed,
            "two passphrase slots, both with id 1",
            |fx| {
                let again = fx.passphrase_slot(1, PASSPHRASE, weak_kdf());
                fx.header.slots.push(again);
            },
        ),
        build(
            "schema_unsorted_slot_ids",
            Malformed,
            "slot ids 2 then 1 (ids must be strictly ascending)",
            |fx| {
                let first = fx.passphrase_slot(2, PASSPHRASE, weak_kdf());
                fx.header.slots.insert(0, first);
            },
        ),
        build(
            "schema_slot_id_zero",
            Malformed,
            "a passphrase slot with id 0 (ids start at 1)",
            |fx| {
                fx.header.slots[0] = fx.passphrase_slot(0, PASSPHRASE, weak_kdf());
            },
        ),
        edit(
            "schema_slot_id_above_u32",
            Malformed,
            "a slot id of 2^32, above the u32 range",
            |h| {
                set(cbor::slot(h, 0), slot_key::ID, uint(1 << 32));
            },
        ),
        edit(
            "schema_slot_missing_type",
            Malformed,
            "slot key 2 (type) is missing",
            |h| {
                remove(cbor::slot(h, 0), slot_key::TYPE);
            },
        ),
        edit(
            "schema_slot_missing_salt",
            Malformed,
            "passphrase slot key 5 (salt) is missing",
            |h| {
                remove(cbor::slot(h, 0), slot_key::SALT);
            },
        ),
        edit(
            "schema_slot_unknown_key",
            Malformed,
            "a passphrase slot with an unknown key 11",
            |h| {
                set(cbor::slot(h, 0), 11, uint(0));
            },
        ),
        edit(
            "schema_slot_salt_short",
            Malformed,
            "passphrase slot salt of 15 bytes (minimum 16)",
            |h| {
                cbor::bytes(field(cbor::slot(h, 0), slot_key::SALT)).truncate(15);
            },
        ),
        edit(
            "schema_slot_salt_long",
            Malformed,
            "passphrase slot salt of 65 bytes (maximum 64)",
            |h| {
                cbor::bytes(field(cbor::slot(h, 0), slot_key::SALT)).resize(65, 0x5a);
            },
        ),
        edit(
            "schema_slot_nonce_short",
            Malformed,
            "slot wrap nonce of 23 bytes",
            |h| {
                cbor::bytes(field(cbor::slot(h, 0), slot_key::NONCE)).pop();
            },
        ),
        edit(
            "schema_wrapped_key_short",
            Malformed,
            "wrapped data key of 47 bytes (must be 48)",
            |h| {
                cbor::bytes(field(cbor::slot(h, 0), slot_key::WRAPPED)).pop();
            },
        ),
        edit(
            "schema_wrapped_key_long",
            Malformed,
            "wrapped data key of 49 bytes (must be 48)",
            |h| {
                cbor::bytes(field(cbor::slot(h, 0), slot_key::WRAPPED)).push(0);
            },
        ),
        edit(
            "schema_kdf_param_text",
            Malformed,
            "passphrase slot memory as the text \"8192\"",
            |h| {
                set(
                    cbor::slot(h, 0),
                    slot_key::MEMORY_KIB,
                    Value::Text("8192".into()),
                );
            },
        ),
        build_edit(
            "schema_recovery_salt_short",
            "recovery slot salt of 31 bytes (must be 32)",
            |fx| {
                fx.add_recovery(&[7; 20]);
            },
            |h| {
                cbor::bytes(field(cbor::slot(h, 1), slot_key::SALT)).pop();
            },
        ),
        build_edit(
            "schema_keychain_name_empty",
            "keychain slot with an empty service name",
            |fx| {
                fx.add_keychain("credvault", "vectors/1");
            },
            |h| {
                set(
                    cbor::slot(h, 1),
                    slot_key::SERVICE,
                    Value::Text(String::new()),
                );
            },
        ),
        build_edit(
            "schema_keychain_name_control",
            "keychain slot service name containing a newline",
            |fx| {
                fx.add_keychain("credvault", "vectors/1");
            },
            |h| {
                set(
                    cbor::slot(h, 1),
                    slot_key::SERVICE,
                    Value::Text("cred\nvault".into()),
                );
            },
        ),
    ])
}

/// A one-entry vault whose header value is changed by `change`.
fn edit(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    change: impl FnOnce(&mut Value),
) -> Case {
    build_edit_as(name, expect, comment, |_| {}, change)
}

/// A one-entry vault changed through the library's types by `change`.
fn build(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    change: impl FnOnce(&mut Fixture),
) -> Case {
    build_edit_as(name, expect, comment, change, |_| {})
}

/// A one-entry vault extended by `build`, then edited by `change`; malformed.
fn build_edit(
    name: &'static str,
    comment: &'static str,
    build: impl FnOnce(&mut Fixture),
    change: impl FnOnce(&mut Value),
) -> Case {
    build_edit_as(name, Malformed, comment, build, change)
}

pub(crate) fn build_edit_as(
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
