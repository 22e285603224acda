//! Every failure class: the documented exit code, exactly one line on
//! stderr with a hint for the common cases, nothing secret in it, and the
//! vault file untouched.

use std::process::Stdio;

use credvault::{KdfParams, NewSlot, Passphrase, Vault};

use crate::common::{run_command, Sandbox, PASS, WEAK};

/// A value no error message may ever contain.
const VALUE: &[u8] = b"value-that-must-not-leak";

fn assert_no_secret(line: &str) {
    assert!(!line.contains(PASS), "passphrase in stderr: {line}");
    assert!(
        !line.contains(std::str::from_utf8(VALUE).unwrap()),
        "value in stderr: {line}"
    );
}

#[test]
fn no_vault_yet_exits_5_with_init_hint() {
    let s = Sandbox::new();
    for args in [
        &["get", "k"][..],
        &["set", "k"],
        &["rm", "k"],
        &["has", "k"],
        &["ls"],
        &["status"],
    ] {
        let run = s.run_stdin(args, VALUE);
        let line = run.fails(5);
        assert!(line.contains("no vault at"), "{args:?}: {line}");
        assert!(line.contains("credvault init"), "{args:?}: {line}");
        assert_no_secret(line);
    }
    assert!(!s.vault.exists());
    // In JSON mode the one line is a JSON object.
    let run = s.run(&["get", "k", "--json"]);
    let line = run.fails(5);
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(json["exit_code"], 5);
    assert_eq!(json["kind"], "file_system");
    assert!(json["hint"].as_str().unwrap().contains("credvault init"));
}

#[test]
fn init_twice_exits_5_and_changes_nothing() {
    let s = Sandbox::new();
    s.init();
    s.set("k", VALUE);
    let before = s.vault_bytes();
    let mut args = vec!["init"];
    args.extend(WEAK);
    let run = s.run(&args);
    let line = run.fails(5);
    assert!(line.contains("already exists"), "{line}");
    assert_eq!(s.vault_bytes(), before);
    // Also with calibration requested: refused before any work.
    s.run(&["init"]).fails(5);
    assert_eq!(s.vault_bytes(), before);
}

#[test]
fn missing_key_exits_1() {
    let s = Sandbox::new();
    s.init();
    let run = s.run(&["get", "postgresql.password"]);
    assert_eq!(
        run.fails(1),
        "credvault: error: no entry named postgresql.password"
    );
    s.run(&["rm", "postgresql.password"]).fails(1);
    let has = s.run(&["has", "postgresql.password"]);
    assert_eq!(has.code, 1);
}

#[test]
fn wrong_passphrase_exits_3() {
    let s = Sandbox::new();
    s.init();
    s.set("k", VALUE);
    let before = s.vault_bytes();
    for args in [&["get", "k"][..], &["set", "k"], &["ls"], &["status"]] {
        let mut cmd = s.command(args);
        cmd.env("CREDVAULT_PASSPHRASE", "not the passphrase");
        let run = run_command(cmd, Some(VALUE));
        let line = run.fails(3);
        assert!(line.contains("wrong passphrase"), "{line}");
        assert!(line.contains("hint:"), "{line}");
        assert!(!line.contains("not the passphrase"), "{line}");
        assert_no_secret(line);
    }
    assert_eq!(s.vault_bytes(), before);
}

#[test]
fn no_passphrase_source_without_a_tty_exits_3() {
    let s = Sandbox::new();
    s.init();
    for args in [&["get", "k"][..], &["set", "k"], &["ls"], &["status"]] {
        let mut cmd = s.command(args);
        cmd.env_remove("CREDVAULT_PASSPHRASE");
        let run = run_command(cmd, Some(VALUE));
        let line = run.fails(3);
        assert!(line.contains("--passphrase-file"), "{args:?}: {line}");
        assert!(line.contains("CREDVAULT_PASSPHRASE"), "{args:?}: {line}");
        assert_no_secret(line);
    }
    // init on a fresh path needs a passphrase too, and creates nothing.
    let fresh = s.root().join("new.cvault");
    let mut cmd = s.command(&["--vault", fresh.to_str().unwrap(), "init"]);
    cmd.env_remove("CREDVAULT_PASSPHRASE").args(WEAK);
    assert!(run_command(cmd, None)
        .fails(3)
        .contains("CREDVAULT_PASSPHRASE"));
    assert!(!fresh.exists());
    // An empty CREDVAULT_PASSPHRASE counts as unset.
    let mut cmd = s.command(&["ls"]);
    cmd.env("CREDVAULT_PASSPHRASE", "");
    run_command(cmd, None).fails(3);
    // An unreadable passphrase file.
    let run = s.run(&["--passphrase-file", "/nonexistent/pass", "ls"]);
    assert!(run.fails(3).contains("passphrase file"));
}

