//! `exec`: another process in a running container, with the same isolation as its first one:
//! the container's cgroup and namespaces, its seccomp profile, the given user and
//! capabilities, no inherited descriptors.
//!
//! Two small stages, run from a protected berth binary (a process entering an existing
//! container is what CVE-2019-5736 attacked; see [`super::exe`]):
//! 1. `__exec1` (host PID namespace) joins the cgroup and the namespaces, then forks stage 2,
//!    which the kernel places in the container's PID namespace; it waits for stage 2 and exits
//!    with its status (128 + signal when killed).
//! 2. The child sets rlimits, the working directory, the seccomp filter, the user and
//!    capabilities, and execs the program.
//!
//! The process starts in a session of its own (as runc's does), so a terminal of the caller
//! is never its controlling terminal (no TIOCSTI into the caller's shell, no reads from it);
//! stage 1 passes the signals a terminal or `kill` sends it on to the process's group. A
//! health check is the exception: it stays in the process group the monitor kills at its
//! timeout (the monitor has no terminal). A null device on a standard stream is replaced by
//! the container's own /dev/null.

#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Process, Spec};
use rustix::thread::LinkNameSpaceType;
use serde::{Deserialize, Serialize};

use super::lifecycle::{cgroup_rel, dir};
use super::state::{ContainerState, Status};
use super::{cgroup, RuntimeError, Stdio};

const ENV: &str = "BERTH_EXEC";

/// What stage 2 receives (as JSON in its environment).
#[derive(Serialize, Deserialize)]
struct Job {
    process: Process,
    seccomp: Option<LinuxSeccomp>,
    /// With `process.terminal`: the socket the pty master goes to.
    console: Option<PathBuf>,
    /// The process leads a session of its own (see the module's doc).
    new_session: bool,
}

/// Stage 1's command for `process` in container `id`, and the protected copy of berth's
/// binary it runs when this process does not run from one (to keep open until the command is
/// spawned or exec'd).
fn stage1(
    root: &Path,
    id: &str,
    process: &Process,
    console: Option<&Path>,
    new_session: bool,
) -> Result<(Command, Option<std::os::fd::OwnedFd>), RuntimeError> {
    let d = dir(root, id)?;
    let st = ContainerState::load(&d, id)?;
    let status = st.status(&d);
    if status != Status::Running {
        return Err(RuntimeError::State {
            id: id.to_string(),
            status: status.as_str(),
            action: "exec",
            needed: "running",
        });
    }
    let spec = Spec::load(d.join("config.json")).map_err(|e| RuntimeError::Corrupt {
        path: d.join("config.json"),
        message: e.to_string(),
    })?;
    let job = Job {
        process: process.clone(),
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
        console: console.map(Path::to_path_buf),
        new_session,
    };
    let copy = super::exe::protect_setup_binary(root)
        .map_err(|e| RuntimeError::io(Path::new("/proc/self/exe"), e))?;
    let program = match &copy {
        Some(fd) => super::exe::fd_path(fd.as_fd()),
        None => PathBuf::from("/proc/self/exe"),
    };
    let mut cmd = Command::new(&program);
    cmd.args(["oci", "__exec1"])
        .arg(&d)
        .env_clear()
        .env(ENV, serde_json::to_string(&job).expect("serialisable"));
    Ok((cmd, copy))
}

/// Starts `process` in container `id`, in a session of its own; the returned child is stage
/// 1, whose exit status is the process's. Give it descriptors of the caller's (pipes), not a
/// terminal: with `console`, the process gets a pty of the container's.
pub fn exec_spawn(
    root: &Path,
    id: &str,
    process: &Process,
    stdio: Stdio,
    console: Option<&Path>,
) -> Result<std::process::Child, RuntimeError> {
    let (mut cmd, _copy) = stage1(root, id, process, console, true)?;
    if matches!(stdio, Stdio::Null | Stdio::File(_)) {
        // A background exec gets its own process group. A foreground one (the caller's
        // streams or pipes it relays) stays in the caller's, so a terminal's ^C reaches
        // stage 1, which passes it on.
        cmd.process_group(0);
    }
    stdio
        .apply(&mut cmd)
        .map_err(|e| RuntimeError::io(root, e))?;
    cmd.spawn()
        .map_err(|e| RuntimeError::io(Path::new("/proc/self/exe"), e))
}

