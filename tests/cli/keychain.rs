//! The OS keychain end to end: the real `credvault` binary against a real
//! gnome-keyring Secret Service, and against no D-Bus at all.
//!
//! `CREDVAULT_TEST_KEYRING` (read at run time) says what this machine has,
//! as in `vault/tests/keychain.rs` (both use the harness in
//! `credvault_test_support::secret_service`):
//!
//! - `secret-service`: inside `scripts/with-secret-service.sh` (a private
//!   D-Bus session, private XDG dirs, no display, an unlocked
//!   gnome-keyring); the Secret Service tests run.
//! - `absent`: inside `scripts/without-dbus.sh`; the fallback tests run.
//! - unset: the fallback tests run when no session bus can be found;
//!   everything else is skipped with a note, so a developer's real login
//!   keyring is never touched.
//!
//! Unlike the rest of the suite (whose sandbox has no bus), these tests
//! hand the test process's own D-Bus session (or its absence) to the
//! binary. The locked-keyring tests re-run this test binary inside a second
//! private Secret Service (the `*_child` tests do nothing unless
//! `CREDVAULT_TEST_CHILD` names them): a locked collection cannot be
//! unlocked again without a prompt, and would break the other tests.

use std::process::Command;
use std::time::Instant;

use credvault::slots::keychain::SERVICE;
use credvault::{NewSlot, Passphrase, SecretKey, Vault, KEYCHAIN_TIMEOUT};

use credvault_test_support::secret_service::{
    listed_accounts, run_in_private_secret_service, secret_tool, wants, Mode,
};

use crate::common::{run_command, Run, Sandbox, PASS, WEAK};

/// Runs the binary in the sandbox, but with this process's D-Bus session
/// (or none), and with or without the sandbox passphrase.
struct Keyed<'s>(&'s Sandbox);

impl Keyed<'_> {
    fn command(&self, args: &[&str], passphrase: bool) -> Command {
        let mut cmd = self.0.command(args);
        match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
            Some(address) => cmd.env("DBUS_SESSION_BUS_ADDRESS", address),
            None => cmd.env_remove("DBUS_SESSION_BUS_ADDRESS"),
        };
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
        if !passphrase {
            cmd.env_remove("CREDVAULT_PASSPHRASE");
        }
        cmd
    }

    /// With no passphrase source at all.
    fn bare(&self, args: &[&str]) -> Run {
        run_command(self.command(args, false), None)
    }

    /// With no passphrase source, `stdin` piped in.
    fn bare_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        run_command(self.command(args, false), Some(stdin))
    }

    /// With the sandbox passphrase in CREDVAULT_PASSPHRASE.
    fn with_pass(&self, args: &[&str]) -> Run {
        run_command(self.command(args, true), None)
    }

    /// `init` with no passphrase source (weak KDF options are irrelevant
    /// then, so none are given) and no recovery slot: these tests are
    /// about the keychain and the passphrase (`recovery.rs` and
    /// `backup.rs` cover the recovery slot with a keychain).
    fn init_keychain_only(&self) -> Run {
        self.bare(&["init", "--no-recovery"])
    }

    /// `init` with the sandbox passphrase and weak KDF parameters, no
    /// recovery slot.
    fn init_with_pass(&self) -> Run {
        let mut args = vec!["init", "--no-recovery"];
        args.extend(WEAK);
        self.with_pass(&args)
    }

    fn status(&self, passphrase: bool) -> serde_json::Value {
        run_command(self.command(&["--json", "status"], passphrase), None)
            .ok()
            .json()
    }
}

