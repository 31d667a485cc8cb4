//! Forking straight into a cgroup and new namespaces: `clone3(CLONE_INTO_CGROUP)` (Linux
//! 5.7+) starts the child in the given cgroup2 directory, so no process is ever migrated into
//! it (a migration through `cgroup.procs` waits out an RCU grace period: see
//! [`super::cgroup::join_v1`]), and with `CLONE_NEW*` flags in its namespaces at once.
//! [`fork_into`] (a throwaway caller: on an older kernel it joins the cgroup itself and forks
//! as usual), [`clone_run`] (the child runs code of this process) and [`clone_exec`] (the
//! child execs a prepared command) are the three ways berth uses.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::unistd::Pid;

/// Which side of the fork this is.
pub(crate) enum Forked {
    Child,
    Parent(Pid),
}

/// The kernel's `struct clone_args` (include/uapi/linux/sched.h, version 2 with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3 with fork semantics (no stack): the child returns 0. `Ok(None)` when the kernel
/// lacks clone3 or `CLONE_INTO_CGROUP`.
fn clone3(flags: u64, cgroup: Option<BorrowedFd>) -> Result<Option<Forked>, String> {
    let args = CloneArgs {
        flags: flags | cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map_or(0, |fd| fd.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    // SAFETY: a valid clone_args of the size given; no stack, so fork semantics.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        0 => Ok(Some(Forked::Child)),
        pid if pid > 0 => Ok(Some(Forked::Parent(Pid::from_raw(pid as i32)))),
        _ => {
            let e = std::io::Error::last_os_error();
            // ENOSYS: no clone3 (before 5.3); E2BIG/EINVAL: no CLONE_INTO_CGROUP (5.3-5.6).
            match e.raw_os_error() {
                Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL) => Ok(None),
                _ => Err(format!("starting the container's process: {e}")),
            }
        }
    }
}

/// Forks, the child starting in `cgroup` (a directory of a cgroup2 hierarchy) when given.
///
/// # Safety
/// As for `fork`: the calling process must be single-threaded, since the child goes on
/// running ordinary code. (Without a stack, clone3 forks like `fork`; glibc's fork handlers do
/// not run, which a single-threaded process holding no lock does not need.)
pub(crate) unsafe fn fork_into(cgroup: Option<BorrowedFd>) -> Result<Forked, String> {
    if let Some(fd) = cgroup {
        if let Some(forked) = clone3(0, Some(fd))? {
            return Ok(forked);
        }
        // An older kernel: join, the child inherits the cgroup ("0" is the writer itself).
        let procs = rustix::fs::openat(
            fd,
            "cgroup.procs",
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| format!("joining the container's cgroup: {e}"))?;
        rustix::io::write(&procs, b"0")
            .map_err(|e| format!("joining the container's cgroup: {e}"))?;
    }
    // SAFETY: the caller guarantees a single-threaded process.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => Ok(Forked::Child),
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Forked::Parent(child)),
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// What a child execs, prepared before the fork (after it, the child may only exec and
/// `_exit`: its parent may have other threads).
pub(crate) struct ExecPlan {
    program: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    /// Descriptors for the child's stdin, stdout, stderr (`None`: inherited).
    stdio: [Option<i32>; 3],
}

impl ExecPlan {
    pub(crate) fn new(program: &OsStr, args: &[&OsStr]) -> ExecPlan {
        let c = |a: &OsStr| CString::new(a.as_bytes()).expect("no NUL in arguments");
        let argv: Vec<CString> = std::iter::once(program)
            .chain(args.iter().copied())
            .map(c)
            .collect();
        let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        ExecPlan {
            program: c(program),
            _argv: argv,
            argv_ptrs,
            stdio: [None; 3],
        }
    }

    /// The child's standard streams (borrowed: keep them open until the spawn returns).
    pub(crate) fn stdio(mut self, fds: [Option<BorrowedFd>; 3]) -> ExecPlan {
        self.stdio = fds.map(|f| f.map(|f| f.as_raw_fd()));
        self
    }

