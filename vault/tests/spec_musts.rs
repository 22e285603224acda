//! Every requirement of spec/FORMAT.md is exercised: spec/MUSTS.md maps
//! each use of MUST, MUST NOT, REQUIRED, SHALL and SHALL NOT to the test
//! vectors that show it, or to the tests that do where one file cannot.
//! The first test fails when a requirement is missing from that table,
//! the table lists one that the text no longer has (or whose quote does
//! not match), or names a vector or test that does not exist. The other
//! tests are the ones the table names for rules that need more than one
//! file: what a writer does on a save and a rekey, and what a reader's
//! errors say.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use credvault::format::{self, SlotKind};
use credvault::{
    KdfParams, KeyName, NewSlot, Passphrase, PassphraseUnlocker, RecoveryKey, RekeyOptions,
    SecretValue, UnlockError, Vault, VaultError,
};

/// The repository root (this file is vault/tests/spec_musts.rs).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("vault/ is in the repository root")
        .to_path_buf()
}

/// One use of a requirement key word in FORMAT.md.
struct Occurrence {
    /// `<section>/<n>`: the n-th key word in the section.
    id: String,
    /// The paragraph (block of non-empty lines), whitespace collapsed.
    block: String,
    /// Byte offset of the key word in `block`.
    at: usize,
    /// The key word as written.
    word: &'static str,
}

const KEY_WORDS: [&str; 5] = ["MUST NOT", "MUST", "REQUIRED", "SHALL NOT", "SHALL"];

/// The section id of a Markdown heading: `## 2. File layout` → `2`,
/// `#### 4.4.1 Recovery code` → `4.4.1`, `## Appendix A. …` → `A`; other
/// headings → `0`.
fn section_of(heading: &str) -> String {
    let mut words = heading.trim_start_matches('#').split_whitespace();
    let first = words.next().unwrap_or_default();
    let token = if first == "Appendix" {
        words.next().unwrap_or_default()
    } else {
        first
    };
    let token = token.trim_end_matches('.');
    let numbered = !token.is_empty()
        && token
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let appendix = token.len() == 1 && token.bytes().all(|b| b.is_ascii_uppercase());
    if numbered || appendix {
        token.to_owned()
    } else {
        "0".to_owned()
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every key word use in `text` (FORMAT.md), outside code blocks and the
/// paragraph of §1 that defines the key words.
fn occurrences(text: &str) -> Vec<Occurrence> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    let (mut section, mut fence, mut lines) = ("0".to_owned(), false, Vec::<&str>::new());
    let mut flush = |section: &str, lines: &mut Vec<&str>| {
        if !lines.is_empty() {
            let joined = lines.join(" ");
            blocks.push((
                section.to_owned(),
                joined.split_whitespace().collect::<Vec<_>>().join(" "),
            ));
            lines.clear();
        }
    };
    for line in text.split('\n') {
        if line.starts_with("```") {
            flush(&section, &mut lines);
            fence = !fence;
        } else if fence {
        } else if line.starts_with('#') {
            flush(&section, &mut lines);
            section = section_of(line);
        } else if line.trim().is_empty() {
            flush(&section, &mut lines);
        } else {
            lines.push(line);
        }
    }
    flush(&section, &mut lines);

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (section, block) in blocks {
        if block.contains("BCP 14") {
            continue; // the definition of the key words
        }
        let bytes = block.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let before_ok = i == 0 || !is_word_byte(bytes[i - 1]);
            let found = KEY_WORDS.iter().find(|w| {
                bytes[i..].starts_with(w.as_bytes())
                    && bytes.get(i + w.len()).is_none_or(|b| !is_word_byte(*b))
            });
            match (before_ok, found) {
                (true, Some(word)) => {
                    let n = counts.entry(section.clone()).or_insert(0);
                    *n += 1;
                    out.push(Occurrence {
                        id: format!("{section}/{n}"),
                        block: block.clone(),
                        at: i,
                        word,
                    });
                    i += word.len();
                }
                _ => i += 1,
            }
        }
    }
    out
}

