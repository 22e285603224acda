//! `pass import|export|sync`, `get --pass` and `status` against the real
//! Debian `pass` and `gnupg` (scripts/test.sh installs them): a throwaway
//! GNUPGHOME with a batch-generated key (without passphrase, and one with a
//! passphrase through loopback pinentry), a store in a temp dir that is a
//! git repository, values with newlines and unicode, names that cannot map,
//! conflicts and gpg failures in the middle of a sync.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{run_command, Run, Sandbox};

/// A throwaway GNUPGHOME with one encryption key and a password store
/// initialised for it, a git repository.
struct Store {
    sandbox: Sandbox,
    gnupg: PathBuf,
    store: PathBuf,
    fingerprint: String,
    /// Extra options pass gives gpg (PASSWORD_STORE_GPG_OPTS).
    gpg_opts: Option<String>,
}

impl Drop for Store {
    fn drop(&mut self) {
        // Stop the gpg-agent this GNUPGHOME started.
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.gnupg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn need_tools() {
    for tool in ["pass", "gpg", "git"] {
        let ok = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "{tool} is needed: `bash scripts/test.sh` installs the Debian packages pass and gnupg"
        );
    }
}

impl Store {
    /// A key without passphrase, a store for it, `pass git init`, and an
    /// initialised vault.
    fn new() -> Store {
        Store::with_passphrase(None)
    }

    fn with_passphrase(passphrase: Option<&str>) -> Store {
        need_tools();
        let sandbox = Sandbox::new();
        let gnupg = sandbox.root().join("gnupg");
        let store = sandbox.root().join("store");
        std::fs::create_dir(&gnupg).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let mut s = Store {
            sandbox,
            gnupg,
            store,
            fingerprint: String::new(),
            gpg_opts: None,
        };
        // --batch --quick-gen-key: ed25519 signing key with a cv25519
        // encryption subkey ("future-default"), no expiry.
        let pw_file = s.sandbox.root().join("gpg-passphrase");
        std::fs::write(&pw_file, passphrase.unwrap_or("")).unwrap();
        let out = s
            .gpg()
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase-file",
            ])
            .arg(&pw_file)
            .args([
                "--quick-gen-key",
                "credvault test <test@example.invalid>",
                "future-default",
                "default",
                "never",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg key generation: {out:?}");
        let out = s
            .gpg()
            .args(["--batch", "--with-colons", "--list-keys"])
            .output()
            .unwrap();
        let listing = String::from_utf8(out.stdout).unwrap();
        s.fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|l| l.trim_matches(':').to_owned())
            .expect("a fingerprint");
        if passphrase.is_some() {
            s.gpg_opts = Some(format!(
                "--batch --pinentry-mode loopback --passphrase-file {}",
                pw_file.display()
            ));
        }
        // pass's git commits need an identity: HOME is the sandbox.
        std::fs::write(
            s.sandbox.root().join(".gitconfig"),
            "[user]\n\temail = test@example.invalid\n\tname = test\n[init]\n\tdefaultBranch = main\n",
        )
        .unwrap();
        let fpr = s.fingerprint.clone();
        s.pass(&["init", &fpr], None).ok();
        s.pass(&["git", "init"], None).ok();
        s.sandbox.init();
        s
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("GNUPGHOME", &self.gnupg)
            .env("PASSWORD_STORE_DIR", &self.store)
            .env("GIT_CONFIG_NOSYSTEM", "1");
        if let Some(opts) = &self.gpg_opts {
            cmd.env("PASSWORD_STORE_GPG_OPTS", opts);
        }
    }

    fn gpg(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", &self.gnupg).stdin(Stdio::null());
        cmd
    }

    /// Runs the real `pass ARGS` with `stdin`.
    fn pass(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut cmd = Command::new("pass");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.sandbox.root())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.env(&mut cmd);
        run_command(cmd, stdin)
    }

    /// `pass insert -m NAME` with `content` as the whole file content.
    fn insert(&self, name: &str, content: &[u8]) {
        self.pass(&["insert", "-m", "-f", name], Some(content)).ok();
    }

    /// `pass show NAME`: the whole content.
    fn show(&self, name: &str) -> Vec<u8> {
        self.pass(&["show", name], None).ok().stdout
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.store)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.sandbox.root())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn commits(&self) -> Vec<String> {
        self.git(&["log", "--format=%s"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.store.join(format!("{name}.gpg"))
    }

    /// `credvault ARGS` with the store's environment.
    fn cv(&self, args: &[&str]) -> Run {
        self.cv_stdin(args, None)
    }

    fn cv_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut cmd = self.sandbox.command(args);
        self.env(&mut cmd);
        run_command(cmd, stdin)
    }

    fn set(&self, key: &str, value: &[u8]) {
        self.cv_stdin(&["set", key], Some(value)).ok();
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let run = self.cv(&["get", key]);
        match run.code {
            0 => {
                let mut v = run.stdout;
                assert_eq!(v.pop(), Some(b'\n'));
                Some(v)
            }
            1 => None,
            _ => panic!("get {key}: {run:?}"),
        }
    }

    /// `credvault pass ARGS --json`: the report.
    fn report(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["pass"];
        all.extend(args);
        all.push("--json");
        let run = self.cv(&all);
        assert!(run.code == 0 || run.code == 6, "{run:?}");
        (run.code, run.json())
    }
}

