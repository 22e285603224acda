//! How a login is kept in the vault: the app's three entries
//! `NAME.accessToken`, `NAME.refreshToken`, `NAME.tokenExpiry`, plus
//! `NAME.oauthClient` (JSON, not secret) and, for confidential clients,
//! `NAME.clientSecret`. Nothing is written anywhere else.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::format::{KeyName, Kind};
use crate::{Locked, SecretValue, SetOptions, Vault, VaultError};

use super::provider::{Endpoints, Provider};
use super::OAuthError;

/// Entry kind of the access and refresh tokens.
const TOKEN_KIND: &str = "oauth-token";
/// Entry kind of the client configuration.
const CONFIG_KIND: &str = "oauth-client";

/// A login's name: one key-name segment (`[A-Za-z0-9_-]`, 1–64 bytes),
/// the `<provider>` of `<provider>.accessToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName(String);

impl LoginName {
    /// Checks `name`.
    pub fn new(name: &str) -> Result<LoginName, OAuthError> {
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(OAuthError::Config(format!(
                "login name {:?} must be 1-64 characters of A-Z a-z 0-9 _ -",
                name.chars().take(80).collect::<String>()
            )));
        }
        Ok(LoginName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The entry `NAME.suffix`.
    fn entry(&self, suffix: &str) -> KeyName {
        // A valid segment joined to a valid segment is a valid key name.
        #[allow(clippy::expect_used)]
        KeyName::new(&format!("{}.{suffix}", self.0)).expect("segment.segment is a key name")
    }

    /// `NAME.accessToken`.
    pub fn access_token(&self) -> KeyName {
        self.entry("accessToken")
    }
    /// `NAME.refreshToken`.
    pub fn refresh_token(&self) -> KeyName {
        self.entry("refreshToken")
    }
    /// `NAME.tokenExpiry`.
    pub fn token_expiry(&self) -> KeyName {
        self.entry("tokenExpiry")
    }
    /// `NAME.oauthClient`.
    pub fn config(&self) -> KeyName {
        self.entry("oauthClient")
    }
    /// `NAME.clientSecret`.
    pub fn client_secret(&self) -> KeyName {
        self.entry("clientSecret")
    }

    /// Every entry a login may have.
    pub fn all_entries(&self) -> [KeyName; 5] {
        [
            self.access_token(),
            self.refresh_token(),
            self.token_expiry(),
            self.config(),
            self.client_secret(),
        ]
    }
}

impl std::fmt::Display for LoginName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A login's client configuration (`NAME.oauthClient`), not secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginConfig {
    /// Where the endpoints came from.
    pub provider: Provider,
    /// The endpoints.
    pub endpoints: Endpoints,
    /// The client id.
    pub client_id: String,
    /// The scopes asked for at login.
    pub scopes: Vec<String>,
    /// The scopes the server granted, if it said.
    pub granted_scopes: Option<Vec<String>>,
    /// Extra CA certificates (PEM) trusted for this login's server.
    pub ca_pems: Vec<String>,
    /// The grant ended (`invalid_grant`): a new login is needed.
    pub needs_login: bool,
    /// How the login was made: `authorization_code` or `device_code`.
    pub grant: String,
    /// When the login was made, Unix milliseconds.
    pub logged_in_ms: u64,
}

impl LoginConfig {
    /// The JSON text stored in the vault.
    pub fn to_json(&self) -> String {
        let e = &self.endpoints;
        json!({
            "version": 1,
            "provider": self.provider.as_str(),
            "issuer": e.issuer,
            "authorization_endpoint": e.authorization,
            "token_endpoint": e.token,
            "revocation_endpoint": e.revocation,
            "device_authorization_endpoint": e.device_authorization,
            "userinfo_endpoint": e.userinfo,
            "client_id": self.client_id,
            "scopes": self.scopes,
            "granted_scopes": self.granted_scopes,
            "ca_pems": self.ca_pems,
            "needs_login": self.needs_login,
            "grant": self.grant,
            "logged_in_ms": self.logged_in_ms,
        })
        .to_string()
    }

