//! `berth oci ...`: an OCI runtime command line compatible with runc's.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::engine::runtime;

use super::GlobalArgs;

/// runc's global options, so a tool that drives runc can drive `berth oci` (through a
/// one-line wrapper script: `exec berth oci "$@"`).
#[derive(Debug, Args)]
pub struct OciArgs {
    /// The runtime's state directory (default: <berth --root>/runtime; `--root` when berth
    /// is called as `berth-runc`)
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Append errors to this file as well (runc's --log)
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// text or json (runc's --log-format)
    #[arg(long, default_value = "text")]
    pub log_format: String,
    /// Accepted for runc compatibility; berth manages cgroupfs directly
    #[arg(long, hide = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (use -v for more logging)
    #[arg(long, hide = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: OciCommand,
}

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
    Run(RunArgs),
    /// Freeze every process of a running container
    Pause(IdArgs),
    /// Thaw a paused container
    Resume(IdArgs),
    /// Print OOM kills as they happen and statistics every interval (JSON lines)
    Events(EventsArgs),
    /// List the containers (id, pid, status, bundle, created)
    #[command(alias = "ls")]
    List(ListArgs),
    #[command(name = "__init1", hide = true)]
    Init1 { dir: PathBuf },
    #[command(name = "__init2", hide = true)]
    Init2 { dir: PathBuf },
    #[command(name = "__exec1", hide = true)]
    Exec1 { dir: PathBuf },
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
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility (berth always gives a container a new session keyring
    /// only through its own namespaces)
    #[arg(long, hide = true)]
    pub no_new_keyring: bool,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container is started instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print the statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Seconds between statistics
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print the ids only
    #[arg(short, long)]
    pub quiet: bool,
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

pub fn run(global: &GlobalArgs, args: &OciArgs) -> anyhow::Result<ExitCode> {
    let result = dispatch(global, args);
    if let (Err(e), Some(log)) = (&result, &args.log) {
        // runc's callers (containerd, test suites) read errors from the log file.
        let msg = format!("{e:#}");
        let line = if args.log_format == "json" {
            serde_json::json!({"level": "error", "msg": msg, "time": chrono::Utc::now().to_rfc3339()})
                .to_string()
        } else {
            format!("error: {msg}")
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{line}");
        }
    }
    result
}

fn dispatch(global: &GlobalArgs, args: &OciArgs) -> anyhow::Result<ExitCode> {
    let root = args
        .state
        .clone()
        .unwrap_or_else(|| global.root.join("runtime"));
    let cmd = &args.command;
    match cmd {
        OciCommand::Init1 { dir } => runtime::init1(dir),
        OciCommand::Init2 { dir } => runtime::init2(dir),
        OciCommand::Exec1 { dir } => runtime::exec1(dir),
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
            let st = runtime::create(&root, &a.id, &a.bundle, create_options(a))?;
            if let Some(p) = &a.pid_file {
                std::fs::write(p, st.pid.to_string())?;
            }
        }
        OciCommand::Pause(a) => runtime::pause(&root, &a.id)?,
        OciCommand::Resume(a) => runtime::resume(&root, &a.id)?,
        OciCommand::Events(a) => {
            let mut out = std::io::stdout();
            let interval = std::time::Duration::from_secs(a.interval.max(1));
            runtime::events(&root, &a.id, a.stats, interval, |event| {
                writeln!(out, "{event}").and_then(|_| out.flush()).is_ok()
            })?;
        }
        OciCommand::List(a) => list(&root, a)?,
        OciCommand::Start(a) => runtime::start(&root, &a.id)?,
        OciCommand::State(a) => {
            let v = runtime::state_json(&root, &a.id)?;
            writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&v)?)?;
        }
        OciCommand::Kill(a) => runtime::kill(&root, &a.id, &a.signal)?,
        OciCommand::Delete(a) => runtime::delete(&root, &a.id, a.force)?,
        OciCommand::Run(a) => {
            let c = &a.create;
            let outcome = runtime::run(&root, &c.id, &c.bundle, create_options(c), a.detach)?;
            if outcome.oom_killed {
                eprintln!("berth: container `{}` ran out of memory (OOM-killed)", c.id);
            }
            return Ok(ExitCode::from(outcome.code.clamp(0, 255) as u8));
        }
        OciCommand::Spec(_)
        | OciCommand::Init1 { .. }
        | OciCommand::Init2 { .. }
        | OciCommand::Exec1 { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Called as `berth-runc` (a symlink to berth), the command line is runc's:
/// `berth-runc [--root DIR] [--log F] ... COMMAND` becomes
/// `berth oci [--state-dir DIR] [--log F] ... COMMAND`.
pub fn runc_argv(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let called_as_runc = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "berth-runc");
    if !called_as_runc {
        return argv;
    }
    for a in argv.iter_mut().skip(1) {
        if a == "--root" {
            *a = "--state-dir".into();
        } else if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--root=")) {
            *a = format!("--state-dir={v}").into();
        }
    }
    argv.insert(1, "oci".into());
    argv
}

fn create_options(a: &CreateArgs) -> runtime::CreateOptions {
    runtime::CreateOptions {
        stdio: runtime::Stdio::Inherit,
        console_socket: a.console_socket.clone(),
    }
}

fn list(root: &std::path::Path, a: &ListArgs) -> anyhow::Result<()> {
    let all = runtime::list(root);
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for c in &all {
            writeln!(out, "{}", c["id"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    match a.format.as_str() {
        "json" => writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?,
        "table" => {
            writeln!(
                out,
                "{:<24} {:<8} {:<9} {:<40} CREATED",
                "ID", "PID", "STATUS", "BUNDLE"
            )?;
            for c in &all {
                writeln!(
                    out,
                    "{:<24} {:<8} {:<9} {:<40} {}",
                    c["id"].as_str().unwrap_or_default(),
                    c["pid"].as_i64().unwrap_or(0),
                    c["status"].as_str().unwrap_or_default(),
                    c["bundle"].as_str().unwrap_or_default(),
                    c["created"].as_str().unwrap_or_default(),
                )?;
            }
        }
        other => anyhow::bail!("--format `{other}`: use table or json"),
    }
    Ok(())
}
