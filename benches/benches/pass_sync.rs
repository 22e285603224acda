//! `pass sync` with nothing to do: `credvault::pass::sync` of a vault and a
//! real password store of 1,000 entries that are already in step (issue
//! 17's target: under 2 s; gpg costs ~20 ms per decryption, so a sync that
//! decrypted every file would take 20 s or more).
//!
//! `cargo bench -p credvault-benches --bench pass_sync` needs the real
//! `pass` and `gpg` (Debian `pass gnupg`). Setup: a throwaway GNUPGHOME
//! with a batch-generated key without passphrase and a store initialised
//! for it, under `CARGO_TARGET_TMPDIR`; one file encrypted with gpg and
//! copied to 1,000 entry names; one `pass::import` (1,000 decryptions
//! through `pass show`, about a minute on two cores, not measured). Then
//! each iteration is one no-op sync: a walk of the store directory, 1,000
//! vault values unsealed and MACed, the sync state compared, no gpg run,
//! no save. `cargo test --benches` runs it once on 20 entries.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use credvault::pass::{self, PassBackend, PassOptions, Prefix, Status};
use credvault::{NewSlot, Passphrase, Vault};
use credvault_benches::bench_kdf;
use criterion::{criterion_group, criterion_main, Criterion};

/// Entries in the store when measuring.
const ENTRIES: usize = 1_000;

fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// The throwaway GNUPGHOME; its gpg-agent is stopped on drop.
struct Gnupg(PathBuf);

impl Drop for Gnupg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.0)
            .status();
    }
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.stderr(Stdio::inherit()).output().expect("run a tool");
    assert!(out.status.success(), "{cmd:?} failed");
    out.stdout
}

fn setup(root: &Path, entries: usize) -> (Gnupg, PassBackend, Vault) {
    let home = root.join("gnupg");
    std::fs::create_dir(&home).expect("GNUPGHOME");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
            .expect("chmod GNUPGHOME");
    }
    let gnupg = Gnupg(home.clone());
    // The `pass` children inherit it (single-threaded here).
    std::env::set_var("GNUPGHOME", &home);
    run(Command::new("gpg").args([
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        "credvault bench <bench@example.invalid>",
        "future-default",
        "default",
        "never",
    ]));
    let listing = run(Command::new("gpg").args(["--batch", "--with-colons", "--list-keys"]));
    let fingerprint = String::from_utf8_lossy(&listing)
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|l| l.trim_matches(':').to_owned())
        .expect("a fingerprint");
    let store = root.join("store");
    let dir = store.join("claude/bench");
    std::fs::create_dir_all(&dir).expect("store dir");
    std::fs::write(store.join(".gpg-id"), format!("{fingerprint}\n")).expect(".gpg-id");
    let first = dir.join("e00000.gpg");
    let mut child = Command::new("gpg")
        .args(["--batch", "--yes", "-e", "-r", &fingerprint, "-o"])
        .arg(&first)
        .stdin(Stdio::piped())
        .spawn()
        .expect("gpg -e");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"a bench value\n")
            .expect("write the value");
    }
    assert!(child.wait().expect("gpg -e").success());
    for i in 1..entries {
        std::fs::copy(&first, dir.join(format!("e{i:05}.gpg"))).expect("copy an entry");
    }
    let backend = PassBackend::new(&store);
    let mut vault = Vault::create(
        &root.join("bench.cvault"),
        NewSlot::Passphrase(&Passphrase::from("bench"), bench_kdf()),
    )
    .expect("vault");
    let report = pass::import(&mut vault, &backend, &PassOptions::default()).expect("import");
    assert_eq!(report.count(Status::Imported), entries, "{report:?}");
    (gnupg, backend, vault)
}

fn pass_sync(c: &mut Criterion) {
    let entries = if measuring() { ENTRIES } else { 20 };
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let (_gnupg, backend, mut vault) = setup(root.path(), entries);
    let options = PassOptions {
        prefix: Prefix::default(),
        ..PassOptions::default()
    };
    let mut group = c.benchmark_group("pass_sync");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function(format!("noop/{entries}"), |b| {
        b.iter(|| {
            let report = pass::sync(&mut vault, &backend, &options).expect("sync");
            assert_eq!(report.count(Status::Unchanged), entries);
            assert!(!report.saved);
            black_box(report)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = pass_sync
}
criterion_main!(benches);
