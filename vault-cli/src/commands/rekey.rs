//! `passwd` (a rewrap) and `rekey` (a new data key), and `recovery rotate`.
//! See docs/backup.md, "Rewrap versus rekey": a rewrap changes one slot's
//! credential and leaves the data key alone, so older copies still open
//! with the old credential; a rekey makes everything old useless against
//! the current vault.

use credvault::{KdfParams, NewSlot, RecoveryKey, RekeyOptions, SlotKind, VaultError};
use serde::Serialize;

use crate::cli::{PasswdArgs, RekeyArgs, RotateArgs};
use crate::exit::{CliError, Exit};
use crate::output::{note, print_json, print_secret_json, warn, Format};
use crate::passphrase::{Confirm, Source};
use crate::recovery::{self, ENV_RECOVERY};
use crate::unlock::{Context, Via};

use crate::failure::Failure;
use crate::kdf::{choose_kdf, describe, weak_warning, KdfJson};

/// `passwd [--slot ID]`: a new passphrase for one passphrase slot.
pub fn passwd(args: &PasswdArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let opened = context.open_detailed()?;
    let mut vault = opened.vault;
    let passphrase_slots: Vec<(u32, KdfParams)> = vault
        .slots()
        .iter()
        .filter_map(|s| match &s.kind {
            SlotKind::Passphrase(p) => Some((s.id, p.kdf)),
            _ => None,
        })
        .collect();
    let ids = || {
        passphrase_slots
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (id, current) = match args.slot {
        Some(id) => match passphrase_slots.iter().find(|(i, _)| *i == id) {
            Some(found) => *found,
            None if vault.slots().iter().any(|s| s.id == id) => {
                return Err(CliError::from(VaultError::WrongSlotType {
                    id,
                    expected: "passphrase",
                })
                .with_hint("see `credvault slot list`")
                .into())
            }
            None => {
                return Err(CliError::from(VaultError::NoSuchSlot(id))
                    .with_hint("see `credvault slot list`")
                    .into())
            }
        },
        None => {
            let opened_by = match opened.via {
                Via::Slot(id) => passphrase_slots.iter().find(|(i, _)| *i == id).copied(),
                Via::Session => None,
            };
            match (opened_by, passphrase_slots.as_slice()) {
                (Some(found), _) => found,
                (None, [only]) => *only,
                (None, []) => {
                    return Err(
                        CliError::usage("the vault has no passphrase slot to change")
                            .with_hint("add one with `credvault slot add passphrase`")
                            .into(),
                    )
                }
                (None, _) => {
                    return Err(CliError::usage(format!(
                        "the vault has several passphrase slots ({}); say which with --slot ID",
                        ids()
                    ))
                    .into())
                }
            }
        }
    };
    let new = Source::resolve_new(args.new_passphrase_file.clone()).read(Confirm::New)?;
    if new.expose().is_empty() {
        return Err(CliError::usage("refusing an empty passphrase").into());
    }
    let (kdf, calibrated) = if args.kdf.kdf_memory_mib.is_some() {
        choose_kdf(&args.kdf)?
    } else {
        (current, None)
    };
    vault.rewrap_slot(id, NewSlot::Passphrase(&new, kdf))?;
    drop(new);
    let purged = vault.take_purged();
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
                "changed the passphrase of slot {id}. This is a rewrap: the data key and the values are unchanged, so copies made elsewhere before (backups, sync history) still open with the old passphrase; if it may be known to someone else, run `credvault rekey` as well"
            ));
            crate::output::report_purged(&purged, format);
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Changed {
                slot: u32,
                rewrapped: bool,
                kdf: KdfJson,
                purged: Vec<String>,
            }
            print_json(&Changed {
                slot: id,
                rewrapped: true,
                kdf: KdfJson::from(&kdf),
                purged: crate::output::purged_paths(&purged),
            })?;
        }
    }
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct CodeJson<'a> {
    slot: u32,
    code: &'a str,
}

