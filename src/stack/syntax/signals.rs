//! Signal names for `stop_signal` (`SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`), read like Docker's
//! `signal.ParseSignal` on Linux. OWNER: helper H4.

/// Linux signal names (without `SIG`) and numbers, as Docker's `SignalMap` lists them.
const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
];

const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

/// The number of a signal given by name (any case, with or without `SIG`), by real-time
/// name (`RTMIN+N`, `RTMAX-N`), or by number (1 to 64).
pub fn signal_number(s: &str) -> Result<i32, String> {
    let invalid = || {
        format!(
            "invalid signal `{s}`; use a name such as SIGTERM, SIGINT or SIGRTMIN+3, or a \
             number from 1 to {RTMAX}"
        )
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<i32>() {
            Ok(n @ 1..=RTMAX) => Ok(n),
            _ => Err(invalid()),
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(known, _)| *known == name) {
        return Ok(n);
    }
    let offset = |rest: &str| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.get(1..)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i32>().ok()
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        if rest.is_empty() || rest.starts_with('+') {
            if let Some(n) = offset(rest).filter(|n| *n <= 15) {
                return Ok(RTMIN + n);
            }
        }
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        if rest.is_empty() || rest.starts_with('-') {
            if let Some(n) = offset(rest).filter(|n| *n <= 14) {
                return Ok(RTMAX - n);
            }
        }
    }
    Err(invalid())
}

/// Validates a `stop_signal` value.
pub fn validate_signal(s: &str) -> Result<(), String> {
    signal_number(s).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(signal_number("SIGTERM"), Ok(15));
        assert_eq!(signal_number("TERM"), Ok(15));
        assert_eq!(signal_number("sigterm"), Ok(15));
        assert_eq!(signal_number("15"), Ok(15));
        assert_eq!(signal_number("SIGKILL"), Ok(9));
        assert_eq!(signal_number("SIGUSR1"), Ok(10));
        assert_eq!(signal_number("SIGRTMIN"), Ok(34));
        assert_eq!(signal_number("SIGRTMIN+3"), Ok(37));
        assert_eq!(signal_number("RTMAX-1"), Ok(63));
        assert_eq!(signal_number("SIGRTMAX"), Ok(64));
        assert!(validate_signal("SIGQUIT").is_ok());
    }

    #[test]
    fn errors_name_the_bad_part() {
        for bad in [
            "", "0", "65", "SIGFOO", "SIG", "RTMIN+16", "RTMIN-1", "RTMAX+1", "RTMIN+", "-9",
            "SIGTERM ",
        ] {
            let e = signal_number(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }
}
