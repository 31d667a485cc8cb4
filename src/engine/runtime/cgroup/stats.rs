//! What a container's cgroup reports: memory use and limit, OOM kills, pids, CPU time; and a
//! descriptor that becomes readable on an OOM event (v1 `cgroup.event_control` with an
//! eventfd, v2 inotify on `memory.events`).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::{controller_dir, detect, Layout};

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat keyed file (`oom_kill 3`).
fn keyed(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// How many processes the kernel's OOM killer has killed in the container's cgroup.
pub fn oom_kills(root: &Path, rel: &Path) -> u64 {
    let Some(dir) = controller_dir(root, rel, "memory") else {
        return 0;
    };
    match detect(root) {
        Layout::V2 => keyed(&dir.join("memory.events"), "oom_kill"),
        Layout::V1 => keyed(&dir.join("memory.oom_control"), "oom_kill"),
    }
    .unwrap_or(0)
}

/// Memory, pids and CPU figures of the container's cgroup, as JSON (runc `events --stats`
/// shape, reduced to what berth reports).
pub fn stats(root: &Path, rel: &Path) -> serde_json::Value {
    let layout = detect(root);
    let mem = controller_dir(root, rel, "memory");
    let pids = controller_dir(root, rel, "pids");
    let cpu = controller_dir(
        root,
        rel,
        if layout == Layout::V2 {
            "cpu"
        } else {
            "cpuacct"
        },
    );
    let (usage, limit) = match (&mem, layout) {
        (Some(d), Layout::V2) => (
            read_u64(&d.join("memory.current")),
            read_u64(&d.join("memory.max")),
        ),
        (Some(d), Layout::V1) => (
            read_u64(&d.join("memory.usage_in_bytes")),
            read_u64(&d.join("memory.limit_in_bytes")),
        ),
        (None, _) => (None, None),
    };
    let cpu_ns = match (&cpu, layout) {
        (Some(d), Layout::V2) => keyed(&d.join("cpu.stat"), "usage_usec").map(|u| u * 1000),
        (Some(d), Layout::V1) => read_u64(&d.join("cpuacct.usage")),
        (None, _) => None,
    };
    serde_json::json!({
        "memory": {"usage": usage, "limit": limit, "oom_kills": oom_kills(root, rel)},
        "pids": {
            "current": pids.as_ref().and_then(|d| read_u64(&d.join("pids.current"))),
            "limit": pids.as_ref().and_then(|d| read_u64(&d.join("pids.max"))),
        },
        "cpu": {"usage_ns": cpu_ns},
    })
}

/// A descriptor that turns readable when the container's cgroup has an OOM event.
pub struct OomWatch {
    fd: OwnedFd,
}

impl OomWatch {
    pub fn new(root: &Path, rel: &Path) -> Result<OomWatch, String> {
        let dir = controller_dir(root, rel, "memory")
            .ok_or_else(|| "the container has no memory cgroup".to_string())?;
        let err = |e: rustix::io::Errno| format!("watching {} for OOM: {e}", dir.display());
        let fd = match detect(root) {
            Layout::V2 => {
                use rustix::fs::inotify;
                let fd =
                    inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
                        .map_err(err)?;
                inotify::add_watch(&fd, dir.join("memory.events"), inotify::WatchFlags::MODIFY)
                    .map_err(err)?;
                fd
            }
            Layout::V1 => {
                use rustix::event::EventfdFlags;
                let efd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
                    .map_err(err)?;
                let control = std::fs::File::open(dir.join("memory.oom_control"))
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
                let line = format!("{} {}", efd.as_raw_fd(), control.as_raw_fd());
                std::fs::write(dir.join("cgroup.event_control"), line)
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
                efd
            }
        };
        Ok(OomWatch { fd })
    }

    /// Reads what made the descriptor readable, so it can wait again.
    pub fn consume(&self) {
        let mut buf = [0u8; 4096];
        while matches!(rustix::io::read(&self.fd, &mut buf), Ok(n) if n > 0) {}
    }
}

impl AsFd for OomWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
