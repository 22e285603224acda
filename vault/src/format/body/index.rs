//! [`BodyIndex`]: a checked body plaintext with the offsets of its
//! records, read entry by entry without decoding the rest (FORMAT.md §5).
//! Saving a few changes to it is [`BodyIndex::patch`] (`patch.rs`).

use std::collections::BTreeMap;

use super::{canonical_bytes, check_len, fast, Body, Entry, Metadata};
use crate::format::cbor;
use crate::format::name::KeyName;
use crate::format::FormatError;

/// Where the records of a checked body lie: offsets into its bytes (a body
/// is at most 64 MiB, so they fit in `u32`).
#[derive(Debug, Default)]
pub(super) struct Index {
    /// Live entries in canonical order: record start (the name's head),
    /// name start, name length. The entry map follows the name; a record
    /// ends where the next begins (the last at `entries_end`).
    pub(super) entries: Vec<(u32, u32, u32)>,
    /// Offset of the tombstones key.
    pub(super) entries_end: u32,
    /// Tombstones in canonical order: record start, name start, name
    /// length. The last ends at the end of the body.
    pub(super) tombstones: Vec<(u32, u32, u32)>,
}

impl Index {
    /// Walks `bytes`; `None` when the fast reader rejects them.
    fn build(bytes: &[u8]) -> Option<Index> {
        // Offsets are u32: a larger body (never one a reader accepts,
        // §6.1) is answered by the decoded body instead.
        if u32::try_from(bytes.len()).is_err() {
            return None;
        }
        let offset = |s: &[u8]| (s.as_ptr() as usize - bytes.as_ptr() as usize) as u32;
        let mut entries = Vec::new();
        let walked = fast::walk(bytes, false, |name, record, _, _, _| {
            entries.push((record as u32, offset(name), name.len() as u32));
        })
        .ok()?;
        let tombstones = walked
            .tombstones
            .iter()
            .map(|(record, name, _)| (*record as u32, offset(name), name.len() as u32))
            .collect();
        Some(Index {
            entries,
            entries_end: walked.entries_end as u32,
            tombstones,
        })
    }
}

/// The name bytes of an index record.
pub(super) fn record_name<'a>(bytes: &'a [u8], &(_, at, len): &(u32, u32, u32)) -> &'a [u8] {
    bytes
        .get(at as usize..(at as usize + len as usize))
        .unwrap_or_default()
}

/// A checked body plaintext with an index of its records, for reading a
/// few values, and for saving a few changes, without decoding every entry
/// (FORMAT.md §5).
///
/// [`BodyIndex::new`] accepts exactly what [`Body::decode`] accepts and
/// fails with the same errors; [`BodyIndex::body`] decodes everything on
/// first use. The plaintext is zeroized on drop.
pub struct BodyIndex {
    plain: zeroize::Zeroizing<Vec<u8>>,
    start: usize,
    end: usize,
    /// `None` inside: the fast reader rejected the bytes and the reference
    /// reader's decoding (in `decoded`) answers every query.
    index: std::sync::OnceLock<Option<Index>>,
    decoded: std::sync::OnceLock<Body>,
}

impl std::fmt::Debug for BodyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyIndex")
            .field("bytes", &(self.end - self.start))
            .field("decoded", &self.decoded.get().is_some())
            .finish_non_exhaustive()
    }
}

impl BodyIndex {
    /// Checks the body plaintext `plain[range]` and indexes its records.
    /// `range` out of bounds is a malformed body.
    pub fn new(
        plain: zeroize::Zeroizing<Vec<u8>>,
        range: std::ops::Range<usize>,
    ) -> Result<BodyIndex, FormatError> {
        let bytes = plain
            .get(range.clone())
            .ok_or(FormatError::Malformed("body"))?;
        check_len(bytes)?;
        let index = std::sync::OnceLock::new();
        let decoded = std::sync::OnceLock::new();
        match Index::build(bytes) {
            Some(built) => {
                let _ = index.set(Some(built));
            }
            None => {
                // The reference reader names the error. Should it accept
                // what the fast reader rejected, its decoding answers.
                let _ = decoded.set(Body::decode_reference(bytes)?);
                let _ = index.set(None);
            }
        }
        Ok(BodyIndex {
            start: range.start,
            end: range.end,
            plain,
            index,
            decoded,
        })
    }

