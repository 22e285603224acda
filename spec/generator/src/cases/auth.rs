//! Authentication: bytes of the header flipped after sealing, slots whose
//! wrap was made for other associated data (FORMAT.md §4.1), splices of two
//! saves, and which credentials the reader is offered (FORMAT.md §4.6).

use ciborium::Value;
use credvault::crypto::{self, kdf, Passphrase, SecretKey};
use credvault::format::{KdfParams, Slot, SlotKind, Wrap, PREFIX_LEN};
use credvault::slots;

use crate::fixture::{
    empty_wrap, kdf_params, passphrase_slot, set_wrap, weak_kdf, Attrs, Fixture, PASSPHRASE, T0,
};
use crate::Case;
use crate::Expect::{NoCredentials, NoUsableSlot, Tampered, UnlockFailed};

pub fn cases() -> Vec<Case> {
    Vec::from([
        flip(
            "header_vault_id_flipped",
            UnlockFailed,
            "one bit of the vault id flipped: each slot's wrap binds the vault id, none opens",
            0x01,
            |fx| (fx.vault_id().to_vec(), 0),
        ),
        flip(
            "header_save_counter_changed",
            Tampered,
            "save counter 0x01020304 changed to 0x01020305: the slot opens, the body does not",
            0x01,
            |_| (vec![0x02, 0x1a, 0x01, 0x02, 0x03, 0x04], 5),
        ),
        flip(
            "header_body_nonce_flipped",
            Tampered,
            "one bit of the body nonce flipped: the slot opens, the body does not",
            0x01,
            |fx| (fx.header.body_nonce.to_vec(), 23),
        ),
        flip(
            "header_wrapped_key_flipped",
            UnlockFailed,
            "one bit of the wrapped data key flipped",
            0x01,
            |fx| (wrap_of(fx).wrapped.to_vec(), 10),
        ),
        flip(
            "header_slot_nonce_flipped",
            UnlockFailed,
            "one bit of the slot's wrap nonce flipped",
            0x01,
            |fx| (wrap_of(fx).nonce.to_vec(), 0),
        ),
        flip(
            "header_slot_salt_flipped",
            UnlockFailed,
            "one bit of the passphrase slot's salt flipped",
            0x01,
            |fx| {
                let salt = match &fx.header.slots[0].kind {
                    SlotKind::Passphrase(p) => p.salt.clone(),
                    _ => unreachable!("slot 1 is a passphrase slot"),
                };
                (salt, 31)
            },
        ),
        flip(
            "header_slot_iterations_changed",
            UnlockFailed,
            "the passphrase slot's Argon2id t changed from 1 to 2 after wrapping",
            0x03,
            |_| (vec![0x07, 0x01, 0x08, 0x01], 1),
        ),
        vault_id_rewrapped(),
        minor_changed(),
        misbound(
            "slot_id_changed",
            "slot wrapped as id 1, stored as id 2; the KEK is right for the stored slot",
            2,
            weak_kdf(),
            |s, vid| {
                let mut v = s.clone();
                v.id = 1;
                v.wrap_aad(vid)
            },
        ),
        misbound(
            "slot_type_changed",
            "slot wrapped as type 9, stored as type 1 (passphrase), same fields; the KEK is right",
            1,
            weak_kdf(),
            |s, vid| as_unknown(s, 9).wrap_aad(vid),
        ),
        misbound(
            "slot_kdf_params_changed",
            "slot wrapped with Argon2id t = 2, stored with t = 1; the KEK is right for t = 1",
            1,
            weak_kdf(),
            |s, vid| {
                let mut v = s.clone();
                passphrase_slot(&mut v).kdf = kdf_params(8 * 1024, 2, 1);
                v.wrap_aad(vid)
            },
        ),
        misbound(
            "slot_salt_changed",
            "slot wrapped with another salt than stored; the KEK is right for the stored salt",
            1,
            weak_kdf(),
            |s, vid| {
                let mut v = s.clone();
                passphrase_slot(&mut v).salt = vec![0x5a; 32];
                v.wrap_aad(vid)
            },
        ),
        misbound(
            "slot_wrapped_for_other_vault",
            "slot wrapped with another vault id in its associated data; all else consistent",
            1,
            weak_kdf(),
            |s, _| s.wrap_aad(&[0x5a; 16]),
        ),
        kdf_params_swapped(),
        wraps_swapped(),
        wrong_data_key(),
        splice(
            "splice_header_n_body_n_plus_1",
            "header of save 4 with the body of save 5 of the same vault (same body length)",
            true,
        ),
        splice(
            "splice_header_n_plus_1_body_n",
            "header of save 5 with the body of save 4 of the same vault (same body length)",
            false,
        ),
        basic(
            "unlock_wrong_passphrase",
            UnlockFailed,
            "the passphrase differs in case from the slot's",
            |c| c.passphrase("Correct horse battery staple"),
        ),
        basic(
            "unlock_no_passphrase",
            NoCredentials,
            "a passphrase slot, and the reader offers no credential",
            Case::no_passphrase,
        ),
        {
            let name = "unlock_no_passphrase_keychain_unavailable";
            let mut fx = Fixture::basic(name);
            fx.add_keychain("credvault", "vectors/2");
            Case::fail(
                name,
                NoCredentials,
                "keychain and passphrase slots; no keychain available and no passphrase offered",
                fx.seal(),
            )
            .no_passphrase()
        },
        {
            let name = "unlock_passphrase_for_recovery_only";
            let mut fx = Fixture::new(name);
            let key = fx.det.bytes(20);
            fx.add_recovery(&key);
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            Case::fail(
                name,
                NoCredentials,
                "only a recovery slot, and the reader offers only a passphrase",
                fx.seal(),
            )
        },
        {
            let name = "unlock_wrong_recovery_key";
            let mut fx = Fixture::new(name);
            let key = fx.det.bytes(20);
            fx.add_recovery(&key);
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let mut wrong = key;
            wrong[19] ^= 1;
            Case::fail(
                name,
                UnlockFailed,
                "a recovery slot; the offered recovery key differs in one bit",
                fx.seal(),
            )
            .no_passphrase()
            .recovery(&wrong)
        },
        {
            let name = "unlock_unknown_slot_only";
            let mut fx = Fixture::new(name);
            fx.add_unknown(9);
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            Case::fail(
                name,
                NoUsableSlot,
                "the only slot is of type 9, unknown to format 1.0",
                fx.seal(),
            )
        },
    ])
}

