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
        Self::check(name)?;
        Ok(KeyName(name.to_owned()))
    }

    /// A name already checked by [`KeyName::check`] (so ASCII: the lossy
    /// conversion never replaces anything).
    pub(crate) fn checked(name: &[u8]) -> KeyName {
        KeyName(String::from_utf8_lossy(name).into_owned())
    }

    /// Checks `name` against the grammar of FORMAT.md §5.1.
    pub(crate) fn check(name: &str) -> Result<(), NameError> {
        Self::check_bytes(name.as_bytes())
    }

    /// Checks the bytes of a name against the grammar of FORMAT.md §5.1,
    /// which admits ASCII only.
    #[inline]
    pub(crate) fn check_bytes(name: &[u8]) -> Result<(), NameError> {
        if name.len() < KEY_NAME_LEN.0 || name.len() > KEY_NAME_LEN.1 {
            return Err(NameError::Length);
        }
        // One pass over the bytes; reports the first problem in the order a
        // reader meets it, segment by segment.
        let mut segment_start = true;
        for &b in name {
            match b {
                b'.' if segment_start => return Err(NameError::EmptySegment),
                b'.' => segment_start = true,
                b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => segment_start = false,
                _ => return Err(NameError::Character),
            }
        }
        if segment_start {
            // A trailing dot (the empty name was rejected above).
            return Err(NameError::EmptySegment);
        }
        Ok(())
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
