//! `devices:` short syntax: `HOST_PATH[:CONTAINER_PATH][:PERMISSIONS]`, as the Docker CLI's
//! `parseDevice` reads it. OWNER: helper H4.
//!
//! The container path defaults to the host path and the permissions to `rwm`; with two
//! fields, a second field made only of `r`, `w`, `m` is taken as the permissions
//! (`/dev/sda:r`).

use crate::stack::model::Device;

/// Default cgroup permissions of a device.
pub const DEFAULT_PERMISSIONS: &str = "rwm";

/// Parses one short-syntax device entry.
pub fn parse_device(s: &str) -> Result<Device, String> {
    if s.chars().any(char::is_control) {
        return Err(format!(
            "device {s:?} contains a control character; remove it"
        ));
    }
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, permissions) = match parts.as_slice() {
        [src] => (*src, *src, DEFAULT_PERMISSIONS),
        [src, second] if valid_permissions(second) && !second.is_empty() => (*src, *src, *second),
        [src, dst] => (*src, *dst, DEFAULT_PERMISSIONS),
        [src, dst, perms] => (*src, *dst, *perms),
        _ => {
            return Err(format!(
            "device `{s}` has too many colons; expected HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"
        ))
        }
    };
    device(source, target, permissions).map_err(|e| format!("device `{s}`: {e}"))
}

/// Validates the parts of a device (also for the long syntax) and builds it.
pub fn device(source: &str, target: &str, permissions: &str) -> Result<Device, String> {
    if !source.starts_with('/') {
        return Err(format!(
            "the host path `{source}` must be absolute (start with `/`)"
        ));
    }
    if !target.starts_with('/') {
        return Err(format!(
            "the container path `{target}` must be absolute (start with `/`)"
        ));
    }
    if permissions.is_empty() || !valid_permissions(permissions) {
        return Err(format!(
            "invalid permissions `{permissions}`; use a combination of r (read), w (write) \
             and m (mknod), e.g. `rwm`"
        ));
    }
    Ok(Device {
        source: source.to_string(),
        target: target.to_string(),
        permissions: permissions.to_string(),
    })
}

/// Whether `s` is made of `r`, `w`, `m`, each at most once.
pub fn valid_permissions(s: &str) -> bool {
    s.len() <= 3
        && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && !["r", "w", "m"].iter().any(|c| s.matches(c).count() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(s: &str, t: &str, p: &str) -> Device {
        Device {
            source: s.into(),
            target: t.into(),
            permissions: p.into(),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse_device("/dev/fuse"),
            Ok(dev("/dev/fuse", "/dev/fuse", "rwm"))
        );
        assert_eq!(
            parse_device("/dev/a:/dev/b"),
            Ok(dev("/dev/a", "/dev/b", "rwm"))
        );
        assert_eq!(
            parse_device("/dev/a:/dev/b:r"),
            Ok(dev("/dev/a", "/dev/b", "r"))
        );
        assert_eq!(parse_device("/dev/a:mr"), Ok(dev("/dev/a", "/dev/a", "mr")));
        assert_eq!(
            parse_device("/dev/a:/dev/b:rwm"),
            Ok(dev("/dev/a", "/dev/b", "rwm"))
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(parse_device("/dev/a:/dev/b:rwx")
            .unwrap_err()
            .contains("`rwx`"));
        assert!(parse_device("/dev/a:/dev/b:rr")
            .unwrap_err()
            .contains("`rr`"));
        assert!(parse_device("/dev/a:/dev/b:")
            .unwrap_err()
            .contains("permissions"));
        assert!(parse_device("dev/a")
            .unwrap_err()
            .contains("host path `dev/a`"));
        assert!(parse_device("/dev/a:b")
            .unwrap_err()
            .contains("container path `b`"));
        assert!(parse_device("/a:/b:r:x")
            .unwrap_err()
            .contains("too many colons"));
        assert!(parse_device("/dev/a\n").unwrap_err().contains("control"));
        assert!(device("/a", "/b", "").is_err());
    }
}
