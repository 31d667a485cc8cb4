//! The freezer: pause and resume every process of a container at once (v1 `freezer.state`,
//! v2 `cgroup.freeze`), waiting until the kernel reports the cgroup frozen or thawed.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{detect, write, Layout};

const DEADLINE: Duration = Duration::from_secs(10);

fn files(root: &Path, rel: &Path) -> (std::path::PathBuf, std::path::PathBuf, Layout) {
    match detect(root) {
        Layout::V2 => (
            root.join(rel).join("cgroup.freeze"),
            root.join(rel).join("cgroup.events"),
            Layout::V2,
        ),
        Layout::V1 => {
            let f = root.join("freezer").join(rel).join("freezer.state");
            (f.clone(), f, Layout::V1)
        }
    }
}

fn frozen_now(report: &Path, layout: Layout) -> Option<bool> {
    let text = std::fs::read_to_string(report).ok()?;
    Some(match layout {
        Layout::V1 => text.trim() == "FROZEN",
        Layout::V2 => text.lines().any(|l| l.trim() == "frozen 1"),
    })
}

/// True when the container's cgroup is frozen (or freezing).
pub fn is_frozen(root: &Path, rel: &Path) -> bool {
    let (control, report, layout) = files(root, rel);
    match layout {
        Layout::V1 => std::fs::read_to_string(&report)
            .is_ok_and(|t| matches!(t.trim(), "FROZEN" | "FREEZING")),
        Layout::V2 => std::fs::read_to_string(&control).is_ok_and(|t| t.trim() == "1"),
    }
}

/// Freezes (`true`) or thaws the container's cgroup and waits until the kernel has done it.
pub fn freeze(root: &Path, rel: &Path, frozen: bool) -> Result<(), String> {
    let (control, report, layout) = files(root, rel);
    if !control.exists() {
        return Err(format!(
            "this host has no freezer for the container's cgroup ({} is missing)",
            control.display()
        ));
    }
    let value = match (layout, frozen) {
        (Layout::V1, true) => "FROZEN",
        (Layout::V1, false) => "THAWED",
        (Layout::V2, true) => "1",
        (Layout::V2, false) => "0",
    };
    let deadline = Instant::now() + DEADLINE;
    loop {
        // v1 may stay FREEZING while a task is busy in the kernel: writing again retries.
        write(&control, value)?;
        if frozen_now(&report, layout) == Some(frozen) {
            return Ok(());
        }
        if Instant::now() > deadline {
            if frozen {
                let _ = write(&control, if layout == Layout::V1 { "THAWED" } else { "0" });
            }
            return Err(format!(
                "the cgroup did not become {} within {}s",
                if frozen { "frozen" } else { "thawed" },
                DEADLINE.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
