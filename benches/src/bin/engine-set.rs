//! The engine's own durable `set`, for the Node module's benchmark
//! (`bindings/node/bench/bench.js`) to compare `store` with: opens the
//! vault at PATH with the passphrase in `CREDVAULT_PASSPHRASE`, then times
//! ROUNDS `Vault::set` calls overwriting existing entries (each a locked,
//! fsynced, atomic save keeping the default 3 generations, as `store`),
//! and prints the median and the 99th percentile in microseconds as JSON.
//!
//! ```text
//! CREDVAULT_PASSPHRASE=pw engine-set PATH KEY_PREFIX ENTRIES ROUNDS
//! ```

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use credvault::{KeyName, Passphrase, PassphraseUnlocker, SecretValue, Vault};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, prefix, entries, rounds] = args.as_slice() else {
        eprintln!("usage: CREDVAULT_PASSPHRASE=pw engine-set PATH KEY_PREFIX ENTRIES ROUNDS");
        return ExitCode::from(2);
    };
    let (Ok(entries), Ok(rounds)) = (entries.parse::<usize>(), rounds.parse::<usize>()) else {
        eprintln!("engine-set: ENTRIES and ROUNDS are numbers");
        return ExitCode::from(2);
    };
    let passphrase = std::env::var("CREDVAULT_PASSPHRASE").unwrap_or_default();
    let mut unlocker = PassphraseUnlocker::new(Passphrase::from(passphrase.as_str()));
    let mut vault = match Vault::open(&PathBuf::from(path), &mut unlocker) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("engine-set: {e}");
            return ExitCode::from(3);
        }
    };
    let mut micros = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let Ok(name) = KeyName::new(&format!("{prefix}{:04}", round % entries.max(1))) else {
            eprintln!("engine-set: bad key prefix");
            return ExitCode::from(2);
        };
        let value = SecretValue::from(format!("engine-{round}").as_str());
        let started = Instant::now();
        if let Err(e) = vault.set(&name, &value) {
            eprintln!("engine-set: {e}");
            return ExitCode::from(5);
        }
        micros.push(started.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| {
        micros
            .get(((micros.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{{\"median_us\":{:.1},\"p99_us\":{:.1},\"rounds\":{}}}",
        at(0.5),
        at(0.99),
        micros.len()
    );
    ExitCode::SUCCESS
}
