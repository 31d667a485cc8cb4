//! Every wait of the runtime on a container's processes, each with a deadline, so a setup
//! process that stops, freezes, hangs or dies never holds `create`, `start` or `delete` (nor
//! the monitor and the CLI that call them) without end: its setup messages, the exec FIFO at
//! `start`, and the end of its processes at `delete`.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use super::cgroup;
use super::lifecycle::cgroup_rel;
use super::state::{start_time, ContainerState};
use super::RuntimeError;

/// How long setup may take before `create` gives up.
pub(super) const SETUP_DEADLINE: Duration = Duration::from_secs(30);

/// How long `start` waits for the container's process to pass the exec FIFO (it waits there
/// already: this is only its scheduling).
pub(super) const START_DEADLINE: Duration = Duration::from_secs(10);

/// How long `delete` (and a failed `create`) waits for the container's processes to go.
pub(super) const KILL_DEADLINE: Duration = Duration::from_secs(10);

/// Reads the one-line messages of one connection up to its last (`ready`, `pid N`), each
/// read bounded by `deadline`: a setup process that stops, hangs or dies without a word is
/// an error, never a wait without end.
pub(super) fn messages(
    listener: &UnixListener,
    deadline: Instant,
    id: &str,
) -> Result<Vec<String>, RuntimeError> {
    let setup = |message: String| RuntimeError::Setup {
        id: id.to_string(),
        message,
    };
    let late = || {
        setup(format!(
            "its setup process did not report within {} s (stopped, frozen or stuck); it was \
             killed",
            SETUP_DEADLINE.as_secs()
        ))
    };
    let stream = super::unixsock::accept_within(listener, deadline).map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            late()
        } else {
            setup(e.to_string())
        }
    })?;
    let mut reader = BufReader::new(stream);
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        reader
            .get_ref()
            .set_read_timeout(Some(left))
            .map_err(|e| setup(e.to_string()))?;
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Err(setup(
                    "its setup process exited without reporting (its stderr may say why)".into(),
                ))
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(late())
            }
            Err(e) => return Err(setup(format!("reading setup messages: {e}"))),
        }
        let line = line.trim_end_matches('\n');
        if let Some(msg) = line.strip_prefix("error ") {
            return Err(setup(msg.to_string()));
        }
        let done = line == "ready" || line.starts_with("pid ");
        out.push(line.to_string());
        if done {
            return Ok(out);
        }
    }
}

