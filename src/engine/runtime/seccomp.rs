//! Seccomp: the default profile (Docker's semantics for a container without CAP_SYS_ADMIN:
//! namespaces, mounts, keyrings, ptrace, module and kernel-replacing calls refused with EPERM;
//! `clone3` answered ENOSYS so libcs fall back to `clone`, whose namespace flags are checked;
//! sockets of AF_VSOCK, which reaches the hypervisor of a VM, and AF_ALG refused with EPERM),
//! the compilation of a spec's profile into BPF with `seccompiler`, and the checks a profile
//! passes before a container is made of it.
//!
//! Profiles fail closed. Every name resolves through the complete syscall table of the
//! architecture ([`names`]): a name of another architecture only is skipped, as runc does; a
//! name of no architecture is an error naming it and its rule, unless the rule is marked
//! `"optional": true` (a berth key, in Docker's format and in an OCI config alike), whose
//! unknown names are dropped before the profile reaches the runtime. Docker's profile format is
//! read by [`load_file`] ([`docker`]); an OCI bundle's `linux.seccomp` by [`prepare_bundle`].
//!
//! A profile compiles into one filter per action (the kernel runs them all and the most
//! restrictive answer wins). With a default action other than allow, a first filter gives the
//! default to every call no rule names (under the rule's argument conditions). On x86_64 a
//! filter refuses the x32 ABI's calls (numbers with bit 30 set, which the per-number filters
//! would not match), as a kernel without x32 support does.

mod docker;
mod names;
mod syscalls_aarch64;
mod syscalls_other;
mod syscalls_x86_64;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, Spec};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule,
};
use thiserror::Error;

pub use docker::load_file;
pub use names::{is_syscall, syscall_number, Arch, Resolved};

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

/// Address families the default profile refuses sockets of (EPERM, as Docker's profile does):
/// AF_ALG (the kernel's crypto API) and AF_VSOCK (on a VM, the hypervisor).
const DENIED_SOCKET_FAMILIES: [i32; 2] = [libc::AF_ALG, libc::AF_VSOCK];

/// The x32 ABI's marker in a syscall number (`__X32_SYSCALL_BIT`).
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A profile that cannot be used: where (a key path in the profile, such as `syscalls[2]`)
/// and what is wrong.
#[derive(Debug, Error)]
#[error("{}", render(.key, .message))]
pub struct ProfileError {
    pub key: String,
    pub message: String,
}

fn render(key: &str, message: &str) -> String {
    if key.is_empty() {
        message.to_string()
    } else {
        format!("{key}: {message}")
    }
}

impl ProfileError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> ProfileError {
        ProfileError {
            key: key.into(),
            message: message.into(),
        }
    }

    fn unknown(key: &str, name: &str) -> ProfileError {
        ProfileError::new(
            key,
            format!(
                "`{name}` is not a system call of any Linux architecture: correct the name, or \
                 mark the rule \"optional\": true to have berth skip the names it does not know"
            ),
        )
    }

    /// The error with its key under `prefix` (`linux.seccomp` for an OCI config).
    pub fn within(self, prefix: &str) -> ProfileError {
        let key = if self.key.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.key)
        };
        ProfileError { key, ..self }
    }
}

fn unsupported_arch() -> ProfileError {
    ProfileError::new(
        "",
        format!(
            "seccomp filters are made for x86_64 and aarch64, not {}",
            std::env::consts::ARCH
        ),
    )
}

/// The default profile, as it appears in a spec.
pub fn default_profile() -> LinuxSeccomp {
    let clone_rules = CLONE_NAMESPACE_FLAGS.iter().map(|f| {
        serde_json::json!({
            "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
            "args": [{"index": 0, "value": f, "valueTwo": f, "op": "SCMP_CMP_MASKED_EQ"}]
        })
    });
    // The family is an int: the kernel ignores the upper half of the register, so only the
    // lower one is compared (a plain 64-bit comparison would let 1 << 32 | AF_VSOCK through).
    let socket_rules = DENIED_SOCKET_FAMILIES.iter().map(|family| {
        serde_json::json!({
            "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
            "args": [{"index": 0, "value": 0xffff_ffffu32, "valueTwo": family, "op": "SCMP_CMP_MASKED_EQ"}]
        })
    });
    let mut syscalls = vec![
        serde_json::json!({"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM}),
        serde_json::json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}),
    ];
    syscalls.extend(clone_rules);
    syscalls.extend(socket_rules);
    serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": syscalls,
    }))
    .expect("a valid profile")
}

/// Checks the profile of an OCI bundle (`raw`: its config.json as read, whose spec is `spec`)
/// before anything is created, and drops the names of optional rules that are no syscall.
/// Docker's keys, which an OCI config has not (`name`, `includes`, `excludes`), are errors:
/// runc ignores them, and the conditions with them.
pub fn prepare_bundle(spec: &mut Spec, raw: &serde_json::Value) -> Result<(), ProfileError> {
    let Some(mut linux) = spec.linux().clone() else {
        return Ok(());
    };
    let Some(mut profile) = linux.seccomp().clone() else {
        return Ok(());
    };
    let raw_rules = &raw["linux"]["seccomp"]["syscalls"];
    let mut rules = profile.syscalls().clone().unwrap_or_default();
    for (i, rule) in rules.iter_mut().enumerate() {
        let key = format!("syscalls[{i}]");
        let raw = &raw_rules[i];
        if let Some(k) = ["name", "includes", "excludes"]
            .into_iter()
            .find(|k| raw.get(k).is_some())
        {
            return Err(ProfileError::new(
                format!("{key}.{k}"),
                "a key of Docker's profile format, which an OCI config has not: list the calls \
                 in `names` (without conditions), or give Docker's profile to `berth run \
                 --security-opt seccomp=FILE`",
            ));
        }
        let optional = match raw.get("optional") {
            None => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ProfileError::new(
                    format!("{key}.optional"),
                    "use true or false",
                ))
            }
        };
        if let Some(name) = rule.names().iter().find(|n| !is_syscall(n)) {
            if !optional {
                return Err(ProfileError::unknown(&key, name));
            }
        }
        let names = rule.names().iter().filter(|n| is_syscall(n)).cloned();
        rule.set_names(names.collect());
    }
    profile.set_syscalls(Some(rules));
    let arch = Arch::native().ok_or_else(unsupported_arch)?;
    compile_for(&profile, arch)?;
    linux.set_seccomp(Some(profile));
    spec.set_linux(Some(linux));
    Ok(())
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
        other => return Err(format!("seccomp action {other} is not supported")),
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
    let index = u8::try_from(a.index()).map_err(|_| format!("argument {}", a.index()))?;
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| format!("argument rule: {e}"))
}

