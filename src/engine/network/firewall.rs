//! berth's firewall: one nftables table of its own (`ip berth`), never touching other tables.
//! The whole table is rebuilt from the networks berth has and applied as one atomic nft
//! transaction, so there is no rule to search for and nothing half-applied: removing the last
//! network removes the table.
//!
//! Per network (bridge `B`, subnet `S`), chains jumped to from `forward`:
//! - `in-B`, for packets routed into `B` (checked first, for every network): traffic between
//!   its containers is accepted; unless the network is `--internal`, so are replies and
//!   DNATed (published) traffic; everything else is dropped, so outside hosts and other
//!   networks cannot reach the containers directly;
//! - `out-B`, for packets leaving `B`: accepted, or dropped for an `--internal` network;
//!
//! and in `postrouting`, traffic from `S` leaving through another interface is masqueraded.
//! In `input`, DNS queries for a network's gateway (its DNS server) that arrive through
//! another network's bridge are dropped: a container answers to its own network's server
//! only (the server checks the source address as well).
//! Rules are built as nft JSON and checked against the `nftables` crate's schema types.

use serde_json::{json, Value};

use super::ipam::Subnet;

pub const TABLE: &str = "berth";

/// What the firewall needs to know of one network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRules {
    pub bridge: String,
    pub subnet: Subnet,
    /// The bridge's address, where the network's DNS server listens.
    pub gateway: std::net::Ipv4Addr,
    pub internal: bool,
}

/// One published port: traffic to `host_ip:host_port` (every local address when
/// unspecified) goes to `container_ip:container_port` on `bridge`.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRule {
    pub proto: String,
    pub host_ip: std::net::Ipv4Addr,
    pub host_port: u16,
    pub container_ip: std::net::Ipv4Addr,
    pub container_port: u16,
    pub bridge: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft (install the nftables package): {0}")]
    Nft(#[from] nftables::helper::NftablesError),
    #[error("the ruleset berth built does not match nft's schema: {0}")]
    Schema(#[from] serde_json::Error),
}

fn table() -> Value {
    json!({"family": "ip", "name": TABLE})
}

fn rule(chain: &str, expr: Vec<Value>) -> Value {
    json!({"add": {"rule": {"family": "ip", "table": TABLE, "chain": chain, "expr": expr}}})
}

fn is(key: &str, value: &str) -> Value {
    json!({"match": {"op": "==", "left": {"meta": {"key": key}}, "right": value}})
}

fn is_not(key: &str, value: &str) -> Value {
    json!({"match": {"op": "!=", "left": {"meta": {"key": key}}, "right": value}})
}

fn verdict(v: &str) -> Value {
    json!({ v: null })
}

fn local_daddr() -> Value {
    json!({"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}},
                     "right": "local"}})
}

