//! `init`: create a vault. Never touches an existing file.

use std::time::Duration;

use credvault::crypto::kdf::calibrate;
use credvault::{store, KdfParams, NewSlot, Vault};
use serde::Serialize;

use crate::cli::InitArgs;
use crate::exit::{CliError, Exit};
use crate::output::{note, print_json, warn, Format};
use crate::passphrase::Confirm;
use crate::unlock::{Backend, Context};

use super::kdf::{describe, weak_warning, KdfJson};
use super::Failure;

/// Calibration aims at this much time per unlock (within roughly 0.5–1 s).
const CALIBRATION_TARGET: Duration = Duration::from_millis(750);
/// Calibration never picks more memory than this.
const CALIBRATION_MAX_MEMORY_KIB: u32 = 256 * 1024;

/// Runs `init`.
pub fn run(args: &InitArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let path = context.vault_path()?;
    // Checked again, atomically, under the lock by Vault::create; checking
    // here first spares the user a prompt and a calibration for nothing.
    if store::exists(path).map_err(credvault::VaultError::from)? {
        return Err(
            credvault::VaultError::from(store::StoreError::AlreadyExists(path.to_owned())).into(),
        );
    }
    let backend = Backend::choose(context);
    let Created { kdf, calibrated } = match backend {
        Backend::Passphrase => create_with_passphrase(args, context, path)?,
    };
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
                "created vault {} protected by a {}",
                path.display(),
                backend.name()
            ));
        }
        Format::Json => {
            #[derive(Serialize)]
            struct CreatedJson<'a> {
                path: String,
                created: bool,
                backend: &'a str,
                kdf: KdfJson,
                calibration_ms: Option<u128>,
            }
            print_json(&CreatedJson {
                path: path.display().to_string(),
                created: true,
                backend: backend.name(),
                kdf: KdfJson::from(&kdf),
                calibration_ms: calibrated.map(|d| d.as_millis()),
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// What `init` reports about the new vault's first slot.
struct Created {
    kdf: KdfParams,
    calibrated: Option<Duration>,
}

/// Creates the vault with a passphrase slot: asks for the passphrase
/// (twice on a terminal), then picks or calibrates Argon2id parameters.
fn create_with_passphrase(
    args: &InitArgs,
    context: &Context,
    path: &std::path::Path,
) -> Result<Created, Failure> {
    let passphrase = context.passphrase.read(Confirm::Twice)?;
    if passphrase.expose().is_empty() {
        return Err(CliError::usage("refusing an empty passphrase").into());
    }
    let (kdf, calibrated) = match (
        args.kdf_memory_mib,
        args.kdf_iterations,
        args.kdf_parallelism,
    ) {
        (Some(m), Some(t), Some(p)) => {
            let kdf = KdfParams::new(m.saturating_mul(1024), t, p)
                .map_err(|e| CliError::usage(e.to_string()))?;
            (kdf, None)
        }
        // clap only accepts the three options together.
        _ => {
            let (kdf, took) = calibrate(CALIBRATION_TARGET, CALIBRATION_MAX_MEMORY_KIB);
            (kdf, Some(took))
        }
    };
    Vault::create_with(
        path,
        NewSlot::Passphrase(&passphrase, kdf),
        context.open_options(),
    )?;
    Ok(Created { kdf, calibrated })
}
