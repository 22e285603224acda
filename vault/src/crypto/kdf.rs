//! Argon2id with ceilings checked before any work (FORMAT.md §4.2, §6.2).

use std::time::{Duration, Instant};

use crate::format::{limits, KdfParams};

use super::secret::{Passphrase, SecretKey};

/// The most work a reader agrees to do for one passphrase slot. Checked
/// before the KDF runs, so a hostile file cannot make us allocate or spin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfLimits {
    /// Largest memory cost in KiB.
    pub max_memory_kib: u32,
    /// Largest number of passes.
    pub max_iterations: u32,
    /// Largest number of lanes.
    pub max_parallelism: u32,
}

impl Default for KdfLimits {
    /// 1 GiB, 16 passes, 16 lanes: above any calibrated default, far below
    /// the format's ranges (FORMAT.md §6.2).
    fn default() -> Self {
        KdfLimits {
            max_memory_kib: 1024 * 1024,
            max_iterations: 16,
            max_parallelism: 16,
        }
    }
}

/// A slot asks for more KDF work than the caller allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the vault asks for Argon2id m={asked_memory_mib} MiB t={asked_iterations} p={asked_parallelism}; \
     this reader allows at most m={max_memory_mib} MiB t={max_iterations} p={max_parallelism}"
)]
pub struct ExcessiveWork {
    /// Memory the file asks for, MiB.
    pub asked_memory_mib: u32,
    /// Passes the file asks for.
    pub asked_iterations: u32,
    /// Lanes the file asks for.
    pub asked_parallelism: u32,
    /// Memory allowed, MiB.
    pub max_memory_mib: u32,
    /// Passes allowed.
    pub max_iterations: u32,
    /// Lanes allowed.
    pub max_parallelism: u32,
}

/// The most Argon2id runs one open performs, whatever the number of
/// passphrase slots (FORMAT.md §6.3).
pub const MAX_RUNS_PER_OPEN: usize = 4;

impl KdfLimits {
    /// The most Argon2id work one open performs over all its passphrase
    /// slots, in KiB × passes: the work of one slot at these limits
    /// (FORMAT.md §6.3). A file with many expensive slots costs at most
    /// what one allowed slot costs.
    pub fn total_work(&self) -> u64 {
        u64::from(self.max_memory_kib) * u64::from(self.max_iterations)
    }

    /// The work of one Argon2id run with `params`, in KiB × passes.
    pub fn work(params: &KdfParams) -> u64 {
        u64::from(params.memory_kib()) * u64::from(params.iterations())
    }

    /// Checks `params` against these limits.
    pub fn check(&self, params: &KdfParams) -> Result<(), ExcessiveWork> {
        if params.memory_kib() > self.max_memory_kib
            || params.iterations() > self.max_iterations
            || params.parallelism() > self.max_parallelism
        {
            return Err(ExcessiveWork {
                asked_memory_mib: params.memory_kib().div_ceil(1024),
                asked_iterations: params.iterations(),
                asked_parallelism: params.parallelism(),
                max_memory_mib: self.max_memory_kib / 1024,
                max_iterations: self.max_iterations,
                max_parallelism: self.max_parallelism,
            });
        }
        Ok(())
    }
}

/// Derives a key-encryption key: Argon2id v1.3 (RFC 9106) over the
/// passphrase with `salt`, 32 bytes of output (FORMAT.md §4.2).
///
/// The caller checks [`KdfLimits`] first; `params` are within the format's
/// ranges by construction.
pub fn argon2id(passphrase: &Passphrase, salt: &[u8], params: &KdfParams) -> SecretKey {
    let mut out = [0u8; 32];
    // KdfParams only holds values inside the format's ranges, which are all
    // valid Argon2 parameters (m >= 8 MiB >= 8*p KiB, t >= 1, p <= 64), and
    // salts are 16–64 bytes: argon2 cannot reject them.
    #[allow(clippy::expect_used)]
    let p = argon2::Params::new(
        params.memory_kib(),
        params.iterations(),
        params.parallelism(),
        Some(32),
    )
    .expect("KdfParams are valid Argon2 parameters");
    #[allow(clippy::expect_used)]
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p)
        .hash_password_into(passphrase.expose(), salt, &mut out)
        .expect("valid salt and output length");
    let key = SecretKey::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    key
}

