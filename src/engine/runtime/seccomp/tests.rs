//! The compiled filters, run by a small classic-BPF interpreter on both architectures: what
//! the kernel would answer for a call, without installing anything.

use super::*;

const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;
const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;

fn errno(e: i32) -> u32 {
    0x0005_0000 | e as u32
}

fn audit_arch(arch: Arch) -> u32 {
    match arch {
        Arch::X86_64 => AUDIT_ARCH_X86_64,
        Arch::Aarch64 => AUDIT_ARCH_AARCH64,
    }
}

/// Runs one filter on `struct seccomp_data` {nr, arch, ip, args[6]}.
fn run(prog: &[sock_filter], nr: u32, audit: u32, args: [u64; 6]) -> u32 {
    let word = |off: u32| -> u32 {
        match off {
            0 => nr,
            4 => audit,
            16..=63 => {
                let arg = args[(off as usize - 16) / 8];
                if off.is_multiple_of(8) {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            _ => panic!("load at {off}"),
        }
    };
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let i = &prog[pc];
        pc += 1;
        match i.code {
            0x20 => a = word(i.k),
            0x54 => a &= i.k,
            0x05 => pc += i.k as usize,
            0x15 | 0x25 | 0x35 => {
                let taken = match i.code {
                    0x15 => a == i.k,
                    0x25 => a > i.k,
                    _ => a >= i.k,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            0x06 => return i.k,
            c => panic!("instruction {c:#x}"),
        }
    }
}

/// The kernel's answer with every filter installed: the most restrictive action (the lowest as
/// a signed number), the latest filter's among equals.
fn verdict(filters: &[BpfProgram], nr: i64, audit: u32, args: [u64; 6]) -> u32 {
    let action = |r: u32| (r & 0xffff_0000) as i32;
    let mut ret = RET_ALLOW;
    for f in filters.iter().rev() {
        let r = run(f, nr as u32, audit, args);
        if action(r) < action(ret) {
            ret = r;
        }
    }
    ret
}

fn call(filters: &[BpfProgram], arch: Arch, name: &str, args: [u64; 6]) -> u32 {
    let nr = arch
        .number(name)
        .unwrap_or_else(|| panic!("{name} on {arch:?}"));
    verdict(filters, nr, audit_arch(arch), args)
}

fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).unwrap()
}

const ARCHES: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

#[test]
fn every_name_of_the_default_profile_resolves() {
    let x86_only = ["iopl", "ioperm", "uselib"];
    let p = default_profile();
    let names: Vec<&String> = p
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names())
        .collect();
    assert!(names.len() > DENIED.len());
    for name in names {
        assert!(Arch::X86_64.number(name).is_some(), "{name} on x86_64");
        assert_eq!(
            Arch::Aarch64.number(name).is_some(),
            !x86_only.contains(&name.as_str()),
            "{name} on aarch64"
        );
    }
}

#[test]
fn the_default_profile_refuses_what_docker_refuses() {
    for arch in ARCHES {
        let f = compile_for(&default_profile(), arch).unwrap();
        let no = [0; 6];
        for name in DENIED.iter().filter(|n| arch.number(n).is_some()) {
            assert_eq!(call(&f, arch, name, no), errno(libc::EPERM), "{name}");
        }
        assert_eq!(call(&f, arch, "clone3", no), errno(libc::ENOSYS));
        let newuser = 0x1000_0000;
        assert_eq!(
            call(&f, arch, "clone", [newuser | 17, 0, 0, 0, 0, 0]),
            errno(libc::EPERM)
        );
        assert_eq!(call(&f, arch, "clone", [17, 0, 0, 0, 0, 0]), RET_ALLOW);
        for family in [libc::AF_VSOCK, libc::AF_ALG] {
            let family = family as u64;
            assert_eq!(
                call(&f, arch, "socket", [family, 1, 0, 0, 0, 0]),
                errno(libc::EPERM)
            );
            // The kernel reads an int: the upper half of the register does not hide it.
            let high = (7 << 32) | family;
            assert_eq!(
                call(&f, arch, "socket", [high, 1, 0, 0, 0, 0]),
                errno(libc::EPERM)
            );
        }
        for family in [
            libc::AF_UNIX,
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_NETLINK,
        ] {
            let args = [family as u64, 1, 0, 0, 0, 0];
            assert_eq!(call(&f, arch, "socket", args), RET_ALLOW, "{family}");
        }
        for name in ["read", "openat", "getpid", "io_uring_setup", "socketpair"] {
            assert_eq!(call(&f, arch, name, no), RET_ALLOW, "{name}");
        }
        // Another architecture's calls (i386 on x86_64) are killed.
        assert_eq!(verdict(&f, 1, AUDIT_ARCH_I386, no), RET_KILL_PROCESS);
    }
}

