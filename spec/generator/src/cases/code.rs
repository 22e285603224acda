//! Recovery codes in text form (FORMAT.md §4.4.1): the `recovery-code:`
//! line of a testkit holds what a user would type. The codes of valid keys
//! come from the library; the checksum below is written again from the
//! spec, for the one code the library would never write (non-zero
//! padding), and checked against the library on every valid code.

use credvault::RecoveryKey;

use crate::fixture::{weak_kdf, Attrs, Fixture, PASSPHRASE};
use crate::Case;
use crate::Expect::{BadRecoveryCode, UnlockFailed};

pub fn cases() -> Vec<Case> {
    let example: Vec<u8> = (0u8..20).collect();
    Vec::from([
        with_code(
            "code_valid_display_form",
            "the recovery code as displayed: 8 groups of 4 and a checksum group of 6",
            20,
            |code| code.to_owned(),
        ),
        {
            let (case, code) = vault_for_key(
                "code_valid_typed_loosely",
                &example,
                "the code of the key 00 01 .. 13 typed in lower case, O for 0, l for 1, spaces for dashes",
            );
            assert_eq!(code, "000G-40R4-0M30-E209-185G-R38E-1W81-24GK-D7EG39");
            let typed = code
                .to_lowercase()
                .replace('0', "o")
                .replace('1', "l")
                .replace('-', " ");
            case.recovery_code(&format!(" {typed} "))
        },
        with_code(
            "code_valid_16_byte_key",
            "the code of a 16-byte recovery key, the shortest: 26 data characters and 6 checksum",
            16,
            |code| code.to_owned(),
        ),
        with_code(
            "code_valid_64_byte_key",
            "the code of a 64-byte recovery key, the longest: 103 data characters and 6 checksum",
            64,
            |code| code.to_owned(),
        ),
        with_code(
            "code_bad_character",
            "a U inserted after the first group (U is not in the alphabet)",
            20,
            |code| format!("{}U{}", &code[..4], &code[4..]),
        )
        .expect_failure(BadRecoveryCode),
        with_code(
            "code_bad_length",
            "the last character left out: 37 characters fit no key length",
            20,
            |code| code[..code.len() - 1].to_owned(),
        )
        .expect_failure(BadRecoveryCode),
        with_code(
            "code_bad_checksum",
            "the first character changed to the next symbol of the alphabet",
            20,
            |code| {
                let first = code.as_bytes()[0];
                let at = ALPHABET.iter().position(|&a| a == first).expect("alphabet");
                let other = char::from(ALPHABET[(at + 1) % 32]);
                format!("{other}{}", &code[1..])
            },
        )
        .expect_failure(BadRecoveryCode),
        {
            // A 16-byte key: 26 data characters, 130 bits, 2 padding bits.
            let n = "code_bad_padding";
            let key = [0x5a_u8; 16];
            let (case, _) = vault_for_key(
                n,
                &key,
                "a 16-byte key's code with a padding bit set and the checksum made to match",
            );
            let mut data = to_base32(&key);
            *data.last_mut().expect("26 values") |= 1;
            let code: String = data
                .iter()
                .chain(checksum(&data).iter())
                .map(|v| char::from(ALPHABET[usize::from(*v)]))
                .collect();
            case.recovery_code(&code).expect_failure(BadRecoveryCode)
        },
        {
            let n = "code_valid_wrong_key";
            let mut fx = Fixture::new(n);
            let key = fx.det.bytes(20);
            fx.add_recovery(&key);
            fx.add_passphrase(PASSPHRASE, weak_kdf());
            fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
            let other = fx.det.bytes(20);
            let code = code_of(&other);
            Case::fail(
                n,
                UnlockFailed,
                "a well-formed code of another key: it is tried and does not open the slot",
                fx.seal(),
            )
            .no_passphrase()
            .recovery_code(&code)
        },
    ])
}

/// Crockford's base32 alphabet (FORMAT.md §4.4.1 step 3).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A vault with a recovery slot for a `len`-byte key and a passphrase
/// slot; the reader offers only `typed(code of the key)`.
fn with_code(
    name: &'static str,
    comment: &'static str,
    len: usize,
    typed: impl FnOnce(&str) -> String,
) -> Case {
    let key = crate::det::Det::new(name).bytes(len);
    let (case, code) = vault_for_key(name, &key, comment);
    case.recovery_code(&typed(&code))
}

/// A success case for a vault with a recovery slot for `key` (offered
/// only as a code, added by the caller) and a passphrase slot; and the
/// code of `key`.
fn vault_for_key(name: &'static str, key: &[u8], comment: &'static str) -> (Case, String) {
    let mut fx = Fixture::new(name);
    fx.add_recovery(key);
    fx.add_passphrase(PASSPHRASE, weak_kdf());
    fx.add_entry("github.token", b"ghp_vector0000000000", Attrs::default());
    let file = fx.seal();
    let code = code_of(key);
    let case = Case::success(name, comment, file, fx.payload()).no_passphrase();
    (case, code)
}

/// The library's code of `key`, checked against the spec's construction.
fn code_of(key: &[u8]) -> String {
    let code = RecoveryKey::from_bytes(key.to_vec())
        .expect("16 to 64 bytes")
        .to_code()
        .to_string();
    let data = to_base32(key);
    let mut ours = String::new();
    for (i, v) in data.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            ours.push('-');
        }
        ours.push(char::from(ALPHABET[usize::from(*v)]));
    }
    ours.push('-');
    ours.extend(
        checksum(&data)
            .iter()
            .map(|v| char::from(ALPHABET[usize::from(*v)])),
    );
    assert_eq!(
        code, ours,
        "the library's code differs from FORMAT.md §4.4.1"
    );
    code
}

/// FORMAT.md §4.4.1 step 1: 5-bit values, most significant bit first,
/// zero padded.
fn to_base32(bytes: &[u8]) -> Vec<u8> {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    bits.chunks(5)
        .map(|c| {
            let v = c.iter().fold(0u8, |acc, b| (acc << 1) | b);
            v << (5 - c.len())
        })
        .collect()
}

/// FORMAT.md §4.4.1 step 2: the bech32m checksum with the human-readable
/// part "credvault-recovery".
fn checksum(data: &[u8]) -> [u8; 6] {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let hrp = b"credvault-recovery";
    let values = hrp
        .iter()
        .map(|c| c >> 5)
        .chain([0])
        .chain(hrp.iter().map(|c| c & 31))
        .chain(data.iter().copied())
        .chain([0; 6]);
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    let m = chk ^ 0x2bc830a3;
    let mut out = [0u8; 6];
    for (i, o) in out.iter_mut().enumerate() {
        *o = ((m >> (5 * (5 - i))) & 31) as u8;
    }
    out
}
