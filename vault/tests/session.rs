//! The session cache against the real Linux kernel keyring: cache, load,
//! expiry by the kernel's own timeout, forget, and reading the key from a
//! process whose session keyring does not link the user keyring.
//!
//! `child_load` does nothing unless `CREDVAULT_TEST_SESSION_CHILD` is set;
//! `load_works_from_a_fresh_session_keyring` runs this binary again under
//! `keyctl session -` (Debian package `keyutils`) with it set.

#![cfg(all(feature = "session", target_os = "linux"))]

use std::process::Command;
use std::time::Duration;

use credvault::session;
use credvault::{
    KdfParams, KeyName, NewSlot, OpenOptions, Passphrase, SecretKey, SecretValue, Vault,
};

fn random_id() -> [u8; 16] {
    *SecretKey::random()
        .expose()
        .first_chunk()
        .expect("32 >= 16")
}

#[test]
fn cache_load_forget() {
    let id = random_id();
    let dek = SecretKey::random();
    assert!(session::load(&id).is_none(), "nothing cached yet");
    session::cache(&id, &dek, Duration::from_secs(30)).expect("cache");
    assert_eq!(session::load(&id).expect("cached").expose(), dek.expose());

    // Caching again replaces the key.
    let dek2 = SecretKey::random();
    session::cache(&id, &dek2, Duration::from_secs(30)).expect("cache again");
    assert_eq!(session::load(&id).expect("cached").expose(), dek2.expose());

    assert!(session::forget(&id).expect("forget"));
    assert!(session::load(&id).is_none());
    assert!(!session::forget(&id).expect("forget again"));
    // Other vaults are not affected.
    assert!(session::load(&random_id()).is_none());
}

#[test]
fn the_kernel_expires_the_key() {
    let id = random_id();
    let dek = SecretKey::random();
    session::cache(&id, &dek, Duration::from_secs(1)).expect("cache");
    assert_eq!(session::load(&id).expect("cached").expose(), dek.expose());
    std::thread::sleep(Duration::from_millis(2500));
    assert!(session::load(&id).is_none(), "expired after its timeout");
    assert!(!session::forget(&id).expect("nothing left to forget"));
}

#[test]
fn a_zero_ttl_caches_nothing_and_clears() {
    let id = random_id();
    session::cache(&id, &SecretKey::random(), Duration::from_secs(30)).expect("cache");
    session::cache(&id, &SecretKey::random(), Duration::ZERO).expect("zero ttl");
    assert!(session::load(&id).is_none());
}

#[test]
fn the_key_in_the_user_keyring_has_a_timeout_and_user_read_permission() {
    let id = random_id();
    session::cache(&id, &SecretKey::random(), Duration::from_secs(60)).expect("cache");
    // /proc/keys: "<id> <flags> <usage> <timeout> <perm> <uid> <gid> <type> <description>: ..."
    let keys = std::fs::read_to_string("/proc/keys").expect("/proc/keys");
    let line = keys
        .lines()
        .find(|l| l.contains(&session::description(&id)))
        .expect("our key is listed");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(
        fields[3].ends_with('s') || fields[3].ends_with('m'),
        "timeout set: {line}"
    );
    assert_eq!(
        fields[4], "3f0b0000",
        "possessor all; user view+read+search: {line}"
    );
    assert_eq!(fields[7], "user");
    session::forget(&id).expect("forget");
}

#[test]
fn load_works_from_a_fresh_session_keyring() {
    if Command::new("keyctl").arg("--version").output().is_err() {
        // A real check CI must not skip (scripts/test.sh installs keyutils).
        assert!(
            std::env::var("CI").as_deref() != Ok("true")
                && std::env::var("CREDVAULT_TEST_STRICT").as_deref() != Ok("1"),
            "no `keyctl` (apt-get install keyutils): CI must not skip this"
        );
        eprintln!("skipping load_works_from_a_fresh_session_keyring: no `keyctl` (apt-get install keyutils)");
        return;
    }
    let id = random_id();
    let dek = SecretKey::random();
    session::cache(&id, &dek, Duration::from_secs(30)).expect("cache");
    // `keyctl session -` runs the child in a new anonymous session keyring
    // that does not link the user keyring: the key is not possessed there.
    let out = Command::new("keyctl")
        .args(["session", "-"])
        .arg(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_load", "--nocapture", "--test-threads=1"])
        .env(
            "CREDVAULT_TEST_SESSION_CHILD",
            format!("{}:{}", hex::encode(id), hex::encode(dek.expose())),
        )
        .output()
        .expect("run keyctl");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    session::forget(&id).expect("forget");
    assert!(out.status.success(), "child failed:\n{log}");
    assert!(log.contains("session child: loaded"), "child ran:\n{log}");
}

#[test]
fn child_load() {
    let Ok(spec) = std::env::var("CREDVAULT_TEST_SESSION_CHILD") else {
        return;
    };
    let (id, dek) = spec.split_once(':').expect("id:dek");
    let id: [u8; 16] = hex::decode(id).expect("hex").try_into().expect("16 bytes");
    let own = Command::new("keyctl")
        .args(["show", "@s"])
        .output()
        .expect("keyctl show");
    eprintln!(
        "child session keyring:\n{}",
        String::from_utf8_lossy(&own.stdout)
    );
    let loaded = session::load(&id).expect("a non-possessing process of the same user reads it");
    assert_eq!(hex::encode(loaded.expose()), dek);
    eprintln!("session child: loaded");
}

#[test]
fn open_uses_the_cache_and_drops_a_wrong_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.cvault");
    let kdf = KdfParams::new(8 * 1024, 1, 1).expect("params");
    let mut v =
        Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("pw"), kdf)).expect("create");
    let name = KeyName::new("openai.apiKey").expect("name");
    v.set(&name, &SecretValue::from("sk-1")).expect("set");
    let id = v.header().vault_id;

    assert!(session::open(&path, OpenOptions::default())
        .expect("read")
        .is_none());
    session::cache(&id, v.data_key(), Duration::from_secs(30)).expect("cache");
    let cached = session::open(&path, OpenOptions::default())
        .expect("read")
        .expect("opened from the cache");
    assert_eq!(cached.unlocked_by(), 0);
    assert_eq!(
        cached.get(&name).expect("get").expect("present").expose(),
        b"sk-1"
    );

    // A key that does not open the file (stale or planted) is removed.
    session::cache(&id, &SecretKey::random(), Duration::from_secs(30)).expect("cache");
    assert!(session::open(&path, OpenOptions::default())
        .expect("read")
        .is_none());
    assert!(session::load(&id).is_none(), "the wrong key was forgotten");

    // A missing file is an error, not a silent miss.
    assert!(session::open(&dir.path().join("missing.cvault"), OpenOptions::default()).is_err());
}
