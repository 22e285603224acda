//! Deterministic CBOR (RFC 8949 §4.2.1) on top of `ciborium`'s `Value`.
//!
//! The format uses a small subset of CBOR: unsigned integers, byte strings,
//! text strings, arrays and maps, all with definite lengths. FORMAT.md §3
//! requires the *core deterministic encoding*; this module enforces it on
//! read in two tiers. First the input must start with one well-formed item
//! of the subset (no other major type, no tag of any kind — bignums
//! included —, valid UTF-8, depth at most 8); anything else is
//! **malformed**. Only then is the encoding checked: map keys strictly
//! ascending in the bytewise order of their encodings (which also rejects
//! duplicates), and the item re-encoded: any input that does not re-encode
//! to itself byte for byte (non-minimal integers or lengths, indefinite
//! lengths, trailing bytes) is **non-canonical**.

use ciborium::Value;

use super::FormatError;

/// Nesting depth allowed by the schema plus slack (FORMAT.md §3).
const MAX_DEPTH: usize = 8;

/// Encodes `value` deterministically.
///
/// The values built by this crate only contain integers, strings, arrays and
/// maps whose keys were inserted in canonical order, so `ciborium`'s
/// encoder (shortest-form heads, definite lengths) yields the deterministic
/// encoding.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every Value built by this crate is
    // encodable (no floats, no non-UTF-8 text).
    #[allow(clippy::expect_used)]
    ciborium::into_writer(value, &mut out).expect("encoding into a Vec is infallible");
    out
}

/// Decodes exactly one deterministically encoded item filling all of `bytes`.
///
/// FORMAT.md §3: first every rule of the subset is checked over the whole
/// item (violations are **malformed**), then the encoding (violations are
/// **non-canonical**), so an input with defects of both kinds is
/// malformed wherever they are.
pub fn decode(bytes: &[u8], what: &'static str) -> Result<Value, FormatError> {
    // Tier 1: one well-formed item of the subset. This runs on the bytes,
    // before `ciborium`, because `ciborium` folds a tag 2 or 3 bignum into
    // a plain integer and so hides the tag.
    let mut pos = 0;
    well_formed(bytes, &mut pos, 0).map_err(|NotWellFormed| FormatError::Malformed(what))?;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(bytes, MAX_DEPTH + 2)
        .map_err(|_| FormatError::Malformed(what))?;
    check_subset(&value, what, 0)?;
    // Tier 2: the deterministic encoding.
    check_key_order(&value, what)?;
    if encode(&value) != bytes {
        return Err(FormatError::NonCanonical(what));
    }
    Ok(value)
}

/// The first item of the input is not a well-formed item of the subset.
struct NotWellFormed;

/// Reads one item from `bytes[*pos..]`, in any encoding (shortest or not,
/// definite or indefinite lengths), and checks that it is well formed
/// (RFC 8949 §3) and within the subset of FORMAT.md §3: major types 0, 2,
/// 3, 4 and 5 only (no negative integer, no tag, no float or simple
/// value), text valid UTF-8 (each chunk of an indefinite-length text on
/// its own), nesting depth at most [`MAX_DEPTH`]. Allocates nothing;
/// every length is checked against the bytes that are there.
fn well_formed(bytes: &[u8], pos: &mut usize, depth: usize) -> Result<(), NotWellFormed> {
    if depth > MAX_DEPTH {
        return Err(NotWellFormed);
    }
    let (major, arg) = raw_head(bytes, pos)?;
    match (major, arg) {
        (major::UINT, Some(_)) => Ok(()),
        (major::BYTES | major::TEXT, Some(n)) => raw_string(bytes, pos, major, n),
        (major::BYTES | major::TEXT, None) => loop {
            if bytes.get(*pos) == Some(&BREAK) {
                *pos += 1;
                return Ok(());
            }
            match raw_head(bytes, pos)? {
                (m, Some(n)) if m == major => raw_string(bytes, pos, major, n)?,
                _ => return Err(NotWellFormed),
            }
        },
        (major::ARRAY | major::MAP, Some(n)) => {
            let per_element = if major == major::MAP { 2 } else { 1 };
            for _ in 0..n.saturating_mul(per_element) {
                well_formed(bytes, pos, depth + 1)?;
            }
            Ok(())
        }
        (major::ARRAY | major::MAP, None) => loop {
            if bytes.get(*pos) == Some(&BREAK) {
                *pos += 1;
                return Ok(());
            }
            well_formed(bytes, pos, depth + 1)?;
            if major == major::MAP {
                well_formed(bytes, pos, depth + 1)?;
            }
        },
        _ => Err(NotWellFormed),
    }
}

