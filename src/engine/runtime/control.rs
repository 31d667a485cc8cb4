//! Controlling a live container: pause and resume (the freezer), events (OOM kills as they
//! happen, statistics every interval), and the list of containers.

use std::path::Path;
use std::time::Duration;

use super::lifecycle::{cgroup_rel, dir};
use super::state::{start_time, ContainerState, Status};
use super::{cgroup, RuntimeError};

fn freeze(root: &Path, id: &str, frozen: bool) -> Result<(), RuntimeError> {
    let d = dir(root, id)?;
    let st = ContainerState::load(&d, id)?;
    let status = st.status(&d);
    let (needed, label, action) = if frozen {
        (Status::Running, "running", "pause")
    } else {
        (Status::Paused, "paused", "resume")
    };
    if status != needed {
        return Err(RuntimeError::State {
            id: id.to_string(),
            status: status.as_str(),
            action,
            needed: label,
        });
    }
    let rel = cgroup_rel(&d).ok_or_else(|| RuntimeError::Setup {
        id: id.to_string(),
        message: "the container has no cgroup".into(),
    })?;
    cgroup::freeze(Path::new(cgroup::ROOT), &rel, frozen).map_err(|message| RuntimeError::Setup {
        id: id.to_string(),
        message,
    })
}

/// `pause`: freezes every process of a running container.
pub fn pause(root: &Path, id: &str) -> Result<(), RuntimeError> {
    freeze(root, id, true)
}

/// `resume`: thaws a paused container.
pub fn resume(root: &Path, id: &str) -> Result<(), RuntimeError> {
    freeze(root, id, false)
}

/// `events`: calls `emit` with `{"type":"stats",...}` once (`stats_only`) or every
/// `interval`, and with `{"type":"oom",...}` for each OOM kill, until the container's process
/// exits or `emit` returns false.
pub fn events(
    root: &Path,
    id: &str,
    stats_only: bool,
    interval: Duration,
    mut emit: impl FnMut(serde_json::Value) -> bool,
) -> Result<(), RuntimeError> {
    let d = dir(root, id)?;
    let st = ContainerState::load(&d, id)?;
    let status = st.status(&d);
    if status == Status::Stopped {
        return Err(RuntimeError::State {
            id: id.to_string(),
            status: status.as_str(),
            action: "events",
            needed: "created, running or paused",
        });
    }
    let rel = cgroup_rel(&d).unwrap_or_default();
    let base = Path::new(cgroup::ROOT);
    let stats =
        || serde_json::json!({"type": "stats", "id": id, "data": cgroup::stats(base, &rel)});
    if stats_only {
        emit(stats());
        return Ok(());
    }
    let io = |what: &str, e: rustix::io::Errno| RuntimeError::io(Path::new(what), e.into());
    let pid = rustix::process::Pid::from_raw(st.pid).expect("positive pid");
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| io("pidfd_open", e))?;
    if start_time(st.pid) != Some(st.pid_start) {
        return Ok(()); // It exited (and the PID may be reused) before we held it.
    }
    let watch = cgroup::OomWatch::new(base, &rel).map_err(|message| RuntimeError::Setup {
        id: id.to_string(),
        message,
    })?;
    let mut seen = cgroup::oom_kills(base, &rel);
    let timeout = rustix::event::Timespec::try_from(interval).ok();
    loop {
        use rustix::event::{PollFd, PollFlags};
        let mut fds = [
            PollFd::new(&pidfd, PollFlags::IN),
            PollFd::new(&watch, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => {
                if !emit(stats()) {
                    return Ok(());
                }
                continue;
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(io("poll", e)),
        }
        let exited = !fds[0].revents().is_empty();
        if !fds[1].revents().is_empty() {
            watch.consume();
        }
        let kills = cgroup::oom_kills(base, &rel);
        for _ in seen..kills {
            if !emit(serde_json::json!({"type": "oom", "id": id})) {
                return Ok(());
            }
        }
        seen = kills;
        if exited {
            return Ok(());
        }
    }
}

/// `list`: the state of every container under `root`, by id. A container whose state cannot
/// be read is reported with status `unknown` and the reason, never skipped silently.
pub fn list(root: &Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| super::state::check_id(id).is_ok() && !id.starts_with('.'))
        .collect();
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let d = root.join(&id);
            match ContainerState::load(&d, &id) {
                Ok(st) => st.oci_json(&d),
                Err(e) => {
                    serde_json::json!({"id": id, "status": "unknown", "error": e.to_string()})
                }
            }
        })
        .collect()
}
