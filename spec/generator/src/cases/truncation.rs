//! Truncation at each structural boundary, and trailing data (FORMAT.md §2.3).

use credvault::format::PREFIX_LEN;

use crate::cbor::{self, header_key};
use crate::fixture::Fixture;
use crate::Case;
use crate::Expect::{TrailingData, Truncated};

pub fn cases() -> Vec<Case> {
    Vec::from([
        cut(
            "truncated_in_magic",
            "the first 5 bytes of the magic",
            |_, _| 5,
        ),
        cut(
            "truncated_end_of_magic",
            "the magic and nothing else",
            |_, _| 8,
        ),
        cut(
            "truncated_in_prefix",
            "cut inside the header length field of the prefix",
            |_, _| 11,
        ),
        cut(
            "truncated_end_of_prefix",
            "the 14-byte prefix and no header",
            |_, _| PREFIX_LEN,
        ),
        cut(
            "truncated_in_header",
            "cut in the middle of the header",
            |h, _| PREFIX_LEN + h / 2,
        ),
        cut(
            "truncated_end_of_header",
            "prefix and header, no body",
            |h, _| PREFIX_LEN + h,
        ),
        cut(
            "truncated_in_body",
            "cut in the middle of the body ciphertext",
            |h, b| PREFIX_LEN + h + b / 2,
        ),
        cut(
            "truncated_one_byte_short",
            "the last byte of the body tag is missing",
            |h, b| PREFIX_LEN + h + b - 1,
        ),
        body_len(
            "truncated_body_len_claims_more",
            Truncated,
            "the header announces one body byte more than the file holds",
            1,
        ),
        append("trailing_one_byte", "one zero byte after the body", |_| {
            vec![0]
        }),
        append(
            "trailing_newline",
            "a newline after the body, as an editor would add",
            |_| b"\n".to_vec(),
        ),
        append(
            "trailing_second_body",
            "the body ciphertext appended a second time",
            |body| body.to_vec(),
        ),
        body_len(
            "trailing_body_len_claims_less",
            TrailingData,
            "the header announces one body byte less than the file holds",
            -1,
        ),
    ])
}

/// A valid vault cut to `at(header_len, body_len)` bytes.
fn cut(name: &'static str, comment: &'static str, at: fn(usize, usize) -> usize) -> Case {
    let mut fx = Fixture::basic(name);
    let mut file = fx.seal();
    let header_len = fx.header.encode().len();
    let body_len = file.len() - PREFIX_LEN - header_len;
    file.truncate(at(header_len, body_len));
    Case::fail(name, Truncated, comment, file)
}

/// A valid vault followed by `extra(body ciphertext)`.
fn append(name: &'static str, comment: &'static str, extra: fn(&[u8]) -> Vec<u8>) -> Case {
    let mut fx = Fixture::basic(name);
    let mut file = fx.seal();
    let body_start = PREFIX_LEN + fx.header.encode().len();
    let tail = extra(&file[body_start..]);
    file.extend_from_slice(&tail);
    Case::fail(name, TrailingData, comment, file)
}

/// A vault whose header announces `delta` body bytes more than present; the
/// body is sealed under that header, so only the length is wrong.
fn body_len(name: &'static str, expect: crate::Expect, comment: &'static str, delta: i64) -> Case {
    let mut fx = Fixture::basic(name);
    let mut header = fx.header_value();
    let real = fx.header.body_len;
    let claimed = real.checked_add_signed(delta).expect("small delta");
    cbor::set(&mut header, header_key::BODY_LEN, cbor::uint(claimed));
    Case::fail(name, expect, comment, fx.reseal(&cbor::encode(&header)))
}
