//! kill -9 torture: real `credvault set` processes SIGKILLed at random
//! moments, alone and while other writers keep going. Afterwards the vault
//! always opens, every acknowledged write (exit 0 seen by the parent) is
//! there with its value, and an interrupted write is either absent or
//! whole; the audit log verifies, the next save leaves no temp file, and
//! kills did happen (counted, asserted non-zero).
//!
//! `CREDVAULT_TORTURE_ROUNDS` sets the rounds (default 200: CI), and
//! `CREDVAULT_TORTURE_SEED` replays a run (the seed is printed).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use credvault::{Passphrase, PassphraseUnlocker, Vault};

use crate::common::{Sandbox, PASS};

/// Rounds of the sequential torture when the environment does not say.
const DEFAULT_ROUNDS: usize = 200;
/// Writers of the concurrent torture.
const WRITERS: usize = 4;
/// The vault is checked every this many rounds, and at the end.
const CHECK_EVERY: usize = 25;

fn rounds() -> usize {
    std::env::var("CREDVAULT_TORTURE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS)
}

fn seed(test: &str) -> u64 {
    let seed = std::env::var("CREDVAULT_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("{test}: CREDVAULT_TORTURE_SEED={seed}");
    seed
}

/// xorshift64*: small, seeded, good enough to pick sleeps.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Starts `credvault set KEY` and writes `value` to its stdin.
fn start_set(s: &Sandbox, key: &str, value: &str) -> Child {
    let mut cmd = s.command(&["--no-keychain", "set", key]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn credvault set");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // The value fits in a pipe buffer; a child killed first gives EPIPE.
    let _ = stdin.write_all(value.as_bytes());
    child
}

/// What happened to one `set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Exited 0: acknowledged, must be in the vault.
    Acked,
    /// Killed before it exited: may or may not be in the vault.
    Killed,
}

/// Waits `after`, then SIGKILLs the child unless it has exited. The exit
/// status, not the timing, decides: a child that exited 0 just before the
/// kill is acknowledged.
fn kill_after(mut child: Child, after: Duration) -> Fate {
    std::thread::sleep(after);
    if child.try_wait().expect("try_wait").is_none() {
        let _ = child.kill();
    }
    let stderr = child.stderr.take();
    let status = child.wait().expect("wait");
    fate(status, stderr)
}

/// Watches the vault's directory for this child's temp file
/// (`.test.cvault.tmp.<pid>.*`, FORMAT.md §7), then SIGKILLs it `after`
/// that: inside the save itself (write, fsync, rename, directory fsync).
/// Returns the fate and whether the temp file was seen.
fn kill_in_save(mut child: Child, dir: &Path, after: Duration) -> (Fate, bool) {
    let ours = format!(".test.cvault.tmp.{}.", child.id());
    let mut seen = false;
    while child.try_wait().expect("try_wait").is_none() {
        seen = std::fs::read_dir(dir)
            .expect("read dir")
            .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(&ours)));
        if seen {
            std::thread::sleep(after);
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_micros(20));
    }
    let stderr = child.stderr.take();
    let status = child.wait().expect("wait");
    (fate(status, stderr), seen)
}

fn fate(status: ExitStatus, stderr: Option<std::process::ChildStderr>) -> Fate {
    match status.code() {
        Some(0) => Fate::Acked,
        None => Fate::Killed,
        Some(code) => {
            let mut text = String::new();
            if let Some(mut e) = stderr {
                let _ = std::io::Read::read_to_string(&mut e, &mut text);
            }
            panic!("a set that was not killed failed with exit {code}: {text}");
        }
    }
}

/// Opens the vault with the library and checks every write: acknowledged
/// ones present with their value, killed ones absent or with their value,
/// nothing else. Returns how many killed writes landed anyway.
fn check(path: &Path, writes: &BTreeMap<String, (String, Fate)>) -> usize {
    let v = Vault::open(path, &mut PassphraseUnlocker::new(Passphrase::from(PASS)))
        .expect("the vault opens after kill -9");
    let mut landed = 0;
    for name in v.list(None) {
        assert!(
            writes.contains_key(name.as_str()),
            "unexpected entry {name}"
        );
    }
    for (key, (value, fate)) in writes {
        let name = credvault::KeyName::new(key).expect("valid name");
        match (v.get(&name).expect("value opens"), fate) {
            (Some(got), _) => {
                assert_eq!(got.expose(), value.as_bytes(), "{key} has a wrong value");
                if *fate == Fate::Killed {
                    landed += 1;
                }
            }
            (None, Fate::Acked) => panic!("acknowledged write {key} was lost"),
            (None, Fate::Killed) => {}
        }
    }
    landed
}

