//! Issue 13, the security review: each test here failed on the code
//! before the fix it pins.

use crate::common::{recovery_code, run_command, Sandbox, PASS, WEAK};

/// `init` with weak parameters; the recovery code it printed.
fn init_with_code(s: &Sandbox) -> String {
    let mut args = vec!["init"];
    args.extend(WEAK);
    recovery_code(&s.run(&args).ok())
}

// ---- no secret variable reaches a child ---------------------------------

#[test]
fn exec_passes_no_secret_variable_to_the_program() {
    let s = Sandbox::new();
    let code = init_with_code(&s);
    s.set("github.token", b"ghp_child");
    let mut cmd = s.command(&["exec", "--env", "GH=github.token", "--", "env"]);
    cmd.env("CREDVAULT_RECOVERY", &code)
        .env("CREDVAULT_NEW_PASSPHRASE", "new passphrase here");
    let run = run_command(cmd, None);
    assert_eq!(run.code, 0, "{run:?}");
    let env = run.text();
    assert!(env.contains("GH=ghp_child"), "{env}");
    for var in credvault::secret_env::ALL {
        assert!(!env.contains(var), "{var} reached the child:\n{env}");
    }
    assert!(!env.contains(&code) && !env.contains(PASS), "{env}");
}

// ---- nothing echoed -------------------------------------------------------

#[test]
fn usage_errors_never_echo_an_argument() {
    let s = Sandbox::new();
    s.init();
    let cases: [&[&str]; 7] = [
        &["passwd", "hunter2"],
        &["get", "a.b", "hunter2"],
        &["hunter2"],
        &["--hunter2", "ls"],
        &["passwd", "--slot", "hunter2"],
        &["--generations", "9hunter2", "ls"],
        &["ls", "--json=hunter2"],
    ];
    for args in cases {
        for json in [false, true] {
            let mut all: Vec<&str> = if json { vec!["--json"] } else { vec![] };
            all.extend_from_slice(args);
            let run = s.run(&all);
            assert_eq!(run.code, 2, "{all:?}: {run:?}");
            assert!(
                !run.stderr.contains("hunter2") && !run.text().contains("hunter2"),
                "{all:?} echoed the argument: {}",
                run.stderr
            );
            assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
        }
    }
    // Names from the CLI's own definition are still there to help.
    let run = s.run(&["passwd", "--slot", "x"]);
    assert!(run.stderr.contains("--slot"), "{}", run.stderr);
}

// ---- a new recovery code is never lost ------------------------------------

/// `credvault ARGS` with stdout closed (`>&-`), through sh.
fn with_closed_stdout(s: &Sandbox, args: &[&str]) -> crate::common::Run {
    let mut cmd = s.command(&[]);
    let bin = env!("CARGO_BIN_EXE_credvault");
    let mut line = format!("exec '{bin}'");
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    line.push_str(" >&-");
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(line);
    // The sandbox's environment, not its program.
    sh.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    cmd.arg("unused");
    sh.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    run_command(sh, None)
}

#[test]
fn a_closed_stdout_never_loses_a_new_recovery_code() {
    let s = Sandbox::new();
    // init: nothing is created.
    let mut args = vec!["init"];
    args.extend(WEAK);
    let run = with_closed_stdout(&s, &args);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("recovery code"), "{}", run.stderr);
    assert!(
        !s.vault.exists(),
        "init created a vault whose code nobody saw"
    );

    let code = init_with_code(&s);
    s.set("a.b", b"v");
    let before = s.vault_bytes();
    for args in [&["recovery", "rotate"][..], &["rekey"][..]] {
        let run = with_closed_stdout(&s, args);
        assert_eq!(run.code, 5, "{args:?}: {run:?}");
        assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
        assert_eq!(s.vault_bytes(), before, "{args:?} changed the vault");
    }
    // The old code still opens the vault.
    let mut cmd = s.command(&["get", "a.b"]);
    cmd.env_remove("CREDVAULT_PASSPHRASE")
        .env("CREDVAULT_RECOVERY", &code);
    assert_eq!(run_command(cmd, None).ok().stdout, b"v\n");
}

