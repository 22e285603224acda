//! The process-wide fault hook of the CLI's crash tests (cargo feature
//! `fault-injection`; never compiled into a release build).
//!
//! Every fault point a process reaches without a [`FaultInjector`] of its
//! own is numbered, from 1, in the order reached:
//!
//! - `CREDVAULT_FAULT_TRACE=PATH` appends `N STEP` to PATH for each one, so
//!   a test learns how many points a command has and which they are;
//! - `CREDVAULT_FAULT=N:error` fails point N with `EIO`, as if the step
//!   itself had failed; `CREDVAULT_FAULT=N:abort` ends the process there
//!   (`abort`: no destructor, no flush, the lock left to the kernel), as a
//!   crash or `kill -9` would.
//!
//! [`FaultInjector`]: super::FaultInjector

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::Step;

/// EIO: "Input/output error".
const EIO: i32 = 5;

#[derive(Clone, Copy)]
enum Action {
    Error,
    Abort,
}

static REACHED: AtomicU64 = AtomicU64::new(0);

fn planned() -> Option<(u64, Action)> {
    static PLAN: OnceLock<Option<(u64, Action)>> = OnceLock::new();
    *PLAN.get_or_init(|| {
        let spec = std::env::var("CREDVAULT_FAULT").ok()?;
        let (n, action) = spec.split_once(':')?;
        let action = match action {
            "error" => Action::Error,
            "abort" => Action::Abort,
            _ => return None,
        };
        Some((n.parse().ok()?, action))
    })
}

/// Numbers this fault point and fails or ends the process when it is the
/// planned one.
pub(super) fn before(step: Step) -> io::Result<()> {
    let n = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(trace) = std::env::var_os("CREDVAULT_FAULT_TRACE") {
        let line = format!("{n} {step:?}\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(trace)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
    match planned() {
        Some((at, Action::Error)) if at == n => Err(io::Error::from_raw_os_error(EIO)),
        Some((at, Action::Abort)) if at == n => std::process::abort(),
        _ => Ok(()),
    }
}
