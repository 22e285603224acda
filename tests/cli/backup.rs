//! Backup, restore and portability end to end, as a new user would go:
//! `init` shows the recovery code, `backup` to a USB path, and on another
//! machine (another HOME and XDG dirs; with `CREDVAULT_TEST_KEYRING=
//! secret-service` also another Secret Service, or none) `restore` with
//! the passphrase or the recovery code. A damaged backup is refused with
//! the live vault byte for byte untouched. Generations and `undo`, and
//! `verify` of good and damaged files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{recovery_code, run_command, with_env, Run, Sandbox, PASS, WEAK};

/// A vault on "machine A" with three values; returns the recovery code.
fn machine_a(s: &Sandbox) -> String {
    let mut args = vec!["init"];
    args.extend(WEAK);
    let code = recovery_code(&s.run(&args).ok());
    s.set("postgresql.password", b"pg-secret");
    s.set("github.token", b"ghp_backup");
    s.set("blob.bin", &[0, 159, 255, 10, 13]);
    code
}

fn value(s: &Sandbox, env: &[(&str, &str)], key: &str) -> Vec<u8> {
    with_env(s, env, &["get", key]).ok().stdout
}

fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                // The audit log and its head (tests/cli/audit.rs) are not
                // what these tests look at.
                .filter(|n| !n.contains(".audit."))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The "done when": backup → new machine → restore, as docs/backup.md
/// tells it, with the recovery code alone and with the passphrase.
#[test]
fn backup_then_restore_on_a_new_machine_with_the_recovery_code_or_passphrase() {
    let a = Sandbox::new();
    let code = machine_a(&a);
    let usb = tempfile::tempdir().unwrap();
    let backup = usb.path().join("credvault-backup.cvault");
    let backup_arg = backup.to_str().unwrap();

    let run = a.run(&["--json", "backup", backup_arg]).ok();
    let json = run.json();
    assert_eq!(json["entries"], 3);
    assert_eq!(json["verified"], true);
    assert_eq!(json["opened_by_slot"], 1);
    assert_eq!(
        json["slots"],
        serde_json::json!([{"id": 1, "type": "passphrase"}, {"id": 2, "type": "recovery"}])
    );
    #[cfg(unix)]
    assert_eq!(crate::common::mode(&backup), 0o600);
    // Text mode: one note, the verification included.
    let again = usb.path().join("second.cvault");
    let run = a.run(&["backup", again.to_str().unwrap()]).ok();
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("every value was checked"),
        "{}",
        run.stderr
    );
    // Never over an existing file.
    let line = a.run(&["backup", backup_arg]).fails(5).to_owned();
    assert!(line.contains("--force"), "{line}");
    // A backup verifies on its own, with the recovery code.
    let verify = with_env(
        &a,
        &[("CREDVAULT_RECOVERY", &code)],
        &["verify", backup_arg],
    )
    .ok();
    assert!(
        verify.text().contains("result:         OK"),
        "{}",
        verify.text()
    );
    assert!(
        verify.text().contains("entries:        3"),
        "{}",
        verify.text()
    );

    // Machine B: another HOME, another data dir, no vault yet, nothing
    // but the USB stick and the recovery code written on paper.
    let b = Sandbox::new();
    assert!(!b.vault.exists());
    let run = with_env(
        &b,
        &[("CREDVAULT_RECOVERY", &code)],
        &["restore", backup_arg],
    )
    .ok();
    assert!(
        run.stderr.contains("there was no vault here before"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&code));
    let rec = [("CREDVAULT_RECOVERY", code.as_str())];
    assert_eq!(value(&b, &rec, "github.token"), b"ghp_backup\n");
    assert_eq!(value(&b, &rec, "blob.bin"), [0, 159, 255, 10, 13, b'\n']);
    // The passphrase opens it there too, and new writes work.
    let pass = [("CREDVAULT_PASSPHRASE", PASS)];
    assert_eq!(value(&b, &pass, "postgresql.password"), b"pg-secret\n");
    b.set("on.machine.b", b"new");
    #[cfg(unix)]
    assert_eq!(crate::common::mode(&b.vault), 0o600);

    // Restoring again over a vault keeps it as a timestamped .bak, and
    // undo brings back what the restore replaced.
    let before = b.vault_bytes();
    let run = b.run(&["--json", "restore", backup_arg]).ok();
    let kept = PathBuf::from(run.json()["kept"].as_str().unwrap());
    assert!(kept
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("test.cvault.bak-"));
    assert_eq!(std::fs::read(&kept).unwrap(), before);
    #[cfg(unix)]
    assert_eq!(crate::common::mode(&kept), 0o600);
    b.run(&["get", "on.machine.b"]).fails(1);
    b.run(&["undo"]).ok();
    assert_eq!(b.run(&["get", "on.machine.b"]).ok().stdout, b"new\n");
}

