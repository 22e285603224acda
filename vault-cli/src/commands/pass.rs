//! `pass import|export|sync`: a thin face over `credvault::pass`. Reports
//! every key (never a value) as `import-legacy` does, and exits 6 when a
//! key failed, was unmappable or is a conflict.

use credvault::pass::{self, PassBackend, PassOptions, Prefix, Report, Side, Status};
use serde::Serialize;

use crate::cli::{PassCommand, PassStoreArgs, PreferArg};
use crate::exit::{pass_error, CliError, Exit};
use crate::output::{note, print, print_json, sanitize, Format};
use crate::unlock::Context;

use crate::failure::Failure;

/// Most failed names listed in the one-line error.
const MAX_LISTED: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Import,
    Export,
    Sync,
}

/// Runs a `pass` subcommand.
pub fn run(command: &PassCommand, context: &Context, format: Format) -> Result<Exit, Failure> {
    let (op, common, overwrite, prefer) = match command {
        PassCommand::Import(a) => (Op::Import, &a.common, a.overwrite, None),
        PassCommand::Export(a) => (Op::Export, &a.common, a.overwrite, None),
        PassCommand::Sync(a) => (
            Op::Sync,
            &a.common,
            false,
            a.prefer.map(|p| match p {
                PreferArg::Vault => Side::Vault,
                PreferArg::Pass => Side::Pass,
            }),
        ),
    };
    let prefix = Prefix::new(&common.prefix).map_err(pass_error)?;
    let backend = backend(common);
    // Check the store before asking for a passphrase.
    backend.check_initialised().map_err(pass_error)?;
    let options = PassOptions {
        prefix,
        dry_run: common.dry_run,
        overwrite,
        prefer,
    };
    let mut vault = context.open()?;
    let report = match op {
        Op::Import => pass::import(&mut vault, &backend, &options),
        Op::Export => pass::export(&mut vault, &backend, &options),
        Op::Sync => pass::sync(&mut vault, &backend, &options),
    }
    .map_err(pass_error)?;
    show(&report, &backend, &options, format)?;

    let left: Vec<String> = report
        .incomplete()
        .map(|i| {
            format!(
                "{} ({})",
                sanitize(i.key.as_deref().unwrap_or(&i.pass_name)),
                i.status.as_str()
            )
        })
        .collect();
    if !left.is_empty() {
        let mut listed = left
            .iter()
            .take(MAX_LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if left.len() > MAX_LISTED {
            listed.push_str(&format!(", and {} more", left.len() - MAX_LISTED));
        }
        let done = if report.dry_run {
            " (dry run: nothing was changed)"
        } else {
            "; everything else was done"
        };
        return Err(CliError::new(
            Exit::Incomplete,
            format!("{} key(s) not done: {listed}{done}", left.len()),
        )
        .with_hint(
            "see the lines above; fix the failures, rename unmappable entries, settle conflicts with --prefer vault|pass, then run it again",
        )
        .into());
    }
    Ok(Exit::Ok)
}

/// The store of `--store`, else `$PASSWORD_STORE_DIR`, else
/// `~/.password-store`.
fn backend(common: &PassStoreArgs) -> PassBackend {
    match &common.store {
        Some(dir) => PassBackend::new(dir),
        None => PassBackend::from_env(),
    }
}

fn label(status: Status, dry_run: bool) -> &'static str {
    if !dry_run {
        return status.as_str();
    }
    match status {
        Status::Imported => "would import",
        Status::Exported => "would export",
        Status::RemovedFromVault => "would remove from vault",
        Status::RemovedFromPass => "would remove from pass",
        other => other.as_str(),
    }
}

fn show(
    report: &Report,
    backend: &PassBackend,
    options: &PassOptions,
    format: Format,
) -> Result<(), Failure> {
    let store = backend.store_dir().display().to_string();
    match format {
        Format::Text => {
            let keys: Vec<String> = report
                .items
                .iter()
                .map(|i| sanitize(i.key.as_deref().unwrap_or("-")))
                .collect();
            let width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
            let swidth = report
                .items
                .iter()
                .map(|i| label(i.status, report.dry_run).len())
                .max()
                .unwrap_or(0)
                .max(12);
            let mut out = String::new();
            for (item, key) in report.items.iter().zip(&keys) {
                let status = label(item.status, report.dry_run);
                out.push_str(&format!(
                    "{status:<swidth$} {key:<width$}  ({})",
                    sanitize(&item.pass_name)
                ));
                if let Some(reason) = &item.reason {
                    out.push_str(&format!(": {}", sanitize(reason)));
                }
                out.push('\n');
            }
            print(&out)?;
            let count = |s: Status| report.count(s);
            let mut summary = format!(
                "{} imported, {} exported, {} unchanged, {} kept, {} removed, {} conflict(s), {} unmappable, {} failed; store {}, prefix {:?}",
                count(Status::Imported),
                count(Status::Exported),
                count(Status::Unchanged),
                count(Status::Kept),
                count(Status::RemovedFromVault) + count(Status::RemovedFromPass),
                count(Status::Conflict),
                count(Status::Unmappable),
                count(Status::Failed),
                sanitize(&store),
                options.prefix.as_str(),
            );
            if report.dry_run {
                summary.push_str(" (dry run: nothing was changed)");
            } else if report.saved {
                summary.push_str("; vault saved");
            }
            note(&summary);
        }
        Format::Json => {
            #[derive(Serialize)]
            struct ItemJson<'a> {
                key: Option<&'a str>,
                pass_name: &'a str,
                status: &'static str,
                reason: Option<&'a str>,
            }
            #[derive(Serialize)]
            struct ReportJson<'a> {
                store: String,
                prefix: &'a str,
                dry_run: bool,
                saved: bool,
                imported: usize,
                exported: usize,
                unchanged: usize,
                kept: usize,
                removed_from_vault: usize,
                removed_from_pass: usize,
                conflict: usize,
                unmappable: usize,
                failed: usize,
                items: Vec<ItemJson<'a>>,
            }
            print_json(&ReportJson {
                store,
                prefix: options.prefix.as_str(),
                dry_run: report.dry_run,
                saved: report.saved,
                imported: report.count(Status::Imported),
                exported: report.count(Status::Exported),
                unchanged: report.count(Status::Unchanged),
                kept: report.count(Status::Kept),
                removed_from_vault: report.count(Status::RemovedFromVault),
                removed_from_pass: report.count(Status::RemovedFromPass),
                conflict: report.count(Status::Conflict),
                unmappable: report.count(Status::Unmappable),
                failed: report.count(Status::Failed),
                items: report
                    .items
                    .iter()
                    .map(|i| ItemJson {
                        key: i.key.as_deref(),
                        pass_name: &i.pass_name,
                        status: i.status.as_str(),
                        reason: i.reason.as_deref(),
                    })
                    .collect(),
            })?;
        }
    }
    Ok(())
}
