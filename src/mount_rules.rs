//! What may be mounted where in a container, as pure rules on the spelled values: the stack
//! front end (`berth config` names the key) and the engine (at create, and the runtime for a
//! bundle) check the same things with the same words. Where a path leads through an image's
//! symlinks is the runtime's check, at mount time.
//!
//! - A container path something is mounted on is absolute and, with `.` and `..` resolved, is
//!   neither `/` nor in the kernel's /proc or /sys (a mount there would redirect what the
//!   runtime writes to /proc, or hide the kernel's view).
//! - A tmpfs takes tmpfs's own options only: `bind` or `rbind` there would turn it into a bind
//!   of a host path (Podman refuses them too), propagation has no place on it.

use std::path::{Component, Path};

/// The kernel's trees in a container.
pub const KERNEL_TREES: [&str; 2] = ["/proc", "/sys"];

/// The mount flags a tmpfs takes.
pub const TMPFS_FLAGS: [&str; 14] = [
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

/// tmpfs's own `KEY=VALUE` options (Docker's list), passed to the kernel.
pub const TMPFS_DATA: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// `path` made absolute with `.` and `..` resolved lexically (`..` at the root stays there).
pub fn clean(path: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or("\u{fffd}")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// True when `path` is `dir` or below it (both clean).
pub fn within(path: &str, dir: &str) -> bool {
    path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Why a container path cannot be mounted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    Relative,
    Root,
    /// In this kernel tree.
    Kernel(&'static str),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Relative => write!(f, "it must be absolute (start with `/`)"),
            TargetError::Root => write!(f, "the container's root cannot be mounted over"),
            TargetError::Kernel(tree) => {
                write!(f, "{tree} belongs to the kernel; mount elsewhere")
            }
        }
    }
}

/// A container path something is mounted on, cleaned, or why it cannot be one.
pub fn mount_target(target: &str) -> Result<String, TargetError> {
    if !target.starts_with('/') {
        return Err(TargetError::Relative);
    }
    let clean = clean(Path::new(target));
    if clean == "/" {
        return Err(TargetError::Root);
    }
    match KERNEL_TREES.into_iter().find(|k| within(&clean, k)) {
        Some(tree) => Err(TargetError::Kernel(tree)),
        None => Ok(clean),
    }
}

/// Why a tmpfs option is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TmpfsOptionError {
    /// A tmpfs option given a value it cannot take.
    BadValue { option: String, key: String },
    /// A tmpfs `KEY=VALUE` option without its value.
    NoValue(String),
    /// Not an option of a tmpfs (`bind`, `rbind`, propagation, anything else).
    Foreign(String),
}

impl std::fmt::Display for TmpfsOptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TmpfsOptionError::BadValue { option, key } => {
                write!(f, "`{option}` is not a valid value for {key}")?
            }
            TmpfsOptionError::NoValue(o) => write!(f, "`{o}` needs a value ({o}=...)")?,
            TmpfsOptionError::Foreign(o) => write!(f, "`{o}` is not a tmpfs option")?,
        }
        write!(
            f,
            "; a tmpfs takes {}=VALUE and the flags {} (no bind, rbind or propagation: a \
             tmpfs is not a bind mount)",
            TMPFS_DATA.join("=VALUE, "),
            TMPFS_FLAGS.join(", ")
        )
    }
}

/// Whether `value` suits the tmpfs option `key`.
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

/// The comma-separated options of a tmpfs, each checked.
pub fn tmpfs_options(options: &str) -> Result<Vec<String>, TmpfsOptionError> {
    let mut out = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            None if TMPFS_FLAGS.contains(&o) => {}
            None if TMPFS_DATA.contains(&o) => return Err(TmpfsOptionError::NoValue(o.into())),
            Some((key, value)) if TMPFS_DATA.contains(&key) => {
                if !value_ok(key, value) {
                    return Err(TmpfsOptionError::BadValue {
                        option: o.into(),
                        key: key.into(),
                    });
                }
            }
            _ => return Err(TmpfsOptionError::Foreign(o.into())),
        }
        out.push(o.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_targets() {
        assert_eq!(mount_target("/data//x/../y").unwrap(), "/data/y");
        assert_eq!(mount_target("/process").unwrap(), "/process");
        assert_eq!(mount_target("data"), Err(TargetError::Relative));
        for root in ["/", "/a/..", "//"] {
            assert_eq!(mount_target(root), Err(TargetError::Root), "{root}");
        }
        for (bad, tree) in [
            ("/proc", "/proc"),
            ("//proc/sys", "/proc"),
            ("/data/../proc", "/proc"),
            ("/sys/fs/cgroup", "/sys"),
            ("/run/secrets/../../sys/x", "/sys"),
        ] {
            assert_eq!(mount_target(bad), Err(TargetError::Kernel(tree)), "{bad}");
        }
    }

    #[test]
    fn tmpfs_takes_its_own_options_only() {
        for ok in [
            "",
            "size=64m,mode=1777,uid=0,gid=0,nr_inodes=1k,exec,ro",
            "size=50%",
            "mpol=bind:0-1",
        ] {
            tmpfs_options(ok).unwrap();
        }
        assert!(matches!(
            tmpfs_options("size"),
            Err(TmpfsOptionError::NoValue(_))
        ));
        for bad_value in ["mode=8", "uid=root", "size=1m;bind", "mode=17777"] {
            assert!(
                matches!(
                    tmpfs_options(bad_value),
                    Err(TmpfsOptionError::BadValue { .. })
                ),
                "{bad_value}"
            );
        }
        for foreign in ["rbind", "bind", "rshared", "x-foo", "remount"] {
            assert_eq!(
                tmpfs_options(foreign),
                Err(TmpfsOptionError::Foreign(foreign.into()))
            );
        }
    }
}
