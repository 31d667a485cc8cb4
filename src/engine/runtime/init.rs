//! The container's setup, in small synchronous processes (never forked from a
//! multi-threaded process):
//!
//! 1. `init1`, only when the container joins an existing PID namespace (otherwise the
//!    runtime clones `init2` straight into new namespaces and the cgroup: a fork of the
//!    runtime's own process when that runs from a protected binary (see [`super::exe`]) and
//!    has one thread, else that binary exec'd): joins the namespaces given by path, unshares
//!    the others (not the cgroup namespace), and spawns `init2` in the cgroup; it reports
//!    init2's host PID and exits.
//! 2. `init2` (PID 1 of a new PID namespace) closes every descriptor it inherited, joins the
//!    v1 cgroups and the namespaces given by path that it is not in yet, unshares the cgroup
//!    namespace, sets up the root filesystem (mounts, /dev, pivot_root, masked and read-only
//!    paths), the hostname, rlimits and working directory (checked to be inside the root),
//!    reports "ready", waits on the exec FIFO for `start`, drops to the spec's user and
//!    capabilities, and execs the process.
//!
//! Both report to the creating CLI over a Unix socket with one-line typed messages
//! (`pid N`, `ready`, `error MESSAGE`).

#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};

use super::rootfs;

/// Sends one message line.
pub fn send(sock: &mut UnixStream, msg: &str) {
    let _ = sock.write_all(format!("{msg}\n").as_bytes());
}

fn fail(sock: &mut UnixStream, msg: String) -> ! {
    send(sock, &format!("error {}", msg.replace('\n', " ")));
    std::process::exit(1);
}

fn load(state_dir: &Path) -> Result<Spec, String> {
    Spec::load(state_dir.join("config.json")).map_err(|e| format!("reading config.json: {e}"))
}

fn ns_flag(t: LinuxNamespaceType) -> Option<(UnshareFlags, LinkNameSpaceType)> {
    Some(match t {
        LinuxNamespaceType::Pid => (UnshareFlags::NEWPID, LinkNameSpaceType::ProcessID),
        LinuxNamespaceType::Mount => (UnshareFlags::NEWNS, LinkNameSpaceType::Mount),
        LinuxNamespaceType::Uts => (
            UnshareFlags::NEWUTS,
            LinkNameSpaceType::HostNameAndNISDomainName,
        ),
        LinuxNamespaceType::Ipc => (
            UnshareFlags::NEWIPC,
            LinkNameSpaceType::InterProcessCommunication,
        ),
        LinuxNamespaceType::Network => (UnshareFlags::NEWNET, LinkNameSpaceType::Network),
        LinuxNamespaceType::Cgroup => (UnshareFlags::NEWCGROUP, LinkNameSpaceType::ControlGroup),
        _ => return None,
    })
}

/// The namespaces to create (the cgroup namespace aside: init2 makes it), or an error
/// naming one berth cannot make.
pub(crate) fn new_namespaces(spec: &Spec) -> Result<UnshareFlags, String> {
    let mut flags = UnshareFlags::empty();
    for ns in spec_namespaces(spec) {
        let Some((flag, _)) = ns_flag(ns.typ()) else {
            return Err(format!("namespace {:?} is not supported yet", ns.typ()));
        };
        // A new cgroup namespace is rooted where its creator is: init2 makes it, once in
        // every cgroup of the container.
        if ns.path().is_none() && flag != UnshareFlags::NEWCGROUP {
            flags |= flag;
        }
    }
    Ok(flags)
}

/// True when the spec joins an existing PID namespace: only a fork after joining it lands
/// there, which takes the extra stage `init1`.
pub(crate) fn joins_pid_namespace(spec: &Spec) -> bool {
    spec_namespaces(spec)
        .iter()
        .any(|ns| ns.typ() == LinuxNamespaceType::Pid && ns.path().is_some())
}

fn spec_namespaces(spec: &Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

/// Joins the namespaces the spec gives by path, skipping those this process is already in.
fn join_namespaces(spec: &Spec) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    for ns in spec_namespaces(spec) {
        let (Some(path), Some((_, link))) = (ns.path(), ns_flag(ns.typ())) else {
            continue;
        };
        let own = format!("/proc/self/ns/{}", ns_file(ns.typ()));
        if id(path).is_some() && id(path) == id(Path::new(&own)) {
            continue;
        }
        let f =
            std::fs::File::open(path).map_err(|e| format!("namespace {}: {e}", path.display()))?;
        rustix::thread::move_into_link_name_space(f.as_fd(), Some(link))
            .map_err(|e| format!("joining {}: {e}", path.display()))?;
    }
    Ok(())
}

