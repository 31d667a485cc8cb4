//! The command line: parse, call, print. Errors become `anyhow` here and nowhere else.

mod attach;
mod config;
mod container;
mod image;
mod network;
mod oci;
mod system;
mod volume;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

use crate::stack::{LoadOptions, Loaded};

/// berth: run compose stacks on berth's own daemonless container engine.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Stack file(s), merged in order; `-` reads standard input [env: COMPOSE_FILE]
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<String>,
    /// Project name [env: COMPOSE_PROJECT_NAME]
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Project directory (default: the directory of the first stack file)
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Environment file(s) to read instead of the project's .env
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Profile(s) to enable [env: COMPOSE_PROFILES]
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// State root of the engine
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth",
        value_name = "DIR"
    )]
    pub root: PathBuf,
    /// More output (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve and print the stack file in canonical form
    Config(config::ConfigArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// List images (`berth image ls`)
    Images(image::LsArgs),
    /// Remove images (`berth image rm`)
    Rmi(image::RmArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Create and start a container (`berth container run`)
    Run(container::RunArgs),
    /// List containers (`berth container ps`)
    Ps(container::PsArgs),
    /// Show a container's output (`berth container logs`)
    Logs(container::LogsArgs),
    /// Run a command in a running container (`berth container exec`)
    Exec(container::ExecArgs),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Boot-time restore and its systemd unit
    #[command(subcommand)]
    System(system::SystemCommand),
    /// OCI runtime (runc-compatible): run bundles
    Oci(oci::OciArgs),
    #[command(name = "__monitor", hide = true)]
    Monitor {
        root: std::path::PathBuf,
        id: String,
        report: Option<std::path::PathBuf>,
    },
    /// Print version information
    Version,
}

impl GlobalArgs {
    /// Load options for the stack front end from these flags and the process.
    pub fn load_options(&self, interpolate: bool) -> anyhow::Result<LoadOptions> {
        let mut opts = LoadOptions::from_process()?;
        opts.files = self.files.clone();
        opts.project_name = self.project_name.clone();
        opts.project_directory = self.project_directory.clone();
        opts.env_files = self.env_files.clone();
        opts.profiles = self.profiles.clone();
        opts.interpolate = interpolate;
        if opts.files.iter().any(|f| f == "-") {
            use std::io::Read;
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            opts.stdin = Some(text);
        }
        Ok(opts)
    }

    /// Loads the project and prints its warnings to stderr.
    pub fn load(&self, interpolate: bool) -> anyhow::Result<Loaded> {
        let opts = self.load_options(interpolate)?;
        let loaded = crate::stack::load(&opts)?;
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(loaded)
    }
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// `KEY=VALUE` flags (`--label`, `--sysctl`, `--opt`) into a map; a `--label` may be a bare
/// key (empty value).
pub(crate) fn key_values(
    items: &[String],
    flag: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if flag == "--label" && !kv.is_empty() => Ok((kv.clone(), String::new())),
            _ => anyhow::bail!("{flag} `{kv}`: use KEY=VALUE"),
        })
        .collect()
}

/// Entry point of the `berth` binary.
pub fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    crate::engine::internal::entry(&argv);
    let cli = Cli::parse_from(oci::runc_argv(argv));
    init_tracing(cli.global.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::from(1)
        }
    }
}

/// The engine changes mounts, namespaces and cgroups: it needs root.
pub(crate) fn require_root() -> anyhow::Result<()> {
    if !rustix::process::geteuid().is_root() {
        anyhow::bail!(
            "this command needs root: the engine mounts layers and creates namespaces and \
             cgroups (run it with sudo)"
        );
    }
    Ok(())
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message already
/// holds (many of our errors quote their source).
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Config(args) => config::run(&cli.global, &args),
        Command::Image(cmd) => image::run(&cli.global, &cmd),
        Command::Oci(cmd) => oci::run(&cli.global, &cmd),
        Command::Container(cmd) => container::run(&cli.global, &cmd),
        Command::System(cmd) => system::run(&cli.global, &cmd),
        Command::Volume(cmd) => volume::run(&cli.global, &cmd),
        Command::Network(cmd) => network::run(&cli.global, &cmd),
        Command::Run(args) => container::run(&cli.global, &container::ContainerCommand::Run(args)),
        Command::Ps(args) => container::run(&cli.global, &container::ContainerCommand::Ps(args)),
        Command::Logs(args) => {
            container::run(&cli.global, &container::ContainerCommand::Logs(args))
        }
        Command::Exec(args) => {
            container::run(&cli.global, &container::ContainerCommand::Exec(args))
        }
        Command::Monitor { root, id, report } => {
            crate::engine::monitor::main(&root, &id, report.as_deref(), false, None)
        }
        Command::Images(args) => image::run(&cli.global, &image::ImageCommand::Ls(args)),
        Command::Rmi(args) => image::run(&cli.global, &image::ImageCommand::Rm(args)),
        Command::Version => {
            println!("berth {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