/// The status of each item of a report, by key (or pass name).
fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let who = i["key"].as_str().or(i["pass_name"].as_str()).unwrap();
            (who.to_owned(), i["status"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn status_of(report: &serde_json::Value, who: &str) -> String {
    statuses(report)
        .into_iter()
        .find(|(k, _)| k == who)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("{who} not in {report}"))
}

/// Values that must survive both ways byte for byte.
const VALUES: [(&str, &[u8]); 5] = [
    ("postgresql.password", b"pg p@ss with spaces"),
    ("github.token", b"line one\nline two\n\nafter a blank line"),
    ("anthropic.apiKey", "ünïcödé ✓ κλειδί".as_bytes()),
    ("openai.apiKey", b"ends with a newline\n"),
    ("qdrant.apiKey", b"  tab\tand cr\r"),
];

#[test]
fn a_store_made_by_pass_insert_imports_exactly() {
    let s = Store::new();
    for (key, value) in VALUES {
        let name = format!("claude/{}", key.replace('.', "/"));
        // What `pass insert` stores for a value: the value and a newline.
        let mut content = value.to_vec();
        content.push(b'\n');
        s.insert(&name, &content);
    }
    // Names that cannot map: reported, never mangled.
    s.insert("claude/my service/api key", b"x\n");
    s.insert("claude/ünï/token", b"y\n");
    s.insert("claude/dotted.name/token", b"z\n");
    // Outside the prefix: not touched.
    s.insert("personal/bank", b"nope\n");
    let commits_before = s.commits().len();

    let (code, report) = s.report(&["import"]);
    assert_eq!(code, 6, "unmappable names make it incomplete: {report}");
    for (key, _) in VALUES {
        assert_eq!(status_of(&report, key), "imported");
    }
    for name in [
        "claude/my service/api key",
        "claude/ünï/token",
        "claude/dotted.name/token",
    ] {
        assert_eq!(status_of(&report, name), "unmappable", "{report}");
    }
    assert_eq!(report["imported"], 5);
    assert_eq!(report["unmappable"], 3);
    for (key, value) in VALUES {
        assert_eq!(s.get(key).as_deref(), Some(value), "{key}");
    }
    for key in [
        "my.service.api",
        "dotted.name.token",
        "personal.bank",
        "bank",
    ] {
        assert_eq!(s.get(key), None);
    }
    // Import wrote nothing to pass.
    assert_eq!(s.commits().len(), commits_before);

    // Again: everything unchanged, nothing saved.
    let before = s.sandbox.vault_bytes();
    let (_, report) = s.report(&["import"]);
    assert_eq!(report["unchanged"], 5, "{report}");
    assert_eq!(report["saved"], false);
    assert_eq!(s.sandbox.vault_bytes(), before);

    // Text output: one line per key, like import-legacy.
    let run = s.cv(&["pass", "import"]);
    assert_eq!(run.code, 6);
    assert!(run.text().contains("unchanged"), "{run:?}");
    assert!(run.text().contains("unmappable"), "{run:?}");
    assert!(
        run.stderr
            .contains("claude/my service/api key (unmappable)"),
        "{run:?}"
    );
    assert!(run.stderr.contains("error"), "{run:?}");
}

#[test]
fn import_keeps_a_different_vault_value_unless_overwrite_and_dry_run_changes_nothing() {
    let s = Store::new();
    s.insert("claude/github/token", b"from pass\n");
    s.set("github.token", b"from vault");
    let before = s.sandbox.vault_bytes();
    let (code, report) = s.report(&["import", "--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(status_of(&report, "github.token"), "kept");
    let (code, report) = s.report(&["import", "--overwrite", "--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(status_of(&report, "github.token"), "imported");
    assert_eq!(report["dry_run"], true);
    assert_eq!(s.sandbox.vault_bytes(), before, "a dry run saves nothing");
    let (_, report) = s.report(&["import"]);
    assert_eq!(status_of(&report, "github.token"), "kept");
    assert_eq!(s.get("github.token").as_deref(), Some(&b"from vault"[..]));
    let (_, report) = s.report(&["import", "--overwrite"]);
    assert_eq!(status_of(&report, "github.token"), "imported");
    assert_eq!(s.get("github.token").as_deref(), Some(&b"from pass"[..]));
}

#[test]
fn export_writes_through_pass_with_its_git_commits_byte_exact() {
    let s = Store::new();
    for (key, value) in VALUES {
        s.set(key, value);
    }
    // `set` strips one trailing newline from stdin: store that one again
    // with two, so the value really ends with a newline.
    s.set("openai.apiKey", b"ends with a newline\n\n");
    let before = s.commits().len();
    let (code, report) = s.report(&["export"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["exported"], 5);
    // Every value is in pass, as `pass show` prints it: value + newline.
    for (key, value) in VALUES {
        let name = format!("claude/{}", key.replace('.', "/"));
        let mut expected = value.to_vec();
        expected.push(b'\n');
        assert_eq!(s.show(&name), expected, "{name}");
    }
    // pass made one git commit per entry.
    let commits = s.commits();
    assert_eq!(commits.len(), before + 5, "{commits:?}");
    assert!(
        commits.iter().any(|c| c.contains("claude/github/token")),
        "{commits:?}"
    );
    // The sync state is not exported.
    assert!(!s.store.join("claude/_credvault").exists());

    // Again: unchanged, no commit.
    let (_, report) = s.report(&["export"]);
    assert_eq!(report["unchanged"], 5, "{report}");
    assert_eq!(s.commits().len(), before + 5);

    // A different value in pass is kept unless --overwrite.
    s.insert("claude/github/token", b"changed in pass\n");
    let (_, report) = s.report(&["export"]);
    assert_eq!(status_of(&report, "github.token"), "kept");
    assert_eq!(s.show("claude/github/token"), b"changed in pass\n");
    let (_, report) = s.report(&["export", "--overwrite"]);
    assert_eq!(status_of(&report, "github.token"), "exported");
    let mut expected = VALUES[1].1.to_vec();
    expected.push(b'\n');
    assert_eq!(s.show("claude/github/token"), expected);

    // And back: a fresh vault imports exactly what was exported.
    let t = Store::new();
    std::fs::remove_dir_all(&t.store).unwrap();
    copy_dir(&s.store, &t.store);
    std::fs::remove_dir_all(&t.gnupg).unwrap();
    copy_dir(&s.gnupg, &t.gnupg);
    let (_, report) = t.report(&["import"]);
    assert_eq!(report["imported"], 5, "{report}");
    for (key, value) in VALUES {
        assert_eq!(t.get(key).as_deref(), Some(value), "{key}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn a_custom_prefix_maps_its_own_part_of_the_store() {
    let s = Store::new();
    s.insert("work/creds/db/password", b"w\n");
    s.insert("claude/db/password", b"c\n");
    let (code, report) = s.report(&["import", "--prefix", "work/creds"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["prefix"], "work/creds/");
    assert_eq!(
        statuses(&report),
        [("db.password".to_owned(), "imported".to_owned())]
    );
    assert_eq!(s.get("db.password").as_deref(), Some(&b"w"[..]));
    let run = s.cv(&["pass", "import", "--prefix", "../etc"]);
    assert!(run.fails(2).contains("invalid prefix"), "{run:?}");
}

#[test]
fn sync_copies_changes_and_deletions_both_ways() {
    let s = Store::new();
    s.insert("claude/a/one", b"1 from pass\n");
    s.insert("claude/a/two", b"2 from pass\n");
    s.set("b.three", b"3 from vault");
    s.set("b.four", b"4 from vault");
    let commits = s.commits().len();
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(status_of(&report, "a.one"), "imported");
    assert_eq!(status_of(&report, "b.three"), "exported");
    assert_eq!(s.show("claude/b/three"), b"3 from vault\n");
    assert_eq!(s.get("a.two").as_deref(), Some(&b"2 from pass"[..]));
    assert_eq!(s.commits().len(), commits + 2, "pass committed the exports");

    // Nothing changed: a no-op that saves nothing.
    let before = s.sandbox.vault_bytes();
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0);
    assert_eq!(report["unchanged"], 4, "{report}");
    assert_eq!(report["saved"], false);
    assert_eq!(s.sandbox.vault_bytes(), before);

    // One change on each side, one deletion on each side.
    s.insert("claude/a/one", b"1 changed in pass\n");
    s.set("b.three", b"3 changed in vault");
    s.pass(&["rm", "-f", "claude/a/two"], None).ok();
    s.cv(&["rm", "b.four"]).ok();
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(status_of(&report, "a.one"), "imported");
    assert_eq!(status_of(&report, "b.three"), "exported");
    assert_eq!(status_of(&report, "a.two"), "removed-from-vault");
    assert_eq!(status_of(&report, "b.four"), "removed-from-pass");
    assert_eq!(s.get("a.one").as_deref(), Some(&b"1 changed in pass"[..]));
    assert_eq!(s.show("claude/b/three"), b"3 changed in vault\n");
    assert_eq!(s.get("a.two"), None);
    assert!(!s.file("claude/b/four").exists());
    assert!(s
        .commits()
        .iter()
        .any(|c| c.contains("Remove claude/b/four")));

    // In step again.
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0);
    assert_eq!(report["unchanged"], 2, "{report}");
    assert_eq!(report["items"].as_array().unwrap().len(), 2);
}

#[test]
fn a_change_on_both_sides_is_a_conflict_reported_and_not_lost() {
    let s = Store::new();
    s.insert("claude/svc/key", b"original\n");
    s.report(&["sync"]);
    s.insert("claude/svc/key", b"pass edit\n");
    s.set("svc.key", b"vault edit");

    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 6, "{report}");
    assert_eq!(status_of(&report, "svc.key"), "conflict");
    // Both edits are still there.
    assert_eq!(s.show("claude/svc/key"), b"pass edit\n");
    assert_eq!(s.get("svc.key").as_deref(), Some(&b"vault edit"[..]));
    let run = s.cv(&["pass", "sync"]);
    assert_eq!(run.code, 6);
    assert!(run.stderr.contains("svc.key (conflict)"), "{run:?}");
    assert!(run.text().contains("conflict"), "{run:?}");

    // --prefer decides.
    let (code, report) = s.report(&["sync", "--prefer", "vault", "--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(status_of(&report, "svc.key"), "exported");
    assert_eq!(s.show("claude/svc/key"), b"pass edit\n", "dry run");
    let (code, report) = s.report(&["sync", "--prefer", "pass"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(status_of(&report, "svc.key"), "imported");
    assert_eq!(s.get("svc.key").as_deref(), Some(&b"pass edit"[..]));
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0);
    assert_eq!(status_of(&report, "svc.key"), "unchanged");

    // Deleted in the vault, changed in pass: a conflict too.
    s.cv(&["rm", "svc.key"]).ok();
    s.insert("claude/svc/key", b"pass again\n");
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 6);
    assert_eq!(status_of(&report, "svc.key"), "conflict");
    assert!(s.file("claude/svc/key").exists());
    let (_, report) = s.report(&["sync", "--prefer", "vault"]);
    assert_eq!(status_of(&report, "svc.key"), "removed-from-pass");
    assert!(!s.file("claude/svc/key").exists());

    // Never synced and different on both sides: a conflict, not a copy.
    s.insert("claude/fresh/one", b"p\n");
    s.set("fresh.one", b"v");
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 6);
    assert_eq!(status_of(&report, "fresh.one"), "conflict");
}

#[test]
fn a_no_op_sync_decrypts_nothing_and_a_gpg_failure_leaves_the_key_alone() {
    let s = Store::new();
    for i in 0..5 {
        s.insert(&format!("claude/k/n{i}"), format!("v{i}\n").as_bytes());
    }
    s.report(&["sync"]);
    // Take the secret key away: nothing can be decrypted any more.
    let hidden = s.sandbox.root().join("gnupg-hidden");
    Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", &s.gnupg)
        .status()
        .unwrap();
    std::fs::rename(&s.gnupg, &hidden).unwrap();
    std::fs::create_dir(&s.gnupg).unwrap();
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "an unchanged store needs no gpg: {report}");
    assert_eq!(report["unchanged"], 5);

    // A file that changed must be decrypted: that fails, and only that key
    // is reported, left as it was; the vault change of another key goes
    // through.
    let n1 = s.file("claude/k/n1");
    let content = std::fs::read(&n1).unwrap();
    std::fs::write(&n1, &content).unwrap(); // same bytes, new mtime/ctime
    s.set("k.n3", b"vault side");
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 6, "{report}");
    assert_eq!(status_of(&report, "k.n1"), "failed");
    assert_eq!(
        status_of(&report, "k.n3"),
        "failed",
        "no key to encrypt: {report}"
    );
    let reason = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "k.n1")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("gpg"), "{reason}");
    let run = s.cv(&["pass", "sync"]);
    assert_eq!(run.code, 6);
    assert!(run.stderr.contains("k.n1 (failed)"), "{run:?}");

    // Key back: the retried sync finishes the job; n1 was rewritten with
    // the same content, so it is unchanged.
    std::fs::remove_dir_all(&s.gnupg).unwrap();
    std::fs::rename(&hidden, &s.gnupg).unwrap();
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(status_of(&report, "k.n1"), "unchanged");
    assert_eq!(status_of(&report, "k.n3"), "exported");
    assert_eq!(s.show("claude/k/n3"), b"vault side\n");
}

#[test]
fn a_gpg_failure_mid_sync_applies_the_other_keys_and_not_the_failed_one() {
    let s = Store::new();
    s.insert("claude/good/one", b"g1\n");
    // A subfolder whose .gpg-id names a key nobody has: pass insert fails.
    std::fs::create_dir_all(s.store.join("claude/broken")).unwrap();
    std::fs::write(
        s.store.join("claude/broken/.gpg-id"),
        "0000000000000000000000000000000000000000\n",
    )
    .unwrap();
    // An entry that is not valid OpenPGP data: pass show fails.
    std::fs::create_dir_all(s.store.join("claude/corrupt")).unwrap();
    std::fs::write(s.file("claude/corrupt/entry"), b"not gpg at all").unwrap();
    s.set("broken.token", b"cannot be encrypted");
    s.set("fine.token", b"can be");

    let vault_before = s.sandbox.vault_bytes();
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 6, "{report}");
    assert_eq!(status_of(&report, "good.one"), "imported");
    assert_eq!(status_of(&report, "fine.token"), "exported");
    assert_eq!(status_of(&report, "broken.token"), "failed");
    assert_eq!(status_of(&report, "corrupt.entry"), "failed");
    assert_eq!(report["failed"], 2);
    assert_ne!(s.sandbox.vault_bytes(), vault_before, "the rest was saved");
    // Nothing of the failed keys was applied anywhere.
    assert!(!s.file("claude/broken/token").exists());
    assert_eq!(s.get("corrupt.entry"), None);
    assert_eq!(
        s.get("broken.token").as_deref(),
        Some(&b"cannot be encrypted"[..])
    );
    let run = s.cv(&["pass", "sync"]);
    assert_eq!(run.code, 6);
    assert!(
        run.stderr.contains("broken.token (failed)")
            && run.stderr.contains("corrupt.entry (failed)"),
        "{run:?}"
    );

    // Fix the folder's key: the next sync exports it (it was never
    // recorded as synced, so it is not taken for a deletion).
    std::fs::remove_file(s.store.join("claude/broken/.gpg-id")).unwrap();
    std::fs::remove_file(s.file("claude/corrupt/entry")).unwrap();
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(status_of(&report, "broken.token"), "exported");
    assert_eq!(s.show("claude/broken/token"), b"cannot be encrypted\n");
}

#[test]
fn a_passphrase_key_works_through_loopback_pinentry() {
    let s = Store::with_passphrase(Some("gpg key passphrase"));
    s.insert("claude/svc/token", b"behind a passphrase\n");
    s.set("svc.other", b"to pass");
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        s.get("svc.token").as_deref(),
        Some(&b"behind a passphrase"[..])
    );
    assert_eq!(s.show("claude/svc/other"), b"to pass\n");

    // Without the passphrase gpg fails at once (batch, loopback): failed.
    let mut t = Store::with_passphrase(Some("another passphrase"));
    t.insert("claude/svc/token", b"x\n");
    t.gpg_opts = Some("--batch --pinentry-mode loopback".to_owned());
    // The agent caches a passphrase it was given: start a fresh one.
    Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", &t.gnupg)
        .status()
        .unwrap();
    let (code, report) = t.report(&["import"]);
    assert_eq!(code, 6, "{report}");
    assert_eq!(status_of(&report, "svc.token"), "failed");
    assert_eq!(t.get("svc.token"), None);
}

#[test]
fn pass_never_sees_credvault_secrets_or_values_in_its_arguments() {
    let s = Store::new();
    // A git hook runs inside pass's commit, with pass's environment, while
    // pass and credvault run: record the environment and every process's
    // command line.
    let hook = s.store.join(".git/hooks/pre-commit");
    let seen = s.sandbox.root().join("seen");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nenv > '{0}'\nfor f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" >> '{0}' 2>/dev/null; echo >> '{0}'; done\n",
            seen.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    s.set("svc.secret", b"VALUE-MUST-NOT-LEAK");
    let mut cmd = s.sandbox.command(&["pass", "export"]);
    s.env(&mut cmd);
    cmd.env("CREDVAULT_NEW_PASSPHRASE", "SOME-NEW-PASSPHRASE");
    let run = run_command(cmd, None);
    assert_eq!(run.code, 0, "{run:?}");
    let seen = std::fs::read_to_string(&seen).expect("the hook ran");
    assert!(seen.contains("PASSWORD_STORE_DIR="), "{seen}");
    assert!(
        seen.contains("insert -m -f claude/svc/secret"),
        "pass was listed: {seen}"
    );
    assert!(!seen.contains("CREDVAULT_"), "{seen}");
    assert!(!seen.contains(crate::common::PASS), "{seen}");
    assert!(!seen.contains("VALUE-MUST-NOT-LEAK"), "{seen}");
    assert!(!seen.contains("SOME-NEW-PASSPHRASE"), "{seen}");
}

#[test]
fn get_with_pass_falls_back_from_the_vault_to_pass_to_the_environment() {
    let s = Store::new();
    s.insert("claude/github/token", b"from pass\n");
    s.set("vault.only", b"in vault");
    s.insert("claude/vault/only", b"shadowed\n");

    let run = s.cv(&["get", "github.token", "--pass"]).ok();
    assert_eq!(run.stdout, b"from pass\n");
    assert!(
        run.stderr
            .contains("from the pass entry claude/github/token"),
        "{run:?}"
    );
    let run = s.cv(&["get", "github.token", "--pass", "--json"]).ok();
    assert_eq!(run.json()["source"], "pass");
    assert_eq!(run.json()["pass"], "claude/github/token");
    assert_eq!(
        s.cv(&["get", "vault.only", "--pass"]).ok().stdout,
        b"in vault\n"
    );

    let mut cmd = s
        .sandbox
        .command(&["get", "openai.apiKey", "--pass", "--env", "OPENAI_API_KEY"]);
    s.env(&mut cmd);
    cmd.env("OPENAI_API_KEY", "from env");
    let run = run_command(cmd, None).ok();
    assert_eq!(run.stdout, b"from env\n");
    // Without --pass, pass is not consulted.
    assert!(s
        .cv(&["get", "github.token"])
        .fails(1)
        .contains("github.token"));
    // Nowhere: exit 1, naming the places tried.
    let run = s.cv(&["get", "nowhere.key", "--pass"]);
    assert!(run.fails(1).contains("claude/nowhere/key"), "{run:?}");
}

#[test]
fn status_says_whether_pass_and_an_initialised_store_are_present() {
    let s = Store::new();
    let json = s.cv(&["status", "--json"]).ok().json();
    assert_eq!(json["pass"]["available"], true, "{json}");
    assert_eq!(json["pass"]["initialised"], true);
    assert_eq!(json["pass"]["store"], s.store.display().to_string());
    let text = s.cv(&["status"]).ok();
    assert!(text.text().contains("(initialised)"), "{text:?}");

    // No store: reported, and the pass commands exit 5 before unlocking.
    let mut cmd = s.sandbox.command(&["status", "--json"]);
    cmd.env("PASSWORD_STORE_DIR", s.sandbox.root().join("no-store"));
    let json = run_command(cmd, None).ok().json();
    assert_eq!(json["pass"]["initialised"], false);
    let run = s.cv(&[
        "pass",
        "sync",
        "--store",
        &s.sandbox.root().join("no-store").display().to_string(),
    ]);
    assert!(
        run.fails(5).contains("no initialised password store"),
        "{run:?}"
    );
}

#[test]
fn a_vault_change_by_another_process_during_the_sync_is_not_overwritten() {
    let s = Store::new();
    s.insert("claude/a/key", b"a1\n");
    s.set("b.key", b"b1");
    s.report(&["sync"]);
    // Pass changes a.key, the vault changes b.key: the sync will import
    // a.key and export b.key. While pass commits b.key, a git hook (once)
    // changes a.key in the vault from another credvault process.
    s.insert("claude/a/key", b"a2 from pass\n");
    s.set("b.key", b"b2");
    let hook = s.store.join(".git/hooks/pre-commit");
    let once = s.sandbox.root().join("hook-ran");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n[ -e '{once}' ] && exit 0\ntouch '{once}'\nprintf 'a3 from another process' | CREDVAULT_VAULT='{vault}' CREDVAULT_PASSPHRASE='{pw}' '{bin}' --no-keychain set a.key\n",
            once = once.display(),
            vault = s.sandbox.vault.display(),
            pw = crate::common::PASS,
            bin = env!("CARGO_BIN_EXE_credvault"),
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (code, report) = s.report(&["sync"]);
    assert!(once.exists(), "the hook ran");
    assert_eq!(code, 6, "{report}");
    assert_eq!(status_of(&report, "b.key"), "exported");
    assert_eq!(status_of(&report, "a.key"), "failed");
    // The other process's value is still there; pass's too.
    assert_eq!(
        s.get("a.key").as_deref(),
        Some(&b"a3 from another process"[..])
    );
    assert_eq!(s.show("claude/a/key"), b"a2 from pass\n");
    // Next sync: both sides changed since the last sync: a conflict.
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 6);
    assert_eq!(status_of(&report, "a.key"), "conflict");
    assert_eq!(status_of(&report, "b.key"), "unchanged");
}

