//! Process hardening at startup: no core dumps, so a crash never writes
//! keys, passphrases or values to disk, and (on Linux) no ptrace attach or
//! /proc memory reads by other processes of the same user.

/// Applies what the platform supports. Failures are ignored: hardening is
/// defence in depth, and refusing to run would help no one.
pub fn apply() {
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        let _ = setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        );
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        let _ = set_dumpable_behavior(DumpableBehavior::NotDumpable);
    }
}
