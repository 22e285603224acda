//! The fast reader of the body (FORMAT.md §3, §5, §6): one pass over the
//! bytes with [`cbor::Reader`], checking every rule as it goes and
//! borrowing from the input. It only says *that* the input is bad (a
//! [`cbor::Reject`]); the reference reader says why.

use std::collections::BTreeMap;

use super::{
    canonical_bytes, entry_key, key, text_key_before, Body, Entry, Kind, Metadata, SealedValue,
};
use crate::format::cbor;
use crate::format::limits;
use crate::format::name::KeyName;

/// An entry as it lies in the body bytes, checked against every rule of
/// FORMAT.md §5.2 and §6, borrowed from them.
pub(super) struct EntryRef<'a> {
    pub(super) value: &'a [u8],
    pub(super) kind: &'a [u8],
    pub(super) created_ms: u64,
    pub(super) updated_ms: u64,
    pub(super) expires_ms: Option<u64>,
}

impl EntryRef<'_> {
    pub(super) fn to_entry(&self, metadata: Metadata) -> Entry {
        Entry {
            value: SealedValue(self.value.to_vec()),
            kind: Kind::checked(self.kind),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            expires_ms: self.expires_ms,
            metadata,
        }
    }
}

/// Reads and checks an entry map (FORMAT.md §5.2): keys 1–4 present, 5 and
/// 6 optional, ascending, nothing else; the field rules of §5.2 and the
/// limits of §6. The metadata pairs go to `metadata` when given (else they
/// are only checked).
pub(super) fn read_entry<'a>(
    r: &mut cbor::Reader<'a>,
    mut metadata: Option<&mut BTreeMap<String, String>>,
) -> Result<EntryRef<'a>, cbor::Reject> {
    use cbor::Reject;
    let fields = r.map()?;
    if !(4..=6).contains(&fields) {
        return Err(Reject);
    }
    // Keys 1–6 are one byte each in shortest form (FORMAT.md §3).
    let field = |r: &mut cbor::Reader<'_>, key: u64| r.small_key(key as u8);
    field(r, entry_key::VALUE)?;
    let value = r.bytes()?;
    if value.len() < SealedValue::MIN_LEN
        || value.len() > limits::MAX_VALUE_LEN + SealedValue::MIN_LEN
    {
        return Err(Reject);
    }
    field(r, entry_key::KIND)?;
    // Kind::is_valid admits ASCII only, so no UTF-8 check is needed.
    let kind = r.ascii(Kind::is_valid)?;
    field(r, entry_key::CREATED)?;
    let created_ms = r.uint()?;
    field(r, entry_key::UPDATED)?;
    let updated_ms = r.uint()?;
    if updated_ms < created_ms {
        return Err(Reject);
    }
    let mut expires_ms = None;
    let mut last = entry_key::UPDATED;
    for _ in 4..fields {
        let key = r.uint()?;
        if key <= last {
            return Err(Reject);
        }
        last = key;
        match key {
            entry_key::EXPIRES => expires_ms = Some(r.uint()?),
            entry_key::METADATA => read_metadata(r, metadata.as_deref_mut())?,
            _ => return Err(Reject),
        }
    }
    Ok(EntryRef {
        value,
        kind,
        created_ms,
        updated_ms,
        expires_ms,
    })
}

