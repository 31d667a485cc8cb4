//! cgroup v2: one directory in the unified tree; controllers enabled down the path; devices
//! through an eBPF program (v2 has no devices files).

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{limit_text, write, DEFAULT_DEVICES};
use crate::engine::runtime::devices_bpf::{self, DeviceRule};

const WANTED: [&str; 5] = ["cpu", "cpuset", "hugetlb", "memory", "pids"];

/// Writes a limit file of the cgroup `cg`; a missing file means its controller is not enabled
/// there (not delegated to this part of the tree), which the error says.
fn set(cg: &Path, file: &str, value: &str) -> Result<(), String> {
    let path = cg.join(file);
    if !path.exists() {
        let controller = file.split('.').next().unwrap_or(file);
        let available = std::fs::read_to_string(cg.join("cgroup.controllers")).unwrap_or_default();
        return Err(format!(
            "cgroup {}: cannot set {file}: the `{controller}` controller is not enabled for it \
             (its cgroup.controllers: `{}`); enable it in the parent's cgroup.subtree_control \
             (systemd: Delegate=yes) or run without that limit",
            cg.display(),
            available.trim()
        ));
    }
    write(&path, value)
}

/// Enables the controllers this cgroup has (of those berth uses) for its children.
fn enable_controllers(dir: &Path) {
    let Ok(available) = std::fs::read_to_string(dir.join("cgroup.controllers")) else {
        return;
    };
    let enable: Vec<String> = available
        .split_whitespace()
        .filter(|c| WANTED.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if !enable.is_empty() {
        // Refused when the directory holds processes itself (no-internal-process rule) or
        // the controller is not delegated: the limits below then fail with a clear error.
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), enable.join(" "));
    }
}

/// The device rules: deny all, the standard set, then the spec's rules in order.
pub(crate) fn device_rules(resources: Option<&LinuxResources>) -> Vec<DeviceRule> {
    let mut rules = vec![DeviceRule {
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
        allow: false,
    }];
    rules.extend(
        DEFAULT_DEVICES
            .iter()
            .map(|(kind, major, minor)| DeviceRule {
                kind: *kind,
                major: Some(*major),
                minor: *minor,
                access: "rwm".into(),
                allow: true,
            }),
    );
    for d in resources
        .and_then(|r| r.devices().clone())
        .unwrap_or_default()
    {
        rules.push(DeviceRule {
            kind: d
                .typ()
                .map_or('a', |t| t.as_str().chars().next().unwrap_or('a')),
            major: d.major(),
            minor: d.minor(),
            access: d.access().clone().unwrap_or_else(|| "rwm".into()),
            allow: d.allow(),
        });
    }
    rules
}

/// Creates the cgroup and applies `resources`.
pub fn create(root: &Path, rel: &Path, resources: Option<&LinuxResources>) -> Result<(), String> {
    let mut dir = root.to_path_buf();
    for c in rel.components() {
        enable_controllers(&dir);
        dir = dir.join(c);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cgroup {}: {e}", dir.display()))?;
    }
    let cg = root.join(rel);
    if let Some(r) = resources {
        if let Some(m) = r.memory() {
            if let Some(limit) = m.limit() {
                set(&cg, "memory.max", &limit_text(limit))?;
            }
            if let Some(swap) = m.swap() {
                // v1 counts memory+swap; v2 counts swap alone.
                let extra = if swap < 0 {
                    -1
                } else {
                    (swap - m.limit().unwrap_or(swap)).max(0)
                };
                if cg.join("memory.swap.max").exists() || !cg.join("memory.max").exists() {
                    set(&cg, "memory.swap.max", &limit_text(extra))?;
                } else {
                    // As Docker: a kernel without swap accounting limits memory alone.
                    tracing::warn!("this kernel does not account swap: the swap limit is not set");
                }
            }
            if let Some(low) = m.reservation() {
                set(&cg, "memory.low", &limit_text(low))?;
            }
        }
        if let Some(p) = r.pids() {
            set(&cg, "pids.max", &limit_text(p.limit()))?;
        }
        if let Some(c) = r.cpu() {
            if let Some(quota) = c.quota() {
                let period = c.period().unwrap_or(100_000);
                set(&cg, "cpu.max", &format!("{} {period}", limit_text(quota)))?;
            }
            if let Some(shares) = c.shares() {
                // The conversion runc and crun use: shares 2..262144 -> weight 1..10000.
                let weight = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
                set(&cg, "cpu.weight", &weight.to_string())?;
            }
            if let Some(cpus) = c.cpus() {
                set(&cg, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems() {
                set(&cg, "cpuset.mems", mems)?;
            }
        }
        for h in r.hugepage_limits().clone().unwrap_or_default() {
            set(
                &cg,
                &format!("hugetlb.{}.max", h.page_size()),
                &h.limit().to_string(),
            )?;
        }
    }
    if cg.starts_with(super::ROOT) {
        devices_bpf::attach(&cg, &device_rules(resources))?;
    }
    Ok(())
}
