//! The sync state (see the parent module): what every key was at the last
//! sync, kept in one reserved vault entry per store and prefix.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::crypto::{self, SecretKey, SecretValue};
use crate::format::KeyName;

use crate::pass::{FileId, PassBackend, Prefix};

type HmacSha256 = hmac::Hmac<Sha256>;

/// HKDF info of the sync state's MAC key.
pub(super) const INFO: &[u8] = b"credvault/v1/pass-sync";
/// First line of a sync state value.
const HEADER: &str = "credvault-pass-sync v1";
/// Kind of the sync state entry.
pub(super) const KIND: &str = "pass-sync";

/// The sync record of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) mac: [u8; 32],
    pub(super) id: FileId,
}

/// HMAC-SHA256 under `mac_key` of the key name, a NUL and the value.
pub(super) fn mac_with(mac_key: &SecretKey, key: &KeyName, value: &SecretValue) -> [u8; 32] {
    // HMAC takes keys of any length.
    #[allow(clippy::expect_used)]
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(mac_key.expose())
        .expect("HMAC accepts a 32-byte key");
    m.update(key.as_str().as_bytes());
    m.update(&[0]);
    m.update(value.expose());
    m.finalize().into_bytes().into()
}

/// The vault key holding the sync state of `prefix` in `pass`'s store.
pub(super) fn key(pass: &PassBackend, prefix: &Prefix) -> KeyName {
    let dir = std::fs::canonicalize(pass.store_dir()).unwrap_or_else(|_| pass.store_dir().into());
    let mut h = Sha256::new();
    h.update(dir.to_string_lossy().as_bytes());
    h.update([0]);
    h.update(prefix.as_str().as_bytes());
    let digest = h.finalize();
    let id = crypto::hex_lower(digest.get(..8).unwrap_or_default());
    // `_credvault.pass-sync.<16 hex>` is a valid key name.
    #[allow(clippy::expect_used)]
    KeyName::new(&format!("{}.pass-sync.{id}", crate::pass::RESERVED_SEGMENT))
        .expect("a valid key name")
}

pub(super) fn encode(state: &BTreeMap<String, Record>) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for (key, rec) in state {
        out.push_str(key);
        out.push('\t');
        out.push_str(&crypto::hex_lower(&rec.mac));
        out.push('\t');
        out.push_str(rec.id.as_str());
        out.push('\n');
    }
    out
}

/// Parses a sync state; lines that do not parse are dropped (their keys
/// count as never synced, which never loses a value: at worst a conflict).
pub(super) fn parse(bytes: &[u8]) -> BTreeMap<String, Record> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::str::from_utf8(bytes) else {
        return out;
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return out;
    }
    for line in lines {
        let mut parts = line.split('\t');
        let (Some(key), Some(mac), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(_), Some(mac), Some(id)) = (KeyName::new(key), unhex32(mac), FileId::parse(id))
        else {
            continue;
        };
        out.insert(key.to_owned(), Record { mac, id });
    }
    out
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_ignores_garbage() {
        let mut state = BTreeMap::new();
        state.insert(
            "github.token".to_owned(),
            Record {
                mac: [7; 32],
                id: FileId::parse("1:2:3:4.5:6.7").unwrap(),
            },
        );
        let text = encode(&state);
        assert_eq!(parse(text.as_bytes()), state);
        let mut noisy = text.clone();
        noisy.push_str("bad line\nx\tzz\t1\n");
        assert_eq!(parse(noisy.as_bytes()), state);
        assert!(parse(b"other header\n").is_empty());
        assert!(parse(&[0xff, 0xfe]).is_empty());
    }
}
