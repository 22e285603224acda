//! The environment variables that carry secrets, in one place.
//!
//! A credential given through the environment must never reach a program
//! credvault starts (`credvault exec`, `pass`, `gpg`, a browser, ...): a
//! recovery code or passphrase in a child's environment opens every copy
//! of the vault on any machine. Every code path that starts a child
//! process calls [`scrub`] on its [`Command`]; a new secret variable is
//! added to [`ALL`] and nowhere else.

use std::process::Command;

use zeroize::Zeroizing;

/// The vault passphrase (the CLI's `--passphrase-file` alternative).
pub const PASSPHRASE: &str = "CREDVAULT_PASSPHRASE";

/// A new passphrase (`passwd`, `slot add passphrase`).
pub const NEW_PASSPHRASE: &str = "CREDVAULT_NEW_PASSPHRASE";

/// A recovery code (the CLI's `--recovery-file` alternative).
pub const RECOVERY: &str = "CREDVAULT_RECOVERY";

/// Every environment variable that may hold a secret. Children never
/// inherit any of them.
pub const ALL: [&str; 3] = [PASSPHRASE, NEW_PASSPHRASE, RECOVERY];

/// Removes every variable of [`ALL`] from the environment `cmd` passes on.
pub fn scrub(cmd: &mut Command) -> &mut Command {
    for var in ALL {
        cmd.env_remove(var);
    }
    cmd
}

/// The secret variables of a process, taken out of its environment by
/// [`take_from_process`].
#[derive(Default)]
pub struct Captured {
    values: Vec<(&'static str, Zeroizing<Vec<u8>>)>,
}

impl Captured {
    /// The value `var` had, if it was set.
    pub fn get(&self, var: &str) -> Option<&[u8]> {
        self.values
            .iter()
            .find(|(name, _)| *name == var)
            .map(|(_, value)| value.as_slice())
    }
}

impl std::fmt::Debug for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.values.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Captured").field("set", &names).finish()
    }
}

/// Copies every variable of [`ALL`] out of this process's environment and
/// removes it there, so that no child can inherit it, however it is
/// started (a browser opened by a crate, a helper spawned by a library).
/// Call it once at the start of `main`, before any thread is started: the
/// environment is process-wide state.
pub fn take_from_process() -> Captured {
    let mut values = Vec::new();
    for var in ALL {
        if let Some(value) = std::env::var_os(var) {
            values.push((var, Zeroizing::new(value.into_encoded_bytes())));
            std::env::remove_var(var);
        }
    }
    Captured { values }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_every_secret_variable() {
        let mut cmd = Command::new("env");
        for var in ALL {
            cmd.env(var, "secret");
        }
        scrub(&mut cmd);
        for (key, value) in cmd.get_envs() {
            if ALL.iter().any(|v| key == *v) {
                assert_eq!(value, None, "{key:?} is still passed on");
            }
        }
        assert_eq!(
            cmd.get_envs().filter(|(_, v)| v.is_none()).count(),
            ALL.len()
        );
    }
}
