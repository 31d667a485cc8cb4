//! Port short syntax: `[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]`, parsed the way
//! Docker's `nat.ParsePortSpec` (which compose-go calls) parses it. OWNER: helper H4.
//!
//! * `80`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80` (random host port on that IP);
//! * IPv6 host IPs as `[::1]:8080:80` or bare `::1:8080:80` (the last two fields are the
//!   ports, everything before them is the IP);
//! * ranges: `8000-8010:8000-8010` expands to one [`Port`] per container port; a host range
//!   for a single container port (`8000-8010:80`) stays one entry published as `8000-8010`;
//! * protocol suffix `/tcp` (default), `/udp`, `/sctp`, case-insensitive.
//!
//! Like compose-go, the entries of one spec come out sorted by their `port/proto` key as a
//! string (so `9999-10000` yields 10000 before 9999).

use std::net::IpAddr;

use crate::stack::model::Port;

/// The protocols the engine accepts.
pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "sctp"];

/// Parses one short-syntax entry; a container port range yields one [`Port`] per port.
pub fn parse_short(spec: &str) -> Result<Vec<Port>, String> {
    if spec.chars().any(char::is_control) {
        return Err(format!(
            "port {spec:?} contains a control character; remove it"
        ));
    }
    let (ip, host, container) = split_parts(spec);
    let (container, proto) = match container.split_once('/') {
        Some((port, proto)) => (port, proto),
        None => (container, ""),
    };
    if container.is_empty() {
        return Err(format!(
            "port `{spec}` names no container port; expected \
             [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. `8080:80`"
        ));
    }
    let protocol = parse_protocol(if proto.is_empty() { "tcp" } else { proto })
        .map_err(|e| format!("port `{spec}`: {e}"))?;
    let host_ip = parse_host_ip(&ip).map_err(|e| format!("port `{spec}`: {e}"))?;

    let (start, end) = parse_port_range(container)
        .map_err(|e| format!("port `{spec}`: invalid container port `{container}`: {e}"))?;
    let host_range = if host.is_empty() {
        None
    } else {
        let range = parse_port_range(host)
            .map_err(|e| format!("port `{spec}`: invalid host port `{host}`: {e}"))?;
        if end - start != range.1 - range.0 && start != end {
            return Err(format!(
                "port `{spec}`: the container range `{container}` and the host range `{host}` \
                 differ in size; give ranges of the same length, or a single container port"
            ));
        }
        Some(range)
    };

    let count = u32::from(end - start) + 1;
    let mut ports: Vec<Port> = (0..count)
        .map(|i| {
            let target = u32::from(start) + i;
            let published = host_range.map(|(hs, he)| {
                let first = u32::from(hs) + i;
                if count == 1 && hs != he {
                    format!("{first}-{he}")
                } else {
                    first.to_string()
                }
            });
            Port {
                name: None,
                mode: "ingress".to_string(),
                host_ip: host_ip.clone(),
                // `target` never exceeds `end`, a u16.
                target: u16::try_from(target).unwrap_or(u16::MAX),
                published,
                protocol: protocol.clone(),
                app_protocol: None,
            }
        })
        .collect();
    ports.sort_by_key(|p| format!("{}/{}", p.target, p.protocol));
    Ok(ports)
}

/// Splits on `:` the way `nat.ParsePortSpec` does: the last field is the container port, the
/// one before it the host port, and everything before that (colons included) the host IP.
fn split_parts(spec: &str) -> (String, &str, &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [container] => (String::new(), "", container),
        [host, container] => (String::new(), host, container),
        [ip @ .., host, container] => (ip.join(":"), host, container),
        [] => (String::new(), "", ""),
    }
}

/// Validates a host IP (brackets around IPv6 allowed); `None` when empty.
fn parse_host_ip(ip: &str) -> Result<Option<String>, String> {
    if ip.is_empty() {
        return Ok(None);
    }
    let bare = if let Some(inner) = ip.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .ok_or_else(|| format!("invalid host IP `{ip}`: missing `]`"))?
    } else {
        ip
    };
    bare.parse::<IpAddr>()
        .map_err(|_| format!("invalid host IP address `{ip}`"))?;
    Ok(Some(bare.to_string()))
}

/// Validates a protocol (`tcp`, `udp`, `sctp`, any case) and returns it lower-cased.
pub fn parse_protocol(proto: &str) -> Result<String, String> {
    let lower = proto.to_ascii_lowercase();
    if PROTOCOLS.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!(
            "invalid protocol `{proto}`; use one of {}",
            PROTOCOLS.join(", ")
        ))
    }
}

