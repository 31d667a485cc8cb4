//! Checks on the spec's mounts made before anything is created: every destination is
//! absolute, and once cleaned of `.` and `..` it is not in the kernel's /proc or /sys unless
//! the mount is the kernel's own there (proc on /proc, sysfs on /sys, a cgroup file system on
//! /sys/fs/cgroup) or an lxcfs-style file bind in /proc, as runc allows. A mount over /proc's
//! files would redirect what the runtime writes there (sysctls, the process's attributes) to
//! a file of the caller's choosing. A bind's source is absolute once resolved against the
//! bundle ([`resolve_bind_sources`]), never looked up in the caller's working directory. Where a destination leads through the
//! image's symlinks is checked when it is mounted (see `rootfs`).

use std::path::Path;

use crate::mount_rules::{clean, within, KERNEL_TREES};

use oci_spec::runtime::{Mount, Spec};

/// Files in /proc a bind may cover (the ones lxcfs emulates; runc's list).
const PROC_FILE_BINDS: [&str; 8] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
];

fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

/// Why mount `m` may not be made, if it may not.
fn refusal(m: &Mount) -> Option<String> {
    let dest = m.destination();
    if !dest.is_absolute() {
        return Some(format!(
            "destination `{}` is not absolute; give the path in the container from /",
            dest.display()
        ));
    }
    let bind = is_bind(m);
    if bind && !m.source().as_deref().is_some_and(Path::is_absolute) {
        let source = m.source().as_deref().map(Path::display);
        return Some(format!(
            "a bind's source must be an absolute host path (got {})",
            source.map_or("none".to_string(), |s| format!("`{s}`"))
        ));
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let path = clean(dest);
    let kernels_own = match path.as_str() {
        "/proc" => typ == "proc" && !bind,
        "/sys" => typ == "sysfs" && !bind,
        p if within(p, "/sys/fs/cgroup") => matches!(typ, "cgroup" | "cgroup2") && !bind,
        p => bind && PROC_FILE_BINDS.contains(&p),
    };
    let kernel = KERNEL_TREES.into_iter().find(|k| within(&path, k))?;
    (!kernels_own).then(|| {
        format!(
            "destination `{}` is in {kernel}, which belongs to the kernel: only its own file \
             system mounts there (or, in /proc, a bind over one of {}); mount elsewhere",
            dest.display(),
            PROC_FILE_BINDS.join(", ")
        )
    })
}

/// A bind's relative source is relative to the bundle (the OCI runtime spec's rule), never
/// to the caller's working directory: made absolute before anything else looks at it.
pub fn resolve_bind_sources(spec: &mut Spec, bundle: &Path) {
    let Some(mut mounts) = spec.mounts().clone() else {
        return;
    };
    let mut changed = false;
    for m in mounts.iter_mut() {
        let relative = m.source().as_deref().filter(|s| !s.is_absolute());
        if let Some(source) = relative.filter(|_| is_bind(m)).map(|s| bundle.join(s)) {
            m.set_source(Some(source));
            changed = true;
        }
    }
    if changed {
        spec.set_mounts(Some(mounts));
    }
}

/// Checks every mount of the spec.
pub fn validate(spec: &Spec) -> Result<(), String> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if let Some(why) = refusal(m) {
            return Err(format!("mounts[{i}]: {why}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(v: serde_json::Value) -> Mount {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn relative_bind_sources_are_the_bundles() {
        let mut spec = super::super::spec::default_spec();
        spec.set_mounts(Some(vec![
            mount(serde_json::json!({"destination": "/a", "type": "bind", "source": "data"})),
            mount(serde_json::json!({"destination": "/b", "source": "../x", "options": ["rbind"]})),
            mount(serde_json::json!({"destination": "/c", "type": "tmpfs", "source": "tmpfs"})),
        ]));
        resolve_bind_sources(&mut spec, Path::new("/bundles/one"));
        let sources: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| m.source().clone().unwrap())
            .collect();
        assert_eq!(
            sources,
            [
                Path::new("/bundles/one/data"),
                Path::new("/bundles/one/../x"),
                Path::new("tmpfs")
            ]
        );
        validate(&spec).unwrap();
    }

    #[test]
    fn the_default_mounts_pass() {
        validate(&super::super::spec::default_spec()).unwrap();
    }

    #[test]
    fn kernel_paths_and_relative_sources() {
        let ok = [
            serde_json::json!({"destination": "/proc", "type": "proc", "source": "proc"}),
            serde_json::json!({"destination": "/sys", "type": "sysfs", "source": "sysfs"}),
            serde_json::json!({"destination": "/sys/fs/cgroup", "type": "cgroup2"}),
            serde_json::json!({"destination": "/proc/meminfo", "type": "bind",
                               "source": "/var/lib/lxcfs/proc/meminfo", "options": ["bind"]}),
            serde_json::json!({"destination": "/process", "type": "tmpfs", "source": "tmpfs"}),
            serde_json::json!({"destination": "/data/../srv", "type": "none",
                               "source": "/srv", "options": ["rbind"]}),
        ];
        for m in ok {
            assert_eq!(refusal(&mount(m.clone())), None, "{m}");
        }
        let bad = [
            (
                serde_json::json!({"destination": "/proc/sys", "type": "tmpfs"}),
                "/proc",
            ),
            (
                serde_json::json!({"destination": "/proc", "type": "bind", "source": "/x",
                                "options": ["rbind"]}),
                "/proc",
            ),
            (
                serde_json::json!({"destination": "/proc/meminfo", "type": "tmpfs"}),
                "/proc",
            ),
            (
                serde_json::json!({"destination": "/a/../proc/self", "type": "none",
                                "source": "/x", "options": ["bind"]}),
                "/proc",
            ),
            (
                serde_json::json!({"destination": "/sys", "type": "proc"}),
                "/sys",
            ),
            (
                serde_json::json!({"destination": "//sys/kernel", "type": "sysfs"}),
                "/sys",
            ),
            (
                serde_json::json!({"destination": "/sys/fs/cgroup", "type": "tmpfs"}),
                "/sys",
            ),
            (
                serde_json::json!({"destination": "/sys/fs/cgroup/x", "type": "bind",
                                "source": "/x"}),
                "/sys",
            ),
            (
                serde_json::json!({"destination": "proc", "type": "proc"}),
                "absolute",
            ),
            (
                serde_json::json!({"destination": "/d", "type": "tmpfs", "source": "tmpfs",
                                "options": ["rbind"]}),
                "`tmpfs`",
            ),
            (
                serde_json::json!({"destination": "/d", "type": "bind"}),
                "none",
            ),
        ];
        for (m, wanted) in bad {
            let why = refusal(&mount(m.clone())).unwrap_or_default();
            assert!(why.contains(wanted), "{m}: {why}");
        }
    }
}
