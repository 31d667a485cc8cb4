//! Published-port collisions: two enabled services (or two entries of one service) cannot
//! bind the same host port on overlapping addresses; the engine would fail the second.
//! Published ranges (`8000-8010` for one container port) ask the engine to pick a free port,
//! so they never collide here.

use std::net::IpAddr;

use super::Validator;
use crate::stack::Result;

/// One fixed host binding.
struct Binding<'a> {
    service: &'a str,
    host_ip: Option<IpAddr>,
    port: u16,
    protocol: &'a str,
    target: u16,
}

impl Binding<'_> {
    /// Whether two bindings' addresses overlap: no IP means every address; `0.0.0.0` and
    /// `::` mean every address of their family.
    fn overlaps(&self, other: &Binding<'_>) -> bool {
        if self.port != other.port || self.protocol != other.protocol {
            return false;
        }
        match (self.host_ip, other.host_ip) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => {
                a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
            }
        }
    }

    fn describe(&self) -> String {
        match self.host_ip {
            Some(ip) => format!("{}/{} on {ip}", self.port, self.protocol),
            None => format!("{}/{}", self.port, self.protocol),
        }
    }
}

impl Validator<'_> {
    pub(super) fn published_ports(&mut self) -> Result<()> {
        let mut seen: Vec<Binding<'_>> = Vec::new();
        let project = self.project;
        for (name, service) in &project.services {
            let path = format!("services.{name}.ports");
            let mut warned = false;
            for port in &service.ports {
                let Some(published) = port.published.as_deref() else {
                    continue;
                };
                let Ok(number) = published.parse::<u16>() else {
                    continue; // a range: the engine picks a free port in it
                };
                let host_ip = match port.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
                    None => None,
                    Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| {
                        self.invalid(&path, format!("host_ip `{ip}` is not an IP address"))
                    })?),
                };
                let binding = Binding {
                    service: name,
                    host_ip,
                    port: number,
                    protocol: &port.protocol,
                    target: port.target,
                };
                if let Some(other) = seen.iter().find(|b| b.overlaps(&binding)) {
                    if other.service != name.as_str() {
                        return Err(self.invalid(
                            &path,
                            format!(
                                "services `{}` and `{name}` both publish host port {}; the \
                                 second would fail to start, so change one of the published \
                                 ports (services.{}.ports)",
                                other.service,
                                binding.describe(),
                                other.service
                            ),
                        ));
                    }
                    if other.target != binding.target {
                        return Err(self.invalid(
                            &path,
                            format!(
                                "service `{name}` publishes host port {} twice (to container \
                                 ports {} and {}); use a different host port for one of them",
                                binding.describe(),
                                other.target,
                                binding.target
                            ),
                        ));
                    }
                    continue;
                }
                if service.replicas() > 1 && !warned {
                    warned = true;
                    self.warn(
                        &path,
                        format!(
                            "service `{name}` runs {} replicas but publishes the fixed host \
                             port {}; only one replica can bind it, publish a range (e.g. \
                             `{}-{}:{}`) or no host port instead",
                            service.replicas(),
                            binding.describe(),
                            number,
                            u32::from(number) + service.replicas() - 1,
                            port.target
                        ),
                    );
                }
                seen.push(binding);
            }
        }
        Ok(())
    }
}