#[test]
fn a_damaged_backup_is_refused_and_the_live_vault_is_untouched() {
    let a = Sandbox::new();
    let code = machine_a(&a);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.cvault");
    a.run(&["backup", good.to_str().unwrap()]).ok();
    let good_bytes = std::fs::read(&good).unwrap();

    let flipped = dir.path().join("flipped.cvault");
    let mut bytes = good_bytes.clone();
    let at = bytes.len() - 20; // inside the body ciphertext
    bytes[at] ^= 0x01;
    std::fs::write(&flipped, &bytes).unwrap();
    let truncated = dir.path().join("truncated.cvault");
    std::fs::write(&truncated, &good_bytes[..good_bytes.len() / 2]).unwrap();
    let not_a_vault = dir.path().join("notes.txt");
    std::fs::write(&not_a_vault, b"just some text\n").unwrap();

    // On the machine that has a vault, and on a new one.
    let b = Sandbox::new();
    let live = a.vault_bytes();
    let listing = names(a.vault.parent().unwrap());
    for (file, code_exit) in [(&flipped, 4), (&truncated, 4), (&not_a_vault, 4)] {
        let arg = file.to_str().unwrap();
        let line = a.run(&["restore", arg]).fails(code_exit).to_owned();
        assert!(line.contains("nothing was changed"), "{line}");
        assert_eq!(a.vault_bytes(), live, "{arg}");
        assert_eq!(
            names(a.vault.parent().unwrap()),
            listing,
            "no .bak, no temp"
        );
        with_env(&b, &[("CREDVAULT_RECOVERY", &code)], &["restore", arg]).fails(code_exit);
        assert!(!b.vault.exists());
        // verify says the same.
        a.run(&["verify", arg]).fails(code_exit);
    }
    // A good backup with the wrong passphrase: exit 3, untouched.
    let mut cmd = a.command(&["restore", good.to_str().unwrap()]);
    cmd.env("CREDVAULT_PASSPHRASE", "not the passphrase");
    let line = run_command(cmd, None).fails(3).to_owned();
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(a.vault_bytes(), live);
    // A good one restores.
    a.run(&["verify", good.to_str().unwrap()]).ok();
    a.run(&["restore", good.to_str().unwrap()]).ok();
}

