//! The token manager: a valid access token on demand, refreshed under the
//! vault's write lock, and revocation.
//!
//! Refresh rules. A token is refreshed when it has less than `min_valid`
//! left (the CLI's default is 5 minutes), when the caller says the last
//! one was rejected with HTTP 401, or when it has expired (e.g. at start).
//! The refresh happens under the vault's write lock after re-reading the
//! tokens: a process that waited for the lock finds the token another one
//! just refreshed and uses it, so N processes needing a token at once
//! cause one refresh, and a rotated refresh token is never spent twice
//! (servers with reuse detection revoke the whole grant then). The new
//! tokens are saved before the lock is released and before the access
//! token is handed out. `invalid_grant` ends the login (the tokens are
//! removed, the client marked as needing a new login: exit 3 in the CLI);
//! a network failure hands back the current token if it still has time
//! left, else fails with [`OAuthError::Network`].

use std::time::Duration;

use oauth2::basic::BasicErrorResponseType;
use oauth2::{RefreshToken, RequestTokenError, StandardRevocableToken};

use crate::{SecretValue, Vault};

use super::http::HttpClient;
use super::login::{client, issued, token_error};
use super::record::{self, Entries, LoginName, TokenState};
use super::{now_ms, OAuthError};

/// A token handed out by [`valid_token`].
pub struct ValidToken {
    /// The access token.
    pub token: SecretValue,
    /// When it expires, Unix milliseconds, if known.
    pub expires_ms: Option<u64>,
    /// Whether this call refreshed it.
    pub refreshed: bool,
    /// Set when a refresh was needed but the server could not be reached:
    /// the token still has time left, and this says why it was not renewed.
    pub stale: Option<String>,
}

impl std::fmt::Debug for ValidToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidToken")
            .field("expires_ms", &self.expires_ms)
            .field("refreshed", &self.refreshed)
            .field("stale", &self.stale)
            .finish_non_exhaustive()
    }
}

/// Whether a token expiring at `expires_ms` has less than `min_valid`
/// left (`None`: the server gave no lifetime, so only a 401 tells).
pub fn is_token_expired(expires_ms: Option<u64>, min_valid: Duration) -> bool {
    match expires_ms {
        Some(at) => {
            let min = u64::try_from(min_valid.as_millis()).unwrap_or(u64::MAX);
            at.saturating_sub(now_ms()) < min.max(1)
        }
        None => false,
    }
}

/// Reads the login `name` without taking the lock.
pub fn status(vault: &Vault, name: &LoginName) -> Result<TokenState, OAuthError> {
    record::read(vault, name)
}

/// The HTTP client for a login: its stored CA certificates plus `extra`.
pub fn client_for(state: &TokenState, extra: &[String]) -> Result<HttpClient, OAuthError> {
    let mut pems = state.config.ca_pems.clone();
    pems.extend(extra.iter().cloned());
    HttpClient::new(&pems)
}

/// An access token of `name` with at least `min_valid` left, refreshing
/// it under the vault's lock when needed. `rejected`: the caller's last
/// token got a 401, so a token equal to it is refreshed whatever its
/// expiry says. `extra_cas`: PEM certificates to trust besides the
/// login's own.
pub fn valid_token(
    vault: &mut Vault,
    name: &LoginName,
    min_valid: Duration,
    rejected: bool,
    extra_cas: &[String],
) -> Result<ValidToken, OAuthError> {
    let seen = record::read(vault, name)?;
    if seen.config.needs_login {
        return Err(OAuthError::NeedsLogin(name.to_string()));
    }
    if !rejected {
        if let Some(token) = &seen.access {
            if !is_token_expired(seen.expires_ms, min_valid) {
                return Ok(ValidToken {
                    token: copy(token),
                    expires_ms: seen.expires_ms,
                    refreshed: false,
                    stale: None,
                });
            }
        }
    }
    refresh_locked(vault, name, min_valid, seen.access, rejected, extra_cas)
}

/// Refreshes `name` now (one refresh, under the lock), unless another
/// process refreshed it while this one waited for the lock.
pub fn refresh_token(
    vault: &mut Vault,
    name: &LoginName,
    extra_cas: &[String],
) -> Result<ValidToken, OAuthError> {
    let seen = record::read(vault, name)?;
    if seen.config.needs_login {
        return Err(OAuthError::NeedsLogin(name.to_string()));
    }
    refresh_locked(vault, name, Duration::ZERO, seen.access, true, extra_cas)
}