#[test]
fn x32_calls_get_enosys_on_x86_64() {
    let f = compile_for(&default_profile(), Arch::X86_64).unwrap();
    let mkdir = Arch::X86_64.number("mkdir").unwrap();
    let x32 = |nr: i64| nr | i64::from(X32_SYSCALL_BIT);
    // unshare is denied by number; its x32 number must not slip past.
    let unshare = Arch::X86_64.number("unshare").unwrap();
    for nr in [x32(unshare), x32(mkdir), x32(512)] {
        assert_eq!(
            verdict(&f, nr, AUDIT_ARCH_X86_64, [0; 6]),
            errno(libc::ENOSYS)
        );
    }
    assert!(
        compile_for(&default_profile(), Arch::Aarch64)
            .unwrap()
            .len()
            < f.len()
    );
}

fn deny(names: &[&str], errno: i32) -> serde_json::Value {
    serde_json::json!({"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": errno})
}

#[test]
fn a_custom_profile_denies_every_name_it_gives() {
    let names = [
        "mkdir",
        "mkdirat",
        "chroot",
        "socket",
        "io_uring_setup",
        "unshare",
        "cachestat",
        "fchmodat2",
        "listmount",
        "setxattrat",
        "file_getattr",
        "open_tree_attr",
        "s390_runtime_instr",
    ];
    let p = profile(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [deny(&names, 121)]}),
    );
    for arch in ARCHES {
        let f = compile_for(&p, arch).unwrap();
        for name in names.iter().filter(|n| arch.number(n).is_some()) {
            assert_eq!(
                call(&f, arch, name, [0; 6]),
                errno(121),
                "{name} on {arch:?}"
            );
        }
        assert_eq!(call(&f, arch, "getpid", [0; 6]), RET_ALLOW);
    }
    // mkdir is x86_64's (aarch64 has mkdirat only) and s390_runtime_instr s390's: skipped.
    assert_eq!(Arch::Aarch64.resolve("mkdir"), Resolved::OtherArch);
}

#[test]
fn a_name_of_no_architecture_is_an_error_naming_it_and_its_rule() {
    let p = profile(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        deny(&["chroot"], 1), deny(&["unshare", "berth_no_such_call"], 1)]}),
    );
    let e = compile_for(&p, Arch::X86_64).unwrap_err();
    assert_eq!(e.key, "syscalls[1]");
    assert!(e.message.contains("`berth_no_such_call`"), "{e}");
    let e = e.within("linux.seccomp").to_string();
    assert!(
        e.starts_with("linux.seccomp.syscalls[1]: `berth_no_such_call` is not a system call"),
        "{e}"
    );
}

