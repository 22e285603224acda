//! The body plaintext (FORMAT.md §5): entries with sealed values, and
//! tombstones for deletions.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ciborium::Value;

use super::cbor::{self, as_u64, into_bytes, into_pairs, into_text, uint, Fields};
use super::limits;
use super::name::KeyName;
use super::{FormatError, NONCE_LEN, TAG_LEN};

/// Body map keys (FORMAT.md §5).
mod key {
    pub const ENTRIES: u64 = 1;
    pub const TOMBSTONES: u64 = 2;
}

/// Entry map keys (FORMAT.md §5.2).
mod entry_key {
    pub const VALUE: u64 = 1;
    pub const KIND: u64 = 2;
    pub const CREATED: u64 = 3;
    pub const UPDATED: u64 = 4;
    pub const EXPIRES: u64 = 5;
    pub const METADATA: u64 = 6;
}

/// The decoded body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// Live entries by name.
    pub entries: BTreeMap<KeyName, Entry>,
    /// Deleted names and the time of deletion (Unix milliseconds).
    pub tombstones: BTreeMap<KeyName, u64>,
}

/// One credential (FORMAT.md §5.2). The value stays sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value sealed under the value key, with the name as associated data.
    pub value: SealedValue,
    /// What the value is, e.g. `password`, `api-key`, `token`.
    pub kind: Kind,
    /// Creation time, Unix milliseconds.
    pub created_ms: u64,
    /// Last update time, Unix milliseconds; not before `created_ms`.
    pub updated_ms: u64,
    /// Optional expiry time, Unix milliseconds.
    pub expires_ms: Option<u64>,
    /// Free text metadata, not secret.
    pub metadata: Metadata,
}

/// A sealed value: `nonce(24) || ciphertext || tag(16)` (FORMAT.md §5.3).
/// Its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue(Vec<u8>);

impl SealedValue {
    /// Smallest sealed value: nonce and tag around an empty plaintext.
    pub const MIN_LEN: usize = NONCE_LEN + TAG_LEN;

    /// Wraps sealed bytes, checking their length.
    pub fn new(bytes: Vec<u8>) -> Result<Self, FormatError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(FormatError::Malformed("sealed value"));
        }
        if bytes.len() > limits::MAX_VALUE_LEN + Self::MIN_LEN {
            return Err(FormatError::TooLarge {
                what: "sealed value",
                found: bytes.len() as u64,
                max: (limits::MAX_VALUE_LEN + Self::MIN_LEN) as u64,
            });
        }
        Ok(SealedValue(bytes))
    }

    /// The sealed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedValue({} bytes)", self.0.len())
    }
}

/// Kinds common enough to be kept as static strings: no allocation per
/// entry when a large body is decoded.
const COMMON_KINDS: [&str; 6] = [
    "secret",
    "password",
    "api-key",
    "token",
    "oauth-token",
    "certificate",
];

/// An entry kind: 1–32 bytes of `[a-z0-9-]` (FORMAT.md §5.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind(Cow<'static, str>);

impl Kind {
    /// Whether `kind` is 1–32 bytes of `[a-z0-9-]` (FORMAT.md §5.2).
    #[inline]
    pub(crate) fn is_valid(kind: &[u8]) -> bool {
        let (min, max) = limits::KIND_LEN;
        (min..=max).contains(&kind.len())
            && kind
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    }

    /// A kind already checked by [`Kind::is_valid`] (so ASCII: the lossy
    /// conversion never replaces anything).
    fn checked(kind: &[u8]) -> Self {
        match COMMON_KINDS.iter().find(|k| k.as_bytes() == kind) {
            Some(k) => Kind(Cow::Borrowed(k)),
            None => Kind(Cow::Owned(String::from_utf8_lossy(kind).into_owned())),
        }
    }

    /// Checks a kind.
    pub fn new(kind: &str) -> Result<Self, FormatError> {
        if !Self::is_valid(kind.as_bytes()) {
            return Err(FormatError::Malformed("entry kind"));
        }
        Ok(Self::checked(kind.as_bytes()))
    }

    /// The default kind, `secret`.
    pub fn secret() -> Self {
        Kind(Cow::Borrowed("secret"))
    }

