//! OAuth end to end against a real, strict authorization server:
//! panva's `oidc-provider` (OpenID Certified, pinned in
//! tests/oauth-server/package-lock.json) on https://127.0.0.1 with a CA
//! made by `openssl` for each server. Its login and consent are approved
//! by the test configuration (tests/oauth-server/server.mjs); `curl`
//! plays the browser, keeping cookies and following each redirect, and
//! finally delivers the authorization response to the CLI's loopback
//! listener. The server counts refresh grants (`/test/stats`), so "one
//! refresh" is checked server-side.
//!
//! Needs `node` and `npm` (Node 20+) and `openssl` and `curl`; the first
//! test runs `npm ci` in tests/oauth-server if node_modules is missing.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::Mutex;

use crate::common::{Run, Sandbox};

const CLIENT_ID: &str = "credvault-test";

/// `npm ci` once per test binary, serialised.
static NPM: Mutex<bool> = Mutex::new(false);

fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oauth-server")
}

fn ensure_npm_deps() {
    let mut done = NPM.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let dir = server_dir();
    if !dir.join("node_modules/oidc-provider/package.json").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect(
                "npm must be installed for the OAuth tests (scripts/test-oauth.sh installs it)",
            );
        assert!(
            out.status.success(),
            "npm ci in tests/oauth-server failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    *done = true;
}

/// A running oidc-provider with its own CA.
struct Server {
    child: Child,
    issuer: String,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server whose access tokens live `ttl` seconds.
    fn start(ttl: u64) -> Server {
        ensure_npm_deps();
        let dir = tempfile::tempdir().expect("temp dir");
        make_certs(dir.path());
        let mut child = Command::new("node")
            .arg(server_dir().join("server.mjs"))
            .arg(dir.path().join("leaf.pem"))
            .arg(dir.path().join("leaf.key"))
            .arg(ttl.to_string())
            .current_dir(server_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node must be installed for the OAuth tests");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server output");
        let issuer = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}"))
            .to_owned();
        Server { child, issuer, dir }
    }

    fn ca(&self) -> String {
        self.dir.path().join("ca.pem").display().to_string()
    }

    fn jar(&self) -> String {
        self.dir.path().join("cookies.txt").display().to_string()
    }

    /// The server's count of successful refresh_token grants.
    fn refreshes(&self) -> u64 {
        let out = self.curl(&["-fsS", &format!("{}/test/stats", self.issuer)]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
        v["refresh"].as_u64().expect("refresh count")
    }

    fn curl(&self, args: &[&str]) -> std::process::Output {
        Command::new("curl")
            .args(["--cacert", &self.ca(), "-b", &self.jar(), "-c", &self.jar()])
            .args(args)
            .output()
            .expect("curl must be installed for the OAuth tests")
    }

    /// One GET (no redirect followed): status and absolute Location.
    fn get(&self, url: &str) -> (u16, String, String) {
        let out = self.curl(&[
            "-sS",
            "-o",
            "-",
            "-w",
            "\n%{http_code} %{redirect_url}",
            url,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, tail) = text.rsplit_once('\n').expect("curl -w line");
        let (code, location) = tail.split_once(' ').unwrap_or((tail, ""));
        (
            code.parse().expect("status"),
            location.to_owned(),
            body.to_owned(),
        )
    }

    /// Plays the browser from `url` until a redirect to the loopback
    /// callback; returns that callback URL (not visited).
    fn browse_to_callback(&self, url: &str) -> String {
        let mut url = url.to_owned();
        for _ in 0..20 {
            if url.starts_with("http://127.0.0.1:") && url.contains("/callback") {
                return url;
            }
            let (code, location, body) = self.get(&url);
            assert!(
                (300..400).contains(&code),
                "expected a redirect from {url}, got {code}: {body}"
            );
            url = location;
        }
        panic!("too many redirects");
    }

    /// The token endpoint's answer to a form POST (status, JSON).
    fn token_request(&self, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let mut args = vec![
            "-sS".to_owned(),
            "-w".to_owned(),
            "\n%{http_code}".to_owned(),
        ];
        for (k, v) in form {
            args.push("--data-urlencode".to_owned());
            args.push(format!("{k}={v}"));
        }
        args.push(format!("{}/token", self.issuer));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.curl(&args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').expect("status line");
        (
            code.parse().expect("status"),
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// The userinfo endpoint's status for `token` (sent from a header file,
    /// not argv).
    fn userinfo_status(&self, token: &str) -> u16 {
        let header = self.dir.path().join("auth-header");
        std::fs::write(&header, format!("Authorization: Bearer {token}\n")).expect("header");
        let out = self.curl(&[
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &format!("@{}", header.display()),
            &format!("{}/me", self.issuer),
        ]);
        String::from_utf8_lossy(&out.stdout)
            .parse()
            .expect("status")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a leaf for IP 127.0.0.1 (CA:FALSE: rustls refuses a CA as an
/// end entity).
fn make_certs(dir: &Path) {
    let sh = format!(
        "set -e; cd '{}'; \
         openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=credvault-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign; \
         openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1; \
         printf 'basicConstraints=CA:FALSE\\nsubjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext; \
         openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 2 -extfile ext",
        dir.display()
    );
    let out = Command::new("sh")
        .args(["-c", &sh])
        .output()
        .expect("openssl must be installed for the OAuth tests");
    assert!(
        out.status.success(),
        "making certificates: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sandbox() -> Sandbox {
    let s = Sandbox::new();
    s.init();
    s
}

/// `oauth login NAME` started with --no-browser; returns the child and
/// the authorization URL it printed alone on a stderr line.
fn start_login(
    s: &Sandbox,
    server: &Server,
    name: &str,
) -> (Child, String, BufReader<ChildStderr>) {
    let ca = server.ca();
    let mut child = s
        .command(&[
            "oauth",
            "login",
            name,
            "--issuer",
            &server.issuer,
            "--client-id",
            CLIENT_ID,
            "--ca-file",
            &ca,
            "--no-browser",
        ])
        .spawn()
        .expect("spawn login");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let url = read_url_line(&mut stderr, &format!("{}/auth?", server.issuer));
    (child, url, stderr)
}

/// Reads stderr lines until one that is only a URL starting with `prefix`.
fn read_url_line(stderr: &mut BufReader<ChildStderr>, prefix: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).expect("stderr");
        assert!(
            n > 0,
            "no URL line starting with {prefix} on stderr: {seen}"
        );
        if line.trim_end().starts_with(prefix) && !line.trim_end().contains(' ') {
            return line.trim_end().to_owned();
        }
        seen.push_str(&line);
    }
}

fn finish(mut child: Child, mut stderr: BufReader<ChildStderr>) -> Run {
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("stderr");
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut stdout)
        .expect("stdout");
    let status = child.wait().expect("wait");
    Run {
        code: status.code().expect("exit code"),
        stdout,
        stderr: rest,
    }
}

/// A full browser login of `name`; the CLI must succeed.
fn login(s: &Sandbox, server: &Server, name: &str) -> String {
    let (child, url, stderr) = start_login(s, server, name);
    let callback = server.browse_to_callback(&url);
    let (code, _, body) = server.get(&callback);
    assert_eq!(code, 200, "the CLI's loopback page: {body}");
    finish(child, stderr).ok();
    callback
}

fn token(s: &Sandbox, name: &str, extra: &[&str]) -> Run {
    let mut args = vec!["oauth", "token", name];
    args.extend(extra);
    s.run(&args)
}

fn token_text(run: &Run) -> String {
    let t = run.text();
    assert!(t.ends_with('\n') && t.matches('\n').count() == 1, "{run:?}");
    t.trim_end().to_owned()
}

#[test]
fn login_stores_tokens_and_refreshes_once_when_under_five_minutes() {
    // Access tokens of 120 s: always under the default 5 minutes.
    let server = Server::start(120);
    let s = sandbox();
    login(&s, &server, "idp");

    let ls = s.run(&["ls", "idp."]).ok();
    assert_eq!(
        ls.text(),
        "idp.accessToken\nidp.oauthClient\nidp.refreshToken\nidp.tokenExpiry\n"
    );
    let stored = token_text(&s.run(&["get", "idp.accessToken"]).ok());
    assert_eq!(server.userinfo_status(&stored), 200);
    let expiry: u64 = token_text(&s.run(&["get", "idp.tokenExpiry"]).ok())
        .parse()
        .expect("Unix milliseconds");
    assert!(expiry > 1_700_000_000_000);

    // Proactive refresh: 120 s left is under 300 s.
    assert_eq!(server.refreshes(), 0);
    let fresh = token_text(&token(&s, "idp", &[]).ok());
    assert_ne!(fresh, stored);
    assert_eq!(server.refreshes(), 1);
    assert_eq!(server.userinfo_status(&fresh), 200);
    // With a lower bar the new token is good as it is: no refresh.
    let same = token_text(&token(&s, "idp", &["--min-valid", "60"]).ok());
    assert_eq!(same, fresh);
    assert_eq!(server.refreshes(), 1);

    // status shows no token; the audit log names login, refresh, by name.
    let status = s.run(&["--json", "oauth", "status", "idp"]).ok();
    let st = status.json();
    assert_eq!(st["issuer"], server.issuer.as_str());
    assert_eq!(st["client_id"], CLIENT_ID);
    assert_eq!(st["has_refresh_token"], true);
    assert_eq!(st["needs_login"], false);
    assert!(!status.text().contains(&fresh));
    let all = s.run(&["--json", "oauth", "status"]).ok().json();
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    assert_eq!(all[0]["name"], "idp");
    let audit =
        std::fs::read_to_string(format!("{}.audit.jsonl", s.vault.display())).expect("audit log");
    assert!(audit.contains(r#""op":"oauth-login""#) || audit.contains("oauth-login"));
    assert!(audit.contains("oauth-refresh"));
    assert!(audit.contains(r#""idp""#));
    assert!(!audit.contains(&fresh) && !audit.contains(&stored));
}

#[test]
fn concurrent_token_calls_cause_exactly_one_refresh_and_the_grant_survives() {
    let server = Server::start(120);
    let s = sandbox();
    login(&s, &server, "race");
    // Six callers that all read the expiring token before any of them can
    // refresh: the test holds the vault's write lock until each has read
    // the vault and opened the lock file to wait for it.
    let lock_path = format!("{}.lock", s.vault.display());
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .expect("lock file");
    held.lock().expect("hold the vault lock");
    let children: Vec<Child> = (0..6)
        .map(|_| {
            s.command(&["oauth", "token", "race"])
                .spawn()
                .expect("spawn token")
        })
        .collect();
    // And a `set` of another key racing the refresh (issue 19): neither
    // save loses the other's.
    let mut set = s
        .command(&["set", "other.key"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn set");
    {
        use std::io::Write;
        let mut stdin = set.stdin.take().expect("piped stdin");
        stdin.write_all(b"racing set").expect("write the value");
    }
    for child in children.iter().chain([&set]) {
        wait_until_open(child.id(), Path::new(&lock_path));
    }
    assert_eq!(server.refreshes(), 0);
    held.unlock().expect("release");
    Run::from(set.wait_with_output().expect("wait")).ok();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| token_text(&Run::from(c.wait_with_output().expect("wait")).ok()))
        .collect();
    assert_eq!(server.refreshes(), 1, "six callers, one refresh");
    assert_eq!(token_text(&s.run(&["get", "other.key"]).ok()), "racing set");
    assert_eq!(
        token_text(&s.run(&["get", "race.accessToken"]).ok()),
        tokens[0],
        "the refreshed token was saved"
    );
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "all got the same token"
    );
    // The grant survives: no refresh token was spent twice.
    let next = token_text(&token(&s, "race", &["--rejected"]).ok());
    assert_ne!(next, tokens[0]);
    assert_eq!(server.refreshes(), 2);
    assert_eq!(server.userinfo_status(&next), 200);
}

#[test]
fn a_rejected_token_is_refreshed_once() {
    // An hour: no proactive refresh.
    let server = Server::start(3600);
    let s = sandbox();
    login(&s, &server, "api");
    let first = token_text(&token(&s, "api", &[]).ok());
    assert_eq!(server.refreshes(), 0);
    let second = token_text(&token(&s, "api", &["--rejected"]).ok());
    assert_ne!(first, second);
    assert_eq!(server.refreshes(), 1);
    let third = token_text(&token(&s, "api", &["--after-401"]).ok());
    assert_ne!(third, second);
    assert_eq!(server.refreshes(), 2);
    // `oauth refresh` forces one too.
    let r = s.run(&["--json", "oauth", "refresh", "api"]).ok();
    assert_eq!(r.json()["refreshed"], true);
    assert_eq!(server.refreshes(), 3);
    // exec hands the current token to a program through its environment.
    let current = token_text(&token(&s, "api", &[]).ok());
    let exec = s
        .run(&[
            "exec",
            "--oauth",
            "TOKEN=api",
            "--",
            "sh",
            "-c",
            "printf '%s\\n' \"$TOKEN\"",
        ])
        .ok();
    assert_eq!(token_text(&exec), current);
}

#[test]
fn server_refuses_missing_or_wrong_pkce_verifier_and_replayed_codes() {
    let server = Server::start(3600);
    // The test is the client here: S256 challenge of a known verifier
    // (RFC 7636 appendix B).
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let code_for = |state: &str| {
        // A new browser (no session) for each code.
        let _ = std::fs::remove_file(server.jar());
        let url = format!(
            "{}/auth?client_id={CLIENT_ID}&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state={state}&code_challenge={challenge}&code_challenge_method=S256",
            server.issuer
        );
        let callback = server.browse_to_callback(&url);
        query_param(&callback, "code").expect("code")
    };
    let redirect = "http://127.0.0.1:9/callback";
    let base = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", CLIENT_ID.to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("code", code.to_owned()),
        ]
    };
    let post = |form: Vec<(&str, String)>| {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        server.token_request(&form)
    };
    // No verifier.
    let code = code_for("s1");
    let (status, body) = post(base(&code));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    // A wrong verifier.
    let code = code_for("s2");
    let mut form = base(&code);
    form.push(("code_verifier", "x".repeat(43)));
    let (status, body) = post(form);
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    // The right one, then a replay of the same code.
    let code = code_for("s3");
    let mut form = base(&code);
    form.push(("code_verifier", verifier.to_owned()));
    let (status, body) = post(form.clone());
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(form);
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");

    // A code the CLI already redeemed cannot be replayed either.
    let s = sandbox();
    let callback = login(&s, &server, "replay");
    let code = query_param(&callback, "code").expect("code");
    let redirect_uri = callback.split('?').next().expect("url").to_owned();
    let (status, body) = server.token_request(&[
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", &redirect_uri),
        ("code", &code),
        ("code_verifier", verifier),
    ]);
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
}

#[test]
fn the_cli_refuses_a_wrong_state_and_stores_nothing() {
    let server = Server::start(3600);
    let s = sandbox();
    let (child, url, stderr) = start_login(&s, &server, "forged");
    let callback = server.browse_to_callback(&url);
    let state = query_param(&callback, "state").expect("state");
    let forged = callback.replace(&format!("state={state}"), "state=forged-state");
    let (code, _, _) = server.get(&forged);
    assert_eq!(code, 400);
    let run = finish(child, stderr);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("state"), "{}", run.stderr);
    assert_eq!(s.run(&["has", "forged.accessToken"]).code, 1);
    assert_eq!(s.run(&["has", "forged.oauthClient"]).code, 1);
}

#[test]
fn invalid_grant_means_a_new_login_exit_3() {
    let server = Server::start(3600);
    let s = sandbox();
    login(&s, &server, "gone");
    // The grant ends behind the CLI's back: its refresh token is revoked.
    let refresh = token_text(&s.run(&["get", "gone.refreshToken"]).ok());
    let out = server.curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-urlencode",
        &format!("client_id={CLIENT_ID}"),
        "--data-urlencode",
        &format!("token={refresh}"),
        &format!("{}/token/revocation", server.issuer),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let run = token(&s, "gone", &["--rejected"]);
    let line = run.fails(3).to_owned();
    assert!(line.contains("log in again"), "{line}");
    assert!(!line.contains(&refresh));
    // Marked: later calls say so without asking the server.
    let st = s.run(&["--json", "oauth", "status", "gone"]).ok().json();
    assert_eq!(st["needs_login"], true);
    assert_eq!(st["has_refresh_token"], false);
    token(&s, "gone", &[]).fails(3);
    // JSON errors carry the kind.
    let run = s.run(&["--json", "oauth", "token", "gone"]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains(r#""kind":"unlock""#), "{}", run.stderr);
}

#[test]
fn server_down_gives_the_current_token_while_it_lasts_else_exit_7() {
    let mut server = Server::start(120);
    let s = sandbox();
    login(&s, &server, "down");
    let stored = token_text(&s.run(&["get", "down.accessToken"]).ok());
    server.stop();
    // A refresh is due (under 5 minutes) but the server is gone: the token
    // still has time left, so it is printed with a warning.
    let run = token(&s, "down", &[]).ok();
    assert_eq!(token_text(&run), stored);
    assert!(run.stderr.contains("could not refresh"), "{}", run.stderr);
    // Rejected and unrenewable: exit 7, kind network.
    let run = s.run(&["--json", "oauth", "token", "down", "--rejected"]);
    assert_eq!(run.code, 7, "{run:?}");
    assert!(run.stderr.contains(r#""kind":"network""#), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    // Nothing was lost: the login is intact.
    let st = s.run(&["--json", "oauth", "status", "down"]).ok().json();
    assert_eq!(st["has_refresh_token"], true);
    assert_eq!(st["needs_login"], false);
}

#[test]
fn revoke_ends_the_grant_at_the_server_and_removes_the_entries() {
    let server = Server::start(3600);
    let s = sandbox();
    login(&s, &server, "bye");
    let access = token_text(&token(&s, "bye", &[]).ok());
    assert_eq!(server.userinfo_status(&access), 200);
    let run = s.run(&["--json", "oauth", "revoke", "bye"]).ok();
    let out = run.json();
    assert_eq!(out["revoked_at_server"], true);
    assert_eq!(out["token_type"], "refresh_token");
    assert_eq!(server.userinfo_status(&access), 401);
    assert_eq!(s.run(&["ls", "bye."]).ok().text(), "");
    token(&s, "bye", &[]).fails(1);
    let audit =
        std::fs::read_to_string(format!("{}.audit.jsonl", s.vault.display())).expect("audit log");
    assert!(audit.contains("oauth-revoke"));
}

#[test]
fn device_flow_login() {
    let server = Server::start(3600);
    let s = sandbox();
    let ca = server.ca();
    let mut child = s
        .command(&[
            "oauth",
            "login",
            "tv",
            "--device",
            "--issuer",
            &server.issuer,
            "--client-id",
            CLIENT_ID,
            "--ca-file",
            &ca,
        ])
        .spawn()
        .expect("spawn login --device");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let url = read_url_line(&mut stderr, &format!("{}/device", server.issuer));
    // The user opens the URL (it carries the code), confirms, and the
    // server's login and consent approve.
    let (code, _, page) = server.get(&url);
    assert_eq!(code, 200, "{page}");
    let xsrf = between(&page, r#"name="xsrf" value=""#, "\"").expect("xsrf field");
    let user_code = between(&page, r#"name="user_code" value=""#, "\"").expect("user_code");
    let action = between(&page, r#"action=""#, "\"").expect("form action");
    let action = if action.starts_with("http") {
        action
    } else {
        format!("{}{action}", server.issuer)
    };
    let out = server.curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "--data-urlencode",
        &format!("xsrf={xsrf}"),
        "--data-urlencode",
        &format!("user_code={user_code}"),
        "--data-urlencode",
        "confirm=yes",
        &action,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (_, location) = text.split_once(' ').expect("status and location");
    // Follow the redirects through login and consent to the success page.
    let mut next = location.to_owned();
    for _ in 0..20 {
        if next.is_empty() {
            break;
        }
        next = server.get(&next).1;
    }
    assert!(next.is_empty(), "still redirecting");
    finish(child, stderr).ok();
    let st = s.run(&["--json", "oauth", "status", "tv"]).ok().json();
    assert_eq!(st["grant"], "device_code");
    let access = token_text(&token(&s, "tv", &[]).ok());
    assert_eq!(server.userinfo_status(&access), 200);
}

#[test]
fn tls_is_verified_and_ssl_cert_file_is_honoured() {
    let server = Server::start(3600);
    let s = sandbox();
    // No CA given: the test server's certificate is not trusted (exit 7).
    let run = s.run(&[
        "oauth",
        "login",
        "tls",
        "--issuer",
        &server.issuer,
        "--client-id",
        CLIENT_ID,
        "--no-browser",
    ]);
    let line = run.fails(7);
    assert!(line.to_lowercase().contains("certificate"), "{line}");
    // SSL_CERT_FILE instead of --ca-file: the login works, and later
    // refreshes need it again (it is not stored). Without --no-browser and
    // without a graphical session, no browser is tried: the URL is printed.
    let mut child = s
        .command(&[
            "oauth",
            "login",
            "tls",
            "--issuer",
            &server.issuer,
            "--client-id",
            CLIENT_ID,
        ])
        .env("SSL_CERT_FILE", server.ca())
        .spawn()
        .expect("spawn login");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let url = read_url_line(&mut stderr, &format!("{}/auth?", server.issuer));
    let callback = server.browse_to_callback(&url);
    assert_eq!(server.get(&callback).0, 200);
    finish(child, stderr).ok();
    token(&s, "tls", &["--rejected"]).fails(7);
    let mut cmd = s.command(&["oauth", "token", "tls", "--rejected"]);
    cmd.env("SSL_CERT_FILE", server.ca());
    let fresh = token_text(&crate::common::run_command(cmd, None).ok());
    assert_eq!(server.userinfo_status(&fresh), 200);
    // --ca-file on a later command works too.
    let ca = server.ca();
    token(&s, "tls", &["--rejected", "--ca-file", &ca]).ok();
    assert_eq!(server.refreshes(), 2);
}

#[test]
fn login_errors_have_their_exit_codes() {
    let s = sandbox();
    // An issuer must be https.
    s.run(&[
        "oauth",
        "login",
        "x",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "c",
    ])
    .fails(2);
    // A bad login name.
    s.run(&["oauth", "token", "a.b"]).fails(2);
    // Nothing to refresh.
    s.run(&["oauth", "token", "nobody"]).fails(1);
    // Discovery against a server that is not there: network.
    let run = s.run(&[
        "oauth",
        "login",
        "x",
        "--issuer",
        "https://127.0.0.1:9",
        "--client-id",
        "c",
        "--no-browser",
    ]);
    run.fails(7);
}

/// The guides' `<!-- test: run oauth -->` examples (docs/oauth.md's main
/// one) run as written, by the docs harness (`docs_examples::run_with`:
/// a throwaway vault, `set -e`), against a fresh test provider: `ISSUER`,
/// `CLIENT_ID` and `CA` are set for them, and `BROWSER` is a script in
/// which `curl` plays the user (the provider approves login and consent
/// itself) through to the CLI's loopback callback; if it fails it ends
/// the login rather than leaving it waiting 5 minutes.
#[test]
fn the_guides_example_runs_as_written() {
    use crate::docs_examples::{documents, extract, repo_root, run_with, Kind, MARKER_OAUTH};
    let root = repo_root();
    let mut blocks = Vec::new();
    for file in documents(&root) {
        let text = std::fs::read_to_string(root.join(&file)).expect("read document");
        let found = extract(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        blocks.extend(found.into_iter().filter(|b| b.kind == Kind::OAuth));
    }
    assert!(
        blocks.iter().any(|b| b.file == "docs/oauth.md"),
        "docs/oauth.md: no `{MARKER_OAUTH}` example"
    );
    for block in &blocks {
        let server = Server::start(3600);
        let browser = server.dir.path().join("browser");
        let browser_log = server.dir.path().join("browser.log");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\n\
                 # The user's browser: follows the provider's redirects to the callback.\n\
                 curl -fsSL --cacert '{}' -b '{jar}' -c '{jar}' -o /dev/null \"$1\" 2>'{log}' ||\n\
                 kill -TERM \"$PPID\"\n",
                server.ca(),
                jar = server.jar(),
                log = browser_log.display(),
            ),
        )
        .expect("browser script");
        std::fs::set_permissions(
            &browser,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod browser");
        let ca = server.ca();
        let browser = browser.display().to_string();
        let vars = [
            ("ISSUER", server.issuer.as_str()),
            ("CLIENT_ID", CLIENT_ID),
            ("CA", ca.as_str()),
            ("BROWSER", browser.as_str()),
        ];
        let stdout = run_with(block, &vars).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&browser_log).unwrap_or_default();
            panic!("{e}--- the browser's curl\n{log}")
        });
        // The userinfo answers: the token worked, twice (curl, then exec).
        assert_eq!(stdout.matches("\"sub\":").count(), 2, "{stdout}");
        assert!(stdout.ends_with("exit 1\n"), "{stdout}");
        assert_eq!(server.refreshes(), 1, "one refresh, for --rejected");
    }
}

/// Waits until process `pid` has `path` open (it is then waiting for the
/// lock); panics after a minute.
fn wait_until_open(pid: u32, path: &Path) {
    let target = std::fs::canonicalize(path).expect("lock path");
    for _ in 0..6000 {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"));
        let open = fds.is_ok_and(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == target))
        });
        if open {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("process {pid} never opened {}", path.display());
}

/// The value of `name` in the query of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The text between `start` and the next `end` in `s`.
fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(s[from..from + len].to_owned())
}

/// The OAuth refresh crashed and failed at every storage step it takes
/// (issue 19; the table of tests/cli/crash.rs does the same for the other
/// writers): through the test-only fault hook (`CREDVAULT_FAULT`), a fresh
/// login per fault point (the server rotates refresh tokens). Afterwards
/// the login's entries are all old or all new, never a mix, the new ones
/// work at the server, `audit verify` passes and no temp file is left
/// after an error.
#[test]
fn a_refresh_crashed_at_every_storage_step_keeps_old_or_new_tokens() {
    use std::os::unix::process::ExitStatusExt;
    let server = Server::start(120);
    let entries = |s: &Sandbox| -> (String, String, String) {
        let get = |k: &str| token_text(&s.run(&["get", k]).ok());
        (
            get("idp.accessToken"),
            get("idp.refreshToken"),
            get("idp.tokenExpiry"),
        )
    };

    // The points a refresh reaches.
    let s = sandbox();
    login(&s, &server, "idp");
    let trace = s.root().join("trace");
    let mut cmd = s.command(&["oauth", "token", "idp"]);
    cmd.env("CREDVAULT_FAULT_TRACE", &trace);
    assert!(cmd.output().expect("run").status.success());
    let points = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .count();
    assert!(points >= 8, "a refresh saves: {points} fault points");

    for n in 1..=points {
        for action in ["error", "abort"] {
            let s = sandbox();
            login(&s, &server, "idp");
            let old = entries(&s);
            let mut cmd = s.command(&["oauth", "token", "idp"]);
            cmd.env("CREDVAULT_FAULT", format!("{n}:{action}"));
            let out = cmd.output().expect("run");
            let what = format!("refresh, {action} at fault point {n}: {out:?}");
            if action == "abort" {
                assert_eq!(out.status.signal(), Some(6), "{what}");
            } else {
                assert!(matches!(out.status.code(), Some(0 | 5 | 7)), "{what}");
            }
            let now = entries(&s);
            let all_new = now.0 != old.0 && now.1 != old.1 && now.2 != old.2;
            assert!(now == old || all_new, "{what}: a mix of old and new tokens");
            if all_new {
                assert_eq!(server.userinfo_status(&now.0), 200, "{what}");
            }
            s.run(&["audit", "verify"]).ok();
            if action == "error" {
                let dir = s.vault.parent().expect("vault dir");
                let temps: Vec<String> = std::fs::read_dir(dir)
                    .expect("vault dir")
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(".tmp.") || n.ends_with(".gen-tmp"))
                    .collect();
                assert!(temps.is_empty(), "{what}: {temps:?}");
            }
        }
    }
}

/// The OAuth refresh under power loss (issue 19; tests/cli/powerloss.rs
/// does the writers of the crash table): the sandbox (HOME, the vault, its
/// marks and audit log) on the power-loss file system of tests/powerloss,
/// a fresh login per cut (the server rotates refresh tokens), the power
/// cut after every single operation a refresh counts. After the remount
/// the vault opens, the login's entries are all old or all new, and all
/// new (the token printed) when the refresh had exited 0.
#[test]
fn a_refresh_survives_a_power_cut_after_every_operation() {
    use crate::crash::{try_state, Env};
    if !crate::powerloss::fuse_ready() {
        crate::common::skip(
            "no /dev/fuse or no fusermount3 (Debian fuse3): cannot run the power-loss tests",
        );
        return;
    }
    let server = Server::start(120);
    let top = tempfile::tempdir().expect("temp dir");
    let at = top.path().join("mnt");
    std::fs::create_dir(&at).unwrap();
    let mut mount = credvault_powerloss::Mount::new(&at).expect("mount the power-loss file system");
    let get = |env: &Env, key: &str| {
        let out = Env::output(env.command(&["get", key], crate::common::PASS), None);
        assert!(out.status.success(), "get {key}: {out:?}");
        String::from_utf8(out.stdout)
            .expect("UTF-8")
            .trim_end()
            .to_owned()
    };
    let entries = |env: &Env| {
        (
            get(env, "idp.accessToken"),
            get(env, "idp.refreshToken"),
            get(env, "idp.tokenExpiry"),
        )
    };
    // A fresh login, copied onto the file system and made durable there.
    let logged_in = |mount: &credvault_powerloss::Mount, name: &str| {
        let s = sandbox();
        login(&s, &server, "idp");
        let dir = at.join(name);
        std::fs::create_dir(&dir).unwrap();
        let env = Env {
            root: s.root().to_path_buf(),
        }
        .copy_to(&dir);
        mount.sync_everything();
        env
    };
    let refresh = |env: &Env| {
        Env::output(
            env.command(&["oauth", "token", "idp"], crate::common::PASS),
            None,
        )
    };

    // Count the operations of one refresh.
    let env = logged_in(&mount, "count");
    let old = entries(&env);
    mount.sync_everything();
    let out = refresh(&env);
    let log = mount.log();
    assert!(
        out.status.success(),
        "refresh on the power-loss fs: {out:?}"
    );
    assert_ne!(entries(&env).1, old.1, "the refresh token rotated");
    assert!(log.contains(&"fsync"), "{log:?}");

    let mut violations = Vec::new();
    let (mut olds, mut news) = (0, 0);
    for n in 0..=log.len() {
        mount.cut_after(None);
        let env = logged_in(&mount, &format!("cut-{n}"));
        let old = entries(&env);
        mount.sync_everything();
        mount.cut_after(Some(n as u64));
        let out = refresh(&env);
        let next = log.get(n).copied().unwrap_or("the end");
        let what = format!(
            "refresh, power cut before op {n} ({next}), exit {:?}",
            out.status
        );
        mount.power_cycle().expect("remount after the power cut");
        if let Err(e) = try_state(&env) {
            violations.push(format!("{what}: {e}"));
            continue;
        }
        let now = entries(&env);
        let all_new = now.0 != old.0 && now.1 != old.1 && now.2 != old.2;
        if now == old {
            olds += 1;
        } else if all_new {
            news += 1;
        } else {
            violations.push(format!("{what}: a mix of old and new tokens"));
        }
        if out.status.success() {
            let printed = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
            if !all_new || printed != now.0 {
                violations.push(format!("{what}: the acknowledged refresh was lost"));
            }
        }
    }
    eprintln!(
        "oauth refresh: {} operations, {} power cuts: {olds} left the old tokens, {news} the new",
        log.len(),
        log.len() + 1
    );
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(olds > 0 && news > 0, "{olds} old, {news} new");
}

/// `oauth login NAME` through the browser flow, with the fault hook's
/// `fault` or `trace`; the process's exit status (a crash included).
fn login_with_fault(
    s: &Sandbox,
    server: &Server,
    name: &str,
    fault: Option<String>,
    trace: Option<&Path>,
) -> std::process::ExitStatus {
    let ca = server.ca();
    let mut cmd = s.command(&[
        "oauth",
        "login",
        name,
        "--issuer",
        &server.issuer,
        "--client-id",
        CLIENT_ID,
        "--ca-file",
        &ca,
        "--no-browser",
    ]);
    if let Some(f) = fault {
        cmd.env("CREDVAULT_FAULT", f);
    }
    if let Some(t) = trace {
        cmd.env("CREDVAULT_FAULT_TRACE", t);
    }
    let mut child = cmd.spawn().expect("spawn login");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let url = read_url_line(&mut stderr, &format!("{}/auth?", server.issuer));
    let callback = server.browse_to_callback(&url);
    // The CLI may die before it answers.
    let _ = server.get(&callback);
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    child.wait_with_output().expect("wait for login").status
}

/// The keys under `name.`, as `ls` lists them.
fn keys_of(s: &Sandbox, name: &str) -> String {
    s.run(&["ls", &format!("{name}.")]).ok().text().to_owned()
}

/// Temp files of a save left beside the vault of `s`.
fn vault_temps(s: &Sandbox) -> Vec<String> {
    let dir = s.vault.parent().expect("vault dir");
    std::fs::read_dir(dir)
        .expect("vault dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp.") || n.ends_with(".gen-tmp"))
        .collect()
}

/// `oauth login` crashed and failed at every storage step of its save
/// (issue 19), one fresh sandbox per fault point: afterwards the login's
/// entries are all there or none is (all there, with a token the server
/// accepts, when the login exited 0), `audit verify` passes, no temp file
/// is left after an error, the next save leaves none, and a login again
/// succeeds.
#[test]
fn a_login_crashed_at_every_storage_step_stores_all_or_nothing() {
    use std::os::unix::process::ExitStatusExt;
    let server = Server::start(3600);
    let s = sandbox();
    let trace = s.root().join("trace");
    let status = login_with_fault(&s, &server, "idp", None, Some(&trace));
    assert!(status.success(), "{status:?}");
    let all = keys_of(&s, "idp");
    assert!(all.contains("idp.refreshToken"), "{all}");
    let points = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .count();
    assert!(points >= 5, "a login saves: {points} fault points");

    for n in 1..=points {
        for action in ["error", "abort"] {
            let s = sandbox();
            let status = login_with_fault(&s, &server, "idp", Some(format!("{n}:{action}")), None);
            let what = format!("login, {action} at fault point {n}: {status:?}");
            if action == "abort" {
                assert_eq!(status.signal(), Some(6), "{what}");
            } else {
                assert!(matches!(status.code(), Some(0 | 5 | 7)), "{what}");
            }
            let now = keys_of(&s, "idp");
            assert!(now.is_empty() || now == all, "{what}: {now}");
            if status.success() {
                assert_eq!(now, all, "{what}: exit 0 without the tokens");
            }
            if !now.is_empty() {
                let access = token_text(&s.run(&["get", "idp.accessToken"]).ok());
                assert_eq!(server.userinfo_status(&access), 200, "{what}");
            }
            s.run(&["audit", "verify"]).ok();
            if action == "error" {
                assert_eq!(vault_temps(&s), Vec::<String>::new(), "{what}");
            }
            s.set("after.crash", b"x");
            assert_eq!(vault_temps(&s), Vec::<String>::new(), "{what}");
            let again = login_with_fault(&s, &server, "idp", None, None);
            assert!(again.success(), "{what}: login again: {again:?}");
        }
    }
}

/// `oauth revoke` crashed and failed at every storage step of its removal
/// of the entries (issue 19), a fresh login per fault point: afterwards
/// the entries are all there or all gone (gone when it exited 0), `audit
/// verify` passes, no temp file is left after an error, and revoke again
/// completes and removes them.
#[test]
fn a_revoke_crashed_at_every_storage_step_removes_all_or_nothing() {
    use std::os::unix::process::ExitStatusExt;
    let server = Server::start(3600);
    let s = sandbox();
    login(&s, &server, "idp");
    let all = keys_of(&s, "idp");
    let trace = s.root().join("trace");
    let mut cmd = s.command(&["oauth", "revoke", "idp"]);
    cmd.env("CREDVAULT_FAULT_TRACE", &trace);
    assert!(cmd.output().expect("run").status.success());
    assert_eq!(keys_of(&s, "idp"), "");
    let points = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .count();
    assert!(points >= 5, "a revoke saves: {points} fault points");

    for n in 1..=points {
        for action in ["error", "abort"] {
            let s = sandbox();
            login(&s, &server, "idp");
            let mut cmd = s.command(&["oauth", "revoke", "idp"]);
            cmd.env("CREDVAULT_FAULT", format!("{n}:{action}"));
            let out = cmd.output().expect("run");
            let what = format!("revoke, {action} at fault point {n}: {out:?}");
            if action == "abort" {
                assert_eq!(out.status.signal(), Some(6), "{what}");
            } else {
                assert!(matches!(out.status.code(), Some(0 | 5 | 7)), "{what}");
            }
            let now = keys_of(&s, "idp");
            assert!(now.is_empty() || now == all, "{what}: {now}");
            if out.status.success() {
                assert_eq!(now, "", "{what}: exit 0 with the entries");
            }
            s.run(&["audit", "verify"]).ok();
            if action == "error" {
                assert_eq!(vault_temps(&s), Vec::<String>::new(), "{what}");
            }
            if !now.is_empty() {
                let again = s.run(&["oauth", "revoke", "idp"]);
                assert_eq!(again.code, 0, "{what}: revoke again: {again:?}");
                assert_eq!(keys_of(&s, "idp"), "", "{what}: revoke again");
            }
            s.set("after.crash", b"x");
            assert_eq!(vault_temps(&s), Vec::<String>::new(), "{what}");
        }
    }
}

/// `oauth revoke` raced against `oauth token` of the same login whose
/// access token is due for a refresh (issue 19), both past their unlock
/// before either saves: the revoke is acknowledged and wins, whatever the
/// order: no entry of the login is left (the refresh does not bring its
/// tokens back), any token the refresh printed is dead at the server (the
/// revoke ended the grant, not only the refresh token it had read), and
/// the token call exits 0 or with its documented code; audit verifies.
#[test]
fn revoke_raced_against_a_refresh_ends_the_grant_and_leaves_no_entry() {
    let server = Server::start(120);
    let s = sandbox();
    login(&s, &server, "idp");
    let racer = |args: &[&str]| {
        let mut all = vec!["--lock-timeout", crate::races::LOCK_TIMEOUT];
        all.extend(args);
        (s.command(&all), None)
    };
    let runs = crate::races::race(
        &s,
        vec![
            racer(&["oauth", "revoke", "idp"]),
            racer(&["oauth", "token", "idp"]),
        ],
    );
    let (revoke, token) = (&runs[0], &runs[1]);
    eprintln!(
        "revoke exit {}, token exit {}: {}",
        revoke.code,
        token.code,
        token.stderr.trim()
    );
    assert_eq!(revoke.code, 0, "revoke: {revoke:?}");
    assert!(matches!(token.code, 0 | 1 | 3), "token: {token:?}");
    assert!(!token.stderr.contains("panicked"), "{token:?}");
    assert_eq!(keys_of(&s, "idp"), "", "the login's entries are gone");
    if token.code == 0 {
        let printed = token_text(token);
        assert_eq!(
            server.userinfo_status(&printed),
            401,
            "a token of the revoked grant still works"
        );
    }
    s.run(&["audit", "verify"]).ok();
    assert_eq!(vault_temps(&s), Vec::<String>::new());
}
