//! `restart:` policies: `no`, `always`, `on-failure[:N]`, `unless-stopped`, as Docker's
//! `ParseRestartPolicy` reads them. OWNER: helper H4.

use std::fmt;

/// A parsed restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    Always,
    /// Restart on a non-zero exit, at most `N` times when given.
    OnFailure(Option<u32>),
    UnlessStopped,
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::OnFailure(None) => f.write_str("on-failure"),
            RestartPolicy::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

/// Parses a `restart:` value. An empty value means no policy, as in Docker.
pub fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match s.split_once(':') {
        Some((name, count)) => (name, Some(count)),
        None => (s, None),
    };
    let policy = match name {
        "" | "no" => RestartPolicy::No,
        "always" => RestartPolicy::Always,
        "unless-stopped" => RestartPolicy::UnlessStopped,
        "on-failure" => RestartPolicy::OnFailure(None),
        _ => {
            return Err(format!(
                "invalid restart policy `{s}`; use no, always, on-failure[:MAX_RETRIES] or \
                 unless-stopped"
            ))
        }
    };
    match (policy, count) {
        (_, None) => Ok(policy),
        (RestartPolicy::OnFailure(_), Some(n)) => n
            .parse::<u32>()
            .map(|n| RestartPolicy::OnFailure(Some(n)))
            .map_err(|_| {
                format!(
                    "invalid restart policy `{s}`: the retry count `{n}` must be a \
                     non-negative integer"
                )
            }),
        (_, Some(_)) => Err(format!(
            "invalid restart policy `{s}`: a maximum retry count can only be used with \
             on-failure"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!(parse_restart("no"), Ok(RestartPolicy::No));
        assert_eq!(parse_restart(""), Ok(RestartPolicy::No));
        assert_eq!(parse_restart("always"), Ok(RestartPolicy::Always));
        assert_eq!(
            parse_restart("unless-stopped"),
            Ok(RestartPolicy::UnlessStopped)
        );
        assert_eq!(
            parse_restart("on-failure"),
            Ok(RestartPolicy::OnFailure(None))
        );
        assert_eq!(
            parse_restart("on-failure:5"),
            Ok(RestartPolicy::OnFailure(Some(5)))
        );
        assert_eq!(
            RestartPolicy::OnFailure(Some(5)).to_string(),
            "on-failure:5"
        );
        assert_eq!(RestartPolicy::UnlessStopped.to_string(), "unless-stopped");
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(parse_restart("sometimes")
            .unwrap_err()
            .contains("`sometimes`"));
        assert!(parse_restart("on-failure:x").unwrap_err().contains("`x`"));
        assert!(parse_restart("on-failure:-1").is_err());
        assert!(parse_restart("always:3")
            .unwrap_err()
            .contains("only be used with on-failure"));
        assert!(parse_restart("Always").is_err());
    }
}
