//! `AuditLog::verify`: the chain, the MACs and the head anchor (module docs of `audit`, "What verify detects").

use super::*;

use std::collections::BTreeMap;

use serde_json::Value;

impl AuditLog {
    /// Checks the whole chain with `key`; see the module docs for what is
    /// and is not detected. `Err` only for I/O failures.
    pub fn verify(&self, key: &AuditKey) -> Result<Verification, AuditError> {
        let _read = self.read_lock()?;
        let mut v = Verification {
            files: self.files(),
            ..Verification::default()
        };
        let mut prev: Option<(String, u64)> = None; // (hash, seq) of the line before
        let mut last_auth: Option<(u64, String)> = None;
        let mut hashes: BTreeMap<u64, (String, String)> = BTreeMap::new();
        let rotated_full = self.rotated(self.keep()).exists();
        let files = v.files.clone();
        'files: for file in &files {
            let text = read_text(file)?;
            let lines: Vec<&str> = text.lines().collect();
            // A last line without its newline in the active file: an append
            // torn by a crash or a full disk. Not tampering by itself: the
            // next append records it, and the head anchor still names the
            // last whole line (checked below), so a cut anchored line shows.
            let open_end = !text.is_empty() && !text.ends_with('\n');
            if open_end && *file != self.path() {
                v.problem = Some(Problem {
                    file: file.clone(),
                    line: lines.len(),
                    seq: lines.last().and_then(|l| parse_seq(l)),
                    reason: "incomplete last line in a rotated file (cut)".into(),
                });
                break;
            }
            for (i, line) in lines.iter().copied().enumerate() {
                if open_end && i + 1 == lines.len() {
                    v.notes.push(format!(
                        "line {} of {} is torn (a crash or a full disk during an append); the next append records it",
                        i + 1,
                        file.display()
                    ));
                    break;
                }
                // Even a fragment that happens to parse (a write cut just
                // before its newline) was recorded as torn by the next one.
                if recovers(lines.get(i + 1), line.as_bytes()) {
                    v.notes.push(format!(
                        "line {} of {} was torn by a crash; line {} records it",
                        i + 1,
                        file.display(),
                        i + 2
                    ));
                    continue;
                }
                let bad = |seq: Option<u64>, reason: String| Problem {
                    file: file.clone(),
                    line: i + 1,
                    seq,
                    reason,
                };
                let Some(obj) = parse_object(line) else {
                    v.problem = Some(bad(None, "not a valid audit line".into()));
                    break 'files;
                };
                let seq = obj.get("seq").and_then(Value::as_u64);
                let Some(seq) = seq else {
                    v.problem = Some(bad(None, "no sequence number".into()));
                    break 'files;
                };
                let stored_prev = obj.get("prev").and_then(Value::as_str).unwrap_or("");
                match &prev {
                    None => {
                        if seq != 1 && !rotated_full {
                            v.problem = Some(bad(
                                Some(seq),
                                format!("the log starts at line {seq}: earlier lines were removed"),
                            ));
                            break 'files;
                        }
                        if seq == 1 && stored_prev != ZERO_HASH {
                            v.problem =
                                Some(bad(Some(seq), "first line does not start the chain".into()));
                            break 'files;
                        }
                        if seq != 1 {
                            v.notes.push(format!(
                                "the log starts at line {seq}; older files were rotated away"
                            ));
                        }
                    }
                    Some((hash, before)) => {
                        if seq != before + 1 {
                            v.problem = Some(bad(
                                Some(seq),
                                format!(
                                    "sequence {seq} follows {before}: a line was deleted, inserted or reordered"
                                ),
                            ));
                            break 'files;
                        }
                        if stored_prev != hash {
                            v.problem = Some(bad(
                                Some(seq),
                                "chain broken: the line before was changed, deleted or reordered"
                                    .into(),
                            ));
                            break 'files;
                        }
                    }
                }
                match obj.get("auth").and_then(Value::as_str) {
                    Some("none") if !obj.contains_key("mac") => v.unauthenticated += 1,
                    Some("hmac") => {
                        let kid = obj.get("kid").and_then(Value::as_str).unwrap_or("");
                        let mac = obj.get("mac").and_then(Value::as_str).unwrap_or("");
                        if kid == key.id() {
                            if !key.check(canonical(&obj).as_bytes(), mac) {
                                v.problem = Some(bad(
                                    Some(seq),
                                    "MAC does not match: the line was edited or forged".into(),
                                ));
                                break 'files;
                            }
                            v.authenticated += 1;
                            last_auth = Some((seq, sha256_hex(line.as_bytes())));
                        } else {
                            v.earlier_key += 1;
                        }
                    }
                    _ => {
                        v.problem = Some(bad(Some(seq), "unknown or missing auth".into()));
                        break 'files;
                    }
                }
                v.lines += 1;
                v.first_seq.get_or_insert(seq);
                v.last_seq = Some(seq);
                let hash = sha256_hex(line.as_bytes());
                let kid = obj.get("kid").and_then(Value::as_str).unwrap_or("");
                hashes.insert(seq, (hash.clone(), kid.to_owned()));
                prev = Some((hash, seq));
            }
        }
        if v.problem.is_none() {
            self.check_head(key, &mut v, last_auth, &hashes)?;
        }
        Ok(v)
    }

    fn check_head(
        &self,
        key: &AuditKey,
        v: &mut Verification,
        last_auth: Option<(u64, String)>,
        hashes: &BTreeMap<u64, (String, String)>,
    ) -> Result<(), AuditError> {
        let head_path = self.head_path();
        let text = match std::fs::read(&head_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_err("read", &head_path)(e)),
        };
        let problem = |reason: &str| Problem {
            file: head_path.clone(),
            line: 0,
            seq: None,
            reason: reason.to_owned(),
        };
        if last_auth.is_none() && v.earlier_key > 0 {
            v.problem = Some(problem(
                "no line is authenticated with this vault's current data key (wrong vault, or the lines were forged)",
            ));
            return Ok(());
        }
        let Some(head) = parse_head(&text) else {
            if last_auth.is_some() {
                v.problem = Some(problem(
                    "the head anchor is missing or damaged: the log may have been truncated",
                ));
            } else if v.lines > 0 {
                v.notes.push(
                    "no line is authenticated with the current key, so truncation cannot be checked"
                        .into(),
                );
            }
            return Ok(());
        };
        if head.kid != key.id() {
            // Under another data key (the vault was rekeyed, or restored
            // from a copy made before a rekey): its MAC cannot be checked.
            // A current-key line after it would have moved it, though.
            if last_auth.as_ref().is_some_and(|(seq, _)| *seq > head.seq) {
                v.problem = Some(problem("the head anchor was replaced"));
            } else if hashes.get(&head.seq) != Some(&(head.hash.clone(), head.kid.clone())) {
                // The line it names must exist, unchanged, and be one that
                // key wrote (so a made-up head cannot hide a truncation).
                v.problem = Some(self.truncated_at(head.seq));
            } else {
                v.notes.push(format!(
                    "the head anchor (line {}) is under another data key (a rekey or restore); it is not authenticated with this key until the next authenticated line",
                    head.seq
                ));
            }
            return Ok(());
        }
        if !key.check(head.content.as_bytes(), &head.mac) {
            v.problem = Some(problem("the head anchor's MAC does not match"));
            return Ok(());
        }
        v.anchored_seq = Some(head.seq);
        match last_auth {
            Some((seq, hash)) if seq == head.seq && hash == head.hash => Ok(()),
            Some((seq, _)) if seq > head.seq => {
                // A line authenticated after the anchor was written would
                // have moved it: the head was rolled back.
                v.problem = Some(problem("the head anchor is older than the log"));
                Ok(())
            }
            _ => {
                v.problem = Some(self.truncated_at(head.seq));
                Ok(())
            }
        }
    }

    /// The log does not hold line `seq`, named by the head, as it was.
    fn truncated_at(&self, seq: u64) -> Problem {
        Problem {
            file: self.path().to_path_buf(),
            line: 0,
            seq: Some(seq),
            reason: format!(
                "log truncated or rewritten: line {seq} named by the head anchor is missing or changed"
            ),
        }
    }
}