    /// Parses [`LoginConfig::to_json`].
    pub fn from_json(text: &[u8]) -> Result<LoginConfig, OAuthError> {
        let bad =
            |what: &str| OAuthError::Config(format!("the stored OAuth client is damaged: {what}"));
        let v: Value = serde_json::from_slice(text).map_err(|_| bad("not JSON"))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let list = |k: &str| {
            v.get(k).and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
        };
        let provider = s("provider")
            .and_then(|p| Provider::parse(&p))
            .ok_or_else(|| bad("provider"))?;
        Ok(LoginConfig {
            provider,
            endpoints: Endpoints {
                issuer: s("issuer"),
                authorization: s("authorization_endpoint"),
                token: s("token_endpoint").ok_or_else(|| bad("token_endpoint"))?,
                revocation: s("revocation_endpoint"),
                device_authorization: s("device_authorization_endpoint"),
                userinfo: s("userinfo_endpoint"),
            },
            client_id: s("client_id").ok_or_else(|| bad("client_id"))?,
            scopes: list("scopes").unwrap_or_default(),
            granted_scopes: list("granted_scopes"),
            ca_pems: list("ca_pems").unwrap_or_default(),
            needs_login: v
                .get("needs_login")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            grant: s("grant").unwrap_or_default(),
            logged_in_ms: v.get("logged_in_ms").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

/// What the vault holds for a login.
pub struct TokenState {
    /// The client configuration.
    pub config: LoginConfig,
    /// The access token.
    pub access: Option<SecretValue>,
    /// The refresh token.
    pub refresh: Option<SecretValue>,
    /// When the access token expires, Unix milliseconds (`None`: the
    /// server did not say).
    pub expires_ms: Option<u64>,
    /// The client secret of a confidential client.
    pub client_secret: Option<SecretValue>,
}

impl std::fmt::Debug for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenState")
            .field("config", &self.config)
            .field("access", &self.access.is_some())
            .field("refresh", &self.refresh.is_some())
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

/// Reads entries from a vault or a locked vault.
pub(crate) trait Entries {
    fn value(&self, name: &KeyName) -> Result<Option<SecretValue>, VaultError>;
}

impl Entries for Vault {
    fn value(&self, name: &KeyName) -> Result<Option<SecretValue>, VaultError> {
        self.get(name)
    }
}

impl Entries for Locked<'_> {
    fn value(&self, name: &KeyName) -> Result<Option<SecretValue>, VaultError> {
        self.get(name)
    }
}

/// Reads the login `name`; [`OAuthError::NoLogin`] if it has no client entry.
pub(crate) fn read(from: &dyn Entries, name: &LoginName) -> Result<TokenState, OAuthError> {
    let config = from
        .value(&name.config())?
        .ok_or_else(|| OAuthError::NoLogin(name.to_string()))?;
    let config = LoginConfig::from_json(config.expose())?;
    let expires_ms = from
        .value(&name.token_expiry())?
        .and_then(|v| v.expose_str().and_then(|s| s.trim().parse::<u64>().ok()));
    Ok(TokenState {
        config,
        access: from.value(&name.access_token())?,
        refresh: from.value(&name.refresh_token())?,
        expires_ms,
        client_secret: from.value(&name.client_secret())?,
    })
}

/// Tokens just issued by the server.
pub(crate) struct Issued {
    pub access: SecretValue,
    /// `None`: keep the refresh token there is (RFC 6749 §6).
    pub refresh: Option<SecretValue>,
    pub expires_ms: Option<u64>,
    pub scopes: Option<Vec<String>>,
}

/// Anything changes can be queued on.
pub(crate) trait Changes {
    fn put(
        &mut self,
        name: &KeyName,
        value: &SecretValue,
        options: SetOptions,
    ) -> Result<(), VaultError>;
    fn remove(&mut self, name: &KeyName);
}

impl Changes for crate::Transaction<'_> {
    fn put(
        &mut self,
        name: &KeyName,
        value: &SecretValue,
        options: SetOptions,
    ) -> Result<(), VaultError> {
        self.set(name, value, options)
    }
    fn remove(&mut self, name: &KeyName) {
        self.delete(name);
    }
}

impl Changes for Locked<'_> {
    fn put(
        &mut self,
        name: &KeyName,
        value: &SecretValue,
        options: SetOptions,
    ) -> Result<(), VaultError> {
        self.set(name, value, options)
    }
    fn remove(&mut self, name: &KeyName) {
        self.delete(name);
    }
}

fn kind(k: &str) -> Option<Kind> {
    Kind::new(k).ok()
}

/// Queues the configuration entry.
pub(crate) fn put_config(
    to: &mut dyn Changes,
    name: &LoginName,
    config: &LoginConfig,
) -> Result<(), VaultError> {
    let mut meta = BTreeMap::new();
    meta.insert("provider".to_owned(), config.provider.as_str().to_owned());
    let options = SetOptions {
        kind: kind(CONFIG_KIND),
        expires_ms: None,
        metadata: crate::Metadata::new(meta).ok(),
    };
    to.put(
        &name.config(),
        &SecretValue::from(config.to_json().as_str()),
        options,
    )
}

/// Queues newly issued tokens (and the expiry) for `name`.
pub(crate) fn put_tokens(
    to: &mut dyn Changes,
    name: &LoginName,
    issued: &Issued,
) -> Result<(), VaultError> {
    let token = || SetOptions {
        kind: kind(TOKEN_KIND),
        ..SetOptions::default()
    };
    to.put(
        &name.access_token(),
        &issued.access,
        SetOptions {
            expires_ms: issued.expires_ms,
            ..token()
        },
    )?;
    if let Some(refresh) = &issued.refresh {
        to.put(&name.refresh_token(), refresh, token())?;
    }
    match issued.expires_ms {
        Some(ms) => to.put(
            &name.token_expiry(),
            &SecretValue::from(ms.to_string().as_str()),
            SetOptions::default(),
        )?,
        None => to.remove(&name.token_expiry()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips() {
        let config = LoginConfig {
            provider: Provider::Oidc,
            endpoints: Endpoints {
                issuer: Some("https://id.example".into()),
                authorization: Some("https://id.example/auth".into()),
                token: "https://id.example/token".into(),
                revocation: None,
                device_authorization: Some("https://id.example/device".into()),
                userinfo: None,
            },
            client_id: "cli".into(),
            scopes: vec!["openid".into(), "offline_access".into()],
            granted_scopes: None,
            ca_pems: vec![],
            needs_login: true,
            grant: "authorization_code".into(),
            logged_in_ms: 5,
        };
        assert_eq!(
            LoginConfig::from_json(config.to_json().as_bytes()).expect("parses"),
            config
        );
        assert!(LoginConfig::from_json(b"{}").is_err());
    }

    #[test]
    fn login_names_are_one_segment() {
        assert!(LoginName::new("github").is_ok());
        assert!(LoginName::new("my-app_2").is_ok());
        for bad in ["", "a.b", "a b", "é", &"x".repeat(65)] {
            assert!(LoginName::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            LoginName::new("github")
                .expect("ok")
                .access_token()
                .as_str(),
            "github.accessToken"
        );
    }
}
