//! `passwd` (a rewrap: the data key stays, older copies keep opening with
//! the old passphrase) and `rekey` (a new data key: nothing old opens the
//! vault), checked through the library too; `export --danger-plaintext`
//! and `import` round trips.

use credvault::{Passphrase, PassphraseUnlocker, Vault, VaultError};

use crate::common::{recovery_code, recovery_codes, run_command, with_env, Sandbox, PASS, WEAK};

fn init(s: &Sandbox) -> String {
    let mut args = vec!["init"];
    args.extend(WEAK);
    let code = recovery_code(&s.run(&args).ok());
    s.set("a.text", b"alpha");
    s.set("b.bin", &[0, 1, 254, 255]);
    code
}

/// The data key of the vault file at `path`, opened by the library.
fn data_key(path: &std::path::Path, passphrase: &str) -> credvault::SecretKey {
    Vault::open(
        path,
        &mut PassphraseUnlocker::new(Passphrase::from(passphrase)),
    )
    .expect("opens")
    .data_key()
    .clone()
}

#[test]
fn passwd_rewraps_and_old_copies_keep_the_old_passphrase() {
    let s = Sandbox::new();
    init(&s);
    let backup = s.root().join("before.cvault");
    s.run(&["backup", backup.to_str().unwrap()]).ok();
    let dek = data_key(&s.vault, PASS);

    let run = with_env(
        &s,
        &[
            ("CREDVAULT_PASSPHRASE", PASS),
            ("CREDVAULT_NEW_PASSPHRASE", "a new passphrase"),
        ],
        &["passwd"],
    )
    .ok();
    assert!(run.stderr.contains("rewrap"), "{}", run.stderr);
    assert!(run.stderr.contains("rekey"), "{}", run.stderr);
    // The old passphrase fails, the new one works, the values are intact.
    s.run(&["ls"]).fails(3);
    let new = [("CREDVAULT_PASSPHRASE", "a new passphrase")];
    assert_eq!(
        with_env(&s, &new, &["get", "a.text"]).ok().stdout,
        b"alpha\n"
    );
    assert_eq!(
        with_env(&s, &new, &["get", "b.bin"]).ok().stdout,
        [0, 1, 254, 255, b'\n']
    );
    // Same data key: that is what a rewrap is.
    assert_eq!(
        data_key(&s.vault, "a new passphrase").expose(),
        dek.expose()
    );
    // The backup made before still opens with the old passphrase.
    s.run(&["verify", backup.to_str().unwrap()]).ok();
    with_env(&s, &new, &["verify", backup.to_str().unwrap()]).fails(3);

    // --new-passphrase-file, --slot and --json.
    let file = s.root().join("pw3.txt");
    std::fs::write(&file, "third\n").unwrap();
    let json = with_env(
        &s,
        &new,
        &[
            "--json",
            "passwd",
            "--slot",
            "1",
            "--new-passphrase-file",
            file.to_str().unwrap(),
        ],
    )
    .ok()
    .json();
    assert_eq!(json["slot"], 1);
    assert_eq!(json["rewrapped"], true);
    assert_eq!(json["kdf"]["memory_mib"], 8, "kept the slot's parameters");
    with_env(&s, &[("CREDVAULT_PASSPHRASE", "third")], &["ls"]).ok();
    // The change purged the generations, which opened with the previous
    // passphrase (issue 13): there is nothing to undo, and the previous
    // passphrase opens nothing kept beside the vault.
    assert_eq!(
        json["purged"],
        serde_json::json!([]),
        "the first passwd purged them"
    );
    with_env(&s, &[("CREDVAULT_PASSPHRASE", "third")], &["undo"]).fails(5);
    with_env(&s, &new, &["ls"]).fails(3);
    // Not a passphrase slot, no such slot: exit 2.
    let third = [("CREDVAULT_PASSPHRASE", "third")];
    let env = [
        ("CREDVAULT_PASSPHRASE", "third"),
        ("CREDVAULT_NEW_PASSPHRASE", "x"),
    ];
    with_env(&s, &env, &["passwd", "--slot", "2"]).fails(2);
    with_env(&s, &env, &["passwd", "--slot", "9"]).fails(2);
    // No new passphrase source without a terminal: exit 3, unchanged.
    let before = s.vault_bytes();
    with_env(&s, &third, &["passwd"]).fails(3);
    assert_eq!(s.vault_bytes(), before);
}

