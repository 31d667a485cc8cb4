//! What a container is doing now: the database row plus the monitor's records, folded into
//! one observed state (created, running, paused, restarting, exited), and Docker-shaped
//! `inspect` output.

use serde_json::{json, Value};

use super::config::ContainerConfig;
use super::records::{self, Exit, ProcessId, Running};
use super::Paths;
use crate::engine::state::ContainerRow;

/// A container as commands see it.
#[derive(Debug, Clone)]
pub struct View {
    pub row: ContainerRow,
    /// `None` when the stored settings cannot be read (the row is still listed and removable).
    pub config: Option<ContainerConfig>,
    pub config_error: Option<String>,
    pub status: &'static str,
    pub pid: i32,
    pub running: Option<Running>,
    pub exit: Option<Exit>,
    pub monitor: Option<ProcessId>,
    /// Running, but its monitor is gone.
    pub unsupervised: bool,
    /// The health check's state, for containers that have one and run.
    pub health: Option<Value>,
    /// Records that could not be read (named, skipped; `rm -f` still works).
    pub problems: Vec<String>,
}

impl View {
    pub fn is_running(&self) -> bool {
        matches!(self.status, "running" | "paused" | "restarting")
    }

    pub fn short_id(&self) -> &str {
        &self.row.id[..12]
    }
}

/// Observes a container: reads its records and decides its state.
pub fn observe(paths: &Paths, row: ContainerRow) -> View {
    let (config, config_error) = match serde_json::from_str::<ContainerConfig>(&row.config) {
        Ok(c) => (Some(c), None),
        Err(e) => (
            None,
            Some(format!("its stored settings are unreadable: {e}")),
        ),
    };
    let run_dir = paths.run_dir(&row.id);
    let monitor = records::read::<ProcessId>(&run_dir.join("monitor.pid")).filter(|p| p.alive());
    let running =
        records::read::<Running>(&run_dir.join("running.json")).filter(|r| r.process.alive());
    let mut problems: Vec<String> = config_error.iter().cloned().collect();
    let exit =
        records::read_checked::<Exit>(&paths.dir(&row.id).join("exit.json")).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
    let mut status = "created";
    let mut pid = 0;
    if let Some(r) = &running {
        pid = r.process.pid;
        let paused = crate::engine::runtime::state_json(&paths.runtime_root(), &row.id)
            .is_ok_and(|s| s["status"] == "paused");
        status = if paused { "paused" } else { "running" };
    } else if monitor.is_some() {
        status = if exit.as_ref().is_some_and(|e| e.restarting) {
            "restarting"
        } else {
            "running"
        };
    } else if exit.is_some() {
        status = "exited";
    }
    let unsupervised = running.is_some() && monitor.is_none();
    let health = running
        .as_ref()
        .and_then(|_| records::read::<Value>(&run_dir.join("health.json")));
    View {
        row,
        config,
        config_error,
        status,
        pid,
        running,
        exit,
        monitor,
        unsupervised,
        health,
        problems,
    }
}

/// `Up 3 minutes`, `Exited (0) 2 seconds ago`: Docker's STATUS column.
pub fn status_text(v: &View) -> String {
    let ago = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| human(chrono::Utc::now().signed_duration_since(t)))
            .unwrap_or_default()
    };
    match v.status {
        "running" | "paused" => {
            let since = v
                .running
                .as_ref()
                .map(|r| r.started_at.as_str())
                .unwrap_or("");
            let mut s = format!("Up {}", ago(since));
            if let Some(h) = v.health.as_ref().and_then(|h| h["Status"].as_str()) {
                s.push_str(&format!(
                    " ({})",
                    if h == "starting" {
                        "health: starting"
                    } else {
                        h
                    }
                ));
            }
            if v.status == "paused" {
                s.push_str(" (Paused)");
            }
            if v.unsupervised {
                s.push_str(" (unsupervised)");
            }
            s
        }
        "restarting" => format!(
            "Restarting ({}) {} ago",
            v.exit.as_ref().map_or(0, |e| e.code),
            v.exit
                .as_ref()
                .map(|e| ago(&e.finished_at))
                .unwrap_or_default()
        ),
        "exited" => {
            let e = v.exit.as_ref().expect("exited has an exit record");
            format!("Exited ({}) {} ago", e.code, ago(&e.finished_at))
        }
        _ => "Created".to_string(),
    }
}

