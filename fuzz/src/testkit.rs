//! Just enough of the testkit form of `spec/vectors/` (FORMAT.md §10) to
//! seed the corpora: a text header, a blank line, then the file's bytes.

/// One vector: its credentials and its bytes.
pub struct Vector {
    /// The `passphrase:` line, if any.
    pub passphrase: Option<String>,
    /// The `recovery:` line decoded from hex, if any.
    pub recovery: Option<Vec<u8>>,
    /// The vault file.
    pub file: Vec<u8>,
}

/// Splits a testkit file at its first blank line; `None` if it has none.
pub fn parse(bytes: &[u8]) -> Option<Vector> {
    let split = bytes.windows(2).position(|w| w == b"\n\n")?;
    let header = std::str::from_utf8(&bytes[..split]).ok()?;
    let mut v = Vector {
        passphrase: None,
        recovery: None,
        file: bytes[split + 2..].to_vec(),
    };
    for line in header.lines() {
        if let Some(p) = line.strip_prefix("passphrase: ") {
            v.passphrase = Some(p.to_owned());
        } else if let Some(hex) = line.strip_prefix("recovery: ") {
            v.recovery = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
        }
    }
    Some(v)
}
