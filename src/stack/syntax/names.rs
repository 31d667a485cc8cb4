//! Name validators, with the patterns Compose and the engine enforce. OWNER: helper H4.
//!
//! * keys of `services`, `volumes`, `networks`, `secrets`, `configs`: the Compose
//!   Specification's `^[a-zA-Z0-9._-]+$` (compose-spec schema `patternProperties`);
//! * `container_name`: the engine's `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`;
//! * profiles: `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$` (Compose Specification, "profiles");
//! * volume names the local driver creates: `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.
//!
//! Each returns a message that shows the pattern.

/// The Compose Specification's pattern for the keys of the top-level sections.
pub const KEY_PATTERN: &str = "^[a-zA-Z0-9._-]+$";
/// The engine's pattern for container names.
pub const CONTAINER_NAME_PATTERN: &str = "^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$";
/// The Compose Specification's pattern for profile names.
pub const PROFILE_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$";
/// The engine's pattern for names of volumes (and other restricted names).
pub const RESTRICTED_NAME_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.-]+$";

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// `^[a-zA-Z0-9._-]+$`
fn matches_key(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char)
}

/// `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`
fn matches_restricted(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_alnum) && !chars.as_str().is_empty() && chars.all(is_name_char)
}

fn check(what: &str, name: &str, ok: bool, pattern: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} {name:?}: it must match {pattern} (letters, digits, `_`, `.`, `-`)"
        ))
    }
}

/// A service name (a key of `services`).
pub fn service_name(name: &str) -> Result<(), String> {
    check("service name", name, matches_key(name), KEY_PATTERN)
}

/// A volume key (a key of the top-level `volumes`).
pub fn volume_name(name: &str) -> Result<(), String> {
    check("volume name", name, matches_key(name), KEY_PATTERN)
}

/// A network key (a key of the top-level `networks`).
pub fn network_name(name: &str) -> Result<(), String> {
    check("network name", name, matches_key(name), KEY_PATTERN)
}

/// A secret or config key (a key of the top-level `secrets` or `configs`).
pub fn secret_or_config_name(name: &str) -> Result<(), String> {
    check(
        "secret or config name",
        name,
        matches_key(name),
        KEY_PATTERN,
    )
}

/// A `container_name`.
pub fn container_name(name: &str) -> Result<(), String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    check(
        "container name",
        name,
        matches_restricted(bare),
        CONTAINER_NAME_PATTERN,
    )
}

/// A profile name (in `profiles:`, `--profile`, `COMPOSE_PROFILES`). `*` (all profiles) is
/// accepted too.
pub fn profile_name(name: &str) -> Result<(), String> {
    check(
        "profile name",
        name,
        name == "*" || matches_restricted(name),
        PROFILE_PATTERN,
    )
}

/// The full name of a volume the engine's local driver creates (`<project>_<key>` or
/// `name:`).
pub fn engine_volume_name(name: &str) -> Result<(), String> {
    check(
        "volume name",
        name,
        matches_restricted(name),
        RESTRICTED_NAME_PATTERN,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["web", "a", "_private", ".x", "web-1.v2_beta", "1"] {
            assert!(service_name(ok).is_ok(), "{ok}");
            assert!(volume_name(ok).is_ok(), "{ok}");
            assert!(network_name(ok).is_ok(), "{ok}");
            assert!(secret_or_config_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "web app", "web/app", "wéb", "a:b", "a\n"] {
            let e = service_name(bad).unwrap_err();
            assert!(e.contains(KEY_PATTERN) && e.contains("service name"), "{e}");
            assert!(volume_name(bad).unwrap_err().contains("volume name"));
            assert!(network_name(bad).unwrap_err().contains("network name"));
            assert!(secret_or_config_name(bad).is_err());
        }
    }

    #[test]
    fn container_names() {
        for ok in ["db", "/db", "my_app.db-1", "0x"] {
            assert!(container_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "/a", "_db", "-db", "db!", "//db", "db 1"] {
            let e = container_name(bad).unwrap_err();
            assert!(e.contains(CONTAINER_NAME_PATTERN), "{e}");
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn profiles_and_engine_names() {
        assert!(profile_name("debug").is_ok());
        assert!(profile_name("*").is_ok());
        assert!(profile_name("dev.local-1").is_ok());
        for bad in ["", "d", "-x", "a b"] {
            assert!(profile_name(bad).unwrap_err().contains(PROFILE_PATTERN));
        }
        assert!(engine_volume_name("proj_data").is_ok());
        assert!(engine_volume_name("proj__x").is_ok());
        assert!(engine_volume_name("_x")
            .unwrap_err()
            .contains(RESTRICTED_NAME_PATTERN));
    }
}
