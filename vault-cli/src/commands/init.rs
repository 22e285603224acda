//! `init`: create a vault. Never touches an existing file.
//!
//! The backend is chosen by [`Backend::choose`]: a keychain slot when the
//! OS keychain is reachable and writable (and `--no-keychain` is absent),
//! otherwise a passphrase slot from the usual sources; with neither, exit 3
//! and nothing is created. A keychain vault also gets a passphrase slot
//! when a passphrase is given explicitly (`--passphrase-file`,
//! `CREDVAULT_PASSPHRASE`); on a terminal it asks for none.
//!
//! Unless `--no-recovery`, the vault also gets a recovery slot, and its
//! recovery code is printed once (stdout; `recovery_code` with `--json`).
//! All slots are written in the one write that creates the file.

use std::time::Duration;

use credvault::{ops, KdfParams, NewSlot, Passphrase, RecoveryKey, SlotKind, Vault};
use serde::Serialize;

use crate::cli::InitArgs;
use crate::exit::{CliError, Exit};
use crate::output::{note, print_secret_json, warn, Format};
use crate::passphrase::{self, Confirm, Source};
use crate::recovery;
use crate::unlock::{keychain_detail, Backend, Context};

use crate::failure::Failure;
use crate::kdf::{choose_kdf, describe, weak_warning, KdfJson};

/// The warning for a vault only this machine's keychain opens.
pub use credvault::service::KEYCHAIN_ONLY;

/// Runs `init`.
pub fn run(args: &InitArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let path = context.vault_path()?;
    // Checked again, atomically, under the lock by Vault::create; checking
    // here first spares the user a prompt and a calibration for nothing.
    ops::refuse_existing(path)?;
    let backend = Backend::choose(context);
    let keychain_error = match &backend {
        Backend::Passphrase { keychain_unusable } => keychain_unusable.clone(),
        Backend::Keychain(_) => None,
    };
    let mut warnings = Vec::new();
    let recovery_key = (!args.no_recovery).then(RecoveryKey::generate);
    if args.recovery_out.is_some() && recovery_key.is_none() {
        return Err(
            CliError::usage("--recovery-out needs a recovery slot; drop --no-recovery").into(),
        );
    }

    // Every credential is read, and the KDF calibrated, before anything
    // is written; where the recovery code goes is settled inside, after
    // the prompts and before the file is created.
    let mut delivery = None;
    let created = create(
        args,
        context,
        &backend,
        &recovery_key,
        &mut warnings,
        &mut delivery,
    );
    let (vault, kdf) = match created {
        Ok(done) => done,
        Err(e) => {
            if let Some(d) = delivery.take() {
                recovery::Delivery::abandon(d);
            }
            return Err(e);
        }
    };
    let file = match (&mut delivery, &recovery_key, recovery_slot_of(&vault)) {
        (Some(d), Some(key), Some(id)) => {
            d.write_file(&[(id, key)])?;
            d.file_path().map(|p| p.display().to_string())
        }
        _ => None,
    };
    report(Report {
        context,
        format,
        backend: &backend,
        vault: &vault,
        kdf,
        recovery_key: &recovery_key,
        recovery_file: file,
        keychain_error,
        warnings,
    })
}

/// A new passphrase slot's parameters and whether they were calibrated
/// (and how long one unlock took).
type KdfChoice = Option<(KdfParams, Option<Duration>)>;

/// The id of the vault's recovery slot, if it has one.
fn recovery_slot_of(vault: &Vault) -> Option<u32> {
    vault
        .slots()
        .iter()
        .find(|s| matches!(s.kind, SlotKind::Recovery(_)))
        .map(|s| s.id)
}

