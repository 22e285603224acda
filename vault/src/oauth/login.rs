//! Logging in: authorization code with PKCE S256 on a loopback redirect
//! (RFC 8252; RFC 7636), or the device authorization grant (RFC 8628).
//! Both end by saving the client configuration and the tokens in one
//! vault transaction.

use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
    EndpointMaybeSet, EndpointNotSet, PkceCodeChallenge, RedirectUrl, RequestTokenError,
    RevocationUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};

use crate::{SecretValue, Vault};

use super::http::{HttpClient, HttpError};
use super::loopback::Loopback;
use super::provider::{check_https, discover, Endpoints, Provider};
use super::record::{self, Issued, LoginConfig, LoginName};
use super::{now_ms, OAuthError};

/// How long the browser flow waits for the redirect.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// The oauth2 client with every endpoint optional.
pub(crate) type Client = BasicClient<
    EndpointMaybeSet,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What to log in to.
pub struct LoginRequest {
    /// The login's name (entries `NAME.*`).
    pub name: LoginName,
    /// The provider; [`Provider::Oidc`] needs `issuer`.
    pub provider: Provider,
    /// The issuer to discover endpoints from (any provider may give one).
    pub issuer: Option<String>,
    /// The client id.
    pub client_id: String,
    /// The client secret of a confidential client.
    pub client_secret: Option<SecretValue>,
    /// Scopes; the provider's defaults when empty.
    pub scopes: Vec<String>,
    /// Extra CA certificates (PEM) to trust, kept with the login.
    pub ca_pems: Vec<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// How a face shows the user what to do. The library never prompts.
pub trait LoginUi {
    /// The authorization URL to open in a browser (the listener is
    /// already waiting).
    fn authorization_url(&mut self, url: &str);
    /// The device flow's code and where to enter it.
    fn device_code(&mut self, verification_uri: &str, complete: Option<&str>, user_code: &str);
}

/// The endpoints of `request`: discovery when an issuer is given, else the
/// provider's preset.
fn endpoints(http: &HttpClient, request: &LoginRequest) -> Result<Endpoints, OAuthError> {
    match (&request.issuer, request.provider.preset()) {
        (Some(issuer), _) => discover(http, issuer),
        (None, Some(preset)) => Ok(preset),
        (None, None) => Err(OAuthError::Config(
            "--provider oidc needs --issuer URL".to_owned(),
        )),
    }
}

/// An oauth2 client for `config` (and `secret`), redirecting to `redirect`.
pub(crate) fn client(
    config: &LoginConfig,
    secret: Option<&SecretValue>,
    redirect: Option<String>,
) -> Result<Client, OAuthError> {
    let url = |u: &Option<String>| u.clone();
    let bad = |e: oauth2::url::ParseError| OAuthError::Config(format!("bad endpoint URL: {e}"));
    let e = &config.endpoints;
    check_https(&e.token, "token endpoint")?;
    let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_uri_option(
            url(&e.authorization)
                .map(AuthUrl::new)
                .transpose()
                .map_err(bad)?,
        )
        .set_device_authorization_url_option(
            url(&e.device_authorization)
                .map(DeviceAuthorizationUrl::new)
                .transpose()
                .map_err(bad)?,
        )
        .set_revocation_url_option(
            url(&e.revocation)
                .map(RevocationUrl::new)
                .transpose()
                .map_err(bad)?,
        )
        .set_token_uri_option(Some(TokenUrl::new(e.token.clone()).map_err(bad)?));
    if let Some(secret) = secret {
        let text = secret
            .expose_str()
            .ok_or_else(|| OAuthError::Config("the client secret is not UTF-8".to_owned()))?;
        client = client.set_client_secret(ClientSecret::new(text.to_owned()));
    }
    if let Some(redirect) = redirect {
        client = client.set_redirect_uri(RedirectUrl::new(redirect).map_err(bad)?);
    }
    Ok(client)
}

/// Maps a failed token request: an OAuth error from the server, or a
/// network failure. Never quotes a response body.
pub(crate) fn token_error(e: RequestTokenError<HttpError, BasicErrorResponse>) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => OAuthError::Refused {
            error: r.error().to_string(),
            description: r
                .error_description()
                .map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect()),
        },
        RequestTokenError::Request(e) => OAuthError::Network(e.to_string()),
        RequestTokenError::Parse(_, _) => OAuthError::Network(
            "the token endpoint answered something that is not an OAuth response".to_owned(),
        ),
        RequestTokenError::Other(m) => OAuthError::Network(m),
    }
}

/// The tokens of a token response.
pub(crate) fn issued(response: &BasicTokenResponse) -> Issued {
    Issued {
        access: SecretValue::from(response.access_token().secret().as_str()),
        refresh: response
            .refresh_token()
            .map(|t| SecretValue::from(t.secret().as_str())),
        expires_ms: response
            .expires_in()
            .map(|d| now_ms().saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect()),
    }
}

