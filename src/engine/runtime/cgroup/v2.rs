//! cgroup v2: one directory in the unified tree; controllers enabled down the path; devices
//! through an eBPF program (v2 has no devices files).

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{limit_text, write, DEFAULT_DEVICES};
use crate::engine::runtime::devices_bpf::{self, DeviceRule};

const WANTED: [&str; 5] = ["cpu", "cpuset", "hugetlb", "memory", "pids"];

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
                write(&cg.join("memory.max"), &limit_text(limit))?;
            }
            if let Some(swap) = m.swap() {
                // v1 counts memory+swap; v2 counts swap alone.
                let extra = if swap < 0 {
                    -1
                } else {
                    (swap - m.limit().unwrap_or(swap)).max(0)
                };
                write(&cg.join("memory.swap.max"), &limit_text(extra))?;
            }
            if let Some(low) = m.reservation() {
                write(&cg.join("memory.low"), &limit_text(low))?;
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
            if let Some(cpus) = c.cpus() {
                write(&cg.join("cpuset.cpus"), cpus)?;
            }
            if let Some(mems) = c.mems() {
                write(&cg.join("cpuset.mems"), mems)?;
            }
        }
        for h in r.hugepage_limits().clone().unwrap_or_default() {
            write(
                &cg.join(format!("hugetlb.{}.max", h.page_size())),
                &h.limit().to_string(),
            )?;
        }
    }
    if cg.starts_with(super::ROOT) {
        devices_bpf::attach(&cg, &device_rules(resources))?;
    }
    Ok(())
}
