//! Power loss, not only `kill -9` (issue 19): every writer of the crash
//! table (tests/cli/crash.rs) runs on the FUSE file system of
//! tests/powerloss, which keeps apart what was not made durable and, after
//! the Nth counted operation, loses power: what was not fsynced (file
//! data) or made durable by an fsync of its directory (creates, renames,
//! links, unlinks) is gone after the remount.
//!
//! For each writer, a first run counts its operations; then, for every
//! cut point (see [`cut_points`]), a fresh copy of the starting sandbox on
//! the same file system runs it with the power cut there, and after the
//! remount: the vault opens, as the old or the new state; and when the
//! command had exited 0 (an acknowledged save) as the new one; a backup
//! destination is absent or a whole vault; an imported legacy file is
//! untouched unless the import is durable.
//!
//! The whole sandbox (HOME, the rollback marks, the audit log) is on the
//! file system. The audit log is not checked: it is not fsynced by design
//! (audit.rs: a power loss may lose its last lines, reported as
//! truncation).
//!
//! Cut points: after every single counted operation (write, truncate,
//! create, mkdir, link, unlink, rename, fsync, fsync of a directory) of
//! the command, from before the first to after the last: 9 to 24 per
//! writer, about 40 s for the whole table on two loaded cores.
//!
//! Writers with a harness of their own have their power-loss test there:
//! `pass sync` in tests/cli/pass.rs, the OAuth refresh in
//! tests/cli/oauth.rs, the keychain writers in tests/cli/keychain.rs.
//!
//! The negative test shows the file system catches a missing directory
//! fsync: with the directory fsync of a save turned off (test-only
//! `CREDVAULT_TEST_SKIP_DIR_FSYNC=1`), an acknowledged `rm` is lost.

use std::path::Path;
use std::process::Output;

use credvault_powerloss::Mount;

use crate::common::skip;
use crate::crash::{prepared, state, try_state, writer, writers, Env, Writer};

/// Whether FUSE can be mounted here: `/dev/fuse` and `fusermount3`.
pub(crate) fn fuse_ready() -> bool {
    let fusermount = std::process::Command::new("fusermount3")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    Path::new("/dev/fuse").exists() && fusermount
}

/// Runs `w` in `env`, with `extra` environment.
fn run(env: &Env, w: &Writer, extra: &[(&str, &str)]) -> Output {
    let (list, more) = (w.command)(env);
    let list: Vec<&str> = list.iter().map(String::as_str).collect();
    let mut cmd = env.command(&list, crate::common::PASS);
    let stdin = crate::crash::apply(&mut cmd, more);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Env::output(cmd, stdin.as_deref().map(str::as_bytes))
}

/// The counts of operations after which the power is cut: after every
/// single one (0 = before the first), up to after the last.
fn cut_points(log: &[&str]) -> Vec<usize> {
    (0..=log.len()).collect()
}

