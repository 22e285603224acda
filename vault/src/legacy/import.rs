//! Importing a `credentials.json` into a vault, in three steps the caller
//! sequences:
//!
//! 1. [`ImportPlan::new`] decodes every entry (`plain:` hex, `enc:`
//!    decrypted through [`SafeStorage`]) and compares it with the vault:
//!    each key is [`Status::Imported`] (new, or replacing a different value
//!    when `overwrite` is set), [`Status::Unchanged`] (the vault already
//!    holds the same value: re-running an import changes nothing),
//!    [`Status::Kept`] (the vault holds a *different* value and `overwrite`
//!    is off: the vault wins) or [`Status::Failed`] (with a reason).
//! 2. [`ImportPlan::commit`] stores every `Imported` value in **one**
//!    locked, atomic save, or none if there is nothing to store. Failed
//!    keys do not stop the others: the successes are saved and the caller
//!    reports the failures (the CLI exits non-zero).
//! 3. [`ImportPlan::verify`] re-reads the vault from disk and checks that
//!    every `Imported` and `Unchanged` key holds exactly the planned value.
//!    Only after that may the legacy file be removed, and only if
//!    [`ImportPlan::is_complete`] (nothing kept or failed).
//!
//! Values never appear in reports, errors or `Debug` output.

use std::fmt;

use crate::crypto::SecretValue;
use crate::format::limits::MAX_VALUE_LEN;
use crate::format::KeyName;
use crate::vault::{SetOptions, Vault, VaultError};

use super::credentials_json::{LegacyFile, LegacyValue};
use super::keys::{Platform, SafeStorage};
use super::oscrypt::{Opened, Version};

/// What happens to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Stored (or to be stored, before commit).
    Imported,
    /// The vault already holds this very value.
    Unchanged,
    /// The vault holds a different value, which is kept.
    Kept,
    /// The value could not be decoded, decrypted or named.
    Failed,
}

impl Status {
    /// "imported", "unchanged", "kept" or "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Imported => "imported",
            Status::Unchanged => "unchanged",
            Status::Kept => "kept",
            Status::Failed => "failed",
        }
    }
}

/// One key of the plan.
pub struct Item {
    /// The key as written in the legacy file (untrusted text: sanitize
    /// before printing to a terminal).
    pub key: String,
    /// What happens to it.
    pub status: Status,
    /// How the value was stored in the legacy file: "plain", "enc:v10",
    /// "enc:v11", ... (`None` when it could not be told).
    pub source: Option<String>,
    /// Why it failed or was kept.
    pub reason: Option<String>,
    value: Option<(KeyName, SecretValue)>,
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("key", &self.key)
            .field("status", &self.status)
            .field("source", &self.source)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// How many keys ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// [`Status::Imported`].
    pub imported: usize,
    /// [`Status::Unchanged`].
    pub unchanged: usize,
    /// [`Status::Kept`].
    pub kept: usize,
    /// [`Status::Failed`].
    pub failed: usize,
}

/// Options of an import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Replace a different value already in the vault (otherwise it is
    /// kept and the key reported as [`Status::Kept`]).
    pub overwrite: bool,
}

/// The re-read vault does not hold what the import planned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The vault could not be re-read.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A key is missing or holds another value (another process changed
    /// it in between?).
    #[error("after re-reading the vault, {0} does not hold the imported value")]
    Mismatch(String),
}

/// The decoded legacy file, compared with a vault.
#[derive(Debug)]
pub struct ImportPlan {
    items: Vec<Item>,
}