/// Becomes stage 1 for `process` in container `id` (this process's PID, group and standard
/// streams; the process stays in this group, for a health check the monitor kills as a group
/// at its timeout); returns only the error that stopped it.
pub fn exec_replace(root: &Path, id: &str, process: &Process) -> RuntimeError {
    match stage1(root, id, process, None, false) {
        Ok((mut cmd, _copy)) => RuntimeError::io(Path::new("/proc/self/exe"), cmd.exec()),
        Err(e) => e,
    }
}

/// Runs `process` in container `id` and waits: its exit code (128 + signal when killed).
pub fn exec(root: &Path, id: &str, process: &Process, stdio: Stdio) -> Result<i32, RuntimeError> {
    let status = exec_spawn(root, id, process, stdio, None)?
        .wait()
        .map_err(|e| RuntimeError::io(Path::new("exec"), e))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .or(status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}

fn die(msg: &str) -> ! {
    eprintln!("berth exec: {msg}");
    std::process::exit(126);
}

/// Stage 1: cgroup and namespaces, then stage 2.
pub fn exec1(state_dir: &Path) -> ! {
    // Nothing the caller leaked is held (the child below uses paths of the container).
    super::fds::close_all_but(&[]);
    let id = state_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let st = ContainerState::load(state_dir, &id).unwrap_or_else(|e| die(&e.to_string()));
    let spec = Spec::load(state_dir.join("config.json")).unwrap_or_else(|e| die(&e.to_string()));
    let job_text = std::env::var(ENV).unwrap_or_else(|_| die("no job"));
    let job: Job = serde_json::from_str(&job_text).unwrap_or_else(|_| die("unreadable job"));
    // The console socket is a host path: reach it before entering the container.
    let console = job.console.as_ref().map(|p| {
        super::unixsock::connect(p).unwrap_or_else(|e| die(&format!("{}: {e}", p.display())))
    });
    // v1 controllers joined here, the cgroup2 directory by stage 2's fork (cgroup::join_v1).
    let unified = match cgroup_rel(state_dir) {
        Some(rel) => {
            let root = Path::new(cgroup::ROOT);
            cgroup::join_v1(root, &rel)
                .and_then(|()| cgroup::unified_dir(root, &rel))
                .unwrap_or_else(|e| die(&e))
        }
        None => None,
    };
    let wanted = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    // The mount namespace last: joining it changes what paths mean.
    for (t, name, link) in [
        (
            LinuxNamespaceType::Cgroup,
            "cgroup",
            LinkNameSpaceType::ControlGroup,
        ),
        (
            LinuxNamespaceType::Ipc,
            "ipc",
            LinkNameSpaceType::InterProcessCommunication,
        ),
        (
            LinuxNamespaceType::Uts,
            "uts",
            LinkNameSpaceType::HostNameAndNISDomainName,
        ),
        (
            LinuxNamespaceType::Network,
            "net",
            LinkNameSpaceType::Network,
        ),
        (LinuxNamespaceType::Pid, "pid", LinkNameSpaceType::ProcessID),
        (LinuxNamespaceType::Mount, "mnt", LinkNameSpaceType::Mount),
    ] {
        if !wanted.iter().any(|n| n.typ() == t) {
            continue;
        }
        let path = format!("/proc/{}/ns/{name}", st.pid);
        let f = std::fs::File::open(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(&f), Some(link))
            .unwrap_or_else(|e| die(&format!("joining {path}: {e}")));
    }
    // Signals for the process wait here from before the fork (the child unblocks them).
    let signals = job
        .new_session
        .then(|| forwarded_signals().unwrap_or_else(|e| die(&e)));
    // Forked after setns(pid): the child is in the container's PID namespace.
    // SAFETY: this process is single-threaded (a freshly exec'd berth that started no
    // threads), so the child may go on running ordinary code after fork.
    match unsafe { super::fork::fork_into(unified.as_ref().map(|f| f.as_fd())) } {
        Ok(super::fork::Forked::Child) => exec2(job, console),
        Ok(super::fork::Forked::Parent(child)) => {
            std::process::exit(wait_forwarding(child, signals.as_ref(), true))
        }
        Err(e) => die(&e),
    }
}

/// The signals stage 1 passes on to the process's group: what a terminal sends its
/// foreground group and what `kill` usually sends. Blocked from here on and read from the
/// returned descriptor, with SIGCHLD.
pub(crate) fn forwarded_signals() -> Result<nix::sys::signalfd::SignalFd, String> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    let _ = set.thread_block();
    nix::sys::signalfd::SignalFd::with_flags(&set, nix::sys::signalfd::SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))
}

