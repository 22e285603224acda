//! Engine benchmarks: `open`, `open_with_key`, `save`, `set`,
//! `durable_write`, `get` and `list` on vaults of 10, 1,000, 10,000 and
//! 100,000 entries, through the public API only (the body codec underneath
//! may change freely).
//!
//! `cargo bench -p credvault-benches --bench engine` takes about three
//! minutes on two cores; append `-- open/` (or any id prefix) to run a
//! subset.
//!
//! - KDF: every vault has one passphrase slot with
//!   [`credvault_benches::bench_kdf`] (Argon2id m=8 MiB, t=1, p=1), a fixed
//!   cheap KDF that keeps the KDF out of the numbers. `open` still pays it
//!   once per open; `open_with_key` skips it, so it shows the read, decrypt
//!   and decode cost alone, and the difference of the two is the unlock.
//! - Files: each vault lives in its own temp dir under
//!   `CARGO_TARGET_TMPDIR` (`target/tmp`), i.e. on the target dir's file
//!   system, not in `/tmp`, which is a tmpfs on many systems and would make
//!   fsync free.
//! - Saves are durable: take the lock, re-read the file, encode, seal,
//!   write a temp file, fsync, rename, fsync the directory, rotate the
//!   default 3 generations. `save`, `set` and `durable_write` therefore
//!   measure the disk as much as the engine; `durable_write` is that I/O
//!   alone (the same bytes through `store::replace`), so `save` minus
//!   `durable_write` minus `open_with_key` is roughly encode + seal.
//!   `save` (a one-change transaction) and `set` run the same code today:
//!   `Vault::set` is a one-change transaction.
//! - Each vault is built once per size, in one transaction (one save).
//! - `cargo test --benches` (criterion's test mode: every benchmark once, as
//!   a smoke test) runs the two small sizes only: the test profile builds
//!   credvault unoptimised, and 100,000 entries would take a minute there.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use credvault::{OpenOptions, SecretKey, SetOptions, Vault};
use credvault_benches::{build_vault, entry_name, entry_value, open_vault};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use tempfile::TempDir;

/// Vault sizes, in entries.
const SIZES: [usize; 4] = [10, 1_000, 10_000, 100_000];

/// Sizes in criterion's test mode (module docs).
const TEST_MODE_SIZES: [usize; 2] = [10, 1_000];

/// Whether criterion runs benchmarks for real: `cargo bench` passes
/// `--bench` to the binary, `cargo test --benches` does not.
fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// A bench vault of one size, built on first use.
struct Fixture {
    entries: usize,
    built: OnceLock<Built>,
}

/// A bench vault on disk.
struct Built {
    /// Removed, with the vault and its generations, when the bench ends.
    dir: TempDir,
    path: PathBuf,
    file_len: u64,
    dek: SecretKey,
}

impl Fixture {
    fn new(entries: usize) -> Fixture {
        Fixture {
            entries,
            built: OnceLock::new(),
        }
    }

    fn built(&self) -> &Built {
        self.built.get_or_init(|| {
            let dir = tempfile::Builder::new()
                .prefix("credvault-engine-bench-")
                .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                .expect("temp dir in CARGO_TARGET_TMPDIR");
            let path = dir.path().join(format!("{}.cvault", self.entries));
            let vault = build_vault(&path, self.entries).expect("build the bench vault");
            let dek = vault.data_key().clone();
            let file_len = std::fs::metadata(&path).expect("vault metadata").len();
            eprintln!(
                "engine: vault of {} entries is {} bytes ({})",
                self.entries,
                file_len,
                path.display()
            );
            Built {
                dir,
                path,
                file_len,
                dek,
            }
        })
    }

    /// A freshly opened vault (unlocked with the passphrase).
    fn open(&self) -> Vault {
        open_vault(&self.built().path).expect("open the bench vault")
    }

    fn id(&self) -> BenchmarkId {
        BenchmarkId::from_parameter(self.entries)
    }

    fn elements(&self) -> Throughput {
        Throughput::Elements(self.entries as u64)
    }
}

/// What a benchmark's iteration mostly costs, for [`configure`].
#[derive(Clone, Copy)]
enum Cost {
    /// Microseconds in memory (`get`, `list`).
    Memory,
    /// A file read or write, milliseconds (`open`, `durable_write`).
    Disk,
    /// A whole durable save: up to a second at 100,000 entries.
    Save,
}

/// Sampling for one size and cost, so the whole bench stays within a few
/// minutes on two cores without criterion's "unable to complete" warnings:
/// anything touching the disk takes flat samples (equal iteration counts),
/// fewer of them as vaults grow, and 100,000-entry saves get 10 samples in
/// a 12-second window.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, entries: usize, cost: Cost) {
    group.warm_up_time(Duration::from_secs(1));
    let (mode, samples, secs) = match (cost, entries) {
        (Cost::Memory, _) => (SamplingMode::Auto, 30, 2),
        (_, 0..=1_000) => (SamplingMode::Flat, 30, 2),
        (_, 1_001..=10_000) => (SamplingMode::Flat, 15, 3),
        (Cost::Disk, _) => (SamplingMode::Flat, 10, 5),
        (Cost::Save, _) => (SamplingMode::Flat, 10, 12),
    };
    group
        .sampling_mode(mode)
        .sample_size(samples)
        .measurement_time(Duration::from_secs(secs));
}

