//! Keychain slots against the real OS keychain (FORMAT.md §4.3).
//!
//! `CREDVAULT_TEST_KEYRING` (read at run time; the harness is
//! `credvault_test_support::secret_service`) says what this machine has:
//!
//! - `secret-service`: inside `scripts/with-secret-service.sh` (a private
//!   D-Bus session with an unlocked gnome-keyring); the Secret Service
//!   tests run, and the no-keychain tests are skipped.
//! - `absent`: inside `scripts/without-dbus.sh` (no D-Bus at all); the
//!   fallback tests run, and the Secret Service tests are skipped.
//! - unset: a developer's plain `cargo test`. The fallback tests run when
//!   no session bus can be found (no `DBUS_SESSION_BUS_ADDRESS`, no
//!   `$XDG_RUNTIME_DIR/bus`); everything else is skipped with a note,
//!   so a real login keyring is never touched.
//!
//! The locked-keyring tests re-run this binary inside a second, private
//! Secret Service (the `*_child` tests do nothing unless
//! `CREDVAULT_TEST_CHILD` names them), because a locked collection cannot
//! be unlocked again without a prompt and would break the other tests
//! sharing the first one.

#![cfg(feature = "keychain")]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use credvault::slots::keychain::{account_name, DEFAULT_TIMEOUT, SERVICE};
use credvault::{
    Keychain, KeychainCleanup, KeychainError, KeychainUnlocker, NewSlot, OpenOptions, Passphrase,
    PassphraseUnlocker, SecretKey, SecretValue, UnlockError, Unlocker, Vault, VaultError,
};
use credvault_test_support::secret_service::{
    listed_accounts, run_in_private_secret_service, secret_tool, wants, Mode,
};
use credvault_test_support::{key as name, weak_kdf};

/// Serialises the Secret Service tests: some compare the whole list of
/// credvault items before and after.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn connect() -> Keychain {
    Keychain::connect(DEFAULT_TIMEOUT).expect("the test Secret Service is reachable")
}

/// Supplies nothing: only the keychain can open the vault.
struct Nothing;
impl Unlocker for Nothing {}

fn temp_vault(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("kc.cvault")
}

// ---- with a real Secret Service ---------------------------------------------

#[test]
fn kek_round_trips_as_hex_text_readable_by_secret_tool() {
    if !wants(
        Mode::SecretService,
        "kek_round_trips_as_hex_text_readable_by_secret_tool",
    ) {
        return;
    }
    let _serial = serial();
    let kc = connect();
    kc.probe().expect("an unlocked keyring is writable");

    let account = account_name(&[0xab; 16], 9);
    let key = SecretKey::random();
    kc.store_kek(SERVICE, &account, &key).expect("store");
    assert_eq!(
        kc.load_kek(SERVICE, &account).expect("load").expose(),
        key.expose()
    );

    // The item is 64 lowercase hex digits, as FORMAT.md §4.3 says.
    let out = secret_tool(&["lookup", "service", SERVICE, "username", &account]);
    assert!(out.status.success(), "secret-tool lookup: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        hex::encode(key.expose())
    );

    // Overwriting replaces the one item (no duplicates, no Ambiguous).
    let key2 = SecretKey::random();
    kc.store_kek(SERVICE, &account, &key2).expect("store again");
    assert_eq!(
        kc.load_kek(SERVICE, &account).expect("load").expose(),
        key2.expose()
    );

    assert!(kc.delete(SERVICE, &account).expect("delete"));
    assert!(!kc.delete(SERVICE, &account).expect("delete again"));
    assert!(matches!(
        kc.load_kek(SERVICE, &account),
        Err(KeychainError::NoEntry)
    ));
}

