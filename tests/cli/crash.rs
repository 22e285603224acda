//! Every writing command crashed and failed at every storage step it takes
//! (issue 19), through the test-only fault hook of the library (feature
//! `fault-injection`, vault/src/store/env_faults.rs), which this test
//! binary's build enables.
//!
//! For each writer: a traced run without a fault numbers the fault points
//! the command reaches (lock, keeping a generation, temp file, write, fsync,
//! rename, directory fsync, shifting generations, `.bak` copies, removals,
//! the rollback mark, the audit line and its head anchor). Then, for every
//! point N, a fresh copy of the starting sandbox runs the command with
//! `CREDVAULT_FAULT=N:error` (the step fails with EIO) and, separately,
//! `N:abort` (the process dies there, as under `kill -9`: no destructor
//! runs, the lock is left to the kernel). Afterwards:
//!
//! - the vault opens, to exactly the state before the command or the state
//!   after it (entries, values and slots, under the old or the new
//!   passphrase), never a mix; exit 0 only with the new state;
//! - an error is reported with a documented exit code, never a panic;
//! - `audit verify` passes;
//! - after an error no temp file is left; after a crash the next save
//!   removes the ones it left;
//! - writer-specific: a backup destination is absent or a whole verified
//!   vault; an imported legacy file is untouched unless the import landed.
//!
//! `init` has a test of its own below (it starts from no vault). Writers
//! with a harness of their own are crashed there: `pass sync|import|export`
//! (tests/cli/pass.rs), `oauth login`, the refresh and `oauth revoke`
//! (tests/cli/oauth.rs), and the keychain writers (tests/cli/keychain.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{PASS, WEAK};

/// The passphrase `passwd` changes to.
const NEW_PASS: &str = "a new passphrase after the crash";
/// The passphrase of the slot `slot add` adds.
const SECOND_PASS: &str = "a second passphrase slot";

/// One sandbox: HOME, XDG_DATA_HOME and the vault under `root`.
pub(crate) struct Env {
    pub(crate) root: PathBuf,
}

impl Env {
    pub(crate) fn vault(&self) -> PathBuf {
        self.root.join("vaults").join("test.cvault")
    }

    fn path(&self, name: &str) -> String {
        self.root
            .join(name)
            .to_str()
            .expect("UTF-8 path")
            .to_owned()
    }

    /// `credvault ARGS` unlocking with `pass`, no keychain reachable.
    pub(crate) fn command(&self, args: &[&str], pass: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_credvault"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.root)
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("CREDVAULT_VAULT", self.vault())
            .env("CREDVAULT_PASSPHRASE", pass)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", self.root.join("no-bus").display()),
            )
            .current_dir(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub(crate) fn output(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
        use std::io::Write;
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawn credvault");
        if let Some(bytes) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            let _ = pipe.write_all(bytes);
        }
        child.wait_with_output().expect("wait for credvault")
    }

    #[track_caller]
    pub(crate) fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let out = Self::output(self.command(args, PASS), stdin);
        assert!(
            out.status.success(),
            "credvault {args:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A copy of this sandbox under `dir` (the vault path moves with it).
    pub(crate) fn copy_to(&self, dir: &Path) -> Env {
        let root = dir.join("root");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&self.root)
            .arg(&root)
            .status()
            .expect("cp");
        assert!(status.success());
        Env { root }
    }
}

/// What a vault holds, as far as a user can tell: which passphrase opens
/// it, its entries and values, and its slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) pass: &'static str,
    pub(crate) entries: BTreeMap<String, String>,
    pub(crate) slots: Vec<(u64, String)>,
}

/// The state of the vault in `env`; panics when no passphrase opens it.
#[track_caller]
pub(crate) fn state(env: &Env) -> State {
    match try_state(env) {
        Ok(state) => state,
        Err(e) => panic!("{e}"),
    }
}