/// `pass sync` crashed and failed at every storage step it takes (issue
/// 19; tests/cli/crash.rs does the other writers), through the test-only
/// fault hook (`CREDVAULT_FAULT`). Each round adds one entry on each side
/// and syncs with the fault: the vault has the pass entry imported or not
/// at all, `audit verify` passes, no temp file is left after an error, and
/// a clean sync afterwards brings both sides in step without a conflict.
#[test]
fn a_sync_crashed_at_every_storage_step_leaves_the_vault_old_or_new() {
    use std::os::unix::process::ExitStatusExt;
    let s = Store::new();
    let sync = |fault: Option<String>, trace: Option<&Path>| {
        let mut cmd = s.sandbox.command(&["pass", "sync"]);
        s.env(&mut cmd);
        if let Some(f) = fault {
            cmd.env("CREDVAULT_FAULT", f);
        }
        if let Some(t) = trace {
            cmd.env("CREDVAULT_FAULT_TRACE", t);
        }
        cmd.output().expect("run credvault")
    };
    // The points of a sync that imports one entry and exports one.
    s.insert("claude/a/t", b"from pass\n");
    s.set("b.t", b"from vault");
    let trace = s.sandbox.root().join("trace");
    assert!(sync(None, Some(&trace)).status.success());
    let points = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .count();
    assert!(points >= 8, "a sync saves: {points} fault points");

    for n in 1..=points {
        for action in ["error", "abort"] {
            let round = format!("c{n}{action}");
            s.insert(&format!("claude/a/{round}"), b"p\n");
            s.set(&format!("b.{round}"), b"v");
            let out = sync(Some(format!("{n}:{action}")), None);
            let what = format!("sync, {action} at fault point {n}: {out:?}");
            if action == "abort" {
                assert_eq!(out.status.signal(), Some(6), "{what}");
            } else {
                assert!(matches!(out.status.code(), Some(0 | 5 | 6)), "{what}");
            }
            let imported = s.get(&format!("a.{round}"));
            assert!(
                imported.is_none() || imported.as_deref() == Some(&b"p"[..]),
                "{what}: {imported:?}"
            );
            if out.status.success() {
                assert!(imported.is_some(), "{what}: exit 0 without the import");
            }
            s.cv(&["audit", "verify"]).ok();
            if action == "error" {
                let dir = s.sandbox.vault.parent().expect("vault dir");
                let temps: Vec<String> = std::fs::read_dir(dir)
                    .expect("vault dir")
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(".tmp.") || n.ends_with(".gen-tmp"))
                    .collect();
                assert!(temps.is_empty(), "{what}: {temps:?}");
            }
            let (code, report) = s.report(&["sync"]);
            assert_eq!(code, 0, "{what}: the next sync: {report}");
            assert_eq!(s.get(&format!("a.{round}")).as_deref(), Some(&b"p"[..]));
            assert_eq!(s.show(&format!("claude/b/{round}")), b"v\n");
        }
    }
}

