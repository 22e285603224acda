//! The Linux `v11` password in the Secret Service (features `legacy` and
//! `keychain`, Linux only).
//!
//! Chromium's libsecret backend (`components/os_crypt/sync/
//! key_storage_libsecret.cc`) keeps one item per application with schema
//! [`SCHEMA`] (`chrome_libsecret_os_crypt_password_v2`) and the attribute
//! `application` = the application name: `chromium` or `chrome` for the
//! browsers, the app's name for an Electron app (Electron sets
//! `os_crypt::Config::application_name` to `app.getName()`). The item's
//! secret is the password, base64 of 16 random bytes, used as text as is.
//!
//! The older schema `chrome_libsecret_os_crypt_password` (deprecated in
//! Chromium M55, 2016) has no `application` attribute, so an item found
//! under it could belong to any Chromium-based program; Electron's
//! safeStorage came years later and never wrote it. It is not searched.
//!
//! The lookup is the `secret-service` crate's blocking API on a worker
//! thread, given up after a timeout (a locked keyring can wait on an unlock
//! dialog forever), as in `slots::keychain`.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use secret_service::blocking::SecretService;
use secret_service::EncryptionType;

use super::oscrypt::SafeStoragePassword;

/// The libsecret schema of Chromium's OSCrypt password.
pub const SCHEMA: &str = "chrome_libsecret_os_crypt_password_v2";

/// Looks up the `v11` password(s) of `application`: every unlocked item of
/// schema [`SCHEMA`] with `application` = `application` (locked ones are
/// unlocked first, which may prompt). `Ok(vec![])` when there is none.
/// `Err` carries a one-line reason without secret data.
pub fn v11_passwords(
    application: &str,
    timeout: Duration,
) -> Result<Vec<SafeStoragePassword>, String> {
    let application = application.to_owned();
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("credvault-secret-service".to_owned())
        .spawn(move || {
            // The receiver may be gone (timed out): nothing to report then.
            let _ = tx.send(lookup(&application));
        })
        .map_err(|e| format!("cannot start a Secret Service thread: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the Secret Service did not answer within {} s (a locked keyring waiting for an unlock prompt?)",
            timeout.as_secs_f64()
        )),
    }
}

fn lookup(application: &str) -> Result<Vec<SafeStoragePassword>, String> {
    let service = SecretService::connect(EncryptionType::Dh).map_err(describe)?;
    let attributes = HashMap::from([("xdg:schema", SCHEMA), ("application", application)]);
    let found = service.search_items(attributes).map_err(describe)?;
    let mut passwords = Vec::new();
    for item in found.unlocked.iter().chain(found.locked.iter()) {
        item.ensure_unlocked().map_err(describe)?;
        passwords.push(SafeStoragePassword::new(
            item.get_secret().map_err(describe)?,
        ));
    }
    Ok(passwords)
}

/// One line, without payloads that could carry item data.
fn describe(e: secret_service::Error) -> String {
    use secret_service::Error as E;
    match e {
        E::Unavailable => {
            "no Secret Service is reachable (no D-Bus session or no keyring daemon)".to_owned()
        }
        E::Locked | E::Prompt | E::PromptDisconnected => {
            "the Secret Service keyring is locked and was not unlocked".to_owned()
        }
        E::Zbus(z) => format!("Secret Service D-Bus error: {}", one_line(&z.to_string())),
        E::ZbusFdo(z) => format!("Secret Service D-Bus error: {}", one_line(&z.to_string())),
        E::Crypto(what) => format!("Secret Service session encryption failed: {what}"),
        E::Zvariant(_) | E::NoResult => "unexpected reply from the Secret Service".to_owned(),
        _ => "unexpected Secret Service failure".to_owned(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn mode() -> Option<String> {
        std::env::var("CREDVAULT_TEST_KEYRING").ok()
    }

    /// Whether this process is in keyring mode `want`; with
    /// `CREDVAULT_TEST_MARKERS=FILE` it appends `ran|skipped WANT TEST`
    /// there, so scripts/test.sh can check that each test ran in its pass.
    fn runs(want: &str, test: &str) -> bool {
        let ran = mode().as_deref() == Some(want);
        credvault_test_support::mark_keyring_test(ran, want, test);
        if !ran {
            eprintln!("skipping {test}: needs CREDVAULT_TEST_KEYRING={want}");
        }
        ran
    }

    /// Against the real Secret Service of `scripts/with-secret-service.sh`:
    /// an item stored the way Chromium stores it is found by schema and
    /// application, and only by them.
    #[test]
    fn finds_the_item_by_schema_and_application() {
        if !runs(
            "secret-service",
            "legacy::secret_service::finds_the_item_by_schema_and_application",
        ) {
            return;
        }
        let app = format!("credvault-unit-{}", std::process::id());
        let mut store = Command::new("secret-tool")
            .args(["store", "--label=test Safe Storage", "xdg:schema", SCHEMA])
            .args(["application", &app])
            .stdin(Stdio::piped())
            .spawn()
            .expect("secret-tool (libsecret-tools)");
        std::io::Write::write_all(store.stdin.as_mut().unwrap(), b"pw+/base64==").unwrap();
        drop(store.stdin.take());
        assert!(store.wait().unwrap().success());

        let found = v11_passwords(&app, Duration::from_secs(5)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].expose(), b"pw+/base64==");
        let none = v11_passwords(&format!("{app}-other"), Duration::from_secs(5)).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn no_bus_fails_fast_with_a_reason() {
        if !runs(
            "absent",
            "legacy::secret_service::no_bus_fails_fast_with_a_reason",
        ) {
            return;
        }
        let started = std::time::Instant::now();
        let err = v11_passwords("claude-pilot", Duration::from_secs(5)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.contains("Secret Service"), "{err}");
    }
}
