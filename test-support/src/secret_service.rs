//! The Secret Service harness of the keychain tests (library and CLI).
//!
//! `CREDVAULT_TEST_KEYRING` (read at run time) says what this machine has:
//!
//! - `secret-service`: inside `scripts/with-secret-service.sh` (a private
//!   D-Bus session, private XDG dirs, no display, an unlocked
//!   gnome-keyring); the Secret Service tests run, the no-keychain tests
//!   are skipped.
//! - `absent`: inside `scripts/without-dbus.sh` (no D-Bus at all); the
//!   fallback tests run, the Secret Service tests are skipped.
//! - unset: a developer's plain `cargo test`. The fallback tests run when
//!   no session bus can be found (no `DBUS_SESSION_BUS_ADDRESS`, no
//!   `$XDG_RUNTIME_DIR/bus`); everything else is skipped with a note, so a
//!   real login keyring is never touched.
//!
//! Tests that lock a keyring re-run their own test binary inside a second,
//! private Secret Service ([`run_in_private_secret_service`]): a locked
//! collection cannot be unlocked again without a prompt and would break
//! the other tests sharing the first one.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// What keychain this machine offers the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A private, unlocked Secret Service (`CREDVAULT_TEST_KEYRING=secret-service`).
    SecretService,
    /// No D-Bus at all (`CREDVAULT_TEST_KEYRING=absent`, or no bus found).
    Absent,
    /// A session bus of unknown kind (perhaps a real login keyring): only
    /// tests that need neither run.
    Unknown,
}

/// The mode of this machine, from `CREDVAULT_TEST_KEYRING` (see the module
/// docs). Panics on a value it does not know.
pub fn mode() -> Mode {
    match std::env::var("CREDVAULT_TEST_KEYRING").as_deref() {
        Ok("secret-service") => Mode::SecretService,
        Ok("absent") => Mode::Absent,
        Ok(other) => panic!("CREDVAULT_TEST_KEYRING={other:?}: expected secret-service or absent"),
        Err(_) => {
            let bus_env = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
            let bus_socket = std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|d| Path::new(&d).join("bus").exists());
            if bus_env || bus_socket {
                Mode::Unknown
            } else {
                Mode::Absent
            }
        }
    }
}

/// Whether to run a test that needs `want`; prints why not otherwise.
/// Recorded for scripts/test.sh ([`crate::mark_keyring_test`]), so a test
/// skipped in one pass must have run in the other.
pub fn wants(want: Mode, test: &str) -> bool {
    let have = mode();
    let want_name = match want {
        Mode::SecretService => "secret-service",
        _ => "absent",
    };
    // Named by the test binary too (`keychain::…`, `cli::…`): the library's
    // and the CLI's suites have tests of the same name.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let binary = binary
        .rsplit_once('-')
        .map_or(binary.as_str(), |(name, _hash)| name);
    crate::mark_keyring_test(have == want, want_name, &format!("{binary}::{test}"));
    if have == want {
        return true;
    }
    eprintln!(
        "skipping {test}: needs CREDVAULT_TEST_KEYRING={want_name} (have {have:?}; see scripts/test.sh)"
    );
    false
}

/// Runs `secret-tool ARGS` (Debian package libsecret-tools) with stdin
/// null.
pub fn secret_tool(args: &[&str]) -> Output {
    Command::new("secret-tool")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("secret-tool runs (Debian package libsecret-tools)")
}

/// The `account` attributes of all items with service `service`, as
/// `secret-tool search --all service SERVICE` prints them.
pub fn listed_accounts(service: &str) -> Vec<String> {
    let out = secret_tool(&["search", "--all", "service", service]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
        .map(str::to_owned)
        .collect()
}

/// Runs test `child` of the current test binary (a full test path, e.g.
/// `keychain::locked_keyring_child`) in a second, private Secret Service
/// (`scripts/with-secret-service.sh`) with `env` set, and checks that it
/// ran: the child prints `<its name>: done` at its end.
pub fn run_in_private_secret_service(child: &str, env: &[(&str, &str)]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/with-secret-service.sh");
    let exe = std::env::current_exe().expect("test binary path");
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .arg(&exe)
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run the child in a private Secret Service");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{child} ({:?}):\n{log}", started.elapsed());
    assert!(out.status.success(), "{child} failed");
    let name = child.rsplit("::").next().unwrap_or(child);
    assert!(
        log.contains(&format!("{name}: done")),
        "{child} ran its checks"
    );
}
