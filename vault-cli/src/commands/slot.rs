//! `slot list | add passphrase | add keychain | remove ID`: the ways the
//! vault can be unlocked. Every change unlocks the vault first, and a
//! removal never leaves the vault without a slot that can open it.

use credvault::{KeychainCleanup, NewSlot, Slot, SlotKind, VaultError};
use serde::Serialize;

use crate::cli::{AddPassphraseArgs, AddSlot, SlotCommand, StatusArgs};
use crate::exit::{CliError, Exit};
use crate::output::{note, print, print_json, warn, Format};
use crate::passphrase::{Confirm, Source};
use crate::unlock::{Context, Via};

use crate::failure::Failure;
use crate::kdf::{choose_kdf, describe, weak_warning, KdfJson};
use crate::view::{in_this_keychain, slot_lines, slot_views, View};

/// Runs a `slot` subcommand.
pub fn run(command: &SlotCommand, context: &Context, format: Format) -> Result<Exit, Failure> {
    match command {
        SlotCommand::List(args) => list(args, context, format),
        SlotCommand::Add(AddSlot::Passphrase(args)) => add_passphrase(args, context, format),
        SlotCommand::Add(AddSlot::Keychain) => add_keychain(context, format),
        SlotCommand::Remove(args) => remove(args.id, context, format),
    }
}

/// `slot list`: the slots as `status` shows them.
fn list(args: &StatusArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let view = View::load(context, args.no_unlock)?;
    let slots = slot_views(&view, context);
    match format {
        Format::Text => print(&slot_lines(&view, &slots, ""))?,
        Format::Json => {
            #[derive(Serialize)]
            struct Listed<'a> {
                path: String,
                unlocked: bool,
                slots: &'a [crate::view::SlotJson],
            }
            print_json(&Listed {
                path: view.path().display().to_string(),
                unlocked: view.is_unlocked(),
                slots: &slots,
            })?;
        }
    }
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct AddedJson {
    id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kdf: Option<KdfJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
}

#[derive(Serialize)]
struct Added {
    added: AddedJson,
}

/// `slot add passphrase`: a portable slot. The new passphrase comes from
/// `--new-passphrase-file`, `CREDVAULT_NEW_PASSPHRASE` or two prompts,
/// read after the vault is unlocked.
fn add_passphrase(
    args: &AddPassphraseArgs,
    context: &Context,
    format: Format,
) -> Result<Exit, Failure> {
    let mut vault = context.open()?;
    let passphrase = Source::resolve_new(args.new_passphrase_file.clone()).read(Confirm::New)?;
    if passphrase.expose().is_empty() {
        return Err(CliError::usage("refusing an empty passphrase").into());
    }
    let (kdf, calibrated) = choose_kdf(&args.kdf)?;
    let id = vault.add_slot(NewSlot::Passphrase(&passphrase, kdf))?;
    drop(passphrase);
    if kdf.is_weak() {
        warn(&weak_warning(&kdf));
    }
    match format {
        Format::Text => {
            if let Some(took) = calibrated {
                note(&format!(
                    "Argon2id calibrated on this machine: {} ({:.2} s per unlock)",
                    describe(&kdf),
                    took.as_secs_f64()
                ));
            }
            note(&format!(
                "added passphrase slot {id}: the vault now also opens with this passphrase, on any machine"
            ));
        }
        Format::Json => print_json(&Added {
            added: AddedJson {
                id,
                kind: "passphrase",
                kdf: Some(KdfJson::from(&kdf)),
                service: None,
                account: None,
            },
        })?,
    }
    Ok(Exit::Ok)
}

/// `slot add keychain`: a new random key in this machine's OS keychain.
fn add_keychain(context: &Context, format: Format) -> Result<Exit, Failure> {
    if context.no_keychain {
        return Err(CliError::usage("`slot add keychain` needs the OS keychain")
            .with_hint("run it without --no-keychain")
            .into());
    }
    let mut vault = context.open()?;
    let keychain = context.keychain().map_err(|reason| {
        CliError::new(
            Exit::Unlock,
            format!("cannot add a keychain slot: {reason}"),
        )
        .with_hint("run it where an OS keychain (Secret Service, macOS Keychain, Windows Credential Manager) is reachable and unlocked")
    })?;
    let id = vault.add_keychain_slot(keychain)?;
    let (service, account) = vault
        .slots()
        .iter()
        .find_map(|s| match &s.kind {
            SlotKind::Keychain(k) if s.id == id => Some((k.service.clone(), k.account.clone())),
            _ => None,
        })
        .unwrap_or_default();
    match format {
        Format::Text => note(&format!(
            "added keychain slot {id} (service \"{service}\", account \"{account}\"): this machine now opens the vault without a passphrase"
        )),
        Format::Json => print_json(&Added {
            added: AddedJson {
                id,
                kind: "keychain",
                kdf: None,
                service: Some(service),
                account: Some(account),
            },
        })?,
    }
    Ok(Exit::Ok)
}

