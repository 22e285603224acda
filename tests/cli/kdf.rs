//! `kdf-calibrate`: the calibration of `init`, run alone. It needs no
//! vault, creates no file (no vault, no audit log) and prints nothing on
//! stderr when stderr is not a terminal. Timings are not asserted.

use crate::common::Sandbox;

/// Small target and cap: a few short trials.
const QUICK: [&str; 5] = [
    "kdf-calibrate",
    "--target-ms",
    "50",
    "--max-memory-mib",
    "32",
];

/// Asserts that `params` (a KDF JSON object) has 4 lanes, 19..=32 MiB and
/// at least 2 passes.
#[track_caller]
fn assert_calibrated(params: &serde_json::Value) {
    assert_eq!(params["parallelism"], 4, "{params}");
    let mib = params["memory_mib"].as_u64().expect("memory_mib");
    assert!((19..=32).contains(&mib), "{params}");
    assert_eq!(params["memory_kib"].as_u64(), Some(mib * 1024), "{params}");
    assert!(
        params["iterations"].as_u64().expect("iterations") >= 2,
        "{params}"
    );
    assert_eq!(params["weak"], false, "{params}");
}

#[test]
fn kdf_calibrate_json_reports_parameters_and_trials() {
    let s = Sandbox::new();
    let mut args = QUICK.to_vec();
    args.push("--json");
    let run = s.run(&args).ok();
    assert!(run.stderr.is_empty(), "stderr on a pipe: {:?}", run.stderr);
    let json = run.json();
    assert_calibrated(&json);
    assert!(
        json["measured_ms"].as_u64().expect("measured_ms") > 0,
        "{json}"
    );
    assert_eq!(json["target_ms"], 50);
    assert_eq!(json["max_memory_mib"], 32);
    let trials = json["trials"].as_array().expect("trials");
    assert!(!trials.is_empty(), "{json}");
    for trial in trials {
        assert_eq!(trial["parallelism"], 4, "{trial}");
        assert!(trial["measured_ms"].is_u64(), "{trial}");
    }
    // The chosen parameters are the last trial's.
    let last = trials.last().expect("a trial");
    for field in ["memory_kib", "iterations", "parallelism", "measured_ms"] {
        assert_eq!(last[field], json[field], "{field}: {json}");
    }
}

#[test]
fn kdf_calibrate_prints_one_line_of_text() {
    let s = Sandbox::new();
    let run = s.run(&QUICK).ok();
    assert!(run.stderr.is_empty(), "stderr on a pipe: {:?}", run.stderr);
    let text = run.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("Argon2id m="), "{text}");
    assert!(text.contains(" p=4: "), "{text}");
    assert!(text.ends_with(" s per unlock on this machine\n"), "{text}");
}

/// The default memory cap is init's 256 MiB (or half of physical memory).
#[test]
fn kdf_calibrate_defaults_cap_memory() {
    let s = Sandbox::new();
    let json = s
        .run(&["--json", "kdf-calibrate", "--target-ms", "1"])
        .ok()
        .json();
    let cap = json["max_memory_mib"].as_u64().expect("max_memory_mib");
    assert!(cap <= 256, "{json}");
    // A 1 ms target lands on the OWASP floor.
    assert_eq!(json["memory_mib"], 19, "{json}");
    assert_eq!(json["iterations"], 2, "{json}");
    assert_eq!(json["parallelism"], 4, "{json}");
}

#[test]
fn kdf_calibrate_touches_no_vault_and_no_audit_log() {
    let s = Sandbox::new();
    let vaults = s.vault.parent().expect("vault dir");
    std::fs::create_dir(vaults).expect("create vault dir");
    let audit = s.root().join("audit.jsonl");
    let audit_arg = audit.display().to_string();
    let mut args = QUICK.to_vec();
    args.extend(["--audit-log", &audit_arg]);
    let mut cmd = s.command(&args);
    cmd.env("CREDVAULT_AUDIT", "required");
    let run = crate::common::run_command(cmd, None).ok();
    assert!(run.stderr.is_empty(), "{:?}", run.stderr);
    let left: Vec<_> = std::fs::read_dir(vaults)
        .expect("read vault dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "files beside the vault: {left:?}");
    assert!(!audit.exists(), "an audit log was written");
    let root: Vec<_> = std::fs::read_dir(s.root())
        .expect("read sandbox")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(root, ["vaults"], "files in the sandbox: {root:?}");
}

#[test]
fn kdf_calibrate_rejects_bad_arguments_with_exit_2() {
    let s = Sandbox::new();
    for args in [
        &["kdf-calibrate", "--target-ms", "0"][..],
        &["kdf-calibrate", "--target-ms", "60001"],
        &["kdf-calibrate", "--target-ms", "soon"],
        &["kdf-calibrate", "--max-memory-mib", "7"],
        &["kdf-calibrate", "--max-memory-mib", "1025"],
        &["kdf-calibrate", "--max-memory-mib", "-1"],
        &["kdf-calibrate", "extra"],
    ] {
        let run = s.run(args);
        let line = run.fails(2);
        assert!(line.starts_with("credvault: error: "), "{args:?}: {line}");
    }
    let run = s.run(&["--json", "kdf-calibrate", "--target-ms", "0"]);
    let line = run.fails(2);
    let json: serde_json::Value = serde_json::from_str(line).expect("JSON error");
    assert_eq!(json["exit_code"], 2);
    assert_eq!(json["kind"], "usage");
    assert!(!s.vault.exists());
}

#[test]
fn kdf_calibrate_has_help() {
    let s = Sandbox::new();
    let help = s.run(&["--help"]).ok();
    assert!(help.text().contains("kdf-calibrate"), "{}", help.text());
    let sub = s.run(&["kdf-calibrate", "--help"]).ok();
    for needle in ["--target-ms", "--max-memory-mib", "touches none"] {
        assert!(sub.text().contains(needle), "{needle}: {}", sub.text());
    }
}