/// The "break" stop code that ends an indefinite-length item.
const BREAK: u8 = 0xff;

/// One head in any form: major type and argument, `None` for an
/// indefinite length (additional information 31). Reserved values (28–30)
/// and a missing byte are not well formed.
fn raw_head(bytes: &[u8], pos: &mut usize) -> Result<(u8, Option<u64>), NotWellFormed> {
    let initial = *bytes.get(*pos).ok_or(NotWellFormed)?;
    *pos += 1;
    let follow = match initial & 0x1f {
        small @ 0..=23 => return Ok((initial >> 5, Some(u64::from(small)))),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => return Ok((initial >> 5, None)),
        _ => return Err(NotWellFormed),
    };
    let end = pos.checked_add(follow).ok_or(NotWellFormed)?;
    let arg = bytes
        .get(*pos..end)
        .ok_or(NotWellFormed)?
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    *pos = end;
    Ok((initial >> 5, Some(arg)))
}

/// The `n` content bytes of a string; text must be valid UTF-8.
fn raw_string(bytes: &[u8], pos: &mut usize, major: u8, n: u64) -> Result<(), NotWellFormed> {
    let n = usize::try_from(n).map_err(|_| NotWellFormed)?;
    let end = pos.checked_add(n).ok_or(NotWellFormed)?;
    let content = bytes.get(*pos..end).ok_or(NotWellFormed)?;
    if major == major::TEXT && std::str::from_utf8(content).is_err() {
        return Err(NotWellFormed);
    }
    *pos = end;
    Ok(())
}

