//! Fault injection into every step of a save and of a create
//! (FORMAT.md §7): an I/O error, and separately a crash, at each step.
//!
//! Whatever step fails, afterwards the vault opens to exactly the old or
//! the new contents (the old ones for every step before the rename), the
//! lock is free at once, the error is a `StoreError` (exit 5 in the CLI),
//! and leftover temp files are removed by the next save.
//!
//! Crashes run in a child process: the test binary re-runs itself as
//! `crash_child` (which does nothing unless `CREDVAULT_FAULT_CHILD` is set)
//! with an injector that calls `std::process::abort()` at the chosen step,
//! so no destructor runs: the lock and the temp file are left to the
//! kernel and to the next save, as after `kill -9`. A last test SIGKILLs a
//! child that holds the lock and checks the next writer is not blocked.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credvault::store::{FaultInjector, Step, VaultLock};
use credvault::{
    KeyName, NewSlot, OpenOptions, Passphrase, PassphraseUnlocker, SecretValue, StoreError, Vault,
    VaultError,
};

const PASS: &str = "faults";
/// ENOSPC: "No space left on device".
const ENOSPC: i32 = 28;

use credvault_test_support::weak_kdf as weak;

fn name(s: &str) -> KeyName {
    KeyName::new(s).expect("valid name")
}

fn options(faults: Arc<dyn FaultInjector>) -> OpenOptions {
    OpenOptions {
        fault_injector: Some(faults),
        ..OpenOptions::default()
    }
}

/// Fails one step with ENOSPC while armed.
struct FailAt {
    step: Step,
    armed: AtomicBool,
}

impl FailAt {
    fn new(step: Step) -> Arc<FailAt> {
        Arc::new(FailAt {
            step,
            armed: AtomicBool::new(true),
        })
    }
}

impl FaultInjector for FailAt {
    fn before(&self, step: Step) -> io::Result<()> {
        if step == self.step && self.armed.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        Ok(())
    }
}

/// Ends the process at one step, as a crash would.
struct CrashAt(Step);

impl FaultInjector for CrashAt {
    fn before(&self, step: Step) -> io::Result<()> {
        if step == self.0 {
            std::process::abort();
        }
        Ok(())
    }
}

/// Records the steps in the order they are asked about.
#[derive(Default)]
struct Record(Mutex<Vec<Step>>);

impl FaultInjector for Record {
    fn before(&self, step: Step) -> io::Result<()> {
        self.0.lock().expect("not poisoned").push(step);
        Ok(())
    }
}

fn unlocker() -> PassphraseUnlocker {
    PassphraseUnlocker::new(Passphrase::from(PASS))
}

/// A vault holding `a` = `1`.
fn old_vault(dir: &Path) -> PathBuf {
    let path = dir.join("v.cvault");
    let mut v =
        Vault::create(&path, NewSlot::Passphrase(&Passphrase::from(PASS), weak())).expect("create");
    v.set(&name("a"), &SecretValue::from("1")).expect("set a");
    path
}

