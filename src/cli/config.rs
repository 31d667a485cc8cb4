//! `berth config`: print the canonical model as `docker compose config` does.

use std::io::Write;
use std::process::ExitCode;

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: Format,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line
    #[arg(long = "profiles")]
    pub list_profiles: bool,
    /// Only validate; print nothing
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not interpolate variables
    #[arg(long)]
    pub no_interpolate: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

pub fn run(global: &GlobalArgs, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = global.load(!args.no_interpolate)?;
    let project = &loaded.project;
    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    if args.services || args.volumes || args.networks || args.list_profiles {
        let names: Vec<&String> = if args.services {
            project.services.keys().collect()
        } else if args.volumes {
            project.volumes.keys().collect()
        } else if args.networks {
            project.networks.keys().collect()
        } else {
            let mut all: Vec<&String> = project
                .services
                .values()
                .chain(project.disabled_services.values())
                .flat_map(|s| s.profiles.iter())
                .collect();
            all.sort();
            all.dedup();
            all
        };
        for name in names {
            writeln!(out, "{name}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    match args.format {
        Format::Yaml => out.write_all(crate::stack::yaml_out::to_string(project)?.as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, project)?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
