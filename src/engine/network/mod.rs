//! Bridged networks: a Linux bridge per network (made over netlink), a subnet from the
//! address pools, addresses for containers recorded in the state database, and berth's own
//! nftables table for outbound NAT and isolation. The default network `berth0`
//! (172.17.0.0/16, like Docker's `bridge`) is made on first use. This module knows networks
//! and network namespaces, not containers: the container service connects them.

mod attach;
pub mod conntrack;
pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod netns;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use thiserror::Error;

use crate::engine::state::{Db, EndpointRow, NetworkRow, StateError};
pub use attach::{attach, detach, detach_address, Attachment};
use ipam::Subnet;
use netlink::{Netlink, NetlinkError};

pub const DEFAULT_NETWORK: &str = "berth0";

#[derive(Debug, Error)]
pub enum NetworkError {
    #[error("no such network: {0}")]
    NotFound(String),
    #[error("network {0} already exists")]
    Exists(String),
    #[error("`{0}` is not a valid network name: use letters, digits, `_`, `.` and `-`")]
    InvalidName(String),
    #[error("network {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("network {name} is in use by {}: remove or disconnect them first", users.join(", "))]
    InUse { name: String, users: Vec<String> },
    #[error("no free subnet left in the address pools ({0}): remove unused networks or add a pool in the config file")]
    PoolsExhausted(String),
    #[error("network {name}: no free address left in {subnet}")]
    Full { name: String, subnet: String },
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error(transparent)]
    Firewall(#[from] firewall::FirewallError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the engine config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    State(#[from] StateError),
}

pub type Result<T> = std::result::Result<T, NetworkError>;

/// `<root>/config.json`, Docker's daemon.json keys for addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct NetConfig {
    /// The default network's gateway and prefix (`172.17.0.1/16`).
    pub bip: String,
    pub default_address_pools: Vec<ipam::Pool>,
    /// Where containers' DNS servers forward names they do not know (`ADDR[:PORT]`);
    /// empty: the host's resolv.conf.
    pub dns_forward: Vec<String>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bip: "172.17.0.1/16".into(),
            default_address_pools: ipam::default_pools(),
            dns_forward: Vec::new(),
        }
    }
}

impl NetConfig {
    pub fn load(root: &Path) -> Result<NetConfig> {
        let path = root.join("config.json");
        match std::fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| NetworkError::Config {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NetConfig::default()),
            Err(source) => Err(NetworkError::Io { path, source }),
        }
    }
}

/// A network.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub created: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub bridge: String,
}

impl Network {
    fn of(r: NetworkRow) -> Network {
        Network {
            subnet: Subnet::parse(&r.subnet).unwrap_or(Subnet {
                addr: Ipv4Addr::UNSPECIFIED,
                prefix: 32,
            }),
            gateway: r.gateway.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
            labels: serde_json::from_str(&r.labels).unwrap_or_default(),
            internal: r.internal,
            bridge: r.bridge,
            created: r.created,
            id: r.id,
            name: r.name,
        }
    }

    pub fn rules(&self) -> firewall::NetworkRules {
        firewall::NetworkRules {
            bridge: self.bridge.clone(),
            subnet: self.subnet,
            gateway: self.gateway,
            internal: self.internal,
        }
    }

    /// Docker's `network inspect` shape; `containers` maps IDs to (name, endpoint).
    pub fn inspect(&self, containers: &[(String, EndpointRow)]) -> serde_json::Value {
        let mut cs = serde_json::Map::new();
        for (name, e) in containers {
            cs.insert(
                e.container.clone(),
                json!({"Name": name, "MacAddress": e.mac,
                       "IPv4Address": format!("{}/{}", e.ip, self.subnet.prefix), "IPv6Address": ""}),
            );
        }
        json!({
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": "local",
            "Driver": "bridge",
            "EnableIPv6": false,
            "IPAM": {"Driver": "default", "Options": {}, "Config": [
                {"Subnet": self.subnet.to_string(), "Gateway": self.gateway.to_string()}]},
            "Internal": self.internal,
            "Attachable": false,
            "Containers": cs,
            "Options": {"com.docker.network.bridge.name": self.bridge},
            "Labels": self.labels,
        })
    }
}

