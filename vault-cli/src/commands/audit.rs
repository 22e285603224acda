//! `audit show` and `audit verify`: read the audit log written around
//! every command (`crate::audit`). Both unlock the vault, because the
//! lines are authenticated with a key derived from its data key.

use std::time::{Duration, SystemTime};

use credvault::audit::{rfc3339, AuditKey, Verification};
use serde::Serialize;

use crate::audit::Settings;
use crate::cli::AuditShowArgs;
use crate::exit::{CliError, Exit};
use crate::failure::Failure;
use crate::output::{self, sanitize, Format};
use crate::unlock::Context;

/// `audit show [--since TIME] [--key KEY]`.
pub fn show(
    args: &AuditShowArgs,
    context: &Context,
    settings: &Settings,
    format: Format,
) -> Result<Exit, Failure> {
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let (log, _) = open_log(context, settings)?;
    let entries: Vec<_> = log
        .entries()
        .map_err(|e| CliError::new(Exit::FileSystem, e.to_string()))?
        .into_iter()
        .filter(|e| since.as_deref().is_none_or(|s| e.timestamp.as_str() >= s))
        .filter(|e| args.key.is_none() || e.key == args.key)
        .collect();
    match format {
        Format::Json => {
            let lines: Vec<serde_json::Value> = entries
                .iter()
                .filter_map(|e| serde_json::from_str(&e.raw).ok())
                .collect();
            output::print_json(&lines)?;
        }
        Format::Text => {
            let mut text = String::new();
            for e in &entries {
                let what = match (&e.key, &e.prefix) {
                    (Some(k), _) => k.clone(),
                    (None, Some(p)) => format!("{p}*"),
                    (None, None) => "-".to_owned(),
                };
                let outcome = match &e.error {
                    Some(err) => format!("{} ({err})", e.outcome),
                    None => e.outcome.clone(),
                };
                let auth = if e.auth == "hmac" {
                    ""
                } else {
                    "  [unauthenticated]"
                };
                text.push_str(&sanitize(&format!(
                    "{:>5}  {}  {:<15} {:<28} {:<20} pid {} {}{auth}",
                    e.seq, e.timestamp, e.operation, what, outcome, e.pid, e.user
                )));
                text.push('\n');
            }
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}

/// `audit verify`: exit 0 when the chain is intact, 4 at the first bad line.
pub fn verify(context: &Context, settings: &Settings, format: Format) -> Result<Exit, Failure> {
    let (log, key) = open_log(context, settings)?;
    let v = log
        .verify(&key)
        .map_err(|e| CliError::new(Exit::FileSystem, e.to_string()))?;
    match format {
        Format::Json => output::print_json(&Report::from(&v))?,
        Format::Text => {
            let files = v.files.len();
            let checked = if v.is_intact() {
                ""
            } else {
                "checked before the problem: "
            };
            let mut text = format!(
                "{checked}{} line(s) in {files} file(s): {} authenticated, {} unauthenticated, {} under an earlier data key\n",
                v.lines, v.authenticated, v.unauthenticated, v.earlier_key
            );
            for n in &v.notes {
                text.push_str(&format!("note: {n}\n"));
            }
            match &v.problem {
                None => text.push_str(&match v.anchored_seq {
                    Some(seq) => format!("audit log intact (anchored at line {seq})\n"),
                    None => "audit log intact\n".to_owned(),
                }),
                Some(p) => {
                    text.push_str(&sanitize(&format!(
                        "audit log TAMPERED: {}{}: {}",
                        p.file.display(),
                        if p.line > 0 {
                            format!(" line {}", p.line)
                        } else {
                            String::new()
                        },
                        p.reason
                    )));
                    text.push('\n');
                }
            }
            output::print(&text)?;
        }
    }
    Ok(if v.is_intact() {
        Exit::Ok
    } else {
        Exit::Unreadable
    })
}

#[derive(Serialize)]
struct Report {
    intact: bool,
    files: Vec<String>,
    lines: u64,
    authenticated: u64,
    unauthenticated: u64,
    earlier_key: u64,
    anchored_seq: Option<u64>,
    notes: Vec<String>,
    problem: Option<ProblemJson>,
}

#[derive(Serialize)]
struct ProblemJson {
    file: String,
    line: usize,
    seq: Option<u64>,
    reason: String,
}

impl From<&Verification> for Report {
    fn from(v: &Verification) -> Self {
        Report {
            intact: v.is_intact(),
            files: v.files.iter().map(|f| f.display().to_string()).collect(),
            lines: v.lines,
            authenticated: v.authenticated,
            unauthenticated: v.unauthenticated,
            earlier_key: v.earlier_key,
            anchored_seq: v.anchored_seq,
            notes: v.notes.clone(),
            problem: v.problem.as_ref().map(|p| ProblemJson {
                file: p.file.display().to_string(),
                line: p.line,
                seq: p.seq,
                reason: p.reason.clone(),
            }),
        }
    }
}

/// Unlocks the vault (and remembers the key for this command's own line)
/// and names its log.
fn open_log(
    context: &Context,
    settings: &Settings,
) -> Result<(credvault::audit::AuditLog, AuditKey), CliError> {
    let vault = context.open()?;
    let key = AuditKey::for_vault(&vault);
    let log = settings.log(context).ok_or_else(|| {
        CliError::usage("cannot name the audit log; pass --vault PATH or --audit-log PATH")
    })?;
    Ok((log, key))
}

/// `--since`: RFC 3339 UTC or a date (compared as text with the log's
/// fixed-width timestamps), or an age like `30m`, `12h`, `7d`.
fn parse_since(text: &str) -> Result<String, CliError> {
    let invalid = || {
        CliError::usage(format!(
            "--since {text:?} is not a time like 2026-11-28, 2026-11-28T17:00:00Z, 30m, 12h or 7d"
        ))
    };
    let b = text.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        let ok = text.ends_with('Z') || b.len() == 10;
        return if ok {
            Ok(text.to_owned())
        } else {
            Err(invalid())
        };
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(invalid()),
    };
    let at = SystemTime::now()
        .checked_sub(Duration::from_secs(secs))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(rfc3339(at))
}
