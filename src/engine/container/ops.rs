//! Operations on a running container: pause and unpause (the freezer), its processes (`top`),
//! and its resource use (`stats`).

use std::time::Duration;

use serde_json::{json, Value};

use super::service::Engine;
use super::view::View;
use super::{ContainerError, Result};
use crate::engine::runtime;

impl Engine {
    fn running(&self, key: &str, action: &'static str) -> Result<View> {
        let v = self.get(key)?;
        if !matches!(v.status, "running" | "paused") {
            return Err(ContainerError::WrongState {
                name: v.row.name.clone(),
                status: v.status.to_string(),
                hint: action,
            });
        }
        Ok(v)
    }

    /// `pause`: freezes every process of the container.
    pub fn pause(&self, key: &str) -> Result<()> {
        let v = self.running(key, "pause needs a running container")?;
        Ok(runtime::pause(&self.paths.runtime_root(), &v.row.id)?)
    }

    /// `unpause`.
    pub fn unpause(&self, key: &str) -> Result<()> {
        let v = self.running(key, "unpause needs a paused container")?;
        Ok(runtime::resume(&self.paths.runtime_root(), &v.row.id)?)
    }

    /// `top`: (PID, UID, command line) of each process in the container.
    pub fn top(&self, key: &str) -> Result<Vec<(i32, u32, String)>> {
        let v = self.running(key, "top needs a running container")?;
        let mut out = Vec::new();
        for pid in runtime::processes(&self.paths.runtime_root(), &v.row.id) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .trim()
                .to_string();
            let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Uid:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                })
                .unwrap_or(0);
            out.push((pid, uid, cmd));
        }
        Ok(out)
    }

    /// `stats --no-stream`: CPU % over a short sample, memory use and limit, PIDs.
    pub fn stats(&self, key: &str) -> Result<Value> {
        let v = self.running(key, "stats needs a running container")?;
        let root = self.paths.runtime_root();
        let sample = || {
            let mut data = Value::Null;
            let _ = runtime::events(&root, &v.row.id, true, Duration::ZERO, |e| {
                data = e["data"].clone();
                true
            });
            data
        };
        let first = sample();
        let t = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(100));
        let second = sample();
        let cpu_ns = |d: &Value| d["cpu"]["usage_ns"].as_u64().unwrap_or(0);
        let cpu = (cpu_ns(&second).saturating_sub(cpu_ns(&first))) as f64
            / t.elapsed().as_nanos() as f64
            * 100.0;
        Ok(json!({
            "ID": v.short_id(),
            "Name": v.row.name,
            "CPUPerc": format!("{cpu:.2}%"),
            "MemUsage": second["memory"]["usage"],
            "MemLimit": second["memory"]["limit"],
            "PIDs": second["pids"]["current"],
        }))
    }
}

impl Engine {
    /// After a boot: starts the containers whose restart policy says so (`always`, and
    /// `unless-stopped` unless someone stopped it). Returns (name, outcome) per container tried.
    pub fn restore(&self) -> Result<Vec<(String, std::result::Result<(), String>)>> {
        use super::config::RestartPolicy;
        let mut out = Vec::new();
        for v in self.list(true)? {
            let Some(cfg) = &v.config else { continue };
            let wanted = match cfg.host.restart_policy {
                RestartPolicy::Always => true,
                RestartPolicy::UnlessStopped => !v.exit.as_ref().is_some_and(|e| e.stopped),
                _ => false,
            };
            if !wanted || v.is_running() {
                continue;
            }
            let r = self.start(&v.row.id).map(|_| ()).map_err(|e| e.to_string());
            out.push((v.row.name.clone(), r));
        }
        Ok(out)
    }
}