/// Parses a port number, 1 to 65535 (long-syntax `target`, `expose` entries).
pub fn parse_port_number(s: &str) -> Result<u16, String> {
    if s.is_empty() {
        return Err("empty port number".to_string());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` is not a port number"));
    }
    match s.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!("port `{s}` is out of range; use 1 to 65535")),
    }
}

/// Parses `PORT` or `START-END` (END >= START), each 1 to 65535.
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        None => parse_port_number(s).map(|p| (p, p)),
        Some((a, b)) => {
            let start = parse_port_number(a)?;
            let end = parse_port_number(b)?;
            if end < start {
                return Err(format!(
                    "range `{s}` ends before it starts; write the lower port first"
                ));
            }
            Ok((start, end))
        }
    }
}

/// Validates a long-syntax `published` value (`8080` or a range `8000-8010`) and returns it
/// as written.
pub fn parse_published(s: &str) -> Result<String, String> {
    parse_port_range(s).map_err(|e| format!("invalid published port `{s}`: {e}"))?;
    Ok(s.to_string())
}

/// Validates an `expose` entry: `PORT[-PORT][/PROTO]`.
pub fn validate_expose(s: &str) -> Result<(), String> {
    let (ports, proto) = match s.split_once('/') {
        Some((p, proto)) => (p, Some(proto)),
        None => (s, None),
    };
    parse_port_range(ports).map_err(|e| format!("invalid exposed port `{s}`: {e}"))?;
    if let Some(proto) = proto {
        parse_protocol(proto).map_err(|e| format!("invalid exposed port `{s}`: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> Port {
        let mut ports = parse_short(spec).unwrap();
        assert_eq!(ports.len(), 1, "{spec}");
        ports.remove(0)
    }

    fn port(ip: Option<&str>, target: u16, published: Option<&str>, proto: &str) -> Port {
        Port {
            name: None,
            mode: "ingress".into(),
            host_ip: ip.map(str::to_string),
            target,
            published: published.map(str::to_string),
            protocol: proto.into(),
            app_protocol: None,
        }
    }

    #[test]
    fn single_forms() {
        assert_eq!(one("80"), port(None, 80, None, "tcp"));
        assert_eq!(one("8080:80"), port(None, 80, Some("8080"), "tcp"));
        assert_eq!(
            one("127.0.0.1:8080:80"),
            port(Some("127.0.0.1"), 80, Some("8080"), "tcp")
        );
        assert_eq!(
            one("127.0.0.1::80"),
            port(Some("127.0.0.1"), 80, None, "tcp")
        );
        assert_eq!(
            one("[::1]:8080:80"),
            port(Some("::1"), 80, Some("8080"), "tcp")
        );
        assert_eq!(
            one("::1:8080:80"),
            port(Some("::1"), 80, Some("8080"), "tcp")
        );
        assert_eq!(one("[::1]::80"), port(Some("::1"), 80, None, "tcp"));
        assert_eq!(one("6060:6060/udp"), port(None, 6060, Some("6060"), "udp"));
        assert_eq!(one("5000/SCTP"), port(None, 5000, None, "sctp"));
        assert_eq!(one("80/"), port(None, 80, None, "tcp"));
    }

    #[test]
    fn ranges() {
        let ports = parse_short("8000-8002:9000-9002").unwrap();
        assert_eq!(
            ports,
            vec![
                port(None, 9000, Some("8000"), "tcp"),
                port(None, 9001, Some("8001"), "tcp"),
                port(None, 9002, Some("8002"), "tcp"),
            ]
        );
        let ports = parse_short("9090-9091:8080-8081").unwrap();
        assert_eq!(ports[1], port(None, 8081, Some("9091"), "tcp"));
        assert_eq!(
            parse_short("8000-8010:80").unwrap(),
            vec![port(None, 80, Some("8000-8010"), "tcp")]
        );
        let ports = parse_short("3000-3002").unwrap();
        assert_eq!(ports.len(), 3);
        assert!(ports.iter().all(|p| p.published.is_none()));
        // compose-go sorts by the `port/proto` string.
        let targets: Vec<u16> = parse_short("9999-10000")
            .unwrap()
            .iter()
            .map(|p| p.target)
            .collect();
        assert_eq!(targets, vec![10000, 9999]);
    }

    #[test]
    fn errors_name_the_bad_part() {
        let e = parse_short("8000-8010:80-81").unwrap_err();
        assert!(e.contains("differ in size"), "{e}");
        let e = parse_short("0").unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        let e = parse_short("70000:80").unwrap_err();
        assert!(e.contains("host port `70000`"), "{e}");
        let e = parse_short("80:65536").unwrap_err();
        assert!(e.contains("container port `65536`"), "{e}");
        let e = parse_short("80/icmp").unwrap_err();
        assert!(e.contains("`icmp`"), "{e}");
        let e = parse_short("1.2.3:80:80").unwrap_err();
        assert!(e.contains("`1.2.3`"), "{e}");
        let e = parse_short("[::1:80:80").unwrap_err();
        assert!(e.contains("host IP"), "{e}");
        let e = parse_short("8080:").unwrap_err();
        assert!(e.contains("no container port"), "{e}");
        let e = parse_short("abc").unwrap_err();
        assert!(e.contains("`abc`"), "{e}");
        let e = parse_short("90-80").unwrap_err();
        assert!(e.contains("ends before it starts"), "{e}");
        let e = parse_short("80\n").unwrap_err();
        assert!(e.contains("control character"), "{e}");
        assert!(parse_short("-80").is_err());
        assert!(parse_short("+80").is_err());
    }

    #[test]
    fn long_syntax_helpers() {
        assert_eq!(parse_port_number("443"), Ok(443));
        assert!(parse_port_number("0").unwrap_err().contains("out of range"));
        assert!(parse_port_number("99999").unwrap_err().contains("99999"));
        assert!(parse_port_number("").is_err());
        assert_eq!(parse_published("8080"), Ok("8080".to_string()));
        assert_eq!(parse_published("8000-8010"), Ok("8000-8010".to_string()));
        assert!(parse_published("x").unwrap_err().contains("`x`"));
        assert!(validate_expose("3000").is_ok());
        assert!(validate_expose("3000-3005/udp").is_ok());
        assert!(validate_expose("3000/xyz").unwrap_err().contains("xyz"));
        assert_eq!(parse_protocol("UDP"), Ok("udp".to_string()));
    }
}
