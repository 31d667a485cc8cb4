//! The container service's side of networks: the network a container is created on (its
//! address allocated and recorded), its network namespace made and wired before it starts,
//! /etc/hosts and resolv.conf, `inspect`'s NetworkSettings, and teardown at removal.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::ContainerConfig;
use super::service::Engine;
use super::view::View;
use super::{ContainerError, Result};
use crate::engine::network::{self, ipam, Attachment, Networks, DEFAULT_NETWORK};
use crate::engine::state::EndpointRow;

/// Per network settings asked at create (Docker's EndpointSettings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointConfig {
    pub aliases: Vec<String>,
    /// A static address (`--ip`).
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
}

/// Whether a network mode is a bridged network (not none, host, or container:X).
pub fn is_bridged(mode: &str) -> bool {
    !matches!(mode, "none" | "host") && !mode.starts_with("container:")
}

fn invalid(msg: String) -> ContainerError {
    ContainerError::Invalid(msg)
}

impl Engine {
    pub fn networks(&self) -> Networks<'_> {
        Networks::new(&self.paths.root, &self.paths.run, &self.db)
    }

    /// At create: the network mode made definite (the default network when none is named)
    /// and, on a bridged network, the container's address allocated.
    pub(crate) fn resolve_network(&self, id: &str, cfg: &mut ContainerConfig) -> Result<()> {
        if cfg.host.network_mode.is_empty() || cfg.host.network_mode == "bridge" {
            cfg.host.network_mode = DEFAULT_NETWORK.into();
        }
        let mode = cfg.host.network_mode.clone();
        if !is_bridged(&mode) && (!cfg.host.port_bindings.is_empty() || cfg.host.publish_all_ports)
        {
            return Err(invalid(format!(
                "-p/-P publish ports of a bridged network; --network {mode} has none to publish"
            )));
        }
        let mut links = Vec::new();
        for l in &cfg.host.links {
            let (target, alias) = l.split_once(':').unwrap_or((l, l));
            let t = self
                .peek(target)
                .map_err(|_| invalid(format!("--link {l}: no container named {target}")))?;
            links.push(format!("{}:{alias}", t.row.name));
        }
        cfg.host.links = links;
        if let Some(other) = mode.strip_prefix("container:") {
            let v = self.peek(other)?;
            cfg.host.network_mode = format!("container:{}", v.row.id);
            return Ok(());
        }
        if !is_bridged(&mode) {
            return Ok(());
        }
        let nets = self.networks();
        let net = if mode == DEFAULT_NETWORK {
            nets.default_network()?
        } else {
            nets.get(&mode)?
        };
        cfg.host.network_mode = net.name.clone();
        let settings = cfg.networks.remove(&mode).unwrap_or_default();
        self.allocate_endpoint(id, &net, &settings)?;
        cfg.networks.insert(net.name.clone(), settings);
        Ok(())
    }

    /// Records the container's address on a network: the static one asked for (checked) or
    /// the first free one, in one transaction.
    fn allocate_endpoint(
        &self,
        id: &str,
        net: &network::Network,
        settings: &EndpointConfig,
    ) -> Result<EndpointRow> {
        let wanted: Option<Ipv4Addr> = match settings.ipv4_address.as_str() {
            "" => None,
            s => Some(
                s.parse()
                    .map_err(|_| invalid(format!("--ip {s}: not an IPv4 address")))?,
            ),
        };
        let aliases = serde_json::to_string(&settings.aliases).expect("aliases serialise");
        let subnet = net.subnet;
        let gateway = net.gateway;
        let picked = self.db.endpoint_allocate(id, &net.name, &aliases, |used| {
            let used: Vec<Ipv4Addr> = used.iter().filter_map(|u| u.parse().ok()).collect();
            let ip = match wanted {
                Some(ip) => {
                    if !subnet.contains(ip)
                        || ip == subnet.addr
                        || ip == subnet.broadcast()
                        || ip == gateway
                    {
                        return Err(format!(
                            "--ip {ip} is not a free host address of network {} ({subnet}, gateway {gateway})",
                            net.name
                        ));
                    }
                    if used.contains(&ip) {
                        return Err(format!(
                            "--ip {ip} is already in use on network {}",
                            net.name
                        ));
                    }
                    ip
                }
                None => ipam::pick_address(&subnet, gateway, &used).ok_or_else(|| {
                    format!("network {}: no free address left in {subnet}", net.name)
                })?,
            };
            Ok((ip.to_string(), ipam::mac_text(ipam::mac_of(ip))))
        })?;
        picked.map_err(invalid)
    }

    /// `network connect`: another network for a container; a running one gets its next
    /// interface at once (no default route: the first network keeps it).
    pub fn network_connect(
        &self,
        net_key: &str,
        key: &str,
        settings: &EndpointConfig,
    ) -> Result<()> {
        let v = self.get(key)?;
        let mode = v
            .config
            .as_ref()
            .map(|c| c.host.network_mode.clone())
            .unwrap_or_default();
        if !is_bridged(&mode) {
            return Err(invalid(format!(
                "container {} uses --network {mode}: it cannot join bridged networks",
                v.row.name
            )));
        }
        let nets = self.networks();
        let net = nets.get(net_key)?;
        let existing = self.db.endpoints(Some(&v.row.id), None)?;
        if existing.iter().any(|e| e.network == net.name) {
            return Err(invalid(format!(
                "container {} is already connected to network {}",
                v.row.name, net.name
            )));
        }
        let ep = self.allocate_endpoint(&v.row.id, &net, settings)?;
        let path = self.netns_path(&v.row.id);
        if network::netns::exists(&path) {
            // The first interface number whose host-side veth is free.
            let mut nl = network::netlink::Netlink::open().map_err(network::NetworkError::from)?;
            let mut i = existing.len();
            for n in 1..10 {
                if nl
                    .link_index(&host_interface(&v.row.id, n))
                    .map_err(network::NetworkError::from)?
                    .is_none()
                {
                    i = n;
                    break;
                }
            }
            if let Err(e) = self.wire(&path, &v.row.id, &net, &ep, i) {
                self.db.endpoint_remove(&v.row.id, Some(&net.name))?;
                return Err(e);
            }
        }
        self.refresh_dns_of(&v.row.id)
    }

    /// Rewrites the DNS records of every network a container is on.
    fn refresh_dns_of(&self, id: &str) -> Result<()> {
        for ep in self.db.endpoints(Some(id), None)? {
            self.refresh_dns(&ep.network)?;
        }
        Ok(())
    }

    /// `network disconnect`: the container leaves the network (a running one loses that
    /// interface at once).
    pub fn network_disconnect(&self, net_key: &str, key: &str) -> Result<()> {
        let v = self.get(key)?;
        let net = self.networks().get(net_key)?;
        let Some(ep) = self
            .db
            .endpoints(Some(&v.row.id), Some(&net.name))?
            .into_iter()
            .next()
        else {
            return Err(invalid(format!(
                "container {} is not connected to network {}",
                v.row.name, net.name
            )));
        };
        let path = self.netns_path(&v.row.id);
        if network::netns::exists(&path) {
            let ip: Ipv4Addr = ep
                .ip
                .parse()
                .map_err(|_| invalid(format!("bad address {}", ep.ip)))?;
            network::detach_address(&path, ip)?;
        }
        self.db.endpoint_remove(&v.row.id, Some(&net.name))?;
        self.refresh_dns(&net.name)?;
        self.refresh_dns_of(&v.row.id)
    }

    /// The container's endpoints, its first network (the one it was created on, which has
    /// the default route, /etc/hosts's address and the resolver) first.
    pub(crate) fn endpoints_of(&self, v: &View) -> Result<Vec<EndpointRow>> {
        let mut eps = self.db.endpoints(Some(&v.row.id), None)?;
        let primary = v
            .config
            .as_ref()
            .map(|c| c.host.network_mode.as_str())
            .unwrap_or("");
        eps.sort_by_key(|e| e.network != primary);
        Ok(eps)
    }

    /// The container's network namespace file (bridged networks).
    pub(crate) fn netns_path(&self, id: &str) -> PathBuf {
        self.paths.run_dir(id).join("netns")
    }

    /// At start: the namespace the container joins, made and wired when it is not in place
    /// (first start, or after a reboot); `None` for a new empty one (`none`), and the host's
    /// for `host` (handled by the spec).
    pub(crate) fn prepare_network(
        &self,
        v: &View,
        cfg: &ContainerConfig,
    ) -> Result<Option<PathBuf>> {
        let mode = cfg.host.network_mode.as_str();
        if let Some(other) = mode.strip_prefix("container:") {
            let o = self.peek(other)?;
            if !o.is_running() {
                return Err(ContainerError::Failed {
                    name: v.row.name.clone(),
                    message: format!(
                        "its network comes from container {}, which is not running",
                        o.row.name
                    ),
                });
            }
            let path = self.netns_path(&o.row.id);
            if network::netns::exists(&path) {
                return Ok(Some(path));
            }
            return Ok(Some(PathBuf::from(format!("/proc/{}/ns/net", o.pid))));
        }
        if !is_bridged(mode) {
            return Ok(None);
        }
        let path = self.netns_path(&v.row.id);
        if network::netns::exists(&path) {
            return Ok(Some(path));
        }
        let io = |e| ContainerError::io(&path, e);
        network::netns::create(&path).map_err(io)?;
        for (i, ep) in self.endpoints_of(v)?.iter().enumerate() {
            let wired = self
                .networks()
                .get(&ep.network)
                .map_err(ContainerError::from)
                .and_then(|net| self.wire(&path, &v.row.id, &net, ep, i))
                // After a reboot the run directory (and the records in it) is new.
                .and_then(|_| self.refresh_dns(&ep.network));
            if let Err(e) = wired {
                self.teardown_network(&v.row.id);
                return Err(e);
            }
        }
        Ok(Some(path))
    }

    /// Connects the namespace at `ns` to `net` as the container's `i`th interface (the first
    /// one has the default route), the bridge made when missing, then the network's DNS
    /// server (which listens on the bridge's address) started unless it runs.
    fn wire(
        &self,
        ns: &std::path::Path,
        id: &str,
        net: &network::Network,
        ep: &EndpointRow,
        i: usize,
    ) -> Result<()> {
        let ip: Ipv4Addr = ep
            .ip
            .parse()
            .map_err(|_| invalid(format!("bad address {}", ep.ip)))?;
        let a = Attachment {
            network: net.clone(),
            ip,
            mac: ipam::mac_of(ip),
            interface: format!("eth{i}"),
            host_interface: host_interface(id, i),
        };
        let nets = self.networks();
        network::attach(&nets, ns, &a, i == 0)?;
        nets.ensure_dns(net)?;
        Ok(())
    }

    /// Removes the container's veths and namespace (best effort; gone is fine).
    ///
    /// The namespace is released, and the kernel removes it with its veths (the peers on the
    /// host side go with them) once its last process is gone; deleting each veth ourselves
    /// would wait for an RCU grace period per link (~20 ms). When the namespace was already
    /// gone (after a reboot, say), host-side veths left from it are deleted here.
    pub(crate) fn teardown_network(&self, id: &str) {
        let path = self.netns_path(id);
        if network::netns::exists(&path) {
            network::netns::remove(&path);
            return;
        }
        network::netns::remove(&path);
        for i in 0..10 {
            if let Err(e) = network::detach(&host_interface(id, i)) {
                tracing::warn!("removing the veth of {id}: {e}");
            }
        }
    }

    /// /etc/hosts and resolv.conf for a container on its networks.
    pub(crate) fn network_files(
        &self,
        v: &View,
        cfg: &ContainerConfig,
        hostname: &str,
    ) -> Result<(String, String)> {
        // Checked at create; again here for records written before the checks.
        super::hostfiles::check(cfg)?;
        let mut hosts =
            String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        let eps = self.endpoints_of(v)?;
        match eps.first() {
            Some(ep) => hosts.push_str(&format!("{}\t{hostname} {}\n", ep.ip, v.row.name)),
            None => hosts.push_str(&format!("127.0.1.1\t{hostname}\n")),
        }
        for h in &cfg.host.extra_hosts {
            let (name, ip) = super::hostfiles::extra_host(h)?;
            let ip = if ip == super::hostfiles::HOST_GATEWAY {
                match eps.first() {
                    Some(ep) => self.networks().get(&ep.network)?.gateway.to_string(),
                    None => "127.0.0.1".to_string(),
                }
            } else {
                ip.to_string()
            };
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        // The host's search domains, with berth's resolvers.
        let search: String = host_resolv
            .lines()
            .filter(|l| l.trim_start().starts_with("search"))
            .map(|l| format!("{l}\n"))
            .collect();
        let resolv = if !cfg.host.dns.is_empty() {
            let servers: String = cfg
                .host
                .dns
                .iter()
                .map(|d| format!("nameserver {d}\n"))
                .collect();
            format!("{search}{servers}")
        } else if cfg.host.network_mode == "host" {
            host_resolv
        } else if let Some(ep) = eps.first() {
            // The network's DNS server, on its gateway.
            let gw = self.networks().get(&ep.network)?.gateway;
            format!("{search}nameserver {gw}\noptions ndots:0\n")
        } else {
            String::new()
        };
        Ok((hosts, resolv))
    }

    /// `inspect`'s NetworkSettings.
    pub fn network_settings(&self, v: &View) -> serde_json::Value {
        let eps: Vec<EndpointRow> = self.endpoints_of(v).unwrap_or_default();
        let nets = self.networks();
        let mut per = serde_json::Map::new();
        let mut first = json!({"IPAddress": "", "Gateway": "", "MacAddress": "", "IPPrefixLen": 0});
        for (i, ep) in eps.iter().enumerate() {
            let Ok(n) = nets.get(&ep.network) else {
                continue;
            };
            let aliases: Vec<String> = serde_json::from_str(&ep.aliases).unwrap_or_default();
            let entry = json!({
                "NetworkID": n.id,
                "IPAddress": ep.ip,
                "IPPrefixLen": n.subnet.prefix,
                "Gateway": n.gateway.to_string(),
                "MacAddress": ep.mac,
                "Aliases": aliases,
            });
            if i == 0 {
                first = json!({"IPAddress": ep.ip, "Gateway": n.gateway.to_string(),
                               "MacAddress": ep.mac, "IPPrefixLen": n.subnet.prefix});
            }
            per.insert(n.name.clone(), entry);
        }
        let mut out = json!({
            "Networks": per,
            "Ports": self.published_ports(v),
            "SandboxKey": if eps.is_empty() { String::new() } else { self.netns_path(&v.row.id).display().to_string() },
        });
        for (k, val) in first.as_object().expect("an object") {
            out[k] = val.clone();
        }
        out
    }
}

