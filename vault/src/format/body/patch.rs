//! Saving a few changes to an indexed body (FORMAT.md §5): a [`Patch`]
//! copies the unchanged records' bytes and encodes only the changed ones;
//! written out it is exactly [`Body::encode`] of the changed body.

use std::collections::BTreeMap;

use super::index::record_name;
#[cfg(doc)]
use super::Body;
use super::{canonical, canonical_bytes, key, BodyIndex, Entry};
use crate::format::cbor;
use crate::format::name::KeyName;

/// The name bytes of a change.
fn change_name<'a>(c: &(&'a KeyName, &Change)) -> &'a [u8] {
    c.0.as_str().as_bytes()
}

/// A change to one name, applied by [`BodyIndex::patch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The name becomes (or stays) live with this entry; a tombstone for it
    /// goes.
    Set(Entry),
    /// The name is deleted at this time (Unix milliseconds): a live entry
    /// goes, and the tombstone is written (or rewritten).
    Delete(u64),
}

/// A body plaintext as pieces: ranges of an indexed body's bytes and new
/// bytes. Written out, it is exactly [`Body::encode`] of the changed body.
pub struct Patch<'a> {
    src: &'a [u8],
    pieces: Vec<Piece>,
    len: usize,
    records: usize,
}

enum Piece {
    Copy(std::ops::Range<usize>),
    New(Vec<u8>),
}

impl std::fmt::Debug for Patch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patch")
            .field("len", &self.len)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl Patch<'_> {
    /// Length of the patched body plaintext in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the patched body is empty (it never is: even an empty body
    /// has its two maps).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries plus tombstones in the patched body (FORMAT.md §6).
    pub fn records(&self) -> usize {
        self.records
    }

    /// Appends the patched body plaintext to `out`.
    pub fn write_into(&self, out: &mut Vec<u8>) {
        for piece in &self.pieces {
            match piece {
                Piece::Copy(range) => {
                    out.extend_from_slice(self.src.get(range.clone()).unwrap_or_default())
                }
                Piece::New(bytes) => out.extend_from_slice(bytes),
            }
        }
    }
}

/// Builds a [`Patch`], merging copied ranges.
struct PatchBuilder<'a> {
    patch: Patch<'a>,
}

impl<'a> PatchBuilder<'a> {
    fn copy(&mut self, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.patch.len += range.len();
        if let Some(Piece::Copy(last)) = self.patch.pieces.last_mut() {
            if last.end == range.start {
                last.end = range.end;
                return;
            }
        }
        self.patch.pieces.push(Piece::Copy(range));
    }

    fn new_bytes(&mut self, w: cbor::Writer) {
        let bytes = w.into_bytes();
        self.patch.len += bytes.len();
        self.patch.pieces.push(Piece::New(bytes));
    }
}

impl BodyIndex {
    /// The body with `changes` applied, as pieces, or `None` when this body
    /// is answered by the reference reader (the caller decodes instead).
    /// The written-out patch equals [`Body::encode`] of the changed body.
    pub fn patch(&self, changes: &BTreeMap<KeyName, Change>) -> Option<Patch<'_>> {
        let index = self.index()?;
        let bytes = self.bytes();
        let mut changes: Vec<(&KeyName, &Change)> = changes.iter().collect();
        changes.sort_unstable_by(|a, b| canonical(a.0.as_str(), b.0.as_str()));

        // Live entries: the index's records merged with the changes.
        let mut entries = PatchBuilder {
            patch: Patch {
                src: bytes,
                pieces: Vec::new(),
                len: 0,
                records: 0,
            },
        };
        let mut live = 0usize;
        let mut i = 0;
        let record_end = |i: usize| -> usize {
            index.entries.get(i + 1).map_or(index.entries_end, |e| e.0) as usize
        };
        for change in &changes {
            // Copy the records before this change's name.
            while let Some(e) = index.entries.get(i) {
                if canonical_bytes(record_name(bytes, e), change_name(change)).is_lt() {
                    entries.copy(e.0 as usize..record_end(i));
                    live += 1;
                    i += 1;
                } else {
                    break;
                }
            }
            let replaces = index
                .entries
                .get(i)
                .is_some_and(|e| record_name(bytes, e) == change_name(change));
            if replaces {
                i += 1;
            }
            if let Change::Set(entry) = change.1 {
                let mut w = cbor::Writer::default();
                w.text(change.0.as_str());
                entry.write(&mut w);
                entries.new_bytes(w);
                live += 1;
            }
        }
        while let Some(e) = index.entries.get(i) {
            entries.copy(e.0 as usize..record_end(i));
            live += 1;
            i += 1;
        }

