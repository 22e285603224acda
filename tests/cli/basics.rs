//! Every command on its happy path.

use base64::Engine as _;

use crate::common::{run_command, Sandbox, PASS, WEAK};

#[test]
fn init_creates_a_private_vault() {
    let s = Sandbox::new();
    let mut args = vec!["init"];
    args.extend(WEAK);
    let run = s.run(&args).ok();
    // Text mode prints notes on stderr; stdout has only the recovery
    // code, framed, shown this once.
    let code = crate::common::recovery_code(&run);
    assert!(run.text().contains("Write it down"), "{}", run.text());
    assert!(!run.stderr.contains(&code), "{}", run.stderr);
    assert!(
        run.stderr.contains("below the OWASP minimum"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("created vault"), "{}", run.stderr);
    #[cfg(unix)]
    {
        assert_eq!(crate::common::mode(&s.vault), 0o600);
        assert_eq!(crate::common::mode(s.vault.parent().unwrap()), 0o700);
    }
    assert!(s.run(&["ls"]).ok().stdout.is_empty());
}

#[test]
fn get_prints_value_and_one_newline_after_stripping_one() {
    let s = Sandbox::new();
    s.init();
    // Three newlines in, one stripped: the value is "a\n\n".
    s.set("nl", b"a\n\n\n");
    assert_eq!(s.run(&["get", "nl"]).ok().stdout, b"a\n\n\n");
    let json = s.run(&["get", "nl", "--json"]).ok().json();
    assert_eq!(json["value"], "a\n\n");
    // CR LF counts as one newline; a lone CR is kept.
    s.set("crlf", b"v\r\n");
    assert_eq!(s.run(&["get", "crlf"]).ok().stdout, b"v\n");
    s.set("cr", b"v\r");
    assert_eq!(s.run(&["get", "cr"]).ok().stdout, b"v\r\n");
    // No newline at all: nothing stripped.
    s.set("plain", b"s3cr3t");
    assert_eq!(s.run(&["get", "plain"]).ok().stdout, b"s3cr3t\n");
}

#[test]
fn unicode_binary_and_empty_values_round_trip() {
    let s = Sandbox::new();
    s.init();
    let unicode = "pässwörd ✓ 🔑 \u{202E}rtl".as_bytes();
    s.set("uni", unicode);
    let mut want = unicode.to_vec();
    want.push(b'\n');
    assert_eq!(s.run(&["get", "uni"]).ok().stdout, want);
    assert_eq!(
        s.run(&["get", "uni", "--json"]).ok().json()["value"],
        "pässwörd ✓ 🔑 \u{202E}rtl"
    );

    let binary: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, 0x00, 0x80]).collect();
    s.set("bin", &binary);
    let mut want = binary.clone();
    want.push(b'\n');
    assert_eq!(s.run(&["get", "bin"]).ok().stdout, want);
    let json = s.run(&["get", "bin", "--json"]).ok().json();
    assert!(json["value"].is_null());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(json["value_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, binary);

    s.set("empty", b"");
    assert_eq!(s.run(&["get", "empty"]).ok().stdout, b"\n");
    // A lone newline is an empty value too.
    s.set("empty2", b"\n");
    assert_eq!(s.run(&["get", "empty2"]).ok().stdout, b"\n");
    assert_eq!(s.run(&["get", "empty", "--json"]).ok().json()["value"], "");
}

#[test]
fn one_mib_value_round_trips() {
    let s = Sandbox::new();
    s.init();
    let value: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    s.set("big", &value);
    let out = s.run(&["get", "big"]).ok().stdout;
    assert_eq!(out.len(), value.len() + 1);
    assert_eq!(&out[..value.len()], &value[..]);
    assert_eq!(out.last(), Some(&b'\n'));
}

#[test]
fn set_overwrites_and_rm_deletes() {
    let s = Sandbox::new();
    s.init();
    s.set("k", b"one");
    s.set("k", b"two");
    assert_eq!(s.run(&["get", "k"]).ok().stdout, b"two\n");
    assert!(s.run(&["rm", "k"]).ok().stdout.is_empty());
    s.run(&["get", "k"]).fails(1);
    s.run(&["rm", "k"]).fails(1);
}

#[test]
fn aliases_match_the_app_api() {
    let s = Sandbox::new();
    s.init();
    s.run_stdin(&["store", "github.token"], b"gh\n").ok();
    assert_eq!(s.run(&["retrieve", "github.token"]).ok().stdout, b"gh\n");
    assert_eq!(s.run(&["list"]).ok().stdout, b"github.token\n");
    s.run(&["delete", "github.token"]).ok();
    assert!(s.run(&["list"]).ok().stdout.is_empty());
}

#[test]
fn has_answers_with_its_exit_code() {
    let s = Sandbox::new();
    s.init();
    s.set("postgresql.password", b"pg");
    let yes = s.run(&["has", "postgresql.password"]).ok();
    assert!(yes.stdout.is_empty() && yes.stderr.is_empty());
    let no = s.run(&["has", "postgresql.user"]);
    assert_eq!(no.code, 1);
    assert!(no.stdout.is_empty() && no.stderr.is_empty(), "{no:?}");
    let json = s.run(&["has", "postgresql.password", "--json"]).ok().json();
    assert_eq!(
        json,
        serde_json::json!({"key": "postgresql.password", "present": true})
    );
    let absent = s.run(&["has", "nope", "--json"]);
    assert_eq!(absent.code, 1);
    assert_eq!(
        absent.json(),
        serde_json::json!({"key": "nope", "present": false})
    );
}

#[test]
fn ls_filters_by_prefix_and_sorts() {
    let s = Sandbox::new();
    s.init();
    for key in [
        "github.token",
        "anthropic.apiKey",
        "github.refreshToken",
        "githubx",
    ] {
        s.set(key, b"v");
    }
    assert_eq!(
        s.run(&["ls"]).ok().text(),
        "anthropic.apiKey\ngithub.refreshToken\ngithub.token\ngithubx\n"
    );
    assert_eq!(
        s.run(&["ls", "github."]).ok().text(),
        "github.refreshToken\ngithub.token\n"
    );
    assert_eq!(
        s.run(&["ls", "github.", "--json"]).ok().json(),
        serde_json::json!(["github.refreshToken", "github.token"])
    );
    assert_eq!(
        s.run(&["ls", "zzz", "--json"]).ok().json(),
        serde_json::json!([])
    );
}

#[test]
fn json_shapes_of_every_command() {
    let s = Sandbox::new();
    let mut args = vec!["init", "--json"];
    args.extend(WEAK);
    let init = s.run(&args).ok().json();
    assert_eq!(init["created"], true);
    assert_eq!(init["backend"], "passphrase");
    assert_eq!(init["kdf"]["memory_mib"], 8);
    assert_eq!(init["kdf"]["iterations"], 1);
    assert_eq!(init["kdf"]["parallelism"], 1);
    assert_eq!(init["kdf"]["weak"], true);
    assert!(init["calibration_ms"].is_null());
    assert_eq!(init["path"], s.vault.display().to_string());

    let set = s.run_stdin(&["set", "a.b", "--json"], b"v\n").ok().json();
    assert_eq!(set, serde_json::json!({"key": "a.b", "stored": true}));
    let get = s.run(&["--json", "get", "a.b"]).ok().json();
    assert_eq!(get, serde_json::json!({"key": "a.b", "value": "v"}));
    let rm = s.run(&["rm", "a.b", "--json"]).ok().json();
    assert_eq!(rm, serde_json::json!({"key": "a.b", "deleted": true}));
}

#[test]
fn status_reports_without_values() {
    let s = Sandbox::new();
    s.init();
    s.set("github.token", b"ghp_status_secret");
    let json = s.run(&["status", "--json"]).ok().json();
    assert_eq!(json["path"], s.vault.display().to_string());
    assert_eq!(json["format_version"], "1.0");
    assert_eq!(json["encryption_available"], true);
    assert_eq!(json["backend"], "passphrase");
    assert_eq!(json["entries"], 1);
    assert_eq!(json["save_counter"], 2);
    let slots = json["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0]["id"], 1);
    assert_eq!(slots[0]["type"], "passphrase");
    assert_eq!(slots[0]["unlocked"], true);
    assert_eq!(slots[0]["kdf"]["memory_kib"], 8192);
    // init adds a recovery slot by default.
    assert_eq!(slots[1]["id"], 2);
    assert_eq!(slots[1]["type"], "recovery");
    assert_eq!(slots[1]["unlocked"], false);
    let warnings = json["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("OWASP")),
        "{warnings:?}"
    );

    let text = s.run(&["status"]).ok();
    let text = text.text();
    for needle in [
        "format version:       1.0",
        "backend:              passphrase",
        "entries:              1",
        "1: passphrase, Argon2id m=8 MiB t=1 p=1",
        "OWASP",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!text.contains("ghp_status_secret"));
}

#[cfg(unix)]
#[test]
fn status_warns_about_loose_modes() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    s.init();
    std::fs::set_permissions(&s.vault, std::fs::Permissions::from_mode(0o644)).unwrap();
    let json = s.run(&["status", "--json"]).ok().json();
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("mode 0644"), "{warnings}");
}

