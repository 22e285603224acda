//! `credvault::pass::PassBackend` on the real `pass` and `gpg` (Debian
//! `pass gnupg`, installed by scripts/test.sh): a throwaway GNUPGHOME with
//! a batch-generated key without passphrase, a store in a temp dir. The
//! GNUPGHOME reaches `pass` through `PassBackend::with_program`, a tiny
//! wrapper script, so this test changes no process-wide environment.

#![cfg(all(unix, feature = "pass"))]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use credvault::pass::{PassBackend, Prefix};
use credvault::SecretValue;

struct Agent(std::path::PathBuf);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.0)
            .status();
    }
}

fn gpg(home: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("gpg is needed: scripts/test.sh installs gnupg");
    assert!(out.status.success(), "gpg {args:?}: {out:?}");
    out.stdout
}

#[test]
fn get_set_delete_list_through_the_real_pass() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _agent = Agent(home.clone());
    gpg(
        &home,
        &[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "credvault test <test@example.invalid>",
            "future-default",
            "default",
            "never",
        ],
    );
    let listing = String::from_utf8(gpg(&home, &["--with-colons", "--list-keys"])).unwrap();
    let fpr = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|l| l.trim_matches(':').to_owned())
        .unwrap();
    let wrapper = dir.path().join("pass-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nGNUPGHOME='{}' exec pass \"$@\"\n",
            home.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();

    let store = dir.path().join("store");
    let backend = PassBackend::new(&store).with_program(&wrapper);
    assert!(backend.is_available());
    assert!(!backend.is_initialised());
    let status = Command::new(&wrapper)
        .env("PASSWORD_STORE_DIR", &store)
        .args(["init", &fpr])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(backend.is_initialised());

    let values: [(&str, &[u8]); 3] = [
        ("claude/github/token", b"ghp_simple"),
        ("claude/multi/line", b"one\ntwo\n\nthree\n"),
        ("claude/my service/ünï", "spaces and ünïcödé".as_bytes()),
    ];
    for (name, value) in values {
        backend
            .set(name, &SecretValue::new(value.to_vec()))
            .unwrap();
    }
    for (name, value) in values {
        let got = backend.get(name).unwrap().expect("stored above");
        assert_eq!(got.expose(), value, "{name}");
    }
    // The file holds the value plus the newline `pass insert` would add.
    let raw = gpg(
        &home,
        &[
            "--batch",
            "--quiet",
            "-d",
            store.join("claude/github/token.gpg").to_str().unwrap(),
        ],
    );
    assert_eq!(raw, b"ghp_simple\n");
    assert_eq!(
        backend.list("claude/").unwrap(),
        [
            "claude/github/token",
            "claude/multi/line",
            "claude/my service/ünï"
        ]
    );
    assert_eq!(backend.list("claude/multi").unwrap(), ["claude/multi/line"]);
    assert!(backend.list("nothing/").unwrap().is_empty());
    assert!(backend.get("claude/missing").unwrap().is_none());
    assert!(backend.delete("claude/github/token").unwrap());
    assert!(!backend.delete("claude/github/token").unwrap());
    assert!(backend.get("claude/github/token").unwrap().is_none());
    assert!(backend.get("../outside").is_err());
    assert!(Prefix::new("../x").is_err());
}