/// Reads the credentials, settles the recovery code's delivery, and
/// creates the vault.
fn create(
    args: &InitArgs,
    context: &Context,
    backend: &Backend,
    recovery_key: &Option<RecoveryKey>,
    warnings: &mut Vec<String>,
    delivery: &mut Option<recovery::Delivery>,
) -> Result<(Vault, KdfChoice), Failure> {
    let path = context.vault_path()?;
    let prepare = |delivery: &mut Option<recovery::Delivery>| -> Result<(), Failure> {
        if recovery_key.is_some() {
            *delivery = Some(recovery::Delivery::prepare(args.recovery_out.as_deref())?);
        }
        Ok(())
    };
    Ok(match backend {
        Backend::Keychain(keychain) => {
            let portable = if context.passphrase.is_explicit() {
                Some(NewPassphraseSlot::read(args, context, None)?)
            } else {
                if args.kdf.kdf_memory_mib.is_some() {
                    warnings.push("the --kdf-* options apply to a passphrase slot, and none was made (no --passphrase-file or CREDVAULT_PASSPHRASE)".to_owned());
                }
                if recovery_key.is_none() {
                    warnings.push(KEYCHAIN_ONLY.to_owned());
                }
                None
            };
            let mut more = Vec::new();
            if let Some(slot) = &portable {
                more.push(NewSlot::Passphrase(&slot.passphrase, slot.kdf));
            }
            if let Some(key) = &recovery_key {
                more.push(NewSlot::Recovery(key));
            }
            prepare(delivery)?;
            let vault =
                Vault::create_with_keychain_and(path, keychain, more, context.open_options())?;
            crate::audit::remember(&vault);
            (vault, portable.map(|slot| (slot.kdf, slot.calibrated)))
        }
        Backend::Passphrase { keychain_unusable } => {
            let slot = NewPassphraseSlot::read(args, context, keychain_unusable.as_deref())?;
            let mut slots = vec![NewSlot::Passphrase(&slot.passphrase, slot.kdf)];
            if let Some(key) = &recovery_key {
                slots.push(NewSlot::Recovery(key));
            }
            prepare(delivery)?;
            let vault = Vault::create_with_slots(path, slots, context.open_options())?;
            crate::audit::remember(&vault);
            if let Some(reason) = keychain_unusable {
                warnings.push(format!(
                    "no OS keychain is usable: the vault is protected by its passphrase only ({})",
                    keychain_detail(reason)
                ));
            }
            (vault, Some((slot.kdf, slot.calibrated)))
        }
    })
}

/// What `init` made, for [`report`].
struct Report<'a> {
    context: &'a Context,
    format: Format,
    backend: &'a Backend,
    vault: &'a Vault,
    kdf: KdfChoice,
    recovery_key: &'a Option<RecoveryKey>,
    recovery_file: Option<String>,
    keychain_error: Option<String>,
    warnings: Vec<String>,
}