#[test]
fn a_deny_by_default_profile_gives_the_default_to_what_no_rule_names() {
    let p = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": libc::AF_UNIX, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        ]
    }));
    for arch in ARCHES {
        let f = compile_for(&p, arch).unwrap();
        let no = [0; 6];
        assert_eq!(call(&f, arch, "read", no), RET_ALLOW);
        assert_eq!(call(&f, arch, "openat", no), errno(1));
        assert_eq!(call(&f, arch, "getpid", no), RET_LOG);
        assert_eq!(call(&f, arch, "clone3", no), errno(38));
        let unix = [libc::AF_UNIX as u64, 1, 0, 0, 0, 0];
        assert_eq!(call(&f, arch, "socket", unix), RET_ALLOW);
        let inet = [libc::AF_INET as u64, 1, 0, 0, 0, 0];
        assert_eq!(call(&f, arch, "socket", inet), errno(1));
    }
    // No rules at all: everything gets the default (no filter would allow everything).
    let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO"}));
    let f = compile_for(&p, Arch::X86_64).unwrap();
    assert_eq!(call(&f, Arch::X86_64, "getpid", [0; 6]), errno(libc::EPERM));
    let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [deny(&["chroot"], 121)]}));
    let f = compile_for(&p, Arch::X86_64).unwrap();
    assert_eq!(call(&f, Arch::X86_64, "getpid", [0; 6]), RET_KILL_PROCESS);
    assert_eq!(call(&f, Arch::X86_64, "chroot", [0; 6]), errno(121));
}

#[test]
fn an_unconditional_rule_is_not_narrowed_by_a_conditional_one() {
    let cond = serde_json::json!({"names": ["mknodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 121,
        "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]});
    for rules in [
        serde_json::json!([cond.clone(), deny(&["mknodat"], 121)]),
        serde_json::json!([deny(&["mknodat"], 121), cond.clone()]),
    ] {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
        let f = compile_for(&p, Arch::X86_64).unwrap();
        assert_eq!(call(&f, Arch::X86_64, "mknodat", [0; 6]), errno(121));
    }
    let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [cond]}));
    let f = compile_for(&p, Arch::X86_64).unwrap();
    assert_eq!(call(&f, Arch::X86_64, "mknodat", [0; 6]), RET_ALLOW);
    assert_eq!(
        call(&f, Arch::X86_64, "mknodat", [5, 0, 0, 0, 0, 0]),
        errno(121)
    );
}

fn bundle_with(seccomp: serde_json::Value) -> (tempfile::TempDir, Spec) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = serde_json::to_value(super::super::spec::default_spec()).unwrap();
    spec["linux"]["seccomp"] = seccomp;
    std::fs::write(dir.path().join("config.json"), spec.to_string()).unwrap();
    (dir, serde_json::from_value(spec).unwrap())
}

#[test]
fn a_bundle_profile_drops_the_unknown_names_of_optional_rules_only() {
    let mut rule = deny(&["chroot", "berth_no_such_call"], 121);
    let (dir, mut spec) = bundle_with(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [deny(&["unshare"], 121), rule.clone()]}));
    let e = prepare_bundle(&mut spec, &raw_of(&dir)).unwrap_err();
    assert_eq!(e.key, "syscalls[1]");
    rule["optional"] = true.into();
    let (dir, mut spec) = bundle_with(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [deny(&["unshare"], 121), rule]}));
    prepare_bundle(&mut spec, &raw_of(&dir)).unwrap();
    let profile = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
    let names: Vec<Vec<String>> = profile
        .syscalls()
        .iter()
        .flatten()
        .map(|s| s.names().clone())
        .collect();
    assert_eq!(names, [vec!["unshare"], vec!["chroot"]]);
    compile(&profile).unwrap();
}

#[test]
fn a_bundle_profile_with_dockers_keys_is_refused() {
    for (key, value) in [
        ("includes", serde_json::json!({"caps": ["CAP_SYS_ADMIN"]})),
        ("excludes", serde_json::json!({"arches": ["s390x"]})),
        ("name", serde_json::json!("mount")),
    ] {
        let mut rule = deny(&["chroot"], 121);
        rule[key] = value;
        let (dir, mut spec) =
            bundle_with(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}));
        let e = prepare_bundle(&mut spec, &raw_of(&dir)).unwrap_err();
        assert_eq!(e.key, format!("syscalls[0].{key}"), "{e}");
    }
    // Without a profile there is nothing to check.
    let (dir, mut spec) = bundle_with(serde_json::Value::Null);
    prepare_bundle(&mut spec, &raw_of(&dir)).unwrap();
}

/// The config.json [`bundle_with`] wrote, as read.
fn raw_of(dir: &tempfile::TempDir) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap()
}