    /// A body this crate just encoded (a [`Patch`](super::Patch) written out): indexed
    /// on first use, without the checks' cost up front.
    pub fn trusted(plain: zeroize::Zeroizing<Vec<u8>>) -> BodyIndex {
        BodyIndex {
            start: 0,
            end: plain.len(),
            plain,
            index: std::sync::OnceLock::new(),
            decoded: std::sync::OnceLock::new(),
        }
    }

    pub(super) fn bytes(&self) -> &[u8] {
        self.plain.get(self.start..self.end).unwrap_or_default()
    }

    /// The index, or `None` when the decoded body must answer.
    pub(super) fn index(&self) -> Option<&Index> {
        self.index
            .get_or_init(|| Index::build(self.bytes()))
            .as_ref()
    }

    /// The position of live entry `name` in the index, if any.
    fn find(index: &Index, bytes: &[u8], name: &[u8]) -> Result<usize, usize> {
        index
            .entries
            .binary_search_by(|e| canonical_bytes(record_name(bytes, e), name))
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        match self.index() {
            Some(index) => index.entries.len(),
            None => self.body().entries.len(),
        }
    }

    /// Whether there is no live entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `name` is a live entry.
    pub fn contains(&self, name: &KeyName) -> bool {
        match self.index() {
            Some(index) => Self::find(index, self.bytes(), name.as_str().as_bytes()).is_ok(),
            None => self.body().entries.contains_key(name),
        }
    }

    /// The sealed value of live entry `name` (FORMAT.md §5.3).
    pub fn sealed_value(&self, name: &KeyName) -> Option<&[u8]> {
        let Some(index) = self.index() else {
            return self.body().entries.get(name).map(|e| e.value.as_bytes());
        };
        let bytes = self.bytes();
        let at = Self::find(index, bytes, name.as_str().as_bytes()).ok()?;
        let &(_, name_at, len) = index.entries.get(at)?;
        let mut r = cbor::Reader::new(bytes.get(name_at as usize + len as usize..)?);
        fast::read_entry(&mut r, None).ok().map(|e| e.value)
    }

    /// Live entry `name`, decoded (only that one).
    pub fn entry(&self, name: &KeyName) -> Option<Entry> {
        let Some(index) = self.index() else {
            return self.body().entries.get(name).cloned();
        };
        let bytes = self.bytes();
        let at = Self::find(index, bytes, name.as_str().as_bytes()).ok()?;
        let &(_, name_at, len) = index.entries.get(at)?;
        let mut r = cbor::Reader::new(bytes.get(name_at as usize + len as usize..)?);
        let mut metadata = BTreeMap::new();
        let entry = fast::read_entry(&mut r, Some(&mut metadata)).ok()?;
        Some(entry.to_entry(Metadata::new(metadata).ok()?))
    }

    /// Whether `name` has a tombstone.
    pub fn is_deleted(&self, name: &KeyName) -> bool {
        match self.index() {
            Some(index) => {
                let bytes = self.bytes();
                let name = name.as_str().as_bytes();
                index
                    .tombstones
                    .binary_search_by(|e| canonical_bytes(record_name(bytes, e), name))
                    .is_ok()
            }
            None => self.body().tombstones.contains_key(name),
        }
    }

    /// The whole body, decoded on first use.
    pub fn body(&self) -> &Body {
        self.decoded
            .get_or_init(|| Self::decode_checked(self.bytes()))
    }

    /// The whole body, decoded.
    pub fn into_body(self) -> Body {
        match self.decoded.into_inner() {
            Some(body) => body,
            None => {
                let bytes = self.plain.get(self.start..self.end).unwrap_or_default();
                Self::decode_checked(bytes)
            }
        }
    }

    /// Decodes bytes [`BodyIndex::new`] accepted (or this crate encoded):
    /// the same checks pass again, so the fallbacks are unreachable.
    fn decode_checked(bytes: &[u8]) -> Body {
        fast::decode(bytes)
            .ok()
            .or_else(|| Body::decode_reference(bytes).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::body::tests::varied;

    #[test]
    fn index_reads_single_entries() {
        let b = varied();
        let bytes = b.encode();
        let index = BodyIndex::new(zeroize::Zeroizing::new(bytes.clone()), 0..bytes.len()).unwrap();
        for (name, entry) in &b.entries {
            assert_eq!(index.entry(name).as_ref(), Some(entry));
            assert!(!index.is_deleted(name));
        }
        for name in b.tombstones.keys() {
            assert!(index.is_deleted(name));
            assert_eq!(index.entry(name), None);
        }
    }
}
