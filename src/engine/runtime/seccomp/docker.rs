//! Docker's seccomp profile format (`--security-opt seccomp=FILE`): the OCI `linux.seccomp`
//! object plus Docker's keys, turned into the OCI profile for a container as Docker does
//! (moby's profiles/seccomp): `archMap` picks the running architecture's entry, a rule's
//! `includes`/`excludes` conditions (architectures, the container's bounding capabilities, the
//! kernel's version) keep or drop it, and the old `name` key is one of `names`.
//!
//! Stricter than Docker where Docker would silently weaken the filter: a key this format does
//! not have (a misspelt `excludes`), an architecture or capability name that is none, and a
//! syscall name of no Linux architecture are errors. A rule marked `"optional": true` (a berth
//! key; Docker ignores it) may name calls berth does not know: they are skipped.

use std::path::Path;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use serde::Deserialize;

use super::{Arch, ProfileError, Resolved};

/// The architecture names of Docker's conditions (Go's, plus libseccomp's sub-architectures).
const DOCKER_ARCHES: &[&str] = &[
    "x86",
    "amd64",
    "x32",
    "arm",
    "arm64",
    "loong64",
    "loongarch64",
    "mips",
    "mipsel",
    "mipsle",
    "mips64",
    "mips64n32",
    "mipsel64",
    "mipsel64n32",
    "mips3l64n32",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv64",
    "s390",
    "s390x",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Profile {
    default_action: LinuxSeccompAction,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<oci_spec::runtime::Arch>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    flags: Option<Vec<oci_spec::runtime::LinuxSeccompFilterFlag>>,
    #[serde(default)]
    listener_path: Option<std::path::PathBuf>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchMap {
    architecture: oci_spec::runtime::Arch,
    #[serde(default)]
    sub_architectures: Option<Vec<oci_spec::runtime::Arch>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    #[allow(dead_code)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<Condition>,
    #[serde(default)]
    excludes: Option<Condition>,
    #[serde(default)]
    optional: bool,
}

#[derive(Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arg {
    index: usize,
    value: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Condition {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// What a rule's conditions are evaluated against.
struct Host<'a> {
    arch: Arch,
    /// The container's bounding capabilities (`CAP_*`).
    caps: &'a [String],
    /// The running kernel's (version, major revision).
    kernel: (u64, u64),
}

/// Reads the profile at `path` (Docker's format) and makes the OCI profile of a container with
/// bounding capabilities `caps`.
pub fn load_file(path: &Path, caps: &[String]) -> Result<LinuxSeccomp, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError::new("", e.to_string()))?;
    let arch = Arch::native().ok_or_else(super::unsupported_arch)?;
    let host = Host {
        arch,
        caps,
        kernel: running_kernel()?,
    };
    let profile = convert(&text, &host)?;
    super::compile_for(&profile, arch)?;
    Ok(profile)
}

fn convert(text: &str, host: &Host) -> Result<LinuxSeccomp, ProfileError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let p: Profile = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().to_string();
        ProfileError::new(if key == "." { "" } else { &key }, message)
    })?;
    let mut architectures = p.architectures.clone();
    match (&p.architectures, &p.arch_map) {
        (Some(_), Some(_)) => {
            return Err(ProfileError::new(
                "archMap",
                "`architectures` and `archMap` are both given: keep one",
            ))
        }
        (None, Some(map)) => {
            if let Some(m) = map.iter().find(|m| m.architecture == host.arch.oci()) {
                let mut list = vec![m.architecture];
                list.extend(m.sub_architectures.clone().unwrap_or_default());
                architectures = Some(list);
            }
        }
        _ => {}
    }
    let mut syscalls = Vec::new();
    for (i, rule) in p.syscalls.iter().enumerate() {
        let key = format!("syscalls[{i}]");
        let names = rule_names(rule, &key)?;
        let mut kept = Vec::new();
        for (j, c) in [("includes", &rule.includes), ("excludes", &rule.excludes)] {
            if let Some(c) = c {
                check_condition(c, &format!("{key}.{j}"))?;
            }
        }
        if !applies(rule, host)? {
            continue;
        }
        for name in names {
            if host.arch.resolve(&name) == Resolved::Unknown {
                // Checked by rule_names: only an optional rule's unknown names come here.
                tracing::debug!(syscall = %name, "seccomp: unknown syscall of an optional rule skipped");
                continue;
            }
            kept.push(name);
        }
        if kept.is_empty() {
            continue;
        }
        let mut s = serde_json::json!({"names": kept, "action": rule.action});
        if let Some(e) = rule.errno_ret {
            s["errnoRet"] = e.into();
        }
        if !rule.args.is_empty() {
            s["args"] = serde_json::to_value(&rule.args).expect("args serialise");
        }
        syscalls.push(s);
    }
    let mut out = serde_json::json!({
        "defaultAction": p.default_action,
        "syscalls": syscalls,
    });
    let set = |out: &mut serde_json::Value, key: &str, v: serde_json::Value| {
        if !v.is_null() {
            out[key] = v;
        }
    };
    set(
        &mut out,
        "defaultErrnoRet",
        serde_json::json!(p.default_errno_ret),
    );
    set(&mut out, "architectures", serde_json::json!(architectures));
    set(&mut out, "flags", serde_json::json!(p.flags));
    set(&mut out, "listenerPath", serde_json::json!(p.listener_path));
    set(
        &mut out,
        "listenerMetadata",
        serde_json::json!(p.listener_metadata),
    );
    serde_json::from_value(out).map_err(|e| ProfileError::new("", e.to_string()))
}

