//! `status`: what the vault is and how it is protected. Never a value.

use credvault::format::{Slot, SlotKind, MINOR_VERSION};
use credvault::{store, Vault};
use serde::Serialize;

use crate::exit::Exit;
use crate::output::{print, print_json, sanitize, Format};
use crate::unlock::Context;

use super::kdf::{describe, weak_warning, KdfJson};
use super::Failure;

#[derive(Serialize)]
struct Status {
    path: String,
    format_version: String,
    encryption_available: bool,
    backend: &'static str,
    slots: Vec<SlotJson>,
    entries: usize,
    tombstones: usize,
    save_counter: u64,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct SlotJson {
    id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    kdf: Option<KdfJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    type_code: Option<u64>,
    unlocked: bool,
}

/// Runs `status`.
pub fn run(context: &Context, format: Format) -> Result<Exit, Failure> {
    let vault = context.open()?;
    let path = std::path::absolute(vault.path()).unwrap_or_else(|_| vault.path().to_owned());
    let (major, minor) = vault.format_version();
    let warnings = warnings(&vault);
    let status = Status {
        path: path.display().to_string(),
        format_version: format!("{major}.{minor}"),
        encryption_available: vault.is_encryption_available(),
        backend: backend(vault.slots()),
        slots: vault
            .slots()
            .iter()
            .map(|s| slot_json(s, vault.unlocked_by()))
            .collect(),
        entries: vault.len(),
        tombstones: vault.tombstones().count(),
        save_counter: vault.header().save_counter,
        warnings,
    };
    match format {
        Format::Json => print_json(&status)?,
        Format::Text => print(&text(&status, &vault))?,
    }
    Ok(Exit::Ok)
}

/// What protects the data key: a keychain slot if there is one, else the
/// passphrase (the recovery code only as the last resort).
fn backend(slots: &[Slot]) -> &'static str {
    let has = |f: fn(&SlotKind) -> bool| slots.iter().any(|s| f(&s.kind));
    if has(|k| matches!(k, SlotKind::Keychain(_))) {
        "keychain"
    } else if has(|k| matches!(k, SlotKind::Passphrase(_))) {
        "passphrase"
    } else if has(|k| matches!(k, SlotKind::Recovery(_))) {
        "recovery"
    } else {
        "unknown"
    }
}

fn slot_json(slot: &Slot, unlocked_by: u32) -> SlotJson {
    let mut out = SlotJson {
        id: slot.id,
        kind: slot.type_name(),
        kdf: None,
        service: None,
        account: None,
        type_code: None,
        unlocked: slot.id == unlocked_by,
    };
    match &slot.kind {
        SlotKind::Passphrase(p) => out.kdf = Some(KdfJson::from(&p.kdf)),
        SlotKind::Keychain(k) => {
            out.service = Some(k.service.clone());
            out.account = Some(k.account.clone());
        }
        SlotKind::Unknown { type_code, .. } => out.type_code = Some(*type_code),
        _ => {}
    }
    out
}

fn warnings(vault: &Vault) -> Vec<String> {
    let mut out = store::mode_warnings(vault.path());
    for slot in vault.slots() {
        match &slot.kind {
            SlotKind::Passphrase(p) if p.kdf.is_weak() => {
                out.push(format!("passphrase slot {}: {}", slot.id, weak_warning(&p.kdf)));
            }
            SlotKind::Unknown { type_code, .. } => out.push(format!(
                "slot {} has type {type_code}, unknown to this credvault (made by a newer version?); it is kept but not used",
                slot.id
            )),
            _ => {}
        }
    }
    let (_, minor) = vault.format_version();
    if minor > MINOR_VERSION {
        out.push(format!(
            "the vault uses format 1.{minor}, newer than the 1.{MINOR_VERSION} this credvault writes; features it does not know are kept but not used"
        ));
    }
    out
}

fn text(status: &Status, vault: &Vault) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        out.push_str(&format!("{label:<22}{}\n", sanitize(value)));
    };
    line("path:", &status.path);
    line("format version:", &status.format_version);
    line(
        "encryption available:",
        if status.encryption_available {
            "yes"
        } else {
            "no"
        },
    );
    line("backend:", status.backend);
    line("entries:", &status.entries.to_string());
    line("deleted (tombstones):", &status.tombstones.to_string());
    line("save counter:", &status.save_counter.to_string());
    out.push_str("slots:\n");
    for slot in vault.slots() {
        let detail = match &slot.kind {
            SlotKind::Passphrase(p) => format!("passphrase, Argon2id {}", describe(&p.kdf)),
            SlotKind::Keychain(k) => format!(
                "keychain, service \"{}\", account \"{}\"",
                sanitize(&k.service),
                sanitize(&k.account)
            ),
            SlotKind::Recovery(_) => "recovery code".to_owned(),
            SlotKind::Unknown { type_code, .. } => format!("unknown type {type_code}"),
            _ => slot.type_name().to_owned(),
        };
        let opened = if slot.id == vault.unlocked_by() {
            " (unlocked this vault)"
        } else {
            ""
        };
        out.push_str(&format!("  {}: {detail}{opened}\n", slot.id));
    }
    if status.warnings.is_empty() {
        out.push_str("warnings:             none\n");
    } else {
        out.push_str("warnings:\n");
        for w in &status.warnings {
            out.push_str(&format!("  - {}\n", sanitize(w)));
        }
    }
    out
}
