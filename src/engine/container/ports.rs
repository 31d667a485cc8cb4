//! Published ports: Docker's `-p [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]` (ranges
//! too), `-P` and `--expose`, and the host sockets berth binds at start: each published host
//! port is bound by berth (a port someone else holds is a clear error naming it, a random
//! port is the kernel's, so two containers never get the same one) and the container's
//! monitor keeps the socket for as long as the container lives.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};

use super::ContainerError;

/// One host binding of a container port (Docker's PortBinding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    /// Empty: every address.
    pub host_ip: String,
    /// Empty: a random free port.
    pub host_port: String,
}

fn invalid(msg: String) -> ContainerError {
    ContainerError::Invalid(msg)
}

fn range(spec: &str, text: &str) -> Result<(u16, u16), ContainerError> {
    let bad = || {
        invalid(format!(
            "-p {spec}: `{text}` is not a port or a range (1-65535)"
        ))
    };
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses `-p` specs into `"80/tcp" -> bindings` (Docker's HostConfig.PortBindings).
pub fn parse_publish(
    specs: &[String],
) -> Result<BTreeMap<String, Vec<PortBinding>>, ContainerError> {
    let mut out: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for spec in specs {
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((r, p)) => (r, p),
            None => (spec.as_str(), "tcp"),
        };
        if !matches!(proto, "tcp" | "udp") {
            return Err(invalid(format!(
                "-p {spec}: protocol `{proto}`: use tcp or udp"
            )));
        }
        if rest.contains('[') {
            return Err(invalid(format!(
                "-p {spec}: IPv6 host addresses are not supported yet; use an IPv4 address"
            )));
        }
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, container) = match parts.as_slice() {
            [c] => ("", "", *c),
            [h, c] => ("", *h, *c),
            [ip, h, c] => (*ip, *h, *c),
            _ => {
                return Err(invalid(format!(
                    "-p {spec}: use [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]"
                )))
            }
        };
        if !ip.is_empty() && ip.parse::<Ipv4Addr>().is_err() {
            return Err(invalid(format!("-p {spec}: `{ip}` is not an IPv4 address")));
        }
        let (c0, c1) = range(spec, container)?;
        let hosts = if host.is_empty() {
            None
        } else {
            let (h0, h1) = range(spec, host)?;
            if h1 - h0 != c1 - c0 && h0 != h1 {
                return Err(invalid(format!(
                    "-p {spec}: the host range and the container range differ in size"
                )));
            }
            Some((h0, h1))
        };
        for (i, c) in (c0..=c1).enumerate() {
            let host_port = match hosts {
                None => String::new(),
                Some((h0, h1)) if h0 == h1 && c0 != c1 => {
                    return Err(invalid(format!(
                        "-p {spec}: one host port for a range of container ports"
                    )))
                }
                Some((h0, _)) => (h0 + i as u16).to_string(),
            };
            out.entry(format!("{c}/{proto}"))
                .or_default()
                .push(PortBinding {
                    host_ip: ip.to_string(),
                    host_port,
                });
        }
    }
    Ok(out)
}

/// `--expose 80`, `--expose 8000-8010/udp`: the `ExposedPorts` keys.
pub fn parse_expose(specs: &[String]) -> Result<Vec<String>, ContainerError> {
    let mut out = Vec::new();
    for spec in specs {
        let (ports, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
        if !matches!(proto, "tcp" | "udp") {
            return Err(invalid(format!(
                "--expose {spec}: protocol `{proto}`: use tcp or udp"
            )));
        }
        let (a, b) = range(spec, ports)?;
        out.extend((a..=b).map(|p| format!("{p}/{proto}")));
    }
    Ok(out)
}

/// One published port as bound at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub proto: String,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

/// Who holds a TCP/UDP port on the host, from /proc (best effort): `pid (command)`.
fn holder(proto: &str, port: u16) -> Option<String> {
    let table = std::fs::read_to_string(format!("/proc/net/{proto}")).ok()?;
    let inode = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local = f.get(1)?;
        let p = u16::from_str_radix(local.split(':').nth(1)?, 16).ok()?;
        (p == port).then(|| f.get(9).map(|s| s.to_string()))?
    })?;
    let wanted = format!("socket:[{inode}]");
    for p in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == wanted) {
                let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                return Some(format!(
                    "{} ({})",
                    p.file_name().to_string_lossy(),
                    comm.trim()
                ));
            }
        }
    }
    None
}