/// One row of the table in MUSTS.md.
struct Row {
    id: String,
    quote: String,
    vectors: Vec<String>,
    tests: Vec<String>,
    reason: String,
}

/// The backticked words of a table cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn rows(table: &str) -> Result<Vec<Row>, String> {
    let mut out = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| ")) {
        // Cells hold no `|` of their own.
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
        let id = cells[0];
        let is_id = id.split_once('/').is_some_and(|(s, n)| {
            !s.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        });
        if !is_id {
            continue; // the head row and its rule
        }
        if cells.len() != 4 {
            return Err(format!("row {id}: expected 4 cells, found {}", cells.len()));
        }
        let quote = cells[1]
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .ok_or_else(|| format!("row {id}: the requirement must be quoted"))?;
        let tests_cell = cells[3];
        let reason = tests_cell
            .split_once(" — ")
            .map(|(_, r)| r.trim().to_owned())
            .unwrap_or_default();
        out.push(Row {
            id: id.to_owned(),
            quote: quote.to_owned(),
            vectors: ticked(cells[2]),
            tests: ticked(tests_cell.split(" — ").next().unwrap_or_default()),
            reason,
        });
    }
    Ok(out)
}

#[test]
fn every_requirement_of_format_md_is_in_the_table() {
    let root = root();
    let spec = fs::read_to_string(root.join("spec/FORMAT.md")).expect("spec/FORMAT.md");
    let table = fs::read_to_string(root.join("spec/MUSTS.md")).expect("spec/MUSTS.md");
    let found = occurrences(&spec);
    let rows = rows(&table).unwrap_or_else(|e| panic!("spec/MUSTS.md: {e}"));
    let mut problems = Vec::new();

    let mut by_id: BTreeMap<&str, &Row> = BTreeMap::new();
    for row in &rows {
        if by_id.insert(row.id.as_str(), row).is_some() {
            problems.push(format!("{}: listed twice", row.id));
        }
    }
    for occ in &found {
        let Some(row) = by_id.remove(occ.id.as_str()) else {
            let mut from = occ.at.saturating_sub(40);
            while !occ.block.is_char_boundary(from) {
                from -= 1;
            }
            let excerpt: String = occ.block[from..].chars().take(100).collect();
            problems.push(format!(
                "{} ({}) is not in spec/MUSTS.md: …{excerpt}…",
                occ.id, occ.word
            ));
            continue;
        };
        // The quote must be in the paragraph and span this key word.
        let covers = occ
            .block
            .match_indices(row.quote.as_str())
            .any(|(start, q)| start <= occ.at && occ.at + occ.word.len() <= start + q.len());
        if !covers {
            problems.push(format!(
                "{}: the quote \"{}\" does not cover the {} at this place of FORMAT.md (text changed? renumber the table)",
                occ.id, row.quote, occ.word
            ));
        }
    }
    for id in by_id.keys() {
        problems.push(format!("{id}: in spec/MUSTS.md but not in FORMAT.md"));
    }
    for row in &rows {
        if row.vectors.is_empty() && row.tests.is_empty() {
            problems.push(format!("{}: names no vector and no test", row.id));
        }
        if row.vectors.is_empty() && row.reason.len() < 10 {
            problems.push(format!(
                "{}: names no vector, so it must say why after \" — \"",
                row.id
            ));
        }
        for v in &row.vectors {
            if !root
                .join("spec/vectors")
                .join(format!("{v}.testkit"))
                .is_file()
            {
                problems.push(format!("{}: no vector spec/vectors/{v}.testkit", row.id));
            }
        }
        for t in &row.tests {
            let Some((path, name)) = t.rsplit_once("::") else {
                problems.push(format!("{}: test {t} is not path::name", row.id));
                continue;
            };
            let exists = fs::read_to_string(root.join(path))
                .is_ok_and(|src| src.contains(&format!("fn {name}(")));
            if !exists {
                problems.push(format!("{}: no test fn {name} in {path}", row.id));
            }
        }
    }
    assert!(
        found.len() >= 40,
        "only {} requirements found in FORMAT.md: is the parser broken?",
        found.len()
    );
    assert!(
        problems.is_empty(),
        "spec/MUSTS.md is out of step with spec/FORMAT.md:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_table_parser_counts_key_words_per_section() {
    let text = "# T\n\nThe key words MUST of BCP 14.\n\n## 2. A\n\nA MUST NOT b; \
                c MUSTER; all REQUIRED.\n\n```\nMUST\n```\n\n### 2.1 B\n\nx SHALL y.\n\n\
                ## Appendix A. Z\n\nreal files MUST be.\n";
    let ids: Vec<(String, &str)> = occurrences(text)
        .into_iter()
        .map(|o| (o.id, o.word))
        .collect();
    assert_eq!(
        ids,
        [
            ("2/1".to_owned(), "MUST NOT"),
            ("2/2".to_owned(), "REQUIRED"),
            ("2.1/1".to_owned(), "SHALL"),
            ("A/1".to_owned(), "MUST"),
        ]
    );
}

// ---- Tests the table names for rules one file cannot show. ----

const PASSPHRASE: &str = "correct horse battery staple";

/// The vault bytes and the offered passphrase of a vector.
fn vector(name: &str) -> (Vec<u8>, Option<String>) {
    let path = root().join("spec/vectors").join(format!("{name}.testkit"));
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("a testkit header");
    let header = std::str::from_utf8(&bytes[..split]).expect("UTF-8 header");
    let passphrase = header
        .split('\n')
        .find_map(|l| l.strip_prefix("passphrase: "))
        .map(str::to_owned);
    (bytes[split + 2..].to_vec(), passphrase)
}

/// A copy of vector `name` in `dir`, as a vault file.
fn vault_from_vector(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.cvault"));
    fs::write(&path, vector(name).0).expect("write vault");
    path
}

fn open(path: &Path, passphrase: &str) -> Result<Vault, VaultError> {
    Vault::open(
        path,
        &mut PassphraseUnlocker::new(Passphrase::from(passphrase)),
    )
}

fn weak() -> KdfParams {
    KdfParams::new(8192, 1, 1).expect("in range")
}

fn key(name: &str) -> KeyName {
    KeyName::new(name).expect("valid name")
}

fn parsed_slots(path: &Path) -> Vec<format::Slot> {
    let bytes = fs::read(path).expect("read vault");
    format::parse_file(&bytes).expect("parses").header.slots
}

/// FORMAT.md §4.5: a save with the same data key writes unknown slots back
/// byte for byte.
#[test]
fn saves_keep_unknown_slots_verbatim() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = vault_from_vector(dir.path(), "valid_unknown_slot_and_passphrase");
    let before = parsed_slots(&path);
    assert!(matches!(before[0].kind, SlotKind::Unknown { .. }));
    let mut v = open(&path, PASSPHRASE).expect("opens");
    v.set(&key("new.entry"), &SecretValue::from("x"))
        .expect("set");
    v.add_slot(NewSlot::Recovery(&RecoveryKey::generate()))
        .expect("add slot");
    let after = parsed_slots(&path);
    assert_eq!(after[0], before[0], "the unknown slot changed");
    assert_eq!(after.len(), 3);
}

