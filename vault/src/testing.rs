//! Helpers shared by the library's unit tests (the integration tests use
//! the `credvault-test-support` crate).

use crate::format::{KdfParams, KeyName};

/// Argon2id parameters at the minimum the format allows: tests pay for
/// the KDF only where the KDF is what they test.
pub(crate) fn weak() -> KdfParams {
    KdfParams::new(8192, 1, 1).unwrap()
}

/// A valid entry name.
pub(crate) fn key(s: &str) -> KeyName {
    KeyName::new(s).unwrap()
}
