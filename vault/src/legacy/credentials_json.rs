//! The desktop app's `credentials.json` (DESIGN.md §1). Pure: bytes in,
//! typed entries out.
//!
//! ```json
//! { "credentials": { "postgresql.password": "enc:7631...", "github.token": "plain:6768..." },
//!   "encryptionAvailable": false }
//! ```
//!
//! - `enc:<hex>`: the hex of `safeStorage.encryptString(value)`, i.e.
//!   Chromium OSCrypt bytes (see [`oscrypt`](super::oscrypt)).
//! - `plain:<hex>`: the hex of the value's UTF-8 bytes, written when no OS
//!   keyring was available.
//!
//! Hex is accepted in either case. A malformed *entry* (not a string, no
//! known prefix, bad hex, a key given twice) is reported for that key only;
//! the others are still usable. Only a file that is not a JSON object with
//! a `credentials` object is refused as a whole. Other top-level members are
//! ignored.
//!
//! Errors never quote the file: its strings are secrets (hex is no
//! protection), so JSON syntax errors report a line and column only.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use zeroize::Zeroizing;

use crate::crypto::SecretValue;

/// Largest `credentials.json` read, in bytes (16 MiB).
pub const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;

/// The prefix of an encrypted value.
pub const ENC_PREFIX: &str = "enc:";
/// The prefix of a plaintext value.
pub const PLAIN_PREFIX: &str = "plain:";

/// A parsed `credentials.json`.
#[derive(Debug)]
pub struct LegacyFile {
    /// The entries, in file order.
    pub entries: Vec<LegacyEntry>,
    /// The file's `encryptionAvailable` flag, if present and a boolean.
    pub encryption_available: Option<bool>,
}

/// One member of `credentials`.
#[derive(Debug)]
pub struct LegacyEntry {
    /// The key as written in the file (not yet checked against credvault's
    /// key-name grammar).
    pub key: String,
    /// The decoded value, or why it could not be decoded.
    pub value: Result<LegacyValue, EntryError>,
}

/// A decoded value: still encrypted, or plaintext.
pub enum LegacyValue {
    /// `plain:` — the value's bytes.
    Plain(SecretValue),
    /// `enc:` — OSCrypt bytes, to be decrypted with the right key.
    Encrypted(Zeroizing<Vec<u8>>),
}

impl LegacyValue {
    /// `"plain"` or `"enc"`.
    pub fn kind(&self) -> &'static str {
        match self {
            LegacyValue::Plain(_) => "plain",
            LegacyValue::Encrypted(_) => "enc",
        }
    }
}

impl fmt::Debug for LegacyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LegacyValue::Plain(v) => write!(f, "Plain({} bytes, redacted)", v.len()),
            LegacyValue::Encrypted(v) => write!(f, "Encrypted({} bytes, redacted)", v.len()),
        }
    }
}

/// Why one entry could not be decoded. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The JSON value is not a string.
    #[error("the value is not a JSON string")]
    NotAString,
    /// The string starts with neither `enc:` nor `plain:`.
    #[error("the value starts with neither enc: nor plain:")]
    UnknownPrefix,
    /// The text after the prefix is not an even number of hex digits.
    #[error("the value after {0} is not valid hex")]
    BadHex(&'static str),
    /// The key appears more than once in `credentials`; which one the app
    /// used is unknowable, so none is taken.
    #[error("the key appears more than once in the file")]
    Duplicate,
}

/// Why the file as a whole could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyFileError {
    /// Not valid JSON (the position only; the content is never shown).
    #[error("not valid JSON ({what} at line {line}, column {column})")]
    Json {
        /// "syntax error", "unexpected end of file", ...
        what: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Valid JSON but not `{"credentials": {...}}`.
    #[error("not a credentials file: {0}")]
    Shape(&'static str),
}

/// Parses a `credentials.json`.
pub fn parse(bytes: &[u8]) -> Result<LegacyFile, LegacyFileError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let file = de.deserialize_any(FileVisitor).map_err(json_error)?;
    de.end().map_err(json_error)?;
    Ok(file)
}

fn json_error(e: serde_json::Error) -> LegacyFileError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "syntax error",
        Category::Eof => "unexpected end of file",
        // Our visitors report shape errors with fixed texts; serde's own
        // data errors ("invalid type: string ...") could quote a value, so
        // only the texts we wrote are passed on.
        Category::Data => {
            let msg = e.to_string();
            for known in SHAPE_ERRORS {
                if msg.starts_with(known) {
                    return LegacyFileError::Shape(known);
                }
            }
            "unexpected content"
        }
    };
    LegacyFileError::Json {
        what,
        line: e.line(),
        column: e.column(),
    }
}

