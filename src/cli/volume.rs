//! `berth volume ...`: named and anonymous volumes (Docker's flags and output).

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};

use super::GlobalArgs;
use crate::engine::container::service::Engine;
use crate::engine::container::volumes::VolumeUse;

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume (the local driver: a directory, a bind of a host directory, or tmpfs)
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes in detail (Docker-shaped JSON)
    Inspect(NamesArgs),
    /// Remove volumes; one in use is refused (`-f`: unless a running container uses it)
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused anonymous volumes (`-a`: every unused volume)
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Volume driver (only `local`)
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    #[arg(long)]
    pub label: Vec<String>,
    /// Driver option: type=none,o=bind,device=/path or type=tmpfs,o=size=64m
    #[arg(short, long = "opt")]
    pub opt: Vec<String>,
    /// A name (a random one when left out)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Names only
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json (one object per line)
    #[arg(long, default_value = "table")]
    pub format: String,
    /// dangling=true|false, label=K[=V], name=SUBSTRING
    #[arg(short, long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove a volume that stopped containers use
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Every unused volume, named ones too
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask (berth never asks; accepted for Docker's command lines)
    #[arg(short, long)]
    pub force: bool,
}

fn matches(u: &VolumeUse, filters: &[String]) -> anyhow::Result<bool> {
    for f in filters {
        let ok = match f.split_once('=') {
            Some(("dangling", v)) => u.users.is_empty() == matches!(v, "true" | "1"),
            Some(("name", n)) => u.volume.name.contains(n),
            Some(("label", l)) => match l.split_once('=') {
                Some((k, v)) => u.volume.labels.get(k).is_some_and(|x| x == v),
                None => u.volume.labels.contains_key(l),
            },
            _ => bail!("--filter {f}: use dangling=true|false, label=K[=V] or name=N"),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn run(global: &GlobalArgs, cmd: &VolumeCommand) -> anyhow::Result<ExitCode> {
    super::require_root()?;
    let e = Engine::open(&global.root)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        VolumeCommand::Create(a) => {
            if a.driver != "local" {
                bail!(
                    "volume driver `{}`: berth has only the local driver",
                    a.driver
                );
            }
            let v = e.volumes().create(
                a.name.as_deref(),
                &super::key_values(&a.label, "--label")?,
                &super::key_values(&a.opt, "--opt")?,
                false,
            )?;
            writeln!(out, "{}", v.name)?;
        }
        VolumeCommand::Ls(a) => {
            let mut uses = Vec::new();
            for u in e.volume_uses()? {
                if matches(&u, &a.filter)? {
                    uses.push(u);
                }
            }
            if a.quiet {
                for u in &uses {
                    writeln!(out, "{}", u.volume.name)?;
                }
            } else if a.format == "json" {
                for u in &uses {
                    let labels: Vec<String> = u
                        .volume
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let line = serde_json::json!({
                        "Driver": "local",
                        "Name": u.volume.name,
                        "Mountpoint": u.volume.mountpoint,
                        "Labels": labels.join(","),
                        "Scope": "local",
                        "Links": u.users.len().to_string(),
                    });
                    writeln!(out, "{line}")?;
                }
            } else {
                writeln!(out, "{:<10}VOLUME NAME", "DRIVER")?;
                for u in &uses {
                    writeln!(out, "{:<10}{}", "local", u.volume.name)?;
                }
            }
        }
        VolumeCommand::Inspect(a) => {
            let mut all = Vec::new();
            let mut missing = false;
            for n in &a.names {
                match e.volumes().get(n) {
                    Ok(v) => all.push(v.inspect()),
                    Err(err) => {
                        eprintln!("Error: {err}");
                        missing = true;
                    }
                }
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
            if missing {
                return Ok(ExitCode::FAILURE);
            }
        }
        VolumeCommand::Rm(a) => {
            let mut failed = false;
            for n in &a.names {
                match e.volume_remove(n, a.force) {
                    Ok(()) => writeln!(out, "{n}")?,
                    Err(err) => {
                        eprintln!("Error: {err}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        VolumeCommand::Prune(a) => {
            let removed = e.volume_prune(a.all)?;
            if !removed.is_empty() {
                writeln!(out, "Deleted Volumes:")?;
                for n in &removed {
                    writeln!(out, "{n}")?;
                }
            }
            writeln!(out, "Total: {} volume(s) removed", removed.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
