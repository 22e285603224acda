//! The sandbox every test runs in: a temporary directory holding HOME,
//! XDG_DATA_HOME and the vault, and a `credvault` command whose
//! environment is cleared down to those plus `CREDVAULT_PASSPHRASE`.
//!
//! The OS keychain is unreachable in the sandbox (the session bus address
//! names a socket that does not exist), so every test is deterministic
//! whether or not a Secret Service runs, and a developer's real login
//! keyring is never touched. The `keychain` module opts back in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The passphrase of every sandbox vault.
pub const PASS: &str = "correct horse battery staple";

/// Weak Argon2id parameters that keep the tests fast (8 MiB, t=1, p=1).
pub const WEAK: [&str; 6] = [
    "--kdf-memory-mib",
    "8",
    "--kdf-iterations",
    "1",
    "--kdf-parallelism",
    "1",
];

/// A private home, data dir and vault path.
pub struct Sandbox {
    dir: TempDir,
    /// The vault path given through CREDVAULT_VAULT.
    pub vault: PathBuf,
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// Exit code (panics on death by signal).
    pub code: i32,
    /// Raw stdout.
    pub stdout: Vec<u8>,
    /// Stderr as text.
    pub stderr: String,
}

impl Sandbox {
    /// A fresh sandbox; the vault does not exist yet.
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = dir.path().join("vaults").join("test.cvault");
        Sandbox { dir, vault }
    }

    /// A fresh sandbox holding a copy of `other`'s whole directory (vault,
    /// generations, lock, audit log, marks): one prepared vault, many
    /// independent runs.
    pub fn copy_of(other: &Sandbox) -> Sandbox {
        let s = Sandbox::new();
        copy_tree(other.root(), s.root());
        s
    }

    /// The sandbox directory (also HOME).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `credvault ARGS` with a clean environment: HOME and XDG_DATA_HOME
    /// inside the sandbox, CREDVAULT_VAULT and CREDVAULT_PASSPHRASE set,
    /// no reachable D-Bus session (so no OS keychain), stdin null.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_credvault"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root())
            .env("XDG_DATA_HOME", self.root().join("data"))
            .env("CREDVAULT_VAULT", &self.vault)
            .env("CREDVAULT_PASSPHRASE", PASS)
            .env("DBUS_SESSION_BUS_ADDRESS", self.no_bus())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// A D-Bus address where no bus listens (inside the sandbox).
    pub fn no_bus(&self) -> String {
        format!("unix:path={}", self.root().join("no-bus").display())
    }

    /// Runs `credvault ARGS` with stdin null.
    pub fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args), None)
    }

    /// Runs `credvault ARGS` with `stdin` piped in.
    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        run_command(self.command(args), Some(stdin))
    }

    /// `init` with weak parameters; must succeed.
    pub fn init(&self) {
        let mut args = vec!["init"];
        args.extend(WEAK);
        self.run(&args).ok();
    }

    /// `set KEY` with `value` on stdin; must succeed.
    pub fn set(&self, key: &str, value: &[u8]) {
        self.run_stdin(&["set", key], value).ok();
    }

    /// The vault file's bytes.
    pub fn vault_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.vault).expect("vault file")
    }
}

/// `credvault ARGS` in `s` without the sandbox passphrase: no passphrase
/// source at all.
pub fn bare(s: &Sandbox, args: &[&str]) -> Run {
    with_env(s, &[], args)
}

/// `credvault ARGS` in `s` with only `env` as credentials (no passphrase
/// unless given there).
pub fn with_env(s: &Sandbox, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = s.command(args);
    cmd.env_remove("CREDVAULT_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, None)
}

/// The strict skip: a failure under CI (shared with the library's tests).
pub use credvault_test_support::skip;

/// Copies the directory tree `from` into `to` (files keep their modes).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let kind = e.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&src, &dst);
            let mode = std::fs::metadata(&src).expect("metadata").permissions();
            std::fs::set_permissions(&dst, mode).expect("set permissions");
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).expect("copy file");
        }
    }
}

/// Whether a test that needs the keyring mode `want` (`secret-service` or
/// `absent`, the `CREDVAULT_TEST_KEYRING` of scripts/test.sh's two passes)
/// runs in this process. It says why not on stderr otherwise: that is no
/// silent skip, because with `CREDVAULT_TEST_MARKERS=FILE` every call
/// appends `ran|skipped WANT TEST` to FILE, and scripts/test.sh fails
/// unless each test skipped in one pass ran in the pass of its mode.
pub fn keyring_mode_runs(want: &str, test: &str) -> bool {
    let have = std::env::var("CREDVAULT_TEST_KEYRING").unwrap_or_default();
    let runs = have == want;
    mark_keyring_test(runs, want, test);
    if !runs {
        eprintln!(
            "skipping {test}: needs CREDVAULT_TEST_KEYRING={want} (have {have:?}; see scripts/test.sh)"
        );
    }
    runs
}

pub use credvault_test_support::mark_keyring_test;

/// Runs `cmd`, feeding `stdin` from a thread (values can exceed a pipe
/// buffer before the child starts reading).
pub fn run_command(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("spawn credvault");
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            // The child may exit without reading (an error): ignore EPIPE.
            let _ = pipe.write_all(&bytes);
        })
    });
    let output = child.wait_with_output().expect("wait for credvault");
    if let Some(w) = writer {
        w.join().expect("stdin writer");
    }
    Run::from(output)
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().expect("exited normally, not by a signal"),
            stdout: o.stdout,
            stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
        }
    }
}

impl Run {
    /// Asserts exit 0 and returns self.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }

    /// Asserts an error: exit `code`, nothing on stdout, exactly one line on
    /// stderr. Returns the line.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "exit code: {self:?}");
        assert!(self.stdout.is_empty(), "stdout not empty: {self:?}");
        assert!(
            self.stderr.ends_with('\n') && self.stderr.matches('\n').count() == 1,
            "stderr is not exactly one line: {:?}",
            self.stderr
        );
        self.stderr.trim_end()
    }

    /// Stdout as UTF-8 text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }

    /// Stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).expect("stdout is JSON")
    }
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The recovery code a command printed once on stdout (text mode: the
/// framed block of `init`, `recovery rotate`, `rekey`; `--json`: the
/// `recovery_code` field). Panics if there is none.
pub fn recovery_code(run: &Run) -> String {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&run.stdout) {
        if let Some(code) = json["recovery_code"].as_str() {
            return code.to_owned();
        }
    }
    let codes = recovery_codes(run);
    assert_eq!(codes.len(), 1, "one recovery code on stdout: {run:?}");
    codes.into_iter().next().unwrap_or_default()
}

/// Every recovery code in a text-mode stdout: lines of nine dash-separated
/// groups of 0-9 A-Z.
pub fn recovery_codes(run: &Run) -> Vec<String> {
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.split('-').count() == 9
                && l.split('-')
                    .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .map(str::to_owned)
        .collect()
}
