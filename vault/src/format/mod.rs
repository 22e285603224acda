//! The vault file format, version 1 (`spec/FORMAT.md`): pure code over
//! `&[u8]`, with no file access, no clock and no implicit randomness.
//!
//! ```text
//! file   = prefix header-cbor body-ciphertext          (FORMAT.md §2)
//! prefix = magic(8) major(1) minor(1) header-len(u32 BE)
//! ```

pub mod body;
mod cbor;
pub mod header;
pub mod limits;
pub mod name;

pub use body::{Body, Entry, Kind, Metadata, SealedValue};
pub use header::{
    Header, KdfParams, KeychainSlot, PassphraseSlot, RecoverySlot, Slot, SlotKind, Wrap,
};
pub use name::{KeyName, NameError};

/// The 8-byte magic at offset 0 (FORMAT.md §2.1): a non-ASCII byte, "CVLT",
/// CR LF and SUB, so that wrong files, 7-bit transports and newline
/// conversion are all caught at the first bytes.
pub const MAGIC: [u8; 8] = [0x89, b'C', b'V', b'L', b'T', 0x0D, 0x0A, 0x1A];

/// The major version this crate reads and writes (FORMAT.md §2.2).
pub const MAJOR_VERSION: u8 = 1;

/// The minor version this crate writes (FORMAT.md §2.2).
pub const MINOR_VERSION: u8 = 0;

/// Length of the fixed prefix: magic, major, minor, header length.
pub const PREFIX_LEN: usize = 14;

/// Length of the Poly1305 tag that ends every AEAD ciphertext.
pub const TAG_LEN: usize = 16;

/// Length of an XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;

/// Errors from parsing or checking format bytes. None of them carries
/// secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes do not start with the credvault magic (FORMAT.md §2.1).
    #[error("not a credvault vault (bad magic)")]
    NotAVault,
    /// A major version this reader does not know (FORMAT.md §2.2).
    #[error("{}", version_message(*major, *minor))]
    UnsupportedVersion {
        /// Major version found in the file.
        major: u8,
        /// Minor version found in the file.
        minor: u8,
    },
    /// The file ends before a structure it announces.
    #[error("vault is truncated ({0})")]
    Truncated(&'static str),
    /// Bytes follow the end of the body announced by the header.
    #[error("vault has trailing data after the body")]
    TrailingData,
    /// A length or count above the limits of FORMAT.md §6.
    #[error("{what} is {found}, above the limit of {max}")]
    TooLarge {
        /// Which structure.
        what: &'static str,
        /// The size or count found.
        found: u64,
        /// The limit.
        max: u64,
    },
    /// CBOR that is not in deterministic encoding (RFC 8949 §4.2.1).
    #[error("vault is corrupt: non-canonical CBOR in {0}")]
    NonCanonical(&'static str),
    /// Structure that does not match the schema of FORMAT.md §3–§5.
    #[error("vault is corrupt: malformed {0}")]
    Malformed(&'static str),
    /// Argon2id parameters outside the ranges of FORMAT.md §6.
    #[error("passphrase slot asks for {what} = {found}, outside the allowed range {min}..={max}")]
    KdfOutOfRange {
        /// Which parameter.
        what: &'static str,
        /// The value in the file.
        found: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
}

fn version_message(major: u8, minor: u8) -> String {
    if major > MAJOR_VERSION {
        format!(
            "vault format {major}.{minor} was made by a newer credvault; this one reads format 1.x"
        )
    } else {
        format!("vault format {major}.{minor} is not a format this credvault reads (it reads 1.x)")
    }
}

/// The fixed prefix and the framing of a file, checked against its length
/// before anything is allocated (FORMAT.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Length of the header CBOR in bytes.
    pub header_len: u32,
}

impl Prefix {
    /// Parses and checks the 14-byte prefix of `file` (FORMAT.md §2.1–§2.3).
    pub fn parse(file: &[u8]) -> Result<Prefix, FormatError> {
        if file.is_empty() {
            return Err(FormatError::NotAVault);
        }
        let magic_seen = file.len().min(MAGIC.len());
        if file.get(..magic_seen) != MAGIC.get(..magic_seen) {
            return Err(FormatError::NotAVault);
        }
        let Some(prefix) = file.get(..PREFIX_LEN) else {
            return Err(FormatError::Truncated("prefix"));
        };
        let (major, minor) = (prefix[8], prefix[9]);
        if major != MAJOR_VERSION {
            return Err(FormatError::UnsupportedVersion { major, minor });
        }
        let header_len = u32::from_be_bytes([prefix[10], prefix[11], prefix[12], prefix[13]]);
        if header_len == 0 {
            return Err(FormatError::Malformed("header length"));
        }
        if u64::from(header_len) > limits::MAX_HEADER_LEN {
            return Err(FormatError::TooLarge {
                what: "header length",
                found: header_len.into(),
                max: limits::MAX_HEADER_LEN,
            });
        }
        if file.len() - PREFIX_LEN < header_len as usize {
            return Err(FormatError::Truncated("header"));
        }
        Ok(Prefix {
            major,
            minor,
            header_len,
        })
    }

    /// Encodes the prefix.
    pub fn encode(&self) -> [u8; PREFIX_LEN] {
        let mut out = [0u8; PREFIX_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8] = self.major;
        out[9] = self.minor;
        out[10..].copy_from_slice(&self.header_len.to_be_bytes());
        out
    }
}

/// A file split into its authenticated prefix-and-header and its body
/// ciphertext, with the header parsed (FORMAT.md §2).
#[derive(Debug, Clone)]
pub struct ParsedFile<'a> {
    /// The parsed prefix.
    pub prefix: Prefix,
    /// The parsed header.
    pub header: Header,
    /// Prefix and header bytes: the associated data of the body (FORMAT.md §5).
    pub aad: &'a [u8],
    /// The body ciphertext, tag included.
    pub body_ciphertext: &'a [u8],
}

/// Parses a whole vault file up to (not including) any decryption.
///
/// Checks, in order: magic, version, header length against the limit and
/// the file length, the header's deterministic CBOR and schema (including
/// KDF ranges), then the body length announced by the header against the
/// bytes present.
pub fn parse_file(file: &[u8]) -> Result<ParsedFile<'_>, FormatError> {
    if file.len() as u64 > limits::MAX_FILE_LEN {
        return Err(FormatError::TooLarge {
            what: "file size",
            found: file.len() as u64,
            max: limits::MAX_FILE_LEN,
        });
    }
    let prefix = Prefix::parse(file)?;
    let header_end = PREFIX_LEN + prefix.header_len as usize;
    let (aad, rest) = file.split_at(header_end);
    let header = Header::decode(&aad[PREFIX_LEN..])?;
    let body_len = header.body_len as usize;
    if (rest.len() as u64) < header.body_len {
        return Err(FormatError::Truncated("body"));
    }
    if rest.len() > body_len {
        return Err(FormatError::TrailingData);
    }
    Ok(ParsedFile {
        prefix,
        header,
        aad,
        body_ciphertext: rest,
    })
}

