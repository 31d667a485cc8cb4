//! `berth container ...` (and the top-level `run`, `ps`, `logs`, `exec`): Docker's flags and
//! meaning. `args` holds the flags, `run` the commands that stream a container, `list` the
//! tables (`ps`, `stats`).

mod args;
mod list;
pub mod mounts;
mod run;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::engine::container::config::{parse_duration, parse_size, Health, RestartPolicy};
use crate::engine::container::service::{CreateRequest, Engine};
use crate::engine::container::view;

use super::GlobalArgs;

pub use args::*;
use list::{ps, stats_once};
use run::{run_container, show_logs};

fn engine(global: &GlobalArgs) -> anyhow::Result<Engine> {
    super::require_root()?;
    Ok(Engine::open(&global.root)?)
}

fn request(a: &CreateArgs) -> anyhow::Result<CreateRequest> {
    let mut req = CreateRequest {
        name: a.name.clone(),
        image: a.image.clone(),
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        ..Default::default()
    };
    let c = &mut req.config;
    c.cmd = a.command.clone();
    for f in &a.env_file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("--env-file {}", f.display()))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            c.env.push(env_entry(line));
        }
    }
    c.env.extend(a.env.iter().map(|e| env_entry(e)));
    req.entrypoint = a.entrypoint.as_ref().map(|e| {
        if e.is_empty() {
            Vec::new()
        } else {
            vec![e.clone()]
        }
    });
    c.group_add = a.group_add.clone();
    c.hostname = a.hostname.clone().unwrap_or_default();
    c.labels = super::key_values(&a.label, "--label")?;
    c.tty = a.tty;
    c.open_stdin = a.interactive;
    let h = &mut c.host;
    h.memory = a
        .memory
        .as_deref()
        .map(parse_size)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(0);
    h.nano_cpus = a.cpus.map_or(0, |c| (c * 1e9) as i64);
    h.pids_limit = a.pids_limit.unwrap_or(0);
    h.readonly_rootfs = a.read_only;
    for t in &a.tmpfs {
        let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
        h.tmpfs.insert(dst.to_string(), opts.to_string());
    }
    for v in &a.volume {
        h.mounts.push(mounts::volume_flag(v)?);
        h.binds.push(v.clone());
    }
    for m in &a.mount {
        h.mounts.push(mounts::mount_flag(m)?);
    }
    h.volumes_from = a.volumes_from.clone();
    h.cap_add = a.cap_add.clone();
    h.cap_drop = a.cap_drop.clone();
    h.privileged = a.privileged;
    h.init = a.init;
    h.sysctls = super::key_values(&a.sysctl, "--sysctl")?;
    h.shm_size = a
        .shm_size
        .as_deref()
        .map(parse_size)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(0);
    h.devices = a.device.clone();
    h.security_opt = a.security_opt.clone();
    h.restart_policy = RestartPolicy::parse(&a.restart).map_err(anyhow::Error::msg)?;
    if a.rm && h.restart_policy != RestartPolicy::No {
        bail!("--rm and --restart {} cannot be used together", a.restart);
    }
    h.auto_remove = a.rm;
    h.network_mode = a.network.clone();
    h.extra_hosts = a.add_host.clone();
    h.dns = a.dns.clone();
    h.links = a.link.clone();
    h.port_bindings = crate::engine::container::ports::parse_publish(&a.publish)?;
    h.publish_all_ports = a.publish_all;
    for e in crate::engine::container::ports::parse_expose(&a.expose)? {
        c.exposed_ports.insert(e, serde_json::json!({}));
    }
    if !a.network_alias.is_empty() || a.ip.is_some() {
        let bridged = crate::engine::container::network::is_bridged(&a.network);
        if !bridged {
            bail!(
                "--network-alias and --ip need a bridged network, not --network {}",
                a.network
            );
        }
        let key = if a.network.is_empty() {
            "berth0"
        } else {
            a.network.as_str()
        };
        c.networks.insert(
            key.to_string(),
            crate::engine::container::network::EndpointConfig {
                aliases: a.network_alias.clone(),
                ipv4_address: a.ip.clone().unwrap_or_default(),
            },
        );
    }
    if let Some(cmd) = &a.health_cmd {
        let d = |s: &str| parse_duration(s).map_err(anyhow::Error::msg);
        c.health = Some(Health {
            test: vec!["CMD-SHELL".into(), cmd.clone()],
            interval: d(&a.health_interval)?,
            timeout: d(&a.health_timeout)?,
            start_period: d(&a.health_start_period)?,
            retries: a.health_retries,
        });
    }
    Ok(req)
}

fn env_entry(e: &str) -> String {
    if e.contains('=') {
        e.to_string()
    } else {
        format!("{e}={}", std::env::var(e).unwrap_or_default())
    }
}

