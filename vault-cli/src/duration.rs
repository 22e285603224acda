//! Durations on the command line (`unlock --for 15m`): whole numbers with
//! the units `h`, `m` and `s`, combined largest first (`1h30m`); a bare
//! number means seconds.

use std::time::Duration;

/// The longest `unlock --for` accepted.
pub const MAX: Duration = Duration::from_secs(24 * 3600);

/// Parses a duration between 1 s and [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration like 90s, 15m, 1h or 1h30m");
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = text.parse().map_err(|_| invalid())?;
        return within_range(Duration::from_secs(seconds), text);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    // Units seen so far must come largest first, each at most once.
    let mut last_unit = u64::MAX;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        if number.is_empty() || unit >= last_unit {
            return Err(invalid());
        }
        last_unit = unit;
        let n: u64 = number.parse().map_err(|_| invalid())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| too_long(text))?;
    }
    if !number.is_empty() {
        return Err(invalid());
    }
    within_range(Duration::from_secs(total), text)
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
/// "1m30s".
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn show(d: Duration) -> String {
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
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
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert!(parse("0").unwrap_err().contains("credvault lock"));
        assert!(parse("25h").unwrap_err().contains("24h"));
    }

    #[test]
    fn shows_what_it_parses() {
        for text in ["90s", "15m", "1h", "1h30m", "2s"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&show(d)), Ok(d));
        }
        assert_eq!(show(Duration::from_secs(90)), "1m30s");
        assert_eq!(show(Duration::from_secs(5400)), "1h30m");
    }
}
