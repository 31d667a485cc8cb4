//! The sequences Compose keeps unique (compose-go `override/uniqueness.go`): an entry whose
//! key repeats an earlier entry's replaces it in place. Keys: `ports` by host ip, published
//! port, container port and protocol; `volumes` and `devices` by container path; `secrets` and
//! `configs` by target; `KEY=VALUE` lists by key; `env_file` by path; plain lists by value.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};

use super::rules::scalar_string;

type Indexer = fn(&Value) -> Option<String>;

/// De-duplicates every unique sequence of a document in place.
pub(super) fn enforce(doc: &mut Value) {
    let Some(top) = doc.as_mapping_mut() else {
        return;
    };
    if let Some(Value::Mapping(services)) = top.get_mut("services") {
        for (_, service) in services.iter_mut() {
            if let Value::Mapping(service) = service {
                enforce_service(service);
            }
        }
    }
    if let Some(Value::Mapping(networks)) = top.get_mut("networks") {
        for (_, network) in networks.iter_mut() {
            if let Value::Mapping(network) = network {
                dedupe_key(network, "labels", key_value);
            }
        }
    }
}

fn enforce_service(service: &mut Mapping) {
    const KEY_VALUE: &[&str] = &[
        "annotations",
        "cap_add",
        "cap_drop",
        "dns",
        "dns_opt",
        "dns_search",
        "environment",
        "labels",
        "links",
        "profiles",
        "sysctls",
        "tmpfs",
    ];
    for key in KEY_VALUE {
        dedupe_key(service, key, key_value);
    }
    dedupe_key(service, "devices", device_target);
    dedupe_key(service, "volumes", volume_target);
    dedupe_key(service, "secrets", |v| mount_target("/run/secrets", v));
    dedupe_key(service, "configs", |v| mount_target("", v));
    dedupe_key(service, "env_file", env_file_path);
    dedupe_key(service, "expose", scalar_string);
    if let Some(Value::Sequence(ports)) = service.get_mut("ports") {
        *ports = dedupe_ports(std::mem::take(ports));
    }
    if let Some(Value::Mapping(build)) = service.get_mut("build") {
        for key in ["args", "labels", "tags", "platforms", "additional_contexts"] {
            dedupe_key(build, key, key_value);
        }
    }
    if let Some(Value::Mapping(deploy)) = service.get_mut("deploy") {
        dedupe_key(deploy, "labels", key_value);
    }
    if let Some(Value::Mapping(networks)) = service.get_mut("networks") {
        for (_, net) in networks.iter_mut() {
            if let Value::Mapping(net) = net {
                dedupe_key(net, "aliases", key_value);
                dedupe_key(net, "link_local_ips", key_value);
            }
        }
    }
}

fn dedupe_key(m: &mut Mapping, key: &str, index: Indexer) {
    if let Some(Value::Sequence(items)) = m.get_mut(key) {
        *items = dedupe(std::mem::take(items), index);
    }
}

/// Later entries replace earlier ones with the same key, at the earlier one's position.
/// Entries without a key (unparseable) are kept as they are, for typing to report.
fn dedupe(items: Vec<Value>, index: impl Fn(&Value) -> Option<String>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in items {
        match index(&item) {
            Some(key) => match seen.get(&key) {
                Some(&j) => out[j] = item,
                None => {
                    seen.insert(key, out.len());
                    out.push(item);
                }
            },
            None => out.push(item),
        }
    }
    out
}

fn key_value(v: &Value) -> Option<String> {
    let s = scalar_string(v)?;
    Some(match s.split_once('=') {
        Some((k, _)) => k.to_string(),
        None => s,
    })
}

fn field(v: &Value, key: &str) -> Option<String> {
    v.as_mapping()?.get(key).and_then(scalar_string)
}

/// `SOURCE:TARGET[:MODE]` or `TARGET`, or the long syntax's `target`.
fn volume_target(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(parts.get(1).unwrap_or(&parts[0]).to_string())
        }
        _ => field(v, "target"),
    }
}

/// `HOST[:CONTAINER[:PERMISSIONS]]`, or the long syntax's `target`.
fn device_target(v: &Value) -> Option<String> {
    volume_target(v)
}

/// A secret or config: `target`, or `<default dir>/<source>`.
fn mount_target(default_dir: &str, v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(format!("{default_dir}/{s}")),
        _ => field(v, "target").or_else(|| Some(format!("{default_dir}/{}", field(v, "source")?))),
    }
}

fn env_file_path(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(_) => field(v, "path"),
        _ => scalar_string(v),
    }
}

/// One published port, as far as uniqueness is concerned.
struct PortKey {
    host_ip: Option<String>,
    published: Option<String>,
    target: String,
    protocol: String,
}

