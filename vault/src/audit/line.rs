//! One line of the log and the head record: encoding, parsing, hashes and MACs. No I/O.

use super::*;

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use serde_json::Value;
use sha2::Digest;

pub(super) fn mac_hex(key: &SecretKey, content: &[u8]) -> String {
    // HMAC accepts keys of any length.
    #[allow(clippy::expect_used)]
    let mut m =
        <HmacSha256 as KeyInit>::new_from_slice(key.expose()).expect("HMAC takes any key length");
    m.update(content);
    crypto::hex_lower(&m.finalize().into_bytes())
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    crypto::hex_lower(&Sha256::digest(bytes))
}

pub(super) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// Whether `next` is a marker line recording `fragment` as torn. Its MAC
/// and its place in the chain are checked as for any line when the loop
/// reaches it.
pub(super) fn recovers(next: Option<&&str>, fragment: &[u8]) -> bool {
    let Some(obj) = next.and_then(|l| parse_object(l)) else {
        return false;
    };
    obj.get("op").and_then(Value::as_str) == Some(RECOVERED_OP)
        && obj.get("error").and_then(Value::as_str) == Some(torn_record(fragment).as_str())
}

pub(super) fn parse_object(line: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

pub(super) fn parse_seq(line: &str) -> Option<u64> {
    parse_object(line)?.get("seq")?.as_u64()
}

/// The line without `mac`, keys sorted, compact.
pub(super) fn canonical(obj: &serde_json::Map<String, Value>) -> String {
    let sorted: BTreeMap<&String, &Value> = obj.iter().filter(|(k, _)| *k != "mac").collect();
    // Serializing strings and numbers to a String cannot fail.
    #[allow(clippy::expect_used)]
    serde_json::to_string(&sorted).expect("JSON of plain values")
}

/// The operation of the marker line that records a torn line.
pub const RECOVERED_OP: &str = "recover-torn-line";

/// What a marker says of the torn fragment (in its `error` field): its
/// length and SHA-256, `torn:<bytes>:<sha256 hex>`.
pub(super) fn torn_record(fragment: &[u8]) -> String {
    format!("torn:{}:{}", fragment.len(), sha256_hex(fragment))
}

pub(super) fn encode(event: &Event, seq: u64, prev: &str, key: Option<&AuditKey>) -> String {
    // Written directly in the canonical form (`canonical`: keys in byte
    // order, compact, serde_json's string escaping), without building a
    // map: this runs on every audited read of a long-lived handle. The
    // order: auth, error, key, kid, mac, op, outcome, pid, prefix, prev,
    // seq, ts, user, v. The tests check it against `canonical`.
    let mut out: Vec<u8> = Vec::with_capacity(384);
    out.push(b'{');
    put_str(
        &mut out,
        "auth",
        if key.is_some() { "hmac" } else { "none" },
    );
    if let Some(e) = &event.error {
        put_str(&mut out, "error", e);
    }
    if let Some(k) = &event.key {
        put_str(&mut out, "key", k);
    }
    if let Some(key) = key {
        put_str(&mut out, "kid", key.id());
    }
    let mac_at = out.len();
    put_str(&mut out, "op", &event.operation);
    put_str(&mut out, "outcome", event.outcome.as_str());
    put_num(&mut out, "pid", u64::from(event.pid));
    if let Some(p) = &event.prefix {
        put_str(&mut out, "prefix", p);
    }
    put_str(&mut out, "prev", prev);
    put_num(&mut out, "seq", seq);
    put_str(&mut out, "ts", &rfc3339(event.time));
    put_str(&mut out, "user", &event.user);
    put_num(&mut out, "v", 1);
    // The last field's comma becomes the closing brace.
    out.pop();
    out.push(b'}');
    if let Some(key) = key {
        // The MAC covers the line without `mac` (the canonical content).
        let mac = key.mac(&out);
        let field = format!("\"mac\":\"{mac}\",");
        out.splice(mac_at..mac_at, field.into_bytes());
    }
    // Only UTF-8 was written (serde_json escapes into UTF-8).
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends `"name":"value",` with JSON string escaping.
pub(super) fn put_str(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    // Serializing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
    out.push(b',');
}

/// Appends `"name":number,`.
pub(super) fn put_num(out: &mut Vec<u8>, name: &str, value: u64) {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(24);
    let _ = write!(text, "\"{name}\":{value},");
    out.extend_from_slice(text.as_bytes());
}

pub(super) fn parse_entry(line: &str) -> Option<Entry> {
    let obj = parse_object(line)?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Entry {
        seq: obj.get("seq")?.as_u64()?,
        timestamp: s("ts")?,
        operation: s("op")?,
        key: s("key"),
        prefix: s("prefix"),
        outcome: s("outcome")?,
        error: s("error"),
        pid: obj.get("pid").and_then(Value::as_u64).unwrap_or(0),
        user: s("user").unwrap_or_default(),
        auth: s("auth").unwrap_or_default(),
        raw: line.to_owned(),
    })
}

pub(super) struct Head {
    pub(super) seq: u64,
    pub(super) hash: String,
    pub(super) kid: String,
    pub(super) mac: String,
    pub(super) content: String,
}

pub(super) fn head_record(key: &AuditKey, seq: u64, hash: &str) -> String {
    // Fixed length, so rewriting it in place never leaves old bytes behind.
    let content = format!("{HEAD_MAGIC} seq={seq:020} hash={hash} kid={}", key.id());
    let mac = key.mac(content.as_bytes());
    format!("{content} mac={mac}\n")
}

pub(super) fn parse_head(text: &str) -> Option<Head> {
    let line = text.lines().next()?;
    let (content, mac) = line.rsplit_once(" mac=")?;
    let rest = content.strip_prefix(HEAD_MAGIC)?;
    let mut seq = None;
    let mut hash = None;
    let mut kid = None;
    for field in rest.split_whitespace() {
        match field.split_once('=')? {
            ("seq", v) => seq = v.parse().ok(),
            ("hash", v) => hash = Some(v.to_owned()),
            ("kid", v) => kid = Some(v.to_owned()),
            _ => return None,
        }
    }
    Some(Head {
        seq: seq?,
        hash: hash?,
        kid: kid?,
        mac: mac.to_owned(),
        content: content.to_owned(),
    })
}