/// The locked half of [`valid_token`]. `seen`: the access token read
/// before the lock; `rejected`: the caller wants it replaced whatever its
/// expiry says.
fn refresh_locked(
    vault: &mut Vault,
    name: &LoginName,
    min_valid: Duration,
    seen: Option<SecretValue>,
    rejected: bool,
    extra_cas: &[String],
) -> Result<ValidToken, OAuthError> {
    let mut locked = vault.lock_for_update()?;
    let fresh = record::read(&locked as &dyn Entries, name)?;
    if fresh.config.needs_login {
        return Err(OAuthError::NeedsLogin(name.to_string()));
    }
    if let Some(token) = &fresh.access {
        // Another process refreshed while this one waited for the lock:
        // its token is as new as the server makes them, so refreshing
        // again would only spend the grant (and a token lifetime under
        // `min_valid` would make every caller refresh).
        let replaced = seen.as_ref().is_none_or(|s| s.expose() != token.expose());
        let alive = !is_token_expired(fresh.expires_ms, Duration::ZERO);
        let fresh_enough = !is_token_expired(fresh.expires_ms, min_valid);
        if (replaced && alive) || (!rejected && fresh_enough) {
            return Ok(ValidToken {
                token: copy(token),
                expires_ms: fresh.expires_ms,
                refreshed: false,
                stale: None,
            });
        }
    }
    let Some(refresh) = fresh.refresh.as_ref().and_then(|r| r.expose_str()) else {
        return Err(OAuthError::NeedsLogin(name.to_string()));
    };
    let http = client_for(&fresh, extra_cas)?;
    let oauth = client(&fresh.config, fresh.client_secret.as_ref(), None)?;
    let refresh = RefreshToken::new(refresh.to_owned());
    let result = oauth
        .exchange_refresh_token(&refresh)
        .map_err(|e| OAuthError::Config(e.to_string()))?
        .request(&http);
    match result {
        Ok(response) => {
            let issued = issued(&response);
            record::put_tokens(&mut locked, name, &issued)?;
            locked.commit()?;
            Ok(ValidToken {
                token: issued.access,
                expires_ms: issued.expires_ms,
                refreshed: true,
                stale: None,
            })
        }
        Err(RequestTokenError::ServerResponse(r)) if grant_ended(r.error()) => {
            let mut config = fresh.config.clone();
            config.needs_login = true;
            for entry in [
                name.access_token(),
                name.refresh_token(),
                name.token_expiry(),
            ] {
                locked.delete(&entry);
            }
            record::put_config(&mut locked, name, &config)?;
            locked.commit()?;
            Err(OAuthError::NeedsLogin(name.to_string()))
        }
        Err(e) => {
            let e = token_error(e);
            drop(locked);
            let usable = !rejected && fresh.expires_ms.is_none_or(|at| at > now_ms());
            match (e, &fresh.access) {
                (OAuthError::Network(why), Some(token)) if usable => Ok(ValidToken {
                    token: copy(token),
                    expires_ms: fresh.expires_ms,
                    refreshed: false,
                    stale: Some(why),
                }),
                (e, _) => Err(e),
            }
        }
    }
}

/// Whether a refresh error means the grant is gone: `invalid_grant`
/// (RFC 6749 §5.2), or GitHub's `bad_refresh_token`.
fn grant_ended(error: &BasicErrorResponseType) -> bool {
    match error {
        BasicErrorResponseType::InvalidGrant => true,
        BasicErrorResponseType::Extension(e) => e == "bad_refresh_token",
        _ => false,
    }
}

/// A second copy of a secret (zeroized on drop like the first).
fn copy(v: &SecretValue) -> SecretValue {
    SecretValue::new(v.expose().to_vec())
}

/// What [`revoke_token`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Whether the server was asked to revoke (RFC 7009) and agreed; false
    /// when the provider has no revocation endpoint.
    pub at_server: bool,
    /// Which token was revoked at the server: `refresh_token` (which ends
    /// the grant) or `access_token`.
    pub token_type: Option<&'static str>,
}

/// Revokes the login `name` at the server (the refresh token if there is
/// one, which ends the whole grant, else the access token) and then
/// removes its entries from the vault, under the lock. A server that
/// cannot be reached or refuses leaves the entries in place.
pub fn revoke_token(
    vault: &mut Vault,
    name: &LoginName,
    extra_cas: &[String],
) -> Result<Revoked, OAuthError> {
    let mut locked = vault.lock_for_update()?;
    let state = record::read(&locked as &dyn Entries, name)?;
    let token = match (&state.refresh, &state.access) {
        (Some(r), _) => r.expose_str().map(|t| {
            (
                StandardRevocableToken::RefreshToken(RefreshToken::new(t.to_owned())),
                "refresh_token",
            )
        }),
        (None, Some(a)) => a.expose_str().map(|t| {
            (
                StandardRevocableToken::AccessToken(oauth2::AccessToken::new(t.to_owned())),
                "access_token",
            )
        }),
        (None, None) => None,
    };
    let mut revoked = Revoked {
        at_server: false,
        token_type: None,
    };
    if let (Some((token, kind)), Some(_)) = (token, &state.config.endpoints.revocation) {
        let http = client_for(&state, extra_cas)?;
        let oauth = client(&state.config, state.client_secret.as_ref(), None)?;
        oauth
            .revoke_token(token)
            .map_err(|e| OAuthError::Config(e.to_string()))?
            .request(&http)
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => OAuthError::Refused {
                    error: r.error().to_string(),
                    description: None,
                },
                RequestTokenError::Request(e) => OAuthError::Network(e.to_string()),
                RequestTokenError::Parse(_, _) => OAuthError::Network(
                    "the revocation endpoint answered something unexpected".to_owned(),
                ),
                RequestTokenError::Other(m) => OAuthError::Network(m),
            })?;
        revoked = Revoked {
            at_server: true,
            token_type: Some(kind),
        };
    }
    for entry in name.all_entries() {
        locked.delete(&entry);
    }
    locked.commit()?;
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_against_min_valid() {
        let now = now_ms();
        let five_min = Duration::from_secs(300);
        assert!(is_token_expired(Some(now + 60_000), five_min));
        assert!(!is_token_expired(Some(now + 600_000), five_min));
        assert!(is_token_expired(
            Some(now.saturating_sub(1)),
            Duration::ZERO
        ));
        assert!(!is_token_expired(None, five_min));
    }
}
