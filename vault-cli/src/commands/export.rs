//! `export --danger-plaintext` and `import FILE`: every value as plaintext
//! JSON, for moving between tools, and back.
//!
//! The format, `credvault-export-v1`:
//!
//! ```json
//! {"format": "credvault-export-v1",
//!  "entries": {"github.token": {"value": "ghp_...", "kind": "secret",
//!               "created": 1700000000000, "updated": 1700000000000,
//!               "expires": null, "metadata": {}}}}
//! ```
//!
//! A value that is not UTF-8 is written as `"value_base64"` (standard
//! alphabet, padded) instead of `"value"`. Times are Unix milliseconds.
//! Tombstones are not exported. On import, `kind`, `expires` and `metadata`
//! are kept; `created` and `updated` are the time of the import.
//!
//! Export refuses to run without `--danger-plaintext`, writes a new file
//! with mode 0600 (never over an existing one; stdout only with `-o -`
//! and only when stdout is not a terminal), and warns on stderr.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::Path;

use base64::Engine as _;
use credvault::{ops, KeyName, Kind, Metadata, SecretValue, SetOptions, MAX_VALUE_LEN};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::cli::{ExportArgs, ImportArgs};
use crate::exit::{CliError, Exit};
use crate::output::{note, print, print_json, sanitize, warn, write_stdout, Format};
use crate::unlock::Context;

use crate::failure::Failure;

/// The `format` member of an export.
pub const FORMAT: &str = "credvault-export-v1";

/// Largest export file `import` reads: every value at its limit twice over
/// is far more than a vault can hold.
const MAX_IMPORT_LEN: u64 = 512 * 1024 * 1024;

/// A borrowed secret string, serialized as a JSON string.
struct Text<'a>(&'a str);

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[derive(Serialize)]
struct ExportEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<Text<'a>>,
    kind: &'a str,
    created: u64,
    updated: u64,
    expires: Option<u64>,
    metadata: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ExportFile<'a> {
    format: &'static str,
    entries: BTreeMap<&'a str, ExportEntry<'a>>,
}

