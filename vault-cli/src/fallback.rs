//! The fallback chain of `get KEY [--pass] --env VAR [--config FILE]`: the
//! vault, then (with `--pass`) the pass entry, then the environment
//! variable, then a legacy config file
//! (`credvault::service::get_with_pass_fallback`). A vault that does not exist
//! yet is skipped; one that exists but cannot be opened is an error (a
//! wrong passphrase must not silently fall through to other sources).

use credvault::legacy::{KeyOptions, SafeStorage};
use credvault::pass::{PassBackend, Prefix};
use credvault::service::{self, Found, ServiceError, Source};
use credvault::{ops, KeyName};

use crate::cli::GetArgs;
use crate::exit::{CliError, Exit};
use crate::output::{note, sanitize};
use crate::unlock::Context;

/// Finds KEY along the chain; exit 1 when no link has it.
pub fn find(key: &KeyName, args: &GetArgs, context: &Context) -> Result<Found, CliError> {
    let path = context.vault_path()?;
    let vault = if ops::vault_exists(path)? {
        Some(context.open()?)
    } else {
        note(&format!(
            "no vault at {}; trying the other sources",
            sanitize(&path.display().to_string())
        ));
        None
    };
    let mut keys = SafeStorage::new(KeyOptions {
        os_keychain: !context.no_keychain,
        ..KeyOptions::default()
    });
    let pass_backend = PassBackend::from_env();
    let pass_prefix =
        Prefix::new(&args.pass_prefix).map_err(|e| CliError::usage(sanitize(&e.to_string())))?;
    let found = service::get_with_pass_fallback(
        vault.as_ref(),
        key,
        args.pass.then_some((&pass_backend, &pass_prefix)),
        args.env.as_deref(),
        &|var| std::env::var_os(var),
        args.config.as_deref(),
        &mut keys,
    )
    .map_err(|e| match e {
        ServiceError::Vault(v) => CliError::from(v),
        ServiceError::Pass(p) => crate::exit::pass_error(p),
        ServiceError::ConfigIo(io) => CliError::new(
            Exit::FileSystem,
            format!("cannot read the config file: {}", sanitize(&io.to_string())),
        ),
        other => CliError::new(Exit::Incomplete, sanitize(&other.to_string())),
    })?;
    found.ok_or_else(|| {
        let mut places = vec!["the vault".to_owned()];
        if args.pass {
            places.push(format!("pass ({})", sanitize(&pass_prefix.pass_name(key))));
        }
        if let Some(var) = &args.env {
            places.push(format!("${}", sanitize(var)));
        }
        if let Some(config) = &args.config {
            places.push(sanitize(&config.display().to_string()));
        }
        CliError::new(
            Exit::NotFound,
            format!("no entry named {key} in {}", places.join(", ")),
        )
    })
}

/// "KEY: from the environment variable VAR", for stderr.
pub fn describe(key: &KeyName, source: &Source) -> String {
    match source {
        Source::Vault => format!("{key}: from the vault"),
        Source::Environment(var) => {
            format!("{key}: from the environment variable {}", sanitize(var))
        }
        Source::LegacyConfig(path) => format!(
            "{key}: from the legacy config file {}",
            sanitize(&path.display().to_string())
        ),
        Source::Pass(name) => format!("{key}: from the pass entry {}", sanitize(name)),
    }
}

/// `source`, `env` and `config` members of `get --json`.
pub fn json_fields(
    source: Option<&Source>,
) -> (Option<&'static str>, Option<&str>, Option<String>) {
    match source {
        None => (None, None, None),
        Some(s @ Source::Vault) => (Some(s.kind()), None, None),
        Some(s @ Source::Environment(var)) => (Some(s.kind()), Some(var.as_str()), None),
        Some(s @ Source::LegacyConfig(path)) => {
            (Some(s.kind()), None, Some(path.display().to_string()))
        }
        Some(s @ Source::Pass(_)) => (Some(s.kind()), None, None),
    }
}

/// The `pass` member of `get --json`: the pass entry that answered.
pub fn pass_field(source: Option<&Source>) -> Option<&str> {
    match source {
        Some(Source::Pass(name)) => Some(name.as_str()),
        _ => None,
    }
}