#[test]
fn verify_reports_without_secrets_and_exits_4_on_damage() {
    let s = Sandbox::new();
    let code = machine_a(&s);
    let run = s.run(&["verify"]).ok();
    let text = run.text();
    for needle in [
        "format version: 1.0",
        "entries:        3",
        "result:         OK",
        "slots:          1 (passphrase), 2 (recovery)",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    for secret in ["pg-secret", "ghp_backup", PASS, &code] {
        assert!(!text.contains(secret) && !run.stderr.contains(secret));
    }
    let json = s.run(&["--json", "verify"]).ok().json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["entries"], 3);
    assert_eq!(json["save_counter"], 4);

    // A flipped byte in the live vault: exit 4 for verify and every command.
    let mut bytes = s.vault_bytes();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x80;
    std::fs::write(&s.vault, &bytes).unwrap();
    s.run(&["verify"]).fails(4);
    s.run(&["ls"]).fails(4);
    // Cannot unlock: exit 3.
    let mut cmd = s.command(&["verify"]);
    cmd.env("CREDVAULT_PASSPHRASE", "wrong");
    run_command(cmd, None).fails(3);
    // Missing: exit 5.
    s.run(&["verify", s.root().join("none").to_str().unwrap()])
        .fails(5);
    // undo brings back the newest generation: the vault as it was before
    // the last save (the damaged file was that save), kept as a .bak.
    let run = s.run(&["undo"]).ok();
    assert!(run.stderr.contains(".bak-"), "{}", run.stderr);
    s.run(&["verify"]).ok();
    s.run(&["get", "blob.bin"]).fails(1);
    assert_eq!(s.run(&["get", "github.token"]).ok().stdout, b"ghp_backup\n");
}

#[test]
fn every_save_keeps_generations_and_undo_walks_back() {
    let s = Sandbox::new();
    let mut args = vec!["init", "--no-recovery"];
    args.extend(WEAK);
    s.run(&args).ok();
    let dir = s.vault.parent().unwrap();
    for v in ["1", "2", "3", "4"] {
        s.set("n", v.as_bytes());
    }
    assert_eq!(
        names(dir),
        [
            "test.cvault",
            "test.cvault.1",
            "test.cvault.2",
            "test.cvault.3",
            "test.cvault.lock"
        ]
    );
    #[cfg(unix)]
    assert_eq!(crate::common::mode(&dir.join("test.cvault.1")), 0o600);
    // A generation is a whole vault: it verifies on its own.
    s.run(&["verify", dir.join("test.cvault.3").to_str().unwrap()])
        .ok();

    let json = s.run(&["--json", "undo"]).ok().json();
    assert_eq!(json["generation"], 1);
    assert_eq!(json["generations_left"], 2);
    assert_eq!(s.run(&["get", "n"]).ok().stdout, b"3\n");
    let run = s.run(&["undo"]).ok();
    assert!(
        run.stderr.contains("undid the last change"),
        "{}",
        run.stderr
    );
    assert_eq!(s.run(&["get", "n"]).ok().stdout, b"2\n");
    // restore --generation K leaves the generations as they are.
    s.run(&["restore", "--generation", "1"]).ok();
    assert_eq!(s.run(&["get", "n"]).ok().stdout, b"1\n");
    // ... and is a change undo takes back.
    s.run(&["undo"]).ok();
    assert_eq!(s.run(&["get", "n"]).ok().stdout, b"2\n");

    // --generations 0 and CREDVAULT_GENERATIONS=0 keep none.
    let t = Sandbox::new();
    let mut args = vec!["--generations", "0", "init", "--no-recovery"];
    args.extend(WEAK);
    t.run(&args).ok();
    t.run_stdin(&["--generations", "0", "set", "a"], b"1").ok();
    let mut cmd = t.command(&["set", "a"]);
    cmd.env("CREDVAULT_GENERATIONS", "0");
    run_command(cmd, Some(b"2")).ok();
    assert_eq!(
        names(t.vault.parent().unwrap()),
        ["test.cvault", "test.cvault.lock"]
    );
    let line = t.run(&["undo"]).fails(5).to_owned();
    assert!(line.contains("no earlier version"), "{line}");
    t.run(&["restore", "--generation", "2"]).fails(5);
    // One generation: older ones are pruned.
    let mut cmd = t.command(&["set", "a"]);
    cmd.env("CREDVAULT_GENERATIONS", "1");
    run_command(cmd, Some(b"3")).ok();
    t.run_stdin(&["--generations", "1", "set", "a"], b"4").ok();
    assert_eq!(
        names(t.vault.parent().unwrap()),
        ["test.cvault", "test.cvault.1", "test.cvault.lock"]
    );
    let mut cmd = t.command(&["ls"]);
    cmd.env("CREDVAULT_GENERATIONS", "many");
    run_command(cmd, None).fails(2);
    t.run(&["--generations", "101", "ls"]).fails(2);
}

