//! The checked-in `spec/vectors/` must be exactly what the generator
//! produces: no file differing, missing or extra.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

#[test]
fn checked_in_vectors_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let vectors = credvault_vectors::generate();
    let mut problems = Vec::new();
    for v in &vectors {
        match fs::read(dir.join(&v.name)) {
            Ok(bytes) if bytes == v.testkit => {}
            Ok(_) => problems.push(format!("{} differs", v.name)),
            Err(_) => problems.push(format!("{} is missing", v.name)),
        }
    }
    let produced: BTreeSet<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let name = entry.expect("directory entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".testkit") && !produced.contains(name.as_ref()) {
            problems.push(format!("{name} is not produced by the generator"));
        }
    }
    assert!(
        problems.is_empty(),
        "spec/vectors/ is out of date; run `cargo run -p credvault-vectors`:\n  {}",
        problems.join("\n  ")
    );
}
