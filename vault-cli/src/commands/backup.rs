//! `backup`, `restore`, `undo` and `verify`: copies of the vault that open
//! elsewhere, putting a copy back, and checking any copy end to end.
//!
//! Everything that replaces the vault proves first that the replacement
//! opens and that every value in it authenticates, and keeps the file it
//! replaces as `VAULT.bak-<UTC time>`; a damaged or unopenable source
//! changes nothing.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use credvault::{
    ops, BackupOptions, Passphrase, SlotKind, SlotRef, StoreError, Vault, VaultError, Verified,
};
use serde::Serialize;

use crate::cli::{BackupArgs, RestoreArgs, VerifyArgs};
use crate::exit::{CliError, Exit};
use crate::output::{note, print, print_json, sanitize, warn, Format};
use crate::passphrase::{ask, interactive, same, Confirm, Source};
use crate::unlock::{Context, Credentials, Via};

use crate::failure::Failure;
use crate::kdf::{choose_kdf, weak_warning};
use crate::view::in_this_keychain;

#[derive(Serialize)]
struct SlotJson {
    id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn slots_json(slots: &[SlotRef]) -> Vec<SlotJson> {
    slots
        .iter()
        .map(|s| SlotJson {
            id: s.id,
            kind: s.kind,
        })
        .collect()
}

fn list(slots: &[SlotRef]) -> String {
    slots
        .iter()
        .map(|s| format!("{} ({})", s.id, s.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown(path: &Path) -> String {
    sanitize(&path.display().to_string())
}

/// "1 entry", "2 entries".
fn entries(n: usize) -> String {
    if n == 1 {
        "1 entry".to_owned()
    } else {
        format!("{n} entries")
    }
}

/// A source that cannot be used: says that nothing was changed.
fn untouched(e: CliError, src: &Path) -> CliError {
    match e.exit() {
        Exit::Unreadable => CliError::new(Exit::Unreadable, format!("{}: {}", shown(src), e.message()))
            .with_hint("nothing was changed; try another backup or generation (`credvault verify FILE` checks one)"),
        Exit::Unlock => {
            let hint = e.hint().unwrap_or(crate::exit::HINT_NO_SOURCE).to_owned();
            CliError::new(Exit::Unlock, format!("{}: {}", shown(src), e.message()))
                .with_hint(format!("{hint}; nothing was changed"))
        }
        _ => e,
    }
}

/// `backup DEST`.
pub fn backup(args: &BackupArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let opened = context.open_detailed()?;
    let vault = &opened.vault;
    let backup_passphrase = backup_passphrase(args)?;
    let kdf = match &backup_passphrase {
        Some(_) => Some(choose_kdf(&args.kdf)?),
        None => {
            if args.kdf.kdf_memory_mib.is_some() {
                warn("the --kdf-* options apply to the backup's own passphrase slot, and none was asked for (--backup-passphrase-file or --backup-passphrase)");
            }
            None
        }
    };
    // Offer the credential that opened the vault as proof that the backup
    // opens too; a keychain or session opening proves nothing portable.
    let mut proof = proof_of(&opened.via, vault, opened.credentials);
    let options = BackupOptions {
        passphrase: backup_passphrase.as_ref().zip(kdf.map(|(k, _)| k)),
        overwrite: args.force,
    };
    let prove = proof.as_mut().map(|c| c as &mut dyn credvault::Unlocker);
    let done = vault
        .write_backup(&args.dest, &options, prove)
        .map_err(|e| match e {
            VaultError::Store(StoreError::AlreadyExists(_)) => CliError::from(e).with_hint(
                "choose another DEST, or pass --force to replace it (never the vault itself)",
            ),
            e => e.into(),
        })?;
    drop(backup_passphrase);
    if let Some((k, _)) = &kdf {
        if k.is_weak() {
            warn(&weak_warning(k));
        }
    }
    let keychain_left_out: Vec<&SlotRef> = done
        .left_out
        .iter()
        .filter(|s| s.kind == "keychain")
        .collect();
    match format {
        Format::Text => {
            let proof = match done.opened_by {
                Some(id) => format!("it opens with slot {id} and every value was checked"),
                None => "every value was checked with the data key; its slots were copied unchanged from the vault".to_owned(),
            };
            note(&format!(
                "backed up {} (save {}) to {}: slots {}; {proof}",
                entries(done.entries),
                done.save_counter,
                shown(&done.path),
                list(&done.slots),
            ));
            if !keychain_left_out.is_empty() {
                note(&format!(
                    "not in the backup: keychain slot {} (a keychain does not travel); open the backup elsewhere with the passphrase or the recovery code, e.g. `credvault restore {}`",
                    keychain_left_out
                        .iter()
                        .map(|s| s.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    shown(&done.path)
                ));
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct BackedUp {
                path: String,
                entries: usize,
                save_counter: u64,
                slots: Vec<SlotJson>,
                left_out: Vec<SlotJson>,
                backup_passphrase_slot: Option<u32>,
                verified: bool,
                opened_by_slot: Option<u32>,
            }
            print_json(&BackedUp {
                path: done.path.display().to_string(),
                entries: done.entries,
                save_counter: done.save_counter,
                slots: slots_json(&done.slots),
                left_out: slots_json(&done.left_out),
                backup_passphrase_slot: done.added_passphrase_slot,
                verified: true,
                opened_by_slot: done.opened_by,
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// The backup's own passphrase: from `--backup-passphrase-file`, or asked
/// twice with `--backup-passphrase`; none otherwise.
fn backup_passphrase(args: &BackupArgs) -> Result<Option<Passphrase>, CliError> {
    let passphrase = if let Some(file) = &args.backup_passphrase_file {
        Source::File(file.clone()).read(Confirm::Once)?
    } else if args.backup_passphrase {
        if !interactive() {
            return Err(CliError::new(
                Exit::Unlock,
                "--backup-passphrase asks on a terminal, and there is none",
            )
            .with_hint("pass --backup-passphrase-file PATH instead"));
        }
        let failed = |e: std::io::Error| {
            CliError::new(
                Exit::Unlock,
                format!("cannot read the backup passphrase from the terminal: {e}"),
            )
        };
        let first = ask("Backup passphrase: ").map_err(failed)?;
        let second = ask("Repeat backup passphrase: ").map_err(failed)?;
        if !same(first.as_bytes(), second.as_bytes()) {
            return Err(CliError::usage("the backup passphrases do not match"));
        }
        Passphrase::new(first.as_bytes().to_vec())
    } else {
        return Ok(None);
    };
    if passphrase.expose().is_empty() {
        return Err(CliError::usage("refusing an empty backup passphrase"));
    }
    Ok(Some(passphrase))
}

/// The credential that opened `vault`, when it was a passphrase or a
/// recovery code.
fn proof_of(via: &Via, vault: &Vault, given: Credentials) -> Option<Credentials> {
    let Via::Slot(id) = via else { return None };
    let slot = vault.slots().iter().find(|s| s.id == *id)?;
    match slot.kind {
        SlotKind::Passphrase(_) => Some(Credentials {
            passphrase: given.passphrase,
            recovery: None,
        }),
        SlotKind::Recovery(_) => Some(Credentials {
            passphrase: None,
            recovery: given.recovery,
        }),
        _ => None,
    }
}

/// Checks a generation of the live vault: with the live vault's data key
/// when it opens (a generation made before a `passwd` opens that way too),
/// else with the credentials as any file.
fn verify_generation(context: &Context, bytes: Vec<u8>) -> Result<Verified, CliError> {
    match context.open_detailed() {
        Ok(mut opened) => {
            match Verified::open_with_key(bytes.clone(), opened.vault.data_key().clone()) {
                Ok(v) => Ok(v),
                // Another data key (the save undone was a rekey): unlock the
                // generation with what opened the vault, then the sources.
                Err(VaultError::Tampered) => {
                    match Verified::open(
                        bytes.clone(),
                        &mut opened.credentials,
                        &context.open_options(),
                    ) {
                        Ok(v) => Ok(v),
                        Err(_) => context.verify_bytes(bytes).map(|(v, _)| v),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        // A damaged vault is what undo is for: check the generation alone.
        Err(e) if e.exit() == Exit::Unreadable => context.verify_bytes(bytes).map(|(v, _)| v),
        Err(e) => Err(e),
    }
}

/// `restore SRC | --generation K`.
pub fn restore(args: &RestoreArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let live = context.vault_path()?;
    let (src, verified) = match (&args.src, args.generation) {
        (Some(src), _) => {
            let bytes = Verified::read(src).map_err(|e| untouched(e.into(), src))?;
            let verified = context
                .verify_bytes(bytes)
                .map_err(|e| untouched(e, src))?
                .0;
            (src.clone(), verified)
        }
        (None, Some(k)) => {
            let src = ops::generation_path(live, usize::from(k));
            let bytes = Verified::read(&src).map_err(|e| no_generation(e, &src))?;
            let verified = verify_generation(context, bytes).map_err(|e| untouched(e, &src))?;
            (src.clone(), verified)
        }
        (None, None) => {
            return Err(CliError::usage("restore needs SRC or --generation K").into());
        }
    };
    let mut restored = verified.restore_to(live, context.open_options())?;
    let mut warnings = Vec::new();
    let other_vault = restored
        .replaced_vault_id
        .is_some_and(|id| id != restored.vault.header().vault_id);
    if other_vault {
        warnings.push(format!(
            "the file replaced was another vault (a different vault id); it is kept as {}",
            restored.kept.as_deref().map(shown).unwrap_or_default()
        ));
    }
    // What was restored, before a keychain slot is added (another save).
    let (entries_restored, save_restored) =
        (restored.vault.len(), restored.vault.header().save_counter);
    let keychain_slot = offer_keychain(
        args.add_keychain,
        &mut restored.vault,
        context,
        &mut warnings,
    )?;
    for w in &warnings {
        warn(w);
    }
    match format {
        Format::Text => {
            let kept = match &restored.kept {
                Some(bak) => format!("the previous file is kept as {}", shown(bak)),
                None => "there was no vault here before".to_owned(),
            };
            note(&format!(
                "restored {} to {} ({}, save {}); {kept}",
                shown(&src),
                shown(live),
                entries(entries_restored),
                save_restored
            ));
            if let Some(id) = keychain_slot {
                note(&format!(
                    "added keychain slot {id}: this machine now opens the vault without a passphrase"
                ));
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct RestoredJson {
                path: String,
                source: String,
                entries: usize,
                save_counter: u64,
                kept: Option<String>,
                replaced_other_vault: bool,
                keychain_slot: Option<u32>,
                warnings: Vec<String>,
            }
            print_json(&RestoredJson {
                path: live.display().to_string(),
                source: src.display().to_string(),
                entries: entries_restored,
                save_counter: save_restored,
                kept: restored.kept.as_ref().map(|p| p.display().to_string()),
                replaced_other_vault: other_vault,
                keychain_slot,
                warnings,
            })?;
        }
    }
    Ok(Exit::Ok)
}

fn no_generation(e: VaultError, path: &Path) -> CliError {
    match e {
        VaultError::Store(StoreError::NotFound(_)) => CliError::new(
            Exit::FileSystem,
            format!("no earlier version of the vault at {}", shown(path)),
        )
        .with_hint("every save keeps the versions before it as VAULT.1, VAULT.2, ... (--generations, CREDVAULT_GENERATIONS; 0 keeps none)"),
        e => e.into(),
    }
}

/// After a restore: adds a keychain slot on this machine when asked
/// (`--add-keychain`) or, on a terminal, when the user says yes. Skipped
/// with `--no-keychain`, without a reachable keychain (a warning when it
/// was asked for) and when a keychain slot already opens it here. The
/// restore stands whatever happens here.
fn offer_keychain(
    asked: bool,
    vault: &mut Vault,
    context: &Context,
    warnings: &mut Vec<String>,
) -> Result<Option<u32>, CliError> {
    if context.no_keychain {
        return Ok(None);
    }
    let vault_id = vault.header().vault_id;
    let opens_here = vault
        .slots()
        .iter()
        .any(|s| in_this_keychain(s, &vault_id, context) == Some(true));
    if opens_here {
        return Ok(None);
    }
    let keychain = match context.keychain() {
        Ok(k) => k.clone(),
        Err(reason) => {
            if asked {
                warnings.push(format!(
                    "no keychain slot was added: {reason}; the vault opens with its passphrase or recovery code"
                ));
            }
            return Ok(None);
        }
    };
    let yes = asked || (std::io::stdin().is_terminal() && confirm(
        "Add a keychain slot on this machine, so the vault opens here without a passphrase? [Y/n] ",
    ));
    if !yes {
        if !std::io::stdin().is_terminal() {
            note("an OS keychain is reachable: `credvault slot add keychain` (or restore with --add-keychain) lets this machine open the vault without a passphrase");
        }
        return Ok(None);
    }
    match vault.add_keychain_slot(&keychain) {
        Ok(id) => Ok(Some(id)),
        Err(e) => {
            warnings.push(format!("no keychain slot was added: {e}"));
            Ok(None)
        }
    }
}

/// Asks a yes/no question on the terminal; yes unless the answer starts
/// with n or N.
fn confirm(question: &str) -> bool {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question}");
    let _ = stderr.flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    !line.trim_start().starts_with(['n', 'N'])
}

/// `undo`: restores the newest generation.
pub fn undo(context: &Context, format: Format) -> Result<Exit, Failure> {
    let live = context.vault_path()?;
    let Some((k, path)) = ops::generations(live).into_iter().next() else {
        return Err(no_generation(
            StoreError::NotFound(ops::generation_path(live, 1)).into(),
            &ops::generation_path(live, 1),
        )
        .into());
    };
    let before = ops::peek(live).ok().map(|p| p.header.save_counter);
    let bytes = Verified::read(&path)?;
    let verified = verify_generation(context, bytes).map_err(|e| untouched(e, &path))?;
    let restored = verified.undo_to(live, k, context.open_options())?;
    let vault = &restored.vault;
    let left = ops::generations(live).len();
    match format {
        Format::Text => {
            let from = before
                .map(|n| format!(" (was save {n})"))
                .unwrap_or_default();
            let kept = restored
                .kept
                .as_deref()
                .map(|p| {
                    format!(
                        "; the undone version is kept as {} (`credvault restore` it to redo)",
                        shown(p)
                    )
                })
                .unwrap_or_default();
            note(&format!(
                "undid the last change: the vault is back at save {}{from}, {}{kept}; {left} earlier version(s) left",
                vault.header().save_counter,
                entries(vault.len()),
            ));
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Undone {
                path: String,
                generation: usize,
                save_counter: u64,
                previous_save_counter: Option<u64>,
                entries: usize,
                kept: Option<String>,
                generations_left: usize,
            }
            print_json(&Undone {
                path: live.display().to_string(),
                generation: k,
                save_counter: vault.header().save_counter,
                previous_save_counter: before,
                entries: vault.len(),
                kept: restored.kept.as_ref().map(|p| p.display().to_string()),
                generations_left: left,
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// `verify [PATH]`: a full check that prints no secret.
pub fn verify(args: &VerifyArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let path: PathBuf = match &args.path {
        Some(p) => p.clone(),
        None => context.vault_path()?.to_owned(),
    };
    let bytes = Verified::read(&path)?;
    let (verified, _) = context.verify_bytes(bytes)?;
    let header = verified.header();
    let slots: Vec<SlotRef> = header.slots.iter().map(SlotRef::from).collect();
    // The directory of a backup (a USB stick, a share) is not the vault's:
    // only the file's own mode is worth a warning there.
    let warnings: Vec<String> = ops::file_warnings(&path)
        .into_iter()
        .filter(|w| args.path.is_none() || w.starts_with("vault file"))
        .collect();
    let vault_id = hex::encode(header.vault_id);
    match format {
        Format::Text => {
            let unlocked = match verified.unlocked_by() {
                Some(id) => format!(
                    "slot {id} ({})",
                    slots
                        .iter()
                        .find(|s| s.id == id)
                        .map_or("unknown", |s| s.kind)
                ),
                None => "the session key (credvault unlock)".to_owned(),
            };
            let mut out = String::new();
            let mut line = |label: &str, value: &str| {
                out.push_str(&format!("{label:<16}{value}\n"));
            };
            line("path:", &shown(&path));
            line(
                "format version:",
                &format!(
                    "{}.{}",
                    verified.format_version().0,
                    verified.format_version().1
                ),
            );
            line("vault id:", &vault_id);
            line("save counter:", &header.save_counter.to_string());
            line("slots:", &list(&slots));
            line("unlocked by:", &unlocked);
            line(
                "entries:",
                &format!("{} (every value opened and authenticated)", verified.len()),
            );
            line("tombstones:", &verified.tombstones().to_string());
            for w in &warnings {
                line("warning:", &sanitize(w));
            }
            line("result:", "OK");
            print(&out)?;
        }
        Format::Json => {
            #[derive(Serialize)]
            struct VerifiedJson {
                path: String,
                ok: bool,
                format_version: String,
                vault_id: String,
                save_counter: u64,
                slots: Vec<SlotJson>,
                unlocked_by_slot: Option<u32>,
                entries: usize,
                tombstones: usize,
                warnings: Vec<String>,
            }
            print_json(&VerifiedJson {
                path: path.display().to_string(),
                ok: true,
                format_version: format!(
                    "{}.{}",
                    verified.format_version().0,
                    verified.format_version().1
                ),
                vault_id,
                save_counter: header.save_counter,
                slots: slots_json(&slots),
                unlocked_by_slot: verified.unlocked_by(),
                entries: verified.len(),
                tombstones: verified.tombstones(),
                warnings,
            })?;
        }
    }
    Ok(Exit::Ok)
}
