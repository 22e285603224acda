//! Merging two copies of one vault (FORMAT.md §11): pure functions over
//! decoded bodies and file names, no I/O, no clock.
//!
//! The body is a last-writer-wins map from names to records. A record is
//! a live [`Entry`] or a tombstone; for each name the merge keeps the
//! greater of the two records under the total order of [`cmp_records`]
//! (FORMAT.md §11.2). Keeping the maximum of a total order is commutative,
//! associative and idempotent, so copies that saw the same changes end up
//! with the same body whatever the order of their merges (the property
//! tests below and the `fuzz_merge` target check this).
//!
//! The engine side (reading the other copy, one locked save, removing
//! sync-folder conflict copies after a verified save) is
//! [`Vault::merge`](crate::Vault::merge).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::format::{Body, Entry, KeyName};

/// One name's record in a body (FORMAT.md §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A live entry.
    Live(&'a Entry),
    /// A tombstone: deleted at this time (Unix milliseconds).
    Deleted(u64),
}

impl<'a> Record<'a> {
    /// The record of `name` in `body`, if it has one.
    pub fn of(body: &'a Body, name: &KeyName) -> Option<Record<'a>> {
        match body.entries.get(name) {
            Some(entry) => Some(Record::Live(entry)),
            None => body.tombstones.get(name).map(|at| Record::Deleted(*at)),
        }
    }

    /// The record's change time: an entry's update time, a tombstone's
    /// deletion time.
    pub fn time(&self) -> u64 {
        match self {
            Record::Live(entry) => entry.updated_ms,
            Record::Deleted(at) => *at,
        }
    }

    /// Whether the record is a tombstone.
    pub fn is_deleted(&self) -> bool {
        matches!(self, Record::Deleted(_))
    }
}

/// The total order of FORMAT.md §11.2; the greater record wins a merge.
///
/// 1. The later change time wins.
/// 2. At equal times a tombstone wins over a live entry.
/// 3. Two live entries with equal update times compare by creation time,
///    then kind (bytewise), then expiry (none before any time), then
///    metadata (as a sorted list of pairs, bytewise), then the sealed
///    value's bytes. Every field takes part, so two records compare equal
///    only when they are identical.
pub fn cmp_records(a: &Record<'_>, b: &Record<'_>) -> Ordering {
    a.time()
        .cmp(&b.time())
        .then_with(|| a.is_deleted().cmp(&b.is_deleted()))
        .then_with(|| match (a, b) {
            (Record::Live(x), Record::Live(y)) => cmp_live(x, y),
            // Same time and both tombstones: identical.
            _ => Ordering::Equal,
        })
}

/// Rule 3 of [`cmp_records`].
fn cmp_live(x: &Entry, y: &Entry) -> Ordering {
    x.created_ms
        .cmp(&y.created_ms)
        .then_with(|| x.kind.as_str().as_bytes().cmp(y.kind.as_str().as_bytes()))
        .then_with(|| x.expires_ms.cmp(&y.expires_ms))
        .then_with(|| x.metadata.as_map().cmp(y.metadata.as_map()))
        .then_with(|| x.value.as_bytes().cmp(y.value.as_bytes()))
}

/// Which copy a merged record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The vault merged into.
    Ours,
    /// The other copy.
    Theirs,
}

/// What a merge took from the other copy for one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Taken {
    /// A name this copy did not know (live) became live.
    Added,
    /// A live entry here was replaced by a newer one.
    Updated,
    /// A live entry here was deleted (the other copy's tombstone is newer).
    Deleted,
    /// A tombstone here gave way to a newer live entry.
    Restored,
    /// A tombstone only: a name deleted there, unknown or deleted earlier
    /// here.
    Tombstone,
}

/// A name changed on both sides since the base (FORMAT.md §11.3), and how
/// the rule resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The name.
    pub name: KeyName,
    /// This copy's change time and whether it was a deletion.
    pub ours: Option<(u64, bool)>,
    /// The other copy's change time and whether it was a deletion.
    pub theirs: Option<(u64, bool)>,
    /// Whose record the merge kept.
    pub winner: Side,
}

/// The outcome of [`merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The merged body.
    pub body: Body,
    /// Names whose record came from the other copy, and how.
    pub taken: Vec<(KeyName, Taken)>,
    /// Names changed on both sides since the base (empty without a base).
    pub conflicts: Vec<Conflict>,
}

