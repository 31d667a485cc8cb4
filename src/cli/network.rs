//! `berth network ...`: bridged networks (Docker's flags and output).

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};

use super::GlobalArgs;
use crate::engine::container::service::Engine;
use crate::engine::network::CreateNetwork;

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a bridged network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks in detail (Docker-shaped JSON)
    Inspect(NamesArgs),
    /// Remove networks (refused while containers are connected)
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove the networks no container uses
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Another name for the container on this network
    #[arg(long)]
    pub alias: Vec<String>,
    /// A static IPv4 address
    #[arg(long)]
    pub ip: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Accepted for Docker's command lines
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver (only `bridge`)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// CIDR, e.g. 172.30.0.0/24 (default: the next free one from the address pools)
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway address (default: the subnet's first)
    #[arg(long)]
    pub gateway: Option<String>,
    /// No route out of the network
    #[arg(long)]
    pub internal: bool,
    #[arg(long)]
    pub label: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Names only
    #[arg(short, long)]
    pub quiet: bool,
    /// table or json (one object per line)
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask (berth never asks; accepted for Docker's command lines)
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(global: &GlobalArgs, cmd: &NetworkCommand) -> anyhow::Result<ExitCode> {
    super::require_root()?;
    let e = Engine::open(&global.root)?;
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    match cmd {
        NetworkCommand::Create(a) => {
            if a.driver != "bridge" {
                bail!(
                    "network driver `{}`: berth has only the bridge driver",
                    a.driver
                );
            }
            let labels = super::key_values(&a.label, "--label")?;
            let n = e.networks().create(&CreateNetwork {
                name: a.name.clone(),
                subnet: a.subnet.clone(),
                gateway: a.gateway.clone(),
                internal: a.internal,
                labels,
            })?;
            writeln!(out, "{}", n.id)?;
            if !a.internal && !crate::engine::network::firewall::foreign_forward_drops().is_empty()
            {
                eprintln!(
                    "warning: {}",
                    crate::engine::network::firewall::forward_drop_advice(std::slice::from_ref(
                        &n.bridge
                    ))
                );
            }
        }
        NetworkCommand::Ls(a) => {
            let nets = e.networks().list()?;
            if a.quiet {
                for n in &nets {
                    writeln!(out, "{}", n.name)?;
                }
            } else if a.format == "json" {
                for n in &nets {
                    let line = serde_json::json!({"ID": &n.id[..12], "Name": n.name,
                        "Driver": "bridge", "Scope": "local", "Subnet": n.subnet.to_string(),
                        "Internal": n.internal.to_string()});
                    writeln!(out, "{line}")?;
                }
            } else {
                writeln!(
                    out,
                    "{:<14}{:<24}{:<10}{:<20}SCOPE",
                    "NETWORK ID", "NAME", "DRIVER", "SUBNET"
                )?;
                for n in &nets {
                    writeln!(
                        out,
                        "{:<14}{:<24}{:<10}{:<20}local",
                        &n.id[..12],
                        n.name,
                        "bridge",
                        n.subnet.to_string()
                    )?;
                }
            }
        }
        NetworkCommand::Inspect(a) => {
            let mut all = Vec::new();
            for n in &a.names {
                match e.network_inspect(n) {
                    Ok(v) => all.push(v),
                    Err(err) => {
                        eprintln!("Error: {err}");
                        failed = true;
                    }
                }
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        }
        NetworkCommand::Rm(a) => {
            for n in &a.names {
                match e.network_remove(n) {
                    Ok(name) => writeln!(out, "{name}")?,
                    Err(err) => {
                        eprintln!("Error: {err}");
                        failed = true;
                    }
                }
            }
        }
        NetworkCommand::Connect(a) => {
            let settings = crate::engine::container::network::EndpointConfig {
                aliases: a.alias.clone(),
                ipv4_address: a.ip.clone().unwrap_or_default(),
            };
            e.network_connect(&a.network, &a.container, &settings)?;
        }
        NetworkCommand::Disconnect(a) => {
            e.network_disconnect(&a.network, &a.container)?;
        }
        NetworkCommand::Prune(_) => {
            let removed = e.network_prune()?;
            if !removed.is_empty() {
                writeln!(out, "Deleted Networks:")?;
                for n in &removed {
                    writeln!(out, "{n}")?;
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
