//! Migration from the desktop app: `import-legacy` on credentials.json
//! files built from values a real Chromium encrypted
//! (`spec/legacy/oscrypt-blobs.json`, made by
//! `spec/legacy/make-oscrypt-blobs.sh`), `migrate-env`, the
//! `get --env/--config` fallback chain and `exec`.
//!
//! The automatic `v11` lookup runs against a real Secret Service when
//! `CREDVAULT_TEST_KEYRING=secret-service` (inside
//! `scripts/with-secret-service.sh`): the test stores the v11 password
//! Chromium generated (recorded in the vectors file) under
//! `application=claude-pilot` with `secret-tool`, as the app's Electron
//! would have, and the importer finds it by itself. With
//! `CREDVAULT_TEST_KEYRING=absent` the lookup must fail fast instead. All
//! other tests use the sandbox, where no D-Bus is reachable.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{run_command, Run, Sandbox};

/// One value of the vectors file.
struct Blob {
    keyring: String,
    name: String,
    blob: String,
    plaintext: String,
}

struct Vectors {
    v11_password: String,
    blobs: Vec<Blob>,
}

fn vectors() -> Vectors {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/legacy/oscrypt-blobs.json"
    ))
    .expect("spec/legacy/oscrypt-blobs.json");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_owned();
    Vectors {
        v11_password: s(&doc["keyrings"]["gnome-libsecret"], "password"),
        blobs: doc["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Blob {
                keyring: s(v, "keyring"),
                name: s(v, "name"),
                blob: s(v, "blob"),
                plaintext: s(v, "plaintext"),
            })
            .collect(),
    }
}

/// A credentials.json mixing the three kinds, and what each key must hold
/// after an import: the app's own keys as Chromium v11 (Secret Service)
/// values, the same values under `legacy.v10.*` as v10 (no keyring)
/// values, and plain: values, including an empty one.
fn mixed() -> (serde_json::Value, Vec<(String, String)>) {
    let v = vectors();
    let mut credentials = serde_json::Map::new();
    let mut want = Vec::new();
    for b in &v.blobs {
        let key = match b.keyring.as_str() {
            "gnome-libsecret" => b.name.clone(),
            "basic" => format!("legacy.v10.{}", b.name),
            _ => continue,
        };
        credentials.insert(key.clone(), format!("enc:{}", b.blob).into());
        want.push((key, b.plaintext.clone()));
    }
    for (key, value) in [
        ("mcp.server.token", "mcp-plain-token-0123456789"),
        ("github.accessToken", "gho_plain_Ünïcode_✓"),
        ("github.refreshTokenOld", ""),
    ] {
        credentials.insert(
            key.to_owned(),
            format!("plain:{}", hex::encode(value)).into(),
        );
        want.push((key.to_owned(), value.to_owned()));
    }
    let file = serde_json::json!({ "credentials": credentials, "encryptionAvailable": true });
    (file, want)
}

/// A sandbox with a vault and a credentials.json (returned path), plus
/// the v11 password in a file.
struct Setup {
    s: Sandbox,
    json: serde_json::Value,
    file: PathBuf,
    password: PathBuf,
    want: Vec<(String, String)>,
}

fn setup_with(json: &serde_json::Value) -> Setup {
    let s = Sandbox::new();
    s.init();
    let file = s.root().join("credentials.json");
    std::fs::write(&file, serde_json::to_vec_pretty(json).unwrap()).unwrap();
    let password = s.root().join("safe-storage-password");
    std::fs::write(&password, format!("{}\n", vectors().v11_password)).unwrap();
    Setup {
        s,
        json: json.clone(),
        file,
        password,
        want: Vec::new(),
    }
}

fn setup() -> Setup {
    let (json, want) = mixed();
    Setup {
        want,
        ..setup_with(&json)
    }
}

