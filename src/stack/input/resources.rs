//! Top-level resources: `networks`, `volumes`, `secrets`, `configs`, `models`, `include`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{External, ListOrDict, Options, StringOrList};
use super::scalars::{by_shape, Bool, Int};

/// A top-level network.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of network settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Network {
    pub attachable: Option<Bool>,
    pub driver: Option<String>,
    pub driver_opts: Option<Options>,
    pub enable_ipv4: Option<Bool>,
    pub enable_ipv6: Option<Bool>,
    pub external: Option<External>,
    pub internal: Option<Bool>,
    pub ipam: Option<Ipam>,
    pub labels: Option<ListOrDict>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `driver`, `config`, `options`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Ipam {
    pub config: Option<Vec<IpamPool>>,
    pub driver: Option<String>,
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `subnet`, `ip_range`, `gateway`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct IpamPool {
    pub aux_addresses: Option<BTreeMap<String, String>>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub subnet: Option<String>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of volume settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Volume {
    pub driver: Option<String>,
    pub driver_opts: Option<Options>,
    pub external: Option<External>,
    pub labels: Option<ListOrDict>,
    pub name: Option<String>,
}

/// A top-level secret.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of secret settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Secret {
    pub driver: Option<String>,
    pub driver_opts: Option<Options>,
    pub environment: Option<String>,
    pub external: Option<External>,
    pub file: Option<String>,
    pub labels: Option<ListOrDict>,
    pub name: Option<String>,
    pub template_driver: Option<String>,
}

/// A top-level config.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of config settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Config {
    pub content: Option<String>,
    pub environment: Option<String>,
    pub external: Option<External>,
    pub file: Option<String>,
    pub labels: Option<ListOrDict>,
    pub name: Option<String>,
    pub template_driver: Option<String>,
}

/// A top-level language model.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `model`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Model {
    pub context_size: Option<Int>,
    pub model: String,
    pub name: Option<String>,
    pub runtime_flags: Option<Vec<String>>,
}

/// An `include` entry (resolved before typing; tolerated when still present).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Include {
    Path(String),
    Long(IncludeLong),
}
by_shape!(Include, "a path or a mapping with `path`", {
    str => Path,
    map => Long,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `path`, `env_file`, `project_directory`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct IncludeLong {
    pub env_file: Option<StringOrList>,
    pub path: Option<StringOrList>,
    pub project_directory: Option<String>,
}