/// Waits until the container's process has written to the exec FIFO (it is on its way to
/// exec), it has died, or `limit` has passed (it is then killed).
pub(super) fn wait_for_exec(
    fifo: &OwnedFd,
    st: &ContainerState,
    limit: Duration,
) -> Result<(), RuntimeError> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let failed = |message: String| RuntimeError::Start {
        id: st.id.clone(),
        message,
    };
    let alive = || start_time(st.pid) == Some(st.pid_start);
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = Timespec::try_from(left.min(Duration::from_millis(50))).ok();
        let mut fds = [PollFd::new(fifo, PollFlags::IN)];
        let _ = poll(&mut fds, ts.as_ref());
        let hung_up = fds[0].revents().contains(PollFlags::HUP);
        match rustix::io::read(fifo, &mut buf) {
            Ok(n) if n > 0 => return Ok(()),
            // No writer (yet, or any more): the checks below tell which.
            Ok(_) | Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
            Err(e) => return Err(failed(format!("reading the exec FIFO: {e}"))),
        }
        if !alive() {
            return Err(failed(
                "its process exited before it could start (its stderr may say why)".into(),
            ));
        }
        if left.is_zero() {
            if let Some(pid) = rustix::process::Pid::from_raw(st.pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            return Err(failed(format!(
                "its process did not pass the exec FIFO within {} s (stopped, frozen or \
                 stuck); it was killed: remove the container with `delete`",
                limit.as_secs()
            )));
        }
        if hung_up {
            // The writer came and went without a word: it is dying; look again shortly.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// How long an emptied cgroup that the kernel still counts busy is tried again.
const RMDIR_RETRY: Duration = Duration::from_secs(1);

/// Removes the cgroup recorded in the container's directory. One the kernel still counts
/// busy just after its last process went is tried again for a moment; one with processes
/// (another container's, when cgroups are shared) is left at once.
pub(super) fn remove_cgroup(d: &Path) {
    let Some(rel) = cgroup_rel(d) else {
        return;
    };
    let deadline = Instant::now() + RMDIR_RETRY;
    loop {
        let mut busy = false;
        for dir in cgroup::dirs(Path::new(cgroup::ROOT), &rel) {
            if let Err(e) = std::fs::remove_dir(&dir) {
                busy |= e.kind() != std::io::ErrorKind::NotFound;
            }
        }
        if !busy || !members(&rel).is_empty() || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The processes in the container's cgroup `rel`, read where a setup process lands first:
/// the unified hierarchy (it is cloned into it), else the first v1 one it joins.
fn members(rel: &Path) -> Vec<i32> {
    let base = Path::new(cgroup::ROOT);
    let dirs = cgroup::dirs(base, rel);
    let unified = base.join("unified");
    let Some(dir) = dirs
        .iter()
        .find(|d| d.starts_with(&unified))
        .or(dirs.first())
    else {
        return Vec::new();
    };
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// True when the container has no PID namespace of its own, so processes of its can outlive
/// its first one and only its cgroup finds them (runc's rule). With a namespace of its own,
/// the kernel ends them all with the first; its cgroup's other members are then not taken
/// for its own (another state root's container of the same ID shares `berth/<id>`).
fn shares_pid_namespace(d: &Path) -> bool {
    oci_spec::runtime::Spec::load(d.join("config.json")).is_ok_and(|spec| {
        !spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && n.path().is_none())
    })
}

/// Kills the container's processes, whatever they are doing (running, stopped, frozen, stuck
/// in setup): its recorded process (same PID, same start time) and, when it shares a PID
/// namespace ([`shares_pid_namespace`]), every process in its cgroup; the cgroup is thawed
/// (a frozen process cannot die). Waits until they are gone, up to [`KILL_DEADLINE`].
pub(super) fn end_processes(d: &Path, st: Option<&ContainerState>) {
    use rustix::process::{kill_process, Pid, Signal};
    let rel = cgroup_rel(d);
    let base = Path::new(cgroup::ROOT);
    let deadline = Instant::now() + KILL_DEADLINE;
    // Read from the spec only when the cgroup has members at all (not after a plain exit).
    let mut all = None;
    loop {
        let own = st
            .filter(|s| s.pid > 0 && start_time(s.pid) == Some(s.pid_start))
            .map(|s| s.pid);
        let mut others = rel.as_deref().map(members).unwrap_or_default();
        if !others.is_empty() && !*all.get_or_insert_with(|| shares_pid_namespace(d)) {
            others.clear();
        }
        if own.is_none() && others.is_empty() {
            return;
        }
        for pid in own.into_iter().chain(others) {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
        if let Some(rel) = &rel {
            if cgroup::is_frozen(base, rel) {
                let _ = cgroup::freeze(base, rel, false);
            }
        }
        if Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fifo(dir: &Path) -> std::path::PathBuf {
        let p = dir.join("exec.fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        p
    }

    fn reader(p: &Path) -> OwnedFd {
        rustix::fs::open(
            p,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .unwrap()
    }

    /// A stand-in for the container's process (a child of the test: killing it is ours).
    fn process() -> (std::process::Child, ContainerState) {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let st = ContainerState {
            id: "c1".into(),
            bundle: "/b".into(),
            pid,
            pid_start: start_time(pid).unwrap(),
            created: String::new(),
            annotations: Default::default(),
        };
        (child, st)
    }

    #[test]
    fn start_waits_for_the_fifo_with_a_deadline() {
        let d = tempfile::tempdir().unwrap();
        let p = fifo(d.path());
        // The process passes the FIFO: done.
        let (mut child, st) = process();
        let r = reader(&p);
        let mut w = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        w.write_all(b"0").unwrap();
        drop(w);
        wait_for_exec(&r, &st, Duration::from_secs(5)).unwrap();
        drop(r);
        // It never comes: an error in time, and the process is killed.
        let r = reader(&p);
        let t = Instant::now();
        let e = wait_for_exec(&r, &st, Duration::from_millis(200)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(
            e.to_string().contains("did not pass the exec FIFO within"),
            "{e}"
        );
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed");
        // It is gone already: said at once.
        let t = Instant::now();
        let e = wait_for_exec(&r, &st, Duration::from_secs(5)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(e.to_string().contains("exited before"), "{e}");
    }

    #[test]
    fn only_a_container_sharing_a_pid_namespace_is_ended_through_its_cgroup() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let spec = |namespaces: serde_json::Value| {
            let spec: oci_spec::runtime::Spec = serde_json::from_value(serde_json::json!({
                "ociVersion": "1.0.2", "linux": {"namespaces": namespaces}
            }))
            .unwrap();
            spec.save(d.join("config.json")).unwrap();
        };
        spec(serde_json::json!([{"type": "pid"}, {"type": "mount"}]));
        assert!(
            !shares_pid_namespace(d),
            "its first process takes the rest along"
        );
        spec(serde_json::json!([{"type": "pid", "path": "/proc/1/ns/pid"}]));
        assert!(shares_pid_namespace(d));
        spec(serde_json::json!([{"type": "mount"}]));
        assert!(shares_pid_namespace(d), "the host's");
    }

    #[test]
    fn setup_messages_end_with_a_report_an_error_or_the_deadline() {
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("init.sock");
        let listener = super::super::unixsock::bind(&sock).unwrap();
        let soon = || Instant::now() + Duration::from_millis(300);
        let mut c = super::super::unixsock::connect(&sock).unwrap();
        c.write_all(b"pid 7\nready\n").unwrap();
        assert_eq!(messages(&listener, soon(), "c1").unwrap(), ["pid 7"]);
        let mut c = super::super::unixsock::connect(&sock).unwrap();
        c.write_all(b"error mount /x: no\n").unwrap();
        let e = messages(&listener, soon(), "c1").unwrap_err();
        assert!(e.to_string().ends_with("setup failed: mount /x: no"), "{e}");
        // Connected, then silent: the deadline.
        let _silent = super::super::unixsock::connect(&sock).unwrap();
        let e = messages(&listener, soon(), "c1").unwrap_err();
        assert!(e.to_string().contains("did not report within"), "{e}");
        // Gone without a word.
        let c = super::super::unixsock::connect(&sock).unwrap();
        drop(c);
        let e = messages(&listener, soon(), "c1").unwrap_err();
        assert!(e.to_string().contains("exited without reporting"), "{e}");
        // Nobody at all.
        let e = messages(&listener, soon(), "c1").unwrap_err();
        assert!(e.to_string().contains("did not report within"), "{e}");
    }
}