pub(crate) fn ns_file(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Stage 1, only for a container that joins an existing PID namespace (otherwise the
/// runtime clones init2 straight into its new namespaces): joins the namespaces, unshares
/// the others, then spawns stage 2 in the container's cgroup.
pub fn init1(state_dir: &Path) -> ! {
    // Nothing the caller leaked is held while paths from the spec are opened.
    super::fds::close_all_but(&[]);
    // A creator killed while this stage works leaves nothing behind: this stage is in no
    // cgroup of the container and not recorded anywhere yet.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let mut sock = super::unixsock::connect(&state_dir.join("init.sock"))
        .unwrap_or_else(|e| panic!("cannot reach the runtime: {e}"));
    let spec = load(state_dir).unwrap_or_else(|e| fail(&mut sock, e));
    let unified = match std::fs::read_to_string(state_dir.join("cgroup")) {
        Ok(rel) => super::cgroup::unified_dir(Path::new(super::cgroup::ROOT), Path::new(&rel))
            .unwrap_or_else(|e| fail(&mut sock, e)),
        Err(_) => None,
    };
    let unshare = new_namespaces(&spec).unwrap_or_else(|e| fail(&mut sock, e));
    join_namespaces(&spec).unwrap_or_else(|e| fail(&mut sock, e));
    // SAFETY: this process is single-threaded (a freshly exec'd berth that started no
    // threads), so unsharing affects the whole process as intended.
    unsafe { rustix::thread::unshare_unsafe(unshare) }
        .unwrap_or_else(|e| fail(&mut sock, format!("unshare: {e}")));
    let args = [
        OsStr::new("oci"),
        OsStr::new("__init2"),
        state_dir.as_os_str(),
    ];
    // SAFETY: single-threaded, as above.
    let child = unsafe { super::fork::spawn_self_into(&args, unified.as_ref().map(|f| f.as_fd())) }
        .unwrap_or_else(|e| fail(&mut sock, format!("starting the container process: {e}")));
    send(&mut sock, &format!("pid {child}"));
    std::process::exit(0);
}

/// Stage 2: the container's PID 1, up to exec.
pub fn init2(state_dir: &Path) -> ! {
    init2_with(state_dir, None)
}

/// [`init2`], given the spec when the runtime forked it without an exec (it has read it).
pub(crate) fn init2_with(state_dir: &Path, spec: Option<&Spec>) -> ! {
    // Nothing of the runtime's (a cgroup directory, the state root, a forked monitor's
    // descriptors) stays open: every path of the spec is used after this.
    super::fds::close_all_but(&[]);
    // The container starts with no signal blocked, whatever the caller had blocked (a
    // monitor blocks the signals it reads through a signalfd).
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    let mut sock = super::unixsock::connect(&state_dir.join("init.sock"))
        .unwrap_or_else(|e| panic!("cannot reach the runtime: {e}"));
    let spec = match spec {
        Some(spec) => spec.clone(),
        None => load(state_dir).unwrap_or_else(|e| fail(&mut sock, e)),
    };
    // In every cgroup of the container: cgroup2 since the fork (CLONE_INTO_CGROUP or init1),
    // v1 controllers now.
    if let Ok(rel) = std::fs::read_to_string(state_dir.join("cgroup")) {
        super::cgroup::join_v1(Path::new(super::cgroup::ROOT), Path::new(&rel))
            .unwrap_or_else(|e| fail(&mut sock, e));
    }
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        // Inherited by the container's process.
        if let Err(e) = std::fs::write("/proc/self/oom_score_adj", adj.to_string()) {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (lowering it needs CAP_SYS_RESOURCE, which this host does not grant)"
            } else {
                ""
            };
            fail(&mut sock, format!("process.oomScoreAdj {adj}: {e}{hint}"));
        }
    }
    join_namespaces(&spec).unwrap_or_else(|e| fail(&mut sock, e));
    let new_cgroup_ns = spec_namespaces(&spec)
        .iter()
        .any(|ns| ns.typ() == LinuxNamespaceType::Cgroup && ns.path().is_none());
    if new_cgroup_ns {
        // SAFETY: single-threaded, freshly exec'd.
        unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWCGROUP) }
            .unwrap_or_else(|e| fail(&mut sock, format!("unshare cgroup namespace: {e}")));
    }
    let bundle: PathBuf = std::fs::read_to_string(state_dir.join("bundle"))
        .map(PathBuf::from)
        .unwrap_or_else(|e| fail(&mut sock, format!("bundle path: {e}")));
    // Not dumpable until exec: nothing in the container can ptrace this setup process.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    // The FIFO `start` opens, held by a path-only descriptor across pivot_root.
    let fifo = rustix::fs::open(
        state_dir.join("exec.fifo"),
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap_or_else(|e| fail(&mut sock, format!("exec fifo: {e}")));
    let process = spec.process().clone().unwrap_or_default();
    // The console socket is a host path: reach it before pivot_root.
    let console = if process.terminal().unwrap_or(false) {
        let path = std::fs::read_to_string(state_dir.join("console-socket")).unwrap_or_else(|_| {
            fail(
                &mut sock,
                "process.terminal is true: give a --console-socket (or set it false)".into(),
            )
        });
        Some(
            super::unixsock::connect(Path::new(&path))
                .unwrap_or_else(|e| fail(&mut sock, format!("console socket {path}: {e}"))),
        )
    } else {
        None
    };
    if let Err(e) = rootfs::setup(&spec, &bundle) {
        fail(&mut sock, e);
    }
    // A null device the caller gave (the monitor's stdin without -i) is the host's inode.
    super::fds::own_null_stdio();
    // Before the root may turn read-only.
    if let Err(e) = super::fds::make_cwd(process.cwd()) {
        fail(&mut sock, e);
    }
    if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        if let Err(e) = super::sysctl::apply(sysctl) {
            fail(&mut sock, e);
        }
    }
    let terminal = console.map(|console| {
        let (slave, name) =
            super::terminal::hand_over(&process, &console).unwrap_or_else(|e| fail(&mut sock, e));
        if let Err(e) = super::terminal::mount_console(&name) {
            fail(&mut sock, e);
        }
        slave
    });
    if let Err(e) = rootfs::lock_down(&spec) {
        fail(&mut sock, e);
    }
    if let Some(h) = spec.hostname() {
        let has_uts = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|n| n.iter().any(|ns| ns.typ() == LinuxNamespaceType::Uts));
        if has_uts {
            rustix::system::sethostname(h.as_bytes())
                .unwrap_or_else(|e| fail(&mut sock, format!("hostname: {e}")));
        }
    }
    for r in process.rlimits().clone().unwrap_or_default() {
        if let Err(e) = super::process::set_rlimit(&r) {
            fail(&mut sock, e);
        }
    }
    if let Err(e) = super::fds::enter_cwd(process.cwd()) {
        fail(&mut sock, e);
    }
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => super::seccomp::compile(profile).unwrap_or_else(|e| fail(&mut sock, e)),
        None => Vec::new(),
    };
    send(&mut sock, "ready");
    // Wait for `start`: opening the FIFO for writing blocks until it is opened for reading.
    let fd_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fifo));
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .open(&fd_path)
        .unwrap_or_else(|e| fail(&mut sock, format!("waiting for start: {e}")));
    let _ = w.write_all(b"0");
    drop(w);
    drop(fifo);
    // The filter goes on while this process still has every capability (installing it needs
    // CAP_SYS_ADMIN or no_new_privs); it refuses nothing the remaining steps use.
    if let Err(e) = super::seccomp::install(&seccomp) {
        eprintln!("berth: {e}");
        std::process::exit(1);
    }
    // After `start` nobody reads the socket: errors go to the container's stderr.
    if let Some(slave) = &terminal {
        if let Err(e) = super::terminal::make_controlling(slave) {
            eprintln!("berth: {e}");
            std::process::exit(1);
        }
    } else if let Err(e) = rustix::process::setsid() {
        // A session of its own, as runc's: a terminal of the caller (`oci run` from a shell)
        // is not its controlling terminal, so no TIOCSTI into that shell.
        eprintln!("berth: setsid: {e}");
        std::process::exit(1);
    }
    drop(terminal);
    if let Err(e) = super::process::become_user(&process) {
        eprintln!("berth: {e}");
        std::process::exit(1);
    }
    let args = process.args().clone().unwrap_or_default();
    let Some(program) = args.first() else {
        fail(&mut sock, "process.args is empty".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(&args[1..]).env_clear();
    for kv in process.env().clone().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    drop(sock);
    let err = cmd.exec();
    // exec failed: tell whoever reads stderr (the socket is gone: `start` already returned).
    eprintln!("berth: cannot run {program}: {err}");
    std::process::exit(127);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(namespaces: serde_json::Value) -> Spec {
        let mut spec = Spec::default();
        let linux: oci_spec::runtime::Linux =
            serde_json::from_value(serde_json::json!({ "namespaces": namespaces })).unwrap();
        spec.set_linux(Some(linux));
        spec
    }

    #[test]
    fn new_namespaces_leave_the_cgroup_one_and_joined_ones_out() {
        let spec = spec_with(serde_json::json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "cgroup"},
            {"type": "network", "path": "/run/netns/x"},
        ]));
        assert_eq!(
            new_namespaces(&spec).unwrap(),
            UnshareFlags::NEWPID | UnshareFlags::NEWNS
        );
        assert!(!joins_pid_namespace(&spec));
        let joins = spec_with(serde_json::json!([{"type": "pid", "path": "/proc/1/ns/pid"}]));
        assert!(joins_pid_namespace(&joins));
        let user = spec_with(serde_json::json!([{"type": "user"}]));
        assert!(new_namespaces(&user).unwrap_err().contains("not supported"));
    }
}
