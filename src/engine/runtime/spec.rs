//! The default runtime spec (`berth oci spec`, and the engine's base for containers): Docker's
//! defaults: its 14 capabilities in the bounding, effective and permitted sets (inheritable and
//! ambient empty), new pid/mount/uts/ipc/network/cgroup namespaces, the standard mounts,
//! Docker's masked and read-only /proc and /sys paths, and the default seccomp profile.

use oci_spec::runtime::{
    Capabilities, Capability, LinuxCapabilities, LinuxNamespace, LinuxNamespaceType, Spec,
};

/// Docker's default capability set.
pub const DOCKER_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths Docker hides from containers (`/dev/null` over files, an empty read-only tmpfs over
/// directories).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths Docker makes read-only.
pub const READONLY_PATHS: [&str; 6] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/sys/devices/virtual/powercap",
];

/// The default spec for a bundle whose root filesystem is `rootfs` (relative to the bundle).
pub fn default_spec() -> Spec {
    let mut spec = Spec::default();
    spec.set_hostname(Some("berth".to_string()));
    let caps: Capabilities = DOCKER_CAPABILITIES.into_iter().collect();
    if let Some(process) = spec.process_mut() {
        let mut c = LinuxCapabilities::default();
        c.set_bounding(Some(caps.clone()));
        c.set_effective(Some(caps.clone()));
        c.set_permitted(Some(caps));
        c.set_inheritable(Some(Capabilities::new()));
        c.set_ambient(Some(Capabilities::new()));
        process.set_capabilities(Some(c));
        process.set_no_new_privileges(Some(false));
        process.set_terminal(Some(false));
    }
    if let Some(linux) = spec.linux_mut() {
        let namespaces = [
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Cgroup,
        ]
        .into_iter()
        .map(|t| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(t);
            ns
        })
        .collect();
        linux.set_namespaces(Some(namespaces));
        linux.set_masked_paths(Some(MASKED_PATHS.iter().map(|s| s.to_string()).collect()));
        linux.set_readonly_paths(Some(READONLY_PATHS.iter().map(|s| s.to_string()).collect()));
        linux.set_seccomp(Some(super::seccomp::default_profile()));
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_defaults() {
        let spec = default_spec();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 14);
        assert!(caps.inheritable().as_ref().unwrap().is_empty());
        assert!(caps.ambient().as_ref().unwrap().is_empty());
        assert!(!caps
            .bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::SysAdmin));
        let ns = spec
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap();
        assert_eq!(ns.len(), 6);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["root"]["path"], "rootfs");
        assert!(json["linux"]["maskedPaths"]
            .as_array()
            .unwrap()
            .contains(&"/proc/kcore".into()));
    }
}