fn daddr(op: &str, addr: &str, len: Option<u32>) -> Value {
    let right = match len {
        Some(l) => json!({"prefix": {"addr": addr, "len": l}}),
        None => json!(addr),
    };
    json!({"match": {"op": op, "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                     "right": right}})
}

/// DNAT for published ports, from outside (`prerouting`) and from the host itself
/// (`output`), with what 127.0.0.1 needs: a masquerade for loopback sources leaving through
/// the bridge, and (in `input`) a drop of anything for 127.0.0.0/8 that arrives on another
/// interface than `lo` (route_localnet must never expose the host's loopback services).
fn port_rules(cmds: &mut Vec<Value>, ports: &[PortRule]) {
    cmds.push(
        json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": "prerouting",
        "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}}),
    );
    cmds.push(
        json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": "output",
        "type": "nat", "hook": "output", "prio": -100, "policy": "accept"}}}),
    );
    cmds.push(
        json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": "input",
        "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}}),
    );
    // Replies of DNATed loopback connections are un-NATed to 127.0.0.1 on the bridge: they
    // belong to a connection the host opened, so established traffic passes.
    cmds.push(rule(
        "input",
        vec![
            is_not("iifname", "lo"),
            daddr("==", "127.0.0.0", Some(8)),
            json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
                              "right": ["established", "related"]}}),
            verdict("accept"),
        ],
    ));
    cmds.push(rule(
        "input",
        vec![
            is_not("iifname", "lo"),
            daddr("==", "127.0.0.0", Some(8)),
            verdict("drop"),
        ],
    ));
    let mut bridges: Vec<&str> = Vec::new();
    for p in ports {
        let dport = json!({"match": {"op": "==",
            "left": {"payload": {"protocol": p.proto, "field": "dport"}}, "right": p.host_port}});
        let dnat = json!({"dnat": {"addr": p.container_ip.to_string(), "port": p.container_port}});
        let host = p.host_ip.to_string();
        if p.host_ip.is_unspecified() {
            cmds.push(rule(
                "prerouting",
                vec![
                    local_daddr(),
                    daddr("!=", "127.0.0.0", Some(8)),
                    dport.clone(),
                    dnat.clone(),
                ],
            ));
            cmds.push(rule("output", vec![local_daddr(), dport, dnat]));
        } else {
            if !p.host_ip.is_loopback() {
                cmds.push(rule(
                    "prerouting",
                    vec![daddr("==", &host, None), dport.clone(), dnat.clone()],
                ));
            }
            cmds.push(rule("output", vec![daddr("==", &host, None), dport, dnat]));
        }
        if !bridges.contains(&p.bridge.as_str()) {
            bridges.push(&p.bridge);
        }
    }
    for b in bridges {
        cmds.push(rule(
            "postrouting",
            vec![
                json!({"match": {"op": "==",
                    "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                    "right": {"prefix": {"addr": "127.0.0.0", "len": 8}}}}),
                is("oifname", b),
                verdict("masquerade"),
            ],
        ));
        // A container reaching a published port of its own network through the host.
        cmds.push(rule(
            "postrouting",
            vec![
                is("iifname", b),
                is("oifname", b),
                json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                verdict("masquerade"),
            ],
        ));
    }
}

/// Drops queries for a network's DNS server (its gateway, port 53) from any interface but
/// its bridge and the host's loopback (the `input` chain is made by [`port_rules`]). A
/// packet from another bridge is routed to the local address, not forwarded, so the
/// `in-` chains never see it.
fn dns_rules(cmds: &mut Vec<Value>, networks: &[NetworkRules]) {
    for n in networks {
        for proto in ["udp", "tcp"] {
            cmds.push(rule(
                "input",
                vec![
                    daddr("==", &n.gateway.to_string(), None),
                    json!({"match": {"op": "==",
                        "left": {"payload": {"protocol": proto, "field": "dport"}}, "right": 53}}),
                    is_not("iifname", &n.bridge),
                    is_not("iifname", "lo"),
                    verdict("drop"),
                ],
            ));
        }
    }
}

/// The commands that replace berth's table with one for `networks` and `ports` (no
/// networks: the table goes).
pub fn ruleset(networks: &[NetworkRules], ports: &[PortRule]) -> Value {
    let mut cmds = vec![
        json!({"add": {"table": table()}}),
        json!({"delete": {"table": table()}}),
    ];
    if networks.is_empty() {
        return json!({ "nftables": cmds });
    }
    cmds.push(json!({"add": {"table": table()}}));
    cmds.push(
        json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": "forward",
        "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}}),
    );
    cmds.push(
        json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": "postrouting",
        "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}}),
    );
    // Packets into a network first (every network's `in-` chain), then out of one: a packet
    // from one network to another meets the destination's rules before the source's
    // accept of outbound traffic.
    for n in networks {
        let b = n.bridge.as_str();
        let chain = format!("in-{b}");
        cmds.push(json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": chain}}}));
        cmds.push(rule(
            "forward",
            vec![is("oifname", b), json!({"jump": {"target": chain}})],
        ));
        cmds.push(rule(&chain, vec![is("iifname", b), verdict("accept")]));
        if !n.internal {
            cmds.push(rule(
                &chain,
                vec![
                    json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
                                      "right": ["established", "related"]}}),
                    verdict("accept"),
                ],
            ));
            cmds.push(rule(
                &chain,
                vec![
                    json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                    verdict("accept"),
                ],
            ));
        }
        cmds.push(rule(&chain, vec![verdict("drop")]));
    }
    for n in networks {
        let b = n.bridge.as_str();
        let chain = format!("out-{b}");
        cmds.push(json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": chain}}}));
        cmds.push(rule(
            "forward",
            vec![is("iifname", b), json!({"jump": {"target": chain}})],
        ));
        if n.internal {
            cmds.push(rule(&chain, vec![verdict("drop")]));
            continue;
        }
        cmds.push(rule(&chain, vec![verdict("accept")]));
        cmds.push(rule(
            "postrouting",
            vec![
                json!({"match": {"op": "==",
                    "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                    "right": {"prefix": {"addr": n.subnet.addr.to_string(), "len": n.subnet.prefix}}}}),
                is_not("oifname", b),
                verdict("masquerade"),
            ],
        ));
    }
    port_rules(&mut cmds, ports);
    dns_rules(&mut cmds, networks);
    json!({ "nftables": cmds })
}

/// Replaces berth's table with the rules for `networks` and `ports`, atomically.
pub fn apply(networks: &[NetworkRules], ports: &[PortRule]) -> Result<(), FirewallError> {
    let value = ruleset(networks, ports);
    let typed: nftables::schema::Nftables = serde_json::from_value(value)?;
    nftables::helper::apply_ruleset(&typed)?;
    Ok(())
}

/// Lets the host route between interfaces (containers reaching out), once a network needs it.
pub fn enable_forwarding() -> std::io::Result<bool> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path)?.trim() == "1" {
        return Ok(false);
    }
    std::fs::write(path, "1")?;
    Ok(true)
}

/// Chains of other tables at the forward hook that drop what berth's rules accept: a
/// `drop` policy, or `drop` rules (a host running Docker has `ip filter FORWARD` with
/// policy drop). berth's accept in its own table does not undo them, so containers cannot
/// reach out (or be reached through published ports) until the host lets berth's bridges
/// through, e.g. `nft insert rule ip filter FORWARD iifname "berth0" accept` and
/// `... oifname "berth0" accept` (with iptables: `iptables -I DOCKER-USER -i berth0 -j
/// ACCEPT`, and `-o berth0`). One line per finding, naming the chain.
pub fn foreign_forward_drops() -> Vec<String> {
    let Ok(out) = std::process::Command::new("nft")
        .args(["-j", "list", "ruleset"])
        .output()
    else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let items = v["nftables"].as_array().cloned().unwrap_or_default();
    let mut forward_chains: Vec<(String, String, String)> = Vec::new();
    let mut found = Vec::new();
    for item in &items {
        let c = &item["chain"];
        if c.is_null() || c["hook"] != "forward" || c["table"] == TABLE {
            continue;
        }
        let (family, table, name) = (
            c["family"].as_str().unwrap_or("").to_string(),
            c["table"].as_str().unwrap_or("").to_string(),
            c["name"].as_str().unwrap_or("").to_string(),
        );
        if c["policy"] == "drop" {
            found.push(format!("{family} {table} {name}: policy drop"));
        }
        forward_chains.push((family, table, name));
    }
    for item in &items {
        let r = &item["rule"];
        if r.is_null() {
            continue;
        }
        let key = (
            r["family"].as_str().unwrap_or("").to_string(),
            r["table"].as_str().unwrap_or("").to_string(),
            r["chain"].as_str().unwrap_or("").to_string(),
        );
        let drops = r["expr"]
            .as_array()
            .is_some_and(|e| e.iter().any(|s| s.get("drop").is_some()));
        if drops && forward_chains.contains(&key) {
            let line = format!("{} {} {}: drop rules", key.0, key.1, key.2);
            if !found.contains(&line) {
                found.push(line);
            }
        }
    }
    found
}

/// What `system info` and `network create` say about a foreign forward drop.
pub fn forward_drop_advice(bridges: &[String]) -> String {
    let mut text = String::from(
        "another firewall table drops forwarded traffic, which berth's own rules cannot undo: \
         containers may not reach out and published ports may not answer from outside. To let \
         berth's bridges through, run:\n",
    );
    for b in bridges {
        text.push_str(&format!(
            "  nft insert rule ip filter FORWARD iifname \"{b}\" accept\n  nft insert rule ip filter FORWARD oifname \"{b}\" accept\n"
        ));
    }
    text.push_str("(with iptables: iptables -I DOCKER-USER -i BRIDGE -j ACCEPT and -o BRIDGE)");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_matches_nfts_schema_and_isolates_networks() {
        let nets = vec![
            NetworkRules {
                bridge: "berth0".into(),
                subnet: Subnet::parse("172.17.0.0/16").unwrap(),
                gateway: "172.17.0.1".parse().unwrap(),
                internal: false,
            },
            NetworkRules {
                bridge: "bth-back".into(),
                subnet: Subnet::parse("172.18.0.0/24").unwrap(),
                gateway: "172.18.0.1".parse().unwrap(),
                internal: true,
            },
        ];
        let ports = vec![
            PortRule {
                proto: "tcp".into(),
                host_ip: "0.0.0.0".parse().unwrap(),
                host_port: 8080,
                container_ip: "172.17.0.2".parse().unwrap(),
                container_port: 80,
                bridge: "berth0".into(),
            },
            PortRule {
                proto: "udp".into(),
                host_ip: "127.0.0.1".parse().unwrap(),
                host_port: 5353,
                container_ip: "172.17.0.3".parse().unwrap(),
                container_port: 53,
                bridge: "berth0".into(),
            },
        ];
        let v = ruleset(&nets, &ports);
        let typed: nftables::schema::Nftables = serde_json::from_value(v.clone()).unwrap();
        assert!(typed.objects.len() > 10);
        let text = v.to_string();
        assert!(text.contains("masquerade") && text.contains("out-bth-back"));
        // The internal network gets no masquerade (berth0's, and two for its ports).
        assert_eq!(text.matches("masquerade").count(), 3);
        // A loopback binding has no prerouting rule: only the host reaches it.
        assert_eq!(text.matches("\"dnat\":").count(), 3, "{text}");
        // Each network's DNS server takes queries from its own bridge (or the host) only.
        let drops: Vec<&Value> = v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                let r = &c["add"]["rule"];
                r["chain"] == "input" && r.to_string().contains("\"right\":53")
            })
            .collect();
        assert_eq!(drops.len(), 4, "{drops:?}");
        let first = drops[0].to_string();
        assert!(
            first.contains("172.17.0.1") && first.contains("berth0") && first.contains("\"lo\""),
            "{first}"
        );
        // No networks: the table is removed.
        let none = ruleset(&[], &[]);
        assert_eq!(none["nftables"].as_array().unwrap().len(), 2);
    }
}