#[test]
fn an_item_that_is_not_a_key_is_refused() {
    if !wants(Mode::SecretService, "an_item_that_is_not_a_key_is_refused") {
        return;
    }
    let _serial = serial();
    let kc = connect();
    let account = account_name(&[0xcd; 16], 1);
    let mut child = Command::new("secret-tool")
        .args([
            "store",
            "--label=not a key",
            "service",
            SERVICE,
            "username",
            &account,
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("secret-tool runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(b"hunter2")
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let err = kc.load_kek(SERVICE, &account).unwrap_err();
    assert!(matches!(err, KeychainError::NotAKey), "{err}");
    assert!(!err.to_string().contains("hunter2"));
    assert!(kc.delete(SERVICE, &account).expect("delete"));
}

#[test]
fn keychain_vault_lifecycle() {
    if !wants(Mode::SecretService, "keychain_vault_lifecycle") {
        return;
    }
    let _serial = serial();
    let kc = connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);

    // init with a keychain slot: slot 1, named after the vault id.
    let mut v = Vault::create_with_keychain(&path, &kc, OpenOptions::default()).expect("create");
    let vault_id = v.header().vault_id;
    let account = account_name(&vault_id, 1);
    assert_eq!(v.slots().len(), 1);
    assert_eq!(v.slots()[0].type_name(), "keychain");
    assert!(listed_accounts(SERVICE).contains(&account), "item written");
    v.set(&name("github.token"), &SecretValue::from("gh-1"))
        .expect("set");

    // Reopen with no passphrase at all: the keychain opens it.
    let reopened = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).expect("keychain open");
    assert_eq!(reopened.unlocked_by(), 1);
    let got = reopened
        .get(&name("github.token"))
        .expect("get")
        .expect("present");
    assert_eq!(got.expose(), b"gh-1");

    // Add a portable passphrase slot, then drop the keychain slot.
    let pw_id = v
        .add_slot(NewSlot::Passphrase(&Passphrase::from("pw"), weak_kdf()))
        .expect("add passphrase slot");
    assert_eq!(pw_id, 2);
    let cleanup = v
        .remove_slot_with_keychain(1, &kc)
        .expect("remove keychain slot");
    assert!(matches!(cleanup, KeychainCleanup::Deleted), "{cleanup:?}");
    assert!(!listed_accounts(SERVICE).contains(&account), "item deleted");
    assert!(matches!(
        kc.load_kek(SERVICE, &account),
        Err(KeychainError::NoEntry)
    ));

    // Only the passphrase opens it now.
    let err = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).unwrap_err();
    assert!(
        matches!(
            err,
            VaultError::Unlock(UnlockError::NoCredentials { keychain: None, .. })
        ),
        "{err}"
    );
    let v2 = Vault::open(
        &path,
        &mut KeychainUnlocker::new(PassphraseUnlocker::new(Passphrase::from("pw"))),
    )
    .expect("passphrase open");
    assert_eq!(v2.unlocked_by(), 2);

    // Add a keychain slot back to the passphrase vault: id 3, own item.
    let mut v2 = v2;
    let kc_id = v2.add_keychain_slot(&kc).expect("add keychain slot");
    assert_eq!(kc_id, 3);
    let account3 = account_name(&vault_id, 3);
    assert!(listed_accounts(SERVICE).contains(&account3));
    let v3 = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).expect("keychain open");
    assert_eq!(v3.unlocked_by(), 3);
    assert_eq!(
        v3.get(&name("github.token"))
            .expect("get")
            .expect("present")
            .expose(),
        b"gh-1"
    );

    // Removing a passphrase slot through the keychain path leaves the
    // keychain alone.
    let cleanup = v2
        .remove_slot_with_keychain(2, &kc)
        .expect("remove passphrase slot");
    assert!(matches!(cleanup, KeychainCleanup::NotKeychain));
    assert!(listed_accounts(SERVICE).contains(&account3));
    assert!(matches!(
        v2.remove_slot_with_keychain(3, &kc),
        Err(VaultError::LastSlot)
    ));
    assert!(kc.delete(SERVICE, &account3).expect("clean up"));
}

#[test]
fn an_item_deleted_behind_the_vaults_back_falls_through_to_the_passphrase() {
    if !wants(
        Mode::SecretService,
        "an_item_deleted_behind_the_vaults_back_falls_through_to_the_passphrase",
    ) {
        return;
    }
    let _serial = serial();
    let kc = connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    let mut v = Vault::create_with_keychain(&path, &kc, OpenOptions::default()).expect("create");
    v.set(&name("postgresql.password"), &SecretValue::from("pg"))
        .expect("set");
    v.add_slot(NewSlot::Passphrase(&Passphrase::from("pw"), weak_kdf()))
        .expect("add passphrase slot");
    let account = account_name(&v.header().vault_id, 1);

    // Another program removes the item.
    let out = secret_tool(&["clear", "service", SERVICE, "username", &account]);
    assert!(out.status.success(), "secret-tool clear: {out:?}");

    // No passphrase: a clear error naming the keychain problem.
    let err = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).unwrap_err();
    let VaultError::Unlock(UnlockError::NoCredentials {
        keychain: Some(reason),
        slots,
    }) = &err
    else {
        panic!("expected no credentials with a keychain reason, got {err}");
    };
    assert_eq!(slots, "keychain, passphrase");
    assert!(reason.contains("no item"), "{reason}");
    let shown = err.to_string();
    assert!(
        shown.contains("keychain:") && !shown.contains('\n'),
        "{shown}"
    );
    eprintln!("shown to the user: {shown}");

    // With the passphrase: opens through slot 2.
    let v2 = Vault::open(
        &path,
        &mut KeychainUnlocker::new(PassphraseUnlocker::new(Passphrase::from("pw"))),
    )
    .expect("falls through to the passphrase");
    assert_eq!(v2.unlocked_by(), 2);

    // Removing the dangling slot reports the item as already gone.
    let cleanup = v.remove_slot_with_keychain(1, &kc).expect("remove");
    assert!(
        matches!(cleanup, KeychainCleanup::AlreadyGone),
        "{cleanup:?}"
    );
}

