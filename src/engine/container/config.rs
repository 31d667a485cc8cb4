//! A container's settings, as the engine stores them (JSON in the database): what the user
//! asked for merged with the image's defaults, Docker's way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Restart policy (`--restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "Name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    OnFailure {
        /// 0 = no limit.
        #[serde(rename = "MaximumRetryCount")]
        max_retries: u32,
    },
    UnlessStopped,
}

impl RestartPolicy {
    /// `no`, `always`, `on-failure[:N]`, `unless-stopped`.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        Ok(match s.split_once(':') {
            None if s == "no" => RestartPolicy::No,
            None if s == "always" => RestartPolicy::Always,
            None if s == "unless-stopped" => RestartPolicy::UnlessStopped,
            None if s == "on-failure" => RestartPolicy::OnFailure { max_retries: 0 },
            Some(("on-failure", n)) => RestartPolicy::OnFailure {
                max_retries: n
                    .parse()
                    .map_err(|_| format!("--restart {s}: `{n}` is not a retry count"))?,
            },
            _ => {
                return Err(format!(
                    "--restart `{s}`: use no, always, on-failure[:N] or unless-stopped"
                ))
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure { .. } => "on-failure",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }
}

/// A health check (`--health-*` or the image's Healthcheck).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    /// Nanoseconds, as Docker stores them; 0 (or absent, as images leave it when a
    /// Dockerfile's HEALTHCHECK does not set it): Docker's default.
    #[serde(default)]
    pub interval: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub start_period: u64,
    #[serde(default)]
    pub retries: u32,
}

/// Everything a container was created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub image: String,
    pub image_id: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub group_add: Vec<String>,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    /// Seconds; Docker's default is 10.
    pub stop_timeout: u32,
    pub tty: bool,
    pub open_stdin: bool,
    pub health: Option<Health>,
    /// From the image (used once networks and volumes land): `{"80/tcp": {}}`.
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// The mounts resolved at create (volumes named, anonymous ones made).
    pub mount_points: Vec<super::mounts::MountPoint>,
    /// Settings per network (aliases, a static address).
    pub networks: BTreeMap<String, super::network::EndpointConfig>,
    pub host: HostConfig,
}

/// Docker's HostConfig part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// Bytes; 0 = no limit.
    pub memory: i64,
    /// Billionths of a CPU (`--cpus 0.5` = 500000000).
    pub nano_cpus: i64,
    /// 0 = no limit.
    pub pids_limit: i64,
    pub readonly_rootfs: bool,
    /// Destination -> options (`size=64m,mode=1777`).
    pub tmpfs: BTreeMap<String, String>,
    /// `-v` as given (shown by inspect; the engine works from `mounts`).
    pub binds: Vec<String>,
    /// Every mount asked for: `-v` and `--mount` (and compose's volumes).
    pub mounts: Vec<super::mounts::Mount>,
    /// `C[:ro|rw]`.
    pub volumes_from: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub init: bool,
    pub sysctls: BTreeMap<String, String>,
    /// Bytes of /dev/shm; Docker's default is 64 MiB.
    pub shm_size: i64,
    /// `/dev/host:/dev/container:rwm`.
    pub devices: Vec<String>,
    pub security_opt: Vec<String>,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    /// A network's name, `none`, `host` or `container:ID`.
    pub network_mode: String,
    /// `--add-host NAME:IP` (IP may be `host-gateway`).
    pub extra_hosts: Vec<String>,
    /// `--dns IP`: the container's resolvers.
    pub dns: Vec<String>,
    /// `--link NAME:ALIAS`: another container's name under an alias, for this one only.
    pub links: Vec<String>,
    /// `-p`: `"80/tcp" -> [{HostIp, HostPort}]`.
    pub port_bindings: BTreeMap<String, Vec<super::ports::PortBinding>>,
    /// `-P`: every exposed port on a random host port.
    pub publish_all_ports: bool,
}

/// `64m`, `1g`, `512k`, `100` (bytes): Docker's size syntax.
pub fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (use e.g. 64m, 1g, 512k)"))?;
    if v < 0.0 {
        return Err(format!("`{s}`: a size cannot be negative"));
    }
    Ok((v * mult as f64) as i64)
}

/// `10s`, `1m30s`, `500ms`, `2h`: Go's duration syntax, as nanoseconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a duration (use e.g. 30s, 1m30s, 500ms)");
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_syntaxes() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert!(parse_duration("5 minutes").is_err());
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max_retries: 3 }
        );
        assert_eq!(
            RestartPolicy::parse("always").unwrap(),
            RestartPolicy::Always
        );
        assert!(RestartPolicy::parse("sometimes")
            .unwrap_err()
            .contains("unless-stopped"));
        let json = serde_json::to_value(RestartPolicy::OnFailure { max_retries: 2 }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2})
        );
    }
}
