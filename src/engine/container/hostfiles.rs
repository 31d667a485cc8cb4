//! The settings berth writes into a container's /etc/hostname, /etc/hosts and
//! /etc/resolv.conf (`--hostname`, `--add-host`, `--dns`), checked: one line each holds one
//! entry, so a control character (a newline above all) or a blank would add entries of the
//! user's making, and a resolver or an address must be an IP address. Checked at create, and
//! again at each start for records written before these checks.

use std::net::IpAddr;

use super::config::ContainerConfig;
use super::ContainerError;

/// The kernel's limit on a host name (`HOST_NAME_MAX`).
const HOST_NAME_MAX: usize = 64;

/// The special `--add-host` address that stands for the network's gateway.
pub const HOST_GATEWAY: &str = "host-gateway";

fn invalid(message: String) -> ContainerError {
    ContainerError::Invalid(message)
}

/// Refuses control characters and blanks in `value` of `flag`.
fn one_word(flag: &str, value: &str) -> Result<(), ContainerError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(invalid(format!(
            "{flag} {value:?} contains the control character {c:?}; remove it"
        )));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(invalid(format!(
            "{flag} {value:?} contains a blank; give one name without spaces"
        )));
    }
    Ok(())
}

/// `--add-host NAME:IP` (or `NAME=IP`; the IP may be in brackets, or `host-gateway`): the
/// name and the address, checked.
pub fn extra_host(entry: &str) -> Result<(&str, &str), ContainerError> {
    let (name, ip) = entry
        .split_once('=')
        .or_else(|| entry.split_once(':'))
        .ok_or_else(|| {
            invalid(format!(
                "--add-host {entry:?}: use NAME:IP (or NAME=IP), e.g. db:10.0.0.5"
            ))
        })?;
    one_word("--add-host", entry)?;
    if name.is_empty() || name.contains(':') {
        return Err(invalid(format!(
            "--add-host {entry:?}: the name must be non-empty and without `:`"
        )));
    }
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    if ip != HOST_GATEWAY && ip.parse::<IpAddr>().is_err() {
        return Err(invalid(format!(
            "--add-host {entry:?}: `{ip}` is not an IP address (nor {HOST_GATEWAY})"
        )));
    }
    Ok((name, ip))
}

/// Checks the hostname, the extra hosts and the resolvers of a container's settings.
pub fn check(cfg: &ContainerConfig) -> Result<(), ContainerError> {
    if !cfg.hostname.is_empty() {
        one_word("--hostname", &cfg.hostname)?;
        if cfg.hostname.len() > HOST_NAME_MAX {
            return Err(invalid(format!(
                "--hostname {}: {} bytes long; the kernel takes at most {HOST_NAME_MAX}",
                cfg.hostname,
                cfg.hostname.len()
            )));
        }
    }
    for h in &cfg.host.extra_hosts {
        extra_host(h)?;
    }
    for d in &cfg.host.dns {
        one_word("--dns", d)?;
        if d.parse::<IpAddr>().is_err() {
            return Err(invalid(format!(
                "--dns {d}: not an IP address; give the resolver's address"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_hosts() {
        assert_eq!(extra_host("db:10.0.0.5").unwrap(), ("db", "10.0.0.5"));
        assert_eq!(extra_host("db=10.0.0.5").unwrap(), ("db", "10.0.0.5"));
        assert_eq!(extra_host("v6:::1").unwrap(), ("v6", "::1"));
        assert_eq!(extra_host("v6=::1").unwrap(), ("v6", "::1"));
        assert_eq!(extra_host("v6:[::1]").unwrap(), ("v6", "::1"));
        assert_eq!(
            extra_host("gw:host-gateway").unwrap(),
            ("gw", "host-gateway")
        );
        for bad in [
            "db:10.0.0.5\n6.6.6.6 evil",
            "db\n6.6.6.6 evil:10.0.0.5",
            "db\r:10.0.0.5",
            "d\u{85}b:10.0.0.5",
            "two names:10.0.0.5",
            "db:10.0.0.5 6.6.6.6",
            "db:name.example",
            ":10.0.0.5",
            "db",
        ] {
            assert!(extra_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostnames_and_resolvers() {
        let mut cfg = ContainerConfig {
            hostname: "web-1.example".into(),
            ..Default::default()
        };
        cfg.host.dns = vec!["9.9.9.9".into(), "2620:fe::fe".into()];
        check(&cfg).unwrap();
        for bad in [
            "h\n6.6.6.6 bank",
            "h\r",
            "h\u{1b}[31m",
            "a b",
            &"x".repeat(65),
        ] {
            cfg.hostname = bad.into();
            let e = check(&cfg).unwrap_err().to_string();
            assert!(e.contains("--hostname"), "{e}");
        }
        cfg.hostname.clear();
        for bad in [
            "1.1.1.1\nnameserver 6.6.6.6",
            "resolver.example",
            "1.1.1.1 ",
        ] {
            cfg.host.dns = vec![bad.into()];
            let e = check(&cfg).unwrap_err().to_string();
            assert!(e.contains("--dns"), "{e}");
        }
    }
}
