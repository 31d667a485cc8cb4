//! Compound value types shared by several keys: string-or-list, list-or-dict, commands,
//! `external`, `extra_hosts`, ulimits.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::scalars::{by_shape, Bool, Int, Text};

/// One string or a list of strings (`dns`, `tmpfs`, `env_file`...).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum StringOrList {
    One(String),
    List(Vec<String>),
}
by_shape!(StringOrList, "a string or a list of strings", {
    str => One,
    seq => List,
});

impl StringOrList {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s],
            StringOrList::List(v) => v,
        }
    }
}

/// A mapping `KEY: value` or a list of `KEY=value` strings (`environment`, `labels`,
/// `sysctls`, `build.args`...). A `null` value or a list entry without `=` has no value.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum ListOrDict {
    Dict(BTreeMap<String, Option<Text>>),
    List(Vec<String>),
}
by_shape!(ListOrDict, "a mapping of KEY: value, or a list of \"KEY=value\" strings", {
    map => Dict,
    seq => List,
});

impl ListOrDict {
    /// The entries in order: `(key, Some(value))`, or `(key, None)` for `KEY` alone / `null`.
    /// A list entry is split at its first `=`.
    pub fn entries(&self) -> Vec<(String, Option<String>)> {
        match self {
            ListOrDict::Dict(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|t| t.0.clone())))
                .collect(),
            ListOrDict::List(list) => list
                .iter()
                .map(|item| match item.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (item.clone(), None),
                })
                .collect(),
        }
    }
}

/// `command` / `entrypoint`: a string (split like a shell would) or an exec-form list.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}
by_shape!(Command, "a command string or a list of strings", {
    str => Shell,
    seq => Exec,
});

/// `external: true` or the deprecated `external: {name: ...}`.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum External {
    Flag(Bool),
    Named(ExternalName),
}
by_shape!(External, "a boolean or a mapping with `name`", {
    bool => Flag,
    str => Flag,
    map => Named,
});

impl External {
    pub fn is_external(&self) -> bool {
        match self {
            External::Flag(b) => b.0,
            External::Named(_) => true,
        }
    }

    /// The deprecated `external.name`.
    pub fn name(&self) -> Option<&str> {
        match self {
            External::Named(n) => n.name.as_deref(),
            External::Flag(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `name`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ExternalName {
    /// Deprecated: use the resource's `name`.
    pub name: Option<String>,
}

/// `extra_hosts`: a list of `host:ip` / `host=ip`, or a mapping host -> ip (or list of ips).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum ExtraHosts {
    Map(BTreeMap<String, StringOrList>),
    List(Vec<String>),
}
by_shape!(ExtraHosts, "a list of \"host:ip\" strings or a mapping of host: ip", {
    map => Map,
    seq => List,
});

/// A ulimit: one value for soft and hard, or both.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Ulimit {
    Single(Int),
    Pair(UlimitPair),
}
by_shape!(Ulimit, "an integer or a mapping with `soft` and `hard`", {
    int => Single,
    str => Single,
    map => Pair,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `soft` and `hard`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct UlimitPair {
    pub soft: Int,
    pub hard: Int,
}

/// A mapping of free-form values (`driver_opts`): strings or numbers.
pub type Options = BTreeMap<String, Text>;

/// A service's use of a secret or config: its name, or the long form.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum FileRef {
    Short(String),
    Long(FileRefLong),
}
by_shape!(FileRef, "a secret/config name or a mapping with `source`", {
    str => Short,
    map => Long,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `source`, `target`, `uid`, `gid`, `mode`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct FileRefLong {
    pub source: Option<String>,
    pub target: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    /// Octal when written as a string (`"0440"`).
    pub mode: Option<super::scalars::IntOrString>,
}

/// A GPU or device reservation (`gpus`, `deploy.resources.reservations.devices`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a device request mapping")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct DeviceRequest {
    pub capabilities: Option<Vec<String>>,
    /// A number or `all`.
    pub count: Option<Text>,
    pub device_ids: Option<Vec<String>>,
    pub driver: Option<String>,
    pub options: Option<ListOrDict>,
}
