//! The container process's identity: rlimits, user and groups, capabilities, no_new_privs.

use oci_spec::runtime::{Capabilities, PosixRlimit, PosixRlimitType, Process};
use rustix::process::{Resource, Rlimit};
use rustix::thread::{CapabilitySet, CapabilitySets};

/// Capability names by kernel number.
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The name (without `CAP_`) of capability number `n`.
pub fn cap_name(n: u32) -> Option<&'static str> {
    NAMES.get(n as usize).copied()
}

/// The kernel's number for a capability name (`CAP_CHOWN` -> 0).
pub fn cap_number(name: &str) -> Option<u32> {
    let n = name.strip_prefix("CAP_").unwrap_or(name);
    NAMES.iter().position(|c| *c == n).map(|i| i as u32)
}

fn set_of(caps: &Option<Capabilities>) -> CapabilitySet {
    let mut bits = 0u64;
    for c in caps.iter().flatten() {
        if let Some(n) = cap_number(&c.to_string()) {
            bits |= 1 << n;
        }
    }
    CapabilitySet::from_bits_retain(bits)
}

pub fn set_rlimit(r: &PosixRlimit) -> Result<(), String> {
    let resource = match r.typ() {
        PosixRlimitType::RlimitNofile => Resource::Nofile,
        PosixRlimitType::RlimitNproc => Resource::Nproc,
        PosixRlimitType::RlimitCore => Resource::Core,
        PosixRlimitType::RlimitStack => Resource::Stack,
        PosixRlimitType::RlimitMemlock => Resource::Memlock,
        PosixRlimitType::RlimitAs => Resource::As,
        PosixRlimitType::RlimitCpu => Resource::Cpu,
        PosixRlimitType::RlimitData => Resource::Data,
        PosixRlimitType::RlimitFsize => Resource::Fsize,
        PosixRlimitType::RlimitLocks => Resource::Locks,
        PosixRlimitType::RlimitMsgqueue => Resource::Msgqueue,
        PosixRlimitType::RlimitNice => Resource::Nice,
        PosixRlimitType::RlimitRtprio => Resource::Rtprio,
        PosixRlimitType::RlimitRttime => Resource::Rttime,
        PosixRlimitType::RlimitSigpending => Resource::Sigpending,
        PosixRlimitType::RlimitRss => Resource::Rss,
    };
    rustix::process::setrlimit(
        resource,
        Rlimit {
            current: Some(r.soft()),
            maximum: Some(r.hard()),
        },
    )
    .map_err(|e| {
        format!(
            "rlimit {:?} {}:{}: {e} (raising a limit above the host's needs CAP_SYS_RESOURCE)",
            r.typ(),
            r.soft(),
            r.hard()
        )
    })
}

/// Drops to the spec's user, groups and capabilities. Runs just before exec.
pub fn become_user(p: &Process) -> Result<(), String> {
    let user = p.user();
    let (uid, gid) = (user.uid(), user.gid());
    if uid == u32::MAX || gid == u32::MAX {
        return Err(format!(
            "user {uid}:{gid} is out of range (0 to 4294967294)"
        ));
    }
    let caps = p.capabilities().clone().unwrap_or_default();
    let bounding = set_of(caps.bounding());
    // Drop from the bounding set every capability the spec does not keep there.
    for n in 0..=40u32 {
        if bounding.bits() & (1 << n) == 0 {
            let flag = CapabilitySet::from_bits_retain(1 << n);
            let _ = rustix::thread::remove_capability_from_bounding_set(flag);
        }
    }
    let groups: Vec<rustix::process::Gid> = user
        .additional_gids()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(rustix::process::Gid::from_raw)
        .collect();
    rustix::thread::set_thread_groups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    rustix::thread::set_keep_capabilities(true).map_err(|e| format!("keepcaps: {e}"))?;
    let g = rustix::process::Gid::from_raw(gid);
    rustix::thread::set_thread_res_gid(g, g, g).map_err(|e| format!("setgid {gid}: {e}"))?;
    let u = rustix::process::Uid::from_raw(uid);
    rustix::thread::set_thread_res_uid(u, u, u).map_err(|e| format!("setuid {uid}: {e}"))?;
    rustix::thread::set_keep_capabilities(false).map_err(|e| format!("keepcaps: {e}"))?;
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: set_of(caps.effective()),
            permitted: set_of(caps.permitted()),
            inheritable: set_of(caps.inheritable()),
        },
    )
    .map_err(|e| format!("capabilities: {e}"))?;
    let ambient = set_of(caps.ambient());
    for n in 0..=40u32 {
        if ambient.bits() & (1 << n) != 0 {
            let flag = CapabilitySet::from_bits_retain(1 << n);
            rustix::thread::configure_capability_in_ambient_set(flag, true)
                .map_err(|e| format!("ambient capability {n}: {e}"))?;
        }
    }
    if p.no_new_privileges().unwrap_or(false) {
        rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn capability_numbers() {
        assert_eq!(super::cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(super::cap_number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(super::cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(super::cap_number("CAP_NOPE"), None);
    }
}
