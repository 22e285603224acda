//! The library's architecture, checked on its source (ARCHITECTURE.md,
//! issue 14): the top-level modules of `vault/src` keep their layering and
//! import no circle, no file outgrows what a newcomer can read, and
//! `format/` does no I/O and has no clock.
//!
//! The module graph is built from the code itself: every `crate::…` path
//! (in `use` items and inline), every `super::…` that climbs to the crate
//! root, and names re-exported at the root (`crate::Vault`) resolved to
//! the module they come from through `lib.rs`. Comments, string literals
//! and `#[cfg(test)]` items are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most non-test lines (lines before the first `#[cfg(test)]`) a
/// library source file may have.
const MAX_LINES: usize = 700;

/// The layer of each top-level module, lowest first. A module may use the
/// modules of lower layers only; the capabilities (layer
/// [`CAPABILITIES`]) may also use each other, as long as no circle forms.
/// A module not listed here is taken for a capability.
const LAYERS: &[(&str, u8)] = &[
    // Pure: bytes in, typed values or errors out.
    ("format", 0),
    // Thin crypto wrappers; the pure merge rule; the list of secret
    // environment variables.
    ("crypto", 1),
    ("merge", 1),
    ("secret_env", 1),
    // Unlock methods; the file system.
    ("slots", 2),
    ("store", 2),
    // The engine: the only module that holds an unwrapped data key.
    ("vault", 3),
    // Capabilities built on the engine.
    ("audit", 4),
    ("legacy", 4),
    ("oauth", 4),
    ("pass", 4),
    ("session", 4),
    // The app's credential service, the Node module's engine: nothing in
    // the library uses it.
    ("service", 5),
];

/// The layer whose modules may use each other.
const CAPABILITIES: u8 = 4;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as paths relative to `src()`, sorted.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read the source directory")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    files
        .into_iter()
        .map(|p| p.strip_prefix(src()).expect("under src").to_owned())
        .collect()
}

fn read(rel: &Path) -> String {
    std::fs::read_to_string(src().join(rel)).expect("read a source file")
}

/// `rel` with `/` separators, for messages and the allowlist.
fn display(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The module path of a file: `lib.rs` → `[]`, `vault.rs` and
/// `vault/mod.rs` → `[vault]`, `vault/engine.rs` → `[vault, engine]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && !(parts.is_empty() && stem == "lib") {
        parts.push(stem.to_owned());
    }
    parts
}

/// The lines before the first `#[cfg(test)]`: the file's non-test code
/// (unit tests sit at the bottom of each file).
fn non_test_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.trim_start().starts_with("#[cfg(test)]"))
        .count()
}