/// Encodes the prefix and header: the associated data of the body.
///
/// `header.body_len` must already hold the length of the body ciphertext.
pub fn encode_aad(header: &Header) -> Vec<u8> {
    let cbor = header.encode();
    let prefix = Prefix {
        major: MAJOR_VERSION,
        minor: MINOR_VERSION,
        // The header is bounded by limits::MAX_HEADER_LEN (checked by
        // Header::encode's callers through the slot limit), far below u32::MAX.
        header_len: cbor.len() as u32,
    };
    let mut out = Vec::with_capacity(PREFIX_LEN + cbor.len());
    out.extend_from_slice(&prefix.encode());
    out.extend_from_slice(&cbor);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_round_trips() {
        let p = Prefix {
            major: 1,
            minor: 0,
            header_len: 300,
        };
        let mut file = p.encode().to_vec();
        file.resize(PREFIX_LEN + 300, 0);
        assert_eq!(Prefix::parse(&file).unwrap(), p);
    }

    #[test]
    fn prefix_errors() {
        assert_eq!(Prefix::parse(b""), Err(FormatError::NotAVault));
        assert_eq!(
            Prefix::parse(b"{\"credentials\": {}}"),
            Err(FormatError::NotAVault)
        );
        assert_eq!(
            Prefix::parse(&MAGIC[..5]),
            Err(FormatError::Truncated("prefix"))
        );
        let mut crlf = MAGIC.to_vec();
        crlf[5] = b'\n';
        assert_eq!(Prefix::parse(&crlf), Err(FormatError::NotAVault));
        let newer = Prefix {
            major: 2,
            minor: 0,
            header_len: 1,
        }
        .encode();
        assert_eq!(
            Prefix::parse(&newer),
            Err(FormatError::UnsupportedVersion { major: 2, minor: 0 })
        );
        let huge = Prefix {
            major: 1,
            minor: 0,
            header_len: u32::MAX,
        }
        .encode();
        assert!(matches!(
            Prefix::parse(&huge),
            Err(FormatError::TooLarge { .. })
        ));
        let short = Prefix {
            major: 1,
            minor: 0,
            header_len: 10,
        }
        .encode();
        assert_eq!(Prefix::parse(&short), Err(FormatError::Truncated("header")));
    }
}
