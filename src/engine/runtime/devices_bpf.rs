//! The device controller of cgroup v2: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached
//! to the container's cgroup that the kernel asks on every open and mknod of a device node.
//! v2 has no devices.allow/deny files; without this program CAP_MKNOD alone would let a
//! container open a host disk.
//!
//! The program is generated from OCI device rules with runc's semantics: default deny, the
//! last matching rule wins, a rule matches when type, major and minor match (or are
//! wildcards) and the requested access is a subset of the rule's.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One device rule, as in the OCI spec's linux.resources.devices: kind 'a' (all), 'c' or 'b';
/// major/minor None = wildcard; access a subset of "rwm"; allow or deny.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub kind: char,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
    pub allow: bool,
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst register in the low 4 bits, src register in the high 4 bits.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes (class | op | source).
const LDX_MEM_W: u8 = 0x61;
const ALU64_MOV_X: u8 = 0xbf;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_AND_K: u8 = 0x57;
const JMP_JNE_K: u8 = 0x55;
const JMP_JSET_K: u8 = 0x45;
const JMP_EXIT: u8 = 0x95;

// Device types and access bits of `struct bpf_cgroup_dev_ctx`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => 0,
        }
    })
}

/// The instructions of one rule: on a mismatch jump past the block; on a match return the
/// rule's verdict. Registers: r2 type, r3 access, r4 major, r5 minor.
fn rule_block(rule: &DeviceRule) -> Vec<Insn> {
    // (register, immediate) checks, each a "jump if not equal".
    let mut checks: Vec<(u8, i32)> = Vec::new();
    match rule.kind {
        'c' => checks.push((2, DEV_CHAR)),
        'b' => checks.push((2, DEV_BLOCK)),
        _ => {}
    }
    if let Some(major) = rule.major.filter(|m| *m >= 0) {
        checks.push((4, major as i32));
    }
    if let Some(minor) = rule.minor.filter(|m| *m >= 0) {
        checks.push((5, minor as i32));
    }
    let denied_bits = !access_bits(&rule.access) & (ACC_MKNOD | ACC_READ | ACC_WRITE);
    let len = checks.len() + usize::from(denied_bits != 0) + 2;
    let mut out = Vec::with_capacity(len);
    for (reg, imm) in checks {
        let off = (len - out.len() - 1) as i16;
        out.push(insn(JMP_JNE_K, reg, 0, off, imm));
    }
    if denied_bits != 0 {
        // Asking for any bit the rule does not grant: not this rule.
        let off = (len - out.len() - 1) as i16;
        out.push(insn(JMP_JSET_K, 3, 0, off, denied_bits));
    }
    out.push(insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)));
    out.push(insn(JMP_EXIT, 0, 0, 0, 0));
    out
}

