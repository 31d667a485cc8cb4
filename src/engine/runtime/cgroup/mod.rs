//! Control groups for a container: memory, cpu (shares, quota, cpuset), pids, devices and
//! hugetlb limits from the spec's `linux.resources`, on cgroup v2 (one unified tree), v1, or a
//! hybrid host (v1 controllers plus a cgroup2 mount that holds hugetlb alone, as on this
//! project's CI machine; crun refuses that layout, berth uses the v1 controllers and the
//! cgroup2 mount for what only it has). Also the freezer (pause/resume) and statistics with
//! OOM-kill counts.
//!
//! Every function takes the cgroup filesystem root (normally /sys/fs/cgroup), so the v2 path
//! is unit-tested against fixture directories.

mod freezer;
mod stats;
mod v1;
mod v2;

pub use freezer::{freeze, is_frozen};
pub use stats::{oom_kills, stats, OomWatch};

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

/// Where the host mounts its cgroup filesystems.
pub const ROOT: &str = "/sys/fs/cgroup";

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One unified hierarchy (cgroup.controllers at the root).
    V2,
    /// Per-controller hierarchies (with or without a cgroup2 mount beside them).
    V1,
}

pub fn detect(root: &Path) -> Layout {
    if root.join("cgroup.controllers").exists() {
        Layout::V2
    } else {
        Layout::V1
    }
}

/// v1 controllers berth manages.
const V1_CONTROLLERS: [&str; 8] = [
    "memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb",
];

/// The cgroup2 mount beside v1 controllers on a hybrid host.
const HYBRID_UNIFIED: &str = "unified";

pub(crate) fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cgroup {}: writing `{value}`: {e}", path.display()))
}

/// The container's cgroup path relative to each hierarchy: the spec's `cgroupsPath` or
/// `berth/<id>`; `..` is refused.
pub fn relative_path(spec_path: Option<&Path>, id: &str) -> Result<PathBuf, String> {
    let p = spec_path
        .map(|p| p.strip_prefix("/").unwrap_or(p).to_path_buf())
        .unwrap_or_else(|| PathBuf::from("berth").join(id));
    if p.components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "cgroupsPath `{}` must be a plain path",
            p.display()
        ));
    }
    Ok(p)
}

/// The directories the container's cgroup has (one per v1 controller, or one on v2).
pub fn dirs(root: &Path, rel: &Path) -> Vec<PathBuf> {
    match detect(root) {
        Layout::V2 => vec![root.join(rel)],
        Layout::V1 => V1_CONTROLLERS
            .iter()
            .chain(&[HYBRID_UNIFIED])
            .map(|c| root.join(c))
            .filter(|d| d.exists())
            .map(|d| d.join(rel))
            .collect(),
    }
}

/// Creates the container's cgroup and applies `resources`; no process joins it yet.
pub fn create(root: &Path, rel: &Path, resources: Option<&LinuxResources>) -> Result<(), String> {
    match detect(root) {
        Layout::V2 => v2::create(root, rel, resources),
        Layout::V1 => v1::create(root, rel, resources),
    }
}

/// Moves the calling process, which must be single-threaded, into the container's v1
/// hierarchies (none on a v2 host). Its cgroup2 directory is entered by forking into it:
/// [`unified_dir`] and the runtime's `fork` module.
///
/// Why not `cgroup.procs`: moving a process through it takes the kernel's global
/// threadgroup lock for writing, which first waits out an RCU grace period (6-20 ms on the
/// project's 2-CPU VM, the largest single cost of starting a container). Moving the calling
/// thread alone (`tasks` <- `0`, the whole process when it has one thread) skips that lock
/// (Linux 6.0+, "cgroup: Optimize single thread migration"), and a child forked into a
/// cgroup with `CLONE_INTO_CGROUP` (Linux 5.7+) never migrates at all.
pub fn join_v1(root: &Path, rel: &Path) -> Result<(), String> {
    if detect(root) == Layout::V1 {
        for c in V1_CONTROLLERS {
            let base = root.join(c);
            if base.exists() {
                write(&base.join(rel).join("tasks"), "0")?;
            }
        }
    }
    Ok(())
}

