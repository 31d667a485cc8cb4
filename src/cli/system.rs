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
}

pub fn run(global: &GlobalArgs, cmd: &SystemCommand) -> anyhow::Result<ExitCode> {
    match cmd {
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