/// FORMAT.md §4.5 and §7: the last slot of a known type is never removed,
/// even when an unknown slot would remain.
#[test]
fn the_last_known_slot_is_not_removed_beside_an_unknown_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = vault_from_vector(dir.path(), "valid_unknown_slot_and_passphrase");
    let before = fs::read(&path).expect("read");
    let mut v = open(&path, PASSPHRASE).expect("opens");
    let err = v.remove_slot(2).expect_err("refused");
    assert!(matches!(err, VaultError::LastSlot), "{err:?}");
    assert_eq!(fs::read(&path).expect("read"), before, "nothing written");
}

/// FORMAT.md §4.5 and §9: a rekey cannot wrap the new data key in a slot
/// of an unknown type. It refuses, naming the slot and changing nothing,
/// or, when asked, drops the slot and reports it; it never keeps a slot
/// that still wraps the old key.
#[test]
// Without the `keychain` feature every field is given below.
#[allow(clippy::needless_update)]
fn rekey_refuses_unknown_slots_or_drops_them_on_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = vault_from_vector(dir.path(), "valid_unknown_slot_and_passphrase");
    let before = fs::read(&path).expect("read");
    let pw = Passphrase::from(PASSPHRASE);
    let mut v = open(&path, PASSPHRASE).expect("opens");

    let err = v
        .rekey(RekeyOptions {
            passphrases: vec![&pw],
            ..RekeyOptions::default()
        })
        .expect_err("refused");
    match &err {
        VaultError::SlotsUnavailable(list) => {
            assert_eq!(list.len(), 1, "{list:?}");
            assert_eq!((list[0].id, list[0].kind), (1, "unknown"));
            assert!(err.to_string().contains("slot 1"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read(&path).expect("read"), before, "nothing changed");

    let old_key = v.data_key().clone();
    let rekeyed = v
        .rekey(RekeyOptions {
            passphrases: vec![&pw],
            drop_unavailable: true,
            ..RekeyOptions::default()
        })
        .expect("rekey dropping the unknown slot");
    let dropped = &rekeyed.slots[0];
    assert_eq!(
        (dropped.old_id, dropped.new_id, dropped.kind),
        (1, None, "unknown")
    );
    assert!(dropped.dropped_because.is_some());
    let slots = parsed_slots(&path);
    assert!(
        slots
            .iter()
            .all(|s| !matches!(s.kind, SlotKind::Unknown { .. })),
        "an unknown slot survived the rekey"
    );
    let reopened = open(&path, PASSPHRASE).expect("opens with the passphrase");
    assert_ne!(reopened.data_key().expose(), old_key.expose());
    assert_eq!(
        reopened
            .get(&key("github.token"))
            .expect("reads")
            .expect("present")
            .expose(),
        b"ghp_vector0000000000"
    );
}

/// FORMAT.md §7 step 3: at 2^64−1 the save counter stays there; it never
/// wraps to 0, and the save is not refused.
#[test]
fn the_save_counter_stays_at_its_maximum() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = vault_from_vector(dir.path(), "valid_save_counter_max");
    let mut v = open(&path, PASSPHRASE).expect("opens");
    assert_eq!(v.header().save_counter, u64::MAX);
    v.set(&key("one.more"), &SecretValue::from("save"))
        .expect("the save is not refused");
    assert_eq!(v.header().save_counter, u64::MAX);
    let reopened = open(&path, PASSPHRASE).expect("reopens");
    assert_eq!(reopened.header().save_counter, u64::MAX);
    assert_eq!(reopened.len(), 1);
}

/// FORMAT.md §7 steps 4 and §9 (nonces): every save draws a fresh body
/// nonce, also when the body did not change; every (re)wrap a fresh wrap
/// nonce; values get fresh nonces when set again.
#[test]
fn every_save_draws_fresh_nonces() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v.cvault");
    let pw = Passphrase::from("pw");
    let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).expect("create");
    let mut body_nonces = vec![v.header().body_nonce];
    let wrap_nonce = |v: &Vault| v.slots()[0].wrap().expect("known slot").nonce;
    let mut wrap_nonces = vec![wrap_nonce(&v)];

    v.set(&key("k"), &SecretValue::from("same")).expect("set");
    body_nonces.push(v.header().body_nonce);
    let sealed = |path: &Path| {
        let v = open(path, "pw").expect("opens");
        let entry = v.entry(&key("k")).expect("present");
        entry.value.as_bytes().to_vec()
    };
    let first = sealed(&path);
    v.set(&key("k"), &SecretValue::from("same"))
        .expect("set again");
    body_nonces.push(v.header().body_nonce);
    let second = sealed(&path);
    v.add_slot(NewSlot::Recovery(&RecoveryKey::generate()))
        .expect("a save that leaves the body unchanged");
    body_nonces.push(v.header().body_nonce);
    let new_pw = Passphrase::from("new");
    v.rewrap_slot(1, NewSlot::Passphrase(&new_pw, weak()))
        .expect("rewrap");
    body_nonces.push(v.header().body_nonce);
    wrap_nonces.push(wrap_nonce(&v));

    let distinct = |n: &[[u8; 24]]| {
        let mut d = n.to_vec();
        d.sort_unstable();
        d.dedup();
        d.len() == n.len()
    };
    assert!(distinct(&body_nonces), "a body nonce was reused");
    assert!(distinct(&wrap_nonces), "a wrap nonce was reused");
    assert_ne!(first, second, "a value set again kept its nonce");
}