/// `rekey`: a new data key, every slot wrapped again.
pub fn rekey(args: &RekeyArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let opened = context.open_detailed()?;
    let mut vault = opened.vault;
    let mut given = opened.credentials;
    let has = |f: fn(&SlotKind) -> bool| vault.slots().iter().any(|s| f(&s.kind));
    // A passphrase slot needs the passphrase even when the keychain or a
    // session opened the vault: read it now from the usual sources.
    if given.passphrase.is_none() && has(|k| matches!(k, SlotKind::Passphrase(_))) {
        given.passphrase = context.passphrase.read(Confirm::Once).ok();
    }
    let keep = if args.keep_recovery_code {
        if given.recovery.is_none() {
            given.recovery = context.recovery.read()?;
        }
        match &given.recovery {
            Some(k) => Some(k),
            None => {
                return Err(
                    CliError::usage("--keep-recovery-code needs the recovery code")
                        .with_hint(format!(
                            "give it with --recovery-file FILE, --recovery or {ENV_RECOVERY}"
                        ))
                        .into(),
                )
            }
        }
    } else {
        None
    };
    let keychain = if has(|k| matches!(k, SlotKind::Keychain(_))) {
        context.keychain().ok()
    } else {
        None
    };
    let vault_id = vault.header().vault_id;
    // A rekey without --keep-recovery-code makes new recovery codes: settle
    // where they go before anything changes.
    let makes_codes = keep.is_none() && has(|k| matches!(k, SlotKind::Recovery(_)));
    let mut delivery = if makes_codes {
        Some(recovery::Delivery::prepare(args.recovery_out.as_deref())?)
    } else {
        None
    };
    let rekeyed = match vault.rekey(RekeyOptions {
        passphrases: given.passphrase.iter().collect(),
        keep_recovery: keep,
        keychain,
        drop_unavailable: args.drop_unavailable,
    }) {
        Ok(rekeyed) => rekeyed,
        Err(e) => {
            if let Some(d) = delivery.take() {
                d.abandon();
            }
            return Err(e.into());
        }
    };
    let file = match &mut delivery {
        Some(d) => {
            let keys: Vec<(u32, &RecoveryKey)> = rekeyed
                .recovery_keys
                .iter()
                .map(|(id, k)| (*id, k))
                .collect();
            d.write_file(&keys)?;
            d.file_path().map(|p| p.display().to_string())
        }
        None => None,
    };
    let purged = vault.take_purged();
    // The audit line of a rekey is MACed with the new data key.
    crate::audit::remember(&vault);
    drop(given);

    #[cfg(target_os = "linux")]
    let session_ended = credvault::session::forget(&vault_id).unwrap_or(false);
    #[cfg(not(target_os = "linux"))]
    let session_ended = {
        let _ = vault_id;
        false
    };

    let mut warnings = Vec::new();
    for (old, cleanup) in &rekeyed.keychain_cleanup {
        match cleanup {
            credvault::KeychainCleanup::Deleted | credvault::KeychainCleanup::AlreadyGone => {}
            credvault::KeychainCleanup::Failed(e) => warnings.push(format!(
                "the old keychain item of slot {old} could not be deleted ({e}); it no longer opens the vault"
            )),
            _ => warnings.push(format!(
                "the old keychain item of slot {old} was left alone (credvault did not write it)"
            )),
        }
    }
    for slot in &rekeyed.slots {
        if let Some(why) = &slot.dropped_because {
            warnings.push(format!("dropped {} slot {}: {why}", slot.kind, slot.old_id));
        }
    }
    for w in &warnings {
        warn(w);
    }
    let moves: Vec<String> = rekeyed
        .slots
        .iter()
        .filter_map(|s| {
            let new = s.new_id?;
            Some(if new == s.old_id {
                format!("{} ({})", new, s.kind)
            } else {
                format!("{} -> {} ({}, new item)", s.old_id, new, s.kind)
            })
        })
        .collect();
    match format {
        Format::Text => {
            note(&format!(
                "rekeyed {}: a new data key, {} values sealed again, slots {}. Passphrase slots keep their passphrases (`credvault passwd` changes one); old keychain items, old recovery codes and any copy of the old data key no longer open this vault. Backups made elsewhere still open with their own old credentials{}",
                vault.path().display(),
                vault.len(),
                moves.join(", "),
                if session_ended { "; the session unlock was ended" } else { "" }
            ));
            crate::output::report_purged(&purged, format);
            match &file {
                Some(file) => note(&format!("the new recovery code was written to {file}")),
                None => {
                    for (id, key) in &rekeyed.recovery_keys {
                        recovery::show(key, *id).map_err(recovery::undelivered_stdout)?;
                    }
                }
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct SlotMove {
                old_id: u32,
                new_id: Option<u32>,
                #[serde(rename = "type")]
                kind: &'static str,
                dropped_because: Option<String>,
            }
            #[derive(Serialize)]
            struct Rekeyed<'a> {
                path: String,
                rekeyed: bool,
                entries: usize,
                slots: Vec<SlotMove>,
                recovery_codes: Vec<CodeJson<'a>>,
                recovery_code_file: Option<String>,
                purged: Vec<String>,
                session_ended: bool,
                warnings: Vec<String>,
            }
            let codes: Vec<(u32, zeroize::Zeroizing<String>)> = rekeyed
                .recovery_keys
                .iter()
                .map(|(id, k)| (*id, recovery::json_code(k)))
                .collect();
            print_secret_json(
                &Rekeyed {
                    path: vault.path().display().to_string(),
                    rekeyed: true,
                    entries: vault.len(),
                    slots: rekeyed
                        .slots
                        .iter()
                        .map(|s| SlotMove {
                            old_id: s.old_id,
                            new_id: s.new_id,
                            kind: s.kind,
                            dropped_because: s.dropped_because.clone(),
                        })
                        .collect(),
                    recovery_codes: codes
                        .iter()
                        .filter(|_| file.is_none())
                        .map(|(slot, code)| CodeJson { slot: *slot, code })
                        .collect(),
                    recovery_code_file: file.clone(),
                    purged: crate::output::purged_paths(&purged),
                    session_ended,
                    warnings,
                },
                64 * 1024,
            )
            .map_err(recovery::undelivered_stdout)?;
        }
    }
    Ok(Exit::Ok)
}