impl Setup {
    fn import(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "import-legacy",
            self.file.to_str().unwrap(),
            "--safe-storage-password-file",
            self.password.to_str().unwrap(),
        ];
        args.extend(extra);
        self.s.run(&args)
    }

    /// Every expected key holds exactly its value.
    fn assert_intact(&self) {
        for (key, value) in &self.want {
            let mut line = value.as_bytes().to_vec();
            line.push(b'\n');
            assert_eq!(self.s.run(&["get", key]).ok().stdout, line, "{key}");
        }
    }

    /// No value of length 6+ appears in `run`'s output, in clear or hex.
    fn assert_no_values(&self, run: &Run) {
        let out = String::from_utf8_lossy(&run.stdout).into_owned() + &run.stderr;
        for (key, value) in self.want.iter().filter(|(_, v)| v.len() >= 6) {
            assert!(
                !out.contains(value.as_str()),
                "{key}'s value printed: {out}"
            );
            assert!(!out.contains(&hex::encode(value)), "{key}'s hex printed");
        }
    }
}

fn statuses(json: &serde_json::Value) -> Vec<(String, String)> {
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_mixed_file_imports_every_value_intact() {
    let t = setup();
    assert!(t.want.len() >= 29, "plain, v10 and v11 values");
    let run = t.import(&[]).ok();
    t.assert_no_values(&run);
    let text = run.text();
    for (key, _) in &t.want {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(key.as_str()))
            .unwrap_or_else(|| panic!("no line for {key}: {text}"));
        assert!(line.starts_with("imported "), "{line}");
        let stored = t.json["credentials"][key.as_str()].as_str().unwrap();
        let source = if stored.starts_with("plain:") {
            "(plain)"
        } else if stored.starts_with("enc:763130") {
            "(enc:v10)"
        } else {
            "(enc:v11)"
        };
        assert!(line.ends_with(source), "{line} should end with {source}");
    }
    assert!(
        run.stderr.contains(&format!(
            "{} imported, 0 unchanged, 0 kept, 0 failed",
            t.want.len()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("verified"), "{}", run.stderr);
    t.assert_intact();
    // The legacy file is left alone without --remove-legacy.
    assert!(t.file.exists());
}

#[test]
fn rerunning_is_idempotent_and_saves_nothing() {
    let t = setup();
    t.import(&[]).ok();
    let before = t.s.vault_bytes();
    let json = t.import(&["--json"]).ok().json();
    assert!(
        statuses(&json).iter().all(|(_, s)| s == "unchanged"),
        "{json}"
    );
    assert_eq!(json["unchanged"], t.want.len());
    assert_eq!(json["imported"], 0);
    assert_eq!(t.s.vault_bytes(), before, "no save when nothing changed");
    t.assert_intact();
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    let t = setup();
    let before = t.s.vault_bytes();
    let run = t.import(&["--dry-run"]).ok();
    assert!(
        run.text().lines().all(|l| l.starts_with("would import ")),
        "{}",
        run.text()
    );
    assert!(
        run.stderr.contains("dry run: nothing was changed"),
        "{}",
        run.stderr
    );
    t.assert_no_values(&run);
    let json = t.import(&["--dry-run", "--json"]).ok().json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["imported"], t.want.len());
    assert_eq!(json["verified"], false);
    assert_eq!(t.s.vault_bytes(), before);
    assert!(t.s.run(&["ls"]).ok().stdout.is_empty());
    // --dry-run never removes anything.
    let both = t.import(&["--dry-run", "--remove-legacy"]);
    both.fails(2);
    assert!(t.file.exists());
}

#[test]
fn remove_legacy_deletes_the_file_only_after_a_verified_complete_import() {
    let t = setup();
    let json = t.import(&["--remove-legacy", "--json"]).ok().json();
    assert_eq!(json["verified"], true);
    assert_eq!(json["removed_legacy"], true);
    assert!(!t.file.exists(), "the legacy file is gone");
    t.assert_intact();
}

#[test]
fn remove_legacy_keeps_the_file_when_a_value_failed() {
    let (mut json, want) = mixed();
    json["credentials"]["broken.value"] = "enc:763131deadbeef".into();
    json["credentials"]["bad.prefix"] = "base64:aGVsbG8=".into();
    let t = Setup {
        want,
        ..setup_with(&json)
    };
    let before = std::fs::read(&t.file).unwrap();
    let run = t.import(&["--remove-legacy"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("2 of "), "{}", run.stderr);
    assert!(
        run.stderr.contains("legacy file was kept"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&t.file).unwrap(), before, "file untouched");
    let text = run.text();
    assert!(text.contains("failed       broken.value"), "{text}");
    assert!(text.contains("damaged value"), "{text}");
    assert!(text.contains("neither enc: nor plain:"), "{text}");
    // The other values were saved.
    let (_, token) = t.want.iter().find(|(k, _)| k == "github.token").unwrap();
    assert_eq!(
        t.s.run(&["get", "github.token"]).ok().stdout,
        format!("{token}\n").as_bytes()
    );
}

#[test]
fn remove_legacy_keeps_the_file_when_the_vault_holds_a_different_value() {
    let t = setup();
    t.s.set("github.token", b"rotated-since");
    let run = t.import(&["--remove-legacy"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.text().contains("kept         github.token"),
        "{}",
        run.text()
    );
    assert!(
        run.stderr.contains("legacy file was kept"),
        "{}",
        run.stderr
    );
    assert!(t.file.exists());
    assert_eq!(
        t.s.run(&["get", "github.token"]).ok().stdout,
        b"rotated-since\n"
    );
    // --overwrite takes the legacy value; then the file can go.
    t.import(&["--overwrite", "--remove-legacy"]).ok();
    assert!(!t.file.exists());
    t.assert_intact();
}

#[test]
fn v11_without_a_key_fails_per_key_and_the_rest_is_saved() {
    let t = setup();
    // No password file, and the sandbox has no D-Bus: v11 cannot be opened.
    let run =
        t.s.run(&["--json", "import-legacy", t.file.to_str().unwrap()]);
    assert_eq!(run.code, 6, "{run:?}");
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let v11 = vectors()
        .blobs
        .iter()
        .filter(|b| b.keyring == "gnome-libsecret")
        .count();
    assert_eq!(json["failed"], v11);
    assert_eq!(json["imported"], t.want.len() - v11);
    let failed = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["status"] == "failed")
        .unwrap();
    assert_eq!(failed["source"], "enc:v11");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("Secret Service"),
        "{failed}"
    );
    let err: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(err["exit_code"], 6);
    assert_eq!(err["kind"], "incomplete");
    // With --no-keychain the reason says so.
    let run =
        t.s.run(&["--no-keychain", "import-legacy", t.file.to_str().unwrap()]);
    assert_eq!(run.code, 6);
    assert!(run.text().contains("--no-keychain"), "{}", run.text());
    // Then with the password: the rest arrives, the earlier ones unchanged.
    let json = t.import(&["--json"]).ok().json();
    assert_eq!(json["imported"], v11);
    assert_eq!(json["unchanged"], t.want.len() - v11);
    t.assert_intact();
}

#[test]
fn a_wrong_v11_password_fails_those_keys_without_printing_anything_secret() {
    let t = setup();
    std::fs::write(&t.password, "not-the-password").unwrap();
    let run = t.import(&[]);
    assert_eq!(run.code, 6);
    assert!(
        run.text().contains("wrong key or damaged value"),
        "{}",
        run.text()
    );
    t.assert_no_values(&run);
    assert!(!run.stderr.contains("not-the-password") && !run.text().contains("not-the-password"));
}

#[test]
fn the_default_path_is_the_apps_config_directory() {
    let s = Sandbox::new();
    s.init();
    let dir = s.root().join(".config").join("claude-pilot");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("credentials.json"),
        br#"{"credentials": {"github.token": "plain:6768705f64656661756c74"}}"#,
    )
    .unwrap();
    s.run(&["import-legacy"]).ok();
    assert_eq!(
        s.run(&["get", "github.token"]).ok().stdout,
        b"ghp_default\n"
    );
    // Another app name looks elsewhere, and says how to fix it.
    let run = s.run(&["import-legacy", "--app-name", "other-app"]);
    let line = run.fails(5);
    assert!(line.contains("other-app/credentials.json"), "{line}");
    assert!(line.contains("--app-name"), "{line}");
}

