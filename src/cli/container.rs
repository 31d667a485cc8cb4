//! `berth container ...` (and the top-level `run`, `ps`, `logs`): Docker's flags and meaning.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::engine::container::config::{parse_duration, parse_size, Health, RestartPolicy};
use crate::engine::container::logs::{self, Entry, Follower};
use crate::engine::container::service::{CreateRequest, Engine};
use crate::engine::container::view::{self, View};

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a container (not started)
    Create(CreateArgs),
    /// Create and start a container (without -d: stream its output, exit with its code)
    Run(RunArgs),
    /// Start stopped containers
    Start(NamesArgs),
    /// Stop running containers (stop signal, then SIGKILL after the timeout)
    Stop(StopArgs),
    /// Stop and start containers
    Restart(StopArgs),
    /// Send a signal to running containers
    Kill(KillArgs),
    /// Remove containers
    Rm(RmArgs),
    /// List containers
    #[command(alias = "ls")]
    Ps(PsArgs),
    /// Show a container's output
    Logs(LogsArgs),
    /// Docker-shaped JSON of containers
    Inspect(NamesArgs),
    /// Wait for containers to stop; print their exit codes
    Wait(NamesArgs),
    /// Freeze every process of containers
    Pause(NamesArgs),
    /// Thaw paused containers
    Unpause(NamesArgs),
    /// The processes of a container
    Top(TopArgs),
    /// Resource use of containers (one sample)
    Stats(StatsArgs),
    /// Published ports of a container (none until bridged networks land)
    Port(TopArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Attach to a running container's input and output (Ctrl-P Ctrl-Q detaches)
    Attach(TopArgs),
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open (not available yet)
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a terminal (not available yet)
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One sample, then exit (default: a table about every second until interrupted)
    #[arg(long)]
    pub no_stream: bool,
    /// table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Assign a name
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (K=V, or K to take it from this environment)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// USER[:GROUP] (names or numbers)
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional groups
    #[arg(long)]
    pub group_add: Vec<String>,
    /// The container's hostname
    #[arg(long)]
    pub hostname: Option<String>,
    /// Override the image's entrypoint ("" resets it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Memory limit (e.g. 64m)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// CPUs (e.g. 0.5)
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Mount the root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    /// tmpfs mount: DST[:OPTIONS]
    #[arg(long)]
    pub tmpfs: Vec<String>,
    #[arg(long)]
    pub cap_add: Vec<String>,
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// All capabilities, all devices, no seccomp, no masked paths
    #[arg(long)]
    pub privileged: bool,
    /// Run a static init (tini) as PID 1 that reaps zombies and forwards signals
    #[arg(long)]
    pub init: bool,
    /// Namespaced kernel parameter K=V
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Size of /dev/shm (e.g. 64m)
    #[arg(long)]
    pub shm_size: Option<String>,
    /// HOST[:CONTAINER[:rwm]]
    #[arg(long)]
    pub device: Vec<String>,
    /// no-new-privileges, seccomp=unconfined|FILE
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// no, always, on-failure[:N], unless-stopped
    #[arg(long, default_value = "no")]
    pub restart: String,
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds between the stop signal and SIGKILL
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Health check command (run with /bin/sh -c)
    #[arg(long)]
    pub health_cmd: Option<String>,
    #[arg(long, default_value = "30s")]
    pub health_interval: String,
    #[arg(long, default_value = "3")]
    pub health_retries: u32,
    #[arg(long, default_value = "30s")]
    pub health_timeout: String,
    #[arg(long, default_value = "0s")]
    pub health_start_period: String,
    /// none or host (bridged networks are not available yet)
    #[arg(long, default_value = "none")]
    pub network: String,
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run in the background and print the container's ID
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL (default: the container's stop timeout)
    #[arg(short, long)]
    pub time: Option<u32>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill running containers first
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes too
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// IDs only
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json (one object per line)
    #[arg(long, default_value = "table")]
    pub format: String,
    /// label=K[=V], name=N, status=S, id=PREFIX
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Full IDs and commands
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the output until the container stops
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Since a time (RFC 3339) or a duration ago (10m)
    #[arg(long)]
    pub since: Option<String>,
    pub container: String,
}

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
    c.labels = pairs(&a.label, "--label")?;
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
    h.cap_add = a.cap_add.clone();
    h.cap_drop = a.cap_drop.clone();
    h.privileged = a.privileged;
    h.init = a.init;
    h.sysctls = pairs(&a.sysctl, "--sysctl")?;
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

fn pairs(items: &[String], flag: &str) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if flag == "--label" && !kv.is_empty() => Ok((kv.clone(), String::new())),
            _ => bail!("{flag} `{kv}`: use KEY=VALUE"),
        })
        .collect()
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
                match e.remove(c, a.force) {
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
                .map(|c| e.get(c).map(|v| view::inspect(&e.paths, &v)))
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
            let req = crate::engine::container::ops::ExecRequest {
                args: a.command.clone(),
                env: a.env.iter().map(|e| env_entry(e)).collect(),
                workdir: a.workdir.clone(),
                user: a.user.clone(),
                detach: a.detach,
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
            return Ok(ExitCode::from(wait_code(&e, &v.row.id)?.clamp(0, 255) as u8));
        }
        ContainerCommand::Port(a) => {
            // Validates the name; no container publishes ports before bridged networks exist.
            e.get(&a.container)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One table (or JSON lines) of `stats`.
fn stats_once(
    e: &Engine,
    names: &[String],
    format: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mib = |v: &serde_json::Value| {
        v.as_u64().map_or("-".to_string(), |b| {
            format!("{:.1}MiB", b as f64 / 1048576.0)
        })
    };
    if format == "table" {
        writeln!(
            out,
            "{:<14}{:<24}{:<10}{:<28}PIDS",
            "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT"
        )?;
    }
    for c in names {
        let s = e.stats(c)?;
        match format {
            "json" => writeln!(out, "{s}")?,
            _ => writeln!(
                out,
                "{:<14}{:<24}{:<10}{:<28}{}",
                s["ID"].as_str().unwrap_or_default(),
                s["Name"].as_str().unwrap_or_default(),
                s["CPUPerc"].as_str().unwrap_or_default(),
                format!("{} / {}", mib(&s["MemUsage"]), mib(&s["MemLimit"])),
                s["PIDs"]
            )?,
        }
    }
    Ok(())
}

fn run_container(e: &Engine, a: &RunArgs) -> anyhow::Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let v = e.create(&request(&a.create)?)?;
    let id = v.row.id.clone();
    tracing::debug!(elapsed = ?t0.elapsed(), "created");
    if (a.create.tty || a.create.interactive) && !a.detach {
        return run_attached(e, a, &id);
    }
    let started = e.start(&id);
    tracing::debug!(elapsed = ?t0.elapsed(), "started");
    if let Err(err) = started {
        if a.create.rm {
            let _ = e.remove(&id, true);
        }
        return Err(err.into());
    }
    if a.detach {
        println!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    // Stream the output from the start of the log until the monitor is done.
    let log = e.paths.log(&id);
    let mut follow = Follower::at_start(&log);
    // The monitor exits once the container is done for good (no restart to come).
    let monitor = e.peek(&id)?.monitor.and_then(|m| {
        let pid = rustix::process::Pid::from_raw(m.pid)?;
        let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
        m.alive().then_some(fd)
    });
    let code = loop {
        print_entries(&follow.poll(), false);
        let v = e.peek(&id)?;
        if v.monitor.is_none() && !v.is_running() {
            print_entries(&follow.poll(), false);
            tracing::debug!(elapsed = ?t0.elapsed(), "exited");
            break v.exit.map_or(0, |x| x.code);
        }
        use std::os::fd::AsFd;
        follow.wait_or(
            Duration::from_millis(100),
            monitor.as_ref().map(|f| f.as_fd()),
        );
    };
    if a.create.rm {
        e.remove(&id, true)?;
        tracing::debug!(elapsed = ?t0.elapsed(), "removed");
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The exit code once the container is done for good (its monitor gone).
fn wait_code(e: &Engine, id: &str) -> anyhow::Result<i32> {
    loop {
        let v = e.peek(id)?;
        if v.monitor.is_none() && !v.is_running() {
            return Ok(v.exit.map_or(0, |x| x.code));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `run -i`/`-t`: attached from before the start; exits with the container's code.
fn run_attached(e: &Engine, a: &RunArgs, id: &str) -> anyhow::Result<ExitCode> {
    let size = rustix::termios::tcgetwinsize(rustix::stdio::stdin())
        .ok()
        .filter(|_| a.create.tty)
        .map(|w| (w.ws_row, w.ws_col));
    let opts = crate::engine::container::service::StartOptions {
        attach: true,
        console_size: size,
    };
    let _raw = if a.create.tty {
        crate::engine::runtime::RawMode::enter()
    } else {
        None
    };
    let stream = match e.start_with(id, &opts) {
        Ok((_, Some(s))) => s,
        Ok((_, None)) => bail!("the container started without an attach stream"),
        Err(err) => {
            if a.create.rm {
                let _ = e.remove(id, true);
            }
            return Err(err.into());
        }
    };
    if super::attach::session(stream, a.create.tty, a.create.interactive)? {
        return Ok(ExitCode::SUCCESS);
    }
    let code = wait_code(e, id)?;
    if a.create.rm {
        e.remove(id, true)?;
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

fn print_entries(entries: &[Entry], timestamps: bool) {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for en in entries {
        let line = if timestamps {
            format!("{} {}", en.time, en.log)
        } else {
            en.log.clone()
        };
        let _ = if en.stream == "stderr" {
            err.write_all(line.as_bytes())
        } else {
            out.write_all(line.as_bytes())
        };
    }
    let _ = out.flush();
}

fn show_logs(e: &Engine, v: &View, a: &LogsArgs) -> anyhow::Result<()> {
    let path = e.log_path(v);
    let mut follow = Follower::at_end(&path);
    let mut entries = logs::read_all(&path);
    if let Some(since) = &a.since {
        let t = match chrono::DateTime::parse_from_rfc3339(since) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(_) => {
                let ns = parse_duration(since).map_err(anyhow::Error::msg)?;
                chrono::Utc::now() - chrono::TimeDelta::nanoseconds(ns as i64)
            }
        };
        entries.retain(|en| chrono::DateTime::parse_from_rfc3339(&en.time).is_ok_and(|x| x >= t));
    }
    if let Some(n) = a.tail.as_deref().filter(|n| *n != "all") {
        let n: usize = n
            .parse()
            .with_context(|| format!("--tail {n}: not a number"))?;
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    print_entries(&entries, a.timestamps);
    if a.follow {
        loop {
            print_entries(&follow.poll(), a.timestamps);
            let now = e.get(&v.row.id)?;
            if now.monitor.is_none() && !now.is_running() {
                print_entries(&follow.poll(), a.timestamps);
                return Ok(());
            }
            follow.wait(Duration::from_millis(250));
        }
    }
    Ok(())
}

fn matches_filter(v: &View, f: &str) -> anyhow::Result<bool> {
    let (k, val) = f
        .split_once('=')
        .with_context(|| format!("--filter `{f}`: use KEY=VALUE"))?;
    let labels = v
        .config
        .as_ref()
        .map(|c| c.labels.clone())
        .unwrap_or_default();
    Ok(match k {
        "label" => match val.split_once('=') {
            Some((lk, lv)) => labels.get(lk).is_some_and(|x| x == lv),
            None => labels.contains_key(val),
        },
        "name" => v.row.name.contains(val),
        "id" => v.row.id.starts_with(val),
        "status" => v.status == val,
        _ => bail!("--filter `{k}` is not supported (use label, name, id or status)"),
    })
}

fn ps(e: &Engine, a: &PsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let mut views = Vec::new();
    for v in e.list(a.all)? {
        for p in &v.problems {
            eprintln!("warning: container {} ({}): {p}", v.row.name, v.short_id());
        }
        let mut keep = true;
        for f in &a.filter {
            keep &= matches_filter(&v, f)?;
        }
        if keep {
            views.push(v);
        }
    }
    views.reverse(); // newest first, as Docker lists
    if a.quiet {
        for v in &views {
            writeln!(out, "{}", if a.no_trunc { &v.row.id } else { v.short_id() })?;
        }
        return Ok(());
    }
    let command = |v: &View| {
        let c = v.config.as_ref().map(|c| {
            c.entrypoint
                .iter()
                .chain(&c.cmd)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        });
        c.unwrap_or_else(|| "?".into())
    };
    match a.format.as_str() {
        "json" => {
            for v in &views {
                let j = serde_json::json!({
                    "ID": v.short_id(), "Image": v.row.image, "Command": command(v),
                    "CreatedAt": v.row.created, "State": v.status,
                    "Status": view::status_text(v), "Names": v.row.name, "Ports": "",
                    "Labels": v.config.as_ref().map(|c| c.labels.iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>().join(",")).unwrap_or_default(),
                });
                writeln!(out, "{j}")?;
            }
        }
        "table" => {
            writeln!(
                out,
                "{:<14}{:<20}{:<24}{:<26}{:<40}{:<8}NAMES",
                "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS"
            )?;
            for v in &views {
                let mut cmd = format!("\"{}\"", command(v));
                if !a.no_trunc && cmd.len() > 22 {
                    cmd = format!("{}…\"", &cmd[..20]);
                }
                let created = chrono::DateTime::parse_from_rfc3339(&v.row.created)
                    .map(|t| {
                        format!(
                            "{} ago",
                            view::human(chrono::Utc::now().signed_duration_since(t))
                        )
                    })
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<14}{:<20}{:<24}{:<26}{:<40}{:<8}{}",
                    v.short_id(),
                    v.row.image,
                    cmd,
                    created,
                    view::status_text(v),
                    "",
                    v.row.name
                )?;
            }
        }
        other => bail!("--format `{other}`: use table or json"),
    }
    Ok(())
}
