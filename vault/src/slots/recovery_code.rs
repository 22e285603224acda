//! The human form of a recovery key: the *recovery code* (FORMAT.md §4.4.1).
//!
//! ```text
//! 000G-40R4-0M30-E209-185G-R38E-1W81-24GK-D7EG39   (the key 00 01 .. 13, hex)
//! └──────── 32 data characters ─────────┘ └────┘ checksum
//! ```
//!
//! - **Alphabet**: Crockford's base32, `0-9 A-Z` without `I L O U`
//!   (`0123456789ABCDEFGHJKMNPQRSTVWXYZ`): no letter that reads as a digit,
//!   no accidental words.
//! - **Data**: the key bytes as 5-bit groups, most significant bit first; the
//!   last group is padded with zero bits. A 20-byte (160-bit) key gives 32
//!   characters; any length from 16 to 64 bytes is encodable
//!   (`ceil(8 * n / 5)` characters).
//! - **Checksum**: six more characters, the BCH code of bech32m (BIP-173,
//!   BIP-350) over the 5-bit values, with the domain string
//!   `"credvault-recovery"` in place of bech32's human-readable part (so a
//!   code made for anything else fails the check). For keys of up to 51
//!   bytes (codes of up to 88 characters, the 20-byte keys this crate
//!   makes included) it detects every error that changes at most four
//!   characters; for keys of 52 to 64 bytes every error in at most three
//!   (FORMAT.md §4.4.1). Any single typo and any swap of two characters
//!   is detected at every length, and other errors with probability about
//!   `1 - 2^-30`. Both bounds are checked exhaustively by the tests.
//! - **Display**: the data in groups of four, then the checksum as one
//!   group of six, joined by `-`, upper case.
//! - **Input**: case-insensitive; spaces, tabs, newlines and `-` anywhere
//!   are ignored; `O` is read as `0` and `I`, `L` as `1` (Crockford).
//!   Anything else is refused before any key is derived.
//!
//! Errors never quote the code or any of its characters.

use zeroize::{Zeroize, Zeroizing};

use super::RecoveryKey;

/// Crockford base32 symbols, value 0 to 31.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters of the checksum group.
pub const CHECKSUM_LEN: usize = 6;

/// Data characters per display group.
const GROUP: usize = 4;

/// The domain string mixed into the checksum (bech32's "hrp").
const DOMAIN: &[u8] = b"credvault-recovery";

/// bech32m's checksum constant (BIP-350).
const BECH32M_CONST: u32 = 0x2bc8_30a3;

/// Key lengths a code can carry, in bytes (FORMAT.md §4.4).
const KEY_LEN: (usize, usize) = (16, 64);

/// Letters and digits of the code of a generated (20-byte) key.
pub const GENERATED_LEN: usize = 32 + CHECKSUM_LEN;

/// Why a text is not a well-formed recovery code. Never quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryCodeError {
    /// A character outside the alphabet (after ignoring spaces and dashes).
    #[error("character {position} of the recovery code is not one of 0-9 A-Z (without U)")]
    InvalidCharacter {
        /// 1-based position among the letters and digits.
        position: usize,
    },
    /// The number of letters and digits fits no key length, or (for a
    /// length other than credvault writes) the checksum does not match.
    #[error("the recovery code has {found} letters and digits; a credvault recovery code has 38 (8 groups of 4 and a group of 6)")]
    Length {
        /// Letters and digits found.
        found: usize,
    },
    /// The checksum does not match: a mistyped, missing or swapped
    /// character.
    #[error(
        "the recovery code's checksum does not match: a character is mistyped or two are swapped"
    )]
    Checksum,
    /// The padding bits of the last data character are not zero (a typo
    /// the checksum happens not to cover cannot reach here; a hand-made
    /// code can).
    #[error("the recovery code is malformed (non-zero padding)")]
    Padding,
}

impl RecoveryKey {
    /// The recovery code of this key, as shown to the user (module docs).
    pub fn to_code(&self) -> Zeroizing<String> {
        encode(self.expose())
    }

    /// Parses a recovery code typed or pasted by a user (module docs).
    pub fn from_code(code: &str) -> Result<RecoveryKey, RecoveryCodeError> {
        parse(code)
    }
}

