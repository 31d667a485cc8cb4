//! The container service's side of published ports: bound at start (the monitor keeps the
//! sockets), recorded with their rules while the container runs, released when it ends.

use std::collections::BTreeMap;

use serde_json::json;

use super::config::ContainerConfig;
use super::service::Engine;
use super::view::View;
use super::Result;
use crate::engine::network;

impl Engine {
    /// At start: binds the container's published host ports, records them and adds their
    /// rules. Returns the sockets (the monitor keeps them).
    pub(crate) fn publish(
        &self,
        v: &View,
        cfg: &ContainerConfig,
    ) -> Result<Vec<std::os::fd::OwnedFd>> {
        if cfg.host.port_bindings.is_empty() && !cfg.host.publish_all_ports {
            return Ok(Vec::new());
        }
        let Some(ep) = self.endpoints_of(v)?.into_iter().next() else {
            return Ok(Vec::new());
        };
        let exposed: Vec<String> = cfg.exposed_ports.keys().cloned().collect();
        let (published, held) = super::ports::bind_all(
            &cfg.host.port_bindings,
            &exposed,
            cfg.host.publish_all_ports,
        )?;
        let bridge = self.networks().get(&ep.network)?.bridge;
        let rows: Vec<crate::engine::state::PortRow> = published
            .iter()
            .map(|p| crate::engine::state::PortRow {
                container: v.row.id.clone(),
                proto: p.proto.clone(),
                host_ip: p.host_ip.to_string(),
                host_port: p.host_port,
                container_ip: ep.ip.clone(),
                container_port: p.container_port,
                bridge: bridge.clone(),
            })
            .collect();
        self.db.ports_set(&v.row.id, &rows)?;
        if let Err(e) = self.networks().sync_firewall() {
            self.release_ports(&v.row.id);
            return Err(e.into());
        }
        Ok(held)
    }

    /// Removes a container's published ports and their rules (nothing to do when it has
    /// none).
    pub(crate) fn release_ports(&self, id: &str) {
        let ports = self.db.ports(Some(id)).unwrap_or_default();
        if ports.is_empty() {
            return;
        }
        let flows: Vec<(String, u16)> = ports
            .into_iter()
            .filter(|p| p.proto == "udp")
            .map(|p| (p.container_ip, p.container_port))
            .collect();
        let _ = self.db.ports_set(id, &[]);
        if let Err(e) = self.networks().sync_firewall() {
            tracing::warn!("removing the published ports of {id}: {e}");
        }
        network::conntrack::flush_udp(&flows);
    }

    /// The container's ports: `"80/tcp" -> [(host address, host port)]`, every exposed
    /// port present (with no binding when it is not published).
    pub fn port_map(&self, v: &View) -> BTreeMap<String, Vec<(String, u16)>> {
        let mut out: BTreeMap<String, Vec<(String, u16)>> = BTreeMap::new();
        if let Some(cfg) = &v.config {
            for key in cfg.exposed_ports.keys() {
                out.entry(key.clone()).or_default();
            }
        }
        for p in self.db.ports(Some(&v.row.id)).unwrap_or_default() {
            out.entry(format!("{}/{}", p.container_port, p.proto))
                .or_default()
                .push((p.host_ip, p.host_port));
        }
        out
    }

    /// inspect's `NetworkSettings.Ports`: `"80/tcp" -> [{HostIp, HostPort}]` (exposed ports
    /// without a binding map to null).
    pub fn published_ports(&self, v: &View) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for (key, bindings) in self.port_map(v) {
            let value = if bindings.is_empty() {
                serde_json::Value::Null
            } else {
                bindings
                    .iter()
                    .map(|(ip, port)| json!({"HostIp": ip, "HostPort": port.to_string()}))
                    .collect()
            };
            out.insert(key, value);
        }
        serde_json::Value::Object(out)
    }
}
