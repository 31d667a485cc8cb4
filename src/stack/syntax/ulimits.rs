//! `ulimits:` checks: the engine's resource names and soft <= hard. OWNER: helper H4.

use crate::stack::model::Ulimit;

/// Resource names the engine accepts (`RLIMIT_*` without the prefix, lower case).
pub const NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Validates one ulimit; `-1` means unlimited. A single number sets soft and hard alike.
pub fn ulimit(name: &str, soft: i64, hard: i64) -> Result<Ulimit, String> {
    if !NAMES.contains(&name) {
        return Err(format!(
            "unknown ulimit `{name}`; use one of {}",
            NAMES.join(", ")
        ));
    }
    if soft < -1 || hard < -1 {
        return Err(format!(
            "ulimit `{name}`: values must be -1 (unlimited) or non-negative"
        ));
    }
    let unlimited = |v: i64| if v == -1 { i64::MAX } else { v };
    if unlimited(soft) > unlimited(hard) {
        return Err(format!(
            "ulimit `{name}`: the soft limit {soft} exceeds the hard limit {hard}"
        ));
    }
    Ok(Ulimit { soft, hard })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits() {
        assert_eq!(
            ulimit("nofile", 1024, 2048),
            Ok(Ulimit {
                soft: 1024,
                hard: 2048
            })
        );
        assert_eq!(
            ulimit("nproc", 65535, 65535),
            Ok(Ulimit {
                soft: 65535,
                hard: 65535
            })
        );
        assert!(ulimit("memlock", -1, -1).is_ok());
        assert!(ulimit("memlock", 10, -1).is_ok());
        assert!(ulimit("nofile", 4096, 1024)
            .unwrap_err()
            .contains("exceeds"));
        assert!(ulimit("nofile", -1, 1024).unwrap_err().contains("exceeds"));
        assert!(ulimit("files", 1, 1).unwrap_err().contains("`files`"));
        assert!(ulimit("nofile", -2, 1)
            .unwrap_err()
            .contains("non-negative"));
    }
}
