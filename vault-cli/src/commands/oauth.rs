//! `oauth login|token|refresh|status|revoke`: a thin face over
//! `credvault::oauth`. Tokens go to stdout only from `oauth token`; never
//! into argv, errors, notes or the audit log (which records the login's
//! name: `oauth-login`, `oauth-token`, `oauth-refresh`, `oauth-revoke`).

use std::path::PathBuf;
use std::time::Duration;

use credvault::oauth::{self, LoginName, LoginRequest, LoginUi, Provider, TokenState};
use credvault::SecretValue;
use serde::Serialize;

use crate::cli::{OauthCommand, OauthLoginArgs, OauthProvider, OauthStatusArgs, OauthTokenArgs};
use crate::exit::{CliError, Exit};
use crate::output::{note, print, print_json, print_secret_json, sanitize, warn, Format};
use crate::unlock::Context;

use crate::failure::Failure;
use crate::token::{left_text, now_ms};

/// Runs an `oauth` subcommand.
pub fn run(command: &OauthCommand, context: &Context, format: Format) -> Result<Exit, Failure> {
    match command {
        OauthCommand::Login(args) => login(args, context, format),
        OauthCommand::Token(args) => token(args, context, format),
        OauthCommand::Refresh(args) => refresh(&args.name, &args.ca_file, context, format),
        OauthCommand::Status(args) => status(args, context, format),
        OauthCommand::Revoke(args) => revoke(&args.name, &args.ca_file, context, format),
    }
}

fn name(s: &str) -> Result<LoginName, CliError> {
    Ok(LoginName::new(s)?)
}

fn pems(files: &[PathBuf]) -> Result<Vec<String>, CliError> {
    files
        .iter()
        .map(|f| oauth::http::read_pem_file(f).map_err(CliError::from))
        .collect()
}

/// Shows the authorization URL or device code to the user, on stderr.
struct Terminal {
    no_browser: bool,
}

impl LoginUi for Terminal {
    fn authorization_url(&mut self, url: &str) {
        if !self.no_browser {
            if oauth::login::open_browser(url) {
                note("opened the browser to log in; waiting for it (5 minutes at most). If nothing opened, use this URL:");
            } else {
                note("no browser opened (no graphical session?); open this URL to log in (5 minutes at most), or use --device:");
            }
        } else {
            note("open this URL in a browser to log in (5 minutes at most):");
        }
        // Alone on its line, unprefixed, so it can be copied or read by a script.
        eprintln!("{url}");
    }

    fn device_code(&mut self, verification_uri: &str, complete: Option<&str>, user_code: &str) {
        note(&format!(
            "to log in, open {} on any device and enter the code {}",
            sanitize(verification_uri),
            sanitize(user_code)
        ));
        if let Some(complete) = complete {
            note("or open this URL, which carries the code:");
            eprintln!("{}", sanitize(complete));
        }
    }
}

fn login(args: &OauthLoginArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let login_name = name(&args.name)?;
    let provider = match args.provider {
        OauthProvider::Github => Provider::GitHub,
        OauthProvider::Google => Provider::Google,
        OauthProvider::Microsoft => Provider::Microsoft,
        OauthProvider::Oidc => Provider::Oidc,
    };
    let client_secret = match &args.client_secret_file {
        Some(path) => Some(read_secret_file(path)?),
        None => None,
    };
    let ca_pems = pems(&args.ca_file)?;
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_owned)
        .collect();
    let http = oauth::HttpClient::new(&ca_pems)?;
    let mut vault = context.open()?;
    let request = LoginRequest {
        name: login_name.clone(),
        provider,
        issuer: args.issuer.clone(),
        client_id: args.client_id.clone(),
        client_secret,
        scopes,
        ca_pems,
    };
    let mut ui = Terminal {
        no_browser: args.no_browser,
    };
    let config = if args.device {
        oauth::login_with_device(&mut vault, &http, request, &mut ui)?
    } else {
        oauth::login_with_browser(&mut vault, &http, request, &mut ui)?
    };
    let state = oauth::tokens::status(&vault, &login_name)?;
    match format {
        Format::Text => note(&format!(
            "logged in: {login_name} ({}) stored in the vault as {login_name}.accessToken{}; {}",
            config.provider.as_str(),
            if state.refresh.is_some() {
                format!(", {login_name}.refreshToken")
            } else {
                " (no refresh token: log in again when it expires)".to_owned()
            },
            expiry_text(state.expires_ms)
        )),
        Format::Json => print_json(&status_json(&login_name, &state))?,
    }
    Ok(Exit::Ok)
}