/// Every cut point of writer `name`; returns the violations found.
fn power_loss(name: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let w = writer(name);
    let top = tempfile::tempdir().expect("temp dir");
    let base = prepared(top.path().join("base"), &w);
    let old = state(&base);
    let at = top.path().join("mnt");
    std::fs::create_dir(&at).unwrap();
    let mut mount = Mount::new(&at).expect("mount the power-loss file system");

    // Count the operations of one run.
    let dir = at.join("count");
    std::fs::create_dir(&dir).unwrap();
    let env = base.copy_to(&dir);
    mount.sync_everything();
    let out = run(&env, &w, extra);
    let log = mount.log();
    assert!(
        out.status.success(),
        "{name} on the power-loss fs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = state(&env);
    assert!(log.contains(&"fsync"), "{name}: {log:?}");

    let mut violations = Vec::new();
    let (mut olds, mut news) = (0, 0);
    let cuts = cut_points(&log);
    for &n in &cuts {
        mount.cut_after(None);
        let dir = at.join(format!("cut-{n}"));
        std::fs::create_dir(&dir).unwrap();
        let env = base.copy_to(&dir);
        mount.sync_everything();
        mount.cut_after(Some(n as u64));
        let out = run(&env, &w, extra);
        let next = log.get(n).copied().unwrap_or("the end");
        let what = format!(
            "{name}, power cut before op {n} ({next}), exit {:?}",
            out.status
        );
        mount.power_cycle().expect("remount after the power cut");
        match try_state(&env) {
            Err(e) => violations.push(format!("{what}: {e}")),
            Ok(now) => {
                let acknowledged = out.status.success();
                // A backup destination is absent or whole; a legacy file
                // is untouched unless its import is durable.
                (w.check)(&env, now == new && w.changes_state);
                if now == new {
                    news += 1;
                } else if now == old {
                    olds += 1;
                }
                if now != old && now != new {
                    violations.push(format!("{what}: a mix: {now:?}"));
                } else if acknowledged && now != new && new != old {
                    violations.push(format!("{what}: the acknowledged save was lost"));
                }
            }
        }
    }
    eprintln!(
        "{name}: {} operations, {} power cuts: {olds} left the old state, {news} the new",
        log.len(),
        cuts.len()
    );
    // The cuts bite: some before the save was durable, some after.
    if w.changes_state && extra.is_empty() {
        assert!(olds > 0 && news > 0, "{name}: {olds} old, {news} new");
    }
    violations
}

fn check(name: &str) {
    if !fuse_ready() {
        skip("no /dev/fuse or no fusermount3 (Debian fuse3): cannot run the power-loss tests");
        return;
    }
    let violations = power_loss(name, &[]);
    assert!(violations.is_empty(), "{violations:#?}");
}

/// The table's writers, all of them, in one test per writer.
#[test]
fn every_writer_of_the_crash_table_has_a_power_loss_test() {
    let names: Vec<&str> = writers().iter().map(|w| w.name).collect();
    assert_eq!(names, WRITERS, "add the new writer's power-loss test");
}

const WRITERS: [&str; 17] = [
    "rm",
    "restore",
    "undo",
    "passwd",
    "rekey",
    "recovery rotate",
    "slot add",
    "slot remove",
    "import",
    "import-legacy --remove-legacy",
    "migrate-env",
    "backup",
    "merge",
    "merge --conflict-copies",
    "set",
    "restore --generation",
    "generations purge",
];

#[test]
fn rm_survives_power_loss() {
    check("rm");
}

#[test]
fn restore_survives_power_loss() {
    check("restore");
}

#[test]
fn undo_survives_power_loss() {
    check("undo");
}

#[test]
fn passwd_survives_power_loss() {
    check("passwd");
}

#[test]
fn rekey_survives_power_loss() {
    check("rekey");
}

#[test]
fn recovery_rotate_survives_power_loss() {
    check("recovery rotate");
}

#[test]
fn slot_add_survives_power_loss() {
    check("slot add");
}

#[test]
fn slot_remove_survives_power_loss() {
    check("slot remove");
}

#[test]
fn import_survives_power_loss() {
    check("import");
}

#[test]
fn import_legacy_survives_power_loss() {
    check("import-legacy --remove-legacy");
}

#[test]
fn migrate_env_survives_power_loss() {
    check("migrate-env");
}

#[test]
fn backup_survives_power_loss() {
    check("backup");
}

#[test]
fn merge_survives_power_loss() {
    check("merge");
}

#[test]
fn merge_conflict_copies_survives_power_loss() {
    check("merge --conflict-copies");
}

#[test]
fn set_survives_power_loss() {
    check("set");
}

#[test]
fn restore_generation_survives_power_loss() {
    check("restore --generation");
}

#[test]
fn generations_purge_survives_power_loss() {
    check("generations purge");
}

/// The file system catches a missing directory fsync: without it (and
/// without the generations, whose rotation fsyncs the same directory), an
/// acknowledged `rm` does not survive the power cut after it.
#[test]
fn a_save_without_its_directory_fsync_is_caught_losing_data() {
    if !fuse_ready() {
        skip("no /dev/fuse or no fusermount3 (Debian fuse3): cannot run the power-loss tests");
        return;
    }
    let violations = power_loss(
        "rm",
        &[
            ("CREDVAULT_TEST_SKIP_DIR_FSYNC", "1"),
            ("CREDVAULT_GENERATIONS", "0"),
        ],
    );
    assert!(
        violations
            .iter()
            .any(|v| v.contains("the acknowledged save was lost")),
        "the power-loss fs did not catch the missing directory fsync: {violations:#?}"
    );
}

/// `init` (passphrase) under power loss: the vault's directories are
/// created by the command (HOME only exists). An acknowledged `init` left
/// no vault at all after a power cut until the new directories were made
/// durable by an fsync of their parents.
#[test]
fn init_survives_power_loss() {
    use crate::crash::try_state;
    if !fuse_ready() {
        skip("no /dev/fuse or no fusermount3 (Debian fuse3): cannot run the power-loss tests");
        return;
    }
    let top = tempfile::tempdir().expect("temp dir");
    let base = Env {
        root: top.path().join("base"),
    };
    std::fs::create_dir(&base.root).unwrap();
    let at = top.path().join("mnt");
    std::fs::create_dir(&at).unwrap();
    let mut mount = Mount::new(&at).expect("mount the power-loss file system");
    let mut init = vec!["init"];
    init.extend(crate::common::WEAK);
    let run = |env: &Env| Env::output(env.command(&init, crate::common::PASS), None);

    let dir = at.join("count");
    std::fs::create_dir(&dir).unwrap();
    let env = base.copy_to(&dir);
    mount.sync_everything();
    let out = run(&env);
    let log = mount.log();
    assert!(out.status.success(), "init on the power-loss fs: {out:?}");
    let new = state(&env);

    let mut violations = Vec::new();
    let (mut olds, mut news) = (0, 0);
    for n in 0..=log.len() {
        mount.cut_after(None);
        let dir = at.join(format!("cut-{n}"));
        std::fs::create_dir(&dir).unwrap();
        let env = base.copy_to(&dir);
        mount.sync_everything();
        mount.cut_after(Some(n as u64));
        let out = run(&env);
        let next = log.get(n).copied().unwrap_or("the end");
        let what = format!(
            "init, power cut before op {n} ({next}), exit {:?}",
            out.status
        );
        mount.power_cycle().expect("remount after the power cut");
        if !env.vault().exists() {
            olds += 1;
            if out.status.success() {
                violations.push(format!("{what}: the acknowledged init was lost"));
            }
            continue;
        }
        match try_state(&env) {
            Ok(now) if now == new => news += 1,
            Ok(now) => violations.push(format!("{what}: not the new state: {now:?}")),
            Err(e) => violations.push(format!("{what}: {e}")),
        }
    }
    eprintln!(
        "init: {} operations, {} power cuts: {olds} left no vault, {news} the new one",
        log.len(),
        log.len() + 1
    );
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(olds > 0 && news > 0, "{olds} old, {news} new");
}
