//! Byte sizes (`64m`, `1g`, `512k`, `1gb`, `1KiB`, plain bytes), parsed like Docker's
//! `units.RAMInBytes` (go-units 0.5), which compose-go uses for `mem_limit`, `shm_size` and
//! friends. OWNER: helper H4.
//!
//! A number (decimals allowed: `1.5g`), an optional single space, then an optional suffix:
//! `b`, or `k`/`m`/`g`/`t`/`p` optionally followed by `b` or `ib`, in any case. Every prefix
//! is a power of 1024. Fractions of a byte are truncated.

/// Parses a size in bytes. Negative, empty, malformed and overflowing sizes are errors.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let invalid = || {
        format!("invalid size `{s}`; use a number of bytes with an optional unit, e.g. `512m`, `1g`, `1.5GiB`")
    };
    let sep = s
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(invalid)?;
    let (num, suffix) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    if num.starts_with('-') {
        return Err(format!("invalid size `{s}`: a size cannot be negative"));
    }
    let size: f64 = num.parse().map_err(|_| invalid())?;
    if !size.is_finite() || size < 0.0 {
        return Err(invalid());
    }
    let multiplier = multiplier(suffix)
        .ok_or_else(|| format!("invalid size `{s}`: unknown unit `{suffix}`; use b, k, m, g, t or p (optionally followed by b or ib)"))?;
    let bytes = size * multiplier as f64;
    // Docker keeps sizes in an int64.
    if bytes >= i64::MAX as f64 {
        return Err(format!("invalid size `{s}`: too large"));
    }
    Ok(bytes as u64)
}

fn multiplier(suffix: &str) -> Option<u64> {
    if suffix.is_empty() {
        return Some(1);
    }
    let lower = suffix.to_ascii_lowercase();
    if lower == "b" {
        return Some(1);
    }
    let mut chars = lower.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        _ => return None,
    };
    match chars.as_str() {
        "" | "b" | "ib" => Some(1u64 << (10 * power)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("100b"), Ok(100));
        assert_eq!(parse_bytes("100B"), Ok(100));
        assert_eq!(parse_bytes("512k"), Ok(512 * 1024));
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("1gb"), Ok(1 << 30));
        assert_eq!(parse_bytes("1GB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1KiB"), Ok(1024));
        assert_eq!(parse_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(parse_bytes("2t"), Ok(2 << 40));
        assert_eq!(parse_bytes("1p"), Ok(1 << 50));
        assert_eq!(parse_bytes("1 m"), Ok(1 << 20));
        assert_eq!(parse_bytes("1.5"), Ok(1));
        assert_eq!(parse_bytes(".5k"), Ok(512));
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(parse_bytes("").unwrap_err().contains("invalid size ``"));
        assert!(parse_bytes("-1").unwrap_err().contains("negative"));
        assert!(parse_bytes("-1g").unwrap_err().contains("negative"));
        assert!(parse_bytes("m").is_err());
        assert!(parse_bytes("1x").unwrap_err().contains("unknown unit `x`"));
        assert!(parse_bytes("1kk").unwrap_err().contains("`kk`"));
        assert!(parse_bytes("1ki").is_err());
        assert!(parse_bytes("1kibb").is_err());
        assert!(parse_bytes("1bb").is_err());
        assert!(parse_bytes("1  m").is_err());
        assert!(parse_bytes(" 1").is_err());
        assert!(parse_bytes("1.2.3").is_err());
        assert!(parse_bytes("9999999p").unwrap_err().contains("too large"));
        assert!(parse_bytes("1e999").is_err());
        assert!(parse_bytes("1é").unwrap_err().contains("`é`"));
    }
}
