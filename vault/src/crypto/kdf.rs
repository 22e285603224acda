//! Argon2id with ceilings checked before any work (FORMAT.md §4.2, §6.2).

use crate::format::KdfParams;

use super::secret::{Passphrase, SecretKey};

/// The most work a reader agrees to do for one passphrase slot. Checked
/// before the KDF runs, so a hostile file cannot make us allocate or spin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfLimits {
    /// Largest memory cost in KiB.
    pub max_memory_kib: u32,
    /// Largest number of passes.
    pub max_iterations: u32,
    /// Largest number of lanes.
    pub max_parallelism: u32,
}

impl Default for KdfLimits {
    /// 1 GiB, 16 passes, 16 lanes: above any calibrated default, far below
    /// the format's ranges (FORMAT.md §6.2).
    fn default() -> Self {
        KdfLimits {
            max_memory_kib: 1024 * 1024,
            max_iterations: 16,
            max_parallelism: 16,
        }
    }
}

/// A slot asks for more KDF work than the caller allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the vault asks for Argon2id m={asked_memory_mib} MiB t={asked_iterations} p={asked_parallelism}; \
     this reader allows at most m={max_memory_mib} MiB t={max_iterations} p={max_parallelism}"
)]
pub struct ExcessiveWork {
    /// Memory the file asks for, MiB.
    pub asked_memory_mib: u32,
    /// Passes the file asks for.
    pub asked_iterations: u32,
    /// Lanes the file asks for.
    pub asked_parallelism: u32,
    /// Memory allowed, MiB.
    pub max_memory_mib: u32,
    /// Passes allowed.
    pub max_iterations: u32,
    /// Lanes allowed.
    pub max_parallelism: u32,
}

impl KdfLimits {
    /// Checks `params` against these limits.
    pub fn check(&self, params: &KdfParams) -> Result<(), ExcessiveWork> {
        if params.memory_kib() > self.max_memory_kib
            || params.iterations() > self.max_iterations
            || params.parallelism() > self.max_parallelism
        {
            return Err(ExcessiveWork {
                asked_memory_mib: params.memory_kib() / 1024,
                asked_iterations: params.iterations(),
                asked_parallelism: params.parallelism(),
                max_memory_mib: self.max_memory_kib / 1024,
                max_iterations: self.max_iterations,
                max_parallelism: self.max_parallelism,
            });
        }
        Ok(())
    }
}

/// Derives a key-encryption key: Argon2id v1.3 (RFC 9106) over the
/// passphrase with `salt`, 32 bytes of output (FORMAT.md §4.2).
///
/// The caller checks [`KdfLimits`] first; `params` are within the format's
/// ranges by construction.
pub fn argon2id(passphrase: &Passphrase, salt: &[u8], params: &KdfParams) -> SecretKey {
    let mut out = [0u8; 32];
    // KdfParams only holds values inside the format's ranges, which are all
    // valid Argon2 parameters (m >= 8 MiB >= 8*p KiB, t >= 1, p <= 64), and
    // salts are 16–64 bytes: argon2 cannot reject them.
    #[allow(clippy::expect_used)]
    let p = argon2::Params::new(
        params.memory_kib(),
        params.iterations(),
        params.parallelism(),
        Some(32),
    )
    .expect("KdfParams are valid Argon2 parameters");
    #[allow(clippy::expect_used)]
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p)
        .hash_password_into(passphrase.expose(), salt, &mut out)
        .expect("valid salt and output length");
    let key = SecretKey::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        let p = KdfParams::new(2 * 1024 * 1024, 1, 1).unwrap();
        let err = KdfLimits::default().check(&p).unwrap_err();
        assert_eq!(err.asked_memory_mib, 2048);
        assert!(err.to_string().contains("m=2048 MiB"));
        assert!(KdfLimits::default()
            .check(&KdfParams::new(8192, 1, 1).unwrap())
            .is_ok());
    }

    #[test]
    fn argon2id_is_deterministic_and_salted() {
        let p = KdfParams::new(8192, 1, 1).unwrap();
        let pw = Passphrase::from("pw");
        let a = argon2id(&pw, &[1; 16], &p);
        let b = argon2id(&pw, &[1; 16], &p);
        let c = argon2id(&pw, &[2; 16], &p);
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
    }
}