/// The rule's names (`names`, or Docker's old `name`), each a syscall of some architecture
/// unless the rule is optional.
fn rule_names(rule: &Rule, key: &str) -> Result<Vec<String>, ProfileError> {
    let names = match (&rule.name, rule.names.is_empty()) {
        (Some(_), false) => {
            return Err(ProfileError::new(
                key,
                "`name` and `names` are both given: list the calls in `names`",
            ))
        }
        (Some(n), true) => vec![n.clone()],
        (None, false) => rule.names.clone(),
        (None, true) => return Err(ProfileError::new(key, "no `names`: list the calls")),
    };
    for (j, arg) in rule.args.iter().enumerate() {
        if arg.index > 5 {
            return Err(ProfileError::new(
                format!("{key}.args[{j}].index"),
                format!("{} is not an argument (0 to 5)", arg.index),
            ));
        }
    }
    super::action(rule.action, rule.errno_ret)
        .map_err(|m| ProfileError::new(format!("{key}.action"), m))?;
    if !rule.optional {
        if let Some(n) = names.iter().find(|n| !super::is_syscall(n)) {
            return Err(ProfileError::unknown(key, n));
        }
    }
    Ok(names)
}

fn check_condition(c: &Condition, key: &str) -> Result<(), ProfileError> {
    if let Some(a) = c
        .arches
        .iter()
        .find(|a| !DOCKER_ARCHES.contains(&a.as_str()))
    {
        return Err(ProfileError::new(
            format!("{key}.arches"),
            format!(
                "`{a}` is not an architecture of Docker's profiles (use {})",
                DOCKER_ARCHES.join(", ")
            ),
        ));
    }
    let is_cap = |c: &str| {
        c.strip_prefix("CAP_")
            .is_some_and(|n| crate::engine::runtime::process::cap_number(n).is_some())
    };
    if let Some(cap) = c.caps.iter().find(|c| !is_cap(c)) {
        return Err(ProfileError::new(
            format!("{key}.caps"),
            format!("`{cap}` is not a capability (use names such as CAP_SYS_ADMIN)"),
        ));
    }
    if let Some(v) = &c.min_kernel {
        parse_kernel(v).map_err(|m| ProfileError::new(format!("{key}.minKernel"), m))?;
    }
    Ok(())
}