#[test]
fn recovery_out_writes_a_new_private_file_before_the_change() {
    let s = Sandbox::new();
    let out = s.root().join("code.txt");
    let out_str = out.to_str().unwrap();
    let mut args = vec!["init", "--recovery-out", out_str];
    args.extend(WEAK);
    let run = s.run(&args).ok();
    assert!(run.stdout.is_empty(), "the code went to the file only");
    assert_eq!(crate::common::mode(&out), 0o600);
    let first = std::fs::read_to_string(&out).unwrap();
    s.set("a.b", b"v");
    let get = |file: &str| {
        let mut cmd = s.command(&["--recovery-file", file, "get", "a.b"]);
        cmd.env_remove("CREDVAULT_PASSPHRASE");
        run_command(cmd, None)
    };
    assert_eq!(get(out_str).ok().stdout, b"v\n");

    // An existing file is never overwritten, and nothing changes.
    let before = s.vault_bytes();
    let run = s.run(&["recovery", "rotate", "--recovery-out", out_str]);
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(s.vault_bytes(), before);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);

    let rotated = s.root().join("rotated.txt");
    let rotated_str = rotated.to_str().unwrap();
    let run = s
        .run(&[
            "--json",
            "recovery",
            "rotate",
            "--recovery-out",
            rotated_str,
        ])
        .ok();
    let json = run.json();
    assert!(json["recovery_code"].is_null(), "{json}");
    assert_eq!(json["recovery_code_file"], rotated_str);
    assert_eq!(crate::common::mode(&rotated), 0o600);
    assert_eq!(get(rotated_str).ok().stdout, b"v\n");
    assert_eq!(get(out_str).code, 3, "the old code was replaced");
}

// ---- symlinked vault paths --------------------------------------------------

#[test]
fn a_symlinked_vault_is_saved_through_to_its_target_with_one_lock() {
    let s = Sandbox::new();
    s.init();
    let links = s.root().join("links");
    std::fs::create_dir(&links).unwrap();
    let link = links.join("link.cvault");
    std::os::unix::fs::symlink(&s.vault, &link).unwrap();

    // Writers through the link and through the real path at once.
    const EACH: usize = 6;
    let mut children = Vec::new();
    for i in 0..2 * EACH {
        let path = if i % 2 == 0 { &link } else { &s.vault };
        let mut cmd = s.command(&["--vault", path.to_str().unwrap(), "set", &format!("k.n{i}")]);
        cmd.stdin(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("v{i}").as_bytes())
            .unwrap();
        children.push(child);
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let listed = s.run(&["--vault", link.to_str().unwrap(), "ls"]).ok();
    assert_eq!(listed.text().lines().count(), 2 * EACH, "lost an update");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "a save renamed over the symlink"
    );
    // No side file beside the link: lock, generations and audit log are
    // beside the target.
    let beside: Vec<_> = std::fs::read_dir(&links)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("link.cvault")]);
    let status = s
        .run(&["--vault", link.to_str().unwrap(), "--json", "status"])
        .ok()
        .json();
    assert_eq!(status["path"], s.vault.to_str().unwrap());
}

// ---- side files ---------------------------------------------------------------

#[test]
fn lock_and_audit_files_are_never_followed_through_a_symlink() {
    let s = Sandbox::new();
    s.init();
    let target = s.root().join("elsewhere");
    std::fs::write(&target, b"do not touch").unwrap();
    let lock = credvault::store::lock_path(&s.vault);
    std::fs::remove_file(&lock).ok();
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let run = s.run_stdin(&["set", "a.b"], b"v");
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    std::fs::remove_file(&lock).unwrap();

    let audit = s.vault.with_file_name("test.cvault.audit.jsonl");
    std::fs::remove_file(&audit).ok();
    std::os::unix::fs::symlink(&target, &audit).unwrap();
    let mut cmd = s.command(&["set", "a.b"]);
    cmd.env("CREDVAULT_AUDIT", "required");
    let run = run_command(cmd, Some(b"v"));
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(std::fs::read(&target).unwrap(), b"do not touch");
}

#[test]
fn side_files_owned_by_someone_else_are_refused() {
    let s = Sandbox::new();
    s.init();
    let lock = credvault::store::lock_path(&s.vault);
    std::fs::write(&lock, b"").unwrap();
    // Only root can give a file away; elsewhere there is nothing to test.
    if std::os::unix::fs::chown(&lock, Some(65534), Some(65534)).is_err() {
        crate::common::skip("chown needs root");
        return;
    }
    let run = s.run_stdin(&["set", "a.b"], b"v");
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("owned by uid 65534"), "{}", run.stderr);
}

#[test]
fn kept_files_are_0600_and_status_warns_on_any_loose_mode() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    s.init();
    s.set("a.b", b"1");
    std::fs::set_permissions(&s.vault, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.set("a.b", b"2");
    let first = credvault::store::generations::path(&s.vault, 1);
    assert_eq!(crate::common::mode(&first), 0o600, "generation kept 0644");
    assert_eq!(crate::common::mode(&s.vault), 0o600);
    s.run(&["undo"]).ok();
    let bak = credvault::store::side_files(&s.vault)
        .into_iter()
        .find(|p| p.to_string_lossy().contains(".bak-"))
        .expect("undo keeps a .bak copy");
    assert_eq!(crate::common::mode(&bak), 0o600);

    let second = credvault::store::generations::path(&s.vault, 1);
    std::fs::set_permissions(&second, std::fs::Permissions::from_mode(0o640)).unwrap();
    let status = s.run(&["--json", "status"]).ok().json();
    let warnings = status["warnings"].to_string();
    assert!(
        warnings.contains(&format!("{} has mode 0640", second.display())),
        "{warnings}"
    );
}

