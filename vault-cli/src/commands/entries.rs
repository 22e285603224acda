//! The entry commands: `set`, `get`, `rm`, `has`, `ls`.

use std::io::{self, IsTerminal};

use base64::Engine as _;
use credvault::{KeyName, SecretValue, MAX_VALUE_LEN};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{GetArgs, SetArgs};
use crate::exit::{CliError, Exit};
use crate::output::{note, print, print_json, print_secret_json, write_stdout, Format};
use crate::passphrase::{ask, same, strip_one_newline};
use crate::unlock::Context;

use crate::failure::Failure;

/// `set KEY`: value from stdin (one trailing newline stripped) or a hidden
/// prompt; never from argv.
pub fn set(args: &SetArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    if !args.stray.is_empty() {
        return Err(CliError::usage(
            "set takes only KEY; the value is read from stdin or a hidden prompt, never from the command line (the extra argument is not shown)",
        )
        .with_hint("printf '%s' \"$VALUE\" | credvault set KEY; remove the value from your shell history")
        .into());
    }
    let key = KeyName::new(&args.key)?;
    let mut vault = context.open()?;
    let value = read_value(&key)?;
    vault.set(&key, &value)?;
    drop(value);
    match format {
        Format::Text => {}
        Format::Json => {
            #[derive(Serialize)]
            struct Stored<'a> {
                key: &'a str,
                stored: bool,
            }
            print_json(&Stored {
                key: key.as_str(),
                stored: true,
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// Reads the value to store: a hidden prompt (twice) on a terminal,
/// otherwise all of stdin minus one trailing newline.
fn read_value(key: &KeyName) -> Result<SecretValue, CliError> {
    if io::stdin().is_terminal() {
        let prompt_failed =
            |e: io::Error| CliError::usage(format!("no value read from the terminal: {e}"));
        let first = ask(&format!("Value for {key}: ")).map_err(prompt_failed)?;
        let second = ask("Repeat value: ").map_err(prompt_failed)?;
        if !same(first.as_bytes(), second.as_bytes()) {
            return Err(CliError::usage(
                "the values do not match; nothing was stored",
            ));
        }
        return Ok(SecretValue::new(first.as_bytes().to_vec()));
    }
    let mut value = read_stdin(MAX_VALUE_LEN + 2)?;
    strip_one_newline(&mut value);
    if value.len() > MAX_VALUE_LEN {
        return Err(too_large());
    }
    Ok(SecretValue::from(value))
}

fn too_large() -> CliError {
    CliError::usage(format!(
        "the value is larger than the limit of {MAX_VALUE_LEN} bytes (4 MiB)"
    ))
}

/// Reads stdin to its end, at most `max` bytes, straight from the file
/// descriptor into zeroized buffers (no stdio buffer; a buffer outgrown is
/// zeroized, never reallocated, so no copy is left behind).
fn read_stdin(max: usize) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let stdin = io::stdin();
    // Start small and double: a buffer of the 4 MiB limit would be touched
    // in full by its zeroizing drop (a thousand page faults per `set`).
    // Each outgrown buffer is zeroized as it is dropped.
    let mut buf = Zeroizing::new(vec![0u8; 4096.min(max + 1)]);
    let mut len = 0;
    loop {
        if len == buf.len() {
            if buf.len() > max {
                return Err(too_large());
            }
            let mut bigger = Zeroizing::new(vec![0u8; (buf.len() * 2).min(max + 1)]);
            bigger[..len].copy_from_slice(&buf[..len]);
            buf = bigger;
        }
        let free = &mut buf[len..];
        match rustix::io::read(&stdin, free) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                return Err(CliError::usage(format!(
                    "cannot read the value from stdin: {}",
                    io::Error::from(e)
                )))
            }
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// `get KEY [--env VAR] [--config FILE]`: the value and one newline on
/// stdout. With `--env`/`--config` the fallback chain answers (see
/// `fallback`) and says which source did.
pub fn get(args: &GetArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let key = KeyName::new(&args.key)?;
    let (value, source) = if args.env.is_some() || args.config.is_some() || args.pass {
        let found = crate::fallback::find(&key, args, context)?;
        (found.value, Some(found.source))
    } else {
        let vault = context.open()?;
        let value = vault.get(&key)?.ok_or_else(|| CliError::not_found(&key))?;
        (value, None)
    };
    if let (Format::Text, Some(source)) = (format, &source) {
        note(&crate::fallback::describe(&key, source));
    }
    let (source_kind, source_env, source_config) = crate::fallback::json_fields(source.as_ref());
    let source_pass = crate::fallback::pass_field(source.as_ref());
    match format {
        Format::Text => {
            let mut out = Zeroizing::new(Vec::with_capacity(value.len() + 1));
            out.extend_from_slice(value.expose());
            out.push(b'\n');
            write_stdout(&out)?;
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Got<'a> {
                key: &'a str,
                value: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                value_base64: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                source: Option<&'static str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                env: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                config: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                pass: Option<&'a str>,
            }
            // Worst case JSON escaping is 6 bytes per byte (\u00XX).
            let capacity = 6 * (value.len() + key.as_str().len()) + 64;
            match value.expose_str() {
                Some(text) => print_secret_json(
                    &Got {
                        key: key.as_str(),
                        value: Some(text),
                        value_base64: None,
                        source: source_kind,
                        env: source_env,
                        config: source_config.as_deref(),
                        pass: source_pass,
                    },
                    capacity,
                )?,
                None => {
                    let mut b64 = Zeroizing::new(String::with_capacity(value.len() / 3 * 4 + 4));
                    base64::engine::general_purpose::STANDARD
                        .encode_string(value.expose(), &mut b64);
                    print_secret_json(
                        &Got {
                            key: key.as_str(),
                            value: None,
                            value_base64: Some(&b64),
                            source: source_kind,
                            env: source_env,
                            config: source_config.as_deref(),
                            pass: source_pass,
                        },
                        capacity,
                    )?;
                }
            }
        }
    }
    Ok(Exit::Ok)
}

/// `rm KEY`: exit 1 if there was nothing to delete.
pub fn rm(key: &str, context: &Context, format: Format) -> Result<Exit, Failure> {
    let key = KeyName::new(key)?;
    let mut vault = context.open()?;
    if !vault.delete(&key)? {
        return Err(CliError::not_found(&key).into());
    }
    if format == Format::Json {
        #[derive(Serialize)]
        struct Deleted<'a> {
            key: &'a str,
            deleted: bool,
        }
        print_json(&Deleted {
            key: key.as_str(),
            deleted: true,
        })?;
    }
    Ok(Exit::Ok)
}

/// `has KEY`: exit 0 if present, 1 if not; silent in text mode.
pub fn has(key: &str, context: &Context, format: Format) -> Result<Exit, Failure> {
    let key = KeyName::new(key)?;
    let vault = context.open()?;
    let present = vault.has(&key);
    if format == Format::Json {
        #[derive(Serialize)]
        struct Has<'a> {
            key: &'a str,
            present: bool,
        }
        print_json(&Has {
            key: key.as_str(),
            present,
        })?;
    }
    Ok(if present { Exit::Ok } else { Exit::NotFound })
}

/// `ls [PREFIX]`: names one per line, or a JSON array.
pub fn ls(prefix: Option<&str>, context: &Context, format: Format) -> Result<Exit, Failure> {
    let vault = context.open()?;
    let names: Vec<&str> = vault
        .list(prefix)
        .into_iter()
        .map(KeyName::as_str)
        .collect();
    match format {
        // Names are grammar-checked key names: safe to print as they are.
        Format::Text => {
            let mut out = String::new();
            for name in &names {
                out.push_str(name);
                out.push('\n');
            }
            print(&out)?;
        }
        Format::Json => print_json(&names)?,
    }
    Ok(Exit::Ok)
}