/// Docker's evaluation of `excludes` then `includes` (moby's setupSeccomp).
fn applies(rule: &Rule, host: &Host) -> Result<bool, ProfileError> {
    let arch = host.arch.docker_name();
    let has_cap = |c: &String| host.caps.contains(c);
    let kernel_at_least = |v: &Option<String>| -> Result<Option<bool>, ProfileError> {
        v.as_deref()
            .map(|v| parse_kernel(v).map(|min| host.kernel >= min))
            .transpose()
            .map_err(|m| ProfileError::new("minKernel", m))
    };
    if let Some(x) = &rule.excludes {
        if x.arches.iter().any(|a| a == arch)
            || x.caps.iter().any(has_cap)
            || kernel_at_least(&x.min_kernel)? == Some(true)
        {
            return Ok(false);
        }
    }
    if let Some(x) = &rule.includes {
        if (!x.arches.is_empty() && !x.arches.iter().any(|a| a == arch))
            || !x.caps.iter().all(has_cap)
            || kernel_at_least(&x.min_kernel)? == Some(false)
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `"4.8"` -> (4, 8), as Docker reads `minKernel`.
fn parse_kernel(v: &str) -> Result<(u64, u64), String> {
    let bad =
        || format!("`{v}` is not a kernel version: use \"<version>.<major revision>\" (\"5.6\")");
    let (a, b) = v.split_once('.').ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if (a, b) == (0, 0) {
        return Err(bad());
    }
    Ok((a, b))
}

/// The running kernel's (version, major revision): "6.18.44-fc" -> (6, 18).
fn running_kernel() -> Result<(u64, u64), ProfileError> {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(ProfileError::new(
            "",
            format!("the kernel's release `{release}` has no version"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(caps: &[String]) -> Host<'_> {
        Host {
            arch: Arch::X86_64,
            caps,
            kernel: (6, 1),
        }
    }

    fn names_of(p: &LinuxSeccomp) -> Vec<Vec<String>> {
        p.syscalls()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn conditions_pick_the_rules_as_docker_does() {
        let text = r#"{
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
                {"name": "read", "action": "SCMP_ACT_ALLOW", "comment": "old form"},
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
                {"names": ["breakpoint"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]},
                 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
                {"names": ["statmount"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.8"}},
                {"names": ["socketcall", "read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]}"#;
        let p = convert(text, &host(&[])).unwrap();
        assert_eq!(
            names_of(&p),
            [
                vec!["read"],
                vec!["arch_prctl"],
                vec!["clone"],
                vec!["ptrace"],
                vec!["socketcall", "read"]
            ]
        );
        assert_eq!(
            p.architectures().clone().unwrap(),
            [
                oci_spec::runtime::Arch::ScmpArchX86_64,
                oci_spec::runtime::Arch::ScmpArchX86
            ]
        );
        let admin = ["CAP_SYS_ADMIN".to_string()];
        let p = convert(text, &host(&admin)).unwrap();
        let names = names_of(&p);
        assert!(names.contains(&vec!["mount".to_string()]));
        assert!(!names.contains(&vec!["clone".to_string()]));
        super::super::compile_for(&p, Arch::X86_64).unwrap();
        super::super::compile_for(&p, Arch::Aarch64).unwrap();
    }

    #[test]
    fn what_docker_would_ignore_is_an_error() {
        let rule = |r: &str| {
            format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{{"names": ["chroot"], "action": "SCMP_ACT_ERRNO"}}, {r}]}}"#
            )
        };
        let err = |text: String| convert(&text, &host(&[])).unwrap_err().to_string();
        let e = err(rule(
            r#"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "exclude": {"caps": ["CAP_SYS_ADMIN"]}}"#,
        ));
        assert!(e.starts_with("syscalls[1]") && e.contains("exclude"), "{e}");
        let e = err(rule(
            r#"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["x86_64"]}}"#,
        ));
        assert!(
            e.starts_with("syscalls[1].includes.arches") && e.contains("amd64"),
            "{e}"
        );
        let e = err(rule(
            r#"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["SYS_ADMIN"]}}"#,
        ));
        assert!(e.starts_with("syscalls[1].excludes.caps"), "{e}");
        let e = err(rule(
            r#"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "6"}}"#,
        ));
        assert!(e.starts_with("syscalls[1].includes.minKernel"), "{e}");
        let e = err(rule(
            r#"{"names": ["mkdir", "mkdri"], "action": "SCMP_ACT_ERRNO"}"#,
        ));
        assert!(
            e.starts_with("syscalls[1]: `mkdri` is not a system call"),
            "{e}"
        );
        let e = err(rule(
            r#"{"names": ["mkdir"], "name": "chroot", "action": "SCMP_ACT_ERRNO"}"#,
        ));
        assert!(e.contains("both"), "{e}");
        let e = err(rule(r#"{"names": [], "action": "SCMP_ACT_ERRNO"}"#));
        assert!(e.contains("no `names`"), "{e}");
        let e = err(rule(
            r#"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}"#,
        ));
        assert!(e.starts_with("syscalls[1].args[0].index"), "{e}");
        let e = err(rule(
            r#"{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "valuetwo": 2, "op": "SCMP_CMP_EQ"}]}"#,
        ));
        assert!(e.contains("valuetwo"), "{e}");
        let e = err(r#"{"syscalls": []}"#.to_string());
        assert!(e.contains("defaultAction"), "{e}");
    }

    #[test]
    fn an_optional_rule_skips_names_berth_does_not_know() {
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["chroot", "berth_no_such_call"], "action": "SCMP_ACT_ERRNO", "optional": true},
            {"names": ["berth_no_such_call"], "action": "SCMP_ACT_ERRNO", "optional": true}]}"#;
        let p = convert(text, &host(&[])).unwrap();
        assert_eq!(names_of(&p), [vec!["chroot"]]);
    }

    #[test]
    fn kernel_versions_read_as_docker_reads_them() {
        assert_eq!(parse_kernel("4.8"), Ok((4, 8)));
        assert_eq!(parse_kernel("5.15"), Ok((5, 15)));
        assert!(parse_kernel("5").is_err());
        assert!(parse_kernel("0.0").is_err());
        assert!(parse_kernel("5.x").is_err());
        assert!(running_kernel().unwrap() >= (3, 0));
    }
}