// ---- rollback is detected -------------------------------------------------------

#[test]
fn an_older_copy_put_in_place_is_refused_until_accepted() {
    let s = Sandbox::new();
    s.init();
    s.set("a.b", b"1");
    s.set("a.b", b"2");
    let older = credvault::store::generations::path(&s.vault, 1);
    std::fs::copy(&older, &s.vault).unwrap();
    for args in [&["get", "a.b"][..], &["ls"][..], &["set", "c.d"][..]] {
        let run = s.run_stdin(args, b"x");
        assert_eq!(run.code, 4, "{args:?}: {run:?}");
        assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
        assert!(run.stderr.contains("--accept-rollback"), "{}", run.stderr);
    }
    let got = s.run(&["--accept-rollback", "get", "a.b"]).ok();
    assert_eq!(got.stdout, b"1\n");
    // Accepted once: later commands open it normally.
    s.run(&["get", "a.b"]).ok();

    // undo and restore move the mark themselves.
    s.set("a.b", b"3");
    s.set("a.b", b"4");
    s.run(&["undo"]).ok();
    assert_eq!(s.run(&["get", "a.b"]).ok().stdout, b"3\n");
    let backup = s.root().join("b.cvault");
    s.run(&["backup", backup.to_str().unwrap()]).ok();
    s.set("a.b", b"5");
    s.run(&["restore", backup.to_str().unwrap()]).ok();
    assert_eq!(s.run(&["get", "a.b"]).ok().stdout, b"3\n");

    // The mark lives outside the vault's directory, mode 0600.
    let marks = s.root().join(".local/state/credvault/marks");
    let files: Vec<_> = std::fs::read_dir(&marks).unwrap().collect();
    assert_eq!(files.len(), 1);
    assert_eq!(
        crate::common::mode(&files[0].as_ref().unwrap().path()),
        0o600
    );
}

// ---- revocation really revokes ------------------------------------------------

/// Whether `path` opens with the passphrase `pw` (no recovery code).
fn opens_with(s: &Sandbox, path: &std::path::Path, pw: &str) -> bool {
    let mut cmd = s.command(&["verify", path.to_str().unwrap()]);
    cmd.env("CREDVAULT_PASSPHRASE", pw);
    run_command(cmd, None).code == 0
}

#[test]
fn passwd_and_slot_remove_leave_no_kept_copy_that_opens_with_the_old_passphrase() {
    let s = Sandbox::new();
    s.init();
    for v in ["1", "2", "3"] {
        s.set("a.b", v.as_bytes());
    }
    s.run(&["undo"]).ok(); // also makes a .bak-*
    let kept = credvault::store::generations::kept(&s.vault);
    assert!(kept.len() >= 3, "{kept:?}");
    assert!(kept.iter().all(|p| opens_with(&s, p, PASS)));

    let new_pw = s.root().join("new-pw");
    std::fs::write(&new_pw, "a new passphrase\n").unwrap();
    let run = s
        .run(&[
            "--json",
            "passwd",
            "--new-passphrase-file",
            new_pw.to_str().unwrap(),
        ])
        .ok();
    let purged = run.json()["purged"].as_array().unwrap().len();
    assert_eq!(purged, kept.len(), "{}", run.text());
    for p in &kept {
        assert!(!p.exists(), "{} still there", p.display());
    }
    // The next saves keep generations again; none opens with the old one.
    let with_new = |args: &[&str], stdin: &[u8]| {
        let mut cmd = s.command(args);
        cmd.env("CREDVAULT_PASSPHRASE", "a new passphrase");
        run_command(cmd, Some(stdin))
    };
    with_new(&["set", "a.b"], b"4").ok();
    with_new(&["set", "a.b"], b"5").ok();
    for p in credvault::store::generations::kept(&s.vault) {
        assert!(
            !opens_with(&s, &p, PASS),
            "{} opens with the old passphrase",
            p.display()
        );
    }

    // slot remove: a leaked second passphrase is gone from every kept copy.
    let leaked = s.root().join("leaked");
    std::fs::write(&leaked, "leaked passphrase\n").unwrap();
    let added = with_new(
        &[
            "--json",
            "slot",
            "add",
            "passphrase",
            "--new-passphrase-file",
            leaked.to_str().unwrap(),
            WEAK[0],
            WEAK[1],
            WEAK[2],
            WEAK[3],
            WEAK[4],
            WEAK[5],
        ],
        b"",
    )
    .ok();
    let id = added.json()["added"]["id"]
        .as_u64()
        .expect("slot id")
        .to_string();
    with_new(&["set", "a.b"], b"6").ok();
    assert!(credvault::store::generations::kept(&s.vault)
        .iter()
        .any(|p| opens_with(&s, p, "leaked passphrase")));
    let run = with_new(&["--json", "slot", "remove", &id], b"").ok();
    assert!(!run.json()["purged"].as_array().unwrap().is_empty());
    for p in credvault::store::generations::kept(&s.vault) {
        assert!(!opens_with(&s, &p, "leaked passphrase"), "{}", p.display());
    }
    assert!(!opens_with(&s, &s.vault, "leaked passphrase"));
}