/// `export --danger-plaintext [-o FILE|-]`.
pub fn export(args: &ExportArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    if !args.danger_plaintext {
        return Err(CliError::usage(
            "export writes every value in PLAINTEXT; it needs --danger-plaintext",
        )
        .with_hint("credvault export --danger-plaintext --output FILE (a new file, mode 0600)")
        .into());
    }
    let to_stdout =
        match args.output.as_deref() {
            Some(p) if p == Path::new("-") => {
                if std::io::stdout().is_terminal() {
                    return Err(CliError::usage(
                        "refusing to print every value in plaintext on a terminal",
                    )
                    .with_hint("use --output FILE, or pipe stdout to the program that imports it")
                    .into());
                }
                true
            }
            Some(_) => false,
            None => {
                return Err(CliError::usage(
                    "export needs --output FILE (or --output - for a pipe)",
                )
                .with_hint("the file is created with mode 0600 and never replaces an existing one")
                .into())
            }
        };
    if let Some(path) = args.output.as_deref().filter(|_| !to_stdout) {
        // Refuse before anything is unlocked or decrypted.
        ops::refuse_existing(path)?;
    }
    let vault = context.open()?;
    let names = vault.list(None);
    let mut values: Vec<SecretValue> = Vec::with_capacity(names.len());
    for name in &names {
        let value = vault.get(name)?.ok_or_else(|| CliError::not_found(name))?;
        values.push(value);
    }
    let mut encoded: Vec<Option<Zeroizing<String>>> = Vec::with_capacity(values.len());
    let mut capacity = 1024;
    for (name, value) in names.iter().zip(&values) {
        let entry = vault.entry(name);
        let meta: usize = entry.map_or(0, |e| {
            e.metadata
                .as_map()
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum()
        });
        // Worst case JSON escaping is 6 bytes per byte (\u00XX); pretty
        // printing adds indentation and the fixed member names.
        capacity += 6 * (name.as_str().len() + value.len() + meta) + 512;
        encoded.push(match value.expose_str() {
            Some(_) => None,
            None => {
                let mut b64 = Zeroizing::new(String::with_capacity(value.len() / 3 * 4 + 4));
                base64::engine::general_purpose::STANDARD.encode_string(value.expose(), &mut b64);
                Some(b64)
            }
        });
    }
    let mut entries = BTreeMap::new();
    for ((name, value), b64) in names.iter().zip(&values).zip(&encoded) {
        let Some(entry) = vault.entry(name) else {
            continue;
        };
        entries.insert(
            name.as_str(),
            ExportEntry {
                value: value.expose_str().map(Text),
                value_base64: b64.as_deref().map(|s| Text(s)),
                kind: entry.kind.as_str(),
                created: entry.created_ms,
                updated: entry.updated_ms,
                expires: entry.expires_ms,
                metadata: entry.metadata.as_map(),
            },
        );
    }
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    serde_json::to_writer_pretty(
        &mut *out,
        &ExportFile {
            format: FORMAT,
            entries,
        },
    )
    .map_err(|e| CliError::new(Exit::FileSystem, format!("cannot encode JSON: {e}")))?;
    out.push(b'\n');
    drop(encoded);
    drop(values);

    let count = names.len();
    match args.output.as_deref() {
        Some(path) if !to_stdout => {
            ops::write_new_private_file(path, &out)?;
            warn(&format!(
                "{} now holds all {count} values in PLAINTEXT: anyone who can read it has every credential. Import it where it is going, then delete it (shred -u); never sync, back up or commit it",
                sanitize(&path.display().to_string())
            ));
            match format {
                Format::Text => {}
                Format::Json => {
                    #[derive(Serialize)]
                    struct Exported {
                        path: String,
                        format: &'static str,
                        entries: usize,
                        plaintext: bool,
                    }
                    print_json(&Exported {
                        path: path.display().to_string(),
                        format: FORMAT,
                        entries: count,
                        plaintext: true,
                    })?;
                }
            }
        }
        _ => {
            warn(&format!(
                "writing all {count} values in PLAINTEXT to stdout; make sure it goes nowhere it stays"
            ));
            write_stdout(&out)?;
        }
    }
    Ok(Exit::Ok)
}

/// A secret string read from the import file, zeroized on drop.
struct SecretText(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretText(Zeroizing::new(s)))
    }
}

