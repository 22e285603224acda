//! `merge`, `git-merge-driver` and `git-textconv`: one vault on several
//! machines (FORMAT.md §11). Thin faces over [`Vault::merge`] and
//! [`Vault::merge_conflict_copies`]; never a value on any output.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use credvault::merge::{Side, Taken};
use credvault::ops::{self, PeekError};
use credvault::{CopyMerge, MergeOptions, MergeReport, SlotRef, Vault, VaultError};
use serde::Serialize;

use crate::cli::{GitMergeDriverArgs, GitTextconvArgs, MergeArgs};
use crate::exit::{CliError, Exit};
use crate::output::{note, print, print_json, sanitize, Format};
use crate::unlock::{CliUnlocker, Context};

use crate::failure::Failure;

#[derive(Serialize)]
struct SlotJson {
    id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct TakenJson {
    name: String,
    /// added, updated, deleted, restored or tombstone.
    how: &'static str,
}

#[derive(Serialize)]
struct SideJson {
    /// Change time, RFC 3339 UTC; null when the side has no record.
    time: Option<String>,
    deleted: bool,
}

#[derive(Serialize)]
struct ConflictJson {
    name: String,
    ours: SideJson,
    theirs: SideJson,
    /// ours or theirs: whose change the rule kept.
    kept: &'static str,
}

#[derive(Serialize)]
struct ReportJson {
    other: String,
    saved: bool,
    dry_run: bool,
    taken: Vec<TakenJson>,
    conflicts: Vec<ConflictJson>,
    /// The other copy's slots that were not imported.
    skipped_slots: Vec<SlotJson>,
    /// Slots removed here because the other copy removed them since the base.
    removed_slots: Vec<SlotJson>,
    /// Slots the other copy removed since the base, kept here as the last usable ones.
    kept_slots: Vec<SlotJson>,
    resealed: bool,
    entries: usize,
    tombstones: usize,
}

#[derive(Serialize)]
struct CopyJson {
    path: String,
    tool: &'static str,
    removed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    merge: Option<ReportJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn slots(list: &[SlotRef]) -> Vec<SlotJson> {
    list.iter()
        .map(|s| SlotJson {
            id: s.id,
            kind: s.kind,
        })
        .collect()
}

fn how(t: Taken) -> &'static str {
    match t {
        Taken::Added => "added",
        Taken::Updated => "updated",
        Taken::Deleted => "deleted",
        Taken::Restored => "restored",
        Taken::Tombstone => "tombstone",
        _ => "changed",
    }
}

fn time(ms: u64) -> String {
    credvault::audit::rfc3339(UNIX_EPOCH + Duration::from_millis(ms))
}

fn side(s: Option<(u64, bool)>) -> SideJson {
    SideJson {
        time: s.map(|(t, _)| time(t)),
        deleted: s.is_some_and(|(_, d)| d),
    }
}

fn report_json(other: &Path, report: &MergeReport, dry_run: bool) -> ReportJson {
    ReportJson {
        other: other.display().to_string(),
        saved: report.saved,
        dry_run,
        taken: report
            .taken
            .iter()
            .map(|(name, t)| TakenJson {
                name: name.as_str().to_owned(),
                how: how(*t),
            })
            .collect(),
        conflicts: report
            .conflicts
            .iter()
            .map(|c| ConflictJson {
                name: c.name.as_str().to_owned(),
                ours: side(c.ours),
                theirs: side(c.theirs),
                kept: match c.winner {
                    Side::Ours => "ours",
                    Side::Theirs => "theirs",
                },
            })
            .collect(),
        skipped_slots: slots(&report.skipped_slots),
        removed_slots: slots(&report.removed_slots),
        kept_slots: slots(&report.kept_slots),
        resealed: report.resealed,
        entries: report.entries,
        tombstones: report.tombstones,
    }
}

fn slot_list(list: &[SlotJson]) -> String {
    list.iter()
        .map(|s| format!("{} ({})", s.id, s.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

fn side_text(s: &SideJson) -> String {
    match (&s.time, s.deleted) {
        (None, _) => "no record".to_owned(),
        (Some(t), true) => format!("deleted {t}"),
        (Some(t), false) => format!("updated {t}"),
    }
}

/// The text report of one merge.
fn report_text(r: &ReportJson) -> String {
    let mut out = String::new();
    let what = if r.dry_run { "would take" } else { "took" };
    out.push_str(&format!(
        "merge of {}: {what} {} change(s), {} conflict(s); {} entries, {} deleted\n",
        sanitize(&r.other),
        r.taken.len(),
        r.conflicts.len(),
        r.entries,
        r.tombstones
    ));
    for t in &r.taken {
        out.push_str(&format!("  {:<10}{}\n", t.how, t.name));
    }
    for c in &r.conflicts {
        out.push_str(&format!(
            "  conflict  {}: changed on both sides since the base; kept {} (ours: {}; theirs: {})\n",
            c.name,
            c.kept,
            side_text(&c.ours),
            side_text(&c.theirs)
        ));
    }
    if !r.skipped_slots.is_empty() {
        out.push_str(&format!(
            "  slots not imported from the other copy: {}\n",
            slot_list(&r.skipped_slots)
        ));
    }
    if !r.removed_slots.is_empty() {
        out.push_str(&format!(
            "  slots removed here (the other copy removed them since the base): {}\n",
            slot_list(&r.removed_slots)
        ));
    }
    if !r.kept_slots.is_empty() {
        out.push_str(&format!(
            "  slots the other copy removed, kept as the last usable ones: {}\n",
            slot_list(&r.kept_slots)
        ));
    }
    if r.resealed {
        out.push_str("  the other copy has another data key (re-keyed); its values were sealed again under this vault's key\n");
    }
    if r.dry_run {
        out.push_str("  dry run: nothing saved\n");
    } else if !r.saved {
        out.push_str("  nothing to take: the vault already holds every change\n");
    }
    out
}

/// Runs `merge`.
pub fn merge(args: &MergeArgs, context: &Context, format: Format) -> Result<Exit, Failure> {
    let mut vault = context.open()?;
    let mut unlocker = CliUnlocker::new(context);
    let mut reports = Vec::new();
    if let Some(other) = &args.other {
        let options = MergeOptions {
            base: args.base.as_deref(),
            dry_run: args.dry_run,
        };
        let report = match vault.merge(other, &mut unlocker, options) {
            Ok(report) => report,
            Err(e) => return Err(merge_error(e, unlocker).into()),
        };
        reports.push(report_json(other, &report, args.dry_run));
    }
    let mut copies = Vec::new();
    if args.conflict_copies {
        let done = vault.merge_conflict_copies(&mut unlocker, args.dry_run)?;
        copies = done
            .into_iter()
            .map(|c| copy_json(c, args.dry_run))
            .collect();
    }
    let failed = copies.iter().filter(|c| c.error.is_some()).count();
    match format {
        Format::Json => {
            #[derive(Serialize)]
            struct Out {
                merges: Vec<ReportJson>,
                #[serde(skip_serializing_if = "Option::is_none")]
                conflict_copies: Option<Vec<CopyJson>>,
            }
            print_json(&Out {
                merges: reports,
                conflict_copies: args.conflict_copies.then_some(copies),
            })?;
        }
        Format::Text => {
            let mut out = String::new();
            for r in &reports {
                out.push_str(&report_text(r));
            }
            if args.conflict_copies && copies.is_empty() {
                out.push_str("no sync-folder conflict copies beside the vault\n");
            }
            for c in &copies {
                out.push_str(&format!(
                    "{} conflict copy {}:\n",
                    c.tool,
                    sanitize(&c.path)
                ));
                if let Some(r) = &c.merge {
                    out.push_str(&report_text(r));
                }
                match (&c.error, c.removed) {
                    (Some(e), _) => {
                        out.push_str(&format!("  left in place: {}\n", sanitize(e)));
                    }
                    (None, true) => {
                        out.push_str("  removed (the merged vault was read back and verified)\n")
                    }
                    (None, false) => {}
                }
            }
            print(&out)?;
        }
    }
    if failed > 0 {
        return Err(CliError::new(
            Exit::Incomplete,
            format!("{failed} conflict copy(ies) could not be merged and were left in place"),
        )
        .into());
    }
    Ok(Exit::Ok)
}

/// The error of a failed merge, with a hint for a copy of another vault.
fn merge_error(e: VaultError, unlocker: CliUnlocker<'_>) -> CliError {
    match e {
        VaultError::Unlock(_) => unlocker.explain(e),
        // Not "run init": the missing file is the other copy (or the base).
        VaultError::Store(credvault::StoreError::NotFound(path)) => CliError::new(
            Exit::FileSystem,
            format!("no vault at {}", sanitize(&path.display().to_string())),
        ),
        other => other.into(),
    }
}

fn copy_json(c: CopyMerge, dry_run: bool) -> CopyJson {
    let (merge, error) = match &c.outcome {
        Ok(report) => (Some(report_json(&c.path, report, dry_run)), None),
        Err(e) => (None, Some(e.to_string())),
    };
    CopyJson {
        path: c.path.display().to_string(),
        tool: c.tool.name(),
        removed: c.removed,
        merge,
        error,
    }
}

/// Runs `git-merge-driver BASE OURS THEIRS` (git's `%O %A %B`): merges
/// THEIRS into OURS in place; exit 0 when merged. On any failure OURS is
/// left as it was and the exit is non-zero, so git reports a conflict on
/// an intact vault (never conflict markers).
pub fn git_merge_driver(args: &GitMergeDriverArgs, context: &Context) -> Result<Exit, Failure> {
    let lock = credvault::ops::lock_path(&args.ours);
    let had_lock = lock.exists();
    let result = driver_merge(args, context);
    if !had_lock {
        // git's temp file is private to this merge: its sidecar lock file
        // must not be left in the work tree.
        let _ = std::fs::remove_file(&lock);
    }
    let report = result?;
    let mut text = report_text(&report_json(Path::new("their version"), &report, false));
    text.insert_str(0, "merge driver: ");
    for line in text.lines() {
        note(line.trim_start());
    }
    Ok(Exit::Ok)
}

fn driver_merge(args: &GitMergeDriverArgs, context: &Context) -> Result<MergeReport, Failure> {
    let options = credvault::OpenOptions {
        // No generations (`FILE.1`, ...) beside git's temp file.
        generations: 0,
        ..context.open_options()
    };
    let mut vault = context.open_at(&args.ours, options)?.vault;
    let mut unlocker = CliUnlocker::new(context);
    let options = MergeOptions {
        base: Some(&args.base),
        dry_run: false,
    };
    match vault.merge(&args.theirs, &mut unlocker, options) {
        Ok(report) => Ok(report),
        Err(e) => Err(merge_error(e, unlocker).into()),
    }
}

/// Runs `git-textconv FILE`: a text view of a vault for `git diff`: header
/// facts, then one line per entry (name, kind, created, updated, expiry)
/// and per tombstone; never a value. A file that is not a vault, or that
/// the credentials at hand do not open, is described as far as it can be,
/// and the exit is still 0 (git shows this text, and would fail on an
/// error).
pub fn git_textconv(args: &GitTextconvArgs, context: &Context) -> Result<Exit, Failure> {
    let text = textconv(&args.path, context);
    print(&text)?;
    Ok(Exit::Ok)
}

fn textconv(path: &Path, context: &Context) -> String {
    let parsed = match ops::peek(path) {
        Ok(parsed) => parsed,
        Err(PeekError::TooLarge(size)) => {
            return format!("not readable as a credvault vault: {size} bytes\n")
        }
        Err(PeekError::Io(e)) => return format!("not readable: {}\n", sanitize(&e.to_string())),
        Err(PeekError::NotAVault { len: 0, .. }) => return String::new(),
        Err(PeekError::NotAVault { error, len }) => {
            return format!(
                "not a credvault vault ({}), {len} bytes\n",
                sanitize(&error.to_string()),
            )
        }
        Err(e) => return format!("not readable: {}\n", sanitize(&e.to_string())),
    };
    let header = &parsed.header;
    let mut out = format!(
        "credvault vault, format 1.{}, vault id {}, save counter {}\n",
        parsed.minor,
        hex::encode(header.vault_id),
        header.save_counter
    );
    for slot in &header.slots {
        out.push_str(&format!("slot {}: {}\n", slot.id, slot.type_name()));
    }
    drop(parsed);
    let options = credvault::OpenOptions {
        generations: 0,
        ..context.open_options()
    };
    let vault = match context.open_at(path, options) {
        Ok(opened) => opened.vault,
        Err(e) => {
            out.push_str(&format!("entries not shown: {}\n", sanitize(e.message())));
            return out;
        }
    };
    out.push_str(&entries_text(&vault));
    out
}

fn entries_text(vault: &Vault) -> String {
    let mut out = String::new();
    for name in vault.list(None) {
        let Some(e) = vault.entry(name) else {
            continue;
        };
        let expires = e
            .expires_ms
            .map(|t| format!(" expires {}", time(t)))
            .unwrap_or_default();
        out.push_str(&format!(
            "entry {name} ({}) created {} updated {}{expires}\n",
            e.kind.as_str(),
            time(e.created_ms),
            time(e.updated_ms)
        ));
    }
    for (name, at) in vault.tombstones() {
        out.push_str(&format!("deleted {name} at {}\n", time(at)));
    }
    out
}
