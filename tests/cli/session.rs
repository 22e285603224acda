//! The timed session unlock (Linux kernel keyring): `unlock --for`, later
//! commands without any passphrase source, expiry enforced by the kernel,
//! and `lock`. Every test uses its own vault (a random vault id), so cached
//! keys never cross tests; each ends with `lock` or a short expiry.

use std::time::Duration;

use crate::common::{bare, run_command, Sandbox};

#[cfg(target_os = "linux")]
#[test]
fn an_unlock_serves_later_commands_and_expires_on_time() {
    let s = Sandbox::new();
    s.init();
    s.set("openai.apiKey", b"sk-session");
    assert!(bare(&s, &["get", "openai.apiKey"])
        .fails(3)
        .contains("CREDVAULT_PASSPHRASE"));

    // A session long enough for the checks below on a loaded machine (no
    // timed assertion: a short one could expire while they run).
    let unlocked = s.run(&["--json", "unlock", "--for", "10m"]).ok().json();
    assert_eq!(unlocked["unlocked"], true);
    assert_eq!(unlocked["seconds"], 600);
    // Right away: no passphrase needed, for reads and writes.
    assert_eq!(
        bare(&s, &["get", "openai.apiKey"]).ok().stdout,
        b"sk-session\n"
    );
    let mut set = s.command(&["set", "github.token"]);
    set.env_remove("CREDVAULT_PASSPHRASE");
    run_command(set, Some(b"gh")).ok();
    let status = bare(&s, &["--json", "status"]).ok().json();
    assert_eq!(status["unlocked_by"], "session");
    assert_eq!(status["session"]["active"], true);
    assert!(
        status["session"]["expires_in"]
            .as_str()
            .is_some_and(|t| t.ends_with(['s', 'm'])),
        "{status}"
    );
    let text = bare(&s, &["status"]).ok();
    assert!(
        text.text().contains("session unlock:       active"),
        "{}",
        text.text()
    );

    // A 3-second session: after its timeout (the sleep is a lower bound,
    // so a slow machine only makes it later) the kernel has dropped the
    // key: silently back to the passphrase, which is missing here.
    bare(&s, &["lock"]).ok();
    let unlocked = s.run(&["--json", "unlock", "--for", "3s"]).ok().json();
    assert_eq!(unlocked["seconds"], 3);
    std::thread::sleep(Duration::from_millis(4200));
    let line = bare(&s, &["get", "openai.apiKey"]).fails(3).to_owned();
    assert!(line.contains("CREDVAULT_PASSPHRASE"), "{line}");
    assert_eq!(s.run(&["get", "github.token"]).ok().stdout, b"gh\n");
    let status = s.run(&["--json", "status"]).ok().json();
    assert_eq!(status["unlocked_by"], "passphrase");
    assert_eq!(status["session"]["active"], false);
}

#[cfg(target_os = "linux")]
#[test]
fn lock_drops_the_session_at_once() {
    let s = Sandbox::new();
    s.init();
    s.set("k", b"v");
    let run = s.run(&["unlock"]).ok();
    assert!(run.stderr.contains("for 15m"), "{}", run.stderr);
    assert_eq!(bare(&s, &["get", "k"]).ok().stdout, b"v\n");

    // lock needs no credential.
    let locked = bare(&s, &["--json", "lock"]).ok().json();
    assert_eq!(locked["was_active"], true);
    bare(&s, &["get", "k"]).fails(3);
    let again = bare(&s, &["lock"]).ok();
    assert!(
        again.stderr.contains("no session unlock"),
        "{}",
        again.stderr
    );

    // `unlock` with a wrong passphrase fails and caches nothing.
    let mut wrong = s.command(&["unlock"]);
    wrong.env("CREDVAULT_PASSPHRASE", "not it");
    run_command(wrong, None).fails(3);
    bare(&s, &["get", "k"]).fails(3);
}

#[test]
fn unlock_durations_are_checked() {
    let s = Sandbox::new();
    s.init();
    for bad in ["0", "0s", "25h", "soon", "1m1h", "1.5h"] {
        let run = s.run(&["unlock", "--for", bad]);
        let line = run.fails(2);
        assert!(line.contains("--for"), "{bad}: {line}");
    }
    // Nothing was cached by the refusals.
    bare(&s, &["get", "k"]).fails(3);
}

#[test]
fn lock_without_a_vault_exits_5() {
    let s = Sandbox::new();
    assert!(bare(&s, &["lock"]).fails(5).contains("credvault init"));
}