/// Merges `theirs` into `ours` by the rule of FORMAT.md §11.2; with a
/// `base` (the last common version) it also lists the names both sides
/// changed since it (§11.3). The merged body is the same for
/// `merge(a, b)` and `merge(b, a)`; only the report differs.
pub fn merge(ours: Body, theirs: &Body, base: Option<&Body>) -> Merged {
    let mut taken = Vec::new();
    let mut conflicts = Vec::new();
    let mut changes: BTreeMap<KeyName, Option<Entry>> = BTreeMap::new();
    let mut tomb_changes: BTreeMap<KeyName, u64> = BTreeMap::new();
    let names = theirs.entries.keys().chain(theirs.tombstones.keys());
    for name in names {
        let Some(t) = Record::of(theirs, name) else {
            continue;
        };
        let o = Record::of(&ours, name);
        let theirs_wins = o.is_none_or(|o| cmp_records(&t, &o).is_gt());
        if let Some(base) = base {
            if let Some(c) = conflict(name, o, Some(t), Record::of(base, name), theirs_wins) {
                conflicts.push(c);
            }
        }
        if !theirs_wins {
            continue;
        }
        let how = match (o, t) {
            (None, Record::Live(_)) => Taken::Added,
            (Some(Record::Live(_)), Record::Live(_)) => Taken::Updated,
            (Some(Record::Live(_)), Record::Deleted(_)) => Taken::Deleted,
            (Some(Record::Deleted(_)), Record::Live(_)) => Taken::Restored,
            (_, Record::Deleted(_)) => Taken::Tombstone,
        };
        taken.push((name.clone(), how));
        match t {
            Record::Live(entry) => {
                changes.insert(name.clone(), Some(entry.clone()));
            }
            Record::Deleted(at) => {
                changes.insert(name.clone(), None);
                tomb_changes.insert(name.clone(), at);
            }
        }
    }
    if let Some(base) = base {
        // Names only this copy has: the other side deleted nothing and
        // changed nothing it knows of, so a conflict needs a base record
        // that the other side dropped (a record never disappears in a
        // body, so this happens only with a base from elsewhere).
        for name in ours.entries.keys().chain(ours.tombstones.keys()) {
            if Record::of(theirs, name).is_none() {
                if let Some(c) = conflict(
                    name,
                    Record::of(&ours, name),
                    None,
                    Record::of(base, name),
                    false,
                ) {
                    conflicts.push(c);
                }
            }
        }
        conflicts.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut body = ours;
    for (name, change) in changes {
        match change {
            Some(entry) => {
                body.tombstones.remove(&name);
                body.entries.insert(name, entry);
            }
            None => {
                body.entries.remove(&name);
                if let Some(at) = tomb_changes.get(&name) {
                    body.tombstones.insert(name, *at);
                }
            }
        }
    }
    Merged {
        body,
        taken,
        conflicts,
    }
}

/// A record's stamp for change detection (FORMAT.md §11.3): its change
/// time and whether it is a deletion. Independent of the sealed bytes, so
/// a value sealed again under another data key is not a change.
fn stamp(record: Option<Record<'_>>) -> Option<(u64, bool)> {
    record.map(|r| (r.time(), r.is_deleted()))
}

/// The conflict for `name`, if both sides changed it since `base` and
/// differently.
fn conflict(
    name: &KeyName,
    ours: Option<Record<'_>>,
    theirs: Option<Record<'_>>,
    base: Option<Record<'_>>,
    theirs_wins: bool,
) -> Option<Conflict> {
    let (o, t, b) = (stamp(ours), stamp(theirs), stamp(base));
    if o == b || t == b || o == t {
        return None;
    }
    Some(Conflict {
        name: name.clone(),
        ours: o,
        theirs: t,
        winner: if theirs_wins {
            Side::Theirs
        } else {
            Side::Ours
        },
    })
}

/// The sync tool that names conflict copies a certain way (FORMAT.md
/// §11.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SyncTool {
    /// `NAME.sync-conflict-YYYYMMDD-HHMMSS-XXXXXXX.EXT`.
    Syncthing,
    /// `NAME (… conflicted copy …).EXT`.
    Dropbox,
    /// `NAME (conflicted copy …).EXT`.
    Nextcloud,
}