#[test]
fn vault_flag_beats_environment_and_default_is_xdg() {
    let s = Sandbox::new();
    // Default: $XDG_DATA_HOME/credvault/vault.cvault.
    let mut cmd = s.command(&["init"]);
    cmd.env_remove("CREDVAULT_VAULT").args(WEAK);
    run_command(cmd, None).ok();
    let default = s.root().join("data/credvault/vault.cvault");
    assert!(default.is_file());

    // Without XDG_DATA_HOME: ~/.local/share/credvault/vault.cvault.
    let mut cmd = s.command(&["init"]);
    cmd.env_remove("CREDVAULT_VAULT")
        .env_remove("XDG_DATA_HOME")
        .args(WEAK);
    run_command(cmd, None).ok();
    assert!(s
        .root()
        .join(".local/share/credvault/vault.cvault")
        .is_file());

    // --vault wins over CREDVAULT_VAULT.
    let other = s.root().join("other.cvault");
    let other = other.to_str().unwrap();
    let mut args = vec!["--vault", other, "init"];
    args.extend(WEAK);
    s.run(&args).ok();
    assert!(!s.vault.exists());
    s.run_stdin(&["--vault", other, "set", "k"], b"v").ok();
    assert_eq!(s.run(&["get", "k", "--vault", other]).ok().stdout, b"v\n");
}