/// The program: default deny; rules evaluated so that the last matching rule wins.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),        // r2 = ctx->access_type
        insn(ALU64_MOV_X, 3, 2, 0, 0),      // r3 = r2
        insn(ALU64_RSH_K, 3, 0, 0, 16),     // r3 >>= 16 (access)
        insn(ALU64_AND_K, 2, 0, 0, 0xffff), // r2 &= 0xffff (type)
        insn(LDX_MEM_W, 4, 1, 4, 0),        // r4 = ctx->major
        insn(LDX_MEM_W, 5, 1, 8, 0),        // r5 = ctx->minor
    ];
    for rule in rules.iter().rev() {
        let block = rule_block(rule);
        // A rule that matches every request (`a *:* rwm`, the deny-all every container's
        // list starts with) ends the program: the kernel's verifier refuses code that can
        // never run, and the rules before it could never decide anything.
        let matches_all = block.len() == 2;
        p.extend(block);
        if matches_all {
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The leading fields of `union bpf_attr` for BPF_PROG_LOAD, zero-padded.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    pad: [u8; 88],
}

/// The leading fields of `union bpf_attr` for BPF_PROG_ATTACH, zero-padded.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    pad: [u8; 112],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: `attr` is a live, zero-padded `repr(C)` prefix of `union bpf_attr` whose size
    // is passed along; the kernel reads (and for loads, writes the log through pointers we
    // set to live buffers) only within it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn load(insns: &[Insn], log: Option<&mut [u8]>) -> std::io::Result<OwnedFd> {
    let license = c"GPL";
    let (log_level, log_size, log_buf) = match log {
        Some(buf) => (1, buf.len() as u32, buf.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        pad: [0; 88],
    };
    let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads the program for `rules` and attaches it to the cgroup v2 directory `cgroup_dir`.
pub fn attach(cgroup_dir: &Path, rules: &[DeviceRule]) -> Result<(), String> {
    let insns = program(rules);
    let prog = match load(&insns, None) {
        Ok(fd) => fd,
        Err(e) => {
            // Load again with the verifier's log, to say why.
            let mut log = vec![0u8; 64 * 1024];
            let _ = load(&insns, Some(&mut log));
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            return Err(format!(
                "cgroup {}: loading the device filter: {e}{}",
                cgroup_dir.display(),
                if text.is_empty() {
                    String::new()
                } else {
                    format!(" (verifier: {text})")
                }
            ));
        }
    };
    let dir = std::fs::File::open(cgroup_dir)
        .map_err(|e| format!("cgroup {}: {e}", cgroup_dir.display()))?;
    let mut attr = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        pad: [0; 112],
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| {
        format!(
            "cgroup {}: attaching the device filter: {e}",
            cgroup_dir.display()
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the few instructions `program` emits on one request.
    fn eval(p: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [(kind | (access << 16)) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1);
                    r[dst] = ctx[(i.off / 4) as usize] as u64;
                }
                ALU64_MOV_X => r[dst] = r[src],
                ALU64_MOV_K => r[dst] = imm,
                ALU64_RSH_K => r[dst] >>= imm,
                ALU64_AND_K => r[dst] &= imm,
                JMP_JNE_K if r[dst] != imm => pc += i.off as usize,
                JMP_JSET_K if r[dst] & imm != 0 => pc += i.off as usize,
                JMP_JNE_K | JMP_JSET_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn rule(
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
        allow: bool,
    ) -> DeviceRule {
        DeviceRule {
            kind,
            major,
            minor,
            access: access.into(),
            allow,
        }
    }

    #[test]
    fn last_matching_rule_wins_and_default_is_deny() {
        let rules = [
            rule('a', None, None, "rwm", false),
            rule('c', Some(1), Some(3), "rwm", true),
            rule('c', Some(136), None, "rwm", true),
            rule('c', Some(5), Some(0), "r", true),
        ];
        let p = program(&rules);
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 1, 3), 1, "c 1:3 read");
        assert_eq!(eval(&p, DEV_CHAR, ACC_MKNOD, 1, 3), 1, "c 1:3 mknod");
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 1, 5), 0, "c 1:5 not listed");
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 8, 0), 0, "a host disk");
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 1, 3), 0, "b 1:3 is not c 1:3");
        assert_eq!(eval(&p, DEV_CHAR, ACC_WRITE, 136, 4), 1, "any pts");
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_READ, 5, 0),
            1,
            "read-only rule reads"
        );
        assert_eq!(
            eval(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 5, 0),
            0,
            "but does not write"
        );
        // A later deny overrides an earlier allow.
        let p = program(&[
            rule('c', Some(1), Some(3), "rwm", true),
            rule('c', Some(1), None, "w", false),
        ]);
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(eval(&p, DEV_CHAR, ACC_WRITE, 1, 3), 0);
        assert_eq!(
            eval(&program(&[]), DEV_CHAR, ACC_READ, 1, 3),
            0,
            "no rules: deny"
        );
        // Nothing follows a rule that matches everything (the verifier refuses dead code).
        let p = program(&[
            rule('c', Some(1), Some(3), "rwm", true),
            rule('a', None, None, "rwm", true),
        ]);
        assert_eq!(p.len(), 6 + 2);
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 8, 0), 1);
        assert_eq!(
            eval(
                &program(&[rule('a', None, None, "rwm", true)]),
                DEV_BLOCK,
                ACC_WRITE,
                8,
                0
            ),
            1
        );
    }

    /// The cgroup2 mount of this host (/sys/fs/cgroup on v2, /sys/fs/cgroup/unified on a
    /// hybrid host).
    fn cgroup2_mount() -> Option<std::path::PathBuf> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        text.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split(' ').nth(4).map(Into::into))?
        })
    }

    struct Dir(std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    #[test]
    fn the_kernel_enforces_the_program() {
        let Some(mount) = cgroup2_mount().filter(|_| rustix::process::geteuid().is_root()) else {
            eprintln!("skipped: needs root and a cgroup2 mount");
            return;
        };
        let dir = Dir(mount.join(format!("berth-devtest-{}", std::process::id())));
        std::fs::create_dir(&dir.0).unwrap();
        // As every container's list: deny all, then what is allowed.
        attach(
            &dir.0,
            &[
                rule('a', None, None, "rwm", false),
                rule('c', Some(1), Some(3), "rwm", true),
            ],
        )
        .unwrap();
        let script = format!(
            "echo $$ > {}/cgroup.procs || exit 9; cat /dev/null && echo null-ok; \
             head -c1 /dev/zero >/dev/null 2>&1 && echo zero-read || echo zero-denied",
            dir.0.display()
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text,
            "null-ok\nzero-denied\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
