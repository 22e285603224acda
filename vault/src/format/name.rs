//! Key names (FORMAT.md §5.1): 1–256 bytes, dot-separated segments of
//! `[A-Za-z0-9_-]`, e.g. `postgresql.password`.

use std::fmt;

use super::limits::KEY_NAME_LEN;

/// A valid key name. Existence proves validity ("parse, don't validate").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyName(String);

/// Why a key name is invalid. The message does not repeat the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty or longer than 256 bytes.
    #[error("key name must be 1 to 256 bytes long")]
    Length,
    /// A character outside `[A-Za-z0-9_-]` and `.`.
    #[error("key name may only contain A-Z a-z 0-9 _ - and dots")]
    Character,
    /// A leading, trailing or doubled dot.
    #[error("key name must be segments joined by single dots, with no leading or trailing dot")]
    EmptySegment,
}

impl KeyName {
    /// Checks `name` against the grammar of FORMAT.md §5.1.
    pub fn new(name: &str) -> Result<KeyName, NameError> {
        if name.len() < KEY_NAME_LEN.0 || name.len() > KEY_NAME_LEN.1 {
            return Err(NameError::Length);
        }
        for segment in name.split('.') {
            if segment.is_empty() {
                return Err(NameError::EmptySegment);
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(NameError::Character);
            }
        }
        Ok(KeyName(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for KeyName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyName::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_convention() {
        for ok in [
            "postgresql.password",
            "github.accessToken",
            "a",
            "A-b_c.9",
            &"x".repeat(256),
        ] {
            assert!(KeyName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(KeyName::new(""), Err(NameError::Length));
        assert_eq!(KeyName::new(&"x".repeat(257)), Err(NameError::Length));
        for bad in [".a", "a.", "a..b", "."] {
            assert_eq!(KeyName::new(bad), Err(NameError::EmptySegment), "{bad}");
        }
        for bad in ["a b", "a/b", "é", "a\nb", "a\0"] {
            assert_eq!(KeyName::new(bad), Err(NameError::Character), "{bad}");
        }
    }
}