fn token(args: &OauthTokenArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let login_name = name(&args.name)?;
    let extra = pems(&args.ca_file)?;
    let mut vault = context.open()?;
    let valid = oauth::valid_token(
        &mut vault,
        &login_name,
        Duration::from_secs(args.min_valid),
        args.rejected,
        &extra,
    );
    let valid = valid?;
    if valid.refreshed {
        crate::audit::set_operation("oauth-refresh");
    }
    if let Some(why) = &valid.stale {
        warn(&format!(
            "could not refresh {login_name} ({why}); the current token still has {} left",
            left_text(valid.expires_ms)
        ));
    }
    print_token(&login_name, &valid, format)?;
    Ok(Exit::Ok)
}

fn refresh(
    login: &str,
    ca_files: &[PathBuf],
    context: &Context,
    format: Format,
) -> Result<Exit, Failure> {
    let login_name = name(login)?;
    let extra = pems(ca_files)?;
    let mut vault = context.open()?;
    let valid = oauth::refresh_token(&mut vault, &login_name, &extra)?;
    if let Some(why) = &valid.stale {
        warn(&format!(
            "could not refresh {login_name} ({why}); the current token still has {} left",
            left_text(valid.expires_ms)
        ));
    }
    let state = oauth::tokens::status(&vault, &login_name)?;
    match format {
        Format::Text => note(&format!(
            "{login_name}: {}; {}",
            if valid.refreshed {
                "refreshed"
            } else {
                "another process had just refreshed it"
            },
            expiry_text(valid.expires_ms)
        )),
        Format::Json => {
            #[derive(Serialize)]
            struct Refreshed<'a> {
                name: &'a str,
                refreshed: bool,
                expires_at_ms: Option<u64>,
                has_refresh_token: bool,
                stale: Option<&'a str>,
            }
            print_json(&Refreshed {
                name: login_name.as_str(),
                refreshed: valid.refreshed,
                expires_at_ms: valid.expires_ms,
                has_refresh_token: state.refresh.is_some(),
                stale: valid.stale.as_deref(),
            })?;
        }
    }
    Ok(Exit::Ok)
}

fn status(args: &OauthStatusArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let vault = context.open()?;
    let names: Vec<LoginName> = match &args.name {
        Some(n) => vec![name(n)?],
        None => vault
            .list(None)
            .into_iter()
            .filter_map(|k| k.as_str().strip_suffix(".oauthClient"))
            .filter_map(|n| LoginName::new(n).ok())
            .collect(),
    };
    let mut out = Vec::new();
    for login_name in &names {
        let state = oauth::tokens::status(&vault, login_name)?;
        out.push(status_json(login_name, &state));
    }
    match format {
        Format::Json => {
            if args.name.is_some() {
                print_json(&out.first())?;
            } else {
                print_json(&out)?;
            }
        }
        Format::Text => {
            if out.is_empty() {
                note("no OAuth logins in this vault");
            }
            for s in &out {
                let line = format!(
                    "{}  {}  {}  client {}  scopes [{}]  {}{}\n",
                    s.name,
                    s.provider,
                    s.issuer.as_deref().unwrap_or("-"),
                    s.client_id,
                    s.scopes.join(" "),
                    if s.needs_login {
                        "NEEDS LOGIN".to_owned()
                    } else {
                        expiry_text(s.expires_at_ms)
                    },
                    if s.has_refresh_token {
                        ""
                    } else {
                        "  (no refresh token)"
                    },
                );
                print(&sanitize_line(&line))?;
            }
        }
    }
    Ok(Exit::Ok)
}

