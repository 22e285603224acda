//! `completions` and `man`: generated from the clap definition, rendered
//! into memory first (the generators panic on write errors), then written.

use crate::exit::{CliError, Exit};
use crate::output::write_stdout;

use crate::failure::Failure;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "credvault", &mut out);
    write_stdout(&out)?;
    Ok(Exit::Ok)
}

/// Prints the man page in roff.
pub fn man() -> Result<Exit, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(crate::cli::command())
        .render(&mut out)
        .map_err(|e| CliError::new(Exit::FileSystem, format!("cannot render the man page: {e}")))?;
    write_stdout(&out)?;
    Ok(Exit::Ok)
}
