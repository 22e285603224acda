//! Issue 18: one vault on several machines. `merge` of another copy,
//! sync-folder conflict copies, and the git merge driver and textconv
//! with the real `git`: two clones change the same vault, `git pull`
//! merges through the driver.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{run_command, Run, Sandbox, PASS, WEAK};

/// `credvault --vault PATH ARGS`.
fn at(s: &Sandbox, vault: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--vault", vault.to_str().unwrap()];
    all.extend(args);
    s.run(&all)
}

fn set_at(s: &Sandbox, vault: &Path, key: &str, value: &str) {
    let mut cmd = s.command(&["--vault", vault.to_str().unwrap(), "set", key]);
    cmd.env("CREDVAULT_PASSPHRASE", PASS);
    run_command(cmd, Some(value.as_bytes())).ok();
}

fn get_at(s: &Sandbox, vault: &Path, key: &str) -> Option<String> {
    let run = at(s, vault, &["get", key]);
    match run.code {
        0 => Some(run.text().trim_end().to_owned()),
        1 => None,
        _ => panic!("get {key}: {run:?}"),
    }
}

/// Waits until the wall clock has moved on by a few milliseconds, so the
/// next change has a later update time than the last one.
fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(5));
}

fn copy_of(s: &Sandbox, name: &str) -> PathBuf {
    let path = s.vault.with_file_name(name);
    std::fs::copy(&s.vault, &path).unwrap();
    path
}

