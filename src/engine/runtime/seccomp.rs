//! Seccomp: the default profile (Docker's semantics for a container without CAP_SYS_ADMIN:
//! namespaces, mounts, keyrings, ptrace, module and kernel-replacing calls refused with EPERM;
//! `clone3` answered ENOSYS so libcs fall back to `clone`, whose namespace flags are checked)
//! and the compilation of a spec's profile into BPF with `seccompiler`.
//!
//! A profile compiles into one filter per action (the kernel runs them all and the most
//! restrictive answer wins). Syscall names this architecture lacks are skipped, as runc does.

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Refused with EPERM by the default profile.
pub const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "init_module",
    "iopl",
    "ioperm",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "clock_settime",
    "swapon",
    "swapoff",
    "syslog",
    "umount2",
    "unshare",
    "userfaultfd",
    "vhangup",
    "nfsservctl",
    "uselib",
    "personality",
];

/// `clone` flags that create namespaces: refused (EPERM) without CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: [u64; 7] = [
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
];

/// The default profile, as it appears in a spec.
pub fn default_profile() -> LinuxSeccomp {
    let clone_rules: Vec<serde_json::Value> = CLONE_NAMESPACE_FLAGS
        .iter()
        .map(|f| {
            serde_json::json!({
                "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
                "args": [{"index": 0, "value": f, "valueTwo": f, "op": "SCMP_CMP_MASKED_EQ"}]
            })
        })
        .collect();
    let mut syscalls = vec![
        serde_json::json!({"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM}),
        serde_json::json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}),
    ];
    syscalls.extend(clone_rules);
    serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": syscalls,
    }))
    .expect("a valid profile")
}

/// The number of a syscall on this architecture (the names the default profile uses, and
/// `clone`/`clone3`); `None` for others.
pub fn syscall_number(name: &str) -> Option<i64> {
    #[cfg(target_arch = "x86_64")]
    match name {
        "iopl" => return Some(libc::SYS_iopl),
        "ioperm" => return Some(libc::SYS_ioperm),
        "uselib" => return Some(libc::SYS_uselib),
        _ => {}
    }
    Some(match name {
        "acct" => libc::SYS_acct,
        "add_key" => libc::SYS_add_key,
        "bpf" => libc::SYS_bpf,
        "delete_module" => libc::SYS_delete_module,
        "finit_module" => libc::SYS_finit_module,
        "fsconfig" => libc::SYS_fsconfig,
        "fsmount" => libc::SYS_fsmount,
        "fsopen" => libc::SYS_fsopen,
        "fspick" => libc::SYS_fspick,
        "init_module" => libc::SYS_init_module,
        "kcmp" => libc::SYS_kcmp,
        "kexec_file_load" => libc::SYS_kexec_file_load,
        "kexec_load" => libc::SYS_kexec_load,
        "keyctl" => libc::SYS_keyctl,
        "lookup_dcookie" => libc::SYS_lookup_dcookie,
        "mount" => libc::SYS_mount,
        "mount_setattr" => libc::SYS_mount_setattr,
        "move_mount" => libc::SYS_move_mount,
        "name_to_handle_at" => libc::SYS_name_to_handle_at,
        "open_by_handle_at" => libc::SYS_open_by_handle_at,
        "open_tree" => libc::SYS_open_tree,
        "perf_event_open" => libc::SYS_perf_event_open,
        "pivot_root" => libc::SYS_pivot_root,
        "process_vm_readv" => libc::SYS_process_vm_readv,
        "process_vm_writev" => libc::SYS_process_vm_writev,
        "ptrace" => libc::SYS_ptrace,
        "quotactl" => libc::SYS_quotactl,
        "reboot" => libc::SYS_reboot,
        "request_key" => libc::SYS_request_key,
        "setns" => libc::SYS_setns,
        "settimeofday" => libc::SYS_settimeofday,
        "clock_settime" => libc::SYS_clock_settime,
        "swapon" => libc::SYS_swapon,
        "swapoff" => libc::SYS_swapoff,
        "syslog" => libc::SYS_syslog,
        "umount2" => libc::SYS_umount2,
        "unshare" => libc::SYS_unshare,
        "userfaultfd" => libc::SYS_userfaultfd,
        "vhangup" => libc::SYS_vhangup,
        "nfsservctl" => libc::SYS_nfsservctl,
        "personality" => libc::SYS_personality,
        "clone" => libc::SYS_clone,
        "clone3" => libc::SYS_clone3,
        _ => return None,
    })
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, String> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => {
            SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32))
        }
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(0)),
        other => return Err(format!("seccomp action {other:?} is not supported")),
    })
}

fn condition(a: &oci_spec::runtime::LinuxSeccompArg) -> Result<SeccompCondition, String> {
    let (op, value) = match a.op() {
        LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
        LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
        LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
        LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
        LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
        LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    SeccompCondition::new(a.index() as u8, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| format!("seccomp argument rule: {e}"))
}

fn arch() -> Result<TargetArch, String> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("seccomp: {e:?}"))
}

/// Compiles a profile into the filters to install, in order.
pub fn compile(profile: &LinuxSeccomp) -> Result<Vec<BpfProgram>, String> {
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    // Rules grouped by action (keyed by its debug text: SeccompAction is not Ord).
    let mut groups: BTreeMap<String, (SeccompAction, BTreeMap<i64, Vec<SeccompRule>>)> =
        BTreeMap::new();
    for s in profile.syscalls().clone().unwrap_or_default() {
        let act = action(s.action(), s.errno_ret())?;
        let conditions = s
            .args()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()?;
        let entry = groups
            .entry(format!("{act:?}"))
            .or_insert_with(|| (act.clone(), BTreeMap::new()));
        for name in s.names() {
            let Some(nr) = syscall_number(name) else {
                tracing::debug!(syscall = %name, "seccomp: unknown syscall skipped");
                continue;
            };
            let rules = entry.1.entry(nr).or_default();
            if !conditions.is_empty() {
                rules.push(
                    SeccompRule::new(conditions.clone())
                        .map_err(|e| format!("seccomp rule: {e}"))?,
                );
            }
        }
    }
    let arch = arch()?;
    let mut out = Vec::new();
    for (_, (act, rules)) in groups {
        if act == default || rules.is_empty() {
            continue;
        }
        // Matching syscalls get `act`; everything else passes this filter (or, for the allow
        // list of a deny-by-default profile, gets the default).
        let mismatch = if act == SeccompAction::Allow {
            default.clone()
        } else {
            SeccompAction::Allow
        };
        let filter =
            SeccompFilter::new(rules, mismatch, act, arch).map_err(|e| format!("seccomp: {e}"))?;
        out.push(BpfProgram::try_from(filter).map_err(|e| format!("seccomp: {e}"))?);
    }
    Ok(out)
}

/// Installs compiled filters on this thread (needs no_new_privs or CAP_SYS_ADMIN).
pub fn install(filters: &[BpfProgram]) -> Result<(), String> {
    for f in filters {
        seccompiler::apply_filter(f).map_err(|e| format!("installing the seccomp filter: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_compiles_and_knows_its_syscalls() {
        for name in DENIED {
            assert!(syscall_number(name).is_some(), "{name}");
        }
        let filters = compile(&default_profile()).unwrap();
        assert_eq!(filters.len(), 2, "an EPERM filter and an ENOSYS filter");
        let json = serde_json::to_value(default_profile()).unwrap();
        assert_eq!(json["defaultAction"], "SCMP_ACT_ALLOW");
    }
}