/// Reads and checks a metadata map (FORMAT.md §5.2, §6): 1 to 32 text
/// pairs (an empty map is written by omitting the field), keys in
/// canonical order, key and value lengths within the limits.
fn read_metadata(
    r: &mut cbor::Reader<'_>,
    mut out: Option<&mut BTreeMap<String, String>>,
) -> Result<(), cbor::Reject> {
    use cbor::Reject;
    let pairs = r.map()?;
    if pairs == 0 || pairs > limits::MAX_METADATA_PAIRS {
        return Err(Reject);
    }
    let mut previous: Option<&str> = None;
    for _ in 0..pairs {
        let k = r.text()?;
        if previous.is_some_and(|p| !cbor::text_key_before(p, k)) {
            return Err(Reject);
        }
        previous = Some(k);
        let v = r.text()?;
        if !Metadata::pair_is_valid(k, v) {
            return Err(Reject);
        }
        if let Some(out) = out.as_deref_mut() {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(())
}

/// What [`walk`] found besides the entries.
pub(super) struct Walked<'a> {
    /// Offset of the tombstones key (where the last entry record ends).
    pub(super) entries_end: usize,
    /// Tombstones in canonical order: record offset, name, deletion time.
    pub(super) tombstones: Vec<(usize, &'a [u8], u64)>,
}

/// One checking pass over a body (FORMAT.md §3, §5, §6), allocation-free
/// but for the list of names: `on_entry` gets each entry with its name, the
/// offset of its record (the name's head) and of its map, in the body's
/// (canonical) order. Any violation is a [`cbor::Reject`]; the caller asks
/// the reference reader why.
pub(super) fn walk<'a>(
    bytes: &'a [u8],
    want_metadata: bool,
    mut on_entry: impl FnMut(&'a [u8], usize, usize, EntryRef<'a>, Metadata),
) -> Result<Walked<'a>, cbor::Reject> {
    use cbor::Reject;
    let mut r = cbor::Reader::new(bytes);
    let at = |r: &cbor::Reader<'_>| bytes.len() - r.remaining();
    if r.map()? != 2 || r.uint()? != key::ENTRIES {
        return Err(Reject);
    }
    let n = r.map()?;
    if n > limits::MAX_RECORDS {
        return Err(Reject);
    }
    // `Reader::map` bounds `n` by the bytes left, so this reservation is
    // bounded by the input's size.
    let mut names: Vec<&'a [u8]> = Vec::with_capacity(n);
    for _ in 0..n {
        let record = at(&r);
        // KeyName::check_bytes admits ASCII only: no UTF-8 check needed.
        let name = r.ascii(|n| KeyName::check_bytes(n).is_ok())?;
        if names.last().is_some_and(|p| !text_key_before(p, name)) {
            return Err(Reject);
        }
        names.push(name);
        let entry_at = at(&r);
        let (entry, metadata) = if want_metadata {
            let mut metadata = BTreeMap::new();
            let entry = read_entry(&mut r, Some(&mut metadata))?;
            // Limits were checked on the way in: this cannot fail.
            (entry, Metadata::new(metadata).map_err(|_| Reject)?)
        } else {
            (read_entry(&mut r, None)?, Metadata::default())
        };
        on_entry(name, record, entry_at, entry, metadata);
    }
    let entries_end = at(&r);
    if r.uint()? != key::TOMBSTONES {
        return Err(Reject);
    }
    let t = r.map()?;
    if n + t > limits::MAX_RECORDS {
        return Err(Reject);
    }
    let mut tombstones: Vec<(usize, &'a [u8], u64)> = Vec::with_capacity(t);
    for _ in 0..t {
        let record = at(&r);
        let name = r.ascii(|n| KeyName::check_bytes(n).is_ok())?;
        if tombstones
            .last()
            .is_some_and(|(_, p, _)| !text_key_before(p, name))
        {
            return Err(Reject);
        }
        // Live names are in canonical order too: a binary search finds a
        // name that is both live and deleted.
        if names
            .binary_search_by(|live| canonical_bytes(live, name))
            .is_ok()
        {
            return Err(Reject);
        }
        tombstones.push((record, name, r.uint()?));
    }
    r.finish()?;
    Ok(Walked {
        entries_end,
        tombstones,
    })
}

/// The fast reader of the body: [`walk`], keeping everything.
pub(super) fn decode(bytes: &[u8]) -> Result<Body, cbor::Reject> {
    let mut entries = Vec::new();
    let walked = walk(bytes, true, |name, _, _, entry, metadata| {
        entries.push((KeyName::checked(name), entry.to_entry(metadata)));
    })?;
    // `BTreeMap::from_iter` sorts (runs of one name length are already
    // sorted) and bulk-builds dense nodes: several times cheaper than
    // inserting one by one.
    Ok(Body {
        entries: entries.into_iter().collect(),
        tombstones: walked
            .tombstones
            .into_iter()
            .map(|(_, name, at)| (KeyName::checked(name), at))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::body::tests::{sample, varied};
    use crate::format::body::BodyIndex;

    /// Both readers agree on `bytes`: the same body, or both reject with
    /// the reference's error.
    fn readers_agree(bytes: &[u8]) {
        let fast = decode(bytes);
        let reference = Body::decode_reference(bytes);
        match (&fast, &reference) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{bytes:02x?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("fast {fast:?} vs reference {reference:?} on {bytes:02x?}"),
        }
        assert_eq!(Body::decode(bytes), reference);
        // The index accepts and rejects as the readers do, and answers as
        // the decoded body does.
        let index = BodyIndex::new(
            zeroize::Zeroizing::new([&[0xee][..], bytes, &[0xee]].concat()),
            1..bytes.len() + 1,
        );
        match (&index, &reference) {
            (Ok(index), Ok(body)) => {
                assert_eq!(index.len(), body.entries.len());
                for (name, entry) in &body.entries {
                    assert!(index.contains(name));
                    assert_eq!(index.sealed_value(name), Some(entry.value.as_bytes()));
                }
                assert!(!index.contains(&KeyName::new("not.there").unwrap()));
                assert_eq!(index.body(), body);
            }
            (Err(e), Err(r)) => assert_eq!(e, r),
            _ => panic!("index {index:?} vs reference {reference:?}"),
        }
    }

    #[test]
    fn readers_agree_on_every_single_byte_change_and_truncation() {
        for b in [sample(), varied()] {
            let bytes = b.encode();
            readers_agree(&bytes);
            for n in 0..bytes.len() {
                readers_agree(&bytes[..n]);
            }
            for at in 0..bytes.len() {
                for v in [0x00, 0x01, 0x18, 0x1f, 0x20, 0x5f, 0x80, 0xc2, 0xff] {
                    let mut m = bytes.clone();
                    m[at] = v;
                    readers_agree(&m);
                    let mut m = bytes.clone();
                    m[at] ^= v;
                    readers_agree(&m);
                }
            }
        }
    }
}