        // Tombstones: the index's merged with the changes.
        let mut tombs = PatchBuilder {
            patch: Patch {
                src: bytes,
                pieces: Vec::new(),
                len: 0,
                records: 0,
            },
        };
        let mut deleted = 0usize;
        let mut i = 0;
        let tomb_end = |i: usize| -> usize {
            index
                .tombstones
                .get(i + 1)
                .map_or(bytes.len(), |e| e.0 as usize)
        };
        for change in &changes {
            while let Some(e) = index.tombstones.get(i) {
                if canonical_bytes(record_name(bytes, e), change_name(change)).is_lt() {
                    tombs.copy(e.0 as usize..tomb_end(i));
                    deleted += 1;
                    i += 1;
                } else {
                    break;
                }
            }
            if index
                .tombstones
                .get(i)
                .is_some_and(|e| record_name(bytes, e) == change_name(change))
            {
                i += 1;
            }
            if let Change::Delete(at) = change.1 {
                let mut w = cbor::Writer::default();
                w.text(change.0.as_str());
                w.uint(*at);
                tombs.new_bytes(w);
                deleted += 1;
            }
        }
        while let Some(e) = index.tombstones.get(i) {
            tombs.copy(e.0 as usize..tomb_end(i));
            deleted += 1;
            i += 1;
        }

        // The frame: {1: {entries}, 2: {tombstones}} with the new counts.
        let mut head = cbor::Writer::default();
        head.map(2);
        head.uint(key::ENTRIES);
        head.map(live);
        let mut middle = cbor::Writer::default();
        middle.uint(key::TOMBSTONES);
        middle.map(deleted);
        let mut out = PatchBuilder {
            patch: Patch {
                src: bytes,
                pieces: Vec::new(),
                len: 0,
                records: live + deleted,
            },
        };
        out.new_bytes(head);
        for piece in entries.patch.pieces {
            match piece {
                Piece::Copy(r) => out.copy(r),
                Piece::New(b) => {
                    out.patch.len += b.len();
                    out.patch.pieces.push(Piece::New(b));
                }
            }
        }
        out.new_bytes(middle);
        for piece in tombs.patch.pieces {
            match piece {
                Piece::Copy(r) => out.copy(r),
                Piece::New(b) => {
                    out.patch.len += b.len();
                    out.patch.pieces.push(Piece::New(b));
                }
            }
        }
        Some(out.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::body::tests::{sample, varied};
    use crate::format::body::{Body, Kind, Metadata, SealedValue};

    #[test]
    fn a_patch_writes_what_the_encoder_writes() {
        let entry = |i: u8| Entry {
            value: SealedValue::new(vec![i; 40 + usize::from(i)]).unwrap(),
            kind: Kind::new("token").unwrap(),
            created_ms: 5,
            updated_ms: 6,
            expires_ms: None,
            metadata: Metadata::default(),
        };
        let names = [
            "a",
            "z",
            "old.key",
            "gone3",
            "gone0",
            "postgresql.password",
            "svc.0",
            "svcxxxxxx.6",
            "new.one",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "b",
        ];
        for base in [Body::default(), sample(), varied()] {
            let bytes = base.encode();
            let index =
                BodyIndex::new(zeroize::Zeroizing::new(bytes.clone()), 0..bytes.len()).unwrap();
            assert_eq!(
                index.patch(&BTreeMap::new()).map(|p| {
                    let mut o = Vec::new();
                    p.write_into(&mut o);
                    o
                }),
                Some(bytes.clone())
            );
            // Every subset of up to two changes over the names, both kinds.
            for (i, a) in names.iter().enumerate() {
                for (j, b) in names.iter().enumerate().skip(i) {
                    for kinds in 0..4u8 {
                        let mut changes = BTreeMap::new();
                        let change = |k: u8, n: u8| {
                            if k == 0 {
                                Change::Set(entry(n))
                            } else {
                                Change::Delete(u64::from(n) << 20)
                            }
                        };
                        changes.insert(KeyName::new(a).unwrap(), change(kinds & 1, i as u8));
                        changes.insert(KeyName::new(b).unwrap(), change(kinds >> 1, j as u8));
                        let mut expected = base.clone();
                        expected.apply(changes.clone());
                        let expected = expected.encode();
                        let patch = index.patch(&changes).unwrap();
                        let mut out = Vec::new();
                        patch.write_into(&mut out);
                        assert_eq!(patch.len(), out.len());
                        assert_eq!(out, expected, "{a} {b} {kinds}");
                        let decoded = Body::decode(&out).unwrap();
                        assert_eq!(
                            patch.records(),
                            decoded.entries.len() + decoded.tombstones.len()
                        );
                        let again = BodyIndex::trusted(zeroize::Zeroizing::new(out));
                        assert_eq!(again.body(), &decoded);
                    }
                }
            }
        }
    }
}
