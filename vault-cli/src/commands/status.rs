//! `status` (and `slot list`, which shows the same slots): what the vault
//! is and how it is protected. Never a value.
//!
//! Both unlock the vault as every other command does, so what they show
//! is authenticated. With `--no-unlock` they read the header alone: no
//! credential is needed, but the header is not authenticated and the
//! entry count is unknown.

use credvault::ops::{self, Protection, UnlockedBy};
use credvault::service::KEYCHAIN_ONLY;
use credvault::{Slot, SlotKind, FORMAT_MINOR_VERSION as MINOR_VERSION};
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::exit::Exit;
use crate::failure::Failure;
use crate::kdf::weak_warning;
use crate::output::{print, print_json, sanitize, Format};
use crate::unlock::{keychain_detail, Context, Opened, Via};
use crate::view::{session_remaining, slot_lines, slot_views, SlotJson, View};

#[derive(Serialize)]
struct Status {
    path: String,
    format_version: String,
    encryption_available: bool,
    /// The strongest slot type present: keychain, passphrase, recovery.
    backend: &'static str,
    /// Every slot type present, in order of preference.
    backends: Vec<&'static str>,
    /// Whether the vault was unlocked (so the header is authenticated).
    unlocked: bool,
    /// keychain, passphrase, recovery or session; null with --no-unlock.
    unlocked_by: Option<&'static str>,
    unlocked_by_slot: Option<u32>,
    /// Whether an OS keychain is reachable; null with --no-keychain.
    keychain_available: Option<bool>,
    /// How long finding out took, in milliseconds.
    keychain_check_ms: Option<u128>,
    /// Why the keychain is unreachable or did not open the vault.
    keychain_error: Option<String>,
    /// The session unlock (Linux kernel keyring); null where unsupported.
    session: Option<SessionJson>,
    slots: Vec<SlotJson>,
    entries: Option<usize>,
    tombstones: Option<usize>,
    save_counter: u64,
    /// Sync-folder conflict copies beside the vault (`merge
    /// --conflict-copies` merges them).
    conflict_copies: Vec<ConflictCopyJson>,
    /// The `pass` password store: whether `pass` runs and the store is
    /// initialised.
    pass: PassJson,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct ConflictCopyJson {
    path: String,
    /// Syncthing, Dropbox or Nextcloud.
    tool: &'static str,
}

#[derive(Serialize)]
struct PassJson {
    available: bool,
    initialised: bool,
    store: String,
}

/// Whether `pass` and an initialised store are present.
fn pass_state() -> PassJson {
    let a = credvault::pass::PassBackend::from_env().availability();
    PassJson {
        available: a.program,
        initialised: a.initialised,
        store: a.store_dir.display().to_string(),
    }
}

#[derive(Serialize)]
struct SessionJson {
    active: bool,
    /// The kernel's coarse remaining time ("59s", "14m", "2h"), if known.
    expires_in: Option<String>,
}

/// Runs `status`.
pub fn run(args: &StatusArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let view = View::load(context, args.no_unlock)?;
    let slots = slot_views(&view, context);
    let keychain = keychain_state(&view, context);
    let session = session_state(&view);
    let unlocked = view.opened.as_ref().map(|o| match o.via {
        Via::Session => UnlockedBy::Session,
        Via::Slot(id) => UnlockedBy::Slot(id),
    });
    let protection = ops::protection(view.slots(), unlocked);
    let mut warnings = warnings(&view, &slots, &keychain, &protection);
    let conflict_copies: Vec<ConflictCopyJson> = ops::conflict_copies(&view.path)
        .into_iter()
        .map(|(path, tool)| ConflictCopyJson {
            path: path.display().to_string(),
            tool: tool.name(),
        })
        .collect();
    if !conflict_copies.is_empty() {
        warnings.push(format!(
            "{} sync-folder conflict copy(ies) beside the vault: merge them with `credvault merge --conflict-copies`",
            conflict_copies.len()
        ));
    }
    let status = Status {
        path: view.path.display().to_string(),
        format_version: format!("1.{}", view.minor),
        encryption_available: true,
        backend: protection.backend,
        backends: protection.backends,
        unlocked: view.opened.is_some(),
        unlocked_by: protection.unlocked_by,
        unlocked_by_slot: protection.unlocked_by_slot,
        keychain_available: keychain.available,
        keychain_check_ms: context.keychain_connect_time().map(|d| d.as_millis()),
        keychain_error: keychain.error.clone(),
        session,
        slots,
        entries: view.opened.as_ref().map(|o| o.vault.len()),
        tombstones: view.opened.as_ref().map(|o| o.vault.tombstones().count()),
        save_counter: view.header.save_counter,
        conflict_copies,
        pass: pass_state(),
        warnings,
    };
    match format {
        Format::Json => print_json(&status)?,
        Format::Text => print(&text(&status, &view, context))?,
    }
    Ok(Exit::Ok)
}

struct KeychainState {
    available: Option<bool>,
    error: Option<String>,
}

/// Whether the OS keychain is reachable (a connection only; nothing is
/// written or unlocked), and what went wrong with it.
fn keychain_state(view: &View, context: &Context) -> KeychainState {
    if context.no_keychain {
        return KeychainState {
            available: None,
            error: None,
        };
    }
    match context.keychain() {
        Ok(_) => KeychainState {
            available: Some(true),
            error: view
                .opened
                .as_ref()
                .filter(|o| !opened_by_keychain(o, view.slots()))
                .and_then(|o| o.keychain_failure.clone()),
        },
        Err(reason) => KeychainState {
            available: Some(false),
            error: Some(reason),
        },
    }
}

fn opened_by_keychain(opened: &Opened, slots: &[Slot]) -> bool {
    matches!(opened.via, Via::Slot(id) if slots.iter().any(|s| s.id == id && matches!(s.kind, SlotKind::Keychain(_))))
}

/// Whether a session unlock of this vault is active, and for how long.
#[cfg(target_os = "linux")]
fn session_state(view: &View) -> Option<SessionJson> {
    let id = &view.header.vault_id;
    let via_session = view.opened.as_ref().is_some_and(|o| o.via == Via::Session);
    let active = via_session || credvault::session::load(id).is_some();
    Some(SessionJson {
        active,
        expires_in: active.then(|| session_remaining(id)).flatten(),
    })
}

#[cfg(not(target_os = "linux"))]
fn session_state(_view: &View) -> Option<SessionJson> {
    None
}

fn warnings(
    view: &View,
    slots: &[SlotJson],
    keychain: &KeychainState,
    protection: &Protection,
) -> Vec<String> {
    let mut out = ops::file_warnings(&view.path);
    let keychain_ids: Vec<String> = view
        .slots()
        .iter()
        .filter(|s| matches!(s.kind, SlotKind::Keychain(_)))
        .map(|s| s.id.to_string())
        .collect();
    if keychain.available == Some(false) {
        let reason = keychain_detail(keychain.error.as_deref().unwrap_or("unknown reason"));
        if keychain_ids.is_empty() {
            out.push(format!(
                "no OS keychain is reachable: the vault is protected by its passphrase only ({reason})"
            ));
        } else {
            out.push(format!(
                "no OS keychain is reachable: keychain slot {} cannot open the vault here ({reason})",
                keychain_ids.join(", ")
            ));
        }
    }
    let mut missing = false;
    for slot in slots {
        if slot.this_machine == Some(Some(false)) && keychain.available == Some(true) {
            missing = true;
            out.push(format!(
                "keychain slot {}: this machine's keychain has no key for it (deleted, or written on another machine); if it is stale, remove it with `credvault slot remove {}`",
                slot.id, slot.id
            ));
        }
    }
    if let (Some(true), Some(reason), false) = (keychain.available, &keychain.error, missing) {
        out.push(format!("the OS keychain did not open the vault: {reason}"));
    }
    if protection.keychain_only {
        out.push(KEYCHAIN_ONLY.to_owned());
    }
    for slot in view.slots() {
        match &slot.kind {
            SlotKind::Passphrase(p) if p.kdf.is_weak() => {
                out.push(format!("passphrase slot {}: {}", slot.id, weak_warning(&p.kdf)));
            }
            SlotKind::Unknown { type_code, .. } => out.push(format!(
                "slot {} has type {type_code}, unknown to this credvault (made by a newer version?); it is kept but not used",
                slot.id
            )),
            _ => {}
        }
    }
    if view.minor > MINOR_VERSION {
        out.push(format!(
            "the vault uses format 1.{}, newer than the 1.{MINOR_VERSION} this credvault writes; features it does not know are kept but not used",
            view.minor
        ));
    }
    out
}

fn text(status: &Status, view: &View, context: &Context) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        out.push_str(&format!("{label:<22}{}\n", sanitize(value)));
    };
    line("path:", &status.path);
    line("format version:", &status.format_version);
    line(
        "encryption available:",
        if status.encryption_available {
            "yes"
        } else {
            "no"
        },
    );
    line("backend:", status.backend);
    let unlocked = match (status.unlocked_by, status.unlocked_by_slot) {
        (None, _) => "not unlocked (--no-unlock): the header is not authenticated".to_owned(),
        (Some("session"), _) => "session unlock (kernel keyring)".to_owned(),
        (Some(kind), Some(id)) => format!("slot {id} ({kind})"),
        (Some(kind), None) => kind.to_owned(),
    };
    line("unlocked by:", &unlocked);
    let keychain = match (status.keychain_available, &status.keychain_error) {
        (None, _) => "not used (--no-keychain)".to_owned(),
        (Some(false), reason) => {
            format!(
                "not reachable ({})",
                keychain_detail(reason.as_deref().unwrap_or("unknown reason"))
            )
        }
        (Some(true), _) => match context.keychain_connect_time() {
            Some(took) => format!("reachable (connected in {} ms)", took.as_millis()),
            None => "reachable".to_owned(),
        },
    };
    line("OS keychain:", &keychain);
    let session = match &status.session {
        None => "not supported on this platform".to_owned(),
        Some(SessionJson { active: false, .. }) => "none".to_owned(),
        Some(SessionJson {
            active: true,
            expires_in: Some(left),
        }) => format!("active, expires in about {left} (`credvault lock` ends it)"),
        Some(SessionJson { active: true, .. }) => "active (`credvault lock` ends it)".to_owned(),
    };
    line("session unlock:", &session);
    let unknown = || "unknown (not unlocked)".to_owned();
    line(
        "entries:",
        &status.entries.map_or_else(unknown, |n| n.to_string()),
    );
    line(
        "deleted (tombstones):",
        &status.tombstones.map_or_else(unknown, |n| n.to_string()),
    );
    line("save counter:", &status.save_counter.to_string());
    let pass = &status.pass;
    let pass_line = match (pass.available, pass.initialised) {
        (true, true) => format!("available, store at {} (initialised)", pass.store),
        (true, false) => format!("available, no initialised store at {}", pass.store),
        (false, true) => format!("not installed; a store exists at {}", pass.store),
        (false, false) => "not installed, no store".to_owned(),
    };
    line("pass:", &pass_line);
    out.push_str("slots:\n");
    out.push_str(&slot_lines(view, &status.slots, "  "));
    if !status.conflict_copies.is_empty() {
        out.push_str("conflict copies:\n");
        for c in &status.conflict_copies {
            out.push_str(&format!("  {} ({})\n", sanitize(&c.path), c.tool));
        }
    }
    if status.warnings.is_empty() {
        out.push_str("warnings:             none\n");
    } else {
        out.push_str("warnings:\n");
        for w in &status.warnings {
            out.push_str(&format!("  - {}\n", sanitize(w)));
        }
    }
    out
}
