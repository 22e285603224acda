//! How Argon2id parameters are shown: text, JSON and the weak warning.

use credvault::KdfParams;
use serde::Serialize;

/// Argon2id parameters as shown in JSON.
#[derive(Serialize)]
pub struct KdfJson {
    memory_kib: u32,
    memory_mib: u32,
    iterations: u32,
    parallelism: u32,
    weak: bool,
}

impl From<&KdfParams> for KdfJson {
    fn from(p: &KdfParams) -> Self {
        KdfJson {
            memory_kib: p.memory_kib(),
            memory_mib: p.memory_kib() / 1024,
            iterations: p.iterations(),
            parallelism: p.parallelism(),
            weak: p.is_weak(),
        }
    }
}

/// "m=64 MiB t=3 p=1".
pub fn describe(p: &KdfParams) -> String {
    let kib = p.memory_kib();
    let memory = if kib.is_multiple_of(1024) {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    };
    format!("m={memory} t={} p={}", p.iterations(), p.parallelism())
}

/// The warning for parameters below the OWASP floor.
pub fn weak_warning(p: &KdfParams) -> String {
    format!(
        "Argon2id {} is below the OWASP minimum (m=19 MiB t=2): a stolen vault file is cheap to attack; use such parameters only for tests",
        describe(p)
    )
}