/// The host side of a container's `i`th veth (at most 15 characters, the kernel's limit):
/// `bth` and 12 characters of the ID for the first, `bth`, 10 characters, `-` and the number
/// for the others. (It was `bth`, 11 characters and the number: the same name as the first
/// interface's whenever the ID's 12th character was that digit, one container in 16.)
pub fn host_interface(id: &str, i: usize) -> String {
    if i == 0 {
        format!("bth{}", &id[..12])
    } else {
        format!("bth{}-{i}", &id[..10])
    }
}

impl Engine {
    /// Rewrites the DNS records of a network from the containers connected to it: names,
    /// short IDs and aliases, and the `--link` aliases of each container.
    pub(crate) fn refresh_dns(&self, network: &str) -> Result<()> {
        let mut records = network::dns::Records::default();
        let eps = self.db.endpoints(None, Some(network))?;
        let mut names = std::collections::BTreeMap::new();
        for ep in &eps {
            let Ok(row) = self.db.resolve(&ep.container) else {
                continue;
            };
            let Ok(ip) = ep.ip.parse::<Ipv4Addr>() else {
                continue;
            };
            records.add(&row.name, ip);
            records.add(&row.id[..12], ip);
            for a in serde_json::from_str::<Vec<String>>(&ep.aliases).unwrap_or_default() {
                records.add(&a, ip);
            }
            names.insert(row.id.clone(), (row, ip));
        }
        for (row, ip) in names.values() {
            let others: Vec<String> = self
                .db
                .endpoints(Some(&row.id), None)?
                .into_iter()
                .map(|e| e.network)
                .filter(|n| n != network)
                .collect();
            if !others.is_empty() {
                records.peers.insert(*ip, others);
            }
            let cfg: ContainerConfig = serde_json::from_str(&row.config).unwrap_or_default();
            for l in &cfg.host.links {
                let (target, alias) = l.split_once(':').unwrap_or((l, l));
                records
                    .links
                    .entry(*ip)
                    .or_default()
                    .insert(alias.to_ascii_lowercase(), target.to_ascii_lowercase());
            }
        }
        Ok(self.networks().set_records(network, &records)?)
    }