/// Prints what `init` made; the recovery code last, unless it went to a
/// file. A code that cannot be printed is an error (exit 5), never a
/// quiet success.
fn report(r: Report<'_>) -> Result<Exit, Failure> {
    let Report {
        context,
        format,
        backend,
        vault,
        kdf,
        recovery_key,
        recovery_file,
        keychain_error,
        mut warnings,
    } = r;
    let path = context.vault_path()?;
    if let Some((kdf, _)) = &kdf {
        if kdf.is_weak() {
            warnings.insert(0, weak_warning(kdf));
        }
    }
    for w in &warnings {
        warn(w);
    }

    let keychain_item = vault.slots().iter().find_map(|s| match &s.kind {
        SlotKind::Keychain(k) => Some(KeychainItem {
            service: k.service.clone(),
            account: k.account.clone(),
        }),
        _ => None,
    });
    let recovery_slot = recovery_slot_of(vault);
    match format {
        Format::Text => {
            if let Some((kdf, Some(took))) = &kdf {
                note(&format!(
                    "Argon2id calibrated on this machine: {} ({:.2} s per unlock)",
                    describe(kdf),
                    took.as_secs_f64()
                ));
            }
            let protection = match (&keychain_item, &kdf) {
                (Some(item), Some(_)) => format!(
                    "the OS keychain (service \"{}\", account \"{}\") and a passphrase",
                    item.service, item.account
                ),
                (Some(item), None) => format!(
                    "the OS keychain (service \"{}\", account \"{}\"); no passphrase needed on this machine",
                    item.service, item.account
                ),
                _ => "a passphrase".to_owned(),
            };
            let recovery_note = if recovery_key.is_some() {
                ", and a recovery code (below)"
            } else {
                ""
            };
            note(&format!(
                "created vault {} protected by {protection}{recovery_note}",
                path.display()
            ));
            match (&recovery_key, recovery_slot, &recovery_file) {
                (Some(_), Some(id), Some(file)) => note(&format!(
                    "the recovery code of slot {id} was written to {file}"
                )),
                (Some(key), Some(id), None) => {
                    recovery::show(key, id).map_err(recovery::undelivered_stdout)?;
                }
                _ => {}
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct SlotBrief {
                id: u32,
                #[serde(rename = "type")]
                kind: &'static str,
            }
            #[derive(Serialize)]
            struct CreatedJson<'a> {
                path: String,
                created: bool,
                backend: &'a str,
                slots: Vec<SlotBrief>,
                keychain: Option<KeychainItem>,
                keychain_error: Option<String>,
                kdf: Option<KdfJson>,
                calibration_ms: Option<u128>,
                /// Shown only this once.
                recovery_code: Option<&'a str>,
                recovery_code_file: Option<String>,
                recovery_slot: Option<u32>,
                warnings: Vec<String>,
            }
            let code = recovery_key.as_ref().map(recovery::json_code);
            print_secret_json(
                &CreatedJson {
                    path: path.display().to_string(),
                    created: true,
                    backend: backend.name(),
                    slots: vault
                        .slots()
                        .iter()
                        .map(|s| SlotBrief {
                            id: s.id,
                            kind: s.type_name(),
                        })
                        .collect(),
                    keychain: keychain_item,
                    keychain_error,
                    kdf: kdf.as_ref().map(|(k, _)| KdfJson::from(k)),
                    calibration_ms: kdf.and_then(|(_, took)| took).map(|d| d.as_millis()),
                    recovery_code: code
                        .as_deref()
                        .map(String::as_str)
                        .filter(|_| recovery_file.is_none()),
                    recovery_code_file: recovery_file.clone(),
                    recovery_slot,
                    warnings,
                },
                64 * 1024,
            )?;
        }
    }
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct KeychainItem {
    service: String,
    account: String,
}

/// The passphrase slot of a new vault, ready to be written.
struct NewPassphraseSlot {
    passphrase: Passphrase,
    kdf: KdfParams,
    calibrated: Option<Duration>,
}

impl NewPassphraseSlot {
    /// Reads the passphrase, then picks or calibrates the KDF parameters.
    fn read(
        args: &InitArgs,
        context: &Context,
        keychain_unusable: Option<&str>,
    ) -> Result<NewPassphraseSlot, Failure> {
        let passphrase = new_passphrase(context, keychain_unusable)?;
        let (kdf, calibrated) = choose_kdf(&args.kdf)?;
        Ok(NewPassphraseSlot {
            passphrase,
            kdf,
            calibrated,
        })
    }
}

/// Reads the passphrase of a new vault (twice on a terminal). When the
/// keychain was unusable, says so before a prompt, and names it in the
/// error when there is no passphrase either.
fn new_passphrase(
    context: &Context,
    keychain_unusable: Option<&str>,
) -> Result<Passphrase, Failure> {
    let prompting = matches!(context.passphrase, Source::Prompt) && passphrase::interactive();
    if let (true, Some(reason)) = (prompting, keychain_unusable) {
        note(&format!(
            "no OS keychain is usable ({}): protecting the vault with a passphrase",
            keychain_detail(reason)
        ));
    }
    let passphrase = context.passphrase.read(Confirm::Twice).map_err(|e| {
        match (keychain_unusable, e.exit()) {
            (Some(reason), Exit::Unlock) => {
                let mut combined = CliError::new(
                    Exit::Unlock,
                    format!(
                        "no OS keychain is usable ({}) and {}",
                        keychain_detail(reason),
                        e.message()
                    ),
                );
                if let Some(hint) = e.hint() {
                    combined = combined.with_hint(hint.to_owned());
                }
                combined
            }
            _ => e,
        }
    })?;
    if passphrase.expose().is_empty() {
        return Err(CliError::usage("refusing an empty passphrase").into());
    }
    Ok(passphrase)
}