    /// The kind as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Entry metadata: at most 32 pairs of text (FORMAT.md §5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Checks a metadata map against the limits of FORMAT.md §6.
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, FormatError> {
        if map.len() > limits::MAX_METADATA_PAIRS {
            return Err(FormatError::TooLarge {
                what: "metadata pair count",
                found: map.len() as u64,
                max: limits::MAX_METADATA_PAIRS as u64,
            });
        }
        if !map.iter().all(|(k, v)| Self::pair_is_valid(k, v)) {
            return Err(FormatError::Malformed("entry metadata"));
        }
        Ok(Metadata(map))
    }

    /// Whether one pair is within the limits of FORMAT.md §6: key 1–64
    /// bytes, value at most 1024 bytes.
    pub(crate) fn pair_is_valid(key: &str, value: &str) -> bool {
        let (kmin, kmax) = limits::METADATA_KEY_LEN;
        (kmin..=kmax).contains(&key.len()) && value.len() <= limits::MAX_METADATA_VALUE_LEN
    }

    /// The pairs.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl Entry {
    /// Writes the entry map (FORMAT.md §5.2), keys in ascending order.
    fn write(&self, w: &mut cbor::Writer) {
        let fields =
            4 + usize::from(self.expires_ms.is_some()) + usize::from(!self.metadata.0.is_empty());
        w.map(fields);
        w.uint(entry_key::VALUE);
        w.bytes(&self.value.0);
        w.uint(entry_key::KIND);
        w.text(&self.kind.0);
        w.uint(entry_key::CREATED);
        w.uint(self.created_ms);
        w.uint(entry_key::UPDATED);
        w.uint(self.updated_ms);
        if let Some(e) = self.expires_ms {
            w.uint(entry_key::EXPIRES);
            w.uint(e);
        }
        if !self.metadata.0.is_empty() {
            w.uint(entry_key::METADATA);
            let mut pairs: Vec<(&String, &String)> = self.metadata.0.iter().collect();
            pairs.sort_unstable_by(|a, b| canonical(a.0, b.0));
            w.map(pairs.len());
            for (k, v) in pairs {
                w.text(k);
                w.text(v);
            }
        }
    }

    fn to_value(&self) -> Value {
        let mut pairs = vec![
            (uint(entry_key::VALUE), Value::Bytes(self.value.0.clone())),
            (uint(entry_key::KIND), Value::Text(self.kind.0.to_string())),
            (uint(entry_key::CREATED), uint(self.created_ms)),
            (uint(entry_key::UPDATED), uint(self.updated_ms)),
        ];
        if let Some(e) = self.expires_ms {
            pairs.push((uint(entry_key::EXPIRES), uint(e)));
        }
        if !self.metadata.0.is_empty() {
            let meta = self
                .metadata
                .0
                .iter()
                .map(|(k, v)| (Value::Text(k.clone()), Value::Text(v.clone())))
                .collect();
            pairs.push((uint(entry_key::METADATA), cbor::map(meta)));
        }
        cbor::map(pairs)
    }

    fn from_value(value: Value) -> Result<Entry, FormatError> {
        const WHAT: &str = "entry";
        let mut f = Fields::new(value, WHAT)?;
        let value = SealedValue::new(into_bytes(f.require(entry_key::VALUE)?, WHAT)?)?;
        let kind = Kind::new(&into_text(f.require(entry_key::KIND)?, WHAT)?)?;
        let created_ms = as_u64(&f.require(entry_key::CREATED)?, WHAT)?;
        let updated_ms = as_u64(&f.require(entry_key::UPDATED)?, WHAT)?;
        if updated_ms < created_ms {
            return Err(FormatError::Malformed(
                "entry times (updated before created)",
            ));
        }
        let expires_ms = f
            .take(entry_key::EXPIRES)
            .map(|v| as_u64(&v, WHAT))
            .transpose()?;
        let metadata = match f.take(entry_key::METADATA) {
            None => Metadata::default(),
            Some(v) => {
                let pairs = into_pairs(v, "entry metadata")?;
                if pairs.is_empty() {
                    // An empty map is written by omitting the key.
                    return Err(FormatError::NonCanonical("entry metadata"));
                }
                let mut map = BTreeMap::new();
                for (k, v) in pairs {
                    map.insert(
                        into_text(k, "entry metadata")?,
                        into_text(v, "entry metadata")?,
                    );
                }
                Metadata::new(map)?
            }
        };
        f.finish()?;
        Ok(Entry {
            value,
            kind,
            created_ms,
            updated_ms,
            expires_ms,
            metadata,
        })
    }
}

