//! Unit tests of the audit log.

use super::*;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

fn key(b: u8) -> AuditKey {
    AuditKey::derive(&SecretKey::from_bytes([b; 32]), &[7; 16])
}

fn event(op: &str, k: &str) -> Event {
    let mut e = Event::new(op, "tester");
    e.key = Some(k.to_owned());
    e
}

fn log_with(n: usize) -> (tempfile::TempDir, AuditLog, AuditKey) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::beside(&dir.path().join("v.cvault"));
    let k = key(1);
    for i in 0..n {
        log.append(&event("store", &format!("k{i}")), Some(&k))
            .unwrap();
    }
    (dir, log, k)
}

fn lines(log: &AuditLog) -> Vec<String> {
    std::fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(log: &AuditLog, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(log.path(), text).unwrap();
}

fn problem_line(log: &AuditLog, k: &AuditKey) -> (usize, String) {
    let v = log.verify(k).unwrap();
    let p = v.problem.expect("tampering detected");
    (p.line, p.reason)
}

#[test]
fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // leap year
    assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
    let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_999);
    assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
        "9999-12-30T22:00:00Z"
    );
}

/// The line as a JSON map sorted by `canonical` (the form `encode`
/// writes directly), for comparison.
fn encode_through_a_map(event: &Event, seq: u64, prev: &str, key: Option<&AuditKey>) -> String {
    let mut obj = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        obj.insert(k.to_owned(), v);
    };
    put("v", 1.into());
    put("seq", seq.into());
    put("ts", rfc3339(event.time).into());
    put("op", event.operation.clone().into());
    if let Some(k) = &event.key {
        put("key", k.clone().into());
    }
    if let Some(p) = &event.prefix {
        put("prefix", p.clone().into());
    }
    put("outcome", event.outcome.as_str().into());
    if let Some(e) = &event.error {
        put("error", e.clone().into());
    }
    put("pid", event.pid.into());
    put("user", event.user.clone().into());
    put("prev", prev.into());
    match key {
        Some(key) => {
            put("auth", "hmac".into());
            put("kid", key.id().into());
            let mac = key.mac(canonical(&obj).as_bytes());
            obj.insert("mac".into(), mac.into());
        }
        None => put("auth", "none".into()),
    }
    let sorted: BTreeMap<&String, &Value> = obj.iter().collect();
    serde_json::to_string(&sorted).unwrap()
}

#[test]
fn lines_are_written_in_the_canonical_form() {
    let k = key(3);
    let odd = [
        "",
        "a.b",
        "quote\" back\\ slash",
        "tab\tnl\n\u{1}\u{7f}",
        "ü日本\u{2028}",
    ];
    for (i, text) in odd.iter().enumerate() {
        let mut e = event("store", text);
        e.user = (*text).to_owned();
        e.pid = u32::MAX - i as u32;
        e.error = (i % 2 == 0).then(|| (*text).to_owned());
        e.prefix = (i % 3 == 0).then(|| format!("p{text}"));
        e.outcome = if i % 2 == 0 {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        let seq = u64::MAX - i as u64;
        for key in [Some(&k), None] {
            let line = encode(&e, seq, ZERO_HASH, key);
            assert_eq!(line, encode_through_a_map(&e, seq, ZERO_HASH, key));
            let obj = parse_object(&line).unwrap();
            if let Some(key) = key {
                let mac = obj["mac"].as_str().unwrap();
                assert!(key.check(canonical(&obj).as_bytes(), mac));
            }
        }
    }
}

#[test]
fn an_intact_chain_verifies() {
    let (_d, log, k) = log_with(5);
    let v = log.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!((v.lines, v.authenticated), (5, 5));
    assert_eq!(v.anchored_seq, Some(5));
    let entries = log.entries().unwrap();
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[2].key.as_deref(), Some("k2"));
    assert_eq!(entries[2].seq, 3);
}