/// The account of keychain slot `id`, from `status --json`.
fn account_of(status: &serde_json::Value, id: u64) -> String {
    status["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .find(|s| s["id"] == id)
        .and_then(|s| s["account"].as_str())
        .unwrap_or_else(|| panic!("keychain slot {id} in {status}"))
        .to_owned()
}

/// Asserts a failure with exit `code` after the vault was opened through
/// the passphrase because the keychain did not open it: stdout empty,
/// stderr the one-line note on the keychain, then the one-line error,
/// which is returned.
#[track_caller]
fn fails_after_note(run: &Run, code: i32) -> &str {
    assert_eq!(run.code, code, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(lines[0].contains("trying the passphrase"), "{run:?}");
    lines[1]
}

fn slot_types(status: &serde_json::Value) -> Vec<String> {
    status["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s| s["type"].as_str().expect("type").to_owned())
        .collect()
}

// ---- with a real Secret Service ---------------------------------------------

/// The "done when": `init`, then `set` and `get` with no
/// passphrase anywhere, and `secret-tool search service credvault` shows
/// the item.
#[test]
fn init_set_get_status_with_no_passphrase_at_all() {
    if !wants(
        Mode::SecretService,
        "init_set_get_status_with_no_passphrase_at_all",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    let init = k.init_keychain_only().ok();
    assert!(init.stderr.contains("OS keychain"), "{}", init.stderr);
    // Not portable: init says how to fix that.
    assert!(
        init.stderr.contains("credvault slot add passphrase"),
        "{}",
        init.stderr
    );

    let status = k.status(false);
    assert_eq!(status["backend"], "keychain");
    assert_eq!(status["unlocked_by"], "keychain");
    assert_eq!(status["unlocked_by_slot"], 1);
    assert_eq!(status["keychain_available"], true);
    assert_eq!(slot_types(&status), ["keychain"]);
    assert_eq!(status["slots"][0]["service"], SERVICE);
    assert_eq!(status["slots"][0]["this_machine"], true);
    let account = account_of(&status, 1);
    assert!(
        listed_accounts(SERVICE).contains(&account),
        "secret-tool search shows the item"
    );
    // The plain `secret-tool search service credvault` of docs/keychain.md too.
    let plain = secret_tool(&["search", "service", SERVICE]);
    assert!(plain.status.success(), "{plain:?}");
    assert!(!plain.stdout.is_empty(), "{plain:?}");

    k.bare_stdin(&["set", "github.token"], b"ghp_keychain\n")
        .ok();
    assert_eq!(
        k.bare(&["get", "github.token"]).ok().stdout,
        b"ghp_keychain\n"
    );
    assert_eq!(k.bare(&["ls"]).ok().text(), "github.token\n");

    let text = k.bare(&["status"]).ok();
    for needle in [
        "backend:              keychain",
        "unlocked by:          slot 1 (keychain)",
        "OS keychain:          reachable",
        "in this machine's keychain",
        "opens only with this machine's OS keychain",
    ] {
        assert!(
            text.text().contains(needle),
            "{needle:?} in:\n{}",
            text.text()
        );
    }
    assert!(!text.text().contains("ghp_keychain"));
}

#[test]
fn init_with_a_passphrase_source_adds_a_portable_slot() {
    if !wants(
        Mode::SecretService,
        "init_with_a_passphrase_source_adds_a_portable_slot",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    let mut args = vec!["--json", "init"];
    args.extend(WEAK);
    let init = k.with_pass(&args).ok().json();
    assert_eq!(init["backend"], "keychain");
    assert_eq!(init["keychain"]["service"], SERVICE);
    assert_eq!(init["kdf"]["memory_mib"], 8);
    let types: Vec<&str> = init["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    // And the recovery slot `init` makes by default.
    assert_eq!(types, ["keychain", "passphrase", "recovery"]);
    assert!(init["recovery_code"].is_string(), "{init}");
    // The keychain opens it without the passphrase; --no-keychain needs it.
    k.bare_stdin(&["set", "k"], b"v").ok();
    assert_eq!(
        k.with_pass(&["--no-keychain", "get", "k"]).ok().stdout,
        b"v\n"
    );
    let line = k.bare(&["--no-keychain", "get", "k"]).fails(3).to_owned();
    assert!(line.contains("--no-keychain"), "{line}");
    let status = k.status(false);
    assert!(
        !status["warnings"].to_string().contains("opens only"),
        "{status}"
    );
}

#[test]
fn no_keychain_forces_a_passphrase_slot_and_writes_no_item() {
    if !wants(
        Mode::SecretService,
        "no_keychain_forces_a_passphrase_slot_and_writes_no_item",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    let mut args = vec!["--no-keychain", "--json", "init"];
    args.extend(WEAK);
    let init = k.with_pass(&args).ok().json();
    assert_eq!(init["backend"], "passphrase");
    assert!(init["keychain"].is_null());
    let status = k.status(true);
    assert_eq!(status["backend"], "passphrase");
    assert_eq!(slot_types(&status), ["passphrase", "recovery"]);
    // The keychain is reachable, so no "no keychain" warning.
    assert_eq!(status["keychain_available"], true);
    assert!(!status["warnings"].to_string().contains("no OS keychain"));
    // And without a passphrase source, --no-keychain init creates nothing.
    let fresh = s.root().join("fresh.cvault");
    let run = k.bare(&["--no-keychain", "--vault", fresh.to_str().unwrap(), "init"]);
    assert!(run.fails(3).contains("CREDVAULT_PASSPHRASE"));
    assert!(!fresh.exists());
}

/// Keychain to passphrase and back: `slot add passphrase`, `slot remove`
/// of the keychain slot (its item goes), `slot add keychain`, and the
/// last slot that can open the vault is never removed.
#[test]
fn slot_add_and_remove_between_keychain_and_passphrase() {
    if !wants(
        Mode::SecretService,
        "slot_add_and_remove_between_keychain_and_passphrase",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    k.init_keychain_only().ok();
    k.bare_stdin(&["set", "postgresql.password"], b"pg-secret")
        .ok();
    let account1 = account_of(&k.status(false), 1);

    // Removing the only slot is refused (usage, exit 2).
    let line = k.bare(&["slot", "remove", "1"]).fails(2).to_owned();
    assert!(line.contains("last slot"), "{line}");
    assert!(listed_accounts(SERVICE).contains(&account1));

    // A portable passphrase slot, from CREDVAULT_NEW_PASSPHRASE.
    let mut args = vec!["--json", "slot", "add", "passphrase"];
    args.extend(WEAK);
    let mut cmd = k.command(&args, false);
    cmd.env("CREDVAULT_NEW_PASSPHRASE", PASS);
    let added = run_command(cmd, None).ok().json();
    assert_eq!(added["added"]["id"], 2);
    assert_eq!(added["added"]["type"], "passphrase");
    // Without a source for the new passphrase: exit 3, nothing added.
    let line = k.bare(&["slot", "add", "passphrase"]).fails(3).to_owned();
    assert!(line.contains("CREDVAULT_NEW_PASSPHRASE"), "{line}");

    let listed = k.command(&["--json", "slot", "list"], false);
    let listed = run_command(listed, None).ok().json();
    assert_eq!(slot_types(&listed), ["keychain", "passphrase"]);
    assert_eq!(listed["slots"][0]["this_machine"], true);
    assert_eq!(listed["slots"][0]["unlocked"], true);
    let text = k.bare(&["slot", "list"]).ok();
    assert!(
        text.text()
            .starts_with("1: keychain, service \"credvault\""),
        "{}",
        text.text()
    );

    // Remove the keychain slot: its item is deleted.
    let removed = k.bare(&["--json", "slot", "remove", "1"]).ok().json();
    assert_eq!(removed["removed"]["type"], "keychain");
    assert_eq!(removed["keychain_item"], "deleted");
    assert!(
        !listed_accounts(SERVICE).contains(&account1),
        "item deleted"
    );

    // Now only the passphrase opens it.
    let line = k.bare(&["get", "postgresql.password"]).fails(3).to_owned();
    assert!(line.contains("CREDVAULT_PASSPHRASE"), "{line}");
    assert_eq!(
        k.with_pass(&["get", "postgresql.password"]).ok().stdout,
        b"pg-secret\n"
    );
    let status = k.status(true);
    assert_eq!(status["backend"], "passphrase");
    assert_eq!(status["unlocked_by"], "passphrase");

    // And back: a keychain slot (id 3, its own item).
    let added = k
        .with_pass(&["--json", "slot", "add", "keychain"])
        .ok()
        .json();
    assert_eq!(added["added"]["id"], 3);
    let account3 = added["added"]["account"].as_str().unwrap().to_owned();
    assert!(account3.ends_with("/3"), "{account3}");
    assert!(listed_accounts(SERVICE).contains(&account3));
    assert_eq!(
        k.bare(&["get", "postgresql.password"]).ok().stdout,
        b"pg-secret\n"
    );

    // The passphrase slot can go now: the keychain slot opens the vault.
    let removed = k.bare(&["--json", "slot", "remove", "2"]).ok().json();
    assert_eq!(removed["keychain_item"], "none");
    assert!(listed_accounts(SERVICE).contains(&account3));
    let line = k.bare(&["slot", "remove", "3"]).fails(2).to_owned();
    assert!(line.contains("last slot"), "{line}");
    assert!(listed_accounts(SERVICE).contains(&account3));
    // Tidy the shared keyring.
    assert!(
        secret_tool(&["clear", "service", SERVICE, "username", &account3])
            .status
            .success()
    );
}

#[test]
fn an_item_deleted_behind_the_vaults_back_falls_back_to_the_passphrase() {
    if !wants(
        Mode::SecretService,
        "an_item_deleted_behind_the_vaults_back_falls_back_to_the_passphrase",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    k.init_with_pass().ok();
    k.bare_stdin(&["set", "anthropic.apiKey"], b"sk-ant").ok();
    let account = account_of(&k.status(false), 1);

    // Another program deletes the item.
    let out = secret_tool(&["clear", "service", SERVICE, "username", &account]);
    assert!(out.status.success(), "{out:?}");
    assert!(!listed_accounts(SERVICE).contains(&account));

    // Without a passphrase: exit 3, one line naming both problems, fast.
    let started = Instant::now();
    let run = k.bare(&["get", "anthropic.apiKey"]);
    let took = started.elapsed();
    let line = run.fails(3);
    assert!(
        line.contains("keychain") && line.contains("no item"),
        "{line}"
    );
    assert!(line.contains("CREDVAULT_PASSPHRASE"), "{line}");
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );

    // With it: the passphrase slot opens the vault, with a note.
    let run = k.with_pass(&["get", "anthropic.apiKey"]).ok();
    assert_eq!(run.stdout, b"sk-ant\n");
    assert!(
        run.stderr.contains("trying the passphrase"),
        "{}",
        run.stderr
    );

    let status = k.status(true);
    assert_eq!(status["unlocked_by"], "passphrase");
    assert_eq!(status["slots"][0]["this_machine"], false);
    assert!(
        status["warnings"].to_string().contains("keychain slot 1"),
        "{status}"
    );

    // The passphrase slot cannot go (the keychain slot opens nothing
    // here); the dangling keychain slot can, reporting the item gone.
    let run = k.with_pass(&["slot", "remove", "2"]);
    let line = fails_after_note(&run, 2);
    assert!(line.contains("refusing"), "{line}");
    let run = k.with_pass(&["--json", "slot", "remove", "1"]).ok();
    assert_eq!(run.json()["keychain_item"], "already_gone");
    assert!(run.stderr.contains("already gone"), "{}", run.stderr);
    assert_eq!(slot_types(&k.status(true)), ["passphrase"]);
}

#[test]
fn a_keychain_only_vault_without_its_item_says_so() {
    if !wants(
        Mode::SecretService,
        "a_keychain_only_vault_without_its_item_says_so",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    k.init_keychain_only().ok();
    let account = account_of(&k.status(false), 1);
    assert!(
        secret_tool(&["clear", "service", SERVICE, "username", &account])
            .status
            .success()
    );
    // A passphrase would not help: there is no passphrase slot.
    let run = k.with_pass(&["get", "k"]);
    let line = run.fails(3);
    assert!(
        line.contains("keychain") && line.contains("no item"),
        "{line}"
    );
    assert!(line.contains("hint:"), "{line}");
}

#[test]
fn a_locked_keyring_falls_through_fast() {
    if !wants(Mode::SecretService, "a_locked_keyring_falls_through_fast") {
        return;
    }
    run_in_private_secret_service(
        "keychain::locked_keyring_child",
        &[("CREDVAULT_TEST_CHILD", "cli-locked")],
    );
}

#[test]
fn a_keyring_that_was_never_unlocked_is_not_used_by_init() {
    if !wants(
        Mode::SecretService,
        "a_keyring_that_was_never_unlocked_is_not_used_by_init",
    ) {
        return;
    }
    run_in_private_secret_service(
        "keychain::never_unlocked_child",
        &[
            ("CREDVAULT_TEST_CHILD", "cli-never-unlocked"),
            ("SECRET_SERVICE_LOCKED", "1"),
        ],
    );
}

/// In a private Secret Service whose login collection gets locked, as a
/// screen lock does.
#[test]
fn locked_keyring_child() {
    if std::env::var("CREDVAULT_TEST_CHILD").as_deref() != Ok("cli-locked") {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    k.init_with_pass().ok();
    k.bare_stdin(&["set", "k"], b"v").ok();

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

    // No passphrase: exit 3 at once, saying the keychain is locked.
    let started = Instant::now();
    let run = k.bare(&["get", "k"]);
    let took = started.elapsed();
    let line = run.fails(3);
    assert!(line.contains("locked"), "{line}");
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );
    eprintln!("locked keyring, no passphrase: exit 3 in {took:?}: {line}");

    // With the passphrase: falls through to it, fast, with a note.
    let started = Instant::now();
    let run = k.with_pass(&["get", "k"]).ok();
    let took = started.elapsed();
    assert_eq!(run.stdout, b"v\n");
    assert!(run.stderr.contains("locked"), "{}", run.stderr);
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );
    eprintln!("locked keyring, passphrase: opened in {took:?}");

    // status: reachable, but the keychain did not open the vault.
    let status = k.status(true);
    assert_eq!(status["keychain_available"], true);
    assert_eq!(status["unlocked_by"], "passphrase");
    assert!(status["slots"][0]["this_machine"].is_null(), "{status}");
    assert!(
        status["keychain_error"]
            .as_str()
            .unwrap()
            .contains("locked"),
        "{status}"
    );

    // init picks the passphrase, with a warning; without one, exit 3.
    let other = s.root().join("other.cvault");
    let other = other.to_str().unwrap();
    let mut args = vec!["--vault", other, "--json", "init"];
    args.extend(WEAK);
    let started = Instant::now();
    let run = k.with_pass(&args).ok();
    let took = started.elapsed();
    assert_eq!(run.json()["backend"], "passphrase");
    assert!(
        run.stderr.contains("no OS keychain is usable"),
        "{}",
        run.stderr
    );
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );
    let third = s.root().join("third.cvault");
    let line = k
        .bare(&["--vault", third.to_str().unwrap(), "init"])
        .fails(3)
        .to_owned();
    assert!(line.contains("locked"), "{line}");
    assert!(!third.exists());

    // Adding a keychain slot fails with exit 3 and saves nothing.
    let before = s.vault_bytes();
    let run = k.with_pass(&["slot", "add", "keychain"]);
    let line = fails_after_note(&run, 3);
    assert!(line.contains("locked"), "{line}");
    assert_eq!(s.vault_bytes(), before);
    eprintln!("locked_keyring_child: done");
}

/// gnome-keyring running but never unlocked (no login keyring): `init`
/// sees it as unusable, fast.
#[test]
fn never_unlocked_child() {
    if std::env::var("CREDVAULT_TEST_CHILD").as_deref() != Ok("cli-never-unlocked") {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    let started = Instant::now();
    let line = k.init_keychain_only().fails(3).to_owned();
    let took = started.elapsed();
    assert!(line.contains("no OS keychain is usable"), "{line}");
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );
    assert!(!s.vault.exists());
    let run = k.init_with_pass().ok();
    assert!(run.stderr.contains("passphrase only"), "{}", run.stderr);
    assert_eq!(k.status(true)["backend"], "passphrase");
    eprintln!("never_unlocked_child: done");
}

// ---- without any D-Bus ------------------------------------------------------

#[test]
fn without_a_keychain_init_falls_back_to_a_passphrase() {
    if !wants(
        Mode::Absent,
        "without_a_keychain_init_falls_back_to_a_passphrase",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);

    // Neither a keychain nor a passphrase: exit 3, nothing created, fast.
    let started = Instant::now();
    let run = k.init_keychain_only();
    let took = started.elapsed();
    let line = run.fails(3);
    assert!(line.contains("no OS keychain is usable"), "{line}");
    assert!(line.contains("CREDVAULT_PASSPHRASE"), "{line}");
    assert!(!s.vault.exists());
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );

    // With a passphrase: a passphrase slot, and init says why.
    let mut args = vec!["--json", "init"];
    args.extend(WEAK);
    let run = k.with_pass(&args).ok();
    let init = run.json();
    assert_eq!(init["backend"], "passphrase");
    assert!(init["keychain"].is_null());
    assert!(
        init["keychain_error"]
            .as_str()
            .unwrap()
            .contains("no OS keychain is reachable"),
        "{init}"
    );
    assert!(run.stderr.contains("passphrase only"), "{}", run.stderr);

    k.bare_stdin(&["set", "k"], b"v").fails(3);
    run_command(k.command(&["set", "k"], true), Some(b"v")).ok();
    assert_eq!(k.with_pass(&["get", "k"]).ok().stdout, b"v\n");

    // status says so, text and JSON, and finds out at once: the reason is
    // that no bus is there, not the D-Bus timeout (3 s) running out (not a
    // timed assertion: a loaded machine may take any time below that).
    let status = k.status(true);
    assert_eq!(status["backend"], "passphrase");
    assert_eq!(status["keychain_available"], false);
    let check_ms = status["keychain_check_ms"].as_u64().expect("timed");
    let reason = status["keychain_error"].to_string();
    assert!(!reason.contains("timed out"), "{reason}");
    assert!(check_ms < 3000, "keychain detection took {check_ms} ms");
    eprintln!("no D-Bus: keychain detection took {check_ms} ms");
    assert!(
        status["warnings"]
            .to_string()
            .contains("no OS keychain is reachable: the vault is protected by its passphrase only"),
        "{status}"
    );
    let text = k.with_pass(&["status"]).ok();
    for needle in [
        "backend:              passphrase",
        "OS keychain:          not reachable",
        "no OS keychain is reachable: the vault is protected by its passphrase only",
    ] {
        assert!(
            text.text().contains(needle),
            "{needle:?} in:\n{}",
            text.text()
        );
    }

    // The header-only view needs no passphrase and no KDF: fast.
    let started = Instant::now();
    let header = k.bare(&["--json", "status", "--no-unlock"]).ok().json();
    let took = started.elapsed();
    assert_eq!(header["backend"], "passphrase");
    assert_eq!(header["unlocked"], false);
    assert!(header["entries"].is_null());
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );

    // No keychain slot can be added here.
    let line = k
        .with_pass(&["slot", "add", "keychain"])
        .fails(3)
        .to_owned();
    assert!(line.contains("no OS keychain is reachable"), "{line}");
    assert_eq!(slot_types(&k.status(true)), ["passphrase", "recovery"]);
}

/// A vault made on a desktop (keychain + passphrase slots), opened on a
/// machine without a keychain.
#[test]
fn without_a_keychain_a_keychain_slot_falls_through_to_the_passphrase() {
    if !wants(
        Mode::Absent,
        "without_a_keychain_a_keychain_slot_falls_through_to_the_passphrase",
    ) {
        return;
    }
    let s = Sandbox::new();
    let k = Keyed(&s);
    std::fs::create_dir_all(s.vault.parent().unwrap()).unwrap();
    // A passphrase slot (1) and a keychain slot (2) whose item (named for
    // this vault and slot, as readers require) lives on another machine.
    let mut v = Vault::create(
        &s.vault,
        NewSlot::Passphrase(&Passphrase::from(PASS), credvault_test_support::weak_kdf()),
    )
    .expect("create");
    let account = credvault::keychain_account(&v.header().vault_id, 2);
    v.add_slot(NewSlot::Keychain {
        service: SERVICE,
        account: &account,
        kek: &SecretKey::random(),
    })
    .expect("add keychain slot");
    drop(v);

    let started = Instant::now();
    let run = k.bare(&["ls"]);
    let took = started.elapsed();
    let line = run.fails(3);
    assert!(line.contains("no OS keychain is reachable"), "{line}");
    assert!(line.contains("CREDVAULT_PASSPHRASE"), "{line}");
    assert!(
        took < KEYCHAIN_TIMEOUT,
        "took {took:?}: it waited for the keychain instead of falling through"
    );

    let run = k.with_pass(&["ls"]).ok();
    assert!(
        run.stderr.contains("trying the passphrase"),
        "{}",
        run.stderr
    );
    // --no-keychain skips the keychain without a note.
    let run = k.with_pass(&["--no-keychain", "ls"]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    let status = k.status(true);
    assert_eq!(status["backend"], "keychain");
    assert_eq!(status["unlocked_by"], "passphrase");
    assert!(
        status["warnings"]
            .to_string()
            .contains("keychain slot 2 cannot open the vault here"),
        "{status}"
    );
    // The passphrase slot is the only one that opens it here.
    let run = k.with_pass(&["slot", "remove", "1"]);
    let line = fails_after_note(&run, 2);
    assert!(line.contains("refusing to remove slot 1"), "{line}");
    // The keychain slot can go; its item is on another machine.
    let run = k.with_pass(&["--json", "slot", "remove", "2"]).ok();
    assert_eq!(run.json()["keychain_item"], "not_deleted");
}

/// This vault's items in the keyring, and the accounts its file names.
fn items_of(s: &Sandbox) -> (Vec<String>, Vec<String>) {
    let status = Keyed(s).status(true);
    let named: Vec<String> = status["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .filter_map(|slot| slot["account"].as_str().map(str::to_owned))
        .collect();
    let Some(vault_id) = named.first().and_then(|a| a.split('/').next()) else {
        return (Vec::new(), named);
    };
    let prefix = format!("{vault_id}/");
    let listed = listed_accounts(SERVICE)
        .into_iter()
        .filter(|a| a.starts_with(&prefix))
        .collect();
    (listed, named)
}

/// A keychain writer crashed and failed at every storage step (issue 19;
/// the other writers are in tests/cli/crash.rs), through the test-only
/// fault hook (`CREDVAULT_FAULT`): `prepare` makes the sandbox, `args`
/// runs with the passphrase. Afterwards every keychain item the vault
/// file names exists (an error after the rename, at the directory fsync,
/// used to delete the new item the file in place needs), the vault opens,
/// `audit verify` passes; after an error no new item is left that no slot
/// names.
fn crash_keychain_writer(prepare: fn(&Sandbox), args: &[&str]) {
    use std::os::unix::process::ExitStatusExt;
    let fresh = || {
        let s = Sandbox::new();
        prepare(&s);
        s
    };
    let s = fresh();
    let trace = s.root().join("trace");
    let mut cmd = Keyed(&s).command(args, true);
    cmd.env("CREDVAULT_FAULT_TRACE", &trace);
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{out:?}");
    let points = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .count();
    assert!(points >= 7, "{args:?} saves: {points} fault points");

    for n in 1..=points {
        for action in ["error", "abort"] {
            let s = fresh();
            let k = Keyed(&s);
            let before = if s.vault.exists() {
                items_of(&s).0
            } else {
                Vec::new()
            };
            let mut cmd = k.command(args, true);
            cmd.env("CREDVAULT_FAULT", format!("{n}:{action}"));
            let out = cmd.output().expect("run");
            let what = format!("{args:?}, {action} at fault point {n}: {out:?}");
            if action == "abort" {
                assert_eq!(out.status.signal(), Some(6), "{what}");
            } else {
                assert!(matches!(out.status.code(), Some(0 | 4 | 5 | 6)), "{what}");
            }
            if !s.vault.exists() {
                continue;
            }
            let (listed, named) = items_of(&s);
            // One lookup per account: a `search --all` racing the other
            // tests' deletions can come back short.
            for account in &named {
                let found = secret_tool(&["lookup", "service", SERVICE, "username", account]);
                assert!(found.status.success(), "{what}: no item for {account}");
            }
            let ls = k.with_pass(&["ls"]);
            assert_eq!(ls.code, 0, "{what}: {}", ls.stderr);
            k.with_pass(&["audit", "verify"]).ok();
            if action == "error" {
                let orphans: Vec<&String> = listed
                    .iter()
                    .filter(|a| !named.contains(a) && !before.contains(a))
                    .collect();
                assert!(orphans.is_empty(), "{what}: orphan items {orphans:?}");
            }
        }
    }
}

#[test]
fn a_rekey_crashed_at_every_storage_step_keeps_the_items_it_names() {
    if !wants(
        Mode::SecretService,
        "a_rekey_crashed_at_every_storage_step_keeps_the_items_it_names",
    ) {
        return;
    }
    crash_keychain_writer(
        |s| {
            Keyed(s).init_with_pass().ok();
            Keyed(s).bare_stdin(&["set", "a"], b"1").ok();
        },
        &["rekey"],
    );
}

#[test]
fn a_keychain_init_crashed_at_every_storage_step_keeps_the_item_it_names() {
    if !wants(
        Mode::SecretService,
        "a_keychain_init_crashed_at_every_storage_step_keeps_the_item_it_names",
    ) {
        return;
    }
    let mut args = vec!["init", "--no-recovery"];
    args.extend(WEAK);
    let args: &'static [&'static str] = args.leak();
    crash_keychain_writer(|_| {}, args);
}

#[test]
fn a_keychain_slot_add_crashed_at_every_storage_step_keeps_the_item_it_names() {
    if !wants(
        Mode::SecretService,
        "a_keychain_slot_add_crashed_at_every_storage_step_keeps_the_item_it_names",
    ) {
        return;
    }
    crash_keychain_writer(
        |s| {
            let mut args = vec!["--no-keychain", "init", "--no-recovery"];
            args.extend(WEAK);
            Keyed(s).with_pass(&args).ok();
            Keyed(s).with_pass(&["set", "a"]).ok();
        },
        &["slot", "add", "keychain"],
    );
}

/// A keychain writer under power loss (issue 19; tests/cli/powerloss.rs
/// does the writers of the crash table): a fresh sandbox per cut, made by
/// `prepare`, copied onto the power-loss file system of tests/powerloss
/// (HOME, the vault, its marks and audit log; the keyring stays where the
/// private Secret Service keeps it), `args` run with the passphrase and
/// the power cut after every single operation it counts. After the
/// remount: the vault opens (or, for `init`, is absent), as the old or the
/// new state, the new one when the command had exited 0; every keychain
/// item the file names exists, and the keychain alone opens the vault.
fn power_loss_keychain_writer(prepare: fn(&Sandbox), args: &[&str]) {
    use crate::crash::{try_state, Env, State};
    if !crate::powerloss::fuse_ready() {
        crate::common::skip(
            "no /dev/fuse or no fusermount3 (Debian fuse3): cannot run the power-loss tests",
        );
        return;
    }
    let top = tempfile::tempdir().expect("temp dir");
    let at = top.path().join("mnt");
    std::fs::create_dir(&at).unwrap();
    let mut mount = credvault_powerloss::Mount::new(&at).expect("mount the power-loss file system");
    let run = |env: &Env, args: &[&str], passphrase: bool| {
        let mut cmd = env.command(args, PASS);
        match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
            Some(address) => cmd.env("DBUS_SESSION_BUS_ADDRESS", address),
            None => cmd.env_remove("DBUS_SESSION_BUS_ADDRESS"),
        };
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
        if !passphrase {
            cmd.env_remove("CREDVAULT_PASSPHRASE");
        }
        Env::output(cmd, None)
    };
    let state_of = |env: &Env| -> Result<Option<State>, String> {
        if !env.vault().exists() {
            return Ok(None);
        }
        try_state(env).map(Some)
    };
    // A fresh sandbox (its own keychain items), copied onto the file
    // system and made durable there.
    let fresh = |mount: &credvault_powerloss::Mount, name: &str| {
        let s = Sandbox::new();
        prepare(&s);
        let dir = at.join(name);
        std::fs::create_dir(&dir).unwrap();
        let env = Env {
            root: s.root().to_path_buf(),
        }
        .copy_to(&dir);
        mount.sync_everything();
        env
    };

    // Count the operations of one run.
    let env = fresh(&mount, "count");
    let old = state_of(&env).expect("the prepared vault opens");
    mount.sync_everything();
    let out = run(&env, args, true);
    let log = mount.log();
    assert!(
        out.status.success(),
        "{args:?} on the power-loss fs: {out:?}"
    );
    let new = state_of(&env).expect("the new vault opens");
    assert!(log.contains(&"fsync"), "{args:?}: {log:?}");

    let mut violations = Vec::new();
    let (mut olds, mut news) = (0, 0);
    for n in 0..=log.len() {
        mount.cut_after(None);
        let env = fresh(&mount, &format!("cut-{n}"));
        mount.sync_everything();
        mount.cut_after(Some(n as u64));
        let out = run(&env, args, true);
        let next = log.get(n).copied().unwrap_or("the end");
        let what = format!(
            "{args:?}, power cut before op {n} ({next}), exit {:?}",
            out.status
        );
        mount.power_cycle().expect("remount after the power cut");
        let now = match state_of(&env) {
            Ok(now) => now,
            Err(e) => {
                violations.push(format!("{what}: {e}"));
                continue;
            }
        };
        if now == new {
            news += 1;
        } else if now == old {
            olds += 1;
        } else {
            violations.push(format!("{what}: a mix: {now:?}"));
        }
        if out.status.success() && now != new {
            violations.push(format!("{what}: the acknowledged save was lost"));
        }
        if now.is_none() {
            continue;
        }
        let status = run(&env, &["--json", "status"], true);
        let status: serde_json::Value =
            serde_json::from_slice(&status.stdout).expect("status JSON");
        let named: Vec<String> = status["slots"]
            .as_array()
            .expect("slots")
            .iter()
            .filter_map(|slot| slot["account"].as_str().map(str::to_owned))
            .collect();
        for account in &named {
            let found = secret_tool(&["lookup", "service", SERVICE, "username", account]);
            if !found.status.success() {
                violations.push(format!("{what}: no item for {account}"));
            }
        }
        if !named.is_empty() {
            let ls = run(&env, &["ls"], false);
            if !ls.status.success() {
                violations.push(format!("{what}: the keychain does not open it: {ls:?}"));
            }
        }
    }
    eprintln!(
        "{args:?}: {} operations, {} power cuts: {olds} left the old state, {news} the new",
        log.len(),
        log.len() + 1
    );
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(news > 0, "{olds} old, {news} new");
    if old != new {
        assert!(olds > 0, "{olds} old, {news} new");
    }
}

#[test]
fn a_rekey_survives_a_power_cut_after_every_operation() {
    if !wants(
        Mode::SecretService,
        "a_rekey_survives_a_power_cut_after_every_operation",
    ) {
        return;
    }
    power_loss_keychain_writer(
        |s| {
            Keyed(s).init_with_pass().ok();
            Keyed(s).bare_stdin(&["set", "a"], b"1").ok();
        },
        &["rekey"],
    );
}

#[test]
fn a_keychain_init_survives_a_power_cut_after_every_operation() {
    if !wants(
        Mode::SecretService,
        "a_keychain_init_survives_a_power_cut_after_every_operation",
    ) {
        return;
    }
    let mut args = vec!["init", "--no-recovery"];
    args.extend(WEAK);
    power_loss_keychain_writer(|_| {}, &args);
}

#[test]
fn a_keychain_slot_add_survives_a_power_cut_after_every_operation() {
    if !wants(
        Mode::SecretService,
        "a_keychain_slot_add_survives_a_power_cut_after_every_operation",
    ) {
        return;
    }
    power_loss_keychain_writer(
        |s| {
            let mut args = vec!["--no-keychain", "init", "--no-recovery"];
            args.extend(WEAK);
            Keyed(s).with_pass(&args).ok();
            Keyed(s).with_pass(&["set", "a"]).ok();
        },
        &["slot", "add", "keychain"],
    );
}

#[test]
fn a_keychain_slot_remove_crashed_at_every_storage_step_keeps_the_item_it_names() {
    if !wants(
        Mode::SecretService,
        "a_keychain_slot_remove_crashed_at_every_storage_step_keeps_the_item_it_names",
    ) {
        return;
    }
    // Slot 1 is the keychain slot `init` makes; the passphrase slot stays.
    crash_keychain_writer(
        |s| {
            Keyed(s).init_with_pass().ok();
            Keyed(s).bare_stdin(&["set", "a"], b"1").ok();
            let status = Keyed(s).status(true);
            assert_eq!(slot_types(&status)[0], "keychain", "{status}");
        },
        &["slot", "remove", "1"],
    );
}
