//! `generations list | purge`: the copies credvault keeps beside the vault
//! (generations `VAULT.1` … `VAULT.N` made by every save, `VAULT.bak-*`
//! made by `restore` and `undo`), and what a revoking command removed.

use serde::Serialize;

use crate::cli::GenerationsCommand;
use crate::exit::Exit;
use crate::output::{note, print, print_json, purged_paths, Format};
use crate::unlock::Context;

use crate::failure::Failure;

/// Runs `generations list` or `generations purge`.
pub fn run(
    command: &GenerationsCommand,
    context: &Context,
    format: Format,
) -> Result<Exit, Failure> {
    match command {
        GenerationsCommand::List => list(context, format),
        GenerationsCommand::Purge => purge(context, format),
    }
}

#[derive(Serialize)]
struct KeptJson {
    path: String,
    /// `generation` or `bak`.
    kind: &'static str,
    generation: Option<usize>,
    bytes: u64,
    /// The save counter in the copy's header (not authenticated), if it
    /// parses.
    save_counter: Option<u64>,
}

fn list(context: &Context, format: Format) -> Result<Exit, Failure> {
    let path = context.vault_path()?;
    let kept: Vec<KeptJson> = credvault::kept_copies(path)
        .into_iter()
        .map(|k| KeptJson {
            path: k.path.display().to_string(),
            kind: if k.generation.is_some() {
                "generation"
            } else {
                "bak"
            },
            generation: k.generation,
            bytes: k.bytes,
            save_counter: k.save_counter,
        })
        .collect();
    match format {
        Format::Json => print_json(&kept)?,
        Format::Text => {
            let mut out = String::new();
            for k in &kept {
                let counter = k
                    .save_counter
                    .map_or_else(|| "?".to_owned(), |c| c.to_string());
                out.push_str(&format!(
                    "{}\t{}\tsave {counter}\t{} bytes\n",
                    k.path, k.kind, k.bytes
                ));
            }
            print(&out)?;
        }
    }
    Ok(Exit::Ok)
}

fn purge(context: &Context, format: Format) -> Result<Exit, Failure> {
    let vault = context.open()?;
    let removed = vault.purge_kept()?;
    match format {
        Format::Json => {
            #[derive(Serialize)]
            struct Purged {
                purged: Vec<String>,
            }
            print_json(&Purged {
                purged: purged_paths(&removed),
            })?;
        }
        Format::Text => note(&format!(
            "removed {} kept cop{} of the vault",
            removed.len(),
            if removed.len() == 1 { "y" } else { "ies" }
        )),
    }
    Ok(Exit::Ok)
}
