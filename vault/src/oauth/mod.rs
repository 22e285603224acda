//! OAuth 2.0 logins whose tokens live in the vault (feature `oauth`).
//!
//! A *login* is named by a key-name segment such as `github`; its entries
//! sit beside each other in the vault ([`record`]):
//!
//! | entry | value |
//! |---|---|
//! | `NAME.accessToken` | the access token (secret; the entry's expiry is the token's) |
//! | `NAME.refreshToken` | the refresh token, if the server gave one (secret) |
//! | `NAME.tokenExpiry` | when the access token expires, Unix milliseconds as decimal text |
//! | `NAME.oauthClient` | JSON, not secret: provider, issuer, client id, scopes, endpoints, extra CA certificates, whether a new login is needed |
//! | `NAME.clientSecret` | the client secret, for confidential clients only (secret) |
//!
//! Flows: authorization code with PKCE S256 on a loopback redirect
//! `http://127.0.0.1:<ephemeral>/callback` with a checked `state`
//! ([`login::login_with_browser`], RFC 8252 §7.3, §8), the device
//! authorization grant ([`login::login_with_device`], RFC 8628), refresh
//! under the vault's write lock ([`tokens::valid_token`]: N processes that
//! need a token at once cause one refresh, since servers rotate refresh
//! tokens and revoke the whole grant when an old one is reused) and
//! revocation ([`tokens::revoke_token`], RFC 7009). Endpoints come from presets
//! ([`Provider`]) or OpenID discovery ([`provider::discover`]).
//!
//! The HTTP client ([`http::HttpClient`]) is blocking `ureq` with rustls
//! (ring): no redirects, timeouts, the Mozilla roots plus `SSL_CERT_FILE`
//! and extra PEM files. The library never prompts: a [`login::LoginUi`]
//! shows the authorization URL or the device code.

pub mod http;
pub mod login;
mod loopback;
pub mod provider;
pub mod record;
pub mod tokens;

pub use http::HttpClient;
pub use login::{login_with_browser, login_with_device, LoginRequest, LoginUi};
pub use provider::{Endpoints, Provider};
pub use record::{LoginConfig, LoginName, TokenState};
pub use tokens::{is_token_expired, refresh_token, revoke_token, valid_token, Revoked, ValidToken};

use crate::VaultError;

/// Why an OAuth operation failed. Messages never contain a token, a
/// secret or a response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// No login of this name is in the vault.
    #[error("no OAuth login named {0}")]
    NoLogin(String),
    /// The grant ended (`invalid_grant`, or an earlier refresh found it
    /// ended): a new login is needed.
    #[error("the OAuth login {0} has ended (invalid_grant); log in again with `credvault oauth login {0}`")]
    NeedsLogin(String),
    /// The server could not be reached (or answered unusably) and no
    /// token with time left is at hand.
    #[error("network: {0}")]
    Network(String),
    /// The authorization server refused the request with an OAuth error.
    #[error("the authorization server refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The OAuth error code, e.g. `access_denied`, `invalid_client`.
        error: String,
        /// The server's `error_description`, if any.
        description: Option<String>,
    },
    /// The redirect to the loopback listener was wrong: `state` or `iss`
    /// mismatch, no code, or none arrived in time.
    #[error("authorization redirect rejected: {0}")]
    Callback(String),
    /// A configuration or argument problem: a bad URL, a missing endpoint,
    /// an unreadable CA file, a provider without this feature.
    #[error("{0}")]
    Config(String),
    /// A local I/O failure (binding the loopback listener, reading a file).
    #[error("{0}")]
    Io(String),
}

/// Unix time now, in milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
