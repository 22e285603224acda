//! One Argon2id derivation through credvault's own KDF entry point
//! (`credvault::crypto::kdf::argon2id`), for `benches/compare.sh` to time
//! against the reference `argon2` CLI at equal parameters.
//!
//! ```text
//! kdf-once [MEMORY_KIB ITERATIONS PARALLELISM]   # default 65536 3 4
//! ```
//!
//! Passphrase `pw`, salt `somesalt16bytes!`, 32 bytes of output, printed
//! as lowercase hex: the same derivation as
//! `printf pw | argon2 somesalt16bytes! -id -t 3 -k 65536 -p 4 -l 32 -r`,
//! so the script checks both print the same hash before timing them.
//!
//! Whether the lanes run on threads depends on how this binary was built:
//! the crate's default feature `parallel` turns on credvault's
//! `parallel-kdf` (the argon2 crate's rayon lanes); `--no-default-features`
//! builds the sequential one.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use credvault::crypto::kdf::argon2id;
use credvault::{KdfParams, Passphrase};

const PASSWORD: &str = "pw";
const SALT: &[u8; 16] = b"somesalt16bytes!";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Result<Vec<u32>, _> = args.iter().map(|a| a.parse::<u32>()).collect();
    let (m, t, p) = match numbers.as_deref() {
        Ok([]) => (64 * 1024, 3, 4),
        Ok([m, t, p]) => (*m, *t, *p),
        _ => {
            eprintln!("usage: kdf-once [MEMORY_KIB ITERATIONS PARALLELISM]");
            return ExitCode::from(2);
        }
    };
    let params = match KdfParams::new(m, t, p) {
        Ok(params) => params,
        Err(e) => {
            eprintln!("kdf-once: m={m} KiB t={t} p={p}: {e}");
            return ExitCode::from(2);
        }
    };
    let key = argon2id(&Passphrase::from(PASSWORD), SALT, &params);
    let hex: String = key.expose().iter().map(|b| format!("{b:02x}")).collect();
    println!("{hex}");
    ExitCode::SUCCESS
}