#[test]
fn backup_refuses_the_vault_itself_and_vaults_with_nothing_portable() {
    let s = Sandbox::new();
    machine_a(&s);
    let vault = s.vault.to_str().unwrap();
    let before = s.vault_bytes();
    s.run(&["backup", vault]).fails(5);
    s.run(&["backup", "--force", vault]).fails(5);
    assert_eq!(s.vault_bytes(), before);

    // --force replaces another file.
    let dest = s.root().join("b.cvault");
    std::fs::write(&dest, b"old").unwrap();
    s.run(&["backup", "--force", dest.to_str().unwrap()]).ok();
    s.run(&["verify", dest.to_str().unwrap()]).ok();

    // A backup passphrase of its own: the backup opens with it alone, the
    // vault does not get the slot.
    let pwfile = s.root().join("backup-pw.txt");
    std::fs::write(&pwfile, "usb stick passphrase\n").unwrap();
    let dest = s.root().join("with-own.cvault");
    let mut args = vec![
        "--json",
        "backup",
        dest.to_str().unwrap(),
        "--backup-passphrase-file",
        pwfile.to_str().unwrap(),
    ];
    args.extend(WEAK);
    let json = s.run(&args).ok().json();
    assert_eq!(json["backup_passphrase_slot"], 3);
    let b = Sandbox::new();
    let run = with_env(
        &b,
        &[("CREDVAULT_PASSPHRASE", "usb stick passphrase")],
        &["restore", dest.to_str().unwrap()],
    )
    .ok();
    assert!(run.stderr.contains("restored"), "{}", run.stderr);
    assert_eq!(
        with_env(
            &b,
            &[("CREDVAULT_PASSPHRASE", "usb stick passphrase")],
            &["get", "github.token"]
        )
        .ok()
        .stdout,
        b"ghp_backup\n"
    );
    let slots = s.run(&["--json", "status"]).ok().json()["slots"].clone();
    assert_eq!(slots.as_array().unwrap().len(), 2, "{slots}");
}

// ---- with real Secret Services ---------------------------------------------

/// `credvault` in the sandbox with this process's D-Bus session (the
/// sandbox normally has none), with only `env` as credentials.
fn keyed(s: &Sandbox, env: &[(&str, &str)], args: &[&str]) -> Run {
    keyed_stdin(s, env, args, None)
}

/// [`keyed`] with `stdin` piped in.
fn keyed_stdin(s: &Sandbox, env: &[(&str, &str)], args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = s.command(args);
    cmd.env_remove("CREDVAULT_PASSPHRASE");
    match std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        Some(address) => cmd.env("DBUS_SESSION_BUS_ADDRESS", address),
        None => cmd.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        cmd.env("XDG_RUNTIME_DIR", dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, stdin)
}

/// Runs test `child` of this binary under `script` (another machine: a
/// second private Secret Service, or no D-Bus at all) with `env`.
fn on_another_machine(script: &str, child: &str, env: &[(&str, &str)]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(script);
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&exe)
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .env_remove("CREDVAULT_TEST_KEYRING")
        .stdin(Stdio::null())
        .output()
        .expect("run the child on another machine");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{child} under {}:\n{log}", script.display());
    assert!(out.status.success(), "{child} failed");
    let name = child.rsplit("::").next().unwrap_or(child);
    assert!(
        log.contains(&format!("{name}: done")),
        "{child} ran its checks"
    );
}