const FORWARDED: [nix::sys::signal::Signal; 6] = {
    use nix::sys::signal::Signal::*;
    [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]
};

/// Waits for `child` (stage 2, or a container's first process for `oci run`, whose
/// subreaper this process is): its exit code, 128 + signal when killed. With `signals`,
/// passes those this process gets on to the child, or (`group`) to its process group, as a
/// terminal would (the child leads it once it ran setsid; before, to the child alone).
pub(crate) fn wait_forwarding(
    child: nix::unistd::Pid,
    signals: Option<&nix::sys::signalfd::SignalFd>,
    group: bool,
) -> i32 {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    loop {
        let flags = signals.map(|_| WaitPidFlag::WNOHANG);
        match waitpid(child, flags) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(WaitStatus::StillAlive) => {}
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("berth: waiting for {child}: {e}");
                return 1;
            }
        }
        let Some(fd) = signals else { continue };
        match fd.read_signal() {
            Ok(Some(info)) => {
                let Ok(sig) = nix::sys::signal::Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                if FORWARDED.contains(&sig) {
                    let pgrp = nix::unistd::Pid::from_raw(-child.as_raw());
                    if !group || nix::sys::signal::kill(pgrp, sig).is_err() {
                        let _ = nix::sys::signal::kill(child, sig);
                    }
                }
            }
            Ok(None) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                eprintln!("berth: reading signals: {e}");
                return 1;
            }
        }
    }
}

/// Stage 2 (the forked child of stage 1): the process's identity and filters, then exec.
fn exec2(job: Job, console: Option<std::os::unix::net::UnixStream>) -> ! {
    // Stage 1's descriptors (its cgroup directory) are host directories: gone before any
    // path of the process is used.
    super::fds::close_all_but(&console.iter().map(|c| c.as_raw_fd()).collect::<Vec<_>>());
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    // Out of the caller's session (and away from its terminal) before any signal it sent
    // the group is taken.
    if job.new_session || console.is_some() {
        if let Err(e) = rustix::process::setsid() {
            die(&format!("setsid: {e}"));
        }
    }
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    // In the container's root since setns(mnt): its own /dev/null, not the caller's.
    super::fds::own_null_stdio();
    let p = &job.process;
    if let Some(sock) = console {
        // A pty of the container's own devpts, its master to the caller, its slave our
        // controlling terminal and standard streams.
        let (slave, _) = super::terminal::hand_over(p, &sock).unwrap_or_else(|e| die(&e));
        drop(sock);
        super::terminal::make_controlling(&slave).unwrap_or_else(|e| die(&e));
    }
    for r in p.rlimits().clone().unwrap_or_default() {
        if let Err(e) = super::process::set_rlimit(&r) {
            die(&e);
        }
    }
    if let Err(e) = super::fds::enter_cwd(p.cwd()) {
        die(&e);
    }
    let filters = match &job.seccomp {
        Some(profile) => super::seccomp::compile(profile).unwrap_or_else(|e| die(&e)),
        None => Vec::new(),
    };
    if let Err(e) = super::seccomp::install(&filters) {
        die(&e);
    }
    if let Err(e) = super::process::become_user(p) {
        die(&e);
    }
    let args = p.args().clone().unwrap_or_default();
    let Some(program) = args.first() else {
        die("no command given");
    };
    let mut cmd = Command::new(program);
    cmd.args(&args[1..]).env_clear();
    for kv in p.env().clone().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let err = cmd.exec();
    eprintln!("berth exec: cannot run {program}: {err}");
    std::process::exit(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    });
}
