//! The blocking HTTP client behind every OAuth request: `ureq` 2 with
//! rustls (ring, no OpenSSL). It follows no redirects (a token endpoint
//! that redirects is refused, never followed with a code or a refresh
//! token), times out, and hands 4xx/5xx responses back to `oauth2` so an
//! OAuth error such as `invalid_grant` is told apart from a network
//! failure. Trust: the Mozilla roots (`webpki-roots`) plus the PEM
//! certificates in `SSL_CERT_FILE` and any given explicitly.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oauth2::http::{header::CONTENT_TYPE, HeaderValue, Method, StatusCode};
use oauth2::{HttpRequest, HttpResponse};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::OAuthError;

/// Connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read.
const MAX_BODY: u64 = 1024 * 1024;

/// A failed HTTP exchange (no response): connection refused, DNS, TLS,
/// timeout. The text names the URL and the cause, never a body.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The OAuth HTTP client.
#[derive(Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client trusting the Mozilla roots, the certificates of the PEM
    /// file named by `SSL_CERT_FILE` (if set) and the PEM texts in
    /// `extra_pems` (e.g. from `--ca-file`, or kept with a login).
    pub fn new(extra_pems: &[String]) -> Result<HttpClient, OAuthError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
            let pem = read_pem_file(Path::new(&file))?;
            add_pem(&mut roots, &pem, "SSL_CERT_FILE")?;
        }
        for pem in extra_pems {
            add_pem(&mut roots, pem, "a CA file")?;
        }
        // ring, not aws-lc-rs (which needs a C toolchain and CMake). rustls
        // 0.23.48 deprecates ring's provider only for its lack of
        // post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OAuthError::Config(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let agent = ureq::AgentBuilder::new()
            .tls_config(Arc::new(config))
            .redirects(0)
            .timeout_connect(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("credvault/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(HttpClient { agent })
    }

    /// GETs `url` and parses a JSON object (discovery documents).
    pub fn get_json(&self, url: &str) -> Result<serde_json::Value, OAuthError> {
        let response = match self.agent.get(url).set("accept", "application/json").call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, _)) => {
                return Err(OAuthError::Network(format!("{url} answered HTTP {code}")))
            }
            Err(e) => return Err(OAuthError::Network(transport_text(&e))),
        };
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_BODY)
            .read_to_end(&mut body)
            .map_err(|e| OAuthError::Network(format!("{url}: {e}")))?;
        serde_json::from_slice(&body)
            .map_err(|_| OAuthError::Network(format!("{url} did not answer JSON")))
    }
}

/// Reads a PEM file given by the user (at most 1 MiB).
pub fn read_pem_file(path: &Path) -> Result<String, OAuthError> {
    let bytes = std::fs::read(path)
        .map_err(|e| OAuthError::Config(format!("cannot read CA file {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_BODY {
        return Err(OAuthError::Config(format!(
            "CA file {} is larger than 1 MiB",
            path.display()
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| OAuthError::Config(format!("CA file {} is not PEM text", path.display())))
}

/// Adds every certificate of `pem` to `roots`; at least one is required.
fn add_pem(roots: &mut rustls::RootCertStore, pem: &str, what: &str) -> Result<(), OAuthError> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| OAuthError::Config(format!("{what}: bad PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| OAuthError::Config(format!("{what}: unusable certificate: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(OAuthError::Config(format!("{what}: no certificate in it")));
    }
    Ok(())
}

/// A transport error as text: what failed and where, no body.
fn transport_text(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, r) => format!("{} answered HTTP {code}", r.get_url()),
        ureq::Error::Transport(t) => t.to_string(),
    }
}

/// Whether a 200 body is really an OAuth error: GitHub answers token
/// requests that fail (`bad_verification_code`, `bad_refresh_token`) with
/// HTTP 200 and an `error` field; such an answer is handed to oauth2 as a
/// 400 so it is read as the error it is.
fn is_error_body(body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return false;
    };
    map.get("error").is_some_and(serde_json::Value::is_string)
        && !map.contains_key("access_token")
        && !map.contains_key("device_code")
}

impl oauth2::SyncHttpClient for HttpClient {
    type Error = HttpError;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let mut req = self.agent.request(request.method().as_str(), &url);
        for (name, value) in request.headers() {
            let value = value
                .to_str()
                .map_err(|_| HttpError(format!("invalid `{name}` header value")))?;
            req = req.set(name.as_str(), value);
        }
        let is_post = *request.method() == Method::POST;
        // The form carries codes, verifiers and refresh tokens: wipe it
        // once sent (oauth2's own copies of the response are out of reach).
        let body = zeroize::Zeroizing::new(request.into_body());
        let result = if is_post {
            req.send_bytes(&body)
        } else {
            req.call()
        };
        drop(body);
        let response = match result {
            Ok(r) => r,
            // An HTTP error status is an answer: oauth2 reads the OAuth
            // error (invalid_grant, ...) from its body.
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(HttpError(transport_text(&e))),
        };
        let mut status = StatusCode::from_u16(response.status())
            .map_err(|_| HttpError(format!("{url}: invalid HTTP status")))?;
        let content_type = response
            .header(CONTENT_TYPE.as_str())
            .and_then(|ct| HeaderValue::from_str(ct).ok());
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_BODY)
            .read_to_end(&mut body)
            .map_err(|e| HttpError(format!("{url}: {e}")))?;
        if status == StatusCode::OK && is_error_body(&body) {
            status = StatusCode::BAD_REQUEST;
        }
        let mut builder = oauth2::http::Response::builder().status(status);
        if let Some(v) = content_type {
            builder = builder.header(CONTENT_TYPE, v);
        }
        builder
            .body(body)
            .map_err(|_| HttpError(format!("{url}: unusable response")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_in_200_answers_are_recognised() {
        assert!(is_error_body(
            br#"{"error":"bad_refresh_token","error_description":"x"}"#
        ));
        assert!(!is_error_body(
            br#"{"access_token":"t","token_type":"bearer"}"#
        ));
        assert!(!is_error_body(br#"{"device_code":"d","error":"x"}"#));
        assert!(!is_error_body(b"not json"));
    }
}