/// FORMAT.md §7 (Slots): a writer refuses a 17th slot.
#[test]
fn a_seventeenth_slot_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v.cvault");
    let pw = Passphrase::from("pw");
    let mut v = Vault::create(&path, NewSlot::Passphrase(&pw, weak())).expect("create");
    for _ in 1..16 {
        v.add_slot(NewSlot::Recovery(&RecoveryKey::generate()))
            .expect("up to 16 slots");
    }
    let before = fs::read(&path).expect("read");
    let err = v
        .add_slot(NewSlot::Recovery(&RecoveryKey::generate()))
        .expect_err("a 17th slot");
    assert!(matches!(err, VaultError::TooManySlots(16)), "{err:?}");
    assert_eq!(fs::read(&path).expect("read"), before);
}

/// FORMAT.md §4.6: a wrong passphrase, a modified wrap and a slot bound to
/// other parameters give one error with one message.
#[test]
fn unlock_failures_look_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut messages = Vec::new();
    for name in [
        "unlock_wrong_passphrase",
        "header_wrapped_key_flipped",
        "slot_salt_changed",
        "slot_wrapped_for_other_vault",
    ] {
        let path = vault_from_vector(dir.path(), name);
        let (_, pw) = vector(name);
        let err = open(&path, &pw.expect("a passphrase")).expect_err(name);
        assert!(
            matches!(err, VaultError::Unlock(UnlockError::WrongKeyOrTampered)),
            "{name}: {err:?}"
        );
        messages.push(err.to_string());
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
}

