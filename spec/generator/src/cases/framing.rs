//! Framing (FORMAT.md §2): magic, version, header length.

use credvault::format::PREFIX_LEN;

use crate::fixture::Fixture;
use crate::Case;
use crate::Expect::{Malformed, NotAVault, TooLarge, Truncated, UnsupportedVersion};

/// Offset of the major version byte.
const MAJOR_AT: usize = 8;
/// Offset of the big-endian header length.
const HEADER_LEN_AT: usize = 10;

pub fn cases() -> Vec<Case> {
    Vec::from([
        Case::fail("framing_empty", NotAVault, "an empty file", Vec::new()),
        Case::fail(
            "framing_json",
            NotAVault,
            "a JSON credentials file, not a vault",
            b"{\"credentials\": {\"github.token\": \"ghp_0000\"}}\n".to_vec(),
        ),
        edit(
            "framing_bad_magic",
            NotAVault,
            "magic reads CVLX instead of CVLT",
            |f| {
                f[4] = b'X';
            },
        ),
        edit(
            "framing_magic_crlf_to_lf",
            NotAVault,
            "text-mode damage: the CR LF of the magic became LF",
            |f| {
                f.remove(5);
            },
        ),
        edit(
            "framing_magic_lf_to_crlf",
            NotAVault,
            "text-mode damage: the LF of the magic became CR LF",
            |f| f.insert(6, b'\r'),
        ),
        edit(
            "framing_magic_high_bit_stripped",
            NotAVault,
            "7-bit damage: the first magic byte 0x89 became 0x09",
            |f| f[0] &= 0x7f,
        ),
        edit(
            "framing_header_len_zero",
            Malformed,
            "header length 0",
            |f| set_header_len(f, 0),
        ),
        edit(
            "framing_header_len_above_cap",
            TooLarge,
            "header length 65537, one above the 64 KiB cap; rejected before reading further",
            |f| set_header_len(f, 64 * 1024 + 1),
        ),
        edit(
            "framing_header_len_max",
            TooLarge,
            "header length 2^32-1; must be rejected before any allocation",
            |f| set_header_len(f, u32::MAX),
        ),
        edit(
            "framing_header_len_beyond_file",
            Truncated,
            "header length one byte more than the bytes after the prefix",
            |f| {
                let rest = (f.len() - PREFIX_LEN) as u32;
                set_header_len(f, rest + 1);
            },
        ),
        edit(
            "framing_header_len_short",
            Malformed,
            "header length one byte short: the header CBOR is incomplete",
            |f| {
                let len = header_len(f);
                set_header_len(f, len - 1);
            },
        ),
        edit(
            "version_major_0",
            UnsupportedVersion,
            "major version 0 (never released)",
            |f| f[MAJOR_AT] = 0,
        ),
        edit(
            "version_major_2",
            UnsupportedVersion,
            "major version 2: made by a newer credvault",
            |f| f[MAJOR_AT] = 2,
        ),
        edit(
            "version_major_255",
            UnsupportedVersion,
            "major version 255",
            |f| f[MAJOR_AT] = 255,
        ),
        minor(
            "version_minor_1",
            1,
            "format 1.1: a higher minor version is still readable",
        ),
        minor(
            "version_minor_255",
            255,
            "format 1.255: a higher minor version is still readable",
        ),
    ])
}

/// A valid one-entry vault edited by `change`.
fn edit(
    name: &'static str,
    expect: crate::Expect,
    comment: &'static str,
    change: impl FnOnce(&mut Vec<u8>),
) -> Case {
    let mut file = Fixture::basic(name).seal();
    change(&mut file);
    Case::fail(name, expect, comment, file)
}

/// A valid vault written with minor version `minor` (the minor is bound as
/// associated data like the rest of the prefix).
fn minor(name: &'static str, minor: u8, comment: &'static str) -> Case {
    let mut fx = Fixture::basic(name);
    fx.minor = minor;
    let file = fx.seal();
    assert_eq!(file[MAJOR_AT + 1], minor);
    Case::success(name, comment, file, fx.payload())
}

fn header_len(f: &[u8]) -> u32 {
    let mut be = [0; 4];
    be.copy_from_slice(&f[HEADER_LEN_AT..PREFIX_LEN]);
    u32::from_be_bytes(be)
}

fn set_header_len(f: &mut [u8], len: u32) {
    f[HEADER_LEN_AT..PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
}