#[test]
fn rekey_and_recovery_rotate_purge_kept_copies_and_generations_lists_them() {
    let s = Sandbox::new();
    let code = init_with_code(&s);
    s.set("a.b", b"1");
    s.set("a.b", b"2");
    let listed = s.run(&["--json", "generations", "list"]).ok().json();
    let n = listed.as_array().unwrap().len();
    assert_eq!(n, 2, "{listed}");
    assert_eq!(listed[0]["kind"], "generation");
    let by_code = |p: &std::path::Path, code: &str| {
        let mut cmd = s.command(&["verify", p.to_str().unwrap()]);
        cmd.env_remove("CREDVAULT_PASSPHRASE")
            .env("CREDVAULT_RECOVERY", code);
        run_command(cmd, None).code == 0
    };
    assert!(credvault::store::generations::kept(&s.vault)
        .iter()
        .all(|p| by_code(p, &code)));
    let rotated = s.run(&["--json", "recovery", "rotate"]).ok().json();
    assert_eq!(rotated["purged"].as_array().unwrap().len(), n);
    s.set("a.b", b"3");
    assert!(!credvault::store::generations::kept(&s.vault)
        .iter()
        .any(|p| by_code(p, &code)));

    s.set("a.b", b"4");
    let rekeyed = s.run(&["--json", "rekey"]).ok().json();
    assert!(
        !rekeyed["purged"].as_array().unwrap().is_empty(),
        "{rekeyed}"
    );
    assert!(credvault::store::generations::kept(&s.vault).is_empty());

    s.set("a.b", b"5");
    let purged = s.run(&["--json", "generations", "purge"]).ok().json();
    assert_eq!(purged["purged"].as_array().unwrap().len(), 1);
    assert!(credvault::store::generations::kept(&s.vault).is_empty());
    assert_eq!(s.run(&["get", "a.b"]).ok().stdout, b"5\n");
}

// ---- import-legacy --remove-legacy never destroys a credential ------------------

#[test]
fn remove_legacy_keeps_a_credentials_json_the_app_saved_during_the_import() {
    let s = Sandbox::new();
    s.init();
    let json = s.root().join("credentials.json");
    // "github.token": "ghp_old" in plain: hex.
    std::fs::write(
        &json,
        br#"{"credentials": {"github.token": "plain:6768705f6f6c64"}, "encryptionAvailable": false}"#,
    )
    .unwrap();
    // The passphrase comes through a FIFO: while credvault waits on it,
    // the JSON was already read, and the "app" saves a new credential.
    let fifo = s.root().join("pw.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut cmd = s.command(&[
        "--passphrase-file",
        fifo.to_str().unwrap(),
        "import-legacy",
        json.to_str().unwrap(),
        "--remove-legacy",
    ]);
    cmd.env_remove("CREDVAULT_PASSPHRASE");
    let child = cmd.spawn().unwrap();
    let mut pw = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // "anthropic.apiKey": "sk-new", saved the way electron-store saves:
    // a new file renamed into place.
    let tmp = s.root().join("credentials.json.tmp");
    std::fs::write(
        &tmp,
        br#"{"credentials": {"github.token": "plain:6768705f6f6c64", "anthropic.apiKey": "plain:736b2d6e6577"}, "encryptionAvailable": false}"#,
    )
    .unwrap();
    std::fs::rename(&tmp, &json).unwrap();
    use std::io::Write;
    pw.write_all(format!("{PASS}\n").as_bytes()).unwrap();
    drop(pw);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("changed after it was read"), "{stderr}");
    let kept = std::fs::read_to_string(&json).expect("credentials.json was removed");
    assert!(kept.contains("anthropic.apiKey"), "{kept}");
    // What was read was imported; the second run takes the new key and
    // then removes the file.
    assert_eq!(s.run(&["get", "github.token"]).ok().stdout, b"ghp_old\n");
    s.run(&["import-legacy", json.to_str().unwrap(), "--remove-legacy"])
        .ok();
    assert_eq!(s.run(&["get", "anthropic.apiKey"]).ok().stdout, b"sk-new\n");
    assert!(!json.exists());
}