#[test]
fn a_keychain_only_vault_without_its_item_reports_the_keychain() {
    if !wants(
        Mode::SecretService,
        "a_keychain_only_vault_without_its_item_reports_the_keychain",
    ) {
        return;
    }
    let _serial = serial();
    let kc = connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    let v = Vault::create_with_keychain(&path, &kc, OpenOptions::default()).expect("create");
    assert!(kc
        .delete(SERVICE, &account_name(&v.header().vault_id, 1))
        .expect("delete"));
    let err = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).unwrap_err();
    assert!(
        matches!(&err, VaultError::Unlock(UnlockError::Keychain(r)) if r.contains("no item")),
        "{err}"
    );
}

#[test]
fn create_with_keychain_never_overwrites_and_leaves_no_item() {
    if !wants(
        Mode::SecretService,
        "create_with_keychain_never_overwrites_and_leaves_no_item",
    ) {
        return;
    }
    let _serial = serial();
    let kc = connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    std::fs::write(&path, b"something else").expect("write");
    let before = listed_accounts(SERVICE);
    let err = Vault::create_with_keychain(&path, &kc, OpenOptions::default()).unwrap_err();
    assert!(matches!(err, VaultError::Store(_)), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), b"something else");
    assert_eq!(listed_accounts(SERVICE), before, "no new item");
}

#[test]
fn slots_naming_another_service_are_neither_read_nor_deleted() {
    if !wants(
        Mode::SecretService,
        "slots_naming_another_service_are_neither_read_nor_deleted",
    ) {
        return;
    }
    let _serial = serial();
    let kc = connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    // A crafted vault whose keychain slot points at another program's item.
    let kek = SecretKey::random();
    kc.store_kek("not-credvault", "someone", &kek)
        .expect("store");
    Vault::create(
        &path,
        NewSlot::Keychain {
            service: "not-credvault",
            account: "someone",
            kek: &kek,
        },
    )
    .expect("create");
    let err = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).unwrap_err();
    assert!(
        matches!(&err, VaultError::Unlock(UnlockError::Keychain(r)) if r.contains("refusing")),
        "{err}"
    );
    // Nor is it deleted when such a slot is removed.
    let mut v = Vault::create(
        &dir.path().join("second.cvault"),
        NewSlot::Passphrase(&Passphrase::from("pw"), weak_kdf()),
    )
    .expect("create");
    v.add_slot(NewSlot::Keychain {
        service: "not-credvault",
        account: "someone",
        kek: &kek,
    })
    .expect("add a foreign keychain slot");
    let cleanup = v.remove_slot_with_keychain(2, &kc).expect("remove");
    assert!(matches!(cleanup, KeychainCleanup::NotOurs), "{cleanup:?}");
    assert_eq!(
        kc.load_kek("not-credvault", "someone")
            .expect("still there")
            .expose(),
        kek.expose()
    );
    assert!(kc.delete("not-credvault", "someone").expect("clean up"));
}

#[test]
fn a_locked_keyring_fails_fast() {
    if !wants(Mode::SecretService, "a_locked_keyring_fails_fast") {
        return;
    }
    let _serial = serial();
    run_in_private_secret_service(
        "locked_keyring_child",
        &[("CREDVAULT_TEST_CHILD", "locked")],
    );
}

#[test]
fn a_service_without_a_login_keyring_is_not_writable() {
    if !wants(
        Mode::SecretService,
        "a_service_without_a_login_keyring_is_not_writable",
    ) {
        return;
    }
    let _serial = serial();
    run_in_private_secret_service(
        "no_login_keyring_child",
        &[
            ("CREDVAULT_TEST_CHILD", "no-login"),
            ("SECRET_SERVICE_LOCKED", "1"),
        ],
    );
}