#[derive(Deserialize)]
struct ImportEntry {
    value: Option<SecretText>,
    value_base64: Option<SecretText>,
    kind: Option<String>,
    expires: Option<u64>,
    metadata: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct ImportFile {
    format: String,
    entries: BTreeMap<String, ImportEntry>,
}

/// One entry, checked and ready to store.
struct Ready {
    name: KeyName,
    value: SecretValue,
    options: SetOptions,
}

/// `import FILE [--overwrite]`: one save; every key reported.
pub fn import(args: &ImportArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let shown = sanitize(&args.file.display().to_string());
    let bad = |what: String| {
        CliError::usage(format!("cannot import {shown}: {what}"))
            .with_hint("nothing was imported; the file must be a credvault-export-v1 JSON file (`credvault export --danger-plaintext`)")
    };
    let bytes = read_import(&args.file)?;
    let file: ImportFile =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not valid export JSON ({e})")))?;
    drop(bytes);
    if file.format != FORMAT {
        return Err(bad(format!(
            "the format is {:?}, not {FORMAT:?}",
            sanitize(&file.format)
        ))
        .into());
    }
    // Every entry is checked before the vault is touched.
    let mut ready = Vec::with_capacity(file.entries.len());
    for (name, entry) in file.entries {
        let key = KeyName::new(&name)
            .map_err(|e| bad(format!("invalid key name {:?}: {e}", sanitize(&name))))?;
        let value = match (entry.value, entry.value_base64) {
            (Some(text), None) => SecretValue::new(text.0.as_bytes().to_vec()),
            (None, Some(b64)) => {
                let mut raw = Zeroizing::new(Vec::with_capacity(b64.0.len()));
                base64::engine::general_purpose::STANDARD
                    .decode_vec(b64.0.as_bytes(), &mut raw)
                    .map_err(|_| bad(format!("{key}: value_base64 is not valid base64")))?;
                SecretValue::new(raw.to_vec())
            }
            _ => {
                return Err(bad(format!(
                    "{key}: needs exactly one of \"value\" and \"value_base64\""
                ))
                .into())
            }
        };
        if value.len() > MAX_VALUE_LEN {
            return Err(bad(format!(
                "{key}: the value is above the limit of {MAX_VALUE_LEN} bytes"
            ))
            .into());
        }
        let kind = entry
            .kind
            .map(|k| Kind::new(&k))
            .transpose()
            .map_err(|e| bad(format!("{key}: {e}")))?;
        let metadata = entry
            .metadata
            .map(Metadata::new)
            .transpose()
            .map_err(|e| bad(format!("{key}: {e}")))?;
        ready.push(Ready {
            name: key,
            value,
            options: SetOptions {
                kind,
                expires_ms: entry.expires,
                metadata,
            },
        });
    }

    let mut vault = context.open()?;
    let mut statuses = Vec::with_capacity(ready.len());
    for item in &ready {
        statuses.push(match vault.get(&item.name)? {
            None => "imported",
            Some(old) if crate::passphrase::same(old.expose(), item.value.expose()) => "unchanged",
            Some(_) if args.overwrite => "replaced",
            Some(_) => "kept",
        });
    }
    let mut tx = vault.transaction();
    for (item, status) in ready.iter().zip(&statuses) {
        if matches!(*status, "imported" | "replaced") {
            tx.set(&item.name, &item.value, item.options.clone())?;
        }
    }
    let saved = tx.commit()?.saved;
    let report: Vec<(String, &'static str)> = ready
        .iter()
        .zip(&statuses)
        .map(|(item, status)| (item.name.as_str().to_owned(), *status))
        .collect();
    drop(ready);

    let count = |s: &str| statuses.iter().filter(|x| **x == s).count();
    match format {
        Format::Text => {
            let mut out = String::new();
            for (key, status) in &report {
                out.push_str(&format!("{status:<10} {key}\n"));
            }
            print(&out)?;
            note(&format!(
                "{} imported, {} replaced, {} unchanged, {} kept, from {shown}{}",
                count("imported"),
                count("replaced"),
                count("unchanged"),
                count("kept"),
                if saved {
                    " (one save)"
                } else {
                    "; nothing to save"
                }
            ));
            if count("kept") > 0 {
                note("kept: the vault holds a different value; --overwrite replaces it with the file's");
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Item<'a> {
                key: &'a str,
                status: &'static str,
            }
            #[derive(Serialize)]
            struct Imported<'a> {
                path: String,
                imported: usize,
                replaced: usize,
                unchanged: usize,
                kept: usize,
                items: Vec<Item<'a>>,
            }
            print_json(&Imported {
                path: args.file.display().to_string(),
                imported: count("imported"),
                replaced: count("replaced"),
                unchanged: count("unchanged"),
                kept: count("kept"),
                items: report
                    .iter()
                    .map(|(key, status)| Item { key, status })
                    .collect(),
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// Reads the import file into one zeroized buffer.
fn read_import(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let shown = sanitize(&path.display().to_string());
    let fail =
        |e: std::io::Error| CliError::new(Exit::FileSystem, format!("cannot read {shown}: {e}"));
    let file = std::fs::File::open(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    if len > MAX_IMPORT_LEN {
        return Err(CliError::usage(format!(
            "{shown} is {len} bytes, above the import limit of {MAX_IMPORT_LEN}"
        )));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(len as usize + 1));
    file.take(MAX_IMPORT_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    Ok(bytes)
}