pub fn check_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok && !matches!(name, "none" | "host" | "bridge" | "default") {
        Ok(())
    } else {
        Err(NetworkError::InvalidName(name.to_string()))
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    pub name: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

/// The networks of one state root.
pub struct Networks<'a> {
    root: PathBuf,
    /// The run directory (tmpfs): `networks/<name>/` holds each DNS server's files.
    run: PathBuf,
    db: &'a Db,
}

use crate::engine::random_id;

impl<'a> Networks<'a> {
    pub fn new(root: &Path, run: &Path, db: &'a Db) -> Networks<'a> {
        Networks {
            root: root.to_path_buf(),
            run: run.to_path_buf(),
            db,
        }
    }

    /// `<run>/networks/<name>`: the network's DNS records and server pid.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.run.join("networks").join(name)
    }

    /// Starts the network's DNS server unless it runs (see [`dns`]).
    pub fn ensure_dns(&self, n: &Network) -> Result<()> {
        let dir = self.dir(&n.name);
        let pid_file = dir.join("dns.pid");
        if alive(&pid_file).is_some() {
            return Ok(());
        }
        let io = |source| NetworkError::Io {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        if !dns::records_path(&dir).exists() {
            dns::write_records(&dir, &dns::Records::default()).map_err(io)?;
        }
        let cfg = NetConfig::load(&self.root)?;
        let ups: Vec<String> = dns::upstreams(&cfg.dns_forward)
            .iter()
            .map(|u| u.to_string())
            .collect();
        let log = std::fs::File::create(dir.join("dns.log")).map_err(io)?;
        // From this binary (berth: `berth-monitor` does not carry the DNS code).
        let mut child = std::process::Command::new("/proc/self/exe")
            .arg("__dns")
            .arg(&dir)
            // It serves this network's subnet only.
            .arg(format!("{}/{}", n.gateway, n.subnet.prefix))
            .args(&ups)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(io)?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            use std::io::BufRead;
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            let why = std::fs::read_to_string(dir.join("dns.log")).unwrap_or_default();
            return Err(NetworkError::Invalid {
                name: n.name.clone(),
                message: format!(
                    "its DNS server did not start on {}:53: {}",
                    n.gateway,
                    why.trim()
                ),
            });
        }
        let start = start_time(child.id() as i32).unwrap_or(0);
        std::fs::write(&pid_file, format!("{} {start}\n", child.id())).map_err(io)?;
        Ok(())
    }

    /// Stops the network's DNS server and removes its files.
    pub fn stop_dns(&self, name: &str) {
        let dir = self.dir(name);
        if let Some(pid) = alive(&dir.join("dns.pid")) {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Replaces the network's DNS records.
    pub fn set_records(&self, name: &str, records: &dns::Records) -> Result<()> {
        let dir = self.dir(name);
        dns::write_records(&dir, records).map_err(|source| NetworkError::Io { path: dir, source })
    }

    pub fn get(&self, key: &str) -> Result<Network> {
        match self.db.network_get(key)? {
            Some(r) => Ok(Network::of(r)),
            None => Err(NetworkError::NotFound(key.to_string())),
        }
    }

    pub fn list(&self) -> Result<Vec<Network>> {
        Ok(self
            .db
            .network_all()?
            .into_iter()
            .map(Network::of)
            .collect())
    }

    /// The default network, made (with its bridge) on first use.
    pub fn default_network(&self) -> Result<Network> {
        if let Some(r) = self.db.network_get(DEFAULT_NETWORK)? {
            return Ok(Network::of(r));
        }
        let cfg = NetConfig::load(&self.root)?;
        let (gw, prefix) = cfg.bip.split_once('/').unwrap_or((&cfg.bip, "16"));
        let gateway: Ipv4Addr = gw.parse().map_err(|_| NetworkError::Config {
            path: self.root.join("config.json"),
            message: format!("bip `{}` is not ADDRESS/PREFIX", cfg.bip),
        })?;
        let prefix: u8 = prefix.parse().unwrap_or(16);
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix as u32)
        };
        let mut subnet = Subnet {
            addr: Ipv4Addr::from(u32::from(gateway) & mask),
            prefix,
        };
        let mut gateway = gateway;
        // A host running Docker has 172.17.0.0/16 on docker0: two bridges on one subnet break
        // routing, so berth0 then takes the first free subnet of the pools.
        let taken = self.taken_subnets()?;
        if let Some(t) = taken.iter().find(|t| t.overlaps(&subnet)) {
            let other = ipam::pick_subnet(&cfg.default_address_pools, &taken)
                .map_err(|message| NetworkError::Invalid {
                    name: DEFAULT_NETWORK.into(),
                    message,
                })?
                .ok_or_else(|| NetworkError::PoolsExhausted(cfg.bip.clone()))?;
            tracing::warn!(
                "{DEFAULT_NETWORK}: {subnet} overlaps {t} on this host; using {other} (set `bip` in the engine config to choose)"
            );
            subnet = other;
            gateway = other.nth(1).expect("a pool subnet has hosts");
        }
        let id = random_id();
        match self.create_with(
            DEFAULT_NETWORK,
            &id,
            DEFAULT_NETWORK,
            subnet,
            gateway,
            false,
            &BTreeMap::new(),
        ) {
            Err(NetworkError::Exists(_)) => self.get(DEFAULT_NETWORK),
            other => other,
        }
    }