/// `code` with comments removed and the contents of string and character
/// literals blanked (line breaks kept), so that what is left is code.
fn strip(code: &str) -> String {
    let c: Vec<char> = code.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && at(i + 1) == 'r'))
            && (i == 0 || !ident(c[i - 1]))
            && {
                let mut j = i + if ch == 'b' { 2 } else { 1 };
                while at(j) == '#' {
                    j += 1;
                }
                at(j) == '"'
            }
        {
            // A raw string: r"…", r#"…"#, br"…".
            i += if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                if c[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
        } else if ch == '"' {
            i += 1;
            out.push_str("\"\"");
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if at(i) == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
        } else if ch == '\'' && at(i + 1) == '\\' {
            // An escaped character literal: '\n', '\'', '\u{..}'.
            i += 3;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if ch == '\'' && at(i + 2) == '\'' {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// Stripped `code` without the items under `#[cfg(test)]`.
fn without_tests(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        // The item ends at its first `;` or at the brace closing its first
        // `{`, whichever comes first.
        let mut depth = 0usize;
        let mut end = item.len();
        for (i, ch) in item.char_indices() {
            match ch {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The names `lib.rs` re-exports at the crate root (`pub use
/// vault::{Vault, …}`, `pub use slots::keychain::SERVICE as …`), each with
/// the top-level module it comes from.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut exports = BTreeMap::new();
    for item in lib.split(';') {
        let item = item.trim();
        let Some(at) = item.find("pub use ") else {
            continue;
        };
        let path = item[at + "pub use ".len()..].trim();
        let module = path.split("::").next().expect("a path").trim().to_owned();
        let names: Vec<&str> = match (path.find('{'), path.rfind('}')) {
            (Some(open), Some(close)) => path[open + 1..close].split(',').collect(),
            _ => vec![path.rsplit("::").next().expect("a name")],
        };
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let exported = name.rsplit(" as ").next().expect("a name").trim();
            exports.insert(exported.to_owned(), module.clone());
        }
    }
    exports
}

/// Where a path's first segment after `crate::` (or a `super::` chain that
/// reaches the root) leads: a top-level module, directly or through a
/// re-export. `None` for names that are neither.
fn resolve(
    name: &str,
    modules: &BTreeSet<String>,
    exports: &BTreeMap<String, String>,
) -> Option<String> {
    if modules.contains(name) {
        return Some(name.to_owned());
    }
    exports.get(name).cloned()
}

/// The first path segment of each item of a `{…}` group starting at `s`
/// (just after the `{`); nested groups are skipped.
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut taking = true;
    for ch in s.chars() {
        match ch {
            '{' => {
                depth += 1;
                taking = false;
            }
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(std::mem::take(&mut current));
                taking = true;
            }
            ':' if depth == 0 => taking = false,
            c if depth == 0 && taking && (c.is_alphanumeric() || c == '_') => current.push(c),
            c if depth == 0 && taking && c.is_whitespace() && !current.is_empty() => taking = false,
            _ => {}
        }
    }
    heads.push(current);
    heads.into_iter().filter(|h| !h.is_empty()).collect()
}

/// The first identifier at the start of `s`.
fn head(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules the file `rel` (code already stripped, tests
/// removed) uses, other than its own.
fn dependencies(
    rel: &Path,
    code: &str,
    modules: &BTreeSet<String>,
    exports: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let own = module_path(rel);
    let mut deps = BTreeSet::new();
    let add = |segment: &str, strict: bool, deps: &mut BTreeSet<String>| {
        if segment.is_empty() || segment == "self" {
            return;
        }
        match resolve(segment, modules, exports) {
            Some(m) => {
                deps.insert(m);
            }
            None => assert!(
                !strict,
                "{}: `crate::{segment}` is neither a top-level module nor a name lib.rs \
                 re-exports; teach vault/tests/architecture.rs about it",
                display(rel)
            ),
        }
    };
    let bytes = code.as_bytes();
    for (at, _) in code.match_indices("crate::") {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            for h in group_heads(group) {
                add(&h, true, &mut deps);
            }
        } else {
            add(&head(rest), true, &mut deps);
        }
    }
    // `super::` chains that climb to the crate root.
    for (at, _) in code.match_indices("super::") {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
            continue;
        }
        let mut rest = &code[at..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if ups < own.len() {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            for h in group_heads(group) {
                add(&h, false, &mut deps);
            }
        } else {
            add(&head(rest), false, &mut deps);
        }
    }
    if let Some(top) = own.first() {
        deps.remove(top);
    }
    deps
}

/// The module graph: each top-level module and the ones it uses, with the
/// files that make each edge.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn graph() -> Graph {
    let files = rust_files();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_path(f).first().cloned())
        .collect();
    let exports = root_exports(&strip(&read(Path::new("lib.rs"))));
    let mut graph = Graph::new();
    for rel in &files {
        let Some(top) = module_path(rel).first().cloned() else {
            continue; // lib.rs: declarations and re-exports only
        };
        let code = without_tests(&strip(&read(rel)));
        let edges = graph.entry(top).or_default();
        for dep in dependencies(rel, &code, &modules, &exports) {
            edges.entry(dep).or_default().insert(display(rel));
        }
    }
    graph
}

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map_or(CAPABILITIES, |(_, layer)| *layer)
}

