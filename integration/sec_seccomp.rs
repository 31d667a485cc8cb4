//! Seccomp profiles fail closed: every syscall name resolves through the architecture's complete
//! table (a custom profile denying mkdir, chroot, socket, io_uring_setup, unshare and rarely used
//! calls denies them all, through `--security-opt seccomp=FILE` in Docker's format and through an
//! OCI bundle's `linux.seccomp`); a name that is a syscall nowhere is an error naming it and the
//! profile unless its rule is marked optional; names of other architectures are skipped, as runc
//! does; Docker's conditions (includes/excludes) and argument conditions hold; the default
//! profile refuses socket(AF_VSOCK) and socket(AF_ALG) with EPERM, as Docker's does.
//!
//! A static probe (compiled here with the C toolchain that links Rust) makes the calls: each
//! argument `LABEL=NR[,A0[,A1[,A2]]]` prints `LABEL ERRNO`. The custom profiles answer with
//! errno 121 (EREMOTEIO), which none of these calls returns by itself, so a 121 proves the filter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const PROBE_C: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *label = argv[i], *p = strchr(label, '=');
        if (!p) return 2;
        *p++ = 0;
        unsigned long long v[4] = {0, 0, 0, 0};
        for (int k = 0; k < 4 && *p; k++) {
            v[k] = strtoull(p, &p, 0);
            if (*p == ',') p++;
        }
        errno = 0;
        long r = syscall((long)v[0], v[1], v[2], v[3], 0, 0, 0);
        printf("%s %d\n", label, r < 0 ? errno : 0);
    }
    return 0;
}
"#;

/// The errno the custom profiles answer with (EREMOTEIO).
const DENIED: i32 = 121;

/// Docker's name for this architecture (the `arches` of its profile conditions).
const DOCKER_ARCH: &str = if cfg!(target_arch = "aarch64") {
    "arm64"
} else {
    "amd64"
};

/// The number of syscall `name` on this architecture: the `libc` crate's, or for calls newer
/// than its tables the kernel's (the same on x86_64 and aarch64); `None` when this
/// architecture has no such call.
fn nr(name: &str) -> Option<i64> {
    #[cfg(target_arch = "x86_64")]
    if name == "mkdir" {
        return Some(libc::SYS_mkdir);
    }
    Some(match name {
        "mkdirat" => libc::SYS_mkdirat,
        "chroot" => libc::SYS_chroot,
        "socket" => libc::SYS_socket,
        "io_uring_setup" => libc::SYS_io_uring_setup,
        "unshare" => libc::SYS_unshare,
        "tee" => libc::SYS_tee,
        "mknodat" => libc::SYS_mknodat,
        "mseal" => libc::SYS_mseal,
        "landlock_create_ruleset" => libc::SYS_landlock_create_ruleset,
        "getpid" => libc::SYS_getpid,
        "cachestat" => 451,
        "fchmodat2" => 452,
        "listmount" => 458,
        "setxattrat" => 463,
        "file_getattr" => 468,
        _ => return None,
    })
}

/// The calls a custom profile denies: the issue's and rarely used ones, several newer than
/// the `libc` crate's tables (mkdir exists on x86_64 only: aarch64 skips it).
const DENY: &[&str] = &[
    "mkdir",
    "mkdirat",
    "chroot",
    "socket",
    "io_uring_setup",
    "unshare",
    "tee",
    "mknodat",
    "mseal",
    "landlock_create_ruleset",
    "cachestat",
    "fchmodat2",
    "listmount",
    "setxattrat",
    "file_getattr",
];

/// Compiles the probe into `DIR/probe` (static: the busybox image has no libc).
fn build_probe(b: &Berth) -> PathBuf {
    let dir = b.path().join("probe-src");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("probe.c"), PROBE_C).unwrap();
    let out = dir.join("probe");
    let cc = Command::new(tool("cc", "gcc"))
        .args(["-static", "-O1", "-o"])
        .arg(&out)
        .arg(dir.join("probe.c"))
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    out
}