/// `pass sync` under power loss (issue 19; tests/cli/powerloss.rs does the
/// writers of the crash table): HOME, the vault, its marks and its audit
/// log on the power-loss file system of tests/powerloss; GNUPGHOME and the
/// store (a fresh copy per cut) off it. One sync that imports one entry
/// and exports one, the power cut after every single operation it counts:
/// after the remount the vault opens, as the state before the sync or
/// after it (entries and sync state), and as the one after when the sync
/// had exited 0; and a clean sync then brings both sides in step.
#[test]
fn a_sync_survives_a_power_cut_after_every_operation() {
    use crate::crash::{try_state, Env, State};
    // The sync state names the store's path and its files' inodes and
    // times, which differ between the copies: compare its keys and hashes.
    let normal = |mut st: State| {
        st.entries = st
            .entries
            .into_iter()
            .map(|(k, v)| match k.strip_prefix("_credvault.pass-sync.") {
                Some(_) => {
                    let lines: Vec<String> = v
                        .lines()
                        .map(|l| l.splitn(3, '\t').take(2).collect::<Vec<_>>().join("\t"))
                        .collect();
                    ("_credvault.pass-sync".to_owned(), lines.join("\n"))
                }
                None => (k, v),
            })
            .collect();
        st
    };
    let state = |env: &Env| normal(crate::crash::state(env));
    if !crate::powerloss::fuse_ready() {
        crate::common::skip(
            "no /dev/fuse or no fusermount3 (Debian fuse3): cannot run the power-loss tests",
        );
        return;
    }
    let s = Store::new();
    s.insert("claude/a/t", b"from pass\n");
    s.set("b.t", b"from vault");
    let top = tempfile::tempdir().expect("temp dir");
    let base = Env {
        root: top.path().join("base"),
    };
    std::fs::create_dir(&base.root).unwrap();
    for part in ["vaults", "data", ".gitconfig"] {
        if s.sandbox.root().join(part).exists() {
            copy_dir(&s.sandbox.root().join(part), &base.root.join(part));
        }
    }
    let old = state(&base);
    let stores = top.path().join("stores");
    std::fs::create_dir(&stores).unwrap();
    let sync = |env: &Env, name: &str| {
        let store = stores.join(name);
        if !store.exists() {
            copy_dir(&s.store, &store);
        }
        let mut cmd = env.command(&["pass", "sync"], crate::common::PASS);
        cmd.env("GNUPGHOME", &s.gnupg)
            .env("PASSWORD_STORE_DIR", &store)
            .env("GIT_CONFIG_NOSYSTEM", "1");
        Env::output(cmd, None)
    };
    let at = top.path().join("mnt");
    std::fs::create_dir(&at).unwrap();
    let mut mount = credvault_powerloss::Mount::new(&at).expect("mount the power-loss file system");

    // Count the operations of one sync.
    let dir = at.join("count");
    std::fs::create_dir(&dir).unwrap();
    let env = base.copy_to(&dir);
    mount.sync_everything();
    let out = sync(&env, "count");
    let log = mount.log();
    assert!(out.status.success(), "sync on the power-loss fs: {out:?}");
    let new = state(&env);
    assert_ne!(old, new);
    assert!(log.contains(&"fsync"), "{log:?}");

    let mut violations = Vec::new();
    let (mut olds, mut news) = (0, 0);
    for n in 0..=log.len() {
        mount.cut_after(None);
        let dir = at.join(format!("cut-{n}"));
        std::fs::create_dir(&dir).unwrap();
        let env = base.copy_to(&dir);
        mount.sync_everything();
        mount.cut_after(Some(n as u64));
        let name = format!("cut-{n}");
        let out = sync(&env, &name);
        let next = log.get(n).copied().unwrap_or("the end");
        let what = format!(
            "sync, power cut before op {n} ({next}), exit {:?}",
            out.status
        );
        mount.power_cycle().expect("remount after the power cut");
        match try_state(&env).map(normal) {
            Err(e) => violations.push(format!("{what}: {e}")),
            Ok(now) => {
                if now == new {
                    news += 1;
                } else if now == old {
                    olds += 1;
                } else {
                    violations.push(format!("{what}: a mix: {now:?}"));
                }
                if out.status.success() && now != new {
                    violations.push(format!("{what}: the acknowledged sync was lost"));
                }
                let again = sync(&env, &name);
                if !again.status.success() {
                    violations.push(format!("{what}: the next sync: {again:?}"));
                }
            }
        }
    }
    eprintln!(
        "pass sync: {} operations, {} power cuts: {olds} left the old state, {news} the new",
        log.len(),
        log.len() + 1
    );
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(olds > 0 && news > 0, "{olds} old, {news} new");
}

