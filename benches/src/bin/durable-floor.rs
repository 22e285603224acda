//! The floor under a durable `credvault set`: the least work any tool must
//! do to replace an encrypted file of the vault's size durably. Used by
//! `benches/compare.sh`; see benches/README.md.
//!
//! ```text
//! durable-floor seal SIZE_OF FILE     # once: make FILE, as long as SIZE_OF
//! durable-floor [--no-aead] FILE      # measured: one durable replace of FILE
//! ```
//!
//! # What one measured run does
//!
//! 1. Reads FILE whole.
//! 2. With AEAD (the default): opens it with XChaCha20-Poly1305 (24-byte
//!    nonce, as credvault's body: vault/src/crypto/mod.rs) and seals the
//!    plaintext again under a fresh nonce. A `set` cannot do less: it must
//!    authenticate and decrypt the old body before trusting it, and encrypt
//!    the new one, so the AEAD floor is one open plus one seal of the body.
//!    `--no-aead` skips this step and copies the bytes as read: the bare
//!    durable replace.
//! 3. Writes the result to a temporary file in FILE's directory, fsyncs it,
//!    renames it over FILE and fsyncs the directory, so that after a crash
//!    the directory holds either the old or the new file, complete.
//!
//! Each run leaves a valid FILE behind for the next one.
//!
//! # What it leaves out
//!
//! Everything else a real `set` does: argument parsing beyond this, the
//! key unlock (keychain, kernel keyring or KDF), decoding and encoding the
//! entries, the lock file, generations kept beside the vault and the audit
//! log. The difference between this floor and `credvault set` is the cost
//! of those.
//!
//! # File layout (this tool's own, not credvault's format)
//!
//! `nonce (24 bytes) || ciphertext || tag (16 bytes)`, under a fixed key
//! compiled in below. The key is not a secret: this file only exists to
//! give the cipher a body of the right length to work on. `seal` makes
//! FILE exactly as long as SIZE_OF (a credvault vault), so the floor moves
//! the same number of bytes as credvault does.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// XChaCha20-Poly1305 nonce length (credvault's `format::NONCE_LEN`).
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: usize = 16;
/// A fixed, public key: see the module docs.
const FLOOR_KEY: [u8; 32] = *b"credvault durable-floor test key";

const USAGE: &str = "usage: durable-floor seal SIZE_OF FILE | durable-floor [--no-aead] FILE";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = match args.iter().map(|a| a.to_str()).collect::<Vec<_>>()[..] {
        [Some("seal"), _, _] => seal(Path::new(&args[1]), Path::new(&args[2])),
        [Some("--no-aead"), _] => replace(Path::new(&args[1]), false),
        [Some(first), ..] if first.starts_with('-') => Err(USAGE.to_owned()),
        [_] => replace(Path::new(&args[0]), true),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("durable-floor: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Makes `dest` a sealed file exactly as long as `size_of`.
fn seal(size_of: &Path, dest: &Path) -> Result<(), String> {
    let len = fs::metadata(size_of)
        .map_err(|e| format!("{}: {e}", size_of.display()))?
        .len();
    let len = usize::try_from(len).map_err(|_| "file too large".to_owned())?;
    let body_len = len
        .checked_sub(NONCE_LEN + TAG_LEN)
        .ok_or_else(|| format!("{} is shorter than nonce and tag", size_of.display()))?;
    // The content does not change the cipher's cost; make it not all zeros
    // anyway.
    let plaintext: Vec<u8> = (0..body_len).map(|i| (i % 251) as u8).collect();
    let sealed = seal_bytes(&plaintext)?;
    durable_write(dest, &sealed)
}

/// One measured run: read `file`, optionally open and re-seal it, and
/// replace it durably.
fn replace(file: &Path, aead: bool) -> Result<(), String> {
    let mut old = Vec::new();
    File::open(file)
        .and_then(|mut f| f.read_to_end(&mut old))
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let new = if aead {
        let plaintext = open_bytes(&old)?;
        seal_bytes(&plaintext)?
    } else {
        old
    };
    durable_write(file, &new)
}

fn cipher() -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(FLOOR_KEY))
}

/// `nonce || ciphertext || tag` under a fresh random nonce.
fn seal_bytes(plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let nonce = random_nonce()?;
    let ciphertext = cipher()
        .encrypt(&XNonce::from(nonce), plaintext)
        .map_err(|_| "encryption failed".to_owned())?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Authenticates and decrypts `nonce || ciphertext || tag`.
fn open_bytes(sealed: &[u8]) -> Result<Vec<u8>, String> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err("file is shorter than nonce and tag (make it with `seal`)".to_owned());
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    cipher()
        .decrypt(&XNonce::from(n), ciphertext)
        .map_err(|_| "authentication failed (not made by `durable-floor seal`?)".to_owned())
}

/// 24 bytes from the kernel's generator. std has no getrandom wrapper;
/// /dev/urandom is the same generator behind one more open(2).
fn random_nonce() -> Result<[u8; NONCE_LEN], String> {
    let mut nonce = [0u8; NONCE_LEN];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut nonce))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(nonce)
}

/// Write a temp file beside `target`, fsync it, rename it over `target`,
/// fsync the directory.
fn durable_write(target: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = target.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".durable-floor-tmp");
    let tmp = dir.join(tmp_name);
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");

    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp.display().to_string(), e))?;
    f.write_all(bytes).map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("fsync file", e))?;
    drop(f);
    fs::rename(&tmp, target).map_err(|e| io("rename", e))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("fsync directory", e))?;
    Ok(())
}
