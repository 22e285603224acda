//! Property tests of the engine over real files: arbitrary contents
//! round-trip, and no single-byte change of a saved vault opens to
//! different contents.

use std::collections::BTreeMap;

use credvault::{
    KeyName, NewSlot, Passphrase, PassphraseUnlocker, SecretValue, SetOptions, Vault, VaultError,
};
use credvault_test_support::weak_kdf as weak;
use proptest::prelude::*;

fn name_strategy() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9_-]{1,12}(\\.[A-Za-z0-9_-]{1,12}){0,3}")
        .expect("valid regex")
}

fn contents() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    proptest::collection::btree_map(
        name_strategy(),
        proptest::collection::vec(any::<u8>(), 0..300),
        0..20,
    )
}

fn read_all(v: &Vault) -> BTreeMap<String, Vec<u8>> {
    v.list(None)
        .into_iter()
        .map(|k| {
            (
                k.to_string(),
                v.get(k).expect("opens").expect("listed").expose().to_vec(),
            )
        })
        .collect()
}

fn open(path: &std::path::Path) -> Result<Vault, VaultError> {
    Vault::open(
        path,
        &mut PassphraseUnlocker::new(Passphrase::from("prop-pw")),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_contents_round_trip(entries in contents(), deletes in proptest::collection::vec(any::<prop::sample::Index>(), 0..5)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.cvault");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("prop-pw"), weak())).expect("create");
        let mut tx = v.transaction();
        for (k, val) in &entries {
            tx.set(&KeyName::new(k).expect("strategy makes valid names"), &SecretValue::new(val.clone()), SetOptions::default()).expect("set");
        }
        tx.commit().expect("commit");
        let mut expected = entries.clone();
        if !entries.is_empty() {
            let names: Vec<String> = entries.keys().cloned().collect();
            for d in deletes {
                let n = d.get(&names);
                let existed = expected.remove(n).is_some();
                prop_assert_eq!(v.delete(&KeyName::new(n).expect("valid")).expect("delete"), existed);
            }
        }
        let reopened = open(&path).expect("reopen");
        prop_assert_eq!(read_all(&reopened), expected);
    }

    #[test]
    fn one_changed_byte_never_opens_to_different_contents(
        entries in contents(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.cvault");
        let mut v = Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("prop-pw"), weak())).expect("create");
        let mut tx = v.transaction();
        for (k, val) in &entries {
            tx.set(&KeyName::new(k).expect("valid"), &SecretValue::new(val.clone()), SetOptions::default()).expect("set");
        }
        tx.commit().expect("commit");
        let mut bytes = std::fs::read(&path).expect("read");
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        std::fs::write(&path, &bytes).expect("write");
        match open(&path) {
            Ok(opened) => prop_assert_eq!(read_all(&opened), entries, "byte {} opened to different contents", i),
            Err(e) => prop_assert!(matches!(e, VaultError::Format(_) | VaultError::Unlock(_) | VaultError::Tampered), "byte {}: unexpected {:?}", i, e),
        }
    }
}