impl ImportPlan {
    /// Decodes and decrypts every entry of `file` and compares it with
    /// `vault`. Fails only when the vault cannot be read; per-key problems
    /// are [`Status::Failed`] items.
    pub fn new(
        file: &LegacyFile,
        vault: &Vault,
        keys: &mut SafeStorage,
        options: ImportOptions,
    ) -> Result<ImportPlan, VaultError> {
        let platform = keys.options().platform;
        let mut items = Vec::with_capacity(file.entries.len());
        for entry in &file.entries {
            let mut item = Item {
                key: entry.key.clone(),
                status: Status::Failed,
                source: entry.value.as_ref().ok().map(|v| v.kind().to_owned()),
                reason: None,
                value: None,
            };
            let decoded = match &entry.value {
                Err(e) => Err(e.to_string()),
                Ok(LegacyValue::Plain(v)) => Ok(SecretValue::new(v.expose().to_vec())),
                Ok(LegacyValue::Encrypted(blob)) => match keys.decrypt(blob) {
                    Ok(d) => {
                        item.source = Some(describe(d.opened, platform));
                        Ok(SecretValue::from(d.plaintext))
                    }
                    Err(e) => {
                        item.source = blob
                            .get(..3)
                            .and_then(|p| std::str::from_utf8(p).ok())
                            .filter(|p| *p == "v10" || *p == "v11")
                            .map(|p| format!("enc:{p}"))
                            .or(item.source);
                        Err(e.to_string())
                    }
                },
            };
            let name = KeyName::new(&entry.key)
                .map_err(|e| format!("not a valid credvault key name: {e}"));
            match (name, decoded) {
                (Err(reason), _) | (_, Err(reason)) => item.reason = Some(reason),
                (Ok(_), Ok(value)) if value.len() > MAX_VALUE_LEN => {
                    item.reason = Some(format!(
                        "the value is {} bytes, above the limit of {MAX_VALUE_LEN}",
                        value.len()
                    ));
                }
                (Ok(name), Ok(value)) => {
                    item.status = match vault.get(&name)? {
                        None => Status::Imported,
                        Some(old) if same(old.expose(), value.expose()) => Status::Unchanged,
                        Some(_) if options.overwrite => Status::Imported,
                        Some(_) => {
                            item.reason = Some(
                                "the vault already holds a different value (kept; --overwrite replaces it)"
                                    .to_owned(),
                            );
                            Status::Kept
                        }
                    };
                    item.value = Some((name, value));
                }
            }
            items.push(item);
        }
        Ok(ImportPlan { items })
    }

    /// The keys, in file order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// How many keys are in each status.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for item in &self.items {
            match item.status {
                Status::Imported => c.imported += 1,
                Status::Unchanged => c.unchanged += 1,
                Status::Kept => c.kept += 1,
                Status::Failed => c.failed += 1,
            }
        }
        c
    }

    /// Whether every legacy value is (or will be) in the vault: nothing
    /// failed and nothing was kept.
    pub fn is_complete(&self) -> bool {
        self.items
            .iter()
            .all(|i| matches!(i.status, Status::Imported | Status::Unchanged))
    }

    /// Stores every [`Status::Imported`] value in one save; returns how
    /// many. No save happens when there is nothing to store.
    pub fn commit(&self, vault: &mut Vault) -> Result<usize, VaultError> {
        let mut tx = vault.transaction();
        for item in &self.items {
            if let (Status::Imported, Some((name, value))) = (item.status, &item.value) {
                tx.set(name, value, SetOptions::default())?;
            }
        }
        let n = tx.len();
        if n > 0 {
            tx.commit()?;
        }
        Ok(n)
    }

    /// Re-reads `vault` from disk and checks every imported and unchanged
    /// key against the planned value.
    pub fn verify(&self, vault: &mut Vault) -> Result<(), VerifyError> {
        vault.reload()?;
        for item in &self.items {
            if !matches!(item.status, Status::Imported | Status::Unchanged) {
                continue;
            }
            let Some((name, want)) = &item.value else {
                return Err(VerifyError::Mismatch(item.key.clone()));
            };
            match vault.get(name)? {
                Some(got) if same(got.expose(), want.expose()) => {}
                _ => return Err(VerifyError::Mismatch(item.key.clone())),
            }
        }
        Ok(())
    }
}

/// "enc:v11", "enc:v10 (empty-password retry)", ...
fn describe(opened: Opened, platform: Platform) -> String {
    match opened {
        Opened::Empty => "enc (empty value)".to_owned(),
        Opened::LinuxV10 => "enc:v10".to_owned(),
        Opened::LinuxV11(_) => "enc:v11".to_owned(),
        Opened::EmptyPasswordRetry(Version::V10) => "enc:v10 (empty-password retry)".to_owned(),
        Opened::EmptyPasswordRetry(Version::V11) => "enc:v11 (empty-password retry)".to_owned(),
        Opened::Macos | Opened::Windows => format!("enc:v10 ({})", platform.name()),
    }
}

