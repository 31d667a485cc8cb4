//! Service keys of the Compose Specification that berth does not run yet. They are typed so
//! that the schema is complete and typos inside them are still reported; the tree checks
//! refuse them with a clear message before typing.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{Command, DeviceRequest, ListOrDict, StringOrList};
use super::scalars::{by_shape, Bool, Int, IntOrString, Text};

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of block IO settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct BlkioConfig {
    pub device_read_bps: Option<Vec<BlkioLimit>>,
    pub device_read_iops: Option<Vec<BlkioLimit>>,
    pub device_write_bps: Option<Vec<BlkioLimit>>,
    pub device_write_iops: Option<Vec<BlkioLimit>>,
    pub weight: Option<Int>,
    pub weight_device: Option<Vec<BlkioWeight>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `path` and `rate`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct BlkioLimit {
    pub path: Option<String>,
    pub rate: Option<IntOrString>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `path` and `weight`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct BlkioWeight {
    pub path: Option<String>,
    pub weight: Option<Int>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `config`, `file` or `registry`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct CredentialSpec {
    pub config: Option<String>,
    pub file: Option<String>,
    pub registry: Option<String>,
}

/// `develop` (used by `docker compose watch`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `watch`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Development {
    pub watch: Option<Vec<WatchRule>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a watch rule mapping")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct WatchRule {
    pub action: String,
    pub exec: Option<ServiceHook>,
    pub ignore: Option<StringOrList>,
    pub include: Option<StringOrList>,
    pub path: String,
    pub target: Option<String>,
}

/// `gpus`: `all` or a list of device requests.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Gpus {
    All(String),
    List(Vec<DeviceRequest>),
}
by_shape!(Gpus, "`all` or a list of GPU device requests", {
    str => All,
    seq => List,
});

/// `provider`: a service managed by an external component.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `type` and `options`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Provider {
    #[serde(rename = "type")]
    pub kind: String,
    pub options: Option<BTreeMap<String, ProviderOption>>,
}

#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum ProviderOption {
    One(Text),
    List(Vec<Text>),
}
by_shape!(ProviderOption, "a scalar or a list of scalars", {
    str => One,
    int => One,
    float => One,
    bool => One,
    seq => List,
});

/// `post_start` / `pre_stop` hooks and `develop.watch[].exec`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a hook mapping with `command`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ServiceHook {
    pub command: Command,
    pub environment: Option<ListOrDict>,
    pub privileged: Option<Bool>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
}

/// Service `models`: a list of model keys or a mapping key -> settings.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum ServiceModels {
    List(Vec<String>),
    Map(BTreeMap<String, Option<ServiceModel>>),
}
by_shape!(ServiceModels, "a list of model names or a mapping of model: settings", {
    seq => List,
    map => Map,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `endpoint_var` and `model_var`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ServiceModel {
    pub endpoint_var: Option<String>,
    pub model_var: Option<String>,
}
