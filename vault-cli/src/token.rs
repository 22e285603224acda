//! OAuth access tokens as the commands show and use them: the time left,
//! and the fresh token of a login for `exec --oauth`.

use std::time::Duration;

use credvault::oauth::{self, LoginName};
use credvault::SecretValue;

use crate::exit::CliError;
use crate::failure::Failure;
use crate::output::warn;

/// The fresh access token of login `login` for `exec --oauth`.
pub fn token_for_exec(vault: &mut credvault::Vault, login: &str) -> Result<SecretValue, Failure> {
    let login_name = LoginName::new(login).map_err(CliError::from)?;
    let valid = oauth::valid_token(vault, &login_name, Duration::from_secs(300), false, &[])?;
    if let Some(why) = &valid.stale {
        warn(&format!(
            "could not refresh {login_name} ({why}); the current token still has {} left",
            left_text(valid.expires_ms)
        ));
    }
    Ok(valid.token)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The time left until `expires_ms` ("an unknown time" without one).
pub fn left_text(expires_ms: Option<u64>) -> String {
    match expires_ms {
        Some(at) => crate::duration::show(Duration::from_millis(at.saturating_sub(now_ms()))),
        None => "an unknown time".to_owned(),
    }
}
