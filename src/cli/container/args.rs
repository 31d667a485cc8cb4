//! The flags of `berth container ...`, Docker's.

use std::path::PathBuf;

use clap::{Args, Subcommand};

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
    /// Pass stdin to the command (without it the command reads nothing)
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the command a terminal of the container's (its input only with -i)
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
    /// Bind or volume: SRC:DST[:ro|rw|nocopy|PROPAGATION], or DST for an anonymous volume
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// type=bind|volume|tmpfs,source=..,target=..[,readonly][,...] (Docker's --mount)
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount another container's volumes: CONTAINER[:ro|rw]
    #[arg(long)]
    pub volumes_from: Vec<String>,
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
    /// A network's name (default: berth0), none, host, or container:NAME
    #[arg(long, visible_alias = "net", default_value = "")]
    pub network: String,
    /// Another name for the container on its network
    #[arg(long, visible_alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// A static IPv4 address on the network
    #[arg(long)]
    pub ip: Option<String>,
    /// NAME:IP in /etc/hosts (IP may be host-gateway)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// A DNS server for the container
    #[arg(long)]
    pub dns: Vec<String>,
    /// Another container under an alias, for this one: NAME[:ALIAS]
    #[arg(long)]
    pub link: Vec<String>,
    /// Publish a port: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp] (ranges too)
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every exposed port on a random host port
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port (or a range) without publishing it: PORT[/tcp|udp]
    #[arg(long)]
    pub expose: Vec<String>,
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