/// `credvault pass ARGS` in `s` with the fault hook's `fault` or `trace`.
fn pass_with_fault(
    s: &Store,
    args: &[&str],
    fault: Option<String>,
    trace: Option<&Path>,
) -> std::process::Output {
    let mut all = vec!["pass"];
    all.extend(args);
    let mut cmd = s.sandbox.command(&all);
    s.env(&mut cmd);
    if let Some(f) = fault {
        cmd.env("CREDVAULT_FAULT", f);
    }
    if let Some(t) = trace {
        cmd.env("CREDVAULT_FAULT_TRACE", t);
    }
    cmd.output().expect("run credvault")
}

/// Temp files of a save left beside the vault of `s`.
fn vault_temps(s: &Store) -> Vec<String> {
    let dir = s.sandbox.vault.parent().expect("vault dir");
    std::fs::read_dir(dir)
        .expect("vault dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp.") || n.ends_with(".gen-tmp"))
        .collect()
}

/// `pass import` and `pass export` crashed and failed at every storage
/// step they take (issue 19), as the sync above: each round adds an entry
/// on the side the command reads and runs it with the fault. Afterwards
/// the vault opens with the imported entry whole or absent (present when
/// the command exited 0), `audit verify` passes, no temp file is left
/// after an error, the command run again without a fault completes, and
/// the next save leaves no temp file.
fn crash_import_or_export(import: bool) {
    use std::os::unix::process::ExitStatusExt;
    let s = Store::new();
    let args: &[&str] = if import { &["import"] } else { &["export"] };
    let round_setup = |round: &str| {
        if import {
            s.insert(&format!("claude/a/{round}"), b"p\n");
        } else {
            s.set(&format!("b.{round}"), b"v");
        }
    };
    round_setup("traced");
    let trace = s.sandbox.root().join("trace");
    let out = pass_with_fault(&s, args, None, Some(&trace));
    assert!(out.status.success(), "{args:?}: {out:?}");
    let points = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .count();
    assert!(points >= 3, "{args:?}: {points} fault points");

    for n in 1..=points {
        for action in ["error", "abort"] {
            let round = format!("c{n}{action}");
            round_setup(&round);
            let out = pass_with_fault(&s, args, Some(format!("{n}:{action}")), None);
            let what = format!("{args:?}, {action} at fault point {n}: {out:?}");
            if action == "abort" {
                assert_eq!(out.status.signal(), Some(6), "{what}");
            } else {
                assert!(matches!(out.status.code(), Some(0 | 5 | 6)), "{what}");
            }
            if import {
                let imported = s.get(&format!("a.{round}"));
                assert!(
                    imported.is_none() || imported.as_deref() == Some(&b"p"[..]),
                    "{what}: {imported:?}"
                );
                if out.status.success() {
                    assert!(imported.is_some(), "{what}: exit 0 without the import");
                }
            } else {
                assert_eq!(s.get(&format!("b.{round}")).as_deref(), Some(&b"v"[..]));
            }
            s.cv(&["audit", "verify"]).ok();
            if action == "error" {
                assert_eq!(vault_temps(&s), Vec::<String>::new(), "{what}");
            }
            let (code, report) = s.report(args);
            assert_eq!(code, 0, "{what}: run again: {report}");
            if import {
                assert_eq!(s.get(&format!("a.{round}")).as_deref(), Some(&b"p"[..]));
            } else {
                assert_eq!(s.show(&format!("claude/b/{round}")), b"v\n");
            }
            // The next save removes what a crash left.
            s.set("after.crash", b"x");
            assert_eq!(vault_temps(&s), Vec::<String>::new(), "{what}");
        }
    }
}