impl PortKey {
    fn key(&self) -> String {
        format!(
            "{}:{}:{}/{}",
            self.host_ip.as_deref().unwrap_or("0.0.0.0"),
            self.published.as_deref().unwrap_or(""),
            self.target,
            self.protocol
        )
    }

    /// The port as a short-syntax entry of its own.
    fn spec(&self) -> String {
        let target = format!("{}/{}", self.target, self.protocol);
        match (&self.host_ip, &self.published) {
            (Some(ip), p) if ip.contains(':') => {
                format!("[{ip}]:{}:{target}", p.as_deref().unwrap_or(""))
            }
            (Some(ip), p) => format!("{ip}:{}:{target}", p.as_deref().unwrap_or("")),
            (None, Some(p)) => format!("{p}:{target}"),
            (None, None) => target,
        }
    }
}

fn port_range(s: &str) -> Option<(u32, u32)> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)).filter(|(a, b)| a <= b),
        None => s.parse().ok().map(|p| (p, p)),
    }
}

/// The ports of one short-syntax entry `[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]`
/// (a container range is one port per container port).
fn parse_short_port(spec: &str) -> Option<Vec<PortKey>> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (spec, "tcp".to_string()),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (ip, host) = match n {
        1 => (None, None),
        2 => (None, Some(parts[0].to_string())),
        _ => (
            Some(parts[..n - 2].join(":")),
            Some(parts[n - 2].to_string()),
        ),
    };
    let host_ip = ip
        .map(|ip| ip.trim_start_matches('[').trim_end_matches(']').to_string())
        .filter(|ip| !ip.is_empty());
    let host = host.filter(|h| !h.is_empty());
    let (start, end) = port_range(container)?;
    let key = |target: u32, published: Option<String>| PortKey {
        host_ip: host_ip.clone(),
        published,
        target: target.to_string(),
        protocol: protocol.clone(),
    };
    if start == end {
        return Some(vec![key(start, host)]);
    }
    match host {
        None => Some((start..=end).map(|t| key(t, None)).collect()),
        Some(h) => {
            let (hs, he) = port_range(&h)?;
            if he - hs != end - start {
                return None;
            }
            Some(
                (start..=end)
                    .zip(hs..=he)
                    .map(|(t, p)| key(t, Some(p.to_string())))
                    .collect(),
            )
        }
    }
}

fn port_keys(v: &Value) -> Option<Vec<PortKey>> {
    match v {
        Value::String(s) => parse_short_port(s),
        Value::Number(n) => Some(vec![PortKey {
            host_ip: None,
            published: None,
            target: n.to_string(),
            protocol: "tcp".into(),
        }]),
        Value::Mapping(m) => Some(vec![PortKey {
            host_ip: m.get("host_ip").and_then(scalar_string),
            published: m.get("published").and_then(scalar_string),
            target: m.get("target").and_then(scalar_string)?,
            protocol: m
                .get("protocol")
                .and_then(scalar_string)
                .unwrap_or_else(|| "tcp".into()),
        }]),
        _ => None,
    }
}