/// Temp files (`.test.cvault.tmp.*`) in the vault's directory.
fn temps(path: &Path) -> usize {
    let dir = path.parent().expect("vault dir");
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter(|e| {
            e.as_ref().is_ok_and(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".test.cvault.tmp.")
            })
        })
        .count()
}

/// After the torture: the audit log verifies (a line torn by a kill is
/// recovered as a crash, never reported as tampering), and the next save
/// leaves no temp file behind (it removes the ones killed saves left).
fn after_torture(s: &Sandbox, writes: &mut BTreeMap<String, (String, Fate)>) {
    let verify = s.run(&["--no-keychain", "--json", "audit", "verify"]);
    assert_eq!(verify.code, 0, "audit verify after kill -9: {verify:?}");
    assert_eq!(verify.json()["intact"], true, "{verify:?}");
    s.set("after.torture", b"done");
    assert_eq!(temps(&s.vault), 0, "temp files left after the next save");
    writes.insert("after.torture".to_owned(), ("done".to_owned(), Fate::Acked));
    check(&s.vault, writes);
    s.run(&["--no-keychain", "audit", "verify"]).ok();
}

/// The typical duration of an uninterrupted `set` here, so that kills
/// land all over a process's life: start-up, KDF, lock, write, rename.
fn calibrate(s: &Sandbox) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|i| {
            let start = Instant::now();
            let child = start_set(s, &format!("calibrate{i}"), "x");
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "calibration set failed");
            start.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_write() {
    let s = Sandbox::new();
    s.init();
    let typical = calibrate(&s);
    let mut rng = Rng::new(seed("kill_9_sequential"));
    let rounds = rounds();
    let dir = s.vault.parent().expect("vault dir").to_owned();
    // Uniform kill moments in [0, window]; the window adapts so that about
    // half of these rounds are killed, i.e. it spans a set's whole life.
    let mut window = typical.as_micros() as u64 * 2;
    let mut writes: BTreeMap<String, (String, Fate)> = (0..5)
        .map(|i| (format!("calibrate{i}"), ("x".to_owned(), Fate::Acked)))
        .collect();
    let (mut killed_any_time, mut killed_in_save) = (0, 0);
    let start = Instant::now();
    let mut landed = 0;
    for round in 0..rounds {
        let key = format!("k{round}");
        let value = format!("v{round}-{:x}", rng.next());
        let child = start_set(&s, &key, &value);
        // Even rounds: any moment of the process's life. Odd rounds: the
        // save itself, 0-2 ms after its temp file appears.
        let fate = if round % 2 == 0 {
            let fate = kill_after(child, Duration::from_micros(rng.below(window)));
            if fate == Fate::Killed {
                killed_any_time += 1;
                window = window * 21 / 20;
            } else {
                window = (window * 19 / 20).max(1000);
            }
            fate
        } else {
            let (fate, _) = kill_in_save(child, &dir, Duration::from_micros(rng.below(2000)));
            if fate == Fate::Killed {
                killed_in_save += 1;
            }
            fate
        };
        writes.insert(key, (value, fate));
        if (round + 1) % CHECK_EVERY == 0 || round + 1 == rounds {
            landed = check(&s.vault, &writes);
        }
    }
    let killed = killed_any_time + killed_in_save;
    println!(
        "kill_9_sequential: {rounds} rounds in {:.1} s (a set takes ~{} ms here): \
         {} acknowledged, {killed} killed ({killed_any_time} at any moment, {killed_in_save} \
         inside the save after its temp file appeared; {landed} landed whole, {} left no trace), \
         0 lost, vault opened every {CHECK_EVERY} rounds",
        start.elapsed().as_secs_f64(),
        typical.as_millis(),
        writes.len() - killed,
        killed - landed
    );
    assert!(
        killed_any_time > 0,
        "no round was killed at a random moment"
    );
    assert!(killed_in_save > 0, "no round was killed inside a save");

    after_torture(&s, &mut writes);
}

