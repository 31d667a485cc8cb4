//! The container's view of the cgroup filesystems (a spec mount of type `cgroup`), made in its
//! mount and cgroup namespaces so every hierarchy is rooted at the container's own cgroup, and
//! read-only when the spec asks (Docker's default): a container cannot write `release_agent`
//! or any host-level knob.
//!
//! - cgroup v2 host: one `cgroup2` mount.
//! - v1 or hybrid host: a tmpfs with one mount per hierarchy the host has (`memory`,
//!   `cpu,cpuacct`, `name=systemd`, the cgroup2 `unified` mount...), the host's symlinks
//!   (`cpu -> cpu,cpuacct`), then the tmpfs itself made read-only.

use std::path::{Path, PathBuf};

use pathrs::Root;
use rustix::mount::MountFlags;

/// One cgroup filesystem the host mounts under /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The directory name under /sys/fs/cgroup (`memory`, `cpu,cpuacct`, `unified`).
    pub name: String,
    /// `cgroup` or `cgroup2`.
    pub fstype: String,
    /// Mount data: the controllers and names (`cpu,cpuacct`, `xattr,name=systemd`).
    pub data: String,
}

/// The cgroup hierarchies in a mountinfo text that sit directly under `base`.
pub fn hierarchies(mountinfo: &str, base: &Path) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // Fields: id parent dev root mount-point options [optional...] - fstype source super.
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(point), Some(fstype), Some(sup)) = (left.get(4), right.first(), right.get(2))
        else {
            continue;
        };
        if *fstype != "cgroup" && *fstype != "cgroup2" {
            continue;
        }
        let point = Path::new(point);
        if point.parent() != Some(base) {
            continue;
        }
        let Some(name) = point.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let data = if *fstype == "cgroup" {
            sup.split(',')
                .filter(|o| *o != "rw" && *o != "ro")
                .collect::<Vec<_>>()
                .join(",")
        } else {
            String::new()
        };
        out.push(Hierarchy {
            name: name.to_string(),
            fstype: fstype.to_string(),
            data,
        });
    }
    out
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("cgroup mount {what}: {e}")
}

fn fd_path(h: &impl std::os::fd::AsFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", h.as_fd().as_raw_fd()))
}

/// The directory `rel` inside `root`, made where missing.
fn dir(root: &Root, rel: &Path, what: &str) -> Result<std::os::fd::OwnedFd, String> {
    use std::os::unix::fs::PermissionsExt;
    match super::inroot::ensure(root, rel, super::inroot::Kind::Dir) {
        Ok(fd) => Ok(fd),
        Err(super::inroot::Fallback) => root
            .mkdir_all(rel, &std::fs::Permissions::from_mode(0o755))
            .map(Into::into)
            .map_err(|e| err(what, e)),
    }
}

/// Mounts the cgroup view at `dest` inside `root`, with `flags` (ro, nosuid, nodev, noexec).
pub fn mount(root: &Root, dest: &Path, flags: MountFlags) -> Result<(), String> {
    let target = super::inroot::mount_target(root, dest, super::inroot::Kind::Dir)?;
    let rel: PathBuf = super::inroot::clean(dest).iter().collect();
    let rel = rel.as_path();
    let base = Path::new(super::cgroup::ROOT);
    if super::cgroup::detect(base) == super::cgroup::Layout::V2 {
        return rustix::mount::mount("cgroup", fd_path(&target), "cgroup2", flags, None)
            .map_err(|e| err(&dest.display().to_string(), e));
    }
    let tmpfs_flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount(
        "tmpfs",
        fd_path(&target),
        "tmpfs",
        tmpfs_flags,
        Some(c"mode=755"),
    )
    .map_err(|e| err(&dest.display().to_string(), e))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| err("reading /proc/self/mountinfo", e))?;
    for h in hierarchies(&mountinfo, base) {
        let sub = dir(root, &rel.join(&h.name), &h.name)?;
        let data = std::ffi::CString::new(h.data.clone()).map_err(|e| err(&h.name, e))?;
        rustix::mount::mount(
            "cgroup",
            fd_path(&sub),
            h.fstype.as_str(),
            flags,
            Some(data.as_c_str()),
        )
        .map_err(|e| err(&h.name, e))?;
    }
    // The host's aliases (cpu -> cpu,cpuacct).
    if let Ok(entries) = std::fs::read_dir(base) {
        let dir = root
            .resolve(rel)
            .map_err(|e| err(&dest.display().to_string(), e))?;
        for e in entries.flatten() {
            if let Ok(link) = std::fs::read_link(e.path()) {
                if link.components().count() == 1 {
                    let _ = rustix::fs::symlinkat(&link, &dir, e.file_name());
                }
            }
        }
    }
    if flags.contains(MountFlags::RDONLY) {
        let top = root
            .resolve(rel)
            .map_err(|e| err(&dest.display().to_string(), e))?;
        rustix::mount::mount_remount(fd_path(&top), tmpfs_flags | MountFlags::RDONLY, "")
            .map_err(|e| err(&dest.display().to_string(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_mountinfo() {
        let text = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:6 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory
40 24 0:33 / /mnt/other rw - cgroup cgroup rw,pids
";
        let h = hierarchies(text, Path::new("/sys/fs/cgroup"));
        let names: Vec<_> = h.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["unified", "systemd", "cpu,cpuacct", "memory"]);
        assert_eq!(h[0].fstype, "cgroup2");
        assert_eq!(h[0].data, "");
        assert_eq!(h[1].data, "xattr,name=systemd");
        assert_eq!(h[2].data, "cpu,cpuacct");
    }
}
