//! One module per command group, and the dispatch to them. Each command
//! returns the exit code of a success (`has` exits 1 when the key is
//! absent) or a [`Failure`]. Commands depend on the shared modules of the
//! crate (`failure`, `exit`, `output`, `unlock`, `kdf`, `view`, ...), never
//! on each other or on this file (`tests/cli/architecture.rs` checks it).

mod audit;
mod backup;
mod docs;
mod entries;
mod exec;
mod export;
mod generations;
mod init;
mod kdf;
mod legacy;
mod merge;
mod oauth;
mod pass;
mod rekey;
mod session;
mod slot;
mod status;

use crate::cli::Command;
use crate::exit::Exit;
use crate::failure::Failure;
use crate::output::Format;
use crate::unlock::Context;

/// Runs `command` (its audit line is written around this, in `main`).
pub fn run(
    command: &Command,
    context: &Context,
    audit: &crate::audit::Settings,
    format: Format,
) -> Result<Exit, Failure> {
    match command {
        Command::Audit(crate::cli::AuditCommand::Show(args)) => {
            audit::show(args, context, audit, format)
        }
        Command::Audit(crate::cli::AuditCommand::Verify) => audit::verify(context, audit, format),
        Command::Init(args) => init::run(args, context, format),
        Command::Set(args) => entries::set(args, context, format),
        Command::Get(args) => entries::get(args, context, format),
        Command::Rm(args) => entries::rm(&args.key, context, format),
        Command::Has(args) => entries::has(&args.key, context, format),
        Command::Ls(args) => entries::ls(args.prefix.as_deref(), context, format),
        Command::Status(args) => status::run(args, context, format),
        Command::Slot(command) => slot::run(command, context, format),
        Command::Unlock(args) => session::unlock(args, context, format),
        Command::Lock => session::lock(context, format),
        Command::ImportLegacy(args) => legacy::import(args, context, format),
        Command::MigrateEnv(args) => legacy::migrate_env(args, context, format),
        Command::Exec(args) => exec::run(args, context),
        Command::Backup(args) => backup::backup(args, context, format),
        Command::Restore(args) => backup::restore(args, context, format),
        Command::Undo => backup::undo(context, format),
        Command::Verify(args) => backup::verify(args, context, format),
        Command::Passwd(args) => rekey::passwd(args, context, format),
        Command::Rekey(args) => rekey::rekey(args, context, format),
        Command::Generations(command) => generations::run(command, context, format),
        Command::Recovery(crate::cli::RecoveryCommand::Rotate(args)) => {
            rekey::rotate(args, context, format)
        }
        Command::Pass(command) => pass::run(command, context, format),
        Command::Export(args) => export::export(args, context, format),
        Command::Import(args) => export::import(args, context, format),
        Command::Merge(args) => merge::merge(args, context, format),
        Command::GitMergeDriver(args) => merge::git_merge_driver(args, context),
        Command::GitTextconv(args) => merge::git_textconv(args, context),
        Command::KdfCalibrate(args) => kdf::calibrate_command(args, format),
        Command::Completions(args) => docs::completions(args.shell),
        Command::Man => docs::man(),
        Command::Oauth(command) => oauth::run(command, context, format),
    }
}
