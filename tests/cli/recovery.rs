//! Recovery codes: `init` makes a recovery slot and prints its code once;
//! any command unlocks with it from a file or the environment; a mistyped
//! code is a usage error (2) and a wrong one an unlock failure (3);
//! `recovery rotate` replaces it.

use crate::common::{bare, recovery_code, recovery_codes, run_command, Run, Sandbox, WEAK};

/// `credvault ARGS` with `CREDVAULT_RECOVERY=code` and no passphrase.
fn with_code(s: &Sandbox, code: &str, args: &[&str]) -> Run {
    let mut cmd = s.command(args);
    cmd.env_remove("CREDVAULT_PASSPHRASE")
        .env("CREDVAULT_RECOVERY", code);
    run_command(cmd, None)
}

fn init(s: &Sandbox) -> String {
    let mut args = vec!["init"];
    args.extend(WEAK);
    let run = s.run(&args).ok();
    recovery_code(&run)
}

#[test]
fn init_prints_a_code_once_and_it_unlocks_from_a_file_or_the_environment() {
    let s = Sandbox::new();
    let mut args = vec!["init"];
    args.extend(WEAK);
    let run = s.run(&args).ok();
    let code = recovery_code(&run);
    // 160 bits: eight groups of four, a checksum group of six.
    let groups: Vec<&str> = code.split('-').collect();
    assert_eq!(groups.len(), 9, "{code}");
    assert!(groups[..8].iter().all(|g| g.len() == 4), "{code}");
    assert_eq!(groups[8].len(), 6, "{code}");
    assert!(!code.contains(['I', 'L', 'O', 'U']), "{code}");
    assert!(run.stderr.contains("recovery code"), "{}", run.stderr);
    assert!(!run.stderr.contains(&code));
    s.set("github.token", b"ghp_recovered");

    // A file, in lower case, without dashes, with a newline.
    let file = s.root().join("code.txt");
    std::fs::write(&file, format!("{}\n", code.replace('-', "").to_lowercase())).unwrap();
    let file = file.to_str().unwrap();
    let got = bare(&s, &["--recovery-file", file, "get", "github.token"]).ok();
    assert_eq!(got.stdout, b"ghp_recovered\n");
    // The environment, with spaces for dashes.
    let spaced = code.replace('-', " ");
    let got = with_code(&s, &spaced, &["get", "github.token"]).ok();
    assert_eq!(got.stdout, b"ghp_recovered\n");
    let status = with_code(&s, &code, &["--json", "status"]).ok();
    let json = status.json();
    assert_eq!(json["unlocked_by"], "recovery");
    assert_eq!(json["unlocked_by_slot"], 2);
    assert_eq!(
        json["backends"],
        serde_json::json!(["passphrase", "recovery"])
    );

    // Never shown again: not by status, slot list, or in any error.
    for args in [&["status"][..], &["--json", "status"], &["slot", "list"]] {
        let run = s.run(args).ok();
        assert!(!run.text().contains(&code), "{args:?}");
        assert!(!run.stderr.contains(&code), "{args:?}");
        assert!(recovery_codes(&run).is_empty(), "{args:?}");
    }
    let failed = with_code(&s, &code, &["get", "missing.key"]);
    failed.fails(1);
    assert!(!failed.stderr.contains(&code));
    assert!(!String::from_utf8_lossy(&s.vault_bytes()).contains(&code));
}