impl Body {
    /// Applies one change per name: a set makes the name live with its
    /// entry and drops its tombstone; a delete drops the live entry and
    /// writes the tombstone. [`BodyIndex::patch`] encodes the same result.
    pub fn apply(&mut self, changes: BTreeMap<KeyName, Change>) {
        for (name, change) in changes {
            match change {
                Change::Set(entry) => {
                    self.tombstones.remove(&name);
                    self.entries.insert(name, entry);
                }
                Change::Delete(at) => {
                    self.entries.remove(&name);
                    self.tombstones.insert(name, at);
                }
            }
        }
    }

    /// Encodes the body as deterministic CBOR (FORMAT.md §5).
    ///
    /// Written directly with [`cbor::Writer`]; the result is byte for byte
    /// the one of the reference encoder ([`Body::encode_reference`]), which
    /// the tests and the `fuzz_body` target check.
    pub fn encode(&self) -> Vec<u8> {
        // Maps are written in the order of their keys' encodings (§3): for
        // text keys, shorter first, then bytewise — not `BTreeMap` order.
        let mut entries: Vec<(&KeyName, &Entry)> = self.entries.iter().collect();
        entries.sort_unstable_by(|a, b| canonical(a.0.as_str(), b.0.as_str()));
        let mut tombstones: Vec<(&KeyName, u64)> =
            self.tombstones.iter().map(|(k, t)| (k, *t)).collect();
        tombstones.sort_unstable_by(|a, b| canonical(a.0.as_str(), b.0.as_str()));

        let estimate: usize = entries
            .iter()
            .map(|(k, e)| k.as_str().len() + e.value.0.len() + e.kind.0.len() + 48)
            .sum::<usize>()
            + tombstones.len() * 48
            + 16;
        let mut w = cbor::Writer::with_capacity(estimate);
        w.map(2);
        w.uint(key::ENTRIES);
        w.map(entries.len());
        for (name, entry) in entries {
            w.text(name.as_str());
            entry.write(&mut w);
        }
        w.uint(key::TOMBSTONES);
        w.map(tombstones.len());
        for (name, at) in tombstones {
            w.text(name.as_str());
            w.uint(at);
        }
        w.into_bytes()
    }

    /// Decodes and checks a body plaintext (FORMAT.md §5, §6).
    ///
    /// The fast path reads the bytes in place with [`cbor::Reader`] and
    /// checks every rule of §3 and §5 as it goes. Input it rejects is handed
    /// to the reference reader ([`Body::decode_reference`]), whose error is
    /// returned, so the error class is that of FORMAT.md §3 in every case.
    pub fn decode(bytes: &[u8]) -> Result<Body, FormatError> {
        check_len(bytes)?;
        match decode_fast(bytes) {
            Ok(body) => Ok(body),
            Err(cbor::Reject) => Body::decode_reference(bytes),
        }
    }

    /// The reference encoder: builds a CBOR value tree and lets `ciborium`
    /// encode it. Slower than [`Body::encode`], kept as its specification
    /// for tests and fuzzing.
    #[doc(hidden)]
    pub fn encode_reference(&self) -> Vec<u8> {
        let entries = self
            .entries
            .iter()
            .map(|(k, e)| (Value::Text(k.as_str().to_owned()), e.to_value()))
            .collect();
        let tombstones = self
            .tombstones
            .iter()
            .map(|(k, t)| (Value::Text(k.as_str().to_owned()), uint(*t)))
            .collect();
        cbor::encode(&cbor::map(vec![
            (uint(key::ENTRIES), cbor::map(entries)),
            (uint(key::TOMBSTONES), cbor::map(tombstones)),
        ]))
    }

