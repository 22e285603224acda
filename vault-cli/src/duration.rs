//! Durations on the command line (`unlock --for 15m`): whole numbers with
//! the units `h`, `m` and `s`, combined largest first (`1h30m`); a bare
//! number means seconds.

use std::time::Duration;

/// The longest `unlock --for` accepted.
pub const MAX: Duration = Duration::from_secs(24 * 3600);

/// Parses a duration between 1 s and [`MAX`].
///
/// jiff's friendly format does the reading and keeps the units largest
/// first, each at most once. It also reads spaces, fractions, signs,
/// sub-second and long unit names, which the CLI does not accept: only
/// digits and the one-letter units `h`, `m`, `s` reach it (so no `ms`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration like 90s, 15m, 1h or 1h30m");
    let allowed = |b: &u8| b.is_ascii_digit() || matches!(b, b'h' | b'm' | b's');
    let bytes = text.as_bytes();
    let one_letter_units = !bytes
        .windows(2)
        .any(|w| w.iter().all(|b| !b.is_ascii_digit()));
    if text.is_empty() || !bytes.iter().all(allowed) || !one_letter_units {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = text.parse().map_err(|_| invalid())?;
        return within_range(Duration::from_secs(seconds), text);
    }
    match text.parse::<jiff::SignedDuration>() {
        Ok(d) => within_range(Duration::try_from(d).map_err(|_| invalid())?, text),
        // Well formed, but a number too large for jiff: too long.
        Err(_) if ones(text).parse::<jiff::SignedDuration>().is_ok() => Err(too_long(text)),
        Err(_) => Err(invalid()),
    }
}

/// `text` with every run of digits replaced by `1`: its shape.
fn ones(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !in_number {
            out.push('1');
        }
        in_number = c.is_ascii_digit();
    }
    out
}

fn within_range(d: Duration, text: &str) -> Result<Duration, String> {
    if d.is_zero() {
        return Err(format!(
            "{text:?} is zero; use `credvault lock` to end a session unlock"
        ));
    }
    if d > MAX {
        return Err(too_long(text));
    }
    Ok(d)
}

fn too_long(text: &str) -> String {
    format!("{text:?} is longer than the limit of 24h")
}

/// Shows a duration in the units [`parse`] reads: "15m", "1h30m", "90s" as
/// "1m30s" (whole seconds).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn show(d: Duration) -> String {
    use jiff::fmt::friendly::{Designator, Spacing, SpanPrinter};
    let whole = jiff::SignedDuration::from_secs(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    SpanPrinter::new()
        .designator(Designator::Compact)
        .spacing(Spacing::None)
        .duration_to_string(&whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        for (text, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("1h", 3600),
            ("1h30m", 5400),
            ("1h0m5s", 3605),
            ("2", 2),
            ("24h", 86400),
            ("01m", 60),
            ("1m0s", 60),
        ] {
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)), "{text}");
        }
    }

    #[test]
    fn rejects_nonsense_zero_and_too_long() {
        for text in [
            "",
            "m",
            "15x",
            "1m1h",
            "1h1h",
            "1.5h",
            "-1m",
            "0s",
            "0",
            "24h1s",
            "25h",
            "99999999999999999999h",
            "1h 30m",
            "30ms",
            "1h30ms",
            "1h30",
            "1hr",
            "+5m",
            "PT5M",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert!(parse("0").unwrap_err().contains("credvault lock"));
        assert!(parse("25h").unwrap_err().contains("24h"));
        assert!(parse("9999999999999h").unwrap_err().contains("24h"));
        assert!(parse("1m1h").unwrap_err().contains("like 90s"));
    }

    #[test]
    fn shows_what_it_parses() {
        for text in ["90s", "15m", "1h", "1h30m", "2s"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&show(d)), Ok(d));
        }
        assert_eq!(show(Duration::from_secs(90)), "1m30s");
        assert_eq!(show(Duration::from_secs(5400)), "1h30m");
        assert_eq!(show(Duration::from_secs(3 * 86400 + 5)), "72h5s");
        assert_eq!(show(Duration::from_millis(1500)), "1s");
        assert_eq!(show(Duration::ZERO), "0s");
    }
}
