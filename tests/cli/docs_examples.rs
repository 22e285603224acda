//! The documented examples run as written (issue 20). Every fenced
//! ```` ```sh ```` or ```` ```bash ```` block in README.md and docs/*.md that
//! the line `<!-- test: run -->` directly precedes is extracted and run by
//! bash against a throwaway vault; a block that exits non-zero fails the
//! test with its file and line. The convention is documented in
//! docs/README.md.
//!
//! Each block gets a sandbox of its own: HOME and the XDG directories in a
//! temp dir (also the working directory), `CREDVAULT_VAULT` there (no vault
//! yet), `CREDVAULT_PASSPHRASE` set, a D-Bus address where no bus listens
//! (so no OS keychain; `<!-- test: run keychain -->` blocks get the real
//! session bus under `CREDVAULT_TEST_KEYRING=secret-service`), and `PATH`
//! with the freshly built `credvault` first. It runs under `set -e -o
//! pipefail`, so every command counts, not only the last. The harness
//! defines a shell function `credvault` that adds the test-only weak KDF
//! flags (`--kdf-memory-mib 8 --kdf-iterations 1 --kdf-parallelism 1`) to
//! an `init`, `slot add passphrase` or `passwd` that names no `--kdf-`
//! flag, so the examples show the real commands and still run in
//! milliseconds.
//!
//! Two more markers name examples other tests run: `<!-- test: run oauth
//! -->` (a shell block that needs an OAuth provider: `oauth::` runs it
//! against the test server with this file's [`run_with`]) and `<!-- test:
//! node -->` (a ```` ```js ```` block: bindings/node/test/docs.test.js runs
//! it with node). They are checked here only for their fence and for
//! [`MUST_HAVE_EXAMPLE`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::PASS;

/// The line that marks the next fenced block as runnable.
const MARKER: &str = "<!-- test: run -->";
/// The line that marks a block that needs an OS keychain: it runs with the
/// test process's D-Bus session, and only when `CREDVAULT_TEST_KEYRING` is
/// `secret-service` (inside `scripts/with-secret-service.sh`, as CI's
/// second pass), like the keychain tests.
const MARKER_KEYCHAIN: &str = "<!-- test: run keychain -->";
/// A shell block that needs an OAuth provider: run by
/// `oauth::the_guides_example_runs_as_written` against the test server.
pub(crate) const MARKER_OAUTH: &str = "<!-- test: run oauth -->";
/// A ```` ```js ```` block run with node by bindings/node's `npm test`
/// (test/docs.test.js).
const MARKER_NODE: &str = "<!-- test: node -->";

/// What a marker asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// [`MARKER`]: run here.
    Run,
    /// [`MARKER_KEYCHAIN`]: run here with a keychain.
    Keychain,
    /// [`MARKER_OAUTH`]: run by the OAuth tests.
    OAuth,
    /// [`MARKER_NODE`]: run by the Node module's tests.
    Node,
}

/// The guides whose main example must be runnable: each needs at least one
/// marked block other than a keychain one (a guide that loses its last one
/// fails, rather than being skipped).
const MUST_HAVE_EXAMPLE: &[&str] = &[
    "README.md",
    "docs/cli.md",
    "docs/migrating.md",
    "docs/keychain.md",
    "docs/backup.md",
    "docs/audit.md",
    "docs/several-machines.md",
    "docs/node.md",
    "docs/oauth.md",
    "docs/pass.md",
    "docs/performance.md",
    "docs/security.md",
];

/// Runs before every block: the weak-KDF wrapper and strict mode.
const PRELUDE: &str = r#"
credvault() {
    local arg prev="" seen=0
    local -a args=()
    for arg in "$@"; do
        args+=("$arg")
        if [ "$seen" = 0 ] && { [ "$arg" = init ] || [ "$arg" = passwd ] ||
            { [ "$prev" = add ] && [ "$arg" = passphrase ]; }; }; then
            seen=1
            case " $* " in
                *" --kdf-"*) ;;
                *) args+=(--kdf-memory-mib 8 --kdf-iterations 1 --kdf-parallelism 1) ;;
            esac
        fi
        prev="$arg"
    done
    command credvault "${args[@]}"
}
set -e -o pipefail
cd "$HOME"
"#;

/// One runnable block: where it is and what it says.
#[derive(Debug)]
pub(crate) struct Block {
    /// The file, relative to the repository root.
    pub(crate) file: String,
    /// 1-based line of the opening fence.
    pub(crate) line: usize,
    /// The block's lines, without the fences.
    pub(crate) code: String,
    /// Which marker preceded it.
    pub(crate) kind: Kind,
}

