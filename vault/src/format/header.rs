//! The header (FORMAT.md §3): vault id, save counter, body nonce and length,
//! and the key slots that each wrap the data key (FORMAT.md §4).

use ciborium::Value;

use super::cbor::{
    self, as_u32, as_u64, into_array, into_bytes, into_items, into_text, uint, Fields,
};
use super::limits;
use super::{FormatError, NONCE_LEN, TAG_LEN};

/// Length of the vault id.
pub const VAULT_ID_LEN: usize = 16;

/// Length of a wrapped data key: 32-byte key plus tag.
pub const WRAPPED_KEY_LEN: usize = 32 + TAG_LEN;

/// Header map keys (FORMAT.md §3.1).
mod key {
    pub const VAULT_ID: u64 = 1;
    pub const SAVE_COUNTER: u64 = 2;
    pub const BODY_NONCE: u64 = 3;
    pub const BODY_LEN: u64 = 4;
    pub const SLOTS: u64 = 5;
}

/// Slot map keys (FORMAT.md §4.1).
mod slot_key {
    pub const ID: u64 = 1;
    pub const TYPE: u64 = 2;
    pub const NONCE: u64 = 3;
    pub const WRAPPED: u64 = 4;
    pub const SALT: u64 = 5;
    pub const MEMORY_KIB: u64 = 6;
    pub const ITERATIONS: u64 = 7;
    pub const PARALLELISM: u64 = 8;
    pub const SERVICE: u64 = 9;
    pub const ACCOUNT: u64 = 10;
}

/// Slot type codes (FORMAT.md §4.1).
pub mod slot_type {
    /// Argon2id passphrase slot.
    pub const PASSPHRASE: u64 = 1;
    /// OS keychain slot.
    pub const KEYCHAIN: u64 = 2;
    /// Recovery code slot.
    pub const RECOVERY: u64 = 3;
}

/// The decoded header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Random id fixed at creation; part of every slot's associated data.
    pub vault_id: [u8; VAULT_ID_LEN],
    /// Incremented by every save (FORMAT.md §3.1).
    pub save_counter: u64,
    /// Fresh random nonce of this save's body encryption.
    pub body_nonce: [u8; NONCE_LEN],
    /// Length of the body ciphertext including its tag.
    pub body_len: u64,
    /// Key slots, ids strictly ascending.
    pub slots: Vec<Slot>,
}

/// One key slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// Slot id, unique in the header, at least 1.
    pub id: u32,
    /// Type and type-specific fields.
    pub kind: SlotKind,
}

/// The slot types of FORMAT.md §4.2–§4.5.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SlotKind {
    /// Key-encryption key from Argon2id over a passphrase.
    Passphrase(PassphraseSlot),
    /// Key-encryption key kept in the OS keychain.
    Keychain(KeychainSlot),
    /// Key-encryption key from a recovery code through HKDF.
    Recovery(RecoverySlot),
    /// A type this reader does not know; kept verbatim and skipped on unlock.
    Unknown {
        /// The type code.
        type_code: u64,
        /// All other fields, in canonical order.
        fields: Vec<(u64, Value)>,
    },
}

/// A wrapped data key: nonce and ciphertext (FORMAT.md §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrap {
    /// Random nonce of the wrap.
    pub nonce: [u8; NONCE_LEN],
    /// The data key sealed under the slot's key-encryption key.
    pub wrapped: [u8; WRAPPED_KEY_LEN],
}

/// Argon2id parameters (FORMAT.md §4.2). A value of this type is within the
/// ranges of FORMAT.md §6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfParams {
    /// Checks the parameters against the format's ranges (FORMAT.md §6.2).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, FormatError> {
        range(
            "Argon2id memory (KiB)",
            memory_kib,
            limits::ARGON2_MEMORY_KIB,
        )?;
        range("Argon2id iterations", iterations, limits::ARGON2_ITERATIONS)?;
        range(
            "Argon2id parallelism",
            parallelism,
            limits::ARGON2_PARALLELISM,
        )?;
        Ok(KdfParams {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory cost in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Number of lanes.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// Whether the parameters are below the OWASP floor (19 MiB, t=2).
    pub fn is_weak(&self) -> bool {
        self.memory_kib < limits::OWASP_FLOOR.0 || self.iterations < limits::OWASP_FLOOR.1
    }
}

fn range(what: &'static str, found: u32, (min, max): (u32, u32)) -> Result<(), FormatError> {
    if found < min || found > max {
        return Err(FormatError::KdfOutOfRange {
            what,
            found: found.into(),
            min: min.into(),
            max: max.into(),
        });
    }
    Ok(())
}

/// A passphrase slot (FORMAT.md §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassphraseSlot {
    /// Argon2id salt, 16–64 bytes.
    pub salt: Vec<u8>,
    /// Argon2id parameters.
    pub kdf: KdfParams,
    /// The wrapped data key.
    pub wrap: Wrap,
}