#[test]
fn long_lived_handles_interleaving_keep_one_chain() {
    // Two handles with their own tail caches (the app and the CLI),
    // and rotation in between: every append must follow the other's.
    let (_d, a, k) = log_with(1);
    let b = AuditLog::at(a.path()).with_max_bytes(600);
    let a = a.with_max_bytes(600);
    for i in 0..12 {
        let log = if i % 3 == 0 { &b } else { &a };
        let seq = log
            .append(&event("retrieve", &format!("k{i}")), Some(&k))
            .unwrap();
        assert_eq!(seq, i + 2);
    }
    let v = a.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!(v.last_seq, Some(13));
    assert!(a.rotated(1).exists(), "the test rotated");
}

#[test]
fn deferred_lines_are_written_in_order_before_the_next_line() {
    let (_d, log, k) = log_with(1);
    let log = log.with_deferred(Duration::from_secs(3600));
    let other = AuditLog::at(log.path());
    for i in 0..3 {
        log.append_deferred(event("retrieve", &format!("r{i}")), &k)
            .unwrap();
    }
    assert_eq!(lines(&log).len(), 1, "deferred, not yet written");
    // Another writer meanwhile: the deferred lines follow it.
    other.append(&event("store", "o"), Some(&k)).unwrap();
    let seq = log.append(&event("store", "w"), Some(&k)).unwrap();
    assert_eq!(seq, 6);
    let keys: Vec<String> = log
        .entries()
        .unwrap()
        .into_iter()
        .filter_map(|e| e.key)
        .collect();
    assert_eq!(keys, ["k0", "o", "r0", "r1", "r2", "w"]);
    let v = log.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!(v.last_seq, Some(6));
}

#[test]
fn deferred_lines_are_written_when_many_wait_on_flush_and_on_a_new_key() {
    let (_d, log, k) = log_with(0);
    let log = log.with_deferred(Duration::from_secs(3600));
    for i in 0..MAX_DEFERRED - 1 {
        log.append_deferred(event("has", &format!("h{i}")), &k)
            .unwrap();
    }
    assert!(!log.path().exists() || lines(&log).is_empty());
    log.append_deferred(event("has", "last"), &k).unwrap();
    assert_eq!(lines(&log).len(), MAX_DEFERRED);
    log.append_deferred(event("list", "x"), &k).unwrap();
    log.flush().unwrap();
    assert_eq!(lines(&log).len(), MAX_DEFERRED + 1);
    // A line under another key (a rekey) writes the waiting ones first,
    // each under its own key.
    let k2 = key(2);
    log.append_deferred(event("has", "old"), &k).unwrap();
    log.append_deferred(event("has", "new"), &k2).unwrap();
    log.flush().unwrap();
    let all = lines(&log);
    assert!(all[all.len() - 2].contains(k.id()));
    assert!(all[all.len() - 1].contains(k2.id()));
    let v = log.verify(&k2).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
}

#[test]
fn deferred_lines_are_written_by_the_background_thread() {
    let (_d, log, k) = log_with(1);
    let log = log.with_deferred(Duration::from_millis(50));
    log.append_deferred(event("retrieve", "bg"), &k).unwrap();
    // Not a timing assertion: waits as long as it takes (bounded).
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&log).len() < 2 {
        assert!(Instant::now() < deadline, "never written");
        std::thread::sleep(Duration::from_millis(10));
    }
    let v = log.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!(v.last_seq, Some(2));
    // The head anchors the deferred line: cutting it off is caught.
    let mut all = lines(&log);
    all.pop();
    write_lines(&log, &all);
    assert!(!log.verify(&k).unwrap().is_intact());
}

