//! Files built to exhaust a reader: each gets its exact error class from
//! `open_bytes`, without the reader allocating what the file claims or
//! running a KDF it asks for. (The CLI runs the same kind of files under
//! an address-space cap in `tests/cli/hostile.rs`; the fuzz targets in
//! `fuzz/` search for more.)

use std::time::{Duration, Instant};

use credvault::format::limits;
use credvault::{
    open_bytes, FormatError, KdfLimits, OpenOptions, Passphrase, PassphraseUnlocker, UnlockError,
    VaultError,
};
use credvault_test_support::{framed, weak_kdf};

/// 64 KiB of header made of `unit` repeated, closed by `end`.
fn bomb(unit: &[u8], end: &[u8]) -> Vec<u8> {
    let mut h: Vec<u8> = unit
        .iter()
        .copied()
        .cycle()
        .take(limits::MAX_HEADER_LEN as usize - end.len())
        .collect();
    h.extend_from_slice(end);
    framed(h.len() as u32, &h)
}

fn open(bytes: &[u8]) -> VaultError {
    let mut unlocker = PassphraseUnlocker::new(Passphrase::from("pw"));
    let start = Instant::now();
    let err = open_bytes(bytes, &mut unlocker, &OpenOptions::default())
        .expect_err("a hostile file must not open");
    // Generous: a hostile file is rejected in milliseconds; this only
    // catches a reader that starts doing what the file asks.
    assert!(start.elapsed() < Duration::from_secs(10), "{err}");
    err
}

#[track_caller]
fn format_error(bytes: &[u8]) -> FormatError {
    match open(bytes) {
        VaultError::Format(f) => f,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn huge_length_claims_are_refused_before_allocation() {
    assert!(matches!(
        format_error(&framed(u32::MAX, &[0xa0; 64])),
        FormatError::TooLarge {
            what: "header length",
            ..
        }
    ));
    assert_eq!(
        format_error(&framed(65_536, &[0xa5; 86])),
        FormatError::Truncated("header")
    );
    let claims: [&[u8]; 6] = [
        &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // bytes, 2^64-1
        &[0x7b, 0, 0, 0, 1, 0, 0, 0, 0],                         // text, 2^32
        &[0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0],                      // array, 2^60
        &[0xbb, 0x10, 0, 0, 0, 0, 0, 0, 0],                      // map, 2^60
        &[0xa5, 0x05, 0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0],          // slots: 2^60
        &[0xa5, 0x01, 0x5a, 0xff, 0xff, 0xff, 0xff],             // vault id: 4 GiB
    ];
    for cbor in claims {
        assert_eq!(
            format_error(&framed(cbor.len() as u32, cbor)),
            FormatError::Malformed("header"),
            "{cbor:02x?}"
        );
    }
}

#[test]
fn nesting_bombs_are_malformed() {
    for (unit, end) in [
        (&[0x81u8][..], &[0x00u8][..]), // [[[[...0]]]]
        (&[0xa1, 0x01], &[0x00, 0x00]), // {1: {1: ...}}
        (&[0x9f], &[0xff]),             // indefinite arrays
        (&[0xc6], &[0x00]),             // tags
    ] {
        assert_eq!(
            format_error(&bomb(unit, end)),
            FormatError::Malformed("header"),
            "{unit:02x?}"
        );
    }
}

#[test]
fn a_file_above_the_size_limit_is_too_large() {
    let mut big = framed(1, &[0xa0]);
    big.resize(limits::MAX_FILE_LEN as usize + 1, 0);
    assert!(matches!(
        format_error(&big),
        FormatError::TooLarge {
            what: "file size",
            ..
        }
    ));
}

#[test]
fn kdf_parameters_at_the_format_maximum_run_no_kdf() {
    // The vector with m = 4 GiB, t = 64, p = 64: refused by the default
    // limits before Argon2id would allocate 4 GiB.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/vectors/kdf_limit_all.testkit"
    );
    let bytes = std::fs::read(path).expect("vector");
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("testkit");
    match open(&bytes[split + 2..]) {
        VaultError::Unlock(UnlockError::ExcessiveWork(e)) => {
            assert_eq!(
                (e.asked_memory_mib, e.asked_iterations, e.asked_parallelism),
                (4096, 64, 64)
            );
            let limits = KdfLimits::default();
            assert_eq!(e.max_memory_mib, limits.max_memory_kib / 1024);
        }
        other => panic!("expected ExcessiveWork, got {other:?}"),
    }
}

/// Issue 13: the KDF limit is per slot, so a file with many passphrase
/// slots once cost one Argon2id run per slot per attempt. One open now runs
/// at most `MAX_RUNS_PER_OPEN` of them, for at most the work of one slot at
/// the limits (FORMAT.md §6.3).
#[test]
fn one_open_runs_a_bounded_number_of_kdfs() {
    use credvault::{NewSlot, Vault};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.cvault");
    let weak = weak_kdf();
    let mut vault =
        Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("p0"), weak)).unwrap();
    for i in 1..6 {
        let pw = Passphrase::from(format!("p{i}").as_str());
        vault.add_slot(NewSlot::Passphrase(&pw, weak)).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let try_open = |pw: &str, options: &OpenOptions| {
        let mut unlocker = PassphraseUnlocker::new(Passphrase::from(pw));
        open_bytes(&bytes, &mut unlocker, options)
    };
    // The first four slots are tried; the fifth and sixth are not.
    assert_eq!(credvault::crypto::kdf::MAX_RUNS_PER_OPEN, 4);
    let defaults = OpenOptions::default();
    assert!(try_open("p3", &defaults).is_ok());
    match try_open("p5", &defaults) {
        Err(VaultError::Unlock(UnlockError::WorkBudget { skipped: 2 })) => {}
        other => panic!("expected the work budget, got {other:?}"),
    }
    // The total: limits allowing two 8 MiB passes try two slots only.
    let tight = OpenOptions {
        kdf_limits: KdfLimits {
            max_memory_kib: 8192,
            max_iterations: 2,
            max_parallelism: 1,
        },
        ..OpenOptions::default()
    };
    assert!(try_open("p1", &tight).is_ok());
    match try_open("p2", &tight) {
        Err(VaultError::Unlock(UnlockError::WorkBudget { skipped: 4 })) => {}
        other => panic!("expected the work budget, got {other:?}"),
    }
}