#[test]
fn empty_passphrase_is_refused_at_init() {
    let s = Sandbox::new();
    let file = s.root().join("empty-pass");
    std::fs::write(&file, "\n").unwrap();
    let mut args = vec!["--passphrase-file", file.to_str().unwrap(), "init"];
    args.extend(WEAK);
    s.run(&args).fails(2);
    assert!(!s.vault.exists());
}

#[test]
fn corrupted_vault_exits_4_and_stays_unchanged() {
    let s = Sandbox::new();
    s.init();
    s.set("k", VALUE);
    let mut bytes = s.vault_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01; // inside the body's tag
    std::fs::write(&s.vault, &bytes).unwrap();
    for args in [
        &["get", "k"][..],
        &["set", "k"],
        &["rm", "k"],
        &["ls"],
        &["status"],
    ] {
        let line = s.run_stdin(args, VALUE).fails(4).to_owned();
        assert!(line.contains("tampered"), "{args:?}: {line}");
        assert_no_secret(&line);
        assert_eq!(s.vault_bytes(), bytes, "{args:?} changed the file");
    }
}

#[test]
fn truncated_vault_exits_4() {
    let s = Sandbox::new();
    s.init();
    s.set("k", VALUE);
    let bytes = s.vault_bytes();
    for len in [0, 5, 13, 40, bytes.len() - 1] {
        std::fs::write(&s.vault, &bytes[..len]).unwrap();
        let line = s.run(&["get", "k"]).fails(4).to_owned();
        assert!(
            line.contains("truncated") || line.contains("not a credvault vault"),
            "{len}: {line}"
        );
        assert_eq!(s.vault_bytes(), &bytes[..len]);
    }
}

#[test]
fn a_text_file_is_not_a_vault() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.vault.parent().unwrap()).unwrap();
    let text = b"{ \"credentials\": { \"github.token\": \"plain:6768\" } }\n";
    std::fs::write(&s.vault, text).unwrap();
    for args in [&["ls"][..], &["set", "k"], &["status"]] {
        let line = s.run_stdin(args, VALUE).fails(4).to_owned();
        assert!(line.contains("not a credvault vault"), "{line}");
        assert!(line.contains("hint:"), "{line}");
    }
    assert_eq!(s.vault_bytes(), text);
    // init refuses to overwrite it.
    let mut args = vec!["init"];
    args.extend(WEAK);
    s.run(&args).fails(5);
    assert_eq!(s.vault_bytes(), text);
}

#[test]
fn a_newer_major_version_exits_4() {
    let s = Sandbox::new();
    s.init();
    let mut bytes = s.vault_bytes();
    bytes[8] = 2;
    std::fs::write(&s.vault, &bytes).unwrap();
    let line = s.run(&["ls"]).fails(4).to_owned();
    assert!(line.contains("newer credvault"), "{line}");
}

#[test]
fn kdf_work_above_the_limits_exits_3() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.vault.parent().unwrap()).unwrap();
    // 17 passes: above the reader's limit of 16 (built with the library;
    // the CLI's init refuses such parameters).
    let kdf = KdfParams::new(8 * 1024, 17, 1).unwrap();
    Vault::create(&s.vault, NewSlot::Passphrase(&Passphrase::from(PASS), kdf)).unwrap();
    let line = s.run(&["ls"]).fails(3).to_owned();
    assert!(line.contains("t=17"), "{line}");
}

