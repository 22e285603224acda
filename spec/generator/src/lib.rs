//! # credvault-vectors
//!
//! The deterministic generator of `spec/vectors/`: valid and invalid vault
//! files in *testkit* form, modelled on the C2SP CCTV age vectors. Every
//! random-looking byte (vault ids, keys, salts, nonces) comes from a fixed
//! seed ([`det`]) and every timestamp is fixed, so `generate()` returns the
//! same bytes on every run; a test in this crate fails when the checked-in
//! files differ. Regenerate with `cargo run -p credvault-vectors`.
//!
//! ## Testkit form
//!
//! ```text
//! expect: <class>
//! payload: <hex SHA-256>      success only
//! passphrase: <text>          when the reader should offer a passphrase
//! recovery: <hex>             when the reader should offer a recovery key
//! recovery-code: <text>       a recovery code (FORMAT.md §4.4.1) to offer
//! comment: <one line>
//!
//! <raw vault file bytes>
//! ```
//!
//! Exact syntax (FORMAT.md §10): UTF-8 lines ended by LF, `name: value`
//! split at the first `": "`, values verbatim (never trimmed; may be
//! empty: `passphrase: ` offers the empty passphrase), the header ended by
//! the first empty line. `expect: bad-recovery-code` is the one outcome
//! that is not a class of a file: the `recovery-code:` text is refused
//! before any slot is tried.
//!
//! `payload` is SHA-256 over `u64(len(name)) || name || u64(len(value)) ||
//! value` (big-endian lengths) of every live entry in bytewise name order
//! (FORMAT.md §10). The classes are those of [`Expect`]. A reader
//! offers exactly the credentials listed and uses its default KDF limits
//! (at most 1 GiB, 16 passes, 16 lanes). Every invalid vector is a valid
//! file but for one defect, which the reader must report before anything
//! else: where a header is edited, the body is sealed again under the
//! edited header unless the vector is about that binding.

pub mod cases;
pub mod cbor;
pub mod det;
pub mod fixture;

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// One generated file: its name in `spec/vectors/` and its testkit bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vector {
    /// File name, e.g. `framing_empty.testkit`.
    pub name: String,
    /// The testkit file: text header, blank line, vault bytes.
    pub testkit: Vec<u8>,
}

/// The outcome classes of a testkit's `expect:` line (spec/FORMAT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Expect {
    /// The vault opens and every value reads; `payload:` matches.
    Success,
    /// Not a credvault file (magic).
    NotAVault,
    /// A major version other than 1.
    UnsupportedVersion,
    /// The file ends before a structure it announces.
    Truncated,
    /// Bytes after the body.
    TrailingData,
    /// A length or count above a format limit.
    TooLarge,
    /// CBOR not in deterministic encoding.
    NonCanonical,
    /// Structure outside the schema.
    Malformed,
    /// Argon2id parameters outside the format's ranges.
    KdfOutOfRange,
    /// Argon2id parameters inside the format's ranges but above the
    /// reader's default limits; rejected before any KDF work.
    KdfLimit,
    /// No credential offered fits any slot.
    NoCredentials,
    /// Credentials were tried and no slot opened.
    UnlockFailed,
    /// Only slot types the reader does not know.
    NoUsableSlot,
    /// A slot opened but the body or a value failed authentication.
    Tampered,
    /// Not a class of a file: the reader refuses the `recovery-code:` text
    /// (FORMAT.md §4.4.1) before it tries any slot.
    BadRecoveryCode,
}

impl Expect {
    /// The class as written after `expect:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Success => "success",
            Expect::NotAVault => "not-a-vault",
            Expect::UnsupportedVersion => "unsupported-version",
            Expect::Truncated => "truncated",
            Expect::TrailingData => "trailing-data",
            Expect::TooLarge => "too-large",
            Expect::NonCanonical => "non-canonical",
            Expect::Malformed => "malformed",
            Expect::KdfOutOfRange => "kdf-out-of-range",
            Expect::KdfLimit => "kdf-limit",
            Expect::NoCredentials => "no-credentials",
            Expect::UnlockFailed => "unlock-failed",
            Expect::NoUsableSlot => "no-usable-slot",
            Expect::Tampered => "tampered",
            Expect::BadRecoveryCode => "bad-recovery-code",
        }
    }
}