#[test]
fn unreadable_legacy_files_fail_as_a_whole() {
    let s = Sandbox::new();
    s.init();
    let path = s.root().join("credentials.json");
    for (content, want) in [
        (
            &b"{\"credentials\": {\"a\": \"plain:7365637265742d76616c7565\""[..],
            "not valid JSON",
        ),
        (
            br#"["plain:7365637265742d76616c7565"]"#,
            "not a credentials file",
        ),
        (br#"{"settings": {}}"#, "no \"credentials\" object"),
    ] {
        std::fs::write(&path, content).unwrap();
        let run = s.run(&["import-legacy", path.to_str().unwrap()]);
        let line = run.fails(6);
        assert!(line.contains(want), "{line}");
        assert!(
            !line.contains("7365637265742d") && !line.contains("secret-value"),
            "{line}"
        );
    }
    let line = s
        .run(&[
            "import-legacy",
            s.root().join("missing.json").to_str().unwrap(),
        ])
        .fails(5)
        .to_owned();
    assert!(line.contains("no such file"), "{line}");
    // No vault yet: exit 5 with the init hint, nothing read beyond the file.
    let fresh = Sandbox::new();
    std::fs::write(fresh.root().join("c.json"), br#"{"credentials": {}}"#).unwrap();
    let line = fresh
        .run(&[
            "import-legacy",
            fresh.root().join("c.json").to_str().unwrap(),
        ])
        .fails(5)
        .to_owned();
    assert!(line.contains("credvault init"), "{line}");
}

// ---- the automatic v11 lookup in a real Secret Service ---------------------

/// The sandbox command, but with this process's D-Bus session.
fn with_session_bus(s: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = s.command(args);
    match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        Some(address) => cmd.env("DBUS_SESSION_BUS_ADDRESS", address),
        None => cmd.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        cmd.env("XDG_RUNTIME_DIR", dir);
    }
    cmd
}

#[test]
fn v11_password_is_found_in_a_real_secret_service() {
    if !crate::common::keyring_mode_runs(
        "secret-service",
        "legacy::v11_password_is_found_in_a_real_secret_service",
    ) {
        return;
    }
    let t = setup();
    // What the app's Electron leaves in the keyring: the password under
    // Chromium's schema, application = the app's name.
    let mut store = Command::new("secret-tool")
        .args([
            "store",
            "--label=claude-pilot Safe Storage",
            "xdg:schema",
            "chrome_libsecret_os_crypt_password_v2",
            "application",
            "claude-pilot",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("secret-tool (libsecret-tools)");
    std::io::Write::write_all(
        store.stdin.as_mut().unwrap(),
        vectors().v11_password.as_bytes(),
    )
    .unwrap();
    drop(store.stdin.take());
    assert!(store.wait().unwrap().success());

    let file = t.file.to_str().unwrap();
    let run = run_command(with_session_bus(&t.s, &["import-legacy", file]), None).ok();
    t.assert_no_values(&run);
    assert!(run.text().contains("(enc:v11)"), "{}", run.text());
    t.assert_intact();

    // Another app name finds no item, and the reason says where it looked.
    let s2 = setup();
    let run = run_command(
        with_session_bus(
            &s2.s,
            &[
                "import-legacy",
                s2.file.to_str().unwrap(),
                "--app-name",
                "not-installed",
            ],
        ),
        None,
    );
    assert_eq!(run.code, 6);
    assert!(
        run.text().contains("application \"not-installed\""),
        "{}",
        run.text()
    );
    // --no-keychain never asks the keyring.
    let run = run_command(
        with_session_bus(
            &s2.s,
            &["--no-keychain", "import-legacy", s2.file.to_str().unwrap()],
        ),
        None,
    );
    assert_eq!(run.code, 6);
    assert!(run.text().contains("--no-keychain"), "{}", run.text());
}

#[test]
fn v11_lookup_without_dbus_fails_fast() {
    if !crate::common::keyring_mode_runs("absent", "legacy::v11_lookup_without_dbus_fails_fast") {
        return;
    }
    let t = setup();
    let started = Instant::now();
    let run = run_command(
        with_session_bus(&t.s, &["import-legacy", t.file.to_str().unwrap()]),
        None,
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.text().contains("Secret Service"), "{}", run.text());
}

// ---- migrate-env ----------------------------------------------------------

#[test]
fn migrate_env_copies_set_variables_in_one_save() {
    let s = Sandbox::new();
    s.init();
    s.set("github.token", b"already-in-vault");
    let mut cmd = s.command(&["migrate-env"]);
    cmd.env("PGPASSWORD", "pg-from-env")
        .env("ANTHROPIC_API_KEY", "sk-ant-from-env")
        .env("OPENAI_API_KEY", "")
        .env("GITHUB_TOKEN", "ghp-from-env");
    let run = run_command(cmd, None).ok();
    let text = run.text();
    assert!(
        text.contains("moved     PGPASSWORD        -> postgresql.password"),
        "{text}"
    );
    assert!(
        text.contains("moved     ANTHROPIC_API_KEY -> anthropic.apiKey"),
        "{text}"
    );
    assert!(text.contains("unset     OPENAI_API_KEY"), "{text}");
    assert!(text.contains("kept      GITHUB_TOKEN"), "{text}");
    assert!(
        text.contains("unset     MEMGRAPH_PASSWORD -> memgraph.password"),
        "{text}"
    );
    assert!(
        run.stderr
            .contains("2 variable(s) copied into the vault in one save"),
        "{}",
        run.stderr
    );
    for secret in ["pg-from-env", "sk-ant-from-env", "ghp-from-env"] {
        assert!(!text.contains(secret) && !run.stderr.contains(secret));
    }
    assert_eq!(
        s.run(&["get", "postgresql.password"]).ok().stdout,
        b"pg-from-env\n"
    );
    assert_eq!(
        s.run(&["get", "github.token"]).ok().stdout,
        b"already-in-vault\n"
    );

    // Explicit pairs, JSON, --overwrite; a second run saves nothing.
    let mut cmd = s.command(&[
        "--json",
        "migrate-env",
        "GITHUB_TOKEN=github.token",
        "MY_DSN=db.dsn",
        "--overwrite",
    ]);
    cmd.env("GITHUB_TOKEN", "ghp-from-env")
        .env("MY_DSN", "postgres://x");
    let json = run_command(cmd, None).ok().json();
    assert_eq!(json[0]["status"], "moved");
    assert_eq!(json[1]["status"], "moved");
    assert_eq!(
        s.run(&["get", "github.token"]).ok().stdout,
        b"ghp-from-env\n"
    );
    let before = s.vault_bytes();
    let mut cmd = s.command(&["--json", "migrate-env", "GITHUB_TOKEN=github.token"]);
    cmd.env("GITHUB_TOKEN", "ghp-from-env");
    assert_eq!(run_command(cmd, None).ok().json()[0]["status"], "unchanged");
    assert_eq!(s.vault_bytes(), before);

    // A bad pair is a usage error; a bad key name fails that pair (exit 6).
    s.run(&["migrate-env", "NOEQUALS"]).fails(2);
    let mut cmd = s.command(&["migrate-env", "X=bad key"]);
    cmd.env("X", "x");
    assert_eq!(run_command(cmd, None).code, 6);
}

// ---- get --env / --config ---------------------------------------------------

#[test]
fn get_falls_back_to_the_environment_then_the_config_file() {
    let s = Sandbox::new();
    s.init();
    let config = s.root().join("config.json");
    std::fs::write(
        &config,
        br#"{"postgresql": {"password": "pg-from-config"},
             "credentials": {"github.token": "plain:6768702d66726f6d2d6a736f6e"}}"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let get = |args: &[&str], env: Option<&str>| {
        let mut cmd = s.command(args);
        if let Some(v) = env {
            cmd.env("PGPASSWORD", v);
        }
        run_command(cmd, None)
    };
    // Config only (variable unset).
    let run = get(
        &[
            "get",
            "postgresql.password",
            "--env",
            "PGPASSWORD",
            "--config",
            config,
        ],
        None,
    )
    .ok();
    assert_eq!(run.stdout, b"pg-from-config\n");
    assert!(
        run.stderr.contains("from the legacy config file"),
        "{}",
        run.stderr
    );
    // The environment before the config.
    let run = get(
        &[
            "get",
            "postgresql.password",
            "--env",
            "PGPASSWORD",
            "--config",
            config,
        ],
        Some("pg-from-env"),
    )
    .ok();
    assert_eq!(run.stdout, b"pg-from-env\n");
    assert!(
        run.stderr
            .contains("from the environment variable PGPASSWORD"),
        "{}",
        run.stderr
    );
    // The vault before both; JSON names the source.
    s.set("postgresql.password", b"pg-from-vault");
    let json = get(
        &[
            "--json",
            "get",
            "postgresql.password",
            "--env",
            "PGPASSWORD",
            "--config",
            config,
        ],
        Some("pg-from-env"),
    )
    .ok()
    .json();
    assert_eq!(json["value"], "pg-from-vault");
    assert_eq!(json["source"], "vault");
    let json = get(
        &[
            "--json",
            "get",
            "github.token",
            "--env",
            "GITHUB_TOKEN",
            "--config",
            config,
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(json["value"], "ghp-from-json");
    assert_eq!(json["source"], "config");
    assert!(json["config"].as_str().unwrap().ends_with("config.json"));
    // Nowhere: exit 1 naming the places looked at.
    let line = get(
        &[
            "get",
            "qdrant.apiKey",
            "--env",
            "QDRANT_API_KEY",
            "--config",
            config,
        ],
        None,
    )
    .fails(1)
    .to_owned();
    assert!(
        line.contains("$QDRANT_API_KEY") && line.contains("config.json"),
        "{line}"
    );
    // Plain `get` is unchanged: no fallback, no source note.
    let run = s.run(&["get", "postgresql.password"]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(s
        .run(&["--json", "get", "postgresql.password"])
        .ok()
        .json()
        .get("source")
        .is_none());
}

#[test]
fn get_with_fallback_works_before_a_vault_exists_but_not_past_a_wrong_passphrase() {
    let s = Sandbox::new();
    let mut cmd = s.command(&["--json", "get", "openai.apiKey", "--env", "OPENAI_API_KEY"]);
    cmd.env("OPENAI_API_KEY", "sk-env");
    let run = run_command(cmd, None).ok();
    assert_eq!(run.json()["source"], "environment");
    assert!(run.stderr.contains("no vault at"), "{}", run.stderr);
    s.init();
    let mut cmd = s.command(&["get", "openai.apiKey", "--env", "OPENAI_API_KEY"]);
    cmd.env("OPENAI_API_KEY", "sk-env")
        .env("CREDVAULT_PASSPHRASE", "wrong");
    run_command(cmd, None).fails(3);
}

// ---- exec -----------------------------------------------------------------

#[test]
fn exec_injects_values_only_into_the_programs_environment() {
    let s = Sandbox::new();
    s.init();
    s.set("postgresql.password", b"pg secret with spaces");
    s.set("github.token", b"ghp_exec_token");
    let run = s
        .run(&[
            "exec",
            "--env",
            "PGPASSWORD=postgresql.password",
            "--env",
            "GH=github.token",
            "--",
            "sh",
            "-c",
            r#"printf '%s|%s|%s\n' "$PGPASSWORD" "$GH" "${CREDVAULT_PASSPHRASE-unset}"; tr '\0' ' ' </proc/$$/cmdline; exit 7"#,
        ]);
    assert_eq!(run.code, 7, "the program's exit code: {run:?}");
    let out = run.text();
    let (values, cmdline) = out.split_once('\n').unwrap();
    assert_eq!(values, "pg secret with spaces|ghp_exec_token|unset");
    assert!(cmdline.starts_with("sh -c "), "{cmdline}");
    assert!(
        !cmdline.contains("pg secret") && !cmdline.contains("ghp_exec"),
        "{cmdline}"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn exec_failures() {
    let s = Sandbox::new();
    s.init();
    s.set("a.b", b"v");
    let marker = s.root().join("ran");
    let touch = format!("touch {}", marker.display());
    // A missing key: exit 1, the program never starts.
    s.run(&["exec", "--env", "X=missing.key", "--", "sh", "-c", &touch])
        .fails(1);
    assert!(!marker.exists());
    s.run(&["exec", "--env", "X=a.b", "--", "/nonexistent/program"])
        .fails(127);
    let not_executable = s.root().join("plain-file");
    std::fs::write(&not_executable, b"").unwrap();
    s.run(&[
        "exec",
        "--env",
        "X=a.b",
        "--",
        not_executable.to_str().unwrap(),
    ])
    .fails(126);
    s.run(&["exec", "--", "true"]).fails(2);
    s.run(&["exec", "--env", "X=a.b"]).fails(2);
    s.run(&["exec", "--env", "=a.b", "--", "true"]).fails(2);
    s.run(&["exec", "--env", "X=bad key", "--", "true"])
        .fails(2);
    // Arguments after -- reach the program untouched, options included.
    let run = s
        .run(&[
            "exec",
            "--env",
            "X=a.b",
            "--",
            "sh",
            "-c",
            "echo \"$X\" \"$@\"",
            "sh",
            "--json",
            "-x",
        ])
        .ok();
    assert_eq!(run.text(), "v --json -x\n");
}