/// Imports `bb:probe`: busybox plus /bin/probe.
fn probe_image(b: &Berth) {
    let probe = std::fs::read(build_probe(b)).unwrap();
    let mut layer = tar::Builder::new(Vec::new());
    add_file(&mut layer, "bin/probe", &probe, 0o755);
    b.busybox_image_with(
        "bb:probe",
        vec![layer.into_inner().unwrap()],
        serde_json::json!({"Env": ["PATH=/bin"], "Cmd": ["/bin/probe"]}),
    );
}

/// A busybox bundle whose process is the probe with `calls`; `edit` changes its config.json.
fn probe_bundle(
    b: &Berth,
    name: &str,
    calls: &[String],
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let probe = build_probe(b);
    let mut args = vec!["/bin/probe"];
    args.extend(calls.iter().map(String::as_str));
    let bundle = b.bundle(name, &args, edit);
    std::fs::copy(probe, bundle.join("rootfs/bin/probe")).unwrap();
    bundle
}

/// `LABEL=NR` for each of `names` this architecture has, and the getpid control.
fn calls_of(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| nr(n).map(|nr| format!("{n}={nr}")))
        .chain([format!("getpid={}", libc::SYS_getpid)])
        .collect()
}

/// The probe's answers: label -> errno.
fn answers(out: &str) -> BTreeMap<String, i32> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(l, e)| (l.to_string(), e.trim().parse().unwrap()))
        .collect()
}

/// Asserts that each of `names` (those this architecture has) was refused with `errno`.
fn assert_denied(got: &BTreeMap<String, i32>, names: &[&str], errno: i32, what: &str) {
    for n in names.iter().filter(|n| nr(n).is_some()) {
        assert_eq!(got.get(*n), Some(&errno), "{what}: `{n}` ({got:?})");
    }
    assert_eq!(
        got.get("getpid"),
        Some(&0),
        "{what}: getpid works ({got:?})"
    );
}