/// Opens the container's cgroup2 directory (v2, or the cgroup2 mount of a hybrid host), if
/// the host has one.
pub fn unified_dir(root: &Path, rel: &Path) -> Result<Option<OwnedFd>, String> {
    let unified = match detect(root) {
        Layout::V2 => root.join(rel),
        Layout::V1 if root.join(HYBRID_UNIFIED).exists() => root.join(HYBRID_UNIFIED).join(rel),
        Layout::V1 => return Ok(None),
    };
    rustix::fs::open(
        &unified,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map(Some)
    .map_err(|e| format!("cgroup {}: {e}", unified.display()))
}

pub(crate) fn limit_text(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// The devices every container may use: null, zero, full, random, urandom, tty, console,
/// ptmx, pts.
pub(crate) const DEFAULT_DEVICES: [(char, i64, Option<i64>); 9] = [
    ('c', 1, Some(3)),
    ('c', 1, Some(5)),
    ('c', 1, Some(7)),
    ('c', 1, Some(8)),
    ('c', 1, Some(9)),
    ('c', 5, Some(0)),
    ('c', 5, Some(1)),
    ('c', 5, Some(2)),
    ('c', 136, None),
];

/// Removes the container's cgroup directories (its processes must be gone).
pub fn remove(root: &Path, rel: &Path) {
    for d in dirs(root, rel) {
        let _ = std::fs::remove_dir(&d);
    }
}

/// The directory of one v1 controller (or the v2 cgroup) for the container, if it exists.
pub(crate) fn controller_dir(root: &Path, rel: &Path, controller: &str) -> Option<PathBuf> {
    let d = match detect(root) {
        Layout::V2 => root.join(rel),
        Layout::V1 => root.join(controller).join(rel),
    };
    d.exists().then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_limits_land_in_the_unified_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("cgroup.controllers"), "cpu memory pids").unwrap();
        let resources: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 67108864},
            "pids": {"limit": 20},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
        }))
        .unwrap();
        let rel = relative_path(None, "c1").unwrap();
        let cg = root.join("berth/c1");
        // The kernel makes a controller's files in every cgroup it is enabled for.
        std::fs::create_dir_all(&cg).unwrap();
        for f in ["memory.max", "pids.max", "cpu.max", "cpu.weight"] {
            std::fs::write(cg.join(f), "").unwrap();
        }
        create(root, &rel, Some(&resources)).unwrap();
        let read = |f: &str| std::fs::read_to_string(cg.join(f)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("pids.max"), "20");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("cpu.weight"), "39");
        assert!(std::fs::read_to_string(root.join("cgroup.subtree_control"))
            .unwrap()
            .contains("+memory"));
        assert_eq!(dirs(root, &rel), vec![cg.clone()]);
        assert!(relative_path(Some(Path::new("/a/../b")), "x").is_err());
        // v2: nothing to join by writing; the child is forked into the directory.
        join_v1(root, &rel).unwrap();
        assert!(!root.join("berth/c1/cgroup.procs").exists());
        assert!(unified_dir(root, &rel).unwrap().is_some());
        // A limit whose controller is not enabled there: an error that says so.
        std::fs::remove_file(cg.join("pids.max")).unwrap();
        std::fs::write(cg.join("cgroup.controllers"), "cpu memory").unwrap();
        let err = create(root, &rel, Some(&resources)).unwrap_err();
        assert!(
            err.contains("pids.max") && err.contains("`pids` controller is not enabled"),
            "{err}"
        );
    }

    #[test]
    fn v1_is_joined_by_the_calling_thread_and_hybrid_cgroup2_by_the_fork() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let rel = relative_path(None, "c1").unwrap();
        for c in ["memory", "pids"] {
            std::fs::create_dir_all(root.join(c).join(&rel)).unwrap();
        }
        assert!(
            unified_dir(root, &rel).unwrap().is_none(),
            "no cgroup2 mount"
        );
        std::fs::create_dir_all(root.join("unified").join(&rel)).unwrap();
        join_v1(root, &rel).unwrap();
        for c in ["memory", "pids"] {
            let tasks = root.join(c).join(&rel).join("tasks");
            // "0": the writer itself, without the kernel's threadgroup lock.
            assert_eq!(std::fs::read_to_string(tasks).unwrap(), "0");
            assert!(!root.join(c).join(&rel).join("cgroup.procs").exists());
        }
        assert!(!root.join("unified").join(&rel).join("tasks").exists());
        assert!(unified_dir(root, &rel).unwrap().is_some());
    }
}