/// A keychain slot (FORMAT.md §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeychainSlot {
    /// Keychain service name.
    pub service: String,
    /// Keychain account name.
    pub account: String,
    /// The wrapped data key.
    pub wrap: Wrap,
}

/// A recovery slot (FORMAT.md §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySlot {
    /// HKDF salt.
    pub salt: [u8; limits::RECOVERY_SALT_LEN],
    /// The wrapped data key.
    pub wrap: Wrap,
}

impl Slot {
    /// The wrap of a known slot type.
    pub fn wrap(&self) -> Option<&Wrap> {
        match &self.kind {
            SlotKind::Passphrase(s) => Some(&s.wrap),
            SlotKind::Keychain(s) => Some(&s.wrap),
            SlotKind::Recovery(s) => Some(&s.wrap),
            SlotKind::Unknown { .. } => None,
        }
    }

    /// A short name of the slot type ("passphrase", "keychain", "recovery"
    /// or "unknown").
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            SlotKind::Passphrase(_) => "passphrase",
            SlotKind::Keychain(_) => "keychain",
            SlotKind::Recovery(_) => "recovery",
            SlotKind::Unknown { .. } => "unknown",
        }
    }

    /// The associated data of this slot's wrap (FORMAT.md §4.1):
    /// `"credvault/v1/slot" 0x00 || vault_id || CBOR(slot map without key 4)`.
    ///
    /// It binds the slot's id, type and every parameter (salt, KDF costs,
    /// keychain names, wrap nonce) to the wrapped key and the vault.
    pub fn wrap_aad(&self, vault_id: &[u8; VAULT_ID_LEN]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(128);
        aad.extend_from_slice(b"credvault/v1/slot\0");
        aad.extend_from_slice(vault_id);
        aad.extend_from_slice(&cbor::encode(&self.to_value(false)));
        aad
    }

    fn to_value(&self, with_wrapped: bool) -> Value {
        let mut pairs = vec![(uint(slot_key::ID), uint(self.id.into()))];
        let push_wrap = |pairs: &mut Vec<(Value, Value)>, w: &Wrap| {
            pairs.push((uint(slot_key::NONCE), Value::Bytes(w.nonce.to_vec())));
            if with_wrapped {
                pairs.push((uint(slot_key::WRAPPED), Value::Bytes(w.wrapped.to_vec())));
            }
        };
        match &self.kind {
            SlotKind::Passphrase(s) => {
                pairs.push((uint(slot_key::TYPE), uint(slot_type::PASSPHRASE)));
                push_wrap(&mut pairs, &s.wrap);
                pairs.push((uint(slot_key::SALT), Value::Bytes(s.salt.clone())));
                pairs.push((uint(slot_key::MEMORY_KIB), uint(s.kdf.memory_kib.into())));
                pairs.push((uint(slot_key::ITERATIONS), uint(s.kdf.iterations.into())));
                pairs.push((uint(slot_key::PARALLELISM), uint(s.kdf.parallelism.into())));
            }
            SlotKind::Keychain(s) => {
                pairs.push((uint(slot_key::TYPE), uint(slot_type::KEYCHAIN)));
                push_wrap(&mut pairs, &s.wrap);
                pairs.push((uint(slot_key::SERVICE), Value::Text(s.service.clone())));
                pairs.push((uint(slot_key::ACCOUNT), Value::Text(s.account.clone())));
            }
            SlotKind::Recovery(s) => {
                pairs.push((uint(slot_key::TYPE), uint(slot_type::RECOVERY)));
                push_wrap(&mut pairs, &s.wrap);
                pairs.push((uint(slot_key::SALT), Value::Bytes(s.salt.to_vec())));
            }
            SlotKind::Unknown { type_code, fields } => {
                pairs.push((uint(slot_key::TYPE), uint(*type_code)));
                for (k, v) in fields {
                    if with_wrapped || *k != slot_key::WRAPPED {
                        pairs.push((uint(*k), v.clone()));
                    }
                }
            }
        }
        cbor::map(pairs)
    }

    fn from_value(value: Value) -> Result<Slot, FormatError> {
        const WHAT: &str = "key slot";
        let mut f = Fields::new(value, WHAT)?;
        let id = as_u32(&f.require(slot_key::ID)?, WHAT)?;
        if id == 0 {
            return Err(FormatError::Malformed("key slot id"));
        }
        let type_code = as_u64(&f.require(slot_key::TYPE)?, WHAT)?;
        let kind = match type_code {
            slot_type::PASSPHRASE => {
                let wrap = take_wrap(&mut f)?;
                let salt = into_bytes(f.require(slot_key::SALT)?, WHAT)?;
                if salt.len() < limits::SALT_LEN.0 || salt.len() > limits::SALT_LEN.1 {
                    return Err(FormatError::Malformed("passphrase slot salt"));
                }
                let m = as_u32(&f.require(slot_key::MEMORY_KIB)?, WHAT)?;
                let t = as_u32(&f.require(slot_key::ITERATIONS)?, WHAT)?;
                let p = as_u32(&f.require(slot_key::PARALLELISM)?, WHAT)?;
                f.finish()?;
                SlotKind::Passphrase(PassphraseSlot {
                    salt,
                    kdf: KdfParams::new(m, t, p)?,
                    wrap,
                })
            }
            slot_type::KEYCHAIN => {
                let wrap = take_wrap(&mut f)?;
                let service = keychain_name(f.require(slot_key::SERVICE)?)?;
                let account = keychain_name(f.require(slot_key::ACCOUNT)?)?;
                f.finish()?;
                SlotKind::Keychain(KeychainSlot {
                    service,
                    account,
                    wrap,
                })
            }
            slot_type::RECOVERY => {
                let wrap = take_wrap(&mut f)?;
                let salt = into_array(f.require(slot_key::SALT)?, "recovery slot salt")?;
                f.finish()?;
                SlotKind::Recovery(RecoverySlot { salt, wrap })
            }
            other => SlotKind::Unknown {
                type_code: other,
                fields: f.into_rest(),
            },
        };
        Ok(Slot { id, kind })
    }
}

