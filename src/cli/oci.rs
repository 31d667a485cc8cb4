//! `berth oci ...`: an OCI runtime command line compatible with runc's.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::engine::runtime;

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// Print a default config.json (Docker's defaults)
    Spec(SpecArgs),
    /// Create a container from a bundle; its process waits for `start`
    Create(CreateArgs),
    /// Start a created container
    Start(IdArgs),
    /// Print a container's state (OCI state JSON)
    State(IdArgs),
    /// Send a signal to a container's process (default TERM)
    Kill(KillArgs),
    /// Delete a stopped container (--force: kill it first)
    Delete(DeleteArgs),
    /// Create, start and wait: exits with the container's exit code
    Run(CreateArgs),
    #[command(name = "__init1", hide = true)]
    Init1 { dir: PathBuf },
    #[command(name = "__init2", hide = true)]
    Init2 { dir: PathBuf },
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Directory to write config.json into (default: print it)
    #[arg(short, long)]
    pub bundle: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The bundle directory (config.json and the root filesystem)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container process's PID here
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    pub id: String,
    /// Signal name or number
    #[arg(default_value = "TERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

pub fn run(global: &GlobalArgs, cmd: &OciCommand) -> anyhow::Result<ExitCode> {
    let root = global.root.join("runtime");
    match cmd {
        OciCommand::Init1 { dir } => runtime::init1(dir),
        OciCommand::Init2 { dir } => runtime::init2(dir),
        OciCommand::Spec(a) => {
            let text = serde_json::to_string_pretty(&runtime::spec::default_spec())?;
            match &a.bundle {
                Some(d) => std::fs::write(d.join("config.json"), text + "\n")?,
                None => println!("{text}"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    super::require_root()?;
    match cmd {
        OciCommand::Create(a) => {
            let st = runtime::create(&root, &a.id, &a.bundle, runtime::Stdio::Inherit)?;
            if let Some(p) = &a.pid_file {
                std::fs::write(p, st.pid.to_string())?;
            }
        }
        OciCommand::Start(a) => runtime::start(&root, &a.id)?,
        OciCommand::State(a) => {
            let v = runtime::state_json(&root, &a.id)?;
            writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&v)?)?;
        }
        OciCommand::Kill(a) => runtime::kill(&root, &a.id, &a.signal)?,
        OciCommand::Delete(a) => runtime::delete(&root, &a.id, a.force)?,
        OciCommand::Run(a) => {
            let code = runtime::run(&root, &a.id, &a.bundle, runtime::Stdio::Inherit)?;
            return Ok(ExitCode::from(code.clamp(0, 255) as u8));
        }
        OciCommand::Spec(_) | OciCommand::Init1 { .. } | OciCommand::Init2 { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}
