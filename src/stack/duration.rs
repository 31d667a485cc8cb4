//! Durations as the Compose Specification writes them: Go's `time.ParseDuration` syntax
//! (`1h30m`, `10s`, `500ms`, `1.5s`, `2us`), printed back in Go's canonical form.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// A duration parsed from, and printed as, Go's duration syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// Parses `1h2m3.5s`, `100ms`, `5us`/`5µs`, `10ns`; a bare `0` is zero. A bare number
    /// other than 0 is refused, as Go refuses it (a unit is required).
    pub fn parse(s: &str) -> Result<GoDuration, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        if s == "0" {
            return Ok(GoDuration(Duration::ZERO));
        }
        if s.starts_with('-') {
            return Err(format!("negative duration {s:?}"));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        let mut total: f64 = 0.0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| format!("missing unit in duration {s:?} (use e.g. 30s, 1m30s)"))?;
            if num_len == 0 {
                return Err(format!("invalid duration {s:?}"));
            }
            let number: f64 = rest[..num_len]
                .parse()
                .map_err(|_| format!("invalid number in duration {s:?}"))?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let nanos_per = match unit {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => {
                    return Err(format!(
                        "unknown unit {unit:?} in duration {s:?} (units: ns, us, ms, s, m, h)"
                    ))
                }
            };
            total += number * nanos_per;
        }
        if !total.is_finite() || total > u64::MAX as f64 {
            return Err(format!("duration {s:?} is too large"));
        }
        Ok(GoDuration(Duration::from_nanos(total.round() as u64)))
    }

    pub fn as_duration(&self) -> Duration {
        self.0
    }
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`: `1h2m3s`, `1.5s`, `100ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000_000_000 {
            let (value, unit) = if nanos < 1_000 {
                return write!(f, "{nanos}ns");
            } else if nanos < 1_000_000 {
                (nanos as f64 / 1e3, "µs")
            } else {
                (nanos as f64 / 1e6, "ms")
            };
            return write!(f, "{}{unit}", trim_float(value));
        }
        let hours = nanos / 3_600_000_000_000;
        let minutes = (nanos / 60_000_000_000) % 60;
        let secs = (nanos % 60_000_000_000) as f64 / 1e9;
        if hours > 0 {
            write!(f, "{hours}h{minutes}m{}s", trim_float(secs))
        } else if minutes > 0 {
            write!(f, "{minutes}m{}s", trim_float(secs))
        } else {
            write!(f, "{}s", trim_float(secs))
        }
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Duration {
        GoDuration::parse(s).unwrap().0
    }

    #[test]
    fn parses_go_syntax() {
        assert_eq!(p("10s"), Duration::from_secs(10));
        assert_eq!(p("1m30s"), Duration::from_secs(90));
        assert_eq!(p("1h"), Duration::from_secs(3600));
        assert_eq!(p("500ms"), Duration::from_millis(500));
        assert_eq!(p("1.5s"), Duration::from_millis(1500));
        assert_eq!(p("2us"), Duration::from_micros(2));
        assert_eq!(p("0"), Duration::ZERO);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(GoDuration::parse("10")
            .unwrap_err()
            .contains("missing unit"));
        assert!(GoDuration::parse("10x")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(GoDuration::parse("-1s").is_err());
        assert!(GoDuration::parse("").is_err());
        assert!(GoDuration::parse("s").is_err());
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(GoDuration(Duration::from_secs(90)).to_string(), "1m30s");
        assert_eq!(GoDuration(Duration::from_secs(3600)).to_string(), "1h0m0s");
        assert_eq!(GoDuration(Duration::from_millis(1500)).to_string(), "1.5s");
        assert_eq!(GoDuration(Duration::from_millis(100)).to_string(), "100ms");
        assert_eq!(GoDuration(Duration::ZERO).to_string(), "0s");
        assert_eq!(GoDuration(Duration::from_secs(30)).to_string(), "30s");
    }
}
