//! The deterministic byte source: every vault id, key, salt and nonce of
//! the vectors comes from here, never from the OS generator.
//!
//! Block `i` of a source labelled `L` is `SHA-256(SEED || L || 0x00 ||
//! i as u64 BE)`. Each vector has its own label, so adding or reordering
//! vectors leaves the bytes of the others unchanged.

use credvault::SecretKey;
use sha2::{Digest, Sha256};

/// The fixed seed of all vectors. Changing it changes every file.
const SEED: &[u8] = b"credvault-vectors/v1 seed\0";

/// A labelled, counter-based stream of deterministic bytes.
pub struct Det {
    label: Vec<u8>,
    counter: u64,
}

impl Det {
    /// A fresh stream for `label` (usually the vector's name).
    pub fn new(label: &str) -> Det {
        Det {
            label: label.as_bytes().to_vec(),
            counter: 0,
        }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let block = Sha256::new()
                .chain_update(SEED)
                .chain_update(&self.label)
                .chain_update([0])
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter += 1;
            let take = (n - out.len()).min(block.len());
            out.extend_from_slice(&block[..take]);
        }
        out
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        out.copy_from_slice(&self.bytes(N));
        out
    }

    /// The next 32 bytes as a key.
    pub fn key(&mut self) -> SecretKey {
        SecretKey::from_bytes(self.array())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_labelled() {
        assert_eq!(Det::new("a").bytes(70), Det::new("a").bytes(70));
        assert_ne!(Det::new("a").bytes(32), Det::new("b").bytes(32));
        let mut d = Det::new("a");
        let first = d.bytes(32);
        assert_ne!(first, d.bytes(32));
        assert_eq!(Det::new("a").bytes(40)[..32], first[..]);
    }
}
