//! Wiring a container's network namespace to a network: a veth pair whose container end is
//! made directly inside the namespace, the address and routes; and taking it off again.

use std::net::Ipv4Addr;
use std::path::Path;

use super::netlink::Netlink;
use super::{netns, Network, NetworkError, Networks, Result};

/// What a container's namespace gets on one network.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub network: Network,
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    /// `eth0`, `eth1`...
    pub interface: String,
    /// The host side of the veth pair (`bth` + 12 characters).
    pub host_interface: String,
}

/// Connects the namespace at `ns` to the network: a veth pair, its container end made
/// directly inside the namespace, attached to the bridge; the address, `lo` up, and (unless
/// the network is internal, or `default_route` is false) the default route via the gateway.
pub fn attach(nets: &Networks<'_>, ns: &Path, a: &Attachment, default_route: bool) -> Result<()> {
    let master = nets.ensure_bridge(&a.network)?;
    let mut nl = Netlink::open()?;
    if let Some(stale) = nl.link_index(&a.host_interface)? {
        nl.del_link(stale)?;
    }
    let ns_file = std::fs::File::open(ns).map_err(|source| NetworkError::Io {
        path: ns.to_path_buf(),
        source,
    })?;
    use std::os::fd::AsRawFd;
    nl.add_veth(
        &a.host_interface,
        master,
        &a.interface,
        ns_file.as_raw_fd(),
        a.mac,
    )?;
    let host = nl
        .link_index(&a.host_interface)?
        .ok_or_else(|| NetworkError::Invalid {
            name: a.network.name.clone(),
            message: format!("veth {} vanished after it was made", a.host_interface),
        })?;
    nl.set_up(host)?;
    let inside = netns::run_in(ns, || -> Result<()> {
        let mut nl = Netlink::open()?;
        if let Some(lo) = nl.link_index("lo")? {
            nl.set_up(lo)?;
        }
        let eth = nl
            .link_index(&a.interface)?
            .ok_or_else(|| NetworkError::Invalid {
                name: a.network.name.clone(),
                message: format!("{} is missing in the container's namespace", a.interface),
            })?;
        nl.add_address(eth, a.ip, a.network.subnet.prefix)?;
        nl.set_up(eth)?;
        if default_route && !a.network.internal {
            nl.add_default_route(a.network.gateway)?;
        }
        Ok(())
    })
    .map_err(|source| NetworkError::Io {
        path: ns.to_path_buf(),
        source,
    })?;
    if inside.is_err() {
        let _ = nl.del_link(host);
    }
    inside
}

/// Deletes the interface that holds `ip` inside the namespace at `ns` (its veth peer on the
/// host goes with it).
pub fn detach_address(ns: &Path, ip: Ipv4Addr) -> Result<()> {
    netns::run_in(ns, || -> Result<()> {
        let mut nl = Netlink::open()?;
        if let Some(index) = nl.link_with_address(ip)? {
            nl.del_link(index)?;
        }
        Ok(())
    })
    .map_err(|source| NetworkError::Io {
        path: ns.to_path_buf(),
        source,
    })?
}

/// Removes the host side of a container's veth (its peer goes with it); gone is fine.
pub fn detach(host_interface: &str) -> Result<()> {
    let mut nl = Netlink::open()?;
    if let Some(index) = nl.link_index(host_interface)? {
        nl.del_link(index)?;
    }
    Ok(())
}
