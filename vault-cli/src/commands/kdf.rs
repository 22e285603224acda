//! `kdf-calibrate`: calibrates Argon2id on this machine as `init` does
//! (the shared code is in `crate::kdf`) and prints the result.

use std::time::Duration;

use serde::Serialize;

use crate::cli::KdfCalibrateArgs;
use crate::exit::Exit;
use crate::failure::Failure;
use crate::kdf::{calibrate, default_max_memory_kib, describe, KdfJson};
use crate::output::{print, print_json, Format};

/// `kdf-calibrate`: calibrates as `init` does and prints the result.
/// Opens no vault and writes nothing.
pub fn calibrate_command(args: &KdfCalibrateArgs, format: Format) -> Result<Exit, Failure> {
    let target = Duration::from_millis(args.target_ms.into());
    let max_memory_kib = args
        .max_memory_mib
        .map_or_else(default_max_memory_kib, |mib| mib.saturating_mul(1024));
    let calibration = calibrate(target, max_memory_kib);
    match format {
        Format::Text => print(&format!(
            "Argon2id {}: {:.2} s per unlock on this machine\n",
            describe(&calibration.params),
            calibration.took.as_secs_f64()
        ))?,
        Format::Json => {
            #[derive(Serialize)]
            struct Trial {
                #[serde(flatten)]
                kdf: KdfJson,
                measured_ms: u128,
            }
            #[derive(Serialize)]
            struct Calibrated {
                #[serde(flatten)]
                kdf: KdfJson,
                measured_ms: u128,
                target_ms: u32,
                max_memory_mib: u32,
                trials: Vec<Trial>,
            }
            print_json(&Calibrated {
                kdf: KdfJson::from(&calibration.params),
                measured_ms: calibration.took.as_millis(),
                target_ms: args.target_ms,
                max_memory_mib: max_memory_kib / 1024,
                trials: calibration
                    .trials
                    .iter()
                    .map(|(p, took)| Trial {
                        kdf: KdfJson::from(p),
                        measured_ms: took.as_millis(),
                    })
                    .collect(),
            })?;
        }
    }
    Ok(Exit::Ok)
}
