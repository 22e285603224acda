//! The macOS Keychain password of an Electron app's safeStorage (features
//! `legacy` and `keychain`, macOS only).
//!
//! Electron names the generic-password item service `<App> Safe Storage`
//! and, since it patched Chromium's `keychain_password_mac.mm`, account
//! `<App> Key` (`<App> App Store Key` in Mac App Store builds); older
//! versions used account `<App>` and migrate it to the suffixed name on
//! first use. All three are tried, in that order. `<App>` is `app.getName()`.
//!
//! The lookup runs on a worker thread and is given up after a timeout: the
//! Keychain may show an access prompt and wait for it.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use keyring_core::api::CredentialStore;
use keyring_core::Entry;

use super::oscrypt::SafeStoragePassword;

/// The Keychain service and the accounts tried, for `app_name`.
pub fn item_names(app_name: &str) -> (String, [String; 3]) {
    (
        format!("{app_name} Safe Storage"),
        [
            format!("{app_name} Key"),
            format!("{app_name} App Store Key"),
            app_name.to_owned(),
        ],
    )
}

/// Reads the safeStorage password of `app_name` from the login Keychain.
pub fn password(app_name: &str, timeout: Duration) -> Result<SafeStoragePassword, String> {
    let app_name = app_name.to_owned();
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("credvault-keychain-legacy".to_owned())
        .spawn(move || {
            let _ = tx.send(lookup(&app_name));
        })
        .map_err(|e| format!("cannot start a Keychain thread: {e}"))?;
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(format!(
            "the Keychain did not answer within {} s (an access prompt left unanswered?)",
            timeout.as_secs_f64()
        ))
    })
}

fn lookup(app_name: &str) -> Result<SafeStoragePassword, String> {
    let store: Arc<CredentialStore> =
        apple_native_keyring_store::keychain::Store::new().map_err(|e| {
            format!(
                "the Keychain is not available: {}",
                one_line(&e.to_string())
            )
        })?;
    let (service, accounts) = item_names(app_name);
    for account in &accounts {
        let entry = Entry::new_in_store(&store, &service, account)
            .map_err(|e| format!("Keychain error: {}", one_line(&e.to_string())))?;
        match entry.get_secret() {
            Ok(secret) => return Ok(SafeStoragePassword::new(secret)),
            Err(keyring_core::Error::NoEntry) => continue,
            Err(keyring_core::Error::NoStorageAccess(_)) => {
                return Err("the Keychain refused access to the Safe Storage item".to_owned())
            }
            Err(_) => return Err("the Keychain could not read the Safe Storage item".to_owned()),
        }
    }
    Err(format!(
        "the Keychain has no generic password \"{service}\" (accounts \"{}\", \"{}\" or \"{}\"); check --app-name",
        accounts[0], accounts[1], accounts[2]
    ))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
