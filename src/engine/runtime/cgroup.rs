//! Control groups for a container: memory, cpu, pids and devices limits from the spec's
//! `linux.resources`, on cgroup v2 (one unified tree), v1, or a hybrid host (v1 controllers
//! plus a cgroup2 mount that holds hugetlb alone, as on this project's CI machine; crun refuses
//! that layout, berth uses the v1 controllers and leaves the cgroup2 mount alone).
//!
//! Every function takes the cgroup filesystem root (normally /sys/fs/cgroup), so the v2 path
//! is unit-tested against fixture directories.

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
const V1_CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "devices"];

fn write(path: &Path, value: &str) -> Result<(), String> {
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
            .map(|c| root.join(c))
            .filter(|d| d.exists())
            .map(|d| d.join(rel))
            .collect(),
    }
}

/// Creates the cgroup, applies `resources`, and moves `pid` into it.
pub fn apply(
    root: &Path,
    rel: &Path,
    resources: Option<&LinuxResources>,
    pid: i32,
) -> Result<(), String> {
    match detect(root) {
        Layout::V2 => apply_v2(root, rel, resources, pid),
        Layout::V1 => apply_v1(root, rel, resources, pid),
    }
}

fn apply_v2(
    root: &Path,
    rel: &Path,
    resources: Option<&LinuxResources>,
    pid: i32,
) -> Result<(), String> {
    // Enable the controllers down to the container's parent.
    let mut dir = root.to_path_buf();
    for c in rel.parent().into_iter().flat_map(|p| p.components()) {
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), "+memory +pids +cpu");
        dir = dir.join(c);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cgroup {}: {e}", dir.display()))?;
    }
    let _ = std::fs::write(dir.join("cgroup.subtree_control"), "+memory +pids +cpu");
    let cg = root.join(rel);
    std::fs::create_dir_all(&cg).map_err(|e| format!("cgroup {}: {e}", cg.display()))?;
    if let Some(r) = resources {
        if let Some(m) = r.memory() {
            if let Some(limit) = m.limit() {
                write(&cg.join("memory.max"), &limit_text(limit))?;
            }
            if let Some(swap) = m.swap() {
                let extra = swap - m.limit().unwrap_or(swap);
                write(&cg.join("memory.swap.max"), &limit_text(extra.max(0)))?;
            }
        }
        if let Some(p) = r.pids() {
            write(&cg.join("pids.max"), &limit_text(p.limit()))?;
        }
        if let Some(c) = r.cpu() {
            if let Some(quota) = c.quota() {
                let period = c.period().unwrap_or(100_000);
                write(
                    &cg.join("cpu.max"),
                    &format!("{} {period}", limit_text(quota)),
                )?;
            }
            if let Some(shares) = c.shares() {
                // The conversion runc and crun use: shares 2..262144 -> weight 1..10000.
                let weight = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
                write(&cg.join("cpu.weight"), &weight.to_string())?;
            }
        }
    }
    write(&cg.join("cgroup.procs"), &pid.to_string())
}

fn limit_text(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// The devices every container may use: null, zero, full, random, urandom, tty, ptmx, pts.
const DEFAULT_DEVICES: [&str; 9] = [
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

fn apply_v1(
    root: &Path,
    rel: &Path,
    resources: Option<&LinuxResources>,
    pid: i32,
) -> Result<(), String> {
    for c in V1_CONTROLLERS {
        let base = root.join(c);
        if !base.exists() {
            continue;
        }
        let cg = base.join(rel);
        std::fs::create_dir_all(&cg).map_err(|e| format!("cgroup {}: {e}", cg.display()))?;
        match c {
            "memory" => {
                if let Some(limit) = resources
                    .and_then(|r| r.memory().as_ref())
                    .and_then(|m| m.limit())
                {
                    write(&cg.join("memory.limit_in_bytes"), &limit.to_string())?;
                }
            }
            "pids" => {
                if let Some(p) = resources.and_then(|r| r.pids().as_ref()) {
                    write(&cg.join("pids.max"), &limit_text(p.limit()))?;
                }
            }
            "cpu" => {
                if let Some(cpu) = resources.and_then(|r| r.cpu().as_ref()) {
                    if let Some(s) = cpu.shares() {
                        write(&cg.join("cpu.shares"), &s.to_string())?;
                    }
                    if let Some(q) = cpu.quota() {
                        write(
                            &cg.join("cpu.cfs_period_us"),
                            &cpu.period().unwrap_or(100_000).to_string(),
                        )?;
                        write(&cg.join("cpu.cfs_quota_us"), &q.to_string())?;
                    }
                }
            }
            "devices" => {
                // Deny everything, then allow the standard set and what the spec allows.
                write(&cg.join("devices.deny"), "a")?;
                for d in DEFAULT_DEVICES {
                    write(&cg.join("devices.allow"), d)?;
                }
                for d in resources
                    .and_then(|r| r.devices().clone())
                    .unwrap_or_default()
                {
                    if !d.allow() {
                        continue;
                    }
                    let kind = d
                        .typ()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_else(|| "a".into());
                    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
                    let rule = format!(
                        "{kind} {}:{} {}",
                        num(d.major()),
                        num(d.minor()),
                        d.access().clone().unwrap_or_else(|| "rwm".into())
                    );
                    write(&cg.join("devices.allow"), &rule)?;
                }
            }
            _ => {}
        }
        write(&cg.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(())
}

/// Removes the container's cgroup directories (its processes must be gone).
pub fn remove(root: &Path, rel: &Path) {
    for d in dirs(root, rel) {
        let _ = std::fs::remove_dir(&d);
    }
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
        apply(root, &rel, Some(&resources), 42).unwrap();
        let cg = root.join("berth/c1");
        let read = |f: &str| std::fs::read_to_string(cg.join(f)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("pids.max"), "20");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("cpu.weight"), "39");
        assert_eq!(read("cgroup.procs"), "42");
        assert!(std::fs::read_to_string(root.join("cgroup.subtree_control"))
            .unwrap()
            .contains("+memory"));
        assert_eq!(dirs(root, &rel), vec![cg]);
        assert!(relative_path(Some(Path::new("/a/../b")), "x").is_err());
    }
}
