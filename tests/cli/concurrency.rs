//! Many processes writing at once: the sidecar lock and the re-read under
//! it mean no write is lost and the file is never torn.

use std::io::Write;
use std::process::Stdio;

use crate::common::{Run, Sandbox};

const WRITERS: usize = 8;

/// Starts `set KEY` processes, all unlocking at once, and feeds their
/// values only after every one has started.
fn set_all(s: &Sandbox, pairs: &[(String, String)]) -> Vec<Run> {
    let mut children: Vec<_> = pairs
        .iter()
        .map(|(key, _)| {
            let mut cmd = s.command(&["set", key]);
            cmd.stdin(Stdio::piped());
            cmd.spawn().expect("spawn credvault set")
        })
        .collect();
    for (child, (_, value)) in children.iter_mut().zip(pairs) {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(value.as_bytes()).unwrap();
    }
    children
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()))
        .collect()
}

#[test]
fn eight_concurrent_sets_all_land() {
    let s = Sandbox::new();
    s.init();
    let pairs: Vec<(String, String)> = (0..WRITERS)
        .map(|i| (format!("service{i}.password"), format!("value-{i}\n")))
        .collect();
    for run in set_all(&s, &pairs) {
        run.ok();
    }
    let listed = s.run(&["ls"]).ok();
    let names: Vec<&str> = listed.text().lines().collect();
    assert_eq!(names.len(), WRITERS, "{names:?}");
    for (key, value) in &pairs {
        assert!(names.contains(&key.as_str()));
        assert_eq!(s.run(&["get", key]).ok().text(), value);
    }
    let status = s.run(&["status", "--json"]).ok().json();
    assert_eq!(status["entries"], WRITERS);
    assert_eq!(status["save_counter"], WRITERS + 1);
}

#[test]
fn concurrent_sets_of_one_key_leave_one_whole_value() {
    let s = Sandbox::new();
    s.init();
    let pairs: Vec<(String, String)> = (0..WRITERS)
        .map(|i| ("shared.key".to_owned(), format!("writer-{i}")))
        .collect();
    for run in set_all(&s, &pairs) {
        run.ok();
    }
    let got = s.run(&["get", "shared.key"]).ok();
    let got = got.text().trim_end();
    assert!(pairs.iter().any(|(_, v)| v == got), "{got}");
    // Every acknowledged set is one save: none was lost.
    let status = s.run(&["status", "--json"]).ok().json();
    assert_eq!(status["save_counter"], WRITERS + 1);
}