    /// `network create`.
    pub fn create(&self, req: &CreateNetwork) -> Result<Network> {
        check_name(&req.name)?;
        if self.db.network_get(&req.name)?.is_some() || req.name == DEFAULT_NETWORK {
            return Err(NetworkError::Exists(req.name.clone()));
        }
        let invalid = |message: String| NetworkError::Invalid {
            name: req.name.clone(),
            message,
        };
        let taken = self.taken_subnets()?;
        let subnet = match &req.subnet {
            Some(s) => {
                let s = Subnet::parse(s).map_err(invalid)?;
                if s.prefix > 30 {
                    return Err(invalid(format!(
                        "subnet {s} is too small: use /30 or larger"
                    )));
                }
                if let Some(t) = taken.iter().find(|t| t.overlaps(&s)) {
                    return Err(invalid(format!(
                        "subnet {s} overlaps {t}, which another network or a host route uses"
                    )));
                }
                s
            }
            None => {
                let cfg = NetConfig::load(&self.root)?;
                ipam::pick_subnet(&cfg.default_address_pools, &taken)
                    .map_err(invalid)?
                    .ok_or_else(|| {
                        NetworkError::PoolsExhausted(
                            cfg.default_address_pools
                                .iter()
                                .map(|p| format!("{}/{}", p.base, p.size))
                                .collect::<Vec<_>>()
                                .join(", "),
                        )
                    })?
            }
        };
        let gateway = match &req.gateway {
            Some(g) => {
                let g: Ipv4Addr = g
                    .parse()
                    .map_err(|_| invalid(format!("gateway `{g}` is not an IPv4 address")))?;
                if !subnet.contains(g) || g == subnet.addr || g == subnet.broadcast() {
                    return Err(invalid(format!(
                        "gateway {g} is not a host address of {subnet}"
                    )));
                }
                g
            }
            None => subnet.nth(1).expect("a /30 or larger has a first host"),
        };
        let id = random_id();
        let bridge = format!("bth-{}", &id[..11]);
        self.create_with(
            &req.name,
            &id,
            &bridge,
            subnet,
            gateway,
            req.internal,
            &req.labels,
        )
    }

