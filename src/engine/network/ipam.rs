//! Address management: IPv4 subnets, the pools new networks take their subnets from (never
//! overlapping another network or a route the host has), the addresses containers get, and
//! MAC addresses derived from them as Docker does (02:42 then the four address bytes).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// An IPv4 subnet, `addr` being its network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Subnet {
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix as u32)
        }
    }

    /// `172.18.0.0/16`; the address must be the subnet's first (no host bits).
    pub fn parse(text: &str) -> Result<Subnet, String> {
        let bad = || format!("`{text}` is not an IPv4 subnet (use e.g. 172.30.0.0/24)");
        let (a, p) = text.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        let net = Ipv4Addr::from(u32::from(addr) & Subnet::mask(prefix));
        if net != addr {
            return Err(format!(
                "`{text}` has host bits set: the subnet is {net}/{prefix}"
            ));
        }
        Ok(Subnet { addr, prefix })
    }

    /// The subnet of `prefix` bits that holds `ip` (`172.18.0.1`, 16: `172.18.0.0/16`).
    pub fn containing(ip: Ipv4Addr, prefix: u8) -> Option<Subnet> {
        (prefix <= 32).then(|| Subnet {
            addr: Ipv4Addr::from(u32::from(ip) & Subnet::mask(prefix)),
            prefix,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Subnet::mask(self.prefix) == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        let m = Subnet::mask(p);
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }

    /// The `n`th address of the subnet (0 is the network address).
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - self.prefix as u32);
        (u64::from(n) < size).then(|| Ipv4Addr::from(u32::from(self.addr) + n))
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !Subnet::mask(self.prefix))
    }

    /// The subnets of `size` that this one splits into, in order.
    pub fn split(&self, size: u8) -> impl Iterator<Item = Subnet> + '_ {
        let count = if size < self.prefix {
            0
        } else {
            1u64 << (size - self.prefix)
        };
        let step = 1u64 << (32 - size as u32);
        (0..count).map(move |i| Subnet {
            addr: Ipv4Addr::from((u64::from(u32::from(self.addr)) + i * step) as u32),
            prefix: size,
        })
    }
}

/// Where new networks take their subnets from (Docker's `default-address-pools`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub base: String,
    pub size: u8,
}

/// The default pools: /24s from 172.18.0.0/16 to 172.31.0.0/16, then from 192.168.0.0/16.
pub fn default_pools() -> Vec<Pool> {
    let mut pools: Vec<Pool> = (18..=31)
        .map(|b| Pool {
            base: format!("172.{b}.0.0/16"),
            size: 24,
        })
        .collect();
    pools.push(Pool {
        base: "192.168.0.0/16".into(),
        size: 24,
    });
    pools
}

/// The first subnet of the pools that overlaps nothing in `taken`.
pub fn pick_subnet(pools: &[Pool], taken: &[Subnet]) -> Result<Option<Subnet>, String> {
    for pool in pools {
        let base = Subnet::parse(&pool.base)?;
        if pool.size < base.prefix || pool.size > 30 {
            return Err(format!(
                "address pool {}: size {} must be between {} and 30",
                pool.base, pool.size, base.prefix
            ));
        }
        let found = base
            .split(pool.size)
            .find(|s| !taken.iter().any(|t| t.overlaps(s)));
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The first free host address (after the network address), skipping the gateway, the
/// broadcast address and `used`.
pub fn pick_address(subnet: &Subnet, gateway: Ipv4Addr, used: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    let mut n = 1;
    while let Some(ip) = subnet.nth(n) {
        if ip == subnet.broadcast() {
            return None;
        }
        if ip != gateway && !used.contains(&ip) {
            return Some(ip);
        }
        n += 1;
    }
    None
}

/// Docker's MAC for an address: 02:42 and the address's four bytes.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_contain_and_overlap() {
        let s = Subnet::parse("172.18.0.0/16").unwrap();
        assert!(s.contains("172.18.3.4".parse().unwrap()));
        assert!(!s.contains("172.19.0.1".parse().unwrap()));
        assert!(s.overlaps(&Subnet::parse("172.18.5.0/24").unwrap()));
        assert!(!s.overlaps(&Subnet::parse("172.19.0.0/24").unwrap()));
        assert!(Subnet::parse("172.18.0.1/16")
            .unwrap_err()
            .contains("172.18.0.0/16"));
        assert!(Subnet::parse("172.18.0.0").is_err());
        assert_eq!(s.broadcast(), "172.18.255.255".parse::<Ipv4Addr>().unwrap());
    }

    #[test]
    fn subnets_come_from_the_pools_around_what_is_taken() {
        let pools = default_pools();
        let taken = vec![
            Subnet::parse("172.18.0.0/24").unwrap(),
            Subnet::parse("172.18.1.0/24").unwrap(),
        ];
        assert_eq!(
            pick_subnet(&pools, &taken).unwrap().unwrap().to_string(),
            "172.18.2.0/24"
        );
        // A host route over the whole first pool moves on to the next.
        let taken = vec![Subnet::parse("172.16.0.0/12").unwrap()];
        assert_eq!(
            pick_subnet(&pools, &taken).unwrap().unwrap().to_string(),
            "192.168.0.0/24"
        );
        let bad = vec![Pool {
            base: "10.0.0.0/8".into(),
            size: 4,
        }];
        assert!(pick_subnet(&bad, &[]).is_err());
    }

    #[test]
    fn addresses_skip_the_gateway_and_used_ones() {
        let s = Subnet::parse("10.1.0.0/30").unwrap();
        let gw: Ipv4Addr = "10.1.0.1".parse().unwrap();
        assert_eq!(pick_address(&s, gw, &[]), Some("10.1.0.2".parse().unwrap()));
        assert_eq!(pick_address(&s, gw, &["10.1.0.2".parse().unwrap()]), None);
        assert_eq!(
            mac_text(mac_of("172.17.0.2".parse().unwrap())),
            "02:42:ac:11:00:02"
        );
    }
}