/// A one-entry vault (save counter 0x01020304) changed after sealing: in
/// the bytes `needle`, found in the header, byte `at` is XORed with `mask`.
fn flip(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    mask: u8,
    target: impl FnOnce(&Fixture) -> (Vec<u8>, usize),
) -> Case {
    let mut fx = Fixture::basic(name);
    fx.header.save_counter = 0x0102_0304;
    let mut file = fx.seal();
    let (needle, at) = target(&fx);
    let header_end = PREFIX_LEN + fx.header.encode().len();
    let found = file[..header_end]
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| panic!("{name}: target not in header"));
    file[found + at] ^= mask;
    Case::fail(name, expect, comment, file)
}

fn wrap_of(fx: &Fixture) -> Wrap {
    fx.header.slots[0].wrap().expect("slot 1 is known").clone()
}

/// The vault id changed after sealing and the slot wrapped again for the
/// new id, as a writer holding the data key could: the slot opens, but the
/// body was sealed under the old id (its key and associated data).
fn vault_id_rewrapped() -> Case {
    let name = "header_vault_id_rewrapped";
    let mut fx = Fixture::new(name);
    let (slot, kek) = fx.passphrase_slot_and_kek(1, PASSPHRASE, weak_kdf());
    fx.header.slots.push(slot);
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    let old = fx.seal();
    let old_header_end = PREFIX_LEN + fx.header.encode().len();
    fx.header.vault_id[0] ^= 0x01;
    let (vault_id, nonce) = (fx.vault_id(), wrap_of(&fx).nonce);
    slots::wrap_into(&mut fx.header.slots[0], &vault_id, &kek, &fx.dek, nonce);
    let mut file = credvault::format::encode_aad(&fx.header);
    assert_eq!(file.len(), old_header_end, "same header length");
    file.extend_from_slice(&old[old_header_end..]);
    Case::fail(
        name,
        Tampered,
        "vault id changed and the slot re-wrapped for it; the body is still under the old id",
        file,
    )
}

/// The prefix's minor version changed after sealing: the prefix is part of
/// the body's associated data.
fn minor_changed() -> Case {
    let name = "header_minor_changed";
    let mut fx = Fixture::basic(name);
    let mut file = fx.seal();
    file[9] = 1;
    Case::fail(
        name,
        Tampered,
        "minor version changed from 0 to 1 after sealing: the slot opens, the body does not",
        file,
    )
}

/// A one-entry vault whose only passphrase slot, id `id` with parameters
/// `kdf`, has a KEK right for its stored fields but a wrap sealed with the
/// associated data `aad_of(slot, vault id)`. The body is sealed under the
/// final header: only the slot's binding is wrong.
fn misbound(
    name: &'static str,
    comment: &'static str,
    id: u32,
    kdf: KdfParams,
    aad_of: impl FnOnce(&Slot, &[u8; 16]) -> Vec<u8>,
) -> Case {
    let mut fx = Fixture::new(name);
    let slot = misbound_slot(&mut fx, id, kdf, aad_of);
    fx.header.slots.push(slot);
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    Case::fail(name, UnlockFailed, comment, fx.seal())
}

fn misbound_slot(
    fx: &mut Fixture,
    id: u32,
    kdf: KdfParams,
    aad_of: impl FnOnce(&Slot, &[u8; 16]) -> Vec<u8>,
) -> Slot {
    let salt = fx.det.bytes(32);
    let kek = kdf::argon2id(&Passphrase::from(PASSPHRASE), &salt, &kdf);
    let mut slot = Slot {
        id,
        kind: SlotKind::Passphrase(credvault::format::PassphraseSlot {
            salt,
            kdf,
            wrap: empty_wrap(),
        }),
    };
    fx.wrap(&mut slot, &kek);
    let aad = aad_of(&slot, &fx.vault_id());
    assert_ne!(
        aad,
        slot.wrap_aad(&fx.vault_id()),
        "associated data unchanged"
    );
    rewrap(&mut slot, &fx.dek, &kek, &aad);
    slot
}

