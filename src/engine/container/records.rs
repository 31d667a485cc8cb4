//! The files a container's monitor and the commands share: what the monitor needs to run
//! (`monitor.json`), the live process (`running.json`), the last exit (`exit.json`), a stop
//! request (`stop.json`). Liveness is always a PID *and* its start time *and* the boot ID,
//! never a bare PID.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::{Health, RestartPolicy};
use super::write_atomic;
use crate::engine::runtime::state::start_time;

/// This boot's ID (from the kernel).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A process identity that survives PID reuse and reboots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    pub start: u64,
    pub boot_id: String,
}

impl ProcessId {
    pub fn of(pid: i32) -> Option<ProcessId> {
        Some(ProcessId {
            pid,
            start: start_time(pid)?,
            boot_id: boot_id(),
        })
    }

    pub fn alive(&self) -> bool {
        self.pid > 0 && self.boot_id == boot_id() && start_time(self.pid) == Some(self.start)
    }

    /// A pidfd of this process while it lives (readable once it exits); checked after the
    /// open, so a reused PID is never taken for it.
    pub fn pidfd(&self) -> Option<std::os::fd::OwnedFd> {
        let pid = rustix::process::Pid::from_raw(self.pid)?;
        let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
        self.alive().then_some(fd)
    }

    /// Waits until this process exits or `timeout` passes.
    pub fn wait_exit(&self, timeout: std::time::Duration) {
        match self.pidfd() {
            Some(fd) => {
                use rustix::event::{poll, PollFd, PollFlags, Timespec};
                let ts = Timespec::try_from(timeout).ok();
                let _ = poll(&mut [PollFd::new(&fd, PollFlags::IN)], ts.as_ref());
            }
            None if self.alive() => {
                std::thread::sleep(timeout.min(std::time::Duration::from_millis(10)))
            }
            None => {}
        }
    }
}

/// What the monitor needs (written by the command that starts it; the monitor never opens
/// the database).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorConfig {
    pub id: String,
    pub name: String,
    /// The image's layers as overlay lower dirs (relative to `image_dir`), topmost first.
    pub lowers: Vec<std::path::PathBuf>,
    pub image_dir: std::path::PathBuf,
    pub restart: RestartPolicy,
    pub stop_signal: String,
    pub stop_timeout: u32,
    pub auto_remove: bool,
    pub health: Option<Health>,
    /// Bytes before the log rotates.
    pub log_max_size: u64,
    /// A pty for the container (`-t`).
    #[serde(default)]
    pub tty: bool,
    /// Keep its stdin open for attach clients (`-i`).
    #[serde(default)]
    pub open_stdin: bool,
}

/// The live process, written by the monitor after each start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub process: ProcessId,
    pub started_at: String,
    pub restart_count: u32,
}

/// The last exit, written atomically by the monitor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exit {
    /// Increases with every exit of this container.
    pub seq: u64,
    /// The exit code; 128 + signal when a signal killed it.
    pub code: i32,
    pub oom_killed: bool,
    pub started_at: String,
    pub finished_at: String,
    pub restart_count: u32,
    /// The monitor will start it again (restart policy).
    pub restarting: bool,
    /// An error that kept the container from starting (shown in inspect's State.Error).
    #[serde(default)]
    pub error: String,
    /// It ended because someone stopped it (stop, kill, rm -f): `unless-stopped` does not
    /// bring it back at boot.
    #[serde(default)]
    pub stopped: bool,
}

/// A stop request: the monitor sends `signal`, then SIGKILL after `timeout` seconds, and does
/// not restart the container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopRequest {
    pub signal: String,
    pub timeout: u32,
}

pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Like [`read`], telling a missing file (`Ok(None)`) from an unreadable one (`Err`).
pub fn read_checked<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| format!("{} is unreadable ({e})", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes a record atomically (not synced: run-directory state and settings the database
/// also holds).
pub fn write<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    write_atomic(
        path,
        &serde_json::to_vec(value).expect("serialisable"),
        false,
    )
}

/// Writes a record atomically and durably (exit records).
pub fn write_durable<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    write_atomic(
        path,
        &serde_json::to_vec(value).expect("serialisable"),
        true,
    )
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