    /// The reference reader of FORMAT.md §3 and §5: decodes a value tree
    /// with `ciborium`, checks it, re-encodes it and compares. It defines
    /// the error classes; [`Body::decode`] agrees with it on what it
    /// accepts (checked by tests and the `fuzz_body` target).
    #[doc(hidden)]
    pub fn decode_reference(bytes: &[u8]) -> Result<Body, FormatError> {
        const WHAT: &str = "body";
        check_len(bytes)?;
        let mut f = Fields::new(cbor::decode(bytes, WHAT)?, WHAT)?;
        let raw_entries = into_pairs(f.require(key::ENTRIES)?, "entries")?;
        let raw_tombs = into_pairs(f.require(key::TOMBSTONES)?, "tombstones")?;
        f.finish()?;
        let records = raw_entries.len() + raw_tombs.len();
        if records > limits::MAX_RECORDS {
            return Err(FormatError::TooLarge {
                what: "entry and tombstone count",
                found: records as u64,
                max: limits::MAX_RECORDS as u64,
            });
        }
        let mut body = Body::default();
        for (k, v) in raw_entries {
            body.entries.insert(name(k)?, Entry::from_value(v)?);
        }
        for (k, v) in raw_tombs {
            let name = name(k)?;
            if body.entries.contains_key(&name) {
                return Err(FormatError::Malformed("name both live and deleted"));
            }
            body.tombstones.insert(name, as_u64(&v, "tombstone")?);
        }
        Ok(body)
    }
}

/// The order of text map keys in the deterministic encoding (FORMAT.md §3).
fn canonical(a: &str, b: &str) -> std::cmp::Ordering {
    canonical_bytes(a.as_bytes(), b.as_bytes())
}

/// [`canonical`] on the bytes of the texts.
fn canonical_bytes(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

/// Whether text key `a` sorts strictly before `b` (FORMAT.md §3).
fn text_key_before(a: &[u8], b: &[u8]) -> bool {
    canonical_bytes(a, b).is_lt()
}

fn check_len(bytes: &[u8]) -> Result<(), FormatError> {
    if bytes.len() as u64 > limits::MAX_BODY_LEN {
        return Err(FormatError::TooLarge {
            what: "body length",
            found: bytes.len() as u64,
            max: limits::MAX_BODY_LEN,
        });
    }
    Ok(())
}

/// An entry as it lies in the body bytes, checked against every rule of
/// FORMAT.md §5.2 and §6, borrowed from them.
struct EntryRef<'a> {
    value: &'a [u8],
    kind: &'a [u8],
    created_ms: u64,
    updated_ms: u64,
    expires_ms: Option<u64>,
}

impl EntryRef<'_> {
    fn to_entry(&self, metadata: Metadata) -> Entry {
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
fn read_entry<'a>(
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
struct Walked<'a> {
    /// Offset of the tombstones key (where the last entry record ends).
    entries_end: usize,
    /// Tombstones in canonical order: record offset, name, deletion time.
    tombstones: Vec<(usize, &'a [u8], u64)>,
}

/// One checking pass over a body (FORMAT.md §3, §5, §6), allocation-free
/// but for the list of names: `on_entry` gets each entry with its name, the
/// offset of its record (the name's head) and of its map, in the body's
/// (canonical) order. Any violation is a [`cbor::Reject`]; the caller asks
/// the reference reader why.
fn walk<'a>(
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
fn decode_fast(bytes: &[u8]) -> Result<Body, cbor::Reject> {
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

/// Where the records of a checked body lie: offsets into its bytes (a body
/// is at most 64 MiB, so they fit in `u32`).
#[derive(Debug, Default)]
struct Index {
    /// Live entries in canonical order: record start (the name's head),
    /// name start, name length. The entry map follows the name; a record
    /// ends where the next begins (the last at `entries_end`).
    entries: Vec<(u32, u32, u32)>,
    /// Offset of the tombstones key.
    entries_end: u32,
    /// Tombstones in canonical order: record start, name start, name
    /// length. The last ends at the end of the body.
    tombstones: Vec<(u32, u32, u32)>,
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
        let walked = walk(bytes, false, |name, record, _, _, _| {
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

/// The name bytes of a change.
fn change_name<'a>(c: &(&'a KeyName, &Change)) -> &'a [u8] {
    c.0.as_str().as_bytes()
}

/// The name bytes of an index record.
fn record_name<'a>(bytes: &'a [u8], &(_, at, len): &(u32, u32, u32)) -> &'a [u8] {
    bytes
        .get(at as usize..(at as usize + len as usize))
        .unwrap_or_default()
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

    /// A body this crate just encoded (a [`Patch`] written out): indexed
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

    fn bytes(&self) -> &[u8] {
        self.plain.get(self.start..self.end).unwrap_or_default()
    }

    /// The index, or `None` when the decoded body must answer.
    fn index(&self) -> Option<&Index> {
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
        read_entry(&mut r, None).ok().map(|e| e.value)
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
        let entry = read_entry(&mut r, Some(&mut metadata)).ok()?;
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
        decode_fast(bytes)
            .ok()
            .or_else(|| Body::decode_reference(bytes).ok())
            .unwrap_or_default()
    }
}

