//! cgroup v1: one directory per controller hierarchy; on a hybrid host also one in the
//! cgroup2 mount (for hugetlb when only that mount has it, and so every hierarchy's cgroup
//! namespace is rooted at the container).

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{limit_text, write, DEFAULT_DEVICES, HYBRID_UNIFIED, V1_CONTROLLERS};

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cgroup {}: {e}", dir.display()))
}

/// cpuset directories start empty and refuse processes until cpus and mems are set: each
/// new level copies its parent's.
fn create_cpuset(base: &Path, rel: &Path) -> Result<(), String> {
    let mut dir = base.to_path_buf();
    for c in rel.components() {
        let parent = dir.clone();
        dir = dir.join(c);
        create_dir(&dir)?;
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let own = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            if own.trim().is_empty() {
                let from_parent = std::fs::read_to_string(parent.join(f)).unwrap_or_default();
                write(&dir.join(f), from_parent.trim())?;
            }
        }
    }
    Ok(())
}

fn device_rule(kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> String {
    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    format!("{kind} {}:{} {access}", num(major), num(minor))
}

/// Creates the cgroups and applies `resources`.
pub fn create(root: &Path, rel: &Path, resources: Option<&LinuxResources>) -> Result<(), String> {
    let hugetlb_on_v1 = root.join("hugetlb").exists();
    for c in V1_CONTROLLERS.iter().chain(&[HYBRID_UNIFIED]) {
        let base = root.join(c);
        if !base.exists() {
            continue;
        }
        let cg = base.join(rel);
        if *c == "cpuset" {
            create_cpuset(&base, rel)?;
        } else {
            create_dir(&cg)?;
        }
        match *c {
            "memory" => {
                if let Some(m) = resources.and_then(|r| r.memory().as_ref()) {
                    if let Some(limit) = m.limit() {
                        write(&cg.join("memory.limit_in_bytes"), &limit.to_string())?;
                    }
                    if let Some(swap) = m.swap() {
                        let f = cg.join("memory.memsw.limit_in_bytes");
                        if f.exists() {
                            write(&f, &swap.to_string())?;
                        }
                    }
                    if let Some(low) = m.reservation() {
                        write(&cg.join("memory.soft_limit_in_bytes"), &low.to_string())?;
                    }
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
            "cpuset" => {
                if let Some(cpu) = resources.and_then(|r| r.cpu().as_ref()) {
                    if let Some(cpus) = cpu.cpus() {
                        write(&cg.join("cpuset.cpus"), cpus)?;
                    }
                    if let Some(mems) = cpu.mems() {
                        write(&cg.join("cpuset.mems"), mems)?;
                    }
                }
            }
            "devices" => {
                // Deny everything, then allow the standard set and the spec's rules in order.
                write(&cg.join("devices.deny"), "a")?;
                for (kind, major, minor) in DEFAULT_DEVICES {
                    write(
                        &cg.join("devices.allow"),
                        &device_rule(kind, Some(major), minor, "rwm"),
                    )?;
                }
                for d in resources
                    .and_then(|r| r.devices().clone())
                    .unwrap_or_default()
                {
                    let kind = d
                        .typ()
                        .map_or('a', |t| t.as_str().chars().next().unwrap_or('a'));
                    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
                    let rule = device_rule(kind, d.major(), d.minor(), &access);
                    let file = if d.allow() {
                        "devices.allow"
                    } else {
                        "devices.deny"
                    };
                    write(&cg.join(file), &rule)?;
                }
            }
            "hugetlb" => write_hugetlb(&cg, resources, "limit_in_bytes")?,
            HYBRID_UNIFIED if !hugetlb_on_v1 => {
                let limits = resources.and_then(|r| r.hugepage_limits().as_ref());
                if limits.is_some_and(|l| !l.is_empty()) {
                    // Enable hugetlb down the path, then set the limits (v2 file names).
                    let mut dir = base.clone();
                    for part in rel.components() {
                        let _ = std::fs::write(dir.join("cgroup.subtree_control"), "+hugetlb");
                        dir = dir.join(part);
                    }
                    write_hugetlb(&cg, resources, "max")?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn write_hugetlb(
    cg: &Path,
    resources: Option<&LinuxResources>,
    suffix: &str,
) -> Result<(), String> {
    for h in resources
        .and_then(|r| r.hugepage_limits().clone())
        .unwrap_or_default()
    {
        write(
            &cg.join(format!("hugetlb.{}.{suffix}", h.page_size())),
            &h.limit().to_string(),
        )?;
    }
    Ok(())
}
