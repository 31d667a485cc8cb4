//! create / start / state / kill / delete / run.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as StdStdio};
use std::time::Instant;

use oci_spec::runtime::Spec;
use serde::Deserialize;

use super::cgroup;
use super::state::{check_id, start_time, ContainerState, Status};
use super::waits::{
    end_processes, messages, remove_cgroup, wait_for_exec, SETUP_DEADLINE, START_DEADLINE,
};
use super::RuntimeError;

/// Where the container's standard streams go.
pub enum Stdio {
    /// The caller's own.
    Inherit,
    /// /dev/null.
    Null,
    /// stdin from /dev/null, stdout and stderr to this file.
    File(std::fs::File),
    /// These descriptors (stdin, stdout, stderr): pipes of the caller's, say.
    Fds([OwnedFd; 3]),
}

/// The descriptors a child's stdin, stdout and stderr get (`None`: inherited).
pub(crate) struct StdioFds([Option<OwnedFd>; 3]);

impl StdioFds {
    pub(crate) fn each(&self) -> [Option<BorrowedFd<'_>>; 3] {
        [0, 1, 2].map(|i| self.0[i].as_ref().map(|f| f.as_fd()))
    }
}

impl Stdio {
    /// The descriptors for a child spawned without `Command`.
    pub(crate) fn fds(&self) -> std::io::Result<StdioFds> {
        let null = || -> std::io::Result<OwnedFd> {
            Ok(std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?
                .into())
        };
        Ok(StdioFds(match self {
            Stdio::Inherit => [None, None, None],
            Stdio::Null => [Some(null()?), Some(null()?), Some(null()?)],
            Stdio::File(f) => [
                Some(null()?),
                Some(f.as_fd().try_clone_to_owned()?),
                Some(f.as_fd().try_clone_to_owned()?),
            ],
            Stdio::Fds(fds) => [
                Some(fds[0].try_clone()?),
                Some(fds[1].try_clone()?),
                Some(fds[2].try_clone()?),
            ],
        }))
    }

    /// Applies to a command about to be spawned (the same descriptors as [`Stdio::fds`]).
    pub(crate) fn apply(self, cmd: &mut Command) -> std::io::Result<()> {
        let [stdin, stdout, stderr] = self.fds()?.0;
        if let Some(fd) = stdin {
            cmd.stdin(StdStdio::from(fd));
        }
        if let Some(fd) = stdout {
            cmd.stdout(StdStdio::from(fd));
        }
        if let Some(fd) = stderr {
            cmd.stderr(StdStdio::from(fd));
        }
        Ok(())
    }
}

/// What `create` needs besides the bundle.
pub struct CreateOptions {
    pub stdio: Stdio,
    /// Where to send the pty master when `process.terminal` is true (runc's
    /// `--console-socket`).
    pub console_socket: Option<PathBuf>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            stdio: Stdio::Inherit,
            console_socket: None,
        }
    }
}

pub(crate) fn dir(root: &Path, id: &str) -> Result<PathBuf, RuntimeError> {
    check_id(id)?;
    Ok(root.join(id))
}

/// `create`: sets the container up and leaves its process waiting for `start`.
pub fn create(
    root: &Path,
    id: &str,
    bundle: &Path,
    options: CreateOptions,
) -> Result<ContainerState, RuntimeError> {
    let d = dir(root, id)?;
    let bundle = std::fs::canonicalize(bundle).map_err(|e| RuntimeError::Bundle {
        bundle: bundle.to_path_buf(),
        message: e.to_string(),
    })?;
    // Read once: the spec, and the raw JSON for what the types drop (seccomp's keys).
    let bad = |message: String| RuntimeError::Bundle {
        bundle: bundle.clone(),
        message: format!("config.json: {message}"),
    };
    let raw: serde_json::Value = std::fs::read(bundle.join("config.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(bad)?;
    let mut spec = Spec::deserialize(&raw).map_err(|e| bad(e.to_string()))?;
    super::mount_checks::resolve_bind_sources(&mut spec, &bundle);
    super::seccomp::prepare_bundle(&mut spec, &raw)
        .map_err(|e| bad(e.within("linux.seccomp").to_string()))?;
    check_spec(&spec).map_err(|message| RuntimeError::Bundle {
        bundle: bundle.clone(),
        message,
    })?;
    crate::engine::private::create_dir(root).map_err(|e| RuntimeError::io(root, e))?;
    match std::fs::create_dir(&d) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(RuntimeError::Exists(id.to_string()))
        }
        Err(e) => return Err(RuntimeError::io(&d, e)),
    }
    let result = create_in(&d, id, &bundle, &spec, options);
    if result.is_err() {
        let st = ContainerState::load(&d, id).ok();
        end_processes(&d, st.as_ref());
        remove_cgroup(&d);
        let _ = std::fs::remove_dir_all(&d);
    }
    result
}

