//! The bodies of credvault's fuzz targets, shared by the libFuzzer binaries
//! in `fuzz_targets/` and by `tests/corpus.rs`, which replays every corpus
//! and regression file through them under plain `cargo test`.
//!
//! A target returns normally for every input a reader must reject: it
//! panics only on a broken invariant (a crash, a decode that does not
//! re-encode to its bytes, a tampered file that opens).
//!
//! | target | input | checks |
//! |---|---|---|
//! | [`header`] | a whole file, and the same bytes as header CBOR | `parse_file` / `Header::decode` never panic; what parses re-encodes byte for byte |
//! | [`body`] | body plaintext CBOR | `Body::decode` and `BodyIndex::new` never panic and agree with the reference reader; what decodes re-encodes byte for byte (both encoders), and a patch of it equals the encoding of the patched body |
//! | [`open`] | a whole file | `open_bytes` with the vectors' passphrase and recovery key never panics; an opened file's values authenticate |
//! | [`merge::merge`] | three bodies (`arbitrary`) | the merge of FORMAT.md §10 is commutative, associative and idempotent; each name keeps its greatest record; the report and the conflicts are consistent; the result encodes to a valid body |
//! | [`mutate_valid`] | a mutation plan (`arbitrary`) | a valid vault, mutated structurally and byte-wise, opens only if its bytes are unchanged or a key holder re-sealed it |

#![forbid(unsafe_code)]

pub mod fixture;
pub mod merge;
pub mod mutate;
pub mod testkit;

use credvault::format::body::{BodyIndex, Change};
use credvault::format::{self, Body, Entry, Header, KeyName, Kind, Metadata, Prefix, SealedValue};
use credvault::{
    open_bytes, KdfLimits, OpenOptions, Passphrase, RecoveryKey, SecretKey, Snapshot, Unlocker,
    VaultError, KEYCHAIN_SERVICE,
};

/// The passphrase of (almost) every vector in `spec/vectors/`.
pub const VECTOR_PASSPHRASE: &str = "correct horse battery staple";

/// The recovery key of `spec/vectors/valid_recovery_slot.testkit`.
pub const VECTOR_RECOVERY_KEY: [u8; 20] = [
    0x57, 0x0a, 0x72, 0x7f, 0x89, 0x97, 0x5d, 0x19, 0x8f, 0x5b, 0xf1, 0xdd, 0x23, 0x09, 0x40, 0x22,
    0x1d, 0x10, 0x11, 0x21,
];

/// Open options whose KDF limits admit only the format's cheapest
/// Argon2id (8 MiB, t=1, p=1), so one execution stays in milliseconds;
/// anything dearer is refused before any work (`ExcessiveWork`).
pub fn options() -> OpenOptions {
    OpenOptions {
        kdf_limits: KdfLimits {
            max_memory_kib: 8192,
            max_iterations: 1,
            max_parallelism: 1,
        },
        ..OpenOptions::default()
    }
}

/// Offers a fixed set of credentials, each at most once per open.
#[derive(Default)]
pub struct FuzzUnlocker {
    /// The passphrase offered.
    pub passphrase: Option<Passphrase>,
    /// The recovery key offered.
    pub recovery: Option<RecoveryKey>,
    /// The key-encryption key returned for any credvault keychain item.
    pub keychain: Option<SecretKey>,
}

impl Unlocker for FuzzUnlocker {
    fn passphrase(&mut self) -> Option<Passphrase> {
        self.passphrase.take()
    }

    fn recovery_key(&mut self) -> Option<RecoveryKey> {
        self.recovery.take()
    }

    fn keychain_key(&mut self, service: &str, _account: &str) -> Result<SecretKey, String> {
        assert_eq!(
            service, KEYCHAIN_SERVICE,
            "the engine asked the keychain for another program's item"
        );
        self.keychain
            .clone()
            .ok_or_else(|| "no keychain in the fuzzer".to_owned())
    }
}

/// `fuzz_header`: the input as a whole file (`Prefix::parse`,
/// `format::parse_file`) and as header CBOR (`Header::decode`).
pub fn header(data: &[u8]) {
    let _ = Prefix::parse(data);
    if let Ok(parsed) = format::parse_file(data) {
        check_parsed(&parsed);
    }
    if let Ok(h) = Header::decode(data) {
        assert_eq!(h.encode(), data, "a decoded header re-encodes to its bytes");
    }
}

