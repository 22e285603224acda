//! The structure-aware target: an `arbitrary` [`Plan`] rewrites the CBOR of
//! the fixture's header and body, optionally re-seals the body as a holder
//! of the data key would (so authenticated-but-malformed bodies reach the
//! decoder), then damages bytes, and finally opens the result.
//!
//! The oracle, beyond "no panic":
//! - a file that was not re-sealed opens only if its bytes equal the
//!   fixture's (everything before the body is authenticated, FORMAT.md §2);
//! - a wrong credential, or none, never opens anything;
//! - a file whose body was not edited opens to exactly the fixture's
//!   values;
//! - the unmodified fixture always opens with a right credential;
//! - whatever opens, saved again as the engine saves it, opens again to
//!   the same header and body.

use arbitrary::{Arbitrary, Unstructured};
use ciborium::value::Integer;
use ciborium::Value;
use credvault::format::{MAGIC, NONCE_LEN, PREFIX_LEN};
use credvault::{
    crypto, open_bytes, seal_file, KeyName, Passphrase, RecoveryKey, SecretKey, Snapshot,
};

use crate::fixture::{self, fixture};
use crate::{check_opened, options, FuzzUnlocker};

/// The largest file a plan may produce; keeps executions fast.
const MAX_FILE: usize = 1 << 20;
/// Deeper generated CBOR is cut off (the reader stops at depth 8 anyway).
const MAX_DEPTH: u32 = 12;

/// What the fuzzer controls.
#[derive(Arbitrary, Debug)]
pub struct Plan {
    credential: Credential,
    major: Option<u8>,
    minor: Option<u8>,
    header_edits: Vec<HeaderEdit>,
    body_edits: Vec<BodyEdit>,
    /// Put every map back in canonical key order after the edits.
    sort_maps: bool,
    /// Seal the body again over the edited prefix and header.
    reseal: bool,
    byte_edits: Vec<ByteEdit>,
}

/// The credential offered when opening.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Keychain,
    Recovery,
    Passphrase,
    All,
    WrongRecovery,
    WrongPassphrase,
    WrongKeychain,
    Nothing,
}

impl Credential {
    fn is_right(self) -> bool {
        matches!(
            self,
            Credential::Keychain | Credential::Recovery | Credential::Passphrase | Credential::All
        )
    }

    fn unlocker(self) -> FuzzUnlocker {
        let recovery = |flip: u8| {
            let mut key = fixture::RECOVERY_KEY.to_vec();
            key[0] ^= flip;
            RecoveryKey::from_bytes(key)
        };
        let keychain = |flip: u8| {
            let mut kek = fixture::KEYCHAIN_KEK;
            kek[31] ^= flip;
            Some(SecretKey::from_bytes(kek))
        };
        let mut u = FuzzUnlocker::default();
        match self {
            Credential::Keychain => u.keychain = keychain(0),
            Credential::Recovery => u.recovery = recovery(0),
            Credential::Passphrase => u.passphrase = Some(Passphrase::from(fixture::PASSPHRASE)),
            Credential::All => {
                u.keychain = keychain(0);
                u.recovery = recovery(0);
                u.passphrase = Some(Passphrase::from(fixture::PASSPHRASE));
            }
            Credential::WrongRecovery => u.recovery = recovery(1),
            Credential::WrongPassphrase => u.passphrase = Some(Passphrase::from("fuzZ")),
            Credential::WrongKeychain => u.keychain = keychain(0x80),
            Credential::Nothing => {}
        }
        u
    }
}

/// An edit of the header map (FORMAT.md §3.1, §4.1).
#[derive(Arbitrary, Debug)]
enum HeaderEdit {
    SetField { key: u8, value: Cbor },
    SetRawKey { key: Cbor, value: Cbor },
    RemoveField { key: u8 },
    SetSlotField { slot: u8, key: u8, value: Cbor },
    RemoveSlotField { slot: u8, key: u8 },
    RemoveSlot { slot: u8 },
    DuplicateSlot { slot: u8 },
    SwapSlots { a: u8, b: u8 },
    ReplaceHeader { value: Cbor },
}