#[test]
fn an_import_crashed_at_every_storage_step_leaves_the_vault_old_or_new() {
    crash_import_or_export(true);
}

#[test]
fn an_export_crashed_at_every_storage_step_leaves_the_vault_whole() {
    crash_import_or_export(false);
}

/// `credvault --lock-timeout 300 ARGS` with the store's environment, for
/// the races of tests/cli/races.rs.
fn racer(s: &Store, args: &[&str], stdin: Option<&[u8]>) -> (Command, Option<Vec<u8>>) {
    let mut all = vec!["--lock-timeout", crate::races::LOCK_TIMEOUT];
    all.extend(args);
    let mut cmd = s.sandbox.command(&all);
    s.env(&mut cmd);
    (cmd, stdin.map(<[u8]>::to_vec))
}

/// `pass sync` raced against `set` (issue 19), both past their unlock
/// before either saves (the race helper of tests/cli/races.rs holds the
/// vault's lock until both wait for it): both are acknowledged, the set's
/// value is in the vault, the sync imported and exported its entries
/// (nothing of the other lost), the save counter went up by at least the
/// set's save, and a clean sync then brings the set's key to pass without
/// a conflict.
#[test]
fn a_sync_raced_against_a_set_loses_nothing() {
    let s = Store::new();
    s.insert("claude/a/t", b"from pass\n");
    s.set("b.t", b"from vault");
    let before = crate::races::counter(&s.sandbox);
    let runs = crate::races::race(
        &s.sandbox,
        vec![
            racer(&s, &["pass", "sync"], None),
            racer(&s, &["set", "c.t"], Some(b"racing set")),
        ],
    );
    assert_eq!(runs[0].code, 0, "sync: {:?}", runs[0]);
    assert!(!runs[0].stderr.contains("panicked"), "{:?}", runs[0]);
    assert_eq!(runs[1].code, 0, "set: {:?}", runs[1]);
    assert_eq!(s.get("c.t").as_deref(), Some(&b"racing set"[..]));
    assert_eq!(s.get("a.t").as_deref(), Some(&b"from pass"[..]));
    assert_eq!(s.show("claude/b/t"), b"from vault\n");
    assert!(crate::races::counter(&s.sandbox) >= before + 2);
    s.cv(&["audit", "verify"]).ok();
    assert_eq!(vault_temps(&s), Vec::<String>::new());
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(status_of(&report, "c.t"), "exported");
    assert_eq!(s.show("claude/c/t"), b"racing set\n");
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
}

