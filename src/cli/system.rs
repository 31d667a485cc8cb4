//! `berth system ...`: what runs at boot.

use std::process::ExitCode;

use clap::Subcommand;

use crate::engine::container::service::Engine;

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Start the containers whose restart policy asks for it (run once at boot)
    Restore,
    /// Print a systemd unit that runs `berth system restore` at boot
    Unit,
    /// What berth sees of this host: directories, cgroups, forwarding, firewall
    Info,
}

pub fn run(global: &GlobalArgs, cmd: &SystemCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SystemCommand::Info => {
            super::require_root()?;
            let e = Engine::open(&global.root)?;
            info(&e)?;
            Ok(ExitCode::SUCCESS)
        }
        SystemCommand::Unit => {
            let exe = std::env::current_exe()?;
            print!(
                "[Unit]\n\
                 Description=Restart berth containers (restart policy always/unless-stopped)\n\
                 After=local-fs.target network-online.target\n\
                 Wants=network-online.target\n\n\
                 [Service]\n\
                 Type=oneshot\n\
                 ExecStart={} --root {} system restore\n\
                 RemainAfterExit=yes\n\n\
                 [Install]\n\
                 WantedBy=multi-user.target\n",
                exe.display(),
                global.root.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        SystemCommand::Restore => {
            super::require_root()?;
            let e = Engine::open(&global.root)?;
            let mut failed = false;
            for (name, r) in e.restore()? {
                match r {
                    Ok(()) => println!("{name}"),
                    Err(err) => {
                        eprintln!("error: {name}: {err}");
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn info(e: &Engine) -> anyhow::Result<()> {
    use crate::engine::network::firewall;
    println!("state root:   {}", e.paths.root.display());
    println!("run dir:      {}", e.paths.run.display());
    let v2_only = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    println!(
        "cgroups:      {}",
        if v2_only {
            "v2 (unified)"
        } else {
            "v1 (or hybrid: v1 controllers, hugetlb on v2)"
        }
    );
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    let nets = e.networks().list()?;
    println!(
        "ip_forward:   {}{}",
        forward.trim(),
        if forward.trim() == "1" && nets.iter().any(|n| !n.internal) {
            " (berth turns it on when a network that is not --internal is made: containers route out through the host)"
        } else {
            ""
        }
    );
    println!(
        "networks:     {}",
        nets.iter()
            .map(|n| format!("{} ({}, {})", n.name, n.bridge, n.subnet))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let drops = firewall::foreign_forward_drops();
    if drops.is_empty() {
        println!(
            "firewall:     berth's table `ip {}`; no other table drops forwarded traffic",
            firewall::TABLE
        );
    } else {
        println!(
            "firewall:     berth's table `ip {}`; forward drops elsewhere:",
            firewall::TABLE
        );
        for d in &drops {
            println!("  {d}");
        }
        let bridges: Vec<String> = nets.iter().map(|n| n.bridge.clone()).collect();
        println!("{}", firewall::forward_drop_advice(&bridges));
    }
    Ok(())
}