/// When a filter matches a syscall: always, or when one of the rules' conditions hold.
#[derive(Clone)]
enum Match {
    Always,
    When(Vec<SeccompRule>),
}

type Rules = BTreeMap<i64, Match>;

fn add(rules: &mut Rules, nr: i64, m: Match) {
    let merged = match (rules.remove(&nr), m) {
        (None, m) => m,
        (Some(Match::Always), _) | (_, Match::Always) => Match::Always,
        (Some(Match::When(mut a)), Match::When(b)) => {
            a.extend(b);
            Match::When(a)
        }
    };
    rules.insert(nr, merged);
}

fn filter(
    rules: &Rules,
    mismatch: SeccompAction,
    matched: SeccompAction,
    arch: Arch,
) -> Result<BpfProgram, ProfileError> {
    let rules = rules
        .iter()
        .map(|(nr, m)| match m {
            Match::Always => (*nr, Vec::new()),
            Match::When(r) => (*nr, r.clone()),
        })
        .collect();
    SeccompFilter::new(rules, mismatch, matched, arch.target())
        .and_then(BpfProgram::try_from)
        .map_err(|e| ProfileError::new("", e.to_string()))
}

/// On x86_64: the x32 ABI's calls (`nr | __X32_SYSCALL_BIT`, with x86_64's audit arch) get
/// ENOSYS; the rest passes (the other filters check the architecture).
fn x32_guard() -> BpfProgram {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    let at = |code, k, jt, jf| sock_filter { code, jt, jf, k };
    vec![
        at(LD_W_ABS, 4, 0, 0), // seccomp_data.arch
        at(JEQ_K, AUDIT_ARCH_X86_64, 0, 3),
        at(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        at(JGE_K, X32_SYSCALL_BIT, 0, 1),
        at(
            RET_K,
            u32::from(SeccompAction::Errno(libc::ENOSYS as u32)),
            0,
            0,
        ),
        at(RET_K, u32::from(SeccompAction::Allow), 0, 0),
    ]
}

/// Compiles a profile into the filters to install, in order.
pub fn compile(profile: &LinuxSeccomp) -> Result<Vec<BpfProgram>, String> {
    let arch = Arch::native().ok_or_else(unsupported_arch);
    arch.and_then(|arch| compile_for(profile, arch))
        .map_err(|e| format!("seccomp profile: {e}"))
}

fn compile_for(profile: &LinuxSeccomp, arch: Arch) -> Result<Vec<BpfProgram>, ProfileError> {
    let default = action(profile.default_action(), profile.default_errno_ret())
        .map_err(|m| ProfileError::new("defaultAction", m))?;
    // Each action's rules, in the order the profile first names the action.
    let mut groups: Vec<(SeccompAction, Rules)> = Vec::new();
    for (i, s) in profile.syscalls().iter().flatten().enumerate() {
        let key = format!("syscalls[{i}]");
        let act = action(s.action(), s.errno_ret()).map_err(|m| ProfileError::new(&key, m))?;
        let conditions = s
            .args()
            .iter()
            .flatten()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| ProfileError::new(&key, m))?;
        let m = if conditions.is_empty() {
            Match::Always
        } else {
            Match::When(vec![
                SeccompRule::new(conditions).map_err(|e| ProfileError::new(&key, e.to_string()))?
            ])
        };
        let mut numbers = Vec::new();
        for name in s.names() {
            match arch.resolve(name) {
                Resolved::Number(nr) => numbers.push(nr),
                Resolved::OtherArch => {
                    tracing::debug!(syscall = %name, ?arch, "seccomp: not a syscall here, skipped")
                }
                Resolved::Unknown => return Err(ProfileError::unknown(&key, name)),
            }
        }
        if act == default {
            continue;
        }
        let g = match groups.iter().position(|(a, _)| *a == act) {
            Some(g) => g,
            None => {
                groups.push((act, Rules::new()));
                groups.len() - 1
            }
        };
        for nr in numbers {
            add(&mut groups[g].1, nr, m.clone());
        }
    }
    let mut out = Vec::new();
    if default != SeccompAction::Allow {
        // Calls a rule names (when its conditions hold) pass to the rule's filter; the rest
        // gets the default.
        let mut named = Rules::new();
        for (nr, m) in groups.iter().flat_map(|(_, rules)| rules) {
            add(&mut named, *nr, m.clone());
        }
        out.push(filter(&named, default, SeccompAction::Allow, arch)?);
    }
    for (act, rules) in &groups {
        if *act != SeccompAction::Allow && !rules.is_empty() {
            out.push(filter(rules, SeccompAction::Allow, act.clone(), arch)?);
        }
    }
    if arch == Arch::X86_64 && !out.is_empty() {
        out.insert(0, x32_guard());
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