#[test]
fn rekey_replaces_the_data_key_every_wrap_and_the_recovery_code() {
    let s = Sandbox::new();
    let old_code = init(&s);
    let backup = s.root().join("before.cvault");
    s.run(&["backup", backup.to_str().unwrap()]).ok();
    let old_dek = data_key(&s.vault, PASS);

    let run = s.run(&["rekey"]).ok();
    let new_code = recovery_code(&run);
    assert_ne!(new_code, old_code);
    assert!(run.stderr.contains("rekeyed"), "{}", run.stderr);
    assert!(!run.stderr.contains(&new_code));

    // Values intact, passphrase unchanged, the new code opens it.
    assert_eq!(s.run(&["get", "a.text"]).ok().stdout, b"alpha\n");
    assert_eq!(
        s.run(&["get", "b.bin"]).ok().stdout,
        [0, 1, 254, 255, b'\n']
    );
    let rec = [("CREDVAULT_RECOVERY", new_code.as_str())];
    assert_eq!(
        with_env(&s, &rec, &["get", "a.text"]).ok().stdout,
        b"alpha\n"
    );
    // Nothing old opens it: not the old recovery code, not the old data key.
    with_env(&s, &[("CREDVAULT_RECOVERY", &old_code)], &["ls"]).fails(3);
    let new_dek = data_key(&s.vault, PASS);
    assert_ne!(new_dek.expose(), old_dek.expose());
    assert!(matches!(
        Vault::open_with_key(&s.vault, old_dek.clone(), credvault::OpenOptions::default()),
        Err(VaultError::Tampered)
    ));
    // The old backup still opens with its old credentials (and the old
    // data key), not with the new code.
    with_env(
        &s,
        &[("CREDVAULT_RECOVERY", &old_code)],
        &["verify", backup.to_str().unwrap()],
    )
    .ok();
    with_env(&s, &rec, &["verify", backup.to_str().unwrap()]).fails(3);
    Vault::open_with_key(&backup, old_dek, credvault::OpenOptions::default()).unwrap();

    // --keep-recovery-code keeps the code given; --json carries codes.
    let json = with_env(
        &s,
        &[
            ("CREDVAULT_PASSPHRASE", PASS),
            ("CREDVAULT_RECOVERY", &new_code),
        ],
        &["--json", "rekey", "--keep-recovery-code"],
    )
    .ok()
    .json();
    assert_eq!(json["recovery_codes"], serde_json::json!([]));
    with_env(&s, &rec, &["ls"]).ok();
    s.run(&["rekey", "--keep-recovery-code"]).fails(2);

    // Opened with the recovery code and no passphrase: the passphrase slot
    // cannot be wrapped again; refused, nothing changed.
    let before = s.vault_bytes();
    let line = with_env(&s, &rec, &["rekey"]).fails(3).to_owned();
    assert!(line.contains("slot 1 (passphrase)"), "{line}");
    assert!(line.contains("--drop-unavailable"), "{line}");
    assert_eq!(s.vault_bytes(), before);
    // ... unless it is dropped on purpose.
    let run = with_env(&s, &rec, &["--json", "rekey", "--drop-unavailable"]).ok();
    let json = run.json();
    let last = json["recovery_codes"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(json["slots"][0]["new_id"], serde_json::Value::Null);
    assert!(
        run.stderr.contains("dropped passphrase slot 1"),
        "{}",
        run.stderr
    );
    s.run(&["ls"]).fails(3);
    assert_eq!(
        with_env(&s, &[("CREDVAULT_RECOVERY", &last)], &["get", "a.text"])
            .ok()
            .stdout,
        b"alpha\n"
    );
    assert!(recovery_codes(&run).is_empty(), "json only");
}

#[test]
fn rekey_ends_a_session_unlock() {
    let s = Sandbox::new();
    init(&s);
    if s.run(&["unlock", "--for", "5m"]).code != 0 {
        crate::common::skip("the kernel keyring is not usable here");
        return;
    }
    with_env(&s, &[], &["ls"]).ok();
    let run = s.run(&["rekey"]).ok();
    assert!(
        run.stderr.contains("session unlock was ended"),
        "{}",
        run.stderr
    );
    with_env(&s, &[], &["ls"]).fails(3);
    assert_eq!(s.run(&["get", "a.text"]).ok().stdout, b"alpha\n");
}

/// With a real Secret Service: the keychain slot gets a new key in a new
/// item; the old item is gone.
#[test]
fn rekey_replaces_the_keychain_item() {
    if !crate::common::keyring_mode_runs(
        "secret-service",
        "rekey::rekey_replaces_the_keychain_item",
    ) {
        return;
    }
    let s = Sandbox::new();
    let keyed = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = s.command(args);
        cmd.env_remove("CREDVAULT_PASSPHRASE");
        if let Some(address) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", address);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_command(cmd, None)
    };
    let pass = [("CREDVAULT_PASSPHRASE", PASS)];
    let mut args = vec!["--json", "init"];
    args.extend(WEAK);
    let init = keyed(&pass, &args).ok().json();
    let old_account = init["keychain"]["account"].as_str().unwrap().to_owned();
    let accounts = || {
        let out = std::process::Command::new("secret-tool")
            .args(["search", "--all", "service", "credvault"])
            .output()
            .expect("secret-tool");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert!(accounts().contains(&old_account));
    let json = keyed(&pass, &["--json", "rekey"]).ok().json();
    // Slot 1 became slot 4 with a new item; 2 and 3 kept their ids.
    assert_eq!(json["slots"][0]["old_id"], 1);
    assert_eq!(json["slots"][0]["new_id"], 4);
    let vault_id = old_account.split('/').next().unwrap();
    let new_account = format!("{vault_id}/4");
    let now = accounts();
    assert!(!now.contains(&old_account), "{now:?}");
    assert!(now.contains(&new_account), "{now:?}");
    // The keychain still opens it, with no passphrase.
    let status = keyed(&[], &["--json", "status"]).ok().json();
    assert_eq!(status["unlocked_by"], "keychain");
    assert_eq!(status["unlocked_by_slot"], 4);
}

#[test]
fn export_and_import_round_trip_every_value() {
    let s = Sandbox::new();
    init(&s);
    s.set("c.unicode", "pässwörd ✓".as_bytes());
    s.set("d.empty", b"");
    s.set("e.control", b"line1\nline2\t\x01");

    // Refused without the flag; stdout refused without -o.
    let line = s.run(&["export"]).fails(2).to_owned();
    assert!(line.contains("--danger-plaintext"), "{line}");
    s.run(&["export", "--danger-plaintext"]).fails(2);

    let out = s.root().join("export.json");
    let arg = out.to_str().unwrap();
    let run = s
        .run(&["export", "--danger-plaintext", "--output", arg])
        .ok();
    assert!(run.stderr.contains("PLAINTEXT"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    #[cfg(unix)]
    assert_eq!(crate::common::mode(&out), 0o600);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["format"], "credvault-export-v1");
    assert_eq!(json["entries"]["a.text"]["value"], "alpha");
    assert_eq!(json["entries"]["a.text"]["kind"], "secret");
    assert!(json["entries"]["a.text"]["created"].is_u64());
    assert_eq!(json["entries"]["b.bin"]["value_base64"], "AAH+/w==");
    assert!(json["entries"]["b.bin"].get("value").is_none());
    assert_eq!(json["entries"].as_object().unwrap().len(), 5);
    // Never over an existing file.
    let before = std::fs::read(&out).unwrap();
    s.run(&["export", "--danger-plaintext", "-o", arg]).fails(5);
    assert_eq!(std::fs::read(&out).unwrap(), before);
    // -o - writes to a pipe.
    let piped = s.run(&["export", "--danger-plaintext", "-o", "-"]).ok();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&piped.stdout).unwrap(),
        json
    );

    // Into another vault: everything imported, byte for byte.
    let t = Sandbox::new();
    let mut args = vec!["init", "--no-recovery"];
    args.extend(WEAK);
    t.run(&args).ok();
    t.set("a.text", b"something else");
    let json = t.run(&["--json", "import", arg]).ok().json();
    assert_eq!(json["imported"], 4);
    assert_eq!(json["kept"], 1);
    for key in ["b.bin", "c.unicode", "d.empty", "e.control"] {
        assert_eq!(
            t.run(&["get", key]).ok().stdout,
            s.run(&["get", key]).ok().stdout,
            "{key}"
        );
    }
    assert_eq!(t.run(&["get", "a.text"]).ok().stdout, b"something else\n");
    // Again: nothing to do. With --overwrite the kept one is replaced.
    let again = t.run(&["import", arg]).ok();
    assert!(
        again.text().contains("unchanged  b.bin"),
        "{}",
        again.text()
    );
    assert!(again.stderr.contains("nothing to save"), "{}", again.stderr);
    let json = t.run(&["--json", "import", "--overwrite", arg]).ok().json();
    assert_eq!(json["replaced"], 1);
    assert_eq!(json["unchanged"], 4);
    assert_eq!(t.run(&["get", "a.text"]).ok().stdout, b"alpha\n");
    // Values never appear in the report.
    assert!(!again.text().contains("alpha") && !again.stderr.contains("alpha"));

    // A bad file changes nothing: exit 2.
    let before = t.vault_bytes();
    for bad in [
        r#"{"format":"other","entries":{}}"#,
        r#"{"format":"credvault-export-v1","entries":{"bad name":{"value":"x"}}}"#,
        r#"{"format":"credvault-export-v1","entries":{"k":{"value":"x","value_base64":"eA=="}}}"#,
        r#"{"format":"credvault-export-v1","entries":{"ok":{"value":"1"},"k":{"value_base64":"%%"}}}"#,
        "not json",
    ] {
        let file = t.root().join("bad.json");
        std::fs::write(&file, bad).unwrap();
        t.run(&["import", file.to_str().unwrap()]).fails(2);
    }
    assert_eq!(t.vault_bytes(), before);
    t.run(&["import", t.root().join("missing.json").to_str().unwrap()])
        .fails(5);
}
