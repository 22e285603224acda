//! `fuzz_merge`: three bodies built from the input (`arbitrary`), merged
//! by `credvault::merge` (FORMAT.md §11). Names, times and values come
//! from small ranges, so equal names, equal times and ties between a
//! tombstone and an entry are frequent.
//!
//! Oracle: the merge is commutative, associative and idempotent on the
//! bodies; each name keeps the greatest of its records (§11.2) and only
//! names of the inputs; the report names exactly the records taken from
//! the other body; a conflict needs a change on both sides since the base;
//! the merged body encodes to bytes both body readers accept and give
//! back.

use arbitrary::{Arbitrary, Result, Unstructured};
use credvault::format::{Body, Entry, KeyName, Kind, Metadata, SealedValue};
use credvault::merge::{cmp_records, merge as lww, Record};
use std::collections::BTreeMap;

const NAMES: [&str; 6] = ["a", "b", "c", "a.b", "pg.password", "x-1"];
const KINDS: [&str; 3] = ["secret", "token", "api-key"];

fn time(u: &mut Unstructured<'_>) -> Result<u64> {
    // Mostly small times (collisions), sometimes the extremes.
    Ok(match u.int_in_range(0u8..=9)? {
        0 => u64::MAX,
        1 => u64::arbitrary(u)?,
        _ => u64::from(u.int_in_range(0u8..=5)?),
    })
}

fn entry(u: &mut Unstructured<'_>) -> Result<Entry> {
    let created = time(u)?;
    let updated = created.saturating_add(u64::from(u.int_in_range(0u8..=3)?));
    let len = SealedValue::MIN_LEN + usize::from(u.int_in_range(0u8..=3)?);
    let fill = u.int_in_range(0u8..=2)?;
    let mut metadata = BTreeMap::new();
    if bool::arbitrary(u)? {
        metadata.insert("note".to_owned(), u.int_in_range(0u8..=2)?.to_string());
    }
    let kind = KINDS[usize::from(u.int_in_range(0u8..=2)?)];
    Ok(Entry {
        value: SealedValue::new(vec![fill; len]).map_err(|_| arbitrary::Error::IncorrectFormat)?,
        kind: Kind::new(kind).map_err(|_| arbitrary::Error::IncorrectFormat)?,
        created_ms: created,
        updated_ms: updated,
        expires_ms: if bool::arbitrary(u)? {
            Some(time(u)?)
        } else {
            None
        },
        metadata: Metadata::new(metadata).map_err(|_| arbitrary::Error::IncorrectFormat)?,
    })
}

fn body(u: &mut Unstructured<'_>) -> Result<Body> {
    let mut out = Body::default();
    for _ in 0..u.int_in_range(0u8..=8)? {
        let name = KeyName::new(NAMES[usize::from(u.int_in_range(0u8..=5)?)])
            .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        out.entries.remove(&name);
        out.tombstones.remove(&name);
        if bool::arbitrary(u)? {
            out.tombstones.insert(name, time(u)?);
        } else {
            out.entries.insert(name, entry(u)?);
        }
    }
    Ok(out)
}

fn m(a: &Body, b: &Body) -> Body {
    lww(a.clone(), b, None).body
}

/// The `fuzz_merge` target.
pub fn merge(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(a), Ok(b), Ok(c)) = (body(&mut u), body(&mut u), body(&mut u)) else {
        return;
    };
    let ab = m(&a, &b);
    assert_eq!(ab, m(&b, &a), "commutative");
    assert_eq!(m(&ab, &c), m(&a, &m(&b, &c)), "associative");
    assert_eq!(m(&a, &a), a, "idempotent");
    assert_eq!(m(&ab, &b), ab, "absorbs what it merged");

    for name in ab.entries.keys() {
        assert!(!ab.tombstones.contains_key(name), "a name live and deleted");
    }
    let mut names: Vec<&KeyName> = ab.entries.keys().chain(ab.tombstones.keys()).collect();
    names.sort();
    let mut inputs: Vec<&KeyName> = a
        .entries
        .keys()
        .chain(a.tombstones.keys())
        .chain(b.entries.keys())
        .chain(b.tombstones.keys())
        .collect();
    inputs.sort();
    inputs.dedup();
    assert_eq!(names, inputs, "exactly the names of the inputs");
    for name in names {
        let got = Record::of(&ab, name).expect("listed above");
        let from: Vec<Record<'_>> = [&a, &b]
            .iter()
            .filter_map(|s| Record::of(s, name))
            .collect();
        assert!(from.contains(&got), "a record of one of the inputs");
        assert!(
            from.iter().all(|r| cmp_records(&got, r).is_ge()),
            "the greatest record"
        );
    }

    // With `c` as the base: the body is the same, the report is consistent.
    let three = lww(a.clone(), &b, Some(&c));
    assert_eq!(three.body, ab, "a base changes only the report");
    for (name, _) in &three.taken {
        assert_eq!(
            Record::of(&ab, name),
            Record::of(&b, name),
            "taken from theirs"
        );
        assert_ne!(Record::of(&a, name), Record::of(&b, name));
    }
    let stamp =
        |body: &Body, name: &KeyName| Record::of(body, name).map(|r| (r.time(), r.is_deleted()));
    for conflict in &three.conflicts {
        let (o, t, base) = (
            stamp(&a, &conflict.name),
            stamp(&b, &conflict.name),
            stamp(&c, &conflict.name),
        );
        assert!(
            o != base && t != base && o != t,
            "a conflict is a change on both sides"
        );
        assert_eq!((o, t), (conflict.ours, conflict.theirs));
    }

    let bytes = ab.encode();
    assert_eq!(
        Body::decode(&bytes).as_ref(),
        Ok(&ab),
        "the merge encodes to a valid body"
    );
    assert_eq!(Body::decode_reference(&bytes), Ok(ab));
}