/// Unlock (Argon2id with the cheap parameters), read, decrypt and decode.
fn open(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("open");
    for fixture in fixtures {
        configure(&mut group, fixture.entries, Cost::Disk);
        group.throughput(fixture.elements());
        group.bench_function(fixture.id(), |b| {
            let path = &fixture.built().path;
            b.iter(|| open_vault(black_box(path)).expect("open"));
        });
    }
    group.finish();
}

/// Read, decrypt and decode with the data key: `open` without the KDF.
fn open_with_key(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("open_with_key");
    for fixture in fixtures {
        configure(&mut group, fixture.entries, Cost::Disk);
        group.throughput(fixture.elements());
        group.bench_function(fixture.id(), |b| {
            let built = fixture.built();
            b.iter(|| {
                Vault::open_with_key(
                    black_box(&built.path),
                    built.dek.clone(),
                    OpenOptions::default(),
                )
                .expect("open with key")
            });
        });
    }
    group.finish();
}

/// A transaction changing one existing entry, committed: a durable save of
/// the whole vault (fsyncs).
fn save(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("save");
    for fixture in fixtures {
        configure(&mut group, fixture.entries, Cost::Save);
        group.throughput(fixture.elements());
        let mut vault = None;
        let mut round = 0u64;
        let i = fixture.entries / 2;
        let name = entry_name(i);
        group.bench_function(fixture.id(), |b| {
            let vault = vault.get_or_insert_with(|| fixture.open());
            b.iter(|| {
                round += 1;
                let mut tx = vault.transaction();
                tx.set(&name, &entry_value(i, round), SetOptions::default())
                    .expect("set");
                let committed = tx.commit().expect("commit");
                assert!(committed.saved);
            });
        });
    }
    group.finish();
}

/// `Vault::set` of an existing entry on an open vault: also a durable save
/// of the whole vault (it is a one-change transaction).
fn set(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("set");
    for fixture in fixtures {
        configure(&mut group, fixture.entries, Cost::Save);
        group.throughput(fixture.elements());
        let mut vault = None;
        let mut round = 0u64;
        let i = fixture.entries / 3;
        let name = entry_name(i);
        group.bench_function(fixture.id(), |b| {
            let vault = vault.get_or_insert_with(|| fixture.open());
            b.iter(|| {
                round += 1;
                vault.set(&name, &entry_value(i, round)).expect("set");
            });
        });
    }
    group.finish();
}

/// The I/O of a save alone: the vault's bytes written to a sibling file
/// with `store::replace` (temp file, fsync, rename, fsync the directory).
fn durable_write(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("durable_write");
    for fixture in fixtures {
        configure(&mut group, fixture.entries, Cost::Disk);
        group.throughput(Throughput::Bytes(fixture.built().file_len));
        group.bench_function(fixture.id(), |b| {
            let built = fixture.built();
            let bytes = std::fs::read(&built.path).expect("read the vault");
            let scratch = built.dir.path().join("scratch.bin");
            b.iter(|| credvault::store::replace(&scratch, black_box(&bytes)).expect("replace"));
        });
    }
    group.finish();
}

/// Unsealing one entry of an open vault (a lookup and one small AEAD open).
fn get(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("get");
    for fixture in fixtures {
        configure(&mut group, fixture.entries, Cost::Memory);
        let mut vault = None;
        let name = entry_name(fixture.entries / 2);
        group.bench_function(fixture.id(), |b| {
            let vault: &Vault = vault.get_or_insert_with(|| fixture.open());
            b.iter(|| {
                vault
                    .get(black_box(&name))
                    .expect("get")
                    .expect("entry present")
            });
        });
    }
    group.finish();
}

/// All names of an open vault, sorted (no prefix).
fn list(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = c.benchmark_group("list");
    for fixture in fixtures {
        configure(&mut group, fixture.entries, Cost::Memory);
        group.throughput(fixture.elements());
        let mut vault = None;
        group.bench_function(fixture.id(), |b| {
            let vault: &Vault = vault.get_or_insert_with(|| fixture.open());
            b.iter(|| vault.list(black_box(None)));
        });
    }
    group.finish();
}

fn engine(c: &mut Criterion) {
    let sizes: &[usize] = if measuring() {
        &SIZES
    } else {
        &TEST_MODE_SIZES
    };
    let fixtures: Vec<Fixture> = sizes.iter().copied().map(Fixture::new).collect();
    open(c, &fixtures);
    open_with_key(c, &fixtures);
    save(c, &fixtures);
    set(c, &fixtures);
    durable_write(c, &fixtures);
    get(c, &fixtures);
    list(c, &fixtures);
}

criterion_group! {
    name = benches;
    // Without gnuplot, criterion draws its plots with plotters, about 4 s
    // per benchmark on a 2-core machine: twice the measuring time. The
    // estimates (target/criterion/*/new/estimates.json) and baselines
    // (`--save-baseline`, `--baseline`) do not need them.
    config = Criterion::default().without_plots();
    targets = engine
}
criterion_main!(benches);