/// Binds every host port of `bindings` (`-P` adds each exposed port without a binding on a
/// random port). Returns the ports as bound and the sockets that hold them; on any failure
/// nothing stays bound.
pub fn bind_all(
    bindings: &BTreeMap<String, Vec<PortBinding>>,
    exposed: &[String],
    publish_all: bool,
) -> Result<(Vec<Published>, Vec<OwnedFd>), ContainerError> {
    use rustix::net::{AddressFamily, SocketType};
    let mut wanted: Vec<(String, Ipv4Addr, u16, u16)> = Vec::new();
    let mut all = bindings.clone();
    if publish_all {
        for e in exposed {
            all.entry(e.clone())
                .or_insert_with(|| vec![PortBinding::default()]);
        }
    }
    for (key, list) in &all {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let Ok(cport) = port.parse::<u16>() else {
            continue;
        };
        for b in list {
            let ip: Ipv4Addr = if b.host_ip.is_empty() {
                Ipv4Addr::UNSPECIFIED
            } else {
                b.host_ip
                    .parse()
                    .map_err(|_| invalid(format!("host address {} is not IPv4", b.host_ip)))?
            };
            let hport: u16 = if b.host_port.is_empty() {
                0
            } else {
                b.host_port
                    .parse()
                    .map_err(|_| invalid(format!("host port {}", b.host_port)))?
            };
            wanted.push((proto.to_string(), ip, hport, cport));
        }
    }
    let mut published = Vec::new();
    let mut held = Vec::new();
    for (proto, ip, hport, cport) in wanted {
        let typ = if proto == "udp" {
            SocketType::DGRAM
        } else {
            SocketType::STREAM
        };
        let sock = rustix::net::socket_with(
            AddressFamily::INET,
            typ,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| invalid(format!("a socket for port {hport}/{proto}: {e}")))?;
        let addr = SocketAddrV4::new(ip, hport);
        if let Err(e) = rustix::net::bind(&sock, &addr) {
            let who = if e == rustix::io::Errno::ADDRINUSE {
                holder(&proto, hport)
                    .map(|h| format!(" (held by process {h})"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            return Err(invalid(format!(
                "cannot publish {ip}:{hport}/{proto}: {e}{who}; pick another host port"
            )));
        }
        let bound = match rustix::net::getsockname(&sock) {
            Ok(a) => std::net::SocketAddr::try_from(a)
                .map(|a| a.port())
                .unwrap_or(hport),
            Err(_) => hport,
        };
        published.push(Published {
            proto,
            host_ip: ip,
            host_port: bound,
            container_port: cport,
        });
        held.push(sock);
    }
    Ok((published, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn publish_specs() {
        let b = parse_publish(&specs(&[
            "8080:80",
            "127.0.0.1:5353:53/udp",
            "9000",
            "7000-7001:70-71",
        ]))
        .unwrap();
        assert_eq!(
            b["80/tcp"],
            vec![PortBinding {
                host_ip: "".into(),
                host_port: "8080".into()
            }]
        );
        assert_eq!(b["53/udp"][0].host_ip, "127.0.0.1");
        assert_eq!(b["9000/tcp"][0].host_port, "");
        assert_eq!(b["71/tcp"][0].host_port, "7001");
        for bad in [
            "80/sctp",
            "x:80",
            "1:2:3:4",
            "0",
            "8000-8002:80-81",
            "[::1]:80:80",
        ] {
            assert!(parse_publish(&specs(&[bad])).is_err(), "{bad}");
        }
        assert_eq!(
            parse_expose(&specs(&["80", "5000-5001/udp"])).unwrap(),
            vec!["80/tcp", "5000/udp", "5001/udp"]
        );
    }

    #[test]
    fn random_ports_are_distinct_and_a_taken_port_is_named() {
        let mut b = BTreeMap::new();
        b.insert(
            "80/tcp".to_string(),
            vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: String::new(),
            }],
        );
        let (p1, _h1) = bind_all(&b, &[], false).unwrap();
        let (p2, _h2) = bind_all(&b, &[], false).unwrap();
        assert_ne!(p1[0].host_port, p2[0].host_port);
        assert_ne!(p1[0].host_port, 0);
        // The port p1 holds cannot be published again.
        let mut taken = BTreeMap::new();
        taken.insert(
            "80/tcp".to_string(),
            vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: p1[0].host_port.to_string(),
            }],
        );
        let e = bind_all(&taken, &[], false).unwrap_err().to_string();
        assert!(
            e.contains("cannot publish") && e.contains(&p1[0].host_port.to_string()),
            "{e}"
        );
        // -P publishes the exposed ports.
        let (all, _h) = bind_all(&BTreeMap::new(), &["53/udp".to_string()], true).unwrap();
        assert_eq!((all[0].proto.as_str(), all[0].container_port), ("udp", 53));
    }
}
