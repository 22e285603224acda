//! A valid vault built deterministically in-process (fixed ids, keys,
//! salts and nonces), so that a crash found by `fuzz_mutate_valid` replays
//! byte for byte. It has one slot of every type (keychain, recovery,
//! passphrase at the cheapest Argon2id, an unknown type) and entries that
//! use every body field, plus a tombstone.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ciborium::Value;
use credvault::format::{
    Body, Entry, Header, KeychainSlot, PassphraseSlot, RecoverySlot, Slot, SlotKind, Wrap,
};
use credvault::{
    crypto, keychain_account, seal_file, seal_value, slots, value_key, KdfParams, KeyName, Kind,
    Metadata, Passphrase, RecoveryKey, SecretKey, KEYCHAIN_SERVICE,
};

/// HKDF info of the body key (FORMAT.md §4.7).
pub const BODY_INFO: &[u8] = b"credvault/v1/body";

/// The fixture's vault id.
pub const VAULT_ID: [u8; 16] = [0x11; 16];
/// The fixture's data key.
pub const DEK: [u8; 32] = [0x22; 32];
/// The key-encryption key of the keychain slot (id 1).
pub const KEYCHAIN_KEK: [u8; 32] = [0x44; 32];
/// The recovery key of the recovery slot (id 2).
pub const RECOVERY_KEY: [u8; 20] = [0x66; 20];
/// The passphrase of the passphrase slot (id 3).
pub const PASSPHRASE: &str = "fuzz";

/// The plaintext values of the fixture's entries.
pub const VALUES: [(&str, &[u8]); 3] = [
    ("empty.value", b""),
    ("github.token", b"gho_fuzzfuzzfuzz"),
    ("postgresql.password", b"pg-s3cret\x00\xff"),
];

/// The fixture, built once per process.
pub struct Fixture {
    /// The whole file.
    pub file: Vec<u8>,
    /// The header as written.
    pub header: Header,
    /// The body plaintext (deterministic CBOR).
    pub body_plain: Vec<u8>,
}

/// The fixture vault.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

/// The data key as a key.
pub fn dek() -> SecretKey {
    SecretKey::from_bytes(DEK)
}

/// The body key: HKDF(DEK, vault id, "credvault/v1/body").
pub fn body_key(vault_id: &[u8]) -> SecretKey {
    crypto::hkdf(&DEK, vault_id, BODY_INFO)
}

/// The fixture's slots, wrapping [`DEK`].
fn slots() -> Vec<Slot> {
    let dek = dek();
    let nonce = |n: u8| [n; 24];
    let empty_wrap = || Wrap {
        nonce: [0; 24],
        wrapped: [0; 48],
    };

    let mut keychain = Slot {
        id: 1,
        kind: SlotKind::Keychain(KeychainSlot {
            service: KEYCHAIN_SERVICE.to_owned(),
            account: keychain_account(&VAULT_ID, 1),
            wrap: empty_wrap(),
        }),
    };
    slots::wrap_into(
        &mut keychain,
        &VAULT_ID,
        &SecretKey::from_bytes(KEYCHAIN_KEK),
        &dek,
        nonce(0xa1),
    );

    let recovery_slot = RecoverySlot {
        salt: [0x55; 32],
        wrap: empty_wrap(),
    };
    let recovery_key = RecoveryKey::from_bytes(RECOVERY_KEY.to_vec()).expect("20 bytes");
    let kek = slots::recovery::kek(&recovery_slot, &recovery_key);
    let mut recovery = Slot {
        id: 2,
        kind: SlotKind::Recovery(recovery_slot),
    };
    slots::wrap_into(&mut recovery, &VAULT_ID, &kek, &dek, nonce(0xa2));

    let passphrase_slot = PassphraseSlot {
        salt: vec![0x77; 16],
        kdf: KdfParams::new(8192, 1, 1).expect("in range"),
        wrap: empty_wrap(),
    };
    let kek = slots::passphrase::kek(&passphrase_slot, &Passphrase::from(PASSPHRASE));
    let mut passphrase = Slot {
        id: 3,
        kind: SlotKind::Passphrase(passphrase_slot),
    };
    slots::wrap_into(&mut passphrase, &VAULT_ID, &kek, &dek, nonce(0xa3));

    let unknown = Slot {
        id: 7,
        kind: SlotKind::Unknown {
            type_code: 99,
            fields: vec![
                (3, Value::Bytes(vec![0xa7; 24])),
                (11, Value::Text("grease".to_owned())),
            ],
        },
    };
    vec![keychain, recovery, passphrase, unknown]
}

fn body() -> Body {
    let value_key = value_key(&dek(), &VAULT_ID);
    let mut body = Body::default();
    for (i, (name, value)) in VALUES.iter().enumerate() {
        let name = KeyName::new(name).expect("valid name");
        let sealed = seal_value(&value_key, &name, value, [0xb0 + i as u8; 24]);
        let mut metadata = BTreeMap::new();
        if i == 2 {
            metadata.insert("url".to_owned(), "postgres://db.example".to_owned());
            metadata.insert("user".to_owned(), "app".to_owned());
        }
        let entry = Entry {
            value: sealed,
            kind: if i == 2 {
                Kind::new("password").expect("valid kind")
            } else {
                Kind::secret()
            },
            created_ms: 1_700_000_000_000 + i as u64,
            updated_ms: 1_700_000_000_500 + i as u64,
            expires_ms: (i == 1).then_some(1_800_000_000_000),
            metadata: Metadata::new(metadata).expect("valid metadata"),
        };
        body.entries.insert(name, entry);
    }
    body.tombstones.insert(
        KeyName::new("old.deleted").expect("valid name"),
        1_600_000_000_000,
    );
    body
}

fn build() -> Fixture {
    let mut header = Header {
        vault_id: VAULT_ID,
        save_counter: 42,
        body_nonce: [0x33; 24],
        body_len: 0,
        slots: slots(),
    };
    let body = body();
    let file = seal_file(&mut header, 0, &body, &dek());
    Fixture {
        file,
        header,
        body_plain: body.encode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FuzzUnlocker;

    #[test]
    fn fixture_opens_with_every_credential() {
        let f = fixture();
        let unlockers = [
            FuzzUnlocker {
                keychain: Some(SecretKey::from_bytes(KEYCHAIN_KEK)),
                ..FuzzUnlocker::default()
            },
            FuzzUnlocker {
                recovery: RecoveryKey::from_bytes(RECOVERY_KEY.to_vec()),
                ..FuzzUnlocker::default()
            },
            FuzzUnlocker {
                passphrase: Some(Passphrase::from(PASSPHRASE)),
                ..FuzzUnlocker::default()
            },
        ];
        for (slot, mut unlocker) in (1..).zip(unlockers) {
            let s = credvault::open_bytes(&f.file, &mut unlocker, &crate::options())
                .expect("fixture opens");
            assert_eq!(s.unlocked_by(), slot);
            assert_eq!(s.len(), VALUES.len());
            for (name, value) in VALUES {
                let name = KeyName::new(name).unwrap();
                assert_eq!(s.get(&name).unwrap().unwrap().expose(), value);
            }
        }
    }
}