/// Logs in with the system browser (or wherever `ui` sends the URL):
/// authorization code + PKCE S256, loopback redirect, checked `state` and
/// `iss`; saves the login in `vault`. Returns the saved configuration.
pub fn login_with_browser(
    vault: &mut Vault,
    http: &HttpClient,
    request: LoginRequest,
    ui: &mut dyn LoginUi,
) -> Result<LoginConfig, OAuthError> {
    let endpoints = endpoints(http, &request)?;
    let Some(auth) = endpoints.authorization.clone() else {
        return Err(OAuthError::Config(
            "this provider has no authorization endpoint; use --device".to_owned(),
        ));
    };
    check_https(&auth, "authorization endpoint")?;
    let mut config = new_config(&request, endpoints, "authorization_code");
    let listener = Loopback::bind()?;
    let client = client(
        &config,
        request.client_secret.as_ref(),
        Some(listener.redirect_uri()),
    )?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut auth = client
        .authorize_url(CsrfToken::new_random)
        .map_err(|e| OAuthError::Config(e.to_string()))?
        .add_scopes(config.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    for (k, v) in request.provider.extra_auth_params(&config.scopes) {
        auth = auth.add_extra_param(k, v);
    }
    let (url, state) = auth.url();
    ui.authorization_url(url.as_str());
    let callback = listener.wait(
        state.secret(),
        config.endpoints.issuer.as_deref(),
        Instant::now() + BROWSER_TIMEOUT,
    )?;
    drop(listener);
    let response = client
        .exchange_code(AuthorizationCode::new(callback.code))
        .map_err(|e| OAuthError::Config(e.to_string()))?
        .set_pkce_verifier(verifier)
        .request(http)
        .map_err(token_error)?;
    let issued = issued(&response);
    config.granted_scopes = issued.scopes.clone();
    save(vault, &request, &config, &issued)?;
    Ok(config)
}

/// Logs in with the device authorization grant (RFC 8628): `ui` shows the
/// code and the verification URL; this polls the token endpoint at the
/// server's interval until the user approves, refuses, or the code expires.
pub fn login_with_device(
    vault: &mut Vault,
    http: &HttpClient,
    request: LoginRequest,
    ui: &mut dyn LoginUi,
) -> Result<LoginConfig, OAuthError> {
    let endpoints = endpoints(http, &request)?;
    let Some(device) = endpoints.device_authorization.clone() else {
        return Err(OAuthError::Config(
            "this provider has no device authorization endpoint".to_owned(),
        ));
    };
    check_https(&device, "device authorization endpoint")?;
    let mut config = new_config(&request, endpoints, "device_code");
    let client = client(&config, request.client_secret.as_ref(), None)?;
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .map_err(|e| OAuthError::Config(e.to_string()))?
        .add_scopes(config.scopes.iter().cloned().map(Scope::new))
        .request(http)
        .map_err(token_error)?;
    ui.device_code(
        details.verification_uri().as_str(),
        details
            .verification_uri_complete()
            .map(|u| u.secret().as_str()),
        details.user_code().secret(),
    );
    let response = client
        .exchange_device_access_token(&details)
        .map_err(|e| OAuthError::Config(e.to_string()))?
        .request(http, std::thread::sleep, None)
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => OAuthError::Refused {
                error: r.error().to_string(),
                description: r
                    .error_description()
                    .map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect()),
            },
            RequestTokenError::Request(e) => OAuthError::Network(e.to_string()),
            RequestTokenError::Parse(_, _) => OAuthError::Network(
                "the token endpoint answered something that is not an OAuth response".to_owned(),
            ),
            RequestTokenError::Other(m) => OAuthError::Network(m),
        })?;
    let issued = issued(&response);
    config.granted_scopes = issued.scopes.clone();
    save(vault, &request, &config, &issued)?;
    Ok(config)
}

fn new_config(request: &LoginRequest, endpoints: Endpoints, grant: &str) -> LoginConfig {
    let scopes = if request.scopes.is_empty() {
        request.provider.default_scopes()
    } else {
        request.scopes.clone()
    };
    LoginConfig {
        provider: request.provider,
        endpoints,
        client_id: request.client_id.clone(),
        scopes,
        granted_scopes: None,
        ca_pems: request.ca_pems.clone(),
        needs_login: false,
        grant: grant.to_owned(),
        logged_in_ms: now_ms(),
    }
}

/// Replaces whatever the login had with the new configuration and tokens,
/// in one save.
fn save(
    vault: &mut Vault,
    request: &LoginRequest,
    config: &LoginConfig,
    issued: &Issued,
) -> Result<(), OAuthError> {
    let name = &request.name;
    let mut tx = vault.transaction();
    for entry in name.all_entries() {
        tx.delete(&entry);
    }
    record::put_config(&mut tx, name, config)?;
    if let Some(secret) = &request.client_secret {
        tx.set(&name.client_secret(), secret, crate::SetOptions::default())?;
    }
    record::put_tokens(&mut tx, name, issued)?;
    tx.commit()?;
    Ok(())
}

/// Opens `url` in the system browser (the `webbrowser` crate: xdg-open and
/// friends, `open` on macOS, the shell on Windows); false if none opened.
/// On Linux and the BSDs without a graphical session (no `DISPLAY`,
/// `WAYLAND_DISPLAY` or `BROWSER`: an SSH session, a container) it does
/// not try, so no text-mode browser takes over the terminal.
pub fn open_browser(url: &str) -> bool {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let set = |v: &str| std::env::var_os(v).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("BROWSER") {
            return false;
        }
    }
    webbrowser::open(url).is_ok()
}