const NO_CREDENTIALS: &str = "no \"credentials\" object";
const CREDENTIALS_NOT_OBJECT: &str = "\"credentials\" is not an object";
const TOP_NOT_OBJECT: &str = "the top level is not a JSON object";
const TWO_CREDENTIALS: &str = "\"credentials\" appears twice";
const SHAPE_ERRORS: [&str; 4] = [
    NO_CREDENTIALS,
    CREDENTIALS_NOT_OBJECT,
    TOP_NOT_OBJECT,
    TWO_CREDENTIALS,
];

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = LegacyFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TOP_NOT_OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LegacyFile, A::Error> {
        let mut entries: Option<Vec<LegacyEntry>> = None;
        let mut encryption_available = None;
        while let Some(name) = map.next_key::<String>()? {
            match name.as_str() {
                "credentials" => {
                    if entries.is_some() {
                        return Err(de::Error::custom(TWO_CREDENTIALS));
                    }
                    entries = Some(map.next_value_seed(CredentialsSeed)?);
                }
                "encryptionAvailable" => {
                    encryption_available = map.next_value::<serde_json::Value>()?.as_bool();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let entries = entries.ok_or_else(|| de::Error::custom(NO_CREDENTIALS))?;
        Ok(LegacyFile {
            entries,
            encryption_available,
        })
    }

    // Any other JSON type at the top level.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<LegacyFile, E> {
        Err(E::custom(TOP_NOT_OBJECT))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<LegacyFile, A::Error> {
        Err(de::Error::custom(TOP_NOT_OBJECT))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<LegacyFile, E> {
        Err(E::custom(TOP_NOT_OBJECT))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<LegacyFile, E> {
        Err(E::custom(TOP_NOT_OBJECT))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<LegacyFile, E> {
        Err(E::custom(TOP_NOT_OBJECT))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<LegacyFile, E> {
        Err(E::custom(TOP_NOT_OBJECT))
    }
    fn visit_unit<E: de::Error>(self) -> Result<LegacyFile, E> {
        Err(E::custom(TOP_NOT_OBJECT))
    }
}

struct CredentialsSeed;

impl<'de> de::DeserializeSeed<'de> for CredentialsSeed {
    type Value = Vec<LegacyEntry>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(CredentialsVisitor)
    }
}

struct CredentialsVisitor;

impl<'de> Visitor<'de> for CredentialsVisitor {
    type Value = Vec<LegacyEntry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(CREDENTIALS_NOT_OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<LegacyEntry> = Vec::new();
        let mut seen = HashSet::new();
        let mut twice = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<serde_json::Value>()?;
            let value = match value {
                serde_json::Value::String(s) => decode(Zeroizing::new(s)),
                _ => Err(EntryError::NotAString),
            };
            if !seen.insert(key.clone()) {
                twice.insert(key.clone());
            }
            entries.push(LegacyEntry { key, value });
        }
        // Keep the first occurrence of a duplicated key, marked, and drop
        // the rest: one line per key in reports.
        let mut reported = HashSet::new();
        entries.retain_mut(|e| {
            if !twice.contains(&e.key) {
                return true;
            }
            e.value = Err(EntryError::Duplicate);
            reported.insert(e.key.clone())
        });
        Ok(entries)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::custom(CREDENTIALS_NOT_OBJECT))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(CREDENTIALS_NOT_OBJECT))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(E::custom(CREDENTIALS_NOT_OBJECT))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(E::custom(CREDENTIALS_NOT_OBJECT))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(E::custom(CREDENTIALS_NOT_OBJECT))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(E::custom(CREDENTIALS_NOT_OBJECT))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom(CREDENTIALS_NOT_OBJECT))
    }
}

/// Decodes one `enc:`/`plain:` string.
pub fn decode(text: Zeroizing<String>) -> Result<LegacyValue, EntryError> {
    if let Some(hex) = text.strip_prefix(ENC_PREFIX) {
        return hex_decode(hex)
            .map(LegacyValue::Encrypted)
            .ok_or(EntryError::BadHex(ENC_PREFIX));
    }
    if let Some(hex) = text.strip_prefix(PLAIN_PREFIX) {
        return hex_decode(hex)
            .map(|bytes| LegacyValue::Plain(SecretValue::from(bytes)))
            .ok_or(EntryError::BadHex(PLAIN_PREFIX));
    }
    Err(EntryError::UnknownPrefix)
}

/// Decodes hex (either case) straight into a zeroized buffer.
fn hex_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Zeroizing::new(vec![0u8; text.len() / 2]);
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: &Result<LegacyValue, EntryError>) -> Vec<u8> {
        match v {
            Ok(LegacyValue::Plain(p)) => p.expose().to_vec(),
            other => panic!("not plain: {other:?}"),
        }
    }

    #[test]
    fn parses_the_design_example() {
        let file = parse(br#"{ "credentials": { "postgresql.password": "enc:7631300a", "github.token": "plain:6768705f78" },
              "encryptionAvailable": false }"#).unwrap();
        assert_eq!(file.encryption_available, Some(false));
        assert_eq!(file.entries.len(), 2);
        assert_eq!(file.entries[0].key, "postgresql.password");
        match &file.entries[0].value {
            Ok(LegacyValue::Encrypted(b)) => assert_eq!(b.as_slice(), b"v10\n"),
            other => panic!("{other:?}"),
        }
        assert_eq!(file.entries[1].key, "github.token");
        assert_eq!(plain(&file.entries[1].value), b"ghp_x");
    }

    #[test]
    fn bad_entries_fail_alone() {
        let file = parse(
            br#"{"credentials": {
                "a": "plain:", "b": "enc:", "c": 5, "d": "zzz:00", "e": "plain:abc",
                "f": "enc:0g", "g": null, "h": "PLAIN:00", "i": "plain:C3A9",
                "j": ["plain:00"], "k": {"x": 1}
            }, "other": [1, 2, {"x": null}]}"#,
        )
        .unwrap();
        assert_eq!(file.encryption_available, None);
        let by_key = |k: &str| &file.entries.iter().find(|e| e.key == k).unwrap().value;
        assert_eq!(plain(by_key("a")), b"");
        assert!(matches!(by_key("b"), Ok(LegacyValue::Encrypted(b)) if b.is_empty()));
        assert_eq!(by_key("c").as_ref().err(), Some(&EntryError::NotAString));
        assert_eq!(by_key("d").as_ref().err(), Some(&EntryError::UnknownPrefix));
        assert_eq!(
            by_key("e").as_ref().err(),
            Some(&EntryError::BadHex("plain:"))
        );
        assert_eq!(
            by_key("f").as_ref().err(),
            Some(&EntryError::BadHex("enc:"))
        );
        assert_eq!(by_key("g").as_ref().err(), Some(&EntryError::NotAString));
        assert_eq!(by_key("h").as_ref().err(), Some(&EntryError::UnknownPrefix));
        assert_eq!(plain(by_key("i")), "é".as_bytes());
        assert_eq!(by_key("j").as_ref().err(), Some(&EntryError::NotAString));
        assert_eq!(by_key("k").as_ref().err(), Some(&EntryError::NotAString));
        assert_eq!(file.entries.len(), 11);
    }

    #[test]
    fn duplicate_keys_are_one_failed_entry() {
        let file =
            parse(br#"{"credentials": {"a": "plain:00", "b": "plain:01", "a": "plain:02"}}"#)
                .unwrap();
        assert_eq!(file.entries.len(), 2);
        assert_eq!(file.entries[0].key, "a");
        assert_eq!(
            file.entries[0].value.as_ref().err(),
            Some(&EntryError::Duplicate)
        );
        assert_eq!(plain(&file.entries[1].value), [1]);
    }

    #[test]
    fn whole_file_errors_never_quote_content() {
        let secret = "plain:73336372337420";
        for (input, want) in [
            (
                format!(r#"["{secret}"]"#),
                "the top level is not a JSON object",
            ),
            (
                format!(r#""{secret}""#),
                "the top level is not a JSON object",
            ),
            (
                format!(r#"{{"credentials": "{secret}"}}"#),
                "\"credentials\" is not an object",
            ),
            (
                format!(r#"{{"credentials": ["{secret}"]}}"#),
                "\"credentials\" is not an object",
            ),
            (
                format!(r#"{{"x": "{secret}"}}"#),
                "no \"credentials\" object",
            ),
            (
                format!(r#"{{"credentials": {{}}, "credentials": {{"a": "{secret}"}}}}"#),
                "\"credentials\" appears twice",
            ),
        ] {
            let err = parse(input.as_bytes()).unwrap_err();
            assert_eq!(err, LegacyFileError::Shape(want), "{input}");
            assert!(!err.to_string().contains("7336"));
        }
        for input in [
            format!(r#"{{"credentials": {{"a": "{secret}""#),
            format!(r#"{{"credentials": {{"a": "{secret}"}}}} trailing"#),
            format!(r#"{{"credentials": {{"a": "{secret}\x"}}}}"#),
            String::new(),
            "\u{feff}{}".to_owned(),
        ] {
            let err = parse(input.as_bytes()).unwrap_err();
            assert!(
                matches!(err, LegacyFileError::Json { .. }),
                "{input}: {err}"
            );
            assert!(!err.to_string().contains("7336"), "{err}");
        }
    }

    #[test]
    fn every_truncation_of_a_valid_file_fails_cleanly() {
        let input =
            br#"{"credentials":{"a":"plain:6869","b":"enc:763130"},"encryptionAvailable":true}"#;
        assert!(parse(input).is_ok());
        for cut in 0..input.len() {
            assert!(parse(&input[..cut]).is_err(), "prefix of {cut} bytes");
        }
    }

    #[test]
    fn hex_decoding_is_strict() {
        assert_eq!(hex_decode("").unwrap().as_slice(), b"");
        assert_eq!(hex_decode("00ffAa").unwrap().as_slice(), [0, 255, 170]);
        for bad in ["0", "0g", "+1", " 00", "00 ", "é0"] {
            assert!(hex_decode(bad).is_none(), "{bad}");
        }
    }
}