#[test]
fn merge_takes_every_change_by_the_rule_and_dry_run_saves_nothing() {
    let s = Sandbox::new();
    s.init();
    s.set("shared", b"0");
    s.set("gone", b"g");
    s.set("kept", b"k");
    let other = copy_of(&s, "laptop.cvault");
    tick();
    s.set("only.here", b"h");
    s.set("kept", b"here");
    set_at(&s, &other, "only.there", "t");
    at(&s, &other, &["rm", "gone"]).ok();
    tick();
    set_at(&s, &other, "shared", "newest");

    let before = s.vault_bytes();
    let dry = s
        .run(&["--json", "merge", other.to_str().unwrap(), "--dry-run"])
        .ok()
        .json();
    assert_eq!(dry["merges"][0]["saved"], false);
    assert_eq!(dry["merges"][0]["taken"].as_array().unwrap().len(), 3);
    assert_eq!(s.vault_bytes(), before, "a dry run saved");

    let run = s.run(&["merge", other.to_str().unwrap()]).ok();
    let text = run.text();
    for line in ["added     only.there", "updated   shared", "deleted   gone"] {
        assert!(text.contains(line), "{line} missing: {text}");
    }
    assert!(!text.contains("newest"), "a value in the output: {text}");
    assert_eq!(get_at(&s, &s.vault, "shared").as_deref(), Some("newest"));
    assert_eq!(get_at(&s, &s.vault, "only.there").as_deref(), Some("t"));
    assert_eq!(get_at(&s, &s.vault, "only.here").as_deref(), Some("h"));
    assert_eq!(get_at(&s, &s.vault, "kept").as_deref(), Some("here"));
    assert_eq!(get_at(&s, &s.vault, "gone"), None);

    // The other way round gives the same entries; again changes nothing.
    at(&s, &other, &["merge", s.vault.to_str().unwrap()]).ok();
    let ls = |v: &Path| at(&s, v, &["ls"]).ok().text().to_owned();
    assert_eq!(ls(&s.vault), ls(&other));
    for key in ["shared", "only.here", "only.there", "kept"] {
        assert_eq!(get_at(&s, &other, key), get_at(&s, &s.vault, key), "{key}");
    }
    let again = s
        .run(&["--json", "merge", other.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(again["merges"][0]["saved"], false);
}

#[test]
fn another_vault_is_refused_and_slots_are_never_imported() {
    let s = Sandbox::new();
    s.init();
    s.set("a", b"1");
    let stranger = s.vault.with_file_name("stranger.cvault");
    let mut init = vec!["init"];
    init.extend(WEAK);
    at(&s, &stranger, &init).ok();
    let run = s.run(&["merge", stranger.to_str().unwrap()]);
    let err = run.fails(2);
    assert!(err.contains("different vault"), "{err}");

    // The copy gets a passphrase slot this vault never had.
    let other = copy_of(&s, "copy.cvault");
    let mut cmd = s.command(&[
        "--vault",
        other.to_str().unwrap(),
        "slot",
        "add",
        "passphrase",
        "--kdf-memory-mib",
        "8",
        "--kdf-iterations",
        "1",
        "--kdf-parallelism",
        "1",
    ]);
    cmd.env("CREDVAULT_NEW_PASSPHRASE", "a second passphrase");
    run_command(cmd, None).ok();
    set_at(&s, &other, "b", "2");
    let slots_before = s.run(&["--json", "slot", "list"]).ok().json();
    let report = s
        .run(&["--json", "merge", other.to_str().unwrap()])
        .ok()
        .json();
    let skipped = report["merges"][0]["skipped_slots"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert_eq!(skipped[0]["type"], "passphrase");
    assert_eq!(s.run(&["--json", "slot", "list"]).ok().json(), slots_before);
    let mut cmd = s.command(&["get", "b"]);
    cmd.env("CREDVAULT_PASSPHRASE", "a second passphrase");
    run_command(cmd, None).fails(3);
    assert_eq!(get_at(&s, &s.vault, "b").as_deref(), Some("2"));
}

#[test]
fn sync_folder_conflict_copies_are_listed_merged_and_removed() {
    let s = Sandbox::new();
    s.init();
    s.set("base", b"b");
    let names = [
        "test.sync-conflict-20261206-101112-ABCD123.cvault",
        "test (Jane's conflicted copy 2026-12-06).cvault",
        "test (conflicted copy 2026-12-06 101112).cvault",
    ];
    for (i, name) in names.iter().enumerate() {
        let copy = copy_of(&s, name);
        set_at(&s, &copy, &format!("from.copy{i}"), &format!("v{i}"));
    }
    // A copy of another vault under a conflict name stays.
    let stranger = s
        .vault
        .with_file_name("test.sync-conflict-20261206-101113-ZZZZ999.cvault");
    let mut init = vec!["init"];
    init.extend(WEAK);
    at(&s, &stranger, &init).ok();
    s.set("here", b"h");

    let status = s.run(&["--json", "status"]).ok().json();
    let listed = status["conflict_copies"].as_array().unwrap();
    assert_eq!(listed.len(), 4, "{status}");
    let tools: Vec<&str> = listed.iter().map(|c| c["tool"].as_str().unwrap()).collect();
    for tool in ["Syncthing", "Dropbox", "Nextcloud"] {
        assert!(tools.contains(&tool), "{tools:?}");
    }
    let text = s.run(&["status"]).ok().text().to_owned();
    assert!(text.contains("conflicted copy 2026-12-06 101112"), "{text}");

    // Like migrate-env: the report on stdout, exit 6 for what was left.
    let run = s.run(&["--json", "merge", "--conflict-copies"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("left in place"), "{run:?}");
    let out: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let copies = out["conflict_copies"].as_array().unwrap();
    assert_eq!(copies.len(), 4);
    for c in copies {
        let stays = c["path"].as_str().unwrap().contains("ZZZZ999");
        assert_eq!(c["removed"], !stays, "{c}");
        assert_eq!(
            Path::new(c["path"].as_str().unwrap()).exists(),
            stays,
            "{c}"
        );
    }
    for i in 0..3 {
        assert_eq!(
            get_at(&s, &s.vault, &format!("from.copy{i}")),
            Some(format!("v{i}"))
        );
    }
    assert_eq!(get_at(&s, &s.vault, "here").as_deref(), Some("h"));
    assert_eq!(get_at(&s, &s.vault, "base").as_deref(), Some("b"));
    let status = s.run(&["--json", "status"]).ok().json();
    assert_eq!(status["conflict_copies"].as_array().unwrap().len(), 1);
}

/// A git work area in the sandbox: the same clean environment as the
/// binary, plus a git identity and no system or global git config.
struct Git<'s> {
    s: &'s Sandbox,
}

impl Git<'_> {
    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        let mut cmd = Command::new("git");
        let base = self.s.command(&[]);
        cmd.env_clear();
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        run_command(cmd, None)
    }

    fn ok(&self, dir: &Path, args: &[&str]) -> Run {
        let run = self.run(dir, args);
        assert_eq!(run.code, 0, "git {args:?}: {run:?}");
        run
    }

    /// The recipe of docs/several-machines.md: the driver and the textconv in git config.
    fn configure(&self, dir: &Path) {
        let bin = env!("CARGO_BIN_EXE_credvault");
        let driver = format!("'{bin}' git-merge-driver %O %A %B");
        let textconv = format!("'{bin}' git-textconv");
        self.ok(
            dir,
            &["config", "merge.credvault.name", "credvault vault merge"],
        );
        self.ok(dir, &["config", "merge.credvault.driver", &driver]);
        self.ok(dir, &["config", "diff.credvault.textconv", &textconv]);
        self.ok(dir, &["config", "pull.rebase", "false"]);
    }

    fn commit(&self, dir: &Path, message: &str) {
        self.ok(dir, &["add", "-A"]);
        self.ok(dir, &["commit", "-q", "-m", message]);
    }
}

#[test]
fn git_pull_merges_two_clones_through_the_driver() {
    let s = Sandbox::new();
    let git = Git { s: &s };
    let origin = s.root().join("origin.git");
    std::fs::create_dir_all(&origin).unwrap();
    git.ok(&origin, &["init", "-q", "--bare", "-b", "main"]);
    let a = s.root().join("a");
    let b = s.root().join("b");
    git.ok(s.root(), &["clone", "-q", origin.to_str().unwrap(), "a"]);
    git.configure(&a);
    std::fs::write(
        a.join(".gitattributes"),
        "*.cvault merge=credvault diff=credvault -text\n",
    )
    .unwrap();
    std::fs::write(
        a.join(".gitignore"),
        "*.cvault.lock\n*.cvault.[0-9]*\n*.cvault.audit.*\n",
    )
    .unwrap();
    let va = a.join("vault.cvault");
    let mut init = vec!["init"];
    init.extend(WEAK);
    at(&s, &va, &init).ok();
    for (k, v) in [
        ("shared", "0"),
        ("a.gone", "1"),
        ("b.changed", "2"),
        ("both", "3"),
    ] {
        set_at(&s, &va, k, v);
    }
    git.commit(&a, "vault");
    git.ok(&a, &["push", "-q", "origin", "HEAD:main"]);
    git.ok(
        s.root(),
        &["clone", "-q", "-b", "main", origin.to_str().unwrap(), "b"],
    );
    git.configure(&b);
    let vb = b.join("vault.cvault");

    // A second passphrase slot travels to both clones, then A revokes it.
    let mut cmd = s.command(&[
        "--json",
        "--vault",
        va.to_str().unwrap(),
        "slot",
        "add",
        "passphrase",
        "--kdf-memory-mib",
        "8",
        "--kdf-iterations",
        "1",
        "--kdf-parallelism",
        "1",
    ]);
    cmd.env("CREDVAULT_NEW_PASSPHRASE", "revoked passphrase");
    let added = run_command(cmd, None).ok();
    let slot_id = added.json()["added"]["id"].as_u64().expect("slot id");
    git.commit(&a, "second passphrase");
    git.ok(&a, &["push", "-q", "origin", "HEAD:main"]);
    git.ok(&b, &["pull", "-q", "origin", "main"]);
    at(&s, &va, &["slot", "remove", &slot_id.to_string()]).ok();

    // Both clones change different and the same entries.
    set_at(&s, &va, "only.a", "from a");
    at(&s, &va, &["rm", "a.gone"]).ok();
    set_at(&s, &va, "both", "a's value");
    git.commit(&a, "a's changes");
    git.ok(&a, &["push", "-q", "origin", "HEAD:main"]);

    set_at(&s, &vb, "only.b", "from b");
    set_at(&s, &vb, "b.changed", "b's value");
    tick();
    set_at(&s, &vb, "both", "b's newer value");
    git.commit(&b, "b's changes");
    let pull = git.run(&b, &["pull", "--no-edit", "origin", "main"]);
    assert_eq!(pull.code, 0, "{pull:?}");
    assert!(pull.stderr.contains("merge driver"), "{pull:?}");

    let bytes = std::fs::read(&vb).unwrap();
    assert!(
        !bytes.windows(7).any(|w| w == b"<<<<<<<" || w == b">>>>>>>"),
        "conflict markers in the vault"
    );
    for (key, want) in [
        ("only.a", Some("from a")),
        ("only.b", Some("from b")),
        ("a.gone", None),
        ("b.changed", Some("b's value")),
        ("both", Some("b's newer value")),
        ("shared", Some("0")),
    ] {
        assert_eq!(get_at(&s, &vb, key).as_deref(), want, "{key}");
    }
    // The slot A revoked did not come back through the merge.
    let mut cmd = s.command(&["--vault", vb.to_str().unwrap(), "get", "shared"]);
    cmd.env("CREDVAULT_PASSPHRASE", "revoked passphrase");
    run_command(cmd, None).fails(3);
    // Nothing left behind in the work tree: no lock or generation files.
    let status = git.ok(&b, &["status", "--porcelain"]);
    assert_eq!(status.text(), "", "work tree not clean");
    at(&s, &vb, &["verify"]).ok();

    // The textconv shows names and times, never values.
    let log = git.ok(&b, &["log", "-p", "-3", "--", "vault.cvault"]);
    let text = log.text();
    assert!(text.contains("entry only.b (secret) created"), "{text}");
    assert!(text.contains("deleted a.gone at"), "{text}");
    for value in ["from a", "from b", "b's newer value"] {
        assert!(!text.contains(value), "value {value:?} in git log -p");
    }

    // A fast-forwards to the merge and holds the same entries.
    git.ok(&b, &["push", "-q", "origin", "HEAD:main"]);
    git.ok(&a, &["pull", "-q", "origin", "main"]);
    assert_eq!(get_at(&s, &va, "only.b").as_deref(), Some("from b"));
    assert_eq!(get_at(&s, &va, "both").as_deref(), Some("b's newer value"));
}

#[test]
fn a_failed_driver_leaves_an_intact_vault_and_no_markers() {
    let s = Sandbox::new();
    let git = Git { s: &s };
    let repo = s.root().join("r");
    std::fs::create_dir_all(&repo).unwrap();
    git.ok(&repo, &["init", "-q", "-b", "main"]);
    git.configure(&repo);
    std::fs::write(
        repo.join(".gitattributes"),
        "*.cvault merge=credvault diff=credvault -text\n",
    )
    .unwrap();
    let v = repo.join("vault.cvault");
    let mut init = vec!["init"];
    init.extend(WEAK);
    at(&s, &v, &init).ok();
    set_at(&s, &v, "k", "0");
    git.commit(&repo, "base");
    git.ok(&repo, &["checkout", "-q", "-b", "side"]);
    set_at(&s, &v, "k", "side");
    git.commit(&repo, "side");
    git.ok(&repo, &["checkout", "-q", "main"]);
    // The checkout put an older save of the vault in place: rollback
    // detection (issue 13) wants that accepted on purpose.
    at(&s, &v, &["get", "k"]).fails(4);
    at(&s, &v, &["--accept-rollback", "ls"]).ok();
    set_at(&s, &v, "k", "main");
    git.commit(&repo, "main");
    let ours = std::fs::read(&v).unwrap();
    // The driver has no passphrase: it fails, git reports a conflict.
    let mut cmd = Command::new("git");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", s.root())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .env("DBUS_SESSION_BUS_ADDRESS", s.no_bus())
        .current_dir(&repo)
        .args(["merge", "--no-edit", "side"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = run_command(cmd, None);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(std::fs::read(&v).unwrap(), ours, "the vault was changed");
    at(&s, &v, &["verify"]).ok();
}
