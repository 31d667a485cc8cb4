//! Removing a container: `rm`, and `rm -f` of a live one, which never fails on a container
//! whose monitor does not answer (its setup hung, or the monitor is stuck itself): the
//! monitor is killed after a grace period, and the container's processes (by their recorded
//! PID and cgroup), mounts, network and files go all the same.

use std::time::{Duration, Instant};

use super::records::{self, StopRequest};
use super::service::{signal, Engine};
use super::view::View;
use super::{ContainerError, Result};

/// How long `rm -f` waits for a container's monitor to kill it before killing the monitor.
const MONITOR_GRACE: Duration = Duration::from_secs(3);

impl Engine {
    /// `rm`: removes a stopped container (`force`: kills it first; `volumes`: its anonymous
    /// volumes too, unless another container uses them).
    pub fn remove(&self, key: &str, force: bool, volumes: bool) -> Result<String> {
        let v = self.peek(key)?;
        if v.is_running() {
            if !force {
                return Err(ContainerError::WrongState {
                    name: v.row.name.clone(),
                    status: v.status.to_string(),
                    hint: "stop it first or use rm -f",
                });
            }
            self.kill_for_removal(&v);
        }
        self.remove_view(&v, volumes)?;
        Ok(v.row.id.clone())
    }

    /// `rm -f` of a live container: its monitor is asked to kill it; a monitor that does not
    /// answer within [`MONITOR_GRACE`] (its container's setup hung, or it is stuck itself) is
    /// killed. The container's processes, by its recorded PID and cgroup, and its mounts go
    /// with [`Engine::remove_view`], which follows; this never fails and never waits without
    /// end.
    fn kill_for_removal(&self, v: &View) {
        let Some(m) = &v.monitor else {
            return;
        };
        let run_dir = self.paths.run_dir(&v.row.id);
        let req = StopRequest {
            signal: "KILL".into(),
            timeout: 0,
        };
        if records::write(&run_dir.join("stop.json"), &req).is_ok() {
            signal(m.pid, "USR1");
        }
        let until = |deadline: Instant| {
            while m.alive() && Instant::now() < deadline {
                m.wait_exit(deadline.saturating_duration_since(Instant::now()));
            }
        };
        until(Instant::now() + MONITOR_GRACE);
        if m.alive() {
            tracing::warn!(
                "container {}: its monitor did not answer within {} s; killing it",
                v.row.name,
                MONITOR_GRACE.as_secs()
            );
            signal(m.pid, "KILL");
            until(Instant::now() + Duration::from_secs(10));
        }
    }

    /// Removes the container and everything of it (`volumes`: its anonymous volumes too,
    /// unless another container uses them).
    pub(super) fn remove_view(&self, v: &View, volumes: bool) -> Result<()> {
        let id = &v.row.id;
        let _ = crate::engine::runtime::delete(&self.paths.runtime_root(), id, true);
        crate::engine::monitor::unmount_rootfs(&self.paths, id);
        self.release_ports(id);
        let eps = self.db.endpoints(Some(id), None)?;
        // Only a container on bridged networks has veths and a namespace of berth's.
        if !eps.is_empty() {
            self.teardown_network(id);
        }
        self.db.endpoint_remove(id, None)?;
        for ep in eps {
            if let Err(e) = self.refresh_dns(&ep.network) {
                tracing::warn!("updating the DNS records of {}: {e}", ep.network);
            }
        }
        let dir = self.paths.dir(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| ContainerError::io(&dir, e))?;
        }
        let _ = std::fs::remove_dir_all(self.paths.run_dir(id));
        if let Ok(images) = self.images() {
            let _ = images.release(id);
        }
        self.db.remove(id)?;
        if volumes {
            self.remove_anonymous_volumes(v);
        }
        Ok(())
    }
}
