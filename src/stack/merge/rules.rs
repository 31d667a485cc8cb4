//! The keys Compose merges with a rule of their own (compose-go `override/merge.go`), and the
//! conversions those rules need (list forms to mappings and back).

use serde_yaml::{Mapping, Value};

use super::KeyPath;

/// How a key merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// Mappings by key, sequences appended (identical items once), scalars replaced.
    Default,
    /// The overlay replaces the base whole (`command`, `entrypoint`, `healthcheck.test`,
    /// each `ulimits` entry).
    Replace,
    /// `logging`: options merge only when both files name the same driver (or one names none).
    Logging,
    /// `build`: a string is the context.
    Build,
    /// `depends_on`: `- svc` is `svc: {condition: service_started, required: true}`.
    DependsOn,
    /// `networks` of a service: `- net` is `net: null`.
    Networks,
    /// `KEY=VALUE` lists and mappings, merged by key. `bare_null`: a bare `KEY` has no value
    /// (environment, build args) rather than an empty one (labels).
    KeyValue { bare_null: bool },
    /// `extra_hosts`: lists of `host=ip`; identical entries once.
    ExtraHosts,
    /// A string or a list; appended (the unique keys are enforced afterwards).
    Append,
    /// `networks.*.ipam.config`: pools merged by subnet.
    IpamConfig,
}

pub(super) fn rule_for(path: &KeyPath) -> Rule {
    const REPLACE: &[&str] = &[
        "services.*.command",
        "services.*.entrypoint",
        "services.*.healthcheck.test",
        "services.*.ulimits.*",
    ];
    const KEY_VALUE_NULL: &[&str] = &["services.*.environment", "services.*.build.args"];
    const KEY_VALUE: &[&str] = &[
        "services.*.labels",
        "services.*.annotations",
        "services.*.sysctls",
        "services.*.build.labels",
        "services.*.build.additional_contexts",
        "services.*.deploy.labels",
        "networks.*.labels",
        "volumes.*.labels",
        "secrets.*.labels",
        "configs.*.labels",
    ];
    const APPEND: &[&str] = &[
        "services.*.dns",
        "services.*.dns_opt",
        "services.*.dns_search",
        "services.*.env_file",
        "services.*.label_file",
        "services.*.tmpfs",
    ];
    if path.matches_any(REPLACE) {
        Rule::Replace
    } else if path.matches("services.*.logging") {
        Rule::Logging
    } else if path.matches("services.*.build") {
        Rule::Build
    } else if path.matches("services.*.depends_on") {
        Rule::DependsOn
    } else if path.matches("services.*.networks") {
        Rule::Networks
    } else if path.matches_any(KEY_VALUE_NULL) {
        Rule::KeyValue { bare_null: true }
    } else if path.matches_any(KEY_VALUE) {
        Rule::KeyValue { bare_null: false }
    } else if path.matches_any(&["services.*.extra_hosts", "services.*.build.extra_hosts"]) {
        Rule::ExtraHosts
    } else if path.matches_any(APPEND) {
        Rule::Append
    } else if path.matches("networks.*.ipam.config") {
        Rule::IpamConfig
    } else {
        Rule::Default
    }
}

/// A scalar as text (`None` for null and collections).
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar_string(&t.value),
        _ => None,
    }
}

/// `build`: a string is `{context: <string>}`.
pub(super) fn to_build(v: &Value) -> Option<Mapping> {
    match v {
        Value::String(s) => {
            let mut m = Mapping::new();
            m.insert("context".into(), Value::String(s.clone()));
            Some(m)
        }
        Value::Mapping(m) => Some(m.clone()),
        _ => None,
    }
}

/// `depends_on` as a mapping; list entries get Compose's defaults.
pub(super) fn to_depends_on(v: &Value) -> Option<Mapping> {
    to_mapping_with(v, || {
        let mut d = Mapping::new();
        d.insert("condition".into(), "service_started".into());
        d.insert("required".into(), Value::Bool(true));
        Value::Mapping(d)
    })
}

/// A service's `networks` as a mapping; list entries have no settings.
pub(super) fn to_networks(v: &Value) -> Option<Mapping> {
    to_mapping_with(v, || Value::Null)
}

fn to_mapping_with(v: &Value, default: impl Fn() -> Value) -> Option<Mapping> {
    match v {
        Value::Mapping(m) => Some(m.clone()),
        Value::Sequence(items) => items
            .iter()
            .map(|i| scalar_string(i).map(|k| (Value::String(k), default())))
            .collect(),
        _ => None,
    }
}

/// `KEY=VALUE` entries as a mapping with string keys. A list entry without `=` is the key
/// alone: no value (`bare_null`) or an empty one.
pub(super) fn to_key_values(v: &Value, bare_null: bool) -> Option<Mapping> {
    match v {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| scalar_string(k).map(|k| (Value::String(k), v.clone())))
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .filter(|i| !matches!(i, Value::Tagged(t) if t.tag == "reset"))
            .map(|item| {
                let s = scalar_string(item)?;
                Some(match s.split_once('=') {
                    Some((k, v)) => (Value::String(k.into()), Value::String(v.into())),
                    None if bare_null => (Value::String(s), Value::Null),
                    None => (Value::String(s), Value::String(String::new())),
                })
            })
            .collect(),
        _ => None,
    }
}

/// `extra_hosts` as a list of entries; the mapping form becomes `host=ip` entries (one per
/// address when a host has several), sorted, as compose-go converts it.
pub(super) fn to_host_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Sequence(items) => Some(items.clone()),
        Value::String(s) => Some(vec![Value::String(s.clone())]),
        Value::Mapping(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                let host = scalar_string(k)?;
                match v {
                    Value::Null => out.push(host),
                    Value::Sequence(ips) => {
                        for ip in ips {
                            out.push(format!("{host}={}", scalar_string(ip)?));
                        }
                    }
                    other => out.push(format!("{host}={}", scalar_string(other)?)),
                }
            }
            out.sort();
            Some(out.into_iter().map(Value::String).collect())
        }
        _ => None,
    }
}

/// A string or a list, as a list.
pub(super) fn to_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Sequence(items) => Some(items.clone()),
        Value::String(_) => Some(vec![v.clone()]),
        _ => None,
    }
}