/// Lanes [`calibrate`] gives Argon2id: p = 4, RFC 9106 §4's recommended
/// choice. Portable: a machine with fewer cores (or a build without the
/// `parallel-kdf` feature) runs the lanes in turn, for the same total work
/// and memory, so the parameters open anywhere within the default
/// [`KdfLimits`].
pub const DEFAULT_LANES: u32 = 4;

/// What [`calibrate_with_progress`] reports while it runs: every trial
/// derivation once before and once after it is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CalibrationStep {
    /// A derivation with these parameters is about to be timed.
    Trying(KdfParams),
    /// A derivation with `params` took `took`.
    Measured {
        /// The parameters of the trial.
        params: KdfParams,
        /// The time of one derivation with them on this machine.
        took: Duration,
    },
}

/// Chooses Argon2id parameters with [`DEFAULT_LANES`] lanes that take
/// roughly `target` on this machine: [`calibrate_with_progress`] without
/// progress reports.
pub fn calibrate(target: Duration, max_memory_kib: u32) -> (KdfParams, Duration) {
    calibrate_with_progress(target, max_memory_kib, DEFAULT_LANES, &mut |_| {})
}

/// Chooses Argon2id parameters with `lanes` lanes that take roughly
/// `target` on this machine, never below the OWASP floor for memory and
/// passes (19 MiB, t=2; FORMAT.md §6.2) and never above `max_memory_kib`
/// (unless that is below the floor) or the default [`KdfLimits`]. Returns
/// the parameters and the measured time of one derivation with them.
///
/// `lanes` is clamped to 1..=16 (the default reader limit). Memory is
/// raised first, from 64 MiB, up to `max_memory_kib`; then passes. Each
/// trial is timed as it runs here, lanes on threads with the
/// `parallel-kdf` feature (up to one per core), and reported to `progress`
/// ([`CalibrationStep`]), so the call itself costs a few times `target`.
pub fn calibrate_with_progress(
    target: Duration,
    max_memory_kib: u32,
    lanes: u32,
    progress: &mut dyn FnMut(CalibrationStep),
) -> (KdfParams, Duration) {
    const MIB: u32 = 1024;
    let floor_kib = limits::OWASP_FLOOR.0;
    let floor_t = limits::OWASP_FLOOR.1;
    let max_t = KdfLimits::default().max_iterations;
    let p = lanes.clamp(1, KdfLimits::default().max_parallelism);
    // Whole MiB, at least the floor, at most the format and reader limits.
    let max_kib = (max_memory_kib / MIB * MIB)
        .min(KdfLimits::default().max_memory_kib)
        .max(floor_kib);
    let upper = target.mul_f64(4.0 / 3.0);
    let clamp_kib = |kib: u64| -> u32 {
        let kib = u32::try_from(kib).unwrap_or(u32::MAX);
        (kib / MIB * MIB).clamp(floor_kib, max_kib)
    };
    let scale = |value: u64, by: Duration, of: Duration| -> u64 {
        let ratio = by.as_secs_f64() / of.as_secs_f64().max(1e-6);
        (value as f64 * ratio) as u64
    };
    let mut measure = |m: u32, t: u32| -> Duration {
        let params = params(m, t, p);
        progress(CalibrationStep::Trying(params));
        let took = time(&params);
        progress(CalibrationStep::Measured { params, took });
        took
    };

    let mut m = (64 * MIB).clamp(floor_kib, max_kib);
    let mut t = floor_t;
    let mut took = measure(m, t);

    if took > upper {
        // A slow machine: shrink memory toward the target, not below the floor.
        let next = clamp_kib(scale(m.into(), target, took));
        if next != m {
            m = next;
            took = measure(m, t);
        }
    } else {
        // Memory first: double while the doubled cost stays within bounds,
        // then close the remaining gap proportionally.
        while took < target && m < max_kib {
            let next = if took.saturating_mul(2) <= upper {
                clamp_kib(u64::from(m) * 2)
            } else {
                clamp_kib(scale(m.into(), target, took))
            };
            if next <= m {
                break;
            }
            m = next;
            took = measure(m, t);
        }
        // Then passes, when memory is at its cap and time is still short.
        let lower = target.mul_f64(2.0 / 3.0);
        if took < lower && t < max_t {
            let wanted = scale(t.into(), target, took).clamp(t.into(), max_t.into());
            // `wanted` is within t..=max_t, both u32.
            let next = u32::try_from(wanted).unwrap_or(max_t);
            if next > t {
                t = next;
                took = measure(m, t);
            }
        }
    }
    (params(m, t, p), took)
}

