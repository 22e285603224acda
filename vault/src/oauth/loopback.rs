//! The loopback redirect of RFC 8252 §7.3: a listener on
//! `127.0.0.1:<ephemeral>` bound before the authorization URL is built,
//! serving `/callback` once. It answers 404 to anything else (a browser's
//! favicon request), refuses a redirect whose `state` differs (compared in
//! constant time, RFC 8252 §8.9 / RFC 6749 §10.12) or whose `iss` is not
//! the issuer (RFC 9207), reports `?error=`, and gives up at a deadline.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::OAuthError;

/// Largest request head read from the browser.
const MAX_HEAD: usize = 16 * 1024;

/// A bound loopback listener.
pub(crate) struct Loopback {
    listener: TcpListener,
    port: u16,
}

/// What arrived on `/callback`.
pub(crate) struct Callback {
    pub code: String,
}

impl Loopback {
    /// Binds `127.0.0.1:0`.
    pub(crate) fn bind() -> Result<Loopback, OAuthError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| OAuthError::Io(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| OAuthError::Io(format!("loopback listener: {e}")))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| OAuthError::Io(format!("loopback listener: {e}")))?;
        Ok(Loopback { listener, port })
    }

    /// `http://127.0.0.1:PORT/callback`.
    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Waits for the redirect until `deadline`.
    pub(crate) fn wait(
        &self,
        state: &str,
        issuer: Option<&str>,
        deadline: Instant,
    ) -> Result<Callback, OAuthError> {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Some(outcome) = serve(stream, state, issuer) {
                        return outcome;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(OAuthError::Callback(
                            "no authorization arrived in time".to_owned(),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(OAuthError::Io(format!("loopback listener: {e}"))),
            }
        }
    }
}

/// Serves one connection; `None` when it was not the callback.
fn serve(
    mut stream: TcpStream,
    state: &str,
    issuer: Option<&str>,
) -> Option<Result<Callback, OAuthError>> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
        if head.len() > MAX_HEAD {
            respond(&mut stream, 431, "Request too large.");
            return None;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .lines()
        .next()
        .and_then(|line| {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next()) {
                (Some("GET"), Some(target)) => Some(target.to_owned()),
                _ => None,
            }
        })
        .unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path != "/callback" {
        respond(&mut stream, 404, "Not found.");
        return None;
    }
    let outcome = check(query, state, issuer);
    match &outcome {
        Ok(_) => respond(
            &mut stream,
            200,
            "Signed in: credvault has the authorization. You can close this window.",
        ),
        Err(_) => respond(
            &mut stream,
            400,
            "credvault refused this authorization response; see the terminal.",
        ),
    }
    Some(outcome)
}

/// Checks the callback's query: `error`, `state`, `iss`, `code`.
fn check(query: &str, state: &str, issuer: Option<&str>) -> Result<Callback, OAuthError> {
    let mut code = None;
    let mut got_state = None;
    let mut iss = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in oauth2::url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "iss" => iss = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    let state_ok = got_state
        .as_deref()
        .is_some_and(|s| constant_time_eq(s.as_bytes(), state.as_bytes()));
    if !state_ok {
        return Err(OAuthError::Callback(
            "the state parameter does not match this login (a forged or stale redirect)".to_owned(),
        ));
    }
    if let Some(error) = error {
        return Err(OAuthError::Refused {
            error: printable(&error),
            description: description.as_deref().map(printable),
        });
    }
    if let (Some(expected), Some(iss)) = (issuer, iss.as_deref()) {
        if iss.trim_end_matches('/') != expected.trim_end_matches('/') {
            return Err(OAuthError::Callback(
                "the iss parameter names another issuer (RFC 9207)".to_owned(),
            ));
        }
    }
    let code = code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::Callback("no authorization code in the redirect".to_owned()))?;
    Ok(Callback { code })
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Server-chosen text made safe for a terminal, at most 200 characters.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Request Header Fields Too Large",
    };
    let body =
        format!("<!doctype html><meta charset=utf-8><title>credvault</title><p>{text}</p>\n");
    let reply = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_checks_state_error_and_issuer() {
        let ok = check(
            "code=abc&state=s1&iss=https%3A%2F%2Fid",
            "s1",
            Some("https://id"),
        )
        .expect("good");
        assert_eq!(ok.code, "abc");
        assert!(matches!(
            check("code=abc&state=s2", "s1", None),
            Err(OAuthError::Callback(_))
        ));
        assert!(matches!(
            check("code=abc", "s1", None),
            Err(OAuthError::Callback(_))
        ));
        assert!(matches!(
            check("error=access_denied&state=s1", "s1", None),
            Err(OAuthError::Refused { .. })
        ));
        assert!(matches!(
            check(
                "code=abc&state=s1&iss=https%3A%2F%2Fevil",
                "s1",
                Some("https://id")
            ),
            Err(OAuthError::Callback(_))
        ));
        assert!(constant_time_eq(b"ab", b"ab"));
        assert!(!constant_time_eq(b"ab", b"ac"));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