#[test]
fn invalid_key_names_exit_2_before_anything_else() {
    let s = Sandbox::new();
    // No vault: the name is checked first.
    for name in ["", "a b", ".a", "a..b", "a/b", "é", &"x".repeat(257)] {
        for cmd in ["get", "set", "rm", "has"] {
            let run = s.run_stdin(&[cmd, name], VALUE);
            let line = run.fails(2);
            assert!(line.contains("invalid key name"), "{cmd} {name:?}: {line}");
        }
    }
    s.init();
    s.run_stdin(&["set", "bad name"], VALUE).fails(2);
    assert!(s.run(&["ls"]).ok().stdout.is_empty());
}

#[test]
fn usage_errors_exit_2_in_one_line() {
    let s = Sandbox::new();
    s.init();
    for args in [
        &["get"][..],
        &["bogus"],
        &["ls", "--frobnicate"],
        &["init", "--kdf-memory-mib", "8"],
        &[
            "init",
            "--kdf-memory-mib",
            "4",
            "--kdf-iterations",
            "1",
            "--kdf-parallelism",
            "1",
        ],
        &[
            "init",
            "--kdf-memory-mib",
            "8",
            "--kdf-iterations",
            "0",
            "--kdf-parallelism",
            "1",
        ],
        &["--lock-timeout", "soon", "ls"],
        &["completions", "tcsh"],
    ] {
        let line = s.run(args).fails(2).to_owned();
        assert!(line.starts_with("credvault: error: "), "{args:?}: {line}");
        assert!(line.contains("credvault --help"), "{args:?}: {line}");
        assert!(!line.contains("For more information"), "{args:?}: {line}");
    }
    let json = s.run(&["get", "--json"]);
    let line: serde_json::Value = serde_json::from_str(json.fails(2)).unwrap();
    assert_eq!(line["kind"], "usage");
}

#[test]
fn a_value_on_the_command_line_is_refused_and_not_echoed() {
    let s = Sandbox::new();
    s.init();
    for args in [
        &["set", "k", "value-that-must-not-leak"][..],
        &["set", "k", "--value-that-must-not-leak"],
        &["store", "k", "-value-that-must-not-leak"],
        &["set", "k", "--", "value-that-must-not-leak"],
    ] {
        let line = s.run(args).fails(2).to_owned();
        assert!(
            line.contains("never from the command line"),
            "{args:?}: {line}"
        );
        assert_no_secret(&line);
    }
    assert!(s.run(&["ls"]).ok().stdout.is_empty());
}

#[test]
fn a_value_above_the_limit_exits_2() {
    let s = Sandbox::new();
    s.init();
    let before = s.vault_bytes();
    let too_big = vec![b'v'; 4 * 1024 * 1024 + 1];
    let line = s.run_stdin(&["set", "k"], &too_big).fails(2).to_owned();
    assert!(line.contains("limit"), "{line}");
    assert_eq!(s.vault_bytes(), before);
    // Exactly at the limit, plus the stripped newline, is fine.
    let mut at_limit = vec![b'v'; 4 * 1024 * 1024];
    at_limit.push(b'\n');
    s.run_stdin(&["set", "k"], &at_limit).ok();
}

#[test]
fn lock_timeout_exits_5_with_hint() {
    let s = Sandbox::new();
    s.init();
    let before = s.vault_bytes();
    // Hold the writers' lock as another credvault would.
    let lock = std::fs::File::create(s.vault.with_extension("cvault.lock")).unwrap();
    lock.lock().unwrap();
    let line = s
        .run_stdin(&["--lock-timeout", "0", "set", "k"], VALUE)
        .fails(5)
        .to_owned();
    assert!(line.contains("timed out"), "{line}");
    assert!(line.contains("--lock-timeout"), "{line}");
    assert_no_secret(&line);
    // Readers need no lock.
    s.run(&["ls"]).ok();
    lock.unlock().unwrap();
    assert_eq!(s.vault_bytes(), before);
}

#[test]
fn a_directory_instead_of_a_file_exits_5() {
    let s = Sandbox::new();
    std::fs::create_dir_all(&s.vault).unwrap();
    s.run(&["ls"]).fails(5);
}

#[test]
fn no_command_prints_help_and_exits_2() {
    let s = Sandbox::new();
    let mut cmd = s.command(&[]);
    cmd.stdout(Stdio::piped());
    let run = run_command(cmd, None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("Usage: credvault"), "{run:?}");
}