#[test]
fn init_json_carries_the_code_once() {
    let s = Sandbox::new();
    let mut args = vec!["--json", "init"];
    args.extend(WEAK);
    let run = s.run(&args).ok();
    let json = run.json();
    let code = json["recovery_code"]
        .as_str()
        .expect("recovery_code")
        .to_owned();
    assert_eq!(json["recovery_slot"], 2);
    let types: Vec<&str> = json["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["passphrase", "recovery"]);
    with_code(&s, &code, &["ls"]).ok();
    let status = s.run(&["--json", "status"]).ok();
    assert!(!status.text().contains(&code));
}

#[test]
fn a_mistyped_code_exits_2_and_a_wrong_one_exits_3_without_quoting_it() {
    let s = Sandbox::new();
    let code = init(&s);
    let other = init(&Sandbox::new());
    let before = s.vault_bytes();

    // One character changed (to another valid one): the checksum says so.
    let mut typo: Vec<char> = code.chars().collect();
    typo[5] = if typo[5] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    // Two neighbours swapped.
    let mut swapped: Vec<char> = code.replace('-', "").chars().collect();
    let at = (0..swapped.len() - 1)
        .find(|&i| swapped[i] != swapped[i + 1])
        .unwrap();
    swapped.swap(at, at + 1);
    let swapped: String = swapped.into_iter().collect();
    // A character that is not in the alphabet, a character left out.
    let foreign = format!("{}U{}", &code[..3], &code[4..]);
    let short = code[..code.len() - 1].to_owned();
    for (what, bad) in [
        ("typo", typo),
        ("swap", swapped),
        ("foreign", foreign),
        ("short", short),
    ] {
        let run = with_code(&s, &bad, &["ls"]);
        let line = run.fails(2);
        assert!(line.contains("CREDVAULT_RECOVERY"), "{what}: {line}");
        assert!(line.contains("recovery code"), "{what}: {line}");
        for group in bad.split('-').filter(|g| g.len() >= 4) {
            assert!(!line.contains(group), "{what} quoted: {line}");
        }
        // Refused before anything else, even with a good passphrase.
        let mut cmd = s.command(&["ls"]);
        cmd.env("CREDVAULT_RECOVERY", &bad);
        run_command(cmd, None).fails(2);
    }
    // Well-formed, another vault's: exit 3, the hint names the code.
    let line = with_code(&s, &other, &["ls"]).fails(3).to_owned();
    assert!(line.contains("recovery code"), "{line}");
    assert!(!line.contains(&other));
    // With the right passphrase as well, the passphrase opens it.
    let mut cmd = s.command(&["ls"]);
    cmd.env("CREDVAULT_RECOVERY", &other);
    run_command(cmd, None).ok();
    // A missing file: exit 3, like a missing passphrase file.
    let missing = s.root().join("nope.txt");
    bare(&s, &["--recovery-file", missing.to_str().unwrap(), "ls"]).fails(3);
    // --recovery needs a terminal.
    let line = bare(&s, &["--recovery", "ls"]).fails(3).to_owned();
    assert!(line.contains("terminal"), "{line}");
    assert_eq!(s.vault_bytes(), before, "nothing was written");
}

#[test]
fn no_recovery_makes_no_slot_and_rotate_adds_or_replaces_one() {
    let s = Sandbox::new();
    let mut args = vec!["init", "--no-recovery"];
    args.extend(WEAK);
    let run = s.run(&args).ok();
    assert!(run.stdout.is_empty(), "{run:?}");
    let status = s.run(&["--json", "status"]).ok().json();
    assert_eq!(status["slots"].as_array().unwrap().len(), 1);
    s.set("k", b"v");
    // No recovery slot: a code opens nothing (no slot to try): exit 3.
    let stray = init(&Sandbox::new());
    with_code(&s, &stray, &["ls"]).fails(3);

    // rotate on a vault without one adds one.
    let run = s.run(&["recovery", "rotate"]).ok();
    let first = recovery_code(&run);
    assert!(
        run.stderr.contains("added recovery slot 2"),
        "{}",
        run.stderr
    );
    assert_eq!(with_code(&s, &first, &["get", "k"]).ok().stdout, b"v\n");

    // rotate again: the old code stops opening this vault.
    let run = s.run(&["--json", "recovery", "rotate"]).ok();
    let json = run.json();
    assert_eq!(json["slot"], 2);
    assert_eq!(json["replaced"], true);
    let second = json["recovery_code"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let line = with_code(&s, &first, &["get", "k"]).fails(3).to_owned();
    assert!(line.contains("recovery code"), "{line}");
    assert_eq!(with_code(&s, &second, &["get", "k"]).ok().stdout, b"v\n");
    // rotate can itself be opened with the recovery code.
    let run = with_code(&s, &second, &["recovery", "rotate"]).ok();
    let third = recovery_code(&run);
    with_code(&s, &second, &["ls"]).fails(3);
    with_code(&s, &third, &["ls"]).ok();
    let slots = s.run(&["--json", "status"]).ok().json()["slots"].clone();
    assert_eq!(slots.as_array().unwrap().len(), 2, "{slots}");
}

/// `--recovery` asks for the code on a terminal (through `script`, as in
/// `tty.rs`); skipped where `script` is missing.
#[test]
fn recovery_asks_on_a_terminal() {
    let s = Sandbox::new();
    let code = init(&s);
    s.set("k", b"typed");
    let Some(run) = on_tty(&s, &["--recovery", "get", "k"], &format!("{code}\n")) else {
        return;
    };
    assert_eq!(run.code, 0, "{run:?}");
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(screen.contains("Recovery code:"), "{screen}");
    assert!(screen.contains("typed"), "{screen}");
    let run = on_tty(&s, &["--recovery", "get", "k"], "0000-0000\n").unwrap();
    assert_eq!(run.code, 2, "{run:?}");
}

/// Runs `credvault ARGS` on a pty with `typed` as keyboard input and no
/// passphrase in the environment; `None` when `script` is missing.
pub fn on_tty(s: &Sandbox, args: &[&str], typed: &str) -> Option<Run> {
    const SCRIPT: &str = "/usr/bin/script";
    if !std::path::Path::new(SCRIPT).exists() {
        crate::common::skip(&format!("{SCRIPT} not installed"));
        return None;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_credvault"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let template = s.command(&[]);
    let mut cmd = std::process::Command::new(SCRIPT);
    cmd.env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env_remove("CREDVAULT_PASSPHRASE")
        .args(["-qec", &line, "/dev/null"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Some(run_command(cmd, Some(typed.as_bytes())))
}