fn revoke(
    login: &str,
    ca_files: &[PathBuf],
    context: &Context,
    format: Format,
) -> Result<Exit, Failure> {
    let login_name = name(login)?;
    let extra = pems(ca_files)?;
    let mut vault = context.open()?;
    let revoked = oauth::revoke_token(&mut vault, &login_name, &extra)?;
    match format {
        Format::Text => {
            if revoked.at_server {
                note(&format!(
                    "revoked {login_name} at the server ({}) and removed its entries from the vault",
                    revoked.token_type.unwrap_or("token")
                ));
            } else {
                warn(&format!(
                    "{login_name}: the provider has no revocation endpoint, so the server was not asked; the entries were removed from the vault (revoke the app's access in the provider's settings)"
                ));
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Out<'a> {
                name: &'a str,
                revoked_at_server: bool,
                token_type: Option<&'a str>,
                removed: bool,
            }
            print_json(&Out {
                name: login_name.as_str(),
                revoked_at_server: revoked.at_server,
                token_type: revoked.token_type,
                removed: true,
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// Prints a token: the bare token and a newline, or JSON.
fn print_token(
    login_name: &LoginName,
    valid: &oauth::ValidToken,
    format: Format,
) -> Result<(), Failure> {
    let text = valid
        .token
        .expose_str()
        .ok_or_else(|| CliError::new(Exit::Unreadable, "the stored access token is not UTF-8"))?;
    match format {
        Format::Text => {
            let mut line = zeroize::Zeroizing::new(String::with_capacity(text.len() + 1));
            line.push_str(text);
            line.push('\n');
            print(&line)?;
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Out<'a> {
                name: &'a str,
                access_token: &'a str,
                expires_at_ms: Option<u64>,
                refreshed: bool,
                stale: Option<&'a str>,
            }
            print_secret_json(
                &Out {
                    name: login_name.as_str(),
                    access_token: text,
                    expires_at_ms: valid.expires_ms,
                    refreshed: valid.refreshed,
                    stale: valid.stale.as_deref(),
                },
                text.len() + 256,
            )?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct StatusJson {
    name: String,
    provider: &'static str,
    issuer: Option<String>,
    client_id: String,
    scopes: Vec<String>,
    granted_scopes: Option<Vec<String>>,
    grant: String,
    token_endpoint: String,
    revocation_endpoint: Option<String>,
    has_access_token: bool,
    has_refresh_token: bool,
    expires_at_ms: Option<u64>,
    expires_in_s: Option<i64>,
    needs_login: bool,
}

fn status_json(login_name: &LoginName, state: &TokenState) -> StatusJson {
    let c = &state.config;
    StatusJson {
        name: login_name.to_string(),
        provider: c.provider.as_str(),
        issuer: c.endpoints.issuer.clone(),
        client_id: c.client_id.clone(),
        scopes: c.scopes.clone(),
        granted_scopes: c.granted_scopes.clone(),
        grant: c.grant.clone(),
        token_endpoint: c.endpoints.token.clone(),
        revocation_endpoint: c.endpoints.revocation.clone(),
        has_access_token: state.access.is_some(),
        has_refresh_token: state.refresh.is_some(),
        expires_at_ms: state.expires_ms,
        expires_in_s: state.expires_ms.map(|at| {
            let now = now_ms();
            if at >= now {
                i64::try_from((at - now) / 1000).unwrap_or(i64::MAX)
            } else {
                -i64::try_from((now - at) / 1000).unwrap_or(i64::MAX)
            }
        }),
        needs_login: c.needs_login,
    }
}

fn expiry_text(expires_ms: Option<u64>) -> String {
    match expires_ms {
        Some(at) if at > now_ms() => format!("access token expires in {}", left_text(Some(at))),
        Some(_) => "access token expired (refreshed on next use)".to_owned(),
        None => "access token lifetime not given by the server".to_owned(),
    }
}

fn sanitize_line(line: &str) -> String {
    let mut s = sanitize(line.trim_end_matches('\n'));
    s.push('\n');
    s
}

/// Reads a client secret file (one trailing newline stripped, 64 KiB max).
fn read_secret_file(path: &std::path::Path) -> Result<SecretValue, CliError> {
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| {
        CliError::new(
            Exit::FileSystem,
            format!("cannot read client secret file {}: {e}", path.display()),
        )
    })?);
    if bytes.len() > 64 * 1024 {
        return Err(CliError::usage(
            "the client secret file is larger than 64 KiB",
        ));
    }
    let mut end = bytes.len();
    if bytes.get(..end).is_some_and(|b| b.ends_with(b"\n")) {
        end -= 1;
        if bytes.get(..end).is_some_and(|b| b.ends_with(b"\r")) {
            end -= 1;
        }
    }
    Ok(SecretValue::new(
        bytes.get(..end).unwrap_or_default().to_vec(),
    ))
}