fn params(memory_kib: u32, iterations: u32, parallelism: u32) -> KdfParams {
    // calibrate keeps memory within floor..=1 GiB, passes within 2..=16 and
    // lanes within 1..=16: inside the format's ranges, and 19 MiB is far
    // above Argon2's 8 KiB per lane.
    #[allow(clippy::expect_used)]
    KdfParams::new(memory_kib, iterations, parallelism).expect("calibrated parameters are in range")
}

/// Times one derivation with throwaway inputs.
fn time(params: &KdfParams) -> Duration {
    let pw = Passphrase::from("credvault calibration");
    let salt = [0x5a; 32];
    let start = Instant::now();
    let key = argon2id(&pw, &salt, params);
    let took = start.elapsed();
    drop(key);
    took
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        let p = KdfParams::new(2 * 1024 * 1024, 1, 1).unwrap();
        let err = KdfLimits::default().check(&p).unwrap_err();
        assert_eq!(err.asked_memory_mib, 2048);
        assert!(err.to_string().contains("m=2048 MiB"));
        assert!(KdfLimits::default()
            .check(&KdfParams::new(8192, 1, 1).unwrap())
            .is_ok());
    }

    #[test]
    fn argon2id_is_deterministic_and_salted() {
        let p = KdfParams::new(8192, 1, 1).unwrap();
        let pw = Passphrase::from("pw");
        let a = argon2id(&pw, &[1; 16], &p);
        let b = argon2id(&pw, &[1; 16], &p);
        let c = argon2id(&pw, &[2; 16], &p);
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
    }

    #[test]
    fn calibrate_respects_floor_and_cap() {
        // A tiny target and cap: the floor wins and the call stays fast.
        let (p, took) = calibrate(Duration::from_millis(1), 8 * 1024);
        assert_eq!(p.memory_kib(), limits::OWASP_FLOOR.0);
        assert_eq!(p.iterations(), limits::OWASP_FLOOR.1);
        assert_eq!(p.parallelism(), DEFAULT_LANES);
        assert!(!p.is_weak());
        assert!(took > Duration::ZERO);
    }

    #[test]
    fn calibrate_reports_every_trial() {
        let mut steps = Vec::new();
        let (p, took) =
            calibrate_with_progress(Duration::from_millis(1), 8 * 1024, 2, &mut |step| {
                steps.push(step)
            });
        assert_eq!(p.parallelism(), 2);
        // Each trial: announced, then measured with the same parameters.
        assert!(!steps.is_empty() && steps.len() % 2 == 0, "{steps:?}");
        for pair in steps.chunks(2) {
            match pair {
                [CalibrationStep::Trying(a), CalibrationStep::Measured { params, took }] => {
                    assert_eq!(a, params);
                    assert_eq!(params.parallelism(), 2);
                    assert!(*took > Duration::ZERO);
                }
                other => panic!("unexpected steps {other:?}"),
            }
        }
        // The result is the last trial.
        assert_eq!(
            steps.last(),
            Some(&CalibrationStep::Measured { params: p, took })
        );
    }

    #[test]
    fn calibrate_clamps_lanes() {
        let (p, _) = calibrate_with_progress(Duration::from_millis(1), 0, 0, &mut |_| {});
        assert_eq!(p.parallelism(), 1);
        let (p, _) = calibrate_with_progress(Duration::from_millis(1), 0, 99, &mut |_| {});
        assert_eq!(p.parallelism(), KdfLimits::default().max_parallelism);
        assert_eq!(p.memory_kib(), limits::OWASP_FLOOR.0);
    }
}