/// `recovery rotate`: a new recovery code replaces the old one(s). The
/// code's destination is checked (or its file created) before the save.
pub fn rotate(args: &RotateArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let mut vault = context.open()?;
    let had = vault
        .slots()
        .iter()
        .any(|s| matches!(s.kind, SlotKind::Recovery(_)));
    let key = RecoveryKey::generate();
    let mut delivery = recovery::Delivery::prepare(args.recovery_out.as_deref())?;
    let id = match vault.replace_recovery(&key) {
        Ok(id) => id,
        Err(e) => {
            delivery.abandon();
            return Err(e.into());
        }
    };
    delivery.write_file(&[(id, &key)])?;
    let file = delivery.file_path().map(|p| p.display().to_string());
    let purged = vault.take_purged();
    match format {
        Format::Text => {
            note(&if had {
                format!("replaced the recovery code (slot {id}): the old code no longer opens this vault; backups made elsewhere still open with it (`credvault rekey` makes them useless against this vault)")
            } else {
                format!("added recovery slot {id}")
            });
            crate::output::report_purged(&purged, format);
            match &file {
                Some(file) => note(&format!("the new recovery code was written to {file}")),
                None => recovery::show(&key, id).map_err(recovery::undelivered_stdout)?,
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Rotated<'a> {
                slot: u32,
                replaced: bool,
                recovery_code: Option<&'a str>,
                recovery_code_file: Option<String>,
                purged: Vec<String>,
            }
            let code = recovery::json_code(&key);
            print_secret_json(
                &Rotated {
                    slot: id,
                    replaced: had,
                    recovery_code: file.is_none().then_some(code.as_str()),
                    recovery_code_file: file.clone(),
                    purged: crate::output::purged_paths(&purged),
                },
                16 * 1024,
            )
            .map_err(recovery::undelivered_stdout)?;
        }
    }
    Ok(Exit::Ok)
}