/// Seals `dek` again into `slot`, keeping its nonce, with `aad` as the
/// associated data.
fn rewrap(slot: &mut Slot, dek: &SecretKey, kek: &SecretKey, aad: &[u8]) {
    let nonce = slot.wrap().expect("known slot type").nonce;
    let sealed = crypto::seal(kek, &nonce, aad, dek.expose());
    let wrapped = sealed.try_into().expect("a wrapped key is 48 bytes");
    set_wrap(slot, Wrap { nonce, wrapped });
}

/// `slot` with the same fields under an unknown type code.
fn as_unknown(slot: &Slot, type_code: u64) -> Slot {
    let SlotKind::Passphrase(p) = &slot.kind else {
        unreachable!("a passphrase slot")
    };
    let fields = vec![
        (3, Value::Bytes(p.wrap.nonce.to_vec())),
        (5, Value::Bytes(p.salt.clone())),
        (6, crate::cbor::uint(p.kdf.memory_kib().into())),
        (7, crate::cbor::uint(p.kdf.iterations().into())),
        (8, crate::cbor::uint(p.kdf.parallelism().into())),
    ];
    Slot {
        id: slot.id,
        kind: SlotKind::Unknown { type_code, fields },
    }
}

/// Two passphrase slots for the same passphrase whose KDF parameters were
/// swapped after wrapping; each KEK is right for its stored parameters.
fn kdf_params_swapped() -> Case {
    let name = "slot_kdf_params_swapped";
    let (a, b) = (weak_kdf(), kdf_params(8 * 1024, 2, 1));
    let mut fx = Fixture::new(name);
    for (id, stored, wrapped_with) in [(1, b, a), (2, a, b)] {
        let slot = misbound_slot(&mut fx, id, stored, |s, vid| {
            let mut v = s.clone();
            passphrase_slot(&mut v).kdf = wrapped_with;
            v.wrap_aad(vid)
        });
        fx.header.slots.push(slot);
    }
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    Case::fail(
        name,
        UnlockFailed,
        "two passphrase slots (t = 1, t = 2) with KDF parameters swapped after wrapping",
        fx.seal(),
    )
}

/// Two passphrase slots for the same passphrase with their wraps swapped.
fn wraps_swapped() -> Case {
    let name = "slot_wraps_swapped";
    let mut fx = Fixture::with_passphrase(name);
    fx.add_passphrase(PASSPHRASE, weak_kdf());
    let w0 = fx.header.slots[0].wrap().expect("known").clone();
    let w1 = fx.header.slots[1].wrap().expect("known").clone();
    set_wrap(&mut fx.header.slots[0], w1);
    set_wrap(&mut fx.header.slots[1], w0);
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    Case::fail(
        name,
        UnlockFailed,
        "two passphrase slots for one passphrase with their wraps (nonce, key) swapped",
        fx.seal(),
    )
}

/// A slot that opens correctly but holds another data key.
fn wrong_data_key() -> Case {
    let name = "slot_wraps_wrong_data_key";
    let mut fx = Fixture::new(name);
    let (mut slot, kek) = fx.passphrase_slot_and_kek(1, PASSPHRASE, weak_kdf());
    let other = fx.det.key();
    let nonce = fx.det.array();
    slots::wrap_into(&mut slot, &fx.vault_id(), &kek, &other, nonce);
    fx.header.slots.push(slot);
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    Case::fail(
        name,
        Tampered,
        "the slot opens but holds another data key, so the body fails authentication",
        fx.seal(),
    )
}

/// Saves 4 and 5 of one vault, same body length; the header of one with
/// the body of the other.
fn splice(name: &'static str, comment: &'static str, header_of_older: bool) -> Case {
    let mut fx = Fixture::with_passphrase(name);
    fx.header.save_counter = 4;
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    let older = fx.seal();
    fx.header.save_counter = 5;
    fx.header.body_nonce = fx.det.array();
    let updated = Attrs {
        updated: T0 + 60_000,
        ..Attrs::default()
    };
    fx.add_entry("github.token", b"ghp_vector1111111111", updated);
    let newer = fx.seal();
    assert_eq!(older.len(), newer.len(), "{name}: saves differ in length");
    let header_end = PREFIX_LEN + fx.header.encode().len();
    let (head, body) = if header_of_older {
        (&older, &newer)
    } else {
        (&newer, &older)
    };
    let file = [&head[..header_end], &body[header_end..]].concat();
    Case::fail(name, Tampered, comment, file)
}

/// A valid one-entry vault with the offered credentials changed by `offer`.
fn basic(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    offer: impl FnOnce(Case) -> Case,
) -> Case {
    let mut fx = Fixture::basic(name);
    offer(Case::fail(name, expect, comment, fx.seal()))
}