/// An edit of the body plaintext (FORMAT.md §5).
#[derive(Arbitrary, Debug)]
enum BodyEdit {
    SetField {
        key: u8,
        value: Cbor,
    },
    RemoveField {
        key: u8,
    },
    SetEntryField {
        entry: u8,
        key: u8,
        value: Cbor,
    },
    RemoveEntryField {
        entry: u8,
        key: u8,
    },
    RenameEntry {
        entry: u8,
        name: Cbor,
    },
    RemoveEntry {
        entry: u8,
    },
    CopyEntry {
        entry: u8,
        name: String,
    },
    AddTombstone {
        name: Cbor,
        time: Cbor,
    },
    /// A tombstone under the name of a live entry.
    TombstoneEntry {
        entry: u8,
        time: u64,
    },
    /// `count` metadata pairs on an entry (the limit is 32).
    ManyMetadata {
        entry: u8,
        count: u8,
        long: bool,
    },
    /// Replace a sealed value by `plain` sealed under the value key with
    /// `aad_name` (the entry's own name when `None`) as associated data.
    SealValue {
        entry: u8,
        plain: Vec<u8>,
        aad_name: Option<String>,
    },
    ReplaceBody {
        value: Cbor,
    },
}

/// A damage to the final bytes.
#[derive(Arbitrary, Debug)]
enum ByteEdit {
    Flip { at: u32, mask: u8 },
    Set { at: u32, byte: u8 },
    SetU32 { at: u32, value: u32 },
    Insert { at: u32, bytes: Vec<u8> },
    Delete { at: u32, len: u16 },
    Truncate { at: u32 },
    Append { bytes: Vec<u8> },
    CopyWithin { from: u32, len: u16, to: u32 },
}

/// A generated CBOR item, including types outside the format's subset.
/// Its `Arbitrary` is written by hand only to bound the nesting (see
/// [`Cbor::arbitrary_at`]); it reads bytes exactly as the derive would.
#[derive(Debug)]
enum Cbor {
    Small(u8),
    Uint(u64),
    Neg(u64),
    Bytes(Vec<u8>),
    BytesOf { len: u16, byte: u8 },
    Text(String),
    TextOf { len: u16, ch: char },
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Bool(bool),
    Null,
    Float(f64),
    Tag(u64, Box<Cbor>),
}

impl<'a> Arbitrary<'a> for Cbor {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Cbor::arbitrary_at(u, 0)
    }
}