/// Encodes key bytes as a recovery code. `bytes` is 16 to 64 bytes long
/// (a [`RecoveryKey`] always is).
fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let data = Zeroizing::new(to_base32(bytes));
    let check = checksum(&data);
    let mut out = Zeroizing::new(String::with_capacity(
        data.len() + data.len() / GROUP + CHECKSUM_LEN + 1,
    ));
    for (i, v) in data.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(symbol(*v));
    }
    out.push('-');
    for v in check {
        out.push(symbol(v));
    }
    out
}

/// Parses a recovery code: characters, then length, then checksum, then
/// padding.
fn parse(code: &str) -> Result<RecoveryKey, RecoveryCodeError> {
    let mut values = Zeroizing::new(Vec::with_capacity(code.len()));
    for c in code.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        match value_of(c) {
            Some(v) => values.push(v),
            None => {
                return Err(RecoveryCodeError::InvalidCharacter {
                    position: values.len() + 1,
                })
            }
        }
    }
    let found = values.len();
    let data_len = found
        .checked_sub(CHECKSUM_LEN)
        .ok_or(RecoveryCodeError::Length { found })?;
    let key_len = data_len * 5 / 8;
    if !(KEY_LEN.0..=KEY_LEN.1).contains(&key_len) || base32_len(key_len) != data_len {
        return Err(RecoveryCodeError::Length { found });
    }
    let (data, check) = values.split_at(data_len);
    if checksum(data)[..] != check[..] {
        // A code of another length than credvault writes that does not
        // check out is most likely one with a character left out or added.
        return Err(if found == GENERATED_LEN {
            RecoveryCodeError::Checksum
        } else {
            RecoveryCodeError::Length { found }
        });
    }
    let bytes = from_base32(data, key_len).ok_or(RecoveryCodeError::Padding)?;
    // Length checked above: 16..=64 bytes.
    RecoveryKey::from_bytes(bytes).ok_or(RecoveryCodeError::Length { found })
}

/// Characters needed for `n` bytes.
fn base32_len(n: usize) -> usize {
    (n * 8).div_ceil(5)
}

fn symbol(v: u8) -> char {
    char::from(ALPHABET[usize::from(v & 31)])
}

/// The value of an input character, Crockford's decoding rules.
fn value_of(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .map(|p| p as u8)
}

/// Bytes to 5-bit values, most significant bit first, zero padded.
fn to_base32(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base32_len(bytes.len()));
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((acc >> bits) & 31) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(((acc << (5 - bits)) & 31) as u8);
    }
    acc.zeroize();
    out
}

