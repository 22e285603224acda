//! Argon2id parameters: how they are shown (text, JSON, the weak
//! warning), how they are calibrated on this machine, the one code path
//! of `kdf-calibrate`, `init` and every other new passphrase slot, with a
//! spinner on stderr when it is a terminal, and how a command chooses them
//! ([`choose_kdf`]).

use std::io::IsTerminal;
use std::time::Duration;

use credvault::crypto::kdf::{calibrate_with_progress, CalibrationStep, DEFAULT_LANES};
use credvault::KdfParams;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cli::{KdfArgs, CALIBRATION_MEMORY_MIB, CALIBRATION_TARGET_MS};
use crate::exit::CliError;

/// Argon2id parameters as shown in JSON.
#[derive(Serialize)]
pub struct KdfJson {
    memory_kib: u32,
    memory_mib: u32,
    iterations: u32,
    parallelism: u32,
    weak: bool,
}

impl From<&KdfParams> for KdfJson {
    fn from(p: &KdfParams) -> Self {
        KdfJson {
            memory_kib: p.memory_kib(),
            memory_mib: p.memory_kib() / 1024,
            iterations: p.iterations(),
            parallelism: p.parallelism(),
            weak: p.is_weak(),
        }
    }
}

/// "m=64 MiB t=3 p=1".
pub fn describe(p: &KdfParams) -> String {
    let kib = p.memory_kib();
    let memory = if kib.is_multiple_of(1024) {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    };
    format!("m={memory} t={} p={}", p.iterations(), p.parallelism())
}

/// The warning for parameters below the OWASP floor.
pub fn weak_warning(p: &KdfParams) -> String {
    format!(
        "Argon2id {} is below the OWASP minimum (m=19 MiB t=2): a stolen vault file is cheap to attack; use such parameters only for tests",
        describe(p)
    )
}

/// One calibration on this machine.
pub struct Calibration {
    /// The chosen parameters.
    pub params: KdfParams,
    /// The measured time of one derivation with them.
    pub took: Duration,
    /// Every trial, in order; the last one is `params`.
    pub trials: Vec<(KdfParams, Duration)>,
}

/// The time calibration aims at when not told otherwise.
pub fn default_target() -> Duration {
    Duration::from_millis(CALIBRATION_TARGET_MS.into())
}

/// The memory cap of calibration when not told otherwise, in KiB:
/// 256 MiB, at most half of physical memory (where it is known: Linux).
/// The library also keeps it within the reader limit (1 GiB) and raises
/// it to the OWASP floor (19 MiB).
pub fn default_max_memory_kib() -> u32 {
    let cap = CALIBRATION_MEMORY_MIB * 1024;
    match physical_memory_kib() {
        Some(kib) => cap.min(u32::try_from(kib / 2).unwrap_or(u32::MAX)),
        None => cap,
    }
}

/// Total physical memory in KiB, if the system says.
fn physical_memory_kib() -> Option<u64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let info = rustix::system::sysinfo();
        // `totalram` is a C unsigned long: u64 here, u32 on 32-bit targets.
        #[allow(clippy::useless_conversion)]
        let total = u64::from(info.totalram);
        let bytes = total.saturating_mul(u64::from(info.mem_unit.max(1)));
        Some(bytes / 1024).filter(|&kib| kib > 0)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

/// Calibrates Argon2id ([`DEFAULT_LANES`] lanes) toward `target`, memory
/// at most `max_memory_kib`, showing each trial on a spinner when stderr
/// is a terminal (nothing otherwise).
pub fn calibrate(target: Duration, max_memory_kib: u32) -> Calibration {
    let spinner = Spinner::start(target);
    let mut trials = Vec::new();
    let (params, took) =
        calibrate_with_progress(target, max_memory_kib, DEFAULT_LANES, &mut |step| {
            match step {
                CalibrationStep::Trying(p) => spinner.trying(&p),
                CalibrationStep::Measured { params, took } => trials.push((params, took)),
                // A step added to the library later: nothing to show.
                _ => {}
            }
        });
    spinner.finish();
    Calibration {
        params,
        took,
        trials,
    }
}

/// The progress line of a calibration on stderr: present only on a
/// terminal.
struct Spinner {
    bar: Option<ProgressBar>,
    target: Duration,
}

impl Spinner {
    fn start(target: Duration) -> Spinner {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} credvault: {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Spinner { bar, target }
    }

    fn trying(&self, p: &KdfParams) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "calibrating Argon2id toward {:.2} s per unlock: trying {}",
                self.target.as_secs_f64(),
                describe(p)
            ));
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The Argon2id parameters of a new passphrase slot: the three `--kdf-*`
/// options, or calibrated on this machine as `kdf-calibrate` does, with
/// its defaults (with the time it took).
pub fn choose_kdf(args: &KdfArgs) -> Result<(KdfParams, Option<Duration>), CliError> {
    match (
        args.kdf_memory_mib,
        args.kdf_iterations,
        args.kdf_parallelism,
    ) {
        (Some(m), Some(t), Some(p)) => {
            let kdf = KdfParams::new(m.saturating_mul(1024), t, p)
                .map_err(|e| CliError::usage(e.to_string()))?;
            Ok((kdf, None))
        }
        // clap only accepts the three options together.
        _ => {
            let calibration = calibrate(default_target(), default_max_memory_kib());
            Ok((calibration.params, Some(calibration.took)))
        }
    }
}
