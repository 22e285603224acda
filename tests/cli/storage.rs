//! The storage edge through real processes: a save on a full disk (a tiny
//! tmpfs in a private mount namespace), beyond the file-size limit
//! (RLIMIT_FSIZE), and a writer killed while it holds the lock. (Every step
//! of a save failing with ENOSPC, and crashing, is in
//! `vault/tests/faults.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::{run_command, Run, Sandbox};

/// `bash -c 'SCRIPT; exec "$@"' credvault ARGS` with the sandbox's
/// environment, so the limits set by SCRIPT apply to credvault alone.
fn under_shell(s: &Sandbox, script: &str, args: &[&str]) -> Command {
    let inner = s.command(args);
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("{script}; exec \"$@\""))
        .arg("bash")
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn temps(s: &Sandbox) -> Vec<String> {
    std::fs::read_dir(s.vault.parent().expect("dir"))
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".test.cvault.tmp."))
        .collect()
}

/// A value far larger than the 16 KiB file-size limit below.
fn big_value() -> Vec<u8> {
    vec![b'x'; 64 * 1024]
}

#[test]
fn a_save_beyond_the_file_size_limit_exits_5_and_keeps_the_old_vault() {
    let s = Sandbox::new();
    s.init();
    s.set("a.key", b"1");
    let before = s.vault_bytes();
    assert!(before.len() < 16 * 1024);

    // SIGXFSZ ignored: write(2) fails with EFBIG, as on a full disk.
    let cmd = under_shell(
        &s,
        "trap '' XFSZ; ulimit -f 16",
        &["--no-keychain", "set", "big.value"],
    );
    let run = run_command(cmd, Some(&big_value()));
    let line = run.fails(5);
    assert!(line.contains("File too large"), "{line}");
    assert!(line.contains("left as it was"), "{line}");
    assert_eq!(s.vault_bytes(), before, "the old vault changed");
    assert_eq!(temps(&s), Vec::<String>::new(), "temp file left behind");
    assert_eq!(s.run(&["get", "a.key"]).ok().text(), "1\n");
    s.run(&["get", "big.value"]).fails(1);
}

/// A really full disk: a 256 KiB tmpfs mounted in a private user and
/// mount namespace (`unshare`, no root needed where user namespaces are
/// enabled), holding a copy of the vault; a save of a 300 KB value gets
/// ENOSPC. Skipped, saying so, where namespaces are not available.
#[test]
fn a_save_on_a_full_disk_exits_5_and_keeps_the_old_vault() {
    let s = Sandbox::new();
    s.init();
    s.set("a.key", b"1");
    let mount = s.root().join("full");
    std::fs::create_dir(&mount).expect("mount point");
    let script = r#"
        set -e
        mount -t tmpfs -o size=256k,mode=0700 credvault-full "$MNT"
        mkdir -m 700 "$MNT/vaults"
        cp "$SRC" "$MNT/vaults/test.cvault"
        export CREDVAULT_VAULT="$MNT/vaults/test.cvault"
        set +e
        head -c 300000 /dev/zero | tr '\0' x | "$BIN" --no-keychain set big.value 2>"$MNT/err"
        echo "exit=$?"
        echo "stderr=$(cat "$MNT/err")"
        cmp -s "$SRC" "$CREDVAULT_VAULT" && echo "unchanged=yes"
        echo "temps=$(ls -A "$MNT/vaults" | grep -c '\.tmp\.')"
        echo "get=$("$BIN" --no-keychain get a.key)"
    "#;
    let inner = s.command(&[]);
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "--mount", "bash", "-c", script])
        .env_clear()
        .env("MNT", &mount)
        .env("SRC", &s.vault)
        .env("BIN", inner.get_program());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().expect("run unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !text.contains("exit=") {
        crate::common::skip(&format!(
            "full disk: no private tmpfs here (unshare --user --map-root-user --mount: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return;
    }
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(field("exit="), "5", "{text}");
    let stderr = field("stderr=");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("left as it was"), "{stderr}");
    assert_eq!(field("unchanged="), "yes", "{text}");
    assert_eq!(field("temps="), "0", "{text}");
    assert_eq!(field("get="), "1", "{text}");
    println!(
        "full disk: ENOSPC on a 256 KiB tmpfs -> exit 5, old vault byte-identical, no temp file"
    );
}

#[test]
fn a_writer_killed_by_sigxfsz_mid_write_leaves_the_old_vault() {
    let s = Sandbox::new();
    s.init();
    s.set("a.key", b"1");
    let before = s.vault_bytes();

    // SIGXFSZ at its default action kills the writer inside write(2).
    let cmd = under_shell(&s, "ulimit -f 16", &["--no-keychain", "set", "big.value"]);
    let mut cmd = cmd;
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, &big_value()).expect("feed value");
    drop(stdin);
    let status = child.wait().expect("wait");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(25), "not killed by SIGXFSZ: {status}");
    }
    assert_eq!(s.vault_bytes(), before, "the old vault changed");
    assert_eq!(temps(&s).len(), 1, "the killed writer's temp file");

    // The next save works and removes the torn temp file.
    s.set("b.key", b"2");
    assert_eq!(temps(&s), Vec::<String>::new());
    assert_eq!(s.run(&["get", "a.key"]).ok().text(), "1\n");
    assert_eq!(s.run(&["get", "b.key"]).ok().text(), "2\n");
}

#[test]
fn a_writer_killed_while_holding_the_lock_does_not_block_the_next() {
    let s = Sandbox::new();
    s.init();
    let lock = {
        let mut p = s.vault.clone().into_os_string();
        p.push(".lock");
        p
    };
    // flock(1) takes the same flock(2) lock credvault takes; -o keeps the
    // lock in the flock process alone, which we then SIGKILL.
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sh", "-c", "echo held; exec sleep 5"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn flock");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "held\n");

    let blocked: Run = s.run_stdin(&["--no-keychain", "--lock-timeout", "1", "set", "k"], b"v");
    assert!(blocked.fails(5).contains("lock"), "{blocked:?}");

    holder.kill().expect("SIGKILL the lock holder");
    holder.wait().expect("reap");
    let start = Instant::now();
    s.run_stdin(&["--no-keychain", "--lock-timeout", "1", "set", "k"], b"v")
        .ok();
    println!(
        "stale lock: next writer saved {} ms after the holder was killed",
        start.elapsed().as_millis()
    );
    assert_eq!(s.run(&["get", "k"]).ok().text(), "v\n");
}