fn name(v: Value) -> Result<KeyName, FormatError> {
    KeyName::new(&into_text(v, "key name")?).map_err(|_| FormatError::Malformed("key name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Body {
        let mut b = Body::default();
        let mut meta = BTreeMap::new();
        meta.insert("url".to_owned(), "postgres://db".to_owned());
        b.entries.insert(
            KeyName::new("postgresql.password").unwrap(),
            Entry {
                value: SealedValue::new(vec![5; 50]).unwrap(),
                kind: Kind::new("password").unwrap(),
                created_ms: 1,
                updated_ms: 2,
                expires_ms: Some(3),
                metadata: Metadata::new(meta).unwrap(),
            },
        );
        b.entries.insert(
            KeyName::new("a").unwrap(),
            Entry {
                value: SealedValue::new(vec![6; 40]).unwrap(),
                kind: Kind::secret(),
                created_ms: 10,
                updated_ms: 10,
                expires_ms: None,
                metadata: Metadata::default(),
            },
        );
        b.tombstones.insert(KeyName::new("old.key").unwrap(), 99);
        b
    }

    #[test]
    fn can_round_trip_body() {
        let b = sample();
        let bytes = b.encode();
        assert_eq!(Body::decode(&bytes).unwrap(), b);
        assert_eq!(Body::default().encode(), [0xa2, 0x01, 0xa0, 0x02, 0xa0]);
    }

    #[test]
    fn every_truncated_body_is_rejected() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(Body::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn rejects_live_and_deleted() {
        let mut b = sample();
        b.tombstones.insert(KeyName::new("a").unwrap(), 5);
        assert!(Body::decode(&b.encode()).is_err());
    }

    /// Both readers agree on `bytes`: the same body, or both reject with
    /// the reference's error.
    fn readers_agree(bytes: &[u8]) {
        let fast = decode_fast(bytes);
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

    fn varied() -> Body {
        let mut b = sample();
        for i in 0..8u64 {
            let name = format!("svc{}.{}", "x".repeat(i as usize % 7), i);
            b.entries.insert(
                KeyName::new(&name).unwrap(),
                Entry {
                    value: SealedValue::new(vec![i as u8; 40 + i as usize * 9]).unwrap(),
                    kind: Kind::new(if i % 2 == 0 { "api-key" } else { "token" }).unwrap(),
                    created_ms: i * 1_000_000_007,
                    updated_ms: i * 1_000_000_007 + (1 << (i * 2)),
                    expires_ms: (i % 3 == 0).then_some(1 << 40),
                    metadata: Metadata::default(),
                },
            );
            b.tombstones
                .insert(KeyName::new(&format!("gone{i}")).unwrap(), 1 << i);
        }
        b
    }

    #[test]
    fn fast_encoder_matches_reference_encoder() {
        for b in [Body::default(), sample(), varied()] {
            assert_eq!(b.encode(), b.encode_reference());
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

    #[test]
    fn reports_the_reference_error_class() {
        // Unsorted entries: the fast reader rejects, the reference names it.
        let mut w = cbor::Writer::default();
        w.map(2);
        w.uint(1);
        w.map(2);
        for name in ["b", "a"] {
            w.text(name);
            Entry {
                value: SealedValue::new(vec![0; 40]).unwrap(),
                kind: Kind::secret(),
                created_ms: 0,
                updated_ms: 0,
                expires_ms: None,
                metadata: Metadata::default(),
            }
            .write(&mut w);
        }
        w.uint(2);
        w.map(0);
        let bytes = w.into_bytes();
        assert_eq!(Body::decode(&bytes), Err(FormatError::NonCanonical("body")));
    }

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