/// gnome-keyring running but never unlocked (no login keyring exists): a
/// desktop session before the first unlock, or a headless one. `init`
/// must see it as unusable, fast.
#[test]
fn no_login_keyring_child() {
    if std::env::var("CREDVAULT_TEST_CHILD").as_deref() != Ok("no-login") {
        return;
    }
    let kc = connect();
    let t = Instant::now();
    let err = kc.probe().unwrap_err();
    let took = t.elapsed();
    eprintln!("no login keyring: probe failed in {took:?}: {err}");
    assert!(matches!(err, KeychainError::Locked), "{err}");
    assert!(took < Duration::from_secs(1));
    eprintln!("no_login_keyring_child: done");
}

#[test]
fn locked_keyring_child() {
    if std::env::var("CREDVAULT_TEST_CHILD").as_deref() != Ok("locked") {
        return;
    }
    let kc = connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    let mut v = Vault::create_with_keychain(&path, &kc, OpenOptions::default()).expect("create");
    v.add_slot(NewSlot::Passphrase(&Passphrase::from("pw"), weak_kdf()))
        .expect("add passphrase slot");
    let account = account_name(&v.header().vault_id, 1);

    // Lock the default collection the way a screen lock does.
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ])
        .output()
        .expect("dbus-send runs");
    assert!(out.status.success(), "lock: {out:?}");

    // Reading and writing now need an unlock prompt, which cannot be shown
    // (no DISPLAY): each fails fast as Locked, well within the timeout.
    let t = Instant::now();
    let err = kc.load_kek(SERVICE, &account).unwrap_err();
    let read_took = t.elapsed();
    assert!(matches!(err, KeychainError::Locked), "{err}");
    let t = Instant::now();
    let err = kc.probe().unwrap_err();
    let probe_took = t.elapsed();
    assert!(matches!(err, KeychainError::Locked), "{err}");
    assert!(read_took < Duration::from_secs(1) && probe_took < Duration::from_secs(1));
    eprintln!("locked keyring: read failed in {read_took:?}, probe in {probe_took:?}: {err}");

    // Opening falls through to the passphrase, or reports the lock.
    let opened = Vault::open(
        &path,
        &mut KeychainUnlocker::new(PassphraseUnlocker::new(Passphrase::from("pw"))),
    )
    .expect("passphrase opens a vault whose keychain is locked");
    assert_eq!(opened.unlocked_by(), 2);
    let err = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).unwrap_err();
    assert!(err.to_string().contains("locked"), "{err}");
    // Adding a keychain slot to a locked keyring saves nothing.
    let before = opened.header().save_counter;
    let mut opened = opened;
    assert!(matches!(
        opened.add_keychain_slot(&kc),
        Err(VaultError::Keychain(KeychainError::Locked))
    ));
    opened.reload().expect("reload");
    assert_eq!(opened.header().save_counter, before);
    assert_eq!(opened.slots().len(), 2);
    eprintln!("locked_keyring_child: done");
}

// ---- a keychain that never answers ------------------------------------------

/// A session bus that accepts connections and never speaks (a hung
/// daemon): connecting must give up after the timeout, not hang. Safe in
/// every mode: the child is pointed at our socket only.
#[test]
fn a_keychain_that_never_answers_times_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("bus");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "hung_bus_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CREDVAULT_TEST_CHILD", "hung")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", socket.display()),
        )
        .output()
        .expect("run child");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{log}");
    assert!(out.status.success(), "child failed");
    assert!(log.contains("hung_bus_child: done"), "child ran its checks");
}