pub fn run(global: &GlobalArgs, cmd: &ContainerCommand) -> anyhow::Result<ExitCode> {
    let e = engine(global)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        ContainerCommand::Create(a) => {
            let v = e.create(&request(a)?)?;
            writeln!(out, "{}", v.row.id)?;
        }
        ContainerCommand::Run(a) => return run_container(&e, a),
        ContainerCommand::Start(a) => {
            for c in &a.containers {
                e.start(c)?;
                writeln!(out, "{c}")?;
            }
        }
        ContainerCommand::Stop(a) => {
            for c in &a.containers {
                e.stop(c, a.time)?;
                writeln!(out, "{c}")?;
            }
        }
        ContainerCommand::Restart(a) => {
            for c in &a.containers {
                e.stop(c, a.time)?;
                e.start(c)?;
                writeln!(out, "{c}")?;
            }
        }
        ContainerCommand::Kill(a) => {
            for c in &a.containers {
                e.kill(c, &a.signal)?;
                writeln!(out, "{c}")?;
            }
        }
        ContainerCommand::Rm(a) => {
            let mut failed = false;
            for c in &a.containers {
                match e.remove(c, a.force, a.volumes) {
                    Ok(_) => writeln!(out, "{c}")?,
                    Err(err) => {
                        eprintln!("error: {err}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::from(1));
            }
        }
        ContainerCommand::Ps(a) => ps(&e, a, &mut out)?,
        ContainerCommand::Logs(a) => {
            let v = e.get(&a.container)?;
            show_logs(&e, &v, a)?;
        }
        ContainerCommand::Inspect(a) => {
            let views: Vec<serde_json::Value> = a
                .containers
                .iter()
                .map(|c| {
                    e.get(c).map(|v| {
                        let mut j = view::inspect(&e.paths, &v);
                        j["NetworkSettings"] = e.network_settings(&v);
                        j
                    })
                })
                .collect::<Result<_, _>>()?;
            writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?;
        }
        ContainerCommand::Wait(a) => {
            for c in &a.containers {
                writeln!(out, "{}", e.wait(c)?)?;
            }
        }
        ContainerCommand::Pause(a) => {
            for c in &a.containers {
                e.pause(c)?;
                writeln!(out, "{c}")?;
            }
        }
        ContainerCommand::Unpause(a) => {
            for c in &a.containers {
                e.unpause(c)?;
                writeln!(out, "{c}")?;
            }
        }
        ContainerCommand::Top(a) => {
            writeln!(out, "{:<10}{:<8}CMD", "PID", "UID")?;
            for (pid, uid, cmd) in e.top(&a.container)? {
                writeln!(out, "{pid:<10}{uid:<8}{cmd}")?;
            }
        }
        ContainerCommand::Stats(a) => {
            let names: Vec<String> = if a.containers.is_empty() {
                e.list(false)?.into_iter().map(|v| v.row.id).collect()
            } else {
                a.containers.clone()
            };
            loop {
                stats_once(&e, &names, &a.format, &mut out)?;
                if a.no_stream {
                    break;
                }
                out.flush()?;
                // Each sample itself spans 100 ms; about one table a second, until interrupted.
                std::thread::sleep(Duration::from_millis(900));
            }
        }
        ContainerCommand::Exec(a) => {
            let size = rustix::termios::tcgetwinsize(rustix::stdio::stdin())
                .ok()
                .filter(|_| a.tty)
                .map(|w| (w.ws_row, w.ws_col));
            let req = crate::engine::container::exec::ExecRequest {
                args: a.command.clone(),
                env: a.env.iter().map(|e| env_entry(e)).collect(),
                workdir: a.workdir.clone(),
                user: a.user.clone(),
                detach: a.detach,
                interactive: a.interactive,
                tty: a.tty,
                size,
            };
            let code = e.exec(&a.container, &req)?;
            return Ok(ExitCode::from(code.clamp(0, 255) as u8));
        }
        ContainerCommand::Attach(a) => {
            let (v, stream) = e.attach(&a.container)?;
            let tty = v.config.as_ref().is_some_and(|c| c.tty);
            let stdin = v.config.as_ref().is_some_and(|c| c.open_stdin);
            drop(out);
            let _raw = if tty {
                crate::engine::runtime::RawMode::enter()
            } else {
                None
            };
            if super::attach::session(stream, tty, stdin)? {
                return Ok(ExitCode::SUCCESS);
            }
            return Ok(ExitCode::from(e.wait(&v.row.id)?.clamp(0, 255) as u8));
        }
        ContainerCommand::Port(a) => {
            let v = e.get(&a.container)?;
            for (key, bindings) in e.port_map(&v) {
                for (ip, port) in bindings {
                    writeln!(out, "{key} -> {ip}:{port}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