    /// In the child: streams, then exec; on failure the errno goes to `report` and the child
    /// exits 127.
    fn exec(&self, report: &OwnedFd) -> ! {
        // SAFETY: async-signal-safe calls only. Rust ignores SIGPIPE for itself; the new
        // program starts with the default, as std's Command gives it.
        unsafe {
            dup_stdio(self.stdio);
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execv(self.program.as_ptr(), self.argv_ptrs.as_ptr());
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            let bytes = errno.to_ne_bytes();
            libc::write(report.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127);
        }
    }
}

/// In a child: `fds` onto its stdin, stdout and stderr (`None`: left as inherited).
/// Async-signal-safe.
fn dup_stdio(fds: [Option<i32>; 3]) {
    for (target, fd) in fds.iter().enumerate() {
        if let Some(fd) = fd {
            // SAFETY: plain descriptor duplication onto 0, 1, 2.
            unsafe { libc::dup2(*fd, target as i32) };
        }
    }
}

/// In the parent: waits for the child's exec (the report pipe closes) or its failure.
fn exec_result(pid: Pid, report: OwnedFd, program: &CStr) -> Result<Pid, String> {
    let mut buf = [0u8; 4];
    let read = loop {
        match rustix::io::read(&report, &mut buf) {
            Err(rustix::io::Errno::INTR) => continue,
            r => break r,
        }
    };
    match read {
        Ok(4) => {
            let _ = nix::sys::wait::waitpid(pid, None);
            Err(format!(
                "running {}: {}",
                program.to_string_lossy(),
                std::io::Error::from_raw_os_error(i32::from_ne_bytes(buf))
            ))
        }
        _ => Ok(pid),
    }
}

fn report_pipe() -> Result<(OwnedFd, OwnedFd), String> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// Starts `plan` in new namespaces (`CLONE_NEW*` flags) and in `cgroup`, without any step in
/// between: `Ok(None)` when the kernel cannot (no clone3 or `CLONE_INTO_CGROUP`).
pub(crate) fn clone_exec(
    plan: &ExecPlan,
    namespaces: u64,
    cgroup: Option<BorrowedFd>,
) -> Result<Option<Pid>, String> {
    let (report_r, report_w) = report_pipe()?;
    match clone3(namespaces, cgroup)? {
        None => Ok(None),
        Some(Forked::Child) => plan.exec(&report_w),
        Some(Forked::Parent(pid)) => {
            drop(report_w);
            exec_result(pid, report_r, &plan.program).map(Some)
        }
    }
}

/// Runs `child` in a fork of this process made straight in new namespaces (`CLONE_NEW*`
/// flags) and in `cgroup`, its standard streams `stdio`; `Ok(None)` when the kernel cannot.
/// Saves the exec of a new binary (its loading, relocation and start-up: ~1 ms).
///
/// # Safety
/// The calling process must be single-threaded ([`single_threaded`]): the child goes on
/// running ordinary code.
pub(crate) unsafe fn clone_run(
    namespaces: u64,
    cgroup: Option<BorrowedFd>,
    stdio: [Option<BorrowedFd>; 3],
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<Option<Pid>, String> {
    // Nothing buffered may be written twice, by the child too.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match clone3(namespaces, cgroup)? {
        None => Ok(None),
        Some(Forked::Child) => {
            dup_stdio(stdio.map(|f| f.map(|f| f.as_raw_fd())));
            #[allow(unreachable_code)] // child() never returns: Infallible
            match child() {}
        }
        Some(Forked::Parent(pid)) => Ok(Some(pid)),
    }
}

/// True when this process runs one thread (it may then fork and go on running code).
pub(crate) fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

/// Starts `/proc/self/exe ARGS...` (this binary again, with the caller's environment and
/// standard streams) in `cgroup`; an exec failure comes back as the error.
///
/// # Safety
/// As [`fork_into`]: the calling process must be single-threaded.
pub(crate) unsafe fn spawn_self_into(
    args: &[&OsStr],
    cgroup: Option<BorrowedFd>,
) -> Result<Pid, String> {
    let plan = ExecPlan::new(OsStr::new("/proc/self/exe"), args);
    let (report_r, report_w) = report_pipe()?;
    // SAFETY: forwarded from the caller.
    match unsafe { fork_into(cgroup)? } {
        Forked::Child => plan.exec(&report_w),
        Forked::Parent(pid) => {
            drop(report_w);
            exec_result(pid, report_r, &plan.program)
        }
    }
}