/// Every entry and value of the vault at `path`; panics if it does not open.
fn contents(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let v = Vault::open(path, &mut unlocker()).expect("the vault opens");
    v.list(None)
        .into_iter()
        .map(|k| {
            let value = v.get(k).expect("value opens").expect("listed");
            (k.to_string(), value.expose().to_vec())
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// Temp files of the vault in `dir` (`.v.cvault.tmp.*`), with their sizes.
fn temps(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry"))
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".v.cvault.tmp.")
        })
        .map(|e| {
            let len = e.metadata().expect("metadata").len();
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect();
    out.sort();
    out
}

#[track_caller]
fn assert_lock_free(path: &Path) {
    VaultLock::acquire(path, Duration::ZERO).expect("the lock is free at once");
}

#[track_caller]
fn assert_enospc(err: VaultError) {
    match err {
        VaultError::Store(StoreError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(ENOSPC), "{source}");
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// Does the step run after the new file is in place?
fn after_rename(step: Step) -> bool {
    step == Step::SyncDir
}

/// Is a temp file left behind by a crash at this step?
fn leaves_temp(step: Step) -> bool {
    matches!(
        step,
        Step::Write | Step::MidWrite | Step::Fsync | Step::Rename
    )
}

#[test]
fn a_save_asks_about_every_step_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = old_vault(dir.path());
    let record = Arc::new(Record::default());
    let mut v = Vault::open_with(&path, &mut unlocker(), options(record.clone())).expect("open");
    v.set(&name("b"), &SecretValue::from("2")).expect("set");
    assert_eq!(*record.0.lock().unwrap(), Step::ALL);

    let record = Arc::new(Record::default());
    Vault::create_with(
        &dir.path().join("new.cvault"),
        NewSlot::Passphrase(&Passphrase::from(PASS), weak()),
        options(record.clone()),
    )
    .expect("create");
    assert_eq!(*record.0.lock().unwrap(), Step::ALL);
}

#[test]
fn an_error_at_any_step_of_a_save_keeps_the_old_vault() {
    for step in Step::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = old_vault(dir.path());
        let fail = FailAt::new(step);
        let mut v = Vault::open_with(&path, &mut unlocker(), options(fail.clone())).expect("open");

        let err = v.set(&name("b"), &SecretValue::from("2")).unwrap_err();
        assert_enospc(err);
        let expected = if after_rename(step) {
            map(&[("a", "1"), ("b", "2")])
        } else {
            map(&[("a", "1")])
        };
        assert_eq!(contents(&path), expected, "after an error at {step:?}");
        assert_lock_free(&path);
        assert_eq!(temps(dir.path()), vec![], "after an error at {step:?}");
        // The handle still shows the file it last read: the failed change
        // is not left in memory for the next save to write.
        assert!(!v.has(&name("b")), "in memory after an error at {step:?}");
        assert!(v.has(&name("a")), "in memory after an error at {step:?}");

        // The same handle saves once the fault is gone.
        fail.armed.store(false, Ordering::SeqCst);
        v.set(&name("c"), &SecretValue::from("3"))
            .expect("the next save works");
        let mut expected = expected;
        expected.insert("c".to_owned(), b"3".to_vec());
        assert_eq!(contents(&path), expected, "after the retry at {step:?}");
    }
}

#[test]
fn an_error_at_any_step_of_a_create_leaves_no_vault() {
    for step in Step::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.cvault");
        let pw = Passphrase::from(PASS);
        let slot = || NewSlot::Passphrase(&pw, weak());
        let err = Vault::create_with(&path, slot(), options(FailAt::new(step))).unwrap_err();
        assert_enospc(err);
        assert_lock_free(&path);
        assert_eq!(temps(dir.path()), vec![], "after an error at {step:?}");
        if after_rename(step) {
            assert_eq!(contents(&path), map(&[]));
        } else {
            assert!(!path.exists(), "a vault exists after an error at {step:?}");
            Vault::create(&path, slot()).expect("the next create works");
        }
    }
}

/// The child side of the crash tests: runs one save or create with an
/// injector that aborts the process at `CREDVAULT_FAULT_STEP`.
#[test]
fn crash_child() {
    let (Ok(path), Ok(step), Ok(op)) = (
        std::env::var("CREDVAULT_FAULT_CHILD"),
        std::env::var("CREDVAULT_FAULT_STEP"),
        std::env::var("CREDVAULT_FAULT_OP"),
    ) else {
        return;
    };
    let step = Step::ALL
        .into_iter()
        .find(|s| format!("{s:?}") == step)
        .expect("a known step");
    let path = PathBuf::from(path);
    let options = options(Arc::new(CrashAt(step)));
    if op == "create" {
        let pw = Passphrase::from(PASS);
        Vault::create_with(&path, NewSlot::Passphrase(&pw, weak()), options).expect("create");
    } else {
        let mut v = Vault::open_with(&path, &mut unlocker(), options).expect("child opens");
        v.set(&name("b"), &SecretValue::from("2")).expect("set");
    }
}

/// Runs `crash_child` for `op` at `step`; it must die, not finish.
fn crash(dir: &Path, path: &Path, op: &str, step: Step) {
    let exe = std::env::current_exe().expect("test binary path");
    let status = Command::new(exe)
        .args(["--exact", "crash_child", "--test-threads=1", "--quiet"])
        .env("CREDVAULT_FAULT_CHILD", path)
        .env("CREDVAULT_FAULT_STEP", format!("{step:?}"))
        .env("CREDVAULT_FAULT_OP", op)
        // Any core file lands in the temp dir, never in the source tree.
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("spawn the crashing child");
    assert!(
        !status.success(),
        "the child finished instead of crashing at {step:?}"
    );
    // Died of the injected abort, not of a panic before reaching the step.
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(6), "{step:?}: {status}");
    }
}