/// FORMAT.md §6.2: the kdf-limit error names what the file asks for and
/// what the reader allows.
#[test]
fn kdf_limit_names_what_is_asked_and_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = vault_from_vector(dir.path(), "kdf_limit_memory_2gib");
    let err = open(&path, PASSPHRASE).expect_err("above the limits");
    let text = err.to_string();
    assert!(
        text.contains("m=2048 MiB") && text.contains("at most m=1024 MiB"),
        "{text}"
    );
}

/// Appendix A: real files use random values. Two vaults made with the
/// same passphrase share no vault id, salt or nonce.
#[test]
fn created_vaults_draw_random_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pw = Passphrase::from("pw");
    /// Salt, wrap nonce, body nonce, vault id.
    type Drawn = (Vec<u8>, [u8; 24], [u8; 24], [u8; 16]);
    let made: Vec<Drawn> = ["a", "b"]
        .iter()
        .map(|n| {
            let v = Vault::create(
                &dir.path().join(format!("{n}.cvault")),
                NewSlot::Passphrase(&pw, weak()),
            )
            .expect("create");
            let SlotKind::Passphrase(p) = &v.slots()[0].kind else {
                panic!("a passphrase slot")
            };
            (
                p.salt.clone(),
                p.wrap.nonce,
                v.header().body_nonce,
                v.header().vault_id,
            )
        })
        .collect();
    assert_ne!(made[0].0, made[1].0, "salt");
    assert_ne!(made[0].1, made[1].1, "wrap nonce");
    assert_ne!(made[0].2, made[1].2, "body nonce");
    assert_ne!(made[0].3, made[1].3, "vault id");
}
