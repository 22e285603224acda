//! A vault as `status` and `slot list` show it: unlocked, or only its
//! header with `--no-unlock`; its slots with whether this machine's
//! keychain opens each; and the remaining time of a session unlock.

use std::path::PathBuf;

use credvault::{ops, Header, Slot, SlotKind};
use serde::Serialize;

use crate::exit::CliError;
use crate::kdf::{describe, KdfJson};
use crate::output::sanitize;
use crate::unlock::{Context, Opened, Via};

/// One key slot, as `status` and `slot list` show it.
#[derive(Serialize)]
pub struct SlotJson {
    /// The slot id.
    pub id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    kdf: Option<KdfJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    /// Keychain slots: whether this machine's keychain holds the key that
    /// opens the slot (null: could not check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this_machine: Option<Option<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    type_code: Option<u64>,
    /// Whether this slot unlocked the vault.
    pub unlocked: bool,
}

/// The vault as `status` and `slot list` see it: unlocked, or only its
/// header with `--no-unlock`.
pub struct View {
    /// The vault's absolute path.
    pub path: PathBuf,
    /// Its header (authenticated only when `opened` is some).
    pub header: Header,
    /// The format's minor version.
    pub minor: u8,
    /// The unlocked vault and how it was unlocked; `None` with
    /// `--no-unlock`.
    pub opened: Option<Opened>,
}

impl View {
    /// Unlocks the vault, or reads its header alone with `no_unlock`.
    pub fn load(context: &Context, no_unlock: bool) -> Result<View, CliError> {
        let path = context.vault_path()?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        if no_unlock {
            let (header, minor) = context.read_header()?;
            return Ok(View {
                path,
                header,
                minor,
                opened: None,
            });
        }
        let opened = context.open_detailed()?;
        Ok(View {
            path,
            header: opened.vault.header().clone(),
            minor: opened.vault.format_version().1,
            opened: Some(opened),
        })
    }

    /// The vault's absolute path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the vault was unlocked (so the header is authenticated).
    pub fn is_unlocked(&self) -> bool {
        self.opened.is_some()
    }

    /// The slots of the header.
    pub fn slots(&self) -> &[Slot] {
        &self.header.slots
    }

    /// The slot that unlocked the vault (none for a session key).
    pub fn unlocked_by_slot(&self) -> Option<u32> {
        match self.opened.as_ref()?.via {
            Via::Slot(id) => Some(id),
            Via::Session => None,
        }
    }
}

/// Every slot, with whether this machine's keychain opens each keychain
/// slot.
pub fn slot_views(view: &View, context: &Context) -> Vec<SlotJson> {
    view.slots()
        .iter()
        .map(|slot| {
            let unlocked = view.unlocked_by_slot() == Some(slot.id);
            let mut out = SlotJson {
                id: slot.id,
                kind: slot.type_name(),
                kdf: None,
                service: None,
                account: None,
                this_machine: None,
                type_code: None,
                unlocked,
            };
            match &slot.kind {
                SlotKind::Passphrase(p) => out.kdf = Some(KdfJson::from(&p.kdf)),
                SlotKind::Keychain(k) => {
                    out.service = Some(k.service.clone());
                    out.account = Some(k.account.clone());
                    out.this_machine = Some(if unlocked {
                        Some(true)
                    } else {
                        in_this_keychain(slot, &view.header.vault_id, context)
                    });
                }
                SlotKind::Unknown { type_code, .. } => out.type_code = Some(*type_code),
                _ => {}
            }
            out
        })
        .collect()
}

/// Whether this machine's keychain holds a key that opens keychain slot
/// `slot`: `None` when that cannot be told (keychain disabled,
/// unreachable, locked). Items of other programs are never read.
pub fn in_this_keychain(slot: &Slot, vault_id: &[u8; 16], context: &Context) -> Option<bool> {
    ops::keychain_opens_slot(slot, vault_id, || context.keychain().ok())
}

/// One line per slot after `indent`: "1: keychain, service ..., in this
/// machine's keychain (unlocked this vault)".
pub fn slot_lines(view: &View, slots: &[SlotJson], indent: &str) -> String {
    let mut out = String::new();
    for (slot, shown) in view.slots().iter().zip(slots) {
        let detail = match &slot.kind {
            SlotKind::Passphrase(p) => format!("passphrase, Argon2id {}", describe(&p.kdf)),
            SlotKind::Keychain(k) => {
                let here = match shown.this_machine {
                    Some(Some(true)) => "in this machine's keychain",
                    Some(Some(false)) => "not in this machine's keychain",
                    _ => "keychain not checked",
                };
                format!(
                    "keychain, service \"{}\", account \"{}\", {here}",
                    sanitize(&k.service),
                    sanitize(&k.account)
                )
            }
            SlotKind::Recovery(_) => "recovery code".to_owned(),
            SlotKind::Unknown { type_code, .. } => format!("unknown type {type_code}"),
            _ => slot.type_name().to_owned(),
        };
        let opened = if shown.unlocked {
            " (unlocked this vault)"
        } else {
            ""
        };
        out.push_str(&format!("{indent}{}: {detail}{opened}\n", slot.id));
    }
    out
}

/// The kernel's remaining time of the cached key of `vault_id`, as
/// /proc/keys shows it ("59s", "14m", "2h"), if it can be read.
#[cfg(target_os = "linux")]
pub fn session_remaining(vault_id: &[u8; 16]) -> Option<String> {
    let description = credvault::session::description(vault_id);
    let keys = std::fs::read_to_string("/proc/keys").ok()?;
    // "<id> <flags> <usage> <timeout> <perm> <uid> <gid> <type> <description>: <summary>"
    let line = keys
        .lines()
        .find(|l| l.split_whitespace().nth(8) == Some(&format!("{description}:")))?;
    let timeout = line.split_whitespace().nth(3)?;
    let unit_ok = timeout.ends_with(['s', 'm', 'h', 'd', 'w']);
    let digits_ok = timeout
        .get(..timeout.len().saturating_sub(1))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    (unit_ok && digits_ok).then(|| timeout.to_owned())
}