/// 5-bit values back to `len` bytes; `None` if the padding is not zero.
fn from_base32(values: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut acc: u16 = 0;
    let mut bits = 0u32;
    for &v in values {
        acc = (acc << 5) | u16::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    let padding_ok = acc == 0 && out.len() == len;
    acc.zeroize();
    if padding_ok {
        Some(out)
    } else {
        out.zeroize();
        None
    }
}

/// bech32's BCH polynomial remainder (BIP-173).
fn polymod(values: impl IntoIterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
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
    chk
}

/// The domain string expanded as bech32 expands its human-readable part.
fn domain_values() -> impl Iterator<Item = u8> {
    DOMAIN
        .iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(DOMAIN.iter().map(|c| c & 31))
}

/// The six checksum values of `data` (bech32m construction).
fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let values = domain_values()
        .chain(data.iter().copied())
        .chain([0u8; CHECKSUM_LEN]);
    let m = polymod(values) ^ BECH32M_CONST;
    let mut out = [0u8; CHECKSUM_LEN];
    for (i, o) in out.iter_mut().enumerate() {
        *o = ((m >> (5 * (5 - i))) & 31) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: &[u8]) -> RecoveryKey {
        RecoveryKey::from_bytes(bytes.to_vec()).unwrap()
    }

    #[test]
    fn can_round_trip_every_key_length() {
        for len in 16..=64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let code = key(&bytes).to_code();
            let back = RecoveryKey::from_code(&code).unwrap();
            assert_eq!(back.expose(), &bytes[..], "length {len}: {}", &*code);
        }
        for _ in 0..200 {
            let k = RecoveryKey::generate();
            let back = RecoveryKey::from_code(&k.to_code()).unwrap();
            assert_eq!(back.expose(), k.expose());
        }
    }

    #[test]
    fn a_generated_code_has_eight_groups_of_four_and_a_checksum_of_six() {
        let code = RecoveryKey::generate().to_code();
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 9, "{}", &*code);
        assert!(groups[..8].iter().all(|g| g.len() == 4), "{}", &*code);
        assert_eq!(groups[8].len(), 6);
        assert!(code.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)));
        assert!(!code.contains(['I', 'L', 'O', 'U']));
    }

    /// A fixed vector, so the encoding cannot drift unnoticed: the key
    /// bytes 0x00..=0x13. Computed independently (a few lines of Python
    /// after BIP-350's reference code, with the domain string as hrp).
    #[test]
    fn known_answer() {
        let bytes: Vec<u8> = (0u8..20).collect();
        assert_eq!(
            &*key(&bytes).to_code(),
            "000G-40R4-0M30-E209-185G-R38E-1W81-24GK-D7EG39"
        );
    }

    #[test]
    fn input_is_forgiving_about_case_spaces_dashes_and_lookalikes() {
        let k = RecoveryKey::generate();
        let code = k.to_code().to_string();
        let variants = [
            code.to_lowercase(),
            code.replace('-', ""),
            code.replace('-', " "),
            format!("  {}\n", code.replace('-', " - ")),
            code.replace('0', "o").replace('1', "l"),
            code.replace('1', "I").replace('0', "O"),
        ];
        for v in variants {
            assert_eq!(
                RecoveryKey::from_code(&v).unwrap().expose(),
                k.expose(),
                "{v}"
            );
        }
    }

    #[test]
    fn every_single_substitution_is_rejected() {
        let code: Vec<u8> = RecoveryKey::generate()
            .to_code()
            .replace('-', "")
            .into_bytes();
        for at in 0..code.len() {
            for &c in ALPHABET.iter() {
                if c == code[at] {
                    continue;
                }
                let mut typo = code.clone();
                typo[at] = c;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(
                    RecoveryKey::from_code(&typo).unwrap_err(),
                    RecoveryCodeError::Checksum,
                    "substitution at {at}"
                );
            }
        }
    }

    #[test]
    fn every_transposition_is_rejected() {
        for _ in 0..20 {
            let code: Vec<u8> = RecoveryKey::generate()
                .to_code()
                .replace('-', "")
                .into_bytes();
            for i in 0..code.len() {
                for j in i + 1..code.len() {
                    if code[i] == code[j] {
                        continue;
                    }
                    let mut swapped = code.clone();
                    swapped.swap(i, j);
                    let swapped = String::from_utf8(swapped).unwrap();
                    assert!(RecoveryKey::from_code(&swapped).is_err(), "swap {i} {j}");
                }
            }
        }
    }

    #[test]
    fn missing_or_extra_characters_are_rejected() {
        let code = RecoveryKey::generate().to_code().replace('-', "");
        for at in 0..code.len() {
            let mut short = code.clone();
            short.remove(at);
            assert_eq!(
                RecoveryKey::from_code(&short).unwrap_err(),
                RecoveryCodeError::Length { found: 37 }
            );
            let mut long = code.clone();
            long.insert(at, 'A');
            assert!(RecoveryKey::from_code(&long).is_err());
        }
        assert!(matches!(
            RecoveryKey::from_code(""),
            Err(RecoveryCodeError::Length { found: 0 })
        ));
    }

    #[test]
    fn foreign_characters_are_refused_by_position_without_quoting() {
        let code = RecoveryKey::generate().to_code().to_string();
        let bad = format!("{}U{}", &code[..5], &code[5..]);
        let err = RecoveryKey::from_code(&bad).unwrap_err();
        assert_eq!(err, RecoveryCodeError::InvalidCharacter { position: 5 });
        assert!(!err.to_string().contains(&code[..4]));
        for c in ['*', 'é', '_', '.'] {
            assert!(matches!(
                RecoveryKey::from_code(&format!("{c}{code}")),
                Err(RecoveryCodeError::InvalidCharacter { position: 1 })
            ));
        }
    }

    /// The residue that an error of value `v` at position `i` of an
    /// `n`-character codeword (data and checksum) adds to the checksum
    /// computation: the checksum is affine in the values, so an error is
    /// missed exactly when its residues add up to 0.
    fn residues(n: usize) -> Vec<[u32; 32]> {
        let zero = polymod(domain_values().chain(std::iter::repeat_n(0, n)));
        (0..n)
            .map(|i| {
                let mut row = [0u32; 32];
                for (v, r) in row.iter_mut().enumerate() {
                    let e = (0..n).map(|j| if j == i { v as u8 } else { 0 });
                    *r = polymod(domain_values().chain(e)) ^ zero;
                }
                row
            })
            .collect()
    }

    /// FORMAT.md §4.4.1: every error in at most four characters of a
    /// codeword of 88 characters (a 51-byte key; shorter ones are its
    /// suffixes) is detected: the residues of all error patterns of at
    /// most two characters are distinct, so no two of them add up to an
    /// undetected pattern of at most four.
    #[test]
    fn four_errors_are_always_detected_for_keys_up_to_51_bytes() {
        let n = base32_len(51) + CHECKSUM_LEN;
        assert_eq!(n, 88);
        let r = residues(n);
        let mut all: Vec<u32> = Vec::with_capacity(1 + n * 31 + n * (n - 1) / 2 * 961);
        all.push(0);
        for (i, ri) in r.iter().enumerate() {
            all.extend(&ri[1..]);
            for rj in &r[i + 1..] {
                for &a in &ri[1..] {
                    all.extend(rj[1..].iter().map(|&b| a ^ b));
                }
            }
        }
        all.sort_unstable();
        assert!(
            all.windows(2).all(|w| w[0] != w[1]),
            "two error patterns of at most two characters share a residue"
        );
    }

    /// FORMAT.md §4.4.1: for keys of 52 to 64 bytes every error in at most
    /// three characters is detected (the residues of single errors differ
    /// from those of all patterns of at most two), but not every four.
    #[test]
    fn three_errors_are_always_detected_for_keys_up_to_64_bytes() {
        let n = base32_len(64) + CHECKSUM_LEN;
        let r = residues(n);
        let mut singles: Vec<u32> = r.iter().flat_map(|ri| ri[1..].iter().copied()).collect();
        singles.push(0);
        singles.sort_unstable();
        assert!(singles.windows(2).all(|w| w[0] != w[1]));
        for (i, ri) in r.iter().enumerate() {
            for (j, rj) in r.iter().enumerate().skip(i + 1) {
                for &a in &ri[1..] {
                    for &b in &rj[1..] {
                        // Equal to 0 or to one single error: together an
                        // error of at most three characters that is missed.
                        assert!(
                            singles.binary_search(&(a ^ b)).is_err(),
                            "an error of at most three characters at {i}, {j} is missed"
                        );
                    }
                }
            }
        }
    }

    /// The counterexample FORMAT.md §4.4.1 gives: in the code of a 52-byte
    /// key, changing data characters 1, 11 and 76 and checksum character 6
    /// (counting from 1) gives the valid code of another key.
    #[test]
    fn some_four_errors_go_unnoticed_for_keys_of_52_bytes() {
        let k = key(&[0x42; 52]);
        let mut values: Vec<u8> = k
            .to_code()
            .chars()
            .filter(|c| *c != '-')
            .map(|c| value_of(c).unwrap())
            .collect();
        assert_eq!(values.len(), 90);
        for (at, e) in [(0usize, 23u8), (10, 1), (75, 2), (89, 20)] {
            values[at] ^= e;
        }
        let typo: String = values.iter().map(|v| symbol(*v)).collect();
        let other = RecoveryKey::from_code(&typo).expect("the four changes go unnoticed");
        assert_ne!(other.expose(), k.expose());
    }

    #[test]
    fn non_zero_padding_is_refused() {
        // 16 bytes = 26 characters with 2 padding bits: set one and fix
        // the checksum, as only a hand-made code would.
        let mut data = to_base32(&[7u8; 16]);
        *data.last_mut().unwrap() |= 1;
        let check = checksum(&data);
        let text: String = data.iter().chain(&check).map(|v| symbol(*v)).collect();
        assert_eq!(
            RecoveryKey::from_code(&text).unwrap_err(),
            RecoveryCodeError::Padding
        );
    }
}