/// Ports are unique by host ip, published port, container port and protocol. A short entry
/// with a container range stands for several ports; when one of them repeats another entry's,
/// the range is split into one entry per port first (as Compose does when it expands ranges).
fn dedupe_ports(items: Vec<Value>) -> Vec<Value> {
    let keys: Vec<Option<Vec<PortKey>>> = items.iter().map(port_keys).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for k in keys.iter().flatten().flatten() {
        *counts.entry(k.key()).or_default() += 1;
    }
    let split = keys.iter().flatten().any(|ks| {
        ks.len() > 1
            && ks
                .iter()
                .any(|k| counts.get(&k.key()).copied().unwrap_or(0) > 1)
    });
    let mut entries: Vec<(Option<String>, Value)> = Vec::new();
    for (item, ks) in items.into_iter().zip(keys) {
        match ks {
            Some(ks) if ks.len() == 1 => entries.push((Some(ks[0].key()), item)),
            Some(ks) if split => {
                entries.extend(ks.iter().map(|k| (Some(k.key()), Value::String(k.spec()))))
            }
            Some(ks) => entries.push((Some(ks.iter().map(PortKey::key).collect()), item)),
            None => entries.push((None, item)),
        }
    }
    let mut out: Vec<Value> = Vec::with_capacity(entries.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (key, item) in entries {
        match key {
            Some(key) => match seen.get(&key) {
                Some(&j) => out[j] = item,
                None => {
                    seen.insert(key, out.len());
                    out.push(item);
                }
            },
            None => out.push(item),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(yaml: &str) -> Vec<Value> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn short_port_keys() {
        let k = |s: &str| -> Vec<String> {
            parse_short_port(s)
                .unwrap()
                .iter()
                .map(PortKey::key)
                .collect()
        };
        assert_eq!(k("80"), ["0.0.0.0::80/tcp"]);
        assert_eq!(k("8080:80"), ["0.0.0.0:8080:80/tcp"]);
        assert_eq!(k("127.0.0.1:8080:80/udp"), ["127.0.0.1:8080:80/udp"]);
        assert_eq!(k("127.0.0.1::80"), ["127.0.0.1::80/tcp"]);
        assert_eq!(k("[::1]:8080:80"), ["::1:8080:80/tcp"]);
        assert_eq!(k("8000-8010:80"), ["0.0.0.0:8000-8010:80/tcp"]);
        assert_eq!(k("80-81"), ["0.0.0.0::80/tcp", "0.0.0.0::81/tcp"]);
        assert_eq!(
            k("9000-9001:80-81/udp"),
            ["0.0.0.0:9000:80/udp", "0.0.0.0:9001:81/udp"]
        );
        assert!(parse_short_port("x:y").is_none());
        assert!(parse_short_port("9000-9002:80-81").is_none());
    }

    #[test]
    fn ports_dedupe_across_syntaxes() {
        let out = dedupe_ports(seq(
            "[\"8080:80\", 443, {target: 80, published: 8080, mode: host}, \"443\", 9000]",
        ));
        assert_eq!(
            out,
            seq("[{target: 80, published: 8080, mode: host}, \"443\", 9000]")
        );
        // Different protocol or host ip: distinct.
        let out = dedupe_ports(seq("[\"8080:80\", \"8080:80/udp\", \"127.0.0.1:8080:80\"]"));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn port_ranges_split_only_on_conflict() {
        let out = dedupe_ports(seq("[\"8000-8001:80-81\", \"9000:90\"]"));
        assert_eq!(out, seq("[\"8000-8001:80-81\", \"9000:90\"]"));
        let out = dedupe_ports(seq(
            "[\"8000-8001:80-81\", {target: 80, published: \"8000\"}]",
        ));
        assert_eq!(
            out,
            seq("[{target: 80, published: \"8000\"}, \"8001:81/tcp\"]")
        );
    }

    #[test]
    fn volumes_devices_mounts_env_files() {
        let v = dedupe(
            seq("[\"./a:/data\", \"/anon\", {type: bind, source: ./b, target: /data}, \"c:/anon:ro\"]"),
            volume_target,
        );
        assert_eq!(
            v,
            seq("[{type: bind, source: ./b, target: /data}, \"c:/anon:ro\"]")
        );
        let d = dedupe(
            seq("[\"/dev/a:/dev/x\", \"/dev/b:/dev/x:r\"]"),
            device_target,
        );
        assert_eq!(d, seq("[\"/dev/b:/dev/x:r\"]"));
        let s = dedupe(
            seq("[foo, {source: bar, target: waw}, {source: bar, target: bof}, {source: baz, target: waw}, {source: foo}]"),
            |v| mount_target("/run/secrets", v),
        );
        assert_eq!(
            s,
            seq("[{source: foo}, {source: baz, target: waw}, {source: bar, target: bof}]")
        );
        let e = dedupe(
            seq("[a.env, {path: a.env, required: false}, b.env]"),
            env_file_path,
        );
        assert_eq!(e, seq("[{path: a.env, required: false}, b.env]"));
    }

    #[test]
    fn key_value_lists() {
        let v = dedupe(seq("[A=1, B, A=2, C=3, B=4]"), key_value);
        assert_eq!(v, seq("[A=2, B=4, C=3]"));
        let caps = dedupe(seq("[NET_ADMIN, SYS_PTRACE, NET_ADMIN]"), key_value);
        assert_eq!(caps, seq("[NET_ADMIN, SYS_PTRACE]"));
    }

    #[test]
    fn enforce_walks_services_and_networks() {
        let mut doc: Value = serde_yaml::from_str(
            "services:\n  web:\n    expose: [80, \"80\", 81]\n    networks:\n      front: {aliases: [a, b, a]}\n    \
             build: {context: ., args: [X=1, X=2]}\nnetworks:\n  front: {labels: [a=1, a=2]}\n",
        )
        .unwrap();
        enforce(&mut doc);
        let web = &doc["services"]["web"];
        assert_eq!(web["expose"], Value::Sequence(seq("[\"80\", 81]")));
        assert_eq!(
            web["networks"]["front"]["aliases"],
            Value::Sequence(seq("[a, b]"))
        );
        assert_eq!(web["build"]["args"], Value::Sequence(seq("[X=2]")));
        assert_eq!(
            doc["networks"]["front"]["labels"],
            Value::Sequence(seq("[a=2]"))
        );
    }
}