/// Compares two values without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::credentials_json;
    use crate::legacy::keys::KeyOptions;
    use crate::legacy::oscrypt::SafeStoragePassword;
    use crate::legacy::test_vectors::vectors;
    use crate::{KdfParams, NewSlot, Passphrase};

    fn vault(dir: &tempfile::TempDir) -> Vault {
        let kdf = KdfParams::new(8 * 1024, 1, 1).unwrap();
        Vault::create(
            &dir.path().join("v.cvault"),
            NewSlot::Passphrase(&Passphrase::from("pw"), kdf),
        )
        .unwrap()
    }

    fn mixed_file() -> (String, Vec<(String, String)>) {
        let doc = vectors();
        let mut members = Vec::new();
        let mut want = Vec::new();
        for v in &doc.vectors {
            let key = match v.keyring.as_str() {
                "basic" => format!("v10.{}", v.name),
                "gnome-libsecret" => format!("v11.{}", v.name),
                _ => continue,
            };
            members.push(format!("\"{key}\": \"enc:{}\"", v.blob));
            want.push((key, v.plaintext.clone()));
        }
        let plain = "plain ✓ value";
        members.push(format!(
            "\"plain.value\": \"plain:{}\"",
            crate::crypto::hex_lower(plain.as_bytes())
        ));
        want.push(("plain.value".to_owned(), plain.to_owned()));
        members.push("\"bad.prefix\": \"zzz:00\"".to_owned());
        members.push("\"bad name!\": \"plain:00\"".to_owned());
        (
            format!(
                "{{\"credentials\": {{{}}}, \"encryptionAvailable\": true}}",
                members.join(",")
            ),
            want,
        )
    }

    fn keys() -> SafeStorage {
        let password = vectors().keyring("gnome-libsecret").password.clone();
        SafeStorage::new(KeyOptions {
            platform: Platform::Linux,
            password: Some(SafeStoragePassword::new(password.into_bytes())),
            os_keychain: false,
            ..KeyOptions::default()
        })
    }

    #[test]
    fn plan_commit_verify_and_rerun_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(&dir);
        let (json, want) = mixed_file();
        let file = credentials_json::parse(json.as_bytes()).unwrap();
        let plan = ImportPlan::new(&file, &v, &mut keys(), ImportOptions::default()).unwrap();
        let c = plan.counts();
        assert_eq!(
            (c.imported, c.unchanged, c.kept, c.failed),
            (want.len(), 0, 0, 2)
        );
        assert!(!plan.is_complete());
        assert_eq!(plan.commit(&mut v).unwrap(), want.len());
        plan.verify(&mut v).unwrap();
        for (key, value) in &want {
            let got = v.get(&KeyName::new(key).unwrap()).unwrap().unwrap();
            assert_eq!(got.expose(), value.as_bytes(), "{key}");
        }
        let sources: Vec<_> = plan
            .items()
            .iter()
            .filter_map(|i| i.source.clone())
            .collect();
        assert!(sources.contains(&"enc:v10".to_owned()) && sources.contains(&"enc:v11".to_owned()));

        // Again: everything unchanged, nothing saved.
        let counter = v.header().save_counter;
        let again = ImportPlan::new(&file, &v, &mut keys(), ImportOptions::default()).unwrap();
        assert_eq!(again.counts().unchanged, want.len());
        assert_eq!(again.commit(&mut v).unwrap(), 0);
        assert_eq!(v.header().save_counter, counter);
        again.verify(&mut v).unwrap();
    }

    #[test]
    fn a_different_vault_value_is_kept_unless_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(&dir);
        let name = KeyName::new("github.token").unwrap();
        v.set(&name, &SecretValue::from("newer")).unwrap();
        let file =
            credentials_json::parse(br#"{"credentials":{"github.token":"plain:6f6c646572"}}"#)
                .unwrap();
        let plan = ImportPlan::new(&file, &v, &mut keys(), ImportOptions::default()).unwrap();
        assert_eq!(plan.items()[0].status, Status::Kept);
        assert!(!plan.is_complete());
        assert_eq!(plan.commit(&mut v).unwrap(), 0);
        assert_eq!(v.get(&name).unwrap().unwrap().expose(), b"newer");
        let plan =
            ImportPlan::new(&file, &v, &mut keys(), ImportOptions { overwrite: true }).unwrap();
        assert_eq!(plan.items()[0].status, Status::Imported);
        plan.commit(&mut v).unwrap();
        assert_eq!(v.get(&name).unwrap().unwrap().expose(), b"older");
    }

    #[test]
    fn verify_notices_a_change_behind_our_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(&dir);
        let file = credentials_json::parse(br#"{"credentials":{"a.b":"plain:31"}}"#).unwrap();
        let plan = ImportPlan::new(&file, &v, &mut keys(), ImportOptions::default()).unwrap();
        plan.commit(&mut v).unwrap();
        let mut other = Vault::open(
            v.path(),
            &mut crate::PassphraseUnlocker::new(Passphrase::from("pw")),
        )
        .unwrap();
        other
            .set(&KeyName::new("a.b").unwrap(), &SecretValue::from("2"))
            .unwrap();
        assert!(matches!(plan.verify(&mut v), Err(VerifyError::Mismatch(k)) if k == "a.b"));
    }

    #[test]
    fn reports_never_contain_values() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(&dir);
        let (json, want) = mixed_file();
        let file = credentials_json::parse(json.as_bytes()).unwrap();
        let plan = ImportPlan::new(&file, &v, &mut keys(), ImportOptions::default()).unwrap();
        let shown = format!("{plan:?}");
        for (_, value) in want.iter().filter(|(_, v)| v.len() > 4) {
            assert!(!shown.contains(value.as_str()), "{shown}");
        }
    }
}