/// Issue 19: a line torn by a crash (or a full disk) during an append
/// used to break the chain for good: the next line was glued to it and
/// `seq` restarted at 1. Now the next append ends the fragment, records
/// it in a MACed marker line, and the chain goes on.
#[test]
fn a_torn_last_line_is_recovered_and_told_from_tampering() {
    let (_d, log, k) = log_with(3);
    let intact = std::fs::read(log.path()).unwrap();
    // A crash in the middle of appending line 4.
    let line4 = encode(&event("store", "k3"), 4, "x", Some(&k));
    let mut torn = intact.clone();
    torn.extend_from_slice(&line4.as_bytes()[..40]);
    std::fs::write(log.path(), &torn).unwrap();
    let fresh = AuditLog::at(log.path());
    let v = fresh.verify(&k).unwrap();
    assert!(
        v.is_intact(),
        "a torn last line is not tampering: {:?}",
        v.problem
    );
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("line 4") && n.contains("torn")),
        "{:?}",
        v.notes
    );

    // The next append records it and continues the chain at seq 4, 5.
    assert_eq!(fresh.append(&event("store", "k4"), Some(&k)).unwrap(), 5);
    let l = lines(&fresh);
    assert_eq!(l.len(), 6, "{l:?}");
    assert!(l[4].contains(RECOVERED_OP), "{}", l[4]);
    let v = fresh.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!((v.lines, v.last_seq), (5, Some(5)));
    assert!(
        v.notes.iter().any(|n| n.contains("torn by a crash")),
        "{:?}",
        v.notes
    );

    // Changing the torn fragment afterwards is tampering.
    let mut edited = l.clone();
    edited[3] = edited[3].replacen('{', "[", 1);
    write_lines(&fresh, &edited);
    assert!(fresh.verify(&k).unwrap().problem.is_some());

    // Cutting a whole, anchored last line looks torn, but the head
    // anchor names it: tampering.
    let (_d2, cut, k2) = log_with(3);
    let mut bytes = std::fs::read(cut.path()).unwrap();
    bytes.truncate(bytes.len() - 10);
    std::fs::write(cut.path(), bytes).unwrap();
    assert!(cut.verify(&k2).unwrap().problem.is_some());
}

#[test]
fn the_wrong_key_fails() {
    let (_d, log, _k) = log_with(2);
    // Another key: lines count as "earlier key", but the head is not theirs.
    let v = log.verify(&key(2)).unwrap();
    assert_eq!(v.earlier_key, 2);
    assert!(v.problem.is_some());
}

#[test]
fn an_edit_is_detected_at_that_line() {
    let (_d, log, k) = log_with(4);
    let mut l = lines(&log);
    l[1] = l[1].replace("\"k1\"", "\"kX\"");
    write_lines(&log, &l);
    let (line, reason) = problem_line(&log, &k);
    assert_eq!(line, 2);
    assert!(reason.contains("MAC"), "{reason}");
}

#[test]
fn a_deletion_is_detected() {
    let (_d, log, k) = log_with(4);
    let mut l = lines(&log);
    l.remove(1);
    write_lines(&log, &l);
    assert_eq!(problem_line(&log, &k).0, 2);
}

#[test]
fn reordering_is_detected() {
    let (_d, log, k) = log_with(4);
    let mut l = lines(&log);
    l.swap(1, 2);
    write_lines(&log, &l);
    assert_eq!(problem_line(&log, &k).0, 2);
}

#[test]
fn truncation_is_detected_by_the_head() {
    let (_d, log, k) = log_with(4);
    let mut l = lines(&log);
    l.truncate(2);
    write_lines(&log, &l);
    let (_, reason) = problem_line(&log, &k);
    assert!(reason.contains("truncated"), "{reason}");
    // Truncating the start is caught by seq.
    let (_d, log, k) = log_with(4);
    let l = lines(&log);
    write_lines(&log, &l[1..]);
    assert_eq!(problem_line(&log, &k).0, 1);
    // And removing the head itself.
    let (_d, log, k) = log_with(2);
    std::fs::remove_file(log.head_path()).unwrap();
    assert!(log.verify(&k).unwrap().problem.is_some());
}

#[test]
fn a_torn_last_line_is_reported() {
    let (_d, log, k) = log_with(2);
    let text = std::fs::read_to_string(log.path()).unwrap();
    std::fs::write(log.path(), &text[..text.len() - 5]).unwrap();
    // It looks torn, but the head anchor names line 2: a cut, not a
    // crash (a crash never anchors a line it did not finish).
    let (line, reason) = problem_line(&log, &k);
    assert_eq!(line, 0, "{reason}");
    assert!(reason.contains("line 2"), "{reason}");
}

