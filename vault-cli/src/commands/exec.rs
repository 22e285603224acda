//! `exec --env VAR=key ... -- CMD [ARGS...]`: runs a program with values
//! from the vault in its environment. Values go only into the new
//! process's environment: never to disk, never into any argv.
//!
//! On Unix credvault *replaces itself* with the program (execvp), so the
//! program's exit status and signals are its own, and no credvault process
//! lingers holding values. Elsewhere the program runs as a child and its
//! exit code is passed on. The program inherits credvault's environment
//! minus every secret variable of `credvault::secret_env` (passphrase, new
//! passphrase, recovery code: it must not learn how to open the vault),
//! plus the injected variables. It also
//! inherits the core-dump limit of 0 that credvault sets for itself.

use std::ffi::OsString;
use std::process::Command;

use credvault::KeyName;

use crate::cli::ExecArgs;
use crate::exit::{CliError, Exit};
use crate::output::sanitize;
use crate::unlock::Context;

use crate::failure::Failure;

/// Runs `exec`.
pub fn run(args: &ExecArgs, context: &Context) -> Result<Exit, Failure> {
    let (program, program_args) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::usage("no program given after --"))?;
    let names = args
        .env
        .iter()
        .map(|(var, key)| Ok((var.as_str(), KeyName::new(key)?)))
        .collect::<Result<Vec<_>, CliError>>()?;

    let mut vault = context.open()?;
    let mut cmd = Command::new(program);
    cmd.args(program_args);
    credvault::secret_env::scrub(&mut cmd);
    for (var, key) in &names {
        let value = vault.get(key)?.ok_or_else(|| CliError::not_found(key))?;
        if value.expose().contains(&0) {
            return Err(CliError::usage(format!(
                "the value of {key} contains a NUL byte and cannot be passed in an environment variable"
            ))
            .into());
        }
        cmd.env(var, os_value(value.expose())?);
    }
    for (var, login) in &args.oauth {
        let token = crate::token::token_for_exec(&mut vault, login)?;
        cmd.env(var, os_value(token.expose())?);
    }
    drop(vault);
    let shown = sanitize(&program.to_string_lossy());
    // The process is replaced: its audit line cannot wait for the end.
    crate::audit::write_now()?;
    spawn(cmd, &shown)
}

#[cfg(unix)]
fn os_value(bytes: &[u8]) -> Result<OsString, CliError> {
    use std::os::unix::ffi::OsStringExt;
    Ok(OsString::from_vec(bytes.to_vec()))
}

#[cfg(not(unix))]
fn os_value(bytes: &[u8]) -> Result<OsString, CliError> {
    std::str::from_utf8(bytes).map(OsString::from).map_err(|_| {
        CliError::usage("a value is not UTF-8 and cannot be passed in an environment variable here")
    })
}

/// Replaces this process with the program; returns only on failure.
#[cfg(unix)]
fn spawn(mut cmd: Command, shown: &str) -> Result<Exit, Failure> {
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(launch_error(&err, shown).into())
}

/// Runs the program as a child and exits with its code.
#[cfg(not(unix))]
fn spawn(mut cmd: Command, shown: &str) -> Result<Exit, Failure> {
    let status = cmd.status().map_err(|e| launch_error(&e, shown))?;
    drop(cmd);
    // The child's code is the contract; it need not be one of ours.
    std::process::exit(status.code().unwrap_or(1));
}

fn launch_error(e: &std::io::Error, shown: &str) -> CliError {
    let (exit, what) = match e.kind() {
        std::io::ErrorKind::NotFound => (Exit::CommandNotFound, "not found"),
        std::io::ErrorKind::PermissionDenied => (Exit::CannotExecute, "permission denied"),
        _ => (Exit::CannotExecute, "cannot be run"),
    };
    CliError::new(exit, format!("{shown}: {what} ({e})"))
}
