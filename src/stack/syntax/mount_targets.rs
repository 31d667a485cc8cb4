//! Where a service mounts things in its container (`volumes[].target`, `tmpfs` entries,
//! `secrets[].target`, `configs[].target`) and the options of a `tmpfs` entry, checked as the
//! engine checks them at create, so `berth config` names the key: an absolute path that, with
//! `.` and `..` resolved, is neither `/` nor in the kernel's /proc or /sys; and a tmpfs takes
//! tmpfs's own options only (a `bind` or `rbind` there would make it a bind of a host path).

use std::path::{Component, Path};

/// The mount flags a tmpfs takes.
const TMPFS_FLAGS: [&str; 14] = [
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "relatime",
    "strictatime",
    "noatime",
    "sync",
    "async",
    "dirsync",
];

/// tmpfs's own `KEY=VALUE` options.
const TMPFS_DATA: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// Checks a container path something is mounted on; returns it cleaned.
pub fn container_path(target: &str) -> Result<String, String> {
    if !target.starts_with('/') {
        return Err(format!(
            "the container path `{target}` must be absolute (start with `/`)"
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(target).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let clean = format!("/{}", parts.join("/"));
    if clean == "/" {
        return Err(format!(
            "the container path `{target}` is the container's root, which cannot be mounted over"
        ));
    }
    for kernel in ["/proc", "/sys"] {
        if clean == kernel || clean.starts_with(&format!("{kernel}/")) {
            return Err(format!(
                "the container path `{target}` is in {kernel}, which belongs to the kernel; \
                 mount elsewhere"
            ));
        }
    }
    Ok(clean)
}

fn value_ok(key: &str, value: &str) -> bool {
    let number_then = |suffixes: &str| {
        let digits = value.trim_end_matches(|c| suffixes.contains(c));
        !digits.is_empty()
            && value.len() - digits.len() <= 1
            && digits.bytes().all(|b| b.is_ascii_digit())
    };
    match key {
        "size" => number_then("kKmMgGtTpPeE%"),
        "nr_inodes" | "nr_blocks" => number_then("kKmMgGtTpPeE"),
        "mode" => {
            value.bytes().all(|b| (b'0'..=b'7').contains(&b))
                && u32::from_str_radix(value, 8).is_ok_and(|m| m <= 0o7777)
        }
        "uid" | "gid" => value.bytes().all(|b| b.is_ascii_digit()) && value.parse::<u32>().is_ok(),
        "mpol" => {
            !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":-=".contains(&b))
        }
        _ => false,
    }
}

/// A `tmpfs` entry, `PATH[:OPTIONS]`.
pub fn tmpfs_entry(entry: &str) -> Result<(), String> {
    let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
    container_path(target)?;
    for o in options.split(',').filter(|o| !o.is_empty()) {
        let ok = match o.split_once('=') {
            None => TMPFS_FLAGS.contains(&o),
            Some((key, value)) => TMPFS_DATA.contains(&key) && value_ok(key, value),
        };
        if !ok {
            return Err(format!(
                "tmpfs `{entry}`: `{o}` is not a tmpfs option (or not a valid value); a tmpfs \
                 takes {}=VALUE and the flags {} (no bind, rbind or propagation)",
                TMPFS_DATA.join("=VALUE, "),
                TMPFS_FLAGS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(container_path("/data//x/../y").unwrap(), "/data/y");
        assert_eq!(container_path("/process").unwrap(), "/process");
        for bad in [
            "data",
            "/",
            "/a/..",
            "/proc",
            "//proc/sys",
            "/data/../proc",
            "/sys/fs/cgroup",
            "/run/secrets/../../sys/x",
        ] {
            assert!(container_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs_options() {
        for ok in [
            "/run",
            "/run:size=64m,mode=1777,uid=0,gid=0,nr_inodes=1k,exec,ro",
            "/x:size=50%",
            "/x:mpol=bind:0-1",
        ] {
            tmpfs_entry(ok).unwrap();
        }
        for bad in [
            "/proc/sys",
            "/x:rbind",
            "/x:bind",
            "/x:rshared",
            "/x:x-foo",
            "/x:size",
            "/x:size=1m;bind",
            "/x:mode=8",
            "/x:uid=root",
            "x",
        ] {
            assert!(tmpfs_entry(bad).is_err(), "{bad}");
        }
    }
}
