//! [`Failure`]: why a command stopped early. Shared by every command, by
//! `main` and by the audit wrapper; it depends on `exit` and `output` only.

use credvault::VaultError;

use crate::exit::CliError;
use crate::output::{Closed, OutputError};

/// Why a command stopped early.
#[derive(Debug)]
pub enum Failure {
    /// An error to report, with its exit code.
    Error(CliError),
    /// Stdout was closed by its reader: stop quietly, exit 0.
    Closed(Closed),
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Failure::Error(e)
    }
}

impl From<VaultError> for Failure {
    fn from(e: VaultError) -> Self {
        Failure::Error(e.into())
    }
}

impl From<credvault::oauth::OAuthError> for Failure {
    fn from(e: credvault::oauth::OAuthError) -> Self {
        Failure::Error(e.into())
    }
}

impl From<credvault::NameError> for Failure {
    fn from(e: credvault::NameError) -> Self {
        Failure::Error(e.into())
    }
}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Self {
        match e {
            OutputError::Closed(c) => Failure::Closed(c),
            OutputError::Failed(e) => Failure::Error(e),
        }
    }
}
