//! The audit log around every command (DESIGN.md §1: every operation is
//! audited), written in one place: [`around`] runs a command and appends
//! one line for it with the library's [`credvault::audit`].
//!
//! - Which operation and key: [`describe`], one match over [`Command`]
//!   with a generic fallback (the subcommand's own name), so a new command
//!   is audited without code here.
//! - The audit key: [`remember`] is called wherever the CLI holds an
//!   unlocked vault (opening, `init`, after `rekey`); a command that never
//!   unlocked (a failed unlock, `lock`) writes an unauthenticated line.
//! - Where and whether: `--audit-log PATH` / `CREDVAULT_AUDIT_LOG` (default
//!   `<vault>.audit.jsonl`), `--no-audit` / `CREDVAULT_AUDIT=off`, and
//!   `CREDVAULT_AUDIT=required`, under which a log that cannot be written
//!   fails the command (exit 5; checked before the command runs, and
//!   reported after it if the final append fails). Otherwise an audit
//!   failure is a one-line warning and never changes the exit code.
//!   `CREDVAULT_AUDIT_MAX_BYTES` sets the rotation size (default 1 MiB).
//! - `exec` replaces the process: it writes its line just before, with
//!   [`write_now`], listing the keys it passes (comma-separated).
//! - Only when the vault file exists: a command that fails before there
//!   is a vault (no vault yet, `init` refused) leaves no log behind.

use std::cell::RefCell;

use credvault::audit::{AuditKey, AuditLog, Event, Outcome};
use credvault::service::audit_env::ENV_AUDIT;
use credvault::service::{AuditMode as Mode, AuditSettings};
use credvault::Vault;

use crate::cli::{AuditCommand, Command, GlobalArgs, OauthCommand, PassCommand, SlotCommand};
use crate::exit::{CliError, Exit};
use crate::failure::Failure;
use crate::output::note;
use crate::unlock::Context;