/// A profile (Docker's format, which is the OCI one plus its own keys) that allows all but
/// `rules`.
fn profile(rules: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

fn write_profile(b: &Berth, name: &str, p: &serde_json::Value) -> String {
    let path = b.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(p).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

/// `berth run --rm [FLAGS] bb:probe /bin/probe CALLS`: (exit code, stdout, stderr).
fn run_probe(b: &Berth, flags: &[&str], calls: &[String]) -> (Option<i32>, String, String) {
    let mut args = vec!["run", "--rm"];
    args.extend(flags);
    args.extend(["bb:probe", "/bin/probe"]);
    args.extend(calls.iter().map(String::as_str));
    let out = b.cli(&args);
    (out.status.code(), stdout(&out), stderr(&out))
}

fn oci_run(b: &Berth, bundle: &Path, id: &str) -> (Option<i32>, String, String) {
    let out = b.oci(&["run", "-b", bundle.to_str().unwrap(), id]);
    (out.status.code(), stdout(&out), stderr(&out))
}

/// The deny rule: DENY plus names of other architectures (skipped here, as runc does).
fn deny_rule() -> serde_json::Value {
    let mut names: Vec<&str> = DENY.to_vec();
    names.extend(["s390_runtime_instr", "socketcall", "arm_fadvise64_64"]);
    serde_json::json!({"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": DENIED})
}

#[test]
fn a_custom_profile_denies_every_syscall_it_names() {
    if !root_or_skip("a_custom_profile_denies_every_syscall_it_names") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    let file = write_profile(&b, "deny.json", &profile(serde_json::json!([deny_rule()])));
    let opt = format!("seccomp={file}");
    let (code, out, err) = run_probe(&b, &["--security-opt", &opt], &calls_of(DENY));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_denied(&answers(&out), DENY, DENIED, "--security-opt seccomp=FILE");
    assert_eq!(b.cli_ok(&["ps", "-aq"]), "");

    // The same profile as an OCI bundle's linux.seccomp.
    let bundle = probe_bundle(&b, "b1", &calls_of(DENY), |spec| {
        spec["linux"]["seccomp"] = profile(serde_json::json!([deny_rule()]));
    });
    let (code, out, err) = oci_run(&b, &bundle, &b.id("c1"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_denied(&answers(&out), DENY, DENIED, "oci run, linux.seccomp");
}

#[test]
fn dockers_profile_format_and_its_conditions_hold() {
    if !root_or_skip("dockers_profile_format_and_its_conditions_hold") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    let rule = |names: serde_json::Value, errno: i32, extra: serde_json::Value| {
        let mut r = serde_json::json!({"action": "SCMP_ACT_ERRNO", "errnoRet": errno});
        r.as_object_mut()
            .unwrap()
            .extend(names.as_object().unwrap().clone());
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    let p = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            // The old single-name form.
            rule(serde_json::json!({"name": "chroot"}), 121, serde_json::json!({"comment": "legacy"})),
            rule(serde_json::json!({"names": ["unshare"]}), 122,
                 serde_json::json!({"includes": {"arches": [DOCKER_ARCH]}})),
            rule(serde_json::json!({"names": ["tee"]}), 123,
                 serde_json::json!({"includes": {"arches": ["s390x"]}})),
            rule(serde_json::json!({"names": ["mknodat"]}), 124,
                 serde_json::json!({"excludes": {"caps": ["CAP_SYS_ADMIN"]}})),
            rule(serde_json::json!({"names": ["cachestat"]}), 125,
                 serde_json::json!({"includes": {"caps": ["CAP_SYS_ADMIN"]}})),
            rule(serde_json::json!({"names": ["listmount"]}), 126,
                 serde_json::json!({"includes": {"minKernel": "4.0"}})),
            rule(serde_json::json!({"names": ["mseal"]}), 127,
                 serde_json::json!({"includes": {"minKernel": "99.0"}})),
            rule(serde_json::json!({"names": ["setxattrat"]}), 128,
                 serde_json::json!({"excludes": {"arches": [DOCKER_ARCH]}})),
        ]
    });
    let file = write_profile(&b, "docker.json", &p);
    let opt = format!("seccomp={file}");
    let names = [
        "chroot",
        "unshare",
        "tee",
        "mknodat",
        "cachestat",
        "listmount",
        "mseal",
        "setxattrat",
    ];
    let (code, out, err) = run_probe(&b, &["--security-opt", &opt], &calls_of(&names));
    assert_eq!(code, Some(0), "{out}{err}");
    let got = answers(&out);
    let expect = |n: &str| got.get(n).copied();
    assert_eq!(expect("chroot"), Some(121), "`name`: {got:?}");
    assert_eq!(expect("unshare"), Some(122), "this arch included: {got:?}");
    assert_ne!(expect("tee"), Some(123), "s390x only: {got:?}");
    assert_eq!(expect("mknodat"), Some(124), "no CAP_SYS_ADMIN: {got:?}");
    assert_ne!(
        expect("cachestat"),
        Some(125),
        "needs CAP_SYS_ADMIN: {got:?}"
    );
    assert_eq!(expect("listmount"), Some(126), "kernel >= 4.0: {got:?}");
    assert_ne!(expect("mseal"), Some(127), "kernel >= 99.0: {got:?}");
    assert_ne!(
        expect("setxattrat"),
        Some(128),
        "this arch excluded: {got:?}"
    );
    // With CAP_SYS_ADMIN the capability conditions turn.
    let (code, out, err) = run_probe(
        &b,
        &["--security-opt", &opt, "--cap-add", "SYS_ADMIN"],
        &calls_of(&names),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let got = answers(&out);
    assert_ne!(got.get("mknodat"), Some(&124), "excluded: {got:?}");
    assert_eq!(got.get("cachestat"), Some(&125), "included: {got:?}");

    // A misspelt key would silently drop a condition: refused, naming it.
    let mut typo = p.clone();
    typo["syscalls"][3]["exclude"] = typo["syscalls"][3]["excludes"].take();
    typo["syscalls"][3]
        .as_object_mut()
        .unwrap()
        .remove("excludes");
    let file = write_profile(&b, "typo.json", &typo);
    let (code, out, err) = run_probe(
        &b,
        &["--security-opt", &format!("seccomp={file}")],
        &calls_of(&names),
    );
    assert_ne!(code, Some(0), "{out}");
    assert!(
        err.contains("exclude") && err.contains(&file),
        "names the key and the file: {err}"
    );
    assert_eq!(b.cli_ok(&["ps", "-aq"]), "");
}

#[test]
fn arguments_conditions_hold_on_the_new_names() {
    if !root_or_skip("arguments_conditions_hold_on_the_new_names") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    let arg = |index: u32, op: &str, value: u64| serde_json::json!([{"index": index, "op": op, "value": value}]);
    let deny = |name: &str, args: serde_json::Value| serde_json::json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": DENIED, "args": args});
    let p = profile(serde_json::json!([
        deny("socket", arg(0, "SCMP_CMP_EQ", libc::AF_INET as u64)),
        deny("io_uring_setup", arg(0, "SCMP_CMP_GT", 8)),
        deny(
            "cachestat",
            serde_json::json!([{"index": 1, "op": "SCMP_CMP_MASKED_EQ", "value": 0xf0, "valueTwo": 0x30}])
        ),
        // A conditional and an unconditional rule for one call: the call is denied.
        deny("mknodat", arg(0, "SCMP_CMP_EQ", 5)),
        serde_json::json!({"names": ["mknodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": DENIED}),
    ]));
    let file = write_profile(&b, "args.json", &p);
    let n = |name: &str| nr(name).unwrap();
    let calls = vec![
        format!(
            "inet={},{},{}",
            n("socket"),
            libc::AF_INET,
            libc::SOCK_STREAM
        ),
        format!(
            "unix={},{},{}",
            n("socket"),
            libc::AF_UNIX,
            libc::SOCK_STREAM
        ),
        format!("uring_big={},16", n("io_uring_setup")),
        format!("uring_small={},1", n("io_uring_setup")),
        format!("cachestat_match={},0,0x35", n("cachestat")),
        format!("cachestat_other={},0,0x05", n("cachestat")),
        format!("mknodat={},0", n("mknodat")),
    ];
    let (code, out, err) = run_probe(&b, &["--security-opt", &format!("seccomp={file}")], &calls);
    assert_eq!(code, Some(0), "{out}{err}");
    let got = answers(&out);
    assert_eq!(got.get("inet"), Some(&DENIED), "{got:?}");
    assert_eq!(got.get("unix"), Some(&0), "{got:?}");
    assert_eq!(got.get("uring_big"), Some(&DENIED), "{got:?}");
    assert_ne!(got.get("uring_small"), Some(&DENIED), "{got:?}");
    assert_eq!(got.get("cachestat_match"), Some(&DENIED), "{got:?}");
    assert_ne!(got.get("cachestat_other"), Some(&DENIED), "{got:?}");
    assert_eq!(got.get("mknodat"), Some(&DENIED), "{got:?}");
}

#[test]
fn a_name_that_is_no_syscall_is_an_error_unless_its_rule_is_optional() {
    if !root_or_skip("a_name_that_is_no_syscall_is_an_error_unless_its_rule_is_optional") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    let rule = |optional: bool| {
        let mut r = serde_json::json!({
            "names": ["chroot", "berth_no_such_call"], "action": "SCMP_ACT_ERRNO", "errnoRet": DENIED
        });
        if optional {
            r["optional"] = serde_json::json!(true);
        }
        profile(
            serde_json::json!([{"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": DENIED}, r]),
        )
    };
    let calls = calls_of(&["chroot", "unshare"]);

    let file = write_profile(&b, "unknown.json", &rule(false));
    let (code, out, err) = run_probe(&b, &["--security-opt", &format!("seccomp={file}")], &calls);
    assert_ne!(code, Some(0), "refused: {out}");
    assert!(
        err.contains("berth_no_such_call") && err.contains(&file) && err.contains("syscalls[1]"),
        "names the call, the rule and the profile: {err}"
    );
    assert_eq!(b.cli_ok(&["ps", "-aq"]), "", "no container made");

    let file = write_profile(&b, "optional.json", &rule(true));
    let (code, out, err) = run_probe(&b, &["--security-opt", &format!("seccomp={file}")], &calls);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_denied(
        &answers(&out),
        &["chroot", "unshare"],
        DENIED,
        "optional rule",
    );

    // The same through an OCI bundle.
    let bundle = probe_bundle(&b, "b1", &calls, |spec| {
        spec["linux"]["seccomp"] = rule(false);
    });
    let (code, out, err) = oci_run(&b, &bundle, &b.id("c1"));
    assert_ne!(code, Some(0), "refused: {out}");
    assert!(
        err.contains("berth_no_such_call")
            && err.contains("config.json")
            && err.contains("linux.seccomp.syscalls[1]"),
        "names the call, the rule and the bundle's config: {err}"
    );
    assert!(
        !b.path().join("state/runtime/c1").exists(),
        "nothing left of c1: {:?}",
        b.state_files()
    );
    let bundle = probe_bundle(&b, "b2", &calls, |spec| {
        spec["linux"]["seccomp"] = rule(true);
    });
    let (code, out, err) = oci_run(&b, &bundle, &b.id("c2"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_denied(
        &answers(&out),
        &["chroot", "unshare"],
        DENIED,
        "optional rule (OCI)",
    );
}

/// socket(2) calls for the default profile: vsock (also with bits above the int set, which the
/// kernel ignores), AF_ALG, and the families that must keep working.
fn socket_calls() -> Vec<String> {
    let s = libc::SYS_socket;
    vec![
        format!("vsock={s},{},{}", libc::AF_VSOCK, libc::SOCK_STREAM),
        format!(
            "vsock_high={s},{:#x},{}",
            (1u64 << 32) | libc::AF_VSOCK as u64,
            libc::SOCK_STREAM
        ),
        format!("alg={s},{},{}", libc::AF_ALG, libc::SOCK_SEQPACKET),
        format!("inet={s},{},{}", libc::AF_INET, libc::SOCK_STREAM),
        format!("unix={s},{},{}", libc::AF_UNIX, libc::SOCK_STREAM),
    ]
}

fn assert_vsock_refused(got: &BTreeMap<String, i32>, what: &str) {
    for f in ["vsock", "vsock_high", "alg"] {
        assert_eq!(got.get(f), Some(&libc::EPERM), "{what}: {f} ({got:?})");
    }
    for f in ["inet", "unix"] {
        assert_eq!(got.get(f), Some(&0), "{what}: {f} works ({got:?})");
    }
}

#[test]
fn the_default_profile_refuses_vsock_and_alg_sockets() {
    if !root_or_skip("the_default_profile_refuses_vsock_and_alg_sockets") {
        return;
    }
    let b = Berth::new();
    probe_image(&b);
    let (code, out, err) = run_probe(&b, &[], &socket_calls());
    assert_eq!(code, Some(0), "{out}{err}");
    assert_vsock_refused(&answers(&out), "berth run");

    let bundle = probe_bundle(&b, "b1", &socket_calls(), |_| {});
    let (code, out, err) = oci_run(&b, &bundle, &b.id("c1"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_vsock_refused(
        &answers(&out),
        "berth oci run with `berth oci spec`'s profile",
    );
}