impl SyncTool {
    /// The tool's name.
    pub fn name(self) -> &'static str {
        match self {
            SyncTool::Syncthing => "Syncthing",
            SyncTool::Dropbox => "Dropbox",
            SyncTool::Nextcloud => "Nextcloud",
        }
    }
}

/// Whether the file name `candidate` is a sync tool's conflict copy of the
/// vault file named `vault` (both plain file names, no directories), and
/// whose.
pub fn conflict_copy_of(vault: &str, candidate: &str) -> Option<SyncTool> {
    let (stem, ext) = match vault.rfind('.') {
        Some(dot) if dot > 0 => (&vault[..dot], &vault[dot..]),
        _ => (vault, ""),
    };
    let middle = candidate.strip_prefix(stem)?.strip_suffix(ext)?;
    if let Some(tail) = middle.strip_prefix(".sync-conflict-") {
        return is_syncthing_tail(tail).then_some(SyncTool::Syncthing);
    }
    let inner = middle.strip_prefix(" (")?.strip_suffix(')')?;
    if inner.starts_with("conflicted copy") {
        Some(SyncTool::Nextcloud)
    } else if inner.contains("conflicted copy") {
        Some(SyncTool::Dropbox)
    } else {
        None
    }
}

/// `YYYYMMDD-HHMMSS-XXXXXXX`: date, time, and a 7-character device id
/// prefix (upper-case letters and digits).
fn is_syncthing_tail(tail: &str) -> bool {
    let parts: Vec<&str> = tail.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    matches!(parts.as_slice(), [date, time, device]
        if digits(date, 8)
            && digits(time, 6)
            && device.len() == 7
            && device.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::body::SealedValue;
    use crate::format::{Kind, Metadata};
    use crate::testing::key;
    use proptest::prelude::*;

    fn entry(created: u64, updated: u64, byte: u8) -> Entry {
        Entry {
            value: SealedValue::new(vec![byte; SealedValue::MIN_LEN + 1]).unwrap(),
            kind: Kind::secret(),
            created_ms: created,
            updated_ms: updated,
            expires_ms: None,
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn newest_change_wins_and_tombstones_win_ties() {
        let mut a = Body::default();
        let mut b = Body::default();
        a.entries.insert(key("x"), entry(1, 5, 1));
        b.entries.insert(key("x"), entry(1, 7, 2));
        a.entries.insert(key("y"), entry(1, 9, 1));
        b.tombstones.insert(key("y"), 8);
        a.entries.insert(key("z"), entry(1, 4, 1));
        b.tombstones.insert(key("z"), 4);
        b.entries.insert(key("w"), entry(2, 2, 3));
        let m = merge(a.clone(), &b, None);
        assert_eq!(m.body.entries[&key("x")].updated_ms, 7);
        assert_eq!(m.body.entries[&key("y")].updated_ms, 9);
        assert!(!m.body.entries.contains_key(&key("z")));
        assert_eq!(m.body.tombstones[&key("z")], 4);
        assert!(m.body.entries.contains_key(&key("w")));
        assert_eq!(
            m.taken,
            vec![
                (key("w"), Taken::Added),
                (key("x"), Taken::Updated),
                (key("z"), Taken::Deleted)
            ]
        );
        assert_eq!(merge(b, &a, None).body, m.body);
    }

    #[test]
    fn conflicts_need_changes_on_both_sides_since_the_base() {
        let mut base = Body::default();
        base.entries.insert(key("a"), entry(1, 1, 0));
        base.entries.insert(key("b"), entry(1, 1, 0));
        let mut ours = base.clone();
        let mut theirs = base.clone();
        ours.entries.insert(key("a"), entry(1, 3, 1));
        theirs.entries.insert(key("a"), entry(1, 2, 2));
        theirs.entries.insert(key("b"), entry(1, 5, 2));
        let m = merge(ours, &theirs, Some(&base));
        assert_eq!(m.conflicts.len(), 1);
        assert_eq!(m.conflicts[0].name, key("a"));
        assert_eq!(m.conflicts[0].winner, Side::Ours);
        assert_eq!(m.body.entries[&key("b")].updated_ms, 5);
    }

    #[test]
    fn recognises_conflict_copies() {
        let v = "vault.cvault";
        let yes = [
            (
                "vault.sync-conflict-20240102-030405-ABCDEF7.cvault",
                SyncTool::Syncthing,
            ),
            (
                "vault (Jane's conflicted copy 2024-01-02).cvault",
                SyncTool::Dropbox,
            ),
            (
                "vault (conflicted copy 2024-01-02 030405).cvault",
                SyncTool::Nextcloud,
            ),
        ];
        for (name, tool) in yes {
            assert_eq!(conflict_copy_of(v, name), Some(tool), "{name}");
        }
        for name in [
            "vault.cvault",
            "vault.cvault.1",
            "vault.cvault.lock",
            "vault.sync-conflict-2024-030405-ABCDEF7.cvault",
            "vault.sync-conflict-20240102-030405-abcdef7.cvault",
            "other (conflicted copy 2024-01-02).cvault",
            "vault (copy).cvault",
            "vault (conflicted copy 2024-01-02).txt",
        ] {
            assert_eq!(conflict_copy_of(v, name), None, "{name}");
        }
        assert_eq!(
            conflict_copy_of("vault", "vault.sync-conflict-20240102-030405-ABCDEF7"),
            Some(SyncTool::Syncthing)
        );
    }

    /// Small name, time and value spaces, so that collisions (equal names,
    /// equal times) are frequent.
    fn arb_body() -> impl Strategy<Value = Body> {
        let record = prop_oneof![
            (0u64..4, 0u64..4, 0u8..3, prop::option::of(0u64..2), 0u8..2).prop_map(
                |(c, d, v, exp, kind)| {
                    let mut e = entry(c, c + d, v);
                    e.expires_ms = exp;
                    if kind == 1 {
                        e.kind = Kind::new("token").unwrap();
                    }
                    Some(e)
                }
            ),
            (0u64..6).prop_map(|_| None),
        ];
        prop::collection::vec(((0u8..6), record, 0u64..6), 0..8).prop_map(|items| {
            let mut body = Body::default();
            for (n, rec, at) in items {
                let name = key(&format!("k{n}"));
                body.entries.remove(&name);
                body.tombstones.remove(&name);
                match rec {
                    Some(e) => {
                        body.entries.insert(name, e);
                    }
                    None => {
                        body.tombstones.insert(name, at);
                    }
                }
            }
            body
        })
    }

    fn m(a: &Body, b: &Body) -> Body {
        merge(a.clone(), b, None).body
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_body(), b in arb_body()) {
            prop_assert_eq!(m(&a, &b), m(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in arb_body(), b in arb_body(), c in arb_body()) {
            prop_assert_eq!(m(&m(&a, &b), &c), m(&a, &m(&b, &c)));
        }

        #[test]
        fn merge_is_idempotent(a in arb_body(), b in arb_body()) {
            prop_assert_eq!(m(&a, &a), a.clone());
            let ab = m(&a, &b);
            prop_assert_eq!(m(&ab, &b), ab.clone());
            prop_assert_eq!(m(&ab, &a), ab);
        }

        #[test]
        fn merge_keeps_the_newest_record_per_name(a in arb_body(), b in arb_body()) {
            let ab = m(&a, &b);
            prop_assert!(ab.entries.keys().all(|k| !ab.tombstones.contains_key(k)));
            for name in a.entries.keys().chain(a.tombstones.keys())
                .chain(b.entries.keys()).chain(b.tombstones.keys())
            {
                let got = Record::of(&ab, name).unwrap();
                for side in [&a, &b] {
                    if let Some(r) = Record::of(side, name) {
                        prop_assert!(cmp_records(&got, &r).is_ge());
                    }
                }
            }
            // The report names exactly the records that came from `b`.
            let taken = merge(a.clone(), &b, None).taken;
            for (name, _) in &taken {
                prop_assert_eq!(Record::of(&ab, name), Record::of(&b, name));
            }
        }

        #[test]
        fn merge_encodes_to_a_body_the_reader_accepts(a in arb_body(), b in arb_body()) {
            let ab = m(&a, &b);
            prop_assert_eq!(Body::decode(&ab.encode()).unwrap(), ab);
        }
    }
}