fn take_wrap(f: &mut Fields) -> Result<Wrap, FormatError> {
    let nonce = into_array(f.require(slot_key::NONCE)?, "key slot nonce")?;
    let wrapped = into_array(f.require(slot_key::WRAPPED)?, "wrapped key")?;
    Ok(Wrap { nonce, wrapped })
}

fn keychain_name(v: Value) -> Result<String, FormatError> {
    let s = into_text(v, "keychain slot name")?;
    if !is_valid_keychain_name(&s) {
        return Err(FormatError::Malformed("keychain slot name"));
    }
    Ok(s)
}

/// Whether `name` is a valid keychain service or account name: 1–256 bytes,
/// no control characters (FORMAT.md §4.3).
pub fn is_valid_keychain_name(name: &str) -> bool {
    let (min, max) = limits::KEYCHAIN_NAME_LEN;
    name.len() >= min && name.len() <= max && !name.chars().any(char::is_control)
}

impl Header {
    /// Encodes the header as deterministic CBOR (FORMAT.md §3).
    pub fn encode(&self) -> Vec<u8> {
        let slots = self.slots.iter().map(|s| s.to_value(true)).collect();
        cbor::encode(&cbor::map(vec![
            (uint(key::VAULT_ID), Value::Bytes(self.vault_id.to_vec())),
            (uint(key::SAVE_COUNTER), uint(self.save_counter)),
            (
                uint(key::BODY_NONCE),
                Value::Bytes(self.body_nonce.to_vec()),
            ),
            (uint(key::BODY_LEN), uint(self.body_len)),
            (uint(key::SLOTS), Value::Array(slots)),
        ]))
    }