#[test]
fn kill_9_among_concurrent_writers_loses_no_acknowledged_write() {
    let s = Sandbox::new();
    s.init();
    let typical = calibrate(&s);
    let seed = seed("kill_9_concurrent");
    let per_writer = rounds().div_ceil(WRITERS);
    // Lock waits stretch a set's life: widen the window accordingly.
    let window = typical.as_micros() as u64 * WRITERS as u64;
    let start = Instant::now();
    let results: Vec<BTreeMap<String, (String, Fate)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let s = &s;
                scope.spawn(move || {
                    let mut rng = Rng::new(seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9));
                    let mut writes = BTreeMap::new();
                    for round in 0..per_writer {
                        let key = format!("w{w}.k{round}");
                        let value = format!("w{w}-v{round}-{:x}", rng.next());
                        let child = start_set(s, &key, &value);
                        // Half of the writers' sets run to the end; the
                        // others are killed at a random moment.
                        let fate = if rng.below(2) == 0 {
                            let out = child.wait_with_output().expect("wait");
                            assert!(
                                out.status.success(),
                                "an uninterrupted set failed: {}",
                                String::from_utf8_lossy(&out.stderr)
                            );
                            Fate::Acked
                        } else {
                            kill_after(child, Duration::from_micros(rng.below(window)))
                        };
                        writes.insert(key, (value, fate));
                    }
                    writes
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    let mut writes: BTreeMap<String, (String, Fate)> = (0..5)
        .map(|i| (format!("calibrate{i}"), ("x".to_owned(), Fate::Acked)))
        .collect();
    for w in results {
        writes.extend(w);
    }
    let landed = check(&s.vault, &writes);
    let killed = writes.values().filter(|(_, f)| *f == Fate::Killed).count();
    println!(
        "kill_9_concurrent: {WRITERS} writers x {per_writer} sets in {:.1} s: \
         {} acknowledged, {killed} killed ({landed} landed whole), 0 lost",
        start.elapsed().as_secs_f64(),
        writes.len() - killed,
    );
    assert!(killed > 0, "no set was killed: the torture tested nothing");
    assert!(
        writes.len() - killed > 5,
        "no set of the writers was acknowledged"
    );
    after_torture(&s, &mut writes);
}

/// N processes x M sets of distinct keys, all at once: all N x M land.
#[test]
fn writers_of_distinct_keys_lose_nothing() {
    const N: usize = 6;
    const M: usize = 5;
    let s = Sandbox::new();
    s.init();
    std::thread::scope(|scope| {
        for p in 0..N {
            let s = &s;
            scope.spawn(move || {
                for k in 0..M {
                    let child = start_set(s, &format!("p{p}.k{k}"), &format!("v{p}-{k}"));
                    let out = child.wait_with_output().expect("wait");
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    let writes: BTreeMap<String, (String, Fate)> = (0..N)
        .flat_map(|p| (0..M).map(move |k| (p, k)))
        .map(|(p, k)| (format!("p{p}.k{k}"), (format!("v{p}-{k}"), Fate::Acked)))
        .collect();
    check(&s.vault, &writes);
    let status = s.run(&["--no-keychain", "status", "--json"]).ok().json();
    assert_eq!(status["entries"], N * M);
    assert_eq!(status["save_counter"], N * M + 1);
    assert_eq!(temps(&s.vault), 0, "temp files left");
    s.run(&["--no-keychain", "audit", "verify"]).ok();
}

/// N processes x M sets of the same key: one of the written values wins,
/// whole, and the file opens.
#[test]
fn writers_hammering_one_key_leave_one_written_value() {
    const N: usize = 6;
    const M: usize = 5;
    let s = Sandbox::new();
    s.init();
    let values: Vec<String> = (0..N)
        .flat_map(|p| (0..M).map(move |k| format!("writer{p}-set{k}-{}", "x".repeat(p * 7 + k))))
        .collect();
    std::thread::scope(|scope| {
        for chunk in values.chunks(M) {
            let s = &s;
            scope.spawn(move || {
                for value in chunk {
                    let out = start_set(s, "shared.key", value)
                        .wait_with_output()
                        .expect("wait");
                    assert!(out.status.success());
                }
            });
        }
    });
    let got = s.run(&["--no-keychain", "get", "shared.key"]).ok();
    let got = got.text().trim_end();
    assert!(values.iter().any(|v| v == got), "{got:?} was never written");
    let status = s.run(&["--no-keychain", "status", "--json"]).ok().json();
    assert_eq!(status["entries"], 1);
    assert_eq!(status["save_counter"], N * M + 1);
    assert_eq!(temps(&s.vault), 0, "temp files left");
    s.run(&["--no-keychain", "audit", "verify"]).ok();
}
