//! `extra_hosts` entries (`host:ip`, `host=ip`, IPv6 `host:::1`, `host=::1`, `host:[::1]`,
//! `host-gateway`), DNS server entries and host names. OWNER: helper H4.
//!
//! As in compose-go's `HostsList`, `=` is tried as the separator before `:`, so `host=::1`
//! and `host:::1` both map `host` to `::1`; brackets around the IP are removed. Compose
//! prints entries as `host=ip`, sorted (see [`ExtraHost`]'s serialization).

use std::net::IpAddr;

use crate::stack::model::ExtraHost;

/// The special `extra_hosts` value the engine replaces with the host's gateway IP.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Parses one `host:ip` / `host=ip` entry.
pub fn parse_extra_host(s: &str) -> Result<ExtraHost, String> {
    let (host, ip) = split_entry(s)?;
    extra_host(host, ip)
}

/// Parses an entry that may map a host to several IPs (`host=10.0.0.1,10.0.0.2`), as
/// compose-go accepts; one [`ExtraHost`] per IP.
pub fn parse_extra_hosts(s: &str) -> Result<Vec<ExtraHost>, String> {
    let (host, ips) = split_entry(s)?;
    ips.split(',').map(|ip| extra_host(host, ip)).collect()
}

fn split_entry(s: &str) -> Result<(&str, &str), String> {
    s.split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(|| {
            format!("extra host `{s}` is missing an IP; write `HOST=IP`, e.g. `db=10.0.0.5`")
        })
}

/// Builds an entry from the mapping form (`extra_hosts: {host: ip}`), validating both parts.
pub fn extra_host(host: &str, ip: &str) -> Result<ExtraHost, String> {
    check_no_control_chars("extra host name", host)?;
    check_no_control_chars("extra host IP", ip)?;
    if host.is_empty() || host.contains([':', '=']) {
        return Err(format!(
            "bad extra host name `{host}`; the name must be non-empty and contain no `:` or `=`"
        ));
    }
    let ip = match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
        Some(inner) if !inner.is_empty() => inner,
        _ => ip,
    };
    if ip.is_empty() {
        return Err(format!("extra host `{host}` is missing an IP"));
    }
    if ip != HOST_GATEWAY && ip.parse::<IpAddr>().is_err() {
        return Err(format!(
            "extra host `{host}`: `{ip}` is not an IP address (nor `{HOST_GATEWAY}`)"
        ));
    }
    Ok(ExtraHost {
        host: host.to_string(),
        ip: ip.to_string(),
    })
}

/// A `dns` entry must be an IP address.
pub fn validate_dns_entry(s: &str) -> Result<(), String> {
    check_no_control_chars("DNS server", s)?;
    s.parse::<IpAddr>()
        .map(|_| ())
        .map_err(|_| format!("DNS server `{s}` is not an IP address"))
}

/// Host names and domain names: RFC 1123 labels of letters, digits and `-` (not at either
/// end of a label), each 1 to 63 characters, separated by dots; at most 253 characters; a
/// single trailing dot is allowed.
pub fn validate_hostname(s: &str) -> Result<(), String> {
    check_no_control_chars("host name", s)?;
    if s.is_empty() {
        return Err("empty host name".to_string());
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.len() > 253 {
        return Err(format!(
            "host name `{s}` is {} characters long; the limit is 253",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!(
                "host name `{s}` has a label of {} characters; each dot-separated label \
                 needs 1 to 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "host name `{s}` contains `{c}`; use letters, digits, `-` and `.` (RFC 1123)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "host name `{s}`: the label `{label}` starts or ends with `-` (RFC 1123)"
            ));
        }
    }
    Ok(())
}

/// Rejects control characters (newlines would break `/etc/hosts` or `resolv.conf`).
pub fn check_no_control_chars(what: &str, s: &str) -> Result<(), String> {
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "{what} {s:?} contains the control character {c:?}; remove it"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eh(host: &str, ip: &str) -> ExtraHost {
        ExtraHost {
            host: host.into(),
            ip: ip.into(),
        }
    }

    #[test]
    fn entries() {
        assert_eq!(parse_extra_host("db:10.0.0.5"), Ok(eh("db", "10.0.0.5")));
        assert_eq!(parse_extra_host("db=10.0.0.5"), Ok(eh("db", "10.0.0.5")));
        assert_eq!(parse_extra_host("v6:::1"), Ok(eh("v6", "::1")));
        assert_eq!(parse_extra_host("v6=::1"), Ok(eh("v6", "::1")));
        assert_eq!(parse_extra_host("v6:[::1]"), Ok(eh("v6", "::1")));
        assert_eq!(
            parse_extra_host("v6=[2003:ab34:e::1]"),
            Ok(eh("v6", "2003:ab34:e::1"))
        );
        assert_eq!(
            parse_extra_host("v4=[192.168.0.1]"),
            Ok(eh("v4", "192.168.0.1"))
        );
        assert_eq!(
            parse_extra_host("host.docker.internal:host-gateway"),
            Ok(eh("host.docker.internal", "host-gateway"))
        );
        assert_eq!(
            parse_extra_hosts("foo=127.0.0.2,127.0.0.3"),
            Ok(vec![eh("foo", "127.0.0.2"), eh("foo", "127.0.0.3")])
        );
        assert_eq!(extra_host("a", "[::1]"), Ok(eh("a", "::1")));
    }

    #[test]
    fn entry_errors_name_the_bad_part() {
        assert!(parse_extra_host("nohost")
            .unwrap_err()
            .contains("missing an IP"));
        assert!(parse_extra_host("=::1")
            .unwrap_err()
            .contains("bad extra host name ``"));
        assert!(parse_extra_host("::::1")
            .unwrap_err()
            .contains("bad extra host name"));
        assert!(parse_extra_host("db:notanip")
            .unwrap_err()
            .contains("`notanip`"));
        assert!(parse_extra_host("db=")
            .unwrap_err()
            .contains("missing an IP"));
        assert!(parse_extra_host("db=10.0.0.1,10.0.0.2").is_err());
        let e = parse_extra_host("db\n:10.0.0.1").unwrap_err();
        assert!(e.contains("control character"), "{e}");
        let e = parse_extra_host("db:10.0.0.1\n").unwrap_err();
        assert!(e.contains("control character"), "{e}");
        assert!(parse_extra_hosts("a=1.2.3.4,x")
            .unwrap_err()
            .contains("`x`"));
    }

    #[test]
    fn dns_entries() {
        assert!(validate_dns_entry("8.8.8.8").is_ok());
        assert!(validate_dns_entry("2001:4860:4860::8888").is_ok());
        assert!(validate_dns_entry("dns.google")
            .unwrap_err()
            .contains("`dns.google`"));
        assert!(validate_dns_entry("8.8.8.8\n")
            .unwrap_err()
            .contains("control"));
    }

    #[test]
    fn hostnames() {
        assert!(validate_hostname("web").is_ok());
        assert!(validate_hostname("web-1.example.com").is_ok());
        assert!(validate_hostname("example.com.").is_ok());
        assert!(validate_hostname("").is_err());
        assert!(validate_hostname("a_b").unwrap_err().contains("`_`"));
        assert!(validate_hostname("-a").unwrap_err().contains("`-a`"));
        assert!(validate_hostname("a..b").unwrap_err().contains("label"));
        assert!(validate_hostname(&"a".repeat(64))
            .unwrap_err()
            .contains("64"));
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(validate_hostname(&long).unwrap_err().contains("253"));
        assert!(validate_hostname("web\nevil")
            .unwrap_err()
            .contains("control"));
    }
}
