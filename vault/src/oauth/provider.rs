//! Where a login's endpoints come from: presets for GitHub, Google and
//! Microsoft, or any OpenID provider by discovery (OpenID Connect
//! Discovery 1.0 §4: `ISSUER/.well-known/openid-configuration`).

use super::http::HttpClient;
use super::OAuthError;

/// A known authorization server, or any OpenID provider by discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// GitHub OAuth apps (device flow and web flow; no RFC 7009 revocation).
    GitHub,
    /// Google (`access_type=offline` for a refresh token).
    Google,
    /// Microsoft identity platform, `common` tenant.
    Microsoft,
    /// Any OpenID provider, found by discovery from its issuer URL.
    Oidc,
}

impl Provider {
    /// The lowercase name used on the command line and in the vault.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
            Provider::Oidc => "oidc",
        }
    }

    /// Parses [`Provider::as_str`].
    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "github" => Some(Provider::GitHub),
            "google" => Some(Provider::Google),
            "microsoft" => Some(Provider::Microsoft),
            "oidc" => Some(Provider::Oidc),
            _ => None,
        }
    }

    /// Scopes asked for when none are given.
    pub fn default_scopes(self) -> Vec<String> {
        let s: &[&str] = match self {
            Provider::GitHub => &[],
            Provider::Google => &["openid", "email"],
            Provider::Microsoft | Provider::Oidc => &["openid", "offline_access"],
        };
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Extra authorization-request parameters this provider needs for a
    /// refresh token, given the scopes asked for.
    pub fn extra_auth_params(self, scopes: &[String]) -> Vec<(String, String)> {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        match self {
            Provider::Google => vec![pair("access_type", "offline"), pair("prompt", "consent")],
            // OpenID Connect Core §11: offline_access is ignored unless
            // the request asks for consent.
            Provider::Microsoft | Provider::Oidc
                if scopes.iter().any(|s| s == "offline_access") =>
            {
                vec![pair("prompt", "consent")]
            }
            _ => Vec::new(),
        }
    }

    /// The preset endpoints; `None` for [`Provider::Oidc`].
    pub fn preset(self) -> Option<Endpoints> {
        let s = |v: &str| Some(v.to_owned());
        Some(match self {
            Provider::GitHub => Endpoints {
                issuer: None,
                authorization: s("https://github.com/login/oauth/authorize"),
                token: "https://github.com/login/oauth/access_token".to_owned(),
                revocation: None,
                device_authorization: s("https://github.com/login/device/code"),
                userinfo: None,
            },
            Provider::Google => Endpoints {
                issuer: s("https://accounts.google.com"),
                authorization: s("https://accounts.google.com/o/oauth2/v2/auth"),
                token: "https://oauth2.googleapis.com/token".to_owned(),
                revocation: s("https://oauth2.googleapis.com/revoke"),
                device_authorization: s("https://oauth2.googleapis.com/device/code"),
                userinfo: s("https://openidconnect.googleapis.com/v1/userinfo"),
            },
            Provider::Microsoft => Endpoints {
                issuer: None,
                authorization: s("https://login.microsoftonline.com/common/oauth2/v2.0/authorize"),
                token: "https://login.microsoftonline.com/common/oauth2/v2.0/token".to_owned(),
                revocation: None,
                device_authorization: s(
                    "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
                ),
                userinfo: s("https://graph.microsoft.com/oidc/userinfo"),
            },
            Provider::Oidc => return None,
        })
    }
}

/// A login's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer (compared with the `iss` of the redirect, RFC 9207).
    pub issuer: Option<String>,
    /// Authorization endpoint (browser flow).
    pub authorization: Option<String>,
    /// Token endpoint.
    pub token: String,
    /// Revocation endpoint (RFC 7009).
    pub revocation: Option<String>,
    /// Device authorization endpoint (RFC 8628).
    pub device_authorization: Option<String>,
    /// UserInfo endpoint (not used for tokens; shown by `status`).
    pub userinfo: Option<String>,
}

/// Reads the provider metadata of `issuer` (https only) and checks that it
/// names the same issuer (OpenID Connect Discovery 1.0 §4.3).
pub fn discover(http: &HttpClient, issuer: &str) -> Result<Endpoints, OAuthError> {
    let issuer = issuer.trim_end_matches('/');
    check_https(issuer, "issuer")?;
    let url = format!("{issuer}/.well-known/openid-configuration");
    let doc = http.get_json(&url)?;
    let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let found = field("issuer").unwrap_or_default();
    if found.trim_end_matches('/') != issuer {
        return Err(OAuthError::Config(format!(
            "discovery at {url} names another issuer ({found:?})"
        )));
    }
    let token = field("token_endpoint")
        .ok_or_else(|| OAuthError::Config(format!("{url} has no token_endpoint")))?;
    let endpoints = Endpoints {
        issuer: Some(found),
        authorization: field("authorization_endpoint"),
        token,
        revocation: field("revocation_endpoint"),
        device_authorization: field("device_authorization_endpoint"),
        userinfo: field("userinfo_endpoint"),
    };
    for url in [
        &endpoints.authorization,
        &endpoints.revocation,
        &endpoints.device_authorization,
    ]
    .into_iter()
    .flatten()
    .chain(std::iter::once(&endpoints.token))
    {
        check_https(url, "endpoint")?;
    }
    Ok(endpoints)
}

/// Refuses a URL that is not https (tokens never travel in clear text).
pub fn check_https(url: &str, what: &str) -> Result<(), OAuthError> {
    let parsed = oauth2::url::Url::parse(url)
        .map_err(|e| OAuthError::Config(format!("{what} {url:?} is not a URL: {e}")))?;
    if parsed.scheme() != "https" {
        return Err(OAuthError::Config(format!("{what} {url} is not https")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_https_and_named() {
        for p in [Provider::GitHub, Provider::Google, Provider::Microsoft] {
            let e = p.preset().expect("preset");
            check_https(&e.token, "token").expect("https");
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
        assert!(Provider::Oidc.preset().is_none());
    }

    #[test]
    fn offline_access_asks_for_consent() {
        let scopes = vec!["openid".to_owned(), "offline_access".to_owned()];
        assert_eq!(
            Provider::Oidc.extra_auth_params(&scopes),
            vec![("prompt".to_owned(), "consent".to_owned())]
        );
        assert!(Provider::Oidc.extra_auth_params(&scopes[..1]).is_empty());
        assert!(check_https("http://127.0.0.1/token", "t").is_err());
    }
}
