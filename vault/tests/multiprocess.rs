//! Several OS processes write distinct keys to one vault at the same time;
//! every write must land (the lock + re-read-under-lock rule, FORMAT.md §7).
//!
//! The test binary re-runs itself as the writer processes: `child_writer`
//! does nothing unless `CREDVAULT_TEST_CHILD` is set.

use std::path::PathBuf;
use std::process::Command;

use credvault::{KdfParams, KeyName, NewSlot, Passphrase, PassphraseUnlocker, SecretValue, Vault};

const PROCESSES: usize = 6;
const KEYS_EACH: usize = 5;

#[test]
fn child_writer() {
    let (Ok(path), Ok(id)) = (
        std::env::var("CREDVAULT_TEST_CHILD"),
        std::env::var("CREDVAULT_TEST_ID"),
    ) else {
        return;
    };
    let mut v = Vault::open(
        &PathBuf::from(path),
        &mut PassphraseUnlocker::new(Passphrase::from("mp")),
    )
    .expect("child opens the vault");
    for k in 0..KEYS_EACH {
        let name = KeyName::new(&format!("p{id}.k{k}")).expect("valid name");
        v.set(&name, &SecretValue::new(format!("v{id}-{k}").into_bytes()))
            .expect("child set");
    }
}

#[test]
fn processes_writing_distinct_keys_lose_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mp.cvault");
    Vault::create(
        &path,
        NewSlot::Passphrase(
            &Passphrase::from("mp"),
            KdfParams::new(8192, 1, 1).expect("valid"),
        ),
    )
    .expect("create");
    let exe = std::env::current_exe().expect("test binary path");
    let children: Vec<_> = (0..PROCESSES)
        .map(|id| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--test-threads=1"])
                .env("CREDVAULT_TEST_CHILD", &path)
                .env("CREDVAULT_TEST_ID", id.to_string())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success(), "a writer failed");
    }
    let v = Vault::open(&path, &mut PassphraseUnlocker::new(Passphrase::from("mp"))).expect("open");
    assert_eq!(v.len(), PROCESSES * KEYS_EACH);
    for id in 0..PROCESSES {
        for k in 0..KEYS_EACH {
            let name = KeyName::new(&format!("p{id}.k{k}")).expect("valid");
            assert_eq!(
                v.get(&name).expect("opens").expect("present").expose(),
                format!("v{id}-{k}").as_bytes()
            );
        }
    }
    assert_eq!(v.header().save_counter, 1 + (PROCESSES * KEYS_EACH) as u64);
}