/// `fuzz_body`: the input as a body plaintext (`Body::decode`), checked
/// against the reference reader: both accept the same inputs with the same
/// result, report the same error, and both encoders agree.
pub fn body(data: &[u8]) {
    let fast = Body::decode(data);
    let reference = Body::decode_reference(data);
    assert_eq!(
        fast, reference,
        "the fast and the reference body readers agree"
    );
    // The index an open keeps accepts and rejects the same bytes and
    // answers as the decoded body does.
    let index = BodyIndex::new(zeroize::Zeroizing::new(data.to_vec()), 0..data.len());
    match (&index, &reference) {
        (Ok(index), Ok(body)) => {
            assert_eq!(index.len(), body.entries.len());
            for (name, entry) in &body.entries {
                assert_eq!(index.sealed_value(name), Some(entry.value.as_bytes()));
            }
            assert_eq!(index.body(), body, "the index decodes to the body");
        }
        (Err(e), Err(r)) => assert_eq!(e, r, "the index fails as the reference does"),
        _ => panic!("the index and the reference reader disagree"),
    }
    if let Ok(b) = fast {
        assert_eq!(b.encode(), data, "a decoded body re-encodes to its bytes");
        assert_eq!(b.encode_reference(), data, "the reference encoder agrees");
        if let Ok(index) = &index {
            patch_agrees(index, &b);
        }
    }
}

/// A patch (the save path of an opened vault) writes exactly what the
/// encoder writes for the changed body: here, the first live name deleted,
/// the first deleted name set again, and a new name set.
fn patch_agrees(index: &BodyIndex, body: &Body) {
    use std::collections::BTreeMap;
    let entry = |seed: u8| Entry {
        value: SealedValue::new(vec![seed; 40]).expect("40 bytes is a sealed value"),
        kind: Kind::secret(),
        created_ms: 1,
        updated_ms: 2,
        expires_ms: None,
        metadata: Metadata::default(),
    };
    let mut changes = BTreeMap::new();
    if let Some(name) = body.entries.keys().next() {
        changes.insert(name.clone(), Change::Delete(7));
    }
    if let Some(name) = body.tombstones.keys().next() {
        changes.insert(name.clone(), Change::Set(entry(1)));
    }
    changes.insert(
        KeyName::new("fuzz.patched").expect("a valid name"),
        Change::Set(entry(2)),
    );
    let mut expected = body.clone();
    expected.apply(changes.clone());
    let patch = index
        .patch(&changes)
        .expect("an index the fast reader built");
    let mut out = Vec::new();
    patch.write_into(&mut out);
    assert_eq!(
        out,
        expected.encode(),
        "a patch writes what the encoder writes"
    );
}

/// `fuzz_open`: the input as a whole file, opened with the vectors'
/// passphrase and recovery key under tiny KDF limits.
pub fn open(data: &[u8]) {
    let mut unlocker = FuzzUnlocker {
        passphrase: Some(Passphrase::from(VECTOR_PASSPHRASE)),
        recovery: RecoveryKey::from_bytes(VECTOR_RECOVERY_KEY.to_vec()),
        keychain: None,
    };
    if let Ok(snapshot) = open_bytes(data, &mut unlocker, &options()) {
        check_opened(&snapshot, data);
    }
}

/// `fuzz_mutate_valid`: the input drives [`mutate::Plan`].
pub fn mutate_valid(data: &[u8]) {
    mutate::run(data);
}

/// What holds for any file `parse_file` accepts.
fn check_parsed(parsed: &format::ParsedFile<'_>) {
    assert_eq!(
        parsed.prefix.encode()[..],
        parsed.aad[..format::PREFIX_LEN],
        "the prefix re-encodes to its bytes"
    );
    assert_eq!(
        parsed.header.encode()[..],
        parsed.aad[format::PREFIX_LEN..],
        "the header re-encodes to its bytes"
    );
    assert_eq!(
        parsed.body_ciphertext.len() as u64,
        parsed.header.body_len,
        "the body has exactly the announced length"
    );
}

/// What holds for any file that opens: it parses to the same header, and
/// every listed value either opens or is reported tampered (a sealed value
/// that fails inside an authentic body can only come from a key holder).
fn check_opened(snapshot: &Snapshot, data: &[u8]) {
    let parsed = format::parse_file(data).expect("an opened file parses");
    check_parsed(&parsed);
    assert_eq!(snapshot.header(), &parsed.header);
    for name in snapshot.list(None) {
        match snapshot.get(name) {
            Ok(Some(_)) | Err(VaultError::Tampered) => {}
            Ok(None) => panic!("listed entry {name} has no value"),
            Err(e) => panic!("unexpected error reading {name}: {e}"),
        }
    }
}