impl Cbor {
    /// The derive's encoding (a `u32` picks the variant by multiply and
    /// shift; a `bool` before each element of a `Vec`), but arrays, maps
    /// and tags deeper than [`MAX_DEPTH`] become `Null`: a derived
    /// recursive generator nests as deep as the input is long and can
    /// overflow a thread's stack (it did, replaying the corpus in a debug
    /// build), in the harness rather than in the code under test.
    fn arbitrary_at(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Self> {
        const VARIANTS: u64 = 13;
        let deeper = |u: &mut Unstructured<'_>| Cbor::arbitrary_at(u, depth + 1);
        let nest = depth < MAX_DEPTH;
        Ok(match (u64::from(u32::arbitrary(u)?) * VARIANTS) >> 32 {
            0 => Cbor::Small(u.arbitrary()?),
            1 => Cbor::Uint(u.arbitrary()?),
            2 => Cbor::Neg(u.arbitrary()?),
            3 => Cbor::Bytes(u.arbitrary()?),
            4 => Cbor::BytesOf {
                len: u.arbitrary()?,
                byte: u.arbitrary()?,
            },
            5 => Cbor::Text(u.arbitrary()?),
            6 => Cbor::TextOf {
                len: u.arbitrary()?,
                ch: u.arbitrary()?,
            },
            7 if nest => {
                let mut items = Vec::new();
                while u.arbitrary::<bool>().unwrap_or(false) {
                    items.push(deeper(u)?);
                }
                Cbor::Array(items)
            }
            8 if nest => {
                let mut pairs = Vec::new();
                while u.arbitrary::<bool>().unwrap_or(false) {
                    pairs.push((deeper(u)?, deeper(u)?));
                }
                Cbor::Map(pairs)
            }
            9 => Cbor::Bool(u.arbitrary()?),
            11 => Cbor::Float(u.arbitrary()?),
            12 if nest => Cbor::Tag(u.arbitrary()?, Box::new(deeper(u)?)),
            _ => Cbor::Null,
        })
    }

    fn to_value(&self, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        match self {
            Cbor::Small(n) => Value::Integer((u64::from(*n) % 32).into()),
            Cbor::Uint(n) => Value::Integer((*n).into()),
            Cbor::Neg(n) => Integer::try_from(-1 - i128::from(*n))
                .map(Value::Integer)
                .unwrap_or(Value::Null),
            Cbor::Bytes(b) => Value::Bytes(b.clone()),
            Cbor::BytesOf { len, byte } => Value::Bytes(vec![*byte; usize::from(*len)]),
            Cbor::Text(t) => Value::Text(t.clone()),
            Cbor::TextOf { len, ch } => {
                Value::Text(std::iter::repeat_n(*ch, usize::from(*len % 2048)).collect())
            }
            Cbor::Array(items) => {
                Value::Array(items.iter().map(|i| i.to_value(depth + 1)).collect())
            }
            Cbor::Map(pairs) => Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_value(depth + 1), v.to_value(depth + 1)))
                    .collect(),
            ),
            Cbor::Bool(b) => Value::Bool(*b),
            Cbor::Null => Value::Null,
            Cbor::Float(f) => Value::Float(*f),
            Cbor::Tag(t, inner) => Value::Tag(*t, Box::new(inner.to_value(depth + 1))),
        }
    }
}

fn uint(n: u64) -> Value {
    Value::Integer(n.into())
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).expect("encoding into a Vec");
    out
}

fn decode(bytes: &[u8]) -> Value {
    ciborium::from_reader(bytes).expect("the fixture is valid CBOR")
}

fn pairs_mut(v: &mut Value) -> Option<&mut Vec<(Value, Value)>> {
    match v {
        Value::Map(p) => Some(p),
        _ => None,
    }
}

fn set(v: &mut Value, key: Value, value: Value) {
    if let Some(pairs) = pairs_mut(v) {
        match pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => pairs.push((key, value)),
        }
    }
}

fn remove(v: &mut Value, key: &Value) {
    if let Some(pairs) = pairs_mut(v) {
        pairs.retain(|(k, _)| k != key);
    }
}

fn field_mut<'a>(v: &'a mut Value, key: &Value) -> Option<&'a mut Value> {
    pairs_mut(v)?
        .iter_mut()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn items_mut(v: &mut Value) -> Option<&mut Vec<Value>> {
    match v {
        Value::Array(a) => Some(a),
        _ => None,
    }
}

fn pick(len: usize, i: u8) -> Option<usize> {
    (len > 0).then(|| usize::from(i) % len)
}

/// Sorts every map's keys by their encodings (RFC 8949 §4.2.1).
fn sort_maps(v: &mut Value) {
    match v {
        Value::Map(pairs) => {
            for (k, v) in pairs.iter_mut() {
                sort_maps(k);
                sort_maps(v);
            }
            pairs.sort_by_cached_key(|(k, _)| encode(k));
        }
        Value::Array(items) => items.iter_mut().for_each(sort_maps),
        Value::Tag(_, inner) => sort_maps(inner),
        _ => {}
    }
}