/// The container's cgroup path (relative to each hierarchy), as recorded at create.
pub(crate) fn cgroup_rel(d: &Path) -> Option<PathBuf> {
    std::fs::read_to_string(d.join("cgroup"))
        .ok()
        .map(PathBuf::from)
}

/// True when the kernel's OOM killer killed a process of the container (while its cgroup
/// still exists, i.e. before `delete`).
pub fn oom_killed(root: &Path, id: &str) -> bool {
    dir(root, id)
        .ok()
        .and_then(|d| cgroup_rel(&d))
        .is_some_and(|rel| cgroup::oom_kills(Path::new(cgroup::ROOT), &rel) > 0)
}

/// The host PIDs of every process in the container's cgroup.
pub fn processes(root: &Path, id: &str) -> Vec<i32> {
    let Some(rel) = dir(root, id).ok().and_then(|d| cgroup_rel(&d)) else {
        return Vec::new();
    };
    let base = Path::new(cgroup::ROOT);
    let file = match cgroup::detect(base) {
        cgroup::Layout::V2 => base.join(&rel).join("cgroup.procs"),
        cgroup::Layout::V1 => base.join("pids").join(&rel).join("cgroup.procs"),
    };
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// nsfs's `f_type` (include/uapi/linux/magic.h).
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Every namespace given by path is a namespace file (a FIFO or a directory there would stall
/// or confuse the setup process that joins it).
fn check_namespace_files(spec: &Spec) -> Result<(), String> {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone());
    for (i, ns) in namespaces.unwrap_or_default().iter().enumerate() {
        let Some(path) = ns.path() else {
            continue;
        };
        // Path-only: opening a FIFO this way does not wait for a writer.
        let fd = rustix::fs::open(
            path,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| format!("linux.namespaces[{i}]: {}: {e}", path.display()))?;
        // `f_type`'s integer type differs between architectures.
        #[allow(clippy::unnecessary_cast)]
        let nsfs = rustix::fs::fstatfs(&fd).is_ok_and(|s| s.f_type as i64 == NSFS_MAGIC);
        if !nsfs {
            return Err(format!(
                "linux.namespaces[{i}]: {} is not a namespace file; give /proc/PID/ns/{} of a \
                 process, or a bind mount of one",
                path.display(),
                super::init::ns_file(ns.typ())
            ));
        }
    }
    Ok(())
}

/// Checks made before anything is created: mounts, sysctls, oomScoreAdj range, ids.
fn check_spec(spec: &Spec) -> Result<(), String> {
    super::mount_checks::validate(spec)?;
    check_namespace_files(spec)?;
    // "The host" is the network namespace berth runs in (runc compares with its own too), and
    // PID 1's; a namespace file that cannot be read counts as the host's.
    let host_net = |p: &Path| {
        let inode = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        inode(p).is_none_or(|joined| {
            [
                "/proc/thread-self/ns/net",
                "/proc/self/ns/net",
                "/proc/1/ns/net",
            ]
            .into_iter()
            .any(|host| inode(Path::new(host)) == Some(joined))
        })
    };
    super::sysctl::validate(spec, &host_net)?;
    if let Some(process) = spec.process() {
        if let Some(adj) = process.oom_score_adj() {
            if !(-1000..=1000).contains(&adj) {
                return Err(format!("process.oomScoreAdj {adj} is outside -1000..1000"));
            }
        }
        let user = process.user();
        let ids = [user.uid(), user.gid()]
            .into_iter()
            .chain(user.additional_gids().clone().unwrap_or_default());
        for id in ids {
            if id == u32::MAX {
                return Err(format!(
                    "process.user: id {id} is not a valid user or group id (use 0..4294967294)"
                ));
            }
        }
    }
    Ok(())
}

fn create_in(
    d: &Path,
    id: &str,
    bundle: &Path,
    spec: &Spec,
    options: CreateOptions,
) -> Result<ContainerState, RuntimeError> {
    let config = d.join("config.json");
    let json = serde_json::to_vec(spec).expect("a spec serialises");
    crate::engine::private::write(&config, &json).map_err(|e| RuntimeError::Corrupt {
        path: config.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(d.join("bundle"), bundle.as_os_str().as_encoded_bytes())
        .map_err(|e| RuntimeError::io(d, e))?;
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.join("exec.fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .map_err(|e| RuntimeError::io(&d.join("exec.fifo"), e.into()))?;
    let cgroups_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let rel = cgroup::relative_path(cgroups_path.as_deref(), id).map_err(|message| {
        RuntimeError::Bundle {
            bundle: bundle.to_path_buf(),
            message,
        }
    })?;
    std::fs::write(d.join("cgroup"), rel.as_os_str().as_encoded_bytes())
        .map_err(|e| RuntimeError::io(d, e))?;
    if let Some(console) = &options.console_socket {
        let console = std::path::absolute(console).map_err(|e| RuntimeError::io(console, e))?;
        std::fs::write(
            d.join("console-socket"),
            console.as_os_str().as_encoded_bytes(),
        )
        .map_err(|e| RuntimeError::io(d, e))?;
    }
    let listener =
        super::unixsock::bind(&d.join("init.sock")).map_err(|e| RuntimeError::io(d, e))?;
    // The setup process execs the container's program: it must run from a protected binary
    // (CVE-2019-5736). This process's own when it is one, else a protected copy.
    let root = d.parent().unwrap_or(d);
    let copy = super::exe::protect_setup_binary(root)
        .map_err(|e| RuntimeError::io(Path::new("/proc/self/exe"), e))?;
    let program = match &copy {
        Some(fd) => super::exe::fd_path(fd.as_fd()),
        None => PathBuf::from("/proc/self/exe"),
    };
    let setup = |message: String| RuntimeError::Setup {
        id: id.to_string(),
        message,
    };
    let cgroup_root = Path::new(cgroup::ROOT);
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    cgroup::create(cgroup_root, &rel, resources).map_err(setup)?;
    let namespaces = super::init::new_namespaces(spec).map_err(setup)?;
    let deadline = Instant::now() + SETUP_DEADLINE;
    // Straight into its namespaces and cgroup in one clone; through init1 when it joins an
    // existing PID namespace or the kernel predates clone3's CLONE_INTO_CGROUP.
    let direct = if super::init::joins_pid_namespace(spec) {
        None
    } else {
        let unified = cgroup::unified_dir(cgroup_root, &rel).map_err(setup)?;
        let cgroup_fd = unified.as_ref().map(|f| f.as_fd());
        let streams = options.stdio.fds().map_err(|e| RuntimeError::io(d, e))?;
        let flags = u64::from(namespaces.bits());
        // A fork of this process runs init2 when it can (no exec: ~1 ms less); an exec when
        // this process does not run from a protected binary, or has other threads.
        if copy.is_none() && super::fork::single_threaded() {
            // SAFETY: single-threaded, just checked.
            #[allow(unsafe_code)]
            let forked = unsafe {
                super::fork::clone_run(flags, cgroup_fd, streams.each(), || {
                    super::init::init2_with(d, Some(spec))
                })
            };
            forked.map_err(setup)?
        } else {
            let plan = super::fork::ExecPlan::new(
                program.as_os_str(),
                &[OsStr::new("oci"), OsStr::new("__init2"), d.as_os_str()],
            )
            .stdio(streams.each());
            super::fork::clone_exec(&plan, flags, cgroup_fd).map_err(setup)?
        }
    };
    let pid = match direct {
        Some(pid) => pid.as_raw(),
        None => {
            let mut cmd = Command::new(&program);
            cmd.args(["oci", "__init1"]).arg(d);
            options
                .stdio
                .apply(&mut cmd)
                .map_err(|e| RuntimeError::io(d, e))?;
            let mut stage1 = cmd.spawn().map_err(|e| RuntimeError::io(&program, e))?;
            let first = messages(&listener, deadline, id);
            if first.is_err() {
                // It did not report in time: it is not waited on without end.
                let _ = stage1.kill();
            }
            let _ = stage1.wait();
            first?
                .iter()
                .find_map(|l| l.strip_prefix("pid ").and_then(|p| p.parse().ok()))
                .ok_or_else(|| setup("no pid reported".into()))?
        }
    };
    drop(copy);
    let mut st = ContainerState {
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        pid,
        pid_start: start_time(pid).unwrap_or(0),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    };
    st.save(d)?;
    messages(&listener, deadline, id)?;
    let _ = std::fs::remove_file(d.join("init.sock"));
    st.pid_start = start_time(pid).unwrap_or(st.pid_start);
    st.save(d)?;
    Ok(st)
}

/// `start`: lets a created container's process exec.
pub fn start(root: &Path, id: &str) -> Result<(), RuntimeError> {
    let d = dir(root, id)?;
    let st = ContainerState::load(&d, id)?;
    let status = st.status(&d);
    if status != Status::Created {
        return Err(RuntimeError::State {
            id: id.to_string(),
            status: status.as_str(),
            action: "start",
            needed: "created",
        });
    }
    let fifo = d.join("exec.fifo");
    // Opened without waiting for the writer, then waited on with a deadline: a container
    // process that stopped, froze or died never holds `start` (nor a monitor) forever.
    let f = rustix::fs::open(
        &fifo,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| RuntimeError::io(&fifo, e.into()))?;
    wait_for_exec(&f, &st, START_DEADLINE)?;
    std::fs::remove_file(&fifo).map_err(|e| RuntimeError::io(&fifo, e))
}

/// `state`: the OCI state JSON.
pub fn state_json(root: &Path, id: &str) -> Result<serde_json::Value, RuntimeError> {
    let d = dir(root, id)?;
    Ok(ContainerState::load(&d, id)?.oci_json(&d))
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
pub fn parse_signal(s: &str) -> Result<rustix::process::Signal, RuntimeError> {
    use rustix::process::Signal;
    if let Ok(n) = s.parse::<i32>() {
        return Signal::from_named_raw(n).ok_or_else(|| RuntimeError::Signal(s.to_string()));
    }
    let name = s.trim_start_matches("SIG").to_ascii_uppercase();
    Ok(match name.as_str() {
        "TERM" => Signal::TERM,
        "KILL" => Signal::KILL,
        "INT" => Signal::INT,
        "HUP" => Signal::HUP,
        "QUIT" => Signal::QUIT,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        "STOP" => Signal::STOP,
        "CONT" => Signal::CONT,
        "WINCH" => Signal::WINCH,
        "ALRM" => Signal::ALARM,
        "PIPE" => Signal::PIPE,
        _ => return Err(RuntimeError::Signal(s.to_string())),
    })
}

/// `kill`: signals the container's process (created or running).
pub fn kill(root: &Path, id: &str, signal: &str) -> Result<(), RuntimeError> {
    let d = dir(root, id)?;
    let sig = parse_signal(signal)?;
    let st = ContainerState::load(&d, id)?;
    let status = st.status(&d);
    if !matches!(status, Status::Created | Status::Running | Status::Paused) {
        return Err(RuntimeError::State {
            id: id.to_string(),
            status: status.as_str(),
            action: "kill",
            needed: "created, running or paused",
        });
    }
    let pid = rustix::process::Pid::from_raw(st.pid).expect("positive pid");
    rustix::process::kill_process(pid, sig).map_err(|e| RuntimeError::Kill {
        id: id.to_string(),
        signal: signal.to_string(),
        source: e.into(),
    })
}

/// `delete`: removes a stopped container (with `force`, kills it first, in whatever state:
/// created, running, paused, or stopped, frozen or stuck in its setup). What is left of the
/// container's processes (in its cgroup) goes with it.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<(), RuntimeError> {
    let d = dir(root, id)?;
    let st = match ContainerState::load(&d, id) {
        Ok(st) => Some(st),
        // Its create never got as far as recording the process: what there is goes.
        Err(RuntimeError::NotFound(_)) if force && d.is_dir() => None,
        Err(RuntimeError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some(st) = &st {
        let status = st.status(&d);
        if !force && matches!(status, Status::Created | Status::Running | Status::Paused) {
            return Err(RuntimeError::State {
                id: id.to_string(),
                status: status.as_str(),
                action: "delete",
                needed: "stopped (or use --force)",
            });
        }
    }
    end_processes(&d, st.as_ref());
    remove_cgroup(&d);
    std::fs::remove_dir_all(&d).map_err(|e| RuntimeError::io(&d, e))
}