#[test]
fn unauthenticated_lines_are_chained_and_covered() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::beside(&dir.path().join("v.cvault"));
    let k = key(1);
    log.append(&event("store", "a"), Some(&k)).unwrap();
    let mut failed = Event::new("retrieve", "tester");
    failed.outcome = Outcome::Failure;
    failed.error = Some("unlock".into());
    log.append(&failed, None).unwrap();
    log.append(&event("store", "b"), Some(&k)).unwrap();
    let v = log.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!((v.authenticated, v.unauthenticated), (2, 1));
    assert!(lines(&log)[1].contains("\"auth\":\"none\""));
    assert!(!lines(&log)[1].contains("\"mac\""));
    // Deleting the unauthenticated line is detected by the next one.
    let mut l = lines(&log);
    l.remove(1);
    write_lines(&log, &l);
    assert_eq!(problem_line(&log, &k).0, 2);
}

#[test]
fn rotation_carries_the_chain_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::beside(&dir.path().join("v.cvault"))
        .with_max_bytes(600)
        .with_keep(20);
    let k = key(1);
    for i in 0..12 {
        log.append(&event("store", &format!("k{i}")), Some(&k))
            .unwrap();
    }
    let files = log.files();
    assert!(files.len() >= 3, "{files:?}");
    let v = log.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!(v.lines, 12);
    assert_eq!(log.entries().unwrap().len(), 12);
    // Removing a middle rotated file breaks the chain.
    std::fs::remove_file(log.rotated(1)).unwrap();
    assert!(log.verify(&k).unwrap().problem.is_some());
}

#[test]
fn rotation_drops_the_oldest_beyond_keep() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::beside(&dir.path().join("v.cvault"))
        .with_max_bytes(300)
        .with_keep(2);
    let k = key(1);
    for i in 0..10 {
        log.append(&event("store", &format!("k{i}")), Some(&k))
            .unwrap();
    }
    assert_eq!(log.files().len(), 3);
    let v = log.verify(&k).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert!(v.first_seq.unwrap() > 1);
}

#[test]
fn a_rekeyed_vault_still_chains_earlier_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::beside(&dir.path().join("v.cvault"));
    log.append(&event("store", "a"), Some(&key(1))).unwrap();
    log.append(&event("rekey", "b"), Some(&key(2))).unwrap();
    let v = log.verify(&key(2)).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!((v.earlier_key, v.authenticated), (1, 1));
    let mut l = lines(&log);
    l[0] = l[0].replace("\"a\"", "\"z\"");
    write_lines(&log, &l);
    assert_eq!(problem_line(&log, &key(2)).0, 2);
}

#[test]
fn a_vault_restored_to_an_earlier_key_still_verifies() {
    // Key 1, then a rekey to key 2, then a restore of a key-1 copy:
    // the head is under key 2, the current key is key 1 again.
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::beside(&dir.path().join("v.cvault"));
    log.append(&event("store", "a"), Some(&key(1))).unwrap();
    log.append(&event("rekey", "b"), Some(&key(2))).unwrap();
    log.append(&event("restore", "c"), Some(&key(2))).unwrap();
    let v = log.verify(&key(1)).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert!(!v.notes.is_empty());
    // Truncation is still caught by the hash the head names.
    let l = lines(&log);
    write_lines(&log, &l[..2]);
    assert!(log.verify(&key(1)).unwrap().problem.is_some());
    // The next key-1 line moves the head back under key 1.
    write_lines(&log, &l);
    log.append(&event("store", "d"), Some(&key(1))).unwrap();
    let v = log.verify(&key(1)).unwrap();
    assert!(v.is_intact(), "{:?}", v.problem);
    assert_eq!(v.anchored_seq, Some(4));
}

#[test]
fn head_records_round_trip() {
    let k = key(3);
    let rec = head_record(&k, 42, ZERO_HASH);
    let head = parse_head(&rec).unwrap();
    assert_eq!(head.seq, 42);
    assert!(k.check(head.content.as_bytes(), &head.mac));
    assert_eq!(rec.len(), head_record(&k, 1, ZERO_HASH).len());
}