/// `slot remove ID`: removes the slot, then (for a keychain slot) its
/// keychain item. Refuses when no other slot could open the vault: there
/// must remain a passphrase or recovery slot, or a keychain slot whose key
/// this machine's keychain holds.
fn remove(id: u32, context: &Context, format: Format) -> Result<Exit, Failure> {
    let opened = context.open_detailed()?;
    let via = opened.via;
    let mut vault = opened.vault;
    let vault_id = vault.header().vault_id;
    let slots: Vec<Slot> = vault.slots().to_vec();
    let Some(slot) = slots.iter().find(|s| s.id == id) else {
        return Err(CliError::from(VaultError::NoSuchSlot(id))
            .with_hint("see `credvault slot list` for the slot ids")
            .into());
    };
    let others: Vec<&Slot> = slots
        .iter()
        .filter(|s| s.id != id && !matches!(s.kind, SlotKind::Unknown { .. }))
        .collect();
    if others.is_empty() {
        return Err(CliError::from(VaultError::LastSlot)
            .with_hint("add another slot first: `credvault slot add passphrase` or `credvault slot add keychain`")
            .into());
    }
    let can_open = |s: &&Slot| match &s.kind {
        SlotKind::Keychain(_) => {
            via == Via::Slot(s.id) || in_this_keychain(s, &vault_id, context) == Some(true)
        }
        _ => true,
    };
    if !others.iter().any(can_open) {
        let ids: Vec<String> = others.iter().map(|s| s.id.to_string()).collect();
        return Err(CliError::usage(format!(
            "refusing to remove slot {id}: the other slots ({}) are keychain slots whose keys this machine's keychain does not hold (or cannot be checked), so nothing could open the vault afterwards",
            ids.join(", ")
        ))
        .with_hint("add a slot that opens it first (`credvault slot add passphrase`), or unlock the OS keychain and try again")
        .into());
    }

    let kind = slot.type_name();
    let mut warnings = Vec::new();
    let item = if let SlotKind::Keychain(k) = &slot.kind {
        match context.keychain() {
            Ok(keychain) => match vault.remove_slot_with_keychain(id, keychain)? {
                KeychainCleanup::Deleted => "deleted",
                KeychainCleanup::AlreadyGone => {
                    warnings.push(format!(
                        "slot {id}'s keychain item was already gone from this machine's keychain"
                    ));
                    "already_gone"
                }
                KeychainCleanup::NotOurs => {
                    warnings.push(format!(
                        "slot {id} named a keychain item credvault does not write for it (service \"{}\", account \"{}\"); that item was left alone",
                        k.service, k.account
                    ));
                    "not_ours"
                }
                KeychainCleanup::Failed(e) => {
                    warnings.push(format!(
                        "slot {id}'s keychain item could not be deleted ({e}); it is useless now and can be deleted by hand: secret-tool clear service {} account {}",
                        k.service, k.account
                    ));
                    "failed"
                }
                _ => "unknown",
            },
            Err(reason) => {
                vault.remove_slot(id)?;
                warnings.push(format!(
                    "slot {id}'s keychain item was not deleted ({reason}); it is useless now"
                ));
                "not_deleted"
            }
        }
    } else {
        vault.remove_slot(id)?;
        "none"
    };
    for w in &warnings {
        warn(w);
    }
    let purged = vault.take_purged();
    match format {
        Format::Text => {
            let detail = if item == "deleted" {
                " and deleted its keychain item"
            } else {
                ""
            };
            note(&format!("removed {kind} slot {id}{detail}"));
            crate::output::report_purged(&purged, format);
        }
        Format::Json => {
            #[derive(Serialize)]
            struct RemovedSlot {
                id: u32,
                #[serde(rename = "type")]
                kind: &'static str,
            }
            #[derive(Serialize)]
            struct Removed {
                removed: RemovedSlot,
                keychain_item: &'static str,
                warnings: Vec<String>,
                purged: Vec<String>,
            }
            print_json(&Removed {
                removed: RemovedSlot { id, kind },
                keychain_item: item,
                warnings,
                purged: crate::output::purged_paths(&purged),
            })?;
        }
    }
    Ok(Exit::Ok)
}