#[test]
fn passphrase_file_wins_and_loses_one_newline() {
    let s = Sandbox::new();
    s.init();
    let file = s.root().join("pass.txt");
    std::fs::write(&file, format!("{PASS}\n")).unwrap();
    let file = file.to_str().unwrap();
    // The environment holds a wrong passphrase; the file wins.
    let mut cmd = s.command(&["--passphrase-file", file, "ls"]);
    cmd.env("CREDVAULT_PASSPHRASE", "wrong");
    run_command(cmd, None).ok();
    // CR LF is one newline too.
    let crlf = s.root().join("pass-crlf.txt");
    std::fs::write(&crlf, format!("{PASS}\r\n")).unwrap();
    let mut cmd = s.command(&["ls", "--passphrase-file", crlf.to_str().unwrap()]);
    cmd.env_remove("CREDVAULT_PASSPHRASE");
    run_command(cmd, None).ok();
}

#[test]
fn a_closed_stdout_pipe_exits_zero() {
    let s = Sandbox::new();
    s.init();
    s.set("big", &vec![b'x'; 1024 * 1024]);
    for args in [&["get", "big"][..], &["get", "big", "--json"], &["man"]] {
        let mut child = s.command(args).spawn().unwrap();
        // Close the read end before the child writes.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
}

#[test]
fn lock_timeout_flag_is_accepted_and_writes_land() {
    let s = Sandbox::new();
    s.init();
    s.run_stdin(&["--lock-timeout", "1", "set", "k"], b"v").ok();
    assert_eq!(s.run(&["get", "k"]).ok().stdout, b"v\n");
    // --no-keychain changes nothing for a passphrase vault.
    assert_eq!(s.run(&["--no-keychain", "get", "k"]).ok().stdout, b"v\n");
}

/// One run of the real calibration (a few seconds): the chosen parameters
/// are at or above the OWASP floor and reported on stderr.
#[test]
fn init_calibrates_by_default() {
    let s = Sandbox::new();
    let run = s.run(&["init"]).ok();
    assert!(run.stderr.contains("calibrated"), "{}", run.stderr);
    let json = s.run(&["status", "--json"]).ok().json();
    let kdf = &json["slots"][0]["kdf"];
    assert!(kdf["memory_mib"].as_u64().unwrap() >= 19, "{kdf}");
    assert!(kdf["iterations"].as_u64().unwrap() >= 2, "{kdf}");
    assert_eq!(kdf["parallelism"], 4);
    assert_eq!(kdf["weak"], false);
}

/// Core dumps are off for the process (Linux): observed on a `set` that
/// blocks reading its stdin.
#[cfg(target_os = "linux")]
#[test]
fn core_dumps_are_disabled() {
    use std::process::Stdio;
    let s = Sandbox::new();
    s.init();
    let mut cmd = s.command(&["set", "k"]);
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = String::new();
    while std::time::Instant::now() < deadline {
        seen = std::fs::read_to_string(&limits).unwrap_or_default();
        let core = seen.lines().find(|l| l.starts_with("Max core file size"));
        if core.is_some_and(|l| l.split_whitespace().skip(4).take(2).all(|v| v == "0")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let core = seen
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_default();
    assert!(
        core.split_whitespace().skip(4).take(2).all(|v| v == "0") && !core.is_empty(),
        "{core:?}"
    );
}