/// The repository root (the CLI crate is one level below it).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// README.md and every docs/*.md, sorted.
pub(crate) fn documents(root: &Path) -> Vec<String> {
    let mut files = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The marked blocks of one document. A marker not followed by a
/// ```` ```sh ````/```` ```bash ```` fence (```` ```js ```` for
/// [`MARKER_NODE`]), or a block never closed, is an error: a typo must not
/// silently drop an example.
pub(crate) fn extract(file: &str, text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut in_fence = false;
    let mut i = 0;
    while i < lines.len() {
        // A marker counts only outside other fenced blocks (the
        // convention's own description shows one inside a fence).
        if lines[i].trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        let marker = lines[i].trim();
        let kind = match marker {
            MARKER => Kind::Run,
            MARKER_KEYCHAIN => Kind::Keychain,
            MARKER_OAUTH => Kind::OAuth,
            MARKER_NODE => Kind::Node,
            _ => {
                i += 1;
                continue;
            }
        };
        if in_fence {
            i += 1;
            continue;
        }
        let fence = i + 1;
        let opening = lines.get(fence).map(|l| l.trim_end());
        let (fits, fences) = match kind {
            Kind::Node => (
                matches!(opening, Some("```js") | Some("```javascript")),
                "```js",
            ),
            _ => (
                matches!(opening, Some("```sh") | Some("```bash")),
                "```sh or ```bash",
            ),
        };
        if !fits {
            return Err(format!(
                "{file}:{}: `{marker}` must be followed directly by a {fences} fence",
                i + 1
            ));
        }
        let mut end = fence + 1;
        while end < lines.len() && lines[end].trim_end() != "```" {
            end += 1;
        }
        if end == lines.len() {
            return Err(format!(
                "{file}:{}: the runnable block is never closed",
                fence + 1
            ));
        }
        blocks.push(Block {
            file: file.to_string(),
            line: fence + 1,
            code: lines[fence + 1..end].join("\n"),
            kind,
        });
        i = end + 1;
    }
    Ok(blocks)
}

/// Runs one block in a fresh sandbox; `Err` names the file and line and
/// carries the output.
fn run(block: &Block) -> Result<String, String> {
    run_with(block, &[])
}

/// [`run`] with more environment variables (the OAuth tests give the
/// provider's `ISSUER`, `CLIENT_ID`, `CA` and a `BROWSER`); `Ok` is the
/// block's stdout.
pub(crate) fn run_with(block: &Block, vars: &[(&str, &str)]) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let bin = Path::new(env!("CARGO_BIN_EXE_credvault"));
    let mut path = std::ffi::OsString::from(bin.parent().expect("bin dir"));
    if let Some(rest) = std::env::var_os("PATH") {
        path.push(":");
        path.push(rest);
    }
    let script = dir.path().join("example.sh");
    std::fs::write(&script, format!("{PRELUDE}\n{}\n", block.code)).expect("script");
    // setsid: no controlling terminal, so nothing can wait on a prompt.
    let mut cmd = Command::new("setsid");
    cmd.arg("bash")
        .arg("--noprofile")
        .arg("--norc")
        .arg(&script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("USER", "docs")
        .env("LANG", "C.UTF-8")
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("CREDVAULT_VAULT", dir.path().join("vaults/vault.cvault"))
        .env("CREDVAULT_PASSPHRASE", PASS)
        .env("CREDVAULT_NEW_PASSPHRASE", PASS)
        .envs(vars.iter().copied())
        .stdin(Stdio::null());
    match (
        block.kind == Kind::Keychain,
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS"),
    ) {
        // The Secret Service of scripts/with-secret-service.sh.
        (true, Some(bus)) => {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", bus);
        }
        _ => {
            cmd.env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", dir.path().join("no-bus").display()),
            );
        }
    }
    let out = cmd.output().expect("run bash");
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(format!(
        "{}:{}: the example exited with {}\n--- stdout\n{}--- stderr\n{}",
        block.file,
        block.line,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[test]
fn documented_examples_run_as_written() {
    let root = repo_root();
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    for file in documents(&root) {
        let text = std::fs::read_to_string(root.join(&file)).expect("read document");
        match extract(&file, &text) {
            Ok(found) => blocks.extend(found),
            Err(e) => problems.push(e),
        }
    }
    assert!(
        blocks.iter().any(|b| b.kind == Kind::Run),
        "no runnable examples found"
    );
    for file in MUST_HAVE_EXAMPLE {
        if !blocks
            .iter()
            .any(|b| b.file == *file && b.kind != Kind::Keychain)
        {
            problems.push(format!(
                "{file}: no `{MARKER}` (or `{MARKER_OAUTH}`, `{MARKER_NODE}`) example"
            ));
        }
    }
    let secret_service = std::env::var("CREDVAULT_TEST_KEYRING").as_deref() == Ok("secret-service");
    let mut skipped = 0;
    for block in &blocks {
        if block.kind == Kind::Keychain {
            // Recorded for scripts/test.sh's check that each keychain block
            // ran in the Secret Service pass.
            let name = format!("docs_examples::{}:{}", block.file, block.line);
            crate::common::mark_keyring_test(secret_service, "secret-service", &name);
        }
        match block.kind {
            // The Secret Service pass runs the keychain blocks only: the
            // others run with no D-Bus at all, in the first pass.
            Kind::Run if secret_service => continue,
            Kind::Run => {}
            Kind::Keychain if secret_service => {}
            Kind::Keychain => {
                skipped += 1;
                continue;
            }
            // Run by oauth:: and by bindings/node's npm test.
            Kind::OAuth | Kind::Node => continue,
        }
        if let Err(e) = run(block) {
            problems.push(e);
        }
    }
    if skipped > 0 {
        eprintln!(
            "{skipped} keychain example(s) not run: they need CREDVAULT_TEST_KEYRING=secret-service \
             (bash scripts/with-secret-service.sh; see scripts/test.sh)"
        );
    }
    assert!(
        problems.is_empty(),
        "{} of {} documented example(s) failed:\n\n{}",
        problems.len(),
        blocks.len(),
        problems.join("\n\n")
    );
}

#[test]
fn a_broken_example_fails_with_its_file_and_line() {
    let text = "# t\n\n<!-- test: run -->\n```sh\ncredvault init\ncredvault get no.such.key\necho unreachable\n```\n";
    let blocks = extract("docs/t.md", text).expect("extract");
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].line, 4);
    let err = run(&blocks[0]).expect_err("a missing key exits 1");
    assert!(err.starts_with("docs/t.md:4: "), "{err}");
    assert!(
        !err.contains("unreachable\n--- stderr"),
        "set -e stops at the failure: {err}"
    );
    assert!(err.contains("no entry named no.such.key"), "{err}");
}

#[test]
fn a_working_example_passes_and_init_gets_weak_kdf() {
    let text = "<!-- test: run -->\n```bash\ncredvault init --no-recovery\ncredvault --json status | grep -q '\"memory_kib\":8192'\n```\n";
    let blocks = extract("x.md", text).expect("extract");
    run(&blocks[0]).expect("runs");
}

#[test]
fn a_marker_without_a_shell_fence_is_an_error() {
    let text = "<!-- test: run -->\n```text\nhello\n```\n";
    let err = extract("x.md", text).expect_err("not a shell block");
    assert!(err.starts_with("x.md:1: "), "{err}");
    let unclosed = "<!-- test: run -->\n```sh\ntrue\n";
    assert!(extract("x.md", unclosed).is_err());
    assert!(extract("x.md", "```sh\nfalse\n```\n")
        .expect("ok")
        .is_empty());
    let quoted = "```text\n<!-- test: run -->\n```\n";
    assert!(extract("x.md", quoted).expect("ok").is_empty());
    // The other runners' markers: their own fences.
    let node = "<!-- test: node -->\n```js\nconsole.log(1)\n```\n";
    assert_eq!(extract("x.md", node).expect("ok")[0].kind, Kind::Node);
    let node_sh = "<!-- test: node -->\n```sh\ntrue\n```\n";
    assert!(extract("x.md", node_sh).is_err());
    let oauth = "<!-- test: run oauth -->\n```sh\ntrue\n```\n";
    assert_eq!(extract("x.md", oauth).expect("ok")[0].kind, Kind::OAuth);
    let oauth_js = "<!-- test: run oauth -->\n```js\ntrue\n```\n";
    assert!(extract("x.md", oauth_js).is_err());
}

#[test]
fn readme_stays_a_start_page() {
    // Issue 20: the README is where a newcomer starts; a feature's details
    // go into a guide in docs/ with a row in the README's table.
    let len = std::fs::metadata(repo_root().join("README.md"))
        .expect("README.md")
        .len();
    assert!(
        len <= 12 * 1024,
        "README.md is {len} bytes (at most 12 KiB): move feature sections into docs/"
    );
}