/// A vault made on a desktop with a keychain slot, a passphrase slot and
/// a recovery slot: its backup (and a plain copy of the file) open on a
/// machine with another Secret Service, and on one with none, with the
/// passphrase or the recovery code; `restore --add-keychain` makes it open
/// there without either.
#[test]
fn a_desktop_vault_opens_on_machines_with_another_keychain_or_none() {
    if !crate::common::keyring_mode_runs(
        "secret-service",
        "backup::a_desktop_vault_opens_on_machines_with_another_keychain_or_none",
    ) {
        return;
    }
    let a = Sandbox::new();
    let mut args = vec!["--json", "init"];
    args.extend(WEAK);
    let init = keyed(&a, &[("CREDVAULT_PASSPHRASE", PASS)], &args)
        .ok()
        .json();
    assert_eq!(init["backend"], "keychain");
    let code = init["recovery_code"].as_str().unwrap().to_owned();
    // The keychain opens it on this machine: no passphrase at all.
    keyed_stdin(
        &a,
        &[],
        &["set", "anthropic.apiKey"],
        Some(b"sk-ant-desktop"),
    )
    .ok();
    let usb = tempfile::tempdir().unwrap();
    let backup = usb.path().join("desktop.cvault");
    let json = keyed(&a, &[], &["--json", "backup", backup.to_str().unwrap()])
        .ok()
        .json();
    // Opened by the keychain: nothing portable was seen to open it, but
    // every value was checked; the keychain slot stays behind.
    assert_eq!(
        json["left_out"],
        serde_json::json!([{"id": 1, "type": "keychain"}])
    );
    assert!(json["opened_by_slot"].is_null(), "{json}");
    let copy = usb.path().join("plain-copy.cvault");
    std::fs::copy(&a.vault, &copy).unwrap();

    let env = [
        ("CREDVAULT_TEST_CHILD", "cli-other-machine"),
        ("CREDVAULT_TEST_BACKUP", backup.to_str().unwrap()),
        ("CREDVAULT_TEST_COPY", copy.to_str().unwrap()),
        ("CREDVAULT_TEST_CODE", code.as_str()),
    ];
    on_another_machine(
        "with-secret-service.sh",
        "backup::other_machine_child",
        &[&env[..], &[("CREDVAULT_TEST_OTHER_KEYCHAIN", "yes")]].concat(),
    );
    on_another_machine(
        "without-dbus.sh",
        "backup::other_machine_child",
        &[&env[..], &[("CREDVAULT_TEST_OTHER_KEYCHAIN", "no")]].concat(),
    );
    // Back on the desktop, nothing changed.
    assert_eq!(
        keyed(&a, &[], &["get", "anthropic.apiKey"]).ok().stdout,
        b"sk-ant-desktop\n"
    );
}

/// Another machine (see above): runs only when the parent test names it.
#[test]
fn other_machine_child() {
    if std::env::var("CREDVAULT_TEST_CHILD").as_deref() != Ok("cli-other-machine") {
        return;
    }
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k}"));
    let (backup, copy, code) = (
        var("CREDVAULT_TEST_BACKUP"),
        var("CREDVAULT_TEST_COPY"),
        var("CREDVAULT_TEST_CODE"),
    );
    let has_keychain = var("CREDVAULT_TEST_OTHER_KEYCHAIN") == "yes";
    let rec = [("CREDVAULT_RECOVERY", code.as_str())];
    let pass = [("CREDVAULT_PASSPHRASE", PASS)];

    // The plain copy: its keychain slot opens nothing here (another
    // keychain, or none); the passphrase and the recovery code do.
    let s = Sandbox::new();
    let c = ["--vault", copy.as_str()];
    let line = keyed(&s, &[], &[&c[..], &["get", "anthropic.apiKey"]].concat())
        .fails(3)
        .to_owned();
    assert!(line.contains("keychain"), "{line}");
    for env in [&rec[..], &pass[..]] {
        let run = keyed(&s, env, &[&c[..], &["get", "anthropic.apiKey"]].concat()).ok();
        assert_eq!(run.stdout, b"sk-ant-desktop\n");
    }

    // Restore the backup with the recovery code alone; with a keychain
    // here, add a keychain slot, after which nothing else is needed.
    let mut args = vec!["--json", "restore", backup.as_str()];
    if has_keychain {
        args.push("--add-keychain");
    }
    let json = keyed(&s, &rec, &args).ok().json();
    assert!(json["kept"].is_null(), "{json}");
    if has_keychain {
        // Slots 2 (passphrase) and 3 (recovery) came in the backup.
        assert_eq!(json["keychain_slot"], 4, "{json}");
        let run = keyed(&s, &[], &["get", "anthropic.apiKey"]).ok();
        assert_eq!(run.stdout, b"sk-ant-desktop\n");
        let status = keyed(&s, &[], &["--json", "status"]).ok().json();
        assert_eq!(status["unlocked_by"], "keychain");
    } else {
        assert!(json["keychain_slot"].is_null(), "{json}");
        keyed(&s, &[], &["get", "anthropic.apiKey"]).fails(3);
        assert_eq!(
            keyed(&s, &pass, &["get", "anthropic.apiKey"]).ok().stdout,
            b"sk-ant-desktop\n"
        );
        // Asked for a keychain where there is none: restored, with a warning.
        let json = keyed(
            &s,
            &pass,
            &["--json", "restore", "--add-keychain", backup.as_str()],
        )
        .ok()
        .json();
        assert!(
            json["warnings"]
                .to_string()
                .contains("no keychain slot was added"),
            "{json}"
        );
    }
    eprintln!("other_machine_child: done");
}