/// Records every keychain lookup a reader asks for.
#[derive(Default)]
struct Lookups(Vec<String>);

impl credvault::Unlocker for Lookups {
    fn keychain_key(
        &mut self,
        service: &str,
        account: &str,
    ) -> Result<credvault::SecretKey, String> {
        self.0.push(format!("{service}:{account}"));
        Err("not found".to_owned())
    }
}

/// Issue 13: a keychain slot may only look up the item named for this
/// file's own vault id and the slot's id (FORMAT.md §4.3 MUST), so a
/// crafted file cannot make a reader fetch another vault's item.
#[test]
fn keychain_lookups_are_bound_to_the_files_vault_id() {
    use credvault::{keychain_account, NewSlot, SecretKey, Vault, KEYCHAIN_SERVICE};
    let dir = tempfile::tempdir().unwrap();
    let weak = weak_kdf();
    let other = Vault::create(
        &dir.path().join("other.cvault"),
        NewSlot::Passphrase(&Passphrase::from("pw"), weak),
    )
    .unwrap();
    let foreign = keychain_account(&other.header().vault_id, 2);
    let path = dir.path().join("crafted.cvault");
    let mut v = Vault::create(&path, NewSlot::Passphrase(&Passphrase::from("pw"), weak)).unwrap();
    let own = keychain_account(&v.header().vault_id, 3);
    let kek = SecretKey::random();
    v.add_slot(NewSlot::Keychain {
        service: KEYCHAIN_SERVICE,
        account: &foreign,
        kek: &kek,
    })
    .unwrap();
    v.add_slot(NewSlot::Keychain {
        service: KEYCHAIN_SERVICE,
        account: &own,
        kek: &kek,
    })
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut lookups = Lookups::default();
    let err = open_bytes(&bytes, &mut lookups, &OpenOptions::default()).unwrap_err();
    assert_eq!(lookups.0, vec![format!("{KEYCHAIN_SERVICE}:{own}")]);
    assert!(matches!(err, VaultError::Unlock(_)), "{err}");
}