/// The value tree holds only the types of the subset, within the depth
/// limit (already checked on the bytes by [`well_formed`]; kept so that the
/// value tree is checked whatever produced it).
fn check_subset(value: &Value, what: &'static str, depth: usize) -> Result<(), FormatError> {
    if depth > MAX_DEPTH {
        return Err(FormatError::Malformed(what));
    }
    match value {
        Value::Integer(i) => {
            if i128::from(*i) < 0 || i128::from(*i) > i128::from(u64::MAX) {
                return Err(FormatError::Malformed(what));
            }
            Ok(())
        }
        Value::Bytes(_) | Value::Text(_) => Ok(()),
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_subset(v, what, depth + 1)),
        Value::Map(pairs) => pairs.iter().try_for_each(|(k, v)| {
            check_subset(k, what, depth + 1)?;
            check_subset(v, what, depth + 1)
        }),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Map keys strictly ascending in every map (RFC 8949 §4.2.1: keys sorted
/// by the bytewise lexicographic order of their deterministic encodings;
/// equal keys are duplicates).
fn check_key_order(value: &Value, what: &'static str) -> Result<(), FormatError> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| check_key_order(v, what)),
        Value::Map(pairs) => {
            let mut previous: Option<Vec<u8>> = None;
            for (k, v) in pairs {
                check_key_order(k, what)?;
                check_key_order(v, what)?;
                let key = encode(k);
                if previous
                    .as_ref()
                    .is_some_and(|prev| prev.as_slice() >= key.as_slice())
                {
                    return Err(FormatError::NonCanonical(what));
                }
                previous = Some(key);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Builds a map from `(key, value)` pairs, sorting keys canonically.
pub fn map(mut pairs: Vec<(Value, Value)>) -> Value {
    pairs.sort_by_cached_key(|(k, _)| encode(k));
    Value::Map(pairs)
}

/// An unsigned integer value.
pub fn uint(n: u64) -> Value {
    Value::Integer(n.into())
}

/// A reader over the pairs of an integer-keyed map that hands out each field
/// once and, at the end, rejects any key it was not asked for.
pub struct Fields {
    pairs: Vec<(u64, Value)>,
    what: &'static str,
}

impl Fields {
    /// Takes `value` as a map whose keys are all unsigned integers.
    pub fn new(value: Value, what: &'static str) -> Result<Self, FormatError> {
        let Value::Map(raw) = value else {
            return Err(FormatError::Malformed(what));
        };
        let mut pairs = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            pairs.push((as_u64(&k, what)?, v));
        }
        Ok(Fields { pairs, what })
    }

    /// Removes and returns field `key`, if present.
    pub fn take(&mut self, key: u64) -> Option<Value> {
        let at = self.pairs.iter().position(|(k, _)| *k == key)?;
        Some(self.pairs.remove(at).1)
    }

    /// Removes and returns field `key`, which must be present.
    pub fn require(&mut self, key: u64) -> Result<Value, FormatError> {
        self.take(key).ok_or(FormatError::Malformed(self.what))
    }

    /// Fails if any field was not taken: v1.0 maps have no unknown keys.
    pub fn finish(self) -> Result<(), FormatError> {
        if self.pairs.is_empty() {
            Ok(())
        } else {
            Err(FormatError::Malformed(self.what))
        }
    }

    /// The remaining (untaken) fields.
    pub fn into_rest(self) -> Vec<(u64, Value)> {
        self.pairs
    }
}

/// Reads an unsigned integer that fits in `u64`.
pub fn as_u64(value: &Value, what: &'static str) -> Result<u64, FormatError> {
    match value {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| FormatError::Malformed(what)),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads an unsigned integer that fits in `u32`.
pub fn as_u32(value: &Value, what: &'static str) -> Result<u32, FormatError> {
    u32::try_from(as_u64(value, what)?).map_err(|_| FormatError::Malformed(what))
}

/// Reads a byte string.
pub fn into_bytes(value: Value, what: &'static str) -> Result<Vec<u8>, FormatError> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads a byte string of exactly `N` bytes.
pub fn into_array<const N: usize>(
    value: Value,
    what: &'static str,
) -> Result<[u8; N], FormatError> {
    into_bytes(value, what)?
        .try_into()
        .map_err(|_| FormatError::Malformed(what))
}

/// Reads a text string.
pub fn into_text(value: Value, what: &'static str) -> Result<String, FormatError> {
    match value {
        Value::Text(s) => Ok(s),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads a map as its raw pairs.
pub fn into_pairs(value: Value, what: &'static str) -> Result<Vec<(Value, Value)>, FormatError> {
    match value {
        Value::Map(p) => Ok(p),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// Reads an array.
pub fn into_items(value: Value, what: &'static str) -> Result<Vec<Value>, FormatError> {
    match value {
        Value::Array(a) => Ok(a),
        _ => Err(FormatError::Malformed(what)),
    }
}

/// The input is not the deterministic encoding the caller expects. Carries
/// no detail on purpose: callers of the fast paths fall back to the
/// reference reader ([`decode`]) for the error class (FORMAT.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject;

/// A zero-copy, allocation-free reader of the deterministic subset of
/// FORMAT.md §3, for schemas known in advance (the body, §5).
///
/// Every head must be in shortest form with a definite length; only major
/// types 0 (uint), 2 (bytes), 3 (text, checked UTF-8) and 5 (maps) are read.
/// Anything else is a [`Reject`]. Map key order and the schema are the
/// caller's to check; [`Reader::finish`] checks that no byte follows.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Major types (RFC 8949 §3.1).
mod major {
    pub const UINT: u8 = 0;
    pub const BYTES: u8 = 2;
    pub const TEXT: u8 = 3;
    pub const ARRAY: u8 = 4;
    pub const MAP: u8 = 5;
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], Reject> {
        let end = self.pos.checked_add(n).ok_or(Reject)?;
        let out = self.buf.get(self.pos..end).ok_or(Reject)?;
        self.pos = end;
        Ok(out)
    }

    #[inline]
    fn be<const N: usize>(&mut self) -> Result<[u8; N], Reject> {
        self.take(N)?.try_into().map_err(|_| Reject)
    }

    /// One head: major type and argument, in shortest form (RFC 8949
    /// §4.2.1); indefinite lengths and reserved values are rejected.
    #[inline]
    fn head(&mut self) -> Result<(u8, u64), Reject> {
        let [initial] = self.be::<1>()?;
        let arg = match initial & 0x1f {
            small @ 0..=23 => Some(u64::from(small)),
            24 => Some(u64::from(u8::from_be_bytes(self.be()?))).filter(|v| *v >= 24),
            25 => Some(u64::from(u16::from_be_bytes(self.be()?))).filter(|v| *v > 0xff),
            26 => Some(u64::from(u32::from_be_bytes(self.be()?))).filter(|v| *v > 0xffff),
            27 => Some(u64::from_be_bytes(self.be()?)).filter(|v| *v > 0xffff_ffff),
            _ => None,
        }
        .ok_or(Reject)?;
        Ok((initial >> 5, arg))
    }

    #[inline]
    fn expect(&mut self, major: u8) -> Result<u64, Reject> {
        match self.head()? {
            (m, arg) if m == major => Ok(arg),
            _ => Err(Reject),
        }
    }

    /// A length that must fit in the rest of the input (each element of a
    /// map takes at least one byte per key and value), so no caller can be
    /// made to reserve memory for data that is not there.
    #[inline]
    fn length(&mut self, major: u8, min_bytes_each: usize) -> Result<usize, Reject> {
        let n = usize::try_from(self.expect(major)?).map_err(|_| Reject)?;
        if n.checked_mul(min_bytes_each).ok_or(Reject)? > self.remaining() {
            return Err(Reject);
        }
        Ok(n)
    }

    /// The small unsigned integer `k` (0–23), a map key of the schema: in
    /// shortest form it is the one byte `k`, so one comparison checks it.
    #[inline]
    pub fn small_key(&mut self, k: u8) -> Result<(), Reject> {
        debug_assert!(k < 24);
        match self.buf.get(self.pos) {
            Some(&b) if b == k && k < 24 => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(Reject),
        }
    }

    /// An unsigned integer.
    #[inline]
    pub fn uint(&mut self) -> Result<u64, Reject> {
        self.expect(major::UINT)
    }

    /// A byte string, borrowed from the input.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], Reject> {
        let n = self.length(major::BYTES, 1)?;
        self.take(n)
    }

    /// A text string, borrowed from the input; must be valid UTF-8.
    #[inline]
    pub fn text(&mut self) -> Result<&'a str, Reject> {
        let n = self.length(major::TEXT, 1)?;
        std::str::from_utf8(self.take(n)?).map_err(|_| Reject)
    }

    /// The bytes of a text string that `check` accepts, borrowed from the
    /// input, with no UTF-8 check: `check` must admit ASCII only (and ASCII
    /// is UTF-8). For names and kinds, whose grammars are ASCII.
    #[inline]
    pub fn ascii(&mut self, check: impl Fn(&[u8]) -> bool) -> Result<&'a [u8], Reject> {
        let n = self.length(major::TEXT, 1)?;
        let bytes = self.take(n)?;
        if check(bytes) {
            Ok(bytes)
        } else {
            Err(Reject)
        }
    }

    /// The head of a map: its number of pairs.
    #[inline]
    pub fn map(&mut self) -> Result<usize, Reject> {
        self.length(major::MAP, 2)
    }

    /// Fails unless every byte was read (FORMAT.md §3: exactly one item).
    pub fn finish(self) -> Result<(), Reject> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Reject)
        }
    }
}

/// Whether text key `a` sorts strictly before `b` in the order of their
/// deterministic encodings (FORMAT.md §3): shorter first, then bytewise.
pub fn text_key_before(a: &str, b: &str) -> bool {
    (a.len(), a.as_bytes()) < (b.len(), b.as_bytes())
}

/// A writer of the deterministic encoding (FORMAT.md §3): shortest heads,
/// definite lengths. The caller writes map keys in canonical order.
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// A writer whose buffer starts with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            out: Vec::with_capacity(capacity),
        }
    }

    fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        // Each arm's range makes its cast lossless.
        match arg {
            0..=23 => self.out.push(m | arg as u8),
            24..=0xff => self.out.extend_from_slice(&[m | 24, arg as u8]),
            0x100..=0xffff => {
                self.out.push(m | 25);
                self.out.extend_from_slice(&(arg as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.out.push(m | 26);
                self.out.extend_from_slice(&(arg as u32).to_be_bytes());
            }
            _ => {
                self.out.push(m | 27);
                self.out.extend_from_slice(&arg.to_be_bytes());
            }
        }
    }

    /// An unsigned integer.
    pub fn uint(&mut self, n: u64) {
        self.head(major::UINT, n);
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        self.head(major::BYTES, b.len() as u64);
        self.out.extend_from_slice(b);
    }

    /// A text string.
    pub fn text(&mut self, s: &str) {
        self.head(major::TEXT, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    /// The head of a map of `pairs` pairs; the pairs follow.
    pub fn map(&mut self, pairs: usize) {
        self.head(major::MAP, pairs as u64);
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_map() {
        let v = map(vec![(uint(2), uint(1)), (uint(1), Value::Bytes(vec![1]))]);
        let bytes = encode(&v);
        assert_eq!(bytes, [0xa2, 0x01, 0x41, 0x01, 0x02, 0x01]);
        assert_eq!(decode(&bytes, "t").unwrap(), v);
    }

    #[test]
    fn rejects_non_canonical_forms() {
        let cases: &[&[u8]] = &[
            &[0x18, 0x01],                   // non-minimal int
            &[0xa2, 0x02, 0x00, 0x01, 0x00], // unsorted keys
            &[0xa2, 0x01, 0x00, 0x01, 0x00], // duplicate keys
            &[0x5f, 0x41, 0x00, 0xff],       // indefinite byte string
            &[0x9f, 0x01, 0xff],             // indefinite array
            &[0x59, 0x00, 0x01, 0x00],       // non-minimal length
            &[0x01, 0x00],                   // trailing byte
        ];
        for c in cases {
            assert!(
                matches!(decode(c, "t"), Err(FormatError::NonCanonical(_))),
                "{c:02x?}"
            );
        }
    }

    #[test]
    fn rejects_types_outside_subset() {
        let cases: &[&[u8]] = &[
            &[0x20],                         // negative int
            &[0xf5],                         // true
            &[0xf6],                         // null
            &[0xf9, 0x3c, 0x00],             // half float
            &[0xc1, 0x01],                   // tag
            &[0x5a, 0xff, 0xff, 0xff, 0xff], // huge length claim, no data
            &[],
        ];
        for c in cases {
            assert!(
                matches!(decode(c, "t"), Err(FormatError::Malformed(_))),
                "{c:02x?}"
            );
        }
    }

    #[test]
    fn every_tag_is_malformed_bignums_included() {
        let cases: &[&[u8]] = &[
            &[0xc2, 0x41, 0x01],                         // bignum 1 (below 2^64)
            &[0xc2, 0x40],                               // bignum 0, empty content
            &[0xc2, 0x49, 0x01, 0, 0, 0, 0, 0, 0, 0, 0], // bignum 2^64
            &[0xc3, 0x41, 0x01],                         // negative bignum
            // bignum 2^64 as a map value, where any item of the subset is
            // allowed (as in the fields of an unknown slot type)
            &[0xa1, 0x14, 0xc2, 0x49, 0x01, 0, 0, 0, 0, 0, 0, 0, 0],
        ];
        for c in cases {
            assert!(
                matches!(decode(c, "t"), Err(FormatError::Malformed(_))),
                "{c:02x?}"
            );
        }
    }

    #[test]
    fn malformed_wins_over_non_canonical_wherever_it_is() {
        let cases: &[&[u8]] = &[
            // keys 2, 1 out of order, then a negative integer
            &[0xa3, 0x02, 0x00, 0x01, 0x00, 0x03, 0x20],
            // a non-shortest head, then a tag
            &[0x82, 0x18, 0x01, 0xc1, 0x01],
            // an indefinite array holding invalid UTF-8
            &[0x9f, 0x61, 0xff, 0xff],
            // keys out of order, then depth 9
            &[
                0xa2, 0x02, 0x00, 0x01, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x00,
            ],
        ];
        for c in cases {
            assert!(
                matches!(decode(c, "t"), Err(FormatError::Malformed(_))),
                "{c:02x?}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        for c in [
            &[0x62, 0xc3, 0x28][..],               // bad continuation
            &[0x61, 0x80][..],                     // lone continuation byte
            &[0x63, 0xed, 0xa0, 0x80][..],         // a surrogate
            &[0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff], // a character split over chunks
        ] {
            assert!(
                matches!(decode(c, "t"), Err(FormatError::Malformed(_))),
                "{c:02x?}"
            );
        }
    }

    #[test]
    fn depth_eight_is_allowed_and_nine_is_not() {
        // Eight arrays: the innermost item (0) is at depth 8.
        let ok: Vec<u8> = [0x81u8; 8].iter().copied().chain([0x00]).collect();
        assert!(decode(&ok, "t").is_ok());
        let deep: Vec<u8> = [0x81u8; 9].iter().copied().chain([0x00]).collect();
        assert!(matches!(decode(&deep, "t"), Err(FormatError::Malformed(_))));
        // Maps count the same way: keys and values one level down.
        let ok: Vec<u8> = [0xa1u8, 0x00].repeat(8).into_iter().chain([0x00]).collect();
        assert!(decode(&ok, "t").is_ok());
        let deep: Vec<u8> = [0xa1u8, 0x00].repeat(9).into_iter().chain([0x00]).collect();
        assert!(matches!(decode(&deep, "t"), Err(FormatError::Malformed(_))));
    }

    #[test]
    fn rejects_deep_nesting() {
        let bytes = [0x81u8; 64]
            .iter()
            .copied()
            .chain([0x00])
            .collect::<Vec<_>>();
        assert!(decode(&bytes, "t").is_err());
    }

    #[test]
    fn writer_matches_ciborium_and_reader_reads_it_back() {
        for n in [
            0u64,
            23,
            24,
            255,
            256,
            65535,
            65536,
            u32::MAX.into(),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let mut w = Writer::default();
            w.uint(n);
            let bytes = w.into_bytes();
            assert_eq!(bytes, encode(&uint(n)), "{n}");
            let mut r = Reader::new(&bytes);
            assert_eq!(r.uint(), Ok(n));
            assert_eq!(r.finish(), Ok(()));
        }
        let text = "x".repeat(300);
        let mut w = Writer::default();
        w.map(1);
        w.text(&text);
        w.bytes(&[7; 30]);
        let bytes = w.into_bytes();
        assert_eq!(
            bytes,
            encode(&map(vec![(
                Value::Text(text.clone()),
                Value::Bytes(vec![7; 30])
            )]))
        );
        let mut r = Reader::new(&bytes);
        assert_eq!(r.map(), Ok(1));
        assert_eq!(r.text(), Ok(text.as_str()));
        assert_eq!(r.bytes(), Ok(&[7u8; 30][..]));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn reader_rejects_what_decode_rejects() {
        let cases: &[&[u8]] = &[
            &[0x18, 0x01],                               // non-minimal int
            &[0x19, 0x00, 0xff],                         // non-minimal int
            &[0x1a, 0x00, 0x00, 0xff, 0xff],             // non-minimal int
            &[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // non-minimal int
            &[0x1c],                                     // reserved
            &[0x1f],                                     // indefinite
            &[0x20],                                     // negative int
            &[0xc1, 0x01],                               // tag
            &[0x19, 0x01],                               // truncated
            &[],
        ];
        for c in cases {
            assert_eq!(Reader::new(c).uint(), Err(Reject), "{c:02x?}");
        }
        assert_eq!(Reader::new(&[0x5f, 0x41, 0x00, 0xff]).bytes(), Err(Reject));
        assert_eq!(Reader::new(&[0x59, 0x00, 0x01, 0x00]).bytes(), Err(Reject));
        assert_eq!(
            Reader::new(&[0x5a, 0xff, 0xff, 0xff, 0xff]).bytes(),
            Err(Reject)
        );
        assert_eq!(Reader::new(&[0x62, 0xc3, 0x28]).text(), Err(Reject)); // bad UTF-8
        assert_eq!(
            Reader::new(&[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).map(),
            Err(Reject)
        );
        let mut r = Reader::new(&[0x01, 0x00]);
        assert_eq!(r.uint(), Ok(1));
        assert_eq!(r.finish(), Err(Reject)); // trailing byte
    }

    #[test]
    fn text_keys_sort_by_encoding() {
        assert!(text_key_before("zz", "aaa"));
        assert!(text_key_before("a", "b"));
        assert!(!text_key_before("b", "b"));
        assert!(!text_key_before("aaa", "zz"));
    }
}