#[test]
fn a_crash_at_any_step_of_a_save_leaves_old_or_new() {
    for step in Step::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = old_vault(dir.path());
        let old_len = std::fs::metadata(&path).expect("vault").len();
        crash(dir.path(), &path, "set", step);

        let expected = if after_rename(step) {
            map(&[("a", "1"), ("b", "2")])
        } else {
            map(&[("a", "1")])
        };
        assert_eq!(contents(&path), expected, "after a crash at {step:?}");
        assert_lock_free(&path);
        let left = temps(dir.path());
        assert_eq!(
            left.len(),
            usize::from(leaves_temp(step)),
            "temp files after a crash at {step:?}: {left:?}"
        );
        if step == Step::MidWrite {
            // A torn temp file: half of a file about as long as the old
            // one plus entry `b`; never seen at the vault's path.
            let (_, torn) = &left[0];
            assert!(*torn > 0 && *torn < old_len, "torn temp of {torn} bytes");
        }

        // The next save works and removes what the crash left.
        let mut v = Vault::open(&path, &mut unlocker()).expect("open after the crash");
        v.set(&name("c"), &SecretValue::from("3"))
            .expect("next save");
        assert_eq!(temps(dir.path()), vec![], "after the next save ({step:?})");
        let mut expected = expected;
        expected.insert("c".to_owned(), b"3".to_vec());
        assert_eq!(contents(&path), expected);
    }
}

#[test]
fn a_crash_at_any_step_of_a_create_leaves_nothing_or_a_whole_vault() {
    for step in Step::ALL {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.cvault");
        crash(dir.path(), &path, "create", step);
        assert_lock_free(&path);
        let left = temps(dir.path());
        assert_eq!(
            left.len(),
            usize::from(leaves_temp(step)),
            "temp files after a crash at {step:?}: {left:?}"
        );
        if after_rename(step) {
            assert_eq!(contents(&path), map(&[]));
            let mut v = Vault::open(&path, &mut unlocker()).expect("open");
            v.set(&name("a"), &SecretValue::from("1")).expect("save");
        } else {
            assert!(!path.exists(), "a vault exists after a crash at {step:?}");
            Vault::create(&path, NewSlot::Passphrase(&Passphrase::from(PASS), weak()))
                .expect("the next create works");
        }
        assert_eq!(temps(dir.path()), vec![], "after the next write ({step:?})");
    }
}

/// The child side of the stale-lock test: takes the lock, says so by
/// creating `<vault>.held`, and sleeps until it is killed.
#[test]
fn lock_holder_child() {
    let Ok(path) = std::env::var("CREDVAULT_LOCK_HOLDER") else {
        return;
    };
    let path = PathBuf::from(path);
    let _lock = VaultLock::acquire(&path, Duration::from_secs(5)).expect("child takes the lock");
    std::fs::write(path.with_extension("held"), b"").expect("marker");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_lock_holder_killed_by_sigkill_leaves_no_stale_lock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = old_vault(dir.path());
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "lock_holder_child",
            "--test-threads=1",
            "--quiet",
        ])
        .env("CREDVAULT_LOCK_HOLDER", &path)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn the lock holder");
    let marker = path.with_extension("held");
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "child never locked"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        matches!(
            VaultLock::acquire(&path, Duration::from_millis(20)),
            Err(StoreError::LockTimeout { .. })
        ),
        "the child holds the lock"
    );

    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // The kernel released the flock with the process: no wait, no cleanup.
    assert_lock_free(&path);
    let fast = OpenOptions {
        lock_timeout: Duration::from_millis(100),
        ..OpenOptions::default()
    };
    let mut v = Vault::open_with(&path, &mut unlocker(), fast).expect("open");
    v.set(&name("b"), &SecretValue::from("2"))
        .expect("the next writer is not blocked");
    assert_eq!(contents(&path), map(&[("a", "1"), ("b", "2")]));
}