#[test]
fn modules_use_only_lower_layers() {
    let mut wrong = Vec::new();
    for (module, deps) in graph() {
        for (dep, files) in deps {
            let (from, to) = (layer(&module), layer(&dep));
            let allowed = to < from || (to == from && from == CAPABILITIES);
            if !allowed {
                wrong.push(format!(
                    "{module} (layer {from}) uses {dep} (layer {to}) in {files:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn no_module_is_used_in_a_circle() {
    let graph = graph();
    // Depth-first search; a back edge closes a circle.
    fn visit(
        node: &str,
        graph: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        circles: &mut Vec<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            circles.push(circle.join(" -> "));
            return;
        }
        stack.push(node.to_owned());
        for dep in graph.get(node).into_iter().flat_map(|d| d.keys()) {
            visit(dep, graph, stack, done, circles);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done, &mut circles);
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn nothing_in_the_library_uses_the_cli() {
    for rel in rust_files() {
        let code = strip(&read(&rel));
        assert!(
            !code.contains("credvault_cli"),
            "{} uses the CLI crate",
            display(&rel)
        );
    }
}

#[test]
fn library_files_stay_readable() {
    let mut over = Vec::new();
    for rel in rust_files() {
        let name = display(&rel);
        let lines = non_test_lines(&read(&rel));
        if lines > MAX_LINES {
            over.push(format!("{name}: {lines} non-test lines"));
        }
    }
    assert!(
        over.is_empty(),
        "over {MAX_LINES} non-test lines (split by responsibility):\n{}",
        over.join("\n")
    );
}

#[test]
fn format_does_no_io_and_has_no_clock() {
    const FORBIDDEN: &[&str] = &[
        "std::fs",
        "std::time",
        "SystemTime",
        "Instant",
        "std::net",
        "std::env",
        "std::process",
    ];
    for rel in rust_files() {
        if module_path(&rel).first().map(String::as_str) != Some("format") {
            continue;
        }
        let code = without_tests(&strip(&read(&rel)));
        for word in FORBIDDEN {
            assert!(
                !code.contains(word),
                "{} uses {word}: format/ does no I/O and has no clock",
                display(&rel)
            );
        }
    }
}

/// The checks above are only as good as the parsing under them.
#[test]
fn the_source_reader_sees_code_only() {
    let code = strip(
        "use crate::a; // crate::b\n/* crate::c /* nested */ */ let s = \"crate::d\";\n\
         let r = r#\"crate::e\"#; let c = '{'; let q = '\\''; fn f<'a>(x: &'a u8) {}\n",
    );
    assert!(code.contains("crate::a"));
    for hidden in ["crate::b", "crate::c", "crate::d", "crate::e", "'{'"] {
        assert!(!code.contains(hidden), "{hidden} in {code:?}");
    }
    assert!(code.contains("<'a>"));
    assert_eq!(code.lines().count(), 3);

    let code =
        without_tests("a\n#[cfg(test)]\nmod tests { fn x() { y } }\nb\n#[cfg(test)]\nuse z;\nc");
    assert_eq!(code.split_whitespace().collect::<Vec<_>>(), ["a", "b", "c"]);

    let modules: BTreeSet<String> = ["format", "vault", "store"].map(String::from).into();
    let exports =
        root_exports("pub use vault::{Vault, VaultError};\npub use store::StoreError as E;");
    let deps = dependencies(
        Path::new("slots/keychain.rs"),
        "use crate::{format::{A, B}, Vault};\nfn f() -> crate::E { super::super::store::x() }",
        &modules,
        &exports,
    );
    assert_eq!(deps, ["format", "store", "vault"].map(String::from).into());
    assert_eq!(
        module_path(Path::new("vault/engine.rs")),
        ["vault", "engine"]
    );
    assert_eq!(module_path(Path::new("format/mod.rs")), ["format"]);
    assert!(module_path(Path::new("lib.rs")).is_empty());
    assert_eq!(non_test_lines("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
}
