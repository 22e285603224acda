//! Crypto benchmarks: the body AEAD and Argon2id.
//!
//! `cargo bench -p credvault-benches --bench crypto` measures the build
//! with the default `parallel` feature (Argon2id lanes on threads);
//! `... --bench crypto --no-default-features` the sequential build. The
//! Argon2id ids say which (`argon2id/parallel/...` or
//! `argon2id/sequential/...`), so both runs keep their own criterion
//! history; the AEAD ids do not depend on the feature.
//!
//! - `body_seal` / `body_open`: credvault's XChaCha20-Poly1305 wrappers
//!   against the `chacha20poly1305` crate used directly, on the same key,
//!   nonce, AAD and bytes, at 1 KiB, 64 KiB, 1 MiB and 8 MiB. The engine
//!   seals and opens the body with `credvault::crypto::seal_in_place` /
//!   `open_in_place`; `seal` / `open` (which seal values) allocate the
//!   output, and `open` zeroizes its plaintext on drop. The raw crate is
//!   measured in place (`encrypt_inout_detached` /
//!   `decrypt_inout_detached`, the aead 0.6 names of
//!   `encrypt_in_place_detached` / `decrypt_in_place_detached`) and, for
//!   the open, allocating (`Aead::decrypt`). In-place opens get a fresh,
//!   untimed copy of the ciphertext per iteration.
//! - `argon2id`: `credvault::crypto::kdf::argon2id` at two fixed,
//!   documented parameter sets: m=64 MiB t=3 p=4 (RFC 9106 §4, second
//!   recommended option, and the lanes `calibrate` gives) and m=19 MiB
//!   t=2 p=1 (the OWASP floor, below which tools warn).

use std::hint::black_box;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, AeadInOut, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use credvault::crypto::{self, kdf, Passphrase, SecretKey};
use credvault::KdfParams;
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion,
    SamplingMode, Throughput,
};

/// Body sizes: a handful of entries up to a vault of about 60,000.
const SIZES: [(usize, &str); 4] = [
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
    (8 * 1024 * 1024, "8MiB"),
];

/// Fixed inputs: the key and nonce do not change the cost.
const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 24] = [0x24; 24];

/// Stands in for the header the engine authenticates with the body (a
/// header with one passphrase slot is about this long).
const AAD_LEN: usize = 160;

/// Deterministic, incompressible-looking plaintext of `len` bytes.
fn plaintext(len: usize) -> Vec<u8> {
    let mut state = 0x853c_49e6_748f_ea9b_u64;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

fn cipher() -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(KEY))
}

/// Sampling of the AEAD groups: 20 linear samples (210 iterations) fit
/// 3 s even at 8 MiB.
fn configure_aead(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
}

fn body_seal(c: &mut Criterion) {
    let key = SecretKey::from_bytes(KEY);
    let aad = vec![0xa5; AAD_LEN];
    let mut group = c.benchmark_group("body_seal");
    configure_aead(&mut group);
    for (len, label) in SIZES {
        let plain = plaintext(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("credvault-seal", label), |b| {
            b.iter(|| crypto::seal(&key, &NONCE, black_box(&aad), black_box(&plain)));
        });
        // Both in-place variants seal the buffer over and over: the same
        // work on the same length, without an allocation or a copy.
        group.bench_function(BenchmarkId::new("credvault-seal_in_place", label), |b| {
            let mut buf = plain.clone();
            b.iter(|| {
                crypto::seal_in_place(&key, &NONCE, black_box(&aad), black_box(buf.as_mut_slice()))
            });
        });
        group.bench_function(BenchmarkId::new("chacha20poly1305-in-place", label), |b| {
            let mut buf = plain.clone();
            b.iter(|| {
                cipher()
                    .encrypt_inout_detached(
                        &XNonce::from(NONCE),
                        black_box(&aad),
                        black_box(buf.as_mut_slice()).into(),
                    )
                    .expect("seal")
            });
        });
    }
    group.finish();
}

fn body_open(c: &mut Criterion) {
    let key = SecretKey::from_bytes(KEY);
    let aad = vec![0xa5; AAD_LEN];
    let mut group = c.benchmark_group("body_open");
    configure_aead(&mut group);
    for (len, label) in SIZES {
        let sealed = crypto::seal(&key, &NONCE, &aad, &plaintext(len));
        let (ciphertext, tag) = sealed.split_at(len);
        let tag: [u8; 16] = tag.try_into().expect("16-byte tag");
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("credvault-open", label), |b| {
            b.iter(|| {
                crypto::open(&key, &NONCE, black_box(&aad), black_box(&sealed)).expect("open")
            });
        });
        // An in-place open needs the ciphertext back every time (the tag is
        // checked first): each iteration gets a fresh, untimed copy.
        group.bench_function(BenchmarkId::new("credvault-open_in_place", label), |b| {
            b.iter_batched_ref(
                || ciphertext.to_vec(),
                |buf| {
                    crypto::open_in_place(&key, &NONCE, black_box(&aad), buf, &tag).expect("open")
                },
                BatchSize::LargeInput,
            );
        });
        group.bench_function(BenchmarkId::new("chacha20poly1305-decrypt", label), |b| {
            b.iter(|| {
                cipher()
                    .decrypt(
                        &XNonce::from(NONCE),
                        Payload {
                            msg: black_box(&sealed),
                            aad: black_box(&aad),
                        },
                    )
                    .expect("open")
            });
        });
        group.bench_function(BenchmarkId::new("chacha20poly1305-in-place", label), |b| {
            b.iter_batched_ref(
                || ciphertext.to_vec(),
                |buf| {
                    cipher()
                        .decrypt_inout_detached(
                            &XNonce::from(NONCE),
                            black_box(&aad),
                            buf.as_mut_slice().into(),
                            &tag.into(),
                        )
                        .expect("open")
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// `parallel` or `sequential`: which argon2 build this bench binary has.
const ARGON2_BUILD: &str = if cfg!(feature = "parallel") {
    "parallel"
} else {
    "sequential"
};

fn argon2id(c: &mut Criterion) {
    // (memory KiB, passes, lanes, id)
    let sets = [
        (64 * 1024, 3, 4, "m64M_t3_p4"),
        (19 * 1024, 2, 1, "m19M_t2_p1"),
    ];
    let passphrase = Passphrase::from("correct horse battery staple");
    let salt = [0x5a; 32];
    let mut group = c.benchmark_group("argon2id");
    // A derivation takes a good fraction of a second: 10 samples of equal
    // iteration counts, not criterion's linear ramp.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for (memory_kib, iterations, parallelism, label) in sets {
        let params = KdfParams::new(memory_kib, iterations, parallelism).expect("valid parameters");
        group.bench_function(BenchmarkId::new(ARGON2_BUILD, label), |b| {
            b.iter(|| kdf::argon2id(&passphrase, black_box(&salt), &params));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Without gnuplot, criterion draws its plots with plotters, about 4 s
    // per benchmark on a 2-core machine: more than the measuring time. The
    // estimates (target/criterion/*/new/estimates.json) and baselines
    // (`--save-baseline`, `--baseline`) do not need them.
    config = Criterion::default().without_plots();
    targets = body_seal, body_open, argon2id
}
criterion_main!(benches);