#[test]
fn hung_bus_child() {
    if std::env::var("CREDVAULT_TEST_CHILD").as_deref() != Ok("hung") {
        return;
    }
    let limit = Duration::from_millis(500);
    let started = Instant::now();
    let err = Keychain::connect(limit).unwrap_err();
    let took = started.elapsed();
    eprintln!("hung bus: connect gave up after {took:?}: {err}");
    assert!(matches!(err, KeychainError::Timeout(_)), "{err}");
    // Gives up at the limit, not before; the upper bound only says it did
    // give up (a loaded 2-core machine may be seconds late).
    assert!(
        took >= limit && took < limit + Duration::from_secs(20),
        "took {took:?}"
    );
    // Opening a vault: the keychain slot fails with the timeout, the
    // passphrase slot still opens it.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    // A passphrase slot (1) and a keychain slot (2) named for this vault.
    let mut v = Vault::create(
        &path,
        NewSlot::Passphrase(&Passphrase::from("pw"), weak_kdf()),
    )
    .expect("create");
    let account = credvault::keychain_account(&v.header().vault_id, 2);
    v.add_slot(NewSlot::Keychain {
        service: SERVICE,
        account: &account,
        kek: &SecretKey::random(),
    })
    .expect("add keychain slot");
    let err = Vault::open(&path, &mut KeychainUnlocker::with_timeout(Nothing, limit)).unwrap_err();
    assert!(
        err.to_string().contains("did not answer within 0.5 s"),
        "{err}"
    );
    let opened = Vault::open(
        &path,
        &mut KeychainUnlocker::with_timeout(PassphraseUnlocker::new(Passphrase::from("pw")), limit),
    )
    .expect("passphrase opens it");
    assert_eq!(opened.unlocked_by(), 1);
    eprintln!("hung_bus_child: done");
}

// ---- without any D-Bus ------------------------------------------------------

#[test]
fn connect_fails_fast_without_dbus() {
    if !wants(Mode::Absent, "connect_fails_fast_without_dbus") {
        return;
    }
    let started = Instant::now();
    let err = Keychain::connect(DEFAULT_TIMEOUT).unwrap_err();
    let took = started.elapsed();
    eprintln!("no D-Bus: connect failed in {took:?}: {err}");
    assert!(matches!(err, KeychainError::Unavailable(_)), "{err}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn init_falls_back_to_a_passphrase_slot_without_a_keychain() {
    if !wants(
        Mode::Absent,
        "init_falls_back_to_a_passphrase_slot_without_a_keychain",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    let pw = Passphrase::from("pw");

    // What `init` does: keychain when one is reachable and writable,
    // otherwise a passphrase slot.
    let started = Instant::now();
    let backend = Keychain::connect(DEFAULT_TIMEOUT).and_then(|kc| kc.probe().map(|()| kc));
    let mut v = match backend {
        Ok(kc) => Vault::create_with_keychain(&path, &kc, OpenOptions::default()),
        Err(e) => {
            eprintln!("no keychain ({e}); using a passphrase slot");
            Vault::create(&path, NewSlot::Passphrase(&pw, weak_kdf()))
        }
    }
    .expect("create");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(v.slots()[0].type_name(), "passphrase");
    v.set(&name("anthropic.apiKey"), &SecretValue::from("sk"))
        .expect("set");

    let reopened = Vault::open(
        &path,
        &mut KeychainUnlocker::new(PassphraseUnlocker::new(Passphrase::from("pw"))),
    )
    .expect("open");
    assert_eq!(
        reopened
            .get(&name("anthropic.apiKey"))
            .expect("get")
            .expect("present")
            .expose(),
        b"sk"
    );
}

#[test]
fn a_keychain_slot_without_a_keychain_falls_through_to_the_passphrase() {
    if !wants(
        Mode::Absent,
        "a_keychain_slot_without_a_keychain_falls_through_to_the_passphrase",
    ) {
        return;
    }
    // A vault made on a desktop (keychain + passphrase), opened on a
    // machine without a keychain.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_vault(&dir);
    let kek = SecretKey::random();
    // A passphrase slot (1) and a keychain slot (2) named for this vault.
    let mut v = Vault::create(
        &path,
        NewSlot::Passphrase(&Passphrase::from("pw"), weak_kdf()),
    )
    .expect("create");
    let account = credvault::keychain_account(&v.header().vault_id, 2);
    v.add_slot(NewSlot::Keychain {
        service: SERVICE,
        account: &account,
        kek: &kek,
    })
    .expect("add keychain slot");

    // Fails at once: the reason is the missing bus, not the timeout.
    let started = Instant::now();
    let err = Vault::open(&path, &mut KeychainUnlocker::new(Nothing)).unwrap_err();
    assert!(started.elapsed() < DEFAULT_TIMEOUT);
    assert!(
        matches!(
            &err,
            VaultError::Unlock(UnlockError::NoCredentials { keychain: Some(r), .. })
                if r.contains("no OS keychain is reachable")
        ),
        "{err}"
    );
    let opened = Vault::open(
        &path,
        &mut KeychainUnlocker::new(PassphraseUnlocker::new(Passphrase::from("pw"))),
    )
    .expect("passphrase opens it");
    assert_eq!(opened.unlocked_by(), 1);
}
