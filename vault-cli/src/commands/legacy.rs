//! Migration from the desktop app: `import-legacy` (its credentials.json)
//! and `migrate-env` (environment variables). Both save once, report every
//! key (never a value) and exit 6 when something was not migrated.

use std::path::{Path, PathBuf};

use credvault::legacy::migrate::{default_credentials_path as credentials_path, ReadError};
use credvault::legacy::{
    file, ImportPlan, KeyOptions, LegacyIoError, LegacySource, MigrateError, Migrated, Migration,
    Platform, SafeStoragePassword, Status,
};
use credvault::service::{self, EnvStatus, DEFAULT_ENV_MAP};
use serde::Serialize;

use crate::cli::{ImportLegacyArgs, MigrateEnvArgs, PlatformArg};
use crate::exit::{CliError, Exit};
use crate::output::{note, print, print_json, sanitize, Format};
use crate::passphrase::strip_one_newline;
use crate::unlock::Context;

use crate::failure::Failure;

/// Largest safeStorage password file read.
const MAX_PASSWORD_FILE_LEN: u64 = 64 * 1024;

/// `import-legacy [PATH]`: a face over [`LegacySource`].
pub fn import(args: &ImportLegacyArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let path = match &args.path {
        Some(p) => p.clone(),
        None => default_credentials_path(&args.app_name)?,
    };
    // What was read is remembered exactly: --remove-legacy removes the
    // file only if it is still this one (issue 13).
    let source = LegacySource::read(&path).map_err(|e| match e {
        ReadError::Io(e) => io_error(e, &args.app_name),
        e => CliError::new(
            Exit::Incomplete,
            format!("cannot import {}: {e}", shown(&path)),
        )
        .with_hint("check that PATH is the app's credentials.json; nothing was imported"),
    })?;

    let platform = args
        .platform
        .map(PlatformArg::platform)
        .unwrap_or_else(Platform::current);
    let password = args
        .safe_storage_password_file
        .as_deref()
        .map(read_password)
        .transpose()?;
    let keys = KeyOptions {
        platform,
        app_name: args.app_name.clone(),
        password,
        os_keychain: !context.no_keychain,
        local_state: args.local_state.clone().or_else(|| source.local_state()),
        ..KeyOptions::new(&args.app_name)
    };

    let mut vault = context.open()?;
    let how = Migration {
        dry_run: args.dry_run,
        overwrite: args.overwrite,
        remove_legacy: args.remove_legacy,
    };
    let Migrated {
        plan,
        verified,
        removed,
    } = source.import_into(&mut vault, keys, how).map_err(|e| match e {
        MigrateError::Verify(e) => CliError::new(Exit::Incomplete, format!("verification failed: {e}"))
            .with_hint("the legacy file was left alone; run `credvault import-legacy` again"),
        MigrateError::Remove(e @ LegacyIoError::Changed { .. }) => CliError::new(
            Exit::Incomplete,
            format!("imported and verified what was read, but the legacy file was not removed: {e}"),
        )
        .with_hint("the app saved it during the import; run `credvault import-legacy --remove-legacy` again to import the new values"),
        MigrateError::Remove(e) => CliError::new(
            Exit::FileSystem,
            format!("imported and verified, but the legacy file could not be removed: {e}"),
        ),
        MigrateError::Vault(e) => CliError::from(e),
        e => CliError::new(Exit::Incomplete, sanitize(&e.to_string())),
    })?;

    report_import(&plan, &path, args, verified, removed, format)?;

    let c = plan.counts();
    if c.failed > 0 {
        return Err(CliError::new(
            Exit::Incomplete,
            if c.failed == plan.items().len() {
                format!("none of the {} legacy values could be imported", c.failed)
            } else if args.dry_run {
                format!(
                    "{} of {} legacy values could not be imported (dry run)",
                    c.failed,
                    plan.items().len()
                )
            } else {
                format!(
                    "{} of {} legacy values could not be imported; the others were",
                    c.failed,
                    plan.items().len()
                )
            },
        )
        .with_hint(if args.remove_legacy {
            "the legacy file was kept; fix the failures above and run import-legacy again"
        } else {
            "see the failed lines above; run import-legacy again after fixing them"
        })
        .into());
    }
    if args.remove_legacy && !args.dry_run && !removed {
        return Err(CliError::new(
            Exit::Incomplete,
            format!(
                "the legacy file was kept: {} value(s) differ from the vault's and were not imported",
                c.kept
            ),
        )
        .with_hint("compare them, then run again with --overwrite to take the legacy values, or remove the file yourself")
        .into());
    }
    Ok(Exit::Ok)
}

