//! Writes the vectors of `credvault_vectors::generate` to `spec/vectors/`
//! and removes `*.testkit` files there that it did not produce.

use std::collections::BTreeSet;
use std::path::Path;
use std::{fs, io};

fn main() -> io::Result<()> {
    // spec/generator -> spec/vectors
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the generator lives in spec/")
        .join("vectors");
    fs::create_dir_all(&dir)?;
    let vectors = credvault_vectors::generate();
    let mut written = 0;
    for v in &vectors {
        let path = dir.join(&v.name);
        if fs::read(&path).ok().as_deref() != Some(v.testkit.as_slice()) {
            fs::write(&path, &v.testkit)?;
            written += 1;
        }
    }
    let produced: BTreeSet<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    let mut removed = 0;
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        if name.ends_with(".testkit") && !produced.contains(name) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    println!(
        "{} vectors in {} ({written} written, {removed} stale removed)",
        vectors.len(),
        dir.display()
    );
    Ok(())
}
