//! Integration tests of the `credvault` binary: every command and every
//! exit code, run as a real process against a private temporary vault.
//! One test binary (ripgrep style); each module is one area.

// Shared sandbox: a temp HOME, XDG_DATA_HOME and vault per test.
mod common;

// The shape of vault-cli/src: commands independent of each other, no
// library internals (issue 14).
mod architecture;
// Every command on the happy path: round trips, aliases, JSON, paths.
mod basics;
// Every failure class and its exit code, one-line stderr, no secrets.
mod errors;
// Many processes writing at once: no lost update.
mod concurrency;
// The terminal prompts, driven through a pseudo-terminal by `script`.
mod tty;
// Completions, man page, help and version.
mod docs;
// The runnable examples of README.md and docs/*.md, run as written (issue 20).
mod docs_examples;
// The OS keychain end to end: a real Secret Service, and none at all.
mod keychain;
// The timed session unlock in the kernel keyring: unlock, expiry, lock.
mod session;
// kill -9 torture, multi-process writers of many keys and of one key.
mod torture;
// Every writer raced against `set` and against each other, and two inits
// on one path, behind a held lock: no lost update, documented losers.
mod races;
// Hostile files and every spec vector under memory and CPU limits.
mod hostile;
// Migration from the desktop app: import-legacy on real Chromium OSCrypt
// values, migrate-env, the get --env/--config fallback chain, exec.
mod legacy;
// A save beyond the file-size limit (full disk) and a killed lock holder.
mod storage;
// Recovery codes: init prints one once; unlock with it; rotate.
mod recovery;
// Backup, restore on "another machine", generations and undo, verify.
mod backup;
// passwd (rewrap) and rekey; export and import.
mod rekey;
// The tamper-evident audit log: a line per command, verify, show, rotation.
mod audit;
// kdf-calibrate: the calibration of init alone, touching no vault.
mod kdf;
// Issue 13: secrets kept from children, revocation, rollback, symlinks, side files.
mod security;
// One vault on several machines: merge, sync-folder conflict copies, the
// git merge driver and textconv with the real git (issue 18).
mod merge;
// The `pass` password store: import, export, two-way sync, get --pass,
// on the real pass and gnupg with a throwaway GNUPGHOME and a git store.
mod pass;
// OAuth against a real oidc-provider on https://127.0.0.1: PKCE login,
// device flow, refresh under the lock, invalid_grant, server down, revoke.
mod oauth;
// Every writing command failed and crashed at every storage step through
// the test-only fault hook: old or new state, audit intact (issue 19).
mod crash;
// Power loss on a FUSE file system that drops what was not made durable
// (tests/powerloss), across every writer of the crash table (issue 19).
mod powerloss;