    /// Subnets of other networks and of the host's routes.
    fn taken_subnets(&self) -> Result<Vec<Subnet>> {
        let mut taken: Vec<Subnet> = self.list()?.iter().map(|n| n.subnet).collect();
        let mut nl = Netlink::open()?;
        for (addr, prefix) in nl.routes()? {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix as u32)
            };
            taken.push(Subnet {
                addr: Ipv4Addr::from(u32::from(addr) & mask),
                prefix,
            });
        }
        Ok(taken)
    }

    #[allow(clippy::too_many_arguments)]
    fn create_with(
        &self,
        name: &str,
        id: &str,
        bridge: &str,
        subnet: Subnet,
        gateway: Ipv4Addr,
        internal: bool,
        labels: &BTreeMap<String, String>,
    ) -> Result<Network> {
        let row = NetworkRow {
            name: name.into(),
            id: id.into(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            internal,
            labels: serde_json::to_string(labels).expect("labels serialise"),
            bridge: bridge.into(),
        };
        if !self.db.network_insert(&row)? {
            return Err(NetworkError::Exists(name.to_string()));
        }
        let n = Network::of(row);
        if let Err(e) = self.ensure_bridge(&n) {
            let _ = self.remove_bridge(&n);
            let _ = self.db.network_remove(name);
            let _ = self.sync_firewall();
            return Err(e);
        }
        Ok(n)
    }

    /// Makes sure the network's bridge exists with its gateway address and is up, and that
    /// the firewall has its rules (after a reboot, or in a new network namespace, neither
    /// does). Cheap when all is in place: one netlink lookup.
    pub fn ensure_bridge(&self, n: &Network) -> Result<u32> {
        let mut nl = Netlink::open()?;
        if let Some(index) = nl.link_index(&n.bridge)? {
            return Ok(index);
        }
        match nl.add_bridge(&n.bridge) {
            Err(e) if e.errno() == Some(libc::EEXIST) => {}
            other => other?,
        }
        let index = nl
            .link_index(&n.bridge)?
            .ok_or_else(|| NetworkError::Invalid {
                name: n.name.clone(),
                message: format!("bridge {} vanished after it was made", n.bridge),
            })?;
        match nl.add_address(index, n.gateway, n.subnet.prefix) {
            Err(e) if e.errno() == Some(libc::EEXIST) => {}
            other => other?,
        }
        nl.set_up(index)?;
        // Published ports on 127.0.0.1 are DNATed out through the bridge.
        let localnet = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge);
        std::fs::write(&localnet, "1").map_err(|source| NetworkError::Io {
            path: localnet.into(),
            source,
        })?;
        self.sync_firewall()?;
        if !n.internal {
            firewall::enable_forwarding().map_err(|source| NetworkError::Io {
                path: "/proc/sys/net/ipv4/ip_forward".into(),
                source,
            })?;
        }
        Ok(index)
    }

    /// Rebuilds berth's nftables table from the networks and published ports in the
    /// database.
    pub fn sync_firewall(&self) -> Result<()> {
        let rules: Vec<_> = self.list()?.iter().map(Network::rules).collect();
        let ports: Vec<firewall::PortRule> = self
            .db
            .ports(None)?
            .into_iter()
            .filter_map(|p| {
                Some(firewall::PortRule {
                    host_ip: p.host_ip.parse().ok()?,
                    container_ip: p.container_ip.parse().ok()?,
                    proto: p.proto,
                    host_port: p.host_port,
                    container_port: p.container_port,
                    bridge: p.bridge,
                })
            })
            .collect();
        firewall::apply(&rules, &ports)?;
        Ok(())
    }

    fn remove_bridge(&self, n: &Network) -> Result<()> {
        let mut nl = Netlink::open()?;
        if let Some(index) = nl.link_index(&n.bridge)? {
            nl.del_link(index)?;
        }
        Ok(())
    }

    /// `network rm`: refused while containers are connected (`users` names them).
    pub fn remove(&self, key: &str, users: Vec<String>) -> Result<()> {
        let n = self.get(key)?;
        if !users.is_empty() {
            return Err(NetworkError::InUse {
                name: n.name,
                users,
            });
        }
        self.stop_dns(&n.name);
        self.remove_bridge(&n)?;
        self.db.network_remove(&n.name)?;
        self.sync_firewall()
    }
}

/// A process's start time (clock ticks after boot), from /proc.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The pid in a `PID STARTTIME` file, when that process still runs.
fn alive(pid_file: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(pid_file).ok()?;
    let mut parts = text.split_whitespace();
    let pid: i32 = parts.next()?.parse().ok()?;
    let start: u64 = parts.next()?.parse().ok()?;
    (start_time(pid) == Some(start)).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_config() {
        check_name("front-end_1.x").unwrap();
        for bad in ["", "-x", "a/b", "host", "none"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(NetConfig::load(tmp.path()).unwrap().bip, "172.17.0.1/16");
        std::fs::write(
            tmp.path().join("config.json"),
            r#"{"bip": "10.99.0.1/24", "default-address-pools": [{"base": "10.100.0.0/16", "size": 24}]}"#,
        )
        .unwrap();
        let c = NetConfig::load(tmp.path()).unwrap();
        assert_eq!(c.bip, "10.99.0.1/24");
        assert_eq!(c.default_address_pools[0].base, "10.100.0.0/16");
        std::fs::write(tmp.path().join("config.json"), "{nope").unwrap();
        assert!(NetConfig::load(tmp.path()).is_err());
    }
}