/// Docker's "3 minutes", "About an hour", "2 days".
pub fn human(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

/// `docker inspect`-shaped JSON.
pub fn inspect(paths: &Paths, v: &View) -> Value {
    let cfg = v.config.clone().unwrap_or_default();
    let exit = v.exit.clone();
    let zero = "0001-01-01T00:00:00Z".to_string();
    let started_at = v
        .running
        .as_ref()
        .map(|r| r.started_at.clone())
        .or_else(|| exit.as_ref().map(|e| e.started_at.clone()))
        .unwrap_or_else(|| zero.clone());
    let health = cfg.health.as_ref().map(|_| {
        v.health
            .clone()
            .unwrap_or_else(|| json!({"Status": "starting", "FailingStreak": 0, "Log": []}))
    });
    let mut mounts: Vec<Value> = cfg
        .mount_points
        .iter()
        .map(|p| {
            let data =
                (p.typ == "volume").then(|| paths.root.join("volumes").join(&p.name).join("_data"));
            super::mounts::inspect_entry(p, data)
        })
        .collect();
    for (dest, opts) in &cfg.host.tmpfs {
        mounts.push(
            json!({"Type": "tmpfs", "Source": "", "Destination": dest, "Mode": opts, "RW": true}),
        );
    }
    json!({
        "Id": v.row.id,
        "Created": v.row.created,
        "Path": cfg.entrypoint.first().or(cfg.cmd.first()).cloned().unwrap_or_default(),
        "Args": cfg.entrypoint.iter().chain(&cfg.cmd).skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": v.status,
            "Running": matches!(v.status, "running" | "paused"),
            "Paused": v.status == "paused",
            "Restarting": v.status == "restarting",
            "OOMKilled": exit.as_ref().is_some_and(|e| e.oom_killed),
            "Dead": false,
            "Pid": v.pid,
            "ExitCode": exit.as_ref().map_or(0, |e| e.code),
            "Error": exit.as_ref().map(|e| e.error.clone()).or(v.config_error.clone())
                .unwrap_or_else(|| if v.unsupervised { "the container's monitor exited".into() } else { String::new() }),
            "StartedAt": started_at,
            "FinishedAt": exit.as_ref().map(|e| e.finished_at.clone()).unwrap_or(zero),
            "Health": health,
        },
        "Image": cfg.image_id,
        "LogPath": paths.log(&v.row.id),
        "Name": format!("/{}", v.row.name),
        "RestartCount": v.running.as_ref().map(|r| r.restart_count)
            .or(exit.as_ref().map(|e| e.restart_count)).unwrap_or(0),
        "Driver": "overlay2",
        "HostConfig": {
            "Memory": cfg.host.memory,
            "NanoCpus": cfg.host.nano_cpus,
            "PidsLimit": cfg.host.pids_limit,
            "ReadonlyRootfs": cfg.host.readonly_rootfs,
            "Tmpfs": cfg.host.tmpfs,
            "Binds": cfg.host.binds,
            "Mounts": cfg.host.mounts,
            "VolumesFrom": cfg.host.volumes_from,
            "CapAdd": cfg.host.cap_add,
            "CapDrop": cfg.host.cap_drop,
            "Privileged": cfg.host.privileged,
            "Init": cfg.host.init,
            "Sysctls": cfg.host.sysctls,
            "ShmSize": if cfg.host.shm_size > 0 { cfg.host.shm_size } else { 64 << 20 },
            "SecurityOpt": cfg.host.security_opt,
            "RestartPolicy": cfg.host.restart_policy,
            "AutoRemove": cfg.host.auto_remove,
            "NetworkMode": cfg.host.network_mode,
        },
        "Mounts": mounts,
        "Config": {
            "Hostname": if cfg.hostname.is_empty() { v.row.id[..12].to_string() } else { cfg.hostname.clone() },
            "User": cfg.user,
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "Env": cfg.env,
            "Cmd": cfg.cmd,
            "Entrypoint": if cfg.entrypoint.is_empty() { Value::Null } else { json!(cfg.entrypoint) },
            "Image": cfg.image,
            "WorkingDir": cfg.working_dir,
            "Labels": cfg.labels,
            "StopSignal": cfg.stop_signal,
            "StopTimeout": cfg.stop_timeout,
            "Healthcheck": cfg.health,
            "ExposedPorts": cfg.exposed_ports,
            "Volumes": cfg.volumes,
        },
        "NetworkSettings": {
            "Networks": {},
            "Ports": {},
            "IPAddress": "",
        },
    })
}