fn apply_header(h: &mut Value, edit: &HeaderEdit) {
    let slots_key = uint(5);
    match edit {
        HeaderEdit::SetField { key, value } => set(h, uint(u64::from(key % 7)), value.to_value(0)),
        HeaderEdit::SetRawKey { key, value } => set(h, key.to_value(0), value.to_value(0)),
        HeaderEdit::RemoveField { key } => remove(h, &uint(u64::from(key % 7))),
        HeaderEdit::SetSlotField { slot, key, value } => {
            if let Some(s) = slot_mut(h, *slot) {
                set(s, uint(u64::from(key % 12)), value.to_value(0));
            }
        }
        HeaderEdit::RemoveSlotField { slot, key } => {
            if let Some(s) = slot_mut(h, *slot) {
                remove(s, &uint(u64::from(key % 12)));
            }
        }
        HeaderEdit::RemoveSlot { slot } => {
            if let Some(items) = field_mut(h, &slots_key).and_then(items_mut) {
                if let Some(i) = pick(items.len(), *slot) {
                    items.remove(i);
                }
            }
        }
        HeaderEdit::DuplicateSlot { slot } => {
            if let Some(items) = field_mut(h, &slots_key).and_then(items_mut) {
                if let Some(i) = pick(items.len(), *slot) {
                    let copy = items[i].clone();
                    items.insert(i, copy);
                }
            }
        }
        HeaderEdit::SwapSlots { a, b } => {
            if let Some(items) = field_mut(h, &slots_key).and_then(items_mut) {
                if let (Some(a), Some(b)) = (pick(items.len(), *a), pick(items.len(), *b)) {
                    items.swap(a, b);
                }
            }
        }
        HeaderEdit::ReplaceHeader { value } => *h = value.to_value(0),
    }
}

fn slot_mut(h: &mut Value, slot: u8) -> Option<&mut Value> {
    let items = field_mut(h, &uint(5)).and_then(items_mut)?;
    let i = pick(items.len(), slot)?;
    items.get_mut(i)
}

fn entries_mut(b: &mut Value) -> Option<&mut Vec<(Value, Value)>> {
    field_mut(b, &uint(1)).and_then(pairs_mut)
}

fn apply_body(b: &mut Value, edit: &BodyEdit, vault_id: &[u8]) {
    match edit {
        BodyEdit::SetField { key, value } => set(b, uint(u64::from(key % 4)), value.to_value(0)),
        BodyEdit::RemoveField { key } => remove(b, &uint(u64::from(key % 4))),
        BodyEdit::SetEntryField { entry, key, value } => {
            if let Some(e) = entry_mut(b, *entry) {
                set(&mut e.1, uint(u64::from(key % 8)), value.to_value(0));
            }
        }
        BodyEdit::RemoveEntryField { entry, key } => {
            if let Some(e) = entry_mut(b, *entry) {
                remove(&mut e.1, &uint(u64::from(key % 8)));
            }
        }
        BodyEdit::RenameEntry { entry, name } => {
            if let Some(e) = entry_mut(b, *entry) {
                e.0 = name.to_value(0);
            }
        }
        BodyEdit::RemoveEntry { entry } => {
            if let Some(entries) = entries_mut(b) {
                if let Some(i) = pick(entries.len(), *entry) {
                    entries.remove(i);
                }
            }
        }
        BodyEdit::CopyEntry { entry, name } => {
            if let Some(entries) = entries_mut(b) {
                if let Some(i) = pick(entries.len(), *entry) {
                    let value = entries[i].1.clone();
                    entries.push((Value::Text(name.clone()), value));
                }
            }
        }
        BodyEdit::AddTombstone { name, time } => {
            if let Some(tombs) = field_mut(b, &uint(2)).and_then(pairs_mut) {
                tombs.push((name.to_value(0), time.to_value(0)));
            }
        }
        BodyEdit::TombstoneEntry { entry, time } => {
            if let Some(name) = entry_mut(b, *entry).map(|e| e.0.clone()) {
                if let Some(tombs) = field_mut(b, &uint(2)).and_then(pairs_mut) {
                    tombs.push((name, uint(*time)));
                }
            }
        }
        BodyEdit::ManyMetadata { entry, count, long } => {
            if let Some(e) = entry_mut(b, *entry) {
                let len = if *long { 1025 } else { 3 };
                let pairs = (0..*count)
                    .map(|i| {
                        let key = Value::Text(format!("k{i:03}"));
                        (key, Value::Text("v".repeat(len)))
                    })
                    .collect();
                set(&mut e.1, uint(6), Value::Map(pairs));
            }
        }
        BodyEdit::SealValue {
            entry,
            plain,
            aad_name,
        } => {
            if let Some(e) = entry_mut(b, *entry) {
                let own = match &e.0 {
                    Value::Text(t) => t.clone(),
                    _ => String::new(),
                };
                let name = aad_name.as_deref().unwrap_or(&own);
                let sealed = seal_for(vault_id, name, plain);
                set(&mut e.1, uint(1), Value::Bytes(sealed));
            }
        }
        BodyEdit::ReplaceBody { value } => *b = value.to_value(0),
    }
}

