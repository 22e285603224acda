//! Integration tests of the `credvault` binary: every command and every
//! exit code, run as a real process against a private temporary vault.
//! One test binary (ripgrep style); each module is one area.

// Shared sandbox: a temp HOME, XDG_DATA_HOME and vault per test.
mod common;

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
