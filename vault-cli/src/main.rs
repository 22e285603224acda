//! `credvault`: the command-line contract of DESIGN.md §3 over the
//! `credvault` library. This file only parses, hardens the process, runs
//! the command and maps its outcome to an exit code; the commands live in
//! `commands/`.

#![forbid(unsafe_code)]

// The commands, one module per group, and the dispatch to them. A command
// depends on the shared modules below, never on another command
// (tests/cli/architecture.rs checks it).
mod commands;

// The shared modules. The whole operations live in the library
// (`credvault::ops`, `credvault::legacy::LegacySource`, ...): these only
// parse, ask for secrets and print.
mod audit; // one audit line per command (settings from credvault::service)
mod cli; // the clap definition: the public CLI contract
mod duration; // durations as users type and read them
mod exit; // exit codes, CliError, library errors mapped to them
mod failure; // Failure: an error to report, or a closed stdout
mod fallback; // the get --env/--config/--pass fallback chain
mod harden; // no core dumps
mod kdf; // Argon2id parameters: shown, calibrated, chosen
mod output; // stdout/stderr, text and JSON
mod passphrase; // passphrase sources (never argv)
mod recovery; // recovery code sources and delivery
mod sanitize; // untrusted text made safe for a terminal
mod token; // OAuth tokens as commands show and use them
mod unlock; // the global options (Context) and the CLI's Unlocker
mod view; // a vault as status and slot list show it

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::Cli;
use crate::exit::{CliError, Exit};
use crate::failure::Failure;
use crate::output::Format;

fn main() -> ExitCode {
    harden::apply();
    // Secrets given in the environment are copied out and removed from it
    // first: no program credvault starts (exec, pass, gpg, git, a browser)
    // can inherit them, however it is started.
    passphrase::capture_secret_env();
    // A panic is a bug: report it in one line without its payload (which
    // could quote data) and exit with a documented code, never 101.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        output::note(&format!(
            "error: internal error{at}; please report this bug"
        ));
    }));
    let exit = std::panic::catch_unwind(run).unwrap_or(Exit::FileSystem);
    ExitCode::from(exit.code())
}

fn run() -> Exit {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &args),
    };
    let format = if cli.global.json {
        Format::Json
    } else {
        Format::Text
    };
    let context = unlock::Context::new(&cli.global);
    let audit = match audit::Settings::resolve(&cli.global) {
        Ok(audit) => audit,
        Err(e) => {
            output::report(&e, format);
            return e.exit();
        }
    };
    // One audit line per command, written here for all of them.
    let outcome = audit::around(&cli.command, &context, &audit, || {
        commands::run(&cli.command, &context, &audit, format)
    });
    match outcome {
        Ok(exit) => exit,
        Err(Failure::Closed(_)) => Exit::Ok,
        Err(Failure::Error(e)) => {
            output::report(&e, format);
            e.exit()
        }
    }
}

/// Help and version exit 0; every other clap error is reported in one line
/// and exits 2.
fn usage_error(e: clap::Error, args: &[OsString]) -> Exit {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            Exit::Ok
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            Exit::Usage
        }
        kind => {
            let before_dashdash = || args.iter().skip(1).take_while(|a| *a != "--");
            let json = before_dashdash().any(|a| a == "--json");
            let is_set = before_dashdash().any(|a| a == "set" || a == "store");
            let (_, usage) = one_line(&e.render().to_string());
            let message = if is_set && kind == ErrorKind::UnknownArgument {
                // It may be a value typed on the command line: do not echo it.
                "unexpected argument to set (not shown); the value is read from stdin or a hidden prompt, never from the command line".to_owned()
            } else {
                safe_message(&e)
            };
            let hint = match usage {
                Some(usage) => format!("usage: {usage}; see credvault --help"),
                None => "see credvault --help".to_owned(),
            };
            let err = CliError::usage(message).with_hint(hint);
            output::report(&err, if json { Format::Json } else { Format::Text });
            Exit::Usage
        }
    }
}

/// A usage error's message that never echoes what was typed: a mistyped
/// command line may hold a secret (`credvault passwd hunter2`). Only names
/// from the CLI's own definition (options, subcommands, clap's
/// suggestions) are quoted; a validator's reason only when it does not
/// contain the value.
fn safe_message(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) if !v.is_empty() => Some(v.join("', '")),
        _ => None,
    };
    let suggestion = text(ContextKind::SuggestedArg)
        .or_else(|| text(ContextKind::SuggestedSubcommand))
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_default();
    let arg = text(ContextKind::InvalidArg)
        .map(|a| format!(" for '{a}'"))
        .unwrap_or_default();
    match e.kind() {
        ErrorKind::UnknownArgument => format!(
            "unexpected argument (not shown: credvault never echoes its command line, it may hold a secret){suggestion}"
        ),
        ErrorKind::InvalidSubcommand => format!("unrecognized subcommand (not shown){suggestion}"),
        ErrorKind::ValueValidation => {
            let value = text(ContextKind::InvalidValue).unwrap_or_default();
            let reason = std::error::Error::source(e)
                .map(ToString::to_string)
                .filter(|r| value.is_empty() || !r.contains(&value))
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            format!("invalid value{arg} (not shown){reason}")
        }
        ErrorKind::InvalidValue => {
            let valid = text(ContextKind::ValidValue)
                .map(|v| format!("; possible values: '{v}'"))
                .unwrap_or_default();
            format!("invalid value{arg} (not shown){valid}")
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::NoEquals => {
            format!("wrong number of values{arg} (not shown)")
        }
        ErrorKind::InvalidUtf8 => format!("an argument{arg} is not valid UTF-8 (not shown)"),
        // The remaining kinds (missing arguments, conflicts, a missing
        // subcommand, too few values) quote only the CLI's own names.
        _ => one_line(&e.render().to_string()).0,
    }
}

/// Folds clap's multi-line error into one message and its usage line.
fn one_line(rendered: &str) -> (String, Option<String>) {
    let mut message = String::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage:") {
            usage = Some(u.trim().to_owned());
            break;
        }
        if line.starts_with("For more information") {
            break;
        }
        let line = line.strip_prefix("error:").map_or(line, str::trim);
        if !message.is_empty() {
            message.push_str(if line.starts_with("tip:") { "; " } else { " " });
        }
        message.push_str(line);
    }
    (message, usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_fold_into_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  <KEY>\n\nUsage: credvault get <KEY>\n\nFor more information, try '--help'.\n";
        let (message, usage) = one_line(rendered);
        assert_eq!(
            message,
            "the following required arguments were not provided: <KEY>"
        );
        assert_eq!(usage.as_deref(), Some("credvault get <KEY>"));
        let (message, _) = one_line("error: unexpected argument '--x' found\n\n  tip: to pass '--x' as a value, use '-- --x'\n\nUsage: credvault ls\n");
        let (invalid, usage) = one_line(
            "error: invalid value '4' for '--n <N>': 4 is not in 8..=9\n\nFor more information, try '--help'.\n",
        );
        assert_eq!(
            invalid,
            "invalid value '4' for '--n <N>': 4 is not in 8..=9"
        );
        assert_eq!(usage, None);
        assert_eq!(
            message,
            "unexpected argument '--x' found; tip: to pass '--x' as a value, use '-- --x'"
        );
    }
}