    /// Decodes and checks a header (FORMAT.md §3, §4, §6).
    pub fn decode(bytes: &[u8]) -> Result<Header, FormatError> {
        const WHAT: &str = "header";
        let mut f = Fields::new(cbor::decode(bytes, WHAT)?, WHAT)?;
        let vault_id = into_array(f.require(key::VAULT_ID)?, "vault id")?;
        let save_counter = as_u64(&f.require(key::SAVE_COUNTER)?, WHAT)?;
        if save_counter == 0 {
            return Err(FormatError::Malformed("save counter"));
        }
        let body_nonce = into_array(f.require(key::BODY_NONCE)?, "body nonce")?;
        let body_len = as_u64(&f.require(key::BODY_LEN)?, WHAT)?;
        if body_len < TAG_LEN as u64 {
            return Err(FormatError::Malformed("body length"));
        }
        if body_len > limits::MAX_BODY_LEN + TAG_LEN as u64 {
            return Err(FormatError::TooLarge {
                what: "body length",
                found: body_len,
                max: limits::MAX_BODY_LEN + TAG_LEN as u64,
            });
        }
        let raw_slots = into_items(f.require(key::SLOTS)?, "key slots")?;
        f.finish()?;
        if raw_slots.is_empty() {
            return Err(FormatError::Malformed("key slots (none)"));
        }
        if raw_slots.len() > limits::MAX_SLOTS {
            return Err(FormatError::TooLarge {
                what: "key slot count",
                found: raw_slots.len() as u64,
                max: limits::MAX_SLOTS as u64,
            });
        }
        let mut slots: Vec<Slot> = Vec::with_capacity(raw_slots.len());
        for raw in raw_slots {
            let slot = Slot::from_value(raw)?;
            if slots.last().is_some_and(|prev| prev.id >= slot.id) {
                return Err(FormatError::Malformed(
                    "key slot ids (not strictly ascending)",
                ));
            }
            slots.push(slot);
        }
        Ok(Header {
            vault_id,
            save_counter,
            body_nonce,
            body_len,
            slots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Header {
        let wrap = Wrap {
            nonce: [7; NONCE_LEN],
            wrapped: [9; WRAPPED_KEY_LEN],
        };
        Header {
            vault_id: [1; VAULT_ID_LEN],
            save_counter: 3,
            body_nonce: [2; NONCE_LEN],
            body_len: 100,
            slots: vec![
                Slot {
                    id: 1,
                    kind: SlotKind::Passphrase(PassphraseSlot {
                        salt: vec![3; 16],
                        kdf: KdfParams::new(8192, 1, 1).unwrap(),
                        wrap: wrap.clone(),
                    }),
                },
                Slot {
                    id: 2,
                    kind: SlotKind::Keychain(KeychainSlot {
                        service: "credvault".into(),
                        account: "abc/2".into(),
                        wrap: wrap.clone(),
                    }),
                },
                Slot {
                    id: 3,
                    kind: SlotKind::Recovery(RecoverySlot {
                        salt: [4; 32],
                        wrap,
                    }),
                },
                Slot {
                    id: 9,
                    kind: SlotKind::Unknown {
                        type_code: 77,
                        fields: vec![(3, Value::Bytes(vec![1]))],
                    },
                },
            ],
        }
    }

    #[test]
    fn can_round_trip_header() {
        let h = sample();
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes).unwrap(), h);
        assert_eq!(Header::decode(&bytes).unwrap().encode(), bytes);
    }

    #[test]
    fn every_truncated_header_is_rejected() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(Header::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn slot_aad_binds_parameters() {
        let h = sample();
        let a = h.slots[0].wrap_aad(&h.vault_id);
        let mut s = h.slots[0].clone();
        if let SlotKind::Passphrase(p) = &mut s.kind {
            p.kdf = KdfParams::new(8192, 2, 1).unwrap();
        }
        assert_ne!(a, s.wrap_aad(&h.vault_id));
        assert_ne!(a, h.slots[0].wrap_aad(&[0; VAULT_ID_LEN]));
    }

    #[test]
    fn rejects_kdf_out_of_range() {
        assert!(matches!(
            KdfParams::new(1024, 1, 1),
            Err(FormatError::KdfOutOfRange { .. })
        ));
        assert!(matches!(
            KdfParams::new(8192, 0, 1),
            Err(FormatError::KdfOutOfRange { .. })
        ));
        assert!(matches!(
            KdfParams::new(8192, 1, 65),
            Err(FormatError::KdfOutOfRange { .. })
        ));
        assert!(matches!(
            KdfParams::new(u32::MAX, 1, 1),
            Err(FormatError::KdfOutOfRange { .. })
        ));
    }
}
