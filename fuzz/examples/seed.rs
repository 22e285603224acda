//! Writes the seed corpora from `spec/vectors/`:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seed
//! ```
//!
//! - `fuzz_header`, `fuzz_open`: every vector's file; `fuzz_header` also
//!   gets each parseable header's CBOR on its own.
//! - `fuzz_body`: every body plaintext the vector's credentials decrypt
//!   (valid and invalid bodies alike), and the fixture's.
//! - `fuzz_mutate_valid`: a few fixed plans (the input is an `arbitrary`
//!   plan, not a file).
//!
//! Seeds are named `seed-<vector>[.<part>]`, so the files libFuzzer adds
//! (named by hash) stay apart.

use std::fs;
use std::path::{Path, PathBuf};

use credvault::format::{self, PREFIX_LEN};
use credvault::{crypto, unlock, KdfLimits, Passphrase, RecoveryKey, SecretKey, Unlocker};
use credvault_fuzz::{fixture, testkit};

struct Credentials(testkit::Vector);

impl Unlocker for Credentials {
    fn passphrase(&mut self) -> Option<Passphrase> {
        self.0
            .passphrase
            .take()
            .map(|p| Passphrase::from(p.as_str()))
    }

    fn recovery_key(&mut self) -> Option<RecoveryKey> {
        self.0.recovery.take().and_then(RecoveryKey::from_bytes)
    }
}

/// The body plaintext of `file`, if the vector's credentials open it.
fn body_plaintext(vector: testkit::Vector) -> Option<Vec<u8>> {
    let file = vector.file.clone();
    let parsed = format::parse_file(&file).ok()?;
    let (dek, _) = unlock(
        &parsed.header,
        &mut Credentials(vector),
        &KdfLimits::default(),
    )
    .ok()?;
    let body_key: SecretKey =
        crypto::hkdf(dek.expose(), &parsed.header.vault_id, fixture::BODY_INFO);
    crypto::open(
        &body_key,
        &parsed.header.body_nonce,
        parsed.aad,
        parsed.body_ciphertext,
    )
    .ok()
    .map(|p| p.to_vec())
}

fn write(root: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = root.join(target);
    fs::create_dir_all(&dir).expect("create corpus dir");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = fuzz.join("corpus");
    let vectors = fuzz.join("../spec/vectors");
    let mut paths: Vec<PathBuf> = fs::read_dir(&vectors)
        .expect("spec/vectors")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "testkit"))
        .collect();
    paths.sort();
    let mut counts = [0usize; 4];
    for path in &paths {
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let Some(vector) = testkit::parse(&fs::read(path).expect("read vector")) else {
            panic!("{name}: not a testkit file");
        };
        write(&corpus, "fuzz_header", name, &vector.file);
        write(&corpus, "fuzz_open", name, &vector.file);
        counts[0] += 1;
        counts[2] += 1;
        if let Ok(prefix) = format::Prefix::parse(&vector.file) {
            let header = &vector.file[PREFIX_LEN..PREFIX_LEN + prefix.header_len as usize];
            write(&corpus, "fuzz_header", &format!("{name}.header"), header);
            counts[0] += 1;
        }
        if let Some(plain) = body_plaintext(vector) {
            write(&corpus, "fuzz_body", name, &plain);
            counts[1] += 1;
        }
    }
    let f = fixture::fixture();
    write(&corpus, "fuzz_body", "fixture", &f.body_plain);
    write(&corpus, "fuzz_header", "fixture", &f.file);
    write(&corpus, "fuzz_open", "fixture", &f.file);
    counts[0] += 1;
    counts[1] += 1;
    counts[2] += 1;
    // Plans: empty (the unchanged fixture, first credential) and a few
    // fixed pseudo-random ones of growing length.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for (i, len) in [0usize, 8, 32, 128, 512].into_iter().enumerate() {
        let plan: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        write(&corpus, "fuzz_mutate_valid", &format!("plan{i}"), &plan);
        counts[3] += 1;
    }
    println!(
        "seeded from {} vectors: fuzz_header {}, fuzz_body {}, fuzz_open {}, fuzz_mutate_valid {}",
        paths.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
}
