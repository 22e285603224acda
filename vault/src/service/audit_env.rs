//! The audit settings every face reads from the environment, in one place
//! (DESIGN.md §1: every operation is audited): `CREDVAULT_AUDIT` (`on`,
//! the default; `off`; `required`), `CREDVAULT_AUDIT_LOG` (default
//! `<vault>.audit.jsonl`) and `CREDVAULT_AUDIT_MAX_BYTES` (the rotation
//! size). The CLI adds its options (`--no-audit`, `--audit-log`) on top.

use std::path::{Path, PathBuf};

use crate::audit::{AuditLog, DEFAULT_MAX_BYTES};

/// `CREDVAULT_AUDIT`: `on` (default), `off`, `required`.
pub const ENV_AUDIT: &str = "CREDVAULT_AUDIT";
/// `CREDVAULT_AUDIT_LOG`: the log's path instead of beside the vault.
pub const ENV_AUDIT_LOG: &str = "CREDVAULT_AUDIT_LOG";
/// `CREDVAULT_AUDIT_MAX_BYTES`: the rotation size.
pub const ENV_AUDIT_MAX_BYTES: &str = "CREDVAULT_AUDIT_MAX_BYTES";

/// Whether and how strictly to audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditMode {
    /// No audit line.
    Off,
    /// A line per operation; a line that cannot be written is dropped
    /// (the CLI warns).
    On,
    /// A line that cannot be written fails the operation.
    Required,
}

/// `CREDVAULT_AUDIT` holds none of `on`, `off`, `required`.
#[derive(Debug, thiserror::Error)]
#[error("{ENV_AUDIT}={0:?} is not one of on, off, required")]
pub struct AuditModeError(pub String);

impl AuditMode {
    /// `CREDVAULT_AUDIT`, case-insensitive: empty, `on`, `1`, `true` are
    /// [`AuditMode::On`]; `off`, `0`, `false` are [`AuditMode::Off`];
    /// `required`.
    pub fn from_env() -> Result<AuditMode, AuditModeError> {
        let env = std::env::var(ENV_AUDIT).unwrap_or_default();
        match env.to_ascii_lowercase().as_str() {
            "" | "on" | "1" | "true" => Ok(AuditMode::On),
            "off" | "0" | "false" => Ok(AuditMode::Off),
            "required" => Ok(AuditMode::Required),
            other => Err(AuditModeError(other.to_owned())),
        }
    }
}

/// A face's audit settings.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Whether and how strictly.
    pub mode: AuditMode,
    /// The log's path; `None`: beside the vault.
    pub log: Option<PathBuf>,
}

impl AuditSettings {
    /// From the environment alone (the Node module, the service).
    pub fn from_env() -> Result<AuditSettings, AuditModeError> {
        Ok(AuditSettings {
            mode: AuditMode::from_env()?,
            log: std::env::var_os(ENV_AUDIT_LOG)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        })
    }

    /// The log of the vault at `vault`, with the rotation size of
    /// `CREDVAULT_AUDIT_MAX_BYTES` (default 1 MiB).
    pub fn log_for(&self, vault: &Path) -> AuditLog {
        let log = match &self.log {
            Some(p) => AuditLog::at(p.clone()),
            None => AuditLog::beside(vault),
        };
        let max = std::env::var(ENV_AUDIT_MAX_BYTES)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MAX_BYTES);
        log.with_max_bytes(max)
    }
}
