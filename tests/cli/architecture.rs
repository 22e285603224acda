//! The shape of `vault-cli/src` (issue 14): commands depend on the shared
//! modules of the binary, never on each other or on `commands/mod.rs`;
//! and the CLI is a thin face that uses the library's public operations,
//! never its `format`, `store` or `slots` internals. These read the
//! sources; they run no binary.

use std::path::{Path, PathBuf};

/// Uses of library internals that stay, each with its reason: (file under
/// `vault-cli/src`, the module path it names, why). Keep it short; an
/// entry that no longer matches anything fails the test, so the list
/// only shrinks.
const ALLOWED_INTERNALS: &[(&str, &str, &str)] = &[];

/// The library modules a face must not name.
const INTERNAL: &[&str] = &["format", "store", "slots"];

fn cli_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The file's code without comments (line comments and doc comments; the
/// CLI has no block comments) and without its `#[cfg(test)]` module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read a source file");
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .map(|line| match line.find("//") {
            // A "//" inside a string literal ("https://") is rare in this
            // code and only makes the check stricter.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .expect("under the root")
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every import of a command module by another command module, or of
/// `commands/mod.rs` by anything but `main.rs`, under `root` (a `src`).
fn command_imports(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for path in rust_files(&root.join("commands")) {
        let name = relative(root, &path);
        if name == "commands/mod.rs" {
            continue;
        }
        let code = code(&path);
        for bad in ["super::", "crate::commands"] {
            if code.contains(bad) {
                found.push(format!("{name} names `{bad}`"));
            }
        }
    }
    // The shared modules do not reach back into the commands either.
    for path in rust_files(root) {
        let name = relative(root, &path);
        if name.starts_with("commands/") || name == "main.rs" {
            continue;
        }
        if code(&path).contains("crate::commands") {
            found.push(format!("{name} names `crate::commands`"));
        }
    }
    found
}

#[test]
fn no_command_imports_another_command_or_the_dispatcher() {
    let found = command_imports(&cli_src());
    assert!(
        found.is_empty(),
        "commands must depend on the shared modules (failure, exit, output, unlock, kdf, view, ...), not on each other:\n{}",
        found.join("\n")
    );
}

/// Every (file, internal module) pair the CLI names: as a path
/// (`credvault::store::...`) or in a grouped import (`use credvault::{store,
/// ...}`).
fn internal_uses(root: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for path in rust_files(root) {
        let name = relative(root, &path);
        let code = code(&path);
        for module in INTERNAL {
            let as_path = code.contains(&format!("credvault::{module}::"))
                || code.contains(&format!("credvault::{module};"));
            let grouped = code.split("use credvault::{").skip(1).any(|rest| {
                let group = rest.split("};").next().unwrap_or("");
                group.split(',').any(|item| {
                    let item = item.trim();
                    item == *module || item.starts_with(&format!("{module}::"))
                })
            });
            if as_path || grouped {
                found.push((name.clone(), (*module).to_owned()));
            }
        }
    }
    found
}

#[test]
fn the_cli_uses_no_library_internals() {
    let found = internal_uses(&cli_src());
    let unexpected: Vec<String> = found
        .iter()
        .filter(|(file, module)| {
            !ALLOWED_INTERNALS
                .iter()
                .any(|(f, m, _)| f == file && m == module)
        })
        .map(|(file, module)| format!("{file} names `credvault::{module}`"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the CLI is a thin face: call (or add) a public library operation instead of reaching into format/store/slots:\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<String> = ALLOWED_INTERNALS
        .iter()
        .filter(|(f, m, _)| !found.iter().any(|(file, module)| file == f && module == m))
        .map(|(f, m, _)| format!("{f}: {m}"))
        .collect();
    assert!(
        stale.is_empty(),
        "allowlist entries that match nothing any more (remove them):\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    // Both checks must find what they look for, or passing proves nothing.
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir(root.join("commands")).expect("mkdir");
    let write = |name: &str, text: &str| std::fs::write(root.join(name), text).expect("write");
    write("commands/mod.rs", "mod a;\nmod b;\n");
    write(
        "commands/a.rs",
        "use super::b::helper;\nuse credvault::{store, KeyName};\n",
    );
    write(
        "commands/b.rs",
        "// super::a in a comment, credvault::slots::x too\nfn f() { credvault::format::parse_file(b\"\"); }\n",
    );
    write("shared.rs", "use crate::commands::a;\n");
    write(
        "clean.rs",
        "use credvault::{ops, KeyName};\n#[cfg(test)]\nmod tests {\n    use credvault::store;\n}\n",
    );
    assert_eq!(
        command_imports(root),
        [
            "commands/a.rs names `super::`",
            "shared.rs names `crate::commands`"
        ]
    );
    let uses = internal_uses(root);
    let uses: Vec<(&str, &str)> = uses.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
    assert_eq!(
        uses,
        [("commands/a.rs", "store"), ("commands/b.rs", "format")]
    );
}
