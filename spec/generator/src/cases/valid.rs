//! Valid vaults: contents, slot combinations, and boundary values that a
//! reader must accept.

use crate::fixture::{kdf_params, weak_kdf, Attrs, Fixture, PASSPHRASE, T0};
use crate::Case;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

pub fn cases() -> Vec<Case> {
    Vec::from([
        valid("valid_empty", "a vault with no entries", |_| {}),
        valid("valid_one_entry", "one entry", |fx| {
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
        }),
        valid(
            "valid_several_entries",
            "entries with kinds, metadata, expiry (one already expired) and two tombstones",
            |fx| {
                fx.add_entry(
                    "aws.access_key_id",
                    b"AKIAVECTOR000000",
                    Attrs {
                        kind: "api-key",
                        metadata: &[("region", "eu-west-1")],
                        ..Attrs::default()
                    },
                );
                fx.add_entry(
                    "github.token",
                    b"ghp_vector0000000000",
                    Attrs {
                        kind: "token",
                        created: T0 - 10 * DAY_MS,
                        updated: T0,
                        expires: Some(T0 + 30 * DAY_MS),
                        metadata: &[("scopes", "repo read:org"), ("url", "https://github.com")],
                    },
                );
                fx.add_entry(
                    "postgresql.password",
                    b"pg-vector",
                    Attrs {
                        kind: "password",
                        expires: Some(T0 - DAY_MS),
                        ..Attrs::default()
                    },
                );
                fx.add_tombstone("old.password", T0 - 2 * DAY_MS);
                fx.add_tombstone("slack.webhook", T0 - DAY_MS);
            },
        ),
        valid(
            "valid_unicode_value",
            "a UTF-8 value with non-ASCII characters",
            |fx| {
                fx.add_entry(
                    "wifi.password",
                    "pässwörd 🔑 密码 ∑".as_bytes(),
                    Attrs::default(),
                );
            },
        ),
        valid("valid_empty_value", "an entry whose value is empty", |fx| {
            fx.add_entry("empty.value", b"", Attrs::default());
        }),
        valid(
            "valid_binary_value",
            "a value of all 256 byte values, 0x00 to 0xff",
            |fx| {
                let all: Vec<u8> = (0..=255).collect();
                fx.add_entry("binary.blob", &all, Attrs::default());
            },
        ),
        valid(
            "valid_long_name",
            "a key name of 256 bytes, the maximum",
            |fx| {
                let long = format!("{}.{}", "x".repeat(127), "y".repeat(128));
                fx.add_entry(&long, b"long", Attrs::default());
            },
        ),
        valid(
            "valid_entry_order_canonical",
            "entries \"b\" then \"aa\": canonical order is the bytewise order of encoded keys",
            |fx| {
                fx.add_entry("aa", b"1", Attrs::default());
                fx.add_entry("b", b"2", Attrs::default());
            },
        ),
        valid("valid_save_counter_max", "save counter 2^64-1", |fx| {
            fx.header.save_counter = u64::MAX
        }),
        {
            let name = "valid_unicode_passphrase";
            let passphrase = "pässwörd 🔑 密码";
            let mut fx = Fixture::new(name);
            fx.add_passphrase(passphrase, weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let file = fx.seal();
            Case::success(
                name,
                "a UTF-8 passphrase with non-ASCII characters (NFC)",
                file,
                fx.payload(),
            )
            .passphrase(passphrase)
        },
        slots(
            "valid_two_passphrase_slots",
            "two passphrase slots; the offered passphrase opens the second",
            |fx| {
                fx.add_passphrase("another passphrase", weak_kdf());
                fx.add_passphrase(PASSPHRASE, kdf_params(16 * 1024, 2, 1));
            },
        ),
        slots(
            "valid_slot_ids_sparse",
            "passphrase slots with ids 7 and 2^32-1 (ids need only ascend)",
            |fx| {
                let a = fx.passphrase_slot(7, "another passphrase", weak_kdf());
                let b = fx.passphrase_slot(u32::MAX, PASSPHRASE, weak_kdf());
                fx.header.slots.extend([a, b]);
            },
        ),
        slots(
            "valid_keychain_and_passphrase",
            "a keychain slot (keychain unavailable to the reader) and a passphrase slot",
            |fx| {
                fx.add_keychain("credvault", "vectors/3");
                fx.add_passphrase(PASSPHRASE, weak_kdf());
            },
        ),
        slots(
            "valid_unknown_slot_and_passphrase",
            "a slot of unknown type 9 (skipped) and a passphrase slot",
            |fx| {
                fx.add_unknown(9);
                fx.add_passphrase(PASSPHRASE, weak_kdf());
            },
        ),
        slots(
            "valid_16_slots",
            "16 slots, the maximum: passphrase, keychain, recovery and 13 of unknown type",
            |fx| {
                fx.add_passphrase(PASSPHRASE, weak_kdf());
                fx.add_keychain("credvault", "vectors/4");
                let key = fx.det.bytes(20);
                fx.add_recovery(&key);
                for code in 0..13 {
                    fx.add_unknown(100 + code);
                }
            },
        ),
        slots(
            "valid_recovery_slot_passphrase_offered",
            "passphrase and recovery slots; the reader offers the passphrase",
            |fx| {
                fx.add_passphrase(PASSPHRASE, weak_kdf());
                let key = fx.det.bytes(20);
                fx.add_recovery(&key);
            },
        ),
        {
            let name = "valid_recovery_slot";
            let mut fx = Fixture::new(name);
            fx.add_passphrase(PASSPHRASE, weak_kdf());
            let key = fx.det.bytes(20);
            fx.add_recovery(&key);
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let file = fx.seal();
            Case::success(
                name,
                "passphrase and recovery slots; the reader offers only the recovery key",
                file,
                fx.payload(),
            )
            .no_passphrase()
            .recovery(&key)
        },
    ])
}

/// A vault with one passphrase slot, filled by `fill`.
fn valid(name: &'static str, comment: &'static str, fill: impl FnOnce(&mut Fixture)) -> Case {
    let mut fx = Fixture::with_passphrase(name);
    fill(&mut fx);
    let file = fx.seal();
    Case::success(name, comment, file, fx.payload())
}

/// A one-entry vault whose slots are made by `make`.
fn slots(name: &'static str, comment: &'static str, make: impl FnOnce(&mut Fixture)) -> Case {
    let mut fx = Fixture::new(name);
    make(&mut fx);
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    let file = fx.seal();
    Case::success(name, comment, file, fx.payload())
}
