//! Generated documentation: completions and the man page come from the
//! clap definition; help and version exit 0.

use crate::common::Sandbox;

#[test]
fn completions_for_every_shell() {
    let s = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = s.run(&["completions", shell]).ok();
        let text = run.text();
        assert!(!text.is_empty(), "{shell}");
        for cmd in ["init", "retrieve", "status"] {
            assert!(text.contains(cmd), "{shell} lacks {cmd}");
        }
    }
}

#[test]
fn man_page_is_roff() {
    let s = Sandbox::new();
    let run = s.run(&["man"]).ok();
    let text = run.text();
    assert!(text.contains(".TH credvault 1"), "{text}");
    assert!(text.contains("passphrase\\-file"), "{text}");
    // The man page points to the guides (issue 20).
    assert!(text.contains("docs/README.md"), "{text}");
}

#[test]
fn help_and_version_exit_0() {
    let s = Sandbox::new();
    let help = s.run(&["--help"]).ok();
    for needle in [
        "init",
        "set",
        "store",
        "get",
        "retrieve",
        "rm",
        "delete",
        "has",
        "ls",
        "list",
        "status",
        "--no-keychain",
        "--json",
        "CREDVAULT_PASSPHRASE",
        "Exit codes",
    ] {
        assert!(help.text().contains(needle), "{needle} missing from help");
    }
    // Both helps point to the guides (issue 20).
    assert!(
        help.text().contains("docs/cli.md"),
        "guides missing from --help"
    );
    let short = s.run(&["-h"]).ok();
    assert!(
        short.text().contains("docs/cli.md"),
        "guides missing from -h"
    );
    let sub = s.run(&["set", "--help"]).ok();
    assert!(sub.text().contains("never taken from the command line"));
    let version = s.run(&["--version"]).ok();
    assert!(version.text().starts_with("credvault "));
}