/// Two `pass sync`s of one vault and store started together (issue 19):
/// the second waits for the first (`<vault>.pass-sync.lock`: pass writes
/// its files in place, and two syncs exporting one entry at once once left
/// a file gpg called manipulated); both succeed, both sides hold both
/// entries, the vault and its audit log verify, no temp file is left, and
/// a clean sync finds nothing to do and no conflict.
#[test]
fn two_syncs_at_once_lose_nothing() {
    let s = Store::new();
    s.insert("claude/a/t", b"from pass\n");
    s.set("b.t", b"from vault");
    let children: Vec<_> = (0..2)
        .map(|_| {
            let (mut cmd, _) = racer(&s, &["pass", "sync", "--json"], None);
            cmd.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start credvault")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for credvault");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(s.get("a.t").as_deref(), Some(&b"from pass"[..]));
    assert_eq!(s.show("claude/b/t"), b"from vault\n");
    s.cv(&["verify"]).ok();
    s.cv(&["audit", "verify"]).ok();
    assert_eq!(vault_temps(&s), Vec::<String>::new());
    let (code, report) = s.report(&["sync"]);
    assert_eq!(code, 0, "{report}");
    for (who, status) in statuses(&report) {
        assert_eq!(status, "unchanged", "{who}: {report}");
    }
}
