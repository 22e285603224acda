//! The interactive paths, through a real pseudo-terminal: `script` (from
//! util-linux) runs the binary on a pty and forwards our stdin to it.
//! Skipped, with a note, where `script` is not installed.

use std::path::Path;
use std::process::Command;

use crate::common::{run_command, Run, Sandbox, PASS, WEAK};

const SCRIPT: &str = "/usr/bin/script";

/// Runs `credvault ARGS` on a pty with `typed` as the keyboard input, or
/// `None` when `script` is missing.
fn on_tty(s: &Sandbox, args: &[&str], typed: &str) -> Option<Run> {
    if !Path::new(SCRIPT).exists() {
        crate::common::skip(&format!("{SCRIPT} not installed"));
        return None;
    }
    let bin = env!("CARGO_BIN_EXE_credvault");
    let line = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new(SCRIPT);
    // Same environment as the sandbox, but no passphrase in it.
    let template = s.command(&[]);
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

#[test]
fn init_and_set_prompt_on_a_terminal() {
    let s = Sandbox::new();
    let mut init = vec!["init"];
    init.extend(WEAK);
    let Some(run) = on_tty(&s, &init, &format!("{PASS}\n{PASS}\n")) else {
        return;
    };
    assert_eq!(run.code, 0, "{run:?}");
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(screen.contains("Passphrase:"), "{screen}");
    assert!(screen.contains("Repeat passphrase:"), "{screen}");

    let run = on_tty(
        &s,
        &["set", "typed.key"],
        &format!("{PASS}\ntyped value\ntyped value\n"),
    )
    .unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(screen.contains("Value for typed.key:"), "{screen}");
    // The environment passphrase opens what the prompt created.
    assert_eq!(s.run(&["get", "typed.key"]).ok().stdout, b"typed value\n");
}

#[test]
fn mismatched_prompts_change_nothing() {
    let s = Sandbox::new();
    let mut init = vec!["init"];
    init.extend(WEAK);
    let Some(run) = on_tty(&s, &init, "one passphrase\nanother\n") else {
        return;
    };
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!s.vault.exists());

    s.init();
    let run = on_tty(
        &s,
        &["set", "k"],
        &format!("{PASS}\nvalue one\nvalue two\n"),
    )
    .unwrap();
    assert_eq!(run.code, 2, "{run:?}");
    s.run(&["get", "k"]).fails(1);
}

#[test]
fn a_wrong_typed_passphrase_exits_3() {
    let s = Sandbox::new();
    s.init();
    let Some(run) = on_tty(&s, &["ls"], "wrong\n") else {
        return;
    };
    assert_eq!(run.code, 3, "{run:?}");
    let ok = on_tty(&s, &["ls"], &format!("{PASS}\n")).unwrap();
    assert_eq!(ok.code, 0, "{ok:?}");
}