fn report_import(
    plan: &ImportPlan,
    path: &Path,
    args: &ImportLegacyArgs,
    verified: bool,
    removed: bool,
    format: Format,
) -> Result<(), Failure> {
    let c = plan.counts();
    match format {
        Format::Text => {
            let width = plan
                .items()
                .iter()
                .map(|i| sanitize(&i.key).chars().count())
                .max()
                .unwrap_or(0);
            let mut out = String::new();
            for item in plan.items() {
                let status = match (item.status, args.dry_run) {
                    (Status::Imported, true) => "would import",
                    (s, _) => s.as_str(),
                };
                let key = sanitize(&item.key);
                out.push_str(&format!("{status:<12} {key:<width$}"));
                if let Some(source) = &item.source {
                    out.push_str(&format!("  ({source})"));
                }
                if let Some(reason) = &item.reason {
                    out.push_str(&format!(": {}", sanitize(reason)));
                }
                out.push('\n');
            }
            print(&out)?;
            let mut summary = format!(
                "{} {}, {} unchanged, {} kept, {} failed, from {}",
                c.imported,
                if args.dry_run {
                    "to import"
                } else {
                    "imported"
                },
                c.unchanged,
                c.kept,
                c.failed,
                shown(path)
            );
            if args.dry_run {
                summary.push_str(" (dry run: nothing was changed)");
            } else if verified {
                summary.push_str("; vault re-read and verified");
            }
            note(&summary);
            if removed {
                note(&format!(
                    "removed the legacy file {} (overwritten, then deleted)",
                    shown(path)
                ));
            } else if !args.dry_run && !args.remove_legacy && plan.is_complete() {
                note("the legacy file still holds the values; remove it with --remove-legacy once the app uses the vault");
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct ItemJson<'a> {
                key: &'a str,
                status: &'static str,
                source: Option<&'a str>,
                reason: Option<&'a str>,
            }
            #[derive(Serialize)]
            struct ImportJson<'a> {
                path: String,
                dry_run: bool,
                imported: usize,
                unchanged: usize,
                kept: usize,
                failed: usize,
                verified: bool,
                removed_legacy: bool,
                items: Vec<ItemJson<'a>>,
            }
            print_json(&ImportJson {
                path: path.display().to_string(),
                dry_run: args.dry_run,
                imported: c.imported,
                unchanged: c.unchanged,
                kept: c.kept,
                failed: c.failed,
                verified,
                removed_legacy: removed,
                items: plan
                    .items()
                    .iter()
                    .map(|i| ItemJson {
                        key: &i.key,
                        status: i.status.as_str(),
                        source: i.source.as_deref(),
                        reason: i.reason.as_deref(),
                    })
                    .collect(),
            })?;
        }
    }
    Ok(())
}

/// `<config dir>/<app>/credentials.json`: Electron's userData directory
/// (`~/.config/<app>` on Linux, `~/Library/Application Support/<app>` on
/// macOS, `%APPDATA%\<app>` on Windows).
fn default_credentials_path(app_name: &str) -> Result<PathBuf, CliError> {
    credentials_path(app_name).ok_or_else(|| {
        CliError::usage(
            "cannot find a home directory for the default credentials.json; pass its PATH",
        )
    })
}

fn read_password(path: &Path) -> Result<SafeStoragePassword, CliError> {
    let mut bytes = file::read(path, MAX_PASSWORD_FILE_LEN).map_err(|e| {
        CliError::new(
            Exit::FileSystem,
            format!("cannot read the safeStorage password file: {e}"),
        )
    })?;
    strip_one_newline(&mut bytes);
    Ok(SafeStoragePassword::new(bytes.to_vec()))
}

fn io_error(e: LegacyIoError, app_name: &str) -> CliError {
    let not_found = matches!(e, LegacyIoError::NotFound(_));
    let err = CliError::new(
        Exit::FileSystem,
        format!(
            "cannot read the legacy credentials file: {}",
            sanitize(&e.to_string())
        ),
    );
    if not_found {
        err.with_hint(format!(
            "pass the path of the app's credentials.json, or its name with --app-name (now {})",
            sanitize(app_name)
        ))
    } else {
        err
    }
}

fn shown(path: &Path) -> String {
    sanitize(&path.display().to_string())
}

/// `migrate-env [VAR=key ...]`.
pub fn migrate_env(
    args: &MigrateEnvArgs,
    context: &Context,
    format: Format,
) -> Result<Exit, Failure> {
    let map: Vec<(String, String)> = if args.mappings.is_empty() {
        DEFAULT_ENV_MAP
            .iter()
            .map(|(v, k)| ((*v).to_owned(), (*k).to_owned()))
            .collect()
    } else {
        args.mappings.clone()
    };
    let mut vault = context.open()?;
    let items = service::migrate_from_env(
        &mut vault,
        &map,
        &|var| std::env::var_os(var),
        args.overwrite,
    )?;
    match format {
        Format::Text => {
            let width = items
                .iter()
                .map(|i| i.var.chars().count())
                .max()
                .unwrap_or(0);
            let mut out = String::new();
            for i in &items {
                let (var, key) = (sanitize(&i.var), sanitize(&i.key));
                out.push_str(&format!("{:<9} {var:<width$} -> {key}", i.status.as_str()));
                if let Some(reason) = &i.reason {
                    out.push_str(&format!(": {}", sanitize(reason)));
                }
                out.push('\n');
            }
            print(&out)?;
            let count = |s: EnvStatus| items.iter().filter(|i| i.status == s).count();
            let moved = count(EnvStatus::Moved);
            note(&format!(
                "{}; {} unchanged, {} kept, {} not set, {} failed",
                match moved {
                    0 => "nothing copied (no save)".to_owned(),
                    n => format!("{n} variable(s) copied into the vault in one save"),
                },
                count(EnvStatus::Unchanged),
                count(EnvStatus::Kept),
                count(EnvStatus::Unset),
                count(EnvStatus::Failed),
            ));
            if moved > 0 {
                note("remove the moved variables from your shell profile and .env files; read them with `credvault get KEY` or `credvault exec`");
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct VarJson<'a> {
                var: &'a str,
                key: &'a str,
                status: &'static str,
                reason: Option<&'a str>,
            }
            print_json(
                &items
                    .iter()
                    .map(|i| VarJson {
                        var: &i.var,
                        key: &i.key,
                        status: i.status.as_str(),
                        reason: i.reason.as_deref(),
                    })
                    .collect::<Vec<_>>(),
            )?;
        }
    }
    let failed = items
        .iter()
        .filter(|i| i.status == EnvStatus::Failed)
        .count();
    if failed > 0 {
        return Err(CliError::new(
            Exit::Incomplete,
            format!("{failed} variable(s) could not be migrated; the others were"),
        )
        .into());
    }
    Ok(Exit::Ok)
}