/// A vector under construction. By default the reader is offered
/// [`fixture::PASSPHRASE`].
pub struct Case {
    name: &'static str,
    expect: Expect,
    comment: &'static str,
    file: Vec<u8>,
    passphrase: Option<String>,
    recovery: Option<Vec<u8>>,
    recovery_code: Option<String>,
    payload: Option<[u8; 32]>,
}

impl Case {
    /// A failure vector.
    pub fn fail(name: &'static str, expect: Expect, comment: &'static str, file: Vec<u8>) -> Case {
        assert_ne!(expect, Expect::Success, "{name}: use Case::success");
        Case {
            name,
            expect,
            comment,
            file,
            passphrase: Some(fixture::PASSPHRASE.to_owned()),
            recovery: None,
            recovery_code: None,
            payload: None,
        }
    }

    /// A success vector whose live entries hash to `payload`.
    pub fn success(
        name: &'static str,
        comment: &'static str,
        file: Vec<u8>,
        payload: [u8; 32],
    ) -> Case {
        Case {
            expect: Expect::Success,
            payload: Some(payload),
            ..Case::fail(name, Expect::Malformed, comment, file)
        }
    }

    /// Offers `passphrase` instead of the default.
    pub fn passphrase(mut self, passphrase: &str) -> Case {
        self.passphrase = Some(passphrase.to_owned());
        self
    }

    /// Offers no passphrase.
    pub fn no_passphrase(mut self) -> Case {
        self.passphrase = None;
        self
    }

    /// Offers the raw recovery key `key`.
    pub fn recovery(mut self, key: &[u8]) -> Case {
        self.recovery = Some(key.to_vec());
        self
    }

    /// Changes the expected outcome to the failure `expect` (a success
    /// case's file and credentials, another outcome).
    pub fn expect_failure(mut self, expect: Expect) -> Case {
        assert_ne!(expect, Expect::Success, "{}: not a failure", self.name);
        self.expect = expect;
        self.payload = None;
        self
    }

    /// Offers the recovery code `code` (text, FORMAT.md §4.4.1).
    pub fn recovery_code(mut self, code: &str) -> Case {
        self.recovery_code = Some(code.to_owned());
        self
    }

    /// The testkit file.
    pub fn into_vector(self) -> Vector {
        assert!(
            !self.comment.contains('\n') && !self.comment.is_empty(),
            "{}: comment must be one line",
            self.name
        );
        let mut text = format!("expect: {}\n", self.expect.as_str());
        if let Some(p) = self.payload {
            let _ = writeln!(text, "payload: {}", hex(&p));
        }
        if let Some(p) = &self.passphrase {
            assert!(
                !p.contains('\n'),
                "{}: passphrase must be one line",
                self.name
            );
            let _ = writeln!(text, "passphrase: {p}");
        }
        if let Some(r) = &self.recovery {
            let _ = writeln!(text, "recovery: {}", hex(r));
        }
        if let Some(c) = &self.recovery_code {
            assert!(!c.contains('\n'), "{}: code must be one line", self.name);
            let _ = writeln!(text, "recovery-code: {c}");
        }
        let _ = writeln!(text, "comment: {}", self.comment);
        text.push('\n');
        let mut testkit = text.into_bytes();
        testkit.extend_from_slice(&self.file);
        Vector {
            name: format!("{}.testkit", self.name),
            testkit,
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Every vector, sorted by name. Names are unique.
pub fn generate() -> Vec<Vector> {
    let mut vectors: Vec<Vector> = cases::all().into_iter().map(Case::into_vector).collect();
    vectors.sort_by(|a, b| a.name.cmp(&b.name));
    let mut seen = BTreeSet::new();
    for v in &vectors {
        assert!(seen.insert(&v.name), "duplicate vector name {}", v.name);
    }
    vectors
}