fn entry_mut(b: &mut Value, entry: u8) -> Option<&mut (Value, Value)> {
    let entries = entries_mut(b)?;
    let i = pick(entries.len(), entry)?;
    entries.get_mut(i)
}

/// Seals `plain` as the value of `name` (FORMAT.md §5.3) the way a writer
/// holding the data key would, even for names a writer would refuse.
fn seal_for(vault_id: &[u8], name: &str, plain: &[u8]) -> Vec<u8> {
    let key = crypto::hkdf(&fixture::DEK, vault_id, b"credvault/v1/value");
    let nonce = [0x5e; NONCE_LEN];
    let mut aad = b"credvault/v1/value\0".to_vec();
    aad.extend_from_slice(name.as_bytes());
    let mut out = nonce.to_vec();
    out.extend_from_slice(&crypto::seal(&key, &nonce, &aad, plain));
    out
}

fn apply_bytes(file: &mut Vec<u8>, edit: &ByteEdit) {
    let at = |i: u32, len: usize| (len > 0).then(|| i as usize % len);
    match edit {
        ByteEdit::Flip { at: i, mask } => {
            if let Some(i) = at(*i, file.len()) {
                file[i] ^= mask;
            }
        }
        ByteEdit::Set { at: i, byte } => {
            if let Some(i) = at(*i, file.len()) {
                file[i] = *byte;
            }
        }
        ByteEdit::SetU32 { at: i, value } => {
            if let Some(i) = at(*i, file.len().saturating_sub(3)) {
                file[i..i + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        ByteEdit::Insert { at: i, bytes } => {
            let i = at(*i, file.len() + 1).unwrap_or(0);
            file.splice(i..i, bytes.iter().copied());
        }
        ByteEdit::Delete { at: i, len } => {
            if let Some(i) = at(*i, file.len()) {
                let end = (i + usize::from(*len)).min(file.len());
                file.drain(i..end);
            }
        }
        ByteEdit::Truncate { at: i } => {
            let i = at(*i, file.len() + 1).unwrap_or(0);
            file.truncate(i);
        }
        ByteEdit::Append { bytes } => file.extend_from_slice(bytes),
        ByteEdit::CopyWithin { from, len, to } => {
            if let (Some(from), Some(to)) = (at(*from, file.len()), at(*to, file.len())) {
                let n = usize::from(*len)
                    .min(file.len() - from)
                    .min(file.len() - to);
                file.copy_within(from..from + n, to);
            }
        }
    }
    file.truncate(MAX_FILE);
}

/// Builds the file a plan describes. Returns it and whether the body was
/// sealed again.
fn build(plan: &Plan) -> (Vec<u8>, bool) {
    let f = fixture();
    let header_end = f.file.len() - f.header.body_len as usize;
    let (aad, ciphertext) = f.file.split_at(header_end);
    let original_header = &aad[PREFIX_LEN..];

    let reseal = plan.reseal || !plan.body_edits.is_empty();
    let mut body = decode(&f.body_plain);
    for edit in &plan.body_edits {
        apply_body(&mut body, edit, &fixture::VAULT_ID);
    }
    if plan.sort_maps && !plan.body_edits.is_empty() {
        sort_maps(&mut body);
    }
    let body_plain = if plan.body_edits.is_empty() {
        f.body_plain.clone()
    } else {
        encode(&body)
    };

    let touches_body_len = plan.header_edits.iter().any(|e| {
        matches!(e, HeaderEdit::SetField { key, .. } | HeaderEdit::RemoveField { key } if key % 7 == 4)
            || matches!(e, HeaderEdit::ReplaceHeader { .. } | HeaderEdit::SetRawKey { .. })
    });
    let header_bytes = if plan.header_edits.is_empty() && body_plain.len() == f.body_plain.len() {
        original_header.to_vec()
    } else {
        let mut header = decode(original_header);
        for edit in &plan.header_edits {
            apply_header(&mut header, edit);
        }
        if reseal && !touches_body_len {
            set(&mut header, uint(4), uint(body_plain.len() as u64 + 16));
        }
        if plan.sort_maps {
            sort_maps(&mut header);
        }
        encode(&header)
    };

    let mut file = MAGIC.to_vec();
    file.push(plan.major.unwrap_or(1));
    file.push(plan.minor.unwrap_or(0));
    file.extend_from_slice(&(header_bytes.len() as u32).to_be_bytes());
    file.extend_from_slice(&header_bytes);
    if reseal {
        let header = decode(&header_bytes);
        let bytes_field = |key: u64, len: usize| match header
            .as_map()
            .and_then(|m| m.iter().find(|(k, _)| *k == uint(key)))
        {
            Some((_, Value::Bytes(b))) if b.len() == len => Some(b.clone()),
            _ => None,
        };
        let vault_id = bytes_field(1, 16).unwrap_or(fixture::VAULT_ID.to_vec());
        let mut nonce = [0x33; NONCE_LEN];
        if let Some(n) = bytes_field(3, NONCE_LEN) {
            nonce.copy_from_slice(&n);
        }
        let sealed = crypto::seal(&fixture::body_key(&vault_id), &nonce, &file, &body_plain);
        file.extend_from_slice(&sealed);
    } else {
        file.extend_from_slice(ciphertext);
    }
    for edit in &plan.byte_edits {
        apply_bytes(&mut file, edit);
    }
    (file, reseal)
}

/// Saves what opened as the engine would (FORMAT.md §7: next counter,
/// fresh nonce, same minor, slots and body) and checks the result opens
/// to the same: a writer never turns an accepted file into a rejected one.
fn resave(snapshot: &Snapshot, credential: Credential) {
    let mut header = snapshot.header().clone();
    header.save_counter = header.save_counter.saturating_add(1);
    header.body_nonce = [0x77; NONCE_LEN];
    let (_, minor) = snapshot.format_version();
    let saved = seal_file(&mut header, minor, snapshot.body(), &fixture::dek());
    let again = open_bytes(&saved, &mut credential.unlocker(), &options())
        .unwrap_or_else(|e| panic!("a re-saved vault does not open: {e}"));
    assert_eq!(again.header(), &header);
    assert_eq!(again.body(), snapshot.body());
    assert_eq!(again.format_version(), snapshot.format_version());
}

/// Runs one plan; see the module documentation for the oracle.
pub fn run(data: &[u8]) {
    let Ok(plan) = Plan::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (file, resealed) = build(&plan);
    let unchanged = file == fixture().file;
    let mut unlocker = plan.credential.unlocker();
    match open_bytes(&file, &mut unlocker, &options()) {
        Ok(snapshot) => {
            check_opened(&snapshot, &file);
            assert!(
                plan.credential.is_right(),
                "opened with a wrong credential ({:?})",
                plan.credential
            );
            assert!(
                resealed || unchanged,
                "a changed file opened without being re-sealed"
            );
            resave(&snapshot, plan.credential);
            if plan.body_edits.is_empty() {
                assert_eq!(snapshot.len(), fixture::VALUES.len());
                for (name, value) in fixture::VALUES {
                    let name = KeyName::new(name).expect("valid name");
                    let got = snapshot.get(&name).expect("value opens");
                    assert_eq!(got.expect("present").expose(), value, "{name}");
                }
            }
        }
        Err(e) => {
            assert!(
                !(unchanged && plan.credential.is_right()),
                "the unchanged fixture did not open with {:?}: {e}",
                plan.credential
            );
        }
    }
}