/// On a terminal, `restore` asks before adding a keychain slot (with a
/// real Secret Service; through `script`).
#[test]
fn restore_on_a_terminal_asks_before_adding_a_keychain_slot() {
    if !crate::common::keyring_mode_runs(
        "secret-service",
        "backup::restore_on_a_terminal_asks_before_adding_a_keychain_slot",
    ) {
        return;
    }
    let a = Sandbox::new();
    let code = machine_a(&a);
    let backup = a.root().join("b.cvault");
    a.run(&["backup", backup.to_str().unwrap()]).ok();
    for (answer, added) in [("n\n", false), ("\n", true)] {
        let b = Sandbox::new();
        let args = ["restore", backup.to_str().unwrap()];
        let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default();
        let runtime = std::env::var("XDG_RUNTIME_DIR").unwrap_or_default();
        // `env` sets what the sandbox's environment does not pass.
        let vars = [
            format!("DBUS_SESSION_BUS_ADDRESS={bus}"),
            format!("XDG_RUNTIME_DIR={runtime}"),
            format!("CREDVAULT_RECOVERY={code}"),
        ];
        let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
        let Some(run) = on_tty_env(&b, &vars, &args, answer) else {
            return;
        };
        assert_eq!(run.code, 0, "{run:?}");
        let screen = String::from_utf8_lossy(&run.stdout);
        assert!(
            screen.contains("Add a keychain slot on this machine"),
            "{screen}"
        );
        let types = keyed(&b, &[("CREDVAULT_RECOVERY", &code)], &["--json", "status"])
            .ok()
            .json()["backends"]
            .to_string();
        assert_eq!(types.contains("keychain"), added, "{answer:?}: {types}");
    }
}

/// `credvault ARGS` on a pty through `script` and `env VARS...`, with
/// `typed` as keyboard input; `None` when `script` is missing.
fn on_tty_env(s: &Sandbox, vars: &[&str], args: &[&str], typed: &str) -> Option<Run> {
    const SCRIPT: &str = "/usr/bin/script";
    if !Path::new(SCRIPT).exists() {
        crate::common::skip(&format!("{SCRIPT} not installed"));
        return None;
    }
    let line = std::iter::once("env")
        .chain(vars.iter().copied())
        .chain(std::iter::once(env!("CARGO_BIN_EXE_credvault")))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let template = s.command(&[]);
    let mut cmd = Command::new(SCRIPT);
    cmd.env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env_remove("CREDVAULT_PASSPHRASE")
        .args(["-qec", &line, "/dev/null"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Some(run_command(cmd, Some(typed.as_bytes())))
}
