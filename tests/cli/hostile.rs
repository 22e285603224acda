//! Hostile files through the CLI, under hard resource limits: random
//! bytes, truncations, huge length claims, nesting bombs, flipped bits,
//! KDF parameters at the format's maximum, a file above the size limit,
//! and every spec vector. Each run gets the right exit code (3 cannot
//! unlock, 4 unreadable vault) while `prlimit` caps it at 256 MiB of
//! address space and 20 s of CPU: a reader that tried to allocate what a
//! file claims, or spun, would die of the limit instead. Time and peak
//! memory are measured with `/usr/bin/time` when it exists, and printed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use credvault_test_support::framed;

use crate::common::{Run, Sandbox, PASS};

/// Address-space cap of each run: far below what any length claim in
/// these files would need, well above what the CLI uses (Argon2id
/// 8 MiB in these vaults).
const MAX_ADDRESS_SPACE: u64 = 256 << 20;
/// CPU-seconds cap of each run.
const MAX_CPU_SECONDS: u64 = 20;
/// A run still going after this long is a hang.
const WALL_LIMIT: Duration = Duration::from_secs(60);

const MAGIC: [u8; 8] = [0x89, b'C', b'V', b'L', b'T', 0x0d, 0x0a, 0x1a];
const MAX_FILE_LEN: u64 = 67_174_430;

/// Exit codes of a run and the resources it used.
struct Measured {
    run: Run,
    max_rss_kib: Option<u64>,
    wall: Duration,
}

/// `credvault ARGS` under prlimit (and /usr/bin/time if present), with
/// the sandbox's environment; `passphrase` replaces CREDVAULT_PASSPHRASE.
fn run_limited(s: &Sandbox, args: &[&str], passphrase: Option<&str>) -> Measured {
    let inner = s.command(args);
    let time_out = s.root().join("time.out");
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&time_out)
            .arg("prlimit");
        c
    } else {
        Command::new("prlimit")
    };
    cmd.arg(format!("--as={MAX_ADDRESS_SPACE}"))
        .arg(format!("--cpu={MAX_CPU_SECONDS}"))
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear();
    for (k, v) in inner.get_envs() {
        if let (Some(v), false) = (v, k == "CREDVAULT_PASSPHRASE") {
            cmd.env(k, v);
        }
    }
    if let Some(p) = passphrase {
        cmd.env("CREDVAULT_PASSPHRASE", p);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn prlimit credvault");
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > WALL_LIMIT {
            let _ = child.kill();
            panic!("credvault {args:?} hung for {WALL_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = start.elapsed();
    let output = child.wait_with_output().expect("collect output");
    let mut stderr = String::from_utf8(output.stderr).expect("stderr is UTF-8");
    let mut max_rss_kib = None;
    if timed {
        // /usr/bin/time writes "Command exited with non-zero status N"
        // before the figure; the figure is the last line.
        let report = std::fs::read_to_string(&time_out).unwrap_or_default();
        max_rss_kib = report.lines().last().and_then(|l| l.trim().parse().ok());
        // Some versions also echo the status line to stderr.
        stderr = stderr
            .lines()
            .filter(|l| !l.starts_with("Command exited with non-zero status"))
            .map(|l| format!("{l}\n"))
            .collect();
    }
    let code = output.status.code().unwrap_or_else(|| {
        panic!("credvault {args:?} died of a signal ({stderr}): a resource limit?")
    });
    Measured {
        run: Run {
            code,
            stdout: output.stdout,
            stderr,
        },
        max_rss_kib,
        wall,
    }
}

/// xorshift64*, seeded: the same "random" files every run.
struct Rng(u64);

impl Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }
}

/// The bytes of a testkit vector (after its header's blank line).
fn vector(name: &str) -> (String, Option<String>, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/vectors")
        .join(format!("{name}.testkit"));
    let bytes = std::fs::read(&path).expect("read vector");
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("testkit header");
    let header = String::from_utf8(bytes[..split].to_vec()).expect("UTF-8 header");
    let field = |k: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(k).map(str::to_owned))
    };
    (
        field("expect: ").expect("expect line"),
        field("passphrase: "),
        bytes[split + 2..].to_vec(),
    )
}

