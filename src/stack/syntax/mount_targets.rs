//! Where a service mounts things in its container (`volumes[].target`, `tmpfs` entries,
//! `secrets[].target`, `configs[].target`) and the options of a `tmpfs` entry, checked as the
//! engine checks them at create, so `berth config` names the key: an absolute path that, with
//! `.` and `..` resolved, is neither `/` nor in the kernel's /proc or /sys; and a tmpfs takes
//! tmpfs's own options only (a `bind` or `rbind` there would make it a bind of a host path).

use crate::mount_rules;

/// Checks a container path something is mounted on; returns it cleaned.
pub fn container_path(target: &str) -> Result<String, String> {
    mount_rules::mount_target(target).map_err(|e| format!("the container path `{target}`: {e}"))
}

/// A `tmpfs` entry, `PATH[:OPTIONS]`.
pub fn tmpfs_entry(entry: &str) -> Result<(), String> {
    let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
    container_path(target)?;
    mount_rules::tmpfs_options(options)
        .map(|_| ())
        .map_err(|e| format!("tmpfs `{entry}`: {e}"))
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