/// The state of the vault in `env`, or why it does not open.
pub(crate) fn try_state(env: &Env) -> Result<State, String> {
    for pass in [PASS, NEW_PASS] {
        let out = Env::output(
            env.command(&["export", "--danger-plaintext", "-o", "-"], pass),
            None,
        );
        if out.status.code() == Some(3) {
            continue;
        }
        if !out.status.success() {
            return Err(format!(
                "the vault does not open: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("export JSON");
        let entries = json["entries"]
            .as_object()
            .expect("entries")
            .iter()
            .map(|(k, v)| (k.clone(), v["value"].as_str().unwrap_or("").to_owned()))
            .collect();
        let out = Env::output(env.command(&["--json", "slot", "list"], pass), None);
        assert!(out.status.success(), "slot list: {out:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("slot JSON");
        let slots = json["slots"]
            .as_array()
            .expect("slots")
            .iter()
            .map(|s| {
                (
                    s["id"].as_u64().unwrap_or(0),
                    s["type"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        return Ok(State {
            pass,
            entries,
            slots,
        });
    }
    Err("neither the old nor the new passphrase opens the vault".to_owned())
}

/// Temp files (of a save, of a generation) left in `dir`.
fn temps(dir: &Path) -> Vec<String> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    listing
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp.") || n.ends_with(".gen-tmp"))
        .collect()
}

/// A command line and its extra environment.
pub(crate) type Invocation = (Vec<String>, Vec<(&'static str, String)>);

/// Not an environment variable: an [`Invocation`]'s entry under this name
/// is the command's standard input (for `set`).
pub(crate) const STDIN: &str = "<stdin>";

/// Sets `extra` on `cmd`; returns the standard input it names, if any.
pub(crate) fn apply(cmd: &mut Command, extra: Vec<(&'static str, String)>) -> Option<String> {
    let mut stdin = None;
    for (k, v) in extra {
        if k == STDIN {
            stdin = Some(v);
        } else {
            cmd.env(k, v);
        }
    }
    stdin
}

/// One writing command.
pub(crate) struct Writer {
    pub(crate) name: &'static str,
    /// Brings the fresh vault (entries a=1, b=2) to where the command
    /// starts from.
    pub(crate) prepare: fn(&Env),
    /// Its arguments and extra environment.
    pub(crate) command: fn(&Env) -> Invocation,
    /// Whether the command changes what [`state`] sees.
    pub(crate) changes_state: bool,
    /// A check of what the command writes outside the vault, given
    /// whether the vault is in the new state.
    pub(crate) check: fn(&Env, bool),
}

fn nothing(_: &Env) {}

fn no_check(_: &Env, _: bool) {}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn with_weak(list: &[&str]) -> Vec<String> {
    let mut out = args(list);
    out.extend(args(&WEAK));
    out
}

/// A Syncthing conflict copy of the vault, for `merge --conflict-copies`.
const CONFLICT_COPY: &str = "test.sync-conflict-20261206-101112-ABCD123.cvault";

/// The legacy credentials.json that `import-legacy` reads.
const LEGACY: &[u8] =
    br#"{"credentials": {"github.token": "plain:6768705f6c6567616379"}, "encryptionAvailable": false}"#;

pub(crate) fn writers() -> Vec<Writer> {
    vec![
        Writer {
            name: "rm",
            prepare: nothing,
            command: |_| (args(&["rm", "b"]), vec![]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "restore",
            prepare: |e| {
                e.ok(&["backup", &e.path("b.cvault")], None);
                e.ok(&["set", "c"], Some(b"3"));
            },
            command: |e| (args(&["restore", &e.path("b.cvault")]), vec![]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "undo",
            prepare: |e| {
                e.ok(&["set", "c"], Some(b"3"));
            },
            command: |_| (args(&["undo"]), vec![]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "passwd",
            prepare: nothing,
            command: |_| {
                (
                    with_weak(&["passwd"]),
                    vec![("CREDVAULT_NEW_PASSPHRASE", NEW_PASS.to_owned())],
                )
            },
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "rekey",
            prepare: nothing,
            command: |_| (args(&["rekey"]), vec![]),
            // Same entries and slots under a new data key: a mix would not
            // open.
            changes_state: false,
            check: no_check,
        },
        Writer {
            name: "recovery rotate",
            prepare: nothing,
            command: |_| (args(&["recovery", "rotate"]), vec![]),
            changes_state: false,
            check: no_check,
        },
        Writer {
            name: "slot add",
            prepare: nothing,
            command: |_| {
                (
                    with_weak(&["slot", "add", "passphrase"]),
                    vec![("CREDVAULT_NEW_PASSPHRASE", SECOND_PASS.to_owned())],
                )
            },
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "slot remove",
            prepare: nothing,
            command: |_| (args(&["slot", "remove", "2"]), vec![]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "import",
            prepare: |e| {
                e.ok(&["set", "d"], Some(b"4"));
                e.ok(
                    &["export", "--danger-plaintext", "-o", &e.path("export.json")],
                    None,
                );
                e.ok(&["rm", "d"], None);
            },
            command: |e| (args(&["import", &e.path("export.json")]), vec![]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "import-legacy --remove-legacy",
            prepare: |e| std::fs::write(e.root.join("credentials.json"), LEGACY).unwrap(),
            command: |e| {
                (
                    args(&[
                        "import-legacy",
                        &e.path("credentials.json"),
                        "--remove-legacy",
                    ]),
                    vec![],
                )
            },
            changes_state: true,
            check: |e, new| {
                let legacy = std::fs::read(e.root.join("credentials.json")).ok();
                if !new {
                    assert_eq!(legacy.as_deref(), Some(LEGACY), "legacy file untouched");
                }
            },
        },
        Writer {
            name: "migrate-env",
            prepare: nothing,
            command: |_| {
                (
                    args(&["migrate-env", "GITHUB_TOKEN=github.token"]),
                    vec![("GITHUB_TOKEN", "ghp-from-env".to_owned())],
                )
            },
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "backup",
            prepare: |e| std::fs::create_dir(e.root.join("out")).unwrap(),
            command: |e| (args(&["backup", &e.path("out/backup.cvault")]), vec![]),
            changes_state: false,
            check: |e, _| {
                let dest = e.root.join("out").join("backup.cvault");
                if dest.exists() {
                    e.ok(&["verify", dest.to_str().unwrap()], None);
                }
            },
        },
        Writer {
            name: "merge",
            prepare: |e| {
                let other = e.path("other.cvault");
                std::fs::copy(e.vault(), &other).unwrap();
                e.ok(&["--vault", &other, "set", "m"], Some(b"5"));
            },
            command: |e| (args(&["merge", &e.path("other.cvault")]), vec![]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "merge --conflict-copies",
            prepare: |e| {
                let copy = e.vault().with_file_name(CONFLICT_COPY);
                std::fs::copy(e.vault(), &copy).unwrap();
                e.ok(&["--vault", copy.to_str().unwrap(), "set", "m"], Some(b"5"));
            },
            command: |_| (args(&["merge", "--conflict-copies"]), vec![]),
            changes_state: true,
            check: |e, new| {
                // Removed only once merged: while the merge is not in
                // place, the copy is.
                if !new {
                    assert!(e.vault().with_file_name(CONFLICT_COPY).exists());
                }
            },
        },
        Writer {
            name: "set",
            prepare: nothing,
            command: |_| (args(&["set", "c"]), vec![(STDIN, "3".to_owned())]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "restore --generation",
            prepare: |e| {
                e.ok(&["set", "c"], Some(b"3"));
            },
            // Generation 2: the vault before `set b`.
            command: |_| (args(&["restore", "--generation", "2"]), vec![]),
            changes_state: true,
            check: no_check,
        },
        Writer {
            name: "generations purge",
            prepare: nothing,
            command: |_| (args(&["generations", "purge"]), vec![]),
            changes_state: false,
            check: no_check,
        },
    ]
}

pub(crate) fn writer(name: &str) -> Writer {
    writers()
        .into_iter()
        .find(|w| w.name == name)
        .expect("a writer of the table")
}

/// A fresh sandbox in `root` with entries a=1 and b=2, brought to where
/// `w` starts from.
pub(crate) fn prepared(root: PathBuf, w: &Writer) -> Env {
    let base = Env { root };
    std::fs::create_dir(&base.root).unwrap();
    let mut init = vec!["init"];
    init.extend(WEAK);
    base.ok(&init, None);
    base.ok(&["set", "a"], Some(b"1"));
    base.ok(&["set", "b"], Some(b"2"));
    (w.prepare)(&base);
    base
}

/// Runs `w` in a copy of `base`, with `fault` (`N:error`, `N:abort`) or a
/// trace file.
fn run_writer(base: &Env, w: &Writer, dir: &Path, fault: Option<&str>) -> (Env, Output) {
    let env = base.copy_to(dir);
    let (list, extra) = (w.command)(&env);
    let list: Vec<&str> = list.iter().map(String::as_str).collect();
    let mut cmd = env.command(&list, PASS);
    let stdin = apply(&mut cmd, extra);
    match fault {
        Some(f) => cmd.env("CREDVAULT_FAULT", f),
        None => cmd.env("CREDVAULT_FAULT_TRACE", dir.join("trace")),
    };
    let out = Env::output(cmd, stdin.as_deref().map(str::as_bytes));
    (env, out)
}

/// The whole table row of `name`: every fault point, error and abort.
fn crash_every_step(name: &str) {
    let w = writer(name);
    let top = tempfile::tempdir().expect("temp dir");
    let base = prepared(top.path().join("base"), &w);
    let old = state(&base);

    // The traced run: the points this command reaches, and its new state.
    let traced = top.path().join("traced");
    std::fs::create_dir(&traced).unwrap();
    let (env, out) = run_writer(&base, &w, &traced, None);
    assert!(
        out.status.success(),
        "{name} without a fault: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = state(&env);
    (w.check)(&env, true);
    assert_eq!(old != new, w.changes_state, "{name}: {old:?} -> {new:?}");
    let trace = std::fs::read_to_string(traced.join("trace")).expect("trace");
    let points: Vec<String> = trace.lines().map(str::to_owned).collect();
    assert!(points.len() >= 5, "{name} reached only {points:?}");

    for (i, point) in points.iter().enumerate() {
        for action in ["error", "abort"] {
            let fault = format!("{}:{action}", i + 1);
            let what = format!("{name}, fault {action} at point {point}");
            let dir = top.path().join(format!("{}-{action}", i + 1));
            std::fs::create_dir(&dir).unwrap();
            let (env, out) = run_writer(&base, &w, &dir, Some(&fault));
            let stderr = String::from_utf8_lossy(&out.stderr);
            match action {
                "abort" => {
                    use std::os::unix::process::ExitStatusExt;
                    assert_eq!(
                        out.status.signal(),
                        Some(6),
                        "{what}: the crash happened ({:?} {stderr})",
                        out.status
                    );
                }
                _ => {
                    let code = out.status.code();
                    assert!(
                        matches!(code, Some(0 | 4 | 5 | 6)),
                        "{what}: exit {code:?}: {stderr}"
                    );
                    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
                }
            }
            eprintln!("{what}");
            let now = state(&env);
            assert!(
                now == old || now == new,
                "{what}: a mix: {now:?}, not {old:?} nor {new:?}"
            );
            if out.status.success() {
                assert_eq!(now, new, "{what}: exit 0 with the old state");
            }
            (w.check)(&env, now == new && w.changes_state);
            let verify = Env::output(env.command(&["audit", "verify"], now.pass), None);
            assert!(
                verify.status.success(),
                "{what}: audit verify: {}{}",
                String::from_utf8_lossy(&verify.stdout),
                String::from_utf8_lossy(&verify.stderr)
            );
            let vaults = env.root.join("vaults");
            if action == "error" {
                assert_eq!(temps(&vaults), Vec::<String>::new(), "{what}");
                assert_eq!(temps(&env.root.join("out")), Vec::<String>::new(), "{what}");
            } else {
                // The next save removes what the crash left.
                let set = Env::output(env.command(&["set", "after"], now.pass), Some(b"x"));
                assert!(
                    set.status.success(),
                    "{what}: the next save: {}",
                    String::from_utf8_lossy(&set.stderr)
                );
                assert_eq!(temps(&vaults), Vec::<String>::new(), "{what}");
            }
        }
    }
}

#[test]
fn rm_crashes_at_every_step() {
    crash_every_step("rm");
}

#[test]
fn restore_crashes_at_every_step() {
    crash_every_step("restore");
}

#[test]
fn undo_crashes_at_every_step() {
    crash_every_step("undo");
}

#[test]
fn passwd_crashes_at_every_step() {
    crash_every_step("passwd");
}

#[test]
fn rekey_crashes_at_every_step() {
    crash_every_step("rekey");
}

#[test]
fn recovery_rotate_crashes_at_every_step() {
    crash_every_step("recovery rotate");
}

#[test]
fn slot_add_crashes_at_every_step() {
    crash_every_step("slot add");
}

#[test]
fn slot_remove_crashes_at_every_step() {
    crash_every_step("slot remove");
}

#[test]
fn import_crashes_at_every_step() {
    crash_every_step("import");
}

#[test]
fn import_legacy_crashes_at_every_step() {
    crash_every_step("import-legacy --remove-legacy");
}

#[test]
fn migrate_env_crashes_at_every_step() {
    crash_every_step("migrate-env");
}

#[test]
fn backup_crashes_at_every_step() {
    crash_every_step("backup");
}

#[test]
fn merge_crashes_at_every_step() {
    crash_every_step("merge");
}

#[test]
fn merge_conflict_copies_crashes_at_every_step() {
    crash_every_step("merge --conflict-copies");
}

#[test]
fn set_crashes_at_every_step() {
    crash_every_step("set");
}

#[test]
fn restore_generation_crashes_at_every_step() {
    crash_every_step("restore --generation");
}

#[test]
fn generations_purge_crashes_at_every_step() {
    crash_every_step("generations purge");
}

/// A fresh sandbox with entries a=1 and b=2 in `top/base`.
fn plain(top: &Path) -> Env {
    prepared(top.join("base"), &writer("rm"))
}

/// `audit verify --json` in `env`: exit code and report.
fn audit_verify(env: &Env) -> (Option<i32>, serde_json::Value, String) {
    let out = Env::output(env.command(&["--json", "audit", "verify"], PASS), None);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The seq numbers `audit show --json` lists, oldest first.
fn audit_seqs(env: &Env) -> Vec<u64> {
    let out = Env::output(env.command(&["--json", "audit", "show"], PASS), None);
    assert!(out.status.success(), "audit show: {out:?}");
    let lines: serde_json::Value = serde_json::from_slice(&out.stdout).expect("show JSON");
    lines
        .as_array()
        .expect("an array of lines")
        .iter()
        .map(|l| l["seq"].as_u64().expect("seq"))
        .collect()
}

/// A crash between the audit line and its head anchor (issue 19): the log
/// verifies (the line is there, the anchor one behind: a crash, never
/// reported as tampering), the save it records is in place, and the next
/// command's line and anchor carry on.
#[test]
fn a_kill_between_the_audit_line_and_its_head_anchor_is_not_tampering() {
    let top = tempfile::tempdir().expect("temp dir");
    let base = plain(top.path());
    let traced = top.path().join("traced");
    std::fs::create_dir(&traced).unwrap();
    let env = base.copy_to(&traced);
    let mut cmd = env.command(&["set", "k"], PASS);
    cmd.env("CREDVAULT_FAULT_TRACE", traced.join("trace"));
    assert!(Env::output(cmd, Some(b"v")).status.success());
    let trace = std::fs::read_to_string(traced.join("trace")).unwrap();
    let anchor = trace
        .lines()
        .find(|l| l.ends_with(" AuditAnchor"))
        .and_then(|l| l.split(' ').next())
        .expect("set writes an anchor")
        .to_owned();

    for action in ["abort", "error"] {
        let dir = top.path().join(action);
        std::fs::create_dir(&dir).unwrap();
        let env = base.copy_to(&dir);
        let mut cmd = env.command(&["set", "k"], PASS);
        cmd.env("CREDVAULT_FAULT", format!("{anchor}:{action}"));
        let out = Env::output(cmd, Some(b"v"));
        if action == "abort" {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(out.status.signal(), Some(6), "{out:?}");
        }
        assert_eq!(state(&env).entries.get("k").map(String::as_str), Some("v"));
        let (code, report, stderr) = audit_verify(&env);
        assert_eq!(code, Some(0), "{action}: {report} {stderr}");
        assert_eq!(report["intact"], true, "{action}: {report}");
        let seqs = audit_seqs(&env);
        let n = seqs.len();
        assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>(), "{action}");
        env.ok(&["set", "after"], Some(b"x"));
        let (code, report, stderr) = audit_verify(&env);
        assert_eq!(code, Some(0), "{action}, then a save: {report} {stderr}");
        assert_eq!(
            report["anchored_seq"], report["lines"],
            "{action}: the next line is anchored: {report}"
        );
    }
}

/// Several processes append across rotations (a tiny rotation size): one
/// linear chain, every seq once, that verifies.
#[test]
fn audit_rotation_under_concurrent_writers_keeps_one_chain() {
    const WRITERS: usize = 4;
    const SAVES: usize = 6;
    let top = tempfile::tempdir().expect("temp dir");
    let env = plain(top.path());
    let env = &env;
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            scope.spawn(move || {
                for i in 0..SAVES {
                    let key = format!("w{w}.k{i}");
                    let mut cmd = env.command(&["set", &key], PASS);
                    // About three lines a file: a rotation every few appends.
                    cmd.env("CREDVAULT_AUDIT_MAX_BYTES", "700");
                    let out = Env::output(cmd, Some(b"v"));
                    assert!(out.status.success(), "{key}: {out:?}");
                }
            });
        }
    });
    let rotated = std::fs::read_dir(env.vault().parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".audit.1"))
        .count();
    assert_eq!(rotated, 1, "the log rotated");
    let (code, report, stderr) = audit_verify(env);
    assert_eq!(code, Some(0), "{report} {stderr}");
    let seqs = audit_seqs(env);
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + seqs.len() as u64).collect::<Vec<_>>(),
        "one linear chain"
    );
    // init, 2 sets, the writers' sets, one verify: the last seq counts them
    // all, whatever rotation dropped from the oldest end.
    assert!(
        *seqs.last().unwrap() >= (3 + WRITERS * SAVES + 1) as u64,
        "{seqs:?}"
    );
}

/// Readers (`audit verify`, `audit show`) racing writers never see a
/// broken chain: a line whose anchor is not written yet is not tampering.
#[test]
fn audit_readers_racing_writers_never_see_tampering() {
    const SAVES: usize = 12;
    let top = tempfile::tempdir().expect("temp dir");
    let env = plain(top.path());
    let env = &env;
    let done = std::sync::atomic::AtomicBool::new(false);
    let done = &done;
    let reads = std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            for i in 0..SAVES {
                let mut cmd = env.command(&["set", &format!("k{i}")], PASS);
                cmd.env("CREDVAULT_AUDIT_MAX_BYTES", "1500");
                let out = Env::output(cmd, Some(b"v"));
                assert!(out.status.success(), "{out:?}");
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let reader = scope.spawn(move || {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) || reads < 2 {
                let (code, report, stderr) = audit_verify(env);
                assert_eq!(code, Some(0), "verify racing a writer: {report} {stderr}");
                let seqs = audit_seqs(env);
                let first = seqs[0];
                assert_eq!(
                    seqs,
                    (first..first + seqs.len() as u64).collect::<Vec<_>>(),
                    "show racing a writer"
                );
                reads += 1;
            }
            reads
        });
        writer.join().expect("writer");
        reader.join().expect("reader")
    });
    assert!(reads >= 2);
}

/// `init` (passphrase and recovery slots) crashed and failed at every
/// storage step: afterwards there is no vault, or the whole new one that
/// opens and whose audit log verifies; exit 0 only with the vault; no temp
/// file after an error; and `init` run again (no vault) or the next save
/// (a vault) succeeds and leaves no temp file.
#[test]
fn init_crashes_at_every_step() {
    let top = tempfile::tempdir().expect("temp dir");
    let base = Env {
        root: top.path().join("base"),
    };
    std::fs::create_dir(&base.root).unwrap();
    let mut init = vec!["init"];
    init.extend(WEAK);
    let init = &init;

    let traced = top.path().join("traced");
    std::fs::create_dir(&traced).unwrap();
    let env = base.copy_to(&traced);
    let mut cmd = env.command(init, PASS);
    cmd.env("CREDVAULT_FAULT_TRACE", traced.join("trace"));
    let out = Env::output(cmd, None);
    assert!(out.status.success(), "init without a fault: {out:?}");
    let new = state(&env);
    let trace = std::fs::read_to_string(traced.join("trace")).expect("trace");
    let points: Vec<&str> = trace.lines().collect();
    assert!(points.len() >= 5, "init reached only {points:?}");

    for (i, point) in points.iter().enumerate() {
        for action in ["error", "abort"] {
            let what = format!("init, fault {action} at point {point}");
            let dir = top.path().join(format!("{}-{action}", i + 1));
            std::fs::create_dir(&dir).unwrap();
            let env = base.copy_to(&dir);
            let mut cmd = env.command(init, PASS);
            cmd.env("CREDVAULT_FAULT", format!("{}:{action}", i + 1));
            let out = Env::output(cmd, None);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if action == "abort" {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(out.status.signal(), Some(6), "{what}: {out:?}");
            } else {
                let code = out.status.code();
                assert!(
                    matches!(code, Some(0 | 4 | 5 | 6)),
                    "{what}: exit {code:?}: {stderr}"
                );
                assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            }
            eprintln!("{what}");
            let vaults = env.root.join("vaults");
            if action == "error" {
                assert_eq!(temps(&vaults), Vec::<String>::new(), "{what}");
            }
            if env.vault().exists() {
                let now = try_state(&env).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(now, new, "{what}");
                let verify = Env::output(env.command(&["audit", "verify"], PASS), None);
                assert!(verify.status.success(), "{what}: audit verify: {verify:?}");
                let set = Env::output(env.command(&["set", "after"], PASS), Some(b"x"));
                assert!(set.status.success(), "{what}: the next save: {set:?}");
            } else {
                assert!(!out.status.success(), "{what}: exit 0 without a vault");
                let again = Env::output(env.command(init, PASS), None);
                assert!(again.status.success(), "{what}: init again: {again:?}");
                assert_eq!(state(&env), new, "{what}: init again");
            }
            assert_eq!(temps(&vaults), Vec::<String>::new(), "{what}");
        }
    }
}