/// Hostile files and the exit codes allowed for each.
fn cases(good: &[u8]) -> Vec<(String, Vec<u8>, &'static [i32])> {
    const UNREADABLE: &[i32] = &[4];
    const UNLOCK_OR_UNREADABLE: &[i32] = &[3, 4];
    let mut rng = Rng(0x5eed_0fc0_ffee);
    let mut out: Vec<(String, Vec<u8>, &'static [i32])> = Vec::new();
    out.push(("empty".into(), Vec::new(), UNREADABLE));
    for n in [1, 7, 13, 14, 100, 4096, 1 << 20] {
        out.push((format!("{n} random bytes"), rng.bytes(n), UNREADABLE));
    }
    for n in [0, 5, 6, 64, 4096] {
        let mut f = MAGIC.to_vec();
        f.extend(rng.bytes(n));
        out.push((format!("magic + {n} random bytes"), f, UNREADABLE));
    }
    for n in [1usize, 64, 4096, 65_536] {
        let body = rng.bytes(n + 100);
        out.push((
            format!("v1.0 prefix + {n} bytes of random header"),
            framed(n as u32, &body),
            UNREADABLE,
        ));
    }
    out.push((
        "header length 0xFFFFFFFF".into(),
        framed(u32::MAX, &[0xa0; 64]),
        UNREADABLE,
    ));
    out.push((
        "header length 65536, file 100 bytes".into(),
        framed(65_536, &[0xa5; 86]),
        UNREADABLE,
    ));
    let claims: [(&str, &[u8]); 6] = [
        (
            "byte string of 2^64-1 bytes",
            &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        ("text of 2^32 bytes", &[0x7b, 0, 0, 0, 1, 0, 0, 0, 0]),
        ("array of 2^60 items", &[0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0]),
        ("map of 2^60 pairs", &[0xbb, 0x10, 0, 0, 0, 0, 0, 0, 0]),
        (
            "header map whose slots claim 2^60 items",
            &[0xa5, 0x05, 0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "vault id of 2^32 bytes",
            &[0xa5, 0x01, 0x5a, 0xff, 0xff, 0xff, 0xff],
        ),
    ];
    for (what, cbor) in claims {
        out.push((what.into(), framed(cbor.len() as u32, cbor), UNREADABLE));
    }
    let bomb = |unit: &[u8], end: &[u8]| {
        let mut h: Vec<u8> = unit
            .iter()
            .copied()
            .cycle()
            .take(65_536 - end.len())
            .collect();
        h.extend_from_slice(end);
        framed(h.len() as u32, &h)
    };
    out.push((
        "64 KiB of nested arrays".into(),
        bomb(&[0x81], &[0x00]),
        UNREADABLE,
    ));
    out.push((
        "64 KiB of nested maps".into(),
        bomb(&[0xa1, 0x01], &[0x00, 0x00]),
        UNREADABLE,
    ));
    out.push((
        "64 KiB of indefinite arrays".into(),
        bomb(&[0x9f], &[0xff]),
        UNREADABLE,
    ));
    out.push((
        "64 KiB of nested tags".into(),
        bomb(&[0xc6], &[0x00]),
        UNREADABLE,
    ));
    for name in ["kdf_limit_all", "kdf_limit_memory_4gib"] {
        let (_, _, file) = vector(name);
        out.push((
            format!("Argon2id at the format's maximum ({name})"),
            file,
            &[3],
        ));
    }
    let mut huge_body = good.to_vec();
    let h = u32::from_be_bytes(good[10..14].try_into().expect("4 bytes")) as usize;
    huge_body.truncate(14 + h);
    out.push(("header only, body missing".into(), huge_body, UNREADABLE));
    let header_end = 14 + h;
    for cut in [
        5,
        13,
        14,
        20,
        14 + h / 2,
        header_end - 1,
        header_end,
        good.len() - 17,
        good.len() - 1,
    ] {
        out.push((
            format!("truncated to {cut} bytes"),
            good[..cut].to_vec(),
            UNREADABLE,
        ));
    }
    let step = (good.len() / 40).max(1);
    for at in (0..good.len()).step_by(step) {
        let mut bad = good.to_vec();
        bad[at] ^= 0x10;
        out.push((
            format!("bit 4 of byte {at} flipped"),
            bad,
            UNLOCK_OR_UNREADABLE,
        ));
    }
    let mut long = good.to_vec();
    long.extend_from_slice(&good[good.len() - 64..]);
    out.push(("64 bytes appended".into(), long, UNREADABLE));
    out
}

#[test]
fn hostile_files_fail_with_the_right_code_within_limits() {
    let s = Sandbox::new();
    s.init();
    s.set("postgresql.password", b"pg");
    s.set("github.token", b"gh");
    let good = s.vault_bytes();
    // Control: the limits leave room for a normal run.
    let control = run_limited(&s, &["--no-keychain", "ls"], Some(PASS));
    assert_eq!(control.run.code, 0, "{:?}", control.run);

    let mut worst_rss = (0, String::new());
    let mut worst_wall = (Duration::ZERO, String::new());
    let all = cases(&good);
    for (what, bytes, allowed) in &all {
        std::fs::write(&s.vault, bytes).expect("write hostile file");
        let m = run_limited(&s, &["--no-keychain", "ls"], Some(PASS));
        assert!(
            allowed.contains(&m.run.code),
            "{what}: exit {} (allowed {allowed:?}): {}",
            m.run.code,
            m.run.stderr
        );
        m.run.fails(m.run.code);
        if let Some(rss) = m.max_rss_kib.filter(|r| *r > worst_rss.0) {
            worst_rss = (rss, what.clone());
        }
        if m.wall > worst_wall.0 {
            worst_wall = (m.wall, what.clone());
        }
    }

    // Above MAX_FILE_LEN: refused from its size, never read (sparse file).
    let f = std::fs::File::create(&s.vault).expect("create");
    f.set_len(MAX_FILE_LEN + 1).expect("sparse file");
    drop(f);
    let m = run_limited(&s, &["--no-keychain", "ls"], Some(PASS));
    assert!(m.run.fails(4).contains("file size"), "{:?}", m.run);
    if let Some(rss) = m.max_rss_kib.filter(|r| *r > worst_rss.0) {
        worst_rss = (rss, "a 64 MiB + 1 byte file".into());
    }

    println!(
        "hostile files: {} cases + 1 oversized file, all exit 3/4 under a {} MiB address-space cap; \
         control run {} KiB; peak RSS {} KiB ({}); slowest {} ms ({})",
        all.len(),
        MAX_ADDRESS_SPACE >> 20,
        control.max_rss_kib.unwrap_or(0),
        worst_rss.0,
        worst_rss.1,
        worst_wall.0.as_millis(),
        worst_wall.1
    );
}

/// Exit code of each outcome class of FORMAT.md §8 (DESIGN.md §3).
fn exit_of(class: &str) -> i32 {
    match class {
        "success" => 0,
        "kdf-limit" | "no-credentials" | "unlock-failed" | "no-usable-slot" => 3,
        _ => 4,
    }
}

#[test]
fn every_spec_vector_gets_its_exit_code_within_limits() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.vault.parent().expect("dir")).expect("mkdir");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("spec/vectors")
        .filter_map(|e| {
            let p = e.expect("entry").path();
            (p.extension()? == "testkit").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    let mut checked = 0;
    for name in &names {
        let (expect, passphrase, file) = vector(name);
        let raw = std::fs::read(dir.join(format!("{name}.testkit"))).expect("read");
        let header = String::from_utf8_lossy(&raw);
        if header.contains("\nrecovery: ") || header.contains("\nrecovery-code: ") {
            continue; // recovery keys and codes come from other options
        }
        if header.contains("\npassphrase: \n") {
            continue; // the CLI reads an empty CREDVAULT_PASSPHRASE as unset
        }
        std::fs::write(&s.vault, &file).expect("write vector");
        let m = run_limited(&s, &["--no-keychain", "ls"], passphrase.as_deref());
        let mut code = m.run.code;
        if expect == "tampered" && code == 0 {
            // The body opens; a sealed value fails when read.
            let names: Vec<String> = m.run.text().lines().map(str::to_owned).collect();
            code = names
                .iter()
                .map(|k| run_limited(&s, &["--no-keychain", "get", k], passphrase.as_deref()))
                .map(|m| m.run.code)
                .max()
                .unwrap_or(0);
        }
        assert_eq!(
            code,
            exit_of(&expect),
            "{name} ({expect}): {}",
            m.run.stderr
        );
        checked += 1;
    }
    assert!(checked > 140, "only {checked} vectors checked");
    println!(
        "spec vectors through the CLI: {checked} of {} (the rest need a recovery key or code, or the empty passphrase)",
        names.len()
    );
}