    /// Names of the containers connected to a network.
    fn network_users(&self, network: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for ep in self.db.endpoints(None, Some(network))? {
            let name = self
                .db
                .resolve(&ep.container)
                .map(|r| r.name)
                .unwrap_or_else(|_| ep.container[..12.min(ep.container.len())].to_string());
            out.push(name);
        }
        Ok(out)
    }

    /// `network rm`: refused while containers are connected (the error names them).
    pub fn network_remove(&self, key: &str) -> Result<String> {
        let nets = self.networks();
        let n = nets.get(key)?;
        let users = self.network_users(&n.name)?;
        nets.remove(&n.name, users)?;
        Ok(n.name)
    }

    /// `network prune`: removes the networks no container uses (the default one stays).
    pub fn network_prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for n in self.networks().list()? {
            if n.name != DEFAULT_NETWORK && self.network_users(&n.name)?.is_empty() {
                self.networks().remove(&n.name, Vec::new())?;
                removed.push(n.name);
            }
        }
        Ok(removed)
    }

    /// `network inspect`.
    pub fn network_inspect(&self, key: &str) -> Result<serde_json::Value> {
        let n = self.networks().get(key)?;
        let mut cs = Vec::new();
        for ep in self.db.endpoints(None, Some(&n.name))? {
            let name = self
                .db
                .resolve(&ep.container)
                .map(|r| r.name)
                .unwrap_or_default();
            cs.push((name, ep));
        }
        Ok(n.inspect(&cs))
    }
}

#[cfg(test)]
mod tests {
    use super::host_interface;

    #[test]
    fn a_containers_host_interfaces_never_share_a_name() {
        // The 12th character is `1`: the old scheme named interfaces 0 and 1 alike.
        let id = "0123456789a1bcdef";
        let names: Vec<String> = (0..10).map(|i| host_interface(id, i)).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.len() <= 15 && !n.starts_with("bth-")),
            "{names:?}"
        );
    }
}
