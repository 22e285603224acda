//! Argon2id parameters (FORMAT.md §4.2, §6.2): outside the format's ranges
//! (a parse error), and inside them but above the reader's default limits
//! (rejected before any KDF work: the runner must neither hang nor
//! allocate).

use crate::cbor::{self, encode, set, slot_key, uint};
use crate::fixture::{kdf_params, weak_kdf, Fixture, PASSPHRASE};
use crate::Case;
use crate::Expect::{KdfLimit, KdfOutOfRange};

pub fn cases() -> Vec<Case> {
    Vec::from([
        range(
            "kdf_memory_below_min",
            "Argon2id memory 8191 KiB, one below the 8 MiB minimum",
            slot_key::MEMORY_KIB,
            8 * 1024 - 1,
        ),
        range(
            "kdf_memory_above_max",
            "Argon2id memory 4 GiB + 1 KiB, one above the maximum",
            slot_key::MEMORY_KIB,
            4 * 1024 * 1024 + 1,
        ),
        range(
            "kdf_iterations_zero",
            "Argon2id t = 0",
            slot_key::ITERATIONS,
            0,
        ),
        range(
            "kdf_iterations_above_max",
            "Argon2id t = 65, one above the maximum of 64",
            slot_key::ITERATIONS,
            65,
        ),
        range(
            "kdf_parallelism_zero",
            "Argon2id p = 0",
            slot_key::PARALLELISM,
            0,
        ),
        range(
            "kdf_parallelism_above_max",
            "Argon2id p = 65, one above the maximum of 64",
            slot_key::PARALLELISM,
            65,
        ),
        limit(
            "kdf_limit_memory_2gib",
            "Argon2id m = 2 GiB: valid, above the default limit of 1 GiB; no KDF work may start",
            2 * 1024 * 1024,
            1,
            1,
        ),
        limit(
            "kdf_limit_memory_4gib",
            "Argon2id m = 4 GiB, the format maximum, above the default limit of 1 GiB",
            4 * 1024 * 1024,
            1,
            1,
        ),
        limit(
            "kdf_limit_iterations",
            "Argon2id t = 64, the format maximum, above the default limit of 16",
            8 * 1024,
            64,
            1,
        ),
        limit(
            "kdf_limit_parallelism",
            "Argon2id p = 64, the format maximum, above the default limit of 16",
            8 * 1024,
            1,
            64,
        ),
        limit(
            "kdf_limit_all",
            "Argon2id m = 4 GiB, t = 64, p = 64: the most work the format allows",
            4 * 1024 * 1024,
            64,
            64,
        ),
        skipped(),
        at_limits(),
    ])
}

/// A passphrase slot whose parameter `key` is set to `value`, outside the
/// format's range. The body is sealed under the edited header.
fn range(name: &'static str, comment: &'static str, key: u64, value: u64) -> Case {
    let mut fx = Fixture::basic(name);
    let mut h = fx.header_value();
    set(cbor::slot(&mut h, 0), key, uint(value));
    Case::fail(name, KdfOutOfRange, comment, fx.reseal(&encode(&h)))
}

/// The only passphrase slot asks for more work than the default limits
/// allow. Its wrap is under a random key: nothing can be computed anyway.
fn limit(name: &'static str, comment: &'static str, m: u32, t: u32, p: u32) -> Case {
    let mut fx = Fixture::new(name);
    fx.add_passphrase_unworkable(kdf_params(m, t, p));
    fx.add_entry("github.token", b"ghp_vector0000000000", Default::default());
    Case::fail(name, KdfLimit, comment, fx.seal())
}

/// A slot above the limits is skipped; the next one opens the vault.
fn skipped() -> Case {
    let name = "kdf_limit_slot_skipped";
    let mut fx = Fixture::new(name);
    fx.add_passphrase_unworkable(kdf_params(4 * 1024 * 1024, 1, 1));
    fx.add_passphrase(PASSPHRASE, weak_kdf());
    fx.add_entry("github.token", b"ghp_vector0000000000", Default::default());
    let file = fx.seal();
    Case::success(
        name,
        "slot 1 asks for m = 4 GiB and is skipped without KDF work; slot 2 opens the vault",
        file,
        fx.payload(),
    )
}

/// Parameters equal to the default limits are allowed.
fn at_limits() -> Case {
    let name = "kdf_at_default_limits";
    let mut fx = Fixture::new(name);
    fx.add_passphrase(PASSPHRASE, kdf_params(8 * 1024, 16, 16));
    fx.add_entry("github.token", b"ghp_vector0000000000", Default::default());
    let file = fx.seal();
    Case::success(
        name,
        "Argon2id m = 8 MiB, t = 16, p = 16: t and p equal to the default limits",
        file,
        fx.payload(),
    )
}
