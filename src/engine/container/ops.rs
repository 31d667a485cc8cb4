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

/// What `exec` runs.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub detach: bool,
    /// A pty (`-t`), of this size (rows, columns) when known.
    pub tty: bool,
    pub size: Option<(u16, u16)>,
}

impl Engine {
    /// The process `exec` runs: the container's own (user, capabilities, environment,
    /// limits) with the request's command, additions to the environment, directory and user.
    pub fn exec_process(&self, v: &View, req: &ExecRequest) -> Result<oci_spec::runtime::Process> {
        let bundle = self.paths.dir(&v.row.id).join("bundle/config.json");
        let spec = oci_spec::runtime::Spec::load(&bundle).map_err(|e| ContainerError::Failed {
            name: v.row.name.clone(),
            message: format!("{}: {e}", bundle.display()),
        })?;
        let mut p = spec.process().clone().unwrap_or_default();
        if req.args.is_empty() {
            return Err(ContainerError::Invalid("exec needs a command".into()));
        }
        p.set_args(Some(req.args.clone()));
        p.set_terminal(Some(req.tty));
        if let Some((rows, cols)) = req.size {
            let size: oci_spec::runtime::Box =
                serde_json::from_value(serde_json::json!({"height": rows, "width": cols}))
                    .expect("a console size");
            p.set_console_size(Some(size));
        }
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &req.env {
            let key = kv.split('=').next().unwrap_or(kv);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        p.set_env(Some(env));
        if let Some(w) = &req.workdir {
            p.set_cwd(w.into());
        }
        if let Some(u) = &req.user {
            let rootfs = self.paths.dir(&v.row.id).join("rootfs");
            let (uid, gid, extra) = super::spec::resolve_user(&rootfs, u, &[])?;
            let mut user = p.user().clone();
            user.set_uid(uid);
            user.set_gid(gid);
            user.set_additional_gids(Some(extra));
            p.set_user(user);
        }
        Ok(p)
    }

    /// `exec`: runs a command in a running container; its exit code (0 when detached).
    pub fn exec(&self, key: &str, req: &ExecRequest) -> Result<i32> {
        let v = self.get(key)?;
        if v.status != "running" {
            return Err(ContainerError::WrongState {
                name: v.row.name.clone(),
                status: v.status.to_string(),
                hint: "exec needs a running container",
            });
        }
        let p = self.exec_process(&v, req)?;
        let root = self.paths.runtime_root();
        if req.detach {
            runtime::exec_spawn(&root, &v.row.id, &p, runtime::Stdio::Null, None)?;
            return Ok(0);
        }
        if !req.tty {
            return Ok(runtime::exec(
                &root,
                &v.row.id,
                &p,
                runtime::Stdio::Inherit,
            )?);
        }
        // A terminal: the pty master comes back over a socket of ours; relay it.
        let run_dir = self.paths.run_dir(&v.row.id);
        let sock = run_dir.join(format!("exec-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&sock);
        let listener = runtime::unixsock::bind(&sock).map_err(|e| ContainerError::io(&sock, e))?;
        let child = runtime::exec_spawn(&root, &v.row.id, &p, runtime::Stdio::Inherit, Some(&sock));
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&sock);
                return Err(e.into());
            }
        };
        let master = wait_for_console(&listener, &mut child, &v.row.id);
        let _ = std::fs::remove_file(&sock);
        if let Some(master) = master {
            runtime::relay(master);
        }
        let status = child.wait().map_err(|e| ContainerError::io(&sock, e))?;
        use std::os::unix::process::ExitStatusExt;
        Ok(status
            .code()
            .or(status.signal().map(|s| 128 + s))
            .unwrap_or(1))
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

/// The pty master an exec with a terminal sends, unless the exec fails first.
fn wait_for_console(
    listener: &std::os::unix::net::UnixListener,
    child: &mut std::process::Child,
    id: &str,
) -> Option<std::os::fd::OwnedFd> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let mut fds = [rustix::event::PollFd::new(
            listener,
            rustix::event::PollFlags::IN,
        )];
        let ts = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        if rustix::event::poll(&mut fds, Some(&ts)).unwrap_or(0) > 0 {
            return runtime::take_console(listener, id).ok();
        }
        if !matches!(child.try_wait(), Ok(None)) {
            return None;
        }
    }
    None
}
