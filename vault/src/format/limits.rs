//! Every limit of format version 1 (FORMAT.md §6). A reader checks each of
//! them before it allocates or computes on the value it bounds.

/// Largest header CBOR, in bytes.
pub const MAX_HEADER_LEN: u64 = 64 * 1024;

/// Most key slots in one header.
pub const MAX_SLOTS: usize = 16;

/// Largest body plaintext (deterministic CBOR), in bytes.
pub const MAX_BODY_LEN: u64 = 64 * 1024 * 1024;

/// Largest whole file: prefix, largest header, largest body and its tag.
pub const MAX_FILE_LEN: u64 = 14 + MAX_HEADER_LEN + MAX_BODY_LEN + 16;

/// Most entries plus tombstones in one body.
pub const MAX_RECORDS: usize = 1_000_000;

/// Largest plaintext value of one entry, in bytes.
pub const MAX_VALUE_LEN: usize = 4 * 1024 * 1024;

/// Length range of a key name in bytes (FORMAT.md §5.1).
pub const KEY_NAME_LEN: (usize, usize) = (1, 256);

/// Length range of an entry kind in bytes.
pub const KIND_LEN: (usize, usize) = (1, 32);

/// Most metadata pairs on one entry.
pub const MAX_METADATA_PAIRS: usize = 32;

/// Length range of a metadata key in bytes.
pub const METADATA_KEY_LEN: (usize, usize) = (1, 64);

/// Largest metadata value in bytes.
pub const MAX_METADATA_VALUE_LEN: usize = 1024;

/// Argon2id memory range in KiB: 8 MiB to 4 GiB (FORMAT.md §6.2).
pub const ARGON2_MEMORY_KIB: (u32, u32) = (8 * 1024, 4 * 1024 * 1024);

/// Argon2id iteration range.
pub const ARGON2_ITERATIONS: (u32, u32) = (1, 64);

/// Argon2id parallelism (lanes) range.
pub const ARGON2_PARALLELISM: (u32, u32) = (1, 64);

/// Passphrase slot salt length range in bytes.
pub const SALT_LEN: (usize, usize) = (16, 64);

/// Recovery slot salt length in bytes.
pub const RECOVERY_SALT_LEN: usize = 32;

/// Length range of a keychain service or account name in bytes.
pub const KEYCHAIN_NAME_LEN: (usize, usize) = (1, 256);

/// The OWASP floor for Argon2id (19 MiB, t=2, p=1). Parameters below it are
/// valid but weak; tools warn about them.
pub const OWASP_FLOOR: (u32, u32) = (19 * 1024, 2);