thread_local! {
    static KEY: RefCell<Option<AuditKey>> = const { RefCell::new(None) };
    /// The line of the running command, until it is written.
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// A command's audit line, not yet written.
struct Pending {
    log: AuditLog,
    event: Event,
    required: bool,
}

/// Keeps the audit key of `vault` for this process's audit line.
pub fn remember(vault: &Vault) {
    KEY.with(|k| *k.borrow_mut() = Some(AuditKey::for_vault(vault)));
}

/// The resolved audit settings: the library's (the environment, as the
/// Node module reads it) with `--no-audit` and `--audit-log` on top.
pub struct Settings {
    shared: AuditSettings,
}

impl Settings {
    /// From the global options and the environment.
    pub fn resolve(global: &GlobalArgs) -> Result<Settings, CliError> {
        let mode = Mode::from_env().map_err(|e| CliError::usage(e.to_string()))?;
        let mode = if global.no_audit { Mode::Off } else { mode };
        Ok(Settings {
            // clap reads CREDVAULT_AUDIT_LOG into --audit-log.
            shared: AuditSettings {
                mode,
                log: global.audit_log.clone(),
            },
        })
    }

    /// Whether and how strictly to audit.
    fn mode(&self) -> Mode {
        self.shared.mode
    }

    /// The log for the context's vault, if one can be named.
    pub fn log(&self, context: &Context) -> Option<AuditLog> {
        let vault = match (&self.shared.log, context.vault_path()) {
            (_, Ok(vault)) => vault,
            // An explicit log needs no vault path.
            (Some(log), Err(_)) => log.as_path(),
            (None, Err(_)) => return None,
        };
        Some(self.shared.log_for(vault))
    }
}

/// Runs `run` (the command) and appends its audit line.
pub fn around(
    command: &Command,
    context: &Context,
    settings: &Settings,
    run: impl FnOnce() -> Result<Exit, Failure>,
) -> Result<Exit, Failure> {
    let Some((operation, key, prefix)) = describe(command) else {
        return run();
    };
    if settings.mode() == Mode::Off {
        return run();
    }
    let log = settings.log(context);
    if settings.mode() == Mode::Required {
        let vault_exists = context.vault_path().map(|p| p.exists()).unwrap_or(false);
        if let Some(log) = log.as_ref().filter(|_| vault_exists) {
            log.check_writable().map_err(required)?;
        }
    }
    let mut event = Event::new(operation, user());
    event.key = key;
    event.prefix = prefix;
    if let Some(log) = log {
        PENDING.with(|p| {
            *p.borrow_mut() = Some(Pending {
                log,
                event,
                required: settings.mode() == Mode::Required,
            })
        });
    }
    let result = run();
    let Some(Pending { log, mut event, .. }) = PENDING.with(|p| p.borrow_mut().take()) else {
        // Nothing to write, or already written (`exec`).
        return result;
    };
    if !context.vault_path().map(|p| p.exists()).unwrap_or(false) {
        return result;
    }
    event.time = std::time::SystemTime::now();
    match &result {
        Ok(Exit::Ok) | Err(Failure::Closed(_)) => {}
        Ok(exit) => {
            event.outcome = Outcome::Failure;
            event.error = Some(exit.kind().to_owned());
        }
        Err(Failure::Error(e)) => {
            event.outcome = Outcome::Failure;
            event.error = Some(e.exit().kind().to_owned());
        }
    }
    let written = KEY.with(|k| log.append(&event, k.borrow().as_ref()));
    match written {
        Ok(_) => result,
        Err(e) if settings.mode() == Mode::Required => match result {
            // The command's own failure comes first.
            Err(f) => Err(f),
            Ok(_) => Err(required(e)),
        },
        Err(e) => {
            note(&format!(
                "warning: {e}; this operation is not in the audit log"
            ));
            result
        }
    }
}

/// Renames the running command's operation in its audit line, for a
/// command whose operation is known only once it ran (`oauth token` that
/// refreshed is logged as `oauth-refresh`).
pub fn set_operation(operation: &str) {
    PENDING.with(|p| {
        if let Some(pending) = p.borrow_mut().as_mut() {
            pending.event.operation = operation.to_owned();
        }
    });
}

/// Writes the running command's line now, as a success: for `exec`,
/// which replaces this process and so never returns to [`around`]. Fails
/// only under `CREDVAULT_AUDIT=required`.
pub fn write_now() -> Result<(), Failure> {
    let Some(pending) = PENDING.with(|p| p.borrow_mut().take()) else {
        return Ok(());
    };
    let written = KEY.with(|k| pending.log.append(&pending.event, k.borrow().as_ref()));
    match written {
        Ok(_) => Ok(()),
        Err(e) if pending.required => Err(required(e)),
        Err(e) => {
            note(&format!(
                "warning: {e}; this operation is not in the audit log"
            ));
            Ok(())
        }
    }
}

fn required(e: credvault::audit::AuditError) -> Failure {
    CliError::new(Exit::FileSystem, e.to_string())
        .with_hint(format!(
            "{ENV_AUDIT}=required: fix the audit log, or point --audit-log elsewhere"
        ))
        .into()
}

/// The operation name, key and prefix of `command`; `None` for commands
/// that touch no vault (completions, man, kdf-calibrate).
pub fn describe(command: &Command) -> Option<(String, Option<String>, Option<String>)> {
    let key = |k: &str| Some(k.to_owned());
    let (op, key, prefix) = match command {
        // The git faces work on git's files, not on the vault whose log
        // this is.
        Command::Completions(_)
        | Command::Man
        | Command::KdfCalibrate(_)
        | Command::GitMergeDriver(_)
        | Command::GitTextconv(_) => return None,
        Command::Init(_) => ("init", None, None),
        Command::Set(a) => ("store", key(&a.key), None),
        Command::Get(a) => ("retrieve", key(&a.key), None),
        Command::Rm(a) => ("delete", key(&a.key), None),
        Command::Has(a) => ("has", key(&a.key), None),
        Command::Ls(a) => ("list", None, a.prefix.clone()),
        Command::Slot(SlotCommand::List(_)) => ("slot-list", None, None),
        Command::Slot(SlotCommand::Add(_)) => ("slot-add", None, None),
        Command::Slot(SlotCommand::Remove(a)) => {
            ("slot-remove", Some(format!("slot {}", a.id)), None)
        }
        Command::Recovery(_) => ("recovery-rotate", None, None),
        Command::Exec(a) => {
            let keys: Vec<String> = a
                .env
                .iter()
                .map(|(_, k)| k.clone())
                .chain(a.oauth.iter().map(|(_, n)| format!("oauth:{n}")))
                .collect();
            ("exec", Some(keys.join(",")), None)
        }
        Command::Audit(AuditCommand::Show(a)) => ("audit-show", a.key.clone(), None),
        Command::Audit(AuditCommand::Verify) => ("audit-verify", None, None),
        Command::Pass(c) => {
            let (op, a) = match c {
                PassCommand::Import(a) => ("pass-import", &a.common),
                PassCommand::Export(a) => ("pass-export", &a.common),
                PassCommand::Sync(a) => ("pass-sync", &a.common),
            };
            (op, None, Some(a.prefix.clone()))
        }
        Command::Oauth(c) => {
            let (op, name) = match c {
                OauthCommand::Login(a) => ("oauth-login", Some(a.name.clone())),
                OauthCommand::Token(a) => ("oauth-token", Some(a.name.clone())),
                OauthCommand::Refresh(a) => ("oauth-refresh", Some(a.name.clone())),
                OauthCommand::Revoke(a) => ("oauth-revoke", Some(a.name.clone())),
                OauthCommand::Status(a) => ("oauth-status", a.name.clone()),
            };
            (op, name, None)
        }
        other => return Some((generic_name(other), None, None)),
    };
    Some((op.to_owned(), key, prefix))
}

/// The kebab-case name of a command's variant (`ImportLegacy(..)` →
/// `import-legacy`).
fn generic_name(command: &Command) -> String {
    let debug = format!("{command:?}");
    let variant = debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("command");
    let mut out = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The login name of the real user ([`credvault::audit::user`]).
pub fn user() -> String {
    credvault::audit::user()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn op(args: &[&str]) -> (String, Option<String>, Option<String>) {
        let mut argv = vec!["credvault"];
        argv.extend_from_slice(args);
        describe(&crate::cli::Cli::parse_from(argv).command).expect("audited")
    }

    #[test]
    fn commands_have_operation_names() {
        assert_eq!(op(&["set", "a.b"]).0, "store");
        assert_eq!(op(&["get", "a.b"]).1.as_deref(), Some("a.b"));
        assert_eq!(op(&["ls", "gh."]).2.as_deref(), Some("gh."));
        assert_eq!(op(&["import-legacy"]).0, "import-legacy");
        assert_eq!(op(&["undo"]).0, "undo");
        assert_eq!(op(&["lock"]).0, "lock");
        assert_eq!(op(&["audit", "verify"]).0, "audit-verify");
    }

    #[test]
    fn commands_without_a_vault_are_not_audited() {
        for args in [
            &["man"][..],
            &["completions", "bash"],
            &["kdf-calibrate", "--target-ms", "5"],
        ] {
            let mut argv = vec!["credvault"];
            argv.extend_from_slice(args);
            let command = crate::cli::Cli::parse_from(argv).command;
            assert!(describe(&command).is_none(), "{args:?}");
        }
    }
}
